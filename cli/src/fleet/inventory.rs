//! Ansible inventories, INI or YAML: hosts, groups (with children) and variables, resolved per
//! host as Ansible resolves them, and `--limit` patterns.
//!
//! Variable precedence, lowest first: `all`'s vars, then each group the host is in (directly or
//! through `children`) from the shallowest to the deepest (groups at the same depth in name
//! order), then the host's own vars. `group_vars/` and `host_vars/` folders beside the inventory
//! are not read (put the variables in the inventory).
//!
//! The variables edgebench reads: `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, `ansible_ssh_common_args`, `ansible_ssh_extra_args` (and the
//! old `ansible_ssh_host`/`_port`/`_user` spellings), plus its own `edgebench_dir` (the install
//! and results folder on the device), `edgebench_cpu` (which CPU profile's tarball to install)
//! and `edgebench_env` (`KEY=VALUE …` set for `edgebench run` on the device).

use anyhow::{anyhow, bail, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One device as the inventory describes it, with its variables resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The inventory name (what `--limit` and the results folder use).
    pub name: String,
    /// Every group the host belongs to, including `all` and the parents of its groups.
    pub groups: BTreeSet<String>,
    pub vars: BTreeMap<String, String>,
}

impl Host {
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Where to connect: `ansible_host`, else the inventory name.
    pub fn address(&self) -> &str {
        self.var("ansible_host")
            .or_else(|| self.var("ansible_ssh_host"))
            .unwrap_or(&self.name)
    }

    pub fn port(&self) -> anyhow::Result<Option<u16>> {
        match self
            .var("ansible_port")
            .or_else(|| self.var("ansible_ssh_port"))
        {
            None => Ok(None),
            Some(p) => p
                .parse::<u16>()
                .map(Some)
                .map_err(|_| anyhow!("host {}: ansible_port={p} is not a port number", self.name)),
        }
    }

    pub fn user(&self) -> Option<&str> {
        self.var("ansible_user")
            .or_else(|| self.var("ansible_ssh_user"))
    }

    pub fn key_file(&self) -> Option<&str> {
        self.var("ansible_ssh_private_key_file")
            .or_else(|| self.var("ansible_private_key_file"))
    }

    /// `ansible_ssh_common_args` then `ansible_ssh_extra_args`, split as a shell would.
    pub fn extra_ssh_args(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            if let Some(v) = self.var(key) {
                out.extend(
                    shlex::split(v).ok_or_else(|| {
                        anyhow!("host {}: {key} has an unclosed quote", self.name)
                    })?,
                );
            }
        }
        Ok(out)
    }

    /// `edgebench_env`: `KEY=VALUE` pairs (shell words) set for `edgebench run` on the device.
    pub fn run_env(&self) -> anyhow::Result<Vec<(String, String)>> {
        let Some(v) = self.var("edgebench_env") else {
            return Ok(Vec::new());
        };
        let words = shlex::split(v)
            .ok_or_else(|| anyhow!("host {}: edgebench_env has an unclosed quote", self.name))?;
        words
            .into_iter()
            .map(|w| {
                let (k, v) = w.split_once('=').ok_or_else(|| {
                    anyhow!("host {}: edgebench_env: {w:?} is not KEY=VALUE", self.name)
                })?;
                let valid = !k.is_empty()
                    && !k.starts_with(|c: char| c.is_ascii_digit())
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    bail!(
                        "host {}: edgebench_env: {k:?} is not a variable name",
                        self.name
                    );
                }
                Ok((k.to_string(), v.to_string()))
            })
            .collect()
    }
}

/// The hosts of an inventory, in the order the file first names them.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: Vec<Host>,
}

/// Groups and hosts as written, before variables are resolved.
#[derive(Debug, Default)]
struct Raw {
    /// Host names in first-mention order, with their own vars.
    hosts: Vec<(String, BTreeMap<String, String>)>,
    groups: BTreeMap<String, RawGroup>,
}

#[derive(Debug, Default)]
struct RawGroup {
    hosts: BTreeSet<String>,
    children: BTreeSet<String>,
    vars: BTreeMap<String, String>,
}

