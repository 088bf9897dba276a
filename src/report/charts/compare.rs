//! The overlay charts of compare.html: two runs, the baseline and the candidate, on one
//! time axis (seconds since each run's own start; the longer run sets the range), for the
//! judged memory, threads and FDs, CPU, and per-interval load latency p95 when both runs
//! had load. The engine is the one a run's charts use (series read from the columns and
//! thinned to the point budget as they are read, panels, legend, drawing); what differs is
//! that every series is one run's, in that run's look, with that run's fitted trend in its
//! colour, and that the only marks are where the shorter run ends.

use super::axis::{TimeAxis, extent, padded};
use super::cpu::{MEAN_POINTS, bucket_means};
use super::legend::{Key, LegendItem, legend_item};
use super::marks::{Mark, MarkKind, place_marks};
use super::memory::{byte_unit, judged};
use super::panel::{ChartSpec, PanelSpec, RefLine};
use super::render::draw_svg;
use super::series::{SampleSeries, Trace, interval_trace, trace_values};
use super::style::{
    BASELINE_FIT_LOOK, BASELINE_LOOK, CANDIDATE_FIT_LOOK, CANDIDATE_LOOK, DOUBLE_PANEL_PX, Look,
    SINGLE_PANEL_PX,
};
use super::trend::signed;
use super::{ChartError, run_end_s};
use crate::analysis::load::format_ms;
use crate::analysis::{MetricTrend, RunVerdict};
use crate::columns::Metric;
use crate::runlog::RunData;
use crate::runlog::load::LoadInterval;
use crate::units::{format_byte_rate, format_count_rate, short_duration, three_figures};

/// One run of a comparison as the charts read it: its columns and load log, and its
/// verdict (the judged memory, the fitted trends, the CPU and load summaries).
#[derive(Clone, Copy)]
pub struct RunView<'a> {
    pub run: &'a RunData,
    pub verdict: &'a RunVerdict,
}

/// An overlay chart drawn for a page.
pub struct OverlayChart {
    /// Unique in the page: `memory`, `threads_fds`, `cpu`, `latency`.
    pub id: &'static str,
    /// Its accessible name.
    pub label: &'static str,
    pub svg: String,
}

/// One run's side of the charts: its name in legends and titles, and its looks.
#[derive(Clone, Copy)]
struct Side<'a> {
    name: &'static str,
    run: &'a RunData,
    verdict: &'a RunVerdict,
    look: Look,
    fit_look: Look,
}

/// Builds one overlay chart on the shared axis; `None` when the runs have nothing for it.
type BuildOverlay = fn(&[Side; 2], &TimeAxis, &[Mark]) -> Option<ChartSpec>;

/// Every overlay chart, in page order: id, accessible name, builder.
const OVERLAYS: [(&str, &str, BuildOverlay); 4] = [
    ("memory", "Memory of both runs", |s, a, m| {
        Some(memory_chart(s, a, m))
    }),
    (
        "threads_fds",
        "Threads and open file descriptors of both runs",
        |s, a, m| Some(threads_fds_chart(s, a, m)),
    ),
    ("cpu", "CPU of both runs", |s, a, m| {
        Some(cpu_chart(s, a, m))
    }),
    // Only when both runs had load intervals.
    ("latency", "Load latency p95 of both runs", latency_chart),
];

/// Draw the overlay charts of two runs, one at a time, as SVG text in page order: memory,
/// threads and FDs, CPU, and load latency when both runs had load.
pub fn overlay_charts(
    baseline: RunView<'_>,
    candidate: RunView<'_>,
) -> Result<Vec<OverlayChart>, ChartError> {
    let sides = [
        Side {
            name: "baseline",
            run: baseline.run,
            verdict: baseline.verdict,
            look: BASELINE_LOOK,
            fit_look: BASELINE_FIT_LOOK,
        },
        Side {
            name: "candidate",
            run: candidate.run,
            verdict: candidate.verdict,
            look: CANDIDATE_LOOK,
            fit_look: CANDIDATE_FIT_LOOK,
        },
    ];
    let end_s = sides.iter().map(|s| run_end_s(s.run)).fold(0.0, f64::max);
    let axis = TimeAxis::new(end_s, end_s);
    let marks = end_marks(&sides, &axis);
    let mut charts = Vec::new();
    for (id, label, build) in OVERLAYS {
        if let Some(chart) = build(&sides, &axis, &marks) {
            let svg = draw_svg(&format!("the {id} chart of compare.html"), &axis, &chart)?;
            charts.push(OverlayChart { id, label, svg });
        }
    }
    Ok(charts)
}

