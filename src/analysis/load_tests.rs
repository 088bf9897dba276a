//! Tests of `analysis::load`.

use super::*;
use crate::runlog::load::{
    ExternalExit, ExternalRun, LoadInterval, LoadStart, StageEvent, new_latency_histogram,
};
use hdrhistogram::Histogram;

/// The summary and the reason lines of `judge_load`.
fn judged(load: &LoadRun, thresholds: &Thresholds) -> (LoadSummary, Vec<String>) {
    let (summary, findings) = judge_load(load, thresholds);
    (summary, findings.iter().map(Finding::reason).collect())
}

fn histogram(values_us: &[(u64, u64)]) -> Histogram<u64> {
    let mut h = new_latency_histogram().unwrap();
    for &(value, count) in values_us {
        h.record_n(value, count).unwrap();
    }
    h
}

fn totals(requests: u64, errors: ErrorCounts, latency: Option<Histogram<u64>>) -> LoadTotals {
    LoadTotals {
        requests,
        errors,
        latency,
    }
}

/// A 30 s built-in run at 200 req/s: 30 one-second intervals, 6000 requests, latency
/// 1 ms for 90%, 3 ms up to p99, 8 ms for the last 1%.
fn run(errors: ErrorCounts) -> LoadRun {
    let requests = 6000;
    let answered = requests - errors.total() + errors.status + errors.check;
    let slow = answered / 100;
    let mid = answered / 10 - slow;
    let h = histogram(&[(1_000, answered - mid - slow), (3_000, mid), (8_000, slow)]);
    let intervals = (1..=30)
        .map(|i| LoadInterval {
            t: i as f64 + 0.5,
            dt_s: 1.0,
            level: 200.0,
            active: 10,
            requests: 200,
            rps: 200.0,
            ..LoadInterval::default()
        })
        .collect();
    LoadRun {
        start: Some(LoadStart {
            t: 0.5,
            driver: "builtin".into(),
            model: Some("open".into()),
            source: "soak.toml".into(),
            interval_s: 1.0,
            requests: vec![],
            stages: vec![],
            max_in_flight: Some(1000),
        }),
        intervals,
        stages: vec![StageEvent {
            t: 0.5,
            index: 0,
            name: "steady".into(),
            target: 200.0,
        }],
        external: None,
        end_in_flight: Some(3),
        end_in_flight_ages: None,
        total: totals(requests, errors, Some(h.clone())),
        by_name: BTreeMap::from([
            ("get".to_string(), totals(4000, errors, Some(h.clone()))),
            (
                "post".to_string(),
                totals(2000, ErrorCounts::default(), Some(h)),
            ),
        ]),
        skipped_lines: 0,
    }
}

fn gated(f: impl FnOnce(&mut Thresholds)) -> Thresholds {
    let mut th = Thresholds::default();
    f(&mut th);
    th
}

#[test]
fn clean_run_is_summarised_and_passes_its_gates() {
    let th = gated(|t| {
        t.max_p95_ms = Some(500.0);
        t.max_p99_ms = Some(50.0);
        t.max_error_rate = Some(0.01);
        t.min_rps = Some(100.0);
    });
    let (s, reasons) = judged(&run(ErrorCounts::default()), &th);
    assert_eq!(s.verdict, Verdict::Pass, "{reasons:?}");
    assert!(reasons.is_empty(), "{reasons:?}");
    assert_eq!(s.driver, "builtin");
    assert_eq!(s.model.as_deref(), Some("open"));
    assert_eq!(s.duration_s, 30.0);
    assert_eq!(s.requests, 6000);
    assert_eq!(s.responses, 6000);
    assert_eq!(s.errors, 0);
    assert_eq!(s.error_rate, Some(0.0));
    assert_eq!(s.rps, Some(200.0));
    let lat = s.latency_ms;
    assert!((lat.p50.unwrap() - 1.0).abs() < 0.01, "{lat:?}");
    assert!((lat.p95.unwrap() - 3.0).abs() < 0.01, "{lat:?}");
    assert!((lat.max.unwrap() - 8.0).abs() < 0.01, "{lat:?}");
    assert_eq!(s.by_name["post"].requests, 2000);
    assert_eq!(s.by_name["post"].rps, Some(2000.0 / 30.0));
    assert_eq!(s.stages.len(), 1);
    assert_eq!(s.abandoned_in_flight, Some(3));
    assert_eq!(s.gates.len(), 4);
    assert!(s.gates.iter().all(|g| g.passed));
    assert_eq!(s.gates[0].value, lat.p95);

    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["gates"][0]["gate"], "p95");
    assert_eq!(json["gates"][0]["unit"], "ms");
    assert_eq!(json["gates"][2]["gate"], "error_rate");
    assert_eq!(json["gates"][2]["unit"], "fraction");
    assert_eq!(json["gates"][3]["gate"], "min_rps");
    assert_eq!(json["errors_by_kind"]["connect"], 0);
    assert!(json["external"].is_null());
    let back: LoadSummary = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn failed_gates_fail_with_reasons() {
    let errors = ErrorCounts {
        connect: 160,
        ..ErrorCounts::default()
    };
    let th = gated(|t| {
        t.max_p95_ms = Some(2.0);
        t.max_error_rate = Some(0.01);
        t.min_rps = Some(250.0);
    });
    let (s, reasons) = judged(&run(errors), &th);
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(
        reasons,
        vec![
            "load gate: p95 latency 3.0 ms is above --max-p95 2.0 ms".to_string(),
            "load gate: error rate 2.67% (160 of 6000 requests: connect 160) is above --max-error-rate 1%".to_string(),
            "load gate: throughput 200.0 req/s is below --min-rps 250".to_string(),
        ]
    );
    assert_eq!(s.errors, 160);
    assert_eq!(s.responses, 6000 - 160);
    assert!(s.gates.iter().all(|g| !g.passed));
    assert_eq!(s.gates[1].value, Some(160.0 / 6000.0));
}

