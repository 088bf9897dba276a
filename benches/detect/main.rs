//! Labelled benchmark of the leak verdict: how often soakprof's verdict is right on
//! synthetic series whose truth we know, against two baselines, as a Markdown table.
//!
//! Run with `cargo bench --bench detect` (add `-- --quick` for a fast check, `-- --rows
//! TEXT` for the rows whose shape contains TEXT). The series,
//! the seeds and therefore the table are deterministic: a change in the table is a change
//! in the analysis, not noise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use soakprof::analysis::sequential::{
    FAIL_FAST_ALPHA, LookSchedule, certain_fail, earliest_stop_s,
};
use soakprof::analysis::{MetricKind, Verdict, Warmup, judge_trend};
use soakprof::runlog::Thresholds;
use soakprof::sample::Sample;

mod baselines;
mod cases;
mod output;
#[path = "../common/parallel.rs"]
mod parallel;
mod rng;

use baselines::{endpoints_fail, prometheus_alert};
use cases::Case;
use output::{
    Confusion, fail_fast_cell, fmt_length, label_name, median_delay, percent, print_header, ratio,
    stopped_cell, upper_bound_95,
};
use rng::{Rng, seed_for};

const MB: f64 = 1e6;
/// RSS moves in whole pages; quantising like the kernel does creates the ties real logs have.
const PAGE: f64 = 4096.0;
/// White measurement noise on every memory series.
const NOISE_SD: f64 = 0.5 * MB;
/// "Within 15 min of data" for the early-recall figure.
const EARLY_S: f64 = 15.0 * 60.0;
/// The users' Prometheus rule: deriv over 1 h, held for 3 h, evaluated every minute.
const PROM_WINDOW_S: f64 = 3600.0;
const PROM_FOR_S: f64 = 3.0 * 3600.0;
const PROM_STEP_S: f64 = 60.0;
/// The users' rule threshold for memory: 10 MB per hour (sic: 60× below soakprof's fail).
const PROM_MEM_PER_H: f64 = 10e6;

// ---------------------------------------------------------------------------------------
// Shapes.

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Straight growth at the rate.
    Linear { mb_per_min: f64 },
    /// GC sawtooth (amplitude 20–100 MB, period 30 s–10 min, both jittered per cycle) on a
    /// floor that rises at the leak rate.
    Sawtooth { leak_mb_per_min: f64 },
    /// base + A(1 − e^(−t/τ)), A 100–300 MB, τ 1–10 min: a cache warming up, then flat.
    Warmup,
    /// One step of the given size at a random time in 10–90% of the run.
    Step { mb: f64 },
    /// +step every `every_s` seconds, at a random phase.
    Staircase { step_mb: f64, every_s: f64 },
    /// Flat, then a leak from `from` (fraction of the run) on.
    LateLeak { mb_per_min: f64, from: f64 },
    /// AR(1) noise, stationary sd 5 MB.
    Ar1 { phi: f64 },
    /// Random walk (0.5 MB steps) reflected within ±bound.
    RandomWalk { bound_mb: f64 },
    /// Flat with +100 MB spikes of 1–3 samples, about 4 an hour.
    Spikes,
    /// Thread pool growing 8 → 16 in the first minutes, then stable with short-lived helpers.
    ThreadPool,
    /// +1 every `every_s` seconds (threads or FDs), with short-lived extra ones.
    CountStairs { kind: MetricKind, every_s: f64 },
    /// Whole samples (several processes summed, a doubling heap): see `cases`.
    Case(Case),
}

impl Shape {
    fn kind(self) -> MetricKind {
        match self {
            Shape::ThreadPool => MetricKind::Threads,
            Shape::CountStairs { kind, .. } => kind,
            _ => MetricKind::Rss,
        }
    }

    /// True long-run growth, in the metric's unit per minute (after the onset).
    fn rate_per_min(self) -> f64 {
        match self {
            Shape::Linear { mb_per_min } => mb_per_min * MB,
            Shape::Sawtooth { leak_mb_per_min } => leak_mb_per_min * MB,
            Shape::Staircase { step_mb, every_s } => step_mb * MB * 60.0 / every_s,
            Shape::LateLeak { mb_per_min, .. } => mb_per_min * MB,
            Shape::CountStairs { every_s, .. } => 60.0 / every_s,
            Shape::Case(case) => case.rate_per_min(),
            _ => 0.0,
        }
    }

