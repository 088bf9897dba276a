//! Least-squares trend with a confidence interval corrected for autocorrelation.
//!
//! Samples taken every second are strongly autocorrelated, so the textbook OLS interval
//! is far too narrow. We shrink the sample count to an effective size
//! n_eff = n (1 − r1) / (1 + r1), with r1 the lag-1 autocorrelation of the residuals
//! (the AR(1) variance inflation), and use a Student t with n_eff − 2 degrees of freedom.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A fitted line y = intercept + slope·t, with slope per second.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearFit {
    pub slope_per_s: f64,
    pub intercept: f64,
    /// 95% confidence interval of the slope, per second.
    pub slope_ci_per_s: [f64; 2],
    /// Two-sided p-value for "slope = 0", with the effective sample size.
    pub p_value: f64,
    pub r_squared: f64,
    pub n: usize,
    pub n_eff: f64,
    /// Lag-1 autocorrelation of the residuals.
    pub lag1_autocorrelation: f64,
}

impl LinearFit {
    pub fn value_at(&self, t: f64) -> f64 {
        self.intercept + self.slope_per_s * t
    }
}

/// Fit y over t. `None` with fewer than 3 points or when every t is the same.
pub fn fit_linear(t: &[f64], y: &[f64]) -> Option<LinearFit> {
    let n = t.len().min(y.len());
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mean_t = t[..n].iter().sum::<f64>() / nf;
    let mean_y = y[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let dt = t[i] - mean_t;
        let dy = y[i] - mean_y;
        sxx += dt * dt;
        sxy += dt * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_t;

    // Residuals: their sum of squares and lag-1 autocorrelation.
    let residual = |i: usize| y[i] - (intercept + slope * t[i]);
    let mut sse = 0.0;
    let mut lag1 = 0.0;
    let mut previous = residual(0);
    sse += previous * previous;
    for i in 1..n {
        let r = residual(i);
        sse += r * r;
        lag1 += r * previous;
        previous = r;
    }
    let r1 = if sse > 0.0 {
        (lag1 / sse).clamp(-0.99, 0.99)
    } else {
        0.0
    };
    // Only positive autocorrelation inflates the variance; negative is treated as none,
    // which keeps the interval conservative.
    let n_eff = if r1 > 0.0 {
        (nf * (1.0 - r1) / (1.0 + r1)).max(3.0)
    } else {
        nf
    };
    let r_squared = if syy > 0.0 { 1.0 - sse / syy } else { 1.0 };

    let dof = n_eff - 2.0;
    let se = if sse > 0.0 && dof > 0.0 {
        // Residual variance with n−2 dof, scaled by n/n_eff for the autocorrelation.
        (sse / (nf - 2.0) / sxx * (nf / n_eff)).sqrt()
    } else {
        0.0
    };
    let (half_width, p_value) = if se > 0.0 {
        match StudentsT::new(0.0, 1.0, dof.max(1.0)) {
            Ok(dist) => {
                let tq = dist.inverse_cdf(0.975);
                let p = 2.0 * (1.0 - dist.cdf((slope / se).abs()));
                (tq * se, p)
            }
            Err(_) => (f64::INFINITY, 1.0),
        }
    } else {
        // A perfect line: no uncertainty left.
        (0.0, if slope == 0.0 { 1.0 } else { 0.0 })
    };
    Some(LinearFit {
        slope_per_s: slope,
        intercept,
        slope_ci_per_s: [slope - half_width, slope + half_width],
        p_value,
        r_squared,
        n,
        n_eff,
        lag1_autocorrelation: r1,
    })
}

/// Running least-squares slope for the live status line: constant memory, one update per
/// sample. Centred on the first point so large byte counts keep their precision.
#[derive(Clone, Debug, Default)]
pub struct OnlineSlope {
    origin: Option<(f64, f64)>,
    n: f64,
    mean_t: f64,
    mean_y: f64,
    co_moment: f64,
    t_moment: f64,
}

impl OnlineSlope {
    pub fn push(&mut self, t: f64, y: f64) {
        let (t0, y0) = *self.origin.get_or_insert((t, y));
        let (x, v) = (t - t0, y - y0);
        self.n += 1.0;
        let dx = x - self.mean_t;
        self.mean_t += dx / self.n;
        self.mean_y += (v - self.mean_y) / self.n;
        // Welford's update for the co-moment and the second moment of t.
        self.co_moment += dx * (v - self.mean_y);
        self.t_moment += dx * (x - self.mean_t);
    }

    /// Slope per second, once there are at least 3 points spread in time.
    pub fn slope_per_s(&self) -> Option<f64> {
        (self.n >= 3.0 && self.t_moment > 0.0).then(|| self.co_moment / self.t_moment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        // Worked example (computed by hand): t = 1..5, y = 2, 4, 5, 4, 5.
        // mean_t 3, mean_y 4, Sxx 10, Sxy 6 -> slope 0.6, intercept 2.2;
        // SSE = 2.4, SYY = 6 -> R² = 0.6. Residuals -0.8, 0.6, 1.0, -0.6, -0.2:
        // lag-1 sum = -0.48 - ... is negative, so n_eff = n = 5, se = sqrt(0.8/10) = 0.2828,
        // t(0.975, 3) = 3.1824 -> CI 0.6 ± 0.9001.
        let t = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        let fit = fit_linear(&t, &y).unwrap();
        assert!((fit.slope_per_s - 0.6).abs() < 1e-12);
        assert!((fit.intercept - 2.2).abs() < 1e-12);
        assert!((fit.r_squared - 0.6).abs() < 1e-12);
        assert_eq!(fit.n_eff, 5.0);
        assert!(
            (fit.slope_ci_per_s[0] - (0.6 - 0.9001)).abs() < 1e-3,
            "{:?}",
            fit.slope_ci_per_s
        );
        assert!((fit.slope_ci_per_s[1] - (0.6 + 0.9001)).abs() < 1e-3);
        // Two-sided p for t = 0.6/0.2828 = 2.1213 with 3 dof is 0.1240.
        assert!((fit.p_value - 0.1240).abs() < 1e-3, "{}", fit.p_value);
    }

    #[test]
    fn autocorrelation_widens_the_interval() {
        // A slow sine wave around a flat line: residuals strongly autocorrelated.
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let y: Vec<f64> = t.iter().map(|x| (x / 60.0).sin() * 10.0).collect();
        let fit = fit_linear(&t, &y).unwrap();
        assert!(fit.lag1_autocorrelation > 0.9);
        assert!(fit.n_eff < 30.0, "n_eff {}", fit.n_eff);
        assert!(fit.slope_ci_per_s[0] < 0.0 && fit.slope_ci_per_s[1] > 0.0);
    }

    #[test]
    fn too_few_points() {
        assert!(fit_linear(&[1.0, 2.0], &[1.0, 2.0]).is_none());
        assert!(fit_linear(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn online_matches_batch() {
        let t: Vec<f64> = (0..100).map(|i| i as f64 * 0.5).collect();
        let y: Vec<f64> = t
            .iter()
            .map(|x| 5e8 + 3e5 * x + (x * 7.0).sin() * 1e5)
            .collect();
        let mut online = OnlineSlope::default();
        for (a, b) in t.iter().zip(&y) {
            online.push(*a, *b);
        }
        let batch = fit_linear(&t, &y).unwrap().slope_per_s;
        let live = online.slope_per_s().unwrap();
        assert!((batch - live).abs() / batch < 1e-9, "{batch} vs {live}");
    }
}