#[test]
fn unmeasurable_gates_fail() {
    // Every request refused: no latency at all.
    let mut load = run(ErrorCounts::default());
    load.total = totals(
        6000,
        ErrorCounts {
            connect: 6000,
            ..ErrorCounts::default()
        },
        None,
    );
    let th = gated(|t| {
        t.max_p95_ms = Some(500.0);
        t.max_error_rate = Some(1.0);
    });
    let (s, reasons) = judged(&load, &th);
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(s.latency_ms, LatencyMs::default());
    assert_eq!(s.gates[0].value, None);
    assert!(!s.gates[0].passed);
    assert!(s.gates[1].passed, "100% errors is within a 100% limit");
    assert_eq!(
        reasons,
        vec![
            "load gate: p95 latency cannot be measured (none of the 6000 requests got a response), so --max-p95 500 ms is not met"
        ]
    );

    // No intervals at all: nothing measurable, and a warning on its own.
    let mut empty = run(ErrorCounts::default());
    empty.intervals.clear();
    empty.total = totals(0, ErrorCounts::default(), None);
    empty.by_name.clear();
    let (s, reasons) = judged(&empty, &gated(|t| t.min_rps = Some(1.0)));
    assert_eq!(s.rps, None);
    assert_eq!(s.error_rate, None);
    assert_eq!(s.verdict, Verdict::Fail);
    assert!(reasons[0].contains("no intervals"), "{reasons:?}");
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["rps"].is_null() && json["error_rate"].is_null());
    assert!(json["latency_ms"]["p95"].is_null());
}

#[test]
fn errors_without_a_gate_warn_above_five_percent() {
    let errors = ErrorCounts {
        connect: 600,
        timeout: 120,
        ..ErrorCounts::default()
    };
    let (s, reasons) = judged(&run(errors), &Thresholds::default());
    assert_eq!(s.verdict, Verdict::Warn);
    assert_eq!(
        reasons,
        vec![
            "load: 12% of requests failed (timeout 120, connect 600); set --max-error-rate to gate on it"
        ]
    );
    assert!(s.gates.is_empty());
    // 2%: said nowhere, not a warning.
    let few = ErrorCounts {
        status: 120,
        ..ErrorCounts::default()
    };
    let (s, reasons) = judged(&run(few), &Thresholds::default());
    assert_eq!(s.verdict, Verdict::Pass, "{reasons:?}");
    assert!(reasons.is_empty());
}

fn external(exit: Option<ExternalExit>) -> LoadRun {
    LoadRun {
        start: None,
        intervals: vec![],
        stages: vec![],
        external: Some(ExternalRun {
            command: "k6 run soak.js".into(),
            pid: 4242,
            exit,
        }),
        end_in_flight: None,
        end_in_flight_ages: None,
        total: totals(0, ErrorCounts::default(), None),
        by_name: BTreeMap::new(),
        skipped_lines: 0,
    }
}

