//! A sampler that reads a cgroup beside the processes: for a `--cgroup`/`--container`
//! target, the processes are the cgroup's, listed anew every sample; for a process target,
//! the cgroup it lives in is read alongside. Either way the sample gains the cgroup's own
//! counters, and a rise of its OOM-kill count is reported with the processes that went.

use std::collections::HashMap;

use super::cgroup_stats::{self, CgroupDirs, CgroupFiles, CgroupStats};
use super::kmsg::KernelLog;
use super::{
    CgroupNews, Gone, OomKillSeen, OomVictim, ProcId, ProcessBackend, Reading, Reads, Sample,
    Sampler,
};

/// What the cgroup is to the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupRole {
    /// The cgroup is the target: its processes are sampled, whatever roots the loop holds.
    Target,
    /// The cgroup of a process target, read beside it.
    Alongside,
}

/// Wraps a process sampler; see the module text.
pub struct CgroupSampler<'a> {
    inner: &'a mut dyn ProcessBackend,
    dirs: CgroupDirs,
    files: Box<dyn CgroupFiles + Send>,
    role: CgroupRole,
    /// The cgroup's path, for the "gone" news.
    path: String,
    /// The processes seen at the previous sample, with their names (target role: the
    /// cgroup's; alongside: the roots), so the ones that went with an OOM kill are named.
    known: HashMap<u32, (ProcId, Option<String>)>,
    /// Cumulative CPU seconds and the time they were read, for the rate.
    prev_cpu: Option<(f64, f64)>,
    prev_oom_kills: Option<u64>,
    pids: Vec<u32>,
    /// Processes that went at this sample and at the one before: a victim is often still
    /// exiting when the count rises, or already gone a sample before it is read.
    departed: Vec<OomVictim>,
    departed_before: Vec<OomVictim>,
    /// Kills seen with no process gone yet: told at the next sample, with who went then.
    pending: Option<OomKillSeen>,
    /// The kernel log, which names OOM victims exactly (when it can be read).
    kernel_log: Option<Box<dyn KernelLog>>,
}

