//! The memory chart: RSS, and USS and PSS (thin lines), and VMS unless it dwarfs them;
//! RSS's fitted trend over the analysed span and the fail threshold's slope from the same
//! start; the warm-up shaded; the growth onset marked; the memory limit and where the
//! trend would reach it.

use super::axis::{TimeAxis, extent, padded};
use super::legend::{Key, LegendItem, legend_item, warmup_legend};
use super::marks::{Mark, MarkKind, place_marks};
use super::panel::{ChartSpec, Level, PanelSpec, RefLine, within_reach};
use super::series::{SampleSeries, Trace, trace_values};
use super::style::{
    ANON_LOOK, FIT_LOOK, LIMIT_LOOK, PROJECTION_LOOK, PSS_LOOK, RSS_LOOK, SINGLE_PANEL_PX,
    THRESHOLD_LOOK, USS_LOOK, VMS_LOOK,
};
use super::trend::{signed, trend_lines, verdict_word, warmup_mark, warmup_shade};
use crate::analysis::{JudgedMemory, MetricTrend, RunVerdict};
use crate::columns::{Columns, Metric};
use crate::runlog::RunData;
use crate::units::{format_byte_rate, format_bytes, format_limit, short_duration};

/// How far beyond the run the time axis may reach to show the projected memory-limit
/// crossing, as a multiple of the run's length.
const PROJECTION_REACH: f64 = 1.5;

/// VMS is drawn with the others unless it is more than this many times their largest
/// value: it is address space (arenas, thread stacks, mapped files), usually many times
/// RSS, and on the same axis it would flatten them; on an axis of its own its saw would
/// look like the main series. Then the legend states its range and slope instead.
const VMS_DWARFS: f64 = 3.0;

/// Where the fitted RSS line reaches the memory limit, when it does in the future.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Projection {
    /// The end of the fitted line: (seconds, bytes).
    from: (f64, f64),
    /// When the line reaches the limit, seconds since the start.
    pub at_s: f64,
    limit: f64,
    /// From the end of the run to the crossing, seconds.
    after_s: f64,
    /// Close enough to draw (within [`PROJECTION_REACH`] times the run).
    pub drawn: bool,
}

/// The judged memory's name, trend and column: RSS for one process, PSS for several, the
/// cgroup's anon memory for a cgroup target.
pub(super) fn judged(verdict: &RunVerdict) -> (&'static str, Option<&MetricTrend>, Metric) {
    let memory = verdict.capacity.judged_memory;
    let kind = memory.kind();
    (
        kind.label(),
        verdict.metrics.judged_memory(memory),
        kind.column(),
    )
}

pub(super) fn projection(run: &RunData, verdict: &RunVerdict) -> Option<Projection> {
    let (_, trend, metric) = judged(verdict);
    let trend = trend?;
    let limit = verdict.capacity.mem_limit_bytes? as f64;
    let after_s = verdict.capacity.time_to_limit_s.filter(|s| *s > 0.0)?;
    if trend.slope_per_min <= 0.0 {
        return None;
    }
    // The analysis measures the time to the limit from the judged memory's last sample.
    let last_t = run.columns.points(metric).last()?.0;
    let at_s = last_t + after_s;
    Some(Projection {
        from: (trend.fit_end[0], trend.fit_end[1]),
        at_s,
        limit,
        after_s,
        drawn: at_s <= PROJECTION_REACH * super::run_end_s(run).max(1e-9),
    })
}

/// The unit memory is drawn in: kB, MB or GB by the largest value.
pub(super) fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e10 {
        (1e9, "GB")
    } else if max >= 1e6 {
        (1e6, "MB")
    } else {
        (1e3, "kB")
    }
}

/// "Memory: RSS +24.4 MB/min (fail; threshold 10.0 MB/min)".
fn memory_title(run: &RunData, verdict: &RunVerdict) -> String {
    let (label, trend, metric) = judged(verdict);
    match trend {
        Some(t) => format!(
            "Memory: {label} {} ({}; threshold {})",
            signed(format_byte_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t),
            format_byte_rate(verdict.thresholds.max_growth_bytes_per_min)
        ),
        None if run.columns.present(metric) > 0 => {
            format!("Memory: {label} (too few samples for a trend)")
        }
        None => "Memory: not measured".to_string(),
    }
}

/// What the data's ranges decide: whether VMS and the limit are drawn, and the unit.
struct Scaling {
    /// Bytes per unit drawn (1e6 for MB), and the unit's name.
    scale: f64,
    unit: &'static str,
    /// VMS's range, and whether it is drawn (it does not dwarf the others).
    vms_range: Option<(f64, f64)>,
    vms_drawn: bool,
    /// The memory limit is drawn: not far above the data, or the projection reaches it.
    limit_shown: bool,
}

