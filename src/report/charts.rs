//! SVG charts with plotters' SVG backend (no font libraries needed: text stays `<text>`).
//!
//! Every chart has the same layout, so that they line up when stacked in a page: the same
//! width, the same left and right axis areas, and one time axis ([`TimeAxis`]) over the
//! whole run, or a little beyond it when memory is projected to reach its limit soon after.
//! Each chart has a title that states the verdict, one or two panels, the run's events as
//! vertical markers labelled at the top of every panel (target exit, PID reuse, fail-fast,
//! load stages, sampling gaps), and its legend in a strip below the panels, where it never
//! covers data.
//!
//! Series are thinned to the min and max of each bucket, about two points per pixel column,
//! for display only: peaks and troughs stay; the analysis always uses every sample. Series
//! differ in colour (Okabe–Ito, safe for colour-blind readers) and also in width, dash and
//! marker, so they stay apart in grey-scale print.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::element::{ComposedElement, DashedPathElement};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::load::{GateKind, LoadSummary, format_ms, format_rps};
use crate::analysis::{MetricTrend, RunVerdict};
use crate::columns::{Columns, Metric};
use crate::process::signal_name;
use crate::runlog::load::{LoadInterval, LoadRun};
use crate::runlog::{EventKind, RunData, Thresholds};
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, format_limit,
    short_duration, three_figures,
};

#[derive(Debug, thiserror::Error)]
#[error("cannot draw {file}: {reason}")]
pub struct ChartError {
    pub file: String,
    pub reason: String,
}

/// Colour-blind-safe palette (Okabe–Ito), also distinct in grey-scale by dash and width.
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREY: RGBColor = RGBColor(110, 110, 110);
/// Sampling-gap markers: lighter than the other event markers.
const LIGHT_GREY: RGBColor = RGBColor(165, 165, 165);
/// The warm-up span's shading.
const SHADE: RGBColor = RGBColor(228, 228, 228);
/// Grid lines at the axis ticks.
const GRID: RGBColor = RGBColor(225, 225, 225);

/// Width of every chart, and the areas around its plots (pixels).
const WIDTH: u32 = 960;
const MARGIN: u32 = 12;
const LEFT_AXIS_PX: u32 = 70;
const RIGHT_AXIS_PX: u32 = 70;
const X_AXIS_PX: u32 = 40;
/// Width of the plotting area of every panel.
const PLOT_W_PX: u32 = WIDTH - 2 * MARGIN - LEFT_AXIS_PX - RIGHT_AXIS_PX;
/// Height of the chart title's strip, and of one panel of each chart.
const SINGLE_PANEL_PX: u32 = 400;
const DOUBLE_PANEL_PX: u32 = 320;

/// Font sizes as plotters takes them (it writes `size / 1.24` px into the SVG).
const TITLE_FONT: f64 = 20.0;
const CAPTION_FONT: f64 = 16.0;
const LABEL_FONT: f64 = 13.0;
const LEGEND_FONT: f64 = 14.0;
/// Height of one row of event labels and of one row of the legend (pixels).
const LABEL_ROW_PX: f64 = 14.0;
const LEGEND_ROW_PX: i32 = 20;
/// Rows of event labels at the top of a panel; a label that finds no room in any is left
/// off (its marker line stays).
const MAX_LABEL_ROWS: usize = 3;

/// Points drawn per series at most: two per pixel column of the plot (the first, minimum,
/// maximum and last of each bucket, see [`thin`]).
pub const MAX_POINTS: usize = 2 * PLOT_W_PX as usize;

/// Markers drawn per series at most (beyond isolated points, which always get one).
const MAX_MARKERS: usize = 40;
/// Event marker lines per chart at most (the most important kinds first), and sampling
/// gaps merged into at most this many markers.
const MAX_EVENT_LINES: usize = 60;
const MAX_GAP_MARKERS: usize = 30;
/// How far beyond the run the time axis may reach to show the projected memory-limit
/// crossing, as a multiple of the run's length.
const PROJECTION_REACH: f64 = 1.5;

/// One line on a chart (for [`line_chart`]).
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub width: u32,
    pub dashed: bool,
}

/// Time axis unit chosen from the run length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeUnit {
    pub seconds: f64,
    pub name: &'static str,
}

pub fn time_unit(span_s: f64) -> TimeUnit {
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
pub fn axis_label(value: f64, span: f64) -> String {
    let step = (span / 10.0).abs().max(1e-12);
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{value:.decimals$}")
}

/// Keep the first, min, max and last point of each bucket so spikes survive thinning.
pub fn thin(points: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    if points.len() <= max_points || max_points < 4 {
        return points.to_vec();
    }
    let buckets = max_points / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(buckets * 2 + 2);
    for chunk in points.chunks(size) {
        let (mut lo, mut hi) = (chunk[0], chunk[0]);
        for &p in chunk {
            if p.1 < lo.1 {
                lo = p;
            }
            if p.1 > hi.1 {
                hi = p;
            }
        }
        if lo.0 <= hi.0 {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
    }
    out.dedup();
    out
}

/// The time axis all charts of a run share: its unit (from the run's length), where it
/// ends (the run's end rounded up to a tick, or further to show a projection) and its
/// ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeAxis {
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
    fn x(&self, t_s: f64) -> f64 {
        t_s / self.unit.seconds
    }

    fn end_s(&self) -> f64 {
        self.end * self.unit.seconds
    }

    fn desc(&self) -> String {
        format!("time since start ({})", self.unit.name)
    }
}

/// Seconds from the start to the last thing the run recorded.
fn run_end_s(run: &RunData) -> f64 {
    let samples = run.columns.t().last().copied().unwrap_or(0.0);
    let load = run
        .load
        .as_ref()
        .and_then(|l| l.intervals.last())
        .map_or(0.0, |i| i.t);
    let events = run.events.iter().map(|e| e.t).fold(0.0, f64::max);
    samples.max(load).max(events)
}

/// The time axis of every chart of this run: over the whole run, and on to the projected
/// memory-limit crossing when that comes within [`PROJECTION_REACH`] times the run.
pub fn time_axis(run: &RunData, verdict: &RunVerdict) -> TimeAxis {
    let end = run_end_s(run);
    let reach = projection(run, verdict)
        .filter(|p| p.drawn)
        .map_or(end, |p| p.at_s + 0.02 * end);
    TimeAxis::new(end, reach)
}

/// Where the fitted RSS line reaches the memory limit, when it does in the future.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Projection {
    /// The end of the fitted line: (seconds, bytes).
    from: (f64, f64),
    /// When the line reaches the limit, seconds since the start.
    at_s: f64,
    limit: f64,
    /// From the end of the run to the crossing, seconds.
    after_s: f64,
    /// Close enough to draw (within [`PROJECTION_REACH`] times the run).
    drawn: bool,
}

fn projection(run: &RunData, verdict: &RunVerdict) -> Option<Projection> {
    let trend = verdict.metrics.rss.as_ref()?;
    let limit = verdict.capacity.mem_limit_bytes? as f64;
    let after_s = verdict.capacity.time_to_limit_s.filter(|s| *s > 0.0)?;
    if trend.slope_per_min <= 0.0 {
        return None;
    }
    // The analysis measures the time to the limit from the last RSS sample.
    let last_t = run.columns.points(Metric::Rss).last()?.0;
    let at_s = last_t + after_s;
    Some(Projection {
        from: (trend.fit_end[0], trend.fit_end[1]),
        at_s,
        limit,
        after_s,
        drawn: at_s <= PROJECTION_REACH * run_end_s(run).max(1e-9),
    })
}

/// How a series is marked, so lines differ in grey-scale as well as in colour.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Marker {
    None,
    Circle,
    Cross,
    Triangle,
}

/// The look of one series: colour, width, dash (dash, gap in pixels) and marker.
#[derive(Clone, Copy, Debug)]
struct Look {
    color: RGBColor,
    width: u32,
    dash: Option<(u32, u32)>,
    marker: Marker,
}

impl Look {
    const fn new(color: RGBColor, width: u32, dash: Option<(u32, u32)>, marker: Marker) -> Look {
        Look {
            color,
            width,
            dash,
            marker,
        }
    }

    fn style(self) -> ShapeStyle {
        ShapeStyle {
            color: self.color.to_rgba(),
            filled: false,
            stroke_width: self.width,
        }
    }
}

// Data series are solid (a dashed line of thousands of points would be thousands of SVG
// elements); they differ by width and marker. Reference lines are straight, so dashed.
const RSS_LOOK: Look = Look::new(BLUE, 2, None, Marker::None);
const PSS_LOOK: Look = Look::new(GREEN, 1, None, Marker::Circle);
const USS_LOOK: Look = Look::new(ORANGE, 1, None, Marker::Triangle);
const VMS_LOOK: Look = Look::new(SKY, 1, None, Marker::Cross);
const THREADS_LOOK: Look = Look::new(BLUE, 2, None, Marker::None);
const FDS_LOOK: Look = Look::new(ORANGE, 2, None, Marker::Triangle);
const CPU_LOOK: Look = Look::new(BLUE, 1, None, Marker::None);
const CPU_MEAN_LOOK: Look = Look::new(ORANGE, 2, None, Marker::None);
const FIT_LOOK: Look = Look::new(VERMILLION, 2, Some((10, 5)), Marker::None);
const THRESHOLD_LOOK: Look = Look::new(BLACK, 1, Some((4, 4)), Marker::None);
const LIMIT_LOOK: Look = Look::new(PURPLE, 2, Some((16, 5)), Marker::None);
const PROJECTION_LOOK: Look = Look::new(VERMILLION, 2, Some((2, 4)), Marker::Circle);

/// A series of a chart, broken into segments where there is no value.
struct Trace {
    /// (seconds since the run start, value) runs without a gap.
    segments: Vec<Vec<(f64, f64)>>,
    look: Look,
}

