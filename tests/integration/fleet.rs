//! `analyze --prometheus` against a real Prometheus: a day of a synthetic fleet
//! backfilled with promtool (flat, GC sawtooth, warm-up, 2 and 20 MB/min leaks, restarts)
//! judged instance by instance and next to the users' own PromQL alert; a live fleet of
//! `record --metrics-addr` runs scraped by a Prometheus started here; and the bad
//! servers, queries and headers that must be one line, exit 2 and no run directory.

#[path = "../../fixtures/fleet_shapes.rs"]
mod fleet_shapes;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleet_shapes::{Instance, Span};
use serde_json::Value;

use crate::prom::*;
use crate::util::*;

/// Bound on one `analyze --prometheus` (a day of seven instances is a second or two).
const ANALYZE_TIMEOUT: Duration = Duration::from_secs(120);

const MB: f64 = 1e6;

fn now_unix_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A span of `hours` at 15 s ending five minutes ago, on the step grid: all of it old
/// enough to be in the backfilled blocks, none in the future.
fn recent_span(hours: i64) -> Span {
    let end_unix_s = (now_unix_s() - 300) / 15 * 15;
    Span {
        end_unix_s,
        duration_s: hours * 3600,
        step_s: 15,
    }
}

/// `fleet` over `span` (job `api`) written as OpenMetrics, backfilled into `dir/data`
/// with promtool, and a Prometheus serving it; its base URL.
fn serve_backfill(dir: &Path, fleet: &[Instance], span: &Span) -> (Daemon, String) {
    let file = dir.join("fleet.om");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    fleet_shapes::write_openmetrics(&mut out, "api", fleet, span).unwrap();
    out.flush().unwrap();
    drop(out);
    let data = dir.join("data");
    backfill(&file, &data);
    start_prometheus_on(dir, &data, &[])
}

/// The test fleet's day in a Prometheus started here.
struct Backfilled {
    // Declared first so the daemon is stopped before its directory goes.
    _prometheus: Daemon,
    base: String,
    span: Span,
    fleet: Vec<Instance>,
    /// When the 20 MB/min leak's deployment started (its series begins there).
    leak20_start_s: i64,
    dir: tempfile::TempDir,
}

/// `None` (the test skips) without promtool or Prometheus.
fn backfilled(test: &str) -> Option<Backfilled> {
    if !have_tool("promtool", test) || !have_tool("prometheus", test) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let span = recent_span(24);
    // Six hours before the end: long enough for the users' alert to fire within the day.
    let leak20_start_s = span.end_unix_s - 6 * 3600;
    let fleet = fleet_shapes::test_fleet(leak20_start_s);
    let (prometheus, base) = serve_backfill(dir.path(), &fleet, &span);
    let answer = query(
        &base,
        &format!(
            "count(count_over_time(process_resident_memory_bytes{{job=\"api\"}}[1d] @ {}))",
            span.end_unix_s
        ),
    );
    assert_eq!(
        answer["data"]["result"][0]["value"][1],
        fleet.len().to_string().as_str(),
        "every instance served: {answer}"
    );
    Some(Backfilled {
        _prometheus: prometheus,
        base,
        span,
        fleet,
        leak20_start_s,
        dir,
    })
}

/// `soakprof analyze --prometheus BASE ARGS...`, bounded.
fn analyze(base: &str, args: &[&str]) -> Output {
    let mut all = vec!["analyze", "--prometheus", base];
    all.extend_from_slice(args);
    soakprof_within(ANALYZE_TIMEOUT, &all)
}