impl Raw {
    fn group(&mut self, name: &str) -> &mut RawGroup {
        self.groups.entry(name.to_string()).or_default()
    }

    fn add_host(&mut self, group: &str, name: &str, vars: BTreeMap<String, String>) {
        match self.hosts.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => existing.extend(vars),
            None => self.hosts.push((name.to_string(), vars)),
        }
        self.group(group).hosts.insert(name.to_string());
    }
}

impl Inventory {
    /// Reads an inventory file: YAML when it ends in `.yml`/`.yaml` or starts like YAML
    /// (`all:` / `---`), INI otherwise. Errors name the file (and the line, for INI).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("inventory {}", path.display()))?;
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) || looks_like_yaml(&text);
        let parsed = if is_yaml {
            Self::parse_yaml(&text)
        } else {
            Self::parse_ini(&text)
        };
        parsed.with_context(|| format!("inventory {}", path.display()))
    }

    /// Parses Ansible's INI format.
    pub fn parse_ini(text: &str) -> anyhow::Result<Self> {
        #[derive(PartialEq)]
        enum Section {
            Hosts,
            Vars,
            Children,
        }
        let mut raw = Raw::default();
        let mut group = "ungrouped".to_string();
        let mut section = Section::Hosts;
        for (i, line) in text.lines().enumerate() {
            let at = |e: anyhow::Error| e.context(format!("line {}", i + 1));
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(head) = line.strip_prefix('[') {
                let head = head
                    .split_once(']')
                    .map(|(h, _)| h.trim())
                    .ok_or_else(|| at(anyhow!("section header without ']'")))?;
                let (name, kind) = match head.split_once(':') {
                    Some((n, "vars")) => (n, Section::Vars),
                    Some((n, "children")) => (n, Section::Children),
                    Some((_, other)) => {
                        return Err(at(anyhow!(
                            "unknown section kind :{other} (known: :vars, :children)"
                        )))
                    }
                    None => (head, Section::Hosts),
                };
                check_name(name, "group").map_err(at)?;
                group = name.to_string();
                section = kind;
                raw.group(&group);
                continue;
            }
            match section {
                Section::Vars => {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| at(anyhow!("expected key=value in [{group}:vars]")))?;
                    raw.group(&group)
                        .vars
                        .insert(k.trim().to_string(), unquote(v.trim()));
                }
                Section::Children => {
                    let child = line.split_whitespace().next().unwrap_or_default();
                    check_name(child, "group").map_err(at)?;
                    raw.group(&group).children.insert(child.to_string());
                    raw.group(child);
                }
                Section::Hosts => {
                    let words = shlex::split(line)
                        .ok_or_else(|| at(anyhow!("unclosed quote in host line")))?;
                    let mut words = words.into_iter().take_while(|w| !w.starts_with('#'));
                    let spec = words.next().unwrap_or_default();
                    let mut vars = BTreeMap::new();
                    for w in words {
                        let (k, v) = w.split_once('=').ok_or_else(|| {
                            at(anyhow!("expected key=value after the host name, got {w:?}"))
                        })?;
                        vars.insert(k.to_string(), v.to_string());
                    }
                    let (names, port) = expand_host(&spec).map_err(at)?;
                    if let Some(port) = port {
                        vars.entry("ansible_port".into()).or_insert(port);
                    }
                    for name in names {
                        raw.add_host(&group, &name, vars.clone());
                    }
                }
            }
        }
        raw.resolve()
    }

    /// Parses Ansible's YAML format: `group: {hosts: {name: {vars}}, vars: {}, children: {}}`.
    pub fn parse_yaml(text: &str) -> anyhow::Result<Self> {
        use serde_norway::Value;
        let doc: Value = serde_norway::from_str(text).map_err(|e| anyhow!("YAML: {e}"))?;
        let mut raw = Raw::default();
        match doc {
            Value::Null => {}
            Value::Mapping(top) => {
                for (name, body) in top {
                    let name = yaml_key(&name)?;
                    yaml_group(&mut raw, &name, &body)?;
                }
            }
            _ => bail!("YAML: the top level must map group names to groups"),
        }
        raw.resolve()
    }

    /// The hosts a `--limit` pattern selects (Ansible's syntax: names of hosts or groups
    /// separated by `,` or `:`, `*` wildcards, `!name` to leave out, `&name` to intersect).
    pub fn limit(&self, pattern: &str) -> anyhow::Result<Vec<Host>> {
        let mut selected: BTreeSet<&str> = BTreeSet::new();
        let mut any_positive = false;
        let terms: Vec<&str> = pattern
            .split([',', ':'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let matching = |term: &str| -> BTreeSet<&str> {
            self.hosts
                .iter()
                .filter(|h| glob(term, &h.name) || h.groups.iter().any(|g| glob(term, g)))
                .map(|h| h.name.as_str())
                .collect()
        };
        // Unions first, then intersections and exclusions, as Ansible orders them.
        for t in &terms {
            if !t.starts_with(['!', '&']) {
                any_positive = true;
                let m = matching(t);
                if m.is_empty() {
                    bail!("--limit {pattern}: {t} matches no host or group");
                }
                selected.extend(m);
            }
        }
        if !any_positive {
            selected = self.hosts.iter().map(|h| h.name.as_str()).collect();
        }
        for t in &terms {
            if let Some(t) = t.strip_prefix('&') {
                let m = matching(t);
                selected.retain(|h| m.contains(h));
            } else if let Some(t) = t.strip_prefix('!') {
                let m = matching(t);
                selected.retain(|h| !m.contains(h));
            }
        }
        if selected.is_empty() {
            bail!("--limit {pattern} selects no host");
        }
        Ok(self
            .hosts
            .iter()
            .filter(|h| selected.contains(h.name.as_str()))
            .cloned()
            .collect())
    }
}

impl Raw {
    /// Resolves every host's groups and variables.
    fn resolve(mut self) -> anyhow::Result<Inventory> {
        self.group("all");
        self.group("ungrouped");
        // Groups nobody lists as a child are children of `all`.
        let listed: BTreeSet<String> = self
            .groups
            .values()
            .flat_map(|g| g.children.iter().cloned())
            .collect();
        let top: Vec<String> = self
            .groups
            .keys()
            .filter(|g| *g != "all" && !listed.contains(*g))
            .cloned()
            .collect();
        self.group("all").children.extend(top);
        // Depth of each group below `all` (the longest path), refusing cycles.
        let mut depth: BTreeMap<String, usize> = BTreeMap::new();
        fn walk(
            raw: &Raw,
            name: &str,
            d: usize,
            path: &mut Vec<String>,
            depth: &mut BTreeMap<String, usize>,
        ) -> anyhow::Result<()> {
            if path.iter().any(|p| p == name) {
                bail!(
                    "group {name} is its own descendant ({} → {name})",
                    path.join(" → ")
                );
            }
            let e = depth.entry(name.to_string()).or_insert(d);
            *e = (*e).max(d);
            path.push(name.to_string());
            if let Some(g) = raw.groups.get(name) {
                for c in &g.children {
                    walk(raw, c, d + 1, path, depth)?;
                }
            }
            path.pop();
            Ok(())
        }
        walk(&self, "all", 0, &mut Vec::new(), &mut depth)?;
        // Groups only reachable through a cycle are not under `all`: walk them for the check.
        let unreached: Vec<String> = self
            .groups
            .keys()
            .filter(|g| !depth.contains_key(*g))
            .cloned()
            .collect();
        for g in unreached {
            walk(&self, &g, 1, &mut Vec::new(), &mut depth)?;
        }
        // Parents of each group, to collect a host's ancestors.
        let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, g) in &self.groups {
            for c in &g.children {
                parents.entry(c.as_str()).or_default().push(name.as_str());
            }
        }
        let mut hosts = Vec::new();
        for (name, own_vars) in &self.hosts {
            let mut groups: BTreeSet<String> = BTreeSet::new();
            let mut todo: Vec<&str> = self
                .groups
                .iter()
                .filter(|(_, g)| g.hosts.contains(name))
                .map(|(n, _)| n.as_str())
                .collect();
            while let Some(g) = todo.pop() {
                if groups.insert(g.to_string()) {
                    todo.extend(parents.get(g).into_iter().flatten().copied());
                }
            }
            groups.insert("all".into());
            // A host listed in a named group is not `ungrouped`.
            if groups.len() > 2 {
                groups.remove("ungrouped");
            }
            let mut ordered: Vec<&String> = groups.iter().collect();
            ordered.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(0), (*g).clone()));
            let mut vars = BTreeMap::new();
            for g in ordered {
                if let Some(group) = self.groups.get(g) {
                    vars.extend(group.vars.clone());
                }
            }
            vars.extend(own_vars.clone());
            hosts.push(Host {
                name: name.clone(),
                groups,
                vars,
            });
        }
        let inv = Inventory { hosts };
        for h in &inv.hosts {
            h.port()?;
            h.extra_ssh_args()?;
            h.run_env()?;
        }
        Ok(inv)
    }
}

