//! Cost of `soakprof analyze` on a 24 h run sampled at 1 Hz: read the run directory
//! (`samples.jsonl` and `load.jsonl`), analyse it, and draw every chart; and how large each
//! chart is. The target: the whole under 2 s, each SVG under 300 KB.
//!
//! The run is synthetic, shaped like `benches/analysis.rs`'s: a GC sawtooth on a slow leak
//! with noise, PSS/USS/VMS on every sample, stepping threads and FDs, noisy CPU, a few late
//! ticks, and a load driver in three stages reporting every 24 s (as it does on a 24 h run)
//! with a latency histogram per interval.
//!
//! Run with `cargo bench --bench report` (about a minute).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hdrhistogram::serialization::V2DeflateSerializer;
use soakprof::analysis::{AnalysisConfig, RunVerdict, analyse};
use soakprof::report::charts::{write_charts, write_load_chart};
use soakprof::rng::SplitMix64;
use soakprof::runlog::load::{
    LatencyMs, LoadInterval, LoadLogWriter, LoadRecord, LoadStart, StageEvent, encode_histogram,
    new_latency_histogram,
};
use soakprof::runlog::{
    Event, EventKind, Header, HostInfo, Limits, RunData, RunLogWriter, StopReason, TargetInfo,
    Thresholds, read_run,
};
use soakprof::sample::{Backend, ProcId, Sample};

const DAY_S: usize = 86_400;
const MB: f64 = 1e6;
/// Seconds between load intervals on a 24 h run (see `load::load_interval`).
const LOAD_INTERVAL_S: usize = 24;

fn header() -> Header {
    Header {
        schema_version: soakprof::runlog::SCHEMA_VERSION,
        tool_version: "bench".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        started_unix_s: 1_795_392_000.0,
        host: HostInfo {
            hostname: Some("bench".into()),
            os: "linux".into(),
            kernel: Some("6.8.0".into()),
            cpus: 4,
            mem_total_bytes: Some(8_000_000_000),
        },
        command_line: vec!["soakprof".into(), "record".into()],
        target: TargetInfo {
            mode: "pid".into(),
            spec: "4242".into(),
            roots: vec![ProcId {
                pid: 4242,
                start: 123_456,
            }],
            name: "api".into(),
            cmdline: vec!["./api".into()],
            children: false,
        },
        interval_s: 1.0,
        duration_s: Some(DAY_S as f64),
        backend: Backend::Linux,
        smaps_every: 1,
        detail_every: 1,
        smaps_read_ms: Some(0.4),
        limits: Limits {
            mem_limit_bytes: Some(512 << 20),
            mem_limit_source: Some("option".into()),
            cpu_limit_cores: Some(0.5),
            cpu_limit_source: Some("option".into()),
        },
        thresholds: Thresholds::default(),
    }
}

