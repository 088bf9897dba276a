//! CPU and load compared: mean and p95 cores by blocks of samples, CPU seconds per request
//! by blocks of load intervals, latency percentiles from the merged histograms with a
//! Mann–Whitney test over the per-interval percentiles, the error rate by two proportions,
//! throughput by its per-interval rates.

use super::Side;
use super::judge::{ItemSpec, Tested, Worse, judged, not_compared};
use super::memory::relative_item_floored;
use super::stats::{self, Change};
use super::types::{CompareLimits, ComparedItem, LimitKind};
use crate::analysis::load::{format_ms, format_percent, format_rps};
use crate::analysis::stats::quantile_of;
use crate::columns::Metric;
use crate::runlog::load::{LatencyMs, LoadInterval};
use crate::units::three_figures;

/// Seeds of the bootstraps, one per item, so a comparison is reproducible.
const SEED_P50: u64 = 0x50;
const SEED_P95: u64 = 0x95;
const SEED_P99: u64 = 0x99;
const SEED_RPS: u64 = 0x7275;

fn cpu_series(side: &Side) -> Vec<f64> {
    side.run
        .columns
        .points(Metric::Cpu)
        .map(|(_, c)| c)
        .collect()
}

fn p95(v: &[f64]) -> Option<f64> {
    quantile_of(|| v.iter().copied(), 0.95)
}

