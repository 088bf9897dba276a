//! The two baselines soakprof is compared with: (a) the endpoints' average rate, (b) the
//! users' Prometheus rule.

use super::{PROM_FOR_S, PROM_STEP_S, PROM_WINDOW_S};

/// Baseline (a): average rate from the first to the last sample above the fail threshold.
pub fn endpoints_fail(t: &[f64], y: &[f64], fail_per_min: f64) -> bool {
    let (Some((&t0, &y0)), Some((&t1, &y1))) = (t.first().zip(y.first()), t.last().zip(y.last()))
    else {
        return false;
    };
    t1 > t0 && (y1 - y0) / (t1 - t0) * 60.0 > fail_per_min
}

/// Baseline (b): firing state of `deriv(x[1h]) * 3600 > threshold for: 3h` at each whole
/// minute. Window sums are kept exactly in i128 (ms × bytes fits easily), so sliding the
/// window never drifts and each step is O(samples entering + leaving).
pub fn prometheus_alert(t: &[f64], y: &[f64], threshold_per_h: f64) -> Vec<(f64, bool)> {
    let n = t.len().min(y.len());
    let mut out = Vec::new();
    let (Some(&first_t), Some(&last_t)) = (t.first(), t[..n].last()) else {
        return out;
    };
    let ms = |x: f64| (x * 1000.0).round() as i128;
    let val = |x: f64| x.round() as i128;
    let (mut lo, mut hi) = (0usize, 0usize);
    let (mut st, mut sy, mut stt, mut sty) = (0i128, 0i128, 0i128, 0i128);
    let mut active_since: Option<f64> = None;
    let mut minute = 1u64;
    loop {
        let eval = minute as f64 * PROM_STEP_S;
        if eval > last_t + 1e-9 {
            break;
        }
        // Window (eval − 1 h, eval], as Prometheus 3 selects a range.
        while hi < n && t[hi] <= eval {
            let (a, b) = (ms(t[hi]), val(y[hi]));
            (st, sy, stt, sty) = (st + a, sy + b, stt + a * a, sty + a * b);
            hi += 1;
        }
        while lo < hi && t[lo] <= eval - PROM_WINDOW_S {
            let (a, b) = (ms(t[lo]), val(y[lo]));
            (st, sy, stt, sty) = (st - a, sy - b, stt - a * a, sty - a * b);
            lo += 1;
        }
        // "Growth over the last hour" needs an hour of data; Prometheus would evaluate a
        // partial window at the start of a series (see the header).
        let full_window = first_t <= eval - PROM_WINDOW_S;
        let count = (hi - lo) as i128;
        let sxx = count * stt - st * st;
        let condition = full_window
            && count >= 2
            && sxx > 0
            && (count * sty - st * sy) as f64 / sxx as f64 * 3.6e6 > threshold_per_h;
        if condition {
            active_since.get_or_insert(eval);
        } else {
            active_since = None;
        }
        let firing = active_since.is_some_and(|since| eval - since >= PROM_FOR_S - 1e-9);
        out.push((eval, firing));
        minute += 1;
    }
    out
}
