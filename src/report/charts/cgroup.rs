//! The cgroup chart: the cgroup's memory above (working set, anon, page cache and memory in
//! use, against the memory limit), and below the share of its CFS periods throttled in
//! each interval against `--max-throttled`. Drawn only when the run read a cgroup.

use super::axis::{TimeAxis, extent, padded};
use super::cpu::{MEAN_POINTS, bucket_means};
use super::legend::legend_item;
use super::marks::{Mark, place_marks};
use super::panel::{ChartSpec, Level, PanelSpec, RefLine, within_reach};
use super::series::{SampleSeries, Trace, trace_values, walk_segments};
use super::style::{
    CPU_LOOK, CPU_MEAN_LOOK, DOUBLE_PANEL_PX, LIMIT_LOOK, PSS_LOOK, RSS_LOOK, SINGLE_PANEL_PX,
    THRESHOLD_LOOK, USS_LOOK, VMS_LOOK,
};
use crate::analysis::RunVerdict;
use crate::analysis::cgroup::{CgroupCapacity, format_pct, throttled_share_series};
use crate::columns::Metric;
use crate::runlog::RunData;
use crate::units::{format_bytes, format_limit, short_duration, three_figures};

const MB: f64 = 1e6;

/// "cgroup: working set peak 230 MB of 256 MiB (10% headroom), throttled in 34% of
/// periods, 1 OOM kill".
fn title(cap: &CgroupCapacity, verdict: &RunVerdict) -> String {
    let mut parts = Vec::new();
    if let Some(peak) = cap.working_set_peak_bytes {
        let mut s = format!("working set peak {}", format_bytes(peak as f64));
        if let (Some(limit), Some(h)) = (
            verdict.capacity.mem_limit_bytes,
            cap.working_set_headroom_pct,
        ) {
            s.push_str(&format!(" of {} ({:.0}% headroom)", format_limit(limit), h));
        }
        parts.push(s);
    }
    if let Some(pct) = cap.throttled_pct {
        parts.push(format!("throttled in {}% of periods", three_figures(pct)));
    }
    match cap.oom_kills {
        Some(0) | None => {}
        Some(1) => parts.push("1 OOM kill".to_string()),
        Some(n) => parts.push(format!("{n} OOM kills")),
    }
    if parts.is_empty() {
        "cgroup: nothing read".to_string()
    } else {
        format!("cgroup: {}", parts.join(", "))
    }
}

fn memory_panel(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
) -> Option<(PanelSpec, Vec<super::legend::LegendItem>)> {
    let mut legend = Vec::new();
    let mut traces = Vec::new();
    for (metric, name, look) in [
        (Metric::CgroupWorkingSet, "working set", RSS_LOOK),
        (Metric::CgroupAnon, "anon", USS_LOOK),
        (Metric::CgroupFile, "page cache", PSS_LOOK),
        (Metric::CgroupMemory, "memory in use", VMS_LOOK),
    ] {
        let trace = SampleSeries::new(&run.columns, metric, MB).trace(look);
        if !trace.is_empty() {
            legend.push(legend_item(name, look));
            traces.push(trace);
        }
    }
    if traces.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = trace_values(&traces).collect();
    let data_max = values.iter().copied().fold(0.0, f64::max);
    let mut refs = Vec::new();
    if let Some(limit) = verdict.capacity.mem_limit_bytes {
        let mb = limit as f64 / MB;
        let level = Level {
            name: format!("memory limit {}", format_limit(limit)),
            value: mb,
            look: LIMIT_LOOK,
            shown: within_reach(mb, data_max, 1.0),
        };
        if let Some(line) = level.line(axis.end_s()) {
            values.push(mb);
            refs.push(RefLine {
                label_at_start: true,
                ..line
            });
        }
        legend.push(level.legend_item());
    }
    values.push(0.0);
    let mut panel = PanelSpec::new("MB", padded(extent(values)));
    panel.caption = Some("cgroup memory".to_string());
    panel.traces = traces;
    panel.refs = refs;
    Some((panel, legend))
}

fn throttle_panel(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
) -> Option<(PanelSpec, Vec<super::legend::LegendItem>)> {
    let share = throttled_share_series(&run.columns);
    if share.is_empty() {
        return None;
    }
    let look = CPU_LOOK;
    let segments = [share];
    let trace = Trace::of_segments(&segments, look);
    let mut legend = vec![legend_item("periods throttled (%)", look)];
    // A long run's share per interval is a band; its mean over a few minutes shows the level.
    let total = segments[0].len();
    let (means, window_s) = bucket_means(walk_segments(&segments), total, MEAN_POINTS);
    let mut traces = vec![trace];
    if window_s > 0.0 {
        legend.push(legend_item(
            format!("mean per {}", short_duration(window_s)),
            CPU_MEAN_LOOK,
        ));
        traces.push(Trace::of_segments(&means, CPU_MEAN_LOOK));
    }
    let gate = verdict.thresholds.max_throttled_pct;
    let level = Level {
        name: format!("--max-throttled {}%", format_pct(gate)),
        value: gate,
        look: THRESHOLD_LOOK,
        shown: true,
    };
    legend.push(level.legend_item());
    let mut panel = PanelSpec::new("% of periods", (0.0, 100.0));
    panel.caption = Some("CPU throttling".to_string());
    panel.traces = traces;
    panel.refs = level.line(axis.end_s()).into_iter().collect();
    Some((panel, legend))
}