/// A sample metric as segments: the line breaks where the samples stop for more than five
/// of their usual intervals (a stalled profiler, a suspended host), so a gap shows as a gap.
/// A metric read only on some ticks (PSS/USS every n-th) keeps its own usual interval.
fn sample_segments(columns: &Columns, metric: Metric) -> Vec<Vec<(f64, f64)>> {
    let points: Vec<(f64, f64)> = columns
        .points(metric)
        .filter(|(_, v)| v.is_finite())
        .collect();
    let mut steps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let typical = if steps.is_empty() {
        0.0
    } else {
        let mid = steps.len() / 2;
        *steps.select_nth_unstable_by(mid, f64::total_cmp).1
    };
    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for p in points {
        if current.last().is_some_and(|l| p.0 - l.0 > 5.0 * typical) {
            segments.push(std::mem::take(&mut current));
        }
        current.push(p);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Segments of a per-interval value, placed at each interval's end (the samples' clock).
/// A missing value (no responses in the interval) or missing intervals (more than 1.5
/// intervals between two ends) break the line, so a gap shows as a gap and not as a zero.
fn interval_segments(
    intervals: &[LoadInterval],
    value: impl Fn(&LoadInterval) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut steps: Vec<f64> = intervals
        .iter()
        .map(|i| i.dt_s)
        .filter(|d| *d > 0.0)
        .collect();
    steps.sort_by(f64::total_cmp);
    let typical = steps.get(steps.len() / 2).copied().unwrap_or(0.0);
    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let mut prev_t: Option<f64> = None;
    for interval in intervals {
        let gap = prev_t.is_some_and(|p| interval.t - p > 1.5 * interval.dt_s.max(typical));
        prev_t = Some(interval.t);
        if gap && !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
        match value(interval).filter(|v| v.is_finite()) {
            Some(v) => current.push((interval.t, v)),
            None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Thin segments to about `max_points` in all, each in proportion to its length.
fn thin_segments(segments: &[Vec<(f64, f64)>], max_points: usize) -> Vec<Vec<(f64, f64)>> {
    let total: usize = segments.iter().map(Vec::len).sum();
    if total <= max_points {
        return segments.to_vec();
    }
    segments
        .iter()
        .map(|s| thin(s, (max_points * s.len() / total).max(4)))
        .collect()
}

/// (x, y) points of one line, in data or chart units.
type Points = Vec<(f64, f64)>;

/// A position on the drawing in pixels (plotters' backend coordinate).
type BackendCoord = (i32, i32);

/// A marker's outline as one path in pixels around (0, 0): the same element type for
/// every kind, so a series' markers and its legend sample are drawn alike.
fn marker_path(marker: Marker) -> Vec<BackendCoord> {
    match marker {
        Marker::None => vec![(0, 0), (0, 0)],
        // An octagon.
        Marker::Circle => vec![
            (3, 0),
            (2, 2),
            (0, 3),
            (-2, 2),
            (-3, 0),
            (-2, -2),
            (0, -3),
            (2, -2),
            (3, 0),
        ],
        // Both strokes of an X, through the centre.
        Marker::Cross => vec![(-4, -4), (4, 4), (0, 0), (4, -4), (-4, 4)],
        Marker::Triangle => vec![(0, -4), (4, 3), (-4, 3), (0, -4)],
    }
}

/// A trace in chart units (time divided by `unit_s`, values through `map_y`): the
/// segments to draw as lines, and where to put markers: every few points for a marked
/// trace, and on every isolated point (a segment of one point draws no line).
fn trace_geometry(trace: &Trace, unit_s: f64, map_y: &dyn Fn(f64) -> f64) -> (Vec<Points>, Points) {
    let segments: Vec<Points> = thin_segments(&trace.segments, MAX_POINTS)
        .into_iter()
        .map(|s| s.into_iter().map(|(x, y)| (x / unit_s, map_y(y))).collect())
        .collect();
    let total: usize = segments.iter().map(Vec::len).sum();
    let every = total.div_ceil(MAX_MARKERS).max(1);
    let mut markers = Vec::new();
    let mut index = 0;
    for segment in &segments {
        for &point in segment {
            if segment.len() == 1 || (trace.look.marker != Marker::None && index % every == 0) {
                markers.push(point);
            }
            index += 1;
        }
    }
    let lines = segments.into_iter().filter(|s| s.len() >= 2).collect();
    (lines, markers)
}

type PixelPath = PathElement<BackendCoord>;
type LegendSample<DB> = ComposedElement<
    BackendCoord,
    DB,
    PixelPath,
    ComposedElement<BackendCoord, DB, PixelPath, PixelPath>,
>;

/// The legend sample of a series: a short line in its dash, with its marker.
fn legend_sample<DB: DrawingBackend>(look: Look, (x, y): BackendCoord) -> LegendSample<DB> {
    let style = look.style();
    let (first, second) = match look.dash {
        Some(_) => (vec![(0, 0), (9, 0)], vec![(15, 0), (24, 0)]),
        None => (vec![(0, 0), (12, 0)], vec![(12, 0), (24, 0)]),
    };
    let mark: Vec<BackendCoord> = marker_path(look.marker)
        .into_iter()
        .map(|(dx, dy)| (dx + 12, dy))
        .collect();
    EmptyElement::at((x, y))
        + PathElement::new(first, style)
        + PathElement::new(second, style)
        + PathElement::new(mark, style)
}

/// A straight reference line (fitted trend, threshold, limit, gate, projection), from and
/// to (seconds since the start, value), clipped to the panel when drawn.
struct RefLine {
    from: (f64, f64),
    to: (f64, f64),
    look: Look,
    /// On the right-hand axis.
    right: bool,
    /// A label at its right end (left end with `label_at_start`), above the line (below
    /// with `label_below`).
    end_label: Option<String>,
    label_below: bool,
    label_at_start: bool,
}

impl RefLine {
    fn new(from: (f64, f64), to: (f64, f64), look: Look) -> RefLine {
        RefLine {
            from,
            to,
            look,
            right: false,
            end_label: None,
            label_below: false,
            label_at_start: false,
        }
    }
}

/// The part of a segment inside a box.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Clipped {
    from: (f64, f64),
    to: (f64, f64),
    /// The segment's end is inside the box (it was not cut short).
    ends_inside: bool,
}

/// The part of the segment `a`–`b` inside the box `x` × `y` (Liang–Barsky).
fn clip_segment(a: (f64, f64), b: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<Clipped> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x.0),
        (dx, x.1 - a.0),
        (-dy, a.1 - y.0),
        (dy, y.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some(Clipped {
        from: at(t0),
        to: at(t1),
        ends_inside: t1 >= 1.0,
    })
}

/// A shaded span of time (the warm-up; labelled with the event markers).
struct Shade {
    from_s: f64,
    to_s: f64,
}

/// The right-hand value axis of a panel.
struct RightAxis {
    desc: String,
    range: (f64, f64),
}

/// One plot of a chart.
struct PanelSpec {
    caption: Option<String>,
    y_desc: String,
    /// Value range of the left axis, before room is made for the event labels.
    y_range: (f64, f64),
    right: Option<RightAxis>,
    traces: Vec<Trace>,
    right_traces: Vec<Trace>,
    refs: Vec<RefLine>,
    shades: Vec<Shade>,
    /// Whole-number ticks (counts).
    integer: bool,
}

impl PanelSpec {
    fn new(y_desc: impl Into<String>, y_range: (f64, f64)) -> PanelSpec {
        PanelSpec {
            caption: None,
            y_desc: y_desc.into(),
            y_range,
            right: None,
            traces: Vec::new(),
            right_traces: Vec::new(),
            refs: Vec::new(),
            shades: Vec::new(),
            integer: false,
        }
    }
}

/// What a legend entry shows beside its label.
#[derive(Clone, Copy, Debug)]
enum Key {
    Line(Look),
    Area(RGBColor),
    /// A note: text only.
    Text,
}

struct LegendItem {
    label: String,
    key: Key,
}

fn legend_item(label: impl Into<String>, look: Look) -> LegendItem {
    LegendItem {
        label: label.into(),
        key: Key::Line(look),
    }
}

/// A whole chart: title, panels stacked, event markers, legend.
struct ChartSpec {
    title: String,
    panels: Vec<PanelSpec>,
    panel_px: u32,
    marks: Marks,
    legend: Vec<LegendItem>,
}

/// Estimated width of a text in pixels (plotters cannot measure text in the SVG backend
/// without font libraries; sans-serif averages about 0.6 em).
fn text_px(text: &str, font: f64) -> f64 {
    text.chars().count() as f64 * font / 1.24 * 0.6
}

/// Kinds of event marker, most important first: labels are placed in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum MarkKind {
    Exit,
    Restart,
    FailFast,
    Onset,
    RunEnd,
    Stopped,
    /// The start of the warm-up's shading: a label and no line.
    WarmUp,
    Stage,
    Gap,
}

impl MarkKind {
    /// Colour, width and dash of the marker line.
    fn look(self) -> Look {
        match self {
            MarkKind::Exit | MarkKind::Restart | MarkKind::FailFast => {
                Look::new(BLACK, 1, None, Marker::None)
            }
            MarkKind::Onset => Look::new(VERMILLION, 1, Some((6, 3)), Marker::None),
            MarkKind::RunEnd | MarkKind::Stopped | MarkKind::WarmUp => {
                Look::new(GREY, 1, None, Marker::None)
            }
            MarkKind::Stage => Look::new(GREY, 1, Some((3, 3)), Marker::None),
            MarkKind::Gap => Look::new(LIGHT_GREY, 1, None, Marker::None),
        }
    }
}

/// Something to mark on the time axis.
#[derive(Clone, Debug, PartialEq)]
struct Mark {
    t: f64,
    kind: MarkKind,
    label: String,
}

/// "warm: 50 req/s" for a load stage.
fn stage_label(load: &LoadRun, name: &str, target: f64) -> String {
    let per = match load.start.as_ref().and_then(|s| s.model.as_deref()) {
        Some("closed") => " users",
        Some("open") => " req/s",
        _ => "",
    };
    let target = if target.fract() == 0.0 {
        format!("{target:.0}")
    } else {
        format!("{target:.1}")
    };
    format!("{name}: {target}{per}")
}

fn stage_marks(load: &LoadRun) -> Vec<Mark> {
    load.stages
        .iter()
        .map(|s| Mark {
            t: s.t,
            kind: MarkKind::Stage,
            label: stage_label(load, &s.name, s.target),
        })
        .collect()
}

/// The run's events as marks: target exits, PID reuse, fail-fast, load stage changes, and
/// sampling gaps merged into at most [`MAX_GAP_MARKERS`] (those close together share one).
fn run_marks(run: &RunData, axis: &TimeAxis) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut gaps: Vec<(f64, f64)> = Vec::new();
    for event in &run.events {
        let (kind, label) = match &event.kind {
            EventKind::TargetExit {
                code,
                signal,
                by_profiler,
                ..
            } => {
                if *by_profiler {
                    (MarkKind::Stopped, "stopped".to_string())
                } else {
                    let label = match (signal, code) {
                        (Some(s), _) if signal_name(*s) != "signal" => signal_name(*s).to_string(),
                        (Some(s), _) => format!("signal {s}"),
                        (None, Some(c)) => format!("exit {c}"),
                        (None, None) => "exited".to_string(),
                    };
                    (MarkKind::Exit, label)
                }
            }
            EventKind::PidReused { .. } => (MarkKind::Restart, "PID reused".to_string()),
            EventKind::FailFast { .. } => (MarkKind::FailFast, "fail-fast".to_string()),
            EventKind::Gap { late_s, .. } => {
                gaps.push((event.t, *late_s));
                continue;
            }
            EventKind::SmapsEvery { .. } | EventKind::Stop { .. } => continue,
        };
        marks.push(Mark {
            t: event.t,
            kind,
            label,
        });
    }
    if let Some(load) = &run.load {
        marks.extend(stage_marks(load));
    }
    marks.extend(gap_marks(&gaps, axis.run_end_s));
    if axis.end_s() > axis.run_end_s * 1.05 {
        marks.push(Mark {
            t: axis.run_end_s,
            kind: MarkKind::RunEnd,
            label: "end of run".to_string(),
        });
    }
    marks
}

/// Gaps (time, seconds late) in at most [`MAX_GAP_MARKERS`] marks: gaps within 1% of the
/// run of each other share a mark ("3 gaps"), and more widely when there are many.
fn gap_marks(gaps: &[(f64, f64)], run_end_s: f64) -> Vec<Mark> {
    let span = run_end_s.max(1e-9);
    let mut bins = 100usize;
    loop {
        let mut merged: Vec<(f64, usize, f64)> = Vec::new();
        let mut last_bin = usize::MAX;
        for &(t, late) in gaps {
            let bin = ((t / span * bins as f64).floor().max(0.0) as usize).min(bins - 1);
            match merged.last_mut() {
                Some(m) if bin == last_bin => m.1 += 1,
                _ => merged.push((t, 1, late)),
            }
            last_bin = bin;
        }
        if merged.len() <= MAX_GAP_MARKERS || bins <= MAX_GAP_MARKERS {
            return merged
                .into_iter()
                .map(|(t, n, late)| Mark {
                    t,
                    kind: MarkKind::Gap,
                    label: if n == 1 {
                        format!("gap {}", format_duration_s(late))
                    } else {
                        format!("{n} gaps")
                    },
                })
                .collect();
        }
        bins = MAX_GAP_MARKERS;
    }
}

/// A marker line placed on the axis, with its label's row (0 = top) and side.
struct PlacedMark {
    x: f64,
    look: Look,
    line: bool,
    label: Option<(String, usize, bool)>,
}

/// Event markers of one chart, and how many rows of labels they take.
struct Marks {
    placed: Vec<PlacedMark>,
    rows: usize,
}

/// Place labels in rows at the top of the plot so they do not overlap: most important
/// first, each in the first row with room, to the right of its line (to the left near the
/// right edge). A label with no room in [`MAX_LABEL_ROWS`] rows is left off.
fn place_marks(marks: &[Mark], axis: &TimeAxis) -> Marks {
    let mut marks: Vec<&Mark> = marks
        .iter()
        .filter(|m| m.t >= 0.0 && axis.x(m.t) <= axis.end * 1.01)
        .collect();
    marks.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.t.total_cmp(&b.t)));
    marks.truncate(MAX_EVENT_LINES);
    let plot_w = f64::from(PLOT_W_PX);
    let mut rows: Vec<Vec<(f64, f64)>> = vec![Vec::new(); MAX_LABEL_ROWS];
    let mut used = 0;
    let placed = marks
        .into_iter()
        .map(|m| {
            let x = axis.x(m.t).min(axis.end);
            let px = x / axis.end * plot_w;
            let w = text_px(&m.label, LABEL_FONT) + 6.0;
            let left = px + w + 4.0 > plot_w;
            let span = if left {
                (px - w - 3.0, px)
            } else {
                (px, px + w + 3.0)
            };
            let row = rows.iter().position(|taken| {
                taken
                    .iter()
                    .all(|&(a, b)| span.1 + 2.0 < a || b + 2.0 < span.0)
            });
            let label = row.map(|r| {
                rows[r].push(span);
                used = used.max(r + 1);
                (m.label.clone(), r, left)
            });
            PlacedMark {
                x,
                look: m.kind.look(),
                line: m.kind != MarkKind::WarmUp,
                label,
            }
        })
        .collect();
    Marks { placed, rows: used }
}

