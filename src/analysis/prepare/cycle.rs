//! Garbage-collector cycles: the period of a sawtooth (slow rise, sudden drop), found
//! from the drops in the first differences.

use super::{Cleaned, Values, clean};
use crate::analysis::stats;

/// A one-step fall counts as a collection when it is more than this many robust standard
/// deviations (1.4826 × MAD) of the first differences below their median: 6σ, so plain
/// Gaussian noise makes one about once in 10⁹ steps.
pub const DROP_SIGMAS: f64 = 6.0;

/// Fewer detected drops than this and there is no cycle (a single step down is not one).
pub const MIN_DROPS: usize = 3;

/// A drop that undoes a jump up (a spike) or is undone by one (a dip) within this many
/// samples is not a collection: a collector's heap climbs back gradually.
const SPIKE_LOOK_SAMPLES: usize = 5;

/// A jump up is "sudden" when it exceeds this share of the drop it precedes or follows.
const SPIKE_JUMP_SHARE: f64 = 0.5;

/// Spacings within [median / 1.5, median × 1.5] are regular; at least this share of them
/// must be, or the drops are random events. (Poisson events manage about 28%.)
const REGULAR_SHARE: f64 = 0.6;
const REGULAR_FACTOR: f64 = 1.5;

/// Typical period, in seconds, of a garbage-collector-like sawtooth (slow rise, sudden
/// drop), or `None` for smooth series, noise, steps, ramps and spikes.
///
/// Rule: first differences d; robust scale σ = 1.4826·MAD(d), floored at the smallest
/// non-zero |d| (quantised counts, page-sized RSS steps) and at 1e-12·max|y|. A drop is a
/// run of consecutive differences below median(d) − 6σ, ignored when a jump up of more
/// than half its size lies within 5 samples before it (a spike) or after it (a dip). With
/// at least 3 drops, spacings within a factor 1.5 of their median must make up 60% of
/// all spacings; the period is the mean of those regular spacings (so a period of 12.5
/// samples, spaced 12, 13, 12, 13, comes out as 12.5, not 12 or 13).
pub fn cycle_period<Y: Values + ?Sized>(t: &[f64], y: &Y) -> Option<f64> {
    // One dispatch on what cleaning gave, not one per value read.
    match clean(t, y) {
        (t, Cleaned::Given(y)) => period_of(&t, y),
        (t, Cleaned::Copied(y)) => period_of(&t, &y[..]),
    }
}

