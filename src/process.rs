//! Processes soakprof starts: the target (`record -- CMD`) and the `--load-cmd` driver.
//!
//! Each is started in its own process group, so a Ctrl-C meant for soakprof does not reach
//! it and one signal reaches everything it starts; it is stopped with SIGTERM to the group,
//! then SIGKILL to the group after [`STOP_GRACE`]. How a process ended is one [`Exit`],
//! whichever way it was learnt (waiting on it, or a zombie's wait status in /proc).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::output_log::{self, OUTPUT_LOG_CAP_BYTES};

/// Time a stopped process group gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often a wait with a timeout looks at the leader.
const POLL: Duration = Duration::from_millis(2);

/// How long an adopted orphan may take to be reaped after SIGKILL (one stuck in the
/// kernel is given up on, not waited for).
const KILLED_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start `{command}`: {source}")]
    Start {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot create {}: {source}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ProcessError {
    /// A program that cannot be started is the user's to fix; a log file that cannot be
    /// created is a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ProcessError::Start { .. } => true,
            ProcessError::Log { .. } => false,
        }
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It is gone, but how it ended is not known.
    Unknown,
}

impl Exit {
    pub fn from_status(status: ExitStatus) -> Exit {
        #[cfg(unix)]
        let signal = {
            use std::os::unix::process::ExitStatusExt;
            status.signal()
        };
        #[cfg(not(unix))]
        let signal = None;
        Exit::from_parts(status.code(), signal)
    }

    /// Decode a raw wait status, as a zombie's /proc stat shows it.
    pub fn from_wait_status(status: i32) -> Exit {
        let signal = status & 0x7f;
        if signal == 0 {
            Exit::Code((status >> 8) & 0xff)
        } else {
            Exit::Signal(signal)
        }
    }

    /// From the `code` and `signal` fields the run log and load log store.
    pub fn from_parts(code: Option<i32>, signal: Option<i32>) -> Exit {
        match (code, signal) {
            (_, Some(s)) => Exit::Signal(s),
            (Some(c), None) => Exit::Code(c),
            (None, None) => Exit::Unknown,
        }
    }

    /// The `code` field of the logs.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) | Exit::Unknown => None,
        }
    }

    /// The `signal` field of the logs.
    pub fn signal(self) -> Option<i32> {
        match self {
            Exit::Signal(s) => Some(s),
            Exit::Code(_) | Exit::Unknown => None,
        }
    }

    /// `(code, signal)`, as the logs store them.
    pub fn to_parts(self) -> (Option<i32>, Option<i32>) {
        (self.code(), self.signal())
    }

    /// "exited with status 3", "was killed by signal 9", "exited".
    pub fn describe(self) -> String {
        match self {
            Exit::Code(c) => format!("exited with status {c}"),
            Exit::Signal(s) => format!("was killed by signal {s}"),
            Exit::Unknown => "exited".to_string(),
        }
    }
}

/// The usual name of a signal number ("signal" when it is not a common one).
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Start `command` in its own process group, stdin from /dev/null, stdout and stderr
/// through one pipe to `log_path` (created, or truncated), capped and rotated by a thread
/// ([`output_log`]). `shown` names the command in errors.
///
/// On Linux it gets SIGKILL when soakprof dies (PR_SET_PDEATHSIG), however soakprof dies
/// (`kill -9` included), so it never outlives its profiler. The kernel sends that signal
/// when the *thread* that started it ends: call this from a thread that lives as long as
/// the process (soakprof starts both its target and `--load-cmd` from the main thread).
pub fn spawn(command: &mut Command, shown: &str, log_path: &Path) -> Result<Child, ProcessError> {
    let log_error = |source| ProcessError::Log {
        path: log_path.to_path_buf(),
        source,
    };
    let log = File::create(log_path).map_err(log_error)?;
    let (reader, writer) = std::io::pipe().map_err(log_error)?;
    let writer_err = writer.try_clone().map_err(log_error)?;
    command
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let path = log_path.to_path_buf();
    // Started before the command, so a command that starts never lacks its reader. Not
    // joined: what it has read is already written, and a process that outlives its
    // group's stop must not hold up the end of the run.
    std::thread::Builder::new()
        .name("soakprof-output".into())
        .spawn(move || output_log::copy_capped(reader, log, &path, OUTPUT_LOG_CAP_BYTES))
        .map_err(log_error)?;
    #[cfg(target_os = "linux")]
    die_with_parent(command);
    // Registered before the lock is let go, so a process that exits at once is never taken
    // for an adopted orphan and reaped before its `Child` learns how it ended.
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let spawned = command.spawn();
    // The command holds this process's ends of the pipe: close them, so the copier sees
    // the end of the output when the last process that holds it exits.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let child = spawned.map_err(|source| ProcessError::Start {
        command: shown.to_string(),
        source,
    })?;
    started.push(child.id());
    Ok(child)
}

