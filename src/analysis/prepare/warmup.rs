//! Warm-up: where fast early growth (a cache filling, a pool growing) settles into the
//! trend that is judged.

use super::clean;
use crate::analysis::stats::median;

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
    let y = y.into_cow();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prepare::test_series::*;

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
}
