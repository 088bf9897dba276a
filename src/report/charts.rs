//! SVG charts with plotters' SVG backend (no font libraries needed: text stays `<text>`).
//! Series longer than a few thousand points are thinned to min/max per bucket for display
//! only, so peaks and troughs stay visible; the analysis always uses every sample.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::{ComposedElement, DashedPathElement};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::load::{GateKind, LoadSummary, format_ms, format_rps};
use crate::analysis::{MetricKind, MetricTrend, RunVerdict, series};
use crate::runlog::load::{LoadInterval, LoadRun};
use crate::runlog::{RunData, Thresholds};
use crate::units::three_figures;

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
const GREY: RGBColor = RGBColor(110, 110, 110);

/// Points drawn per series at most.
pub const MAX_POINTS: usize = 4000;

/// One line on a chart.
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

/// Draw lines over time into an SVG file.
pub fn line_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    lines: &[Line],
    span_s: f64,
) -> Result<(), ChartError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let fail = |e: &dyn std::fmt::Display| ChartError {
        file: file.clone(),
        reason: e.to_string(),
    };
    let unit = time_unit(span_s);
    let all = lines.iter().flat_map(|l| l.points.iter());
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut x_max: f64 = 0.0;
    for &(x, y) in all {
        y_min = y_min.min(y);
        y_max = y_max.max(y);
        x_max = x_max.max(x);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.08).max(y_max.abs() * 0.01).max(1e-9);
    let y_range = (y_min - pad).max(if y_min >= 0.0 { 0.0 } else { f64::MIN })..(y_max + pad);
    let x_range = 0.0..(x_max / unit.seconds).max(1e-9);

    let (y_span, x_span) = (y_range.end - y_range.start, x_range.end);
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc(format!("time ({})", unit.name))
        .y_desc(y_label)
        .y_label_formatter(&|v| axis_label(*v, y_span))
        .x_label_formatter(&|v| axis_label(*v, x_span))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| fail(&e))?;
    for line in lines {
        let style = ShapeStyle {
            color: line.color.to_rgba(),
            filled: false,
            stroke_width: line.width,
        };
        let pts = thin(&line.points, MAX_POINTS)
            .into_iter()
            .map(|(x, y)| (x / unit.seconds, y));
        let color = line.color;
        let width = line.width;
        let series = if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 8, 5, style))
                .map_err(|e| fail(&e))?
        } else {
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(|e| fail(&e))?
        };
        series.label(line.label.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
        });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

fn points(run: &RunData, kind: MetricKind, scale: f64) -> Vec<(f64, f64)> {
    let (t, y) = series(&run.samples, kind);
    t.into_iter().zip(y).map(|(t, y)| (t, y / scale)).collect()
}

fn fitted(trend: &MetricTrend, scale: f64) -> Vec<(f64, f64)> {
    vec![
        (trend.fit_start[0], trend.fit_start[1] / scale),
        (trend.fit_end[0], trend.fit_end[1] / scale),
    ]
}

fn trend_title(name: &str, trend: Option<&MetricTrend>, fmt: fn(f64) -> String) -> String {
    match trend {
        Some(t) => {
            let sign = if t.slope_per_min >= 0.0 { "+" } else { "" };
            format!(
                "{name}: {sign}{} ({})",
                fmt(t.slope_per_min),
                t.verdict.as_str()
            )
        }
        None => format!("{name}: too few samples for a trend"),
    }
}

