//! The load driver against hostile servers and absurd levels (issue 12, defects 4–7 and
//! parts of 12): bodies that never end, requests that are never answered, a billion
//! requests a second, scenarios that point elsewhere. Traffic goes to 127.0.0.1 only and
//! every run is bounded in time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::load::{record_server, start_server};
use crate::util::*;

/// A scenario file in `dir` with `base_url` on the fixture's port and the given body.
fn scenario(dir: &Path, name: &str, port: u16, rest: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("base_url = \"http://127.0.0.1:{port}\"\n{rest}"),
    )
    .unwrap();
    path
}

/// `record --pid PID --load FILE` with extra options expected to be bad input.
fn record_bad(pid: u32, dir: &Path, extra: &[&str]) -> std::process::Output {
    let out = dir.join("run");
    let mut args = vec![
        "record".to_string(),
        "--pid".into(),
        pid.to_string(),
        "--duration".into(),
        "2s".into(),
        "--quiet".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = soakprof_within(Duration::from_secs(60), &refs);
    assert!(!out.exists(), "no run directory for bad input {extra:?}");
    output
}

fn kind(load: &serde_json::Value, kind: &str) -> u64 {
    load["errors_by_kind"][kind].as_u64().unwrap_or(0)
}

// Defect 4: bodies are read and dropped as they arrive, cut at --max-body.

#[test]
fn endless_body_is_cut_at_max_body_and_counted() {
    let (server, port, dir) = start_server(&[]);
    let file = scenario(
        dir.path(),
        "endless.toml",
        port,
        "rps = 20\n[[requests]]\nname = \"endless\"\npath = \"/endless\"\n",
    );
    let out = tempfile::tempdir().unwrap();
    let v = record_server(
        server.pid,
        "3s",
        &[
            "--load",
            file.to_str().unwrap(),
            "--max-body",
            "1MiB",
            "--max-error-rate",
            "1%",
        ],
        out.path(),
    );
    let load = &v["load"];
    let cut = kind(load, "body_too_large");
    assert!(cut >= 30, "most of ~60 requests cut at 1 MiB: {load}");
    assert_eq!(load["errors"], load["requests"], "{load}");
    assert_eq!(v["verdict"], "fail", "{v}");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("body_too_large"), "{reasons}");
}

#[test]
fn huge_content_length_is_cut_at_the_default_max_body() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/huge");
    let v = record_server(
        server.pid,
        "3s",
        &["--load-url", &url, "--rps", "10"],
        out.path(),
    );
    let load = &v["load"];
    assert!(kind(load, "body_too_large") >= 15, "{load}");
    // The fixture's other routes still get through on fresh connections.
    assert_eq!(kind(load, "other"), 0, "{load}");
}

#[test]
fn a_trickling_body_is_cut_by_the_request_timeout() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/trickle");
    let v = record_server(
        server.pid,
        "4s",
        &["--load-url", &url, "--rps", "5", "--load-timeout", "1s"],
        out.path(),
    );
    let load = &v["load"];
    assert!(kind(load, "timeout") >= 10, "{load}");
}

// Defect 5: absurd levels cost no more than sane ones, or are refused; the run ends on time.

#[test]
fn absurd_rps_ends_on_time_with_a_report() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    let v = record_server(
        server.pid,
        "3s",
        &["--load-url", &url, "--rps", "1000000000"],
        out.path(),
    );
    let elapsed = started.elapsed();
    // --duration 3 s + the 5 s stop grace, and a margin for a debug build on a shared
    // machine (before the fix: about a minute).
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let load = &v["load"];
    assert!(kind(load, "dropped") > 1_000_000, "{load}");
    assert_eq!(v["run"]["stop_reason"], "duration", "{v}");
}

#[test]
fn a_million_users_are_refused_naming_the_bound() {
    let fixture = start_fixture(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = record_bad(
        fixture.pid,
        dir.path(),
        &["--load-url", "http://127.0.0.1:1/", "--users", "1000000"],
    );
    assert_bad_input(&out, "--users");
    assert_bad_input(&out, "4000");
    let file = scenario(
        dir.path(),
        "users.toml",
        1,
        "users = 1000000\n[[requests]]\nname = \"a\"\npath = \"/\"\n",
    );
    let out = record_bad(fixture.pid, dir.path(), &["--load", file.to_str().unwrap()]);
    assert_bad_input(&out, "line 2: field `users`: must be at most 4000");
}

#[test]
fn scenario_with_100k_requests_is_refused_and_1000_runs_bounded() {
    let (server, port, dir) = start_server(&[]);
    let requests = |n: usize| {
        let mut text = String::from("rps = 200\n");
        for i in 0..n {
            text.push_str(&format!("[[requests]]\nname = \"r{i}\"\npath = \"/{i}\"\n"));
        }
        text
    };
    let big = scenario(dir.path(), "big.toml", port, &requests(100_000));
    let out = record_bad(server.pid, dir.path(), &["--load", big.to_str().unwrap()]);
    // requests[1000]'s `name` is on line 4 + 3 × 1000.
    assert_bad_input(
        &out,
        "line 3004: field `requests[1000]`: a scenario has at most 1000",
    );

    let most = scenario(dir.path(), "most.toml", port, &requests(1000));
    let out = tempfile::tempdir().unwrap();
    let v = record_server(
        server.pid,
        "3s",
        &["--load", most.to_str().unwrap()],
        out.path(),
    );
    let load = &v["load"];
    assert!(load["requests"].as_u64().unwrap() > 300, "{load}");
    assert_eq!(load["errors"], 0, "{load}");
    // Interval lines stay small: only names with requests in the interval, only a bounded
    // number of per-name histograms.
    let log = std::fs::read_to_string(out.path().join("load.jsonl")).unwrap();
    let longest = log.lines().map(str::len).max().unwrap();
    assert!(longest < 256 * 1024, "a load.jsonl line of {longest} bytes");
}

#[test]
fn no_request_completed_is_said() {
    let (server, port, _dir) = start_server(&[]);
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/never");
    let v = record_server(
        server.pid,
        "2s",
        &["--load-url", &url, "--users", "3", "--load-timeout", "60s"],
        out.path(),
    );
    assert_ne!(v["verdict"], "pass", "{v}");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("no request completed"), "{reasons}");
}

