//! Robust trend estimates: the Theil–Sen slope with Sen's (1968) confidence interval, and
//! the Mann–Kendall trend test with the Hamed & Rao (1998) autocorrelation correction.
//!
//! Both work on ranks and signs, so a GC spike or a torn sample moves them by one pair in
//! n(n−1)/2 instead of dragging a least-squares line. They are meant to run on a reduced
//! series (see `prepare::lower_envelope`): Theil–Sen is exact up to
//! [`THEIL_SEN_EXACT_MAX_N`] points and sampled above; Mann–Kendall's S is O(n log n) but
//! its autocorrelation correction is O(n · lags).

use super::stats::{self, Replay};
use crate::rng::SplitMix64;
use statrs::distribution::{ContinuousCDF, Normal};

/// Up to this many points `theil_sen` enumerates every pair (n = 1500 is 1.1 million
/// slopes, 9 MB, about 8 ms). Above, it uses [`THEIL_SEN_SAMPLED_PAIRS`] random pairs. Both
/// bound what the analysis at the end of a run adds to the profiler's memory (it was 36 MB
/// with 3000 and 4·10⁶ pairs, seven times what the recording loop uses).
pub const THEIL_SEN_EXACT_MAX_N: usize = 1500;

/// Pairs drawn (uniformly, with a fixed seed) when n is above the exact limit.
///
/// Error of the sampled estimate: the median of M random slopes sits at a rank whose
/// standard deviation is N/(2√M) among the N pairwise slopes, i.e. 0.05% of N for
/// M = 10⁶. The slope's own statistical standard error is σ_S/2 ranks ≈ N/(3√n), so the
/// sampling error is 1.5·√(n/M) of one standard error: 0.15 at n = 10 000, 0.44 at
/// n = 86 400 (24 h at 1 Hz), 1.2 at n = 604 800. The interval is widened to carry it
/// (variance σ_S² + N²/M in rank units instead of σ_S²), so its coverage stays 95%.
/// Same input, same answer: the seed is fixed.
pub const THEIL_SEN_SAMPLED_PAIRS: usize = 1_000_000;

const PAIR_SEED: u64 = 0x7e11_5e4e_5eed_2024;

/// Robust line y = intercept + slope·t.
#[derive(Clone, Debug, PartialEq)]
pub struct TheilSen {
    /// Median of the pairwise slopes, per unit of t (per second).
    pub slope: f64,
    /// Median of y − slope·t (the "joint" intercept; scipy `method='joint'`).
    pub intercept: f64,
    /// 95% confidence interval of the slope (Sen 1968). Assumes independent errors: for
    /// autocorrelated samples it is too narrow, like the textbook OLS interval.
    pub slope_ci: [f64; 2],
    /// Finite points used.
    pub n: usize,
}

/// Mann–Kendall trend test of y against its order.
#[derive(Clone, Debug, PartialEq)]
pub struct MannKendall {
    /// S = #(later > earlier) − #(later < earlier) over all pairs.
    pub s: f64,
    /// Variance of S under "no trend, independent", corrected for ties.
    pub var_s: f64,
    /// `var_s × n_over_n_star`: the variance corrected for autocorrelation.
    pub var_s_corrected: f64,
    /// Standardised S with the continuity correction, from the corrected variance.
    pub z: f64,
    /// Two-sided p-value of z (normal approximation), from the corrected variance.
    pub p_value: f64,
    /// Kendall's tau-a, S / (n(n−1)/2).
    pub tau: f64,
    /// Finite values used.
    pub n: usize,
    /// Hamed & Rao variance factor n/n*, floored at 1 (see [`AcfLags`]).
    pub n_over_n_star: f64,
}

