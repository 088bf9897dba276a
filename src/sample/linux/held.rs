//! The files of up to `HELD_MAX` processes, kept open between samples and re-read with pread.

use std::fs::File;

use procfs::FromRead;
use procfs::process::Stat;

use super::LinuxSampler;
use super::proc_files::{ProcReader, StatError, read_stat, stat_from};

/// How many processes keep their files open between samples. Re-reading an open /proc
/// file with pread skips the open and close, which cost as much as the read itself; the
/// cap keeps a large process tree from using up our file descriptors (3 per process).
/// Processes beyond it are read by path.
pub(super) const HELD_MAX: usize = 16;

/// The open stat, status and io files of one process. They stay bound to the process they
/// were opened for: once it is reaped, reads fail with ESRCH, even if its PID is reused.
pub(super) struct Held {
    pub(super) stat: File,
    pub(super) status: File,
    /// `None` when opening was refused (another user's process); not retried while this
    /// process lives.
    pub(super) io: Option<File>,
    /// Read during this call; the others are closed at its end.
    pub(super) used: bool,
}

impl Held {
    fn open(reader: &mut ProcReader, pid: u32) -> Option<Held> {
        let mut open = |leaf: &str| File::open(reader.set_path(format_args!("/proc/{pid}/{leaf}")));
        Some(Held {
            stat: open("stat").ok()?,
            status: open("status").ok()?,
            io: open("io").ok(),
            used: true,
        })
    }
}

impl LinuxSampler {
    /// The stat of `pid`: through its held files, opening them when there is room.
    pub(super) fn stat_of(&mut self, pid: u32) -> Result<Stat, StatError> {
        if let Some(held) = self.held.get_mut(&pid) {
            match self.reader.fill_from(&held.stat) {
                Ok(bytes) if !bytes.is_empty() => {
                    held.used = true;
                    return Stat::from_read(bytes).map_err(|_| StatError::Unreadable);
                }
                // The process they were opened for is gone; the PID may be another's now.
                _ => {
                    self.held.remove(&pid);
                }
            }
        }
        if self.held.len() < HELD_MAX
            && let Some(held) = Held::open(&mut self.reader, pid)
        {
            let held = self.held.entry(pid).insert_entry(held).into_mut();
            return stat_from(self.reader.fill_from(&held.stat));
        }
        read_stat(&mut self.reader, pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::linux::test_util::{kill_group, spawn, wait_until};
    use crate::sample::{Gone, ProcessTable, Reads, Sampler};

    #[test]
    fn keeps_files_open_for_a_bounded_number_of_processes() {
        let mut sampler = LinuxSampler::new();
        let mut shell = spawn(
            "sh",
            &["-c", "for i in $(seq 20); do sleep 30 & done; wait"],
        );
        let id = sampler.get(shell.id()).unwrap().unwrap().id;
        wait_until(|| sampler.sample(&[id], true, 0.0, Reads::BASIC).sample.procs == Some(21));
        // Past the cap, processes are read by path, and counted all the same. A slot freed
        // by a short-lived child (the `seq`) is not handed to a process already read by
        // path, so the cap may not be reached exactly.
        assert!(
            (HELD_MAX - 2..=HELD_MAX).contains(&sampler.held.len()),
            "{} held",
            sampler.held.len()
        );
        let again = sampler.sample(&[id], true, 0.1, Reads::BASIC).sample;
        assert_eq!(again.procs, Some(21));
        assert!(again.fds.is_some() && again.swap.is_some() && again.read_bytes.is_some());
        // Without children, only the root's files stay open.
        sampler.sample(&[id], false, 0.2, Reads::BASIC);
        assert_eq!(sampler.held.len(), 1);
        kill_group(&mut shell);
        let after = sampler.sample(&[id], true, 0.3, Reads::BASIC);
        assert_eq!(after.gone, [(id, Gone::Exited { wait_status: None })]);
        assert!(
            sampler.held.is_empty(),
            "files of gone processes are closed"
        );
    }
}
