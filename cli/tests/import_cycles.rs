//! The cli crate's modules import each other without cycles, and only `main.rs` uses the crate
//! root's own items: a module depends on those it names through `crate::…` or `super::…` (in
//! `use` lines and in paths in code), and following those arrows never leads back to where it
//! started. A module and its own submodules (a `mod.rs` and the files beside it) form one unit
//! here: a parent may dispatch to its children and they may use its shared types.
//!
//! The check reads the source text (no compiler): `//` comment lines are skipped, `use` trees
//! with braces are expanded, and a path is attributed to the longest module (file) it names.
//! `super::` inside an inline module (`mod tests { … }`) is read as if at the file's level.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path inside the crate: `commands::run::select`; the root is empty.
type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `src/commands/run/mod.rs` → `commands::run`; `src/main.rs` → the root.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "main" | "lib")
    ) {
        parts.pop();
    }
    parts
}

/// `crate::{a, b::{c, d as e}}` → `crate::a`, `crate::b::c`, `crate::b::d`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let leaf = tree.split_once(" as ").map_or(tree, |(path, _)| path);
        return vec![leaf.trim().trim_end_matches("::").to_string()];
    };
    let prefix = tree[..open].trim();
    let close = tree.rfind('}').expect("a use tree's braces close");
    let inner = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            if p == "self" {
                vec![prefix.trim_end_matches("::").to_string()]
            } else {
                expand_use(&format!("{prefix}{p}"))
            }
        })
        .collect()
}

/// Every `crate::…`, `super::…` and `self::…` path a file names, from `use` statements and
/// from code.
fn paths_in(text: &str) -> Vec<String> {
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let code = code.join("\n");
    let mut out = Vec::new();
    // `use` statements, which may span lines.
    let mut rest = code.as_str();
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            rest = after;
            continue;
        }
        let end = after.find(';').unwrap_or(after.len());
        let tree = &after[..end];
        if ["crate::", "super::", "self::"]
            .iter()
            .any(|p| tree.trim_start().starts_with(p))
        {
            out.extend(expand_use(tree));
        }
        rest = &after[end..];
    }
    // Paths in code: `crate::plan::resolve(…)`.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a path from `module` leads to: the longest module (file) it names, the root when
/// it names an item of `main.rs`.
fn resolve(module: &Module, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segments = path.split("::").peekable();
    let mut base: Module = match segments.next()? {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    while segments.peek() == Some(&"super") {
        segments.next();
        base.pop();
    }
    let mut found = base.clone();
    for s in segments {
        base.push(s.to_string());
        if modules.contains(&base) {
            found = base.clone();
        } else {
            break;
        }
    }
    Some(found)
}

fn is_prefix(a: &Module, b: &Module) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "main".into()
    } else {
        m.join("::")
    }
}

/// The cycles of a graph: its strongly connected components of more than one module.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        seen: &mut BTreeSet<Module>,
        order: &mut Vec<Module>,
    ) {
        if !seen.insert(m.clone()) {
            return;
        }
        for n in graph.get(m).into_iter().flatten() {
            visit(n, graph, seen, order);
        }
        order.push(m.clone());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for m in graph.keys() {
        visit(m, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in graph {
        for to in tos {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for m in order.iter().rev() {
        let mut component = Vec::new();
        visit(m, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            out.push(component);
        }
    }
    out
}

/// The import graph of the crate at `src`, and the root items named outside `main.rs`.
fn import_graph(src: &Path) -> (BTreeMap<Module, BTreeSet<Module>>, Vec<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut root_items = Vec::new();
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let edges = graph.entry(module.clone()).or_default();
        for path in paths_in(&text) {
            let Some(to) = resolve(&module, &path, &modules) else {
                continue;
            };
            if to.is_empty() && !module.is_empty() && path.starts_with("crate::") {
                root_items.push(format!("{}: {path}", name(&module)));
            }
            if !is_prefix(&to, &module) && !is_prefix(&module, &to) {
                edges.insert(to);
            }
        }
    }
    (graph, root_items)
}

#[test]
fn the_cli_crate_has_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (graph, root_items) = import_graph(&src);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        graph.len() > 20 && edges > 40,
        "the check read too little to mean anything: {} modules, {edges} imports",
        graph.len()
    );
    let found = cycles(&graph);
    let described: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(" ↔ "))
        .collect();
    assert!(
        found.is_empty(),
        "import cycles in cli/src: {}",
        described.join("; ")
    );
    assert!(
        root_items.is_empty(),
        "modules that use main.rs's items (put them in a module of their own): {}",
        root_items.join(", ")
    );
}

/// The library crates too: no module of harness, reports, scenarios or a target imports one
/// that leads back to it (their roots re-export freely, so only cycles are checked).
#[test]
fn no_other_crate_of_the_workspace_has_import_cycles() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut described = Vec::new();
    let mut modules = 0;
    for krate in [
        "harness",
        "reports",
        "scenarios",
        "targets/kit",
        "targets/candle",
        "targets/llamacpp",
        "targets/onnxruntime",
        "targets/whispercpp",
    ] {
        let (graph, _) = import_graph(&workspace.join(krate).join("src"));
        modules += graph.len();
        for c in cycles(&graph) {
            let names: Vec<String> = c.iter().map(name).collect();
            described.push(format!("{krate}: {}", names.join(" ↔ ")));
        }
    }
    assert!(modules > 100, "read too little: {modules} modules");
    assert!(
        described.is_empty(),
        "import cycles: {}",
        described.join("; ")
    );
}

/// The check finds a cycle when there is one (a crate written for the purpose).
#[test]
fn a_cycle_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("commands")).unwrap();
    std::fs::write(
        src.join("main.rs"),
        "mod plan;\nmod memfit;\nmod commands;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("plan.rs"),
        "use crate::memfit::{self, estimate};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("memfit.rs"),
        "// use crate::plan;\nfn f() { crate::commands::run::go() }\n",
    )
    .unwrap();
    std::fs::write(src.join("commands/mod.rs"), "pub mod run;\n").unwrap();
    std::fs::write(
        src.join("commands/run.rs"),
        "use super::super::{plan::Plan, VERSION};\nuse super::*;\n",
    )
    .unwrap();
    let (graph, root_items) = import_graph(src);
    let found = cycles(&graph);
    let names: Vec<Vec<String>> = found.iter().map(|c| c.iter().map(name).collect()).collect();
    assert_eq!(names, vec![vec!["commands::run", "memfit", "plan"]]);
    // `super::super::VERSION` is not `crate::VERSION` spelled out, so only `crate::` paths to
    // root items are reported; here there are none.
    assert!(root_items.is_empty(), "{root_items:?}");
    assert_eq!(
        expand_use("crate::{a, b::{c, d as e}, f::{self}}"),
        vec!["crate::a", "crate::b::c", "crate::b::d", "crate::f"]
    );
}
