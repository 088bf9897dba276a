//! A fleet: many series (one per instance, from Prometheus), each judged by [`analyse`]
//! as a run of its own, summed up into `fleet.json` (counts, the worst, one verdict per
//! series). Pure: the series arrive already read into runs.
//!
//! [`analyse`]: super::analyse

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::verdict::{RunVerdict, Verdict};
use crate::runlog::Thresholds;

/// Where a fleet's series came from: the server, the queries by metric, the time range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetSource {
    /// The Prometheus base URL, without credentials.
    pub url: String,
    /// The PromQL judged for each metric (`rss`, `threads`, `fds`, `cpu`, `start`, …).
    pub queries: BTreeMap<String, String>,
    /// The `--job` preset the queries were built from, when one was used.
    pub job: Option<String>,
    pub start_unix_s: f64,
    pub end_unix_s: f64,
    pub step_s: f64,
    /// Labels that name one target; series that differ only in other labels are segments
    /// of the same target (empty: every label counts).
    pub group_by: Vec<String>,
}

/// How many series ended in each verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetCounts {
    pub series: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    /// Restarts seen across the fleet.
    pub restarts: usize,
}

/// One series (one target's metrics) and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesVerdict {
    /// A short id, unique in the fleet (`s1`, `s2`, …): the anchor in fleet.html.
    pub id: String,
    /// The labels rendered as PromQL does: `{instance="a:9100",job="api"}`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The judged memory's growth, bytes per minute (what the fleet is sorted by); `null`
    /// when it could not be judged (too few points).
    pub growth_bytes_per_min: Option<f64>,
    /// Segments the series was joined from (1 without a restart or label change).
    pub segments: usize,
    /// The full verdict, as `verdict.json` of a recorded run holds it.
    pub verdict: RunVerdict,
}

/// The worst series: the first of the sorted fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorstSeries {
    pub id: String,
    pub name: String,
    pub verdict: Verdict,
    pub growth_bytes_per_min: Option<f64>,
    /// Its first reason.
    pub reason: Option<String>,
}

/// `fleet.json` (schema_version 1; fields may be added, never renamed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetVerdict {
    pub schema_version: u32,
    /// Always `"fleet"`: tells this document from a verdict.json or compare.json.
    pub kind: String,
    /// The worst verdict of any series.
    pub verdict: Verdict,
    pub source: FleetSource,
    pub thresholds: Thresholds,
    pub counts: FleetCounts,
    pub worst: Option<WorstSeries>,
    /// Worst first: by verdict, then by growth (fastest first; unjudged last).
    pub series: Vec<SeriesVerdict>,
}

/// Order series worst first: fail, warn, pass; within a verdict, fastest growth first,
/// then by name so the order is the same on every run.
pub fn worst_first(a: &SeriesVerdict, b: &SeriesVerdict) -> std::cmp::Ordering {
    let growth = |s: &SeriesVerdict| s.growth_bytes_per_min.unwrap_or(f64::NEG_INFINITY);
    b.verdict
        .verdict
        .cmp(&a.verdict.verdict)
        .then_with(|| growth(b).total_cmp(&growth(a)))
        .then_with(|| a.name.cmp(&b.name))
}

/// Sum up judged series into the fleet's document: sorted worst first, ids given in that
/// order, counted, the worst named.
pub fn summarize(
    source: FleetSource,
    thresholds: Thresholds,
    mut series: Vec<SeriesVerdict>,
) -> FleetVerdict {
    series.sort_by(worst_first);
    for (k, s) in series.iter_mut().enumerate() {
        s.id = format!("s{}", k + 1);
    }
    let mut counts = FleetCounts {
        series: series.len(),
        ..FleetCounts::default()
    };
    for s in &series {
        match s.verdict.verdict {
            Verdict::Pass => counts.pass += 1,
            Verdict::Warn => counts.warn += 1,
            Verdict::Fail => counts.fail += 1,
        }
        counts.restarts += s.verdict.restarts.as_ref().map_or(0, |r| r.count);
    }
    let worst = series.first().map(|s| WorstSeries {
        id: s.id.clone(),
        name: s.name.clone(),
        verdict: s.verdict.verdict,
        growth_bytes_per_min: s.growth_bytes_per_min,
        reason: s.verdict.reasons.first().cloned(),
    });
    FleetVerdict {
        schema_version: 1,
        kind: "fleet".into(),
        verdict: worst.as_ref().map_or(Verdict::Pass, |w| w.verdict),
        source,
        thresholds,
        counts,
        worst,
        series,
    }
}

