//! A judged fleet as CI checks: one testcase per series (classname `soakprof.fleet`, name
//! its labels), so a CI test reporter lists the instances that leak.

use std::path::PathBuf;

use super::ci::{CiItem, CiStatus, CiSuite};
use crate::analysis::fleet::FleetVerdict;
use crate::units::{format_byte_rate, format_duration_s};

pub const CLASS_FLEET: &str = "soakprof.fleet";

/// The suite: the fleet's verdict, counts and source; the failing series' reasons.
pub fn fleet_suite(fleet: &FleetVerdict, files: Vec<PathBuf>) -> CiSuite {
    let c = &fleet.counts;
    let span_s = fleet.source.end_unix_s - fleet.source.start_unix_s;
    let what = fleet.source.job.as_deref().unwrap_or("prometheus");
    CiSuite {
        name: format!("soakprof fleet {what}"),
        title: format!("soakprof fleet: {what}"),
        status: fleet.verdict.into(),
        summary: format!(
            "{} series from {} over {}: {} fail, {} warn, {} pass, {} restarts",
            c.series,
            fleet.source.url,
            format_duration_s(span_s),
            c.fail,
            c.warn,
            c.pass,
            c.restarts
        ),
        reasons: fleet
            .series
            .iter()
            .filter(|s| CiStatus::from(s.verdict.verdict) == CiStatus::Fail)
            .filter_map(|s| {
                let reason = s.verdict.reasons.first()?;
                Some(format!("{}: {reason}", s.name))
            })
            .collect(),
        time_s: span_s.max(0.0),
        files,
    }
}

/// One check per series, worst first.
pub fn fleet_items(fleet: &FleetVerdict) -> Vec<CiItem> {
    let th = &fleet.thresholds;
    let threshold = format!(
        "warn {}, fail {}",
        format_byte_rate(th.warn_growth_bytes_per_min),
        format_byte_rate(th.max_growth_bytes_per_min)
    );
    fleet
        .series
        .iter()
        .map(|s| CiItem {
            classname: CLASS_FLEET.to_string(),
            name: s.name.clone(),
            status: s.verdict.verdict.into(),
            message: s.verdict.reasons.join("; "),
            value: s
                .growth_bytes_per_min
                .map_or_else(|| "not judged".to_string(), format_byte_rate),
            threshold: threshold.clone(),
            details: s.verdict.reasons.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Verdict;
    use crate::analysis::fleet::{FleetSource, SeriesVerdict, summarize, test_kit};
    use crate::runlog::Thresholds;

    fn series(name: &str, verdict: Verdict, growth: Option<f64>) -> SeriesVerdict {
        test_kit::series(name, verdict, growth, 0)
    }

    #[test]
    fn every_series_is_a_check_and_the_failing_ones_are_the_reasons() {
        let fleet = summarize(
            FleetSource {
                url: "http://127.0.0.1:9090/".into(),
                job: Some("api".into()),
                start_unix_s: 0.0,
                end_unix_s: 3600.0,
                ..FleetSource::default()
            },
            Thresholds::default(),
            vec![
                series("{instance=\"a\"}", Verdict::Pass, Some(1e3)),
                series("{instance=\"b\"}", Verdict::Fail, Some(2e7)),
                series("{instance=\"c\"}", Verdict::Warn, None),
            ],
        );
        let items = fleet_items(&fleet);
        let statuses: Vec<(&str, CiStatus)> =
            items.iter().map(|i| (i.name.as_str(), i.status)).collect();
        assert_eq!(
            statuses,
            [
                ("{instance=\"b\"}", CiStatus::Fail),
                ("{instance=\"c\"}", CiStatus::Warn),
                ("{instance=\"a\"}", CiStatus::Pass),
            ]
        );
        assert!(items.iter().all(|i| i.classname == CLASS_FLEET));
        assert_eq!(items[1].value, "not judged");
        let suite = fleet_suite(&fleet, Vec::new());
        assert_eq!(suite.status, CiStatus::Fail);
        assert_eq!(suite.name, "soakprof fleet api");
        assert_eq!(suite.reasons, ["{instance=\"b\"}: {instance=\"b\"} reason"]);
        assert!(
            suite
                .summary
                .starts_with("3 series from http://127.0.0.1:9090/ over 1 h"),
            "{}",
            suite.summary
        );
    }
}
