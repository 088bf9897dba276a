//! `--fail-fast`: stop a run early once a fail verdict is certain, without the false alarms
//! that looking at the data again and again would add.
//!
//! Alpha spending: look k (k = 1, 2, ...) tests "growth above the fail threshold" at level
//! α_k = α · 6 / (π² k²). The α_k sum to α over any number of looks (Σ 1/k² = π²/6), so by
//! the union bound the chance of ever stopping a run whose true growth is at or below the
//! threshold is at most α, however long the run and however often it looks. Looks are
//! spaced geometrically in the sample count, so a day-long run looks about 30 times and
//! late looks still have a usable level.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use super::{
    JudgedMemory, MetricKind, Verdict, Warmup, fit_linear, judge_trend_judging, prepare_series,
};
use crate::columns::Columns;
use crate::runlog::Thresholds;
use crate::units::format_duration_s;

/// Total false-alarm rate of `--fail-fast` over all its looks, for series that follow the
/// trend model. Measured on the detection bench: 1 false stop in 270 no-leak runs (0.4%),
/// the rising edge of a GC sawtooth's first cycle at the first look past the earliest stop.
pub const FAIL_FAST_ALPHA: f64 = 0.01;
/// `--fail-fast` never stops before this share of `--duration` (or `EARLIEST_STOP_NO_DURATION_S`
/// without one). The α bound holds for series that follow the trend model; the start of a
/// run is where they don't (a cache still filling, a pool still growing, the rising edge of
/// the first GC cycle all look like a leak), so early data must not stop a run alone.
pub const EARLIEST_STOP_SHARE: f64 = 0.1;
pub const EARLIEST_STOP_NO_DURATION_S: f64 = 300.0;

/// A count (threads, FDs) grows in whole steps; at its fail threshold one step takes
/// 1 / threshold. `--fail-fast` never stops on a count before its data span this many steps'
/// worth at the threshold: over a shorter span the "rate" is a handful of steps, which a
/// start-up burst (a pool or connection set being filled) gives just as well as a leak.
pub const COUNT_MIN_SPAN_STEPS: f64 = 1.5;

/// The earliest time (seconds of data) at which `--fail-fast` may stop a run.
pub fn earliest_stop_s(duration_s: Option<f64>) -> f64 {
    duration_s.map_or(EARLIEST_STOP_NO_DURATION_S, |d| d * EARLIEST_STOP_SHARE)
}

/// First look after this many samples; then each look at `LOOK_GROWTH` × the previous.
pub const FIRST_LOOK_SAMPLES: u64 = 30;
pub const LOOK_GROWTH: f64 = 1.25;

/// The warm-up setting the thresholds carry (`--warmup`).
pub fn warmup_setting(thresholds: &Thresholds) -> Warmup {
    thresholds.warmup_s.map_or(Warmup::Auto, Warmup::Fixed)
}

/// When to look next, and how many looks there have been.
#[derive(Clone, Debug)]
pub struct LookSchedule {
    pub looks: u32,
    next_at: u64,
}

impl Default for LookSchedule {
    fn default() -> Self {
        LookSchedule {
            looks: 0,
            next_at: FIRST_LOOK_SAMPLES,
        }
    }
}

impl LookSchedule {
    /// True (and the look is counted) when `samples` reached the next look.
    pub fn due(&mut self, samples: u64) -> bool {
        if samples < self.next_at {
            return false;
        }
        self.looks += 1;
        self.next_at = ((samples as f64 * LOOK_GROWTH).ceil() as u64).max(samples + 1);
        true
    }
}

/// The level spent at look `k` (1-based).
pub fn alpha_at_look(alpha: f64, k: u32) -> f64 {
    let k = f64::from(k.max(1));
    alpha * 6.0 / (std::f64::consts::PI.powi(2) * k * k)
}

