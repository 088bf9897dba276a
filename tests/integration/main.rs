//! Integration tests: the real binary against real fixture processes, seconds each.

mod capsearch;
mod cgroup_verdict;
mod ci_outputs;
mod compare;
mod containers;
mod detection;
mod docker;
mod fleet;
mod follow;
mod honest;
mod live_metrics;
mod load;
mod load_hostile;
mod output_logs;
mod prom;
mod report;
mod run_dir;
mod schema;
mod shared_memory;
mod terminal;
mod util;

use util::*;

#[test]
fn record_by_pid_writes_a_complete_run() {
    let fixture = start_fixture(None, &["--threads", "5", "--fds", "20"]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof(&[
        "record",
        "--pid",
        &fixture.pid.to_string(),
        "--interval",
        "50ms",
        "--duration",
        "2s",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_complete_run(out_dir.path());
    let v = read_verdict(out_dir.path());
    assert_eq!(v["verdict"], "pass", "{v}");
    assert!(v["samples"].as_u64().unwrap() >= 35, "{v}");
    assert_eq!(v["target"]["roots"][0]["pid"], fixture.pid);
    assert!(v["metrics"]["threads"]["last"].as_f64().unwrap() >= 6.0);
    assert!(v["metrics"]["fds"]["last"].as_f64().unwrap() >= 23.0);
    assert!(v["metrics"]["rss"]["last"].as_f64().unwrap() > 0.0);
}

/// The samples of a run's log, and its header.
fn log_of(dir: &std::path::Path) -> (serde_json::Value, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(dir.join("samples.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let samples = lines
        .iter()
        .filter(|l| l["type"] == "sample")
        .cloned()
        .collect();
    (lines[0].clone(), samples)
}

#[test]
fn pss_and_detail_fields_follow_their_schedules() {
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let record = |pss: &str| {
        let out_dir = tempfile::tempdir().unwrap();
        let out = soakprof(&[
            "record",
            "--pid",
            &pid,
            "--interval",
            "50ms",
            "--duration",
            "2s",
            "--pss-interval",
            pss,
            "--quiet",
            "--out",
            out_dir.path().to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (header, samples) = log_of(out_dir.path());
        assert!(samples.len() >= 35, "{} samples", samples.len());
        (header, samples)
    };
    let (header, samples) = record("100ms");
    assert_eq!(header["smaps_every"], 2);
    assert_eq!(header["detail_every"], 20, "once a second at 50 ms");
    for (i, s) in samples.iter().enumerate() {
        assert!(s["rss"].is_u64() && s["fds"].is_u64() && s["threads"].is_u64());
        assert_eq!(s["pss"].is_u64(), i % 2 == 0, "pss in sample {i}: {s}");
        assert_eq!(s["swap"].is_u64(), i % 20 == 0, "swap in sample {i}: {s}");
        assert_eq!(
            s["host_avail"].is_u64(),
            i % 20 == 0,
            "host_avail in sample {i}"
        );
    }
    let (header, samples) = record("off");
    assert_eq!(header["smaps_every"], 0);
    assert!(
        samples
            .iter()
            .all(|s| s["pss"].is_null() && s["uss"].is_null())
    );
    assert_bad_input(
        &soakprof(&["record", "--pid", &pid, "--pss-interval", "sometimes"]),
        "--pss-interval",
    );
}

#[test]
fn record_by_name_finds_a_long_name() {
    let name = unique_name("byname");
    let fixture = start_fixture(Some(&name), &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof(&[
        "record",
        "--name",
        &name,
        "--interval",
        "100ms",
        "--duration",
        "1s",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = read_verdict(out_dir.path());
    assert_eq!(v["target"]["roots"][0]["pid"], fixture.pid);
    assert_eq!(v["target"]["mode"], "name");
}

#[test]
fn record_a_started_command() {
    let out_dir = tempfile::tempdir().unwrap();
    let fixture = fixture_bin();
    let out = soakprof(&[
        "record",
        "--interval",
        "100ms",
        "--duration",
        "1500ms",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
        "--",
        fixture.to_str().unwrap(),
        "--leak-mb-per-min",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_complete_run(out_dir.path());
    let v = read_verdict(out_dir.path());
    assert_eq!(v["target"]["mode"], "spawn");
    assert_eq!(v["run"]["stop_reason"], "duration");
    // The target's output went to target.log; it was stopped by soakprof at the end.
    let log = std::fs::read_to_string(out_dir.path().join("target.log")).unwrap();
    assert!(log.contains("ready pid="), "{log}");
    let samples = std::fs::read_to_string(out_dir.path().join("samples.jsonl")).unwrap();
    assert!(
        samples.contains(r#""by_profiler":true"#),
        "the stop is recorded as soakprof's own"
    );
}

#[test]
fn children_are_summed() {
    let fixture = start_fixture(None, &["--children", "3", "--child-mb", "20"]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof(&[
        "record",
        "--pid",
        &fixture.pid.to_string(),
        "--children",
        "--interval",
        "100ms",
        "--duration",
        "1s",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = read_verdict(out_dir.path());
    assert_eq!(v["run"]["max_procs"], 4, "{v}");
    // Three children each holding 20 MB: the sum is well above 60 MB.
    assert!(
        v["metrics"]["rss"]["min"].as_f64().unwrap() > 60e6,
        "{}",
        v["metrics"]["rss"]
    );
    let samples = std::fs::read_to_string(out_dir.path().join("samples.jsonl")).unwrap();
    let sample_lines: Vec<&str> = samples
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"sample""#))
        .collect();
    assert!(
        sample_lines.len() >= 8 && sample_lines.iter().all(|l| l.contains(r#""procs":4"#)),
        "{samples}"
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out_arg = out_dir.to_str().unwrap();
    // A PID above the kernel's maximum never exists.
    assert_bad_input(
        &soakprof(&["record", "--pid", "2000000000", "--out", out_arg]),
        "no process with PID 2000000000",
    );
    assert!(
        !out_dir.exists(),
        "a failed resolution leaves no run directory"
    );
    assert_bad_input(
        &soakprof(&["record", "--name", "no-such-process-xyz", "--out", out_arg]),
        "no process matches",
    );
    assert_bad_input(
        &soakprof(&["record", "--pid", "1", "--interval", "0s"]),
        "interval",
    );
    assert_bad_input(
        &soakprof(&["record", "--pid", "1", "--duration", "abc"]),
        "'abc' is not a duration",
    );
    assert_bad_input(
        &soakprof(&["record", "--pid", "1", "--max-growth", "lots"]),
        "'lots' is not a rate",
    );
    assert_bad_input(
        &soakprof(&["record", "--match", "(unclosed"]),
        "not a valid regex",
    );
    assert_bad_input(&soakprof(&["record"]), "required");
    assert_bad_input(
        &soakprof(&["analyze", dir.path().to_str().unwrap()]),
        "soakprof run directory",
    );
    // An --out below a regular file cannot be created (permissions don't stop root).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let fixture = start_fixture(None, &[]);
    let unwritable = file.join("run");
    assert_bad_input(
        &soakprof(&[
            "record",
            "--pid",
            &fixture.pid.to_string(),
            "--out",
            unwritable.to_str().unwrap(),
        ]),
        "cannot write the run directory",
    );
}

#[test]
fn ambiguous_name_lists_candidates() {
    let name = unique_name("twins");
    let a = start_fixture(Some(&name), &[]);
    let b = start_fixture(Some(&name), &[]);
    let out = soakprof(&["record", "--name", &name, "--duration", "1s"]);
    assert_bad_input(&out, "matches 2 processes");
    let err = stderr(&out);
    assert!(
        err.contains(&a.pid.to_string()) && err.contains(&b.pid.to_string()),
        "{err}"
    );
    assert!(err.contains("--pick"), "{err}");
    // --pick newest resolves it.
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof(&[
        "record",
        "--name",
        &name,
        "--pick",
        "newest",
        "--interval",
        "100ms",
        "--duration",
        "500ms",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read_verdict(out_dir.path())["target"]["roots"][0]["pid"],
        b.pid
    );
}

#[test]
fn ctrl_c_finishes_with_a_complete_run() {
    let fixture = start_fixture(None, &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let mut profiler = record_in_background(
        fixture.pid,
        &["--interval", "50ms", "--duration", "60s"],
        out_dir.path(),
    );
    wait_for_log_lines(out_dir.path(), 40);
    signal(profiler.id(), libc::SIGINT);
    let status = profiler.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_complete_run(out_dir.path());
    let v = read_verdict(out_dir.path());
    assert_eq!(v["run"]["stop_reason"], "interrupted");
    assert_eq!(v["verdict"], "pass", "{v}");
}

#[test]
fn killed_profiler_leaves_an_analysable_log() {
    let fixture = start_fixture(None, &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let mut profiler = record_in_background(fixture.pid, &["--interval", "20ms"], out_dir.path());
    let log = wait_for_log_lines(out_dir.path(), 30);
    signal(profiler.id(), libc::SIGKILL);
    profiler.wait().unwrap();
    // Simulate the line a crash tore in half.
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(r#"{"type":"sample","t":99.0,"rss":12"#);
    std::fs::write(&log, text).unwrap();

    let out = soakprof(&["analyze", out_dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped 1 unreadable line"),
        "{}",
        stderr(&out)
    );
    assert_complete_run(out_dir.path());
    let v = read_verdict(out_dir.path());
    assert_eq!(v["run"]["stop_reason"], serde_json::Value::Null);
    assert_eq!(v["run"]["skipped_lines"], 1);
    assert!(
        v["reasons"].to_string().contains("profiler was killed"),
        "{v}"
    );
}

#[test]
fn target_exit_status_3_fails() {
    let (out, v, _dir) = record_fixture(30, &[], &["--exit-after", "1s", "--exit-code", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["run"]["stop_reason"], "target_exited");
    assert!(
        v["reasons"].to_string().contains("exited with status 3"),
        "{v}"
    );
    assert!(v["duration_s"].as_f64().unwrap() < 5.0);
}

#[test]
fn target_killed_by_signal_fails() {
    let (out, v, _dir) = record_fixture(30, &[], &["--exit-after", "500ms", "--die-signal", "9"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        v["reasons"].to_string().contains("signal 9 (SIGKILL)"),
        "{v}"
    );
}

#[test]
fn leak_fails_and_analyze_can_relax_the_threshold() {
    let out_dir = tempfile::tempdir().unwrap();
    let fixture = fixture_bin();
    let out = soakprof(&[
        "record",
        "--interval",
        "50ms",
        "--duration",
        "4s",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
        "--",
        fixture.to_str().unwrap(),
        "--leak-mb-per-min",
        "120",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = read_verdict(out_dir.path());
    let slope = v["metrics"]["rss"]["slope_per_min"].as_f64().unwrap();
    assert!((slope - 120e6).abs() < 24e6, "slope {slope}");
    // The same run judged against 1 GB/min passes: analyze overrides thresholds.
    let out = soakprof(&[
        "analyze",
        out_dir.path().to_str().unwrap(),
        "--max-growth",
        "1GB/min",
        "--warn-growth",
        "500MB/min",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read_verdict(out_dir.path())["metrics"]["rss"]["verdict"],
        "pass"
    );
}
