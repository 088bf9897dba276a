//! Resolve `--pid`, `--name`, `--match` to processes, or start `-- CMD ARGS...`.
//!
//! Matching is pure over a `ProcInfo` list so it is tested without real processes.
//! soakprof itself and its ancestors (the shell or `cargo run` that started it, whose
//! command lines contain the very name being searched for) are never matched.

use std::path::Path;
use std::process::{Child, Command};

use regex::Regex;

pub mod cgroup;

use crate::process::{self, ProcessError};
use crate::sample::{ProcInfo, ProcessTable, SampleError};

/// Kernel process names (`comm`) are cut to 15 bytes.
const COMM_MAX_LEN: usize = 15;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no process with PID {0} (check it with `ps -p {0}`)")]
    NoSuchPid(u32),
    #[error("no process matches {what} (list candidates with `ps -eo pid,comm,args`)")]
    NoMatch { what: String },
    #[error(
        "{what} matches {count} processes: {list}; choose one with --pid, or add --pick newest|oldest|all"
    )]
    Ambiguous {
        what: String,
        count: usize,
        list: String,
    },
    #[error("PID {0} is soakprof itself or one of its parents; name the process to profile")]
    IsSelf(u32),
    #[error(transparent)]
    Table(#[from] SampleError),
    #[error(transparent)]
    Cgroup(#[from] crate::sample::cgroup_stats::CgroupStatsError),
    #[error(
        "--container '{0}' is not a container ID: give the ID or a prefix of it (hex, as `docker ps` shows it), or a pod UID; for a name use --container \"$(docker inspect -f '{{{{.Id}}}}' NAME)\""
    )]
    NotAContainerId(String),
    #[error(
        "no running container or pod has an ID starting with '{0}' (no process's /proc/PID/cgroup names it; list IDs with `docker ps --no-trunc`)"
    )]
    NoContainer(String),
    #[error("--container '{query}' matches {count} containers: {list}; give more of the ID")]
    AmbiguousContainer {
        query: String,
        count: usize,
        list: String,
    },
    #[error("cgroup {0} has no processes; give the cgroup of a running service")]
    EmptyCgroup(String),
}

impl TargetError {
    /// A target that cannot be found or chosen is bad input; a process table that cannot
    /// be read is a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        match self {
            TargetError::Table(e) => e.is_bad_input(),
            TargetError::Cgroup(e) => e.is_bad_input(),
            TargetError::NotAContainerId(_)
            | TargetError::NoContainer(_)
            | TargetError::AmbiguousContainer { .. }
            | TargetError::EmptyCgroup(_) => true,
            TargetError::NoSuchPid(_)
            | TargetError::NoMatch { .. }
            | TargetError::Ambiguous { .. }
            | TargetError::IsSelf(_) => true,
        }
    }
}

/// How the user named the target.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    Pid(u32),
    Name(String),
    Match(Regex),
    Spawn(Vec<String>),
    /// `--cgroup PATH`: the cgroup's processes, summed, and its own counters.
    Cgroup(String),
    /// `--container ID`: the container's (or pod's) cgroup, found through /proc/*/cgroup.
    Container(String),
}

impl TargetSpec {
    pub fn mode(&self) -> &'static str {
        match self {
            TargetSpec::Pid(_) => "pid",
            TargetSpec::Name(_) => "name",
            TargetSpec::Match(_) => "match",
            TargetSpec::Spawn(_) => "spawn",
            TargetSpec::Cgroup(_) => "cgroup",
            TargetSpec::Container(_) => "container",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Pid(pid) => pid.to_string(),
            TargetSpec::Name(name) => name.clone(),
            TargetSpec::Match(re) => re.as_str().to_string(),
            TargetSpec::Spawn(cmd) => cmd.join(" "),
            TargetSpec::Cgroup(path) => path.clone(),
            TargetSpec::Container(id) => id.clone(),
        }
    }
}

