//! Judging a cgroup target from its log: `analyze` of a samples.jsonl written by hand, as
//! a `record --container` of a 0.5-CPU / 16 MiB container would write it. Page cache that
//! grows passes, an OOM kill fails (exit 1) with its victim, throttling warns, and the
//! verdict's capacity section and report say so and follow the schema.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

const MIB: u64 = 1 << 20;

fn header() -> Value {
    json!({
        "type": "header",
        "schema_version": 1,
        "tool_version": "0.0.0-test",
        "started_at": "2026-12-02T00:00:00Z",
        "started_unix_s": 1_796_169_600.0,
        "host": { "hostname": "testhost", "os": "linux", "kernel": "6.8.0", "cpus": 2,
                  "mem_total_bytes": 8_000_000_000u64 },
        "command_line": ["soakprof", "record", "--container", "3f2a"],
        "target": {
            "mode": "container", "spec": "3f2a", "roots": [{ "pid": 1234, "start": 5 }],
            "name": "soakprof-fixtu", "cmdline": ["/soakprof-fixture"], "children": true,
            "follow": false,
            "cgroup": { "path": "/system.slice/docker-3f2a.scope", "version": "v2",
                        "dir": "/sys/fs/cgroup/system.slice/docker-3f2a.scope",
                        "container_id": "3f2a", "is_target": true }
        },
        "interval_s": 1.0, "duration_s": 120.0, "backend": "linux",
        "smaps_every": 1, "smaps_read_ms": null, "detail_every": 1,
        "limits": { "mem_limit_bytes": 16 * MIB, "mem_limit_source": "cgroup v2",
                    "cpu_limit_cores": 0.5, "cpu_limit_source": "cgroup v2" },
        "thresholds": { "warn_growth_bytes_per_min": 5e6, "max_growth_bytes_per_min": 10e6,
                        "max_thread_growth_per_min": 10.0 / 60.0,
                        "max_fd_growth_per_min": 10.0 / 60.0 }
    })
}

/// 120 samples at 1 Hz: anon flat at 6 MiB, page cache growing 3 MiB a minute, CPU
/// throttled in `throttled` of its periods; the OOM-kill count rises at `oom_at_s`.
fn write_run(dir: &Path, throttled: f64, oom_at_s: Option<f64>) {
    let mut lines = vec![header().to_string()];
    for i in 0..120u64 {
        let t = i as f64;
        let anon = 6 * MIB + (i % 5) * 4096;
        let file = 2 * MIB + i * 3 * MIB / 60 / 4096 * 4096;
        let killed = oom_at_s.is_some_and(|at| t >= at);
        lines.push(
            json!({
                "type": "sample", "t": t, "rss": anon + MIB, "threads": 4, "fds": 9,
                "procs": 1, "cpu": 0.5,
                "cgroup_memory_bytes": anon + file + 300_000,
                "cgroup_anon_bytes": anon, "cgroup_file_bytes": file,
                "cgroup_working_set_bytes": anon + file / 2,
                "cgroup_oom_events": u64::from(killed), "cgroup_oom_kills": u64::from(killed),
                "cgroup_cpu_s": 0.5 * t, "cgroup_periods": 10 * i,
                "cgroup_throttled_periods": (10.0 * t * throttled).round() as u64,
                "cgroup_throttled_s": t * throttled * 0.05,
                "cgroup_memory_pressure_some_s": 0.01 * t,
                "cgroup_memory_pressure_full_s": 0.002 * t
            })
            .to_string(),
        );
        if killed && oom_at_s == Some(t) {
            lines.push(
                json!({
                    "type": "event", "t": t, "event": "oom_kill", "kills": 1, "total": 1,
                    "victims": [{ "pid": 1234, "name": "soakprof-fixtu" }]
                })
                .to_string(),
            );
        }
    }
    lines.push(
        json!({"type": "event", "t": 119.5, "event": "stop", "reason": "duration"}).to_string(),
    );
    std::fs::write(dir.join("samples.jsonl"), lines.join("\n") + "\n").unwrap();
}

