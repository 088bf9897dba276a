//! Portable backend on sysinfo, for systems without /proc and for `--sampler portable`.
//!
//! It gives RSS, VMS, threads (where sysinfo lists tasks), cumulative CPU and I/O bytes;
//! FDs, PSS/USS, swap, context switches and page faults are `None`. Each sample refreshes
//! only the processes it sums; `--children` also refreshes the process table (PIDs and
//! parents only) to walk the tree.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use sysinfo::{
    MemoryRefreshKind, Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System,
    UpdateKind,
};

use super::{
    CgroupLimits, Gone, ProcId, ProcInfo, ProcessTable, Reading, Reads, Sample, SampleError,
    Sampler,
};

/// Samples processes through sysinfo.
pub struct PortableSampler {
    /// `None` where sysinfo does not support the OS: every metric is then unknown.
    system: Option<System>,
    /// Scratch: PIDs to refresh this call, and PIDs already taken.
    pids: Vec<Pid>,
    visited: HashSet<u32>,
    /// Scratch: (ppid, pid) of every process, sorted, for walking descendants.
    ppid_pairs: Vec<(u32, u32)>,
    /// Cumulative CPU seconds per process at the previous call and at this one; swapped
    /// each call and rebuilt from the processes present, so they never outgrow the set.
    prev_cpu_s: HashMap<ProcId, f64>,
    cur_cpu_s: HashMap<ProcId, f64>,
    prev_elapsed_s: Option<f64>,
}

impl Default for PortableSampler {
    fn default() -> Self {
        Self::new()
    }
}

/// What a sample needs from each process.
fn sample_refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_memory()
        .with_cpu()
        .with_disk_usage()
        .with_tasks()
}

/// What resolving a target needs from each process.
fn table_refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_exe(UpdateKind::OnlyIfNotSet)
        .with_cmd(UpdateKind::OnlyIfNotSet)
}

fn is_dead(process: &Process) -> bool {
    matches!(
        process.status(),
        ProcessStatus::Zombie | ProcessStatus::Dead
    )
}

fn proc_id(process: &Process) -> ProcId {
    ProcId {
        pid: process.pid().as_u32(),
        start: process.start_time(),
    }
}

fn proc_info(process: &Process) -> ProcInfo {
    ProcInfo {
        id: proc_id(process),
        ppid: process.parent().map_or(0, Pid::as_u32),
        name: process.name().to_string_lossy().into_owned(),
        exe_name: process.exe().and_then(Path::file_name).map(|name| {
            name.to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_owned()
        }),
        cmdline: process
            .cmd()
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect(),
    }
}