/// [`cycle_period`] of a clean series.
fn period_of<Y: Values + ?Sized>(t: &[f64], y: &Y) -> Option<f64> {
    let n = t.len();
    if n < 2 * MIN_DROPS + 2 {
        return None;
    }
    // First differences, computed where needed rather than stored: on a week at 1 Hz a
    // stored copy (and the copies the medians would make) is 5 MB each.
    let d = |i: usize| y.at(i + 1) - y.at(i);
    let diffs = || (0..n - 1).map(d);
    let median_d = stats::median_of(diffs)?;
    let mad = stats::median_of(|| diffs().map(|v| (v - median_d).abs()))?;
    let quantum = diffs()
        .map(|v| v.abs())
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let magnitude = (0..n).fold(0.0f64, |m, i| m.max(y.at(i).abs()));
    let sigma = (1.4826 * mad).max(quantum).max(1e-12 * magnitude);
    if !sigma.is_finite() {
        // No non-zero step at all: a constant series.
        return None;
    }
    let threshold = median_d - DROP_SIGMAS * sigma;

    // Drop events: runs of big negative differences (a collection seen over two samples
    // is one drop). `d[i]` is y[i+1] − y[i].
    let mut drop_times = Vec::new();
    let d_len = n - 1;
    let mut i = 0;
    while i < d_len {
        if d(i) >= threshold {
            i += 1;
            continue;
        }
        let first = i;
        while i < d_len && d(i) < threshold {
            i += 1;
        }
        let size = y.at(first) - y.at(i);
        let before = first.saturating_sub(SPIKE_LOOK_SAMPLES)..first;
        let after = i..(i + SPIKE_LOOK_SAMPLES).min(d_len);
        let biggest_jump = before.chain(after).map(d).fold(f64::NEG_INFINITY, f64::max);
        if biggest_jump <= SPIKE_JUMP_SHARE * size {
            drop_times.push(t[first]);
        }
    }
    if drop_times.len() < MIN_DROPS {
        return None;
    }
    let spacings: Vec<f64> = drop_times.windows(2).map(|w| w[1] - w[0]).collect();
    let typical = stats::median(&mut spacings.clone())?;
    if typical <= 0.0 {
        return None;
    }
    let regular: Vec<f64> = spacings
        .iter()
        .copied()
        .filter(|s| *s >= typical / REGULAR_FACTOR && *s <= typical * REGULAR_FACTOR)
        .collect();
    if regular.len() < MIN_DROPS - 1
        || (regular.len() as f64) < REGULAR_SHARE * spacings.len() as f64
    {
        return None;
    }
    Some(regular.iter().sum::<f64>() / regular.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prepare::test_series::*;

    #[test]
    fn sawtooth_period_is_found_within_5_percent() {
        for (k, &period) in [10.0, 12.5, 17.0, 50.0, 120.0, 200.0].iter().enumerate() {
            for leak in [0.0, 0.2 * MB / period] {
                for noise_sd in [0.0, 0.5 * MB] {
                    for dt in [1.0, 0.1] {
                        let n = (30.0 * period) as usize + 7;
                        let y = sawtooth(n, period, 50.0 * MB, leak, noise_sd, k as u64);
                        let found = cycle_period(&times(n, dt), &y);
                        let want = period * dt;
                        assert!(
                            found.is_some_and(|p| (p - want).abs() <= 0.05 * want),
                            "period {period} leak {leak} noise {noise_sd} dt {dt}: {found:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn collections_seen_over_two_samples_and_jittered_periods_still_count() {
        // Each collection falls over two samples; periods vary 80–120 samples.
        let mut rng = Rng::new(3);
        let mut y = Vec::new();
        let mut level = 0.0;
        while y.len() < 5000 {
            let period = 80 + (rng.uniform() * 40.0) as usize;
            for i in 0..period {
                level = 200.0 * MB + 30.0 * MB * i as f64 / period as f64;
                y.push(level + 0.2 * MB * rng.normal());
            }
            y.push((level + 200.0 * MB) / 2.0);
        }
        let found = cycle_period(&times(y.len(), 1.0), &y).unwrap();
        assert!((found - 101.0).abs() < 8.0, "{found}");
    }

    #[test]
    fn no_period_without_a_sawtooth() {
        let n = 3000;
        let t = times(n, 1.0);
        let mut rng = Rng::new(9);
        let cases: Vec<(&str, Vec<f64>)> = vec![
            ("white noise", noise(n, MB, 1)),
            ("flat", vec![100.0 * MB; n]),
            (
                "smooth sine",
                t.iter()
                    .map(|x| 100.0 * MB + 20.0 * MB * (x / 300.0).sin())
                    .collect(),
            ),
            (
                "ramp",
                t.iter()
                    .map(|x| 100.0 * MB + 1e4 * x + 1e3 * rng.normal())
                    .collect(),
            ),
            (
                "step up",
                t.iter()
                    .map(|x| if *x < 1500.0 { 100.0 * MB } else { 150.0 * MB })
                    .collect(),
            ),
            (
                "single step down",
                t.iter()
                    .map(|x| if *x < 1500.0 { 150.0 * MB } else { 100.0 * MB })
                    .collect(),
            ),
            ("random walk", {
                let mut v = 100.0 * MB;
                (0..n)
                    .map(|_| {
                        v += 0.1 * MB * rng.normal();
                        v
                    })
                    .collect()
            }),
        ];
        for (name, y) in &cases {
            assert_eq!(cycle_period(&t, y), None, "{name}");
        }
    }

    #[test]
    fn spikes_and_dips_are_not_cycles() {
        let n = 5000;
        let t = times(n, 1.0);
        // One-sample spikes up at random times, and regularly every 50 samples.
        let mut rng = Rng::new(21);
        let mut random_spikes = noise(n, 0.1 * MB, 4);
        for v in random_spikes.iter_mut() {
            if rng.uniform() < 0.01 {
                *v += 40.0 * MB;
            }
        }
        assert_eq!(cycle_period(&t, &random_spikes), None);
        let mut regular_spikes = noise(n, 0.1 * MB, 5);
        let mut regular_dips = regular_spikes.clone();
        for i in (25..n).step_by(50) {
            regular_spikes[i] += 40.0 * MB;
            regular_dips[i] -= 40.0 * MB;
        }
        assert_eq!(cycle_period(&t, &regular_spikes), None);
        assert_eq!(cycle_period(&t, &regular_dips), None);
        // Spikes lasting three samples.
        let mut wide = noise(n, 0.1 * MB, 6);
        for i in (25..n - 3).step_by(70) {
            for v in &mut wide[i..i + 3] {
                *v += 40.0 * MB;
            }
        }
        assert_eq!(cycle_period(&t, &wide), None);
        // Random drops (memory trimmed now and then) on a leak: irregular.
        let mut rng = Rng::new(8);
        let mut level = 100.0 * MB;
        let trims: Vec<f64> = (0..n)
            .map(|_| {
                level += 0.05 * MB;
                if rng.uniform() < 0.005 {
                    level -= 20.0 * MB;
                }
                level
            })
            .collect();
        assert_eq!(cycle_period(&t, &trims), None);
    }

    #[test]
    fn period_is_unaffected_by_non_finite_and_integer_counts() {
        // A thread pool growing by one every 10 s to 20 threads, then shrinking to 4.
        let y: Vec<f64> = (0..2000).map(|i| 4.0 + ((i % 160) / 10) as f64).collect();
        let mut t = times(2000, 1.0);
        let mut y_bad = y.clone();
        t[100] = f64::NAN;
        y_bad[700] = f64::INFINITY;
        let found = cycle_period(&t, &y_bad).unwrap();
        assert!((found - 160.0).abs() < 8.0, "{found}");
        assert_eq!(cycle_period(&[], &[]), None);
        assert_eq!(cycle_period(&[1.0, 2.0], &[f64::NAN, 1.0]), None);
    }
}