fn analyze(dir: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["analyze", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = soakprof(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    (out.status.code(), read_verdict(dir))
}

#[test]
fn a_cgroup_target_is_judged_on_anon_and_fails_on_an_oom_kill() {
    let validator = crate::schema::validator();

    // Page cache grows 6 MiB over the run, anon does not: a pass, judged on anon.
    let cache = tempfile::tempdir().unwrap();
    write_run(cache.path(), 0.05, None);
    let (code, v) = analyze(cache.path(), &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["verdict"], "pass", "{}", v["reasons"]);
    crate::schema::assert_valid(&validator, "cgroup target, page cache", &v);
    let cap = &v["capacity"];
    assert_eq!(cap["judged_memory"], "cgroup_anon");
    assert_eq!(v["metrics"]["cgroup_memory"]["judged"], false);
    assert_eq!(v["metrics"]["cgroup_anon"]["judged"], true);
    assert!(
        v["metrics"]["cgroup_memory"]["slope_per_min"]
            .as_f64()
            .unwrap()
            > 2.5e6
    );
    let cg = &cap["cgroup"];
    assert_eq!(cg["is_target"], true);
    assert_eq!(cg["container_id"], "3f2a");
    assert_eq!(cg["oom_kills"], 0);
    assert!(
        (cg["throttled_pct"].as_f64().unwrap() - 5.0).abs() < 0.5,
        "{cg}"
    );
    assert!(cg["working_set_peak_bytes"].as_u64().unwrap() > 6 * MIB);
    assert!(
        cg["working_set_headroom_pct"].as_f64().unwrap() > 0.0,
        "{cg}"
    );
    assert!((cg["memory_stall_some_pct"].as_f64().unwrap() - 1.0).abs() < 0.01);
    let summary = cg["summary"].to_string();
    assert!(summary.contains("of the 16 MiB limit"), "{summary}");
    assert!(
        summary.contains("at 0.50 CPU the target was throttled in 5%"),
        "{summary}"
    );
    let html = std::fs::read_to_string(cache.path().join("report.html")).unwrap();
    for row in [
        "peak working set",
        "CPU throttled",
        "OOM kills",
        "memory pressure stalls",
        "id=\"chart-cgroup\"",
    ] {
        assert!(html.contains(row), "report.html has no {row:?}");
    }
    assert!(cache.path().join("cgroup.svg").is_file());
    let text = soakprof(&["analyze", cache.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("  cgroup: the working set peaked at ")
            && text.contains("  cgroup: no OOM kill")
            && text.contains("  cgroup anon "),
        "{text}"
    );

    // The same cgroup killed by the OOM killer at 61 s: fail, exit 1, with the victim.
    let oom = tempfile::tempdir().unwrap();
    write_run(oom.path(), 0.05, Some(61.0));
    let (code, v) = analyze(oom.path(), &[]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verdict"], "fail");
    assert!(
        v["reasons"].as_array().unwrap().iter().any(|r| r
            == "the OOM killer killed PID 1234 (soakprof-fixtu) at 1 m 1 s: the cgroup hit its 16 MiB limit"),
        "{}",
        v["reasons"]
    );
    assert_eq!(v["capacity"]["cgroup"]["oom_kills"], 1);
    assert_eq!(v["capacity"]["cgroup"]["oom_kill_events"][0]["t_s"], 61.0);
    crate::schema::assert_valid(&validator, "cgroup target, OOM kill", &v);

    // Throttled in 34% of periods: a warning by default, a fail with the gate.
    let hot = tempfile::tempdir().unwrap();
    write_run(hot.path(), 0.34, None);
    let (code, v) = analyze(hot.path(), &[]);
    assert_eq!(
        (code, v["verdict"].as_str()),
        (Some(0), Some("warn")),
        "{}",
        v["reasons"]
    );
    assert!(
        v["reasons"]
            .to_string()
            .contains("above --max-throttled 20%"),
        "{}",
        v["reasons"]
    );
    let (code, v) = analyze(hot.path(), &["--throttled-gate", "fail"]);
    assert_eq!((code, v["verdict"].as_str()), (Some(1), Some("fail")));
    assert_eq!(v["thresholds"]["throttled_gate"], "fail");
    let (code, v) = analyze(hot.path(), &["--max-throttled", "50%"]);
    assert_eq!(
        (code, v["verdict"].as_str()),
        (Some(0), Some("pass")),
        "{}",
        v["reasons"]
    );
    assert_eq!(v["thresholds"]["max_throttled_pct"], 50.0);
    assert_bad_input(
        &soakprof(&[
            "analyze",
            hot.path().to_str().unwrap(),
            "--max-throttled",
            "lots",
        ]),
        "is not a percentage",
    );
}