/// Look `k`: is growth above the fail threshold certain for any judged metric? Returns the
/// reason when it is. Two conditions, both needed: the full verdict rules (trend test,
/// enough independent data and GC cycles, warm-up and onset handling) fail the data so
/// far, and a one-sided test on the prepared series' regression slope, with the
/// autocorrelation-corrected standard error, rejects "growth ≤ threshold" at level
/// `alpha_at_look(alpha, k)`. Nothing stops before `earliest_s` seconds of data.
pub fn certain_fail(
    columns: &Columns,
    thresholds: &Thresholds,
    warmup: Warmup,
    k: u32,
    alpha: f64,
    earliest_s: f64,
) -> Option<String> {
    // The memory the verdict judges: PSS, not summed RSS, when there are several processes.
    let memory = super::memory::memory_basis(columns).metric;
    certain_fail_judging(columns, memory, thresholds, warmup, k, alpha, earliest_s)
}

/// [`certain_fail`] of a whole run as its log holds it: an OOM kill in its cgroup is a
/// certain fail at once; a cgroup target's growth is judged on its anon memory.
pub fn certain_fail_of_run(
    run: &crate::runlog::RunData,
    thresholds: &Thresholds,
    warmup: Warmup,
    k: u32,
    alpha: f64,
    earliest_s: f64,
) -> Option<String> {
    if let Some(reason) =
        super::cgroup::oom_kill_reason(&run.columns, &run.events, &run.header.limits)
    {
        return Some(reason);
    }
    let cgroup_target = run
        .header
        .target
        .cgroup
        .as_ref()
        .is_some_and(|c| c.is_target);
    let memory = super::memory::memory_basis_for(&run.columns, cgroup_target).metric;
    certain_fail_judging(
        &run.columns,
        memory,
        thresholds,
        warmup,
        k,
        alpha,
        earliest_s,
    )
}

/// [`certain_fail`] with the judged memory given.
fn certain_fail_judging(
    columns: &Columns,
    memory: JudgedMemory,
    thresholds: &Thresholds,
    warmup: Warmup,
    k: u32,
    alpha: f64,
    earliest_s: f64,
) -> Option<String> {
    let span_s = columns.t().last()? - columns.t().first()?;
    if span_s < earliest_s {
        return None;
    }
    let level = alpha_at_look(alpha, k);
    let metrics = [
        (memory.kind(), thresholds.max_growth_bytes_per_min),
        (MetricKind::Uss, thresholds.max_growth_bytes_per_min),
        (MetricKind::Threads, thresholds.max_thread_growth_per_min),
        (MetricKind::Fds, thresholds.max_fd_growth_per_min),
    ];
    for (kind, fail_per_min) in metrics {
        let Some((t, y)) = super::metric_series(columns, kind.column()) else {
            continue;
        };
        let t = &t[..];
        let count = matches!(kind, MetricKind::Threads | MetricKind::Fds);
        if count && span_s * fail_per_min / 60.0 < COUNT_MIN_SPAN_STEPS {
            continue;
        }
        if t.len() < super::MIN_SAMPLES_FOR_TREND {
            continue;
        }
        let judged = judge_trend_judging(t, y, kind, thresholds, warmup, memory);
        if judged.is_none_or(|j| j.trend.verdict != Verdict::Fail) {
            continue;
        }
        let prepared = prepare_series(t, y, warmup);
        if prepared.t.len() < super::MIN_ENVELOPE_POINTS {
            continue;
        }
        let span_s = prepared.t[prepared.t.len() - 1] - prepared.t[0];
        let Some(lower) = slope_lower_bound(&prepared.t, &prepared.y, level) else {
            continue;
        };
        if lower.slope_per_s * span_s < kind.min_total_growth() {
            continue;
        }
        if !persists(&prepared.t, &prepared.y, level, fail_per_min)
            || decelerates(&prepared.t, &prepared.y)
        {
            continue;
        }
        let lower = lower.lower_per_s;
        if lower * 60.0 > fail_per_min {
            return Some(format!(
                "{} growth of at least {} is certain after {} (look {k}, one-sided level {level:.1e} \
                 of the {:.0}% spent over all looks)",
                kind.label(),
                kind.format_rate(lower * 60.0),
                format_duration_s(t[t.len() - 1] - t[0]),
                alpha * 100.0
            ));
        }
    }
    None
}

/// A fitted slope and its one-sided lower confidence bound (per second).
struct SlopeBound {
    slope_per_s: f64,
    lower_per_s: f64,
}