/// Which rank autocorrelations enter the Hamed & Rao factor
/// n/n* = 1 + 2/(n(n−1)(n−2)) · Σ (n−k)(n−k−1)(n−k−2) ρk.
///
/// Either way only lags with |ρk| > 1.96/√n count, and the factor is floored at 1: only
/// positive autocorrelation inflates the variance, negative is treated as none (as in
/// `regression::fit_linear`), so a spurious negative sum can never make the test bolder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AcfLags {
    /// Lags 1, 2, … up to the first one that is not significant (the default).
    ///
    /// Why not the paper's rule: for a strongly autocorrelated series the sample ACF at
    /// long lags is noise of variance ≈ (1+φ²)/((1−φ²)n), so many far lags pass the 5%
    /// bar with random sign and cancel the real short-lag correlation. In a simulation
    /// (trend-free AR(1), 100 runs each, 5% test) the paper's rule rejected 17% at
    /// φ = 0.5 (n = 500), 32% at φ = 0.9 (n = 1000), 34% at φ = 0.95 (n = 2000); this
    /// rule 8%, 9%, 10%. At φ = 0.999 (n = 2000) both fail (63% and 41%): the series
    /// holds about one independent value, and no rank test can tell drift from trend.
    /// Matches pymannkendall's `hamed_rao_modification_test(x, lag=L)` with L the number
    /// of leading significant lags.
    #[default]
    Contiguous,
    /// Every lag 1..n−1 that is significant (Hamed & Rao 1998; pymannkendall's default).
    /// O(n²): for comparison and for short series.
    AllSignificant,
}

/// Theil–Sen line of y over t. Non-finite pairs are skipped; pairs with equal t are not
/// slopes. `None` when no two finite points have different t.
pub fn theil_sen(t: &[f64], y: &[f64]) -> Option<TheilSen> {
    let (t, y): (Vec<f64>, Vec<f64>) = t
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let n = t.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let t_ties = tie_groups(&t);
    // Pairs with distinct t: N in Sen (1968).
    let pairs = nf * (nf - 1.0) / 2.0 - t_ties.iter().map(|&g| g * (g - 1.0) / 2.0).sum::<f64>();
    if pairs < 1.0 {
        return None;
    }
    // Sen (1968) eq. 2.6, as scipy.stats.theilslopes: the Mann–Kendall variance of S with
    // ties in t and in y removed.
    let var_s =
        (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_sum(&t_ties) - tie_sum(&tie_groups(&y))) / 18.0;
    let z = Normal::standard().inverse_cdf(0.975);

    let (slope, slope_ci) = if n <= THEIL_SEN_EXACT_MAX_N {
        // Every pair with distinct t, enumerated anew on each pass of the selection.
        let pair_slopes = PairSlopes { t: &t, y: &y };
        // Rank positions of Sen's interval: the ((N − C)/2)-th and ((N + C)/2 + 1)-th
        // ordered slopes (1-based), C = z·σ_S, rounded like scipy (half to even).
        let c = z * var_s.max(0.0).sqrt();
        median_and_ci(&pair_slopes, |m| {
            let lo = ((m - c) / 2.0).round_ties_even() - 1.0;
            let hi = ((m + c) / 2.0).round_ties_even();
            (lo, hi)
        })?
    } else {
        let slopes = SampledPairSlopes {
            t: &t,
            y: &y,
            count: THEIL_SEN_SAMPLED_PAIRS,
        };
        // Rank uncertainty of the true slope (σ_S/2) plus that of a sample quantile
        // (N/(2√M)), both in ranks among the N slopes, turned into sample positions.
        median_and_ci(&slopes, |m| {
            let c = z * (var_s.max(0.0) + pairs * pairs / m).sqrt();
            let q_lo = (pairs - c) / (2.0 * pairs);
            let q_hi = (pairs + c) / (2.0 * pairs);
            (
                (q_lo * m).round_ties_even() - 1.0,
                (q_hi * m).round_ties_even(),
            )
        })?
    };
    if !slope.is_finite() {
        return None;
    }
    let mut residual: Vec<f64> = t.iter().zip(&y).map(|(a, b)| b - slope * a).collect();
    let intercept = stats::median(&mut residual)?;
    Some(TheilSen {
        slope,
        intercept,
        slope_ci,
        n,
    })
}

/// Mann–Kendall test with the Hamed & Rao correction, lags chosen by
/// [`AcfLags::Contiguous`]. Non-finite values are skipped. `None` with fewer than 3 values.
///
/// Cost: O(n log n) for S, O(n · L) for the correction (L = leading significant lags) and
/// a Theil–Sen fit for the detrending; pass a reduced series (≤ ~5000 points).
pub fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    mann_kendall_with(y, AcfLags::Contiguous)
}

