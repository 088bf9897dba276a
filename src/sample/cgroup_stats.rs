//! Usage counters of one cgroup, read every sample: memory (in use, anon, file, kernel, working
//! set), OOM and OOM-kill counts, CPU usage and CFS throttling, PIDs and pressure stall
//! information, from cgroup v2 or v1 (hybrid included) files.
//!
//! Pure parsers (file text in, values out) are tested on captured and hand-written copies under
//! `fixtures/cgroup/`; file access goes through [`CgroupFiles`], so tests can feed any text.
//! Nothing here writes under /sys/fs/cgroup: soakprof only reads cgroups.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cgroup::{CgroupEntry, CgroupMount, Hierarchy, find_cgroup_dir, parse_proc_cgroup};

/// Nested cgroups deeper than this below the target are not searched for processes (a
/// Kubernetes pod is two levels deep; this only bounds a pathological tree).
const MAX_PROCS_DEPTH: usize = 8;

/// One sample of a cgroup's counters. A value that could not be read is `None`, never `0`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Memory charged to the cgroup (v2 `memory.current`, v1 `memory.usage_in_bytes`).
    pub memory_bytes: Option<u64>,
    /// Anonymous memory (v2 `anon`, v1 `total_rss`).
    pub anon_bytes: Option<u64>,
    /// Page cache, tmpfs and shared memory included (v2 `file`, v1 `total_cache`).
    pub file_bytes: Option<u64>,
    /// Kernel memory (v2 `kernel`, or its parts on kernels before it; v1
    /// `memory.kmem.usage_in_bytes`).
    pub kernel_bytes: Option<u64>,
    /// Network socket buffers (v2 only: v1 accounts them only when a TCP limit is set).
    pub sock_bytes: Option<u64>,
    /// tmpfs and shared memory (v2 `shmem`, v1 `total_shmem`).
    pub shmem_bytes: Option<u64>,
    /// Page cache the kernel would reclaim first (v2 `inactive_file`, v1
    /// `total_inactive_file`).
    pub inactive_file_bytes: Option<u64>,
    /// Memory in use minus inactive page cache, floored at 0: what kubelet and cAdvisor act on.
    pub working_set_bytes: Option<u64>,
    /// Times the cgroup hit its limit and the OOM killer was invoked (v2 `oom`; v1 has no
    /// such count).
    pub oom_events: Option<u64>,
    /// Processes killed by the OOM killer (v2 `oom_kill`, v1 `oom_kill`, kernel 4.13 on).
    pub oom_kill_events: Option<u64>,
    /// v1 only: the cgroup is out of memory right now (`under_oom`, with the OOM killer
    /// disabled its processes wait).
    pub under_oom: Option<bool>,
    /// Cumulative CPU seconds (v2 `usage_usec`, v1 `cpuacct.usage`).
    pub cpu_usage_s: Option<f64>,
    /// CFS periods in which the cgroup was runnable (`nr_periods`).
    pub cpu_periods: Option<u64>,
    /// Periods in which it used up its quota and was throttled (`nr_throttled`).
    pub cpu_throttled_periods: Option<u64>,
    /// Cumulative seconds throttled (v2 `throttled_usec`, v1 `throttled_time`).
    pub cpu_throttled_s: Option<f64>,
    /// Tasks (threads) in the cgroup (`pids.current`).
    pub pids: Option<u64>,
    pub memory_pressure: Option<Pressure>,
    pub cpu_pressure: Option<Pressure>,
}

/// Pressure stall information of one resource (`memory.pressure`, `cpu.pressure`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    /// Share of wall time in which some task waited, over the last 10 s / 60 s, percent.
    pub some_avg10_pct: f64,
    pub some_avg60_pct: f64,
    /// Cumulative seconds in which some task waited.
    pub some_total_s: f64,
    /// The same for all tasks waiting at once; `None` where the kernel has no `full` line
    /// (cpu.pressure before Linux 5.13).
    pub full_avg10_pct: Option<f64>,
    pub full_total_s: Option<f64>,
}

/// Values of a flat keyed file (`KEY VALUE` lines: memory.stat, memory.events, cpu.stat,
/// memory.oom_control), looked up for `keys` in one pass: each `None` when its key is missing
/// or its value is not a number. Unknown keys and malformed lines are ignored; the first of
/// repeated keys wins.
pub fn parse_keyed<const N: usize>(text: &str, keys: [&str; N]) -> [Option<u64>; N] {
    let mut values = [None; N];
    let mut seen = [false; N];
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Some(i) = keys.iter().position(|k| *k == key)
            && !seen[i]
        {
            seen[i] = true;
            values[i] = value.parse().ok();
        }
    }
    values
}

