//! Pure analysis of a run: trends per metric, CPU, capacity, exits and load gates, each a
//! judge that returns findings; `analyse` merges them into the verdict (verdict.json).
//! No I/O here: input is a run already read into columns.

pub mod capacity;
pub mod capsearch;
pub mod cgroup;
pub mod compare;
pub mod exits;
pub mod fleet;
pub mod lives;
pub mod load;
pub mod memory;
pub mod prepare;
pub mod profiler;
pub mod regression;
pub mod robust;
pub mod sequential;
pub mod stats;
pub mod trend;
pub mod verdict;

use std::borrow::Cow;

use crate::columns::{Columns, IntColumn, Metric};
use crate::runlog::{EventKind, Limits, RunData, Thresholds};
use crate::units::{format_byte_rate, format_duration_s};
pub use load::LoadSummary;
pub use prepare::Values;
pub use regression::{LinearFit, OnlineSlope, fit_linear};
pub use trend::{
    Judged, JudgedMemory, MIN_ENVELOPE_POINTS, MIN_SAMPLES_FOR_TREND, MetricKind, Prepared, Warmup,
    judge_trend, judge_trend_judging, prepare_series,
};
pub use verdict::{
    Capacity, CpuSummary, Finding, MetricTrend, Metrics, Note, RunSummary, RunVerdict, Subject,
    Verdict,
};

/// What analysis is asked to judge against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalysisConfig {
    pub thresholds: Thresholds,
    pub limits: Limits,
}

/// An integer column as a trend's values: its present values, in row order, read in place.
impl Values for IntColumn {
    fn count(&self) -> usize {
        self.present()
    }
    fn at(&self, k: usize) -> f64 {
        self.present_value(k) as f64
    }
    fn all_finite(&self) -> bool {
        true
    }
}

/// A metric of the columns as the trend judges read it: the times of the rows where it is
/// present (the time column itself when that is every row) and its column.
pub fn metric_series(columns: &Columns, metric: Metric) -> Option<(Cow<'_, [f64]>, &IntColumn)> {
    let column = columns.int(metric)?;
    let t = if column.present() == columns.len() {
        Cow::Borrowed(columns.t())
    } else {
        Cow::Owned(columns.points(metric).map(|(t, _)| t).collect())
    };
    Some((t, column))
}

/// Judge one metric of a run's columns (the series where it was read).
pub fn judge_metric(
    columns: &Columns,
    kind: MetricKind,
    thresholds: &Thresholds,
    warmup: Warmup,
) -> Option<Judged> {
    let (t, y) = metric_series(columns, kind.column())?;
    judge_trend(&t, y, kind, thresholds, warmup)
}

/// The trend of every metric, and their findings in the metrics' order; memory is judged
/// on `memory` (see [`memory::memory_basis`]). With restarts, each life is judged on its
/// own (see [`lives`]); the number of lives whose judged memory was judged comes back with
/// them.
fn judge_metrics(
    columns: &Columns,
    th: &Thresholds,
    memory: JudgedMemory,
    restarts: &[f64],
) -> (Metrics, Vec<Finding>, usize) {
    let warmup = sequential::warmup_setting(th);
    let mut findings = Vec::new();
    let mut metrics = Metrics::default();
    let mut lives_judged = 0;
    for kind in MetricKind::ALL {
        let judged = if restarts.is_empty() {
            metric_series(columns, kind.column())
                .and_then(|(t, y)| judge_trend_judging(&t, y, kind, th, warmup, memory))
        } else {
            lives::judge_lives(columns, kind, th, restarts, memory).map(|(judged, lives)| {
                if kind == memory.kind() {
                    lives_judged = lives;
                }
                judged
            })
        };
        let Some(judged) = judged else {
            continue;
        };
        findings.extend(judged.finding);
        *metrics.slot_mut(kind) = Some(judged.trend);
    }
    (metrics, findings, lives_judged)
}

