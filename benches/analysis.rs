//! Cost of judging a long run: `analyse` on 24 h and 7 days of 1 Hz samples, and reading a
//! 24 h `samples.jsonl` into columns with `read_records`.
//!
//! `analyse` runs once at the end of `record` and on every `analyze`, so its cost on a
//! week-long log is what a user waits for after the soak. The runs are the test kit's soak
//! shape (`soakprof::synthetic`): a GC sawtooth on a slow leak with noise, whole pages,
//! integer staircases for threads and FDs, PSS/USS every fifth sample, so the robust
//! statistics meet the work they meet in the field: cycles to find, a floor to follow,
//! ties in counts.
//!
//! Run with `cargo bench --bench analysis` (about a minute).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use soakprof::analysis::{AnalysisConfig, analyse};
use soakprof::runlog::{RunData, SAMPLES_FILE, read_records, read_run};
use soakprof::synthetic::{SoakSamples, write_soak_run};

const DAY_S: usize = 86_400;
const WEEK_S: usize = 7 * DAY_S;

/// A soak run of `n` samples, written to a temporary directory and read back.
fn soak_run(n: usize, seed: u64) -> (tempfile::TempDir, RunData) {
    let dir = tempfile::tempdir().unwrap();
    write_soak_run(dir.path(), n, seed, false).unwrap();
    let run = read_run(dir.path()).unwrap();
    (dir, run)
}

fn bench(c: &mut Criterion) {
    let config = AnalysisConfig::default();
    let (day_dir, day) = soak_run(DAY_S, 1);
    let (_week_dir, week) = soak_run(WEEK_S, 2);

    // Say what is judged, so a surprising time can be put next to a surprising verdict.
    for (name, run) in [("24h", &day), ("7d", &week)] {
        let v = analyse(run, &config);
        eprintln!(
            "{name}: {} samples in {:.1} MB of columns; verdict {:?}: {:?}",
            run.columns.len(),
            run.columns.heap_bytes() as f64 / 1e6,
            v.verdict,
            v.reasons
        );
    }

    let mut group = c.benchmark_group("analyse");
    for (name, run) in [("24h", &day), ("7d", &week)] {
        group.throughput(Throughput::Elements(run.columns.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), run, |b, run| {
            b.iter(|| black_box(analyse(black_box(run), &config)))
        });
    }
    group.finish();

    let log = std::fs::read(day_dir.path().join(SAMPLES_FILE)).unwrap();
    let parsed = read_records(&log[..], Path::new("bench.jsonl")).unwrap();
    // The reader must give back what was written, or its speed means nothing.
    let written = SoakSamples::new(DAY_S, 1);
    assert!(
        written.enumerate().all(|(i, s)| parsed
            .columns
            .int(soakprof::columns::Metric::Rss)
            .is_some_and(|c| c.get(i) == s.rss)),
        "samples read back differ from those written"
    );
    eprintln!("24h log: {:.1} MB", log.len() as f64 / 1e6);
    let mut group = c.benchmark_group("read_records");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.bench_function("24h", |b| {
        b.iter(|| black_box(read_records(black_box(&log[..]), Path::new("bench.jsonl")).unwrap()))
    });
    group.finish();
}

fn main() {
    // Ten samples and short windows: the whole bench in about a minute. A 7-day analyse
    // is slow enough that ten runs of it are already a stable figure.
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