/// What to do when several processes match `--name` or `--match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pick {
    /// The most recently started one.
    Newest,
    /// The earliest started one.
    Oldest,
    /// All of them, summed.
    All,
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// Does `info` go by `name`? The kernel name (cut to 15 bytes, so a longer `name` matches
/// its first 15 bytes), the executable's file name, or argv[0]'s file name.
pub fn name_matches(info: &ProcInfo, name: &str) -> bool {
    if info.name == name {
        return true;
    }
    if name.len() > COMM_MAX_LEN
        && info.name.len() == COMM_MAX_LEN
        && name.as_bytes().starts_with(info.name.as_bytes())
    {
        return true;
    }
    if info.exe_name.as_deref() == Some(name) {
        return true;
    }
    info.cmdline
        .first()
        .is_some_and(|argv0| file_name(argv0) == name)
}

/// Does the regex match the full command line (arguments joined by spaces)?
pub fn command_line_matches(info: &ProcInfo, re: &Regex) -> bool {
    !info.cmdline.is_empty() && re.is_match(&info.cmdline.join(" "))
}

/// PIDs of soakprof itself and all its ancestors.
pub fn self_and_ancestors(processes: &[ProcInfo], self_pid: u32) -> Vec<u32> {
    let mut chain = vec![self_pid];
    let mut current = self_pid;
    // Bounded walk: a PID table can't have a cycle, but never trust that blindly.
    for _ in 0..processes.len() {
        let Some(parent) = processes
            .iter()
            .find(|p| p.id.pid == current)
            .map(|p| p.ppid)
        else {
            break;
        };
        if parent == 0 || chain.contains(&parent) {
            break;
        }
        chain.push(parent);
        current = parent;
    }
    chain
}

fn short_command(info: &ProcInfo) -> String {
    let full = if info.cmdline.is_empty() {
        format!("[{}]", info.name)
    } else {
        info.cmdline.join(" ")
    };
    if full.chars().count() > 60 {
        format!("{}…", full.chars().take(59).collect::<String>())
    } else {
        full
    }
}

/// Pick among the processes matching a name or regex.
pub fn choose(
    mut matches: Vec<ProcInfo>,
    what: String,
    pick: Option<Pick>,
) -> Result<Vec<ProcInfo>, TargetError> {
    matches.sort_by_key(|p| (p.id.start, p.id.pid));
    match (matches.len(), pick) {
        (0, _) => Err(TargetError::NoMatch { what }),
        (1, _) | (_, Some(Pick::All)) => Ok(matches),
        (_, Some(Pick::Oldest)) => Ok(matches.into_iter().take(1).collect()),
        (_, Some(Pick::Newest)) => Ok(matches.into_iter().last().into_iter().collect()),
        (count, None) => {
            let list = matches
                .iter()
                .map(|p| format!("{} ({})", p.id.pid, short_command(p)))
                .collect::<Vec<_>>()
                .join(", ");
            Err(TargetError::Ambiguous { what, count, list })
        }
    }
}

/// Resolve an existing process (not `Spawn`) to its root processes.
pub fn resolve(
    spec: &TargetSpec,
    pick: Option<Pick>,
    table: &mut dyn ProcessTable,
) -> Result<Vec<ProcInfo>, TargetError> {
    let self_pid = std::process::id();
    match spec {
        TargetSpec::Pid(pid) => {
            if *pid == self_pid {
                return Err(TargetError::IsSelf(*pid));
            }
            table
                .get(*pid)?
                .map(|p| vec![p])
                .ok_or(TargetError::NoSuchPid(*pid))
        }
        TargetSpec::Name(name) => {
            let all = table.list()?;
            let excluded = self_and_ancestors(&all, self_pid);
            let found = all
                .into_iter()
                .filter(|p| !excluded.contains(&p.id.pid) && name_matches(p, name))
                .collect();
            choose(found, format!("name '{name}'"), pick)
        }
        TargetSpec::Match(re) => {
            let all = table.list()?;
            let excluded = self_and_ancestors(&all, self_pid);
            let found = all
                .into_iter()
                .filter(|p| !excluded.contains(&p.id.pid) && command_line_matches(p, re))
                .collect();
            choose(found, format!("regex '{}'", re.as_str()), pick)
        }
        TargetSpec::Spawn(_) | TargetSpec::Cgroup(_) | TargetSpec::Container(_) => {
            Err(TargetError::NoMatch {
                what: "a command to start or a cgroup (resolved elsewhere)".into(),
            })
        }
    }
}