/// Write memory.svg, threads_fds.svg and cpu.svg; returns the file names written.
pub fn write_charts(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
) -> Result<Vec<String>, ChartError> {
    let span_s = run.samples.last().map_or(0.0, |s| s.t);
    let mut written = Vec::new();
    let mb = 1e6;

    let mut memory = vec![Line {
        label: "RSS".into(),
        points: points(run, MetricKind::Rss, mb),
        color: BLUE,
        width: 2,
        dashed: false,
    }];
    let pss = points(run, MetricKind::Pss, mb);
    if !pss.is_empty() {
        memory.push(Line {
            label: "PSS".into(),
            points: pss,
            color: GREEN,
            width: 1,
            dashed: false,
        });
    }
    if let Some(rss) = &verdict.metrics.rss {
        memory.push(Line {
            label: "RSS fitted trend".into(),
            points: fitted(rss, mb),
            color: VERMILLION,
            width: 2,
            dashed: true,
        });
    }
    if let Some(limit) = verdict.capacity.mem_limit_bytes {
        memory.push(Line {
            label: "memory limit".into(),
            points: vec![(0.0, limit as f64 / mb), (span_s, limit as f64 / mb)],
            color: PURPLE,
            width: 1,
            dashed: true,
        });
    }
    let title = trend_title(
        "Memory — RSS",
        verdict.metrics.rss.as_ref(),
        crate::units::format_byte_rate,
    );
    line_chart(&dir.join("memory.svg"), &title, "MB", &memory, span_s)?;
    written.push("memory.svg".to_string());

    let mut counts = vec![Line {
        label: "threads".into(),
        points: points(run, MetricKind::Threads, 1.0),
        color: BLUE,
        width: 2,
        dashed: false,
    }];
    let fds = points(run, MetricKind::Fds, 1.0);
    if !fds.is_empty() {
        counts.push(Line {
            label: "open FDs".into(),
            points: fds,
            color: ORANGE,
            width: 2,
            dashed: true,
        });
    }
    let title = format!(
        "{} · {}",
        trend_title(
            "Threads",
            verdict.metrics.threads.as_ref(),
            crate::units::format_count_rate
        ),
        trend_title(
            "FDs",
            verdict.metrics.fds.as_ref(),
            crate::units::format_count_rate
        )
    );
    line_chart(
        &dir.join("threads_fds.svg"),
        &title,
        "count",
        &counts,
        span_s,
    )?;
    written.push("threads_fds.svg".to_string());

    let cpu: Vec<(f64, f64)> = run
        .samples
        .iter()
        .filter_map(|s| s.cpu.map(|c| (s.t, c)))
        .collect();
    let mut cpu_lines = vec![Line {
        label: "CPU".into(),
        points: cpu,
        color: BLUE,
        width: 1,
        dashed: false,
    }];
    if let Some(limit) = verdict.capacity.cpu_limit_cores {
        cpu_lines.push(Line {
            label: "CPU limit".into(),
            points: vec![(0.0, limit), (span_s, limit)],
            color: PURPLE,
            width: 1,
            dashed: true,
        });
    }
    let title = match &verdict.metrics.cpu {
        Some(c) => format!(
            "CPU: mean {} cores, p95 {}, max {} ({})",
            three_figures(c.mean_cores),
            three_figures(c.p95_cores),
            three_figures(c.max_cores),
            c.verdict.as_str()
        ),
        None => "CPU: not measured".to_string(),
    };
    line_chart(&dir.join("cpu.svg"), &title, "cores", &cpu_lines, span_s)?;
    written.push("cpu.svg".to_string());
    Ok(written)
}

/// File name of the load chart.
pub const LOAD_CHART_FILE: &str = "load.svg";

/// (x, y) points of one line, in data or chart units.
type Points = Vec<(f64, f64)>;

/// A position on the drawing in pixels (plotters' backend coordinate).
type BackendCoord = (i32, i32);

/// Markers drawn per load series at most (beyond isolated points, which always get one).
const MAX_MARKERS: usize = 40;

/// How a load series is marked, so lines differ in grey-scale as well as in colour.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Marker {
    None,
    Circle,
    Cross,
    Triangle,
}

/// The look of one load series: colour, width, dash (dash, gap in pixels) and marker.
#[derive(Clone, Copy, Debug)]
struct Look {
    color: RGBColor,
    width: u32,
    dash: Option<(u32, u32)>,
    marker: Marker,
}

impl Look {
    fn style(self) -> ShapeStyle {
        ShapeStyle {
            color: self.color.to_rgba(),
            filled: false,
            stroke_width: self.width,
        }
    }
}

/// A series of the load chart, broken into segments where there is no value.
struct Trace {
    label: String,
    /// (seconds since the run start, value) runs without a gap.
    segments: Vec<Vec<(f64, f64)>>,
    look: Look,
}

/// A horizontal reference line: a gate.
struct Level {
    /// Legend and line label, e.g. `--max-p95 500 ms`.
    label: String,
    value: f64,
    color: RGBColor,
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

/// A trace in chart units (time divided by `unit_s`): the segments to draw as lines, and
/// where to put markers: every few points for a marked trace, and on every isolated point
/// (a segment of one point draws no line).
fn trace_geometry(trace: &Trace, unit_s: f64) -> (Vec<Points>, Points) {
    let segments: Vec<Vec<(f64, f64)>> = thin_segments(&trace.segments, MAX_POINTS)
        .into_iter()
        .map(|s| s.into_iter().map(|(x, y)| (x / unit_s, y)).collect())
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
        Some(_) => (vec![(0, 0), (7, 0)], vec![(12, 0), (20, 0)]),
        None => (vec![(0, 0), (10, 0)], vec![(10, 0), (20, 0)]),
    };
    let mark: Vec<BackendCoord> = marker_path(look.marker)
        .into_iter()
        .map(|(dx, dy)| (dx + 10, dy))
        .collect();
    EmptyElement::at((x, y))
        + PathElement::new(first, style)
        + PathElement::new(second, style)
        + PathElement::new(mark, style)
}