/// The smallest and largest of some values (finite ones).
fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn trace_values(traces: &[Trace]) -> impl Iterator<Item = f64> + '_ {
    traces
        .iter()
        .flat_map(|t| t.segments.iter().flatten())
        .map(|p| p.1)
}

/// A value range with a little room around the data; not below zero for data that is not.
fn padded(range: Option<(f64, f64)>) -> (f64, f64) {
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
struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
        Ticked {
            linear: (lo..hi).into(),
            ticks,
        }
    }
}

/// Round ticks (1, 2 or 5 × 10ⁿ apart, at least `min_step`) over `[lo, hi]`, about 8 of
/// them, and the step.
fn value_ticks(lo: f64, hi: f64, min_step: f64) -> (Vec<f64>, f64) {
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
type Coords = Cartesian2d<Ticked, Ticked>;

/// Draw a trace's lines and markers, its values mapped through `map_y` (to draw a
/// right-axis series in the left axis' coordinates).
fn draw_trace<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    trace: &Trace,
    unit_s: f64,
    map_y: &dyn Fn(f64) -> f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let look = trace.look;
    let style = look.style();
    let (lines, markers) = trace_geometry(trace, unit_s, map_y);
    match look.dash {
        Some((dash, gap)) => {
            chart.draw_series(
                lines
                    .into_iter()
                    .map(|s| DashedPathElement::new(s, dash, gap, style)),
            )?;
        }
        None => {
            chart.draw_series(lines.into_iter().map(|s| PathElement::new(s, style)))?;
        }
    }
    let mark = marker_path(look.marker);
    chart.draw_series(
        markers
            .into_iter()
            .map(|p| EmptyElement::at(p) + PathElement::new(mark.clone(), style)),
    )?;
    Ok(())
}

/// Draw a straight line in chart units, dashed or not.
fn draw_straight<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    points: Points,
    look: Look,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = look.style();
    match look.dash {
        Some((dash, gap)) => {
            chart.draw_series(std::iter::once(DashedPathElement::new(
                points, dash, gap, style,
            )))?;
        }
        None => {
            chart.draw_series(std::iter::once(PathElement::new(points, style)))?;
        }
    }
    Ok(())
}

/// A text at a point of the chart, shifted by `offset` pixels, anchored at `anchor`, on a
/// white box so lines under it do not cross it.
fn draw_label<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    at: (f64, f64),
    offset: BackendCoord,
    text: &str,
    color: RGBColor,
    anchor: Pos,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let w = text_px(text, LABEL_FONT).ceil() as i32;
    let h = (LABEL_FONT / 1.24).ceil() as i32;
    let x0 = match anchor.h_pos {
        HPos::Left => offset.0,
        HPos::Right => offset.0 - w,
        HPos::Center => offset.0 - w / 2,
    };
    let y0 = match anchor.v_pos {
        VPos::Top => offset.1,
        VPos::Bottom => offset.1 - h,
        VPos::Center => offset.1 - h / 2,
    };
    let font = ("sans-serif", LABEL_FONT)
        .into_font()
        .color(&color)
        .pos(anchor);
    chart.draw_series(std::iter::once(
        EmptyElement::at(at)
            + Rectangle::new(
                [(x0 - 2, y0 - 1), (x0 + w + 2, y0 + h + 1)],
                WHITE.mix(0.85).filled(),
            )
            + Text::new(text.to_string(), offset, font),
    ))?;
    Ok(())
}

/// Draw one panel: axes, warm-up shading, event markers, reference lines, series, labels.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axis: &TimeAxis,
    marks: &Marks,
    panel: &PanelSpec,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let area = match &panel.caption {
        Some(caption) => area.titled(caption, ("sans-serif", CAPTION_FONT))?,
        None => area.clone(),
    };
    // Room above the data for the rows of event labels.
    let plot_h = f64::from(area.dim_in_pixel().1) - f64::from(2 * MARGIN + X_AXIS_PX);
    let head_px = if marks.rows > 0 {
        marks.rows as f64 * LABEL_ROW_PX + 6.0
    } else {
        0.0
    };
    let raise = |(lo, hi): (f64, f64)| {
        let hi = hi.max(lo + 1e-9);
        (lo, hi + (hi - lo) * head_px / (plot_h - head_px).max(1.0))
    };
    let (y_lo, y_hi) = raise(panel.y_range);
    let (r_lo, r_hi) = panel.right.as_ref().map_or((0.0, 1.0), |r| raise(r.range));
    let to_left = move |v: f64| y_lo + (v - r_lo) / (r_hi - r_lo) * (y_hi - y_lo);
    let x_end = axis.end;
    let x_coord = || Ticked::new(0.0, x_end, axis.ticks.clone());
    let x_step = axis.ticks.get(1).map_or(x_end, |t| t - axis.ticks[0]);
    // Ticks below the event labels' rows only; whole numbers for counts.
    let min_step = if panel.integer { 1.0 } else { 0.0 };
    let data_top = panel.y_range.1.max(y_lo + 1e-9);
    let (y_ticks, y_step) = value_ticks(y_lo, data_top, min_step);
    let right_top = panel.right.as_ref().map_or(r_hi, |r| r.range.1);
    let (r_ticks, r_step) = value_ticks(r_lo, right_top, 0.0);
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .x_label_area_size(X_AXIS_PX)
        .y_label_area_size(LEFT_AXIS_PX)
        .right_y_label_area_size(RIGHT_AXIS_PX)
        .build_cartesian_2d(x_coord(), Ticked::new(y_lo, y_hi, y_ticks))?
        .set_secondary_coord(x_coord(), Ticked::new(r_lo, r_hi, r_ticks));
    chart
        .configure_mesh()
        .x_desc(axis.desc())
        .y_desc(panel.y_desc.as_str())
        .x_label_formatter(&|v| axis_label(*v, 10.0 * x_step))
        .y_label_formatter(&|v| axis_label(*v, 10.0 * y_step))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .label_style(("sans-serif", LABEL_FONT))
        .draw()?;
    if let Some(right) = &panel.right {
        chart
            .configure_secondary_axes()
            .y_desc(right.desc.as_str())
            .y_label_formatter(&|v| axis_label(*v, 10.0 * r_step))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .label_style(("sans-serif", LABEL_FONT))
            .draw()?;
    }
    let chart: &mut ChartContext<'_, DB, Coords> = &mut chart;
    for shade in &panel.shades {
        let (x0, x1) = (axis.x(shade.from_s).max(0.0), axis.x(shade.to_s).min(x_end));
        if x1 <= x0 {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, y_lo), (x1, y_hi)],
            SHADE.filled(),
        )))?;
    }
    for mark in marks.placed.iter().filter(|m| m.line) {
        draw_straight(chart, vec![(mark.x, y_lo), (mark.x, y_hi)], mark.look)?;
    }
    // Reference lines stop below the rows of event labels.
    let clipped: Vec<(&RefLine, Clipped)> = panel
        .refs
        .iter()
        .filter_map(|line| {
            let map = |(t, v): (f64, f64)| (axis.x(t), if line.right { to_left(v) } else { v });
            let part = clip_segment(map(line.from), map(line.to), (0.0, x_end), (y_lo, data_top))?;
            Some((line, part))
        })
        .collect();
    for trace in &panel.traces {
        draw_trace(chart, trace, axis.unit.seconds, &|v| v)?;
    }
    for trace in &panel.right_traces {
        draw_trace(chart, trace, axis.unit.seconds, &to_left)?;
    }
    // Reference lines over the data: the trend must show through a GC sawtooth's band.
    for &(
        line,
        Clipped {
            from: a,
            to: b,
            ends_inside,
        },
    ) in &clipped
    {
        draw_straight(chart, vec![a, b], line.look)?;
        if ends_inside && line.look.marker != Marker::None {
            let mark = marker_path(line.look.marker);
            let style = line.look.style();
            chart.draw_series(std::iter::once(
                EmptyElement::at(b) + PathElement::new(mark, style),
            ))?;
        }
    }
    // Labels last, so that they stay readable over the data.
    for &(line, Clipped { from: a, to: b, .. }) in &clipped {
        let Some(text) = &line.end_label else {
            continue;
        };
        let (dy, v) = if line.label_below {
            (3, VPos::Top)
        } else {
            (-3, VPos::Bottom)
        };
        let (at, dx, h) = if line.label_at_start {
            (a, 4, HPos::Left)
        } else {
            (b, -4, HPos::Right)
        };
        draw_label(chart, at, (dx, dy), text, line.look.color, Pos::new(h, v))?;
    }
    for mark in &marks.placed {
        let Some((text, row, left)) = &mark.label else {
            continue;
        };
        let dy = 3 + (*row as f64 * LABEL_ROW_PX) as i32;
        let (offset, h) = if *left {
            ((-4, dy), HPos::Right)
        } else {
            ((4, dy), HPos::Left)
        };
        let color = if mark.look.color == LIGHT_GREY {
            GREY
        } else {
            mark.look.color
        };
        draw_label(
            chart,
            (mark.x, y_hi),
            offset,
            text,
            color,
            Pos::new(h, VPos::Top),
        )?;
    }
    Ok(())
}

