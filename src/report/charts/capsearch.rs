//! The capacity-search chart (capacity.svg): latency, throughput, target CPU, throttling
//! and memory against the offered level, one panel each on one shared x axis, each level a
//! mark (a dot when it met every gate, a cross when it failed), with the highest passing
//! and the first failing level as vertical lines.
//!
//! Written as SVG text, not with the time-axis engine: its x axis is the offered load, and
//! a search holds a dozen or two points.

use std::fmt::Write as _;

use crate::analysis::capsearch::{CapacitySearch, LevelReport, SearchModel};
use crate::report::html::escape;

pub const CAPACITY_CHART_FILE: &str = "capacity.svg";

const WIDTH: f64 = 960.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 64.0;
const PANEL_H: f64 = 120.0;
const PANEL_GAP: f64 = 34.0;
const BOTTOM: f64 = 70.0;
const PASS_COLOR: &str = "#009E73";
const FAIL_COLOR: &str = "#D55E00";
const LINE_COLOR: &str = "#0072B2";
const GATE_COLOR: &str = "#E69F00";
const TEXT_COLOR: &str = "#24292f";
const MUTED: &str = "#59636e";
const GRID: &str = "#e1e1e1";

/// One panel: a value per level, and an optional horizontal gate.
struct Panel<'a> {
    title: &'a str,
    value: fn(&LevelReport) -> Option<f64>,
    /// Formats an axis tick.
    tick: fn(f64) -> String,
    gate: Option<(f64, String)>,
    /// Throughput: the offered rate as a dashed diagonal (open model).
    diagonal: bool,
}

fn number(v: f64) -> String {
    crate::units::three_figures(v)
}

fn megabytes(v: f64) -> String {
    format!("{} MB", number(v / 1e6))
}

/// The chart as a standalone SVG document.
pub fn capacity_svg(search: &CapacitySearch) -> String {
    let mut levels: Vec<&LevelReport> = search.levels.iter().collect();
    levels.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let panels = [
        Panel {
            title: "p95 latency (ms)",
            value: |l| l.p95_ms,
            tick: number,
            gate: search
                .gates
                .max_p95_ms
                .map(|g| (g, format!("--max-p95 {} ms", number(g)))),
            diagonal: false,
        },
        Panel {
            title: "throughput (responses/s)",
            value: |l| Some(l.achieved_rps),
            tick: number,
            gate: None,
            diagonal: search.model == SearchModel::Open,
        },
        Panel {
            title: "target CPU (cores)",
            value: |l| l.cpu_cores,
            tick: number,
            gate: None,
            diagonal: false,
        },
        Panel {
            title: "throttled (% of CPU periods)",
            value: |l| l.throttled_share.map(|s| s * 100.0),
            tick: number,
            gate: search
                .gates
                .max_throttled_share
                .map(|g| (g * 100.0, format!("gate {}%", number(g * 100.0)))),
            diagonal: false,
        },
        Panel {
            title: "memory (peak, MB)",
            value: |l| l.mem_bytes.map(|b| b as f64),
            tick: megabytes,
            gate: search
                .gates
                .mem_limit_bytes
                .map(|g| (g as f64, format!("limit {}", megabytes(g as f64)))),
            diagonal: false,
        },
    ];
    let height = TOP + panels.len() as f64 * (PANEL_H + PANEL_GAP) + BOTTOM;
    let x_max = levels.iter().map(|l| l.offered).fold(0.0, f64::max) * 1.05;
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let plot_w = WIDTH - LEFT - RIGHT;
    let x_of = |v: f64| LEFT + v / x_max * plot_w;
    let mut out = String::with_capacity(16 * 1024);
    let title = match search.highest_passing {
        Some(h) => format!("Capacity search: {}", search.model.level_text(h)),
        None => "Capacity search: no level met the gates".to_string(),
    };
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<text x=\"{LEFT}\" y=\"26\" font-size=\"20\" fill=\"{TEXT_COLOR}\">{t}</text>\n<text x=\"{LEFT}\" y=\"48\" font-size=\"13\" fill=\"{MUTED}\">{s}</text>\n",
        t = escape(&title),
        s = escape(&search.summary),
    );
    for (k, panel) in panels.iter().enumerate() {
        let y0 = TOP + k as f64 * (PANEL_H + PANEL_GAP) + 18.0;
        draw_panel(&mut out, panel, &levels, y0, x_max, &x_of);
    }
    // The shared x axis under the last panel, and the bracket lines through every panel.
    let bottom = TOP + panels.len() as f64 * (PANEL_H + PANEL_GAP) - PANEL_GAP + 18.0;
    for tick in ticks(x_max) {
        let x = x_of(tick);
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>",
            bottom + 16.0,
            number(tick)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"{TEXT_COLOR}\">offered load ({})</text>",
        LEFT + plot_w / 2.0,
        bottom + 36.0,
        escape(search.model.unit())
    );
    let top = TOP + 18.0;
    for (level, color, label) in [
        (search.highest_passing, PASS_COLOR, "highest passing"),
        (search.first_failing, FAIL_COLOR, "first failing"),
    ] {
        if let Some(v) = level {
            let x = x_of(v);
            let _ = writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{color}\" stroke-width=\"1\" stroke-dasharray=\"6 4\"><title>{label}</title></line>"
            );
        }
    }
    let legend_y = bottom + 56.0;
    let _ = writeln!(
        out,
        "<circle cx=\"{LEFT}\" cy=\"{:.1}\" r=\"4\" fill=\"{PASS_COLOR}\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\" font-size=\"13\" fill=\"{TEXT_COLOR}\">met every gate</text>",
        legend_y - 4.0,
        LEFT + 10.0
    );
    let cross_x = LEFT + 150.0;
    let _ = writeln!(
        out,
        "{}<text x=\"{:.1}\" y=\"{legend_y:.1}\" font-size=\"13\" fill=\"{TEXT_COLOR}\">failed a gate (dashed lines: highest passing, first failing; orange: gates)</text>",
        cross(cross_x, legend_y - 4.0),
        cross_x + 10.0
    );
    out.push_str("</svg>\n");
    out
}