fn looks_like_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_some_and(|l| l == "---" || (l.ends_with(':') && !l.starts_with('[')))
}

fn check_name(name: &str, what: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.chars().any(char::is_whitespace)
        || (what == "group" && name.contains(':'))
    {
        bail!("{name:?} is not a valid {what} name");
    }
    Ok(())
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// A host pattern of an INI host line: `name`, `name:port`, or a numeric range
/// `node[01:04].lab` (with leading zeros kept, as Ansible does). Returns names and the port.
fn expand_host(spec: &str) -> anyhow::Result<(Vec<String>, Option<String>)> {
    // `name:port`: the last ':' after any range, with no other ':' outside brackets (so an
    // IPv6 address is not split).
    let after_range = spec.rfind(']').map_or(0, |i| i + 1);
    let (spec, port) = match spec[after_range..].rfind(':').map(|i| after_range + i) {
        Some(i)
            if spec[i + 1..].chars().all(|c| c.is_ascii_digit())
                && i + 1 < spec.len()
                && !outside_brackets(&spec[..i]).contains(':') =>
        {
            (&spec[..i], Some(spec[i + 1..].to_string()))
        }
        _ => (spec, None),
    };
    let Some(open) = spec.find('[') else {
        check_name(spec, "host")?;
        return Ok((vec![spec.to_string()], port));
    };
    let close = spec[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| anyhow!("host {spec}: '[' without ']'"))?;
    let range = &spec[open + 1..close];
    let bad = || anyhow!("host {spec}: only numeric ranges like [01:10] are supported");
    let (a, b) = range.split_once(':').ok_or_else(bad)?;
    let (start, end) = (
        a.parse::<u64>().map_err(|_| bad())?,
        b.parse::<u64>().map_err(|_| bad())?,
    );
    if end < start {
        return Err(bad());
    }
    let width = if a.starts_with('0') { a.len() } else { 0 };
    let names = (start..=end)
        .map(|n| format!("{}{n:0width$}{}", &spec[..open], &spec[close + 1..]))
        .collect();
    Ok((names, port))
}

/// `s` without its bracketed parts.
fn outside_brackets(s: &str) -> String {
    let mut depth = 0usize;
    s.chars()
        .filter(|&c| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

fn yaml_key(v: &serde_norway::Value) -> anyhow::Result<String> {
    match v {
        serde_norway::Value::String(s) => Ok(s.clone()),
        other => yaml_scalar(other).ok_or_else(|| anyhow!("YAML: {other:?} is not a name")),
    }
}

/// A variable's value as text (numbers and booleans as YAML writes them; lists and maps as JSON).
fn yaml_scalar(v: &serde_norway::Value) -> Option<String> {
    use serde_norway::Value;
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => yaml_scalar(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => serde_json::to_string(v).ok(),
    }
}

fn yaml_vars(v: &serde_norway::Value, whose: &str) -> anyhow::Result<BTreeMap<String, String>> {
    use serde_norway::Value;
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let k = yaml_key(k)?;
                let v = yaml_scalar(v).ok_or_else(|| anyhow!("{whose}: {k} has no value"))?;
                Ok((k, v))
            })
            .collect(),
        _ => bail!("YAML: {whose}: variables must be a mapping"),
    }
}

