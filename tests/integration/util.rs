//! Helpers: start fixture processes, run soakprof, read its verdict.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use std::time::{Duration, Instant};

pub fn soakprof_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_soakprof"))
}

pub fn fixture_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_soakprof-fixture"))
}

/// A fixture process, killed when dropped.
pub struct Fixture {
    pub child: Child,
    pub pid: u32,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the fixture (under `name` when given: a copy of the binary with that file name,
/// so `--name` tests don't see each other's fixtures) and wait for its `ready` line.
pub fn start_fixture(name: Option<&str>, args: &[&str]) -> Fixture {
    let (program, dir) = match name {
        Some(name) => {
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join(name);
            std::fs::copy(fixture_bin(), &copy).unwrap();
            (copy, Some(dir))
        }
        None => (fixture_bin(), None),
    };
    // A binary just copied may be "text file busy" for a moment: another test thread's
    // fork can hold the copy's write descriptor until that child execs.
    let mut attempt = 0;
    let mut child = loop {
        match Command::new(&program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => break child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start {}: {e}", program.display()),
        }
    };
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next().expect("fixture printed nothing").unwrap();
    assert!(
        ready.starts_with("ready pid="),
        "unexpected first line: {ready}"
    );
    // Keep draining stdout so the fixture never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let pid = child.id();
    Fixture {
        child,
        pid,
        _dir: dir,
    }
}

/// A unique process name for this test run (longer than 15 bytes on purpose: the kernel
/// cuts `comm`, and `--name` must still find it by its executable's name).
pub fn unique_name(tag: &str) -> String {
    format!("soakfx-{tag}-{}", std::process::id())
}

pub fn soakprof(args: &[&str]) -> Output {
    Command::new(soakprof_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn read_verdict(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("verdict.json"))
        .unwrap_or_else(|e| panic!("no verdict.json in {}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

/// The run directory holds the log, the verdict and the three charts.
pub fn assert_complete_run(dir: &Path) {
    for file in [
        "samples.jsonl",
        "verdict.json",
        "memory.svg",
        "threads_fds.svg",
        "cpu.svg",
    ] {
        let path = dir.join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", path.display());
    }
}

/// Bad input: exit 2, one line on stderr, no panic.
pub fn assert_bad_input(out: &Output, expect_in_message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert!(
        err.contains(expect_in_message),
        "expected '{expect_in_message}' in: {err}"
    );
}

pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a PID this test started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// `soakprof record --pid PID --quiet --out DIR ARGS...` started in the background, for
/// tests that signal it.
pub fn record_in_background(pid: u32, args: &[&str], out_dir: &Path) -> Child {
    Command::new(soakprof_bin())
        .args(["record", "--pid", &pid.to_string(), "--quiet", "--out"])
        .arg(out_dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Wait until the run log in `dir` has more than `lines` lines; returns its path.
pub fn wait_for_log_lines(dir: &Path, lines: usize) -> PathBuf {
    let log = dir.join("samples.jsonl");
    wait_for(
        &format!("{lines} log lines"),
        Duration::from_secs(20),
        || std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() > lines),
    );
    log
}

/// Backstop for the fixture: it exits by itself after this long even if soakprof were
/// killed before stopping it (a target soakprof starts is in its own process group, so it
/// would otherwise outlive a killed profiler). Far above every `--duration` below.
const FIXTURE_EXIT_AFTER: &str = "90s";

/// How long soakprof may take beyond its `--duration` (start-up, final analysis, charts;
/// generous because tests share two CPUs) before the test gives up on it.
const GRACE: Duration = Duration::from_secs(30);

/// `soakprof record --interval 50ms --duration DURATION --quiet --out DIR [judge...] --
/// FIXTURE fixture_args...`; returns soakprof's output and its verdict.json.
pub fn record_fixture(
    duration_s: u64,
    judge: &[&str],
    fixture_args: &[&str],
) -> (Output, Value, tempfile::TempDir) {
    let out_dir = tempfile::tempdir().unwrap();
    let duration = format!("{duration_s}s");
    let fixture = fixture_bin();
    let mut args = vec![
        "record",
        "--interval",
        "50ms",
        "--duration",
        &duration,
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(judge);
    args.push("--");
    args.push(fixture.to_str().unwrap());
    args.extend_from_slice(fixture_args);
    // The backstop, unless the test sets its own exit.
    if !fixture_args.contains(&"--exit-after") {
        args.extend_from_slice(&["--exit-after", FIXTURE_EXIT_AFTER]);
    }
    let out = soakprof_within(Duration::from_secs(duration_s) + GRACE, &args);
    let verdict = read_verdict(out_dir.path());
    (out, verdict, out_dir)
}

/// Like `util::soakprof`, but bounded: a soakprof that hangs is stopped (SIGTERM, then
/// SIGKILL) and the test fails instead of hanging the suite.
pub fn soakprof_within(timeout: Duration, args: &[&str]) -> Output {
    let mut command = Command::new(soakprof_bin());
    command.args(args);
    command_within(timeout, command, args)
}

/// Run `command` (soakprof with `args`, and whatever environment the caller set), bounded
/// like [`soakprof_within`].
pub fn command_within(timeout: Duration, mut command: Command, args: &[&str]) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes while waiting, so a chatty soakprof never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            // SIGTERM first: soakprof then stops the fixture it started.
            crate::util::signal(child.id(), libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(3));
            let _ = child.kill();
            let _ = child.wait();
            panic!("soakprof {args:?} still running after {timeout:?}; stopped");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Is `program` on PATH? A test that needs a tool the machine lacks says it skipped and
/// passes, unless `SOAKPROF_REQUIRE_ALL` is set (`.ci/run` sets it after installing what
/// the tests need), when a missing tool is a failure.
pub fn have_tool(program: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if !found {
        assert!(
            std::env::var_os("SOAKPROF_REQUIRE_ALL").is_none(),
            "{test}: `{program}` is not installed, and SOAKPROF_REQUIRE_ALL is set"
        );
        eprintln!("{test}: skipped: `{program}` is not installed");
    }
    found
}

/// Wait for a background soakprof, bounded; its exit code and stderr.
pub fn finish(mut child: Child, timeout: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("soakprof still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
    }
    (status.code(), err)
}

/// A running soakprof is stopped (SIGINT: it still reports) if the test fails midway.
pub struct Recording(pub Option<Child>);

impl Recording {
    pub fn take(&mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            signal(child.id(), libc::SIGINT);
            std::thread::sleep(Duration::from_secs(2));
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
