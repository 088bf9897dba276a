//! Series preparation before the trend tests: garbage-collector cycle detection, the
//! lower envelope (post-collection floor), warm-up detection, and splitting at restarts.
//!
//! Every window comes from the data — the observed cycle period, the number of cycles, the
//! number of samples — never from a wall-clock span, so the same rules serve a one-minute
//! time-compressed CI check at 100 ms and a 24 h soak at 1 s. Input is `t` (seconds,
//! ascending) and `y`; pairs with a non-finite value are skipped, and out-of-order samples
//! are put in time order first.

use std::borrow::Cow;
use std::ops::Range;

use super::stats::{self, median};

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

/// Envelope block length, in cycles: 1.5 so that every block holds at least one whole
/// cycle, hence one post-collection floor, even when periods jitter by ±25%.
pub const ENVELOPE_CYCLES_PER_BLOCK: f64 = 1.5;

/// Shortest block allowed, in cycles, when 1.5 cycles would leave fewer than
/// [`MIN_ENVELOPE_BLOCKS`] blocks.
pub const ENVELOPE_MIN_CYCLES_PER_BLOCK: f64 = 1.2;

/// Fewer envelope blocks than this make a weak trend; `Envelope::cycles` says why.
pub const MIN_ENVELOPE_BLOCKS: usize = 8;

/// `detect_warmup` fits its two lines on at most this many block medians.
pub const WARMUP_MAX_POINTS: usize = 1000;

/// Warm-up accepted only if its slope is more than this many times the slope after it.
pub const WARMUP_SLOPE_RATIO: f64 = 3.0;

/// ... and the two lines leave at most this share of the one line's squared error.
pub const WARMUP_SSE_RATIO: f64 = 0.5;

/// ... and the warm-up's fitted rise exceeds this many residual standard deviations.
pub const WARMUP_RISE_SIGMAS: f64 = 4.0;

/// The warm-up ends once the series is within this share of the warm-up rise of the line
/// fitted after the break: 5%, i.e. about 3τ for an exponential approach e^(−t/τ).
pub const WARMUP_SETTLED_SHARE: f64 = 0.05;