/// Draw a load trace (its lines, markers and legend entry) with `$draw`: `draw_series` or
/// `draw_secondary_series`, which take different coordinate systems, hence a macro.
macro_rules! draw_trace {
    ($chart:expr, $draw:ident, $trace:expr, $unit_s:expr) => {{
        let trace: &Trace = $trace;
        let look = trace.look;
        let style = look.style();
        let (lines, markers) = trace_geometry(trace, $unit_s);
        let anno = match look.dash {
            Some((dash, gap)) => $chart.$draw(
                lines
                    .into_iter()
                    .map(|s| DashedPathElement::new(s, dash, gap, style)),
            )?,
            None => $chart.$draw(lines.into_iter().map(|s| PathElement::new(s, style)))?,
        };
        anno.label(trace.label.clone())
            .legend(move |c| legend_sample(look, c));
        let mark = marker_path(look.marker);
        $chart.$draw(
            markers
                .into_iter()
                .map(|p| EmptyElement::at(p) + PathElement::new(mark.clone(), style)),
        )?;
    }};
}

/// Draw a panel's stage markers and gate lines with `$draw` (see `draw_trace`).
macro_rules! draw_decorations {
    ($chart:expr, $draw:ident, $decorations:expr) => {{
        let decorations: &Decorations = $decorations;
        $chart.$draw(
            decorations
                .rules
                .iter()
                .map(|r| DashedPathElement::new(r.points.clone(), r.dash.0, r.dash.1, r.style)),
        )?;
        $chart.$draw(decorations.labels.iter().map(|l| {
            let style = ("sans-serif", 12).into_font().color(&l.color).pos(l.anchor);
            EmptyElement::at(l.at) + Text::new(l.text.clone(), l.offset, style)
        }))?;
    }};
}

/// One value axis of the load chart: its series, its gate lines (each with whether it is
/// within the axis), and the axis' upper end.
struct Panel<'t> {
    traces: &'t [Trace],
    levels: Vec<(&'t Level, bool)>,
    top: f64,
}

/// Plotting height of a load panel and the height of one legend entry, in pixels (about):
/// the value axis leaves room above the data for the legend in the upper left.
const PANEL_PLOT_PX: f64 = 280.0;
const LEGEND_ENTRY_PX: f64 = 18.0;

/// Factor from the highest value to the top of the axis, so that `legend_entries` legend
/// rows stay clear of the data.
fn legend_headroom(legend_entries: usize) -> f64 {
    let share = ((legend_entries as f64 * LEGEND_ENTRY_PX + 12.0) / PANEL_PLOT_PX).min(0.45);
    1.05 / (1.0 - share)
}

impl<'t> Panel<'t> {
    /// The axis runs from 0 to the data's maximum (at least `floor`), raised to show each
    /// gate that is not far above the data (a gate further up is left off the chart, and
    /// its legend entry says so, rather than squashing the data flat), plus room for the
    /// legend's `legend_entries` rows.
    fn new(
        traces: &'t [Trace],
        levels: &'t [Level],
        floor: f64,
        legend_entries: usize,
    ) -> Panel<'t> {
        let data_max = traces
            .iter()
            .flat_map(|t| t.segments.iter().flatten())
            .map(|p| p.1)
            .fold(0.0, f64::max);
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
            traces,
            levels,
            top: top * legend_headroom(legend_entries),
        }
    }
}

/// A stage marker: where it is (chart units) and its label (none when too close to the
/// previous labelled one).
struct StageLine {
    x: f64,
    label: Option<String>,
}

fn stage_lines(load: &LoadRun, unit_s: f64, x_span: f64) -> Vec<StageLine> {
    let per = match load.start.as_ref().and_then(|s| s.model.as_deref()) {
        Some("closed") => " users",
        Some("open") => " req/s",
        _ => "",
    };
    let mut last_labelled = f64::NEG_INFINITY;
    load.stages
        .iter()
        .map(|stage| {
            let x = stage.t / unit_s;
            let label = (x - last_labelled >= x_span / 12.0).then(|| {
                last_labelled = x;
                let target = if stage.target.fract() == 0.0 {
                    format!("{:.0}", stage.target)
                } else {
                    format!("{:.1}", stage.target)
                };
                format!("{}: {target}{per}", stage.name)
            });
            StageLine { x, label }
        })
        .collect()
}