#[test]
fn external_command_exits() {
    let exit = |code, signal, by_profiler| {
        Some(ExternalExit {
            t: 12.0,
            code,
            signal,
            by_profiler,
        })
    };
    let th = Thresholds::default();
    let (s, reasons) = judged(&external(exit(Some(99), None, false)), &th);
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(s.driver, "external");
    assert_eq!(
        reasons,
        vec!["the load command exited with status 99 after 12 s"]
    );
    let ext = s.external.unwrap();
    assert_eq!(
        (ext.exit_code, ext.signal, ext.stopped_by_profiler),
        (Some(99), None, false)
    );

    let (s, reasons) = judged(&external(exit(None, Some(9), false)), &th);
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(
        reasons,
        vec!["the load command was killed by signal 9 (SIGKILL) after 12 s"]
    );

    // Stopped by soakprof at the end of the run (SIGTERM): fine.
    let (s, reasons) = judged(&external(exit(None, Some(15), true)), &th);
    assert_eq!(s.verdict, Verdict::Pass, "{reasons:?}");
    assert!(reasons.is_empty());
    assert!(s.external.unwrap().stopped_by_profiler);

    // Exited 0 on its own: said, not judged. Still running when the log ends: nothing.
    let (s, reasons) = judged(&external(exit(Some(0), None, false)), &th);
    assert_eq!(s.verdict, Verdict::Pass);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    // Gates on an external driver cannot be measured: they fail, saying why.
    let gated = Thresholds {
        max_p95_ms: Some(500.0),
        ..Thresholds::default()
    };
    let (s, reasons) = judged(&external(exit(None, Some(15), true)), &gated);
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(
        reasons,
        vec![
            "load gate: p95 latency cannot be measured (an external load command reports no request statistics to soakprof), so --max-p95 500 ms is not met"
        ]
    );
    let (s, reasons) = judged(&external(None), &th);
    assert_eq!(s.verdict, Verdict::Pass);
    assert!(reasons.is_empty());
    assert_eq!(s.external.unwrap().exited_at_s, None);
}

#[test]
fn number_formats() {
    assert_eq!(format_percent(0.01), "1%");
    assert_eq!(format_percent(0.032), "3.2%");
    assert_eq!(format_percent(0.12), "12%");
    assert_eq!(format_percent(0.0025), "0.25%");
    assert_eq!(format_percent(0.0), "0%");
    assert_eq!(format_percent(1.0), "100%");
    assert_eq!(format_ms(812.4), "812");
    assert_eq!(format_ms(3.41), "3.4");
    assert_eq!(format_ms(0.853), "0.85");
    assert_eq!(format_rps(85.12), "85.1");
    assert_eq!(GateKind::MinRps.format_limit(100.0), "100");
    assert_eq!(GateKind::MinRps.format_limit(12.5), "12.5");
    assert_eq!(
        format_error_kinds(&ErrorCounts {
            connect: 2,
            other: 1,
            ..ErrorCounts::default()
        }),
        "connect 2, other 1"
    );
}

#[test]
fn requests_in_flight_at_the_end_count_past_the_bound() {
    // 110 requests in flight at the end: 100 had waited 3 s, 10 had waited 50 ms.
    let mut load = run(ErrorCounts::default());
    load.end_in_flight = Some(110);
    load.end_in_flight_ages = Some(histogram(&[(3_000_000, 100), (50_000, 10)]));

    // No latency gate: only those past 5 s would count; none did.
    let (s, reasons) = judged(&load, &gated(|t| t.max_error_rate = Some(0.01)));
    assert_eq!(s.unfinished_after_ms, UNFINISHED_AFTER_MS);
    assert_eq!(s.errors_by_kind.unfinished, 0);
    assert_eq!(s.verdict, Verdict::Pass, "{reasons:?}");

    // A 100 ms p99 gate: the 100 older ones missed it whatever happens next.
    let th = gated(|t| {
        t.max_error_rate = Some(0.01);
        t.max_p99_ms = Some(100.0);
    });
    let (s, reasons) = judged(&load, &th);
    assert_eq!(s.unfinished_after_ms, 100.0);
    assert_eq!(s.errors_by_kind.unfinished, 100);
    assert_eq!(s.requests, 6100);
    assert_eq!(s.responses, 6000, "unfinished requests have no response");
    assert_eq!(s.verdict, Verdict::Fail);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("(100 of 6100 requests: unfinished 100)")),
        "{reasons:?}"
    );
    // They are in the percentiles at their age: 100 of 6100 is over 1%, so the p99 is
    // theirs (3 s, not the 8 ms of the slowest response).
    assert!(s.latency_ms.p99.unwrap() >= 2_990.0, "{:?}", s.latency_ms);
    assert!(!s.gates[0].passed && !s.gates[1].passed, "{:?}", s.gates);
    assert!(
        reasons.iter().any(|r| r
            .contains("100 request(s) were still unanswered at the end after more than 100 ms")),
        "{reasons:?}"
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["errors_by_kind"]["unfinished"], 100);
    assert_eq!(json["unfinished_after_ms"], 100.0);
}

#[test]
fn a_load_that_completed_nothing_warns() {
    let mut load = run(ErrorCounts::default());
    load.total = totals(0, ErrorCounts::default(), None);
    load.by_name.clear();
    load.end_in_flight = Some(3);
    let (s, reasons) = judged(&load, &Thresholds::default());
    assert_eq!(s.verdict, Verdict::Warn);
    assert_eq!(
        reasons,
        vec![
            "load: no request completed in 30 s; 3 still in flight at the end; is the target answering?"
        ]
    );
}