fn yaml_group(raw: &mut Raw, name: &str, body: &serde_norway::Value) -> anyhow::Result<()> {
    use serde_norway::Value;
    check_name(name, "group").map_err(|e| anyhow!("YAML: {e}"))?;
    raw.group(name);
    let body = match body {
        Value::Null => return Ok(()),
        Value::Mapping(m) => m,
        _ => bail!("YAML: group {name} must be a mapping (hosts, vars, children)"),
    };
    for (key, value) in body {
        match yaml_key(key)?.as_str() {
            "hosts" => match value {
                Value::Null => {}
                Value::Mapping(hosts) => {
                    for (h, vars) in hosts {
                        let h = yaml_key(h)?;
                        let vars = yaml_vars(vars, &format!("host {h}"))?;
                        let (names, port) = expand_host(&h)?;
                        for n in names {
                            let mut vars = vars.clone();
                            if let Some(p) = &port {
                                vars.entry("ansible_port".into()).or_insert(p.clone());
                            }
                            raw.add_host(name, &n, vars);
                        }
                    }
                }
                _ => bail!("YAML: {name}.hosts must map host names to their variables"),
            },
            "vars" => {
                let vars = yaml_vars(value, &format!("group {name}"))?;
                raw.group(name).vars.extend(vars);
            }
            "children" => match value {
                Value::Null => {}
                Value::Mapping(children) => {
                    for (c, cbody) in children {
                        let c = yaml_key(c)?;
                        raw.group(name).children.insert(c.clone());
                        yaml_group(raw, &c, cbody)?;
                    }
                }
                _ => bail!("YAML: {name}.children must map group names to groups"),
            },
            other => {
                bail!("YAML: group {name}: unknown key {other} (known: hosts, vars, children)")
            }
        }
    }
    Ok(())
}