/// `cpu.mean` and `cpu.p95`.
pub fn cpu_items(baseline: &Side, candidate: &Side, limits: &CompareLimits) -> Vec<ComparedItem> {
    let cores = |v: f64| format!("{} cores", three_figures(v));
    let floor = || {
        Some((
            limits.min_cpu_change_cores,
            format!("{} cores", three_figures(limits.min_cpu_change_cores)),
        ))
    };
    let mean_spec = ItemSpec {
        id: "cpu.mean",
        label: "mean CPU".to_string(),
        unit: "cores",
        format: &cores,
        worse: Worse::Higher,
    };
    let p95_spec = ItemSpec {
        id: "cpu.p95",
        label: "p95 CPU".to_string(),
        unit: "cores",
        format: &cores,
        worse: Worse::Higher,
    };
    let (b, c) = (cpu_series(baseline), cpu_series(candidate));
    if b.is_empty() || c.is_empty() {
        let who = if b.is_empty() {
            "the baseline"
        } else {
            "the candidate"
        };
        let why = format!("CPU was not read in {who}");
        return vec![
            not_compared(&mean_spec, None, None, &why),
            not_compared(&p95_spec, None, None, &why),
        ];
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mean_item = relative_item_floored(
        &mean_spec,
        (mean(&b), mean(&c)),
        stats::welch_relative(&stats::block_means(&b), &stats::block_means(&c)),
        limits.max_cpu_increase,
        None,
        floor(),
    );
    let block_p95 = |v: &[f64]| -> Vec<f64> {
        stats::blocks(v, stats::block_count(v))
            .filter_map(p95)
            .collect()
    };
    let (bp, cp) = (p95(&b).unwrap_or(0.0), p95(&c).unwrap_or(0.0));
    let test = stats::welch_relative(&block_p95(&b), &block_p95(&c))
        .filter(|_| bp > 0.0)
        .map(|t| Change {
            estimate: cp / bp - 1.0,
            ..t
        });
    let p95_item = relative_item_floored(
        &p95_spec,
        (bp, cp),
        test,
        limits.max_cpu_increase,
        Some("block 95th percentiles"),
        floor(),
    );
    vec![mean_item, p95_item]
}

/// CPU seconds and requests of each load interval that had both: the interval's mean
/// cores (samples within it) times its length.
fn cpu_per_interval(side: &Side, load: &[LoadInterval]) -> Vec<(f64, f64)> {
    let points: Vec<(f64, f64)> = side.run.columns.points(Metric::Cpu).collect();
    let mut out = Vec::with_capacity(load.len());
    let mut k = 0;
    for interval in load.iter().filter(|i| i.requests > 0 && i.dt_s > 0.0) {
        let from = interval.t - interval.dt_s;
        while k < points.len() && points[k].0 <= from {
            k += 1;
        }
        let inside: Vec<f64> = points[k..]
            .iter()
            .take_while(|(t, _)| *t <= interval.t)
            .map(|(_, c)| *c)
            .collect();
        if !inside.is_empty() {
            let cores = inside.iter().sum::<f64>() / inside.len() as f64;
            out.push((cores * interval.dt_s, interval.requests as f64));
        }
    }
    out
}

/// `cpu.seconds_per_request`, when both runs had load and CPU.
pub fn cpu_per_request(baseline: &Side, candidate: &Side, limits: &CompareLimits) -> ComparedItem {
    let format = |v: f64| format!("{} ms CPU", three_figures(v * 1000.0));
    let spec = ItemSpec {
        id: "cpu.seconds_per_request",
        label: "CPU per request".to_string(),
        unit: "cpu_s/request",
        format: &format,
        worse: Worse::Higher,
    };
    let series = |side: &Side| {
        side.run
            .load
            .as_ref()
            .map(|l| cpu_per_interval(side, &l.intervals))
            .unwrap_or_default()
    };
    let (b, c) = (series(baseline), series(candidate));
    let per_request = |v: &[(f64, f64)]| {
        let (cpu, requests) = v.iter().fold((0.0, 0.0), |(a, r), (x, n)| (a + x, r + n));
        (requests > 0.0).then(|| cpu / requests)
    };
    let (Some(bv), Some(cv)) = (per_request(&b), per_request(&c)) else {
        return not_compared(
            &spec,
            per_request(&b),
            per_request(&c),
            "CPU was not read during the load intervals of a run",
        );
    };
    // Blocks of intervals: the ratio of sums in each block.
    let block_values = |v: &[(f64, f64)]| -> Vec<f64> {
        let rates: Vec<f64> = v.iter().map(|(x, n)| x / n).collect();
        stats::blocks(v, stats::block_count(&rates))
            .filter_map(per_request)
            .collect()
    };
    // A change per request that costs less than the CPU floor at the candidate's rate
    // does not count either.
    let floor = candidate
        .verdict
        .load
        .as_ref()
        .and_then(|l| l.rps)
        .filter(|rps| *rps > 0.0)
        .map(|rps| {
            (
                limits.min_cpu_change_cores / rps,
                format!(
                    "{} ({} cores at {} req/s)",
                    format(limits.min_cpu_change_cores / rps),
                    three_figures(limits.min_cpu_change_cores),
                    format_rps(rps)
                ),
            )
        });
    relative_item_floored(
        &spec,
        (bv, cv),
        stats::welch_relative(&block_values(&b), &block_values(&c)),
        limits.max_cpu_increase,
        None,
        floor,
    )
}

/// A per-interval figure of the load log, where it was measured.
fn per_interval(side: &Side, f: impl Fn(&LoadInterval) -> Option<f64>) -> Vec<f64> {
    side.run
        .load
        .as_ref()
        .map(|l| l.intervals.iter().filter_map(f).collect())
        .unwrap_or_default()
}

/// A load item tested by Mann–Whitney over the per-interval figures, with a bootstrap
/// interval of the ratio of their medians; the estimate is the whole-run figure's change.
#[allow(clippy::too_many_arguments)]
fn interval_item(
    spec: &ItemSpec,
    (baseline, candidate): (Option<f64>, Option<f64>),
    (b, c): (Vec<f64>, Vec<f64>),
    limit: f64,
    floor: Option<(f64, String)>,
    ci_of: &'static str,
    seed: u64,
) -> ComparedItem {
    let (Some(bv), Some(cv)) = (baseline, candidate) else {
        let who = if baseline.is_none() {
            "the baseline"
        } else {
            "the candidate"
        };
        return not_compared(spec, baseline, candidate, &format!("{who} measured none"));
    };
    let tested = match (
        stats::mann_whitney_p(&b, &c),
        stats::bootstrap_median_ratio(&b, &c, seed),
    ) {
        (Some(p_value), Some(ci)) if bv > 0.0 => Tested {
            change: Change {
                estimate: cv / bv - 1.0,
                ci,
                p_value,
            },
            // Both the rank test and the interval must agree.
            significant: p_value < stats::ALPHA && (ci[0] > 0.0 || ci[1] < 0.0),
            limit,
            limit_kind: LimitKind::Relative,
            floor,
            ci_of: Some(ci_of),
        },
        _ => {
            return not_compared(
                spec,
                baseline,
                candidate,
                "no per-interval figures to test on a side, or a zero baseline",
            );
        }
    };
    judged(spec, bv, cv, &tested, None)
}

/// Latency percentiles, error rate and throughput, when both runs had load.
pub fn load_items(baseline: &Side, candidate: &Side, limits: &CompareLimits) -> Vec<ComparedItem> {
    let (Some(bl), Some(cl)) = (&baseline.verdict.load, &candidate.verdict.load) else {
        return Vec::new();
    };
    let ms = |v: f64| format!("{} ms", format_ms(v));
    let floor = || {
        Some((
            limits.min_latency_change_ms,
            format!("{} ms", format_ms(limits.min_latency_change_ms)),
        ))
    };
    type Pick = fn(&LatencyMs) -> Option<f64>;
    let percentiles: [(&str, &str, Pick, &'static str, u64); 3] = [
        (
            "load.p50",
            "p50 latency",
            |l| l.p50,
            "per-interval p50 medians",
            SEED_P50,
        ),
        (
            "load.p95",
            "p95 latency",
            |l| l.p95,
            "per-interval p95 medians",
            SEED_P95,
        ),
        (
            "load.p99",
            "p99 latency",
            |l| l.p99,
            "per-interval p99 medians",
            SEED_P99,
        ),
    ];
    let mut items = Vec::new();
    for (id, label, pick, ci_of, seed) in percentiles {
        let spec = ItemSpec {
            id,
            label: label.to_string(),
            unit: "ms",
            format: &ms,
            worse: Worse::Higher,
        };
        items.push(interval_item(
            &spec,
            (pick(&bl.latency_ms), pick(&cl.latency_ms)),
            (
                per_interval(baseline, |i| pick(&i.latency_ms)),
                per_interval(candidate, |i| pick(&i.latency_ms)),
            ),
            limits.max_p95_increase,
            floor(),
            ci_of,
            seed,
        ));
    }
    items.push(error_rate(bl, cl, limits));
    let rps = |v: f64| format!("{} req/s", format_rps(v));
    let spec = ItemSpec {
        id: "load.throughput",
        label: "throughput".to_string(),
        unit: "rps",
        format: &rps,
        worse: Worse::Lower,
    };
    let rates = |side: &Side| per_interval(side, |i| (i.dt_s > 0.0).then_some(i.rps));
    items.push(interval_item(
        &spec,
        (bl.rps, cl.rps),
        (rates(baseline), rates(candidate)),
        limits.max_throughput_decrease,
        None,
        "per-interval rate medians",
        SEED_RPS,
    ));
    items
}

fn error_rate(
    bl: &crate::analysis::LoadSummary,
    cl: &crate::analysis::LoadSummary,
    limits: &CompareLimits,
) -> ComparedItem {
    let format = |v: f64| format_percent(v);
    let spec = ItemSpec {
        id: "load.error_rate",
        label: "error rate".to_string(),
        unit: "fraction",
        format: &format,
        worse: Worse::Higher,
    };
    let (Some(bv), Some(cv), Some(change)) = (
        bl.error_rate,
        cl.error_rate,
        stats::two_proportion(bl.errors, bl.requests, cl.errors, cl.requests),
    ) else {
        return not_compared(
            &spec,
            bl.error_rate,
            cl.error_rate,
            "a run made no requests",
        );
    };
    let tested = Tested {
        change,
        significant: change.p_value < stats::ALPHA,
        limit: limits.max_error_rate_increase,
        limit_kind: LimitKind::Absolute,
        floor: None,
        ci_of: None,
    };
    judged(&spec, bv, cv, &tested, None)
}
