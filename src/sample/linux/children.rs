//! Finding the descendants of a process: from the kernel's children files, or by scanning
//! every process's parent where those files are missing.

use std::fmt::Write as _;
use std::fs;

use super::LinuxSampler;
use super::proc_files::{parse_pid_list, parse_stat_ppid};

impl LinuxSampler {
    /// Queue the children of `pid` (which has `threads` threads) for reading.
    pub(super) fn queue_children(&mut self, pid: u32, threads: i64) {
        if !self.has_children_file {
            if !self.ppid_pairs_fresh {
                self.scan_ppids();
            }
            let first = self.ppid_pairs.partition_point(|&(ppid, _)| ppid < pid);
            for &(ppid, child) in &self.ppid_pairs[first..] {
                if ppid != pid {
                    break;
                }
                if self.visited.insert(child) {
                    self.pending.push((child, pid));
                }
            }
            return;
        }
        // The children file lists the children of one thread: a child forked by another
        // thread only appears in that thread's file, so read them all.
        if threads <= 1 {
            self.queue_children_of_task(pid, pid);
            return;
        }
        self.dir_path.clear();
        let _ = write!(self.dir_path, "/proc/{pid}/task");
        let Ok(tasks) = fs::read_dir(&self.dir_path) else {
            return;
        };
        for task in tasks.flatten() {
            if let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) {
                self.queue_children_of_task(pid, tid);
            }
        }
    }

    fn queue_children_of_task(&mut self, pid: u32, tid: u32) {
        let Ok(bytes) = self
            .reader
            .read_to_eof(format_args!("/proc/{pid}/task/{tid}/children"))
        else {
            return;
        };
        for child in parse_pid_list(bytes) {
            if self.visited.insert(child) {
                self.pending.push((child, pid));
            }
        }
    }

    /// Read every process's parent once per call (kernels without the children file).
    fn scan_ppids(&mut self) {
        self.ppid_pairs.clear();
        self.ppid_pairs_fresh = true;
        let Ok(entries) = fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(bytes) = self.reader.read(format_args!("/proc/{pid}/stat"))
                && let Some(ppid) = parse_stat_ppid(bytes)
            {
                self.ppid_pairs.push((ppid, pid));
            }
        }
        self.ppid_pairs.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::linux::test_util::{kill_group, spawn, wait_until};
    use crate::sample::{Gone, ProcessTable, Reads, Sampler};

    #[test]
    fn sums_children() {
        let mut sampler = LinuxSampler::new();
        let mut shell = spawn("sh", &["-c", "sleep 30 & sleep 30 & wait"]);
        let id = sampler.get(shell.id()).unwrap().unwrap().id;
        wait_until(|| sampler.sample(&[id], true, 0.0, Reads::BASIC).sample.procs == Some(3));

        // The ppid scan (kernels without the children file) finds the same set.
        let mut scanning = LinuxSampler::new();
        scanning.has_children_file = false;
        assert_eq!(
            scanning.sample(&[id], true, 0.0, Reads::BASIC).sample.procs,
            Some(3)
        );

        let alone = sampler.sample(&[id], false, 0.1, Reads::BASIC).sample;
        let family = sampler.sample(&[id], true, 0.2, Reads::BASIC).sample;
        assert_eq!(alone.procs, Some(1));
        assert_eq!(family.procs, Some(3));
        assert!(family.rss.unwrap() > alone.rss.unwrap());
        assert!(family.threads.unwrap() >= 3);
        // The shell was seen by the previous call, the sleeps were not: a rate from the
        // shell alone on the first call with children, then from all three.
        assert!(family.cpu.is_some());
        // Memory stays bounded: the CPU map holds exactly the processes present.
        assert_eq!(sampler.prev_cpu_s.len(), 3);
        sampler.sample(&[id], false, 0.3, Reads::BASIC);
        assert_eq!(sampler.prev_cpu_s.len(), 1);

        kill_group(&mut shell);
        let after = sampler.sample(&[id], true, 0.4, Reads::BASIC);
        assert_eq!(after.gone, [(id, Gone::Exited { wait_status: None })]);
        assert_eq!(after.sample.procs, Some(0));
    }
}