/// A single-number file (`memory.current`, `memory.usage_in_bytes`, `pids.current`,
/// `cpuacct.usage`, ...). `max`, empty or malformed text gives `None`.
pub fn parse_count(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A file holding a count or `max` (`pids.max`, `memory.max`): `Some(None)` for `max`
/// (no limit), `None` when malformed.
pub fn parse_count_or_max(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "max" => Some(None),
        other => other.parse().ok().map(Some),
    }
}

/// The memory.stat values soakprof keeps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryStat {
    pub anon_bytes: Option<u64>,
    pub file_bytes: Option<u64>,
    pub kernel_bytes: Option<u64>,
    pub sock_bytes: Option<u64>,
    pub shmem_bytes: Option<u64>,
    pub inactive_file_bytes: Option<u64>,
}

/// v2 `memory.stat`. Kernels before `kernel` was added (Linux 5.18) give its parts, which are
/// summed: stacks, page tables, per-CPU, slab and vmalloc memory, those that are present.
pub fn parse_v2_memory_stat(text: &str) -> MemoryStat {
    let [
        anon,
        file,
        kernel,
        sock,
        shmem,
        inactive_file,
        kernel_stack,
        pagetables,
        sec_pagetables,
        percpu,
        slab,
        slab_reclaimable,
        slab_unreclaimable,
        vmalloc,
    ] = parse_keyed(
        text,
        [
            "anon",
            "file",
            "kernel",
            "sock",
            "shmem",
            "inactive_file",
            "kernel_stack",
            "pagetables",
            "sec_pagetables",
            "percpu",
            "slab",
            "slab_reclaimable",
            "slab_unreclaimable",
            "vmalloc",
        ],
    );
    let slab = slab.or_else(|| Some(slab_reclaimable? + slab_unreclaimable?));
    let kernel = kernel.or_else(|| {
        // The stack is there on every v2 kernel; without it the file is not memory.stat.
        let stack = kernel_stack?;
        Some(
            [pagetables, sec_pagetables, percpu, slab, vmalloc]
                .iter()
                .flatten()
                .fold(stack, |sum, v| sum.saturating_add(*v)),
        )
    });
    MemoryStat {
        anon_bytes: anon,
        file_bytes: file,
        kernel_bytes: kernel,
        sock_bytes: sock,
        shmem_bytes: shmem,
        inactive_file_bytes: inactive_file,
    }
}

/// v1 `memory.stat`: the hierarchical `total_*` keys (this cgroup and its children, as
/// `memory.usage_in_bytes` counts them). Kernel memory is in `memory.kmem.usage_in_bytes`, and
/// socket memory is not accounted by default on v1, so both are `None` here.
pub fn parse_v1_memory_stat(text: &str) -> MemoryStat {
    let [rss, cache, shmem, inactive_file] = parse_keyed(
        text,
        [
            "total_rss",
            "total_cache",
            "total_shmem",
            "total_inactive_file",
        ],
    );
    MemoryStat {
        anon_bytes: rss,
        file_bytes: cache,
        kernel_bytes: None,
        sock_bytes: None,
        shmem_bytes: shmem,
        inactive_file_bytes: inactive_file,
    }
}

/// OOM counts: v2 `memory.events`, v1 `memory.oom_control`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OomCounts {
    pub oom_events: Option<u64>,
    pub oom_kill_events: Option<u64>,
    pub under_oom: Option<bool>,
}

/// v2 `memory.events`: `oom` and `oom_kill`.
pub fn parse_v2_memory_events(text: &str) -> OomCounts {
    let [oom, oom_kill] = parse_keyed(text, ["oom", "oom_kill"]);
    OomCounts {
        oom_events: oom,
        oom_kill_events: oom_kill,
        under_oom: None,
    }
}

