//! Cases that real programs showed (issue 13) and one memory field cannot describe: several
//! processes summed (`procs` > 1, with RSS, PSS and USS each summed over the processes), and
//! a heap that expands in doubling steps. Each case builds whole samples at 1 Hz; the
//! baselines are given summed RSS, the number a tool that sums RSS (psrecord) would judge.

use soakprof::analysis::{AnalysisConfig, Verdict, analyse};
use soakprof::runlog::{Event, EventKind, Thresholds};
use soakprof::sample::Sample;
use soakprof::synthetic;

use super::{MB, NOISE_SD, PAGE, Rng};

/// A case of whole samples (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub enum Case {
    /// A postmaster and 3 backends sharing a 100 MB block (touched by the postmaster before
    /// the fork), 10 MB private each. Each backend touches the block at a steady pace
    /// until it has touched all of it, at a random time in 20–60% of the run: summed RSS
    /// climbs from ~140 MB to 440 MB, PSS stays at 100 + 4 × 10 MB, USS at 4 × 10 MB.
    SharedBlock,
    /// A master (60 MB) and 2–8 workers (30–50 MB each, 20 MB of it shared code) added and
    /// removed about once a minute, pulled towards 5 workers (an autoscaler under a steady
    /// load): every sum steps up and down, none trends.
    Workers,
    /// A heap that doubles 16 → 256 MB at 5%, 10%, 20% and 40% of the run (the intervals
    /// double with the steps, as when a live set grows steadily into a doubling arena), then
    /// holds; with a leak, grows at `leak_mb_per_min` from 40% of the run on.
    Doubling { leak_mb_per_min: f64 },
    /// A service restarted by its supervisor (`--follow`): each life warms up 40 → 60 MB
    /// over its first 20 s, then grows at `leak_mb_per_min` until it is killed at a 200 MB
    /// ceiling (with a leak; the OOM-killer loop) or at a random age of 2–4 min (without one:
    /// a crash loop), and is back 2 s later. Growth that resets at every death: a leak when
    /// each life has it.
    RestartLoop { leak_mb_per_min: f64 },
}

/// Share of the run at which the doubling heap reaches its last size.
const DOUBLING_END: f64 = 0.4;
/// Every fifth sample reads PSS/USS, as `--pss-interval auto` does at 1 Hz.
const PSS_EVERY: usize = 5;

impl Case {
    /// True long-run growth of the judged memory, bytes per minute (after the onset).
    pub fn rate_per_min(self) -> f64 {
        match self {
            Case::Doubling { leak_mb_per_min } | Case::RestartLoop { leak_mb_per_min } => {
                leak_mb_per_min * MB
            }
            Case::SharedBlock | Case::Workers => 0.0,
        }
    }

    /// Time the leak starts (the doubling heap's last step).
    pub fn onset_s(self, duration_s: f64) -> f64 {
        match self {
            Case::Doubling { leak_mb_per_min } if leak_mb_per_min > 0.0 => {
                DOUBLING_END * duration_s
            }
            _ => 0.0,
        }
    }

    /// The samples, t = 0..=duration_s.
    pub fn samples(self, duration_s: u64, rng: &mut Rng) -> Vec<Sample> {
        let n = duration_s as usize + 1;
        let d = duration_s as f64;
        match self {
            Case::SharedBlock => shared_block(n, d, rng),
            Case::Workers => workers(n, rng),
            Case::Doubling { leak_mb_per_min } => doubling(n, d, leak_mb_per_min, rng),
            Case::RestartLoop { leak_mb_per_min } => restart_loop(n, leak_mb_per_min, rng).0,
        }
    }

    /// The run's events: a `restart` at the start of every life after the first.
    pub fn events(self, duration_s: u64, rng: &mut Rng) -> Vec<Event> {
        match self {
            Case::RestartLoop { leak_mb_per_min } => {
                restart_loop(duration_s as usize + 1, leak_mb_per_min, rng).1
            }
            _ => Vec::new(),
        }
    }
}

/// The samples, with the times and summed RSS the baselines judge.
pub fn with_summed_rss(samples: Vec<Sample>) -> (Vec<Sample>, Vec<f64>, Vec<f64>) {
    let (t, y) = samples
        .iter()
        .filter_map(|s| Some((s.t, s.rss? as f64)))
        .unzip();
    (samples, t, y)
}

/// soakprof's verdict on whole samples: the full analysis of a run of them, so the memory
/// it judges is the one it chooses (with several processes, not summed RSS).
pub fn run_verdict(samples: &[Sample], events: &[Event], th: &Thresholds) -> Verdict {
    let config = AnalysisConfig {
        thresholds: th.clone(),
        ..AnalysisConfig::default()
    };
    let cut = samples.last().map_or(0.0, |s| s.t);
    let events = events.iter().filter(|e| e.t <= cut).cloned().collect();
    analyse(&synthetic::run(samples, events), &config).verdict
}

/// Memory of one sample, summed over `procs` processes.
struct Sums {
    rss: f64,
    pss: f64,
    uss: f64,
    procs: u32,
}