/// sysinfo reports 0 I/O bytes when /proc/PID/io cannot be read (other users' processes);
/// a 0 that means "unknown" must be `None`, so check that the file opens.
#[cfg(target_os = "linux")]
fn io_readable(pid: u32) -> bool {
    std::fs::File::open(format!("/proc/{pid}/io")).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn io_readable(_pid: u32) -> bool {
    true
}

/// Sums over the processes of one sample; a metric one process lacks is `None` overall.
struct Totals {
    procs: u32,
    rss_bytes: u64,
    vms_bytes: u64,
    threads: Option<u64>,
    read_bytes: Option<u64>,
    write_bytes: Option<u64>,
    cpu_delta_s: f64,
}

impl Totals {
    /// Nothing summed yet.
    fn new() -> Totals {
        Totals {
            procs: 0,
            rss_bytes: 0,
            vms_bytes: 0,
            threads: Some(0),
            read_bytes: Some(0),
            write_bytes: Some(0),
            cpu_delta_s: 0.0,
        }
    }

    /// Add one live process (PID `pid`): its memory, threads and I/O bytes. CPU is the
    /// caller's, since it needs the previous call's times.
    fn add(&mut self, pid: Pid, process: &Process) {
        self.procs += 1;
        self.rss_bytes = self.rss_bytes.saturating_add(process.memory());
        self.vms_bytes = self.vms_bytes.saturating_add(process.virtual_memory());
        // sysinfo's task list leaves out the main thread.
        let threads = process.tasks().map(|tasks| tasks.len() as u64 + 1);
        self.threads = self.threads.zip(threads).map(|(a, b)| a + b);
        if io_readable(pid.as_u32()) {
            let disk = process.disk_usage();
            self.read_bytes = self
                .read_bytes
                .map(|b| b.saturating_add(disk.total_read_bytes));
            self.write_bytes = self
                .write_bytes
                .map(|b| b.saturating_add(disk.total_written_bytes));
        } else {
            (self.read_bytes, self.write_bytes) = (None, None);
        }
    }

    /// The sample at `t`; with no process summed, only `procs` (0) and host memory are known.
    fn into_sample(self, t: f64, cpu: Option<f64>, host_avail: Option<u64>) -> Sample {
        if self.procs == 0 {
            return Sample {
                t,
                procs: Some(0),
                host_avail,
                ..Sample::default()
            };
        }
        Sample {
            t,
            rss: Some(self.rss_bytes),
            vms: Some(self.vms_bytes),
            threads: self.threads,
            procs: Some(self.procs),
            cpu,
            read_bytes: self.read_bytes,
            write_bytes: self.write_bytes,
            host_avail,
            ..Sample::default()
        }
    }
}

/// The process to sum for `pid`, if any. A root that is no longer the process we follow is
/// added to `gone`; a descendant that vanished or died, or is a thread, is skipped.
fn process_to_sum<'a>(
    system: &'a System,
    roots: &[ProcId],
    pid: Pid,
    gone: &mut Vec<(ProcId, Gone)>,
) -> Option<&'a Process> {
    let root = roots.iter().find(|r| r.pid == pid.as_u32());
    match (root, system.process(pid)) {
        (Some(root), None) => {
            gone.push((*root, Gone::Exited { wait_status: None }));
            None
        }
        (Some(root), Some(p)) if proc_id(p) != *root => {
            gone.push((*root, Gone::PidReused));
            None
        }
        // sysinfo does not expose a zombie's exit status.
        (Some(root), Some(p)) if is_dead(p) => {
            gone.push((*root, Gone::Exited { wait_status: None }));
            None
        }
        (None, None) => None,
        (None, Some(p)) if is_dead(p) || p.thread_kind().is_some() => None,
        (_, Some(p)) => Some(p),
    }
}

impl PortableSampler {
    pub fn new() -> Self {
        PortableSampler {
            system: System::new().ok(),
            pids: Vec::new(),
            visited: HashSet::new(),
            ppid_pairs: Vec::new(),
            prev_cpu_s: HashMap::new(),
            cur_cpu_s: HashMap::new(),
            prev_elapsed_s: None,
        }
    }

    /// Set `self.pids` to the roots, each once, and with `children` their descendants too.
    fn collect_pids(&mut self, roots: &[ProcId], children: bool) {
        self.pids.clear();
        self.visited.clear();
        for root in roots {
            if self.visited.insert(root.pid) {
                self.pids.push(Pid::from_u32(root.pid));
            }
        }
        if children {
            self.add_descendants(roots);
        }
    }

    /// Append to `self.pids` (which holds the roots) every descendant of the roots that are
    /// still the process we follow. Refreshes the whole table, PIDs and parents only.
    fn add_descendants(&mut self, roots: &[ProcId]) {
        let Some(system) = self.system.as_mut() else {
            return;
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing(),
        );
        self.ppid_pairs.clear();
        self.ppid_pairs.extend(
            system
                .processes()
                .values()
                // Threads show up as processes on Linux; they are not children.
                .filter(|p| p.thread_kind().is_none() && !is_dead(p))
                .filter_map(|p| Some((p.parent()?.as_u32(), p.pid().as_u32()))),
        );
        self.ppid_pairs.sort_unstable();

        let root_count = self.pids.len();
        let mut cursor = 0;
        while cursor < self.pids.len() {
            let parent = self.pids[cursor];
            cursor += 1;
            if cursor <= root_count {
                let followed = roots.iter().find(|r| r.pid == parent.as_u32());
                let live = matches!(
                    (followed, system.process(parent)),
                    (Some(root), Some(p)) if proc_id(p) == *root && !is_dead(p)
                );
                if !live {
                    continue;
                }
            }
            let parent = parent.as_u32();
            let first = self.ppid_pairs.partition_point(|&(ppid, _)| ppid < parent);
            for &(ppid, child) in &self.ppid_pairs[first..] {
                if ppid != parent {
                    break;
                }
                if self.visited.insert(child) {
                    self.pids.push(Pid::from_u32(child));
                }
            }
        }
    }
}