/// v1 `memory.oom_control`: `oom_kill` (Linux 4.13 on) and `under_oom`.
pub fn parse_v1_oom_control(text: &str) -> OomCounts {
    let [oom_kill, under_oom] = parse_keyed(text, ["oom_kill", "under_oom"]);
    OomCounts {
        oom_events: None,
        oom_kill_events: oom_kill,
        under_oom: under_oom.and_then(|v| match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
    }
}

/// CPU usage and CFS throttling from `cpu.stat`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuStat {
    pub usage_s: Option<f64>,
    pub periods: Option<u64>,
    pub throttled_periods: Option<u64>,
    pub throttled_s: Option<f64>,
}

/// v2 `cpu.stat`. Without the cpu controller enabled only `usage_usec` and its user/system
/// split are there, and the throttling fields are `None`.
pub fn parse_v2_cpu_stat(text: &str) -> CpuStat {
    let [usage_us, periods, throttled, throttled_us] = parse_keyed(
        text,
        ["usage_usec", "nr_periods", "nr_throttled", "throttled_usec"],
    );
    CpuStat {
        usage_s: usage_us.map(|us| us as f64 / 1e6),
        periods,
        throttled_periods: throttled,
        throttled_s: throttled_us.map(|us| us as f64 / 1e6),
    }
}

/// v1 `cpu.stat` (throttling only; usage is in `cpuacct.usage`): `throttled_time` is in ns.
pub fn parse_v1_cpu_stat(text: &str) -> CpuStat {
    let [periods, throttled, throttled_ns] =
        parse_keyed(text, ["nr_periods", "nr_throttled", "throttled_time"]);
    CpuStat {
        usage_s: None,
        periods,
        throttled_periods: throttled,
        throttled_s: throttled_ns.map(ns_to_s),
    }
}

/// v1 `cpuacct.usage`: cumulative CPU nanoseconds, as seconds.
pub fn parse_v1_cpuacct_usage(text: &str) -> Option<f64> {
    parse_count(text).map(ns_to_s)
}

fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// One PSI line's fields after its kind: `avg10=0.00 avg60=0.00 avg300=0.00 total=0`
/// (`total` in µs). `None` unless avg10, avg60 and total are all there and numbers.
fn parse_pressure_line(fields: &str) -> Option<(f64, f64, f64)> {
    let (mut avg10, mut avg60, mut total_us) = (None, None, None);
    for field in fields.split_whitespace() {
        let (key, value) = field.split_once('=')?;
        match key {
            "avg10" => avg10 = Some(value.parse::<f64>().ok()?),
            "avg60" => avg60 = Some(value.parse::<f64>().ok()?),
            "total" => total_us = Some(value.parse::<u64>().ok()?),
            _ => {}
        }
    }
    Some((avg10?, avg60?, total_us? as f64 / 1e6))
}

/// A pressure file (`memory.pressure`, `cpu.pressure`, /proc/pressure/*): a `some` line and,
/// on most, a `full` line. `None` without a well-formed `some` line; a malformed `full` line
/// leaves only the full fields `None`.
pub fn parse_pressure(text: &str) -> Option<Pressure> {
    let (mut some, mut full) = (None, None);
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("some", rest)) if some.is_none() => some = parse_pressure_line(rest),
            Some(("full", rest)) if full.is_none() => full = parse_pressure_line(rest),
            _ => {}
        }
    }
    let (some_avg10_pct, some_avg60_pct, some_total_s) = some?;
    Some(Pressure {
        some_avg10_pct,
        some_avg60_pct,
        some_total_s,
        full_avg10_pct: full.map(|f| f.0),
        full_total_s: full.map(|f| f.2),
    })
}

/// `cgroup.procs`: one PID a line, appended to `pids`. Lines that are not PIDs are skipped.
pub fn parse_procs_into(text: &str, pids: &mut Vec<u32>) {
    pids.extend(
        text.lines()
            .filter_map(|line| line.trim().parse::<u32>().ok()),
    );
}

/// Which cgroup version the directories belong to, and so which files to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The directories of one cgroup, one per controller soakprof reads (all the same directory
/// on v2). A controller whose directory was not found is `None`, and its values are too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDirs {
    pub version: CgroupVersion,
    pub memory: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    /// v1 only (on v2 usage is in `cpu.stat`); often the same directory as `cpu`.
    pub cpuacct: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    /// Where `memory.pressure` and `cpu.pressure` are: the v2 directory, or on a v1 host the
    /// same cgroup in the hybrid v2 tree (`/sys/fs/cgroup/unified`), which has them even
    /// though no controller is enabled there.
    pub pressure: Option<PathBuf>,
}

