//! The small multiples of fleet.html: one series' memory over the fleet's range in a
//! small inline SVG (a 240×90 view box), with its fitted trend and its restarts. Written
//! as text, not with plotters: a fleet page holds hundreds of these and each is a few
//! polylines, so they are drawn in one pass over the samples, with nothing but the kept
//! points held.
//!
//! Each chart keeps the first-occurring minimum and maximum of each of [`MINI_BUCKETS`]
//! equal slices of the range (so a GC sawtooth's envelope and a one-sample spike still
//! show), and breaks its line where the samples stop for longer than [`GAP_STEPS`]
//! typical steps: a missing stretch of scrapes is drawn as nothing, never as a line.

use std::fmt::Write as _;

use super::series::{Point, upper_middle};
use crate::analysis::MetricTrend;
use crate::columns::{Columns, Metric};
use crate::report::html::escape;

/// The view box of every small chart.
pub const MINI_WIDTH: f64 = 240.0;
pub const MINI_HEIGHT: f64 = 90.0;
/// Slices of the range each chart is thinned to: one per unit of its width.
pub const MINI_BUCKETS: usize = 240;
/// A step longer than this many typical steps breaks the line.
pub const GAP_STEPS: f64 = 3.0;

/// Room kept inside the view box around the plot, so lines at the edges stay visible.
const PAD: f64 = 3.0;
const DATA_STROKE: &str = "#0072B2";
const FIT_STROKE: &str = "#D55E00";
const RESTART_STROKE: &str = "#6e6e6e";

/// What a small chart shows: one metric of a series' columns over `[0, span_s]` seconds
/// from the range start, the trend fitted to it, and the times of its restarts.
#[derive(Clone, Copy, Debug)]
pub struct MiniChart<'a> {
    pub columns: &'a Columns,
    pub metric: Metric,
    pub trend: Option<&'a MetricTrend>,
    pub restarts_s: &'a [f64],
    pub span_s: f64,
    /// What the chart shows, in words: its `<title>` and accessible name.
    pub label: &'a str,
}

impl MiniChart<'_> {
    /// The chart as an `<svg>` element, ready to inline in a page.
    pub fn svg(&self) -> String {
        let segments = self.segments();
        let mut out = String::with_capacity(
            512 + segments.iter().map(Vec::len).sum::<usize>() * 12 + self.label.len() * 2,
        );
        let label = escape(self.label);
        let _ = write!(
            out,
            "<svg class=\"mini\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MINI_WIDTH} {MINI_HEIGHT}\" width=\"{MINI_WIDTH}\" height=\"{MINI_HEIGHT}\" role=\"img\" aria-label=\"{label}\"><title>{label}</title>\n<rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#d0d7de\"/>\n",
            MINI_WIDTH - 1.0,
            MINI_HEIGHT - 1.0
        );
        let trend = self.trend_line();
        let Some(canvas) = Canvas::fit(self.span_s, &segments, trend) else {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#59636e\">no data</text>\n</svg>",
                MINI_WIDTH / 2.0,
                MINI_HEIGHT / 2.0
            );
            return out;
        };
        for &t in self.restarts_s {
            let x = canvas.x(t);
            let _ = writeln!(
                out,
                "<line class=\"restart\" x1=\"{x:.1}\" y1=\"1\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{RESTART_STROKE}\" stroke-width=\"1\" stroke-dasharray=\"2 2\"/>",
                MINI_HEIGHT - 1.0
            );
        }
        for segment in &segments {
            if let [(t, v)] = segment[..] {
                // One point between two gaps: a dot, since a line of one point draws nothing.
                let _ = writeln!(
                    out,
                    "<circle class=\"data\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.5\" fill=\"{DATA_STROKE}\"/>",
                    canvas.x(t),
                    canvas.y(v)
                );
                continue;
            }
            out.push_str("<polyline class=\"data\" fill=\"none\" stroke=\"");
            out.push_str(DATA_STROKE);
            out.push_str("\" stroke-width=\"1.2\" stroke-linejoin=\"round\" points=\"");
            // In tenths of a unit, as written: a point that lands where the one before it
            // did is left out.
            let mut last: Option<(i64, i64)> = None;
            for &(t, v) in segment {
                let at = (tenths(canvas.x(t)), tenths(canvas.y(v)));
                if last == Some(at) {
                    continue;
                }
                if last.is_some() {
                    out.push(' ');
                }
                last = Some(at);
                let _ = write!(out, "{:.1},{:.1}", at.0 as f64 / 10.0, at.1 as f64 / 10.0);
            }
            out.push_str("\"/>\n");
        }
        if let Some([(t0, v0), (t1, v1)]) = trend {
            let _ = writeln!(
                out,
                "<line class=\"fit\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{FIT_STROKE}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
                canvas.x(t0),
                canvas.y(v0),
                canvas.x(t1),
                canvas.y(v1)
            );
        }
        out.push_str("</svg>");
        out
    }

    /// The metric's points, thinned to the buckets and broken at gaps.
    pub(super) fn segments(&self) -> Vec<Vec<Point>> {
        let points = || {
            self.columns
                .points(self.metric)
                .filter(|(t, v)| t.is_finite() && v.is_finite())
        };
        let steps = || {
            let mut prev_t: Option<f64> = None;
            points().filter_map(move |(t, _)| {
                let step = prev_t.map(|prev| t - prev);
                prev_t = Some(t);
                step
            })
        };
        let break_over_s = upper_middle(steps).map_or(f64::INFINITY, |s| GAP_STEPS * s);
        envelope(points(), self.span_s, MINI_BUCKETS, break_over_s)
    }

    /// The fitted line's two ends, when it is a line over some time.
    fn trend_line(&self) -> Option<[Point; 2]> {
        let trend = self.trend?;
        let ends = [
            (trend.fit_start[0], trend.fit_start[1]),
            (trend.fit_end[0], trend.fit_end[1]),
        ];
        let finite = ends.iter().all(|(t, v)| t.is_finite() && v.is_finite());
        (finite && ends[1].0 > ends[0].0).then_some(ends)
    }
}

