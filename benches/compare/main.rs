//! Labelled benchmark of `soakprof compare`: pairs of synthetic runs whose truth we know —
//! the same build twice (no change), or a candidate with a leak, a higher memory level or
//! slower responses added — judged by `analysis::compare` with the default limits, against
//! a naive judge, as Markdown tables.
//!
//! Run with `cargo bench --bench compare` (add `-- --quick` for a fast check). The runs,
//! the seeds and therefore the tables are deterministic: a change in a table is a change
//! in the analysis, not noise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use soakprof::analysis::compare::{CompareLimits, Judgement, Side, compare};
use soakprof::analysis::{AnalysisConfig, analyse};
use soakprof::runlog::RunData;

mod load;
mod output;
#[path = "../common/parallel.rs"]
mod parallel;
#[path = "../detect/rng.rs"]
mod rng;
mod shapes;

use output::{Acceptance, print_tables};
use rng::{Rng, seed_for};
use shapes::{Base, Change, PairParams};

/// The naive judges: final RSS, or merged p95, more than 10% above the baseline's.
const NAIVE_INCREASE: f64 = 0.10;
/// The acceptance horizon: 15 minutes of 1 Hz data.
pub const SHORT_S: u64 = 15 * 60;
/// The longer memory runs.
pub const LONG_S: u64 = 3600;
/// Latency within 2 minutes of load at 200 req/s.
pub const LOAD_SHORT_S: u64 = 120;

/// Pairs per cell: more where they are cheap (runs up to 15 min) and where a rate is
/// read (no change: false regressions); an hour-long pair costs about 10× a 15-minute one.
fn pairs(change: Change, length_s: u64, quick: bool) -> u64 {
    match (quick, change == Change::None, length_s <= SHORT_S) {
        (true, _, _) => 3,
        (false, true, true) => 50,
        (false, true, false) => 20,
        (false, false, true) => 20,
        (false, false, false) => 10,
    }
}

/// One row of the tables: a base shape and what the candidate adds, at several lengths.
pub struct Case {
    /// The base shape's name; the pair's seeds come from it (not from the change), so a
    /// regression pair's baseline is the no-change pair's baseline of the same index.
    pub shape: &'static str,
    pub base: Base,
    pub change: Change,
    pub lengths_s: Vec<u64>,
}

impl Case {
    pub fn change_name(&self) -> String {
        match self.change {
            Change::None => "no change".into(),
            Change::Leak { mb_per_min } => format!("leak +{mb_per_min} MB/min"),
            Change::Steady { fraction } => format!("steady memory +{:.0}%", fraction * 100.0),
            Change::Latency { fraction } => format!("latency +{:.0}% (p95)", fraction * 100.0),
        }
    }

    /// The item that must regress.
    pub fn right_item(&self) -> Option<&'static str> {
        match self.change {
            Change::None => None,
            Change::Leak { .. } => Some("memory.growth"),
            Change::Steady { .. } => Some("memory.steady"),
            Change::Latency { .. } => Some("load.p95"),
        }
    }

    /// Items that follow from the change (a leak raises the level and the peak, a higher
    /// level the peak; slower responses move every percentile); any other item regressing
    /// is wrong.
    pub fn consequent(&self, id: &str) -> bool {
        match self.change {
            Change::None => false,
            Change::Leak { .. } => id.starts_with("memory."),
            Change::Steady { .. } => matches!(id, "memory.steady" | "memory.peak"),
            Change::Latency { .. } => matches!(id, "load.p50" | "load.p95" | "load.p99"),
        }
    }

    /// The change against its default limit: "above", "at" or "below".
    pub fn against_limit(&self) -> &'static str {
        let limits = CompareLimits::default();
        let (size, limit) = match self.change {
            Change::None => return "",
            Change::Leak { mb_per_min } => (
                mb_per_min * shapes::MB,
                limits.max_growth_increase_bytes_per_min,
            ),
            Change::Steady { fraction } => (fraction, limits.max_memory_increase),
            Change::Latency { fraction } => (fraction, limits.max_p95_increase),
        };
        match size.partial_cmp(&limit) {
            Some(std::cmp::Ordering::Greater) => "above",
            Some(std::cmp::Ordering::Equal) => "at",
            _ => "below",
        }
    }
}