/// The chart; `None` when the run read no cgroup.
pub(super) fn chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> Option<ChartSpec> {
    let cap = verdict.capacity.cgroup.as_ref()?;
    let mut panels = Vec::new();
    let mut legend = Vec::new();
    for (panel, items) in [
        memory_panel(run, verdict, axis),
        throttle_panel(run, verdict, axis),
    ]
    .into_iter()
    .flatten()
    {
        panels.push(panel);
        legend.extend(items);
    }
    if panels.is_empty() {
        return None;
    }
    let panel_px = if panels.len() > 1 {
        DOUBLE_PANEL_PX
    } else {
        SINGLE_PANEL_PX
    };
    Some(ChartSpec {
        title: title(cap, verdict),
        panels,
        panel_px,
        marks: place_marks(marks, axis),
        legend,
    })
}

#[cfg(test)]
mod tests {
    use super::super::CGROUP_CHART_FILE;
    use super::super::test_kit::{assert_well_formed, render_all, texts};
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::runlog::{Event, EventKind, OomVictim};
    use crate::synthetic::{CgroupShape, cgroup_header, cgroup_run, cgroup_samples};

    #[test]
    fn the_cgroup_chart_shows_memory_against_the_limit_and_throttling() {
        let mut samples = cgroup_samples(
            600,
            CgroupShape {
                file_per_min: 10e6,
                throttled: 0.34,
                ..CgroupShape::default()
            },
        );
        for s in samples.iter_mut().filter(|s| s.t >= 300.0) {
            s.cgroup_oom_kills = Some(1);
        }
        let events = vec![Event {
            t: 300.0,
            kind: EventKind::OomKill {
                kills: 1,
                total: 1,
                victims: vec![OomVictim {
                    pid: 77,
                    name: Some("api".into()),
                }],
            },
        }];
        let run = cgroup_run(&samples, events);
        let config = AnalysisConfig {
            limits: cgroup_header().limits,
            ..AnalysisConfig::default()
        };
        let verdict = analyse(&run, &config);
        let charts = render_all(&run, &verdict);
        let (_, svg) = charts
            .iter()
            .find(|(f, _)| f == CGROUP_CHART_FILE)
            .expect("a cgroup chart");
        assert_well_formed(CGROUP_CHART_FILE, svg);
        let texts = texts(svg);
        assert!(
            texts[0].starts_with("cgroup: working set peak ")
                && texts[0].contains("of 256 MiB")
                && texts[0].ends_with("throttled in 34.0% of periods, 1 OOM kill"),
            "{}",
            texts[0]
        );
        for label in [
            "working set",
            "anon",
            "page cache",
            "memory in use",
            "memory limit 256 MiB",
            "periods throttled (%)",
            "--max-throttled 20%",
            "OOM kill 77",
        ] {
            assert!(
                texts.iter().any(|t| t == label),
                "no {label:?} in {texts:?}"
            );
        }
        // A day at 1 Hz: the share is drawn with its mean over a few minutes.
        let day = cgroup_run(
            &cgroup_samples(
                86_400,
                CgroupShape {
                    throttled: 0.34,
                    ..CgroupShape::default()
                },
            ),
            vec![],
        );
        let verdict = analyse(&day, &config);
        let charts = render_all(&day, &verdict);
        let (_, svg) = charts.iter().find(|(f, _)| f == CGROUP_CHART_FILE).unwrap();
        assert_well_formed(CGROUP_CHART_FILE, svg);
        assert!(svg.len() < 300_000, "{} bytes", svg.len());
        assert!(
            super::super::test_kit::texts(svg)
                .iter()
                .any(|t| t.starts_with("mean per ")),
            "no mean line"
        );
        // A run without a cgroup has no cgroup chart.
        let plain = crate::synthetic::run(&crate::synthetic::linear_rss(60, 0.0), vec![]);
        let verdict = analyse(&plain, &AnalysisConfig::default());
        assert!(
            !render_all(&plain, &verdict)
                .iter()
                .any(|(f, _)| f == CGROUP_CHART_FILE)
        );
    }
}