fn cross(x: f64, y: f64) -> String {
    format!(
        "<path d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\" stroke=\"{FAIL_COLOR}\" stroke-width=\"2\"/>",
        x - 4.0,
        y - 4.0,
        x + 4.0,
        y + 4.0,
        x - 4.0,
        y + 4.0,
        x + 4.0,
        y - 4.0
    )
}

fn draw_panel(
    out: &mut String,
    panel: &Panel<'_>,
    levels: &[&LevelReport],
    y0: f64,
    x_max: f64,
    x_of: &dyn Fn(f64) -> f64,
) {
    let points: Vec<(f64, f64, bool)> = levels
        .iter()
        .filter_map(|l| (panel.value)(l).map(|v| (l.offered, v, l.passed)))
        .filter(|(_, v, _)| v.is_finite())
        .collect();
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"14\" fill=\"{TEXT_COLOR}\">{}</text>",
        y0 - 4.0,
        escape(panel.title)
    );
    let data_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut y_max = data_max;
    if let Some((gate, _)) = &panel.gate {
        y_max = y_max.max(*gate);
    }
    if panel.diagonal {
        y_max = y_max.max(x_max);
    }
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let y_of = |v: f64| y0 + PANEL_H - (v / y_max).clamp(0.0, 1.0) * PANEL_H;
    let _ = writeln!(
        out,
        "<rect x=\"{LEFT}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#d0d7de\"/>",
        WIDTH - LEFT - RIGHT
    );
    for tick in ticks(y_max) {
        let y = y_of(tick);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&(panel.tick)(tick))
        );
    }
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"{MUTED}\">not read</text>",
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            y0 + PANEL_H / 2.0
        );
        return;
    }
    if let Some((gate, label)) = &panel.gate {
        let y = y_of(*gate);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GATE_COLOR}\" stroke-width=\"1.5\" stroke-dasharray=\"12 6\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{GATE_COLOR}\">{}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT - 4.0,
            y - 4.0,
            escape(label)
        );
    }
    if panel.diagonal {
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{MUTED}\" stroke-dasharray=\"3 4\"><title>offered</title></line>",
            y_of(0.0),
            x_of(x_max),
            y_of(x_max)
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|(x, y, _)| format!("{:.1},{:.1}", x_of(*x), y_of(*y)))
        .collect();
    let _ = writeln!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{LINE_COLOR}\" stroke-width=\"1.5\"/>",
        path.join(" ")
    );
    for (x, y, passed) in &points {
        let (cx, cy) = (x_of(*x), y_of(*y));
        if *passed {
            let _ = writeln!(
                out,
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"{PASS_COLOR}\"/>"
            );
        } else {
            out.push_str(&cross(cx, cy));
            out.push('\n');
        }
    }
}

/// About five round ticks from 0 to `max`.
fn ticks(max: f64) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0];
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (0..)
        .map(|k| k as f64 * step)
        .take_while(|t| *t <= max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::capsearch::{
        Search, SearchEnd, SearchGates, SearchPlan, StepObservation, summarize,
    };

    fn search() -> CapacitySearch {
        let mut search = Search::new(
            SearchPlan {
                model: SearchModel::Open,
                start: 50.0,
                tolerance: 0.05,
                step_s: 3.0,
                max_in_flight: Some(1000),
            },
            SearchGates {
                max_p95_ms: Some(100.0),
                ..SearchGates::default()
            },
        );
        for (offered, p95) in [(50.0, 4.0), (100.0, 5.0), (200.0, 450.0), (141.0, 6.0)] {
            search.observe(StepObservation {
                offered,
                requests: 300,
                responses: 300,
                achieved_rps: offered.min(180.0),
                p95_ms: Some(p95),
                cpu_cores: Some(offered / 200.0),
                mem_bytes: Some(10_000_000),
                settled: true,
                ..StepObservation::default()
            });
        }
        summarize(&search, SearchEnd::Budget)
    }

    #[test]
    fn the_chart_has_every_panel_every_level_and_the_bracket() {
        let result = search();
        let svg = capacity_svg(&result);
        for text in [
            "Capacity search: 141.0 rps",
            "p95 latency (ms)",
            "throughput (responses/s)",
            "target CPU (cores)",
            "throttled (% of CPU periods)",
            "memory (peak, MB)",
            "--max-p95 100 ms",
            "offered load (rps)",
            "highest passing",
            "first failing",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        // Throttling was not read: that panel says so rather than drawing zeros.
        assert_eq!(svg.matches("not read").count(), 1);
        // Three passing dots per panel with data (4 panels), one cross each, plus legend.
        assert_eq!(svg.matches("<circle").count(), 3 * 4 + 1);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0), vec![0.0]);
        assert_eq!(ticks(470.0).get(1), Some(&100.0));
    }
}