/// A dashed straight line across a panel, in chart units.
struct Rule {
    points: Vec<(f64, f64)>,
    dash: (u32, u32),
    style: ShapeStyle,
}

/// A text label at a point of a panel, shifted by `offset` pixels, anchored at `anchor`.
struct Label {
    at: (f64, f64),
    offset: BackendCoord,
    text: String,
    color: RGBColor,
    anchor: Pos,
}

/// Stage markers and gate lines of one panel.
struct Decorations {
    rules: Vec<Rule>,
    labels: Vec<Label>,
}

/// Stage markers (grey, short dashes, labelled at the foot) and gate lines (the gate's
/// colour, long dashes, labelled at the right end), in chart units.
///
/// Gate labels go above their line, or below it with `labels_below` (the right axis' gates,
/// so that they do not print over the left axis' ones when the two lines meet).
fn panel_decorations(
    stages: &[StageLine],
    levels: &[(&Level, bool)],
    x_max: f64,
    y_top: f64,
    labels_below: bool,
) -> Decorations {
    let mut rules = Vec::new();
    let mut labels = Vec::new();
    for stage in stages {
        rules.push(Rule {
            points: vec![(stage.x, 0.0), (stage.x, y_top)],
            dash: (3, 3),
            style: GREY.stroke_width(1),
        });
        if let Some(text) = &stage.label {
            labels.push(Label {
                at: (stage.x, 0.0),
                offset: (3, -3),
                text: text.clone(),
                color: GREY,
                anchor: Pos::new(HPos::Left, VPos::Bottom),
            });
        }
    }
    for &(level, shown) in levels {
        if !shown {
            continue;
        }
        rules.push(Rule {
            points: vec![(0.0, level.value), (x_max, level.value)],
            dash: (12, 6),
            style: level.color.stroke_width(1),
        });
        labels.push(Label {
            at: (x_max, level.value),
            offset: (-4, if labels_below { 3 } else { -3 }),
            text: level.label.clone(),
            color: level.color,
            anchor: Pos::new(
                HPos::Right,
                if labels_below {
                    VPos::Top
                } else {
                    VPos::Bottom
                },
            ),
        });
    }
    Decorations { rules, labels }
}