/// [`mann_kendall`] with a choice of which autocorrelation lags enter the correction.
pub fn mann_kendall_with(y: &[f64], lags: AcfLags) -> Option<MannKendall> {
    let y: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    let n = y.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let all_pairs = nf * (nf - 1.0) / 2.0;

    // S = concordant − discordant. Discordant pairs are the strict inversions, tied pairs
    // neither, so concordant = all − discordant − tied.
    let ties = tie_groups(&y);
    let tied_pairs: f64 = ties.iter().map(|&g| g * (g - 1.0) / 2.0).sum();
    let discordant = count_strict_inversions(&y) as f64;
    let s = all_pairs - discordant - tied_pairs - discordant;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_sum(&ties)) / 18.0;
    let tau = s / all_pairs;

    let factor = hamed_rao_factor(&y, lags);
    let var_s_corrected = var_s * factor;
    // Continuity correction: S moves in steps of 2, so test |S| − 1.
    let z = if var_s_corrected > 0.0 {
        if s > 0.0 {
            (s - 1.0) / var_s_corrected.sqrt()
        } else if s < 0.0 {
            (s + 1.0) / var_s_corrected.sqrt()
        } else {
            0.0
        }
    } else {
        // Every value equal: no evidence of anything.
        0.0
    };
    let p_value = (2.0 * Normal::standard().sf(z.abs())).clamp(0.0, 1.0);
    Some(MannKendall {
        s,
        var_s,
        var_s_corrected,
        z,
        p_value,
        tau,
        n,
        n_over_n_star: factor,
    })
}

/// Hamed & Rao (1998) n/n*: autocorrelation of the ranks of the series detrended by its
/// Theil–Sen slope, significant lags only, floored at 1.
fn hamed_rao_factor(y: &[f64], lags: AcfLags) -> f64 {
    let n = y.len();
    let nf = n as f64;
    let index: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let slope = theil_sen(&index, y).map_or(0.0, |fit| fit.slope);
    let detrended: Vec<f64> = y.iter().zip(&index).map(|(v, i)| v - slope * i).collect();
    let mut ranks = average_ranks(&detrended);
    let mean = ranks.iter().sum::<f64>() / nf;
    for r in &mut ranks {
        *r -= mean;
    }
    let denom: f64 = ranks.iter().map(|r| r * r).sum();
    if denom <= 0.0 {
        return 1.0;
    }
    let bound = Normal::standard().inverse_cdf(0.975) / nf.sqrt();
    let acf = |k: usize| -> f64 {
        ranks[..n - k]
            .iter()
            .zip(&ranks[k..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / denom
    };
    let weight = |k: usize| {
        let m = (n - k) as f64;
        m * (m - 1.0) * (m - 2.0)
    };
    let mut sum = 0.0;
    // Weights vanish from lag n−2 on.
    for k in 1..n.saturating_sub(2) {
        let rho = acf(k);
        if rho.abs() > bound {
            sum += weight(k) * rho;
        } else if lags == AcfLags::Contiguous {
            break;
        }
    }
    let factor = 1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum;
    if factor.is_finite() {
        factor.max(1.0)
    } else {
        1.0
    }
}

/// Median of the slopes and the values at two 0-based rank positions (clamped into range),
/// which `positions(m)` gives from the number of slopes `m`. The slopes are streamed, never
/// stored: a million of them would be 8 MB.
fn median_and_ci(
    slopes: &impl Replay,
    positions: impl Fn(f64) -> (f64, f64),
) -> Option<(f64, [f64; 2])> {
    let picked = stats::select_ranks(slopes, |m| {
        let (lo, hi) = positions(m as f64);
        let last = (m - 1) as f64;
        let clamp = |p: f64| p.clamp(0.0, last) as usize;
        vec![clamp(lo), (m - 1) / 2, m / 2, clamp(hi)]
    })?;
    let p = picked.values;
    Some(((p[1] + p[2]) / 2.0, [p[0], p[3]]))
}

/// The slope of every pair of points with distinct t, i < j in order.
struct PairSlopes<'a> {
    t: &'a [f64],
    y: &'a [f64],
}

impl Replay for PairSlopes<'_> {
    fn replay(&self, each: &mut impl FnMut(f64)) {
        let (t, y) = (self.t, self.y);
        for i in 0..t.len() {
            for j in i + 1..t.len() {
                let dt = t[j] - t[i];
                if dt != 0.0 {
                    // `+ 0.0` makes −0.0 (equal values, dt < 0) the same 0.0 as every
                    // other tie, so the mass of zero slopes is one value to the selection.
                    each((y[j] - y[i]) / dt + 0.0);
                }
            }
        }
    }

    /// The pairs with distinct t (two finite times differ by exactly 0 only when equal),
    /// and the slopes of random such pairs.
    fn count_and_sample(&self) -> Option<(usize, Vec<f64>)> {
        let n = self.t.len();
        let tied: usize = tie_groups(self.t)
            .iter()
            .map(|&g| (g * (g - 1.0) / 2.0) as usize)
            .sum();
        let count = (n * n.saturating_sub(1) / 2).checked_sub(tied)?;
        let sampled = SampledPairSlopes {
            t: self.t,
            y: self.y,
            count: stats::SAMPLE_MAX.min(count),
        };
        let mut sample = Vec::with_capacity(sampled.count);
        sampled.replay_with_seed(PAIR_SEED ^ 1, &mut |v| sample.push(v));
        Some((count, sample))
    }
}