impl<'a> CgroupSampler<'a> {
    pub fn new(
        inner: &'a mut dyn ProcessBackend,
        dirs: CgroupDirs,
        files: Box<dyn CgroupFiles + Send>,
        role: CgroupRole,
        path: String,
    ) -> CgroupSampler<'a> {
        CgroupSampler {
            inner,
            dirs,
            files,
            role,
            path,
            known: HashMap::new(),
            prev_cpu: None,
            prev_oom_kills: None,
            pids: Vec::new(),
            departed: Vec::new(),
            departed_before: Vec::new(),
            pending: None,
            kernel_log: None,
        }
    }

    /// Name OOM victims from the kernel's own log.
    pub fn with_kernel_log(mut self, log: Option<Box<dyn KernelLog>>) -> CgroupSampler<'a> {
        self.kernel_log = log;
        self
    }

    /// The victims the kernel log names in this cgroup since the last look, if it is read.
    fn logged_victims(&mut self) -> Vec<OomVictim> {
        let Some(log) = self.kernel_log.as_mut() else {
            return Vec::new();
        };
        log.oom_kills()
            .into_iter()
            .filter(|k| k.concerns(&self.path))
            .map(|k| OomVictim {
                pid: k.pid,
                name: Some(k.name),
            })
            .collect()
    }

    /// The cgroup's processes as identities, reusing those already known (a PID reused
    /// within one interval is caught by the process sampler's start-time check, and is
    /// identified afresh at the next sample).
    fn cgroup_roots(&mut self) -> Vec<ProcId> {
        self.pids = cgroup_stats::procs(&self.dirs, self.files.as_ref());
        let mut now = HashMap::with_capacity(self.pids.len());
        for &pid in &self.pids {
            let entry = match self.known.get(&pid) {
                Some(known) => known.clone(),
                None => match self.inner.get(pid) {
                    Ok(Some(info)) => (info.id, Some(info.name)),
                    // Gone between listing and reading, or unreadable: not this sample's.
                    _ => continue,
                },
            };
            now.insert(pid, entry);
        }
        let roots = now.values().map(|(id, _)| *id).collect();
        let before = std::mem::replace(&mut self.known, now);
        self.departed_before = std::mem::take(&mut self.departed);
        self.departed = before
            .into_iter()
            .filter(|(pid, _)| !self.known.contains_key(pid))
            .map(|(pid, (_, name))| OomVictim { pid, name })
            .collect();
        roots
    }

    /// Is the cgroup still there? Its process list is readable as long as it exists.
    fn exists(&self) -> bool {
        self.dirs
            .main_dir()
            .is_some_and(|dir| self.files.read(&dir.join("cgroup.procs")).is_some())
    }

    fn alongside_departed(&mut self, roots: &[ProcId], gone: &[(ProcId, Gone)]) {
        for root in roots {
            if !self.known.contains_key(&root.pid) {
                let name = self.inner.get(root.pid).ok().flatten().map(|i| i.name);
                self.known.insert(root.pid, (*root, name));
            }
        }
        self.departed_before = std::mem::take(&mut self.departed);
        self.departed = gone
            .iter()
            .filter(|(_, how)| matches!(how, Gone::Exited { .. }))
            .map(|(id, _)| OomVictim {
                pid: id.pid,
                name: self.known.remove(&id.pid).and_then(|(_, name)| name),
            })
            .collect();
    }

    /// The OOM kills since the previous sample, with the processes that went at this
    /// sample or the one before. Kills with nobody gone yet wait one sample for their
    /// victims (then are told with whatever is known).
    fn oom_news(&mut self, t: f64, stats: &CgroupStats) -> Option<OomKillSeen> {
        let total = stats.oom_kill_events;
        let prev = match total {
            Some(total) => self.prev_oom_kills.replace(total),
            None => self.prev_oom_kills,
        };
        let new_kills = match (total, prev) {
            (Some(total), Some(prev)) => total.saturating_sub(prev),
            _ => 0,
        };
        if let Some(mut pending) = self.pending.take() {
            let logged = self.logged_victims();
            if logged.is_empty() {
                pending.victims.append(&mut self.departed);
            } else {
                pending.victims = logged;
            }
            pending.kills += new_kills;
            pending.total = total.unwrap_or(pending.total);
            return Some(pending);
        }
        let total = total.filter(|_| new_kills > 0)?;
        let mut victims = self.logged_victims();
        if victims.is_empty() {
            victims = std::mem::take(&mut self.departed_before);
            victims.append(&mut self.departed);
        }
        let seen = OomKillSeen {
            kills: new_kills,
            total,
            victims,
            at_s: t,
        };
        if seen.victims.is_empty() {
            self.pending = Some(seen);
            return None;
        }
        Some(seen)
    }

    fn cpu_rate(&mut self, t: f64, cpu_s: Option<f64>) -> Option<f64> {
        let cpu_s = cpu_s?;
        let prev = self.prev_cpu.replace((t, cpu_s));
        let (t0, cpu0) = prev?;
        (t > t0 && cpu_s >= cpu0).then(|| (cpu_s - cpu0) / (t - t0))
    }
}