/// Where a run ends, marked when it ends well before the axis does (the shorter run).
fn end_marks(sides: &[Side; 2], axis: &TimeAxis) -> Vec<Mark> {
    sides
        .iter()
        .filter_map(|side| {
            let end = run_end_s(side.run);
            (end < 0.95 * axis.run_end_s).then(|| Mark {
                t: end,
                kind: MarkKind::RunEnd,
                label: format!("end of {}", side.name),
            })
        })
        .collect()
}

/// A run's fitted trend as a line over its analysed span, in its look, `scale` value
/// units per chart unit.
fn fit_line(trend: &MetricTrend, scale: f64, look: Look) -> RefLine {
    RefLine::new(
        (trend.fit_start[0], trend.fit_start[1] / scale),
        (trend.fit_end[0], trend.fit_end[1] / scale),
        look,
    )
}

/// A note in the legend that a run has no series for a chart.
fn missing_note(side: &Side, what: &str) -> LegendItem {
    LegendItem {
        label: format!("{}: no {what} recorded", side.name),
        key: Key::Text,
    }
}

/// One metric of both runs in one panel: each run's series and fitted trend, with their
/// legend entries; the values the panel's range must hold.
#[derive(Default)]
struct Overlaid {
    traces: Vec<Trace>,
    refs: Vec<RefLine>,
    legend: Vec<LegendItem>,
    values: Vec<f64>,
}

impl Overlaid {
    /// Add one run's series (`series_label` in the legend) and, when it has one, its
    /// fitted trend (`fit_label` in the legend after "baseline fitted ").
    fn add(
        &mut self,
        side: &Side,
        trace: Trace,
        series_label: String,
        fit: Option<(&MetricTrend, f64, String)>,
    ) {
        self.values
            .extend(trace_values(std::slice::from_ref(&trace)));
        self.legend.push(legend_item(series_label, side.look));
        self.traces.push(trace);
        if let Some((trend, scale, fit_label)) = fit {
            let line = fit_line(trend, scale, side.fit_look);
            self.values.extend([line.from.1, line.to.1]);
            self.legend.push(legend_item(
                format!("{} fitted {fit_label}", side.name),
                side.fit_look,
            ));
            self.refs.push(line);
        }
    }

    fn panel(self, y_desc: &str, y_range: (f64, f64)) -> (PanelSpec, Vec<LegendItem>) {
        let mut panel = PanelSpec::new(y_desc, y_range);
        panel.traces = self.traces;
        panel.refs = self.refs;
        (panel, self.legend)
    }
}

/// `+24.4 MB/min`.
fn byte_slope(trend: &MetricTrend) -> String {
    signed(format_byte_rate(trend.slope_per_min), trend.slope_per_min)
}

/// `+1.20/h`.
fn count_slope(trend: &MetricTrend) -> String {
    signed(format_count_rate(trend.slope_per_min), trend.slope_per_min)
}

/// "baseline RSS +0.10 MB/min" in a title; without a trend, why not.
fn title_part(side: &Side, what: &str, measured: bool, slope: Option<String>) -> String {
    match slope {
        Some(slope) => format!("{} {what}{slope}", side.name),
        None if measured => format!("{} {what}too few samples for a trend", side.name),
        None => format!("{} not measured", side.name),
    }
}

/// The judged memory (RSS, or PSS for several processes) of both runs, with their trends.
fn memory_chart(sides: &[Side; 2], axis: &TimeAxis, marks: &[Mark]) -> ChartSpec {
    let judged: Vec<_> = sides.iter().map(|side| judged(side.verdict)).collect();
    let data_hi = sides
        .iter()
        .zip(&judged)
        .filter_map(|(side, (_, _, metric))| side.run.columns.max_int(*metric))
        .max()
        .unwrap_or(0) as f64;
    let (scale, unit) = byte_unit(data_hi);
    let mut overlaid = Overlaid::default();
    let mut notes = Vec::new();
    let mut title = Vec::new();
    for (side, &(label, trend, metric)) in sides.iter().zip(&judged) {
        let trace = SampleSeries::new(&side.run.columns, metric, scale).trace(side.look);
        let measured = !trace.is_empty();
        title.push(title_part(
            side,
            &format!("{label} "),
            measured,
            trend.map(byte_slope),
        ));
        if !measured {
            notes.push(missing_note(side, label));
            continue;
        }
        let fit = trend.map(|t| (t, scale, format!("trend {}", byte_slope(t))));
        overlaid.add(side, trace, format!("{} {label}", side.name), fit);
    }
    let range = padded(extent(overlaid.values.iter().copied()));
    let (panel, mut legend) = overlaid.panel(unit, range);
    legend.append(&mut notes);
    ChartSpec {
        title: format!("Memory: {}", title.join(", ")),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(marks, axis),
        legend,
    }
}