/// A `--cgroup` path that names no cgroup here.
#[derive(Debug, thiserror::Error)]
pub enum CgroupStatsError {
    #[error(
        "no cgroup {path} under any mounted cgroup hierarchy ({mounts}); give the path as \
         /proc/PID/cgroup shows it (e.g. /docker/ID) or a directory under a cgroup mount"
    )]
    NotFound { path: String, mounts: String },
    #[error("no cgroup hierarchy is mounted (none in /proc/self/mountinfo or /sys/fs/cgroup)")]
    NoMounts,
}

impl CgroupStatsError {
    /// A path that is not there is the user's; a host without cgroups is not.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CgroupStatsError::NotFound { .. })
    }
}

/// The v1 controllers soakprof reads.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

impl CgroupDirs {
    /// The cgroup of a process whose /proc/PID/cgroup reads as `entries`, with the hierarchies
    /// mounted as `mounts` (from *our* mountinfo: the paths are relative to our cgroup
    /// namespace). `None` when no hierarchy holds any of its cgroups. Unlike the limits, a
    /// path that is not under a mount gives `None` for that controller rather than the mount
    /// root, whose usage would be some other cgroup's.
    pub fn for_entries(entries: &[CgroupEntry], mounts: &[CgroupMount]) -> Option<CgroupDirs> {
        let mut dirs = CgroupDirs::empty(mounts);
        for entry in entries {
            if entry.is_v2() {
                if let Some(mount) = first_v2(mounts) {
                    dirs.set_v2(find_cgroup_dir(mount, &entry.path));
                }
                continue;
            }
            let Some(mount) = mounts.iter().find(|m| match &m.hierarchy {
                Hierarchy::V1 { controllers } => controllers
                    .iter()
                    .any(|c| V1_CONTROLLERS.contains(&c.as_str()) && entry.controllers.contains(c)),
                Hierarchy::V2 => false,
            }) else {
                continue;
            };
            if let Some(dir) = find_cgroup_dir(mount, &entry.path) {
                dirs.set_v1(mount, dir);
            }
        }
        dirs.any().then_some(dirs)
    }

    /// The cgroup of a process, from its /proc/PID/cgroup text.
    pub fn for_proc_cgroup(proc_cgroup: &str, mounts: &[CgroupMount]) -> Option<CgroupDirs> {
        CgroupDirs::for_entries(&parse_proc_cgroup(proc_cgroup), mounts)
    }