/// Copy a cgroup read into a sample's fields.
pub fn fill_sample(sample: &mut Sample, stats: &CgroupStats, cpu_cores: Option<f64>) {
    sample.cgroup_memory_bytes = stats.memory_bytes;
    sample.cgroup_anon_bytes = stats.anon_bytes;
    sample.cgroup_file_bytes = stats.file_bytes;
    sample.cgroup_kernel_bytes = stats.kernel_bytes;
    sample.cgroup_sock_bytes = stats.sock_bytes;
    sample.cgroup_shmem_bytes = stats.shmem_bytes;
    sample.cgroup_working_set_bytes = stats.working_set_bytes;
    sample.cgroup_oom_events = stats.oom_events;
    sample.cgroup_oom_kills = stats.oom_kill_events;
    sample.cgroup_under_oom = stats.under_oom;
    sample.cgroup_cpu_s = stats.cpu_usage_s;
    sample.cgroup_cpu = cpu_cores;
    sample.cgroup_periods = stats.cpu_periods;
    sample.cgroup_throttled_periods = stats.cpu_throttled_periods;
    sample.cgroup_throttled_s = stats.cpu_throttled_s;
    sample.cgroup_pids = stats.pids;
    if let Some(p) = &stats.memory_pressure {
        sample.cgroup_memory_pressure_some_pct = Some(p.some_avg10_pct);
        sample.cgroup_memory_pressure_full_pct = p.full_avg10_pct;
        sample.cgroup_memory_pressure_some_s = Some(p.some_total_s);
        sample.cgroup_memory_pressure_full_s = p.full_total_s;
    }
    if let Some(p) = &stats.cpu_pressure {
        sample.cgroup_cpu_pressure_some_pct = Some(p.some_avg10_pct);
        sample.cgroup_cpu_pressure_some_s = Some(p.some_total_s);
    }
}