/// Quantise to pages (the noise is already in) and read PSS/USS every `PSS_EVERY` samples.
fn sample(i: usize, m: &Sums) -> Sample {
    let page = |v: f64| ((v / PAGE).round().max(0.0) * PAGE) as u64;
    let slow = i.is_multiple_of(PSS_EVERY);
    Sample {
        t: i as f64,
        rss: Some(page(m.rss)),
        pss: slow.then(|| page(m.pss)),
        uss: slow.then(|| page(m.uss)),
        procs: Some(m.procs),
        ..Sample::default()
    }
}

fn shared_block(n: usize, d: f64, rng: &mut Rng) -> Vec<Sample> {
    let shared = 100.0 * MB;
    let private: Vec<f64> = (0..4).map(|_| 10.0 * MB * rng.range(0.9, 1.1)).collect();
    // When each backend has touched all of the block.
    let done: Vec<f64> = (0..3).map(|_| rng.range(0.2, 0.6) * d).collect();
    (0..n)
        .map(|i| {
            let t = i as f64;
            let touched: f64 = done.iter().map(|&e| shared * (t / e).min(1.0)).sum();
            let own: f64 = private.iter().sum();
            // Each process's own noise; the private pages are what moves, in every sum.
            let noise: f64 = (0..4).map(|_| NOISE_SD * rng.normal()).sum();
            let m = Sums {
                rss: shared + touched + own + noise,
                pss: shared + own + noise,
                uss: own + noise,
                procs: 4,
            };
            sample(i, &m)
        })
        .collect()
}

fn workers(n: usize, rng: &mut Rng) -> Vec<Sample> {
    let (master, code) = (60.0 * MB * rng.range(0.9, 1.1), 20.0 * MB);
    let mut sizes: Vec<f64> = (0..5).map(|_| rng.range(30.0, 50.0) * MB).collect();
    let mut next = rng.exponential(60.0);
    (0..n)
        .map(|i| {
            let t = i as f64;
            while t >= next {
                // Add with probability (8 − k)/6: drifts back towards 5, stays in 2..=8.
                let k = sizes.len();
                if rng.uniform() < (8.0 - k as f64) / 6.0 {
                    sizes.push(rng.range(30.0, 50.0) * MB);
                } else if k > 2 {
                    let gone = rng.int(0, k as u64 - 1) as usize;
                    sizes.swap_remove(gone);
                }
                next += rng.exponential(60.0).max(1.0);
            }
            let procs = 1 + sizes.len();
            let private: f64 = sizes.iter().map(|s| s - code).sum::<f64>() + master - code;
            let noise: f64 = (0..procs).map(|_| NOISE_SD * rng.normal()).sum();
            let m = Sums {
                rss: master + sizes.iter().sum::<f64>() + noise,
                pss: private + code + noise,
                uss: private + noise,
                procs: procs as u32,
            };
            sample(i, &m)
        })
        .collect()
}

fn doubling(n: usize, d: f64, leak_mb_per_min: f64, rng: &mut Rng) -> Vec<Sample> {
    let base = 150.0 * MB * rng.range(0.9, 1.1);
    let end = DOUBLING_END * d;
    // 16 MB at the start, doubled at end/8, end/4, end/2 and end: 256 MB.
    let steps = [end / 8.0, end / 4.0, end / 2.0, end];
    (0..n)
        .map(|i| {
            let t = i as f64;
            let doublings = steps.iter().filter(|&&s| t >= s).count() as i32;
            let heap = 16.0 * MB * 2f64.powi(doublings);
            let leak = leak_mb_per_min * MB / 60.0 * (t - end).max(0.0);
            let y = base + heap + leak + NOISE_SD * rng.normal();
            let m = Sums {
                rss: y,
                pss: y - 5.0 * MB,
                uss: y - 10.0 * MB,
                procs: 1,
            };
            sample(i, &m)
        })
        .collect()
}

/// Lives of a restarted service (see [`Case::RestartLoop`]) at 1 Hz: its samples, and the
/// restart events. The same `rng` draws give the same run to `samples` and `events`.
fn restart_loop(n: usize, leak_mb_per_min: f64, rng: &mut Rng) -> (Vec<Sample>, Vec<Event>) {
    const DOWN_S: usize = 2;
    let ceiling = 200.0 * MB;
    let (mut samples, mut events) = (Vec::with_capacity(n), Vec::new());
    let mut pid = 1000;
    let mut i = 0;
    while i < n {
        let crash_age = rng.range(120.0, 240.0);
        let warm = 40.0 * MB * rng.range(0.9, 1.1);
        let mut age = 0.0;
        loop {
            let warmed = warm + 20.0 * MB * (1.0 - (-age / 5.0_f64).exp());
            let y = warmed + leak_mb_per_min * MB / 60.0 * (age - 20.0).max(0.0);
            let killed = if leak_mb_per_min > 0.0 {
                y >= ceiling
            } else {
                age >= crash_age
            };
            if killed || i >= n {
                break;
            }
            let m = Sums {
                rss: y + NOISE_SD * rng.normal(),
                pss: y - 5.0 * MB,
                uss: y - 10.0 * MB,
                procs: 1,
            };
            samples.push(sample(i, &m));
            i += 1;
            age += 1.0;
        }
        i += DOWN_S;
        if i < n {
            events.push(Event {
                t: i as f64,
                kind: EventKind::Restart {
                    old_pid: pid,
                    code: None,
                    signal: Some(9),
                    new_pid: pid + 1,
                    down_s: DOWN_S as f64,
                },
            });
            pid += 1;
        }
    }
    (samples, events)
}