/// Start `command` with its stdout and stderr written to `log_path`, in its own process
/// group so that a Ctrl-C meant for soakprof does not kill it (soakprof stops it itself).
pub fn spawn(command: &[String], log_path: &Path) -> Result<Child, ProcessError> {
    let Some((program, args)) = command.split_first() else {
        return Err(ProcessError::Start {
            command: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        });
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    process::spawn(&mut cmd, &command.join(" "), log_path)
}

/// How long [`wait_past_exec`] waits for a started target to be past its exec.
pub const EXEC_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Has a started process finished its exec, judged from `/proc/PID/exe` (`exe`),
/// `/proc/PID/cmdline` (`cmdline`) and `/proc/PID/maps` (`maps`)? `own` is soakprof's own
/// executable and command line: a process with both is still soakprof's fork (a target may
/// be soakprof's own executable, as the demo's fixture is, but not with its command line).
///
/// `Command::spawn` returns when the child's close-on-exec pipe closes, which the kernel
/// does early in `execve`: `/proc/PID/exe` already names the new program, but its image
/// may not be mapped yet (RSS 0, a few hundred KB of VMS), and a dynamically linked
/// program then spends a while in its ELF interpreter before its libraries are mapped.
/// The rule: the process is not soakprof's fork, its file is mapped, and when a second file
/// is mapped (the interpreter of a dynamically linked program) a third one is too (the
/// loader has mapped the program's libraries). A static program has only its own file.
pub fn past_exec(own: (&str, &[u8]), exe: &str, cmdline: &[u8], maps: &str) -> bool {
    if exe.is_empty() || (exe == own.0 && cmdline == own.1) {
        return false;
    }
    let mut files: Vec<&str> = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode path: the path is what follows the 5th field.
        let path = line.splitn(6, ' ').nth(5).map(str::trim).unwrap_or("");
        if path.starts_with('/') && !files.contains(&path) {
            files.push(path);
        }
    }
    files.contains(&exe) && files.len() != 2
}

/// Wait, at most `timeout`, until the started process `pid` is past its exec (see
/// [`past_exec`]). False when it was not within the timeout (it may have exited, or be
/// a dynamically linked program whose loader maps nothing more): sampling then starts
/// anyway. Elsewhere than Linux there is nothing to look at: true at once.
#[cfg(not(target_os = "linux"))]
pub fn wait_past_exec(_pid: u32, _timeout: std::time::Duration) -> bool {
    true
}

/// See the other definition.
#[cfg(target_os = "linux")]
pub fn wait_past_exec(pid: u32, timeout: std::time::Duration) -> bool {
    let own_exe = read_link(Path::new("/proc/self/exe"));
    let own_cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let exe = read_link(&dir.join("exe"));
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let maps = std::fs::read_to_string(dir.join("maps")).unwrap_or_default();
        if past_exec((&own_exe, &own_cmdline), &exe, &cmdline, &maps) {
            return true;
        }
        if std::time::Instant::now() >= deadline || !dir.exists() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(target_os = "linux")]
