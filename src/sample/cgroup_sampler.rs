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
