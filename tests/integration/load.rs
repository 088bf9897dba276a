//! The load driver against the fixture's HTTP server on 127.0.0.1: rates, mixes, faults,
//! the external command, and malformed scenario files.

use std::path::Path;
use std::time::Duration;

use crate::util::*;

/// The fixture as an HTTP server; returns it, its port, and the directory of its port file.
pub(crate) fn start_server(extra: &[&str]) -> (Fixture, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let mut args = vec!["--serve", "--port-file", port_file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let fixture = start_fixture(None, &args);
    wait_for("the server's port file", Duration::from_secs(10), || {
        port_file.exists()
    });
    let port = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (fixture, port, dir)
}

/// `record --pid` the server with the given extra options; returns the verdict.
pub(crate) fn record_server(
    pid: u32,
    duration: &str,
    extra: &[&str],
    out: &Path,
) -> serde_json::Value {
    let mut args = vec![
        "record".to_string(),
        "--pid".into(),
        pid.to_string(),
        "--interval".into(),
        "250ms".into(),
        "--duration".into(),
        duration.into(),
        "--quiet".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = soakprof_within(Duration::from_secs(120), &refs);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "exit {:?}: {}",
        output.status.code(),
        stderr(&output)
    );
    read_verdict(out)
}

/// Interval lines of load.jsonl.
fn intervals(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("load.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "interval")
        .collect()
}

#[test]
fn open_model_delivers_the_scheduled_requests() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let v = record_server(
        server.pid,
        "30s",
        &["--load-url", &url, "--rps", "200"],
        out.path(),
    );
    let load = &v["load"];
    let requests = load["requests"].as_u64().unwrap();
    assert!(
        (5880..=6120).contains(&requests),
        "6000 ± 2% expected, got {requests}: {load}"
    );
    assert_eq!(load["errors"], 0, "{load}");
    assert!(load["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{load}");
    // Every interval line carries latencies, and they add up to the total.
    let lines = intervals(out.path());
    let summed: u64 = lines.iter().map(|i| i["requests"].as_u64().unwrap()).sum();
    assert_eq!(summed, requests);
    assert!(out.path().join("load.svg").exists());
}

#[test]
fn closed_model_throughput_follows_users_and_think_time() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let v = record_server(
        server.pid,
        "15s",
        &[
            "--load-url",
            &url,
            "--users",
            "10",
            "--think",
            "100ms..200ms",
        ],
        out.path(),
    );
    let load = &v["load"];
    let rps = load["rps"].as_f64().unwrap();
    // Each user: one request (well under a millisecond here) per 150 ms of mean think.
    let latency_s = load["latency_ms"]["p50"].as_f64().unwrap() / 1e3;
    let expected = 10.0 / (0.150 + latency_s);
    assert!(
        (rps - expected).abs() <= 0.10 * expected,
        "expected {expected:.1} req/s within 10%, got {rps:.1}: {load}"
    );
}

#[test]
fn scenario_mix_follows_the_weights() {
    let (server, port, dir) = start_server(&[]);
    let scenario = dir.path().join("mix.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"base_url = "http://127.0.0.1:{port}"
rps = 300

[[requests]]
name = "home"
weight = 3
path = "/"

[[requests]]
name = "item"
weight = 2
path = "/json"
expect_json_keys = ["id", "ok"]

[[requests]]
name = "post"
weight = 1
method = "POST"
path = "/submit"
bodies = ["first sample text", "second sample text", "third"]
expect_status = 200
"#
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let v = record_server(
        server.pid,
        "6s",
        &["--load", scenario.to_str().unwrap()],
        out.path(),
    );
    let by_name = &v["load"]["by_name"];
    let count = |name: &str| by_name[name]["requests"].as_f64().unwrap();
    let total = count("home") + count("item") + count("post");
    assert!(total > 1000.0, "{by_name}");
    for (name, share) in [
        ("home", 3.0 / 6.0),
        ("item", 2.0 / 6.0),
        ("post", 1.0 / 6.0),
    ] {
        let got = count(name) / total;
        assert!(
            (got - share).abs() <= 0.05 * share,
            "{name}: share {got:.3}, expected {share:.3} within 5%: {by_name}"
        );
    }
    assert_eq!(v["load"]["errors"], 0, "{}", v["load"]);
}

#[test]
fn a_per_request_leak_under_load_fails_and_the_same_server_without_it_passes() {
    let (leaky, leaky_port, _d1) = start_server(&["--leak-kb-per-request", "20"]);
    let (clean, clean_port, _d2) = start_server(&[]);
    let (out_leaky, out_clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |pid: u32, port: u16, out: &Path| {
        let url = format!("http://127.0.0.1:{port}/");
        record_server(pid, "12s", &["--load-url", &url, "--rps", "200"], out)
    };
    let (v_leaky, v_clean) = std::thread::scope(|s| {
        let a = s.spawn(|| run(leaky.pid, leaky_port, out_leaky.path()));
        let b = s.spawn(|| run(clean.pid, clean_port, out_clean.path()));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(v_leaky["metrics"]["rss"]["verdict"], "fail", "{v_leaky}");
    assert_eq!(v_leaky["verdict"], "fail");
    assert_eq!(v_clean["verdict"], "pass", "{v_clean}");
    for dir in [out_leaky.path(), out_clean.path()] {
        let svg = std::fs::read_to_string(dir.join("load.svg")).unwrap();
        assert!(svg.contains("<svg"), "load chart in {}", dir.display());
    }
}

#[test]
fn an_unreachable_url_is_counted_as_connect_errors_and_sampling_goes_on() {
    let fixture = start_fixture(None, &[]);
    // Bind and drop a listener: that port on 127.0.0.1 now refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let v = record_server(
        fixture.pid,
        "3s",
        &["--load-url", &url, "--rps", "50"],
        out.path(),
    );
    let load = &v["load"];
    assert!(
        load["errors_by_kind"]["connect"].as_u64().unwrap() > 100,
        "{load}"
    );
    assert_eq!(load["errors"], load["requests"], "{load}");
    assert_eq!(v["run"]["stop_reason"], "duration");
    assert!(v["samples"].as_u64().unwrap() >= 10, "{v}");
    // Without --quiet, the status warns once that load errors passed the bound.
    let out2 = tempfile::tempdir().unwrap();
    let shown = soakprof(&[
        "record",
        "--pid",
        &fixture.pid.to_string(),
        "--duration",
        "2s",
        "--out",
        out2.path().to_str().unwrap(),
        "--load-url",
        &url,
        "--rps",
        "50",
    ]);
    let err = stderr(&shown);
    assert_eq!(err.matches("warning: ").count(), 1, "{err}");
    assert!(err.contains("load requests failed"), "{err}");
}

#[test]
fn gates_fail_the_run() {
    let (server, port, _dir) = start_server(&["--delay", "20ms"]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let v = record_server(
        server.pid,
        "3s",
        &[
            "--load-url",
            &url,
            "--rps",
            "50",
            "--max-p95",
            "5ms",
            "--min-rps",
            "10",
        ],
        out.path(),
    );
    assert_eq!(v["verdict"], "fail", "{v}");
    let gates = v["load"]["gates"].as_array().unwrap();
    let gate = |name: &str| gates.iter().find(|g| g["gate"] == name).unwrap();
    assert_eq!(gate("p95")["passed"], false, "{gates:?}");
    assert_eq!(gate("min_rps")["passed"], true, "{gates:?}");
}

/// Processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the ")" of comm: state ppid pgrp ...
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[2].parse::<u32>().ok() == Some(pgid) && fields[0] != "Z" {
            members.push(pid);
        }
    }
    members
}

#[test]
fn load_cmd_runs_in_its_own_group_and_nothing_is_left_running() {
    let fixture = start_fixture(None, &[]);
    let out = tempfile::tempdir().unwrap();
    // A driver that starts a background child and ignores nothing: both must be stopped.
    let v = record_server(
        fixture.pid,
        "2s",
        &[
            "--load-cmd",
            "echo driver up; sleep 300 & sleep 300; echo never",
        ],
        out.path(),
    );
    let text = std::fs::read_to_string(out.path().join("load.jsonl")).unwrap();
    let start: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["type"] == "external_start")
        .unwrap();
    let pgid = start["pid"].as_u64().unwrap() as u32;
    assert!(
        group_members(pgid).is_empty(),
        "left running: {:?}",
        group_members(pgid)
    );
    let external = &v["load"]["external"];
    assert_eq!(external["stopped_by_profiler"], true, "{external}");
    assert_eq!(external["signal"], 15, "{external}");
    let log = std::fs::read_to_string(out.path().join("load.log")).unwrap();
    assert!(log.contains("driver up") && !log.contains("never"), "{log}");
    assert_ne!(v["verdict"], "fail", "{v}");
}

#[test]
fn malformed_scenarios_are_bad_input_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax.toml",
            "base_url = \"http://127.0.0.1:1\"\nrps = = 3\n",
            "line 2",
        ),
        (
            "unknown.toml",
            "base_url = \"http://127.0.0.1:1\"\nrps = 3\n[[requests]]\nname = \"a\"\npath = \"/\"\nwieght = 2\n",
            "wieght",
        ),
        (
            "negative.toml",
            "base_url = \"http://127.0.0.1:1\"\nrps = 3\n[[requests]]\nname = \"a\"\npath = \"/\"\nweight = -1\n",
            "weight",
        ),
        (
            "nourl.toml",
            "rps = 3\n[[requests]]\nname = \"a\"\npath = \"/\"\n",
            "base_url",
        ),
    ];
    let fixture = start_fixture(None, &[]);
    for (file, text, expect) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let out = soakprof(&[
            "record",
            "--pid",
            &fixture.pid.to_string(),
            "--duration",
            "1s",
            "--out",
            dir.path().join("run").to_str().unwrap(),
            "--load",
            path.to_str().unwrap(),
        ]);
        assert_bad_input(&out, file);
        assert_bad_input(&out, expect);
        assert_bad_input(&out, "line ");
        assert!(
            !dir.path().join("run").exists(),
            "no run directory for bad input"
        );
    }
    let negative = soakprof(&[
        "record",
        "--pid",
        &fixture.pid.to_string(),
        "--load",
        dir.path().join("negative.toml").to_str().unwrap(),
    ]);
    assert_bad_input(&negative, "line 6");
}

/// A load that cannot run is found before the run starts: one line, exit 2, no run
/// directory (the README's exit-code table).
#[test]
fn load_that_cannot_start_or_be_read_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = start_fixture(None, &[]);
    let pid = fixture.pid.to_string();
    let out = dir.path().join("run");
    let missing = dir.path().join("missing.toml");
    let record = |load: &[&str]| {
        let mut args = vec![
            "record",
            "--pid",
            &pid,
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(load);
        soakprof(&args)
    };
    let cases: [(&[&str], &str); 3] = [
        (
            &["--load", missing.to_str().unwrap()],
            "cannot read scenario file",
        ),
        // A directory cannot be read as a file.
        (
            &["--load", dir.path().to_str().unwrap()],
            "cannot read scenario file",
        ),
        (
            &["--load-cmd", "soakprof-no-such-driver run load.js"],
            "`soakprof-no-such-driver` is not an executable file or a program on PATH",
        ),
    ];
    for (load, expect) in cases {
        assert_bad_input(&record(load), expect);
        assert!(!out.exists(), "no run directory for {load:?}");
    }
}