/// Shell-style glob with `*` only (Ansible patterns), or an exact name.
fn glob(pattern: &str, name: &str) -> bool {
    if pattern == "all" || pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = r#"
# the bench
mac-mini ansible_host=10.0.0.9 ansible_user=admin

[pis]
pi5-a ansible_host=10.0.0.5
pi5-b:2222 ansible_host=10.0.0.6 edgebench_env="EDGEBENCH_MODELS_DIR='/mnt/ssd/models'"
node[01:03].lab

[pis:vars]
ansible_user=pi
ansible_ssh_private_key_file="~/.ssh/bench key"

[jetsons]
orin-nano ansible_host=10.0.0.7 ansible_port=2200

[arm:children]
pis
jetsons

[arm:vars]
ansible_user=arm
edgebench_cpu=armv8-a

[all:vars]
ansible_ssh_common_args='-o ProxyJump=gateway -o "ServerAliveInterval 5"'
"#;

    fn host<'a>(inv: &'a Inventory, name: &str) -> &'a Host {
        inv.hosts.iter().find(|h| h.name == name).unwrap()
    }

    #[test]
    fn ini_hosts_groups_and_precedence() {
        let inv = Inventory::parse_ini(INI).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mac-mini",
                "pi5-a",
                "pi5-b",
                "node01.lab",
                "node02.lab",
                "node03.lab",
                "orin-nano"
            ]
        );
        let mac = host(&inv, "mac-mini");
        assert_eq!(mac.address(), "10.0.0.9");
        assert_eq!(mac.user(), Some("admin"));
        assert!(mac.groups.contains("ungrouped") && mac.groups.contains("all"));
        assert_eq!(
            mac.extra_ssh_args().unwrap(),
            ["-o", "ProxyJump=gateway", "-o", "ServerAliveInterval 5"]
        );
        // pis (deeper) wins over arm (its parent); the host's own vars win over both.
        let pi = host(&inv, "pi5-b");
        assert_eq!(pi.user(), Some("pi"));
        assert_eq!(pi.port().unwrap(), Some(2222));
        assert_eq!(pi.key_file(), Some("~/.ssh/bench key"));
        assert_eq!(pi.var("edgebench_cpu"), Some("armv8-a"));
        assert_eq!(
            pi.run_env().unwrap(),
            [(
                "EDGEBENCH_MODELS_DIR".to_string(),
                "/mnt/ssd/models".to_string()
            )]
        );
        assert!(!pi.groups.contains("ungrouped"));
        assert!(pi.groups.contains("arm"));
        let node = host(&inv, "node02.lab");
        assert_eq!(node.address(), "node02.lab");
        assert_eq!(node.port().unwrap(), None);
        let orin = host(&inv, "orin-nano");
        assert_eq!(orin.user(), Some("arm"));
        assert_eq!(orin.port().unwrap(), Some(2200));
    }

    #[test]
    fn yaml_inventory_matches_ini() {
        let yaml = r#"
all:
  vars:
    ansible_ssh_common_args: -o StrictHostKeyChecking=yes
  hosts:
    mac-mini:
      ansible_host: 10.0.0.9
  children:
    arm:
      vars:
        ansible_user: arm
      children:
        pis:
          vars:
            ansible_user: pi
          hosts:
            pi5-a:
              ansible_host: 10.0.0.5
              ansible_port: 2222
            pi5-b:
        jetsons:
          hosts:
            orin-nano: {ansible_host: 10.0.0.7}
"#;
        let inv = Inventory::parse_yaml(yaml).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["mac-mini", "pi5-a", "pi5-b", "orin-nano"]);
        let pi = host(&inv, "pi5-a");
        assert_eq!(pi.port().unwrap(), Some(2222));
        assert_eq!(pi.user(), Some("pi"));
        assert_eq!(host(&inv, "pi5-b").address(), "pi5-b");
        assert_eq!(host(&inv, "orin-nano").user(), Some("arm"));
        assert_eq!(
            host(&inv, "mac-mini").extra_ssh_args().unwrap(),
            ["-o", "StrictHostKeyChecking=yes"]
        );
        assert!(looks_like_yaml(yaml));
        assert!(!looks_like_yaml(INI));
    }

    #[test]
    fn limit_patterns() {
        let inv = Inventory::parse_ini(INI).unwrap();
        let names = |p: &str| -> Vec<String> {
            inv.limit(p).unwrap().into_iter().map(|h| h.name).collect()
        };
        assert_eq!(names("jetsons"), ["orin-nano"]);
        assert_eq!(names("pi5-a,orin-nano"), ["pi5-a", "orin-nano"]);
        assert_eq!(names("arm:!pis"), ["orin-nano"]);
        assert_eq!(names("node*"), ["node01.lab", "node02.lab", "node03.lab"]);
        assert_eq!(names("arm:&pis:!node0*"), ["pi5-a", "pi5-b"]);
        assert_eq!(names("!arm"), ["mac-mini"]);
        assert_eq!(names("all").len(), 7);
        let err = inv.limit("pi6").unwrap_err().to_string();
        assert!(err.contains("pi6 matches no host or group"), "{err}");
    }

    #[test]
    fn host_patterns() {
        let (names, port) = expand_host("node[08:10]:22").unwrap();
        assert_eq!(names, ["node08", "node09", "node10"]);
        assert_eq!(port.as_deref(), Some("22"));
        assert_eq!(
            expand_host("fe80::1").unwrap(),
            (vec!["fe80::1".into()], None)
        );
        assert_eq!(
            expand_host("pi:2222").unwrap(),
            (vec!["pi".into()], Some("2222".into()))
        );
        assert!(expand_host("web[a:c]").is_err());
    }

    #[test]
    fn bad_inventories_name_the_line() {
        let err = Inventory::parse_ini("[pis]\npi5 ansible_host\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = format!(
            "{:#}",
            Inventory::parse_ini("[pis]\npi5 ansible_port=abc\n").unwrap_err()
        );
        assert!(err.contains("ansible_port=abc is not a port"), "{err}");
        let err = format!(
            "{:#}",
            Inventory::parse_ini("[a:children]\nb\n[b:children]\na\n").unwrap_err()
        );
        assert!(err.contains("its own descendant"), "{err}");
        let err = format!("{:#}", Inventory::parse_ini("[pis:hosts]\n").unwrap_err());
        assert!(err.contains("line 1") && err.contains(":hosts"), "{err}");
        let err = format!("{:#}", Inventory::parse_yaml("all: [1, 2]").unwrap_err());
        assert!(err.contains("group all must be a mapping"), "{err}");
    }
}
