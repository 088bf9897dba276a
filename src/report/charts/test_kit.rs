//! What the chart tests share: synthetic runs with every kind of event, and readers of
//! the SVG text.

use super::write_charts;
use crate::analysis::{AnalysisConfig, RunVerdict, analyse};
use crate::rng::SplitMix64;
use crate::runlog::load::{
    ErrorCounts, LatencyMs, LoadInterval, LoadRun, LoadStart, LoadTotals, StageEvent,
};
use crate::runlog::tests_support::header;
use crate::runlog::{Event, EventKind, Limits, RunData};
use crate::sample::Sample;

pub const MB: f64 = 1e6;
pub const GIB: u64 = 1 << 30;

/// 60 one-second intervals at 200 req/s; no responses in (20, 25] (every request
/// refused), and the intervals ending at 41..=44 missing (the driver stalled).
pub fn load_run() -> LoadRun {
    let intervals = (1..=60)
        .filter(|i| !(41..=44).contains(i))
        .map(|i| {
            let refused = (21..=25).contains(&i);
            let ms = 1.0 + (i % 7) as f64 * 0.1;
            LoadInterval {
                t: i as f64,
                dt_s: 1.0,
                level: 200.0,
                active: 3,
                requests: 200,
                errors: ErrorCounts {
                    connect: if refused { 200 } else { 0 },
                    ..ErrorCounts::default()
                },
                rps: 200.0,
                latency_ms: if refused {
                    LatencyMs::default()
                } else {
                    LatencyMs {
                        p50: Some(ms),
                        p90: Some(2.0 * ms),
                        p95: Some(3.0 * ms),
                        p99: Some(8.0 * ms),
                        max: Some(20.0),
                    }
                },
                ..LoadInterval::default()
            }
        })
        .collect();
    LoadRun {
        start: Some(LoadStart {
            t: 0.0,
            driver: "builtin".into(),
            model: Some("open".into()),
            source: "soak.toml".into(),
            interval_s: 1.0,
            requests: vec![],
            stages: vec![],
            max_in_flight: None,
        }),
        intervals,
        stages: vec![
            StageEvent {
                t: 0.0,
                index: 0,
                name: "warm".into(),
                target: 50.0,
            },
            StageEvent {
                t: 30.0,
                index: 1,
                name: "steady".into(),
                target: 200.0,
            },
        ],
        external: None,
        end_in_flight: Some(0),
        end_in_flight_ages: None,
        total: LoadTotals {
            requests: 11200,
            errors: ErrorCounts {
                connect: 1000,
                ..ErrorCounts::default()
            },
            latency: {
                let mut h = crate::runlog::load::new_latency_histogram().unwrap();
                h.record_n(1200, 10_200).unwrap();
                Some(h)
            },
        },
        by_name: Default::default(),
        skipped_lines: 0,
    }
}

/// `n` seconds at 1 Hz: RSS warms up over the first tenth (50 → 100 MB), stays flat
/// (±1 MB of noise) until the middle, then leaks 20 MB/min; USS, PSS and VMS follow it.
/// The target exits with status 3 at 40% and its PID is reused at 55%; it is killed at
/// 70%; fail-fast at 90%. Three late ticks close together at 15%, and 100 s without
/// samples before 30%. A load driver in three stages, reporting every 10 s.
pub fn synthetic_run(n: usize, mem_limit: u64) -> (RunData, RunVerdict) {
    let (samples, rng) = synthetic_samples(n);
    synthetic_run_of(&samples, rng, n, mem_limit)
}

/// The samples of [`synthetic_run`], and the generator as it is after them.
pub fn synthetic_samples(n: usize) -> (Vec<Sample>, SplitMix64) {
    let mut rng = SplitMix64(7);
    let nf = n as f64;
    let stall = (0.3 * nf - 100.0)..(0.3 * nf);
    let samples: Vec<Sample> = (0..n)
        .map(|i| i as f64)
        .filter(|t| !stall.contains(t))
        .map(|t| {
            let base = if t < 0.1 * nf {
                50.0 * MB + 50.0 * MB * t / (0.1 * nf)
            } else {
                100.0 * MB + 20.0 * MB / 60.0 * (t - 0.5 * nf).max(0.0)
            };
            let rss = base + MB * (2.0 * rng.unit_f64() - 1.0);
            Sample {
                t,
                rss: Some(rss as u64),
                pss: Some((rss * 0.9) as u64),
                uss: Some((rss * 0.85) as u64),
                vms: Some((rss + 1.5e9) as u64),
                threads: Some(if t < 0.55 * nf { 10 } else { 12 }),
                fds: Some(20 + (t / nf * 4.0) as u64),
                cpu: Some(0.2 + 0.1 * rng.unit_f64()),
                ..Sample::default()
            }
        })
        .collect();
    (samples, rng)
}

