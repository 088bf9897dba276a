//! Series from Prometheus joined into runs, one per target, that the analysis core judges
//! as it judges a recorded run: every query's series grouped by the labels that name a
//! target, put on the step grid as samples, restarts found and made restart events.
//!
//! A restart is where the target's `start` series (`process_start_time_seconds`) changes
//! value, where a CPU-seconds counter goes down, or where the memory series of a target
//! continues under other labels (a new pod, a new PID label). Points Prometheus did not
//! return stay missing: a row with no metric at all is no sample, and a stretch of more
//! than two steps without one is a gap event.

use std::collections::BTreeMap;

use super::RawSeries;
use crate::analysis::fleet::label_string;
use crate::columns::Columns;
use crate::runlog::{
    Event, EventKind, Header, Limits, RunData, StopReason, TargetInfo, Thresholds,
};
use crate::sample::{Backend, HostInfo, Sample};

/// What a query's series measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKey {
    Rss,
    Vms,
    Pss,
    Uss,
    Threads,
    Fds,
    /// A counter of CPU seconds (`process_cpu_seconds_total`): its rate is the CPU used.
    Cpu,
    /// CPU already in cores (a `rate(...)` expression).
    CpuCores,
    /// The process start time (`process_start_time_seconds`): a change is a restart.
    Start,
}

impl MetricKey {
    pub const ALL: [MetricKey; 9] = [
        MetricKey::Rss,
        MetricKey::Vms,
        MetricKey::Pss,
        MetricKey::Uss,
        MetricKey::Threads,
        MetricKey::Fds,
        MetricKey::Cpu,
        MetricKey::CpuCores,
        MetricKey::Start,
    ];

    /// The name `--query METRIC=PROMQL` takes, as fleet.json's `source.queries` keys.
    pub fn name(self) -> &'static str {
        match self {
            MetricKey::Rss => "rss",
            MetricKey::Vms => "vms",
            MetricKey::Pss => "pss",
            MetricKey::Uss => "uss",
            MetricKey::Threads => "threads",
            MetricKey::Fds => "fds",
            MetricKey::Cpu => "cpu",
            MetricKey::CpuCores => "cpu_cores",
            MetricKey::Start => "start",
        }
    }

    pub fn from_name(name: &str) -> Option<MetricKey> {
        MetricKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The metrics whose series are memory (a label switch in them is a restart).
    fn is_memory(self) -> bool {
        matches!(
            self,
            MetricKey::Rss | MetricKey::Vms | MetricKey::Pss | MetricKey::Uss
        )
    }
}

/// The series one query returned.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub key: MetricKey,
    pub series: Vec<RawSeries>,
}

/// The range the series were asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub start_unix_s: f64,
    pub end_unix_s: f64,
    pub step_s: f64,
}

/// What every run of the fleet is judged with, for its header.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    pub thresholds: Thresholds,
    pub limits: Limits,
    /// The Prometheus URL (without credentials), as the target's spec.
    pub url: String,
}

/// One target: the labels that name it, its run, and how many segments it was joined from.
#[derive(Clone, Debug)]
pub struct Target {
    pub labels: BTreeMap<String, String>,
    pub run: RunData,
    pub segments: usize,
}

/// Two restarts seen closer than this many steps are one (the start time and the CPU
/// counter say the same restart a step apart).
const SAME_RESTART_STEPS: f64 = 2.0;
/// A start time that moves by less than this is the same process (float noise).
const START_TIME_EPSILON_S: f64 = 0.5;
/// A stretch without any sample longer than this many steps is a gap.
const GAP_STEPS: f64 = 2.0;