/// Labels as PromQL writes a selector: `{a="x",b="y"}`, values escaped as in PromQL.
pub fn label_string(labels: &BTreeMap<String, String>) -> String {
    let body: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let escaped = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Series with a given verdict, growth and restart count, for tests of what reads fleets.
#[cfg(test)]
pub(crate) mod test_kit {
    use super::*;
    use crate::analysis::{Capacity, Metrics, RunSummary};
    use crate::runlog::TargetInfo;

    /// A verdict whose one reason is "NAME reason".
    pub fn verdict(name: &str, v: Verdict, restarts: usize) -> RunVerdict {
        RunVerdict {
            schema_version: 1,
            verdict: v,
            reasons: vec![format!("{name} reason")],
            target: TargetInfo::default(),
            started_at: String::new(),
            duration_s: 60.0,
            samples: 60,
            metrics: Metrics::default(),
            capacity: Capacity::default(),
            thresholds: Thresholds::default(),
            run: RunSummary::default(),
            load: None,
            restarts: (restarts > 0).then(|| crate::analysis::lives::Restarts {
                count: restarts,
                times_s: vec![1.0; restarts],
                mean_spacing_s: None,
                lives_judged: restarts + 1,
            }),
            baseline: None,
            capacity_search: None,
        }
    }

    /// A series named NAME (its `instance` label).
    pub fn series(name: &str, v: Verdict, growth: Option<f64>, restarts: usize) -> SeriesVerdict {
        SeriesVerdict {
            id: String::new(),
            name: name.into(),
            labels: BTreeMap::from([("instance".to_string(), name.to_string())]),
            growth_bytes_per_min: growth,
            segments: restarts + 1,
            verdict: verdict(name, v, restarts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_kit::series;
    use super::*;

    #[test]
    fn fleet_is_sorted_worst_first_counted_and_named() {
        let fleet = summarize(
            FleetSource::default(),
            Thresholds::default(),
            vec![
                series("flat", Verdict::Pass, Some(1e3), 0),
                series("unjudged", Verdict::Warn, None, 0),
                series("slow", Verdict::Fail, Some(2e7), 2),
                series("fast", Verdict::Fail, Some(5e7), 0),
                series("warm", Verdict::Warn, Some(6e6), 0),
            ],
        );
        let names: Vec<&str> = fleet.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fast", "slow", "warm", "unjudged", "flat"]);
        let ids: Vec<&str> = fleet.series.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2", "s3", "s4", "s5"]);
        assert_eq!(fleet.verdict, Verdict::Fail);
        assert_eq!(
            fleet.counts,
            FleetCounts {
                series: 5,
                pass: 1,
                warn: 2,
                fail: 2,
                restarts: 2
            }
        );
        let worst = fleet.worst.as_ref().map(|w| w.name.as_str());
        assert_eq!(worst, Some("fast"));
    }

    #[test]
    fn empty_fleet_passes_with_no_worst() {
        let fleet = summarize(FleetSource::default(), Thresholds::default(), Vec::new());
        assert_eq!(fleet.verdict, Verdict::Pass);
        assert!(fleet.worst.is_none());
        assert_eq!(fleet.counts.series, 0);
    }

    #[test]
    fn labels_render_as_a_promql_selector() {
        let labels = BTreeMap::from([
            ("job".to_string(), "api".to_string()),
            ("instance".to_string(), "a\"b\\c".to_string()),
        ]);
        assert_eq!(label_string(&labels), r#"{instance="a\"b\\c",job="api"}"#);
    }
}
