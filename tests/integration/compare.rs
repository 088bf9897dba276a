//! `soakprof compare` and `--baseline` on real runs of the fixture HTTP server under the
//! built-in closed-model load: the same server twice compares unchanged; a per-request leak
//! regresses memory growth only; 20 ms of added latency regresses latency only. And the
//! bad inputs, each one line and exit 2.
//!
//! Closed model, because its users hold one connection each: under the open model a busy
//! host makes the driver open connections mid-run, and the server's thread and FD counts
//! (one per connection) then differ between two runs of the same build (measured: +22.6
//! threads/min in one of two identical 12 s runs during the full suite). The think time
//! keeps throughput within 5% when 20 ms are added to each request.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::load::start_server;
use crate::schema::assert_valid;
use crate::util::*;

/// Long enough for a decisive slope at 250 ms sampling, short enough for the suite.
const RUN: &str = "12s";
const USERS: &str = "40";
/// 40 users at 300..500 ms of think: about 100 req/s.
const THINK: &str = "300ms..500ms";
/// 5 kB per request at 100 req/s: about 30 MB/min.
const LEAK_KB: &str = "5";

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn compare_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_file("reports/schema/compare.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Record a fresh fixture server (with `server_args`) under load into `out`; extra record
/// options in `extra`. Returns soakprof's exit code.
fn record(server_args: &[&str], out: &Path, extra: &[&str]) -> i32 {
    let (server, port, _dir) = start_server(server_args);
    let url = format!("http://127.0.0.1:{port}/");
    let pid = server.pid.to_string();
    let out_text = out.display().to_string();
    let mut args = vec![
        "record",
        "--pid",
        &pid,
        "--interval",
        "250ms",
        "--duration",
        RUN,
        "--quiet",
        "--out",
        &out_text,
        "--load-url",
        &url,
        "--users",
        USERS,
        "--think",
        THINK,
    ];
    args.extend_from_slice(extra);
    let output = soakprof_within(Duration::from_secs(120), &args);
    let code = output.status.code().unwrap_or(-1);
    assert!(matches!(code, 0 | 1), "exit {code}: {}", stderr(&output));
    code
}

/// The baseline: the plain server, recorded once for every test here (under cargo's
/// scratch directory for integration tests, one per test process).
fn baseline() -> &'static Path {
    static BASELINE: OnceLock<PathBuf> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("compare-baseline-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        record(&[], &dir, &[]);
        dir
    })
}

