//! Comparisons of synthetic runs: the same shape under different seeds compares unchanged;
//! a leak, a steady step or a latency shift added to the candidate regresses that item.

use super::*;
use crate::analysis::{AnalysisConfig, analyse};
use crate::rng::SplitMix64;
use crate::runlog::load::{
    LatencyMs, LoadInterval, LoadRun, LoadStart, LoadTotals, StageInfo, new_latency_histogram,
};
use crate::sample::Sample;
use crate::synthetic;

const MB: f64 = 1e6;

/// A synthetic run's shape.
#[derive(Clone, Copy, Default)]
struct Shape {
    /// AR(1) coefficient of the memory noise (0: white).
    phi: f64,
    /// Garbage-collector sawtooth: bytes allocated per cycle, cycle length in seconds.
    sawtooth: Option<(f64, f64)>,
    /// A warm-up rise of this many bytes, settling over the first minutes.
    warmup_bytes: f64,
    /// Added growth, bytes per minute.
    leak_per_min: f64,
    /// Steady level, as a factor of 200 MB.
    level: f64,
    /// Load: the latency's scale in ms (0: no load).
    latency_ms: f64,
}

fn gauss(rng: &mut SplitMix64) -> f64 {
    (0..12).map(|_| rng.unit_f64()).sum::<f64>() - 6.0
}

fn samples(n: usize, shape: Shape, seed: u64) -> Vec<Sample> {
    let mut rng = SplitMix64(seed);
    let mut noise = 0.0;
    let level = 200.0 * MB * if shape.level > 0.0 { shape.level } else { 1.0 };
    (0..n)
        .map(|i| {
            let t = i as f64;
            noise = shape.phi * noise + gauss(&mut rng) * MB;
            let warm = shape.warmup_bytes * (1.0 - (-t / 60.0).exp());
            let saw = shape
                .sawtooth
                .map_or(0.0, |(bytes, period)| bytes * (t % period) / period);
            let rss = level + warm + saw + noise + shape.leak_per_min / 60.0 * t;
            Sample {
                t,
                rss: Some(rss.max(0.0) as u64),
                threads: Some(16),
                fds: Some(40),
                cpu: Some(0.3 + 0.05 * gauss(&mut rng)),
                ..Sample::default()
            }
        })
        .collect()
}

/// One interval a second, 100 requests each with a log-normal-ish latency at `scale_ms`.
fn load(n: usize, scale_ms: f64, seed: u64) -> LoadRun {
    let mut rng = SplitMix64(seed ^ 0x10ad);
    let mut total = new_latency_histogram().unwrap();
    let mut errors_total = 0;
    let intervals = (1..=n)
        .map(|i| {
            let mut h = new_latency_histogram().unwrap();
            for _ in 0..100 {
                let ms = scale_ms * (0.3 * gauss(&mut rng)).exp();
                h.record((ms * 1000.0).max(1.0) as u64).unwrap();
            }
            total.add(&h).unwrap();
            // One failure in a thousand.
            let errors = u64::from(rng.below(1000) < 100);
            errors_total += errors;
            LoadInterval {
                t: i as f64,
                dt_s: 1.0,
                level: 100.0,
                requests: 100,
                errors: crate::runlog::load::ErrorCounts {
                    status: errors,
                    ..Default::default()
                },
                rps: 100.0,
                latency_ms: LatencyMs::of(&h),
                ..LoadInterval::default()
            }
        })
        .collect();
    LoadRun {
        start: Some(LoadStart {
            t: 0.0,
            driver: "builtin".into(),
            model: Some("open".into()),
            source: "--load-url".into(),
            interval_s: 1.0,
            requests: vec![],
            stages: vec![StageInfo {
                name: "steady".into(),
                duration_s: n as f64,
                target: 100.0,
            }],
            max_in_flight: Some(1000),
        }),
        intervals,
        stages: vec![],
        external: None,
        end_in_flight: Some(0),
        end_in_flight_ages: None,
        total: LoadTotals {
            requests: 100 * n as u64,
            errors: crate::runlog::load::ErrorCounts {
                status: errors_total,
                ..Default::default()
            },
            latency: Some(total),
        },
        by_name: Default::default(),
        skipped_lines: 0,
    }
}