/// Where each legend entry goes (left to right, wrapping), and the strip's height.
fn legend_layout(items: &[LegendItem]) -> (Vec<BackendCoord>, u32) {
    let left = (MARGIN + LEFT_AXIS_PX) as i32;
    let right = (WIDTH - MARGIN) as i32;
    let (mut x, mut y) = (left, LEGEND_ROW_PX / 2 + 4);
    let mut at = Vec::with_capacity(items.len());
    for item in items {
        let w = 32 + text_px(&item.label, LEGEND_FONT).ceil() as i32 + 20;
        if x > left && x + w > right {
            x = left;
            y += LEGEND_ROW_PX;
        }
        at.push((x, y));
        x += w;
    }
    let height = if items.is_empty() {
        0
    } else {
        (y + LEGEND_ROW_PX / 2 + 6) as u32
    };
    (at, height)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
    at: &[BackendCoord],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (item, &(x, y)) in items.iter().zip(at) {
        match item.key {
            Key::Line(look) => area.draw(&legend_sample::<DB>(look, (x, y)))?,
            Key::Area(color) => {
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    color.filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    GREY.stroke_width(1),
                ))?;
            }
            Key::Text => {}
        }
        area.draw(&Text::new(item.label.clone(), (x + 32, y), font.clone()))?;
    }
    Ok(())
}

/// The file name of a path, for error messages.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Draw a chart into an SVG file.
fn render(path: &Path, axis: &TimeAxis, chart: &ChartSpec) -> Result<(), ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        file: file_name(path),
        reason: e.to_string(),
    };
    let (legend_at, legend_px) = legend_layout(&chart.legend);
    let title_px = 36;
    let panels = chart.panels.len().max(1) as u32;
    let height = title_px + panels * chart.panel_px + legend_px;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (top, legend) = root.split_vertically(height - legend_px);
    let (title, body) = top.split_vertically(title_px);
    title
        .draw(&Text::new(
            chart.title.clone(),
            ((WIDTH / 2) as i32, (title_px / 2) as i32),
            ("sans-serif", TITLE_FONT)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(|e| fail(&e))?;
    let areas = body.split_evenly((chart.panels.len().max(1), 1));
    for (area, panel) in areas.iter().zip(&chart.panels) {
        draw_panel(area, axis, &chart.marks, panel).map_err(|e| fail(&e))?;
    }
    draw_legend(&legend, &chart.legend, &legend_at).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// Draw lines over time into an SVG file: one panel, legend below.
pub fn line_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    lines: &[Line],
    span_s: f64,
) -> Result<(), ChartError> {
    let axis = TimeAxis::new(span_s, span_s);
    let look = |l: &Line| Look::new(l.color, l.width, l.dashed.then_some((8, 5)), Marker::None);
    let mut panel = PanelSpec::new(
        y_label,
        padded(extent(
            lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)),
        )),
    );
    panel.traces = lines
        .iter()
        .map(|l| Trace {
            segments: vec![l.points.clone()],
            look: look(l),
        })
        .collect();
    let chart = ChartSpec {
        title: title.to_string(),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: Marks {
            placed: Vec::new(),
            rows: 0,
        },
        legend: lines
            .iter()
            .map(|l| legend_item(&l.label, look(l)))
            .collect(),
    };
    render(path, &axis, &chart)
}

/// `+24.4 MB/min`, `-3.20/h`.
fn signed(rate: String, value: f64) -> String {
    if value >= 0.0 && !rate.starts_with('-') {
        format!("+{rate}")
    } else {
        rate
    }
}

fn verdict_word(trend: &MetricTrend) -> &'static str {
    if trend.judged {
        trend.verdict.as_str()
    } else {
        "info"
    }
}

/// The unit memory is drawn in: kB, MB or GB by the largest value.
fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e10 {
        (1e9, "GB")
    } else if max >= 1e6 {
        (1e6, "MB")
    } else {
        (1e3, "kB")
    }
}

/// The warm-up of a trend as a shaded span, when there was one.
fn warmup_shade(trend: Option<&MetricTrend>, first_t: f64) -> Option<Shade> {
    let trend = trend.filter(|t| t.warmup_s > 0.0)?;
    Some(Shade {
        from_s: first_t,
        to_s: first_t + trend.warmup_s,
    })
}

/// The label of a warm-up's shading, placed with the event labels.
fn warmup_mark(first_t: f64) -> Mark {
    Mark {
        t: first_t,
        kind: MarkKind::WarmUp,
        label: "warm-up".to_string(),
    }
}

fn warmup_legend() -> LegendItem {
    LegendItem {
        label: "warm-up (not used for the trend)".to_string(),
        key: Key::Area(SHADE),
    }
}

/// The fitted line of a trend, and the fail threshold's slope from its start over the
/// same span, in the chart's unit (`scale` units per value unit).
fn trend_lines(trend: &MetricTrend, threshold_per_min: Option<f64>, scale: f64) -> Vec<RefLine> {
    let (t0, v0) = (trend.fit_start[0], trend.fit_start[1] / scale);
    let (t1, v1) = (trend.fit_end[0], trend.fit_end[1] / scale);
    let mut lines = vec![RefLine::new((t0, v0), (t1, v1), FIT_LOOK)];
    if let Some(per_min) = threshold_per_min.filter(|_| t1 > t0) {
        let v = v0 + per_min / scale * (t1 - t0) / 60.0;
        lines.push(RefLine::new((t0, v0), (t1, v), THRESHOLD_LOOK));
    }
    lines
}

/// "Memory: RSS +24.4 MB/min (fail; threshold 10.0 MB/min)".
fn memory_title(run: &RunData, verdict: &RunVerdict) -> String {
    match &verdict.metrics.rss {
        Some(t) => format!(
            "Memory: RSS {} ({}; threshold {})",
            signed(format_byte_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t),
            format_byte_rate(verdict.thresholds.max_growth_bytes_per_min)
        ),
        None if run.columns.present(Metric::Rss) > 0 => {
            "Memory: RSS (too few samples for a trend)".to_string()
        }
        None => "Memory: not measured".to_string(),
    }
}

/// VMS is drawn with the others unless it is more than this many times their largest
/// value: it is address space (arenas, thread stacks, mapped files), usually many times
/// RSS, and on the same axis it would flatten them; on an axis of its own its saw would
/// look like the main series. Then the legend states its range and slope instead.
const VMS_DWARFS: f64 = 3.0;

/// The memory chart: RSS, and USS and PSS (thin lines), and VMS unless it dwarfs them;
/// RSS's fitted trend over the analysed span and the fail threshold's slope from the same
/// start; the warm-up shaded; the growth onset marked; the memory limit and where the
/// trend would reach it.
fn memory_chart(run: &RunData, verdict: &RunVerdict, axis: &TimeAxis, marks: &[Mark]) -> ChartSpec {
    let m = &verdict.metrics;
    let rss_trend = m.rss.as_ref();
    let raw = |metric| sample_segments(&run.columns, metric);
    let rss = raw(Metric::Rss);
    let pss = raw(Metric::Pss);
    let uss = raw(Metric::Uss);
    let vms = raw(Metric::Vms);
    let data = extent(
        [&rss, &pss, &uss]
            .iter()
            .flat_map(|s| s.iter().flatten())
            .map(|p| p.1),
    );
    let has_rss = !rss.is_empty();
    let vms_range = extent(vms.iter().flatten().map(|p| p.1));
    let vms_drawn =
        vms_range.is_some_and(|(_, v)| data.is_none_or(|(_, hi)| v <= VMS_DWARFS * hi.max(1.0)));
    let data_hi = data.map_or(0.0, |d| d.1).max(if vms_drawn {
        vms_range.map_or(0.0, |v| v.1)
    } else {
        0.0
    });
    let limit = verdict.capacity.mem_limit_bytes.map(|l| l as f64);
    let proj = projection(run, verdict);
    let drawn_proj = proj.filter(|p| p.drawn && axis.x(p.at_s) <= axis.end);
    // The limit is drawn when it is not far above the data, or the projection reaches it.
    let limit_shown = limit.filter(|l| drawn_proj.is_some() || *l <= 4.0 * data_hi.max(1.0));
    let (scale, unit) = byte_unit(data_hi.max(limit_shown.unwrap_or(0.0)));
    let scaled = |segments: Vec<Vec<(f64, f64)>>| -> Vec<Vec<(f64, f64)>> {
        segments
            .into_iter()
            .map(|seg| seg.into_iter().map(|(t, v)| (t, v / scale)).collect())
            .collect()
    };
    let mut legend = Vec::new();
    let mut traces = Vec::new();
    let series_label = |name: &str, trend: Option<&MetricTrend>| match trend {
        Some(t) => format!(
            "{name} {} ({})",
            signed(format_byte_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t)
        ),
        None => name.to_string(),
    };
    let vms_trend = m.vms.as_ref();
    for (name, segments, look, trend) in [
        ("RSS", rss, RSS_LOOK, rss_trend),
        ("USS", uss, USS_LOOK, m.uss.as_ref()),
        ("PSS", pss, PSS_LOOK, m.pss.as_ref()),
        (
            "VMS",
            if vms_drawn { vms } else { Vec::new() },
            VMS_LOOK,
            vms_trend,
        ),
    ] {
        if segments.is_empty() {
            continue;
        }
        legend.push(legend_item(series_label(name, trend), look));
        traces.push(Trace {
            segments: scaled(segments),
            look,
        });
    }
    // RSS drawn last, on top of the thin lines.
    if has_rss {
        traces.rotate_left(1);
    }
    // Said last in the legend.
    let vms_note = vms_range.filter(|_| !vms_drawn).map(|(lo, hi)| {
        let slope = vms_trend.map_or(String::new(), |t| {
            format!(
                ", {}",
                signed(format_byte_rate(t.slope_per_min), t.slope_per_min)
            )
        });
        LegendItem {
            label: format!(
                "VMS {} to {}{slope}: not drawn (address space, over {VMS_DWARFS:.0}× RSS)",
                format_bytes(lo),
                format_bytes(hi)
            ),
            key: Key::Text,
        }
    });
    let mut refs = Vec::new();
    let mut values: Vec<f64> = trace_values(&traces).collect();
    if let Some(trend) = rss_trend {
        let lines = trend_lines(
            trend,
            Some(verdict.thresholds.max_growth_bytes_per_min),
            scale,
        );
        values.extend([lines[0].from.1, lines[0].to.1]);
        legend.push(legend_item(
            format!(
                "RSS fitted trend {}",
                signed(format_byte_rate(trend.slope_per_min), trend.slope_per_min)
            ),
            FIT_LOOK,
        ));
        legend.push(legend_item(
            format!(
                "fail threshold {} (from the trend's start)",
                signed(
                    format_byte_rate(verdict.thresholds.max_growth_bytes_per_min),
                    1.0
                )
            ),
            THRESHOLD_LOOK,
        ));
        refs.extend(lines);
    }
    if let Some(bytes) = verdict.capacity.mem_limit_bytes {
        let name = format!("memory limit {}", format_limit(bytes));
        let mut label = name.clone();
        if let Some(l) = limit_shown {
            values.push(l / scale);
            refs.push(RefLine {
                end_label: Some(name.clone()),
                label_at_start: true,
                ..RefLine::new((0.0, l / scale), (axis.end_s(), l / scale), LIMIT_LOOK)
            });
        } else {
            label.push_str(" (above the chart)");
        }
        match proj {
            Some(p) if drawn_proj.is_some() => {
                refs.push(RefLine::new(
                    (p.from.0, p.from.1 / scale),
                    (p.at_s, p.limit / scale),
                    PROJECTION_LOOK,
                ));
                legend.push(legend_item(label, LIMIT_LOOK));
                legend.push(legend_item(
                    format!(
                        "projected: limit reached {} after the end",
                        short_duration(p.after_s)
                    ),
                    PROJECTION_LOOK,
                ));
            }
            Some(p) => {
                label.push_str(&format!(
                    "; reached in {} at this rate",
                    short_duration(p.after_s)
                ));
                legend.push(legend_item(label, LIMIT_LOOK));
            }
            None => legend.push(legend_item(label, LIMIT_LOOK)),
        }
    }
    let first_t = run.columns.t().first().copied().unwrap_or(0.0);
    let shades: Vec<Shade> = warmup_shade(rss_trend, first_t).into_iter().collect();
    if !shades.is_empty() {
        legend.push(warmup_legend());
    }
    let mut panel = PanelSpec::new(unit, padded(extent(values)));
    panel.traces = traces;
    panel.refs = refs;
    panel.shades = shades;
    legend.extend(vms_note);
    let mut marks = marks.to_vec();
    if !panel.shades.is_empty() {
        marks.push(warmup_mark(first_t));
    }
    if let Some(onset) = rss_trend.and_then(|t| t.onset_s) {
        marks.push(Mark {
            t: first_t + onset,
            kind: MarkKind::Onset,
            label: "growth onset".to_string(),
        });
    }
    ChartSpec {
        title: memory_title(run, verdict),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(&marks, axis),
        legend,
    }
}