fn read_link(path: &Path) -> String {
    std::fs::read_link(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::ProcId;

    fn proc(
        pid: u32,
        ppid: u32,
        start: u64,
        name: &str,
        exe: Option<&str>,
        cmd: &[&str],
    ) -> ProcInfo {
        ProcInfo {
            id: ProcId { pid, start },
            ppid,
            name: name.into(),
            exe_name: exe.map(Into::into),
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_match_comm_truncation_exe_and_argv0() {
        let fixture = proc(
            10,
            1,
            5,
            "soakprof-fixtur",
            Some("soakprof-fixture"),
            &["./soakprof-fixture"],
        );
        assert!(name_matches(&fixture, "soakprof-fixture"));
        assert!(name_matches(&fixture, "soakprof-fixtur"));
        assert!(!name_matches(&fixture, "soakprof"));
        let comm_only = proc(11, 1, 5, "a-very-long-wor", None, &[]);
        assert!(name_matches(&comm_only, "a-very-long-worker-name"));
        let python = proc(
            12,
            1,
            5,
            "python3",
            Some("python3.11"),
            &["/usr/bin/python3", "app.py"],
        );
        assert!(name_matches(&python, "python3"));
        assert!(name_matches(&python, "python3.11"));
        assert!(!name_matches(&python, "app.py"));
        assert!(!name_matches(&python, "python"));
    }

    #[test]
    fn regex_over_full_command_line() {
        let python = proc(
            12,
            1,
            5,
            "python3",
            None,
            &["python3", "app.py", "--port", "8000"],
        );
        assert!(command_line_matches(
            &python,
            &Regex::new(r"app\.py").unwrap()
        ));
        assert!(command_line_matches(
            &python,
            &Regex::new(r"app\.py --port 8000$").unwrap()
        ));
        let kernel_thread = proc(2, 0, 1, "kthreadd", None, &[]);
        assert!(!command_line_matches(
            &kernel_thread,
            &Regex::new("kthreadd").unwrap()
        ));
    }

    #[test]
    fn ambiguity_lists_candidates_or_picks() {
        let a = proc(100, 1, 50, "api", None, &["api", "--worker", "1"]);
        let b = proc(200, 1, 10, "api", None, &["api", "--worker", "2"]);
        let both = || vec![a.clone(), b.clone()];
        let err = choose(both(), "name 'api'".into(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("matches 2 processes"), "{err}");
        assert!(
            err.contains("100 (api --worker 1)") && err.contains("200 (api --worker 2)"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        assert_eq!(
            choose(both(), String::new(), Some(Pick::Newest)).unwrap()[0]
                .id
                .pid,
            100
        );
        assert_eq!(
            choose(both(), String::new(), Some(Pick::Oldest)).unwrap()[0]
                .id
                .pid,
            200
        );
        assert_eq!(
            choose(both(), String::new(), Some(Pick::All))
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            choose(vec![], "x".into(), None),
            Err(TargetError::NoMatch { .. })
        ));
    }

    #[test]
    fn ancestors_are_found() {
        let table = vec![
            proc(1, 0, 1, "init", None, &[]),
            proc(50, 1, 2, "bash", None, &[]),
            proc(60, 50, 3, "cargo", None, &[]),
            proc(70, 60, 4, "soakprof", None, &[]),
            proc(80, 1, 5, "other", None, &[]),
        ];
        assert_eq!(self_and_ancestors(&table, 70), vec![70, 60, 50, 1]);
    }

    #[test]
    fn past_exec_needs_the_image_and_the_libraries_mapped() {
        let own_exe = "/work/target/debug/soakprof";
        let own: (&str, &[u8]) = (own_exe, b"soakprof\0record\0--\0python3\0");
        let py = "/usr/bin/python3.11";
        let argv: &[u8] = b"python3\0-c\0pass\0";
        let exe_line = format!("55d0-55d1 r--p 00000000 08:01 123 {py}");
        let ld = "7f00-7f01 r--p 00000000 08:01 124 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
        let libc = "7f02-7f03 r-xp 00000000 08:01 125 /usr/lib/x86_64-linux-gnu/libc.so.6";
        let stack = "7ffc-7ffd rw-p 00000000 00:00 0                          [stack]";
        let own_maps = format!("1-2 r--p 0 08:01 1 {own_exe}\n{ld}\n{libc}\n{stack}");
        // The fork before exec: soakprof's own executable and command line.
        assert!(!past_exec(own, own_exe, own.1, &own_maps));
        // soakprof's own executable as the target (the demo's fixture): past its exec
        // once its command line is its own.
        assert!(past_exec(own, own_exe, b"soakprof\0fixture\0", &own_maps));
        // Exec begun: exe names the program, nothing of it mapped yet.
        assert!(!past_exec(own, py, argv, stack));
        // In the loader: the program and its interpreter only.
        let loading = format!("{exe_line}\n{ld}\n{stack}");
        assert!(!past_exec(own, py, argv, &loading));
        // The libraries mapped.
        let loaded = format!("{exe_line}\n{ld}\n{libc}\n{stack}");
        assert!(past_exec(own, py, argv, &loaded));
        // A static program has only its own file.
        assert!(past_exec(own, py, argv, &format!("{exe_line}\n{stack}")));
        assert!(!past_exec(own, "", b"", ""));
    }
}