fn cases(quick: bool) -> Vec<Case> {
    let memory_lengths = if quick {
        vec![SHORT_S]
    } else {
        vec![SHORT_S, LONG_S]
    };
    let load_lengths = if quick {
        vec![LOAD_SHORT_S, SHORT_S]
    } else {
        vec![LOAD_SHORT_S, SHORT_S, LONG_S]
    };
    let memory_shapes: [(&'static str, Base); 5] = [
        ("white noise, sd 5 MB", Base::White),
        ("AR(1) φ=0.9, sd 5 MB", Base::Ar1 { phi: 0.9 }),
        ("AR(1) φ=0.99, sd 5 MB", Base::Ar1 { phi: 0.99 }),
        ("GC sawtooth", Base::Sawtooth),
        ("warm-up then plateau", Base::Warmup),
    ];
    let load_shape = "flat, load 200 req/s";
    let mut cases = Vec::new();
    for (shape, base) in memory_shapes {
        cases.push(Case {
            shape,
            base,
            change: Change::None,
            lengths_s: memory_lengths.clone(),
        });
    }
    cases.push(Case {
        shape: load_shape,
        base: Base::FlatLoad,
        change: Change::None,
        lengths_s: load_lengths.clone(),
    });
    let memory_changes = [
        Change::Leak { mb_per_min: 2.0 },
        Change::Leak { mb_per_min: 5.0 },
        Change::Leak { mb_per_min: 20.0 },
        Change::Steady { fraction: 0.05 },
        Change::Steady { fraction: 0.20 },
        Change::Steady { fraction: 0.50 },
    ];
    for change in memory_changes {
        for (shape, base) in memory_shapes {
            cases.push(Case {
                shape,
                base,
                change,
                lengths_s: memory_lengths.clone(),
            });
        }
    }
    for fraction in [0.10, 0.30] {
        cases.push(Case {
            shape: load_shape,
            base: Base::FlatLoad,
            change: Change::Latency { fraction },
            lengths_s: load_lengths.clone(),
        });
    }
    cases
}

pub struct Job {
    pub case: usize,
    pub length_s: u64,
    pub pair: u64,
}

/// What one pair came to.
pub struct PairResult {
    /// Regressed items: id and reason.
    pub regressed: Vec<(String, String)>,
    /// The right item's judgement and reason (regression pairs).
    pub right: Option<(Judgement, String)>,
    pub naive_memory: bool,
    /// `None` without load.
    pub naive_p95: Option<bool>,
    /// `analyse` of both runs, and `compare`.
    pub analyse_time: Duration,
    pub compare_time: Duration,
}

fn final_rss(run: &RunData) -> Option<f64> {
    run.columns
        .points(soakprof::columns::Metric::Rss)
        .last()
        .map(|(_, v)| v)
}

fn over(baseline: Option<f64>, candidate: Option<f64>) -> Option<bool> {
    match (baseline, candidate) {
        (Some(b), Some(c)) => Some(c - b > NAIVE_INCREASE * b),
        _ => None,
    }
}

fn run_pair(job: &Job, cases: &[Case]) -> PairResult {
    let case = &cases[job.case];
    let mut pair_rng = Rng::new(seed_for(case.shape, job.length_s, job.pair));
    let params = PairParams::draw(&mut pair_rng);
    let (seed_a, seed_b) = (pair_rng.next_u64(), pair_rng.next_u64());
    let baseline = shapes::run(
        case.base,
        Change::None,
        &params,
        job.length_s,
        &mut Rng::new(seed_a),
    );
    let candidate = shapes::run(
        case.base,
        case.change,
        &params,
        job.length_s,
        &mut Rng::new(seed_b),
    );
    let started = Instant::now();
    // As `compare` reads a side: analysed with the thresholds and limits it was recorded with.
    let verdict_of = |run: &RunData| {
        analyse(
            run,
            &AnalysisConfig {
                thresholds: run.header.thresholds.clone(),
                limits: run.header.limits.clone(),
            },
        )
    };
    let (bv, cv) = (verdict_of(&baseline), verdict_of(&candidate));
    let analyse_time = started.elapsed();
    let comparison = compare(
        &Side {
            dir: "baseline",
            run: &baseline,
            verdict: &bv,
        },
        &Side {
            dir: "candidate",
            run: &candidate,
            verdict: &cv,
        },
        &CompareLimits::default(),
    );
    let compare_time = started.elapsed() - analyse_time;
    let regressed = comparison
        .regressions()
        .map(|i| (i.id.clone(), i.reason.clone()))
        .collect();
    let right = case.right_item().and_then(|id| {
        comparison
            .items
            .iter()
            .find(|i| i.id == id)
            .map(|i| (i.judgement, i.reason.clone()))
    });
    let p95 = |v: &soakprof::analysis::RunVerdict| v.load.as_ref().and_then(|l| l.latency_ms.p95);
    PairResult {
        regressed,
        right,
        naive_memory: over(final_rss(&baseline), final_rss(&candidate)).unwrap_or(false),
        naive_p95: case
            .base
            .has_load()
            .then(|| over(p95(&bv), p95(&cv)).unwrap_or(false)),
        analyse_time,
        compare_time,
    }
}

fn main() {
    // cargo passes `--bench`; only `--quick` means anything here.
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let cases = cases(quick);
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        for &length_s in &case.lengths_s {
            for pair in 0..pairs(case.change, length_s, quick) {
                jobs.push(Job {
                    case: c,
                    length_s,
                    pair,
                });
            }
        }
    }
    let results = parallel::run_parallel(&jobs, |job| run_pair(job, &cases));
    let mut cells: BTreeMap<(usize, u64), Vec<&PairResult>> = BTreeMap::new();
    for (job, r) in jobs.iter().zip(&results) {
        cells.entry((job.case, job.length_s)).or_default().push(r);
    }
    let acceptance: Acceptance = print_tables(&cases, &cells, quick);
    let analyse_time: Duration = results.iter().map(|r| r.analyse_time).sum();
    let compare_time: Duration = results.iter().map(|r| r.compare_time).sum();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_pair = |d: Duration| d.as_secs_f64() * 1e3 / results.len().max(1) as f64;
    println!(
        "Runtime: {:.1} s wall for {} pairs on {workers} thread(s); summed over the threads, \
         `analyse` of both runs {:.1} s ({:.1} ms per pair), `compare` {:.1} s ({:.1} ms per \
         pair); the rest is making the runs.",
        started.elapsed().as_secs_f64(),
        results.len(),
        analyse_time.as_secs_f64(),
        per_pair(analyse_time),
        compare_time.as_secs_f64(),
        per_pair(compare_time),
    );
    if !acceptance.all_met() {
        println!();
        println!("**Acceptance missed** (see above).");
    }
}
