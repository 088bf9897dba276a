//! What one sample holds, and the OS access behind the `Sampler` and `ProcessTable` traits.
//!
//! The recording loop only sees these traits, so a replay sampler can drive it with a
//! recorded or synthetic series. Backends: `linux` (procfs, the default on Linux) and
//! `portable` (sysinfo, everywhere else, and on Linux with `--sampler portable`).

pub mod cgroup;
pub mod cgroup_sampler;
pub mod cgroup_stats;
pub mod kmsg;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod portable;

use serde::{Deserialize, Serialize};

/// One sample of the target (summed over all its processes). A metric that could not be
/// read is `None` (`null` in the log), never `0`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start of the run, measured when the sample was taken.
    pub t: f64,
    /// Resident set size, bytes.
    pub rss: Option<u64>,
    /// Virtual memory size, bytes.
    pub vms: Option<u64>,
    /// Proportional set size, bytes (smaps_rollup; not read on every tick when slow).
    pub pss: Option<u64>,
    /// Unique set size (private clean + private dirty), bytes.
    pub uss: Option<u64>,
    /// Swapped-out memory, bytes.
    pub swap: Option<u64>,
    pub threads: Option<u64>,
    pub fds: Option<u64>,
    /// Number of processes summed in this sample (roots plus descendants).
    pub procs: Option<u32>,
    /// CPU used over the last interval, in cores (1.0 = one core busy all the time).
    pub cpu: Option<f64>,
    /// Cumulative user / system CPU seconds of the processes alive now.
    pub cpu_user_s: Option<f64>,
    pub cpu_sys_s: Option<f64>,
    /// Cumulative minor / major page faults.
    pub minflt: Option<u64>,
    pub majflt: Option<u64>,
    /// Cumulative bytes read from / written to storage.
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    /// Cumulative voluntary / involuntary context switches.
    pub ctx_vol: Option<u64>,
    pub ctx_invol: Option<u64>,
    /// Host memory available for new allocations (MemAvailable), bytes.
    pub host_avail: Option<u64>,
    // The cgroup's own counters (a `--cgroup`/`--container` target, or the cgroup a process
    // target lives in), read on every sample. Absent from a log line when not read: a run
    // with no cgroup carries none of them, and an absent field reads as `null`.
    /// Memory charged to the cgroup (v2 `memory.current`, v1 `memory.usage_in_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_bytes: Option<u64>,
    /// Anonymous memory (`memory.stat` anon / total_rss): what a leak grows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_anon_bytes: Option<u64>,
    /// Page cache (`memory.stat` file / total_cache): reclaimable, grows on any busy service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_file_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_kernel_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_sock_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_shmem_bytes: Option<u64>,
    /// Memory in use minus inactive page cache: what kubelet and cAdvisor act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_working_set_bytes: Option<u64>,
    /// Cumulative count of OOM events (v2 `oom`) and OOM kills (`oom_kill`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_oom_events: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_oom_kills: Option<u64>,
    /// v1: the cgroup is out of memory now (its tasks wait, with the OOM killer disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_under_oom: Option<bool>,
    /// Cumulative CPU seconds of the cgroup, and cores used over the last interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu: Option<f64>,
    /// Cumulative CFS periods with runnable tasks, and those in which the quota ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_periods: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_throttled_periods: Option<u64>,
    /// Cumulative seconds throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_throttled_s: Option<f64>,
    /// Tasks (threads) in the cgroup (`pids.current`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_pids: Option<u64>,
    /// Memory pressure: share of the last 10 s some / all tasks stalled (percent), and the
    /// cumulative stall seconds; the same for CPU (`some` only: `full` is rarely there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_pressure_some_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_pressure_full_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_pressure_some_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_pressure_full_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu_pressure_some_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu_pressure_some_s: Option<f64>,
}

/// A process's identity: its PID plus its start time, so a PID reused by another
/// program is never followed silently. `start` is in the backend's own unit (clock
/// ticks since boot on Linux, seconds since the epoch with sysinfo); it is only compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcId {
    pub pid: u32,
    pub start: u64,
}

/// What target resolution needs to know of a process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcInfo {
    pub id: ProcId,
    pub ppid: u32,
    /// The kernel's process name (`comm`, truncated to 15 bytes on Linux).
    pub name: String,
    /// File name of the executable, when readable.
    pub exe_name: Option<String>,
    /// Full command line (argv); empty for kernel threads or when unreadable.
    pub cmdline: Vec<String>,
}

/// How a root process left.
#[derive(Clone, Debug, PartialEq)]
pub enum Gone {
    /// The process exited. `wait_status` is the raw wait status when it could be seen
    /// (a zombie's `exit_code` in /proc/PID/stat); `None` when it was already reaped.
    Exited { wait_status: Option<i32> },
    /// The PID now belongs to a different process (start time differs).
    PidReused,
}

/// The result of one `Sampler::sample` call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub sample: Sample,
    /// Roots that are no longer the process we followed; the caller drops them.
    pub gone: Vec<(ProcId, Gone)>,
    /// Seconds spent reading smaps_rollup in this call, when it was read.
    pub smaps_read_s: Option<f64>,
    /// What the cgroup read alongside said happened since the previous call.
    pub cgroup_news: CgroupNews,
}

