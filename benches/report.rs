//! Cost of `soakprof analyze` on a 24 h run sampled at 1 Hz: read the run directory
//! (`samples.jsonl` and `load.jsonl`), analyse it, and draw every chart; and how large each
//! chart is. The target: the whole under 2 s, each SVG under 300 KB.
//!
//! The run is the test kit's soak shape (`soakprof::synthetic`), as `benches/analysis.rs`
//! uses: a GC sawtooth on a slow leak with noise, every field, stepping threads and FDs,
//! noisy CPU, a few late ticks, and a load driver in three stages reporting every 24 s (as
//! it does on a 24 h run) with a latency histogram per interval.
//!
//! Run with `cargo bench --bench report` (about a minute).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use soakprof::analysis::{AnalysisConfig, RunVerdict, analyse};
use soakprof::report::charts::write_charts;
use soakprof::runlog::{RunData, read_run};
use soakprof::synthetic::write_soak_run;

const DAY_S: usize = 86_400;

/// Write a 24 h run at 1 Hz with a load log into `dir`, as `record` would.
fn write_run(dir: &Path) {
    write_soak_run(dir, DAY_S, 1, true).unwrap();
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

/// Every chart: memory, threads and FDs, CPU, load.
fn render(dir: &Path, run: &RunData, verdict: &RunVerdict) -> Vec<String> {
    write_charts(dir, run, verdict).unwrap()
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
        run.columns.len(),
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