/// "Threads +0.00/h (pass)".
fn count_title(name: &str, trend: Option<&MetricTrend>, measured: bool) -> String {
    match trend {
        Some(t) => format!(
            "{name} {} ({})",
            signed(format_count_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t)
        ),
        None if measured => format!("{name}: too few samples for a trend"),
        None => format!("{name}: not measured"),
    }
}

/// Threads above, open FDs below, each with its fitted trend, its fail threshold's slope
/// and its warm-up.
fn threads_fds_chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> ChartSpec {
    let m = &verdict.metrics;
    let th = &verdict.thresholds;
    let first_t = run.columns.t().first().copied().unwrap_or(0.0);
    let threads = sample_segments(&run.columns, Metric::Threads);
    let fds = sample_segments(&run.columns, Metric::Fds);
    let title = format!(
        "{}, {}",
        count_title("Threads", m.threads.as_ref(), !threads.is_empty()),
        count_title("FDs", m.fds.as_ref(), !fds.is_empty())
    );
    let mut legend = Vec::new();
    let mut panels = Vec::new();
    let mut any_warmup = false;
    let mut any_trend = false;
    for (caption, name, segments, look, trend, per_min) in [
        (
            "Threads",
            "threads",
            threads,
            THREADS_LOOK,
            m.threads.as_ref(),
            th.max_thread_growth_per_min,
        ),
        (
            "Open FDs",
            "open FDs",
            fds,
            FDS_LOOK,
            m.fds.as_ref(),
            th.max_fd_growth_per_min,
        ),
    ] {
        if segments.is_empty() {
            continue;
        }
        legend.push(legend_item(name, look));
        let trace = Trace { segments, look };
        let mut values: Vec<f64> = trace_values(std::slice::from_ref(&trace)).collect();
        let mut refs = Vec::new();
        if let Some(t) = trend {
            let lines = trend_lines(t, Some(per_min), 1.0);
            values.extend([lines[0].from.1, lines[0].to.1]);
            refs = lines;
            any_trend = true;
        }
        let shades: Vec<Shade> = warmup_shade(trend, first_t).into_iter().collect();
        any_warmup |= !shades.is_empty();
        let mut panel = PanelSpec::new("count", padded(extent(values)));
        panel.caption = Some(caption.to_string());
        panel.integer = true;
        panel.traces = vec![trace];
        panel.refs = refs;
        panel.shades = shades;
        panels.push(panel);
    }
    if panels.is_empty() {
        panels.push(PanelSpec::new("count", (0.0, 1.0)));
    }
    if any_trend {
        legend.push(legend_item("fitted trend", FIT_LOOK));
        legend.push(legend_item(
            format!(
                "fail threshold: threads {}, FDs {} (from the trend's start)",
                signed(format_count_rate(th.max_thread_growth_per_min), 1.0),
                signed(format_count_rate(th.max_fd_growth_per_min), 1.0)
            ),
            THRESHOLD_LOOK,
        ));
    }
    let mut marks = marks.to_vec();
    if any_warmup {
        legend.push(warmup_legend());
        marks.push(warmup_mark(first_t));
    }
    let panel_px = if panels.len() > 1 {
        DOUBLE_PANEL_PX
    } else {
        SINGLE_PANEL_PX
    };
    ChartSpec {
        title,
        panels,
        panel_px,
        marks: place_marks(&marks, axis),
        legend,
    }
}

/// CPU in cores, with the CPU limit.
fn cpu_chart(run: &RunData, verdict: &RunVerdict, axis: &TimeAxis, marks: &[Mark]) -> ChartSpec {
    let limit = verdict.capacity.cpu_limit_cores;
    let title = match (&verdict.metrics.cpu, limit) {
        (Some(c), Some(limit)) => format!(
            "CPU: mean {} cores, p95 {}, max {} (limit {}; {})",
            three_figures(c.mean_cores),
            three_figures(c.p95_cores),
            three_figures(c.max_cores),
            three_figures(limit),
            c.verdict.as_str()
        ),
        (Some(c), None) => format!(
            "CPU: mean {} cores, p95 {}, max {} (no limit set)",
            three_figures(c.mean_cores),
            three_figures(c.p95_cores),
            three_figures(c.max_cores),
        ),
        (None, _) => "CPU: not measured".to_string(),
    };
    let trace = Trace {
        segments: sample_segments(&run.columns, Metric::Cpu),
        look: CPU_LOOK,
    };
    let mut legend = vec![legend_item("CPU (cores)", CPU_LOOK)];
    let data_max = trace_values(std::slice::from_ref(&trace)).fold(0.0, f64::max);
    let mut top = data_max;
    let mut refs = Vec::new();
    if let Some(limit) = limit {
        let name = format!("CPU limit {} cores", three_figures(limit));
        if limit <= 4.0 * data_max.max(0.05) {
            top = top.max(limit);
            refs.push(RefLine {
                end_label: Some(name.clone()),
                label_at_start: true,
                ..RefLine::new((0.0, limit), (axis.end_s(), limit), LIMIT_LOOK)
            });
            legend.push(legend_item(name, LIMIT_LOOK));
        } else {
            legend.push(legend_item(format!("{name} (above the chart)"), LIMIT_LOOK));
        }
    }
    let mut panel = PanelSpec::new("cores", (0.0, (top * 1.05).max(0.01)));
    // At one sample a second a day of CPU is a band from the min to the max of each pixel
    // column; its mean over a few minutes shows how the level moves.
    let (means, window_s) = bucket_means(&trace.segments, MEAN_POINTS);
    panel.traces = vec![trace];
    if window_s > 0.0 {
        legend.push(legend_item(
            format!("CPU, mean per {}", short_duration(window_s)),
            CPU_MEAN_LOOK,
        ));
        panel.traces.push(Trace {
            segments: means,
            look: CPU_MEAN_LOOK,
        });
    }
    panel.refs = refs;
    ChartSpec {
        title,
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(marks, axis),
        legend,
    }
}

/// Points of the mean line drawn over a series too long to draw whole.
const MEAN_POINTS: usize = 400;

/// The means of consecutive runs of points (about `points` in all), when the segments
/// hold more than [`MAX_POINTS`] (fewer are drawn whole, and need no mean), and the time
/// each mean spans, seconds (0 when none were made).
fn bucket_means(segments: &[Vec<(f64, f64)>], points: usize) -> (Vec<Vec<(f64, f64)>>, f64) {
    let total: usize = segments.iter().map(Vec::len).sum();
    if total <= MAX_POINTS {
        return (Vec::new(), 0.0);
    }
    let size = total.div_ceil(points).max(2);
    let mut window_s: f64 = 0.0;
    let means = segments
        .iter()
        .map(|segment| {
            segment
                .chunks(size)
                .map(|chunk| {
                    let n = chunk.len() as f64;
                    if chunk.len() == size {
                        // From one sample's tick to the tick after the last one.
                        let gaps = (size - 1) as f64;
                        window_s = window_s.max((chunk[size - 1].0 - chunk[0].0) * n / gaps);
                    }
                    let t = chunk.iter().map(|p| p.0).sum::<f64>() / n;
                    (t, chunk.iter().map(|p| p.1).sum::<f64>() / n)
                })
                .collect()
        })
        .collect();
    (means, window_s)
}

/// Write memory.svg, threads_fds.svg and cpu.svg; returns the file names written.
pub fn write_charts(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
) -> Result<Vec<String>, ChartError> {
    let axis = time_axis(run, verdict);
    let marks = run_marks(run, &axis);
    let charts = [
        ("memory.svg", memory_chart(run, verdict, &axis, &marks)),
        (
            "threads_fds.svg",
            threads_fds_chart(run, verdict, &axis, &marks),
        ),
        ("cpu.svg", cpu_chart(run, verdict, &axis, &marks)),
    ];
    let mut written = Vec::new();
    for (file, chart) in charts {
        render(&dir.join(file), &axis, &chart)?;
        written.push(file.to_string());
    }
    Ok(written)
}

