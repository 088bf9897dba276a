//! The process table (listing and identifying processes for target resolution). Not hot, so
//! it uses procfs throughout.

use std::path::Path;

use procfs::ProcError;
use procfs::process::{Process, Stat};

use super::LinuxSampler;
use super::proc_files::parse_status;
use crate::sample::{CgroupLimits, ProcId, ProcInfo, ProcessTable, SampleError, cgroup};

/// The file name of an executable link target, without the " (deleted)" the kernel appends
/// when the binary was replaced on disk (as after an upgrade).
fn exe_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    Some(name.strip_suffix(" (deleted)").unwrap_or(&name).to_owned())
}

fn proc_info(process: &Process, stat: Stat) -> Option<ProcInfo> {
    Some(ProcInfo {
        id: ProcId {
            pid: u32::try_from(stat.pid).ok()?,
            start: stat.starttime,
        },
        ppid: u32::try_from(stat.ppid).unwrap_or(0),
        name: stat.comm,
        exe_name: process.exe().ok().and_then(|p| exe_file_name(&p)),
        cmdline: process.cmdline().unwrap_or_default(),
    })
}

fn read_error(pid: u32, e: ProcError) -> SampleError {
    SampleError::Read {
        pid,
        reason: e.to_string(),
    }
}

impl ProcessTable for LinuxSampler {
    fn list(&mut self) -> Result<Vec<ProcInfo>, SampleError> {
        let processes =
            procfs::process::all_processes().map_err(|e| SampleError::List(e.to_string()))?;
        Ok(processes
            // Processes that vanish while listing are simply not there.
            .filter_map(Result::ok)
            .filter_map(|p| {
                let stat = p.stat().ok()?;
                proc_info(&p, stat)
            })
            .collect())
    }

    fn get(&mut self, pid: u32) -> Result<Option<ProcInfo>, SampleError> {
        let Ok(pid_i32) = i32::try_from(pid) else {
            return Ok(None);
        };
        if pid == 0 {
            return Ok(None);
        }
        let process = match Process::new(pid_i32) {
            Ok(p) => p,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(read_error(pid, e)),
        };
        let stat = match process.stat() {
            Ok(stat) => stat,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(read_error(pid, e)),
        };
        // /proc/TID exists for every thread too, but a thread is not a process.
        if let Ok(bytes) = self.reader.read(format_args!("/proc/{pid}/status"))
            && let Some(tgid) = parse_status(bytes).tgid
            && tgid != pid
        {
            return Ok(None);
        }
        Ok(proc_info(&process, stat))
    }

    fn cgroup_limits(&mut self, pid: u32) -> CgroupLimits {
        cgroup::limits_for_pid(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::linux::test_util::{kill_group, spawn, wait_until};

    #[test]
    fn lists_and_gets_processes() {
        let mut sampler = LinuxSampler::new();
        let mut child = spawn("sleep", &["30"]);
        // spawn() returns once exec has begun; argv is in place a moment later.
        wait_until(|| !sampler.get(child.id()).unwrap().unwrap().cmdline.is_empty());
        let info = sampler.get(child.id()).unwrap().unwrap();
        assert_eq!(info.name, "sleep");
        assert_eq!(info.exe_name.as_deref(), Some("sleep"));
        assert_eq!(info.cmdline, ["sleep", "30"]);
        assert_eq!(info.ppid, std::process::id());
        let listed = sampler.list().unwrap();
        assert!(listed.iter().any(|p| p == &info));
        assert!(listed.iter().any(|p| p.id.pid == 1));
        kill_group(&mut child);
        assert_eq!(sampler.get(child.id()).unwrap(), None);
        assert_eq!(sampler.get(0).unwrap(), None);
        assert_eq!(sampler.get(u32::MAX).unwrap(), None);
    }

    #[test]
    fn a_thread_id_is_not_a_process() {
        let handle = std::thread::spawn(|| {
            // SAFETY: gettid(2) has no preconditions.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
            LinuxSampler::new().get(tid).unwrap()
        });
        assert_eq!(handle.join().unwrap(), None);
    }
}