/// Findings about the log itself and the amount of data.
fn judge_log(run: &RunData, metrics: &Metrics, th: &Thresholds) -> Vec<Finding> {
    let samples = run.columns.len();
    let mut findings = Vec::new();
    if samples < MIN_SAMPLES_FOR_TREND {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Samples,
            format!(
                "only {samples} samples: too few to judge growth (at least {MIN_SAMPLES_FOR_TREND} needed)"
            ),
        ));
    }
    if run.stop_reason.is_none() {
        findings.push(Finding::new(
            Verdict::Pass,
            Subject::Log,
            "the log has no end record: the profiler was killed; analysed what was written",
        ));
    }
    if run.skipped_lines > 0 {
        findings.push(Finding::new(
            Verdict::Pass,
            Subject::Log,
            format!(
                "{} unreadable line(s) in the log were skipped",
                run.skipped_lines
            ),
        ));
    }
    findings.extend(judge_data(run, metrics, th));
    findings.extend(profiler::judge_profiler_cpu(
        run.header.interval_s,
        profiler_cpu(run),
    ));
    findings
}

/// The trends of the judged metrics that were fitted.
fn judged_trends(metrics: &Metrics) -> impl Iterator<Item = &MetricTrend> {
    [
        &metrics.rss,
        &metrics.uss,
        &metrics.threads,
        &metrics.fds,
        &metrics.cgroup_anon,
    ]
    .into_iter()
    .flatten()
}

/// What the data cannot support: impossible samples and values, a warm-up longer than the
/// run, a target nothing could be read of.
fn judge_data(run: &RunData, metrics: &Metrics, th: &Thresholds) -> Vec<Finding> {
    let columns = &run.columns;
    let mut findings = Vec::new();
    let rejected = columns.rejected_samples();
    if rejected > 0 {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Log,
            format!(
                "{rejected} sample(s) with an impossible time (not finite, negative, beyond ten years, or before the sample ahead) were left out"
            ),
        ));
    }
    let impossible = columns.impossible_values();
    if impossible > 0 {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Log,
            format!(
                "{impossible} impossible value(s) (memory beyond 2^57 B, counts beyond 2^32, CPU negative or beyond 10^6 cores) were read as missing"
            ),
        ));
    }
    // A fixed warm-up that leaves too little to fit is not applied (the trends say 0).
    let span_s = run_span_s(columns);
    let not_applied = |w: f64| {
        w >= span_s
            || judged_trends(metrics).any(|trend| trend.warmup_s == 0.0 && trend.onset_s.is_none())
    };
    if let Some(warmup_s) = th.warmup_s.filter(|&w| w > 0.0 && not_applied(w))
        && columns.len() >= MIN_SAMPLES_FOR_TREND
    {
        findings.push(Finding::new(
            Verdict::Pass,
            Subject::Summary,
            format!(
                "--warmup {} leaves too little of the {} of data to judge: nothing was left out as warm-up",
                format_duration_s(warmup_s),
                format_duration_s(span_s)
            ),
        ));
    }
    if columns.len() >= MIN_SAMPLES_FOR_TREND
        && judged_trends(metrics).next().is_none()
        && metrics.cpu.is_none()
    {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Samples,
            format!(
                "none of RSS, USS, threads, FDs or CPU could be read in {} samples (a kernel thread, or a process soakprof may not inspect): nothing was judged",
                columns.len()
            ),
        ));
    }
    findings
}

/// Why a run with no other finding passed, in the terms the RSS verdict used: no
/// established growth, or growth below the warning level.
fn pass_summary(kind: MetricKind, trend: &MetricTrend, th: &Thresholds) -> Finding {
    let label = kind.label();
    let estimate = format!(
        "{} (95% CI {} to {}, robust {}, trend p = {:.2})",
        format_byte_rate(trend.slope_per_min),
        format_byte_rate(trend.slope_ci[0]),
        format_byte_rate(trend.slope_ci[1]),
        trend
            .robust_slope_per_min
            .map_or_else(|| "n/a".to_string(), format_byte_rate),
        trend.trend_p_value
    );
    let text = if trend.slope_per_min <= th.warn_growth_bytes_per_min {
        format!(
            "{label} trend {estimate} is within the warn threshold {}",
            format_byte_rate(th.warn_growth_bytes_per_min)
        )
    } else {
        format!("no established {label} growth: trend {estimate} is not significant")
    };
    Finding::new(Verdict::Pass, Subject::Summary, text)
}