impl Sampler for PortableSampler {
    fn sample(
        &mut self,
        roots: &[ProcId],
        children: bool,
        elapsed_s: f64,
        // sysinfo refreshes every field it has in one pass: nothing to leave out.
        _reads: Reads,
    ) -> Reading {
        if self.system.is_none() {
            return Reading {
                sample: Sample {
                    t: elapsed_s,
                    ..Sample::default()
                },
                ..Reading::default()
            };
        }
        self.cur_cpu_s.clear();
        self.collect_pids(roots, children);
        let Some(system) = self.system.as_mut() else {
            return Reading::default();
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&self.pids),
            true,
            sample_refresh_kind(),
        );
        system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());

        let mut gone = Vec::new();
        let mut totals = Totals::new();
        for pid in &self.pids {
            let Some(process) = process_to_sum(system, roots, *pid, &mut gone) else {
                continue;
            };
            totals.add(*pid, process);
            let cpu_s = process.accumulated_cpu_time() as f64 / 1000.0;
            let id = proc_id(process);
            if let Some(prev_s) = self.prev_cpu_s.get(&id) {
                totals.cpu_delta_s += (cpu_s - prev_s).max(0.0);
            }
            self.cur_cpu_s.insert(id, cpu_s);
        }

        let cpu = match self.prev_elapsed_s.map(|prev| elapsed_s - prev) {
            Some(dt_s) if dt_s > 0.0 && totals.procs > 0 => Some(totals.cpu_delta_s / dt_s),
            _ => None,
        };
        std::mem::swap(&mut self.prev_cpu_s, &mut self.cur_cpu_s);
        self.prev_elapsed_s = Some(elapsed_s);

        let avail = system.available_memory();
        let host_avail = (avail > 0).then_some(avail);
        Reading {
            sample: totals.into_sample(elapsed_s, cpu, host_avail),
            gone,
            ..Reading::default()
        }
    }
}