fn scaling(columns: &Columns, verdict: &RunVerdict, projection_drawn: bool) -> Scaling {
    let values = |metric| columns.points(metric).map(|p| p.1);
    let data = extent(
        values(Metric::Rss)
            .chain(values(Metric::Pss))
            .chain(values(Metric::Uss))
            .chain(values(anon_drawn(verdict))),
    );
    let vms_range = extent(values(Metric::Vms));
    let vms_drawn =
        vms_range.is_some_and(|(_, v)| data.is_none_or(|(_, hi)| v <= VMS_DWARFS * hi.max(1.0)));
    let data_hi = data.map_or(0.0, |d| d.1).max(if vms_drawn {
        vms_range.map_or(0.0, |v| v.1)
    } else {
        0.0
    });
    let limit = verdict.capacity.mem_limit_bytes.map(|l| l as f64);
    let limit_shown = limit.filter(|l| projection_drawn || within_reach(*l, data_hi, 1.0));
    let (scale, unit) = byte_unit(data_hi.max(limit_shown.unwrap_or(0.0)));
    Scaling {
        scale,
        unit,
        vms_range,
        vms_drawn,
        limit_shown: limit_shown.is_some(),
    }
}

/// The cgroup's anon memory is drawn with the process figures when it is the judged
/// memory (a cgroup target); `Metric::Rss` stands for "nothing more" otherwise.
fn anon_drawn(verdict: &RunVerdict) -> Metric {
    if verdict.capacity.judged_memory == JudgedMemory::CgroupAnon {
        Metric::CgroupAnon
    } else {
        Metric::Rss
    }
}

/// `RSS +24.4 MB/min (fail)`, or the bare name without a trend.
fn series_label(name: &str, trend: Option<&MetricTrend>) -> String {
    match trend {
        Some(t) => format!(
            "{name} {} ({})",
            signed(format_byte_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t)
        ),
        None => name.to_string(),
    }
}

/// The series drawn, with RSS last (on top of the thin lines), and their legend entries
/// in the order RSS, USS, PSS, VMS.
fn series(run: &RunData, verdict: &RunVerdict, scaling: &Scaling) -> (Vec<Trace>, Vec<LegendItem>) {
    let m = &verdict.metrics;
    let mut traces = Vec::new();
    let mut legend = Vec::new();
    for (name, metric, look, trend) in [
        ("RSS", Metric::Rss, RSS_LOOK, m.rss.as_ref()),
        ("USS", Metric::Uss, USS_LOOK, m.uss.as_ref()),
        ("PSS", Metric::Pss, PSS_LOOK, m.pss.as_ref()),
        ("VMS", Metric::Vms, VMS_LOOK, m.vms.as_ref()),
        (
            "cgroup anon",
            Metric::CgroupAnon,
            ANON_LOOK,
            m.cgroup_anon.as_ref(),
        ),
    ] {
        if metric == Metric::Vms && !scaling.vms_drawn {
            continue;
        }
        if metric == Metric::CgroupAnon && anon_drawn(verdict) != Metric::CgroupAnon {
            continue;
        }
        let trace = SampleSeries::new(&run.columns, metric, scaling.scale).trace(look);
        if trace.is_empty() {
            continue;
        }
        legend.push(legend_item(series_label(name, trend), look));
        traces.push(trace);
    }
    if run.columns.present(Metric::Rss) > 0 {
        traces.rotate_left(1);
    }
    (traces, legend)
}

/// The note that VMS is not drawn, with its range and slope.
fn vms_note(verdict: &RunVerdict, scaling: &Scaling) -> Option<LegendItem> {
    let (lo, hi) = scaling.vms_range.filter(|_| !scaling.vms_drawn)?;
    let slope = verdict.metrics.vms.as_ref().map_or(String::new(), |t| {
        format!(
            ", {}",
            signed(format_byte_rate(t.slope_per_min), t.slope_per_min)
        )
    });
    Some(LegendItem {
        label: format!(
            "VMS {} to {}{slope}: not drawn (address space, over {VMS_DWARFS:.0}× RSS)",
            format_bytes(lo),
            format_bytes(hi)
        ),
        key: Key::Text,
    })
}

/// The lines, legend entries and range values of a panel, gathered in drawing order.
#[derive(Default)]
struct Refs {
    lines: Vec<RefLine>,
    legend: Vec<LegendItem>,
    /// Values the panel's range must hold.
    values: Vec<f64>,
}