fn read_fleet(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("fleet.json"))
        .unwrap_or_else(|e| panic!("no fleet.json in {}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

/// fleet.json's schema, with the verdict schema it refers to for each series.
fn fleet_validator() -> jsonschema::Validator {
    let read = |path: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(repo_file(path)).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "https://soakprof.dev/schema/verdict-1.json",
            read("reports/schema/verdict.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .build(&read("reports/schema/fleet.schema.json"))
        .unwrap()
}

/// fleet.json follows its schema, which refuses a field it does not document.
fn assert_valid_fleet(fleet: &Value) {
    let validator = fleet_validator();
    let errors: Vec<String> = validator
        .iter_errors(fleet)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "fleet.json: {errors:#?}");
    for pointer in ["", "/source", "/counts", "/series/0"] {
        let mut extra = fleet.clone();
        extra
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert("new_field".into(), Value::from(1));
        assert!(!validator.is_valid(&extra), "new_field at '{pointer}'");
    }
}

/// The series whose `instance` label is `instance`.
fn series_of<'a>(fleet: &'a Value, instance: &str) -> &'a Value {
    let series = fleet["series"].as_array().unwrap();
    series
        .iter()
        .find(|s| s["labels"]["instance"] == instance)
        .unwrap_or_else(|| {
            let names: Vec<&Value> = series.iter().map(|s| &s["name"]).collect();
            panic!("no series for {instance}: {names:?}")
        })
}

/// One line per series, for failure messages and the test's output.
fn fleet_table(fleet: &Value) -> String {
    let mut lines = Vec::new();
    for s in fleet["series"].as_array().unwrap() {
        let v = &s["verdict"];
        lines.push(format!(
            "  {:<4} {:<22} {:<5} growth {:>9} MB/min  segments {}  restarts {}  {}",
            s["id"].as_str().unwrap_or("?"),
            s["labels"]["instance"].as_str().unwrap_or("?"),
            v["verdict"].as_str().unwrap_or("?"),
            s["growth_bytes_per_min"]
                .as_f64()
                .map_or("null".into(), |g| format!("{:.3}", g / MB)),
            s["segments"],
            v["restarts"]["count"],
            v["reasons"].as_array().map_or(String::new(), |r| r
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")),
        ));
    }
    lines.join("\n")
}

/// |actual − truth| ≤ `tolerance` × truth.
fn within(actual: f64, truth: f64, tolerance: f64) -> bool {
    (actual - truth).abs() <= tolerance * truth.abs()
}

/// The value of each series of an instant query's answer, by `instance`.
fn by_instance(answer: &Value) -> BTreeMap<String, f64> {
    assert_eq!(answer["status"], "success", "{answer}");
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let instance = s["metric"]["instance"].as_str().unwrap().to_string();
            (instance, s["value"][1].as_str().unwrap().parse().unwrap())
        })
        .collect()
}

/// The harness itself: what promtool backfilled is what the generator meant (every
/// point, the leaks' slopes, the restarts), as Prometheus reads it back.
#[test]
fn the_backfilled_day_holds_the_shapes_it_was_written_with() {
    const TEST: &str = "the_backfilled_day_holds_the_shapes_it_was_written_with";
    let Some(b) = backfilled(TEST) else {
        return;
    };
    let at = format!("[1d] @ {}", b.span.end_unix_s);
    let read = |expr: &str| by_instance(&query(&b.base, expr));
    let points = read(&format!(
        "count_over_time(process_resident_memory_bytes{{job=\"api\"}}{at})"
    ));
    let slopes = read(&format!(
        "deriv(process_resident_memory_bytes{{job=\"api\"}}{at})"
    ));
    let starts = read(&format!(
        "changes(process_start_time_seconds{{job=\"api\"}}{at})"
    ));
    let resets = read(&format!(
        "resets(process_cpu_seconds_total{{job=\"api\"}}{at})"
    ));
    let (start_s, end_s) = (b.span.start_unix_s(), b.span.end_unix_s);
    for instance in &b.fleet {
        let name = &instance.name;
        let written = b
            .span
            .times()
            .filter(|&t| instance.at(&b.span, t).is_some())
            .count();
        assert_eq!(points[name], written as f64, "{name}");
        let restarts = instance.restarts_in(&b.span, start_s, end_s).len() as f64;
        assert_eq!(starts[name], restarts, "{name}");
        assert_eq!(
            resets[name], restarts,
            "{name}: the CPU counter restarts with the process"
        );
        if let fleet_shapes::Shape::Leak { bytes_per_min, .. } = instance.shape {
            assert!(
                within(slopes[name] * 60.0, bytes_per_min, 0.01),
                "{name}: {} B/s",
                slopes[name]
            );
        }
    }
    assert!(slopes["flat:9100"].abs() * 60.0 < 0.01 * MB, "{slopes:?}");
}

