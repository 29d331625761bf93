//! CPU-quota throttling of the worker's control group: the `nr_throttled` and
//! `throttled_time` (v1, ns) / `throttled_usec` (v2) counters of `cpu.stat` (kernel docs:
//! Documentation/scheduler/sched-bwc.rst, Documentation/admin-guide/cgroup-v2.rst). A container
//! CPU limit (`docker --cpus`, a Kubernetes limit) or a systemd `CPUQuota=` slows a benchmark
//! exactly like a hot chip does, and this is how the kernel says so.
//!
//! The worker's group comes from `/proc/<pid>/cgroup` (this process while no worker runs),
//! its folder from `/proc/self/mountinfo`; counters are summed over the group and its
//! ancestors up to the hierarchy's root, since a quota on a parent throttles the children
//! but is counted in the parent. Channels with [`Quantity::ThrottleCount`]:
//! `cgroup/nr_throttled` (periods in which the group was throttled) and `cgroup/throttled_s`.

use super::{Quantity, Reading, Sensor, SysRoot};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub struct CgroupCpu {
    root: SysRoot,
    worker_pid: Arc<AtomicU32>,
}

/// One mount of a cgroup hierarchy from mountinfo.
#[derive(Debug, PartialEq)]
struct CgroupMount {
    /// The group mounted there (`/` unless a namespace or bind mount shows a sub-tree).
    root: String,
    mount_point: String,
    v2: bool,
    /// v1 controllers (`cpu`, `cpuacct`…).
    controllers: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split_whitespace().collect();
            let mut right = right.split_whitespace();
            let fstype = right.next()?;
            let _source = right.next();
            let options = right.next().unwrap_or("");
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            Some(CgroupMount {
                root: fields.get(3)?.to_string(),
                mount_point: fields.get(4)?.replace("\\040", " "),
                v2,
                controllers: options.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The folder of the group holding the `cpu` controller for a `/proc/<pid>/cgroup` text.
fn cpu_group_dir(cgroup: &str, mounts: &[CgroupMount]) -> Option<(PathBuf, PathBuf)> {
    let mut v2_path = None;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.is_empty() {
            v2_path = Some(path.to_string());
            continue;
        }
        if controllers.split(',').any(|c| c == "cpu") {
            let mount = mounts
                .iter()
                .find(|m| !m.v2 && m.controllers.iter().any(|c| c == "cpu"))?;
            return Some(join_group(mount, path));
        }
    }
    let mount = mounts.iter().find(|m| m.v2)?;
    Some(join_group(mount, &v2_path?))
}

/// (group folder, hierarchy mount point).
fn join_group(mount: &CgroupMount, path: &str) -> (PathBuf, PathBuf) {
    let relative = path
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(path)
        .trim_start_matches('/');
    let base = PathBuf::from(&mount.mount_point);
    (base.join(relative), base)
}

/// `(nr_throttled, throttled seconds)` from a `cpu.stat` text, if it has them.
fn parse_cpu_stat(text: &str) -> Option<(f64, f64)> {
    let mut nr = None;
    let mut seconds = 0.0;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        match key {
            "nr_throttled" => nr = Some(value),
            "throttled_time" => seconds = value / 1e9,
            "throttled_usec" => seconds = value / 1e6,
            _ => {}
        }
    }
    nr.map(|n| (n, seconds))
}

impl CgroupCpu {
    pub fn discover(root: &SysRoot, worker_pid: Arc<AtomicU32>) -> Result<Self, String> {
        let sensor = Self {
            root: root.clone(),
            worker_pid,
        };
        let files = sensor.resolve(0)?;
        if files.is_empty() {
            return Err(
                "this process's cgroup has no cpu.stat with nr_throttled (no cpu controller)"
                    .into(),
            );
        }
        Ok(sensor)
    }

    /// The `cpu.stat` files of the group of `pid` (0: this process) and its ancestors,
    /// innermost first. Resolved at every read: a process can be moved to another group.
    fn resolve(&self, pid: u32) -> Result<Vec<PathBuf>, String> {
        let proc_dir = if pid == 0 {
            "self".to_string()
        } else {
            pid.to_string()
        };
        let cgroup_file = self.root.path(&format!("/proc/{proc_dir}/cgroup"));
        let cgroup = std::fs::read_to_string(&cgroup_file)
            .map_err(|e| format!("{}: {e}", cgroup_file.display()))?;
        let mountinfo = self
            .root
            .read_trimmed("/proc/self/mountinfo")
            .ok_or("cannot read /proc/self/mountinfo")?;
        let (group, top) = cpu_group_dir(&cgroup, &parse_mountinfo(&mountinfo))
            .ok_or("no cgroup with the cpu controller")?;
        let mut files = Vec::new();
        let mut dir: &Path = &group;
        loop {
            let stat = self.root.path(&dir.join("cpu.stat").to_string_lossy());
            if std::fs::read_to_string(&stat)
                .ok()
                .and_then(|t| parse_cpu_stat(&t))
                .is_some()
            {
                files.push(stat);
            }
            if dir == top {
                break;
            }
            match dir.parent() {
                Some(parent) if parent.starts_with(&top) => dir = parent,
                _ => break,
            }
        }
        Ok(files)
    }
}

impl Sensor for CgroupCpu {
    fn name(&self) -> &str {
        "cgroup"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let pid = self.worker_pid.load(Ordering::Relaxed);
        // The worker may have just exited (or not started): fall back to this process.
        let files = self.resolve(pid).or_else(|_| self.resolve(0))?;
        let (mut nr, mut seconds) = (0.0, 0.0);
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let (n, s) = parse_cpu_stat(&text)
                .ok_or_else(|| format!("{}: no nr_throttled line", f.display()))?;
            nr += n;
            seconds += s;
        }
        Ok(vec![
            Reading {
                channel: "cgroup/nr_throttled".into(),
                quantity: Quantity::ThrottleCount,
                value: nr,
                total: false,
            },
            Reading {
                channel: "cgroup/throttled_s".into(),
                quantity: Quantity::ThrottleCount,
                value: seconds,
                total: false,
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_cpu_controller_wins_over_v2() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        let (dir, top) = cpu_group_dir(
            "4:memory:/x\n2:cpu,cpuacct:/bench/worker\n0::/user.slice\n",
            &mounts,
        )
        .unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/cpu,cpuacct/bench/worker"));
        assert_eq!(top, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    }

    #[test]
    fn v2_only_and_namespaced_root() {
        let mounts =
            parse_mountinfo("29 23 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let (dir, _) = cpu_group_dir("0::/kubepods/pod1/app\n", &mounts).unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/app"));
    }

    #[test]
    fn cpu_stat_v1_and_v2() {
        assert_eq!(
            parse_cpu_stat("nr_periods 10\nnr_throttled 4\nthrottled_time 2500000000\n"),
            Some((4.0, 2.5))
        );
        assert_eq!(
            parse_cpu_stat("usage_usec 1\nnr_throttled 2\nthrottled_usec 500000\n"),
            Some((2.0, 0.5))
        );
        // The v2 root group has no bandwidth counters.
        assert_eq!(parse_cpu_stat("usage_usec 1\nuser_usec 1\n"), None);
    }
}
