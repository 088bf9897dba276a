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
//! Series are read from the run's columns and thinned as they are read, to the min and max
//! of each bucket, about two points per pixel column: peaks and troughs stay, and a chart
//! of a week takes no more memory than a chart of an hour ([`series`]). Series differ in
//! colour (Okabe–Ito, safe for colour-blind readers) and also in width, dash and marker,
//! so they stay apart in grey-scale print.
//!
//! The engine: [`axis`] (time and value axes), [`series`] (what is drawn of a series),
//! [`marks`] (events and their labels), [`panel`] (what a chart holds, and the rule for a
//! limit above the data), [`legend`], [`style`] (palette, sizes, looks) and [`render`]
//! (drawing with plotters). One file per chart: [`memory`], [`threads_fds`], [`cpu`],
//! [`cgroup`], [`load`]; [`compare`], the charts of two runs overlaid for compare.html; and [`mini`],
//! the small multiples of fleet.html, written as SVG text.

mod axis;
mod capsearch;
mod cgroup;
mod compare;
mod cpu;
mod legend;
mod load;
mod marks;
mod memory;
mod mini;
mod panel;
mod render;
mod series;
mod style;
#[cfg(test)]
mod test_kit;
mod threads_fds;
mod trend;

use std::path::Path;

use crate::analysis::RunVerdict;
use crate::runlog::RunData;
use axis::TimeAxis;
pub use compare::{OverlayChart, RunView, overlay_charts};
use marks::{Mark, run_marks};
pub use mini::{MINI_BUCKETS, MiniChart};
use panel::ChartSpec;

pub const MEMORY_CHART_FILE: &str = "memory.svg";
pub const THREADS_FDS_CHART_FILE: &str = "threads_fds.svg";
pub const CPU_CHART_FILE: &str = "cpu.svg";
pub const CGROUP_CHART_FILE: &str = "cgroup.svg";
pub const LOAD_CHART_FILE: &str = "load.svg";
pub use capsearch::{CAPACITY_CHART_FILE, capacity_svg};

#[derive(Debug, thiserror::Error)]
#[error("cannot draw {file}: {reason}")]
pub struct ChartError {
    pub file: String,
    pub reason: String,
}

impl ChartError {
    /// A chart that cannot be drawn or written is a runtime failure (a full disk, a
    /// directory gone), never the user's input: the run was read before anything is drawn.
    pub fn is_bad_input(&self) -> bool {
        false
    }
}

/// Builds one chart on the run's time axis, with the run's marks; `None` when the run has
/// nothing for it.
type BuildChart = fn(&RunData, &RunVerdict, &TimeAxis, &[Mark]) -> Option<ChartSpec>;

/// Every chart, in page order, with its file.
const CHARTS: [(&str, BuildChart); 5] = [
    (MEMORY_CHART_FILE, |run, verdict, axis, marks| {
        Some(memory::chart(run, verdict, axis, marks))
    }),
    (THREADS_FDS_CHART_FILE, |run, verdict, axis, marks| {
        Some(threads_fds::chart(run, verdict, axis, marks))
    }),
    (CPU_CHART_FILE, |run, verdict, axis, marks| {
        Some(cpu::chart(run, verdict, axis, marks))
    }),
    // Only when the run read a cgroup.
    (CGROUP_CHART_FILE, cgroup::chart),
    // Only when the run has load intervals.
    (LOAD_CHART_FILE, load::chart),
];

/// The chart files in page order.
pub const CHART_FILES: [&str; 5] = [
    CHARTS[0].0,
    CHARTS[1].0,
    CHARTS[2].0,
    CHARTS[3].0,
    CHARTS[4].0,
];

/// Write every chart the run has (memory.svg, threads_fds.svg, cpu.svg, cgroup.svg when a
/// cgroup was read, and load.svg when there are load intervals), all on one time axis; returns the file names written. One
/// chart is built and drawn at a time.
pub fn write_charts(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
) -> Result<Vec<String>, ChartError> {
    let axis = time_axis(run, verdict);
    let marks = run_marks(run, &axis);
    let mut written = Vec::new();
    for (file, build) in CHARTS {
        if let Some(chart) = build(run, verdict, &axis, &marks) {
            render::render(&dir.join(file), &axis, &chart)?;
            written.push(file.to_string());
        }
    }
    // `--find-capacity`: against the offered load, not time (issue 16).
    if let Some(search) = &verdict.capacity_search {
        let path = dir.join(CAPACITY_CHART_FILE);
        crate::report::write_file_atomic(&path, capacity_svg(search).as_bytes()).map_err(|e| {
            ChartError {
                file: CAPACITY_CHART_FILE.to_string(),
                reason: e.to_string(),
            }
        })?;
        written.push(CAPACITY_CHART_FILE.to_string());
    }
    Ok(written)
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
/// memory-limit crossing when that comes soon enough after it to draw.
fn time_axis(run: &RunData, verdict: &RunVerdict) -> TimeAxis {
    let end = run_end_s(run);
    let reach = memory::projection(run, verdict)
        .filter(|p| p.drawn)
        .map_or(end, |p| p.at_s + 0.02 * end);
    TimeAxis::new(end, reach)
}

#[cfg(test)]
mod tests {
    use super::axis::axis_label;
    use super::style::{MARGIN, MAX_POINTS, RIGHT_AXIS_PX, WIDTH};
    use super::test_kit::{GIB, assert_well_formed, render_all, synthetic_run, texts};
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::runlog::tests_support::header;
    use crate::sample::Sample;

    #[test]
    fn every_chart_marks_every_event_and_shares_the_time_axis() {
        let (run, mut verdict) = synthetic_run(7200, 8 * GIB);
        verdict.metrics.rss.as_mut().unwrap().onset_s = Some(3600.0);
        let charts = render_all(&run, &verdict);
        let names: Vec<&str> = charts.iter().map(|(f, _)| f.as_str()).collect();
        let without_cgroup: Vec<&str> = CHART_FILES
            .into_iter()
            .filter(|f| *f != CGROUP_CHART_FILE)
            .collect();
        assert_eq!(names, without_cgroup, "no cgroup was read");
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
            assert_eq!(onset, name == MEMORY_CHART_FILE, "{name}");
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
            let charts = render_all(&run, &verdict);
            assert_eq!(charts.len(), 3, "no load chart without load intervals");
            for (name, svg) in charts {
                assert_well_formed(&name, &svg);
            }
        }
    }

    #[test]
    fn chart_errors_are_runtime_failures() {
        let (run, verdict) = synthetic_run(600, GIB);
        let err = write_charts(Path::new("/nonexistent/soakprof"), &run, &verdict).unwrap_err();
        assert!(!err.is_bad_input());
        assert!(
            err.to_string().starts_with("cannot draw memory.svg: "),
            "{err}"
        );
    }
}