/// The judged memory's fitted trend and the fail threshold's slope.
fn trend_refs(verdict: &RunVerdict, scale: f64, refs: &mut Refs) {
    let (label, trend, _) = judged(verdict);
    let Some(trend) = trend else {
        return;
    };
    let max_growth = verdict.thresholds.max_growth_bytes_per_min;
    let lines = trend_lines(trend, Some(max_growth), scale);
    refs.values.extend([lines[0].from.1, lines[0].to.1]);
    refs.legend.push(legend_item(
        format!(
            "{label} fitted trend {}",
            signed(format_byte_rate(trend.slope_per_min), trend.slope_per_min)
        ),
        FIT_LOOK,
    ));
    refs.legend.push(legend_item(
        format!(
            "fail threshold {} (from the trend's start)",
            signed(format_byte_rate(max_growth), 1.0)
        ),
        THRESHOLD_LOOK,
    ));
    refs.lines.extend(lines);
}

/// The memory limit, and the projected crossing when it is drawn, or when it is reached
/// at this rate otherwise.
fn limit_refs(
    verdict: &RunVerdict,
    axis: &TimeAxis,
    projection: Option<Projection>,
    projection_drawn: bool,
    scaling: &Scaling,
    refs: &mut Refs,
) {
    let Some(bytes) = verdict.capacity.mem_limit_bytes else {
        return;
    };
    let scale = scaling.scale;
    let limit = Level {
        name: format!("memory limit {}", format_limit(bytes)),
        value: bytes as f64 / scale,
        look: LIMIT_LOOK,
        shown: scaling.limit_shown,
    };
    if let Some(line) = limit.line(axis.end_s()) {
        refs.values.push(limit.value);
        refs.lines.push(RefLine {
            label_at_start: true,
            ..line
        });
    }
    let mut label = limit.legend_label();
    match projection {
        Some(p) if projection_drawn => {
            refs.lines.push(RefLine::new(
                (p.from.0, p.from.1 / scale),
                (p.at_s, p.limit / scale),
                PROJECTION_LOOK,
            ));
            refs.legend.push(legend_item(label, LIMIT_LOOK));
            refs.legend.push(legend_item(
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
            refs.legend.push(legend_item(label, LIMIT_LOOK));
        }
        None => refs.legend.push(legend_item(label, LIMIT_LOOK)),
    }
}

pub(super) fn chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> ChartSpec {
    let (_, judged_trend, _) = judged(verdict);
    let proj = projection(run, verdict);
    let projection_drawn = proj.is_some_and(|p| p.drawn && axis.x(p.at_s) <= axis.end);
    let scaling = scaling(&run.columns, verdict, projection_drawn);
    let (traces, mut legend) = series(run, verdict, &scaling);
    let mut refs = Refs {
        values: trace_values(&traces).collect(),
        ..Refs::default()
    };
    trend_refs(verdict, scaling.scale, &mut refs);
    limit_refs(verdict, axis, proj, projection_drawn, &scaling, &mut refs);
    legend.append(&mut refs.legend);
    let first_t = run.columns.t().first().copied().unwrap_or(0.0);
    let shades: Vec<_> = warmup_shade(judged_trend, first_t).into_iter().collect();
    let mut marks = marks.to_vec();
    if !shades.is_empty() {
        legend.push(warmup_legend());
        marks.push(warmup_mark(first_t));
    }
    legend.extend(vms_note(verdict, &scaling));
    if let Some(onset) = judged_trend.and_then(|t| t.onset_s) {
        marks.push(Mark {
            t: first_t + onset,
            kind: MarkKind::Onset,
            label: "growth onset".to_string(),
        });
    }
    let mut panel = PanelSpec::new(scaling.unit, padded(extent(refs.values)));
    panel.traces = traces;
    panel.refs = refs.lines;
    panel.shades = shades;
    ChartSpec {
        title: memory_title(run, verdict),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(&marks, axis),
        legend,
    }
}

#[cfg(test)]
mod tests {
    use super::super::MEMORY_CHART_FILE;
    use super::super::test_kit::{GIB, render_all, synthetic_run, synthetic_samples, texts};
    use super::super::time_axis;
    use super::*;

    #[test]
    fn memory_chart_shows_trend_threshold_limit_warmup_and_projection() {
        let (run, verdict) = synthetic_run(7200, 2 * GIB);
        let rss = verdict.metrics.rss.as_ref().unwrap();
        assert_eq!(rss.verdict, crate::analysis::Verdict::Fail, "{rss:?}");
        let proj = projection(&run, &verdict).unwrap();
        assert!(proj.drawn, "{proj:?}");
        let charts = render_all(&run, &verdict);
        let svg = &charts
            .iter()
            .find(|(f, _)| f == MEMORY_CHART_FILE)
            .unwrap()
            .1;
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
}
