//! Who the OOM killer killed: the kernel's own `oom-kill:` line in `/dev/kmsg` (Linux
//! 4.19 on), which names the victim's PID, name and cgroup. A cgroup's counters only say
//! that a kill happened, and a victim that lived less than one interval is never seen in a
//! sample. Reading the kernel log needs root (or CAP_SYSLOG); without it the victim is
//! guessed from the processes that left the cgroup.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};

/// Records read per look at most: a look happens once per OOM kill, and this bounds it
/// even on a host whose log is flooded.
const MAX_RECORDS_PER_LOOK: usize = 100_000;

/// One `oom-kill:` record of the kernel log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelOomKill {
    /// The cgroup whose limit was hit (`oom_memcg`).
    pub oom_memcg: String,
    /// The victim's cgroup (`task_memcg`).
    pub task_memcg: String,
    pub pid: u32,
    /// The victim's `comm`.
    pub name: String,
}

impl KernelOomKill {
    /// Was the victim in the cgroup at `path` (or below it), or was that cgroup's limit hit?
    pub fn concerns(&self, path: &str) -> bool {
        let under = |memcg: &str| {
            let p = path.trim_end_matches('/');
            memcg == p || memcg.starts_with(&format!("{p}/")) || p.is_empty()
        };
        under(&self.task_memcg) || under(&self.oom_memcg)
    }
}

/// Parse one `/dev/kmsg` record (`PRI,SEQ,USEC,FLAGS;MESSAGE`) or a `dmesg` line holding
/// `oom-kill:constraint=…,oom_memcg=…,task_memcg=…,task=NAME,pid=N,uid=U`.
pub fn parse_oom_kill(record: &str) -> Option<KernelOomKill> {
    let message = &record[record.find("oom-kill:")?..];
    let field = |key: &str| -> Option<&str> {
        let start = message.find(&format!(",{key}="))? + key.len() + 2;
        let rest = &message[start..];
        Some(&rest[..rest.find(',').unwrap_or(rest.len())])
    };
    // The task name may hold a comma: it runs from `task=` to the last `,pid=`.
    let task_at = message.find(",task=")? + ",task=".len();
    let pid_at = message.rfind(",pid=")?;
    let name = message.get(task_at..pid_at)?.to_owned();
    let pid_text = &message[pid_at + ",pid=".len()..];
    let pid = pid_text[..pid_text.find(',').unwrap_or(pid_text.len())]
        .trim()
        .parse()
        .ok()?;
    Some(KernelOomKill {
        oom_memcg: field("oom_memcg")?.to_owned(),
        task_memcg: field("task_memcg")?.to_owned(),
        pid,
        name,
    })
}

/// The kernel log, read from where it was when opened.
pub trait KernelLog: Send {
    /// The OOM kills logged since the last call.
    fn oom_kills(&mut self) -> Vec<KernelOomKill>;
}

/// `/dev/kmsg`, opened non-blocking at its end.
pub struct DevKmsg {
    file: File,
    buf: Vec<u8>,
}

impl DevKmsg {
    /// `None` when the log cannot be read (not root, or not Linux).
    pub fn open() -> Option<DevKmsg> {
        #[cfg(unix)]
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open("/dev/kmsg")
                .ok()?
        };
        #[cfg(not(unix))]
        let file = OpenOptions::new().read(true).open("/dev/kmsg").ok()?;
        let mut file = file;
        // Only what is logged from now on: a kill of an earlier run is not this run's.
        file.seek(SeekFrom::End(0)).ok()?;
        Some(DevKmsg {
            file,
            buf: vec![0; 8192],
        })
    }
}

impl KernelLog for DevKmsg {
    fn oom_kills(&mut self) -> Vec<KernelOomKill> {
        let mut kills = Vec::new();
        for _ in 0..MAX_RECORDS_PER_LOOK {
            // Each read returns one record; EPIPE says records were overwritten before
            // being read (the next read goes on from the oldest kept).
            match self.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(kill) = std::str::from_utf8(&self.buf[..n])
                        .ok()
                        .and_then(parse_oom_kill)
                    {
                        kills.push(kill);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        kills
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "6,448,736316356,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=5589c59e0114,mems_allowed=0,oom_memcg=/docker/5589c59e0114,task_memcg=/docker/5589c59e0114,task=soakprof-fixtur,pid=15616,uid=0";

    #[test]
    fn the_kernels_oom_kill_line_names_the_victim() {
        let kill = parse_oom_kill(RECORD).unwrap();
        assert_eq!(kill.pid, 15616);
        assert_eq!(kill.name, "soakprof-fixtur");
        assert_eq!(kill.oom_memcg, "/docker/5589c59e0114");
        assert!(kill.concerns("/docker/5589c59e0114"));
        assert!(kill.concerns("/docker"), "a parent cgroup holds it");
        assert!(!kill.concerns("/docker/5589"), "not a prefix of a segment");
        let dmesg = "[  736.316356] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=we,ird,pid=7,uid=0";
        let kill = parse_oom_kill(dmesg).unwrap();
        assert_eq!((kill.pid, kill.name.as_str()), (7, "we,ird"));
        assert!(kill.concerns("/a/b") && kill.concerns("/a"));
        assert_eq!(
            parse_oom_kill("6,1,2,-;Out of memory: Killed process 12 (x)"),
            None
        );
        assert_eq!(
            parse_oom_kill("oom-kill:constraint=X,task=a,pid=zz,uid=0"),
            None
        );
    }
}