/// The labels that name a series' target: `group_by` when given, else all but `__name__`.
/// A series that has none of the `group_by` labels keeps all of its own, so unrelated
/// series without them are not joined into one target.
fn target_labels(series: &RawSeries, group_by: &[String]) -> BTreeMap<String, String> {
    let grouped = !group_by.is_empty() && group_by.iter().any(|g| series.labels.contains_key(g));
    series
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__" && (!grouped || group_by.iter().any(|g| g == *k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One target's series, by metric, in the order they began.
type SeriesByKey = BTreeMap<MetricKey, Vec<RawSeries>>;

/// Group every fetched series by target, then build each target's run, in label order.
/// The series are consumed target by target, so the fetched points and the runs built
/// from them are not all held twice.
pub fn assemble(
    fetched: Vec<Fetched>,
    group_by: &[String],
    range: Range,
    context: &RunContext,
) -> Vec<Target> {
    let mut targets: BTreeMap<BTreeMap<String, String>, SeriesByKey> = BTreeMap::new();
    for f in fetched {
        for series in f.series.into_iter().filter(|s| !s.points.is_empty()) {
            targets
                .entry(target_labels(&series, group_by))
                .or_default()
                .entry(f.key)
                .or_default()
                .push(series);
        }
    }
    targets
        .into_iter()
        .map(|(labels, mut by_key)| {
            for list in by_key.values_mut() {
                list.sort_by(|a, b| a.points[0].0.total_cmp(&b.points[0].0));
            }
            build_target(labels, by_key, range, context)
        })
        .collect()
}

/// A metric's points over all of its series: a later series takes over from its first
/// point on (a new pod or process replaces the old one, whose last value Prometheus may
/// still repeat for a few minutes).
fn joined_points(list: &[RawSeries]) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for series in list {
        let from = series.points[0].0;
        while points.last().is_some_and(|&(t, _)| t >= from) {
            points.pop();
        }
        points.extend_from_slice(&series.points);
    }
    points
}

/// Restart times (unix seconds) of one target, in order, close ones merged.
fn restart_times(by_key: &SeriesByKey, step_s: f64) -> (Vec<f64>, usize) {
    let mut times = Vec::new();
    let mut segments = 1;
    if let Some(list) = by_key.get(&MetricKey::Start) {
        let points = joined_points(list);
        times.extend(
            points
                .windows(2)
                .filter(|w| (w[1].1 - w[0].1).abs() > START_TIME_EPSILON_S)
                .map(|w| w[1].0),
        );
    }
    if let Some(list) = by_key.get(&MetricKey::Cpu) {
        let points = joined_points(list);
        times.extend(
            points
                .windows(2)
                .filter(|w| w[1].1 < w[0].1)
                .map(|w| w[1].0),
        );
    }
    // A memory series continued under other labels: the later series' first point.
    if let Some(list) = by_key
        .iter()
        .find(|(k, _)| k.is_memory())
        .map(|(_, list)| list)
    {
        segments = list.len();
        times.extend(list.iter().skip(1).map(|s| s.points[0].0));
    }
    times.sort_by(f64::total_cmp);
    let mut merged: Vec<f64> = Vec::new();
    for t in times {
        if merged
            .last()
            .is_none_or(|&last| t - last > SAME_RESTART_STEPS * step_s)
        {
            merged.push(t);
        }
    }
    segments = segments.max(merged.len() + 1);
    (merged, segments)
}

/// The row of the step grid a timestamp falls on.
fn row_of(t_unix_s: f64, range: Range) -> Option<usize> {
    let row = ((t_unix_s - range.start_unix_s) / range.step_s).round();
    (row >= 0.0 && row.is_finite() && row < 1e9).then_some(row as usize)
}

