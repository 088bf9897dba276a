//! The lower envelope: a long or sawtooth series reduced to the points its trend is fitted
//! on (the post-collection floor, or block medians).

use std::ops::Range;

use super::{Cleaned, Values, clean};
use crate::analysis::stats::median;

/// Envelope block length, in cycles: 1.5 so that every block holds at least one whole
/// cycle, hence one post-collection floor, even when periods jitter by ±25%.
pub const ENVELOPE_CYCLES_PER_BLOCK: f64 = 1.5;

/// Shortest block allowed, in cycles, when 1.5 cycles would leave fewer than
/// [`MIN_ENVELOPE_BLOCKS`] blocks.
pub const ENVELOPE_MIN_CYCLES_PER_BLOCK: f64 = 1.2;

/// Fewer envelope blocks than this make a weak trend; `Envelope::cycles` says why.
pub const MIN_ENVELOPE_BLOCKS: usize = 8;

/// A reduced series for the trend fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    /// Block length in seconds; 0 when the series was returned unreduced.
    pub window_s: f64,
    /// Whole cycles in the series (0 without a cycle). Below [`MIN_ENVELOPE_BLOCKS`] the
    /// envelope has few points and its trend little weight.
    pub cycles: usize,
}

/// The series reduced for trend fitting, to at most `max_points` points.
///
/// With a cycle (`period_s`): the minimum of each block of equal time length, at least
/// 1.5 cycles long (1.2 if that leaves fewer than 8 blocks), so every block holds a
/// post-collection floor and the floor's growth is what gets fitted; the run ending
/// mid-cycle then no longer tilts the line. Each minimum keeps its own time: it is a real
/// sample on the floor line, while the block centre would be up to ¾ of a cycle off and
/// add that much jitter. Blocks have equal length so that the downward bias of a minimum
/// over noise is the same in each and cancels out of the slope.
///
/// Without a cycle: the series itself when it is short enough, else medians of equal-time
/// blocks (robust to spikes), each at the median time of its samples — where a linear
/// trend's median sits.
pub fn lower_envelope<Y: Values + ?Sized>(
    t: &[f64],
    y: &Y,
    period_s: Option<f64>,
    max_points: usize,
) -> Envelope {
    // One dispatch on what cleaning gave, not one per value read.
    match clean(t, y) {
        (t, Cleaned::Given(y)) => envelope_of(t, y, period_s, max_points),
        (t, Cleaned::Copied(y)) => envelope_of(t, &y[..], period_s, max_points),
    }
}

/// [`lower_envelope`] of a clean series.
fn envelope_of<Y: Values + ?Sized>(
    t: std::borrow::Cow<'_, [f64]>,
    y: &Y,
    period_s: Option<f64>,
    max_points: usize,
) -> Envelope {
    let max_points = max_points.max(1);
    let period_s = period_s.filter(|p| p.is_finite() && *p > 0.0);
    let (Some(&first), Some(&last)) = (t.first(), t.last()) else {
        return Envelope {
            t: t.into_owned(),
            y: y.to_vec(),
            window_s: 0.0,
            cycles: 0,
        };
    };
    let span_s = last - first;
    match period_s {
        Some(period_s) => {
            let cycles_f = span_s / period_s;
            let mut blocks = (cycles_f / ENVELOPE_CYCLES_PER_BLOCK).floor();
            if blocks < MIN_ENVELOPE_BLOCKS as f64 {
                blocks = (cycles_f / ENVELOPE_MIN_CYCLES_PER_BLOCK)
                    .floor()
                    .min(MIN_ENVELOPE_BLOCKS as f64);
            }
            let blocks = (blocks.max(1.0) as usize).min(max_points);
            let window_s = span_s / blocks as f64;
            let mut env_t = Vec::with_capacity(blocks);
            let mut env_y = Vec::with_capacity(blocks);
            for range in time_blocks(&t, blocks, first, window_s) {
                let lowest = range
                    .clone()
                    .min_by(|&a, &b| y.at(a).total_cmp(&y.at(b)))
                    .unwrap_or(range.start);
                env_t.push(t[lowest]);
                env_y.push(y.at(lowest));
            }
            Envelope {
                t: env_t,
                y: env_y,
                window_s,
                cycles: cycles_f as usize,
            }
        }
        None if t.len() <= max_points => Envelope {
            t: t.into_owned(),
            y: y.to_vec(),
            window_s: 0.0,
            cycles: 0,
        },
        None => {
            let window_s = span_s / max_points as f64;
            let mut env_t = Vec::with_capacity(max_points);
            let mut env_y = Vec::with_capacity(max_points);
            for range in time_blocks(&t, max_points, first, window_s) {
                if let (Some(bt), Some(by)) = (
                    median(&mut t[range.clone()].to_vec()),
                    median(&mut range.map(|i| y.at(i)).collect::<Vec<f64>>()),
                ) {
                    env_t.push(bt);
                    env_y.push(by);
                }
            }
            Envelope {
                t: env_t,
                y: env_y,
                window_s,
                cycles: 0,
            }
        }
    }
}