    /// The cgroup a user named: a path as /proc/PID/cgroup shows it (`/docker/ID`,
    /// `/system.slice/x.service`), looked up under every mounted hierarchy, or an absolute
    /// directory under a cgroup mount (`/sys/fs/cgroup/memory/docker/ID`), whose path is then
    /// looked up under the other hierarchies too.
    pub fn from_path(path: &str, mounts: &[CgroupMount]) -> Result<CgroupDirs, CgroupStatsError> {
        if mounts.is_empty() {
            return Err(CgroupStatsError::NoMounts);
        }
        let cgroup_path = as_cgroup_path(path, mounts);
        let mut dirs = CgroupDirs::empty(mounts);
        if let Some(mount) = first_v2(mounts) {
            dirs.set_v2(find_cgroup_dir(mount, &cgroup_path));
        }
        for mount in mounts {
            if matches!(mount.hierarchy, Hierarchy::V1 { .. })
                && let Some(dir) = find_cgroup_dir(mount, &cgroup_path)
            {
                dirs.set_v1(mount, dir);
            }
        }
        if dirs.any() {
            Ok(dirs)
        } else {
            Err(CgroupStatsError::NotFound {
                path: path.to_owned(),
                mounts: mounts
                    .iter()
                    .map(|m| m.mount_point.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// v1 when a v1 hierarchy holds any controller soakprof reads (so a hybrid host's
    /// controller-less v2 tree serves for pressure only), v2 otherwise.
    fn empty(mounts: &[CgroupMount]) -> CgroupDirs {
        let v1 = mounts.iter().any(|m| match &m.hierarchy {
            Hierarchy::V1 { controllers } => controllers
                .iter()
                .any(|c| V1_CONTROLLERS.contains(&c.as_str())),
            Hierarchy::V2 => false,
        });
        CgroupDirs {
            version: if v1 {
                CgroupVersion::V1
            } else {
                CgroupVersion::V2
            },
            memory: None,
            cpu: None,
            cpuacct: None,
            pids: None,
            pressure: None,
        }
    }

    fn set_v2(&mut self, dir: Option<PathBuf>) {
        let Some(dir) = dir else { return };
        if self.version == CgroupVersion::V2 {
            self.memory = Some(dir.clone());
            self.cpu = Some(dir.clone());
            self.pids = Some(dir.clone());
        }
        self.pressure = Some(dir);
    }

    fn set_v1(&mut self, mount: &CgroupMount, dir: PathBuf) {
        let Hierarchy::V1 { controllers } = &mount.hierarchy else {
            return;
        };
        for controller in controllers {
            let slot = match controller.as_str() {
                "memory" => &mut self.memory,
                "cpu" => &mut self.cpu,
                "cpuacct" => &mut self.cpuacct,
                "pids" => &mut self.pids,
                _ => continue,
            };
            slot.get_or_insert_with(|| dir.clone());
        }
    }

    fn any(&self) -> bool {
        self.memory.is_some()
            || self.cpu.is_some()
            || self.cpuacct.is_some()
            || self.pids.is_some()
            || self.pressure.is_some()
    }

    /// The directory that stands for the cgroup: the memory (or unified) one when found.
    pub fn main_dir(&self) -> Option<&Path> {
        self.procs_dir()
    }

    /// The directory whose `cgroup.procs` lists the cgroup's processes.
    fn procs_dir(&self) -> Option<&Path> {
        [
            &self.memory,
            &self.pids,
            &self.cpu,
            &self.cpuacct,
            &self.pressure,
        ]
        .into_iter()
        .flatten()
        .next()
        .map(PathBuf::as_path)
    }
}

/// Only the first v2 mount: a second one is a bind mount of the same tree.
fn first_v2(mounts: &[CgroupMount]) -> Option<&CgroupMount> {
    mounts.iter().find(|m| m.hierarchy == Hierarchy::V2)
}

/// A directory under a mount point becomes the cgroup path it stands for (the mount's root
/// plus the rest); anything else is taken as a cgroup path already.
pub fn as_cgroup_path(path: &str, mounts: &[CgroupMount]) -> String {
    let as_dir = Path::new(path);
    // The deepest mount point wins: /sys/fs/cgroup (v2 or a tmpfs) holds the v1 mounts.
    let under = mounts
        .iter()
        .filter_map(|m| Some((m, as_dir.strip_prefix(&m.mount_point).ok()?)))
        .max_by_key(|(m, _)| m.mount_point.components().count());
    match under {
        Some((mount, rest)) => {
            let root = mount.root.trim_end_matches('/');
            format!("{root}/{}", rest.display())
        }
        None => path.to_owned(),
    }
}

/// Reads cgroup files; the real one is [`SysFiles`], tests use a map of fixture texts.
pub trait CgroupFiles {
    /// The whole text of the file, `None` when it cannot be read.
    fn read(&self, path: &Path) -> Option<String>;
    /// The file's text into `buf` (cleared first); false when it cannot be read. Override to
    /// reuse the buffer's allocation.
    fn read_into(&self, path: &Path, buf: &mut String) -> bool {
        buf.clear();
        match self.read(path) {
            Some(text) => {
                buf.push_str(&text);
                true
            }
            None => false,
        }
    }
    /// The child cgroups (subdirectories) of `dir`, empty when it cannot be listed.
    fn subdirs(&self, dir: &Path) -> Vec<PathBuf>;
}

/// The cgroup files of this host, read with std::fs (never written).
#[derive(Clone, Copy, Debug, Default)]
pub struct SysFiles;

impl CgroupFiles for SysFiles {
    fn read(&self, path: &Path) -> Option<String> {
        fs::read_to_string(path).ok()
    }

    fn read_into(&self, path: &Path, buf: &mut String) -> bool {
        buf.clear();
        fs::File::open(path)
            .and_then(|mut file| file.read_to_string(buf))
            .is_ok()
    }

    fn subdirs(&self, dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect()
    }
}

/// Reads files of one cgroup into a reused text buffer and path.
struct Reader<'a> {
    files: &'a dyn CgroupFiles,
    path: PathBuf,
    text: String,
}

impl Reader<'_> {
    /// The text of `name` in `dir`, when both are there.
    fn text(&mut self, dir: Option<&PathBuf>, name: &str) -> Option<&str> {
        self.path.clear();
        self.path.push(dir?);
        self.path.push(name);
        self.files
            .read_into(&self.path, &mut self.text)
            .then_some(self.text.as_str())
    }
}

/// Read a cgroup's counters. Each file that is missing or malformed leaves its fields `None`.
pub fn read_stats(dirs: &CgroupDirs, files: &dyn CgroupFiles) -> CgroupStats {
    let mut r = Reader {
        files,
        path: PathBuf::new(),
        text: String::with_capacity(4096),
    };
    let memory = dirs.memory.as_ref();
    let (memory_bytes, stat, oom, kernel_bytes, cpu, cpu_usage_s);
    match dirs.version {
        CgroupVersion::V2 => {
            memory_bytes = r.text(memory, "memory.current").and_then(parse_count);
            stat = r.text(memory, "memory.stat").map(parse_v2_memory_stat);
            oom = r.text(memory, "memory.events").map(parse_v2_memory_events);
            cpu = r.text(dirs.cpu.as_ref(), "cpu.stat").map(parse_v2_cpu_stat);
            kernel_bytes = stat.as_ref().and_then(|s| s.kernel_bytes);
            cpu_usage_s = cpu.as_ref().and_then(|c| c.usage_s);
        }
        CgroupVersion::V1 => {
            memory_bytes = r
                .text(memory, "memory.usage_in_bytes")
                .and_then(parse_count);
            stat = r.text(memory, "memory.stat").map(parse_v1_memory_stat);
            oom = r
                .text(memory, "memory.oom_control")
                .map(parse_v1_oom_control);
            cpu = r.text(dirs.cpu.as_ref(), "cpu.stat").map(parse_v1_cpu_stat);
            kernel_bytes = r
                .text(memory, "memory.kmem.usage_in_bytes")
                .and_then(parse_count);
            cpu_usage_s = r
                .text(dirs.cpuacct.as_ref(), "cpuacct.usage")
                .and_then(parse_v1_cpuacct_usage);
        }
    }
    let (stat, oom, cpu) = (
        stat.unwrap_or_default(),
        oom.unwrap_or_default(),
        cpu.unwrap_or_default(),
    );
    CgroupStats {
        memory_bytes,
        anon_bytes: stat.anon_bytes,
        file_bytes: stat.file_bytes,
        kernel_bytes,
        sock_bytes: stat.sock_bytes,
        shmem_bytes: stat.shmem_bytes,
        inactive_file_bytes: stat.inactive_file_bytes,
        working_set_bytes: working_set(memory_bytes, stat.inactive_file_bytes),
        oom_events: oom.oom_events,
        oom_kill_events: oom.oom_kill_events,
        under_oom: oom.under_oom,
        cpu_usage_s,
        cpu_periods: cpu.periods,
        cpu_throttled_periods: cpu.throttled_periods,
        cpu_throttled_s: cpu.throttled_s,
        pids: r
            .text(dirs.pids.as_ref(), "pids.current")
            .and_then(parse_count),
        memory_pressure: r
            .text(dirs.pressure.as_ref(), "memory.pressure")
            .and_then(parse_pressure),
        cpu_pressure: r
            .text(dirs.pressure.as_ref(), "cpu.pressure")
            .and_then(parse_pressure),
    }
}

/// Memory in use minus inactive page cache, floored at 0 (the two are read a moment apart).
pub fn working_set(memory_bytes: Option<u64>, inactive_file_bytes: Option<u64>) -> Option<u64> {
    Some(memory_bytes?.saturating_sub(inactive_file_bytes?))
}

/// The PIDs in the cgroup and the cgroups below it (a Kubernetes pod's processes are in its
/// containers' cgroups), sorted, without repeats; empty when none can be read.
pub fn procs(dirs: &CgroupDirs, files: &dyn CgroupFiles) -> Vec<u32> {
    let mut pids = Vec::new();
    let Some(top) = dirs.procs_dir() else {
        return pids;
    };
    let mut text = String::new();
    let mut pending = vec![(top.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if files.read_into(&dir.join("cgroup.procs"), &mut text) {
            parse_procs_into(&text, &mut pids);
        }
        if depth < MAX_PROCS_DEPTH {
            pending.extend(files.subdirs(&dir).into_iter().map(|d| (d, depth + 1)));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

#[cfg(test)]
#[path = "cgroup_stats_tests.rs"]
mod tests;
