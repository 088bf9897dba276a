//! The axes: one time axis that every chart of a run shares, value ranges with room around
//! the data, and ticks of our choosing.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::Cartesian2d;

/// Time axis unit chosen from the run length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TimeUnit {
    pub seconds: f64,
    pub name: &'static str,
}

pub(super) fn time_unit(span_s: f64) -> TimeUnit {
    if span_s <= 180.0 {
        TimeUnit {
            seconds: 1.0,
            name: "s",
        }
    } else if span_s <= 3.0 * 3600.0 {
        TimeUnit {
            seconds: 60.0,
            name: "min",
        }
    } else {
        TimeUnit {
            seconds: 3600.0,
            name: "h",
        }
    }
}

/// An axis tick label with as many decimals as the axis span needs (about 10 ticks), so
/// counts read `8` not `8.00` and a small CPU axis does not repeat `0.01`.
pub(super) fn axis_label(value: f64, span: f64) -> String {
    let step = (span / 10.0).abs().max(1e-12);
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{value:.decimals$}")
}

/// The time axis all charts of a run share: its unit (from the run's length), where it
/// ends (the run's end rounded up to a tick, or further to show a projection) and its
/// ticks.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TimeAxis {
    pub unit: TimeUnit,
    /// Seconds from the start to the last sample, load interval or event.
    pub run_end_s: f64,
    /// End of the axis, in `unit`.
    pub end: f64,
    /// Tick positions, in `unit`.
    pub ticks: Vec<f64>,
}

impl TimeAxis {
    /// An axis over `[0, reach_s]` (at least), in the unit `run_end_s` suggests.
    pub fn new(run_end_s: f64, reach_s: f64) -> TimeAxis {
        let unit = time_unit(run_end_s);
        let span = reach_s.max(run_end_s).max(0.0) / unit.seconds;
        let steps: &[f64] = match unit.name {
            "h" => &[0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 12.0, 24.0, 48.0, 72.0, 168.0],
            _ => &[
                0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0,
            ],
        };
        // Up to the next tick, unless the span ends a hair past one (ticks land late by a
        // few milliseconds): a point beyond the axis is drawn on its edge.
        let intervals = |step: f64| (span / step - 0.01).ceil().max(1.0);
        // The step that wastes least room after the end, with 4 to 12 intervals; of
        // equals, the one nearest 8 intervals, then the larger.
        let step = steps
            .iter()
            .copied()
            .filter(|&s| (4.0..=12.0).contains(&intervals(s)))
            .min_by(|a, b| {
                let waste = |s: f64| ((intervals(s) * s - span) / span.max(1e-9) * 1e6).round();
                let off = |s: f64| (intervals(s) - 8.0).abs();
                waste(*a)
                    .total_cmp(&waste(*b))
                    .then(off(*a).total_cmp(&off(*b)))
                    .then(b.total_cmp(a))
            })
            .or_else(|| steps.iter().copied().find(|&s| intervals(s) <= 12.0))
            .unwrap_or_else(|| {
                let last = steps[steps.len() - 1];
                last * (span / last / 12.0).ceil()
            });
        let count = intervals(step);
        let end = count * step;
        let ticks = (0..=count as usize).map(|i| i as f64 * step).collect();
        TimeAxis {
            unit,
            run_end_s,
            end,
            ticks,
        }
    }

    /// Seconds since the start in axis units.
    pub fn x(&self, t_s: f64) -> f64 {
        t_s / self.unit.seconds
    }

    pub fn end_s(&self) -> f64 {
        self.end * self.unit.seconds
    }

    pub fn desc(&self) -> String {
        format!("time since start ({})", self.unit.name)
    }
}

/// The smallest and largest of some values (finite ones).
pub(super) fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A value range with a little room around the data; not below zero for data that is not.
pub(super) fn padded(range: Option<(f64, f64)>) -> (f64, f64) {
    let (lo, hi) = range.unwrap_or((0.0, 1.0));
    let pad = ((hi - lo) * 0.06).max(hi.abs() * 0.01).max(1e-9);
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}

/// A linear coordinate with ticks of our choosing (plotters' `WithKeyPoints` would do, but
/// it cannot take a label formatter, and plotters' own ticks sometimes stop short of the
/// last round value).
#[derive(Clone)]
pub(super) struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
        Ticked {
            linear: (lo..hi).into(),
            ticks,
        }
    }
}

/// Round ticks (1, 2 or 5 × 10ⁿ apart, at least `min_step`) over `[lo, hi]`, about 8 of
/// them, and the step.
pub(super) fn value_ticks(lo: f64, hi: f64, min_step: f64) -> (Vec<f64>, f64) {
    let raw = ((hi - lo) / 8.0).max(1e-12);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * magnitude)
        .max(min_step);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last.min(first + 50))
        .map(|i| i as f64 * step)
        .collect();
    (ticks, step)
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// The SVG chart's coordinates: time by value, both with our ticks.
pub(super) type Coords = Cartesian2d<Ticked, Ticked>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_follow_the_span() {
        assert_eq!(axis_label(8.0, 6.0), "8.0");
        assert_eq!(axis_label(8.0, 60.0), "8");
        assert_eq!(axis_label(0.015, 0.045), "0.015");
        assert_eq!(axis_label(25.0, 30.0), "25");
    }

    #[test]
    fn axis_units() {
        assert_eq!(time_unit(60.0).name, "s");
        assert_eq!(time_unit(3600.0).name, "min");
        assert_eq!(time_unit(86_400.0).name, "h");
    }

    #[test]
    fn time_axis_ends_on_a_tick_just_past_the_run() {
        let end = |s: f64| {
            let a = TimeAxis::new(s, s);
            (a.unit.name, a.end, *a.ticks.last().unwrap(), a.ticks.len())
        };
        assert_eq!(end(30.0115), ("s", 30.0, 30.0, 7));
        assert_eq!(end(900.0), ("min", 15.0, 15.0, 6));
        assert_eq!(end(7200.0), ("min", 120.0, 120.0, 9));
        assert_eq!(end(86_399.9), ("h", 24.0, 24.0, 9));
        assert_eq!(end(0.0).1, 0.1);
        for s in [1.0, 7.3, 61.0, 1000.0, 11_000.0, 50_000.0, 604_800.0, 3e6] {
            let a = TimeAxis::new(s, s);
            assert!(a.end_s() >= s * 0.999, "{s}: {a:?}");
            assert!(a.end_s() <= s * 1.35 + 1.0, "{s}: {a:?}");
            assert!((5..=13).contains(&a.ticks.len()), "{s}: {a:?}");
        }
    }
}