/// Put one metric's points into the rows' samples.
fn fill(rows: &mut [Option<Sample>], key: MetricKey, points: &[(f64, f64)], range: Range) {
    let as_count = |v: f64| (v.is_finite() && v >= 0.0).then(|| v.round() as u64);
    let mut previous: Option<(f64, f64)> = None;
    for &(t, v) in points {
        let Some(row) = row_of(t, range) else {
            continue;
        };
        let Some(slot) = rows.get_mut(row) else {
            continue;
        };
        let sample = slot.get_or_insert_with(|| Sample {
            t: row as f64 * range.step_s,
            ..Sample::default()
        });
        match key {
            MetricKey::Rss => sample.rss = as_count(v),
            MetricKey::Vms => sample.vms = as_count(v),
            MetricKey::Pss => sample.pss = as_count(v),
            MetricKey::Uss => sample.uss = as_count(v),
            MetricKey::Threads => sample.threads = as_count(v),
            MetricKey::Fds => sample.fds = as_count(v),
            MetricKey::CpuCores => sample.cpu = (v.is_finite() && v >= 0.0).then_some(v),
            MetricKey::Cpu => {
                // The rate since the previous point; none across a reset or a long gap.
                sample.cpu = previous.and_then(|(t0, v0)| {
                    let dt = t - t0;
                    (v >= v0 && dt > 0.0 && dt <= GAP_STEPS * range.step_s + 1e-9)
                        .then(|| (v - v0) / dt)
                });
                sample.cpu_user_s = v.is_finite().then_some(v);
                previous = Some((t, v));
            }
            MetricKey::Start => {}
        }
    }
}

fn build_target(
    labels: BTreeMap<String, String>,
    by_key: SeriesByKey,
    range: Range,
    context: &RunContext,
) -> Target {
    let rows_len = row_of(range.end_unix_s, range).map_or(0, |r| r + 1);
    let mut rows: Vec<Option<Sample>> = vec![None; rows_len];
    for (&key, list) in &by_key {
        fill(&mut rows, key, &joined_points(list), range);
    }
    // A row that holds only a start time, or only the first CPU reading, has no metric.
    let present: Vec<Sample> = rows
        .into_iter()
        .flatten()
        .filter(|s| {
            s.rss.is_some()
                || s.vms.is_some()
                || s.pss.is_some()
                || s.uss.is_some()
                || s.threads.is_some()
                || s.fds.is_some()
                || s.cpu.is_some()
        })
        .collect();
    let (restarts_unix, segments) = restart_times(&by_key, range.step_s);
    drop(by_key);
    let mut events: Vec<Event> = restarts_unix
        .iter()
        .map(|&t| Event {
            t: t - range.start_unix_s,
            kind: EventKind::Restart {
                old_pid: 0,
                code: None,
                signal: None,
                new_pid: 0,
                down_s: 0.0,
            },
        })
        .collect();
    events.extend(present.windows(2).filter_map(|w| {
        let dt = w[1].t - w[0].t;
        (dt > GAP_STEPS * range.step_s + 1e-9).then(|| Event {
            t: w[1].t,
            kind: EventKind::Gap {
                late_s: dt - range.step_s,
                missed_ticks: ((dt / range.step_s).round() as u64).saturating_sub(1),
            },
        })
    }));
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut columns = Columns::default();
    columns.expect_rows(present.len());
    for sample in &present {
        columns.push(sample);
    }
    let name = label_string(&labels);
    Target {
        run: RunData {
            header: header(&name, range, context),
            columns,
            events,
            skipped_lines: 0,
            stop_reason: Some(StopReason::Duration),
            load: None,
        },
        labels,
        segments,
    }
}

