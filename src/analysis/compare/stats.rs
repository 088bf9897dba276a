//! The statistics a comparison rests on: block means (so autocorrelated samples are not
//! counted as independent), Welch's t on them, the difference of two autocorrelation-
//! corrected slopes, Mann–Whitney on per-interval figures, two proportions, and a
//! seeded bootstrap of a ratio of medians. Every test is two-sided at 95%.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::rng::SplitMix64;

/// Fewest and most blocks a series is cut into for a block-means test.
pub const MIN_BLOCKS: usize = 4;
pub const MAX_BLOCKS: usize = 50;
/// Two-sided level of every test.
pub const ALPHA: f64 = 0.05;
/// Bootstrap resamples, and the most values resampled per side (longer inputs are first
/// reduced to medians of consecutive runs of values, which keeps their order's structure).
const BOOTSTRAP_RESAMPLES: usize = 999;
const BOOTSTRAP_MAX_VALUES: usize = 1000;

/// An estimated change (candidate − baseline, or a relative change), its 95% interval and
/// two-sided p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    pub estimate: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
}

impl Change {
    /// The interval excludes no change.
    pub fn significant(&self) -> bool {
        self.ci[0] > 0.0 || self.ci[1] < 0.0
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn variance(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// Lag-1 autocorrelation of the deviations from the mean (0 for a constant series).
pub fn lag1_autocorrelation(v: &[f64]) -> f64 {
    if v.len() < 3 {
        return 0.0;
    }
    let m = mean(v);
    let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
    if ss <= 0.0 {
        return 0.0;
    }
    let lag: f64 = v.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    lag / ss
}

/// Blocks span this many AR(1) decorrelation lengths (1 + r1) / (1 − r1). At twice, the
/// adjacent block means of an AR(1) with r1 = 0.9 are still correlated enough that the
/// 5% test rejected 14% of no-change pairs (tests_stats); at four, the level holds.
const BLOCK_LENGTH_FACTOR: f64 = 4.0;

/// How many blocks `v` is cut into: blocks [`BLOCK_LENGTH_FACTOR`] decorrelation lengths
/// long, so consecutive block means are close to independent; between
/// [`MIN_BLOCKS`] and [`MAX_BLOCKS`] (fewer when there are fewer values).
pub fn block_count(v: &[f64]) -> usize {
    if v.len() < MIN_BLOCKS {
        return v.len();
    }
    let r1 = lag1_autocorrelation(v).clamp(0.0, 0.99);
    let length = (BLOCK_LENGTH_FACTOR * (1.0 + r1) / (1.0 - r1))
        .ceil()
        .max(1.0) as usize;
    (v.len() / length).clamp(MIN_BLOCKS, MAX_BLOCKS.min(v.len()))
}

/// `v` cut into `blocks` consecutive runs of (nearly) equal length.
pub fn blocks<T>(v: &[T], blocks: usize) -> impl Iterator<Item = &[T]> {
    let n = v.len();
    (0..blocks).map(move |k| &v[k * n / blocks..(k + 1) * n / blocks])
}

/// The means of `v`'s blocks (see [`block_count`]).
pub fn block_means(v: &[f64]) -> Vec<f64> {
    blocks(v, block_count(v)).map(mean).collect()
}

fn students_t(dof: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, dof.max(1.0)).ok()
}

/// A change from an estimate, its standard error and degrees of freedom.
fn t_change(estimate: f64, se: f64, dof: f64) -> Option<Change> {
    if !estimate.is_finite() || !se.is_finite() {
        return None;
    }
    if se == 0.0 {
        let p_value = if estimate == 0.0 { 1.0 } else { 0.0 };
        return Some(Change {
            estimate,
            ci: [estimate, estimate],
            p_value,
        });
    }
    let dist = students_t(dof)?;
    let half = dist.inverse_cdf(1.0 - ALPHA / 2.0) * se;
    Some(Change {
        estimate,
        ci: [estimate - half, estimate + half],
        p_value: 2.0 * (1.0 - dist.cdf((estimate / se).abs())),
    })
}

/// Welch–Satterthwaite degrees of freedom of two variances of means.
fn welch_dof(var_a: f64, dof_a: f64, var_b: f64, dof_b: f64) -> f64 {
    let denominator = var_a * var_a / dof_a + var_b * var_b / dof_b;
    if denominator > 0.0 {
        (var_a + var_b).powi(2) / denominator
    } else {
        dof_a + dof_b
    }
}

/// Welch's t on block means: mean(candidate) − mean(baseline). `None` with fewer than two
/// blocks on a side.
pub fn welch(baseline: &[f64], candidate: &[f64]) -> Option<Change> {
    let (na, nb) = (baseline.len() as f64, candidate.len() as f64);
    if na < 2.0 || nb < 2.0 {
        return None;
    }
    let va = variance(baseline) / na;
    let vb = variance(candidate) / nb;
    t_change(
        mean(candidate) - mean(baseline),
        (va + vb).sqrt(),
        welch_dof(va, na - 1.0, vb, nb - 1.0),
    )
}

/// Welch's t on block means for the relative change mean(candidate) / mean(baseline) − 1,
/// its standard error by the delta method. `None` when the baseline's mean is not positive.
pub fn welch_relative(baseline: &[f64], candidate: &[f64]) -> Option<Change> {
    let (na, nb) = (baseline.len() as f64, candidate.len() as f64);
    if na < 2.0 || nb < 2.0 {
        return None;
    }
    let (ma, mb) = (mean(baseline), mean(candidate));
    if ma <= 0.0 {
        return None;
    }
    let va = variance(baseline) / na;
    let vb = variance(candidate) / nb;
    let ratio = mb / ma;
    // Var(mb/ma) ≈ ratio² (va/ma² + vb/mb²); written without dividing by mb (which may be 0).
    let var_ratio = (ratio * ratio * va + vb) / (ma * ma);
    let (wa, wb) = (ratio * ratio * va / (ma * ma), vb / (ma * ma));
    t_change(
        ratio - 1.0,
        var_ratio.sqrt(),
        welch_dof(wa, na - 1.0, wb, nb - 1.0),
    )
}

/// The standard error behind a slope's 95% interval: its half-width over the Student t
/// quantile on n_eff − 2 degrees of freedom, as `fit_linear` built it.
fn slope_se(ci: [f64; 2], n_effective: f64) -> Option<(f64, f64)> {
    let half = (ci[1] - ci[0]) / 2.0;
    if !half.is_finite() || half < 0.0 {
        return None;
    }
    let dof = (n_effective - 2.0).max(1.0);
    Some((half / students_t(dof)?.inverse_cdf(1.0 - ALPHA / 2.0), dof))
}

/// Candidate slope − baseline slope, its interval combining the two autocorrelation-
/// corrected intervals (standard errors in quadrature, Welch–Satterthwaite dof). `None`
/// when either interval is unbounded.
pub fn slope_difference(
    baseline: f64,
    baseline_ci: [f64; 2],
    baseline_n_effective: f64,
    candidate: f64,
    candidate_ci: [f64; 2],
    candidate_n_effective: f64,
) -> Option<Change> {
    let (se_a, dof_a) = slope_se(baseline_ci, baseline_n_effective)?;
    let (se_b, dof_b) = slope_se(candidate_ci, candidate_n_effective)?;
    let (va, vb) = (se_a * se_a, se_b * se_b);
    t_change(
        candidate - baseline,
        (va + vb).sqrt(),
        welch_dof(va, dof_a, vb, dof_b),
    )
}

/// Two-sided p-value of the Mann–Whitney U test (normal approximation with the tie
/// correction and a continuity correction). `None` when a side is empty.
pub fn mann_whitney_p(baseline: &[f64], candidate: &[f64]) -> Option<f64> {
    let (n1, n2) = (baseline.len(), candidate.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = baseline
        .iter()
        .map(|&x| (x, false))
        .chain(candidate.iter().map(|&x| (x, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len() as f64;
    let (mut rank_sum_b, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1..=j+1 share their mean.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let ties = (j - i + 1) as f64;
        tie_term += ties * ties * ties - ties;
        rank_sum_b += rank * all[i..=j].iter().filter(|v| v.1).count() as f64;
        i = j + 1;
    }
    let (n1, n2) = (n1 as f64, n2 as f64);
    let u = rank_sum_b - n2 * (n2 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)).max(1.0));
    if var <= 0.0 {
        return Some(1.0);
    }
    let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
    let normal = Normal::standard();
    Some((2.0 * (1.0 - normal.cdf(z))).min(1.0))
}

/// Two proportions (errors of requests): candidate rate − baseline rate, its Wald interval,
/// and the pooled z test's two-sided p-value. `None` when a side made no requests.
pub fn two_proportion(
    baseline_x: u64,
    baseline_n: u64,
    candidate_x: u64,
    candidate_n: u64,
) -> Option<Change> {
    if baseline_n == 0 || candidate_n == 0 {
        return None;
    }
    let (x1, n1, x2, n2) = (
        baseline_x as f64,
        baseline_n as f64,
        candidate_x as f64,
        candidate_n as f64,
    );
    let (p1, p2) = (x1 / n1, x2 / n2);
    let estimate = p2 - p1;
    let pooled = (x1 + x2) / (n1 + n2);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p_value = if se_pooled > 0.0 {
        2.0 * (1.0 - Normal::standard().cdf((estimate / se_pooled).abs()))
    } else if estimate == 0.0 {
        1.0
    } else {
        0.0
    };
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let z = Normal::standard().inverse_cdf(1.0 - ALPHA / 2.0);
    Some(Change {
        estimate,
        ci: [estimate - z * se, estimate + z * se],
        p_value,
    })
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// At most [`BOOTSTRAP_MAX_VALUES`] values: medians of consecutive runs.
fn reduced(v: &[f64]) -> Vec<f64> {
    if v.len() <= BOOTSTRAP_MAX_VALUES {
        return v.to_vec();
    }
    blocks(v, BOOTSTRAP_MAX_VALUES)
        .map(|b| median_in_place(&mut b.to_vec()))
        .collect()
}

/// 95% percentile-bootstrap interval of median(candidate) / median(baseline) − 1, each side
/// resampled with replacement; seeded, so the same runs give the same interval. `None`
/// when a side is empty or the baseline's medians are not positive.
pub fn bootstrap_median_ratio(baseline: &[f64], candidate: &[f64], seed: u64) -> Option<[f64; 2]> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let (a, b) = (reduced(baseline), reduced(candidate));
    let mut rng = SplitMix64(seed);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for x in &mut ra {
            *x = a[rng.below(a.len() as u64) as usize];
        }
        for x in &mut rb {
            *x = b[rng.below(b.len() as u64) as usize];
        }
        let ma = median_in_place(&mut ra);
        if ma <= 0.0 {
            return None;
        }
        ratios.push(median_in_place(&mut rb) / ma - 1.0);
    }
    ratios.sort_by(f64::total_cmp);
    let at =
        |q: f64| ratios[((q * (ratios.len() - 1) as f64).round() as usize).min(ratios.len() - 1)];
    Some([at(ALPHA / 2.0), at(1.0 - ALPHA / 2.0)])
}