/// Index ranges of the non-empty blocks [first + k·w, first + (k+1)·w), the last one
/// closed so that it holds the final sample. `t` ascending.
fn time_blocks(t: &[f64], blocks: usize, first: f64, window_s: f64) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(blocks);
    let mut start = 0;
    for k in 1..=blocks {
        let end = if k == blocks || window_s <= 0.0 {
            t.len()
        } else {
            let edge = first + k as f64 * window_s;
            start + t[start..].partition_point(|&x| x < edge)
        };
        if end > start {
            out.push(start..end);
        }
        start = end;
        if start == t.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prepare::cycle_period;
    use crate::analysis::prepare::test_series::*;

    #[test]
    fn envelope_follows_the_floor_where_the_raw_fit_is_tilted() {
        // 0.25 MB/min leak under a 50 MB, 100 s sawtooth with 0.1 MB noise; the run stops
        // 90% into its 11th cycle, near a peak.
        let leak_per_s = 0.25 * MB / 60.0;
        let n = 1090;
        let t = times(n, 1.0);
        let y = sawtooth(n, 100.0, 50.0 * MB, leak_per_s, 0.1 * MB, 12);
        let period = cycle_period(&t, &y).unwrap();
        let env = lower_envelope(&t, &y, Some(period), 1000);
        assert_eq!(env.cycles, 10);
        assert!(env.t.len() >= MIN_ENVELOPE_BLOCKS, "{}", env.t.len());
        assert!(env.window_s >= 1.2 * period, "{}", env.window_s);
        let env_slope = ols_slope(&env.t, &env.y);
        let raw_slope = ols_slope(&t, &y);
        assert!(
            (env_slope - leak_per_s).abs() < 0.05 * leak_per_s,
            "envelope {env_slope}"
        );
        assert!(
            (raw_slope - leak_per_s).abs() > 0.5 * leak_per_s,
            "raw {raw_slope}"
        );
    }

    #[test]
    fn envelope_of_a_long_sawtooth_respects_max_points() {
        // 24 h at 1 Hz, 90 s cycles, 0.5 MB/min leak: 1.5-cycle blocks would be 639, so
        // max_points = 300 takes over.
        let n = 86_400;
        let t = times(n, 1.0);
        let leak_per_s = 0.5 * MB / 60.0;
        let y = sawtooth(n, 90.0, 80.0 * MB, leak_per_s, 1.0 * MB, 2);
        let env = lower_envelope(&t, &y, Some(90.0), 300);
        assert_eq!(env.t.len(), 300);
        assert_eq!(env.cycles, 959);
        let slope = ols_slope(&env.t, &env.y);
        assert!((slope - leak_per_s).abs() < 0.02 * leak_per_s, "{slope}");
        let env = lower_envelope(&t, &y, Some(90.0), 100_000);
        assert_eq!(env.t.len(), 639);
    }

    #[test]
    fn envelope_without_a_cycle_is_block_medians() {
        let n = 10_000;
        let t = times(n, 0.1);
        let mut y: Vec<f64> = t.iter().map(|x| 50.0 * MB + 2e4 * x).collect();
        // Spikes do not move block medians.
        for i in (3..n).step_by(97) {
            y[i] += 500.0 * MB;
        }
        let env = lower_envelope(&t, &y, None, 500);
        assert_eq!(env.t.len(), 500);
        assert_eq!(env.cycles, 0);
        assert!((env.window_s - 999.9 / 500.0).abs() < 1e-9);
        let slope = ols_slope(&env.t, &env.y);
        assert!((slope - 2e4).abs() < 1e-6 * 2e4, "{slope}");
        // Short enough: returned as is.
        let short = lower_envelope(&t[..400], &y[..400], None, 500);
        assert_eq!((short.t.len(), short.window_s), (400, 0.0));
    }

    #[test]
    fn envelope_with_too_few_cycles_says_so() {
        let n = 500;
        let t = times(n, 1.0);
        let y = sawtooth(n, 100.0, 50.0 * MB, 0.0, 0.0, 1);
        let env = lower_envelope(&t, &y, Some(100.0), 1000);
        assert_eq!(env.cycles, 4);
        assert!(env.t.len() < MIN_ENVELOPE_BLOCKS);
        assert!(!env.t.is_empty());
        // Degenerate inputs do not panic.
        assert!(lower_envelope(&[], &[], Some(10.0), 10).t.is_empty());
        let one = lower_envelope(&[1.0], &[5.0], Some(10.0), 10);
        assert_eq!((one.t, one.y), (vec![1.0], vec![5.0]));
        let nan = lower_envelope(&[0.0, 1.0, 2.0], &[1.0, f64::NAN, 3.0], Some(f64::NAN), 0);
        assert_eq!(nan.t.len(), 1);
    }
}
