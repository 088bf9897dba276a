//! Series preparation before the trend tests: garbage-collector cycle detection
//! (`cycle`), the lower envelope or post-collection floor (`envelope`), warm-up detection
//! (`warmup`), and splitting at restarts.
//!
//! Every window comes from the data — the observed cycle period, the number of cycles, the
//! number of samples — never from a wall-clock span, so the same rules serve a one-minute
//! time-compressed CI check at 100 ms and a 24 h soak at 1 s. Input is `t` (seconds,
//! ascending) and `y`; pairs with a non-finite value are skipped, and out-of-order samples
//! are put in time order first.
//!
//! The long inputs (every sample of a metric) are read through [`Values`], so a run's
//! column is read in place: a week of RSS at 1 Hz is 5 MB as `f64`s, which the column
//! already holds in 3 bytes a value. What comes out (an envelope of at most a few
//! thousand points) is plain vectors.

use std::borrow::Cow;
use std::ops::Range;

mod cycle;
mod envelope;
mod warmup;

pub use cycle::{DROP_SIGMAS, MIN_DROPS, cycle_period};
pub use envelope::{
    ENVELOPE_CYCLES_PER_BLOCK, ENVELOPE_MIN_CYCLES_PER_BLOCK, Envelope, MIN_ENVELOPE_BLOCKS,
    lower_envelope,
};
pub use warmup::{
    WARMUP_MAX_POINTS, WARMUP_RISE_SIGMAS, WARMUP_SETTLED_SHARE, WARMUP_SLOPE_RATIO,
    WARMUP_SSE_RATIO, detect_warmup,
};

/// The values of a series, read by position: a slice, or a column of a run read in place.
pub trait Values {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> f64;

    /// Every value, as a vector.
    fn to_vec(&self) -> Vec<f64> {
        (0..self.count()).map(|i| self.at(i)).collect()
    }

    /// Whether every value is finite (a column of integers always is).
    fn all_finite(&self) -> bool {
        (0..self.count()).all(|i| self.at(i).is_finite())
    }
}

impl Values for [f64] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> f64 {
        self[i]
    }
}

impl<const N: usize> Values for [f64; N] {
    fn count(&self) -> usize {
        N
    }
    fn at(&self, i: usize) -> f64 {
        self[i]
    }
}

impl Values for Vec<f64> {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> f64 {
        self[i]
    }
}

/// Values as given, or a cleaned copy (see [`clean`]).
pub(super) enum Cleaned<'a, Y: ?Sized> {
    Given(&'a Y),
    Copied(Vec<f64>),
}

impl<Y: Values + ?Sized> Values for Cleaned<'_, Y> {
    fn count(&self) -> usize {
        match self {
            Cleaned::Given(y) => y.count(),
            Cleaned::Copied(v) => v.len(),
        }
    }
    fn at(&self, i: usize) -> f64 {
        match self {
            Cleaned::Given(y) => y.at(i),
            Cleaned::Copied(v) => v[i],
        }
    }
}

impl<'a> Cleaned<'a, [f64]> {
    /// A slice's cleaned values, as a slice again.
    pub(super) fn into_cow(self) -> Cow<'a, [f64]> {
        match self {
            Cleaned::Given(y) => Cow::Borrowed(y),
            Cleaned::Copied(v) => Cow::Owned(v),
        }
    }
}

/// Finite (t, y) pairs in time order: the input itself when it already is (as columns
/// always are), else a sorted copy.
pub(super) fn clean<'a, Y: Values + ?Sized>(
    t: &'a [f64],
    y: &'a Y,
) -> (Cow<'a, [f64]>, Cleaned<'a, Y>) {
    let n = y.count();
    let finite = t.len() == n && t.iter().all(|v| v.is_finite()) && y.all_finite();
    if finite && t.is_sorted_by(|a, b| a <= b) {
        return (Cow::Borrowed(t), Cleaned::Given(y));
    }
    let mut pairs: Vec<(f64, f64)> = t
        .iter()
        .zip((0..n).map(|i| y.at(i)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, b))
        .collect();
    if !pairs.is_sorted_by(|a, b| a.0 <= b.0) {
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let (t, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    (Cow::Owned(t), Cleaned::Copied(y))
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

#[cfg(test)]
pub(crate) mod test_series {
    //! Series generators shared by the preparation tests.

    use crate::analysis::regression::fit_linear;

    /// The shared deterministic generator, with the helpers these tests need.
    pub(crate) struct Rng(crate::rng::SplitMix64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(crate::rng::SplitMix64(seed))
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0.next_u64()
        }

        pub(crate) fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal (Box–Muller).
        pub(crate) fn normal(&mut self) -> f64 {
            let u = self.uniform().max(f64::MIN_POSITIVE);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    pub(crate) const MB: f64 = 1e6;

    pub(crate) fn times(n: usize, dt: f64) -> Vec<f64> {
        (0..n).map(|i| i as f64 * dt).collect()
    }

    /// GC sawtooth: floor 100 MB + leak, rising by `amplitude` over `period` samples
    /// (possibly fractional) then dropping, plus Gaussian noise.
    pub(crate) fn sawtooth(
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

    pub(crate) fn noise(n: usize, sd: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| 100.0 * MB + sd * rng.normal()).collect()
    }

    /// Least-squares slope of (t, y).
    pub(crate) fn ols_slope(t: &[f64], y: &[f64]) -> f64 {
        fit_linear(t, y).unwrap().slope_per_s
    }

    /// R·(1 − e^(−i/τ)) on 100 MB, with noise 1% of R.
    pub(crate) fn warmup_series(n: usize, tau: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        let rise = 200.0 * MB;
        (0..n)
            .map(|i| {
                100.0 * MB + rise * (1.0 - (-(i as f64) / tau).exp()) + 0.01 * rise * rng.normal()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn columns_and_slices_clean_alike() {
        let t = [0.0, 1.0, 2.0];
        let y = vec![3.0, f64::NAN, 5.0];
        let (ct, cy) = clean(&t, &y);
        assert_eq!((&ct[..], cy.to_vec()), (&[0.0, 2.0][..], vec![3.0, 5.0]));
        let ok = [3.0, 4.0, 5.0];
        let (ct, cy) = clean(&t, &ok[..]);
        assert!(matches!(ct, Cow::Borrowed(_)) && matches!(cy, Cleaned::Given(_)));
    }
}