/// Analyse a whole run: every judge in turn, their findings merged in a fixed order
/// (metrics, CPU, memory limits, events, load, the log), the verdict the worst of them.
pub fn analyse(run: &RunData, config: &AnalysisConfig) -> RunVerdict {
    let columns = &run.columns;
    let th = &config.thresholds;
    let cgroup_target = run.header.target.cgroup.as_ref();
    let basis = memory::memory_basis_for(columns, cgroup_target.is_some_and(|c| c.is_target));
    let memory_kind = basis.metric.kind();
    let restart_times = lives::restart_times(&run.events);
    let (mut metrics, mut findings, lives_judged) =
        judge_metrics(columns, th, basis.metric, &restart_times);
    let restarts = lives::summary(columns, &restart_times, lives_judged);
    if let Some((cpu, cpu_findings)) = capacity::judge_cpu(columns, &config.limits) {
        metrics.cpu = Some(cpu);
        findings.extend(cpu_findings);
    }
    let judged_trend = metrics.judged_memory(basis.metric);
    let judged = capacity::judge_capacity(
        columns,
        &basis,
        judged_trend,
        metrics.rss.as_ref(),
        &config.limits,
    );
    findings.extend(judged.findings);
    let mut capacity = judged.capacity;
    if let Some((cgroup, cgroup_findings)) = cgroup::judge_cgroup(&cgroup::CgroupInputs {
        columns,
        events: &run.events,
        target: cgroup_target,
        limits: &config.limits,
        thresholds: th,
        load: run.load.as_ref(),
        working_set: metrics.cgroup_working_set.as_ref(),
    }) {
        capacity.cgroup = Some(cgroup);
        findings.extend(cgroup_findings);
    }
    if let Some(note) = judged.time_to_limit {
        // Said on the judged memory's growth finding when there is one.
        match findings
            .iter_mut()
            .find(|f| f.subject == Subject::Growth(memory_kind))
        {
            Some(growth) => growth.notes.push(note),
            None => findings.push(Finding::new(
                Verdict::Pass,
                Subject::Memory,
                format!("{}: {}", memory_kind.label(), note.text()),
            )),
        }
    }
    findings.extend(exits::judge_events(&lives::without_restarted_exits(
        &run.events,
    )));
    let load = run.load.as_ref().map(|l| {
        let (summary, load_findings) = load::judge_load(l, th);
        findings.extend(load_findings);
        summary
    });
    findings.extend(judge_log(run, &metrics, th));
    // Every non-pass metric and CPU verdict has its finding, so the findings decide.
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    let judged_trend = metrics.judged_memory(basis.metric);
    if verdict == Verdict::Pass
        && findings.is_empty()
        && let Some(trend) = judged_trend
    {
        findings.push(pass_summary(memory_kind, trend, th));
    }
    if let Some(restarts) = &restarts {
        findings.push(lives::restarts_finding(restarts));
    }
    RunVerdict {
        schema_version: 1,
        verdict,
        reasons: findings.iter().map(Finding::reason).collect(),
        target: run.header.target.clone(),
        started_at: run.header.started_at.clone(),
        duration_s: run_span_s(columns),
        samples: columns.len(),
        metrics,
        capacity,
        thresholds: th.clone(),
        run: run_summary(run),
        load,
        restarts,
        baseline: None,
        capacity_search: None,
    }
}

fn run_span_s(columns: &Columns) -> f64 {
    match (columns.t().first(), columns.t().last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    }
}

fn run_summary(run: &RunData) -> RunSummary {
    RunSummary {
        interval_s: run.header.interval_s,
        stop_reason: run.stop_reason,
        skipped_lines: run.skipped_lines,
        gaps: run
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Gap { .. }))
            .count(),
        max_procs: run
            .columns
            .max_int(Metric::Procs)
            .and_then(|p| u32::try_from(p).ok()),
        rejected_samples: run.columns.rejected_samples(),
        impossible_values: run.columns.impossible_values(),
        profiler_cpu: profiler_cpu(run).copied(),
    }
}