    /// Time the leak starts (0 for leaks from the start).
    fn onset_s(self, duration_s: f64) -> f64 {
        match self {
            Shape::LateLeak { from, .. } => from * duration_s,
            Shape::Case(case) => case.onset_s(duration_s),
            _ => 0.0,
        }
    }
}

struct Row {
    name: &'static str,
    shape: Shape,
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |name, shape| rows.push(Row { name, shape });
    for (name, r) in [
        ("linear 1 MB/min", 1.0),
        ("linear 2 MB/min", 2.0),
        ("linear 5 MB/min", 5.0),
        ("linear 10 MB/min", 10.0),
        ("linear 20 MB/min", 20.0),
        ("linear 50 MB/min", 50.0),
    ] {
        add(name, Shape::Linear { mb_per_min: r });
    }
    add(
        "GC sawtooth, no leak",
        Shape::Sawtooth {
            leak_mb_per_min: 0.0,
        },
    );
    add(
        "GC sawtooth + 20 MB/min leak",
        Shape::Sawtooth {
            leak_mb_per_min: 20.0,
        },
    );
    add("warm-up then plateau", Shape::Warmup);
    add("step up +50 MB", Shape::Step { mb: 50.0 });
    add("step down −50 MB", Shape::Step { mb: -50.0 });
    add(
        "staircase 10 MB / 30 s (20 MB/min)",
        Shape::Staircase {
            step_mb: 10.0,
            every_s: 30.0,
        },
    );
    add(
        "staircase 100 MB / 5 min (20 MB/min)",
        Shape::Staircase {
            step_mb: 100.0,
            every_s: 300.0,
        },
    );
    add(
        "flat, 20 MB/min from 40% of run",
        Shape::LateLeak {
            mb_per_min: 20.0,
            from: 0.4,
        },
    );
    add("AR(1) φ=0.9, sd 5 MB", Shape::Ar1 { phi: 0.9 });
    add("AR(1) φ=0.99, sd 5 MB", Shape::Ar1 { phi: 0.99 });
    add("AR(1) φ=0.999, sd 5 MB", Shape::Ar1 { phi: 0.999 });
    add(
        "random walk reflected ±30 MB",
        Shape::RandomWalk { bound_mb: 30.0 },
    );
    add("spikes +100 MB, 1–3 samples, ~4/h", Shape::Spikes);
    add("threads: pool 8→16 then stable", Shape::ThreadPool);
    add(
        "threads: +1 / 3 min (20/h)",
        Shape::CountStairs {
            kind: MetricKind::Threads,
            every_s: 180.0,
        },
    );
    add(
        "FDs: +1 / 2 min (30/h)",
        Shape::CountStairs {
            kind: MetricKind::Fds,
            every_s: 120.0,
        },
    );
    add(
        "FDs: +1 / 10 min (6/h)",
        Shape::CountStairs {
            kind: MetricKind::Fds,
            every_s: 600.0,
        },
    );
    add(
        "4 processes sharing 100 MB (RSS sum ≫ PSS sum)",
        Shape::Case(Case::SharedBlock),
    );
    add("workers come and go (2–8)", Shape::Case(Case::Workers));
    add(
        "heap doubling 16→256 MB, then holds",
        Shape::Case(Case::Doubling {
            leak_mb_per_min: 0.0,
        }),
    );
    add(
        "heap doubling, then 20 MB/min from 40%",
        Shape::Case(Case::Doubling {
            leak_mb_per_min: 20.0,
        }),
    );
    add(
        "restart loop, 20 MB/min in each life, killed at 200 MB",
        Shape::Case(Case::RestartLoop {
            leak_mb_per_min: 20.0,
        }),
    );
    add(
        "restart loop, no leak (crash every 2–4 min)",
        Shape::Case(Case::RestartLoop {
            leak_mb_per_min: 0.0,
        }),
    );
    rows
}

/// Fail threshold per minute for a metric, read from the same `Thresholds` soakprof gets.
fn fail_threshold(kind: MetricKind, th: &Thresholds) -> f64 {
    match kind {
        MetricKind::Threads => th.max_thread_growth_per_min,
        MetricKind::Fds => th.max_fd_growth_per_min,
        _ => th.max_growth_bytes_per_min,
    }
}