/// `compare BASELINE CANDIDATE`: its exit code, stdout and compare.json.
fn compare(baseline: &Path, candidate: &Path) -> (i32, String, Value) {
    let ci = tempfile::tempdir().unwrap();
    let (junit, summary) = (ci.path().join("junit.xml"), ci.path().join("summary.md"));
    let output = soakprof_within(
        Duration::from_secs(60),
        &[
            "compare",
            baseline.to_str().unwrap(),
            candidate.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--summary-md",
            summary.to_str().unwrap(),
        ],
    );
    let code = output.status.code().unwrap_or(-1);
    assert!(matches!(code, 0 | 1), "exit {code}: {}", stderr(&output));
    let path = candidate.join("compare").join("compare.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_valid(&compare_validator(), "compare.json", &json);
    assert_ci_outputs(&json, &junit, &summary);
    let html = std::fs::read_to_string(candidate.join("compare").join("compare.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("baseline") && html.contains("candidate"));
    (
        code,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        json,
    )
}

/// compare's JUnit file has one testcase per compared item, named by its id, failing
/// exactly the regressed ones; its Markdown summary has a table row per item.
fn assert_ci_outputs(json: &Value, junit: &Path, summary: &Path) {
    let xml = std::fs::read_to_string(junit).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(xml.matches("<testcase ").count(), items.len(), "{xml}");
    let regressed = ids_judged(json, "regressed");
    assert_eq!(xml.matches("<failure ").count(), regressed.len(), "{xml}");
    for item in items {
        let id = item["id"].as_str().unwrap();
        assert!(xml.contains(&format!("name=\"{id}\"")), "{id}: {xml}");
    }
    let md = std::fs::read_to_string(summary).unwrap();
    for item in items {
        // Markdown escapes the underscores of `cpu.seconds_per_request`.
        let id = item["id"].as_str().unwrap().replace('_', "\\_");
        assert!(md.contains(&id), "{id}: {md}");
    }
}

fn ids_judged(json: &Value, judgement: &str) -> Vec<String> {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["judgement"] == judgement)
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

fn item<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {json:#}"))
}

#[test]
fn the_same_server_twice_compares_unchanged() {
    let base = baseline();
    let dir = tempfile::tempdir().unwrap();
    let candidate = dir.path().join("run");
    record(&[], &candidate, &[]);
    let (code, table, json) = compare(base, &candidate);
    assert_eq!(json["verdict"], "unchanged", "{table}\n{json:#}");
    assert_eq!(code, 0);
    assert_eq!(json["comparable"], true, "{:?}", json["notes"]);
    assert!(table.starts_with("soakprof compare: UNCHANGED"), "{table}");
    // Every item was compared, load ones included.
    for id in [
        "memory.growth",
        "memory.steady",
        "memory.peak",
        "threads.growth",
        "fds.growth",
        "cpu.mean",
        "cpu.p95",
        "cpu.seconds_per_request",
        "load.p50",
        "load.p95",
        "load.p99",
        "load.error_rate",
        "load.throughput",
    ] {
        let judgement = &item(&json, id)["judgement"];
        // An almost idle fixture's p95 CPU can be 0 in both runs: nothing to compare.
        let idle = id == "cpu.p95" && judgement == "not_compared";
        assert!(judgement == "unchanged" || idle, "{id}: {table}");
    }
}

#[test]
fn a_per_request_leak_regresses_memory_growth_only() {
    let base = baseline();
    let dir = tempfile::tempdir().unwrap();
    let candidate = dir.path().join("run");
    // Recorded with --baseline: the run's verdict carries the comparison and fails on it.
    let base_text = base.display().to_string();
    let code = record(
        &["--leak-kb-per-request", LEAK_KB],
        &candidate,
        &["--baseline", &base_text],
    );
    assert_eq!(code, 1);
    let verdict = read_verdict(&candidate);
    assert_valid(&crate::schema::validator(), "verdict.json", &verdict);
    assert_valid(
        &compare_validator(),
        "verdict baseline",
        &verdict["baseline"],
    );
    assert_eq!(verdict["verdict"], "fail");
    assert_eq!(verdict["baseline"]["verdict"], "regressed");
    let reasons: Vec<&str> = verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("baseline: RSS growth ") && r.ends_with(": regressed")),
        "{reasons:#?}"
    );

    let (code, table, json) = compare(base, &candidate);
    assert_eq!(code, 1, "{table}");
    assert_eq!(ids_judged(&json, "regressed"), ["memory.growth"], "{table}");
    let growth = item(&json, "memory.growth");
    let difference = growth["difference"].as_f64().unwrap();
    assert!(difference > 20e6, "{growth:#}");
    let reason = growth["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("RSS growth ") && reason.contains("MB/min") && reason.contains("95% CI"),
        "{reason}"
    );
    assert!(table.contains(&format!("  - {reason}")), "{table}");
}

#[test]
fn added_latency_regresses_latency_only() {
    let base = baseline();
    let dir = tempfile::tempdir().unwrap();
    let candidate = dir.path().join("run");
    record(&["--delay", "20ms"], &candidate, &[]);
    let (code, table, json) = compare(base, &candidate);
    assert_eq!(code, 1, "{table}");
    let regressed = ids_judged(&json, "regressed");
    assert!(
        regressed.iter().all(|id| id.starts_with("load.p")),
        "{table}"
    );
    assert!(regressed.iter().any(|id| id == "load.p95"), "{table}");
    let p95 = item(&json, "load.p95");
    assert!(p95["difference"].as_f64().unwrap() > 15.0, "{p95:#}");
    let reason = p95["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("p95 latency ")
            && reason.contains(" ms → ")
            && reason.contains("limit +10%"),
        "{reason}"
    );
    // `analyze --baseline` of the same pair: the run's verdict fails with that reason.
    let out = soakprof_within(
        Duration::from_secs(60),
        &[
            "analyze",
            candidate.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verdict = read_verdict(&candidate);
    assert_eq!(verdict["verdict"], "fail");
    let expected = format!("baseline: {reason}");
    assert!(
        verdict["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &expected),
        "{:#?}",
        verdict["reasons"]
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains(&expected), "{summary}");
}

/// A run directory holding only a header line: a run, without samples.
fn run_without_samples(base: &Path, dir: &Path) -> PathBuf {
    let header = std::fs::read_to_string(base.join("samples.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("samples.jsonl"), header + "\n").unwrap();
    empty
}

#[test]
fn bad_inputs_are_one_line_and_exit_2() {
    let base = baseline();
    let base_text = base.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let not_a_run = dir.path().join("not-a-run");
    std::fs::create_dir(&not_a_run).unwrap();
    let not_a_run_text = not_a_run.to_str().unwrap();
    let missing = dir.path().join("missing");
    let empty = run_without_samples(base, dir.path());
    // The same directory by another spelling.
    let respelled = format!(
        "{}/../{}/.",
        base_text,
        base.file_name().unwrap().to_str().unwrap()
    );

    let cases: [(&[&str], &str); 6] = [
        (
            &["compare", base_text, not_a_run_text],
            "is not a soakprof run directory",
        ),
        (
            &["compare", missing.to_str().unwrap(), base_text],
            "does not exist",
        ),
        (
            &["compare", base_text, base_text],
            "are the same run directory",
        ),
        (
            &["compare", base_text, &respelled],
            "are the same run directory",
        ),
        (
            &["compare", base_text, empty.to_str().unwrap()],
            "holds no samples",
        ),
        (
            &[
                "compare",
                base_text,
                base_text,
                "--max-memory-increase",
                "lots",
            ],
            "is not an increase",
        ),
    ];
    for (args, message) in cases {
        let out = soakprof_within(Duration::from_secs(30), args);
        assert_bad_input(&out, message);
    }

    // --baseline is checked before a recording starts: no run directory is made.
    let out_dir = dir.path().join("never");
    let out = soakprof_within(
        Duration::from_secs(30),
        &[
            "record",
            "--duration",
            "30s",
            "--baseline",
            not_a_run_text,
            "--out",
            out_dir.to_str().unwrap(),
            "--",
            "sleep",
            "30",
        ],
    );
    assert_bad_input(&out, "--baseline");
    assert!(!out_dir.exists());
    let out = soakprof_within(
        Duration::from_secs(30),
        &["analyze", base_text, "--baseline", base_text],
    );
    assert_bad_input(&out, "are the same run directory");
    let out = soakprof_within(
        Duration::from_secs(30),
        &[
            "record",
            "--duration",
            "30s",
            "--baseline",
            base_text,
            "--out",
            base_text,
            "--force",
            "--",
            "sleep",
            "30",
        ],
    );
    assert_bad_input(&out, "are the same run directory");
}

#[test]
fn strict_refuses_runs_that_are_not_comparable() {
    let base = baseline();
    // The fixture without load, for as long: load in one run only.
    let fixture = start_fixture(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let candidate = dir.path().join("run");
    let out = soakprof_within(
        Duration::from_secs(60),
        &[
            "record",
            "--pid",
            &fixture.pid.to_string(),
            "--interval",
            "250ms",
            "--duration",
            "6s",
            "--quiet",
            "--out",
            candidate.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(fixture);
    let out = soakprof_within(
        Duration::from_secs(30),
        &[
            "compare",
            base.to_str().unwrap(),
            candidate.to_str().unwrap(),
            "--strict",
        ],
    );
    assert_bad_input(
        &out,
        "not comparable (--strict): only the baseline ran load",
    );
    // Without --strict the pair is compared on what is comparable, and the note said.
    let out_dir = dir.path().join("cmp");
    let out = soakprof_within(
        Duration::from_secs(30),
        &[
            "compare",
            base.to_str().unwrap(),
            candidate.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(
        table.contains("note: only the baseline ran load"),
        "{table}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("compare.json")).unwrap())
            .unwrap();
    assert_eq!(json["comparable"], false);
    assert!(
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !i["id"].as_str().unwrap().starts_with("load."))
    );
    // --out into a run directory is refused.
    let out = soakprof_within(
        Duration::from_secs(30),
        &[
            "compare",
            base.to_str().unwrap(),
            candidate.to_str().unwrap(),
            "--out",
            candidate.to_str().unwrap(),
        ],
    );
    assert_bad_input(&out, "holds a run");
}