/// Write a 24 h run at 1 Hz into `dir`, as `record` would.
fn write_run(dir: &Path) {
    // Deterministic, so every run benches the same series.
    let mut rng = SplitMix64(1);
    let mut log = RunLogWriter::create(dir).unwrap();
    log.header(&header()).unwrap();
    let (mut cycle_start, mut cycle_len) = (0.0, 300.0);
    let (mut threads, mut fds) = (40i64, 120i64);
    for i in 0..DAY_S {
        let t = i as f64 + rng.unit_f64() * 0.004;
        if t - cycle_start >= cycle_len {
            cycle_start = t;
            cycle_len = 240.0 + 120.0 * rng.unit_f64();
        }
        let saw = 40.0 * MB * (t - cycle_start) / cycle_len;
        let rss = 180.0 * MB + 2.0 * MB / 3600.0 * t + saw + MB * rng.unit_f64();
        if rng.unit_f64() < 0.01 {
            threads += if rng.unit_f64() < 0.5 { 1 } else { -1 };
        }
        if rng.unit_f64() < 0.05 {
            fds += (rng.unit_f64() * 7.0) as i64 - 3;
        }
        threads = threads.clamp(40, 48);
        fds = fds.clamp(120, 150);
        if i > 0 && i % 20_000 == 0 {
            log.event(&Event {
                t,
                kind: EventKind::Gap {
                    late_s: 1.7,
                    missed_ticks: 1,
                },
            })
            .unwrap();
        }
        log.sample(&Sample {
            t,
            rss: Some(rss as u64),
            vms: Some((rss + 1.6e9) as u64),
            pss: Some((rss * 0.92) as u64),
            uss: Some((rss * 0.88) as u64),
            swap: Some(0),
            threads: Some(threads as u64),
            fds: Some(fds as u64),
            procs: Some(1),
            cpu: Some(0.25 + 0.1 * rng.unit_f64()),
            ..Sample::default()
        })
        .unwrap();
    }
    log.event(&Event {
        t: DAY_S as f64,
        kind: EventKind::Stop {
            reason: StopReason::Duration,
        },
    })
    .unwrap();

    let mut load = LoadLogWriter::create(dir).unwrap();
    load.write(&LoadRecord::Start(LoadStart {
        t: 0.0,
        driver: "builtin".into(),
        model: Some("open".into()),
        source: "soak.toml".into(),
        interval_s: LOAD_INTERVAL_S as f64,
        requests: vec![],
        stages: vec![],
        max_in_flight: None,
    }))
    .unwrap();
    let (mut serializer, mut scratch) = (V2DeflateSerializer::new(), Vec::new());
    let stages = [
        (0, "warm", 50.0),
        (3600, "steady", 200.0),
        (72_000, "spike", 400.0),
    ];
    for (index, (t, name, target)) in stages.iter().enumerate() {
        load.write(&LoadRecord::Stage(StageEvent {
            t: *t as f64,
            index,
            name: (*name).into(),
            target: *target,
        }))
        .unwrap();
    }
    for end in (LOAD_INTERVAL_S..=DAY_S).step_by(LOAD_INTERVAL_S) {
        let mut hist = new_latency_histogram().unwrap();
        for _ in 0..200 {
            hist.record((800.0 + 4000.0 * rng.unit_f64().powi(4)) as u64)
                .unwrap();
        }
        let requests = 200 * LOAD_INTERVAL_S as u64;
        load.write(&LoadRecord::Interval(LoadInterval {
            t: end as f64,
            dt_s: LOAD_INTERVAL_S as f64,
            level: 200.0,
            active: 3,
            requests,
            rps: 200.0,
            latency_ms: LatencyMs::of(&hist),
            hist: encode_histogram(&hist, &mut serializer, &mut scratch),
            ..LoadInterval::default()
        }))
        .unwrap();
    }
}

/// What `soakprof analyze` does: read, analyse with the run's own thresholds and limits,
/// draw the charts.
fn read(dir: &Path) -> RunData {
    read_run(dir).unwrap()
}

fn judge(run: &RunData) -> RunVerdict {
    let config = AnalysisConfig {
        thresholds: run.header.thresholds.clone(),
        limits: run.header.limits.clone(),
    };
    analyse(run, &config)
}

fn render(dir: &Path, run: &RunData, verdict: &RunVerdict) -> Vec<String> {
    let mut files = write_charts(dir, run, verdict).unwrap();
    files.extend(write_load_chart(dir, run, verdict).unwrap());
    files
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let dir = dir.path();

    // Once, with the time of each step and the size of each file.
    let start = Instant::now();
    let run = read(dir);
    let read_s = start.elapsed().as_secs_f64();
    let verdict = judge(&run);
    let analyse_s = start.elapsed().as_secs_f64() - read_s;
    let files = render(dir, &run, &verdict);
    let total_s = start.elapsed().as_secs_f64();
    eprintln!(
        "24h at 1 Hz: {} samples, {} load intervals, verdict {:?}",
        run.samples.len(),
        run.load.as_ref().map_or(0, |l| l.intervals.len()),
        verdict.verdict
    );
    eprintln!(
        "analyze once: read {read_s:.3} s, analyse {analyse_s:.3} s, render {:.3} s, total {total_s:.3} s",
        total_s - read_s - analyse_s
    );
    for file in &files {
        let bytes = std::fs::metadata(dir.join(file)).unwrap().len();
        eprintln!("  {file}: {:.1} KB", bytes as f64 / 1000.0);
        assert!(bytes < 300_000, "{file} is {bytes} bytes");
    }

    let mut group = c.benchmark_group("analyze_24h");
    group.bench_function("read", |b| b.iter(|| black_box(read(black_box(dir)))));
    group.bench_function("analyse", |b| b.iter(|| black_box(judge(black_box(&run)))));
    group.bench_function("render", |b| {
        b.iter(|| black_box(render(black_box(dir), &run, &verdict)))
    });
    group.bench_function("whole", |b| {
        b.iter(|| {
            let run = read(black_box(dir));
            let verdict = judge(&run);
            black_box(render(dir, &run, &verdict))
        })
    });
    group.finish();
}

fn main() {
    // Ten samples and short windows: each step takes a good fraction of a second.
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
