//! Tests of the comparison's statistics.

use super::stats::*;
use crate::rng::SplitMix64;

fn ar1(n: usize, phi: f64, sd: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64(seed);
    let mut x = 0.0;
    (0..n)
        .map(|_| {
            // Sum of uniforms: near-normal, deterministic.
            let e: f64 = (0..12).map(|_| rng.unit_f64()).sum::<f64>() - 6.0;
            x = phi * x + e * sd;
            x
        })
        .collect()
}

#[test]
fn block_means_of_autocorrelated_noise_are_few() {
    let white = ar1(600, 0.0, 1.0, 1);
    let red = ar1(600, 0.9, 1.0, 1);
    let white_blocks = block_means(&white);
    let red_blocks = block_means(&red);
    assert!(white_blocks.len() >= 40, "{}", white_blocks.len());
    assert!(
        red_blocks.len() < white_blocks.len() / 2,
        "{}",
        red_blocks.len()
    );
    assert!(red_blocks.len() >= MIN_BLOCKS);
}

#[test]
fn welch_on_block_means_keeps_its_level_under_autocorrelation() {
    // Same AR(1) process, different seeds: the 5% test rejects about 5-7% of the pairs
    // (measured: 5.7%, 7.4%, 7.3% of 2000 at r1 = 0, 0.5, 0.9), where raw samples would
    // reject most of them at r1 = 0.9.
    for phi in [0.0, 0.5, 0.9] {
        let rejected = (0..1000u64)
            .filter(|seed| {
                let a = block_means(&ar1(600, phi, 1.0, seed * 2 + 1));
                let b = block_means(&ar1(600, phi, 1.0, seed * 2 + 2));
                welch(&a, &b).unwrap().significant()
            })
            .count();
        assert!(
            rejected <= 90,
            "r1 {phi}: {rejected} of 1000 rejected at 5%"
        );
    }
    let raw_rejected = (0..100u64)
        .filter(|seed| {
            let a = ar1(600, 0.9, 1.0, seed * 2 + 1);
            let b = ar1(600, 0.9, 1.0, seed * 2 + 2);
            welch(&a, &b).unwrap().significant()
        })
        .count();
    assert!(raw_rejected > 30, "raw samples: {raw_rejected} of 100");
    // A step of one standard deviation of the process is found.
    let a = block_means(&ar1(600, 0.9, 1.0, 7));
    let b: Vec<f64> = block_means(&ar1(600, 0.9, 1.0, 8))
        .iter()
        .map(|x| x + 3.0)
        .collect();
    let w = welch(&a, &b).unwrap();
    assert!(w.ci[0] > 0.0, "{w:?}");
}

#[test]
fn slope_difference_combines_the_intervals() {
    // Two slopes with 95% half-widths of 1 (on many effective points): the difference's
    // half-width is about sqrt(2).
    let d = slope_difference(2.0, [1.0, 3.0], 1000.0, 5.0, [4.0, 6.0], 1000.0).unwrap();
    assert!((d.estimate - 3.0).abs() < 1e-12);
    let half = (d.ci[1] - d.ci[0]) / 2.0;
    assert!((half - 2f64.sqrt()).abs() < 0.01, "{half}");
    assert!(d.significant());
    // An infinite interval on either side is never significant.
    let d = slope_difference(
        0.0,
        [0.0, 0.0],
        100.0,
        5.0,
        [f64::NEG_INFINITY, f64::INFINITY],
        3.0,
    );
    assert!(d.is_none_or(|d| !d.significant()));
}

#[test]
fn mann_whitney_separates_shifted_samples_only() {
    let a: Vec<f64> = (0..30).map(|i| (i % 7) as f64).collect();
    let same: Vec<f64> = (0..30).map(|i| ((i + 3) % 7) as f64).collect();
    let shifted: Vec<f64> = a.iter().map(|x| x + 4.0).collect();
    assert!(mann_whitney_p(&a, &same).unwrap() > 0.2);
    assert!(mann_whitney_p(&a, &shifted).unwrap() < 1e-4);
    assert_eq!(mann_whitney_p(&a, &[]), None);
}

#[test]
fn two_proportions() {
    // 1% of 10 000 against 3% of 10 000: clearly different.
    let t = two_proportion(100, 10_000, 300, 10_000).unwrap();
    assert!((t.estimate - 0.02).abs() < 1e-12);
    assert!(t.p_value < 1e-10);
    assert!(t.ci[0] > 0.015 && t.ci[1] < 0.025, "{t:?}");
    let same = two_proportion(100, 10_000, 104, 10_000).unwrap();
    assert!(same.p_value > 0.5);
    // No errors on either side: no difference, nothing significant.
    let none = two_proportion(0, 5000, 0, 5000).unwrap();
    assert_eq!(none.estimate, 0.0);
    assert_eq!(none.p_value, 1.0);
    assert_eq!(two_proportion(0, 0, 1, 10), None);
}

#[test]
fn bootstrap_ratio_of_medians_covers_the_shift() {
    let a: Vec<f64> = (0..60).map(|i| 10.0 + (i % 5) as f64).collect();
    let b: Vec<f64> = a.iter().map(|x| x * 1.3).collect();
    let ci = bootstrap_median_ratio(&a, &b, 42).unwrap();
    assert!(ci[0] <= 0.3 + 1e-9 && ci[1] >= 0.3 - 1e-9, "{ci:?}");
    assert!(ci[0] > 0.1, "{ci:?}");
}