/// Slopes of up to `count` uniformly drawn pairs with distinct t (fixed seed, so every
/// pass over them draws the same pairs).
struct SampledPairSlopes<'a> {
    t: &'a [f64],
    y: &'a [f64],
    count: usize,
}

impl SampledPairSlopes<'_> {
    fn replay_with_seed(&self, seed: u64, each: &mut impl FnMut(f64)) {
        let n = self.t.len() as u64;
        let mut rng = SplitMix64(seed);
        let mut left = self.count;
        // Bounded, in case nearly all t are equal.
        let mut draws_left = self.count.saturating_mul(8);
        while left > 0 && draws_left > 0 {
            draws_left -= 1;
            let i = rng.below(n) as usize;
            let j = rng.below(n) as usize;
            let dt = self.t[j] - self.t[i];
            if dt != 0.0 {
                left -= 1;
                // Equal values over a negative dt give −0.0: made 0.0 (see PairSlopes).
                each((self.y[j] - self.y[i]) / dt + 0.0);
            }
        }
    }
}

impl Replay for SampledPairSlopes<'_> {
    fn replay(&self, each: &mut impl FnMut(f64)) {
        self.replay_with_seed(PAIR_SEED, each);
    }

    /// `count` draws (checked by the selection: only when nearly every pair has equal t
    /// are there fewer), and the first of them, which are as random as any.
    fn count_and_sample(&self) -> Option<(usize, Vec<f64>)> {
        let mut sample = Vec::with_capacity(stats::SAMPLE_MAX.min(self.count));
        let first = SampledPairSlopes {
            count: stats::SAMPLE_MAX.min(self.count),
            ..*self
        };
        first.replay(&mut |v| sample.push(v));
        Some((self.count, sample))
    }
}

/// Sizes (as f64) of the groups of equal values that have at least two members.
fn tie_groups(v: &[f64]) -> Vec<f64> {
    let mut sorted = v.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > 1 {
            groups.push((j - i) as f64);
        }
        i = j;
    }
    groups
}

/// Σ g(g−1)(2g+5) over tie groups: what ties take off n(n−1)(2n+5) in Var(S).
fn tie_sum(groups: &[f64]) -> f64 {
    groups
        .iter()
        .map(|&g| g * (g - 1.0) * (2.0 * g + 5.0))
        .sum()
}

/// Number of pairs i < j with v[i] > v[j] (equal values are not inversions), by a
/// bottom-up merge sort: O(n log n).
fn count_strict_inversions(v: &[f64]) -> u64 {
    let n = v.len();
    let mut a = v.to_vec();
    let mut b = vec![0.0; n];
    let mut inversions = 0u64;
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                // Taking the left one on equality keeps ties from counting.
                if a[i] <= a[j] {
                    b[k] = a[i];
                    i += 1;
                } else {
                    b[k] = a[j];
                    j += 1;
                    inversions += (mid - i) as u64;
                }
                k += 1;
            }
            b[k..k + (mid - i)].copy_from_slice(&a[i..mid]);
            k += mid - i;
            b[k..k + (hi - j)].copy_from_slice(&a[j..hi]);
            lo = hi;
        }
        std::mem::swap(&mut a, &mut b);
        width *= 2;
    }
    inversions
}