/// Gate lines as legend entries: shown ones draw a long dash; ones above the chart say so.
fn level_legend(level: &Level, shown: bool) -> (String, Look) {
    let label = if shown {
        level.label.clone()
    } else {
        format!("{} (above the chart)", level.label)
    };
    (
        label,
        Look {
            color: level.color,
            width: 1,
            dash: Some((12, 6)),
            marker: Marker::None,
        },
    )
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

/// Draw the load chart: latency percentiles above, throughput and error rate below, on
/// the time axis of the other charts, with stage changes and gates marked.
pub fn load_chart(
    path: &Path,
    load: &LoadRun,
    summary: Option<&LoadSummary>,
    thresholds: &Thresholds,
    samples_span_s: f64,
) -> Result<(), ChartError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let fail = |e: &dyn std::fmt::Display| ChartError {
        file: file.clone(),
        reason: e.to_string(),
    };
    let load_end = load.intervals.last().map_or(0.0, |i| i.t);
    // The unit the other charts use (they span the samples), unless there are none.
    let unit = time_unit(if samples_span_s > 0.0 {
        samples_span_s
    } else {
        load_end
    });
    let x_max = (samples_span_s.max(load_end) / unit.seconds).max(1e-9);
    let stages = stage_lines(load, unit.seconds, x_max);
    let intervals = &load.intervals;

    let latency_looks = [
        (
            "p50",
            Look {
                color: BLUE,
                width: 1,
                dash: None,
                marker: Marker::None,
            },
        ),
        (
            "p95",
            Look {
                color: ORANGE,
                width: 2,
                dash: Some((6, 4)),
                marker: Marker::Triangle,
            },
        ),
        (
            "p99",
            Look {
                color: VERMILLION,
                width: 2,
                dash: None,
                marker: Marker::Circle,
            },
        ),
    ];
    let latency: Vec<Trace> = latency_looks
        .iter()
        .map(|&(name, look)| Trace {
            label: format!("{name} latency"),
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
    let throughput = Trace {
        label: "throughput (req/s)".to_string(),
        segments: interval_segments(intervals, |i| Some(i.rps)),
        look: Look {
            color: BLUE,
            width: 2,
            dash: None,
            marker: Marker::None,
        },
    };
    let error_pct = Trace {
        label: "errors (% of requests, right axis)".to_string(),
        segments: interval_segments(intervals, |i| {
            (i.requests > 0).then(|| i.errors.total() as f64 / i.requests as f64 * 100.0)
        }),
        look: Look {
            color: VERMILLION,
            width: 2,
            dash: Some((4, 3)),
            marker: Marker::Cross,
        },
    };
    let latency_panel = Panel::new(
        &latency,
        &latency_levels,
        1.0,
        latency.len() + latency_levels.len(),
    );
    let bottom_legend = 2 + rps_levels.len() + error_levels.len();
    let rps_traces = [throughput];
    let rps_panel = Panel::new(&rps_traces, &rps_levels, 1.0, bottom_legend);
    let error_traces = [error_pct];
    let error_panel = Panel::new(&error_traces, &error_levels, 2.0, bottom_legend);

    let root = SVGBackend::new(path, (960, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let area = root
        .titled(&load_title(summary), ("sans-serif", 20))
        .map_err(|e| fail(&e))?;
    let panels = area.split_evenly((2, 1));
    let frame = Frame {
        x_max,
        unit_s: unit.seconds,
        x_desc: format!("time ({})", unit.name),
        stages,
    };
    draw_latency_panel(&panels[0], &frame, &latency_panel).map_err(|e| fail(&e))?;
    draw_throughput_panel(&panels[1], &frame, &rps_panel, &error_panel).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// What both panels of the load chart share: the time axis and the stage markers.
struct Frame {
    x_max: f64,
    unit_s: f64,
    x_desc: String,
    stages: Vec<StageLine>,
}

fn draw_latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    panel: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x_max, y_top) = (frame.x_max, panel.top);
    let mut chart = ChartBuilder::on(area)
        .caption("Latency", ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_top)?;
    chart
        .configure_mesh()
        .x_desc(frame.x_desc.as_str())
        .y_desc("ms")
        .y_label_formatter(&|v| axis_label(*v, y_top))
        .x_label_formatter(&|v| axis_label(*v, x_max))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let decorations = panel_decorations(&frame.stages, &panel.levels, x_max, y_top, false);
    draw_decorations!(chart, draw_series, &decorations);
    for trace in panel.traces {
        draw_trace!(chart, draw_series, trace, frame.unit_s);
    }
    for &(level, shown) in &panel.levels {
        let (label, look) = level_legend(level, shown);
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label(label)
            .legend(move |c| legend_sample(look, c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// Throughput on the left axis, the error rate (percent) on the right one.
fn draw_throughput_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    rps: &Panel,
    errors: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let x_max = frame.x_max;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput and errors", ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..rps.top)?
        .set_secondary_coord(0.0..x_max, 0.0..errors.top);
    chart
        .configure_mesh()
        .x_desc(frame.x_desc.as_str())
        .y_desc("req/s")
        .y_label_formatter(&|v| axis_label(*v, rps.top))
        .x_label_formatter(&|v| axis_label(*v, x_max))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("errors (% of requests)")
        .y_label_formatter(&|v| axis_label(*v, errors.top))
        .draw()?;
    let decorations = panel_decorations(&frame.stages, &rps.levels, x_max, rps.top, false);
    draw_decorations!(chart, draw_series, &decorations);
    let decorations = panel_decorations(&[], &errors.levels, x_max, errors.top, true);
    draw_decorations!(chart, draw_secondary_series, &decorations);
    for trace in rps.traces {
        draw_trace!(chart, draw_series, trace, frame.unit_s);
    }
    for trace in errors.traces {
        draw_trace!(chart, draw_secondary_series, trace, frame.unit_s);
    }
    for &(level, shown) in rps.levels.iter().chain(&errors.levels) {
        let (label, look) = level_legend(level, shown);
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label(label)
            .legend(move |c| legend_sample(look, c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
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
    let span_s = run.samples.last().map_or(0.0, |s| s.t);
    load_chart(
        &dir.join(LOAD_CHART_FILE),
        load,
        verdict.load.as_ref(),
        &verdict.thresholds,
        span_s,
    )?;
    Ok(Some(LOAD_CHART_FILE.to_string()))
}
#[cfg(test)]
mod tests {
    use super::*;

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

    use crate::analysis::load::analyse_load;
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
        let summary = analyse_load(&run, &thresholds, &mut vec![]);
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
            "time (s)",
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
}