/// File name of the load chart.
pub const LOAD_CHART_FILE: &str = "load.svg";

/// A horizontal reference line: a gate.
struct Level {
    /// Legend and line label, e.g. `--max-p95 500 ms`.
    label: String,
    value: f64,
    color: RGBColor,
}

const GATE_DASH: (u32, u32) = (12, 6);

/// One value axis of the load chart: its series, its gate lines (each with whether it is
/// within the axis), and the axis' upper end.
struct Panel<'t> {
    levels: Vec<(&'t Level, bool)>,
    top: f64,
}

impl<'t> Panel<'t> {
    /// The axis runs from 0 to the data's maximum (at least `floor`), raised to show each
    /// gate that is not far above the data (a gate further up is left off the chart, and
    /// its legend entry says so, rather than squashing the data flat).
    fn new(traces: &[Trace], levels: &'t [Level], floor: f64) -> Panel<'t> {
        let data_max = trace_values(traces).fold(0.0, f64::max);
        let reach = 4.0 * data_max.max(floor);
        let mut top = data_max.max(floor);
        let levels = levels
            .iter()
            .map(|level| {
                let shown = level.value <= reach;
                if shown {
                    top = top.max(level.value);
                }
                (level, shown)
            })
            .collect();
        Panel {
            levels,
            top: top * 1.08,
        }
    }

    /// The shown gates as lines across the axis, labelled at the right end.
    fn refs(&self, end_s: f64, right: bool) -> Vec<RefLine> {
        self.levels
            .iter()
            .filter(|(_, shown)| *shown)
            .map(|(level, _)| RefLine {
                right,
                end_label: Some(level.label.clone()),
                // The right axis' labels go below their line, so that they do not print
                // over the left axis' ones when the two lines meet.
                label_below: right,
                ..RefLine::new(
                    (0.0, level.value),
                    (end_s, level.value),
                    Look::new(level.color, 1, Some(GATE_DASH), Marker::None),
                )
            })
            .collect()
    }

    /// The gates as legend entries: shown ones draw a long dash; ones above the chart say so.
    fn legend(&self) -> Vec<LegendItem> {
        self.levels
            .iter()
            .map(|&(level, shown)| {
                let label = if shown {
                    level.label.clone()
                } else {
                    format!("{} (above the chart)", level.label)
                };
                legend_item(
                    label,
                    Look::new(level.color, 1, Some(GATE_DASH), Marker::None),
                )
            })
            .collect()
    }
}

/// "Load: 200.0 req/s, p95 3.4 ms, 0.00% errors; gates pass".
fn load_title(summary: Option<&LoadSummary>) -> String {
    let Some(s) = summary else {
        return "Load".to_string();
    };
    let mut parts = Vec::new();
    if let Some(rps) = s.rps {
        parts.push(format!("{} req/s", format_rps(rps)));
    }
    if let Some(p95) = s.latency_ms.p95 {
        parts.push(format!("p95 {} ms", format_ms(p95)));
    }
    if let Some(rate) = s.error_rate {
        parts.push(format!("{:.2}% errors", rate * 100.0));
    }
    let mut title = format!("Load: {}", parts.join(", "));
    if !s.gates.is_empty() {
        let failed = s.gates.iter().filter(|g| !g.passed).count();
        if failed == 0 {
            title.push_str("; gates pass");
        } else {
            title.push_str(&format!("; {failed} of {} gates fail", s.gates.len()));
        }
    }
    title
}

/// Draw the load chart on the time axis of the other charts, with only the load's stage
/// changes marked (see [`write_load_chart`] for the run's other events).
pub fn load_chart(
    path: &Path,
    load: &LoadRun,
    summary: Option<&LoadSummary>,
    thresholds: &Thresholds,
    samples_span_s: f64,
) -> Result<(), ChartError> {
    let load_end = load.intervals.last().map_or(0.0, |i| i.t);
    let end = samples_span_s.max(load_end);
    let axis = TimeAxis::new(
        if samples_span_s > 0.0 {
            samples_span_s
        } else {
            end
        },
        end,
    );
    let marks = stage_marks(load);
    draw_load_chart(path, load, summary, thresholds, &axis, &marks)
}

/// The load chart: latency percentiles above, throughput and error rate (right axis)
/// below, with the gates as lines and the run's events marked.
fn draw_load_chart(
    path: &Path,
    load: &LoadRun,
    summary: Option<&LoadSummary>,
    thresholds: &Thresholds,
    axis: &TimeAxis,
    marks: &[Mark],
) -> Result<(), ChartError> {
    let intervals = &load.intervals;
    let latency_looks = [
        ("p50", Look::new(BLUE, 1, None, Marker::None)),
        ("p95", Look::new(ORANGE, 2, None, Marker::Triangle)),
        ("p99", Look::new(VERMILLION, 2, None, Marker::Circle)),
    ];
    let latency: Vec<Trace> = latency_looks
        .iter()
        .map(|&(name, look)| Trace {
            segments: interval_segments(intervals, |i| match name {
                "p50" => i.latency_ms.p50,
                "p95" => i.latency_ms.p95,
                _ => i.latency_ms.p99,
            }),
            look,
        })
        .collect();
    let gate = |kind: GateKind, limit: Option<f64>, scale: f64, color: RGBColor| {
        limit.map(|limit| Level {
            label: format!("{} {}", kind.option(), kind.format_limit(limit)),
            value: limit * scale,
            color,
        })
    };
    let latency_levels: Vec<Level> = [
        gate(GateKind::P95, thresholds.max_p95_ms, 1.0, ORANGE),
        gate(GateKind::P99, thresholds.max_p99_ms, 1.0, VERMILLION),
    ]
    .into_iter()
    .flatten()
    .collect();
    let rps_levels: Vec<Level> = gate(GateKind::MinRps, thresholds.min_rps, 1.0, PURPLE)
        .into_iter()
        .collect();
    let error_levels: Vec<Level> = gate(
        GateKind::ErrorRate,
        thresholds.max_error_rate,
        100.0,
        VERMILLION,
    )
    .into_iter()
    .collect();
    let throughput_look = Look::new(BLUE, 2, None, Marker::None);
    let throughput = Trace {
        segments: interval_segments(intervals, |i| Some(i.rps)),
        look: throughput_look,
    };
    let errors_look = Look::new(VERMILLION, 2, None, Marker::Cross);
    let error_pct = Trace {
        segments: interval_segments(intervals, |i| {
            (i.requests > 0).then(|| i.errors.total() as f64 / i.requests as f64 * 100.0)
        }),
        look: errors_look,
    };
    let latency_panel = Panel::new(&latency, &latency_levels, 1.0);
    let rps_panel = Panel::new(std::slice::from_ref(&throughput), &rps_levels, 1.0);
    let error_panel = Panel::new(std::slice::from_ref(&error_pct), &error_levels, 2.0);

    let mut legend: Vec<LegendItem> = latency_looks
        .iter()
        .map(|&(name, look)| legend_item(format!("{name} latency"), look))
        .collect();
    legend.extend(latency_panel.legend());
    legend.push(legend_item("throughput (req/s)", throughput_look));
    legend.push(legend_item(
        "errors (% of requests, right axis)",
        errors_look,
    ));
    legend.extend(rps_panel.legend());
    legend.extend(error_panel.legend());

    let end_s = axis.end_s();
    let mut top = PanelSpec::new("ms", (0.0, latency_panel.top));
    top.caption = Some("Latency".to_string());
    top.refs = latency_panel.refs(end_s, false);
    top.traces = latency;
    let mut bottom = PanelSpec::new("req/s", (0.0, rps_panel.top));
    bottom.caption = Some("Throughput and errors".to_string());
    bottom.right = Some(RightAxis {
        desc: "errors (% of requests)".to_string(),
        range: (0.0, error_panel.top),
    });
    bottom.refs = rps_panel.refs(end_s, false);
    bottom.refs.extend(error_panel.refs(end_s, true));
    bottom.traces = vec![throughput];
    bottom.right_traces = vec![error_pct];
    let chart = ChartSpec {
        title: load_title(summary),
        panels: vec![top, bottom],
        panel_px: DOUBLE_PANEL_PX + 40,
        marks: place_marks(marks, axis),
        legend,
    };
    render(path, axis, &chart)
}

/// Write load.svg when the run has load intervals; returns its name when written.
pub fn write_load_chart(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
) -> Result<Option<String>, ChartError> {
    let Some(load) = run.load.as_ref().filter(|l| !l.intervals.is_empty()) else {
        return Ok(None);
    };
    let axis = time_axis(run, verdict);
    let marks = run_marks(run, &axis);
    draw_load_chart(
        &dir.join(LOAD_CHART_FILE),
        load,
        verdict.load.as_ref(),
        &verdict.thresholds,
        &axis,
        &marks,
    )?;
    Ok(Some(LOAD_CHART_FILE.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;

    #[test]
    fn thinning_keeps_extremes() {
        let mut pts: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, (i % 100) as f64)).collect();
        pts[54_321].1 = 1e6; // a one-sample spike
        pts[77_777].1 = -1e6;
        let thin = thin(&pts, 1000);
        assert!(thin.len() <= 1002, "{}", thin.len());
        assert!(thin.iter().any(|p| p.1 == 1e6) && thin.iter().any(|p| p.1 == -1e6));
        assert!(
            thin.windows(2).all(|w| w[0].0 <= w[1].0),
            "time stays ordered"
        );
    }

    #[test]
    fn axis_labels_follow_the_span() {
        assert_eq!(axis_label(8.0, 6.0), "8.0");
        assert_eq!(axis_label(8.0, 60.0), "8");
        assert_eq!(axis_label(0.015, 0.045), "0.015");
        assert_eq!(axis_label(25.0, 30.0), "25");
    }

    use crate::analysis::load::judge_load;
    use crate::runlog::load::{ErrorCounts, LatencyMs, LoadStart, StageEvent};

    /// 60 one-second intervals at 200 req/s; no responses in (20, 25] (every request
    /// refused), and the intervals ending at 41..=44 missing (the driver stalled).
    fn load_run() -> LoadRun {
        let intervals = (1..=60)
            .filter(|i| !(41..=44).contains(i))
            .map(|i| {
                let refused = (21..=25).contains(&i);
                let ms = 1.0 + (i % 7) as f64 * 0.1;
                LoadInterval {
                    t: i as f64,
                    dt_s: 1.0,
                    level: 200.0,
                    active: 3,
                    requests: 200,
                    errors: ErrorCounts {
                        connect: if refused { 200 } else { 0 },
                        ..ErrorCounts::default()
                    },
                    rps: 200.0,
                    latency_ms: if refused {
                        LatencyMs::default()
                    } else {
                        LatencyMs {
                            p50: Some(ms),
                            p90: Some(2.0 * ms),
                            p95: Some(3.0 * ms),
                            p99: Some(8.0 * ms),
                            max: Some(20.0),
                        }
                    },
                    ..LoadInterval::default()
                }
            })
            .collect();
        LoadRun {
            start: Some(LoadStart {
                t: 0.0,
                driver: "builtin".into(),
                model: Some("open".into()),
                source: "soak.toml".into(),
                interval_s: 1.0,
                requests: vec![],
                stages: vec![],
                max_in_flight: None,
            }),
            intervals,
            stages: vec![
                StageEvent {
                    t: 0.0,
                    index: 0,
                    name: "warm".into(),
                    target: 50.0,
                },
                StageEvent {
                    t: 30.0,
                    index: 1,
                    name: "steady".into(),
                    target: 200.0,
                },
            ],
            external: None,
            end_in_flight: Some(0),
            total: crate::runlog::load::LoadTotals {
                requests: 11200,
                errors: ErrorCounts {
                    connect: 1000,
                    ..ErrorCounts::default()
                },
                latency: {
                    let mut h = crate::runlog::load::new_latency_histogram().unwrap();
                    h.record_n(1200, 10_200).unwrap();
                    Some(h)
                },
            },
            by_name: Default::default(),
            skipped_lines: 0,
        }
    }

    #[test]
    fn load_segments_break_at_missing_values_and_intervals() {
        let run = load_run();
        let p50 = interval_segments(&run.intervals, |i| i.latency_ms.p50);
        let spans: Vec<(f64, f64, usize)> = p50
            .iter()
            .map(|s| (s[0].0, s[s.len() - 1].0, s.len()))
            .collect();
        assert_eq!(
            spans,
            vec![(1.0, 20.0, 20), (26.0, 40.0, 15), (45.0, 60.0, 16)]
        );
        assert!(
            p50.iter().flatten().all(|p| p.1 > 0.0),
            "gaps are not zeros"
        );
        // Throughput has a value in every interval: only the missing ones break it.
        assert_eq!(interval_segments(&run.intervals, |i| Some(i.rps)).len(), 2);
        let mut long = vec![(0.0, 0.0); 10_000];
        long.extend(vec![(1.0, 1.0); 10]);
        let thinned = thin_segments(&[long, vec![(2.0, 2.0)]], 1000);
        assert_eq!(thinned.len(), 2);
        assert!(thinned[0].len() <= 1002 && thinned[1].len() == 1);
    }

    #[test]
    fn load_chart_has_both_panels_and_its_series() {
        let run = load_run();
        let thresholds = Thresholds {
            max_p95_ms: Some(5.0),
            max_p99_ms: Some(10_000.0), // far above the data: left off the chart
            max_error_rate: Some(0.01),
            min_rps: Some(100.0),
            ..Thresholds::default()
        };
        let (summary, _) = judge_load(&run, &thresholds);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOAD_CHART_FILE);
        load_chart(&path, &run, Some(&summary), &thresholds, 60.5).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in [
            "Load: 186.7 req/s, p95 1.2 ms, 8.93% errors; 1 of 4 gates fail",
            "Latency",
            "Throughput and errors",
            "p50 latency",
            "p95 latency",
            "p99 latency",
            "throughput (req/s)",
            "errors (% of requests, right axis)",
            "--max-p95 5.0 ms",
            "--max-p99 10000 ms (above the chart)",
            "--max-error-rate 1%",
            "--min-rps 100",
            "warm: 50 req/s",
            "steady: 200 req/s",
            "time since start (s)",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        // p50 is the only thin blue line: one polyline per segment (the legend sample's
        // pieces have two points each), none across the gaps.
        let p50_lines = svg
            .lines()
            .filter(|l| {
                l.contains("<polyline")
                    && l.contains("stroke=\"#0072B2\"")
                    && l.contains("stroke-width=\"1\"")
                    && l.matches(',').count() > 2
            })
            .count();
        assert_eq!(p50_lines, 3, "{svg}");
        // The gate above the data is left off the chart: no line at 10 s of latency.
        assert!(!svg.contains(">--max-p99 10000 ms<"), "{svg}");
    }

    #[test]
    fn axis_units() {
        assert_eq!(time_unit(60.0).name, "s");
        assert_eq!(time_unit(3600.0).name, "min");
        assert_eq!(time_unit(86_400.0).name, "h");
    }

    // ----- the charts of a whole run -----

    use crate::analysis::{AnalysisConfig, analyse};
    use crate::rng::SplitMix64;
    use crate::runlog::load::LoadTotals;
    use crate::runlog::tests_support::header;
    use crate::runlog::{Event, Limits};

    const MB: f64 = 1e6;
    const GIB: u64 = 1 << 30;

    /// `n` seconds at 1 Hz: RSS warms up over the first tenth (50 → 100 MB), stays flat
    /// (±1 MB of noise) until the middle, then leaks 20 MB/min; USS, PSS and VMS follow it.
    /// The target exits with status 3 at 40% and its PID is reused at 55%; it is killed at
    /// 70%; fail-fast at 90%. Three late ticks close together at 15%, and 100 s without
    /// samples before 30%. A load driver in three stages, reporting every 10 s.
    fn synthetic_run(n: usize, mem_limit: u64) -> (RunData, RunVerdict) {
        let (samples, rng) = synthetic_samples(n);
        synthetic_run_of(&samples, rng, n, mem_limit)
    }

    /// The samples of [`synthetic_run`], and the generator as it is after them.
    fn synthetic_samples(n: usize) -> (Vec<Sample>, SplitMix64) {
        let mut rng = SplitMix64(7);
        let nf = n as f64;
        let stall = (0.3 * nf - 100.0)..(0.3 * nf);
        let samples: Vec<Sample> = (0..n)
            .map(|i| i as f64)
            .filter(|t| !stall.contains(t))
            .map(|t| {
                let base = if t < 0.1 * nf {
                    50.0 * MB + 50.0 * MB * t / (0.1 * nf)
                } else {
                    100.0 * MB + 20.0 * MB / 60.0 * (t - 0.5 * nf).max(0.0)
                };
                let rss = base + MB * (2.0 * rng.unit_f64() - 1.0);
                Sample {
                    t,
                    rss: Some(rss as u64),
                    pss: Some((rss * 0.9) as u64),
                    uss: Some((rss * 0.85) as u64),
                    vms: Some((rss + 1.5e9) as u64),
                    threads: Some(if t < 0.55 * nf { 10 } else { 12 }),
                    fds: Some(20 + (t / nf * 4.0) as u64),
                    cpu: Some(0.2 + 0.1 * rng.unit_f64()),
                    ..Sample::default()
                }
            })
            .collect();
        (samples, rng)
    }

    fn synthetic_run_of(
        samples: &[Sample],
        mut rng: SplitMix64,
        n: usize,
        mem_limit: u64,
    ) -> (RunData, RunVerdict) {
        let nf = n as f64;
        let at = |f: f64, kind: EventKind| Event { t: f * nf, kind };
        let gap = |t: f64, late_s: f64| Event {
            t,
            kind: EventKind::Gap {
                late_s,
                missed_ticks: late_s as u64,
            },
        };
        let exit = |code, signal| EventKind::TargetExit {
            pid: 42,
            code,
            signal,
            by_profiler: false,
        };
        let events = vec![
            gap(0.15 * nf, 1.7),
            gap(0.15 * nf + 2.0, 1.7),
            gap(0.15 * nf + 5.0, 1.7),
            gap(0.3 * nf, 100.0),
            at(0.4, exit(Some(3), None)),
            at(0.55, EventKind::PidReused { pid: 42 }),
            at(0.7, exit(None, Some(9))),
            at(
                0.9,
                EventKind::FailFast {
                    reason: "RSS".into(),
                },
            ),
        ];
        let stage = |f: f64, index, name: &str, target| StageEvent {
            t: f * nf,
            index,
            name: name.into(),
            target,
        };
        let intervals = (1..=n / 10)
            .map(|i| {
                let t = (i * 10) as f64;
                LoadInterval {
                    t,
                    dt_s: 10.0,
                    requests: 2000,
                    rps: 200.0,
                    latency_ms: LatencyMs {
                        p50: Some(1.0 + rng.unit_f64()),
                        p95: Some(3.0 + rng.unit_f64()),
                        p99: Some(8.0 + rng.unit_f64()),
                        ..LatencyMs::default()
                    },
                    ..LoadInterval::default()
                }
            })
            .collect();
        let load = LoadRun {
            start: Some(LoadStart {
                t: 0.0,
                driver: "builtin".into(),
                model: Some("open".into()),
                source: "soak.toml".into(),
                interval_s: 10.0,
                requests: vec![],
                stages: vec![],
                max_in_flight: None,
            }),
            intervals,
            stages: vec![
                stage(0.0, 0, "warm", 50.0),
                stage(0.25, 1, "steady", 200.0),
                stage(0.8, 2, "spike", 400.0),
            ],
            external: None,
            end_in_flight: Some(0),
            total: LoadTotals {
                requests: 200 * n as u64 / 10 * 10,
                errors: ErrorCounts::default(),
                latency: None,
            },
            by_name: Default::default(),
            skipped_lines: 0,
        };
        let run = RunData {
            header: header(),
            columns: crate::synthetic::columns(samples),
            events,
            skipped_lines: 0,
            stop_reason: None,
            load: Some(load),
        };
        let mut config = AnalysisConfig {
            limits: Limits {
                mem_limit_bytes: Some(mem_limit),
                cpu_limit_cores: Some(0.5),
                ..Limits::default()
            },
            ..AnalysisConfig::default()
        };
        config.thresholds.warmup_s = Some(0.1 * nf);
        let verdict = analyse(&run, &config);
        (run, verdict)
    }

    /// The text of every `<text>` element, in order.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|part| {
                let start = part.find('>')? + 1;
                let end = part.find("</text>")?;
                Some(part[start..end].trim().to_string())
            })
            .collect()
    }

    /// Tags open and close in order, and nothing is left open: the SVG is well formed as
    /// far as its elements go (plotters escapes text and attribute values).
    fn assert_well_formed(name: &str, svg: &str) {
        assert!(
            svg.starts_with("<svg"),
            "{name}: {}",
            &svg[..80.min(svg.len())]
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{name}");
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            let Some(len) = rest[i..].find('>') else {
                panic!("{name}: unclosed tag at {}", svg.len() - rest.len() + i);
            };
            let tag = &rest[i + 1..i + len];
            assert!(!tag.contains('<'), "{name}: '<' inside a tag: {tag}");
            if let Some(closing) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(closing.trim()), "{name}: </{closing}>");
            } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
                open.push(tag.split_whitespace().next().unwrap_or(""));
            }
            rest = &rest[i + len + 1..];
        }
        assert!(open.is_empty(), "{name}: left open: {open:?}");
    }

    /// Render every chart of a run into a temporary directory: (file, SVG text).
    fn render_all(run: &RunData, verdict: &RunVerdict) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        let mut files = write_charts(dir.path(), run, verdict).unwrap();
        files.extend(write_load_chart(dir.path(), run, verdict).unwrap());
        files
            .into_iter()
            .map(|f| {
                let svg = std::fs::read_to_string(dir.path().join(&f)).unwrap();
                (f, svg)
            })
            .collect()
    }

    #[test]
    fn memory_chart_shows_trend_threshold_limit_warmup_and_projection() {
        let (run, verdict) = synthetic_run(7200, 2 * GIB);
        let rss = verdict.metrics.rss.as_ref().unwrap();
        assert_eq!(rss.verdict, crate::analysis::Verdict::Fail, "{rss:?}");
        let proj = projection(&run, &verdict).unwrap();
        assert!(proj.drawn, "{proj:?}");
        let charts = render_all(&run, &verdict);
        let svg = &charts.iter().find(|(f, _)| f == "memory.svg").unwrap().1;
        let texts = texts(svg);
        let has = |prefix: &str| texts.iter().any(|t| t.starts_with(prefix));
        assert!(
            has(&format!(
                "Memory: RSS +{} (fail; threshold 10.0 MB/min)",
                format_byte_rate(rss.slope_per_min)
            )),
            "{texts:?}"
        );
        for label in [
            "RSS +",
            "USS +",
            "PSS +",
            "VMS +",
            "RSS fitted trend +",
            "fail threshold +10.0 MB/min",
            "memory limit 2 GiB",
            "projected: limit reached ",
            "warm-up",
            "warm-up (not used for the trend)",
            "MB",
        ] {
            assert!(has(label), "no {label:?} in {texts:?}");
        }
        // The time axis reaches past the run to the crossing, and says where the run ends.
        let axis = time_axis(&run, &verdict);
        assert!(
            axis.end_s() >= proj.at_s && axis.end_s() <= 1.6 * 7200.0,
            "{axis:?}"
        );
        assert!(has("end of run"), "{texts:?}");
        // Reference lines are dashed: many short polylines in their colours.
        let dashes = |color: &str| {
            svg.lines()
                .filter(|l| l.starts_with("<polyline") && l.contains(color))
                .count()
        };
        assert!(dashes("#D55E00") > 20, "fitted trend and projection");
        assert!(dashes("#CC79A7") > 20, "memory limit");
        assert!(dashes("#000000") > 20, "threshold");
    }

    #[test]
    fn a_limit_far_ahead_is_stated_in_the_legend() {
        let (mut run, verdict) = synthetic_run(7200, 8 * GIB);
        let proj = projection(&run, &verdict).unwrap();
        assert!(!proj.drawn);
        // VMS far above RSS is not drawn; the legend says why.
        let (mut samples, _) = synthetic_samples(7200);
        for s in &mut samples {
            s.vms = s.vms.map(|v| v + 20_000_000_000);
        }
        run.columns = crate::synthetic::columns(&samples);
        let axis = time_axis(&run, &verdict);
        assert_eq!(axis.end, 120.0, "the axis ends with the run: {axis:?}");
        let svg = &render_all(&run, &verdict)[0].1;
        let texts = texts(svg);
        let expected = format!(
            "memory limit 8 GiB (above the chart); reached in {} at this rate",
            short_duration(proj.after_s)
        );
        assert!(texts.contains(&expected), "no {expected:?} in {texts:?}");
        assert!(!texts.iter().any(|t| t.starts_with("projected")));
        assert!(
            texts.iter().any(|t| t.starts_with("VMS 21.")
                && t.ends_with(": not drawn (address space, over 3× RSS)")),
            "{texts:?}"
        );
        assert!(!texts.iter().any(|t| t == "end of run"));
    }

    #[test]
    fn every_chart_marks_every_event_and_shares_the_time_axis() {
        let (run, mut verdict) = synthetic_run(7200, 8 * GIB);
        verdict.metrics.rss.as_mut().unwrap().onset_s = Some(3600.0);
        let charts = render_all(&run, &verdict);
        let names: Vec<&str> = charts.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            ["memory.svg", "threads_fds.svg", "cpu.svg", "load.svg"]
        );
        let axis = time_axis(&run, &verdict);
        let last_tick = axis_label(axis.end, axis.end);
        for (name, svg) in &charts {
            assert_well_formed(name, svg);
            let texts = texts(svg);
            for label in [
                "exit 3",
                "PID reused",
                "SIGKILL",
                "fail-fast",
                "3 gaps",
                "gap 1 m 40 s",
                "warm: 50 req/s",
                "steady: 200 req/s",
                "spike: 400 req/s",
                "time since start (min)",
                "0",
                &last_tick,
            ] {
                assert!(
                    texts.iter().any(|t| t == label),
                    "{name}: no {label:?} in {texts:?}"
                );
            }
            let onset = texts.iter().any(|t| t == "growth onset");
            assert_eq!(onset, name == "memory.svg", "{name}");
            // The same axis in pixels: the last tick's label at the same place in all.
            let tick_x: Vec<&str> = svg
                .lines()
                .zip(svg.lines().skip(1))
                .filter(|(_, text)| *text == last_tick)
                .filter_map(|(tag, _)| tag.split("x=\"").nth(1)?.split('"').next())
                .collect();
            // The plot's right edge (plotters maps the end of a range to its last pixel).
            let right_edge = (WIDTH - MARGIN - RIGHT_AXIS_PX - 1).to_string();
            assert!(
                tick_x.contains(&right_edge.as_str()),
                "{name}: last tick at x={tick_x:?}, not at the plot's right edge"
            );
        }
        assert_eq!(axis.end, 120.0);
        let titles: Vec<String> = charts
            .iter()
            .map(|(_, svg)| texts(svg)[0].clone())
            .collect();
        assert_eq!(
            titles[1], "Threads +1.66/h (pass), FDs +1.96/h (pass)",
            "{titles:?}"
        );
        assert!(
            titles[2].starts_with("CPU: mean 0.25") && titles[2].ends_with("(limit 0.50; pass)"),
            "{titles:?}"
        );
    }

    #[test]
    fn charts_of_a_day_at_1_hz_stay_small() {
        let (run, verdict) = synthetic_run(86_400, 512 << 20);
        for (name, svg) in render_all(&run, &verdict) {
            assert_well_formed(&name, &svg);
            assert!(svg.len() < 300_000, "{name}: {} bytes", svg.len());
            let longest = svg
                .lines()
                .filter(|l| l.starts_with("<polyline"))
                .map(|l| l.matches(',').count())
                .max()
                .unwrap_or(0);
            assert!(
                longest <= MAX_POINTS + 2,
                "{name}: a line of {longest} points"
            );
            assert!(
                texts(&svg).iter().any(|t| t == "24"),
                "{name}: no tick at 24 h"
            );
        }
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

    #[test]
    fn many_gaps_merge_into_few_markers() {
        let gaps: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64 * 17.0, 1.5)).collect();
        let marks = gap_marks(&gaps, 86_400.0);
        assert!(marks.len() <= MAX_GAP_MARKERS, "{}", marks.len());
        assert!(marks.iter().all(|m| m.label.ends_with(" gaps")));
        let one = gap_marks(&[(100.0, 2.5)], 86_400.0);
        assert_eq!(one[0].label, "gap 2.5 s");
    }

    #[test]
    fn event_labels_take_rows_and_do_not_overlap() {
        let axis = TimeAxis::new(100.0, 100.0);
        let mark = |t: f64, kind, label: &str| Mark {
            t,
            kind,
            label: label.into(),
        };
        let marks = [
            mark(10.0, MarkKind::Gap, "gap 1.5 s"),
            mark(10.5, MarkKind::Exit, "exit 3"),
            mark(11.0, MarkKind::Stage, "steady: 200 req/s"),
            mark(11.5, MarkKind::Gap, "2 gaps"),
            mark(12.0, MarkKind::Gap, "3 gaps"),
            mark(99.5, MarkKind::Restart, "PID reused"),
        ];
        let placed = place_marks(&marks, &axis);
        let labels: Vec<Option<(String, usize, bool)>> =
            placed.placed.iter().map(|p| p.label.clone()).collect();
        // The exit first, in the top row; then the stage and a gap below it; no room left
        // for the others; the last one goes to the left of its line.
        assert_eq!(labels[0], Some(("exit 3".into(), 0, false)));
        assert_eq!(labels[1], Some(("PID reused".into(), 0, true)));
        assert_eq!(labels[2], Some(("steady: 200 req/s".into(), 1, false)));
        assert_eq!(labels[3], Some(("gap 1.5 s".into(), 2, false)));
        assert_eq!((labels[4].clone(), labels[5].clone()), (None, None));
        assert_eq!(placed.rows, 3);
        assert_eq!(placed.placed.len(), 6, "every marker keeps its line");
    }

    #[test]
    fn reference_lines_are_clipped_to_the_plot() {
        let clip = |a, b| clip_segment(a, b, (0.0, 10.0), (0.0, 100.0));
        // A steep threshold leaves through the top.
        let Clipped {
            from: a,
            to: b,
            ends_inside,
        } = clip((0.0, 50.0), (10.0, 250.0)).unwrap();
        assert_eq!((a, ends_inside), ((0.0, 50.0), false));
        assert!(
            (b.0 - 2.5).abs() < 1e-9 && (b.1 - 100.0).abs() < 1e-9,
            "{b:?}"
        );
        assert_eq!(clip((0.0, 150.0), (10.0, 200.0)), None);
        assert_eq!(
            clip((1.0, 1.0), (2.0, 2.0)),
            Some(Clipped {
                from: (1.0, 1.0),
                to: (2.0, 2.0),
                ends_inside: true
            })
        );
    }

    #[test]
    fn sample_lines_break_at_long_stalls_only() {
        let samples: Vec<Sample> = (0..100)
            .filter(|i| !(40..60).contains(i))
            .map(|i| Sample {
                t: i as f64,
                rss: Some(1),
                // Read every third tick only: not a gap.
                pss: (i % 3 == 0).then_some(1),
                ..Sample::default()
            })
            .collect();
        let columns = crate::synthetic::columns(&samples);
        let lens = |metric| -> Vec<usize> {
            sample_segments(&columns, metric)
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(lens(Metric::Rss), vec![40, 40]);
        assert_eq!(lens(Metric::Pss), vec![14, 14]);
    }

    #[test]
    fn charts_of_an_empty_or_one_sample_run_are_drawn() {
        for n in [0, 1] {
            let samples: Vec<Sample> = (0..n)
                .map(|i| Sample {
                    t: i as f64,
                    rss: Some(5_000_000),
                    cpu: Some(0.1),
                    ..Sample::default()
                })
                .collect();
            let run = RunData {
                header: header(),
                columns: crate::synthetic::columns(&samples),
                events: vec![],
                skipped_lines: 0,
                stop_reason: None,
                load: None,
            };
            let verdict = analyse(&run, &AnalysisConfig::default());
            for (name, svg) in render_all(&run, &verdict) {
                assert_well_formed(&name, &svg);
            }
        }
    }

    #[test]
    fn line_chart_draws_its_lines_and_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.svg");
        let lines = [Line {
            label: "queue depth".into(),
            points: (0..100).map(|i| (i as f64, (i % 7) as f64)).collect(),
            color: BLUE,
            width: 2,
            dashed: false,
        }];
        line_chart(&path, "Queue", "items", &lines, 99.0).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_well_formed("x.svg", &svg);
        let texts = texts(&svg);
        for label in [
            "Queue",
            "queue depth",
            "items",
            "time since start (s)",
            "100",
        ] {
            assert!(
                texts.iter().any(|t| t == label),
                "no {label:?} in {texts:?}"
            );
        }
    }
}