/// SIGKILL for the started process when soakprof dies. Between setting it and exec, the
/// parent may already have died (then the signal never comes): the child checks that its
/// parent is still the one that started it, and fails to start otherwise.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: runs in the forked child before exec, and only calls async-signal-safe
    // functions (prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let kill = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, kill, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// PIDs of the processes [`spawn`] started: how each ended belongs to its `Child`, so the
/// reaping of adopted orphans leaves them alone.
static STARTED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Whether soakprof is the reaper of its orphaned descendants ([`adopt_orphans`]).
static ADOPTING: AtomicBool = AtomicBool::new(false);

/// How many rounds [`stop_adopted`] makes: stopping an orphan orphans its own children,
/// who are adopted in turn.
const ADOPTED_ROUNDS: usize = 4;

/// Make soakprof the reaper of its orphaned descendants (Linux's PR_SET_CHILD_SUBREAPER):
/// a process that a started target leaves behind, even in a session of its own (a
/// daemon), then becomes soakprof's child, which [`stop_adopted`] stops at the end of the
/// run and [`reap_adopted`] reaps when it exits. For the `record` command only: everything
/// this process has as children afterwards is taken for its own to stop.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(2) with an integer argument; no memory involved.
        let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
        if set == 0 {
            ADOPTING.store(true, Ordering::SeqCst);
        }
    }
}

/// Adopted orphans: children of this process that [`spawn`] did not start.
fn adopted(started: &[u32]) -> Vec<u32> {
    own_children()
        .into_iter()
        .filter(|pid| !started.contains(pid))
        .collect()
}

/// This process's children: from /proc/self/task/*/children, else (a kernel without that
/// file) from the parent PID of every process.
fn own_children() -> Vec<u32> {
    let parse = |text: &str| -> Vec<u32> {
        text.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let mut children = Vec::new();
    let mut found = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                found = true;
                children.extend(parse(&text));
            }
        }
    }
    if !found {
        let me = std::process::id();
        let procs = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        children.extend(procs.filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid: u32 = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == me).then_some(pid)
        }));
    }
    children.sort_unstable();
    children.dedup();
    children
}