/// Fewest points on each side of a warm-up break.
const WARMUP_MIN_SEGMENT: usize = 4;

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
pub fn cycle_period(t: &[f64], y: &[f64]) -> Option<f64> {
    let (t, y) = clean(t, y);
    let n = t.len();
    if n < 2 * MIN_DROPS + 2 {
        return None;
    }
    // First differences, computed where needed rather than stored: on a week at 1 Hz a
    // stored copy (and the copies the medians would make) is 5 MB each.
    let d = |i: usize| y[i + 1] - y[i];
    let diffs = || y.windows(2).map(|w| w[1] - w[0]);
    let median_d = stats::median_of(diffs)?;
    let mad = stats::median_of(|| diffs().map(|v| (v - median_d).abs()))?;
    let quantum = diffs()
        .map(|v| v.abs())
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let magnitude = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
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
        let size = y[first] - y[i];
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
pub fn lower_envelope(t: &[f64], y: &[f64], period_s: Option<f64>, max_points: usize) -> Envelope {
    let (t, y) = clean(t, y);
    let max_points = max_points.max(1);
    let period_s = period_s.filter(|p| p.is_finite() && *p > 0.0);
    let (Some(&first), Some(&last)) = (t.first(), t.last()) else {
        return Envelope {
            t: t.into_owned(),
            y: y.into_owned(),
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
                    .min_by(|&a, &b| y[a].total_cmp(&y[b]))
                    .unwrap_or(range.start);
                env_t.push(t[lowest]);
                env_y.push(y[lowest]);
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
            y: y.into_owned(),
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
                    median(&mut y[range].to_vec()),
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

/// Time (seconds, on the scale of `t`) at which an initial warm-up ends — fast early
/// growth settling into a slower trend, like a cache filling — searched in the first
/// `max_fraction` of the run. `None` when there is none: a steady leak from the start,
/// flat noise, a staircase.
///
/// Rule: reduce to ≤ 1000 block medians whose blocks grow linearly with time (one sample
/// each at the start, ~2n/1000 at the end), so a short warm-up in a long run is still
/// resolved; fit two lines (least squares, each point weighted by its block's sample
/// count, so the fit is that of the full series) and take the break with the least total
/// squared error whose first segment ends within `max_fraction` of the span. Accept it when
/// the slope before is positive and more than 3× the slope after, the two lines leave at
/// most half the one-line error, and the rise before the break exceeds 4 residual standard
/// deviations. The end is then where the series first comes within 5% of that rise of the
/// line after the break (≈ 3τ for an exponential approach; the least-squares break alone
/// sits at 1.3–2τ, too early: a fifth of the rise still to come would read as a leak), but
/// never before the break and never after the search limit.
pub fn detect_warmup(t: &[f64], y: &[f64], max_fraction: f64) -> Option<f64> {
    if !(max_fraction.is_finite() && max_fraction > 0.0) {
        return None;
    }
    let (t, y) = clean(t, y);
    let n = t.len();
    if n < 2 * WARMUP_MIN_SEGMENT + 2 {
        return None;
    }
    let (first, last) = (t[0], t[n - 1]);
    let span_s = last - first;
    if span_s <= 0.0 {
        return None;
    }
    let limit_s = first + max_fraction.min(1.0) * span_s;
    let reduced = growing_block_medians(&t, &y, WARMUP_MAX_POINTS);
    let m = reduced.len();
    if m < 2 * WARMUP_MIN_SEGMENT {
        return None;
    }
    // Centre and scale before summing squares, so byte-sized values keep their precision.
    let mean_y = y.iter().sum::<f64>() / n as f64;
    let points: Vec<Point> = reduced
        .iter()
        .map(|p| Point {
            t: (p.t - first) / span_s,
            y: p.y - mean_y,
            w: p.w,
        })
        .collect();
    let mut prefix = vec![Sums::default(); m + 1];
    for (k, p) in points.iter().enumerate() {
        prefix[k + 1] = prefix[k].plus(p);
    }
    let total = prefix[m];
    let one_line = total.fit()?;

    let mut best: Option<(f64, usize, Line, Line)> = None;
    for k in WARMUP_MIN_SEGMENT..=m - WARMUP_MIN_SEGMENT {
        if reduced[k - 1].t > limit_s {
            break;
        }
        let (Some(before), Some(after)) = (prefix[k].fit(), total.minus(&prefix[k]).fit()) else {
            continue;
        };
        let sse = before.sse + after.sse;
        if best.as_ref().is_none_or(|b| sse < b.0) {
            best = Some((sse, k, before, after));
        }
    }
    let (sse, k, before, after) = best?;
    let residual_sd = (sse / total.w).sqrt();
    let rise = after.at(points[k].t) - before.at(points[0].t);
    let accepted = before.slope > 0.0
        && before.slope > WARMUP_SLOPE_RATIO * after.slope.max(0.0)
        && one_line.sse > 0.0
        && sse <= WARMUP_SSE_RATIO * one_line.sse
        && rise > WARMUP_RISE_SIGMAS * residual_sd;
    if !accepted {
        return None;
    }
    let settled = points
        .iter()
        .position(|p| p.y >= after.at(p.t) - WARMUP_SETTLED_SHARE * rise)
        .unwrap_or(k);
    let end_s = reduced[settled.max(k)].t;
    Some(end_s.min(limit_s))
}

/// Sample index ranges between the given times (target restarts, long gaps): a break at
/// b starts a new segment at the first sample with t ≥ b. Breaks outside the series or
/// not finite are ignored, and no segment is empty. `t` ascending.
pub fn segments(t: &[f64], breaks_at_s: &[f64]) -> Vec<Range<usize>> {
    let n = t.len();
    let mut cuts: Vec<usize> = breaks_at_s
        .iter()
        .filter(|b| b.is_finite())
        .map(|&b| t.partition_point(|&x| x < b))
        .filter(|&c| c > 0 && c < n)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        out.push(start..cut);
        start = cut;
    }
    if start < n {
        out.push(start..n);
    }
    out
}

/// A reduced point: block median time and value, and the block's sample count.
#[derive(Clone, Copy, Debug)]
struct Point {
    t: f64,
    y: f64,
    w: f64,
}

/// Medians of consecutive blocks whose sizes grow linearly (1, …, ~2n/max_points
/// samples), at most about `max_points` blocks; one point per sample when n fits.
fn growing_block_medians(t: &[f64], y: &[f64], max_points: usize) -> Vec<Point> {
    let n = t.len();
    if n <= max_points {
        return t
            .iter()
            .zip(y)
            .map(|(&t, &y)| Point { t, y, w: 1.0 })
            .collect();
    }
    // Block k ends at sample c·(k+1)(k+2)/2, with c set so that max_points blocks cover n.
    let mf = max_points as f64;
    let c = 2.0 * n as f64 / (mf * (mf + 1.0));
    let mut out = Vec::with_capacity(max_points);
    let mut start = 0;
    let mut k = 0.0;
    while start < n {
        k += 1.0;
        let end = ((c * k * (k + 1.0) / 2.0).ceil() as usize).clamp(start + 1, n);
        if let (Some(bt), Some(by)) = (
            median(&mut t[start..end].to_vec()),
            median(&mut y[start..end].to_vec()),
        ) {
            out.push(Point {
                t: bt,
                y: by,
                w: (end - start) as f64,
            });
        }
        start = end;
    }
    out
}

/// Weighted sums for least squares over a run of points.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    w: f64,
    t: f64,
    y: f64,
    tt: f64,
    ty: f64,
    yy: f64,
}

/// A fitted line and its weighted squared error.
#[derive(Clone, Copy, Debug)]
struct Line {
    slope: f64,
    intercept: f64,
    sse: f64,
}

impl Line {
    fn at(&self, t: f64) -> f64 {
        self.intercept + self.slope * t
    }
}

impl Sums {
    fn plus(&self, p: &Point) -> Sums {
        Sums {
            w: self.w + p.w,
            t: self.t + p.w * p.t,
            y: self.y + p.w * p.y,
            tt: self.tt + p.w * p.t * p.t,
            ty: self.ty + p.w * p.t * p.y,
            yy: self.yy + p.w * p.y * p.y,
        }
    }

    fn minus(&self, o: &Sums) -> Sums {
        Sums {
            w: self.w - o.w,
            t: self.t - o.t,
            y: self.y - o.y,
            tt: self.tt - o.tt,
            ty: self.ty - o.ty,
            yy: self.yy - o.yy,
        }
    }

    fn fit(&self) -> Option<Line> {
        if self.w <= 0.0 {
            return None;
        }
        let mean_t = self.t / self.w;
        let mean_y = self.y / self.w;
        let stt = self.tt - self.t * mean_t;
        let sty = self.ty - self.t * mean_y;
        let syy = self.yy - self.y * mean_y;
        if stt <= 0.0 {
            return None;
        }
        let slope = sty / stt;
        Some(Line {
            slope,
            intercept: mean_y - slope * mean_t,
            // Rounding can take a perfect fit a hair below zero.
            sse: (syy - slope * sty).max(0.0),
        })
    }
}

/// Finite (t, y) pairs in time order: the input itself when it already is (as columns
/// always are), else a sorted copy.
fn clean<'a>(t: &'a [f64], y: &'a [f64]) -> (Cow<'a, [f64]>, Cow<'a, [f64]>) {
    let finite = t.len() == y.len() && t.iter().chain(y).all(|v| v.is_finite());
    if finite && t.is_sorted_by(|a, b| a <= b) {
        return (Cow::Borrowed(t), Cow::Borrowed(y));
    }
    let mut pairs: Vec<(f64, f64)> = t
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    if !pairs.is_sorted_by(|a, b| a.0 <= b.0) {
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let (t, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    (Cow::Owned(t), Cow::Owned(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::regression::fit_linear;

    /// The shared deterministic generator, with the helpers these tests need.
    struct Rng(crate::rng::SplitMix64);

    impl Rng {
        fn new(seed: u64) -> Rng {
            Rng(crate::rng::SplitMix64(seed))
        }

        fn next_u64(&mut self) -> u64 {
            self.0.next_u64()
        }

        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal (Box–Muller).
        fn normal(&mut self) -> f64 {
            let u = self.uniform().max(f64::MIN_POSITIVE);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    const MB: f64 = 1e6;

    fn times(n: usize, dt: f64) -> Vec<f64> {
        (0..n).map(|i| i as f64 * dt).collect()
    }

    /// GC sawtooth: floor 100 MB + leak, rising by `amplitude` over `period` samples
    /// (possibly fractional) then dropping, plus Gaussian noise.
    fn sawtooth(
        n: usize,
        period: f64,
        amplitude: f64,
        leak_per_sample: f64,
        noise_sd: f64,
        seed: u64,
    ) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| {
                let phase = (i as f64 % period) / period;
                100.0 * MB
                    + leak_per_sample * i as f64
                    + amplitude * phase
                    + noise_sd * rng.normal()
            })
            .collect()
    }

    fn noise(n: usize, sd: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| 100.0 * MB + sd * rng.normal()).collect()
    }

    /// Least-squares slope of (t, y).
    fn ols_slope(t: &[f64], y: &[f64]) -> f64 {
        fit_linear(t, y).unwrap().slope_per_s
    }

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

    /// R·(1 − e^(−i/τ)) on 100 MB, with noise 1% of R.
    fn warmup_series(n: usize, tau: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        let rise = 200.0 * MB;
        (0..n)
            .map(|i| {
                100.0 * MB + rise * (1.0 - (-(i as f64) / tau).exp()) + 0.01 * rise * rng.normal()
            })
            .collect()
    }

    #[test]
    fn warmup_end_of_an_exponential_approach() {
        for (k, &tau) in [20.0, 50.0, 150.0, 300.0, 600.0].iter().enumerate() {
            for dt in [1.0, 0.1] {
                let n = (20.0 * tau) as usize;
                let y = warmup_series(n, tau, k as u64);
                let end = detect_warmup(&times(n, dt), &y, 0.5).map(|e| e / dt);
                assert!(
                    end.is_some_and(|e| (1.5 * tau..=5.0 * tau).contains(&e)),
                    "tau {tau} dt {dt}: end {end:?} samples"
                );
            }
        }
    }

    #[test]
    fn short_warmup_in_a_long_run_is_resolved() {
        // τ = 20 s in a 24 h run at 1 Hz, with a 0.1 MB/min leak afterwards.
        let n = 86_400;
        let leak_per_s = 0.1 * MB / 60.0;
        let y: Vec<f64> = warmup_series(n, 20.0, 77)
            .iter()
            .enumerate()
            .map(|(i, v)| v + leak_per_s * i as f64)
            .collect();
        let end = detect_warmup(&times(n, 1.0), &y, 0.5).unwrap();
        assert!((30.0..=100.0).contains(&end), "{end}");
    }

    #[test]
    fn warmup_then_leak_is_found() {
        // τ = 100 samples, then a leak at a tenth of the warm-up's initial rate.
        let n = 4000;
        let y: Vec<f64> = warmup_series(n, 100.0, 5)
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.2 * MB * i as f64 / 100.0 * 0.1)
            .collect();
        let end = detect_warmup(&times(n, 1.0), &y, 0.5).unwrap();
        assert!((150.0..=500.0).contains(&end), "{end}");
    }

    #[test]
    fn no_warmup_in_leaks_noise_and_staircases() {
        let n = 7200;
        let t = times(n, 1.0);
        let mut rng = Rng::new(31);
        let mut ar = 0.0;
        let cases: Vec<(&str, Vec<f64>)> = vec![
            (
                "linear leak",
                t.iter()
                    .map(|x| 100.0 * MB + 1e4 * x + 2.0 * MB * rng.normal())
                    .collect(),
            ),
            (
                "clean linear leak",
                t.iter().map(|x| 100.0 * MB + 1e4 * x).collect(),
            ),
            ("flat noise", noise(n, MB, 3)),
            ("flat", vec![7.0; n]),
            (
                "AR(0.9) noise",
                (0..n)
                    .map(|_| {
                        ar = 0.9 * ar + rng.normal();
                        100.0 * MB + MB * ar
                    })
                    .collect(),
            ),
            // One more thread every 10 minutes, from the start.
            (
                "staircase leak",
                t.iter().map(|x| 8.0 + (x / 600.0).floor()).collect(),
            ),
            (
                "staircase leak, late first step",
                t.iter()
                    .map(|x| 8.0 + ((x + 300.0) / 600.0).floor())
                    .collect(),
            ),
            (
                "decay",
                t.iter()
                    .map(|x| 100.0 * MB + 50.0 * MB * (-x / 300.0).exp())
                    .collect(),
            ),
        ];
        for (name, y) in &cases {
            assert_eq!(detect_warmup(&t, y, 0.5), None, "{name}");
        }
    }

    #[test]
    fn warmup_search_stays_in_the_first_fraction() {
        // Flat for 80% of the run, then a jump and plateau: not a warm-up in the first half.
        let n = 2000;
        let t = times(n, 1.0);
        let y: Vec<f64> = t
            .iter()
            .map(|x| if *x < 1600.0 { 0.0 } else { 1.0 })
            .collect();
        assert_eq!(detect_warmup(&t, &y, 0.5), None);
        // A slow approach, τ = 400 in a run of 5τ: found, though early (1.6τ), since the
        // line after the break still carries the tail of the approach.
        let y = warmup_series(n, 400.0, 1);
        let end = detect_warmup(&t, &y, 0.5).unwrap();
        assert!((600.0..=1000.0).contains(&end), "{end}");
        // Searched in the first 20% only: the end is capped there.
        let end = detect_warmup(&t, &y, 0.2).unwrap();
        assert!(end <= 0.2 * 1999.0, "{end}");
        assert_eq!(detect_warmup(&t, &y, f64::NAN), None);
        assert_eq!(detect_warmup(&t[..5], &y[..5], 0.5), None);
    }

    #[test]
    fn segments_split_at_breaks() {
        let t = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0];
        assert_eq!(segments(&t, &[]), vec![0..7]);
        assert_eq!(segments(&t, &[5.0]), vec![0..4, 4..7]);
        // A break exactly at a sample starts the segment there; duplicates, unsorted,
        // out-of-range and NaN breaks change nothing.
        assert_eq!(
            segments(&t, &[11.0, 2.0, 2.0, -5.0, 0.0, 99.0, f64::NAN]),
            vec![0..2, 2..5, 5..7]
        );
        assert_eq!(segments(&[], &[1.0]), Vec::<Range<usize>>::new());
    }

    /// Timing of the whole preparation and robust trend on a 24 h and a 7-day series:
    /// `cargo test --release --lib analysis::prepare::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        use crate::analysis::robust::{mann_kendall, theil_sen};
        use std::time::Instant;
        for n in [86_400, 604_800] {
            let t = times(n, 1.0);
            let y = sawtooth(n, 90.0, 80.0 * MB, 0.5 * MB / 60.0, MB, 1);
            let start = Instant::now();
            let period = cycle_period(&t, &y);
            let a = start.elapsed();
            let env = lower_envelope(&t, &y, period, 2000);
            let b = start.elapsed();
            let warmup = detect_warmup(&env.t, &env.y, 0.5);
            let warmup_raw = detect_warmup(&t, &y, 0.5);
            let c = start.elapsed();
            let fit = theil_sen(&env.t, &env.y);
            let d = start.elapsed();
            let mk = mann_kendall(&env.y);
            let e = start.elapsed();
            let raw = theil_sen(&t, &y);
            let f = start.elapsed();
            eprintln!(
                "n {n}: cycle_period {a:?}, lower_envelope ({} points) {:?}, detect_warmup \
                 (envelope + raw) {:?}, theil_sen(envelope) {:?}, mann_kendall(envelope) {:?}; \
                 total {e:?}; theil_sen on all {n} points (sampled) {:?}",
                env.t.len(),
                b - a,
                c - b,
                d - c,
                e - d,
                f - e
            );
            eprintln!("  {period:?} {warmup:?} {warmup_raw:?} {fit:?} {mk:?} {raw:?}");
        }
        // Worst case for the Hamed–Rao lags: 5000 points of AR(1) φ = 0.999.
        let mut rng = Rng::new(4);
        let mut ar = 0.0;
        let y: Vec<f64> = (0..5000)
            .map(|_| {
                ar = 0.999 * ar + rng.normal();
                ar
            })
            .collect();
        let start = Instant::now();
        let mk = mann_kendall(&y);
        eprintln!(
            "mann_kendall, 5000 points of AR(0.999): {:?} {mk:?}",
            start.elapsed()
        );
    }
}