/// The header a run of Prometheus series has: the range's start, the step as interval.
fn header(name: &str, range: Range, context: &RunContext) -> Header {
    let started =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(range.start_unix_s.max(0.0));
    Header {
        schema_version: crate::runlog::SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: humantime::format_rfc3339_millis(started).to_string(),
        started_unix_s: range.start_unix_s,
        host: HostInfo::default(),
        command_line: Vec::new(),
        target: TargetInfo {
            mode: "prometheus".into(),
            spec: context.url.clone(),
            roots: Vec::new(),
            name: name.to_string(),
            cmdline: Vec::new(),
            children: false,
            follow: true,
            cgroup: None,
        },
        interval_s: range.step_s,
        duration_s: Some(range.end_unix_s - range.start_unix_s),
        backend: Backend::Linux,
        smaps_every: 1,
        smaps_read_ms: None,
        detail_every: 1,
        limits: context.limits.clone(),
        thresholds: context.thresholds.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: Range = Range {
        start_unix_s: 1_000_000.0,
        end_unix_s: 1_000_000.0 + 600.0,
        step_s: 15.0,
    };

    fn series(labels: &[(&str, &str)], points: Vec<(f64, f64)>) -> RawSeries {
        RawSeries {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points,
        }
    }

    /// Points every step from `from_s` to `to_s` (seconds into the range), value by time.
    fn grid(from_s: f64, to_s: f64, value: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        let mut t = from_s;
        while t <= to_s {
            points.push((RANGE.start_unix_s + t, value(t)));
            t += RANGE.step_s;
        }
        points
    }

    fn context() -> RunContext {
        RunContext {
            url: "http://127.0.0.1:9090".into(),
            ..RunContext::default()
        }
    }

    #[test]
    fn queries_join_by_target_labels_and_gaps_stay_gaps() {
        let a = [("__name__", "rss"), ("instance", "a"), ("job", "api")];
        let b = [("__name__", "rss"), ("instance", "b"), ("job", "api")];
        let fds_a = [("__name__", "fds"), ("instance", "a"), ("job", "api")];
        let mut with_gap = grid(0.0, 150.0, |t| 1e8 + t);
        with_gap.extend(grid(300.0, 600.0, |t| 1e8 + t));
        let fetched = [
            Fetched {
                key: MetricKey::Rss,
                series: vec![series(&a, with_gap), series(&b, grid(0.0, 600.0, |_| 5e7))],
            },
            Fetched {
                key: MetricKey::Fds,
                series: vec![series(&fds_a, grid(0.0, 600.0, |_| 12.0))],
            },
        ];
        let targets = assemble(fetched.to_vec(), &[], RANGE, &context());
        assert_eq!(targets.len(), 2);
        let a = &targets[0];
        assert_eq!(a.run.header.target.name, r#"{instance="a",job="api"}"#);
        let columns = &a.run.columns;
        // Every row has fds; rss is missing in the gap, never 0.
        assert_eq!(columns.len(), 41);
        let rss: Vec<(f64, f64)> = columns.points(crate::columns::Metric::Rss).collect();
        assert_eq!(rss.len(), 11 + 21);
        assert!(rss.iter().all(|&(t, v)| v == 1e8 + t));
        assert_eq!(a.segments, 1);
        // b has rss only, and no gap.
        assert_eq!(targets[1].run.columns.len(), 41);
        assert!(targets[1].run.events.is_empty());
    }

    #[test]
    fn series_without_the_grouping_labels_keep_their_own() {
        let fetched = [Fetched {
            key: MetricKey::Rss,
            series: vec![
                series(
                    &[("instance", "a"), ("pod", "p1")],
                    grid(0.0, 600.0, |_| 1e8),
                ),
                series(&[("instance", "b")], grid(0.0, 600.0, |_| 2e8)),
                series(&[("instance", "c")], grid(0.0, 600.0, |_| 3e8)),
            ],
        }];
        let targets = assemble(fetched.to_vec(), &["pod".to_string()], RANGE, &context());
        let names: Vec<&str> = targets
            .iter()
            .map(|t| t.run.header.target.name.as_str())
            .collect();
        assert_eq!(
            names,
            [r#"{instance="b"}"#, r#"{instance="c"}"#, r#"{pod="p1"}"#]
        );
        assert!(targets.iter().all(|t| t.segments == 1));
    }

    #[test]
    fn a_missing_stretch_of_every_metric_is_a_gap_event() {
        let labels = [("instance", "a")];
        let mut points = grid(0.0, 150.0, |_| 1e8);
        points.extend(grid(300.0, 600.0, |_| 1e8));
        let fetched = [Fetched {
            key: MetricKey::Rss,
            series: vec![series(&labels, points)],
        }];
        let targets = assemble(fetched.to_vec(), &[], RANGE, &context());
        let gaps: Vec<&Event> = targets[0]
            .run
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Gap { .. }))
            .collect();
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].t, 300.0);
        match gaps[0].kind {
            EventKind::Gap { missed_ticks, .. } => assert_eq!(missed_ticks, 9),
            _ => unreachable!(),
        }
    }

    #[test]
    fn start_time_changes_and_counter_resets_are_one_restart_each() {
        let labels = [("instance", "a")];
        let fetched = [
            Fetched {
                key: MetricKey::Rss,
                series: vec![series(&labels, grid(0.0, 600.0, |_| 1e8))],
            },
            Fetched {
                key: MetricKey::Start,
                series: vec![series(
                    &labels,
                    grid(0.0, 600.0, |t| if t < 300.0 { 5e5 } else { 1_000_290.0 }),
                )],
            },
            Fetched {
                key: MetricKey::Cpu,
                // The counter resets a step after the start time changes: the same restart.
                series: vec![series(
                    &labels,
                    grid(0.0, 600.0, |t| {
                        if t < 315.0 {
                            t * 0.5
                        } else {
                            (t - 315.0) * 0.5
                        }
                    }),
                )],
            },
        ];
        let targets = assemble(fetched.to_vec(), &[], RANGE, &context());
        let run = &targets[0].run;
        let restarts = crate::analysis::lives::restart_times(&run.events);
        assert_eq!(restarts, [300.0]);
        assert_eq!(targets[0].segments, 2);
        // CPU: 0.5 cores from the counter's rate, none at the first point or the reset.
        let cpu = run.columns.cpu();
        assert_eq!(cpu.get(0), None);
        assert_eq!(cpu.get(1), Some(0.5));
        assert_eq!(cpu.get(21), None);
        assert_eq!(cpu.get(22), Some(0.5));
    }

    #[test]
    fn a_memory_series_continued_under_other_labels_is_a_segment() {
        let old = [("instance", "a"), ("pod", "api-1")];
        let new = [("instance", "a"), ("pod", "api-2")];
        let fetched = [Fetched {
            key: MetricKey::Rss,
            series: vec![
                // The old pod's last value repeats past the new pod's start (lookback).
                series(&new, grid(330.0, 600.0, |_| 5e7)),
                series(&old, grid(0.0, 420.0, |_| 9e7)),
            ],
        }];
        let targets = assemble(
            fetched.to_vec(),
            &["instance".to_string()],
            RANGE,
            &context(),
        );
        assert_eq!(targets.len(), 1);
        let target = &targets[0];
        assert_eq!(target.segments, 2);
        assert_eq!(
            crate::analysis::lives::restart_times(&target.run.events),
            [330.0]
        );
        let rss: Vec<(f64, f64)> = target
            .run
            .columns
            .points(crate::columns::Metric::Rss)
            .collect();
        assert_eq!(rss.len(), 41);
        assert!(
            rss.iter()
                .all(|&(t, v)| v == if t < 330.0 { 9e7 } else { 5e7 })
        );
    }

    #[test]
    fn judged_as_a_run_a_leaking_target_fails_and_a_flat_one_passes() {
        let range = Range {
            start_unix_s: 1_000_000.0,
            end_unix_s: 1_000_000.0 + 3600.0,
            step_s: 15.0,
        };
        let points = |slope_per_s: f64| -> Vec<(f64, f64)> {
            (0..=240)
                .map(|k| {
                    let t = k as f64 * 15.0;
                    let noise = ((k * 7919) % 13) as f64 * 1e5;
                    (range.start_unix_s + t, 2e8 + slope_per_s * t + noise)
                })
                .collect()
        };
        let fetched = [Fetched {
            key: MetricKey::Rss,
            series: vec![
                series(&[("instance", "flat")], points(0.0)),
                series(&[("instance", "leak")], points(20e6 / 60.0)),
            ],
        }];
        let targets = assemble(fetched.to_vec(), &[], range, &context());
        let config = crate::analysis::AnalysisConfig::default();
        let verdicts: Vec<_> = targets
            .iter()
            .map(|t| crate::analysis::analyse(&t.run, &config))
            .collect();
        assert_eq!(verdicts[0].verdict, crate::analysis::Verdict::Pass);
        assert_eq!(verdicts[1].verdict, crate::analysis::Verdict::Fail);
        let slope = verdicts[1].metrics.rss.as_ref().map(|r| r.slope_per_min);
        assert!(slope.is_some_and(|s| (s - 20e6).abs() < 1e6), "{slope:?}");
    }
}
