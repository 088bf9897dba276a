//! The load chart: latency percentiles above, throughput and error rate (right axis)
//! below, with the gates as lines and the run's events marked.

use plotters::style::RGBColor;

use super::axis::TimeAxis;
use super::legend::{LegendItem, legend_item};
use super::marks::{Mark, place_marks};
use super::panel::{ChartSpec, Level, PanelSpec, RefLine, RightAxis, within_reach};
use super::series::{Trace, interval_trace, trace_values};
use super::style::{BLUE, DOUBLE_PANEL_PX, Look, Marker, ORANGE, PURPLE, VERMILLION};
use crate::analysis::RunVerdict;
use crate::analysis::load::{GateKind, LoadSummary, format_ms, format_rps};
use crate::runlog::load::LoadRun;
use crate::runlog::{RunData, Thresholds};

const GATE_DASH: (u32, u32) = (12, 6);

/// A gate before it is placed: its line label (`--max-p95 500 ms`), value in its axis'
/// unit, and colour.
struct Gate {
    name: String,
    value: f64,
    color: RGBColor,
}

/// A gate given on the command line, as a line at `limit × scale` in its axis' unit.
fn gate(kind: GateKind, limit: Option<f64>, scale: f64, color: RGBColor) -> Option<Gate> {
    limit.map(|limit| Gate {
        name: format!("{} {}", kind.option(), kind.format_limit(limit)),
        value: limit * scale,
        color,
    })
}

/// One value axis of the load chart: its gates placed against its data, and its top.
struct GateAxis {
    gates: Vec<Level>,
    top: f64,
}

impl GateAxis {
    /// The axis runs from 0 to the data's maximum (at least `floor`), raised to show each
    /// gate within reach of the data (one further up is only in the legend).
    fn new(traces: &[Trace], gates: impl IntoIterator<Item = Gate>, floor: f64) -> GateAxis {
        let data_max = trace_values(traces).fold(0.0, f64::max);
        let mut top = data_max.max(floor);
        let gates = gates
            .into_iter()
            .map(|gate| {
                let shown = within_reach(gate.value, data_max, floor);
                if shown {
                    top = top.max(gate.value);
                }
                Level {
                    name: gate.name,
                    value: gate.value,
                    look: Look::new(gate.color, 1, Some(GATE_DASH), Marker::None),
                    shown,
                }
            })
            .collect();
        GateAxis {
            gates,
            top: top * 1.08,
        }
    }

    /// The shown gates as lines across the axis, labelled at the right end.
    fn refs(&self, end_s: f64, right: bool) -> impl Iterator<Item = RefLine> + '_ {
        self.gates
            .iter()
            .filter_map(move |gate| gate.line(end_s))
            .map(move |line| RefLine {
                right,
                // The right axis' labels go below their line, so that they do not print
                // over the left axis' ones when the two lines meet.
                label_below: right,
                ..line
            })
    }

    fn legend(&self) -> impl Iterator<Item = LegendItem> + '_ {
        self.gates.iter().map(Level::legend_item)
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

/// The load chart of a run with load intervals.
pub(super) fn chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> Option<ChartSpec> {
    let load = run.load.as_ref().filter(|l| !l.intervals.is_empty())?;
    Some(load_chart(
        load,
        verdict.load.as_ref(),
        &verdict.thresholds,
        axis,
        marks,
    ))
}

fn load_chart(
    load: &LoadRun,
    summary: Option<&LoadSummary>,
    thresholds: &Thresholds,
    axis: &TimeAxis,
    marks: &[Mark],
) -> ChartSpec {
    let intervals = &load.intervals;
    let latency_looks = [
        ("p50", Look::new(BLUE, 1, None, Marker::None)),
        ("p95", Look::new(ORANGE, 2, None, Marker::Triangle)),
        ("p99", Look::new(VERMILLION, 2, None, Marker::Circle)),
    ];
    let latency: Vec<Trace> = latency_looks
        .iter()
        .map(|&(name, look)| {
            let percentile = |i: &crate::runlog::load::LoadInterval| match name {
                "p50" => i.latency_ms.p50,
                "p95" => i.latency_ms.p95,
                _ => i.latency_ms.p99,
            };
            interval_trace(intervals, percentile, look)
        })
        .collect();
    let throughput_look = Look::new(BLUE, 2, None, Marker::None);
    let throughput = interval_trace(intervals, |i| Some(i.rps), throughput_look);
    let errors_look = Look::new(VERMILLION, 2, None, Marker::Cross);
    let error_pct = interval_trace(
        intervals,
        |i| (i.requests > 0).then(|| i.errors.total() as f64 / i.requests as f64 * 100.0),
        errors_look,
    );
    let latency_axis = GateAxis::new(
        &latency,
        [
            gate(GateKind::P95, thresholds.max_p95_ms, 1.0, ORANGE),
            gate(GateKind::P99, thresholds.max_p99_ms, 1.0, VERMILLION),
        ]
        .into_iter()
        .flatten(),
        1.0,
    );
    let rps_axis = GateAxis::new(
        std::slice::from_ref(&throughput),
        gate(GateKind::MinRps, thresholds.min_rps, 1.0, PURPLE),
        1.0,
    );
    let error_axis = GateAxis::new(
        std::slice::from_ref(&error_pct),
        gate(
            GateKind::ErrorRate,
            thresholds.max_error_rate,
            100.0,
            VERMILLION,
        ),
        2.0,
    );

    let mut legend: Vec<LegendItem> = latency_looks
        .iter()
        .map(|&(name, look)| legend_item(format!("{name} latency"), look))
        .collect();
    legend.extend(latency_axis.legend());
    legend.push(legend_item("throughput (req/s)", throughput_look));
    legend.push(legend_item(
        "errors (% of requests, right axis)",
        errors_look,
    ));
    legend.extend(rps_axis.legend());
    legend.extend(error_axis.legend());

    let end_s = axis.end_s();
    let mut top = PanelSpec::new("ms", (0.0, latency_axis.top));
    top.caption = Some("Latency".to_string());
    top.refs = latency_axis.refs(end_s, false).collect();
    top.traces = latency;
    let mut bottom = PanelSpec::new("req/s", (0.0, rps_axis.top));
    bottom.caption = Some("Throughput and errors".to_string());
    bottom.right = Some(RightAxis {
        desc: "errors (% of requests)".to_string(),
        range: (0.0, error_axis.top),
    });
    bottom.refs = rps_axis.refs(end_s, false).collect();
    bottom.refs.extend(error_axis.refs(end_s, true));
    bottom.traces = vec![throughput];
    bottom.right_traces = vec![error_pct];
    ChartSpec {
        title: load_title(summary),
        panels: vec![top, bottom],
        panel_px: DOUBLE_PANEL_PX + 40,
        marks: place_marks(marks, axis),
        legend,
    }
}

#[cfg(test)]
mod tests {
    use super::super::LOAD_CHART_FILE;
    use super::super::marks::stage_marks;
    use super::super::render::render;
    use super::super::test_kit::load_run;
    use super::*;
    use crate::analysis::load::judge_load;

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
        // The axis of a run whose last sample is at 60.5 s, with only the stages marked.
        let axis = TimeAxis::new(60.5, 60.5);
        let chart = load_chart(&run, Some(&summary), &thresholds, &axis, &stage_marks(&run));
        render(&path, &axis, &chart).unwrap();
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
}
