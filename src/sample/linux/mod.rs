//! Linux backend: reads /proc.
//!
//! The hot path (`Sampler::sample`) reads `stat`, `status`, `io`, the size of `fd/` and
//! optionally `smaps_rollup` per process into one reused buffer, building paths in one
//! reused string. The stat/status/io files of up to `HELD_MAX` processes and /proc/meminfo
//! stay open between samples and are re-read with pread, which halves the system calls.
//! `stat` is parsed with the procfs crate (two small allocations); `status`, `io`,
//! `smaps_rollup` and `meminfo` are scanned by hand for the two or three fields we need,
//! because procfs's parsers build a map of every line (and an 8 KiB reader) on each call.
//! The process table (not hot) uses procfs throughout.
//!
//! Files: `proc_files` reads and parses the /proc files, `held` keeps the files of up to
//! `HELD_MAX` processes open, `children` finds a process's descendants, `totals` sums the
//! processes of one sample, and `table` is the process table; this file is the sampler.

mod children;
mod held;
mod proc_files;
mod table;
#[cfg(test)]
mod test_util;
mod totals;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Instant;

use procfs::process::Stat;

use super::{Gone, ProcId, Reading, Reads, Sampler};
use held::{HELD_MAX, Held};
use proc_files::{
    ProcReader, StatError, count_fds, is_dead, is_gone, parse_io, parse_meminfo_available,
    parse_smaps_rollup, parse_status, zombie_wait_status,
};
use totals::{ProcFigures, Totals};

/// Samples processes through /proc. See the module docs for what it reads.
pub struct LinuxSampler {
    ticks_per_s: f64,
    page_bytes: u64,
    /// /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN); checked once.
    has_children_file: bool,
    reader: ProcReader,
    /// Scratch path for directory listings while `reader` is in use.
    dir_path: String,
    /// Kept open and re-read with pread: cheaper than opening it on every sample.
    meminfo: Option<File>,
    /// Open stat/status/io files of up to `HELD_MAX` processes, by PID.
    held: HashMap<u32, Held>,
    /// Cumulative CPU seconds per process at the previous call, and at this one. Swapped
    /// each call and rebuilt from the processes present, so they never outgrow the set.
    prev_cpu_s: HashMap<ProcId, f64>,
    cur_cpu_s: HashMap<ProcId, f64>,
    prev_elapsed_s: Option<f64>,
    /// PIDs already taken this call (a root can also be another root's descendant).
    visited: HashSet<u32>,
    /// Descendants still to read, with the parent they were found under.
    pending: Vec<(u32, u32)>,
    /// (ppid, pid) of every process, sorted, when the children file is missing.
    ppid_pairs: Vec<(u32, u32)>,
    ppid_pairs_fresh: bool,
}

impl Default for LinuxSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl LinuxSampler {
    pub fn new() -> Self {
        let ticks = procfs::ticks_per_second();
        let me = std::process::id();
        LinuxSampler {
            // USER_HZ is 100 on every mainstream kernel; guard the division anyway.
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: procfs::page_size(),
            has_children_file: Path::new(&format!("/proc/{me}/task/{me}/children")).exists(),
            reader: ProcReader::new(),
            dir_path: String::with_capacity(64),
            meminfo: None,
            held: HashMap::with_capacity(HELD_MAX),
            prev_cpu_s: HashMap::new(),
            cur_cpu_s: HashMap::new(),
            prev_elapsed_s: None,
            visited: HashSet::new(),
            pending: Vec::new(),
            ppid_pairs: Vec::new(),
            ppid_pairs_fresh: false,
        }
    }

    fn host_avail_bytes(&mut self) -> Option<u64> {
        if self.meminfo.is_none() {
            self.meminfo = File::open("/proc/meminfo").ok();
        }
        let file = self.meminfo.as_ref()?;
        match self.reader.fill_from(file) {
            Ok(text) => parse_meminfo_available(text),
            Err(_) => {
                // Reopen next time.
                self.meminfo = None;
                None
            }
        }
    }

