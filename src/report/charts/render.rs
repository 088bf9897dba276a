//! Drawing a [`ChartSpec`] into an SVG file with plotters: the title, each panel (axes,
//! warm-up shading, event markers, traces, reference lines, labels) and the legend. The
//! file is written atomically.

use std::path::Path;

use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ChartError;
use super::axis::{Coords, Ticked, TimeAxis, axis_label, value_ticks};
use super::legend::{draw_legend, legend_layout};
use super::marks::Marks;
use super::panel::{ChartSpec, Clipped, PanelSpec, RefLine, clip_segment};
use super::series::{Point, Trace};
use super::style::{
    BackendCoord, CAPTION_FONT, GREY, GRID, LABEL_FONT, LABEL_ROW_PX, LEFT_AXIS_PX, LIGHT_GREY,
    Look, MARGIN, Marker, RIGHT_AXIS_PX, SHADE, TITLE_FONT, WIDTH, X_AXIS_PX, marker_path, text_px,
};

/// Markers drawn per series at most (beyond isolated points, which always get one).
const MAX_MARKERS: usize = 40;

/// A trace in chart units (time divided by `unit_s`, values through `map_y`): the
/// segments to draw as lines, and where to put markers: every few points for a marked
/// trace, and on every isolated point (a segment of one point draws no line).
fn trace_geometry(
    trace: &Trace,
    unit_s: f64,
    map_y: &dyn Fn(f64) -> f64,
) -> (Vec<Vec<Point>>, Vec<Point>) {
    let segments: Vec<Vec<Point>> = trace
        .segments
        .iter()
        .map(|s| s.iter().map(|&(x, y)| (x / unit_s, map_y(y))).collect())
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

/// What plotters returns when drawing fails.
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draw a trace's lines and markers, its values mapped through `map_y` (to draw a
/// right-axis series in the left axis' coordinates).
fn draw_trace<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    trace: &Trace,
    unit_s: f64,
    map_y: &dyn Fn(f64) -> f64,
) -> DrawResult<DB> {
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
    points: Vec<Point>,
    look: Look,
) -> DrawResult<DB> {
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
    at: Point,
    offset: BackendCoord,
    text: &str,
    color: RGBColor,
    anchor: Pos,
) -> DrawResult<DB> {
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

/// The value ranges of a panel's axes once room is made above the data for the rows of
/// event labels, in the left axis' units.
struct Frame {
    /// The left axis: from `y_lo` to `y_hi`; the data and reference lines stop at
    /// `data_top`, below the labels.
    y_lo: f64,
    y_hi: f64,
    data_top: f64,
    /// The right axis, from `r_lo` to `r_hi` over the same pixels.
    r_lo: f64,
    r_hi: f64,
}

impl Frame {
    fn new(plot_h: f64, marks: &Marks, panel: &PanelSpec) -> Frame {
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
        Frame {
            y_lo,
            y_hi,
            data_top: panel.y_range.1.max(y_lo + 1e-9),
            r_lo,
            r_hi,
        }
    }

    /// A right-axis value in the left axis' units.
    fn to_left(&self, v: f64) -> f64 {
        self.y_lo + (v - self.r_lo) / (self.r_hi - self.r_lo) * (self.y_hi - self.y_lo)
    }
}

/// Draw the axes of a panel with their ticks, grid and descriptions; returns the chart to
/// draw the data on, in the left axis' coordinates.
fn draw_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    axis: &TimeAxis,
    panel: &PanelSpec,
    frame: &Frame,
) -> Result<DualCoordChartContext<'a, DB, Coords, Coords>, DrawingAreaErrorKind<DB::ErrorType>> {
    let x_end = axis.end;
    let x_coord = || Ticked::new(0.0, x_end, axis.ticks.clone());
    let x_step = axis.ticks.get(1).map_or(x_end, |t| t - axis.ticks[0]);
    // Ticks below the event labels' rows only; whole numbers for counts.
    let min_step = if panel.integer { 1.0 } else { 0.0 };
    let (y_ticks, y_step) = value_ticks(frame.y_lo, frame.data_top, min_step);
    let right_top = panel.right.as_ref().map_or(frame.r_hi, |r| r.range.1);
    let (r_ticks, r_step) = value_ticks(frame.r_lo, right_top, 0.0);
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(X_AXIS_PX)
        .y_label_area_size(LEFT_AXIS_PX)
        .right_y_label_area_size(RIGHT_AXIS_PX)
        .build_cartesian_2d(x_coord(), Ticked::new(frame.y_lo, frame.y_hi, y_ticks))?
        .set_secondary_coord(x_coord(), Ticked::new(frame.r_lo, frame.r_hi, r_ticks));
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
    Ok(chart)
}