impl Sampler for CgroupSampler<'_> {
    fn sample(
        &mut self,
        roots: &[ProcId],
        children: bool,
        elapsed_s: f64,
        reads: Reads,
    ) -> Reading {
        let mut reading = match self.role {
            CgroupRole::Target => {
                if !self.exists() {
                    return Reading {
                        sample: Sample {
                            t: elapsed_s,
                            ..Sample::default()
                        },
                        cgroup_news: CgroupNews {
                            gone: Some(self.path.clone()),
                            ..CgroupNews::default()
                        },
                        ..Reading::default()
                    };
                }
                let cgroup_roots = self.cgroup_roots();
                let mut reading = self.inner.sample(&cgroup_roots, false, elapsed_s, reads);
                // Processes come and go inside a cgroup; the loop's roots stand for the
                // cgroup itself, which is gone only when its directory is.
                reading.gone.clear();
                reading
            }
            CgroupRole::Alongside => {
                let reading = self.inner.sample(roots, children, elapsed_s, reads);
                self.alongside_departed(roots, &reading.gone);
                reading
            }
        };
        let stats = cgroup_stats::read_stats(&self.dirs, self.files.as_ref());
        let cores = self.cpu_rate(elapsed_s, stats.cpu_usage_s);
        fill_sample(&mut reading.sample, &stats, cores);
        if self.role == CgroupRole::Target {
            // The cgroup's CPU counts processes that lived between two samples too.
            if cores.is_some() {
                reading.sample.cpu = cores;
            }
        }
        reading.cgroup_news.oom_kill = self.oom_news(elapsed_s, &stats);
        reading
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::sample::cgroup_stats::CgroupVersion;
    use crate::sample::kmsg::KernelOomKill;
    use crate::sample::{CgroupLimits, ProcInfo, ProcessTable, SampleError};

    /// Cgroup files the test rewrites between samples.
    #[derive(Clone, Default)]
    struct Files(Arc<Mutex<BTreeMap<PathBuf, String>>>);

    impl Files {
        fn set(&self, name: &str, text: &str) {
            let path = Path::new("/cg").join(name);
            self.0.lock().unwrap().insert(path, text.to_owned());
        }
        fn remove_all(&self) {
            self.0.lock().unwrap().clear();
        }
    }

    impl CgroupFiles for Files {
        fn read(&self, path: &Path) -> Option<String> {
            self.0.lock().unwrap().get(path).cloned()
        }
        fn subdirs(&self, _dir: &Path) -> Vec<PathBuf> {
            Vec::new()
        }
    }

    /// Processes that exist, each with 1 MB of RSS; records what it was asked to sample.
    #[derive(Clone, Default)]
    struct Procs {
        alive: Arc<Mutex<Vec<u32>>>,
    }

    impl Procs {
        fn of(pids: &[u32]) -> Procs {
            Procs {
                alive: Arc::new(Mutex::new(pids.to_vec())),
            }
        }
        fn set(&self, pids: &[u32]) {
            *self.alive.lock().unwrap() = pids.to_vec();
        }
        fn has(&self, pid: u32) -> bool {
            self.alive.lock().unwrap().contains(&pid)
        }
    }

    impl Sampler for Procs {
        fn sample(&mut self, roots: &[ProcId], _: bool, t: f64, _: Reads) -> Reading {
            let gone = roots
                .iter()
                .filter(|r| !self.has(r.pid))
                .map(|r| (*r, Gone::Exited { wait_status: None }))
                .collect();
            Reading {
                sample: Sample {
                    t,
                    rss: Some(roots.len() as u64 * 1_000_000),
                    cpu: Some(9.0),
                    ..Sample::default()
                },
                gone,
                ..Reading::default()
            }
        }
    }

    impl ProcessTable for Procs {
        fn list(&mut self) -> Result<Vec<ProcInfo>, SampleError> {
            Ok(Vec::new())
        }
        fn get(&mut self, pid: u32) -> Result<Option<ProcInfo>, SampleError> {
            Ok(self.has(pid).then(|| ProcInfo {
                id: ProcId { pid, start: 7 },
                ppid: 1,
                name: format!("proc{pid}"),
                exe_name: None,
                cmdline: Vec::new(),
            }))
        }
        fn cgroup_limits(&mut self, _: u32) -> CgroupLimits {
            CgroupLimits::default()
        }
    }

    struct Log(Vec<KernelOomKill>);
    impl KernelLog for Log {
        fn oom_kills(&mut self) -> Vec<KernelOomKill> {
            std::mem::take(&mut self.0)
        }
    }

    fn dirs() -> CgroupDirs {
        let dir = Some(PathBuf::from("/cg"));
        CgroupDirs {
            version: CgroupVersion::V2,
            memory: dir.clone(),
            cpu: dir.clone(),
            cpuacct: None,
            pids: dir.clone(),
            pressure: dir,
        }
    }

    fn set_counters(files: &Files, procs: &str, oom_kills: u64, usage_usec: u64) {
        files.set("cgroup.procs", procs);
        files.set("memory.current", "50000000\n");
        files.set(
            "memory.stat",
            "anon 30000000\nfile 20000000\ninactive_file 5000000\n",
        );
        files.set(
            "memory.events",
            &format!("low 0\nhigh 0\nmax 3\noom 1\noom_kill {oom_kills}\n"),
        );
        files.set(
            "cpu.stat",
            &format!(
                "usage_usec {usage_usec}\nnr_periods 10\nnr_throttled 4\nthrottled_usec 200000\n"
            ),
        );
    }

    const READS: Reads = Reads::BASIC;

    #[test]
    fn a_cgroup_target_samples_its_processes_listed_anew() {
        let files = Files::default();
        set_counters(&files, "10\n11\n", 0, 1_000_000);
        let handle = Procs::of(&[10, 11]);
        let mut procs = handle.clone();
        let root = [ProcId { pid: 10, start: 7 }];
        let mut s = CgroupSampler::new(
            &mut procs,
            dirs(),
            Box::new(files.clone()),
            CgroupRole::Target,
            "/cg".into(),
        );
        let first = s.sample(&root, false, 0.0, READS);
        assert_eq!(first.sample.rss, Some(2_000_000), "both processes");
        assert_eq!(first.sample.cgroup_anon_bytes, Some(30_000_000));
        assert_eq!(first.sample.cgroup_working_set_bytes, Some(45_000_000));
        assert_eq!(first.sample.cgroup_cpu, None, "no rate from one read");
        assert_eq!(
            first.sample.cpu,
            Some(9.0),
            "the processes' CPU until the cgroup's is known"
        );
        // A third process joins; the cgroup used 0.5 s of CPU in 1 s.
        set_counters(&files, "10\n11\n12\n", 0, 1_500_000);
        handle.set(&[10, 11, 12]);
        let second = s.sample(&root, false, 1.0, READS);
        assert_eq!(second.sample.rss, Some(3_000_000));
        assert_eq!(second.sample.cgroup_cpu, Some(0.5));
        assert_eq!(
            second.sample.cpu,
            Some(0.5),
            "a cgroup target's CPU is the cgroup's"
        );
        assert_eq!(
            (
                second.sample.cgroup_periods,
                second.sample.cgroup_throttled_periods
            ),
            (Some(10), Some(4))
        );
        assert!(second.gone.is_empty() && second.cgroup_news == CgroupNews::default());
        files.remove_all();
        let gone = s.sample(&root, false, 2.0, READS);
        assert_eq!(gone.cgroup_news.gone.as_deref(), Some("/cg"));
    }

    #[test]
    fn an_oom_kill_names_the_process_that_went() {
        let files = Files::default();
        set_counters(&files, "10\n11\n", 0, 0);
        let handle = Procs::of(&[10, 11]);
        let mut procs = handle.clone();
        let root = [ProcId { pid: 10, start: 7 }];
        let mut s = CgroupSampler::new(
            &mut procs,
            dirs(),
            Box::new(files.clone()),
            CgroupRole::Target,
            "/cg".into(),
        );
        s.sample(&root, false, 0.0, READS);
        // The count rises while 11 is still listed: told a sample later, when it has gone.
        set_counters(&files, "10\n11\n", 1, 0);
        assert_eq!(
            s.sample(&root, false, 1.0, READS).cgroup_news.oom_kill,
            None
        );
        set_counters(&files, "10\n", 1, 0);
        let news = s
            .sample(&root, false, 2.0, READS)
            .cgroup_news
            .oom_kill
            .unwrap();
        assert_eq!((news.kills, news.total, news.at_s), (1, 1, 1.0));
        assert_eq!(
            news.victims,
            vec![OomVictim {
                pid: 11,
                name: Some("proc11".into())
            }]
        );
        // With the kernel log, its line names the victim, even one never sampled.
        let kernel = Log(vec![KernelOomKill {
            oom_memcg: "/cg".into(),
            task_memcg: "/cg".into(),
            pid: 99,
            name: "worker".into(),
        }]);
        let mut s = s.with_kernel_log(Some(Box::new(kernel)));
        set_counters(&files, "10\n", 2, 0);
        let news = s
            .sample(&root, false, 3.0, READS)
            .cgroup_news
            .oom_kill
            .unwrap();
        assert_eq!(
            news.victims,
            vec![OomVictim {
                pid: 99,
                name: Some("worker".into())
            }]
        );
    }

    #[test]
    fn a_process_target_keeps_its_roots_and_gains_the_cgroup_fields() {
        let files = Files::default();
        set_counters(&files, "10\n11\n12\n", 0, 0);
        let handle = Procs::of(&[10]);
        let mut procs = handle.clone();
        let root = [ProcId { pid: 10, start: 7 }];
        let mut s = CgroupSampler::new(
            &mut procs,
            dirs(),
            Box::new(files.clone()),
            CgroupRole::Alongside,
            "/cg".into(),
        );
        let r = s.sample(&root, true, 0.0, READS);
        assert_eq!(
            r.sample.rss,
            Some(1_000_000),
            "only the root, not the cgroup's others"
        );
        assert_eq!(r.sample.cpu, Some(9.0), "a process target's CPU is its own");
        assert_eq!(r.sample.cgroup_memory_bytes, Some(50_000_000));
        // The root is OOM-killed: it is the victim, and it is gone for the loop too.
        handle.set(&[]);
        set_counters(&files, "11\n12\n", 1, 0);
        let r = s.sample(&root, true, 1.0, READS);
        assert_eq!(r.gone.len(), 1);
        let news = r.cgroup_news.oom_kill.unwrap();
        assert_eq!(
            news.victims,
            vec![OomVictim {
                pid: 10,
                name: Some("proc10".into())
            }]
        );
    }
}