/// Threads above, open FDs below, each with both runs' series and trends.
fn threads_fds_chart(sides: &[Side; 2], axis: &TimeAxis, marks: &[Mark]) -> ChartSpec {
    let mut panels = Vec::new();
    let mut legend = Vec::new();
    let mut titles = Vec::new();
    for (caption, what, short, metric) in [
        ("Threads", "threads", "Threads", Metric::Threads),
        ("Open FDs", "open FDs", "FDs", Metric::Fds),
    ] {
        let mut overlaid = Overlaid::default();
        let mut parts = Vec::new();
        for side in sides {
            let m = &side.verdict.metrics;
            let trend = match metric {
                Metric::Threads => m.threads.as_ref(),
                _ => m.fds.as_ref(),
            };
            let trace = SampleSeries::new(&side.run.columns, metric, 1.0).trace(side.look);
            let measured = !trace.is_empty();
            parts.push(title_part(side, "", measured, trend.map(count_slope)));
            if !measured {
                legend.push(missing_note(side, what));
                continue;
            }
            let fit = trend.map(|t| (t, 1.0, format!("{what} trend {}", count_slope(t))));
            overlaid.add(side, trace, format!("{} {what}", side.name), fit);
        }
        titles.push(format!("{short}: {}", parts.join(", ")));
        if overlaid.traces.is_empty() {
            continue;
        }
        let range = padded(extent(overlaid.values.iter().copied()));
        let (mut panel, mut items) = overlaid.panel("count", range);
        panel.caption = Some(caption.to_string());
        panel.integer = true;
        panels.push(panel);
        legend.append(&mut items);
    }
    if panels.is_empty() {
        panels.push(PanelSpec::new("count", (0.0, 1.0)));
    }
    let panel_px = if panels.len() > 1 {
        DOUBLE_PANEL_PX
    } else {
        SINGLE_PANEL_PX
    };
    ChartSpec {
        title: titles.join("; "),
        panels,
        panel_px,
        marks: place_marks(marks, axis),
        legend,
    }
}

/// CPU cores of both runs. A run too long to draw whole is drawn as its mean over a few
/// minutes: two min–max bands of a day of 1 Hz samples laid over each other would hide one
/// another, while the means show how the two levels differ.
fn cpu_chart(sides: &[Side; 2], axis: &TimeAxis, marks: &[Mark]) -> ChartSpec {
    let mut traces = Vec::new();
    let mut legend = Vec::new();
    let mut title = Vec::new();
    for side in sides {
        let cpu = SampleSeries::new(&side.run.columns, Metric::Cpu, 1.0);
        let (means, window_s) = bucket_means(cpu.walk(), cpu.len(), MEAN_POINTS);
        let (trace, label) = if means.is_empty() {
            (cpu.trace(side.look), format!("{} CPU (cores)", side.name))
        } else {
            let label = if window_s > 0.0 {
                format!(
                    "{} CPU (cores), mean per {}",
                    side.name,
                    short_duration(window_s)
                )
            } else {
                format!("{} CPU (cores), means", side.name)
            };
            (Trace::of_segments(&means, side.look), label)
        };
        title.push(match &side.verdict.metrics.cpu {
            Some(c) => format!(
                "{} mean {} cores (p95 {})",
                side.name,
                three_figures(c.mean_cores),
                three_figures(c.p95_cores)
            ),
            None => format!("{} not measured", side.name),
        });
        if trace.is_empty() {
            legend.push(missing_note(side, "CPU"));
            continue;
        }
        legend.push(legend_item(label, side.look));
        traces.push(trace);
    }
    let top = trace_values(&traces).fold(0.0, f64::max);
    let mut panel = PanelSpec::new("cores", (0.0, (top * 1.05).max(0.01)));
    panel.traces = traces;
    ChartSpec {
        title: format!("CPU: {}", title.join(", ")),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(marks, axis),
        legend,
    }
}