    /// Everything but `stat` for one process; `Err(())` when it vanished meanwhile.
    fn read_figures(
        &mut self,
        pid: u32,
        stat: &Stat,
        reads: Reads,
        smaps_s: &mut f64,
    ) -> Result<ProcFigures, ()> {
        let mut f = ProcFigures {
            cpu_user_s: stat.utime as f64 / self.ticks_per_s,
            cpu_sys_s: stat.stime as f64 / self.ticks_per_s,
            threads: u64::try_from(stat.num_threads).unwrap_or(0),
            rss_bytes: stat.rss.saturating_mul(self.page_bytes),
            vms_bytes: stat.vsize,
            minflt: stat.minflt,
            majflt: stat.majflt,
            ..ProcFigures::default()
        };
        let reader = &mut self.reader;
        let held = self.held.get(&pid);
        if reads.detail {
            Self::read_detail(reader, held, pid, &mut f)?;
        }
        f.fds = count_fds(reader, pid)?;

        if reads.smaps {
            let started = Instant::now();
            let result = reader
                .read(format_args!("/proc/{pid}/smaps_rollup"))
                .map(parse_smaps_rollup);
            *smaps_s += started.elapsed().as_secs_f64();
            match result {
                Ok((pss, uss)) => (f.pss_bytes, f.uss_bytes) = (pss, uss),
                Err(e) if is_gone(&e) => return Err(()),
                Err(_) => {}
            }
        }
        Ok(f)
    }

    /// Swap and context switches (status) and I/O bytes (io); `Err(())` when the process
    /// vanished meanwhile.
    fn read_detail(
        reader: &mut ProcReader,
        held: Option<&Held>,
        pid: u32,
        f: &mut ProcFigures,
    ) -> Result<(), ()> {
        let status = match held {
            Some(held) => reader.fill_from(&held.status),
            None => reader.read(format_args!("/proc/{pid}/status")),
        };
        match status {
            Ok(bytes) => {
                let status = parse_status(bytes);
                f.swap_bytes = status.swap_bytes;
                f.ctx_vol = status.ctx_vol;
                f.ctx_invol = status.ctx_invol;
            }
            Err(e) if is_gone(&e) => return Err(()),
            Err(_) => {}
        }

        // Needs ptrace access: EACCES for other users' processes, then None.
        let io = match held {
            Some(Held { io: Some(io), .. }) => reader.fill_from(io),
            Some(Held { io: None, .. }) => Err(io::ErrorKind::PermissionDenied.into()),
            None => reader.read(format_args!("/proc/{pid}/io")),
        };
        match io {
            Ok(bytes) => (f.read_bytes, f.write_bytes) = parse_io(bytes),
            Err(e) if is_gone(&e) => return Err(()),
            Err(_) => {}
        }
        Ok(())
    }

    /// Read one live process, add it to `totals`, and queue its children when asked.
    fn take_process(&mut self, pid: u32, stat: &Stat, ctx: &mut CallState) {
        let Ok(figures) = self.read_figures(pid, stat, ctx.reads, &mut ctx.smaps_s) else {
            // Exited while we read it: it is gone, not unreadable.
            return;
        };
        ctx.totals.add(&figures);
        let id = ProcId {
            pid,
            start: stat.starttime,
        };
        let cpu_s = figures.cpu_user_s + figures.cpu_sys_s;
        if let Some(prev_s) = self.prev_cpu_s.get(&id) {
            ctx.cpu_delta_s += (cpu_s - prev_s).max(0.0);
        }
        self.cur_cpu_s.insert(id, cpu_s);
        if ctx.children {
            self.queue_children(pid, stat.num_threads);
        }
    }
}

/// What one `sample` call carries between processes.
struct CallState {
    totals: Totals,
    reads: Reads,
    children: bool,
    smaps_s: f64,
    cpu_delta_s: f64,
}

