//! What users do to a long run's terminal and processes (issue 12, defects 1, 2, 8 and two
//! of 12): a hung-up terminal, SIGTERM and SIGINT with no `--duration`, stdout and stderr
//! that cannot be written, `kill -9` of the profiler, a target that leaves a child behind,
//! an interval longer than the run, and the profiler's own CPU.

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// How long any run below may take before the test gives up on it (they last seconds).
const TIMEOUT: Duration = Duration::from_secs(60);

/// PIDs the test started (directly or not) and must not leave running: SIGKILLed on drop,
/// whatever the test did.
#[derive(Default)]
struct Reap(Vec<u32>);

impl Reap {
    fn add(&mut self, pid: u32) -> u32 {
        self.0.push(pid);
        pid
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        for &pid in &self.0 {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Is `pid` running (not gone, not a zombie)?
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with(['Z', 'X']))
    })
}

/// Wait (a few seconds at most) for `pid` to be gone.
fn gone_soon(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The PID a started shell wrote to `file`, once it has.
fn pid_from(file: &Path) -> u32 {
    let mut pid = 0;
    wait_for(
        &format!("a PID in {}", file.display()),
        Duration::from_secs(20),
        || {
            pid = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            pid > 0
        },
    );
    pid
}

/// A shell command line that writes its PID to `pid_file`, then becomes the fixture
/// (same PID) with `args`, bounded by `--exit-after 60s`.
fn fixture_writing_pid(pid_file: &Path, args: &str) -> String {
    format!(
        "echo $$ > '{}'; exec '{}' --exit-after 60s {args}",
        pid_file.display(),
        fixture_bin().display()
    )
}

/// `/dev/full` for writing: every write fails with ENOSPC.
fn dev_full() -> Stdio {
    Stdio::from(
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// The write end of a pipe whose reader is already gone: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors; each is then owned exactly once.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// The write end of a pipe that is full and that nobody reads (a terminal paused with
/// Ctrl-S behaves alike): every write blocks. The read end is returned, to be held open.
fn full_pipe() -> (Stdio, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors; each is then owned exactly once.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Fill it without blocking, then make writes block again (the flag is the open file's,
    // so soakprof would inherit it).
    unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
    let chunk = [b'x'; 4096];
    while unsafe { libc::write(fds[1], chunk.as_ptr().cast(), chunk.len()) } > 0 {}
    unsafe { libc::fcntl(fds[1], libc::F_SETFL, 0) };
    (Stdio::from(write), read)
}

/// Start `soakprof ARGS...` with the given stdout and stderr.
fn start(args: &[&str], stdout: Stdio, stderr: Stdio) -> Child {
    Command::new(soakprof_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Wait for `child` up to `TIMEOUT`; past it, kill it and fail.
fn finish(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("soakprof still running after {TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `record --interval 50ms --out DIR [extra...] -- sh -c '<fixture writing its PID>'`.
fn record_args(dir: &Path, pid_file: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["record", "--interval", "50ms", "--out"]
        .map(String::from)
        .to_vec();
    args.push(dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--", "sh", "-c"].map(String::from));
    args.push(fixture_writing_pid(pid_file, ""));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn samples_in(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("samples.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"sample""#))
        .count()
}

/// A hang-up (the terminal's master closed, then SIGHUP, as an ssh drop does) ends a run on
/// a pseudo-terminal at once, with its report, and an exit code of the verdict.
#[test]
fn sighup_on_a_pty_ends_the_run_with_a_report() {
    if !have_tool("python3", "sighup_on_a_pty_ends_the_run_with_a_report") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("target.pid");
    let mut args = vec![soakprof_bin().display().to_string()];
    args.extend(record_args(&dir, &pid_file, &["--duration", "20s"]));
    // The pty side: run soakprof on a new pty, read it for 2 s, close the master, SIGHUP,
    // and print soakprof's exit code (99 when it had to be killed after 60 s).
    let script = r#"
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
def give_up(*_):
    os.kill(pid, signal.SIGKILL)
    print(99)
    sys.exit(0)
signal.signal(signal.SIGALRM, give_up)
signal.alarm(60)
end = time.time() + 2
while time.time() < end:
    if select.select([fd], [], [], 0.1)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            break
os.close(fd)
os.kill(pid, signal.SIGHUP)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"#;
    let mut reap = Reap::default();
    let started = Instant::now();
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let target = reap.add(pid_from(&pid_file));
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        code == "0" || code == "1",
        "soakprof's exit code on a hang-up: {code:?}; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(20), "the run went on: {took:?}");
    assert_complete_run(&dir);
    let v = read_verdict(&dir);
    assert_eq!(v["run"]["stop_reason"], "interrupted", "{v}");
    assert!(samples_in(&dir) >= 10, "{} samples", samples_in(&dir));
    assert!(gone_soon(target), "target {target} still runs");
}

/// With no `--duration` and stderr a pipe nobody reads, SIGTERM and SIGINT each end the
/// run with its report.
#[test]
fn sigterm_and_sigint_without_duration_end_with_a_report() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let pid_file = tmp.path().join("target.pid");
        let mut reap = Reap::default();
        let args = record_args(&dir, &pid_file, &[]);
        let mut child = start(&strs(&args), Stdio::null(), closed_pipe());
        reap.add(child.id());
        let target = reap.add(pid_from(&pid_file));
        wait_for_log_lines(&dir, 10);
        signal(child.id(), sig);
        let status = finish(&mut child);
        assert_eq!(status.code(), Some(0), "signal {sig}: {status:?}");
        assert_complete_run(&dir);
        assert_eq!(read_verdict(&dir)["run"]["stop_reason"], "interrupted");
        assert!(
            gone_soon(target),
            "signal {sig}: target {target} still runs"
        );
    }
}

/// stderr on a full device: every message fails, sampling goes on, the run completes and
/// the target is stopped.
#[test]
fn unwritable_stderr_never_stops_sampling() {
    assert_samples_to_the_end(Stdio::null(), dev_full());
}

/// stdout and stderr both pipes whose reader left (`| head -c 10`): nothing is lost, and a
/// reader that stops early is no error.
#[test]
fn closed_pipes_never_stop_sampling() {
    assert_samples_to_the_end(closed_pipe(), closed_pipe());
}

/// stderr a pipe that is full and never read: writes would block, so they are dropped;
/// sampling goes on and the run ends on time.
#[test]
fn a_stderr_that_blocks_never_stops_sampling() {
    let (stderr, _unread) = full_pipe();
    assert_samples_to_the_end(Stdio::null(), stderr);
}

/// A 2 s `record` of a started target with this stdout and stderr: it exits 0 within the
/// duration plus the stop grace (a correctness bound, not a speed target), with a complete
/// run of every sample, and its target gone.
fn assert_samples_to_the_end(stdout: Stdio, stderr: Stdio) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("target.pid");
    let mut reap = Reap::default();
    let args = record_args(&dir, &pid_file, &["--duration", "2s"]);
    let started = Instant::now();
    let mut child = start(&strs(&args), stdout, stderr);
    reap.add(child.id());
    let target = reap.add(pid_from(&pid_file));
    let status = finish(&mut child);
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_complete_run(&dir);
    assert!(samples_in(&dir) >= 30, "{} samples", samples_in(&dir));
    assert!(took < Duration::from_secs(7), "took {took:?}");
    assert!(gone_soon(target), "target {target} still runs");
}

/// The summary is the command's product: stdout on a full device is exit 3, one line, and
/// only after the run directory is complete.
#[test]
fn full_stdout_is_exit_3_after_a_complete_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("target.pid");
    let mut reap = Reap::default();
    let args = record_args(&dir, &pid_file, &["--duration", "1s", "--quiet"]);
    let child = Command::new(soakprof_bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(dev_full())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    reap.add(child.id());
    let out = child.wait_with_output().unwrap();
    let target = reap.add(pid_from(&pid_file));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("writing to stdout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_complete_run(&dir);
    assert!(gone_soon(target), "target {target} still runs");
}

/// `analyze` with stderr on a full device: the error cannot be said, but the exit code is
/// still the error's, not a panic's.
#[test]
fn analyze_with_full_stderr_does_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let mut child = start(
        &["analyze", missing.to_str().unwrap()],
        Stdio::null(),
        dev_full(),
    );
    assert_eq!(finish(&mut child).code(), Some(2));
    // A usage error too.
    let mut child = start(&["analyze", "--no-such-flag"], Stdio::null(), dev_full());
    assert_eq!(finish(&mut child).code(), Some(2));
}

/// `kill -9` of soakprof: the target it started and its `--load-cmd` die with it.
#[test]
fn sigkill_of_the_profiler_kills_what_it_started() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("target.pid");
    let load_pid_file = tmp.path().join("load.pid");
    let load_cmd = format!("echo $$ > '{}'; exec sleep 60", load_pid_file.display());
    let mut reap = Reap::default();
    let args = record_args(&dir, &pid_file, &["--quiet", "--load-cmd", &load_cmd]);
    let mut child = start(&strs(&args), Stdio::null(), Stdio::null());
    reap.add(child.id());
    let target = reap.add(pid_from(&pid_file));
    let load = reap.add(pid_from(&load_pid_file));
    wait_for_log_lines(&dir, 5);
    signal(child.id(), libc::SIGKILL);
    let _ = child.wait();
    assert!(gone_soon(target), "target {target} outlived soakprof");
    assert!(gone_soon(load), "--load-cmd {load} outlived soakprof");
}

/// A started target that leaves a child behind in a session of its own (a daemon) and
/// exits: the child is stopped at the end of the run too.
#[test]
fn a_child_the_target_left_behind_is_stopped_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("child.pid");
    let mut reap = Reap::default();
    let script = format!(
        "setsid sleep 60 & echo $! > '{}'; sleep 0.5; exit 0",
        pid_file.display()
    );
    let mut child = start(
        &[
            "record",
            "--interval",
            "50ms",
            "--duration",
            "5s",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    reap.add(child.id());
    let left = reap.add(pid_from(&pid_file));
    let status = finish(&mut child);
    assert!(status.success(), "{status:?}");
    assert_eq!(read_verdict(&dir)["run"]["stop_reason"], "target_exited");
    assert!(gone_soon(left), "the target's child {left} still runs");
}

/// An interval longer than the run is bad input, said in one line.
#[test]
fn interval_longer_than_duration_is_bad_input() {
    let fixture = fixture_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = soakprof(&[
        "record",
        "--interval",
        "2s",
        "--duration",
        "1s",
        "--out",
        dir.to_str().unwrap(),
        "--",
        fixture.to_str().unwrap(),
    ]);
    assert_bad_input(&out, "--interval");
    assert!(!dir.exists(), "bad input leaves no run directory");
}

/// soakprof's own CPU is in the verdict, and `analyze` of the directory says the same.
#[test]
fn profiler_cpu_is_in_the_verdict_and_reanalysed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pid_file = tmp.path().join("target.pid");
    let mut reap = Reap::default();
    let args = record_args(&dir, &pid_file, &["--duration", "2s", "--quiet"]);
    let mut child = start(&strs(&args), Stdio::null(), Stdio::null());
    reap.add(child.id());
    reap.add(pid_from(&pid_file));
    assert_eq!(finish(&mut child).code(), Some(0));
    let recorded = read_verdict(&dir);
    let cpu = &recorded["run"]["profiler_cpu"];
    let mean = cpu["mean_cores"].as_f64().unwrap_or(-1.0);
    let max = cpu["max_cores"].as_f64().unwrap_or(-1.0);
    assert!(mean >= 0.0 && max >= 0.0, "{recorded}");
    let again = soakprof(&["analyze", dir.to_str().unwrap(), "--format", "json"]);
    let reanalysed: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(reanalysed, recorded);
}

/// Everything soakprof started ignores SIGTERM: the target, its daemonised child and a
/// `--load-cmd`. They are signalled together and share one stop grace, so the run still
/// ends within its duration plus that grace, with every one of them gone.
#[test]
fn processes_that_ignore_sigterm_share_one_stop_grace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let pids = tmp.path().join("pids");
    let mut reap = Reap::default();
    // Each ignores SIGTERM and writes its PID; the daemon is in a session of its own.
    let file = pids.display();
    let target = format!(
        "trap '' TERM; setsid sh -c \"trap '' TERM; echo \\$\\$ >> '{file}'; sleep 60\" & \
         echo $$ >> '{file}'; sleep 60"
    );
    let load_cmd = format!("trap '' TERM; echo $$ >> '{file}'; sleep 60");
    let started = Instant::now();
    let mut child = start(
        &[
            "record",
            "--interval",
            "100ms",
            "--duration",
            "2s",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
            "--load-cmd",
            &load_cmd,
            "--",
            "sh",
            "-c",
            &target,
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    reap.add(child.id());
    let status = finish(&mut child);
    let took = started.elapsed();
    let started_pids: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for &pid in &started_pids {
        reap.add(pid);
    }
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    assert_complete_run(&dir);
    assert_eq!(started_pids.len(), 3, "{started_pids:?}");
    for pid in started_pids {
        assert!(gone_soon(pid), "{pid} outlived the run");
    }
    // 2 s of run, one 5 s grace, a kill and the report: a correctness bound, not a speed
    // target (each stopped in turn took 2 + 3 × 5 s).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
