//! The run directory: an existing run is never overwritten, two live runs never share one,
//! reads are bounded, data loss is a runtime error, a failed start leaves nothing behind,
//! and a report that cannot be written is never left half-written.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// `soakprof ARGS...` in `cwd` (when given), with stdout and stderr piped, running.
fn spawn_soakprof(cwd: Option<&Path>, args: &[&str]) -> Child {
    let mut cmd = Command::new(soakprof_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd.spawn().unwrap()
}

/// Wait for a soakprof started by `spawn_soakprof` (stopped and the test failed after
/// `timeout`), and collect its output.
fn finish(mut child: Child, timeout: Duration) -> Output {
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
            signal(child.id(), libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(2));
            let _ = child.kill();
            let _ = child.wait();
            panic!("soakprof still running after {timeout:?}; stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Limits set in a child before it runs: a full disk (RLIMIT_FSIZE, with SIGXFSZ ignored
/// so a write fails with EFBIG instead of killing it), a small heap (RLIMIT_DATA).
#[derive(Clone, Copy, Default)]
struct Limits {
    file_bytes: Option<u64>,
    heap_bytes: Option<u64>,
}

/// `soakprof ARGS...` under `limits`, bounded by `timeout`.
fn soakprof_limited(limits: Limits, timeout: Duration, args: &[&str]) -> Output {
    let mut cmd = Command::new(soakprof_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let set = |resource, value: Option<u64>| match value {
        Some(value) => {
            let limit = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            // SAFETY: setrlimit(2) on this (forked) process, with a limit we own.
            if unsafe { libc::setrlimit(resource, &limit) } == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
        None => Ok(()),
    };
    // SAFETY: between fork and exec only async-signal-safe calls (signal, setrlimit).
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            set(libc::RLIMIT_FSIZE, limits.file_bytes)?;
            set(libc::RLIMIT_DATA, limits.heap_bytes)
        });
    }
    finish(cmd.spawn().unwrap(), timeout)
}

/// Runtime error: exit 3, one line on stderr holding `expect`, no panic.
fn assert_runtime_error(out: &Output, expect: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(3), "exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(expect), "expected '{expect}' in: {err}");
}

/// `record --pid PID --interval 50ms --duration D --quiet --out DIR [extra...]`.
fn record_args<'a>(
    pid: &'a str,
    duration: &'a str,
    dir: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "record",
        "--pid",
        pid,
        "--interval",
        "50ms",
        "--duration",
        duration,
        "--quiet",
        "--out",
        dir,
    ];
    args.extend_from_slice(extra);
    args
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_directory_holding_a_run_is_refused_and_force_replaces_it() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir_s = dir.to_str().unwrap();
    let first = soakprof(&record_args(&pid, "1s", dir_s, &[]));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let log = std::fs::read(dir.join("samples.jsonl")).unwrap();

    let again = soakprof(&record_args(&pid, "1s", dir_s, &[]));
    assert_bad_input(&again, dir_s);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(dir.join("samples.jsonl")).unwrap(),
        log,
        "the refused run touched the log"
    );

    // --force replaces the run: a new log, and nothing of the old run is left behind.
    std::fs::write(dir.join("load.jsonl"), "{}\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let forced = soakprof(&record_args(&pid, "1s", dir_s, &["--force"]));
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert_ne!(std::fs::read(dir.join("samples.jsonl")).unwrap(), log);
    assert!(
        !dir.join("load.jsonl").exists(),
        "the old run's load log was kept"
    );
    assert!(
        dir.join("notes.txt").exists(),
        "a file of the user's was removed"
    );
    assert_complete_run(&dir);

    // An empty directory the user made is fine.
    let empty = tempfile::tempdir().unwrap();
    let out = soakprof(&record_args(
        &pid,
        "500ms",
        empty.path().to_str().unwrap(),
        &[],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_live_run_holds_its_directory_even_against_force() {
    let a = start_fixture(None, &[]);
    let b = start_fixture(None, &[]);
    let (pid_a, pid_b) = (a.pid.to_string(), b.pid.to_string());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir_s = dir.to_str().unwrap();
    let first = spawn_soakprof(None, &record_args(&pid_a, "3s", dir_s, &[]));
    wait_for_log_lines(&dir, 3);
    for extra in [&[][..], &["--force"][..]] {
        let second = soakprof(&record_args(&pid_b, "1s", dir_s, extra));
        assert_bad_input(&second, dir_s);
    }
    let first = finish(first, Duration::from_secs(30));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let verdict = read_verdict(&dir);
    assert_eq!(verdict["target"]["roots"][0]["pid"], a.pid, "{verdict}");
    let log = std::fs::read_to_string(dir.join("samples.jsonl")).unwrap();
    assert_eq!(
        log.matches(r#""type":"header""#).count(),
        1,
        "two runs in one log"
    );
}

#[test]
fn a_killed_run_does_not_block_analyze_or_force() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir_s = dir.to_str().unwrap();
    let mut killed = spawn_soakprof(None, &record_args(&pid, "30s", dir_s, &[]));
    wait_for_log_lines(&dir, 3);
    killed.kill().unwrap();
    killed.wait().unwrap();

    let out = soakprof_within(Duration::from_secs(30), &["analyze", dir_s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_bad_input(&soakprof(&record_args(&pid, "500ms", dir_s, &[])), dir_s);
    let forced = soakprof(&record_args(&pid, "500ms", dir_s, &["--force"]));
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
}

#[test]
fn default_run_directories_never_collide() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let cwd = tempfile::tempdir().unwrap();
    let args = [
        "record",
        "--pid",
        &pid,
        "--interval",
        "50ms",
        "--duration",
        "1s",
        "--quiet",
    ];
    // Started together, in the same second as a rule.
    let runs: Vec<Child> = (0..3)
        .map(|_| spawn_soakprof(Some(cwd.path()), &args))
        .collect();
    for run in runs {
        let out = finish(run, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let reports = cwd.path().join("reports");
    let dirs = file_names(&reports);
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    for name in dirs {
        let log = std::fs::read_to_string(reports.join(&name).join("samples.jsonl")).unwrap();
        assert_eq!(log.matches(r#""type":"header""#).count(), 1, "{name}");
    }
}

#[test]
fn logs_that_are_not_regular_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo_dir = tmp.path().join("fifo");
    std::fs::create_dir(&fifo_dir).unwrap();
    let fifo = std::ffi::CString::new(fifo_dir.join("samples.jsonl").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let mut dirs = vec![fifo_dir];
    for device in ["/dev/zero", "/dev/urandom"] {
        let dir = tmp.path().join(device.trim_start_matches("/dev/"));
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(device, dir.join("samples.jsonl")).unwrap();
        dirs.push(dir);
    }
    // A heap of 256 MiB: a reader that buffers the device fails fast instead of eating
    // the machine.
    let limits = Limits {
        heap_bytes: Some(256 << 20),
        ..Limits::default()
    };
    for dir in dirs {
        let out = soakprof_limited(
            limits,
            Duration::from_secs(10),
            &["analyze", dir.to_str().unwrap()],
        );
        assert_bad_input(&out, "not a regular file");
        assert!(
            stderr(&out).contains(dir.to_str().unwrap()),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_long_line_is_skipped_without_buffering_it() {
    let tmp = tempfile::tempdir().unwrap();
    soakprof::synthetic::write_soak_run(tmp.path(), 600, 1, false).unwrap();
    let log = tmp.path().join("samples.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    // 64 MiB of one line between the header and the samples.
    let mut bytes = Vec::with_capacity(text.len() + (64 << 20));
    bytes.extend_from_slice(header.as_bytes());
    bytes.push(b'\n');
    bytes.resize(bytes.len() + (64 << 20), b'x');
    bytes.push(b'\n');
    bytes.extend_from_slice(rest.as_bytes());
    std::fs::write(&log, bytes).unwrap();
    let out = soakprof_limited(
        Limits {
            heap_bytes: Some(48 << 20),
            ..Limits::default()
        },
        Duration::from_secs(30),
        &["analyze", "--format", "json", tmp.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["samples"], 600);
    assert_eq!(verdict["run"]["skipped_lines"], 1, "{}", stderr(&out));
}

/// A run of the idle fixture into `dir` for `duration`, started in the background; returns
/// once its log has a few lines.
fn start_run(pid: &str, dir: &Path, duration: &str) -> Child {
    let run = spawn_soakprof(
        None,
        &record_args(pid, duration, dir.to_str().unwrap(), &[]),
    );
    wait_for_log_lines(dir, 5);
    run
}

#[test]
fn a_run_directory_removed_mid_run_is_a_runtime_error() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = start_run(&pid, &dir, "20s");
    std::fs::remove_dir_all(&dir).unwrap();
    let started = Instant::now();
    let out = finish(run, Duration::from_secs(30));
    assert_runtime_error(&out, "removed");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run went on for {:?} after its log was removed",
        started.elapsed()
    );
}

#[test]
fn a_log_truncated_mid_run_is_a_runtime_error_and_has_no_hole() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = start_run(&pid, &dir, "20s");
    let log = dir.join("samples.jsonl");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    let out = finish(run, Duration::from_secs(30));
    assert_runtime_error(&out, "truncated");
    let bytes = std::fs::read(&log).unwrap();
    assert!(!bytes.contains(&0), "a hole of NULs in the log");
}

#[test]
fn a_failed_start_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory soakprof would create (and its parent): gone again.
    let new = tmp.path().join("new").join("run");
    let out = soakprof(&[
        "record",
        "--quiet",
        "--out",
        new.to_str().unwrap(),
        "--",
        "/nonexistent/bin",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(file_names(tmp.path()), Vec::<String>::new());

    // A directory of the user's: kept, with what it held, and nothing added.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("keep.txt"), "mine").unwrap();
    let out = soakprof(&[
        "record",
        "--quiet",
        "--out",
        mine.to_str().unwrap(),
        "--",
        "/nonexistent/bin",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(file_names(&mine), vec!["keep.txt".to_string()]);

    // The default name: no `reports/` left either.
    let cwd = tempfile::tempdir().unwrap();
    let run = spawn_soakprof(
        Some(cwd.path()),
        &["record", "--quiet", "--", "/nonexistent/bin"],
    );
    let out = finish(run, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(file_names(cwd.path()), Vec::<String>::new());
}

#[test]
fn analyze_json_prints_the_verdict_when_the_report_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    soakprof::synthetic::write_soak_run(tmp.path(), 600, 1, false).unwrap();
    // No file may grow: the report cannot be written at all.
    let out = soakprof_limited(
        Limits {
            file_bytes: Some(0),
            ..Limits::default()
        },
        Duration::from_secs(30),
        &["analyze", "--format", "json", tmp.path().to_str().unwrap()],
    );
    assert_runtime_error(&out, "verdict.json");
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no verdict on stdout ({e}): {}", stderr(&out)));
    assert_eq!(verdict["samples"], 600);
    assert_eq!(file_names(tmp.path()), vec!["samples.jsonl".to_string()]);
}

#[test]
fn a_full_disk_leaves_no_partial_chart() {
    let tmp = tempfile::tempdir().unwrap();
    soakprof::synthetic::write_soak_run(tmp.path(), 3600, 1, false).unwrap();
    // Room for verdict.json, not for a chart.
    let out = soakprof_limited(
        Limits {
            file_bytes: Some(16 << 10),
            ..Limits::default()
        },
        Duration::from_secs(30),
        &["analyze", tmp.path().to_str().unwrap()],
    );
    assert_runtime_error(&out, "memory.svg");
    assert_eq!(
        file_names(tmp.path()),
        vec!["samples.jsonl".to_string(), "verdict.json".to_string()],
        "a partial or temporary file is left"
    );
}

#[test]
fn a_log_that_starts_with_a_byte_order_mark_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    soakprof::synthetic::write_soak_run(tmp.path(), 600, 1, false).unwrap();
    let log: PathBuf = tmp.path().join("samples.jsonl");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(&log).unwrap());
    std::fs::write(&log, bytes).unwrap();
    let out = soakprof_within(
        Duration::from_secs(30),
        &["analyze", "--format", "json", tmp.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));
}
