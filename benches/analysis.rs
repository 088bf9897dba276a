//! Cost of judging a long run: `analyse` on 24 h and 7 days of 1 Hz samples, and parsing a
//! 24 h `samples.jsonl` held in memory with `read_records`.
//!
//! `analyse` runs once at the end of `record` and on every `analyze`, so its cost on a
//! week-long log is what a user waits for after the soak. The series are synthetic but
//! shaped like real ones (GC sawtooth on a slow leak with noise, whole pages, integer
//! staircases for threads and FDs, PSS/USS on every sample) so the robust statistics meet
//! the work they meet in the field: cycles to find, a floor to follow, ties in counts.
//!
//! Run with `cargo bench --bench analysis` (about a minute).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use soakprof::analysis::{AnalysisConfig, analyse};
use soakprof::runlog::{
    Event, EventKind, Header, HostInfo, Limits, Record, RunData, StopReason, TargetInfo,
    Thresholds, read_records,
};
use soakprof::sample::{Backend, ProcId, Sample};

const DAY_S: usize = 86_400;
const WEEK_S: usize = 7 * DAY_S;
const MB: f64 = 1e6;
/// RSS and friends move in whole pages.
const PAGE: f64 = 4096.0;

/// splitmix64 + Box–Muller: deterministic, so every run benches the same series.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn pages(bytes: f64) -> u64 {
    ((bytes.max(0.0) / PAGE).round() * PAGE) as u64
}

/// `n` samples at 1 Hz of a server leaking 2 MB/h under a GC that saws 40 MB every
/// ~5 min (period jittered per cycle, as allocation rates vary), with 0.5 MB noise;
/// threads and FDs step up and down around a slowly rising floor; CPU about 0.3 cores.
fn synthetic_run(n: usize, seed: u64) -> RunData {
    let mut rng = Rng(seed);
    let mut samples = Vec::with_capacity(n);
    let (mut cycle_start, mut cycle_len) = (0.0, 300.0);
    let (mut threads, mut fds) = (40i64, 120i64);
    let (mut cpu_s, mut minflt, mut ctx) = (0.0, 10_000u64, 50_000u64);
    for i in 0..n {
        // Ticks land a few milliseconds late, as they do.
        let t = i as f64 + rng.uniform() * 0.004;
        if t - cycle_start >= cycle_len {
            cycle_start = t;
            cycle_len = 240.0 + 120.0 * rng.uniform();
        }
        let saw = 40.0 * MB * (t - cycle_start) / cycle_len;
        let rss = 180.0 * MB + 2.0 * MB / 3600.0 * t + saw + 0.5 * MB * rng.normal();
        // Requests come and go in bursts; a thread and an FD leak every few hours.
        if rng.uniform() < 0.01 {
            threads += if rng.uniform() < 0.5 { 1 } else { -1 };
        }
        if rng.uniform() < 0.05 {
            fds += (rng.uniform() * 7.0) as i64 - 3;
        }
        let floor_threads = 40 + (t / (4.0 * 3600.0)) as i64;
        let floor_fds = 120 + (t / (2.0 * 3600.0)) as i64;
        threads = threads.clamp(floor_threads, floor_threads + 8);
        fds = fds.clamp(floor_fds, floor_fds + 30);
        let cpu = (0.3 + 0.05 * rng.normal()).max(0.0);
        cpu_s += cpu;
        minflt += (rng.uniform() * 200.0) as u64;
        ctx += 100 + (rng.uniform() * 50.0) as u64;
        samples.push(Sample {
            t,
            rss: Some(pages(rss)),
            vms: Some(pages(rss + 1.6e9)),
            pss: Some(pages(rss * 0.92)),
            uss: Some(pages(rss * 0.88)),
            swap: Some(0),
            threads: Some(threads as u64),
            fds: Some(fds as u64),
            procs: Some(1),
            cpu: Some(cpu),
            cpu_user_s: Some(cpu_s * 0.8),
            cpu_sys_s: Some(cpu_s * 0.2),
            minflt: Some(minflt),
            majflt: Some(3),
            read_bytes: Some(4096 * (i as u64 / 10)),
            write_bytes: Some(8192 * (i as u64 / 5)),
            ctx_vol: Some(ctx),
            ctx_invol: Some(ctx / 20),
            host_avail: Some(pages(6e9 - rss)),
        });
    }
    // A couple of late ticks, as a loaded host produces.
    let events = [n / 3, 2 * n / 3]
        .into_iter()
        .map(|i| Event {
            t: i as f64,
            kind: EventKind::Gap {
                late_s: 1.7,
                missed_ticks: 1,
            },
        })
        .chain(std::iter::once(Event {
            t: n as f64,
            kind: EventKind::Stop {
                reason: StopReason::Duration,
            },
        }))
        .collect();
    RunData {
        header: header(n),
        samples,
        events,
        skipped_lines: 0,
        stop_reason: Some(StopReason::Duration),
        load: None,
    }
}