// Defect 6: a path is a path.

#[test]
fn absolute_url_in_path_is_a_scenario_error() {
    let (server, port, dir) = start_server(&[]);
    for path in [
        "http://10.1.2.3/evil",
        "HTTPS://10.1.2.3/evil",
        "//10.1.2.3/evil",
        "http:evil",
        "mailto:x@10.1.2.3",
    ] {
        let file = scenario(
            dir.path(),
            "evil.toml",
            port,
            &format!("rps = 5\n[[requests]]\nname = \"a\"\npath = \"{path}\"\n"),
        );
        let out = record_bad(server.pid, dir.path(), &["--load", file.to_str().unwrap()]);
        assert_bad_input(&out, "line 5: field `requests[0].path`");
        assert_bad_input(&out, "base_url");
    }
}

// Defect 7: requests that never finish count.

#[test]
fn never_answered_requests_count_for_gates() {
    let (server, port, dir) = start_server(&[]);
    let file = scenario(
        dir.path(),
        "never.toml",
        port,
        "rps = 100\n\
         [[requests]]\nname = \"ok\"\nweight = 9\npath = \"/\"\n\
         [[requests]]\nname = \"never\"\nweight = 1\npath = \"/never\"\n",
    );
    let out = tempfile::tempdir().unwrap();
    let v = record_server(
        server.pid,
        "6s",
        &[
            "--load",
            file.to_str().unwrap(),
            "--load-timeout",
            "60s",
            "--max-error-rate",
            "1%",
            "--max-p99",
            "100ms",
        ],
        out.path(),
    );
    let load = &v["load"];
    let unfinished = kind(load, "unfinished");
    assert!((40..=70).contains(&unfinished), "about 60: {load}");
    assert_eq!(v["verdict"], "fail", "{v}");
    let gates = load["gates"].as_array().unwrap();
    assert!(gates.iter().all(|g| g["passed"] == false), "{gates:?}");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("unfinished"), "{reasons}");
}

// Defect 12: control characters in a scenario, credentials in base_url.

#[test]
fn crlf_in_method_is_one_line() {
    let fixture = start_fixture(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    for (rest, expect) in [
        (
            "rps = 1\n[[requests]]\nname = \"a\"\npath = \"/\"\nmethod = \"GET\\r\\nX-Evil: 1\"\n",
            "line 6: field `requests[0].method`: `GET\\r\\nX-Evil: 1`",
        ),
        (
            "rps = 1\n[[requests]]\nname = \"a\\nb\"\npath = \"/\"\n[[requests]]\nname = \"a\\nb\"\npath = \"/\"\n",
            "`a\\nb` is also the name",
        ),
        (
            "rps = 1\n[[requests]]\nname = \"a\"\npath = \"/\"\nheaders = { \"X\\r\\nY\" = \"1\" }\n",
            "not a valid header name",
        ),
    ] {
        let file = scenario(dir.path(), "crlf.toml", 1, rest);
        let out = record_bad(fixture.pid, dir.path(), &["--load", file.to_str().unwrap()]);
        assert_bad_input(&out, expect);
    }
}

#[test]
fn userinfo_in_base_url_is_sent_as_basic_auth_and_never_written() {
    let (server, port, dir) = start_server(&[]);
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        format!(
            "base_url = \"http://user:pass@127.0.0.1:{port}\"\nrps = 20\n\
             [[requests]]\nname = \"auth\"\npath = \"/auth\"\n"
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let v = record_server(
        server.pid,
        "2s",
        &["--load", file.to_str().unwrap()],
        out.path(),
    );
    let load = &v["load"];
    assert!(load["requests"].as_u64().unwrap() >= 20, "{load}");
    assert_eq!(
        load["errors"], 0,
        "the fixture answers 401 without it: {load}"
    );

    let out2 = tempfile::tempdir().unwrap();
    let url = format!("http://user:pass@127.0.0.1:{port}/auth");
    let v = record_server(
        server.pid,
        "2s",
        &["--load-url", &url, "--rps", "20"],
        out2.path(),
    );
    assert_eq!(v["load"]["errors"], 0, "{}", v["load"]);
    for dir in [out.path(), out2.path()] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(
                !text.contains("pass@") && !text.contains("user:pass"),
                "credentials in {}",
                entry.path().display()
            );
        }
    }
}