/// Threshold of baseline (b), per hour: the users' rule for memory, the same 10/h for counts.
fn prom_threshold_per_h(kind: MetricKind, th: &Thresholds) -> f64 {
    match kind {
        MetricKind::Threads | MetricKind::Fds => fail_threshold(kind, th) * 60.0,
        _ => PROM_MEM_PER_H,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Leak,
    /// Grows, but below the fail threshold: a fail here is a false fail.
    Slow,
    NoLeak,
}

fn label(shape: Shape, th: &Thresholds) -> Label {
    let rate = shape.rate_per_min();
    if rate >= fail_threshold(shape.kind(), th) {
        Label::Leak
    } else if rate > 0.0 {
        Label::Slow
    } else {
        Label::NoLeak
    }
}

/// Short-lived extra threads / FDs (a worker for one task, a socket for one request): about
/// one a minute, +1..+3 for 1–5 s. They make the count series jump without trending.
fn add_blips(y: &mut [f64], rng: &mut Rng) {
    let n = y.len();
    let mut at = rng.exponential(60.0);
    while (at as usize) < n {
        let start = at as usize;
        let extra = rng.int(1, 3) as f64;
        let len = rng.int(1, 5) as usize;
        for v in y.iter_mut().skip(start).take(len) {
            *v += extra;
        }
        at += rng.exponential(60.0).max(1.0);
    }
}

/// The raw series at 1 Hz, t = 0..=duration_s, in the metric's unit.
fn generate(shape: Shape, duration_s: u64, rng: &mut Rng) -> Vec<f64> {
    let n = duration_s as usize + 1;
    let d = duration_s as f64;
    let base = 200.0 * MB * rng.range(0.9, 1.1);
    let mut y: Vec<f64> = match shape {
        Shape::Linear { mb_per_min } => (0..n)
            .map(|i| base + mb_per_min * MB / 60.0 * i as f64)
            .collect(),
        Shape::Sawtooth { leak_mb_per_min } => {
            let amp = rng.range(20.0, 100.0) * MB;
            // Log-uniform period: as many short as long periods.
            let period = (rng.range(30f64.ln(), 600f64.ln())).exp();
            let mut cycle_start = -rng.range(0.0, period);
            let mut cycle_len = period * rng.range(0.8, 1.2);
            let mut cycle_amp = amp * rng.range(0.8, 1.2);
            (0..n)
                .map(|i| {
                    let t = i as f64;
                    while t >= cycle_start + cycle_len {
                        cycle_start += cycle_len;
                        cycle_len = period * rng.range(0.8, 1.2);
                        cycle_amp = amp * rng.range(0.8, 1.2);
                    }
                    let floor = base + leak_mb_per_min * MB / 60.0 * t;
                    floor + cycle_amp * (t - cycle_start) / cycle_len
                })
                .collect()
        }
        Shape::Warmup => {
            let amp = rng.range(100.0, 300.0) * MB;
            let tau = rng.range(60.0, 600.0);
            (0..n)
                .map(|i| base + amp * (1.0 - (-(i as f64) / tau).exp()))
                .collect()
        }
        Shape::Step { mb } => {
            let at = rng.range(0.1, 0.9) * d;
            (0..n)
                .map(|i| base + if i as f64 >= at { mb * MB } else { 0.0 })
                .collect()
        }
        Shape::Staircase { step_mb, every_s } => {
            let phase = rng.range(0.0, every_s);
            (0..n)
                .map(|i| base + step_mb * MB * ((i as f64 + phase) / every_s).floor())
                .collect()
        }
        Shape::LateLeak { mb_per_min, from } => {
            let onset = from * d;
            (0..n)
                .map(|i| base + mb_per_min * MB / 60.0 * (i as f64 - onset).max(0.0))
                .collect()
        }
        Shape::Ar1 { phi } => {
            let sd = 5.0 * MB;
            // Innovations scaled so the stationary sd is `sd`; start from the stationary law.
            let innovation = sd * (1.0 - phi * phi).sqrt();
            let mut x = sd * rng.normal();
            (0..n)
                .map(|_| {
                    let v = base + x;
                    x = phi * x + innovation * rng.normal();
                    v
                })
                .collect()
        }
        Shape::RandomWalk { bound_mb } => {
            let b = bound_mb * MB;
            let mut x = rng.range(-b, b);
            (0..n)
                .map(|_| {
                    let v = base + x;
                    x += 0.5 * MB * rng.normal();
                    // Reflect at the bounds; clamp in case a step overshoots twice.
                    if x > b {
                        x = 2.0 * b - x;
                    } else if x < -b {
                        x = -2.0 * b - x;
                    }
                    x = x.clamp(-b, b);
                    v
                })
                .collect()
        }
        Shape::Spikes => {
            let mut y = vec![base; n];
            let mut at = rng.exponential(900.0);
            while (at as usize) < n {
                let len = rng.int(1, 3) as usize;
                for v in y.iter_mut().skip(at as usize).take(len) {
                    *v += 100.0 * MB;
                }
                at += rng.exponential(900.0).max(4.0);
            }
            y
        }
        Shape::ThreadPool => {
            // Eight pool threads start within the first 5 min (or 30% of a short run).
            let ramp = (0.3 * d).min(300.0);
            let mut starts: Vec<f64> = (0..8).map(|_| rng.range(0.0, ramp)).collect();
            starts.sort_by(f64::total_cmp);
            let mut y: Vec<f64> = (0..n)
                .map(|i| 8.0 + starts.partition_point(|&s| s <= i as f64) as f64)
                .collect();
            add_blips(&mut y, rng);
            return y;
        }
        Shape::Case(case) => {
            // Whole samples; the baselines judge their summed RSS.
            return case
                .samples(duration_s, rng)
                .iter()
                .map(|s| s.rss.map_or(f64::NAN, |v| v as f64))
                .collect();
        }
        Shape::CountStairs { kind, every_s } => {
            let start = if kind == MetricKind::Fds { 24.0 } else { 12.0 };
            let phase = rng.range(0.0, every_s);
            let mut y: Vec<f64> = (0..n)
                .map(|i| start + ((i as f64 + phase) / every_s).floor())
                .collect();
            add_blips(&mut y, rng);
            return y;
        }
    };
    for v in &mut y {
        *v += NOISE_SD * rng.normal();
    }
    y
}

/// Quantise like the real sampler (pages; whole counts) and build the samples.
fn to_samples(raw: &[f64], kind: MetricKind) -> (Vec<Sample>, Vec<f64>, Vec<f64>) {
    let mut samples = Vec::with_capacity(raw.len());
    let (mut t, mut y) = (Vec::with_capacity(raw.len()), Vec::with_capacity(raw.len()));
    for (i, &v) in raw.iter().enumerate() {
        // `max` drops a NaN; `as u64` saturates: odd values cannot panic here.
        let q = match kind {
            MetricKind::Threads | MetricKind::Fds => v.round().max(0.0) as u64,
            _ => ((v / PAGE).round().max(0.0) * PAGE) as u64,
        };
        let mut s = Sample {
            t: i as f64,
            ..Sample::default()
        };
        match kind {
            MetricKind::Threads => s.threads = Some(q),
            MetricKind::Fds => s.fds = Some(q),
            MetricKind::Vms => s.vms = Some(q),
            MetricKind::Pss => s.pss = Some(q),
            MetricKind::Uss => s.uss = Some(q),
            MetricKind::Rss => s.rss = Some(q),
            MetricKind::CgroupMemory => s.cgroup_memory_bytes = Some(q),
            MetricKind::CgroupAnon => s.cgroup_anon_bytes = Some(q),
            MetricKind::CgroupFile => s.cgroup_file_bytes = Some(q),
            MetricKind::CgroupWorkingSet => s.cgroup_working_set_bytes = Some(q),
        }
        samples.push(s);
        t.push(i as f64);
        y.push(q as f64);
    }
    (samples, t, y)
}

// ---------------------------------------------------------------------------------------
// Judges.

/// soakprof's verdict on a series; no verdict (too few samples) is a pass. The one place
/// to adapt when the analysis signature changes.
fn soakprof_verdict(t: &[f64], y: &[f64], kind: MetricKind, th: &Thresholds) -> Verdict {
    judge_trend(t, y, kind, th, Warmup::Auto).map_or(Verdict::Pass, |j| j.trend.verdict)
}

/// `--fail-fast` on one run, simulated as the recorder does it: after sample n (n = 1, 2, ..)
/// the schedule decides whether n is a look, and a look runs the sequential test on the
/// first n samples. Returns the time of the sample at which the run stopped, if it did, and
/// the number of looks taken. The one place to adapt when the sequential test changes.
fn fail_fast_stop(samples: &[Sample], th: &Thresholds) -> (Option<f64>, u32) {
    let mut schedule = LookSchedule::default();
    // The run length stands for --duration, as the recorder would be told.
    let earliest = earliest_stop_s(samples.last().map(|s| s.t));
    for n in 1..=samples.len() {
        if !schedule.due(n as u64) {
            continue;
        }
        let reason = certain_fail(
            &soakprof::synthetic::columns(&samples[..n]),
            th,
            Warmup::Auto,
            schedule.looks,
            FAIL_FAST_ALPHA,
            earliest,
        );
        if reason.is_some() {
            return (Some(samples[n - 1].t), schedule.looks);
        }
    }
    (None, schedule.looks)
}

/// Looks `--fail-fast` takes on a run of `n` samples that it does not stop.
fn looks_in(n: u64) -> u32 {
    let mut schedule = LookSchedule::default();
    (1..=n).filter(|&i| schedule.due(i)).count() as u32
}

/// Delay from the onset to the first point from which the verdict stays fail to the end.
fn detection_delay(track: &[(f64, bool)], onset: f64) -> Option<f64> {
    let first_stable = match track.iter().rposition(|&(_, fail)| !fail) {
        Some(i) => i + 1,
        None => 0,
    };
    track
        .get(first_stable)
        .map(|&(at, _)| (at - onset).max(0.0))
}

// ---------------------------------------------------------------------------------------
// One run.

const JUDGES: [&str; 3] = ["soakprof", "(a) endpoints", "(b) Prometheus rule"];

struct Config {
    seeds: u64,
    lengths_s: Vec<u64>,
    quick: bool,
}

impl Config {
    /// Prefix step: every minute up to 1 h runs, coarser for 6 h to keep the runtime down.
    fn prefix_step_s(&self, duration_s: u64) -> u64 {
        match (duration_s > 3600, self.quick) {
            (false, _) => 60,
            (true, false) => 300,
            (true, true) => 900,
        }
    }
}

struct Job {
    row: usize,
    len: usize,
    seed: u64,
}

struct RunResult {
    soak_end: Verdict,
    /// End verdict fail, per judge.
    fail: [bool; 3],
    /// Detection delay per judge (leak rows only).
    delay: [Option<f64>; 3],
    /// Fail on the prefix ending 15 min after the onset, per judge (strong leaks only).
    early: Option<[bool; 3]>,
    soak_calls: usize,
    soak_time: Duration,
    soak_samples: usize,
    /// `--fail-fast`: time of the sample at which the run stopped (None: ran to the end).
    ff_stop: Option<f64>,
    ff_looks: u32,
    ff_time: Duration,
}

fn run_one(job: &Job, rows: &[Row], cfg: &Config, th: &Thresholds) -> RunResult {
    let row = &rows[job.row];
    let duration_s = cfg.lengths_s[job.len];
    let kind = row.shape.kind();
    let mut rng = Rng::new(seed_for(row.name, duration_s, job.seed));
    let (samples, t, y) = match row.shape {
        Shape::Case(case) => cases::with_summed_rss(case.samples(duration_s, &mut rng)),
        shape => to_samples(&generate(shape, duration_s, &mut rng), kind),
    };
    // The same draws again give the events of the same run.
    let events = match row.shape {
        Shape::Case(case) => case.events(
            duration_s,
            &mut Rng::new(seed_for(row.name, duration_s, job.seed)),
        ),
        _ => Vec::new(),
    };
    let whole = matches!(row.shape, Shape::Case(_));
    let fail_per_min = fail_threshold(kind, th);
    let is_leak = label(row.shape, th) == Label::Leak;
    let onset = row.shape.onset_s(duration_s as f64);

    let mut soak_calls = 0;
    let mut soak_time = Duration::ZERO;
    let mut soak_samples = 0;
    // Prefix = every sample with t ≤ the cut.
    let mut judge_prefix = |cut: f64| -> (Verdict, bool) {
        let k = samples.partition_point(|s| s.t <= cut);
        let started = Instant::now();
        let v = if whole {
            cases::run_verdict(&samples[..k], &events, th)
        } else {
            soakprof_verdict(&t[..k], &y[..k], kind, th)
        };
        soak_time += started.elapsed();
        soak_calls += 1;
        soak_samples += k;
        (v, endpoints_fail(&t[..k], &y[..k], fail_per_min))
    };

    let step = cfg.prefix_step_s(duration_s);
    let mut cuts: Vec<u64> = (1..)
        .map(|i| i * step)
        .take_while(|&c| c < duration_s)
        .collect();
    cuts.push(duration_s);
    let mut soak_track = Vec::with_capacity(cuts.len());
    let mut end_track = Vec::with_capacity(cuts.len());
    let mut soak_end = Verdict::Pass;
    for &cut in &cuts {
        let (v, a) = judge_prefix(cut as f64);
        soak_track.push((cut as f64, v == Verdict::Fail));
        end_track.push((cut as f64, a));
        soak_end = v;
    }
    let ff_started = Instant::now();
    let (ff_stop, ff_looks) = fail_fast_stop(&samples, th);
    let ff_time = ff_started.elapsed();

    let prom = prometheus_alert(&t, &y, prom_threshold_per_h(kind, th));
    let prom_end = prom.last().is_some_and(|&(_, f)| f);

    let strong = is_leak && row.shape.rate_per_min() >= 2.0 * fail_per_min;
    let early_cut = onset + EARLY_S;
    let early = (strong && early_cut <= duration_s as f64).then(|| {
        let (v, a) = judge_prefix(early_cut);
        let b = prom
            .iter()
            .take_while(|&&(at, _)| at <= early_cut + 1e-9)
            .last()
            .is_some_and(|&(_, f)| f);
        [v == Verdict::Fail, a, b]
    });
    let delay = if is_leak {
        [
            detection_delay(&soak_track, onset),
            detection_delay(&end_track, onset),
            detection_delay(&prom, onset),
        ]
    } else {
        [None; 3]
    };
    RunResult {
        soak_end,
        fail: [
            soak_end == Verdict::Fail,
            end_track.last().is_some_and(|&(_, f)| f),
            prom_end,
        ],
        delay,
        early,
        soak_calls,
        soak_time,
        soak_samples,
        ff_stop,
        ff_looks,
        ff_time,
    }
}

fn main() {
    // cargo passes `--bench` (and filters); only `--quick` and `--rows TEXT` (the rows whose
    // shape contains TEXT, for a quick look at a few) mean anything here.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1));
    let cfg = Config {
        seeds: if quick { 2 } else { 5 },
        lengths_s: vec![15 * 60, 3600, 6 * 3600],
        quick,
    };
    let th = Thresholds::default();
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| only.is_none_or(|o| r.name.contains(o.as_str())))
        .collect();
    let started = Instant::now();

    let mut jobs = Vec::new();
    for len in 0..cfg.lengths_s.len() {
        for row in 0..rows.len() {
            for seed in 0..cfg.seeds {
                jobs.push(Job { row, len, seed });
            }
        }
    }
    let results = parallel::run_parallel(&jobs, |job| run_one(job, &rows, &cfg, &th));

    print_header(&cfg, &th);

    // Group results per (length, row) cell, in job order.
    let mut cells: BTreeMap<(usize, usize), Vec<&RunResult>> = BTreeMap::new();
    for (job, r) in jobs.iter().zip(&results) {
        cells.entry((job.len, job.row)).or_default().push(r);
    }
    for (len, &duration_s) in cfg.lengths_s.iter().enumerate() {
        println!(
            "## {} runs ({} samples each; prefixes every {} min)",
            fmt_length(duration_s),
            duration_s + 1,
            cfg.prefix_step_s(duration_s) / 60
        );
        println!();
        println!(
            "| shape | label | n | soakprof fail | soakprof warn | soakprof delay | (a) fail | (a) delay | (b) fail | (b) delay |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for (r, row) in rows.iter().enumerate() {
            let Some(runs) = cells.get(&(len, r)) else {
                continue;
            };
            let n = runs.len();
            let lab = label(row.shape, &th);
            let count = |j: usize| runs.iter().filter(|x| x.fail[j]).count();
            let warn = runs.iter().filter(|x| x.soak_end == Verdict::Warn).count();
            let delay = |j: usize| {
                if lab == Label::Leak {
                    median_delay(&runs.iter().map(|x| x.delay[j]).collect::<Vec<_>>())
                } else {
                    String::new()
                }
            };
            let name = match lab {
                Label::Leak => "leak",
                Label::Slow => "slow",
                Label::NoLeak => "no",
            };
            println!(
                "| {} | {name} | {n} | {}/{n} | {warn}/{n} | {} | {}/{n} | {} | {}/{n} | {} |",
                row.name,
                count(0),
                delay(0),
                count(1),
                delay(1),
                count(2),
                delay(2)
            );
        }
        println!();

        println!(
            "### {} runs: `--fail-fast` ({} looks on a run that is not stopped)",
            fmt_length(duration_s),
            looks_in(duration_s + 1)
        );
        println!();
        println!(
            "| shape | label | n | stopped early | onset → stop (median) | run saved (median) | stopped runs: stop at (median) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (r, row) in rows.iter().enumerate() {
            let Some(runs) = cells.get(&(len, r)) else {
                continue;
            };
            let n = runs.len();
            let lab = label(row.shape, &th);
            let c = fail_fast_cell(runs, row.shape.onset_s(duration_s as f64), duration_s);
            let (delay, saved) = if lab == Label::Leak {
                (c.delay.as_str(), c.saved.as_str())
            } else {
                ("", "")
            };
            println!(
                "| {} | {} | {n} | {} | {delay} | {saved} | {} |",
                row.name,
                label_name(lab),
                stopped_cell(&c, n),
                c.stopped_at
            );
        }
        println!();
    }

    // Overall confusion per judge: all lengths, then per length.
    println!(
        "## Overall (positive = fail verdict at the end of the full run; slow rows are negatives)"
    );
    println!();
    println!(
        "| judge | runs | n | TP | FP | FN | TN | precision | recall | F1 | false-fail rate |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (j, judge) in JUDGES.iter().enumerate() {
        let mut all = Confusion::default();
        let mut per_len = vec![Confusion::default(); cfg.lengths_s.len()];
        for (job, r) in jobs.iter().zip(&results) {
            let leak = label(rows[job.row].shape, &th) == Label::Leak;
            all.add(leak, r.fail[j]);
            per_len[job.len].add(leak, r.fail[j]);
        }
        println!("{}", all.row(judge, "all"));
        for (len, c) in per_len.iter().enumerate() {
            println!("{}", c.row(judge, &fmt_length(cfg.lengths_s[len])));
        }
    }
    println!();

    // --fail-fast over all lengths: stops per shape, and the delay on the longest runs.
    let longest = cfg.lengths_s.len() - 1;
    let longest_s = cfg.lengths_s[longest];
    println!("### `--fail-fast` (sequential test), all lengths");
    println!();
    let length_cols: Vec<String> = cfg
        .lengths_s
        .iter()
        .map(|&s| format!("stopped, {}", fmt_length(s)))
        .collect();
    println!(
        "| shape | label | {} | stopped, all | onset → stop, {} (median) | {} run saved (median) |",
        length_cols.join(" | "),
        fmt_length(longest_s),
        fmt_length(longest_s)
    );
    println!(
        "|---|---|{}---|---|---|",
        "---|".repeat(cfg.lengths_s.len())
    );
    // False stops on no / slow rows, stops before a late leak's onset, leak runs stopped.
    let (mut no, mut slow, mut leak, mut before) = ((0, 0), (0, 0), (0, 0), (0, 0));
    for (r, row) in rows.iter().enumerate() {
        let lab = label(row.shape, &th);
        let mut cols = Vec::new();
        let (mut stopped, mut n_all) = (0, 0);
        for (len, &duration_s) in cfg.lengths_s.iter().enumerate() {
            let runs = cells.get(&(len, r)).map_or(&[][..], |v| v.as_slice());
            let c = fail_fast_cell(runs, row.shape.onset_s(duration_s as f64), duration_s);
            cols.push(stopped_cell(&c, runs.len()));
            stopped += c.stopped;
            n_all += runs.len();
            if lab == Label::Leak && row.shape.onset_s(duration_s as f64) > 0.0 {
                before.0 += c.before_onset;
                before.1 += runs.len();
            }
        }
        let slot = match lab {
            Label::Leak => &mut leak,
            Label::Slow => &mut slow,
            Label::NoLeak => &mut no,
        };
        slot.0 += stopped;
        slot.1 += n_all;
        let (delay, saved) = match (lab, cells.get(&(longest, r))) {
            (Label::Leak, Some(runs)) => {
                let c = fail_fast_cell(runs, row.shape.onset_s(longest_s as f64), longest_s);
                (c.delay, c.saved)
            }
            _ => (String::new(), String::new()),
        };
        println!(
            "| {} | {} | {} | {stopped}/{n_all} | {delay} | {saved} |",
            row.name,
            label_name(lab),
            cols.join(" | ")
        );
    }
    println!();
    let (fs, fn_) = (no.0 + slow.0, no.1 + slow.1);
    println!(
        "**False stops: {fs}/{fn_} no-leak runs ({}; one-sided 95% upper bound {:.1}%)** — no \
         rows {}/{}, slow rows {}/{}, all lengths. Design bound: at most {:.0}% per run \
         (`FAIL_FAST_ALPHA`, spent over all looks, for growth at or below the fail threshold): \
         at most {:.1} false stops expected in {fn_} runs.",
        percent(fs, fn_),
        100.0 * upper_bound_95(fs, fn_),
        no.0,
        no.1,
        slow.0,
        slow.1,
        FAIL_FAST_ALPHA * 100.0,
        FAIL_FAST_ALPHA * fn_ as f64
    );
    println!();
    // Each false stop by name, so the cases a change must fix can be replayed (`--rows`).
    for (job, r) in jobs.iter().zip(&results) {
        let row = &rows[job.row];
        if let (Some(at), false) = (r.ff_stop, label(row.shape, &th) == Label::Leak) {
            println!(
                "- false stop: {} ({}, seed {}) at {at:.0} s",
                row.name,
                fmt_length(cfg.lengths_s[job.len]),
                job.seed
            );
        }
    }
    println!();
    println!(
        "Leak runs stopped early: {}/{} ({}); late-leak runs stopped before the onset: {}/{}.",
        leak.0,
        leak.1,
        percent(leak.0, leak.1),
        before.0,
        before.1
    );
    println!();

    // Early recall: strong leaks judged on the prefix ending 15 min after the onset.
    println!(
        "## Early recall: leaks at ≥ 2× the fail threshold, judged on data up to 15 min after the onset"
    );
    println!();
    println!(
        "Memory: linear 20 and 50 MB/min, sawtooth + 20 MB/min, both staircases, late leak \
         (1 h and 6 h runs only: on 15 min runs it starts at 6 min). Counts: threads 20/h and \
         FDs 30/h."
    );
    println!();
    println!("| judge | memory ≥ 20 MB/min | threads/FDs ≥ 20/h |");
    println!("|---|---|---|");
    for (j, judge) in JUDGES.iter().enumerate() {
        let (mut mem, mut cnt) = ((0, 0), (0, 0));
        for (job, r) in jobs.iter().zip(&results) {
            let Some(early) = r.early else { continue };
            let slot = if rows[job.row].shape.kind() == MetricKind::Rss {
                &mut mem
            } else {
                &mut cnt
            };
            slot.0 += usize::from(early[j]);
            slot.1 += 1;
        }
        println!(
            "| {judge} | {} ({}/{}) | {} ({}/{}) |",
            ratio(mem.0, mem.1),
            mem.0,
            mem.1,
            ratio(cnt.0, cnt.1),
            cnt.0,
            cnt.1
        );
    }
    println!();

    let calls: usize = results.iter().map(|r| r.soak_calls).sum();
    let samples: usize = results.iter().map(|r| r.soak_samples).sum();
    let soak_time: Duration = results.iter().map(|r| r.soak_time).sum();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "Runtime: {:.1} s wall for {} runs on {workers} thread(s); soakprof `judge_trend`: \
         {calls} calls on {:.1} M samples, {:.1} s CPU ({:.0} µs per call, {:.1} ns per sample).",
        started.elapsed().as_secs_f64(),
        results.len(),
        samples as f64 / 1e6,
        soak_time.as_secs_f64(),
        soak_time.as_secs_f64() * 1e6 / calls.max(1) as f64,
        soak_time.as_secs_f64() * 1e9 / samples.max(1) as f64,
    );
    let ff_looks: u64 = results.iter().map(|r| u64::from(r.ff_looks)).sum();
    let ff_time: Duration = results.iter().map(|r| r.ff_time).sum();
    println!();
    println!(
        "`--fail-fast` simulation: {ff_looks} looks (`certain_fail` calls), {:.1} s CPU \
         ({:.0} µs per look).",
        ff_time.as_secs_f64(),
        ff_time.as_secs_f64() * 1e6 / ff_looks.max(1) as f64,
    );
}