fn run(n: usize, shape: Shape, seed: u64) -> (RunData, RunVerdict) {
    let mut run = synthetic::run(&samples(n, shape, seed), vec![]);
    if shape.latency_ms > 0.0 {
        run.load = Some(load(n, shape.latency_ms, seed));
    }
    let verdict = analyse(&run, &AnalysisConfig::default());
    (run, verdict)
}

fn compare_runs(baseline: &(RunData, RunVerdict), candidate: &(RunData, RunVerdict)) -> Comparison {
    compare(
        &Side {
            dir: "baseline",
            run: &baseline.0,
            verdict: &baseline.1,
        },
        &Side {
            dir: "candidate",
            run: &candidate.0,
            verdict: &candidate.1,
        },
        &CompareLimits::default(),
    )
}

fn item<'a>(c: &'a Comparison, id: &str) -> &'a ComparedItem {
    c.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", c.items))
}

/// The ids of the items with this judgement.
fn judged_as(c: &Comparison, j: Judgement) -> Vec<&str> {
    c.items
        .iter()
        .filter(|i| i.judgement == j)
        .map(|i| i.id.as_str())
        .collect()
}

const N: usize = 900;

fn shapes() -> [(&'static str, Shape); 4] {
    let base = Shape {
        latency_ms: 20.0,
        ..Shape::default()
    };
    [
        ("white noise", base),
        ("AR(1) 0.9", Shape { phi: 0.9, ..base }),
        (
            "GC sawtooth",
            Shape {
                sawtooth: Some((40.0 * MB, 120.0)),
                ..base
            },
        ),
        (
            "warm-up",
            Shape {
                warmup_bytes: 60.0 * MB,
                phi: 0.5,
                ..base
            },
        ),
    ]
}

#[test]
fn the_same_shape_with_other_seeds_is_unchanged() {
    // Three seeds per shape here (a debug build analyses a 15-minute run in about a
    // second); the labelled benchmark runs many more.
    for (name, shape) in shapes() {
        for seed in 0..3u64 {
            let c = compare_runs(&run(N, shape, 2 * seed + 1), &run(N, shape, 2 * seed + 2));
            let moved: Vec<&ComparedItem> = c
                .items
                .iter()
                .filter(|i| i.judgement != Judgement::Unchanged)
                .collect();
            assert!(moved.is_empty(), "{name}, seed {seed}: {moved:#?}");
            assert_eq!(c.verdict, CompareVerdict::Unchanged);
            assert!(c.comparable && c.notes.is_empty(), "{:?}", c.notes);
        }
    }
}

#[test]
fn an_added_leak_regresses_memory_growth_only() {
    for (name, shape) in shapes() {
        let leak = Shape {
            leak_per_min: 20.0 * MB,
            ..shape
        };
        let c = compare_runs(&run(N, shape, 11), &run(N, leak, 12));
        assert_eq!(c.verdict, CompareVerdict::Regressed, "{name}");
        assert_eq!(
            judged_as(&c, Judgement::Regressed),
            ["memory.growth"],
            "{name}: {:#?}",
            c.items
        );
        let growth = item(&c, "memory.growth");
        assert!(
            growth.reason.starts_with("RSS growth "),
            "{}",
            growth.reason
        );
        assert!(growth.reason.ends_with(": regressed"), "{}", growth.reason);
        let difference = growth.difference.unwrap();
        assert!(
            (difference - 20.0 * MB).abs() < 3.0 * MB,
            "{name}: {difference}"
        );
        // The peak of a growing run is its growth, said so.
        let peak = item(&c, "memory.peak");
        assert_eq!(peak.judgement, Judgement::NotCompared, "{}", peak.reason);
        assert!(peak.reason.contains("grows"), "{}", peak.reason);
    }
}

#[test]
fn a_small_leak_below_the_limit_is_not_a_regression() {
    // 1 MB/min more is below --max-growth-increase 2 MB/min and below the fail threshold.
    let shape = Shape::default();
    let leak = Shape {
        leak_per_min: 1.0 * MB,
        ..shape
    };
    let c = compare_runs(&run(N, shape, 3), &run(N, leak, 4));
    let growth = item(&c, "memory.growth");
    assert_eq!(growth.judgement, Judgement::Unchanged, "{}", growth.reason);
}

#[test]
fn a_steady_step_regresses_steady_memory_and_peak() {
    let shape = Shape {
        phi: 0.9,
        ..Shape::default()
    };
    let step = Shape {
        level: 1.2,
        ..shape
    };
    let c = compare_runs(&run(N, shape, 5), &run(N, step, 6));
    assert_eq!(
        judged_as(&c, Judgement::Regressed),
        ["memory.steady", "memory.peak"],
        "{:#?}",
        c.items
    );
    let steady = item(&c, "memory.steady");
    let ratio = steady.ratio.unwrap();
    assert!((ratio - 1.2).abs() < 0.02, "{ratio}");
    let ci = steady.ci.unwrap();
    assert!(ci[0] > 0.1 && ci[0] < 0.2 && ci[1] < 0.3, "{ci:?}");
    assert!(
        steady
            .reason
            .starts_with("steady RSS 200 MB → 240 MB (+20%, 95% CI +"),
        "{}",
        steady.reason
    );
    assert!(
        steady.reason.ends_with("limit +10%: regressed"),
        "{}",
        steady.reason
    );
    // The mirror image improves.
    let c = compare_runs(&run(N, step, 7), &run(N, shape, 8));
    assert_eq!(item(&c, "memory.steady").judgement, Judgement::Improved);
    assert_eq!(c.verdict, CompareVerdict::Improved);
    // +5% is within the limit.
    let small = Shape {
        level: 1.05,
        ..shape
    };
    let c = compare_runs(&run(N, shape, 9), &run(N, small, 10));
    assert_eq!(item(&c, "memory.steady").judgement, Judgement::Unchanged);
}

#[test]
fn a_latency_shift_regresses_latency_only() {
    let shape = Shape {
        latency_ms: 20.0,
        ..Shape::default()
    };
    let slower = Shape {
        latency_ms: 26.0,
        ..shape
    };
    let c = compare_runs(&run(300, shape, 13), &run(300, slower, 14));
    assert_eq!(
        judged_as(&c, Judgement::Regressed),
        ["load.p50", "load.p95", "load.p99"],
        "{:#?}",
        c.items
    );
    let p95 = item(&c, "load.p95");
    assert!((p95.ratio.unwrap() - 1.3).abs() < 0.05, "{}", p95.reason);
    assert!(p95.reason.starts_with("p95 latency "), "{}", p95.reason);
    assert!(
        p95.reason.contains("95% CI of per-interval p95 medians +"),
        "{}",
        p95.reason
    );
    for id in [
        "load.error_rate",
        "load.throughput",
        "cpu.seconds_per_request",
    ] {
        assert_eq!(item(&c, id).judgement, Judgement::Unchanged, "{id}");
    }
}

#[test]
fn latency_noise_of_a_few_ms_does_not_count() {
    let fast = Shape {
        latency_ms: 0.3,
        ..Shape::default()
    };
    let less_fast = Shape {
        latency_ms: 0.5,
        ..fast
    };
    let c = compare_runs(&run(300, fast, 15), &run(300, less_fast, 16));
    let p95 = item(&c, "load.p95");
    assert_eq!(p95.judgement, Judgement::Unchanged, "{}", p95.reason);
    assert!(p95.reason.contains("less than 5.0 ms"), "{}", p95.reason);
}

#[test]
fn load_in_one_run_only_is_said_and_not_compared() {
    let with = Shape {
        latency_ms: 10.0,
        ..Shape::default()
    };
    let c = compare_runs(&run(N, with, 17), &run(N, Shape::default(), 18));
    assert!(!c.comparable);
    assert!(
        c.notes[0].starts_with("only the baseline ran load"),
        "{:?}",
        c.notes
    );
    assert!(c.items.iter().all(|i| !i.id.starts_with("load.")));
    assert_eq!(c.verdict, CompareVerdict::Unchanged, "{:#?}", c.items);
}

#[test]
fn different_intervals_durations_and_missing_metrics_are_said() {
    let mut short = run(200, Shape::default(), 19);
    short.0.header.interval_s = 5.0;
    // No FDs in the candidate at all.
    let without_fds: Vec<Sample> = samples(200, Shape::default(), 19)
        .into_iter()
        .map(|mut s| {
            s.fds = None;
            s
        })
        .collect();
    short.0.columns = synthetic::columns(&without_fds);
    short.1 = analyse(&short.0, &AnalysisConfig::default());
    let c = compare_runs(&run(N, Shape::default(), 20), &short);
    assert!(!c.comparable);
    assert!(
        c.notes
            .iter()
            .any(|n| n.starts_with("sampling intervals differ")),
        "{:?}",
        c.notes
    );
    assert!(
        c.notes.iter().any(|n| n.starts_with("durations differ")),
        "{:?}",
        c.notes
    );
    let fds = item(&c, "fds.growth");
    assert_eq!(fds.judgement, Judgement::NotCompared);
    assert_eq!(
        fds.reason,
        "FDs growth: not compared (the candidate has too few FDs samples to fit a trend)"
    );
    assert!(fds.baseline.is_some());
    assert_eq!(fds.candidate, None);
}

#[test]
fn a_candidate_failing_its_own_threshold_regresses() {
    // Both leak; the baseline at 9 MB/min (a warning), the candidate at 10.8 MB/min (a
    // fail): the difference is below the 2 MB/min limit but the candidate now fails.
    let baseline = Shape {
        leak_per_min: 9.0 * MB,
        ..Shape::default()
    };
    let candidate = Shape {
        leak_per_min: 10.8 * MB,
        ..Shape::default()
    };
    let (b, c) = (run(N, baseline, 21), run(N, candidate, 22));
    assert_eq!(
        b.1.metrics.rss.as_ref().unwrap().verdict,
        crate::analysis::Verdict::Warn
    );
    assert_eq!(
        c.1.metrics.rss.as_ref().unwrap().verdict,
        crate::analysis::Verdict::Fail
    );
    let cmp = compare_runs(&b, &c);
    let growth = item(&cmp, "memory.growth");
    assert_eq!(growth.judgement, Judgement::Regressed, "{}", growth.reason);
    assert!(
        growth
            .reason
            .contains("the candidate fails its own growth threshold 10.0 MB/min"),
        "{}",
        growth.reason
    );
}

#[test]
fn one_more_thread_is_a_step_not_a_growth() {
    // A connection opened mid-run adds a thread and an FD for good: over a short run that
    // is a steep, significant slope, yet below the single-run judge's floor of 2.
    let flat = samples(120, Shape::default(), 25);
    let stepped: Vec<Sample> = samples(120, Shape::default(), 26)
        .into_iter()
        .map(|mut s| {
            s.threads = Some(16 + u64::from(s.t >= 60.0));
            s.fds = Some(40 + u64::from(s.t >= 60.0));
            s
        })
        .collect();
    let side = |samples: &[Sample]| {
        let run = synthetic::run(samples, vec![]);
        let verdict = analyse(&run, &AnalysisConfig::default());
        (run, verdict)
    };
    let c = compare_runs(&side(&flat), &side(&stepped));
    for id in ["threads.growth", "fds.growth"] {
        let i = item(&c, id);
        assert_eq!(i.judgement, Judgement::Unchanged, "{}", i.reason);
        assert!(
            i.reason.ends_with("fitted) does not count)"),
            "{}",
            i.reason
        );
    }
}

#[test]
fn the_comparison_round_trips_through_json() {
    let c = compare_runs(&run(300, shapes()[0].1, 23), &run(300, shapes()[0].1, 24));
    let json = serde_json::to_string(&c).unwrap();
    let back: Comparison = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["verdict"], "unchanged");
    assert_eq!(value["items"][0]["id"], "memory.growth");
}

#[test]
fn both_growing_near_the_threshold_is_unchanged_whichever_fails() {
    // Both leak 10 MB/min on noisy AR(1) data, the fail threshold: some runs fail and some
    // only warn. A candidate that fails where its baseline warned has not moved when the two
    // slopes are not told apart.
    let noisy = Shape {
        phi: 0.95,
        leak_per_min: 10.0 * MB,
        ..Shape::default()
    };
    let verdict = |r: &(RunData, RunVerdict)| r.1.metrics.rss.as_ref().unwrap().verdict;
    let mut flipped = 0;
    for seed in 0..12u64 {
        let (b, c) = (
            run(300, noisy, 2 * seed + 27),
            run(300, noisy, 2 * seed + 28),
        );
        if verdict(&b) == crate::analysis::Verdict::Fail
            || verdict(&c) != crate::analysis::Verdict::Fail
        {
            continue;
        }
        let cmp = compare_runs(&b, &c);
        let growth = item(&cmp, "memory.growth");
        let ci = growth.ci.unwrap();
        if ci[0] <= 0.0 {
            flipped += 1;
            assert_eq!(growth.judgement, Judgement::Unchanged, "{}", growth.reason);
        }
    }
    assert!(flipped > 0, "no pair where only the candidate failed");
}
