//! The runs of a pair: a shape's parameters drawn once per pair (both runs are the same
//! build), the noise, sawtooth phase and jitter drawn per run, and the change added to the
//! candidate only.

use soakprof::runlog::RunData;
use soakprof::sample::Sample;

use crate::load;
use crate::rng::Rng;

pub const MB: f64 = 1e6;
/// RSS moves in whole pages.
const PAGE: f64 = 4096.0;
/// White measurement noise on every memory series (as in the detection bench).
const NOISE_SD: f64 = 0.5 * MB;
/// Standard deviation of the white-noise and AR(1) shapes.
const LEVEL_SD: f64 = 5.0 * MB;

/// What the two runs are, before any change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Base {
    /// Flat at a level, white noise of sd 5 MB.
    White,
    /// Flat, AR(1) noise of stationary sd 5 MB.
    Ar1 { phi: f64 },
    /// GC sawtooth: amplitude 20–100 MB and period 30 s–10 min per pair, each cycle
    /// jittered ±20% per run, a random phase per run.
    Sawtooth,
    /// base + A(1 − e^(−t/τ)), A 100–300 MB and τ 1–10 min per pair, then flat.
    Warmup,
    /// Flat memory with load at 200 req/s (latency noise only).
    FlatLoad,
}

impl Base {
    pub fn has_load(self) -> bool {
        self == Base::FlatLoad
    }
}

/// What the candidate adds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    None,
    /// Memory growing at this rate from the start, on top of the shape.
    Leak {
        mb_per_min: f64,
    },
    /// The memory level (the shape's whole signal) this fraction higher.
    Steady {
        fraction: f64,
    },
    /// Every latency this fraction longer (a slower handler): p50, p95 and p99 all move.
    Latency {
        fraction: f64,
    },
}

/// Parameters of one pair, the same for both runs.
pub struct PairParams {
    base_bytes: f64,
    saw_amp: f64,
    saw_period_s: f64,
    warm_amp: f64,
    warm_tau_s: f64,
    threads: f64,
    fds: f64,
    cpu_cores: f64,
    pub latency: load::LatencyModel,
}

impl PairParams {
    pub fn draw(rng: &mut Rng) -> PairParams {
        PairParams {
            base_bytes: 200.0 * MB * rng.range(0.9, 1.1),
            saw_amp: rng.range(20.0, 100.0) * MB,
            // Log-uniform period: as many short as long periods.
            saw_period_s: rng.range(30f64.ln(), 600f64.ln()).exp(),
            warm_amp: rng.range(100.0, 300.0) * MB,
            warm_tau_s: rng.range(60.0, 600.0),
            threads: rng.int(16, 40) as f64,
            fds: rng.int(30, 90) as f64,
            cpu_cores: rng.range(0.2, 0.5),
            latency: load::LatencyModel::draw(rng),
        }
    }
}

impl PairParams {
    /// The mean level of the shape's signal once warmed up.
    fn plateau_bytes(&self, base: Base) -> f64 {
        match base {
            Base::White | Base::Ar1 { .. } | Base::FlatLoad => self.base_bytes,
            Base::Sawtooth => self.base_bytes + self.saw_amp / 2.0,
            Base::Warmup => self.base_bytes + self.warm_amp,
        }
    }
}

/// The memory signal of one run (before the measurement noise and the change).
fn memory_signal(base: Base, p: &PairParams, n: usize, rng: &mut Rng) -> Vec<f64> {
    match base {
        Base::White | Base::FlatLoad => (0..n)
            .map(|_| {
                if base == Base::White {
                    p.base_bytes + LEVEL_SD * rng.normal()
                } else {
                    p.base_bytes
                }
            })
            .collect(),
        Base::Ar1 { phi } => {
            // Innovations scaled so the stationary sd is LEVEL_SD; start from the
            // stationary law.
            let innovation = LEVEL_SD * (1.0 - phi * phi).sqrt();
            let mut x = LEVEL_SD * rng.normal();
            (0..n)
                .map(|_| {
                    let v = p.base_bytes + x;
                    x = phi * x + innovation * rng.normal();
                    v
                })
                .collect()
        }
        Base::Sawtooth => {
            let period = p.saw_period_s;
            let mut cycle_start = -rng.range(0.0, period);
            let mut cycle_len = period * rng.range(0.8, 1.2);
            let mut cycle_amp = p.saw_amp * rng.range(0.8, 1.2);
            (0..n)
                .map(|i| {
                    let t = i as f64;
                    while t >= cycle_start + cycle_len {
                        cycle_start += cycle_len;
                        cycle_len = period * rng.range(0.8, 1.2);
                        cycle_amp = p.saw_amp * rng.range(0.8, 1.2);
                    }
                    p.base_bytes + cycle_amp * (t - cycle_start) / cycle_len
                })
                .collect()
        }
        Base::Warmup => (0..n)
            .map(|i| p.base_bytes + p.warm_amp * (1.0 - (-(i as f64) / p.warm_tau_s).exp()))
            .collect(),
    }
}

/// Short-lived extra threads / FDs: about one a minute, +1..+3 for 1–5 s.
fn with_blips(level: f64, n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut y = vec![level; n];
    let mut at = rng.exponential(60.0);
    while (at as usize) < n {
        let extra = rng.int(1, 3) as f64;
        let len = rng.int(1, 5) as usize;
        for v in y.iter_mut().skip(at as usize).take(len) {
            *v += extra;
        }
        at += rng.exponential(60.0).max(1.0);
    }
    y.into_iter().map(|v| v as u64).collect()
}

/// One run of `duration_s` seconds at 1 Hz (samples at t = 0..=duration_s), with load
/// when the shape has it.
pub fn run(base: Base, change: Change, p: &PairParams, duration_s: u64, rng: &mut Rng) -> RunData {
    let n = duration_s as usize + 1;
    let mut memory = memory_signal(base, p, n, rng);
    let plateau = p.plateau_bytes(base);
    for (i, v) in memory.iter_mut().enumerate() {
        match change {
            Change::Steady { fraction } => *v += fraction * plateau,
            Change::Leak { mb_per_min } => *v += mb_per_min * MB / 60.0 * i as f64,
            Change::None | Change::Latency { .. } => {}
        }
        *v += NOISE_SD * rng.normal();
    }
    let threads = with_blips(p.threads, n, rng);
    let fds = with_blips(p.fds, n, rng);
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            t: i as f64,
            rss: Some(((memory[i] / PAGE).round().max(0.0) * PAGE) as u64),
            threads: Some(threads[i]),
            fds: Some(fds[i]),
            cpu: Some((p.cpu_cores * (1.0 + 0.1 * rng.normal())).max(0.0)),
            ..Sample::default()
        })
        .collect();
    let mut run = soakprof::synthetic::run(&samples, Vec::new());
    run.header.duration_s = Some(duration_s as f64);
    if base.has_load() {
        let slower = match change {
            Change::Latency { fraction } => fraction,
            _ => 0.0,
        };
        run.load = Some(load::run(&p.latency, slower, duration_s, rng));
    }
    run
}