/// 1-based ranks, ties getting the mean of their positions (scipy `rankdata` "average").
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share rank mean(i+1..=j).
        let rank = (i + j + 1) as f64 / 2.0;
        for &o in &order[i..j] {
            ranks[o] = rank;
        }
        i = j;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference series C: AR(1) φ = 0.8 plus 0.03/step, numpy default_rng(20240601),
    /// rounded to 2 decimals. Significant rank autocorrelation at lags 1–3 and 14–16.
    const SERIES_C: [f64; 40] = [
        0.65, 1.02, 0.21, -0.97, -0.87, 0.56, 1.84, 2.45, 2.38, 3.58, 4.18, 3.21, 1.60, 1.02, 0.51,
        1.21, -0.81, -0.72, 1.23, 0.20, -0.45, -0.30, -1.50, -1.17, -0.78, -0.46, -1.17, -1.12,
        -0.05, -0.56, 0.31, 1.11, -0.32, -0.68, 0.34, 1.00, 1.22, 0.87, 1.06, 2.98,
    ];

    /// Reference series D: AR(1) φ = 0.6 plus 0.06/step, numpy default_rng(99), rounded.
    const SERIES_D: [f64; 60] = [
        0.08, -0.35, -0.08, 0.75, -1.18, 1.13, 0.40, -0.15, -0.91, 0.64, 1.33, 2.34, 2.62, 2.19,
        2.01, 2.54, 1.07, 1.04, 1.47, 0.92, 1.79, 1.26, 1.99, 1.93, 2.23, 0.46, 0.07, 2.07, 2.13,
        1.93, 2.88, 3.26, 2.71, 1.81, 3.90, 3.91, 1.67, 2.77, 3.38, 3.81, 2.88, 4.22, 2.83, 3.98,
        3.77, 5.08, 3.80, 4.14, 4.52, 3.60, 3.41, 2.89, 3.50, 4.09, 3.50, 3.80, 3.08, 2.73, 1.14,
        0.96,
    ];

    /// Series A: small integers with ties.
    const SERIES_A: [f64; 12] = [3.0, 4.0, 4.0, 5.0, 3.0, 6.0, 7.0, 6.0, 8.0, 8.0, 9.0, 7.0];

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    fn index(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    /// Standard normal deviates (Box–Muller over SplitMix64), deterministic.
    fn normals(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = SplitMix64(seed);
        let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (0..n)
            .map(|_| {
                let u = uniform().max(f64::MIN_POSITIVE);
                let v = uniform();
                (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
            })
            .collect()
    }

    fn ar1(seed: u64, n: usize, phi: f64) -> Vec<f64> {
        let e = normals(seed, n);
        let mut x = Vec::with_capacity(n);
        let mut prev = e[0] / (1.0 - phi * phi).sqrt();
        x.push(prev);
        for v in &e[1..] {
            prev = phi * prev + v;
            x.push(prev);
        }
        x
    }

    #[test]
    fn mann_kendall_worked_example_by_hand() {
        // y = 1, 3, 2, 2, 5. Pairs (earlier, later): from 1: +,+,+,+; from 3: −,−,+;
        // from the first 2: 0 (tie), +; from the second 2: +. S = 7 − 2 = 5.
        // One tie group of 2: Var S = (5·4·15 − 2·1·9)/18 = 282/18 = 15.6667.
        // z = (5 − 1)/√15.6667 = 1.01058; tau = 5/10. pymannkendall 1.4.3 original_test
        // gives the same (p = 0.312216).
        let mk = mann_kendall_with(&[1.0, 3.0, 2.0, 2.0, 5.0], AcfLags::AllSignificant).unwrap();
        assert_eq!(mk.s, 5.0);
        assert!(close(mk.var_s, 282.0 / 18.0, 1e-12));
        assert_eq!(mk.tau, 0.5);
        // Five points: no lag autocorrelation can pass 1.96/√5 = 0.88 here.
        assert_eq!(mk.n_over_n_star, 1.0);
        assert!(close(mk.z, 4.0 / (282.0f64 / 18.0).sqrt(), 1e-12));
        assert!(
            close(mk.p_value, 0.3122163883433191, 1e-9),
            "{}",
            mk.p_value
        );
    }

    #[test]
    fn mann_kendall_matches_pymannkendall_original_test() {
        // pymannkendall 1.4.3 `original_test(x)`: (s, var_s, z, p, Tau).
        let cases: [(&[f64], [f64; 5]); 3] = [
            (
                &SERIES_A,
                [
                    47.0,
                    207.66666666666666,
                    3.1920849142086523,
                    0.0014124980116063668,
                    0.7121212121212122,
                ],
            ),
            (
                &SERIES_C,
                [
                    -64.0,
                    7364.666666666667,
                    -0.7341148376872967,
                    0.46287875117403354,
                    -0.08205128205128205,
                ],
            ),
            (
                &SERIES_D,
                [
                    934.0,
                    24579.333333333332,
                    5.951091038912013,
                    2.6636086669640235e-09,
                    0.5276836158192091,
                ],
            ),
        ];
        for (y, [s, var_s, z, p, tau]) in cases {
            let mk = mann_kendall(y).unwrap();
            assert_eq!(mk.s, s);
            assert!(close(mk.var_s, var_s, 1e-12));
            assert!(close(mk.tau, tau, 1e-12));
            // Uncorrected z and p from the uncorrected variance.
            let z0 = (s - s.signum()) / var_s.sqrt();
            assert!(close(z0, z, 1e-12));
            let p0 = 2.0 * Normal::standard().sf(z0.abs());
            assert!(close(p0, p, 1e-6), "{p0} vs {p}");
        }
    }

    #[test]
    fn hamed_rao_matches_pymannkendall() {
        // pymannkendall 1.4.3 `hamed_rao_modification_test(x)` (every significant lag):
        // (var_s corrected, z, p).
        let mk = mann_kendall_with(&SERIES_C, AcfLags::AllSignificant).unwrap();
        assert!(
            close(mk.var_s_corrected, 21956.996913056744, 1e-9),
            "{mk:?}"
        );
        assert!(close(mk.z, -0.4251616453166119, 1e-9));
        assert!(close(mk.p_value, 0.6707188419810586, 1e-9));
        // Same function with lag=3: lags 1..3 are C's leading significant ones, which is
        // what the contiguous rule keeps (lags 14–16 are dropped).
        let mk = mann_kendall(&SERIES_C).unwrap();
        assert!(close(mk.var_s_corrected, 25985.63449330047, 1e-9), "{mk:?}");
        assert!(close(mk.z, -0.3908173959874646, 1e-9));
        assert!(close(mk.p_value, 0.6959322154752903, 1e-9));
        assert!(close(
            mk.n_over_n_star,
            25985.63449330047 / 7364.666666666667,
            1e-9
        ));
        // D: only lag 1 is significant, so both rules agree (default and lag=1 both give
        // var_s 42296.156411040094, z 4.5366073496512165, p 5.716639698283288e-06).
        for lags in [AcfLags::AllSignificant, AcfLags::Contiguous] {
            let mk = mann_kendall_with(&SERIES_D, lags).unwrap();
            assert!(
                close(mk.var_s_corrected, 42296.156411040094, 1e-9),
                "{mk:?}"
            );
            assert!(close(mk.z, 4.5366073496512165, 1e-9));
            assert!(close(mk.p_value, 5.716639698283288e-06, 1e-6));
        }
    }

    #[test]
    fn theil_sen_matches_scipy() {
        // scipy 1.17.1 `stats.theilslopes(y, x, 0.95, method='joint')`:
        // (slope, intercept, low_slope, high_slope). scipy's third argument is the
        // confidence degree (0.95 → a 95% interval), its interval is Sen's (1968) with the
        // variance of S reduced for ties in both x and y, and 'joint' is median(y − b·x).
        let t_b = [
            0.0, 1.0, 1.0, 2.5, 3.0, 4.0, 6.0, 7.0, 7.5, 9.0, 10.0, 12.0, 13.0, 13.5, 15.0,
        ];
        let y_b = [
            10.0, 10.4, 9.8, 11.1, 10.9, 11.6, 12.9, 12.2, 13.4, 14.1, 13.8, 15.3, 16.0, 15.2, 16.9,
        ];
        let cases: [(Vec<f64>, &[f64], [f64; 4]); 4] = [
            (
                index(12),
                &SERIES_A,
                [
                    0.5277777777777778,
                    3.3055555555555554,
                    0.3333333333333333,
                    0.6666666666666666,
                ],
            ),
            (
                // Non-uniform t with a tie (t = 1 twice): that pair is not a slope.
                t_b.to_vec(),
                &y_b,
                [
                    0.4607692307692308,
                    9.93923076923077,
                    0.39999999999999974,
                    0.49999999999999983,
                ],
            ),
            (
                index(40),
                &SERIES_C,
                [
                    -0.013582887700534757,
                    0.6750802139037433,
                    -0.05642857142857143,
                    0.021999999999999974,
                ],
            ),
            (
                index(60),
                &SERIES_D,
                [
                    0.06456439393939395,
                    0.3244791666666662,
                    0.050333333333333334,
                    0.08,
                ],
            ),
        ];
        for (t, y, [slope, intercept, lo, hi]) in cases {
            let fit = theil_sen(&t, y).unwrap();
            assert!(close(fit.slope, slope, 1e-12), "{fit:?}");
            assert!(close(fit.intercept, intercept, 1e-12), "{fit:?}");
            assert!(close(fit.slope_ci[0], lo, 1e-12), "{fit:?}");
            assert!(close(fit.slope_ci[1], hi, 1e-12), "{fit:?}");
            assert_eq!(fit.n, y.len());
        }
        // pymannkendall 1.4.3 `sens_slope` agrees on the slope (its intercept is defined
        // differently): A 0.5277777777777778, C -0.013582887700534757.
    }

    #[test]
    fn s_from_merge_sort_equals_pair_count_with_many_ties() {
        // Thread/FD-like integer staircases: values 0..5, so most pairs are ties.
        let mut rng = SplitMix64(7);
        for n in [3usize, 4, 17, 64, 257, 1000] {
            let y: Vec<f64> = (0..n)
                .map(|i| (rng.below(6) + (i / 300) as u64) as f64)
                .collect();
            let mut s = 0.0;
            for i in 0..n {
                for j in i + 1..n {
                    s += (y[j] - y[i]).signum() * f64::from(u8::from(y[j] != y[i]));
                }
            }
            assert_eq!(mann_kendall(&y).unwrap().s, s, "n = {n}");
        }
    }

    #[test]
    fn degenerate_inputs() {
        assert!(mann_kendall(&[1.0, 2.0]).is_none());
        assert!(mann_kendall(&[f64::NAN, 1.0, f64::INFINITY, 2.0]).is_none());
        let flat = mann_kendall(&[4.0; 50]).unwrap();
        assert_eq!(
            (flat.s, flat.z, flat.p_value, flat.var_s),
            (0.0, 0.0, 1.0, 0.0)
        );
        // Non-finite values are skipped, not propagated.
        let mk = mann_kendall(&[1.0, f64::NAN, 3.0, 2.0, 2.0, f64::NEG_INFINITY, 5.0]).unwrap();
        assert_eq!((mk.s, mk.n), (5.0, 5));
        // A perfect line: ranks of the detrended series are all tied.
        let line = mann_kendall(&index(100)).unwrap();
        assert_eq!(line.s, 4950.0);
        assert_eq!(line.n_over_n_star, 1.0);
        assert!(line.p_value < 1e-12);

        assert!(theil_sen(&[1.0], &[1.0]).is_none());
        assert!(theil_sen(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]).is_none());
        assert!(theil_sen(&[0.0, f64::NAN, 2.0], &[0.0, 5.0, f64::INFINITY]).is_none());
        let fit = theil_sen(&[0.0, 1.0, f64::NAN, 2.0], &[1.0, 3.0, 9.0, 5.0]).unwrap();
        assert_eq!((fit.slope, fit.intercept, fit.n), (2.0, 1.0, 3));
        // A flat staircase-free constant: slope 0, interval collapsed on it.
        let fit = theil_sen(&index(30), &[7.0; 30]).unwrap();
        assert_eq!((fit.slope, fit.slope_ci), (0.0, [0.0, 0.0]));
    }

    #[test]
    fn outliers_do_not_move_theil_sen() {
        // 1 MB/min leak at 1 Hz with five 200 MB spikes: least squares would tilt.
        let t = index(600);
        let mut y: Vec<f64> = t.iter().map(|x| 100e6 + 1e6 / 60.0 * x).collect();
        for i in [50, 51, 300, 580, 599] {
            y[i] += 200e6;
        }
        let fit = theil_sen(&t, &y).unwrap();
        assert!(close(fit.slope, 1e6 / 60.0, 1e-9), "{fit:?}");
        assert!(close(fit.intercept, 100e6, 1e-9));
    }

    #[test]
    fn sampled_theil_sen_is_within_its_stated_error() {
        // n above the exact limit: the estimate's rank among all N slopes, counted by brute
        // force, must be within 6 sampling standard deviations (N/(2√M)) of N/2.
        let n = 5000;
        assert!(n > THEIL_SEN_EXACT_MAX_N);
        let t = index(n);
        let noise = normals(11, n);
        let y: Vec<f64> = t
            .iter()
            .zip(&noise)
            .map(|(x, e)| 0.01 * x + 5.0 * e)
            .collect();
        let fit = theil_sen(&t, &y).unwrap();
        let rank_fraction = |s: f64| {
            let (mut below, mut all) = (0u64, 0u64);
            for i in 0..n {
                for j in i + 1..n {
                    all += 1;
                    below += u64::from((y[j] - y[i]) / (t[j] - t[i]) < s);
                }
            }
            below as f64 / all as f64
        };
        let sd = 0.5 / (THEIL_SEN_SAMPLED_PAIRS as f64).sqrt();
        let q = rank_fraction(fit.slope);
        assert!((q - 0.5).abs() < 6.0 * sd, "rank fraction {q}");
        // The interval sits at Sen's rank fractions, widened by the sampling error.
        let nf = n as f64;
        let pairs = nf * (nf - 1.0) / 2.0;
        let var_s = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
        let half = 1.959963984540054
            * (var_s + pairs * pairs / THEIL_SEN_SAMPLED_PAIRS as f64).sqrt()
            / (2.0 * pairs);
        let q_lo = rank_fraction(fit.slope_ci[0]);
        let q_hi = rank_fraction(fit.slope_ci[1]);
        assert!(
            (q_lo - (0.5 - half)).abs() < 6.0 * sd,
            "{q_lo} vs {}",
            0.5 - half
        );
        assert!(
            (q_hi - (0.5 + half)).abs() < 6.0 * sd,
            "{q_hi} vs {}",
            0.5 + half
        );
        assert!(fit.slope_ci[0] < 0.01 && 0.01 < fit.slope_ci[1], "{fit:?}");
    }

    #[test]
    fn autocorrelated_noise_is_not_a_trend_after_hamed_rao() {
        // Trend-free AR(1), φ = 0.95, n = 2000 (fixed seed): the plain test sees a "trend"
        // in the slow wander, the corrected one does not.
        let y = ar1(2024, 2000, 0.95);
        let mk = mann_kendall(&y).unwrap();
        let z0 = (mk.s - mk.s.signum()) / mk.var_s.sqrt();
        let p_uncorrected = 2.0 * Normal::standard().sf(z0.abs());
        assert!(p_uncorrected < 0.05, "uncorrected p {p_uncorrected}");
        assert!(mk.p_value > 0.05, "{mk:?}");
        assert!(mk.n_over_n_star > 10.0, "{mk:?}");
    }

    #[test]
    fn leading_lags_keep_false_alarms_far_below_the_all_lags_rule() {
        // 40 trend-free AR(1) series, φ = 0.9, n = 500: at 5% about 2 rejections are
        // expected. The paper's all-significant-lags rule lets far, noisy lags cancel the
        // real correlation and rejects far more often (see `AcfLags`).
        let rejections = |lags| {
            (0..40)
                .filter(|seed| {
                    mann_kendall_with(&ar1(1000 + seed, 500, 0.9), lags)
                        .unwrap()
                        .p_value
                        < 0.05
                })
                .count()
        };
        // With these seeds: 5 and 10 of 40.
        let contiguous = rejections(AcfLags::Contiguous);
        let all = rejections(AcfLags::AllSignificant);
        assert!(contiguous <= 6, "{contiguous} of 40 rejected");
        assert!(
            all >= 2 * contiguous,
            "all lags {all}, leading lags {contiguous}"
        );
    }

    #[test]
    fn a_real_trend_in_autocorrelated_noise_is_still_found() {
        // φ = 0.9 noise of standard deviation 2.3, plus a rise of 5 over 1000 steps.
        let y: Vec<f64> = ar1(5, 1000, 0.9)
            .iter()
            .enumerate()
            .map(|(i, e)| e + 0.005 * i as f64)
            .collect();
        let mk = mann_kendall(&y).unwrap();
        assert!(mk.p_value < 0.01, "{mk:?}");
        assert!(mk.n_over_n_star > 3.0, "{mk:?}");
        let fit = theil_sen(&index(1000), &y).unwrap();
        assert!(
            fit.slope_ci[0] < 0.005 && 0.005 < fit.slope_ci[1],
            "{fit:?}"
        );
    }
}