fn header(n: usize) -> Header {
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
        command_line: vec!["soakprof".into(), "record".into(), "--pid".into()],
        target: TargetInfo {
            mode: "pid".into(),
            spec: "4242".into(),
            roots: vec![ProcId {
                pid: 4242,
                start: 123_456,
            }],
            name: "api".into(),
            cmdline: vec!["./api".into(), "--port".into(), "8080".into()],
            children: false,
        },
        interval_s: 1.0,
        duration_s: Some(n as f64),
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

/// The run as `samples.jsonl` bytes, in the order the recorder writes them.
fn serialize(run: &RunData) -> Vec<u8> {
    let mut out = Vec::with_capacity(run.samples.len() * 400);
    let mut line = |record: Record| {
        serde_json::to_writer(&mut out, &record).unwrap();
        out.write_all(b"\n").unwrap();
    };
    line(Record::Header(run.header.clone()));
    let mut events = run.events.iter().peekable();
    for sample in &run.samples {
        while let Some(e) = events.next_if(|e| e.t <= sample.t) {
            line(Record::Event(e.clone()));
        }
        line(Record::Sample(sample.clone()));
    }
    for e in events {
        line(Record::Event(e.clone()));
    }
    out
}

fn bench(c: &mut Criterion) {
    let config = AnalysisConfig::default();
    let day = synthetic_run(DAY_S, 1);
    let week = synthetic_run(WEEK_S, 2);

    // Say what is judged, so a surprising time can be put next to a surprising verdict.
    for (name, run) in [("24h", &day), ("7d", &week)] {
        let v = analyse(run, &config);
        eprintln!("{name}: verdict {:?}: {:?}", v.verdict, v.reasons);
    }

    let mut group = c.benchmark_group("analyse");
    for (name, run) in [("24h", &day), ("7d", &week)] {
        group.throughput(Throughput::Elements(run.samples.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), run, |b, run| {
            b.iter(|| black_box(analyse(black_box(run), &config)))
        });
    }
    group.finish();

    let log = serialize(&day);
    let parsed = read_records(&log[..], Path::new("bench.jsonl")).unwrap();
    // The parser must give back what was written, or its speed means nothing. Integers
    // exactly; floats are not compared, as serde_json (without `float_roundtrip`) may
    // read a printed f64 back one ulp off.
    assert_eq!(parsed.header, day.header);
    assert_eq!(
        (parsed.events.len(), parsed.skipped_lines),
        (day.events.len(), 0)
    );
    assert_eq!(parsed.stop_reason, day.stop_reason);
    assert_eq!(parsed.samples.len(), day.samples.len());
    let ints = |s: &Sample| (s.rss, s.uss, s.pss, s.threads, s.fds, s.minflt, s.ctx_vol);
    assert!(
        parsed
            .samples
            .iter()
            .map(ints)
            .eq(day.samples.iter().map(ints)),
        "samples read back differ from those written"
    );
    eprintln!("24h log: {:.1} MB", log.len() as f64 / MB);
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