/// Draw the reference lines over the data (the trend must show through a GC sawtooth's
/// band), with a marker at an end that is inside the plot for a marked look.
fn draw_ref_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    clipped: &[(&RefLine, Clipped)],
) -> DrawResult<DB> {
    for &(
        line,
        Clipped {
            from: a,
            to: b,
            ends_inside,
        },
    ) in clipped
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
    Ok(())
}

/// Draw the labels of the reference lines, then of the event markers in their rows below
/// the top of the plot at `y_hi`: last, so that they stay readable over the data.
fn draw_labels<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Coords>,
    clipped: &[(&RefLine, Clipped)],
    marks: &Marks,
    y_hi: f64,
) -> DrawResult<DB> {
    for &(line, Clipped { from: a, to: b, .. }) in clipped {
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

/// Draw one panel: axes, warm-up shading, event markers, reference lines, series, labels.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axis: &TimeAxis,
    marks: &Marks,
    panel: &PanelSpec,
) -> DrawResult<DB> {
    let area = match &panel.caption {
        Some(caption) => area.titled(caption, ("sans-serif", CAPTION_FONT))?,
        None => area.clone(),
    };
    let plot_h = f64::from(area.dim_in_pixel().1) - f64::from(2 * MARGIN + X_AXIS_PX);
    let frame = Frame::new(plot_h, marks, panel);
    let (y_lo, y_hi, x_end) = (frame.y_lo, frame.y_hi, axis.end);
    let mut chart = draw_axes(&area, axis, panel, &frame)?;
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
            let map = |(t, v): (f64, f64)| {
                let v = if line.right { frame.to_left(v) } else { v };
                (axis.x(t), v)
            };
            let part = clip_segment(
                map(line.from),
                map(line.to),
                (0.0, x_end),
                (y_lo, frame.data_top),
            )?;
            Some((line, part))
        })
        .collect();
    for trace in &panel.traces {
        draw_trace(chart, trace, axis.unit.seconds, &|v| v)?;
    }
    for trace in &panel.right_traces {
        draw_trace(chart, trace, axis.unit.seconds, &|v| frame.to_left(v))?;
    }
    draw_ref_lines(chart, &clipped)?;
    draw_labels(chart, &clipped, marks, y_hi)
}

/// The file name of a path, for error messages.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Draw a chart into an SVG file, written atomically: a chart that cannot be written in
/// full (a full disk) leaves no part of itself.
pub(super) fn render(path: &Path, axis: &TimeAxis, chart: &ChartSpec) -> Result<(), ChartError> {
    let svg = draw_svg(&file_name(path), axis, chart)?;
    crate::report::write_file_atomic(path, svg.as_bytes()).map_err(|e| ChartError {
        file: file_name(path),
        reason: e.to_string(),
    })
}

/// Draw a chart into SVG text (`name` names it in errors): for a file, or for a page that
/// inlines it.
pub(super) fn draw_svg(
    name: &str,
    axis: &TimeAxis,
    chart: &ChartSpec,
) -> Result<String, ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        file: name.to_string(),
        reason: e.to_string(),
    };
    let (legend_at, legend_px) = legend_layout(&chart.legend);
    let title_px = 36;
    let panels = chart.panels.len().max(1) as u32;
    let height = title_px + panels * chart.panel_px + legend_px;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
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
    }
    Ok(svg)
}