fn synthetic_events(nf: f64) -> Vec<Event> {
    let at = |f: f64, kind: EventKind| Event { t: f * nf, kind };
    let gap = |t: f64, late_s: f64| Event {
        t,
        kind: EventKind::Gap {
            late_s,
            missed_ticks: late_s as u64,
        },
    };
    let exit = |code, signal| EventKind::TargetExit {
        pid: 42,
        code,
        signal,
        by_profiler: false,
    };
    vec![
        gap(0.15 * nf, 1.7),
        gap(0.15 * nf + 2.0, 1.7),
        gap(0.15 * nf + 5.0, 1.7),
        gap(0.3 * nf, 100.0),
        at(0.4, exit(Some(3), None)),
        at(0.55, EventKind::PidReused { pid: 42 }),
        at(0.7, exit(None, Some(9))),
        at(
            0.9,
            EventKind::FailFast {
                reason: "RSS".into(),
            },
        ),
    ]
}

fn synthetic_load(rng: &mut SplitMix64, n: usize) -> LoadRun {
    let nf = n as f64;
    let stage = |f: f64, index, name: &str, target| StageEvent {
        t: f * nf,
        index,
        name: name.into(),
        target,
    };
    let intervals = (1..=n / 10)
        .map(|i| {
            let t = (i * 10) as f64;
            LoadInterval {
                t,
                dt_s: 10.0,
                requests: 2000,
                rps: 200.0,
                latency_ms: LatencyMs {
                    p50: Some(1.0 + rng.unit_f64()),
                    p95: Some(3.0 + rng.unit_f64()),
                    p99: Some(8.0 + rng.unit_f64()),
                    ..LatencyMs::default()
                },
                ..LoadInterval::default()
            }
        })
        .collect();
    LoadRun {
        start: Some(LoadStart {
            t: 0.0,
            driver: "builtin".into(),
            model: Some("open".into()),
            source: "soak.toml".into(),
            interval_s: 10.0,
            requests: vec![],
            stages: vec![],
            max_in_flight: None,
        }),
        intervals,
        stages: vec![
            stage(0.0, 0, "warm", 50.0),
            stage(0.25, 1, "steady", 200.0),
            stage(0.8, 2, "spike", 400.0),
        ],
        external: None,
        end_in_flight: Some(0),
        end_in_flight_ages: None,
        total: LoadTotals {
            requests: 200 * n as u64 / 10 * 10,
            errors: ErrorCounts::default(),
            latency: None,
        },
        by_name: Default::default(),
        skipped_lines: 0,
    }
}

fn synthetic_run_of(
    samples: &[Sample],
    mut rng: SplitMix64,
    n: usize,
    mem_limit: u64,
) -> (RunData, RunVerdict) {
    let nf = n as f64;
    let run = RunData {
        header: header(),
        columns: crate::synthetic::columns(samples),
        events: synthetic_events(nf),
        skipped_lines: 0,
        stop_reason: None,
        load: Some(synthetic_load(&mut rng, n)),
    };
    let mut config = AnalysisConfig {
        limits: Limits {
            mem_limit_bytes: Some(mem_limit),
            cpu_limit_cores: Some(0.5),
            ..Limits::default()
        },
        ..AnalysisConfig::default()
    };
    config.thresholds.warmup_s = Some(0.1 * nf);
    let verdict = analyse(&run, &config);
    (run, verdict)
}

/// The text of every `<text>` element, in order.
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|part| {
            let start = part.find('>')? + 1;
            let end = part.find("</text>")?;
            Some(part[start..end].trim().to_string())
        })
        .collect()
}

/// Tags open and close in order, and nothing is left open: the SVG is well formed as
/// far as its elements go (plotters escapes text and attribute values).
pub fn assert_well_formed(name: &str, svg: &str) {
    assert!(
        svg.starts_with("<svg"),
        "{name}: {}",
        &svg[..80.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{name}");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let Some(len) = rest[i..].find('>') else {
            panic!("{name}: unclosed tag at {}", svg.len() - rest.len() + i);
        };
        let tag = &rest[i + 1..i + len];
        assert!(!tag.contains('<'), "{name}: '<' inside a tag: {tag}");
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(closing.trim()), "{name}: </{closing}>");
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            open.push(tag.split_whitespace().next().unwrap_or(""));
        }
        rest = &rest[i + len + 1..];
    }
    assert!(open.is_empty(), "{name}: left open: {open:?}");
}

/// Render every chart of a run into a temporary directory: (file, SVG text).
pub fn render_all(run: &RunData, verdict: &RunVerdict) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let files = write_charts(dir.path(), run, verdict).unwrap();
    files
        .into_iter()
        .map(|f| {
            let svg = std::fs::read_to_string(dir.path().join(&f)).unwrap();
            (f, svg)
        })
        .collect()
}