/// Points in time order thinned in one pass to the first-occurring minimum and maximum of
/// each of `buckets` equal slices of `[0, span_s]` (in time order), in segments: a step
/// longer than `break_over_s` ends one and starts the next. At most two points per bucket,
/// and two more for each gap that falls inside one.
pub(super) fn envelope(
    points: impl Iterator<Item = Point>,
    span_s: f64,
    buckets: usize,
    break_over_s: f64,
) -> Vec<Vec<Point>> {
    let buckets = buckets.max(1);
    let per_s = if span_s > 0.0 {
        buckets as f64 / span_s
    } else {
        0.0
    };
    let slice = |t: f64| ((t * per_s).floor().max(0.0) as usize).min(buckets - 1);
    let mut segments: Vec<Vec<Point>> = Vec::new();
    let mut current: Vec<Point> = Vec::new();
    // (slice, first-occurring minimum, first-occurring maximum)
    let mut bucket: Option<(usize, Point, Point)> = None;
    let flush = |current: &mut Vec<Point>, (_, lo, hi): (usize, Point, Point)| {
        let pair = if lo.0 <= hi.0 { [lo, hi] } else { [hi, lo] };
        for p in pair {
            if current.last() != Some(&p) {
                current.push(p);
            }
        }
    };
    let mut prev_t: Option<f64> = None;
    for p in points {
        let gap = prev_t.is_some_and(|prev| p.0 - prev > break_over_s);
        prev_t = Some(p.0);
        let at = slice(p.0);
        if gap || bucket.is_some_and(|b| b.0 != at) {
            if let Some(b) = bucket.take() {
                flush(&mut current, b);
            }
            if gap && !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
        }
        let (_, lo, hi) = bucket.get_or_insert((at, p, p));
        if p.1 < lo.1 {
            *lo = p;
        }
        if p.1 > hi.1 {
            *hi = p;
        }
    }
    if let Some(b) = bucket {
        flush(&mut current, b);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// A coordinate in tenths, as the SVG has it.
fn tenths(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

/// From seconds and values to the view box.
struct Canvas {
    per_s: f64,
    low: f64,
    per_unit: f64,
}

impl Canvas {
    /// Scaled to the range and to the values drawn (the line's ends among them); `None`
    /// when there is nothing to draw.
    fn fit(span_s: f64, segments: &[Vec<Point>], trend: Option<[Point; 2]>) -> Option<Canvas> {
        let points = segments.iter().flatten().chain(trend.iter().flatten());
        let (mut low, mut high, mut last_t) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
        for &(t, v) in points {
            low = low.min(v);
            high = high.max(v);
            last_t = last_t.max(t);
        }
        if low > high {
            return None;
        }
        // A flat series sits in the middle rather than on an edge.
        let margin = if high > low {
            (high - low) * 0.05
        } else {
            low.abs().max(1.0) * 0.05
        };
        let (low, high) = (low - margin, high + margin);
        let span_s = if span_s > 0.0 { span_s } else { last_t };
        let width = MINI_WIDTH - 2.0 * PAD;
        Some(Canvas {
            per_s: if span_s > 0.0 { width / span_s } else { 0.0 },
            low,
            per_unit: (MINI_HEIGHT - 2.0 * PAD) / (high - low),
        })
    }

    fn x(&self, t: f64) -> f64 {
        (PAD + t * self.per_s).clamp(0.0, MINI_WIDTH)
    }

    fn y(&self, v: f64) -> f64 {
        (MINI_HEIGHT - PAD - (v - self.low) * self.per_unit).clamp(0.0, MINI_HEIGHT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;

    fn columns(points: impl Iterator<Item = (f64, u64)>) -> Columns {
        crate::synthetic::columns(
            &points
                .map(|(t, rss)| Sample {
                    t,
                    rss: Some(rss),
                    ..Sample::default()
                })
                .collect::<Vec<_>>(),
        )
    }

    fn chart(columns: &Columns, span_s: f64) -> MiniChart<'_> {
        MiniChart {
            columns,
            metric: Metric::Rss,
            trend: None,
            restarts_s: &[],
            span_s,
            label: "RSS of <b>",
        }
    }

    /// The `points` of every polyline in an SVG, as numbers.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline")
            .skip(1)
            .map(|rest| {
                let start = rest.find("points=\"").unwrap() + 8;
                let end = start + rest[start..].find('"').unwrap();
                rest[start..end]
                    .split(' ')
                    .map(|pair| {
                        let (x, y) = pair.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn thinning_keeps_each_slices_extremes_in_time_order() {
        // A sawtooth of period 60 s over a day at 15 s, with one spike and one dip.
        let mut points: Vec<Point> = (0..5760)
            .map(|i| (i as f64 * 15.0, 100.0 + (i % 4) as f64))
            .collect();
        points[1234].1 = 1e4;
        points[4321].1 = -1e4;
        let segments = envelope(points.iter().copied(), 86_400.0, 240, 45.0);
        assert_eq!(segments.len(), 1);
        let kept = &segments[0];
        assert!(kept.len() <= 480, "{}", kept.len());
        assert!(kept.iter().any(|p| p.1 == 1e4) && kept.iter().any(|p| p.1 == -1e4));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "time order");
        // The sawtooth's envelope: every slice still shows its floor and its top.
        assert_eq!(kept.iter().filter(|p| p.1 == 100.0).count(), 239);
        assert!(kept.iter().filter(|p| p.1 == 103.0).count() >= 238);
    }

    #[test]
    fn a_day_of_samples_draws_at_most_two_points_per_slice() {
        let columns = columns((0..5760).map(|i| (i as f64 * 15.0, 100_000_000 + i * 1000)));
        let svg = chart(&columns, 86_400.0).svg();
        let lines = polylines(&svg);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() <= 2 * MINI_BUCKETS, "{}", lines[0].len());
        assert!(lines[0].len() >= MINI_BUCKETS, "{}", lines[0].len());
        // Inside the view box, rising (y grows downwards), escaped label, no data text.
        assert!(svg.starts_with("<svg class=\"mini\"") && svg.contains("viewBox=\"0 0 240 90\""));
        assert!(
            lines[0]
                .iter()
                .all(|&(x, y)| (0.0..=240.0).contains(&x) && (0.0..=90.0).contains(&y))
        );
        assert!(lines[0][0].1 > lines[0][lines[0].len() - 1].1);
        assert!(svg.contains("<title>RSS of &lt;b&gt;</title>") && !svg.contains("<b>"));
    }

    #[test]
    fn a_gap_in_the_scrapes_breaks_the_line() {
        // 15 s scrapes, none from 30 min to 2 h.
        let columns = columns(
            (0..600)
                .map(|i| i as f64 * 15.0)
                .filter(|t| !(1800.0..7200.0).contains(t))
                .map(|t| (t, 50_000_000 + t as u64 * 100)),
        );
        let mini = chart(&columns, 9000.0);
        let segments = mini.segments();
        assert_eq!(segments.len(), 2, "{segments:?}");
        assert!(segments[0].last().unwrap().0 < 1800.0 && segments[1][0].0 >= 7200.0 - 1.0);
        let lines = polylines(&mini.svg());
        assert_eq!(lines.len(), 2);
        // Nothing is drawn over the gap: the first line ends where the second starts after.
        let (end, start) = (lines[0].last().unwrap().0, lines[1][0].0);
        assert!(end < 50.0 && start > 190.0, "{end} {start}");
    }

    #[test]
    fn steady_scrapes_do_not_break_and_a_lone_point_is_a_dot() {
        let steady = envelope((0..100).map(|i| (i as f64, 1.0)), 100.0, 240, 3.0);
        assert_eq!(steady.len(), 1);
        let columns = columns([(0.0, 5), (10.0, 6), (20.0, 7), (500.0, 8)].into_iter());
        let svg = chart(&columns, 600.0).svg();
        assert_eq!(polylines(&svg).len(), 1);
        assert_eq!(svg.matches("<circle class=\"data\"").count(), 1);
    }

    #[test]
    fn restarts_and_the_trend_are_drawn_and_nothing_is_said_of_no_data() {
        let run = crate::synthetic::run(&crate::synthetic::linear_rss(600, 6e6), vec![]);
        let verdict = crate::analysis::analyse(&run, &Default::default());
        let trend = verdict.metrics.rss.as_ref();
        assert!(trend.is_some());
        let mini = MiniChart {
            trend,
            restarts_s: &[300.0],
            ..chart(&run.columns, 600.0)
        };
        let svg = mini.svg();
        assert_eq!(svg.matches("<line class=\"restart\"").count(), 1);
        assert!(
            svg.contains("<line class=\"restart\" x1=\"120.0\""),
            "{svg}"
        );
        assert_eq!(svg.matches("<line class=\"fit\"").count(), 1);
        let empty = Columns::default();
        let svg = chart(&empty, 600.0).svg();
        assert!(svg.contains(">no data</text>") && !svg.contains("<polyline"));
        assert!(svg.ends_with("</svg>"));
    }
}