/// The machine as sysinfo sees it (both backends use this: it is read once per run).
pub fn host_info() -> super::HostInfo {
    let mem_total_bytes = sysinfo::System::new().ok().and_then(|mut system| {
        system.refresh_memory();
        Some(system.total_memory()).filter(|&m| m > 0)
    });
    super::HostInfo {
        hostname: sysinfo::System::host_name().ok(),
        os: std::env::consts::OS.to_string(),
        kernel: sysinfo::System::kernel_version().ok(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total_bytes,
    }
}

impl ProcessTable for PortableSampler {
    fn list(&mut self) -> Result<Vec<ProcInfo>, SampleError> {
        let system = self.system.as_mut().ok_or_else(|| {
            SampleError::List("process information is not supported on this OS".to_owned())
        })?;
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, table_refresh_kind());
        Ok(system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .map(proc_info)
            .collect())
    }

    fn get(&mut self, pid: u32) -> Result<Option<ProcInfo>, SampleError> {
        let system = self.system.as_mut().ok_or_else(|| SampleError::Read {
            pid,
            reason: "process information is not supported on this OS".to_owned(),
        })?;
        let pid = Pid::from_u32(pid);
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            table_refresh_kind(),
        );
        Ok(system
            .process(pid)
            .filter(|p| p.thread_kind().is_none())
            .map(proc_info))
    }

    fn cgroup_limits(&mut self, pid: u32) -> CgroupLimits {
        #[cfg(target_os = "linux")]
        {
            super::cgroup::limits_for_pid(pid)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = pid;
            CgroupLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    fn spawn(program: &str, args: &[&str]) -> Child {
        Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .unwrap()
    }

    fn kill_group(child: &mut Child) {
        // SAFETY: kill(2) with a negative PID signals that process group; no memory is shared.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }

    fn wait_until(mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("condition not reached in 2 s");
    }

    #[test]
    fn samples_this_process() {
        let mut sampler = PortableSampler::new();
        let me = sampler.get(std::process::id()).unwrap().unwrap().id;
        let first = sampler.sample(&[me], false, 0.0, Reads::ALL);
        let s = &first.sample;
        assert!(first.gone.is_empty());
        assert!(s.rss.unwrap() > 0 && s.vms.unwrap() > 0);
        assert!(s.threads.unwrap() >= 1);
        assert_eq!(s.procs, Some(1));
        assert_eq!(s.cpu, None);
        assert!(s.read_bytes.is_some());
        assert!(s.host_avail.unwrap() > 0);
        // Not available from sysinfo: unknown, never 0.
        assert_eq!(
            (s.fds, s.pss, s.uss, s.swap, s.ctx_vol, s.minflt),
            (None, None, None, None, None, None)
        );
        assert_eq!(first.smaps_read_s, None);

        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let second = sampler.sample(&[me], false, started.elapsed().as_secs_f64(), Reads::BASIC);
        assert!(second.sample.cpu.unwrap() > 0.2, "{:?}", second.sample.cpu);
    }

    #[test]
    fn counts_threads_like_the_kernel() {
        let mut child = spawn(
            "python3",
            &[
                "-c",
                "import threading,time\nfor _ in range(4): threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\ntime.sleep(30)",
            ],
        );
        let mut sampler = PortableSampler::new();
        let id = sampler.get(child.id()).unwrap().unwrap().id;
        wait_until(|| {
            sampler
                .sample(&[id], false, 0.0, Reads::BASIC)
                .sample
                .threads
                == Some(5)
        });
        kill_group(&mut child);
    }

    #[test]
    fn reports_gone_and_reused() {
        let mut sampler = PortableSampler::new();
        let mut child = spawn("sleep", &["30"]);
        // spawn() returns once exec has begun; argv is in place a moment later.
        wait_until(|| !sampler.get(child.id()).unwrap().unwrap().cmdline.is_empty());
        let info = sampler.get(child.id()).unwrap().unwrap();
        assert_eq!(info.name, "sleep");
        assert_eq!(info.cmdline, ["sleep", "30"]);
        assert_eq!(info.exe_name.as_deref(), Some("sleep"));
        let id = info.id;
        assert!(
            sampler
                .sample(&[id], false, 0.0, Reads::BASIC)
                .gone
                .is_empty()
        );
        let impostor = ProcId {
            start: id.start + 1,
            ..id
        };
        assert_eq!(
            sampler.sample(&[impostor], false, 0.1, Reads::BASIC).gone,
            [(impostor, Gone::PidReused)]
        );
        kill_group(&mut child);
        let reading = sampler.sample(&[id], false, 0.2, Reads::BASIC);
        assert_eq!(reading.gone, [(id, Gone::Exited { wait_status: None })]);
        assert_eq!(reading.sample.procs, Some(0));
        assert_eq!(reading.sample.rss, None);
        assert_eq!(sampler.get(child.id()).unwrap(), None);
    }

    #[test]
    fn sums_children() {
        let mut sampler = PortableSampler::new();
        let mut shell = spawn("sh", &["-c", "sleep 30 & sleep 30 & wait"]);
        let id = sampler.get(shell.id()).unwrap().unwrap().id;
        wait_until(|| sampler.sample(&[id], true, 0.0, Reads::BASIC).sample.procs == Some(3));
        assert_eq!(
            sampler.sample(&[id], false, 0.1, Reads::BASIC).sample.procs,
            Some(1)
        );
        assert!(sampler.list().unwrap().iter().any(|p| p.ppid == id.pid));
        kill_group(&mut shell);
        assert_eq!(sampler.sample(&[id], true, 0.2, Reads::BASIC).gone.len(), 1);
    }
}