/// Events a cgroup's counters showed between two samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupNews {
    /// The OOM-kill count rose: by how much, to what, and who went.
    pub oom_kill: Option<OomKillSeen>,
    /// The target cgroup's directory is gone (its path).
    pub gone: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OomKillSeen {
    pub kills: u64,
    pub total: u64,
    pub victims: Vec<OomVictim>,
    /// The run time of the sample at which the count was seen to rise.
    pub at_s: f64,
}

/// A process that left its cgroup as its OOM-kill count rose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OomVictim {
    pub pid: u32,
    /// The kernel's process name (`comm`), when it was known.
    pub name: Option<String>,
}

/// The machine the run was recorded on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: Option<String>,
    pub os: String,
    pub kernel: Option<String>,
    pub cpus: usize,
    pub mem_total_bytes: Option<u64>,
}

/// Memory and CPU limits of the cgroup a process is in (the tightest along its path).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupLimits {
    pub mem_limit_bytes: Option<u64>,
    pub cpu_limit_cores: Option<f64>,
    /// "v1" or "v2", when a cgroup hierarchy was found.
    pub version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("cannot list processes: {0}")]
    List(String),
    #[error("cannot read process {pid}: {reason}")]
    Read { pid: u32, reason: String },
}

impl SampleError {
    /// The OS would not tell: never the user's input.
    pub fn is_bad_input(&self) -> bool {
        false
    }
}

/// Which of the costlier files a `sample` call reads, beyond the core fields (RSS, VMS,
/// threads, FDs, CPU, page faults) that every call gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    /// PSS/USS from smaps_rollup; when false, `pss` and `uss` are `None`.
    pub smaps: bool,
    /// Swap and context switches (status), I/O bytes (io) and host memory (meminfo); when
    /// false, those fields are `None`. A backend may give them anyway when they cost it
    /// nothing extra.
    pub detail: bool,
}

impl Reads {
    /// Everything but smaps_rollup.
    pub const BASIC: Reads = Reads {
        smaps: false,
        detail: true,
    };
    /// Everything.
    pub const ALL: Reads = Reads {
        smaps: true,
        detail: true,
    };
    /// The core fields only.
    pub const CORE: Reads = Reads {
        smaps: false,
        detail: false,
    };
}

/// Reads resource usage of a set of processes.
pub trait Sampler {
    /// Sample the `roots` (and, when `children` is true, all their descendants, walked
    /// anew on every call), summed. `elapsed_s` is the run clock's time of this sample,
    /// used for `Sample::t` and as the time base of the CPU rate (cores = CPU seconds
    /// used since the previous call / elapsed seconds since the previous call; `None`
    /// on the first call). `reads` says which fields beyond the core ones to read.
    fn sample(&mut self, roots: &[ProcId], children: bool, elapsed_s: f64, reads: Reads)
    -> Reading;
}

/// Lists and identifies processes, for resolving `--pid`, `--name` and `--match`.
pub trait ProcessTable {
    /// Every process on the host that can be seen.
    fn list(&mut self) -> Result<Vec<ProcInfo>, SampleError>;
    /// One process by PID; `Ok(None)` when there is no such process.
    fn get(&mut self, pid: u32) -> Result<Option<ProcInfo>, SampleError>;
    /// The cgroup limits that apply to a process (all `None` when none are found).
    fn cgroup_limits(&mut self, pid: u32) -> CgroupLimits;
    /// The machine: name, OS, kernel, CPUs and memory, each `None` where unknown.
    fn host_info(&mut self) -> HostInfo {
        portable::host_info()
    }
}

/// Which backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// /proc via the procfs crate (Linux only): every metric.
    Linux,
    /// sysinfo: portable, fewer metrics (no FDs, PSS or context switches).
    Portable,
}

impl Backend {
    pub fn default_for_os() -> Backend {
        if cfg!(target_os = "linux") {
            Backend::Linux
        } else {
            Backend::Portable
        }
    }

    /// When the process `id` (as this backend identified it) started, in seconds since
    /// the Unix epoch, computed as Prometheus's own clients do (boot time plus the start
    /// in clock ticks); `None` when that cannot be read.
    pub fn start_time_unix_s(self, id: ProcId) -> Option<f64> {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Linux => {
                let ticks = procfs::ticks_per_second();
                let boot_s = procfs::boot_time_secs().ok()?;
                (ticks > 0).then(|| boot_s as f64 + id.start as f64 / ticks as f64)
            }
            #[cfg(not(target_os = "linux"))]
            Backend::Linux => Some(id.start as f64),
            Backend::Portable => Some(id.start as f64),
        }
    }
}

/// A backend implementing both traits.
pub trait ProcessBackend: Sampler + ProcessTable + Send {}
impl<T: Sampler + ProcessTable + Send> ProcessBackend for T {}

/// Make the chosen backend.
pub fn open_backend(backend: Backend) -> Box<dyn ProcessBackend> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::Linux => Box::new(linux::LinuxSampler::new()),
        #[cfg(not(target_os = "linux"))]
        Backend::Linux => Box::new(portable::PortableSampler::new()),
        Backend::Portable => Box::new(portable::PortableSampler::new()),
    }
}