/// Per-interval latency p95 of both runs; `None` unless both had load intervals.
fn latency_chart(sides: &[Side; 2], axis: &TimeAxis, marks: &[Mark]) -> Option<ChartSpec> {
    let intervals: Vec<&[LoadInterval]> = sides
        .iter()
        .map(|side| {
            side.run
                .load
                .as_ref()
                .map(|l| l.intervals.as_slice())
                .filter(|i| !i.is_empty())
        })
        .collect::<Option<_>>()?;
    let mut traces = Vec::new();
    let mut legend = Vec::new();
    let mut title = Vec::new();
    for (side, intervals) in sides.iter().zip(intervals) {
        let trace = interval_trace(intervals, |i| i.latency_ms.p95, side.look);
        let whole = side
            .verdict
            .load
            .as_ref()
            .and_then(|l| l.latency_ms.p95)
            .map_or_else(|| "n/a".to_string(), |ms| format!("{} ms", format_ms(ms)));
        title.push(format!("{} {whole}", side.name));
        if trace.is_empty() {
            legend.push(LegendItem {
                label: format!("{}: no responses, no latency", side.name),
                key: Key::Text,
            });
            continue;
        }
        legend.push(legend_item(
            format!("{} p95 latency per interval", side.name),
            side.look,
        ));
        traces.push(trace);
    }
    let top = trace_values(&traces).fold(0.0, f64::max);
    let mut panel = PanelSpec::new("ms", (0.0, (top * 1.08).max(1.0)));
    panel.traces = traces;
    Some(ChartSpec {
        title: format!("Load latency p95 (whole run): {}", title.join(", ")),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(marks, axis),
        legend,
    })
}

#[cfg(test)]
mod tests {
    use super::super::style::MAX_POINTS;
    use super::super::test_kit::{GIB, assert_well_formed, synthetic_run, texts};
    use super::*;

    const BLUE_HEX: &str = "#0072B2";
    const VERMILLION_HEX: &str = "#D55E00";