/// Reap `pid` if it has exited; true when it is gone (reaped now, or no child of ours).
fn reaped(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        let mut status = 0;
        // SAFETY: waitpid(2) on one PID, with WNOHANG, into a status we own.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        got != 0
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Reap the adopted orphans that have exited (on SIGCHLD), so none is left a zombie.
pub fn reap_adopted() {
    if !ADOPTING.load(Ordering::SeqCst) {
        return;
    }
    let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    for pid in adopted(&started) {
        reaped(pid);
    }
}

/// Signal an adopted orphan: its whole group when it leads one (a daemon's session),
/// else itself.
fn signal_orphan(pid: u32, signal: Signal) {
    #[cfg(unix)]
    if let Ok(id) = libc::pid_t::try_from(pid) {
        // SAFETY: getpgid(2) and kill(2) on a PID; no memory involved.
        let leads = unsafe { libc::getpgid(id) } == id;
        if leads {
            signal_group(pid, signal);
        } else {
            let signal = match signal {
                Signal::Term => libc::SIGTERM,
                Signal::Kill => libc::SIGKILL,
            };
            unsafe {
                libc::kill(id, signal);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

/// Stop the orphans soakprof adopted ([`adopt_orphans`]): SIGTERM, up to `grace` for them
/// to exit, then SIGKILL; each is reaped. Orphans that appear as those die are killed at
/// once. Returns the PIDs of those that were still running.
pub fn stop_adopted(grace: Duration) -> Vec<u32> {
    let mut stopped = Vec::new();
    if !ADOPTING.load(Ordering::SeqCst) {
        return stopped;
    }
    for round in 0..ADOPTED_ROUNDS {
        // Those found later were orphaned by this stop, after the grace: no second one.
        let grace = if round == 0 { grace } else { Duration::ZERO };
        // Those that have exited already are only reaped; the others are stopped.
        let orphans: Vec<u32> = adopted(&STARTED.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .filter(|&pid| !reaped(pid))
            .collect();
        if orphans.is_empty() {
            break;
        }
        for &pid in &orphans {
            signal_orphan(pid, Signal::Term);
        }
        let mut left = orphans.clone();
        let start = Instant::now();
        let mut killed = false;
        while !left.is_empty() {
            left.retain(|&pid| !reaped(pid));
            if !killed && start.elapsed() >= grace {
                left.iter()
                    .for_each(|&pid| signal_orphan(pid, Signal::Kill));
                killed = true;
            } else if killed && start.elapsed() >= grace + KILLED_WAIT {
                break;
            }
            std::thread::sleep(POLL);
        }
        stopped.extend(orphans);
    }
    stopped.sort_unstable();
    stopped.dedup();
    stopped
}

/// SIGTERM to every adopted orphan, for a soakprof about to exit at once.
pub fn terminate_adopted() {
    if ADOPTING.load(Ordering::SeqCst) {
        let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        for pid in adopted(&started) {
            signal_orphan(pid, Signal::Term);
        }
    }
}

/// The leader of a process group that [`stop_group`] stops: how to learn its exit.
pub trait Leader {
    /// The group: the leader's PID.
    fn pgid(&self) -> u32;
    /// The leader's exit if it comes within `timeout` (zero: only look).
    fn exit_within(&mut self, timeout: Duration) -> Option<Exit>;
    /// The leader's exit, once SIGKILL was sent to its group.
    fn exit_after_kill(&mut self) -> Exit;
    /// Called once, just before SIGTERM, when the leader still runs.
    fn stopping(&mut self) {}
}

/// How [`stop_group`] found or left the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It had exited before the stop.
    Exited(Exit),
    /// It exited within the grace after SIGTERM.
    Terminated(Exit),
    /// It was still running after the grace, and was killed.
    Killed(Exit),
}

impl Stopped {
    pub fn exit(self) -> Exit {
        match self {
            Stopped::Exited(e) | Stopped::Terminated(e) | Stopped::Killed(e) => e,
        }
    }

    /// Did the stop end the leader (rather than find it gone)?
    pub fn was_running(self) -> bool {
        !matches!(self, Stopped::Exited(_))
    }
}

/// Stop a process group: SIGTERM, up to `grace` for the leader to exit, then SIGKILL. The
/// group is killed even when the leader had already exited, so nothing it started is left.
pub fn stop_group(leader: &mut impl Leader, grace: Duration) -> Stopped {
    let pgid = leader.pgid();
    let stopped = if let Some(exit) = leader.exit_within(Duration::ZERO) {
        Stopped::Exited(exit)
    } else {
        leader.stopping();
        signal_group(pgid, Signal::Term);
        match leader.exit_within(grace) {
            Some(exit) => Stopped::Terminated(exit),
            None => {
                signal_group(pgid, Signal::Kill);
                Stopped::Killed(leader.exit_after_kill())
            }
        }
    };
    // Whatever the leader did, its group goes with it.
    signal_group(pgid, Signal::Kill);
    clear_spawned_group(pgid);
    stopped
}

/// Stop the group led by `child` (started by [`spawn`]); see [`stop_group`].
pub fn stop(child: &mut Child, grace: Duration) -> Stopped {
    stop_group(child, grace)
}

/// The exit of `child` if it comes within `timeout`.
pub fn exit_within(child: &mut Child, timeout: Duration) -> Option<Exit> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Exit::from_status(status)),
            // Not ours to wait for any more (reaped elsewhere): gone, status unknown.
            Err(_) => return Some(Exit::Unknown),
            Ok(None) if start.elapsed() >= timeout => return None,
            Ok(None) => std::thread::sleep(POLL),
        }
    }
}

impl Leader for Child {
    fn pgid(&self) -> u32 {
        self.id()
    }
    fn exit_within(&mut self, timeout: Duration) -> Option<Exit> {
        exit_within(self, timeout)
    }
    fn exit_after_kill(&mut self) -> Exit {
        // The group was killed; this covers the leader where there are no groups.
        let _ = self.kill();
        self.wait().map_or(Exit::Unknown, Exit::from_status)
    }
}

#[derive(Clone, Copy, Debug)]
enum Signal {
    Term,
    Kill,
}

/// Send `signal` to process group `pgid`; a group already gone is no error.
fn signal_group(pgid: u32, signal: Signal) {
    #[cfg(unix)]
    if let Ok(pgid) = i32::try_from(pgid)
        && pgid > 0
    {
        let signal = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: kill(2) with a negative PID signals a process group; no memory involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (pgid, signal);
}

/// Process group of a target soakprof started, so a second Ctrl-C can stop it on the way out.
static SPAWNED_GROUP: AtomicU32 = AtomicU32::new(0);

/// Remember the group to terminate when soakprof quits at once (0: none).
pub fn set_spawned_group(pgid: u32) {
    SPAWNED_GROUP.store(pgid, Ordering::SeqCst);
}

/// Forget `pgid` if it is the remembered group (it has been stopped).
fn clear_spawned_group(pgid: u32) {
    let _ = SPAWNED_GROUP.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
}

/// SIGTERM to the remembered group, if any: for a soakprof about to exit at once.
pub fn terminate_spawned_group() {
    let pgid = SPAWNED_GROUP.load(Ordering::SeqCst);
    if pgid > 0 {
        signal_group(pgid, Signal::Term);
    }
}

/// Shell words that are not programs on PATH (builtins, keywords, wrappers): a command
/// line starting with one is left to the shell.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "[[", "alias", "bg", "builtin", "case", "cd", "command", "echo", "eval",
    "exec", "exit", "export", "false", "fg", "for", "function", "if", "kill", "printf", "pwd",
    "read", "readonly", "set", "shift", "source", "test", "time", "times", "trap", "true", "type",
    "ulimit", "umask", "unset", "until", "wait", "while", "{",
];

/// The program a `sh -c` command line runs first, when that is plain to see: the first
/// word after any `NAME=value` assignments, when it has no quoting, expansion or other
/// shell syntax and is not a shell builtin or keyword. `None` when only the shell can tell.
pub fn first_program(command: &str) -> Option<&str> {
    let word = command.split_whitespace().find(|w| !is_assignment(w))?;
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./+@%,".contains(c));
    (plain && !SHELL_WORDS.contains(&word)).then_some(word)
}

/// `NAME=value` with a shell variable name.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Whether `program` can be run: a path to an executable file, or a name found as one in
/// a directory of `PATH` (as `sh` looks it up).
pub fn is_runnable(program: &str) -> bool {
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            // An empty PATH entry is the current directory.
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".").to_path_buf()
            } else {
                dir
            };
            executable(&dir.join(program))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_decoding() {
        assert_eq!(Exit::from_wait_status(3 << 8), Exit::Code(3));
        assert_eq!(Exit::from_wait_status(9), Exit::Signal(9));
        assert_eq!(Exit::from_wait_status(0), Exit::Code(0));
        assert_eq!(Exit::from_wait_status(3 << 8).to_parts(), (Some(3), None));
        assert_eq!(Exit::from_wait_status(9).to_parts(), (None, Some(9)));
        assert_eq!(Exit::from_wait_status(0).to_parts(), (Some(0), None));
    }

    #[test]
    fn exits_decode_and_describe() {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                Exit::from_status(ExitStatus::from_raw(3 << 8)),
                Exit::Code(3)
            );
            assert_eq!(Exit::from_status(ExitStatus::from_raw(9)), Exit::Signal(9));
            assert_eq!(Exit::from_status(ExitStatus::from_raw(0)), Exit::Code(0));
        }
        let table = [
            (Exit::Code(3), (Some(3), None), "exited with status 3"),
            (Exit::Code(0), (Some(0), None), "exited with status 0"),
            (Exit::Signal(9), (None, Some(9)), "was killed by signal 9"),
            (
                Exit::Signal(15),
                (None, Some(15)),
                "was killed by signal 15",
            ),
            (Exit::Unknown, (None, None), "exited"),
        ];
        for (exit, (code, signal), text) in table {
            assert_eq!(exit.to_parts(), (code, signal));
            assert_eq!((exit.code(), exit.signal()), (code, signal));
            assert_eq!(Exit::from_parts(code, signal), exit);
            assert_eq!(exit.describe(), text);
        }
        // A signal wins over a code, as in the wording used before.
        assert_eq!(Exit::from_parts(Some(1), Some(6)), Exit::Signal(6));
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(64), "signal");
    }

    /// Kills a test's process group when the test ends, whatever happened in it.
    struct Cleanup(u32);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            signal_group(self.0, Signal::Kill);
        }
    }

    fn shell(script: &str, dir: &Path) -> (Child, Cleanup) {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        let child = spawn(&mut command, script, &dir.join("out.log")).unwrap();
        let cleanup = Cleanup(child.id());
        (child, cleanup)
    }

    /// The first line of the log once the script has written it.
    fn first_line(dir: &Path) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let text = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
            if let Some(line) = text.lines().next() {
                return line.to_string();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the script wrote nothing");
    }

    /// Is `pid` gone (no process, or a zombie nobody reaps)? Waits a little for it.
    fn gone(pid: u32) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat)
                    if stat
                        .rsplit(')')
                        .next()
                        .is_some_and(|s| s.trim_start().starts_with('Z')) =>
                {
                    return true;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        false
    }

    #[test]
    fn spawn_errors_name_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("/nonexistent/soakprof-no-such-program");
        let err = spawn(
            &mut command,
            "no-such-program --flag",
            &dir.path().join("t.log"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot start `no-such-program --flag`: No such file or directory"),
            "{err}"
        );
        assert!(err.is_bad_input());
        let log = dir.path().join("missing").join("t.log");
        let err = spawn(&mut Command::new("true"), "true", &log).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create {}: ", log.display())),
            "{err}"
        );
        assert!(!err.is_bad_input());
    }

    #[test]
    fn sleep_stops_on_sigterm_within_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sleep");
        command.arg("30");
        let mut child = spawn(&mut command, "sleep 30", &dir.path().join("out.log")).unwrap();
        let _cleanup = Cleanup(child.id());
        let start = Instant::now();
        let stopped = stop(&mut child, STOP_GRACE);
        assert!(start.elapsed() < STOP_GRACE, "{:?}", start.elapsed());
        assert_eq!(stopped, Stopped::Terminated(Exit::Signal(15)));
        assert!(stopped.was_running());
    }

    #[test]
    fn a_leader_ignoring_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _cleanup) = shell(r#"trap "" TERM; echo ready; sleep 30"#, dir.path());
        assert_eq!(first_line(dir.path()), "ready");
        let grace = Duration::from_millis(200);
        let start = Instant::now();
        let stopped = stop(&mut child, grace);
        let took = start.elapsed();
        assert_eq!(stopped, Stopped::Killed(Exit::Signal(9)));
        assert!(took >= grace && took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn the_group_goes_with_its_leader() {
        // The grandchild ignores SIGTERM (and says its PID once it does); the leader does not.
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _cleanup) = shell(
            r#"sh -c 'trap "" TERM; echo $$; exec sleep 30' & wait"#,
            dir.path(),
        );
        let grandchild: u32 = first_line(dir.path()).parse().unwrap();
        let stopped = stop(&mut child, Duration::from_secs(2));
        assert_eq!(stopped, Stopped::Terminated(Exit::Signal(15)));
        assert!(gone(grandchild), "grandchild {grandchild} still runs");
    }

    #[test]
    fn a_group_whose_leader_exited_is_killed_too() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _cleanup) = shell("sleep 30 & echo $!", dir.path());
        let grandchild: u32 = first_line(dir.path()).parse().unwrap();
        assert_eq!(
            exit_within(&mut child, Duration::from_secs(5)),
            Some(Exit::Code(0))
        );
        let stopped = stop(&mut child, Duration::from_millis(200));
        assert_eq!(stopped, Stopped::Exited(Exit::Code(0)));
        assert!(!stopped.was_running());
        assert!(gone(grandchild), "grandchild {grandchild} still runs");
    }

    #[test]
    fn a_stopped_group_is_no_longer_the_one_to_terminate() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _cleanup) = shell("exit 0", dir.path());
        let pgid = child.id();
        set_spawned_group(pgid);
        stop(&mut child, Duration::from_millis(200));
        assert_ne!(SPAWNED_GROUP.load(Ordering::SeqCst), pgid);
    }

    #[test]
    fn the_first_program_of_a_command_line_when_plain() {
        assert_eq!(first_program("k6 run x.js"), Some("k6"));
        assert_eq!(
            first_program("  K6_OUT=json RATE=2 ./load.sh --fast"),
            Some("./load.sh")
        );
        assert_eq!(first_program("cd tests && locust -f x.py"), None);
        assert_eq!(first_program("exec wrk -t2 http://127.0.0.1:1/"), None);
        assert_eq!(first_program("\"$HOME/bin/k6\" run"), None);
        assert_eq!(first_program("$(which k6) run"), None);
        assert_eq!(first_program("(sleep 1)"), None);
        assert_eq!(first_program("A=1"), None);
        assert!(is_runnable("sh"));
        assert!(is_runnable("/bin/sh"));
        assert!(!is_runnable("/nonexistent/k6"));
        assert!(!is_runnable("soakprof-no-such-program"));
        // A file that is not executable is not a program.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("load.sh");
        std::fs::write(&file, "echo hi").unwrap();
        assert!(!is_runnable(file.to_str().unwrap()));
    }
}