/// The slope of `y` on `t` and its lower bound at one-sided `level`, with the
/// autocorrelation-corrected standard error of [`fit_linear`].
fn slope_lower_bound(t: &[f64], y: &[f64], level: f64) -> Option<SlopeBound> {
    let fit = SlopeSe::of(t, y)?;
    let lower = fit.slope_per_s - fit.dist.inverse_cdf(1.0 - level) * fit.se_per_s;
    lower.is_finite().then_some(SlopeBound {
        slope_per_s: fit.slope_per_s,
        lower_per_s: lower,
    })
}

/// A fitted slope, its autocorrelation-corrected standard error and the t distribution of
/// its effective degrees of freedom.
struct SlopeSe {
    slope_per_s: f64,
    se_per_s: f64,
    dist: StudentsT,
}

impl SlopeSe {
    fn of(t: &[f64], y: &[f64]) -> Option<SlopeSe> {
        let fit = fit_linear(t, y)?;
        let dof = (fit.n_eff - 2.0).max(1.0);
        let dist = StudentsT::new(0.0, 1.0, dof).ok()?;
        // The 95% half-width gives the standard error back: se = half / t(0.975, dof).
        let se = (fit.slope_ci_per_s[1] - fit.slope_per_s) / dist.inverse_cdf(0.975);
        se.is_finite().then_some(SlopeSe {
            slope_per_s: fit.slope_per_s,
            se_per_s: se,
            dist,
        })
    }
}

/// Persistence: the most recent half of the prepared (after warm-up, after onset) span must
/// on its own show growth certainly above the threshold at the same level. A start-up ramp
/// that has levelled off (a pool that stopped adding threads, a cache that filled) still
/// has a steep fit over the whole span, but its recent half does not grow; a leak keeps
/// growing in any part of its span. Requiring both tests only makes a stop rarer, so the
/// α bound is kept.
fn persists(t: &[f64], y: &[f64], level: f64, fail_per_min: f64) -> bool {
    let mid = (t[0] + t[t.len() - 1]) / 2.0;
    let from = t.partition_point(|&x| x < mid);
    if t.len() - from < super::MIN_ENVELOPE_POINTS {
        return false;
    }
    slope_lower_bound(&t[from..], &y[from..], level)
        .is_some_and(|b| b.lower_per_s * 60.0 > fail_per_min)
}

/// One-sided level of the deceleration veto ([`decelerates`]).
pub const DECELERATION_LEVEL: f64 = 0.05;
/// A difference between successive prepared points this many robust standard deviations
/// (1.4826 MAD) from the median difference is a jump (a step), not smooth growth.
pub const JUMP_SIGMAS: f64 = 6.0;

/// Deceleration veto: the recent half of the prepared span grows significantly slower than
/// the earlier half (each half's slope with its autocorrelation-corrected standard error,
/// the difference tested one-sided at [`DECELERATION_LEVEL`]). That is the signature of a
/// warm-up still settling (a cache filling as 1 − e^(−t/τ) with τ longer than the data so
/// far), which the warm-up detector cannot yet tell from a leak; a leak grows at the same
/// rate in both halves. The slowdown must also hold with the jumps taken out
/// ([`without_jumps`]): a step up (a heap doubling) early in the span, or a restart's drop,
/// is no slowing down of smooth growth. The veto
/// only ever withholds a stop, so the α bound is kept; on a steady leak it withholds about
/// a share `DECELERATION_LEVEL` of looks.
fn decelerates(t: &[f64], y: &[f64]) -> bool {
    halves_decelerate(t, y) && halves_decelerate(t, &without_jumps(y))
}

/// The test of [`decelerates`] on one series.
fn halves_decelerate(t: &[f64], y: &[f64]) -> bool {
    let mid = (t[0] + t[t.len() - 1]) / 2.0;
    let from = t.partition_point(|&x| x < mid);
    let half = |range: std::ops::Range<usize>| {
        (range.len() >= super::MIN_ENVELOPE_POINTS)
            .then(|| SlopeSe::of(&t[range.clone()], &y[range]))
            .flatten()
    };
    let (Some(early), Some(late)) = (half(0..from), half(from..t.len())) else {
        return false;
    };
    let se = early.se_per_s.hypot(late.se_per_s);
    let Ok(normal) = Normal::new(0.0, 1.0) else {
        return false;
    };
    se > 0.0
        && (early.slope_per_s - late.slope_per_s) / se
            > normal.inverse_cdf(1.0 - DECELERATION_LEVEL)
}