    /// Polylines of data in a colour: more points than a marker, a legend sample or a dash.
    fn data_lines(svg: &str, color: &str) -> usize {
        svg.lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(color))
            .filter(|l| l.matches(',').count() > 10)
            .count()
    }

    /// The most points of any polyline.
    fn longest_line(svg: &str) -> usize {
        svg.lines()
            .filter(|l| l.starts_with("<polyline"))
            .map(|l| l.matches(',').count())
            .max()
            .unwrap_or(0)
    }

    fn view((run, verdict): &(RunData, RunVerdict)) -> RunView<'_> {
        RunView { run, verdict }
    }

    fn draw(base: &(RunData, RunVerdict), cand: &(RunData, RunVerdict)) -> Vec<OverlayChart> {
        overlay_charts(view(base), view(cand)).unwrap()
    }

    #[test]
    fn every_overlay_draws_both_runs_on_the_longer_axis() {
        let base = synthetic_run(600, 8 * GIB);
        let cand = synthetic_run(1200, 8 * GIB);
        let charts = draw(&base, &cand);
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["memory", "threads_fds", "cpu", "latency"]);
        for chart in &charts {
            let svg = &chart.svg;
            assert_well_formed(chart.id, svg);
            let texts = texts(svg);
            let has = |prefix: &str| texts.iter().any(|t| t.starts_with(prefix));
            assert!(
                has("baseline ") && has("candidate "),
                "{}: {texts:?}",
                chart.id
            );
            // Both runs' series drawn, one per panel each.
            let panels = if chart.id == "threads_fds" { 2 } else { 1 };
            for color in [BLUE_HEX, VERMILLION_HEX] {
                assert!(
                    data_lines(svg, color) >= panels,
                    "{}: no {color} series",
                    chart.id
                );
            }
            // One axis over the longer run (20 min), the shorter one's end marked.
            assert!(has("time since start (min)"), "{}: {texts:?}", chart.id);
            assert!(texts.iter().any(|t| t == "20"), "{}: {texts:?}", chart.id);
            assert!(texts.iter().any(|t| t == "end of baseline"), "{}", chart.id);
        }
        let memory = texts(&charts[0].svg);
        for label in [
            "Memory: baseline RSS +",
            "baseline RSS",
            "candidate RSS",
            "baseline fitted trend +",
            "candidate fitted trend +",
            "MB",
        ] {
            assert!(
                memory.iter().any(|t| t.starts_with(label)),
                "no {label:?} in {memory:?}"
            );
        }
        // Each run's fitted trend is dashed in its colour: many short polylines.
        for color in [BLUE_HEX, VERMILLION_HEX] {
            let dashes = charts[0]
                .svg
                .lines()
                .filter(|l| l.starts_with("<polyline") && l.contains(color))
                .filter(|l| l.matches(',').count() == 2)
                .count();
            assert!(dashes > 10, "{color}: {dashes} dashes");
        }
        let threads = texts(&charts[1].svg);
        assert!(
            threads[0].starts_with("Threads: baseline +") && threads[0].contains("; FDs: "),
            "{threads:?}"
        );
        let latency = texts(&charts[3].svg);
        assert!(
            latency[0].starts_with("Load latency p95 (whole run): baseline "),
            "{latency:?}"
        );
    }

    #[test]
    fn latency_is_drawn_only_when_both_runs_had_load() {
        let base = synthetic_run(600, 8 * GIB);
        let mut cand = synthetic_run(600, 8 * GIB);
        cand.0.load = None;
        let charts = draw(&base, &cand);
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["memory", "threads_fds", "cpu"]);
        // Runs of the same length: no end marked.
        assert!(
            !texts(&charts[0].svg)
                .iter()
                .any(|t| t.starts_with("end of"))
        );
    }

    #[test]
    fn overlays_of_a_minute_and_a_day_stay_bounded() {
        let minute = synthetic_run(60, 8 * GIB);
        let day = synthetic_run(86_400, 8 * GIB);
        let charts = draw(&minute, &day);
        assert_eq!(charts.len(), 4);
        // What a chart may take: its frame (axes, grid, ticks, title, legend, dashed
        // reference lines, markers), measured at under 40 kB, and about 10 bytes per point
        // drawn ("x,y " in whole pixels) for each series, every series at most the point
        // budget. A day at 1 Hz unthinned would be 86 400 points, some 860 kB a series.
        const FRAME_BYTES: usize = 64 * 1024;
        const POINT_BYTES: usize = 10;
        for chart in &charts {
            assert_well_formed(chart.id, &chart.svg);
            let series = if chart.id == "threads_fds" { 4 } else { 2 };
            let bound = FRAME_BYTES + series * (MAX_POINTS + 2) * POINT_BYTES;
            assert!(
                chart.svg.len() <= bound,
                "{}: {} bytes > {bound}",
                chart.id,
                chart.svg.len()
            );
            assert!(
                longest_line(&chart.svg) <= MAX_POINTS + 2,
                "{}: a line of {} points",
                chart.id,
                longest_line(&chart.svg)
            );
            let texts = texts(&chart.svg);
            assert!(
                texts.iter().any(|t| t == "24"),
                "{}: no tick at 24 h",
                chart.id
            );
            assert!(texts.iter().any(|t| t == "end of baseline"), "{}", chart.id);
        }
        let cpu = texts(&charts[2].svg);
        assert!(
            cpu.iter()
                .any(|t| t.starts_with("candidate CPU (cores), mean per "))
                && cpu.iter().any(|t| t == "baseline CPU (cores)"),
            "{cpu:?}"
        );
    }

    #[test]
    fn overlays_of_runs_with_no_or_one_sample_are_drawn() {
        use crate::analysis::{AnalysisConfig, analyse};
        use crate::sample::Sample;
        let run_of = |n: usize| {
            let samples: Vec<Sample> = (0..n)
                .map(|i| Sample {
                    t: i as f64,
                    rss: Some(5_000_000),
                    cpu: Some(0.1),
                    ..Sample::default()
                })
                .collect();
            let run = RunData {
                header: crate::runlog::tests_support::header(),
                columns: crate::synthetic::columns(&samples),
                events: vec![],
                skipped_lines: 0,
                stop_reason: None,
                load: None,
            };
            let verdict = analyse(&run, &AnalysisConfig::default());
            (run, verdict)
        };
        let charts = draw(&run_of(0), &run_of(1));
        assert_eq!(charts.len(), 3);
        for chart in &charts {
            assert_well_formed(chart.id, &chart.svg);
        }
        let memory = texts(&charts[0].svg);
        assert!(
            memory.iter().any(|t| t == "baseline: no RSS recorded"),
            "{memory:?}"
        );
        assert!(
            memory[0] == "Memory: baseline not measured, candidate RSS too few samples for a trend",
            "{memory:?}"
        );
    }
}
