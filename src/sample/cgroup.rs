//! Memory and CPU limits of the cgroup a process runs in, for cgroup v2, v1 and hybrid layouts.
//!
//! Everything is split into pure parsers (file contents in, values out) and path logic that
//! takes the mount table as data, so the tests run on fixture trees under
//! `fixtures/proc/cgroup/`. Only [`limits_for_pid`] touches the real /proc and /sys.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::CgroupLimits;

/// cgroup v1 reports "no limit" as the largest page-aligned `i64`
/// (9223372036854771712 with 4 KiB pages, a little less with 64 KiB pages); anything this
/// large (4 EiB) cannot be a real limit.
const V1_UNLIMITED_BYTES: u64 = 1 << 62;

/// Which kind of hierarchy a cgroup mount is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1, with the controllers bound to it (`memory`, `cpu`, `cpuacct`, ...).
    V1 { controllers: Vec<String> },
    /// The unified cgroup v2 hierarchy.
    V2,
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where the hierarchy is mounted (`/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (the mountinfo "root" field, `/` unless a
    /// container bind-mounted its own sub-tree).
    pub root: String,
    pub hierarchy: Hierarchy,
}

/// One line of /proc/PID/cgroup: `hierarchy-id:controllers:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupEntry {
    pub hierarchy_id: u32,
    /// Controllers of a v1 hierarchy (`name=systemd` included as is); empty for v2.
    pub controllers: Vec<String>,
    pub path: String,
}

impl CgroupEntry {
    /// The line of the unified (v2) hierarchy: `0::PATH`.
    pub fn is_v2(&self) -> bool {
        self.hierarchy_id == 0 && self.controllers.is_empty()
    }
}

/// Parse /proc/PID/cgroup. Malformed lines are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupEntry> {
    text.lines()
        .filter_map(|line| {
            // The path itself may contain ':', so split at most twice.
            let mut parts = line.splitn(3, ':');
            let hierarchy_id = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(CgroupEntry {
                hierarchy_id,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// The cgroup mounts in a mountinfo file (/proc/self/mountinfo).
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            // "36 25 0:31 ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
            let (left, right) = line.split_once(" - ")?;
            let mut left_fields = left.split(' ');
            let root = unescape_mount_field(left_fields.nth(3)?);
            let mount_point = PathBuf::from(unescape_mount_field(left_fields.next()?));
            let mut right_fields = right.split(' ');
            let fs_type = right_fields.next()?;
            let _source = right_fields.next()?;
            let super_options = right_fields.next().unwrap_or("");
            let hierarchy = match fs_type {
                "cgroup2" => Hierarchy::V2,
                "cgroup" => Hierarchy::V1 {
                    controllers: super_options
                        .split(',')
                        .filter(|o| !matches!(*o, "rw" | "ro") && !o.is_empty())
                        .map(str::to_owned)
                        .collect(),
                },
                _ => return None,
            };
            Some(CgroupMount {
                mount_point,
                root,
                hierarchy,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mount_field(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let value =
                    (d[0] - b'0') as u32 * 64 + (d[1] - b'0') as u32 * 8 + (d[2] - b'0') as u32;
                out.push(value as u8);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Guess the mounts from the usual layout under `root` (normally `/sys/fs/cgroup`), for
/// when mountinfo cannot be read: unified v2 at the root, or v1 controller directories
/// (`memory`, `cpu` / `cpu,cpuacct`) with an optional hybrid v2 tree at `unified`.
pub fn guess_mounts(root: &Path) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    if root.join("cgroup.controllers").is_file() {
        mounts.push(CgroupMount {
            mount_point: root.to_path_buf(),
            root: "/".to_owned(),
            hierarchy: Hierarchy::V2,
        });
        return mounts;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return mounts;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if name == "unified" {
            mounts.push(CgroupMount {
                mount_point: path,
                root: "/".to_owned(),
                hierarchy: Hierarchy::V2,
            });
        } else {
            let controllers: Vec<String> = name.split(',').map(str::to_owned).collect();
            if controllers.iter().any(|c| c == "memory" || c == "cpu") {
                mounts.push(CgroupMount {
                    mount_point: path,
                    root: "/".to_owned(),
                    hierarchy: Hierarchy::V1 { controllers },
                });
            }
        }
    }
    // read_dir order is unspecified; keep the result stable.
    mounts.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    mounts
}

/// v2 `memory.max`: bytes, or `max` for no limit.
pub fn parse_v2_memory_max(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// v2 `cpu.max`: `"$QUOTA $PERIOD"` in µs, or `"max $PERIOD"` for no limit. Cores = quota / period.
pub fn parse_v2_cpu_max(text: &str) -> Option<f64> {
    let mut fields = text.split_whitespace();
    let quota_us: f64 = fields.next()?.parse().ok()?;
    let period_us: f64 = fields.next().unwrap_or("100000").parse().ok()?;
    cores(quota_us, period_us)
}

/// v1 `memory.limit_in_bytes`; the huge "unlimited" value gives `None`.
pub fn parse_v1_memory_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes < V1_UNLIMITED_BYTES).then_some(bytes)
}

/// v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`; a quota of -1 means no limit.
pub fn parse_v1_cpu(quota_text: &str, period_text: &str) -> Option<f64> {
    let quota_us: f64 = quota_text.trim().parse().ok()?;
    let period_us: f64 = period_text.trim().parse().ok()?;
    cores(quota_us, period_us)
}

fn cores(quota_us: f64, period_us: f64) -> Option<f64> {
    (quota_us > 0.0 && period_us > 0.0).then(|| quota_us / period_us)
}

/// The directory of cgroup `path` inside `mount`. Falls back to the mount point when the
/// path is not there: inside a container the path in /proc/PID/cgroup may name the host's
/// hierarchy (no cgroup namespace) or lie outside our namespace (`/../..`), while the mount
/// shows only the container's own cgroup.
pub fn cgroup_dir(mount: &CgroupMount, path: &str) -> PathBuf {
    find_cgroup_dir(mount, path).unwrap_or_else(|| mount.mount_point.clone())
}

/// The directory of cgroup `path` inside `mount` when it exists there, without
/// [`cgroup_dir`]'s fallback to the mount point (usage read from a fallback would be some
/// other cgroup's).
pub fn find_cgroup_dir(mount: &CgroupMount, path: &str) -> Option<PathBuf> {
    let mount_root = mount.root.trim_end_matches('/');
    let relative = match path.strip_prefix(mount_root) {
        Some(rest) if !mount_root.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let relative = Path::new(relative.trim_start_matches('/'));
    // Never follow ".." out of the mount.
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let dir = mount.mount_point.join(relative);
    dir.is_dir().then_some(dir)
}

/// Directories from `dir` up to and including `mount_point`.
fn dirs_up_to<'a>(dir: &'a Path, mount_point: &'a Path) -> impl Iterator<Item = &'a Path> {
    dir.ancestors()
        .take_while(move |d| d.starts_with(mount_point))
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

fn tighter_u64(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn tighter_f64(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The limits for a process whose /proc/PID/cgroup reads `proc_cgroup`, with the
/// hierarchies mounted as `mounts`: the tightest limit along the path from the process's
/// cgroup up to the mount root, over every hierarchy that holds the memory or cpu controller.
pub fn limits_from(proc_cgroup: &str, mounts: &[CgroupMount]) -> CgroupLimits {
    let mut limits = CgroupLimits::default();
    let mut v2_has_controllers = false;
    let mut v2_found = false;
    let mut v1_found = false;

    for entry in parse_proc_cgroup(proc_cgroup) {
        if entry.is_v2() {
            // Only the first v2 mount: a second one is a bind mount of the same tree.
            let Some(mount) = mounts.iter().find(|m| m.hierarchy == Hierarchy::V2) else {
                continue;
            };
            v2_found = true;
            let dir = cgroup_dir(mount, &entry.path);
            // In a hybrid layout the v2 tree exists but memory and cpu stay on v1.
            let controllers =
                read_trimmed(&mount.mount_point.join("cgroup.controllers")).unwrap_or_default();
            if controllers
                .split_whitespace()
                .any(|c| c == "memory" || c == "cpu")
            {
                v2_has_controllers = true;
            }
            for d in dirs_up_to(&dir, &mount.mount_point) {
                if let Some(text) = read_trimmed(&d.join("memory.max")) {
                    v2_has_controllers = true;
                    limits.mem_limit_bytes =
                        tighter_u64(limits.mem_limit_bytes, parse_v2_memory_max(&text));
                }
                if let Some(text) = read_trimmed(&d.join("cpu.max")) {
                    v2_has_controllers = true;
                    limits.cpu_limit_cores =
                        tighter_f64(limits.cpu_limit_cores, parse_v2_cpu_max(&text));
                }
            }
            continue;
        }
        let wants_memory = entry.controllers.iter().any(|c| c == "memory");
        let wants_cpu = entry.controllers.iter().any(|c| c == "cpu");
        if !wants_memory && !wants_cpu {
            continue;
        }
        let mount = mounts.iter().find(|m| match &m.hierarchy {
            Hierarchy::V1 { controllers } => {
                controllers.iter().any(|c| entry.controllers.contains(c))
            }
            Hierarchy::V2 => false,
        });
        let Some(mount) = mount else { continue };
        v1_found = true;
        let dir = cgroup_dir(mount, &entry.path);
        for d in dirs_up_to(&dir, &mount.mount_point) {
            if wants_memory && let Some(text) = read_trimmed(&d.join("memory.limit_in_bytes")) {
                limits.mem_limit_bytes =
                    tighter_u64(limits.mem_limit_bytes, parse_v1_memory_limit(&text));
            }
            if wants_cpu
                && let (Some(quota), Some(period)) = (
                    read_trimmed(&d.join("cpu.cfs_quota_us")),
                    read_trimmed(&d.join("cpu.cfs_period_us")),
                )
            {
                limits.cpu_limit_cores =
                    tighter_f64(limits.cpu_limit_cores, parse_v1_cpu(&quota, &period));
            }
        }
    }

    limits.version = if v2_has_controllers {
        Some("v2".to_owned())
    } else if v1_found {
        Some("v1".to_owned())
    } else if v2_found {
        Some("v2".to_owned())
    } else {
        None
    };
    limits
}

/// The cgroup limits of a live process, all `None` when nothing can be read.
///
/// The path in /proc/PID/cgroup is relative to *our* cgroup namespace, so it is resolved
/// against *our* mount table (/proc/self/mountinfo), not the target's.
pub fn limits_for_pid(pid: u32) -> CgroupLimits {
    let Ok(proc_cgroup) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return CgroupLimits::default();
    };
    limits_from(&proc_cgroup, &host_mounts())
}

/// The cgroup hierarchies mounted in our mount namespace: /proc/self/mountinfo, or the usual
/// layout under /sys/fs/cgroup when that cannot be read.
pub fn host_mounts() -> Vec<CgroupMount> {
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map(|text| parse_mountinfo(&text))
        .unwrap_or_default();
    if mounts.is_empty() {
        return guess_mounts(Path::new("/sys/fs/cgroup"));
    }
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/proc/cgroup")
            .join(name)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    /// The fixture's mountinfo, with mount points moved under the fixture directory.
    fn fixture_mounts(name: &str) -> Vec<CgroupMount> {
        let root = fixture(name);
        parse_mountinfo(&read(&root.join("mountinfo")))
            .into_iter()
            .map(|mut m| {
                m.mount_point = root.join(m.mount_point.strip_prefix("/").unwrap());
                m
            })
            .collect()
    }

    fn limits_with_mountinfo(name: &str) -> CgroupLimits {
        limits_from(&read(&fixture(name).join("cgroup")), &fixture_mounts(name))
    }

    fn limits_with_guess(name: &str) -> CgroupLimits {
        let root = fixture(name);
        limits_from(
            &read(&root.join("cgroup")),
            &guess_mounts(&root.join("sys/fs/cgroup")),
        )
    }

    #[test]
    fn parses_value_files() {
        assert_eq!(parse_v2_memory_max("max\n"), None);
        assert_eq!(parse_v2_memory_max("536870912\n"), Some(536_870_912));
        assert_eq!(parse_v2_cpu_max("max 100000\n"), None);
        assert_eq!(parse_v2_cpu_max("50000 100000\n"), Some(0.5));
        assert_eq!(parse_v2_cpu_max("max"), None);
        assert_eq!(parse_v2_cpu_max("garbage"), None);
        assert_eq!(parse_v1_memory_limit("9223372036854771712\n"), None);
        // 64 KiB page kernels round "unlimited" down further.
        assert_eq!(parse_v1_memory_limit("9223372036854710272"), None);
        assert_eq!(parse_v1_memory_limit("268435456"), Some(268_435_456));
        assert_eq!(parse_v1_cpu("-1\n", "100000\n"), None);
        assert_eq!(parse_v1_cpu("25000", "100000"), Some(0.25));
        assert_eq!(parse_v1_cpu("25000", "0"), None);
    }

    #[test]
    fn parses_proc_cgroup_of_this_machine() {
        let entries = parse_proc_cgroup(&read(&fixture("hybrid/cgroup")));
        assert_eq!(entries.len(), 10);
        let memory = entries
            .iter()
            .find(|e| e.controllers == ["memory"])
            .unwrap();
        assert_eq!(memory.hierarchy_id, 4);
        assert_eq!(memory.path, "/process_api/10be57c8c03c2a868ba11dbc58c11e98");
        let v2 = entries.iter().find(|e| e.is_v2()).unwrap();
        assert_eq!(v2.path, "/");
        let v1 = parse_proc_cgroup(&read(&fixture("v1/cgroup")));
        assert_eq!(v1[1].controllers, ["cpu", "cpuacct"]);
    }

    #[test]
    fn parses_mountinfo() {
        let mounts = parse_mountinfo(&read(&fixture("hybrid/mountinfo")));
        // The tmpfs at /sys/fs/cgroup is not a cgroup mount.
        assert_eq!(mounts.len(), 10);
        assert!(mounts.iter().any(|m| m.hierarchy == Hierarchy::V2
            && m.mount_point == Path::new("/sys/fs/cgroup/unified")));
        let memory = mounts
            .iter()
            .find(|m| m.mount_point.ends_with("memory"))
            .unwrap();
        assert_eq!(
            memory.hierarchy,
            Hierarchy::V1 {
                controllers: vec!["memory".to_owned()]
            }
        );
        let container = parse_mountinfo(&read(&fixture("v1-container/mountinfo")));
        assert_eq!(container[0].root, "/docker/c0ffee");
        assert_eq!(
            container[1].hierarchy,
            Hierarchy::V1 {
                controllers: vec!["cpu".to_owned(), "cpuacct".to_owned()]
            }
        );
        assert_eq!(
            unescape_mount_field(r"/mnt/with\040space"),
            "/mnt/with space"
        );
    }

    #[test]
    fn v2_takes_the_tightest_along_the_path() {
        let expected = CgroupLimits {
            mem_limit_bytes: Some(512 * 1024 * 1024),
            // The service allows 1.5 cores, its slice 2: 1.5 wins.
            cpu_limit_cores: Some(1.5),
            version: Some("v2".to_owned()),
        };
        assert_eq!(limits_with_mountinfo("v2"), expected);
        assert_eq!(limits_with_guess("v2"), expected);
        // A parent slice's memory limit applies to the scope below it.
        assert_eq!(
            limits_with_guess("v2-parent"),
            CgroupLimits {
                mem_limit_bytes: Some(1024 * 1024 * 1024),
                cpu_limit_cores: None,
                version: Some("v2".to_owned()),
            }
        );
    }

    #[test]
    fn v2_in_a_container_falls_back_to_the_mount_root() {
        assert_eq!(
            limits_with_guess("v2-container"),
            CgroupLimits {
                mem_limit_bytes: Some(256 * 1024 * 1024),
                cpu_limit_cores: Some(0.5),
                version: Some("v2".to_owned()),
            }
        );
    }

    #[test]
    fn v1_reads_memory_and_cfs_quota() {
        let expected = CgroupLimits {
            mem_limit_bytes: Some(768 * 1024 * 1024),
            cpu_limit_cores: Some(0.25),
            version: Some("v1".to_owned()),
        };
        assert_eq!(limits_with_mountinfo("v1"), expected);
        assert_eq!(limits_with_guess("v1"), expected);
    }

    #[test]
    fn v1_in_a_container_uses_the_bind_mounted_root() {
        let expected = CgroupLimits {
            mem_limit_bytes: Some(256 * 1024 * 1024),
            cpu_limit_cores: Some(1.5),
            version: Some("v1".to_owned()),
        };
        assert_eq!(limits_with_mountinfo("v1-container"), expected);
        assert_eq!(limits_with_guess("v1-container"), expected);
    }

    #[test]
    fn hybrid_copy_of_this_machine_has_no_limits_on_v1() {
        let expected = CgroupLimits {
            mem_limit_bytes: None,
            cpu_limit_cores: None,
            version: Some("v1".to_owned()),
        };
        assert_eq!(limits_with_mountinfo("hybrid"), expected);
        assert_eq!(limits_with_guess("hybrid"), expected);
    }

    #[test]
    fn never_leaves_the_mount() {
        let mount = CgroupMount {
            mount_point: fixture("v2/sys/fs/cgroup"),
            root: "/".to_owned(),
            hierarchy: Hierarchy::V2,
        };
        assert_eq!(cgroup_dir(&mount, "/../../.."), mount.mount_point);
        assert_eq!(cgroup_dir(&mount, "/"), mount.mount_point);
        assert_eq!(
            cgroup_dir(&mount, "/system.slice"),
            mount.mount_point.join("system.slice")
        );
    }

    #[test]
    fn live_limits_of_this_process_do_not_fail() {
        let limits = limits_for_pid(std::process::id());
        if Path::new("/sys/fs/cgroup").is_dir() {
            assert!(limits.version.is_some(), "{limits:?}");
        }
        // No such process: all None.
        assert_eq!(limits_for_pid(u32::MAX), CgroupLimits::default());
    }
}