#[test]
fn a_backfilled_day_is_judged_instance_by_instance() {
    const TEST: &str = "a_backfilled_day_is_judged_instance_by_instance";
    let Some(b) = backfilled(TEST) else {
        return;
    };
    let (start_s, end_s) = (b.span.start_unix_s(), b.span.end_unix_s);
    let out_dir = b.dir.path().join("fleet");
    // 1 MB/min fails and 0.5 MB/min warns: half the slower leak, so both leaks fail.
    let out = analyze(
        &b.base,
        &[
            "--job",
            "api",
            "--start",
            &start_s.to_string(),
            "--end",
            &end_s.to_string(),
            "--step",
            "15s",
            "--group-by",
            "instance",
            "--max-growth",
            "1MB/min",
            "--warn-growth",
            "0.5MB/min",
            "--out",
            out_dir.to_str().unwrap(),
            "--junit",
            b.dir.path().join("junit.xml").to_str().unwrap(),
            "--summary-md",
            b.dir.path().join("summary.md").to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let fleet = read_fleet(&out_dir);
    let table = fleet_table(&fleet);
    eprintln!("{TEST}: the backfilled day at 1 MB/min:\n{table}");
    assert_ci_outputs(b.dir.path(), &fleet);

    assert_valid_fleet(&fleet);
    assert_eq!(fleet["kind"], "fleet");
    assert_eq!(fleet["verdict"], "fail");
    let source = &fleet["source"];
    assert_eq!(source["job"], "api", "{source}");
    assert_eq!(source["start_unix_s"].as_f64(), Some(start_s as f64));
    assert_eq!(source["end_unix_s"].as_f64(), Some(end_s as f64));
    assert_eq!(source["step_s"].as_f64(), Some(15.0));
    assert_eq!(source["group_by"], serde_json::json!(["instance"]));
    assert_eq!(
        source["queries"]["rss"], "process_resident_memory_bytes{job=\"api\"}",
        "{source}"
    );
    assert_eq!(
        fleet["thresholds"]["max_growth_bytes_per_min"].as_f64(),
        Some(1e6)
    );
    assert_eq!(fleet["counts"]["series"], b.fleet.len(), "{table}");

    let mut failing = 0;
    let mut restarts_total = 0;
    for instance in &b.fleet {
        let s = series_of(&fleet, &instance.name);
        let v = &s["verdict"];
        let what = format!("{}\n{table}", instance.name);
        // --group-by instance: the target is named by its instance alone.
        assert_eq!(
            s["labels"],
            serde_json::json!({ "instance": instance.name }),
            "{what}"
        );
        let truth = instance.true_growth_bytes_per_min();
        if truth > 0.0 {
            failing += 1;
            assert_eq!(v["verdict"], "fail", "{what}");
            let growth = s["growth_bytes_per_min"].as_f64().unwrap();
            assert!(within(growth, truth, 0.10), "growth {growth}: {what}");
            let slope = v["metrics"]["rss"]["slope_per_min"].as_f64().unwrap();
            assert!(within(slope, truth, 0.10), "rss slope {slope}: {what}");
        } else {
            assert_ne!(v["verdict"], "fail", "no growth: {what}");
        }
        let restarts = instance.restarts_in(&b.span, start_s, end_s).len();
        restarts_total += restarts;
        if restarts > 0 {
            assert_eq!(v["restarts"]["count"], restarts, "{what}");
            assert_eq!(s["segments"], restarts + 1, "{what}");
        } else {
            assert!(v["restarts"].is_null(), "{what}");
            assert_eq!(s["segments"], 1, "{what}");
        }
    }
    assert_eq!(fleet["counts"]["fail"], failing, "{table}");
    assert_eq!(fleet["counts"]["restarts"], restarts_total, "{table}");
    assert_eq!(
        fleet["counts"]["pass"].as_u64().unwrap() + fleet["counts"]["warn"].as_u64().unwrap(),
        (b.fleet.len() - failing) as u64
    );
    // The worst is the fastest leak, first in the list.
    let first = &fleet["series"][0];
    assert_eq!(first["labels"]["instance"], "leak20:9100", "{table}");
    assert_eq!(fleet["worst"]["id"], first["id"]);
    assert_eq!(fleet["worst"]["verdict"], "fail");
    assert_eq!(fleet["worst"]["name"], first["name"]);

    assert_terminal_order(&String::from_utf8_lossy(&out.stdout), &fleet);
    assert_fleet_page(&out_dir, &fleet);
}

/// `--junit`: one testcase per series (classname soakprof.fleet, named by its labels), a
/// failure for each failing one; `--summary-md`: a row per series.
fn assert_ci_outputs(dir: &Path, fleet: &Value) {
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let series = fleet["series"].as_array().unwrap();
    assert_eq!(junit.matches("<testcase ").count(), series.len(), "{junit}");
    assert_eq!(
        junit.matches("classname=\"soakprof.fleet\"").count(),
        series.len(),
        "{junit}"
    );
    let failing = series
        .iter()
        .filter(|s| s["verdict"]["verdict"] == "fail")
        .count();
    assert_eq!(junit.matches("<failure").count(), failing, "{junit}");
    for s in series {
        let instance = s["labels"]["instance"].as_str().unwrap();
        assert!(junit.contains(instance), "{instance}: {junit}");
        assert!(summary.contains(instance), "{instance}: {summary}");
    }
    assert!(summary.contains("fleet.html"), "{summary}");
}

/// The terminal table lists the series in fleet.json's order (worst first, by growth).
fn assert_terminal_order(stdout: &str, fleet: &Value) {
    let positions: Vec<usize> = fleet["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let instance = s["labels"]["instance"].as_str().unwrap();
            stdout
                .find(instance)
                .unwrap_or_else(|| panic!("{instance} not on stdout: {stdout}"))
        })
        .collect();
    assert!(positions.is_sorted(), "{stdout}");
}

/// fleet.html: one tile per series, worst first, each a mini-chart (restarts marked)
/// linking to the series' full verdict in the same page.
fn assert_fleet_page(dir: &Path, fleet: &Value) {
    let html = std::fs::read_to_string(dir.join("fleet.html")).unwrap();
    let series = fleet["series"].as_array().unwrap();
    let tiles: Vec<&str> = html.split("<li><a class=\"tile ").skip(1).collect();
    assert_eq!(tiles.len(), series.len(), "one tile per series");
    for (tile, s) in tiles.iter().zip(series) {
        let id = s["id"].as_str().unwrap();
        let verdict = s["verdict"]["verdict"].as_str().unwrap();
        let tile = &tile[..tile.find("</li>").unwrap()];
        assert!(
            tile.starts_with(&format!("t-{verdict}\" href=\"#{id}\"")),
            "tile {id}: {tile}"
        );
        assert!(tile.contains("<svg"), "tile {id} has no chart: {tile}");
        let restarts = s["verdict"]["restarts"]["count"].as_u64().unwrap_or(0);
        assert_eq!(
            tile.matches("<line class=\"restart\"").count() as u64,
            restarts,
            "restarts marked on {id}"
        );
        assert!(
            html.contains(&format!("<section class=\"series\" id=\"{id}\">")),
            "no verdict section {id}"
        );
    }
}

/// When a `for: 3h` alert on `condition` (1 = true, evaluated every `step_s`) first
/// fires: true at every evaluation for three hours, as Prometheus's rule manager holds a
/// pending alert (a missing evaluation resets it).
fn fires_at(points: &[(i64, f64)], step_s: i64, hold_s: i64) -> Option<i64> {
    let mut active_since: Option<i64> = None;
    let mut previous: Option<i64> = None;
    for &(t, value) in points {
        let contiguous = previous == Some(t - step_s);
        active_since = match (value == 1.0, active_since) {
            (true, Some(since)) if contiguous => Some(since),
            (true, _) => Some(t),
            (false, _) => None,
        };
        if let Some(since) = active_since
            && t - since >= hold_s
        {
            return Some(t);
        }
        previous = Some(t);
    }
    None
}

fn hours(s: i64) -> String {
    format!("{:.2} h", s as f64 / 3600.0)
}

/// How long soakprof needs to fail the 20 MB/min leak, in minutes from the start of its
/// deployment, with the default thresholds (10 MB/min fails): windows of growing length
/// from there until one fails; and what each window said.
fn time_to_flag_leak20(b: &Backfilled) -> (Option<i64>, Vec<String>) {
    let leak20 = "process_resident_memory_bytes{job=\"api\",instance=\"leak20:9100\"}";
    let mut flagged_after_min = None;
    let mut tries = Vec::new();
    for minutes in [1, 2, 3, 5, 10, 15, 30, 60] {
        let dir = b.dir.path().join(format!("leak20-{minutes}min"));
        let out = analyze(
            &b.base,
            &[
                "--query",
                leak20,
                "--start",
                &b.leak20_start_s.to_string(),
                "--end",
                &(b.leak20_start_s + minutes * 60).to_string(),
                "--step",
                "15s",
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{minutes} min: {}",
            stderr(&out)
        );
        let judged = read_fleet(&dir);
        let s = &judged["series"][0];
        tries.push(format!(
            "{minutes} min: {} ({})",
            s["verdict"]["verdict"].as_str().unwrap_or("?"),
            s["growth_bytes_per_min"]
                .as_f64()
                .map_or("unjudged".into(), |g| format!("{:.1} MB/min", g / MB))
        ));
        if code == Some(1) {
            assert_eq!(s["verdict"]["verdict"], "fail");
            flagged_after_min = Some(minutes);
            break;
        }
    }
    (flagged_after_min, tries)
}

#[test]
fn the_fleet_judge_flags_the_fast_leak_before_the_users_alert() {
    const TEST: &str = "the_fleet_judge_flags_the_fast_leak_before_the_users_alert";
    let Some(b) = backfilled(TEST) else {
        return;
    };
    let (start_s, end_s) = (b.span.start_unix_s(), b.span.end_unix_s);
    // The users' rule `deriv(process_resident_memory_bytes[1h]) > 10MB/h for 3h`,
    // evaluated every minute by this Prometheus over the day.
    let condition = "deriv(process_resident_memory_bytes{job=\"api\"}[1h]) > bool (10e6 / 3600)";
    let answer = query_range(&b.base, condition, start_s, end_s, 60);
    let mut alert: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for (labels, points) in matrix(&answer) {
        let instance = labels["instance"].as_str().unwrap().to_string();
        alert.insert(instance, fires_at(&points, 60, 3 * 3600));
    }
    assert_eq!(alert.len(), b.fleet.len(), "{alert:?}");

    // soakprof on the same day at the alert's own threshold (10 MB/h fails).
    let day_dir = b.dir.path().join("day");
    let out = analyze(
        &b.base,
        &[
            "--job",
            "api",
            "--start",
            &start_s.to_string(),
            "--end",
            &end_s.to_string(),
            "--group-by",
            "instance",
            "--max-growth",
            "10MB/h",
            "--warn-growth",
            "5MB/h",
            "--out",
            day_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let fleet = read_fleet(&day_dir);

    let (flagged_after_min, tries) = time_to_flag_leak20(&b);

    let mut table = vec![format!(
        "{:<20} {:<34} {}",
        "shape", "alert (deriv[1h] > 10MB/h for 3h)", "soakprof (--max-growth 10MB/h)"
    )];
    for instance in &b.fleet {
        // Measured from where the series starts (the deployment, for the 20 MB/min leak).
        let from_s = if instance.name == "leak20:9100" {
            b.leak20_start_s
        } else {
            start_s
        };
        let fired = alert[&instance.name];
        let s = series_of(&fleet, &instance.name);
        table.push(format!(
            "{:<20} {:<34} {} (growth {})",
            instance.name,
            fired.map_or("never".into(), |t| format!(
                "fires after {}",
                hours(t - from_s)
            )),
            s["verdict"]["verdict"].as_str().unwrap(),
            s["growth_bytes_per_min"]
                .as_f64()
                .map_or("null".into(), |g| format!("{:.3} MB/min", g / MB)),
        ));
    }
    let alert_leak20 = alert["leak20:9100"].map(|t| t - b.leak20_start_s);
    table.push(format!(
        "time to flag the 20 MB/min leak from its start: alert {}, soakprof {} [{}]",
        alert_leak20.map_or("never".into(), hours),
        flagged_after_min.map_or("not within 60 min".into(), |m| format!("{m} min")),
        tries.join(", ")
    ));
    let table = table.join("\n");
    eprintln!("{TEST}:\n{table}\n{}", fleet_table(&fleet));

    // The harness: the alert evaluates as expected (fires on both leaks, never on flat).
    assert!(alert["leak2:9100"].is_some(), "{table}");
    assert!(alert["flat:9100"].is_none(), "{table}");
    let alert_leak20 = alert_leak20.expect("the alert fires on the 20 MB/min leak");
    assert!(alert_leak20 >= 3 * 3600, "{table}");
    // soakprof flags it first; it fails every leak (the alert misses the one that restarts
    // every 3 h) and nothing that does not grow where the alert stays quiet.
    let flagged = flagged_after_min.expect("soakprof flags the 20 MB/min leak within an hour");
    assert!(flagged * 60 < alert_leak20, "{table}");
    for instance in &b.fleet {
        let verdict = &series_of(&fleet, &instance.name)["verdict"]["verdict"];
        if instance.true_growth_bytes_per_min() > 0.0 {
            assert_eq!(verdict, "fail", "{}: {table}", instance.name);
        } else if alert[&instance.name].is_none() {
            assert_ne!(verdict, "fail", "false fail on {}: {table}", instance.name);
        }
    }
}

/// `soakprof record` of the fixture with `fixture_args`, serving /metrics on `addr`, for
/// 75 s, in the background.
fn record_live(out_dir: &Path, addr: &str, fixture_args: &[&str]) -> Recording {
    let child = Command::new(soakprof_bin())
        .args([
            "record",
            "--interval",
            "100ms",
            "--duration",
            "75s",
            "--quiet",
        ])
        .args(["--metrics-addr", addr, "--out"])
        .arg(out_dir)
        .arg("--")
        .arg(fixture_bin())
        .args(fixture_args)
        .args(["--exit-after", "120s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Recording(Some(child))
}

#[test]
fn a_live_fleet_is_judged_from_the_prometheus_that_scrapes_it() {
    const TEST: &str = "a_live_fleet_is_judged_from_the_prometheus_that_scrapes_it";
    if !have_tool("prometheus", TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Distinct ports (held open until all three are chosen).
    let holders: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<String> = holders
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    drop(holders);
    let (_prometheus, base) = start_prometheus(dir.path(), &addrs);
    let shapes: [(&str, &[&str]); 3] = [
        ("leak", &["--leak-mb-per-min", "120"]),
        ("flat", &[]),
        ("sawtooth", &["--saw-mb", "20", "--saw-period", "5s"]),
    ];
    let mut recordings: Vec<Recording> = shapes
        .iter()
        .zip(&addrs)
        .map(|((name, args), addr)| record_live(&dir.path().join(name), addr, args))
        .collect();
    let page = poll("a scrape with RSS", Duration::from_secs(20), || {
        get_text(&format!("http://{}/metrics", addrs[0]))
            .filter(|t| t.contains("process_resident_memory_bytes{"))
    });
    promtool_check(&page, TEST);
    // A minute of scrapes of each (one a second) in Prometheus.
    poll("a minute of scrapes", Duration::from_secs(120), || {
        let v = query(
            &base,
            "count_over_time(process_resident_memory_bytes{job=\"soak\"}[65s])",
        );
        let result = v["data"]["result"].as_array()?;
        let full = |s: &Value| {
            s["value"][1]
                .as_str()
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|n| n >= 60.0)
        };
        (result.len() == 3 && result.iter().all(full)).then_some(())
    });
    let out_dir = dir.path().join("fleet");
    let out = analyze(
        &base,
        &[
            "--job",
            "soak",
            "--range",
            "1m",
            "--step",
            "1s",
            "--group-by",
            "instance",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let fleet = read_fleet(&out_dir);
    let table = fleet_table(&fleet);
    eprintln!("{TEST}:\n{table}");
    assert_valid_fleet(&fleet);
    assert_eq!(fleet["counts"]["series"], 3, "{table}");
    assert_eq!(fleet["source"]["step_s"].as_f64(), Some(1.0));
    for ((name, _), addr) in shapes.iter().zip(&addrs) {
        let s = series_of(&fleet, addr);
        let verdict = &s["verdict"]["verdict"];
        if *name == "leak" {
            assert_eq!(verdict, "fail", "{name} on {addr}: {table}");
            // 120 MB/min leaked in small steps; a minute of 1 s points sees most of it.
            let growth = s["growth_bytes_per_min"].as_f64().unwrap();
            assert!(growth > 60.0 * MB, "{name} on {addr}: {table}");
        } else {
            assert_ne!(verdict, "fail", "{name} on {addr}: {table}");
        }
        // The preset's thread query reads soakprof's own series.
        assert!(s["verdict"]["metrics"]["threads"].is_object(), "{table}");
    }
    // The runs end by their --duration and judge their targets the same way.
    for (recording, (name, _)) in recordings.iter_mut().zip(&shapes) {
        let (code, err) = finish(recording.take(), Duration::from_secs(60));
        let expected = if *name == "leak" { 1 } else { 0 };
        assert_eq!(code, Some(expected), "record of {name}: {err}");
        assert_complete_run(&dir.path().join(name));
    }
}

/// One line on stderr, the exit code, `needle` in the message, and no directory at `out`.
fn assert_refused(out: &Output, code: i32, needle: &str, out_dir: &Path) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    eprintln!("refused (exit {code}): {}", err.trim_end());
    assert!(
        !out_dir.exists(),
        "{} created by a failed fetch ({err})",
        out_dir.display()
    );
}

/// `analyze --prometheus BASE EXTRA... --range 1h --out OUT`.
fn analyze_into(base: &str, extra: &[&str], out_dir: &Path) -> Output {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--range", "1h", "--out", out_dir.to_str().unwrap()]);
    analyze(base, &args)
}

#[test]
fn a_closed_port_or_a_server_that_is_not_prometheus_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fleet");
    let run = |base: &str, extra: &[&str]| analyze_into(base, extra, &out_dir);
    // Nothing listens on a port just freed.
    let port = free_port().to_string();
    let closed = format!("http://127.0.0.1:{port}");
    assert_refused(&run(&closed, &["--job", "api"]), 2, &port, &out_dir);
    // An HTTP server that is not Prometheus: the fixture answers `ok` on every path.
    let (_server, server_port, _port_dir) = crate::load::start_server(&[]);
    let server_port = server_port.to_string();
    assert_refused(
        &run(
            &format!("http://127.0.0.1:{server_port}"),
            &["--job", "api"],
        ),
        2,
        &server_port,
        &out_dir,
    );
}

#[test]
fn bad_queries_headers_and_server_failures_are_one_line_and_no_run_directory() {
    const TEST: &str = "bad_queries_headers_and_server_failures_are_one_line_and_no_run_directory";
    if !have_tool("promtool", TEST) || !have_tool("prometheus", TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fleet");
    let run = |base: &str, extra: &[&str]| analyze_into(base, extra, &out_dir);
    let span = recent_span(2);
    let fleet = [
        Instance::new("a:9100", fleet_shapes::Shape::Flat, 11),
        Instance::new("b:9100", fleet_shapes::Shape::Flat, 12),
    ];
    let (_prometheus, base) = serve_backfill(dir.path(), &fleet, &span);
    let end = span.end_unix_s.to_string();
    let good = ["--job", "api", "--end", &end];
    // Prometheus under a path it does not serve (404).
    assert_refused(&run(&format!("{base}/nope/"), &good), 2, "/nope", &out_dir);
    // A PromQL syntax error: the server's own message, quoted.
    let bad_promql = "rate(x[5m";
    let said = query_range(&base, bad_promql, span.start_unix_s(), span.end_unix_s, 15);
    let server_error = said["error"].as_str().unwrap();
    assert_refused(
        &run(&base, &["--query", bad_promql, "--end", &end]),
        2,
        server_error,
        &out_dir,
    );
    // A query that matches nothing.
    assert_refused(
        &run(&base, &["--query", "no_such_metric", "--end", &end]),
        2,
        "no_such_metric",
        &out_dir,
    );
    // Series whose values are no size (negative): returned, but nothing to judge.
    assert_refused(
        &run(
            &base,
            &[
                "--query",
                "rss=-process_resident_memory_bytes{job=\"api\"}",
                "--end",
                &end,
            ],
        ),
        2,
        "no usable values",
        &out_dir,
    );
    // Header values come from a file or the environment, never the command line.
    fn header<'a>(good: &[&'a str], value: &'a str) -> Vec<&'a str> {
        let mut args = good.to_vec();
        args.extend_from_slice(&["--prometheus-header", value]);
        args
    }

    assert_refused(
        &run(
            &base,
            &header(&good, "Authorization: Bearer file:/nonexistent/token"),
        ),
        2,
        "/nonexistent/token",
        &out_dir,
    );

    assert_refused(
        &run(&base, &header(&good, "Authorization: Bearer abc")),
        2,
        "--prometheus-header",
        &out_dir,
    );

    assert_refused(
        &run(
            &base,
            &header(&good, "Authorization: Bearer env:SOAKPROF_TEST_UNSET_TOKEN"),
        ),
        2,
        "SOAKPROF_TEST_UNSET_TOKEN",
        &out_dir,
    );
    // A server-side failure is exit 3: a Prometheus allowed 1 ms per query times out
    // (503) on a subquery of 86,400 points per step.
    let strict_dir = dir.path().join("strict");
    std::fs::create_dir(&strict_dir).unwrap();
    let (_strict, strict) = start_prometheus_on(
        &strict_dir,
        &strict_dir.join("data"),
        &["--query.timeout=1ms"],
    );
    assert_refused(
        &run(
            &strict,
            &[
                "--query",
                "count_over_time(vector(1)[1d:1s])",
                "--step",
                "15s",
            ],
        ),
        3,
        "timed out",
        &out_dir,
    );
    // The same with a token file that exists: the fetch goes ahead (this Prometheus takes
    // no authentication) and writes the fleet.
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let from_file = format!("Authorization: Bearer file:{}", token.display());
    let out = run(&base, &header(&good, &from_file));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(out_dir.join("fleet.json")).unwrap();
    assert!(
        !written.contains("s3cret"),
        "the token is not in fleet.json"
    );
    assert_eq!(read_fleet(&out_dir)["counts"]["series"], 2);
    // A directory that already holds a fleet is not overwritten.
    let again = run(&base, &good);
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("fleet.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("fleet.json")).unwrap(),
        written
    );
}
