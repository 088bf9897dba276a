//! Comparison of two runs (`soakprof compare`, `--baseline`): the candidate against a
//! baseline, item by item, on the same analysis core that judges one run (the prepared
//! series' slopes and their autocorrelation-corrected intervals, the warm-up it found).
//! Pure: runs already read and analysed in, a [`Comparison`] out.

mod judge;
pub use judge::signed_percent;
mod memory;
pub mod stats;
mod types;
mod usage;

pub use types::{
    COMPARE_SCHEMA_VERSION, CompareLimits, CompareVerdict, ComparedItem, Comparison, Judgement,
    LimitKind, RunRef,
};

use crate::analysis::{JudgedMemory, MetricKind, MetricTrend, RunVerdict, Verdict};
use crate::runlog::RunData;
use crate::runlog::load::LoadStart;
use crate::units::format_duration_s;

/// Runs whose sampling interval or duration differ by more than this factor are said not
/// to be comparable.
pub const COMPARABLE_FACTOR: f64 = 2.0;

/// One run of a comparison: where it is, what was read of it, and its own verdict.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub dir: &'a str,
    pub run: &'a RunData,
    pub verdict: &'a RunVerdict,
}

impl Side<'_> {
    fn run_ref(&self) -> RunRef {
        RunRef {
            dir: self.dir.to_string(),
            target: self.run.header.target.clone(),
            started_at: self.run.header.started_at.clone(),
            duration_s: self.verdict.duration_s,
        }
    }
}

fn factor(a: f64, b: f64) -> f64 {
    if a <= 0.0 || b <= 0.0 {
        return f64::INFINITY;
    }
    (a / b).max(b / a)
}

/// What a load start record says of the load's level and profile, for comparing.
fn load_profile(start: &LoadStart) -> String {
    let stages: Vec<String> = start
        .stages
        .iter()
        .map(|s| format!("{} for {}", s.target, format_duration_s(s.duration_s)))
        .collect();
    let requests: Vec<String> = start
        .requests
        .iter()
        .map(|r| format!("{} {} ×{}", r.method, r.name, r.weight))
        .collect();
    format!(
        "{} {} model, stages [{}], requests [{}]",
        start.driver,
        start.model.as_deref().unwrap_or("external"),
        stages.join(", "),
        requests.join(", ")
    )
}

/// Lines saying what makes the runs less comparable (empty when nothing does).
fn comparability(baseline: &Side, candidate: &Side) -> Vec<String> {
    let mut notes = Vec::new();
    let (bi, ci) = (
        baseline.run.header.interval_s,
        candidate.run.header.interval_s,
    );
    if factor(bi, ci) > COMPARABLE_FACTOR {
        notes.push(format!(
            "sampling intervals differ more than {COMPARABLE_FACTOR}×: baseline {}, candidate {}",
            format_duration_s(bi),
            format_duration_s(ci)
        ));
    }
    let (bd, cd) = (baseline.verdict.duration_s, candidate.verdict.duration_s);
    if factor(bd, cd) > COMPARABLE_FACTOR {
        notes.push(format!(
            "durations differ more than {COMPARABLE_FACTOR}×: baseline {}, candidate {}",
            format_duration_s(bd),
            format_duration_s(cd)
        ));
    }
    match (&baseline.run.load, &candidate.run.load) {
        (Some(_), None) => notes.push(
            "only the baseline ran load: latency, errors, throughput and CPU per request are not compared".into(),
        ),
        (None, Some(_)) => notes.push(
            "only the candidate ran load: latency, errors, throughput and CPU per request are not compared".into(),
        ),
        (Some(b), Some(c)) => {
            if let (Some(bs), Some(cs)) = (&b.start, &c.start) {
                let (bp, cp) = (load_profile(bs), load_profile(cs));
                if bp != cp {
                    notes.push(format!(
                        "the load differs: baseline {bp}; candidate {cp}"
                    ));
                }
            }
        }
        (None, None) => {}
    }
    notes
}

/// A side's fitted trend of one metric.
fn trend_of<'a>(side: &Side<'a>, kind: MetricKind) -> Option<&'a MetricTrend> {
    side.verdict.metrics.of(kind)
}

/// Compare a candidate run with a baseline.
pub fn compare(baseline: &Side, candidate: &Side, limits: &CompareLimits) -> Comparison {
    let mut notes = comparability(baseline, candidate);
    let comparable = notes.is_empty();
    let (bm, cm) = (
        baseline.verdict.capacity.judged_memory,
        candidate.verdict.capacity.judged_memory,
    );
    // Both sides are judged on the same memory; RSS when they chose differently.
    let memory = if bm == cm {
        bm
    } else {
        notes.push(format!(
            "the runs judge different memory (baseline {}, candidate {}): RSS is compared",
            bm.kind().label(),
            cm.kind().label()
        ));
        JudgedMemory::Rss
    };
    let th = &candidate.verdict.thresholds;
    let growth = |id, kind, limit_per_min, fail_per_min| {
        memory::growth(&memory::Growth {
            id,
            kind,
            baseline: trend_of(baseline, kind),
            candidate: trend_of(candidate, kind),
            limit_per_min,
            fail_per_min,
        })
    };
    let mut items = vec![growth(
        "memory.growth",
        memory.kind(),
        limits.max_growth_increase_bytes_per_min,
        Some(th.max_growth_bytes_per_min),
    )];
    items.extend(memory::level_and_peak(baseline, candidate, memory, limits));
    // Threads and FDs regress beyond their own fail thresholds (10/h by default).
    items.push(growth(
        "threads.growth",
        MetricKind::Threads,
        th.max_thread_growth_per_min,
        Some(th.max_thread_growth_per_min),
    ));
    items.push(growth(
        "fds.growth",
        MetricKind::Fds,
        th.max_fd_growth_per_min,
        Some(th.max_fd_growth_per_min),
    ));
    items.extend(usage::cpu_items(baseline, candidate, limits));
    if baseline.run.load.is_some() && candidate.run.load.is_some() {
        items.push(usage::cpu_per_request(baseline, candidate, limits));
        items.extend(usage::load_items(baseline, candidate, limits));
    }
    let any = |j| items.iter().any(|i: &ComparedItem| i.judgement == j);
    let verdict = if any(Judgement::Regressed) {
        CompareVerdict::Regressed
    } else if any(Judgement::Improved) {
        CompareVerdict::Improved
    } else {
        CompareVerdict::Unchanged
    };
    Comparison {
        schema_version: COMPARE_SCHEMA_VERSION,
        verdict,
        notes,
        comparable,
        baseline: baseline.run_ref(),
        candidate: candidate.run_ref(),
        limits: limits.clone(),
        items,
    }
}

/// Join a comparison to the candidate's verdict (`--baseline`): each regression is a
/// reason, and fails the run.
pub fn join_verdict(verdict: &mut RunVerdict, comparison: Comparison) {
    for item in comparison.regressions() {
        verdict.reasons.push(format!("baseline: {}", item.reason));
        verdict.verdict = Verdict::Fail;
    }
    verdict.baseline = Some(comparison);
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stats;
