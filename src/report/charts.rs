//! SVG charts with plotters' SVG backend (no font libraries needed: text stays `<text>`).
//! Series longer than a few thousand points are thinned to min/max per bucket for display
//! only, so peaks and troughs stay visible; the analysis always uses every sample.

use std::path::Path;

use plotters::prelude::*;

use crate::analysis::{MetricKind, MetricTrend, RunVerdict, series};
use crate::runlog::RunData;
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

    #[test]
    fn axis_units() {
        assert_eq!(time_unit(60.0).name, "s");
        assert_eq!(time_unit(3600.0).name, "min");
        assert_eq!(time_unit(86_400.0).name, "h");
    }
}