impl Sampler for LinuxSampler {
    fn sample(
        &mut self,
        roots: &[ProcId],
        children: bool,
        elapsed_s: f64,
        reads: Reads,
    ) -> Reading {
        let mut ctx = CallState {
            totals: Totals::new(reads),
            reads,
            children,
            smaps_s: 0.0,
            cpu_delta_s: 0.0,
        };
        let mut gone = Vec::new();
        self.cur_cpu_s.clear();
        self.visited.clear();
        self.pending.clear();
        self.ppid_pairs_fresh = false;

        for root in roots {
            if !self.visited.insert(root.pid) {
                continue;
            }
            let stat = match self.stat_of(root.pid) {
                Ok(stat) => stat,
                Err(StatError::Gone) => {
                    gone.push((*root, Gone::Exited { wait_status: None }));
                    continue;
                }
                Err(StatError::Unreadable) => {
                    ctx.totals.mark_incomplete();
                    continue;
                }
            };
            if stat.starttime != root.start {
                gone.push((*root, Gone::PidReused));
            } else if is_dead(stat.state) {
                gone.push((
                    *root,
                    Gone::Exited {
                        wait_status: zombie_wait_status(root.pid, &stat),
                    },
                ));
            } else {
                self.take_process(root.pid, &stat, &mut ctx);
            }
        }

        while let Some((pid, parent)) = self.pending.pop() {
            let stat = match self.stat_of(pid) {
                Ok(stat) => stat,
                Err(StatError::Gone) => continue,
                Err(StatError::Unreadable) => {
                    ctx.totals.mark_incomplete();
                    continue;
                }
            };
            // A zombie holds no resources; a changed parent means the PID was reused
            // between listing and reading.
            if is_dead(stat.state) || u32::try_from(stat.ppid).ok() != Some(parent) {
                continue;
            }
            self.take_process(pid, &stat, &mut ctx);
        }

        let dt_s = self.prev_elapsed_s.map(|prev| elapsed_s - prev);
        let cpu = match dt_s {
            Some(dt_s) if dt_s > 0.0 && ctx.totals.procs > 0 && ctx.totals.complete => {
                Some(ctx.cpu_delta_s / dt_s)
            }
            _ => None,
        };
        std::mem::swap(&mut self.prev_cpu_s, &mut self.cur_cpu_s);
        // Close the files of processes not read this time.
        self.held.retain(|_, held| std::mem::take(&mut held.used));
        self.prev_elapsed_s = Some(elapsed_s);

        let host_avail = if reads.detail {
            self.host_avail_bytes()
        } else {
            None
        };
        Reading {
            sample: ctx.totals.into_sample(elapsed_s, cpu, host_avail),
            gone,
            smaps_read_s: reads.smaps.then_some(ctx.smaps_s),
            ..Reading::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::proc_files::read_stat;
    use super::test_util::{me, spawn, wait_until};
    use super::*;
    use crate::sample::ProcessTable;
    use std::time::Duration;

    #[test]
    fn samples_this_process() {
        let mut sampler = LinuxSampler::new();
        let roots = [me()];
        let first = sampler.sample(&roots, false, 0.0, Reads::BASIC);
        let s = &first.sample;
        assert!(first.gone.is_empty());
        assert!(s.rss.unwrap() > 0 && s.vms.unwrap() >= s.rss.unwrap());
        assert!(s.threads.unwrap() >= 1);
        assert!(s.fds.unwrap() >= 3, "{s:?}");
        assert_eq!(s.procs, Some(1));
        assert_eq!(s.cpu, None, "no CPU rate on the first call");
        assert!(s.cpu_user_s.is_some() && s.ctx_vol.is_some() && s.swap.is_some());
        assert!(s.read_bytes.is_some(), "own io is readable");
        assert!(s.host_avail.unwrap() > 0);
        assert_eq!((s.pss, s.uss, first.smaps_read_s), (None, None, None));

        // Burn some CPU so the rate is visible.
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let second = sampler.sample(&roots, false, started.elapsed().as_secs_f64(), Reads::ALL);
        let cpu = second.sample.cpu.unwrap();
        assert!(cpu > 0.2, "cpu {cpu}");
        assert!(second.sample.pss.unwrap() > 0);
        assert!(second.sample.uss.unwrap() > 0);
        assert!(second.smaps_read_s.unwrap() >= 0.0);
        // A clock that did not move gives no rate rather than a division by zero.
        let third = sampler.sample(
            &roots,
            false,
            started.elapsed().as_secs_f64() - 1.0,
            Reads::BASIC,
        );
        assert_eq!(third.sample.cpu, None);
    }

    #[test]
    fn core_reads_leave_the_detail_fields_missing() {
        let mut sampler = LinuxSampler::new();
        let s = sampler.sample(&[me()], false, 0.0, Reads::CORE).sample;
        assert!(s.rss.is_some() && s.vms.is_some() && s.threads.is_some() && s.fds.is_some());
        assert!(s.cpu_user_s.is_some() && s.minflt.is_some());
        assert_eq!(
            (s.swap, s.ctx_vol, s.ctx_invol, s.read_bytes, s.write_bytes),
            (None, None, None, None, None),
            "not read, so missing rather than 0"
        );
        assert_eq!((s.host_avail, s.pss, s.uss), (None, None, None));
        // The next call that asks for them has them.
        let s = sampler.sample(&[me()], false, 0.1, Reads::BASIC).sample;
        assert!(s.swap.is_some() && s.ctx_vol.is_some() && s.host_avail.is_some());
    }

    #[test]
    fn reports_a_killed_child_as_gone() {
        let mut sampler = LinuxSampler::new();
        let mut child = spawn("sleep", &["30"]);
        let id = sampler.get(child.id()).unwrap().unwrap().id;
        let alive = sampler.sample(&[id], false, 0.0, Reads::BASIC);
        assert!(alive.gone.is_empty());
        assert_eq!(alive.sample.procs, Some(1));
        assert!(alive.sample.fds.unwrap() >= 3);

        // A wrong start time means someone else now has this PID.
        let impostor = ProcId {
            start: id.start + 1,
            ..id
        };
        let reused = sampler.sample(&[impostor], false, 0.5, Reads::BASIC);
        assert_eq!(reused.gone, [(impostor, Gone::PidReused)]);
        assert_eq!(reused.sample.procs, Some(0));
        assert_eq!(reused.sample.rss, None);

        // Killed but not yet reaped: a zombie, with its wait status (killed by SIGKILL).
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        wait_until(|| {
            let mut reader = ProcReader::default();
            matches!(read_stat(&mut reader, id.pid), Ok(stat) if stat.state == 'Z')
        });
        let zombie = sampler.sample(&[id], false, 1.0, Reads::BASIC);
        assert_eq!(
            zombie.gone,
            [(
                id,
                Gone::Exited {
                    wait_status: Some(libc::SIGKILL)
                }
            )]
        );

        let _ = child.wait();
        let reaped = sampler.sample(&[id], false, 2.0, Reads::BASIC);
        assert_eq!(reaped.gone, [(id, Gone::Exited { wait_status: None })]);
        assert_eq!(reaped.sample.cpu, None);
    }

    #[test]
    fn dead_roots_do_not_stop_live_ones() {
        let mut sampler = LinuxSampler::new();
        let ghost = ProcId {
            pid: u32::MAX - 1,
            start: 1,
        };
        let reading = sampler.sample(&[ghost, me(), me()], false, 0.0, Reads::BASIC);
        assert_eq!(reading.gone, [(ghost, Gone::Exited { wait_status: None })]);
        assert_eq!(
            reading.sample.procs,
            Some(1),
            "a duplicate root is counted once"
        );
    }
}