/// The profiler's own CPU: the last figures the log holds.
fn profiler_cpu(run: &RunData) -> Option<&profiler::ProfilerCpu> {
    run.events.iter().rev().find_map(|e| match &e.kind {
        EventKind::ProfilerCpu(cpu) => Some(cpu),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn load_gates_join_the_verdict() {
        use crate::runlog::load::{
            ErrorCounts, LoadInterval, LoadRun, LoadTotals, new_latency_histogram,
        };
        let mut latency = new_latency_histogram().unwrap();
        latency.record_n(800_000, 5000).unwrap(); // 800 ms
        let load = LoadRun {
            start: None,
            intervals: (1..=300)
                .map(|i| LoadInterval {
                    t: i as f64,
                    dt_s: 1.0,
                    requests: 17,
                    rps: 17.0,
                    ..LoadInterval::default()
                })
                .collect(),
            stages: vec![],
            external: None,
            end_in_flight: Some(0),
            end_in_flight_ages: None,
            total: LoadTotals {
                requests: 5000,
                errors: ErrorCounts::default(),
                latency: Some(latency),
            },
            by_name: Default::default(),
            skipped_lines: 0,
        };
        let mut run = synthetic::run(&synthetic::linear_rss(300, 0.0), vec![]);
        run.load = Some(load);
        let mut config = AnalysisConfig::default();
        let v = analyse(&run, &config);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
        let summary = v.load.as_ref().unwrap();
        assert_eq!(summary.requests, 5000);
        assert!(summary.gates.is_empty());

        config.thresholds.max_p95_ms = Some(500.0);
        let v = analyse(&run, &config);
        assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
        assert!(
            v.reasons
                .iter()
                .any(|r| r == "load gate: p95 latency 800 ms is above --max-p95 500 ms"),
            "{:?}",
            v.reasons
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["load"]["gates"][0]["passed"], false);
        assert_eq!(json["load"]["gates"][0]["limit"], 500.0);

        // No load driver: `load` is null, and older verdicts without the field still read.
        let plain = analyse(
            &synthetic::run(&synthetic::linear_rss(300, 0.0), vec![]),
            &config,
        );
        assert_eq!(plain.verdict, Verdict::Pass, "{:?}", plain.reasons);
        let mut json = serde_json::to_value(&plain).unwrap();
        assert!(json["load"].is_null());
        json.as_object_mut().unwrap().remove("load");
        let old: RunVerdict = serde_json::from_value(json).unwrap();
        assert_eq!(old.load, None);
    }

    #[test]
    fn leak_fails_and_flat_passes() {
        let config = AnalysisConfig::default();
        let leak = analyse(
            &synthetic::run(&synthetic::linear_rss(300, 30e6), vec![]),
            &config,
        );
        assert_eq!(leak.verdict, Verdict::Fail, "{:?}", leak.reasons);
        let rss = leak.metrics.rss.as_ref().unwrap();
        assert!(
            (rss.slope_per_min - 30e6).abs() < 0.5e6,
            "{}",
            rss.slope_per_min
        );
        assert!(
            leak.reasons[0].starts_with("RSS grows 30."),
            "{}",
            leak.reasons[0]
        );

        let flat = analyse(
            &synthetic::run(&synthetic::linear_rss(300, 0.0), vec![]),
            &config,
        );
        assert_eq!(flat.verdict, Verdict::Pass, "{:?}", flat.reasons);
        assert_eq!(flat.metrics.threads.as_ref().unwrap().slope_per_min, 0.0);
    }

    #[test]
    fn between_thresholds_warns() {
        let v = analyse(
            &synthetic::run(&synthetic::linear_rss(300, 7e6), vec![]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Warn, "{:?}", v.reasons);
    }

    #[test]
    fn missing_metric_is_absent_not_zero() {
        let mut samples = synthetic::linear_rss(50, 0.0);
        for s in &mut samples {
            s.fds = None;
        }
        let v = analyse(
            &synthetic::run(&samples, vec![]),
            &AnalysisConfig::default(),
        );
        assert!(v.metrics.fds.is_none());
        assert!(v.metrics.pss.is_none());
    }
}