/// `y` with every jump between successive points (see [`JUMP_SIGMAS`]) replaced by the
/// median step: smooth growth kept, steps taken out.
fn without_jumps(y: &[f64]) -> Vec<f64> {
    let diffs: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let Some(median) = super::stats::median(&mut diffs.clone()) else {
        return y.to_vec();
    };
    let mut spread: Vec<f64> = diffs.iter().map(|d| (d - median).abs()).collect();
    let sigma = super::stats::median(&mut spread).unwrap_or(0.0) * 1.4826;
    let mut out = Vec::with_capacity(y.len());
    let mut level = y[0];
    out.push(level);
    for d in diffs {
        level += if (d - median).abs() > JUMP_SIGMAS * sigma {
            median
        } else {
            d
        };
        out.push(level);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use crate::synthetic::columns;

    #[test]
    fn spending_sums_to_alpha() {
        let total: f64 = (1..=100_000).map(|k| alpha_at_look(0.01, k)).sum();
        assert!(total < 0.01 && total > 0.0099, "{total}");
        assert!((alpha_at_look(0.01, 1) - 0.01 * 6.0 / std::f64::consts::PI.powi(2)).abs() < 1e-15);
    }

    #[test]
    fn looks_are_geometric() {
        let mut s = LookSchedule::default();
        let looks: Vec<u64> = (0..100_000).filter(|n| s.due(*n)).collect();
        assert_eq!(looks[0], FIRST_LOOK_SAMPLES);
        assert_eq!(looks[1], 38);
        // A day at 1 Hz: about 30 looks, not 86,400.
        assert!(looks.len() < 40, "{}", looks.len());
    }

    fn rss_series(n: usize, bytes_per_min: f64, wobble: f64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                t: i as f64,
                rss: Some(
                    (100e6 + bytes_per_min / 60.0 * i as f64 + ((i * 7919) % 13) as f64 * wobble)
                        as u64,
                ),
                ..Sample::default()
            })
            .collect()
    }

    #[test]
    fn a_clear_leak_is_certain_a_flat_run_and_a_threshold_leak_are_not() {
        let th = Thresholds::default();
        let leak = rss_series(300, 60e6, 50_000.0);
        let reason =
            certain_fail(&columns(&leak), &th, Warmup::Auto, 1, FAIL_FAST_ALPHA, 0.0).unwrap();
        assert!(reason.starts_with("RSS growth of at least"), "{reason}");
        assert!(
            certain_fail(
                &columns(&rss_series(300, 0.0, 50_000.0)),
                &th,
                Warmup::Auto,
                1,
                FAIL_FAST_ALPHA,
                0.0
            )
            .is_none()
        );
        // Growth right at the threshold is never "certainly above" it.
        let at = rss_series(600, 10e6, 200_000.0);
        assert!(certain_fail(&columns(&at), &th, Warmup::Auto, 3, FAIL_FAST_ALPHA, 0.0).is_none());
        // Nothing stops before the earliest time, however clear the leak.
        assert!(
            certain_fail(
                &columns(&leak),
                &th,
                Warmup::Auto,
                1,
                FAIL_FAST_ALPHA,
                600.0
            )
            .is_none()
        );
        assert_eq!(earliest_stop_s(Some(3600.0)), 360.0);
        assert_eq!(earliest_stop_s(None), EARLIEST_STOP_NO_DURATION_S);
    }

    #[test]
    fn a_cache_still_filling_is_not_stopped_at_its_start() {
        // The first 5 minutes of a cache filling to +300 MB with τ = 3 min: it grows far
        // faster than 10 MB/min the whole time, but it slows down, and the verdict rules see
        // a warm-up; a straight 60 MB/min leak over the same 5 minutes is stopped.
        let th = Thresholds::default();
        let filling: Vec<Sample> = (0..300)
            .map(|i| Sample {
                t: i as f64,
                rss: Some((200e6 + 300e6 * (1.0 - (-(i as f64) / 180.0).exp())) as u64),
                ..Sample::default()
            })
            .collect();
        let stopped = certain_fail(
            &columns(&filling),
            &th,
            Warmup::Auto,
            5,
            FAIL_FAST_ALPHA,
            0.0,
        );
        let leak = rss_series(300, 60e6, 50_000.0);
        assert!(
            certain_fail(&columns(&leak), &th, Warmup::Auto, 5, FAIL_FAST_ALPHA, 0.0).is_some()
        );
        assert_eq!(stopped, None);
    }

    #[test]
    fn a_slow_warm_up_at_its_steepest_is_not_stopped_a_leak_as_steep_is() {
        // The first 93 s of a cache filling to +300 MB with τ = 10 min grow at 30 → 26 MB/min,
        // nearly straight; only the slowing down between the two halves tells it from a
        // 28 MB/min leak, which is stopped at the same look.
        let th = Thresholds::default();
        let wobble = |i: usize| ((i * 7919) % 13) as f64 * 80_000.0;
        let filling: Vec<Sample> = (0..94)
            .map(|i| Sample {
                t: i as f64,
                rss: Some((200e6 + 300e6 * (1.0 - (-(i as f64) / 600.0).exp()) + wobble(i)) as u64),
                ..Sample::default()
            })
            .collect();
        let leak = rss_series(94, 28e6, 80_000.0);
        let at = |samples: &[Sample]| {
            certain_fail(
                &columns(samples),
                &th,
                Warmup::Auto,
                2,
                FAIL_FAST_ALPHA,
                90.0,
            )
        };
        assert!(at(&leak).is_some());
        assert_eq!(at(&filling), None);
    }

    #[test]
    fn a_step_up_then_a_leak_is_still_stopped() {
        // A heap doubling by +128 MB early in the span, then 30 MB/min: the first half rises
        // faster than the second only because of the step, which is no slowing down.
        let stepped: Vec<Sample> = rss_series(300, 30e6, 80_000.0)
            .into_iter()
            .map(|s| Sample {
                rss: s.rss.map(|b| b + if s.t >= 40.0 { 128_000_000 } else { 0 }),
                ..s
            })
            .collect();
        let c = columns(&stepped);
        let prepared = prepare_series(
            c.t(),
            c.int(MetricKind::Rss.column()).unwrap(),
            Warmup::Auto,
        );
        assert!(halves_decelerate(&prepared.t, &prepared.y));
        assert!(!decelerates(&prepared.t, &prepared.y));
    }

    fn thread_series(n: usize, level_at: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                t: i as f64,
                threads: Some(level_at(i as f64) as u64),
                ..Sample::default()
            })
            .collect()
    }

    /// Looks the recorder makes over `n` samples: `(look number, samples)`.
    fn looks(n: u64) -> Vec<(u32, u64)> {
        let mut s = LookSchedule::default();
        (1..=n)
            .filter_map(|m| s.due(m).then_some((s.looks, m)))
            .collect()
    }

    #[test]
    fn a_thread_pool_that_ramped_then_held_is_not_stopped() {
        // 8 → 16 threads, one every 35 s over the first 4 min 40 s, then held: at every look
        // of a 15 min run (earliest stop 90 s) the test must not stop it.
        let th = Thresholds::default();
        let pool = thread_series(900, |t| 8.0 + (t / 35.0).floor().min(8.0));
        for (k, m) in looks(900) {
            let c = columns(&pool[..m as usize]);
            let stop = certain_fail(&c, &th, Warmup::Auto, k, FAIL_FAST_ALPHA, 90.0);
            assert_eq!(stop, None, "look {k} at {m} samples");
        }
    }

    #[test]
    fn a_thread_leak_is_stopped() {
        // +1 thread every 2 min (30/h, 3× the fail threshold), held for the whole run.
        let th = Thresholds::default();
        let leak = thread_series(900, |t| 12.0 + (t / 120.0).floor());
        let stop = looks(900).into_iter().find_map(|(k, m)| {
            let c = columns(&leak[..m as usize]);
            certain_fail(&c, &th, Warmup::Auto, k, FAIL_FAST_ALPHA, 90.0).map(|_| m)
        });
        assert!(stop.is_some_and(|m| m <= 900), "{stop:?}");
    }
}
