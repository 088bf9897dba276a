//! A comparison as CI checks: one JUnit testcase and Markdown row per compared item, for
//! `soakprof compare` and for the baseline section of `record`/`analyze --baseline`.

use std::path::PathBuf;

use super::ci::{CiItem, CiStatus, CiSuite};
use super::compare::{change_text, value_text};
use crate::analysis::compare::{CompareVerdict, ComparedItem, Comparison, Judgement, LimitKind};

/// The group every comparison check is in.
pub const COMPARE_CLASS: &str = "soakprof.compare";

/// One check per compared item, named by the item's id (its label says RSS or PSS, which
/// depends on the run, so it would break a CI trend view).
pub fn comparison_items(comparison: &Comparison) -> Vec<CiItem> {
    comparison.items.iter().map(item).collect()
}

fn item(i: &ComparedItem) -> CiItem {
    let status = match i.judgement {
        Judgement::Regressed => CiStatus::Fail,
        Judgement::NotCompared => CiStatus::Skipped,
        Judgement::Unchanged | Judgement::Improved => CiStatus::Pass,
    };
    let threshold = match (i.limit_kind, i.limit) {
        (Some(LimitKind::Relative), Some(l)) => crate::analysis::compare::signed_percent(l),
        (_, Some(l)) => format!("+{}", value_text(&i.unit, Some(l))),
        _ => String::new(),
    };
    CiItem {
        classname: COMPARE_CLASS.to_string(),
        name: i.id.clone(),
        status,
        message: i.reason.clone(),
        value: format!(
            "{} → {} ({})",
            value_text(&i.unit, i.baseline),
            value_text(&i.unit, i.candidate),
            change_text(i)
        ),
        threshold,
        details: vec![format!("{}: {}", i.label, i.judgement.as_str())],
    }
}

/// The header of `soakprof compare`'s CI outputs.
pub fn comparison_suite(comparison: &Comparison, files: Vec<PathBuf>) -> CiSuite {
    let status = match comparison.verdict {
        CompareVerdict::Regressed => CiStatus::Fail,
        CompareVerdict::Unchanged | CompareVerdict::Improved => CiStatus::Pass,
    };
    CiSuite {
        name: "soakprof compare".to_string(),
        title: "soakprof compare".to_string(),
        status,
        summary: format!(
            "candidate {} against baseline {}: {}",
            comparison.candidate.dir,
            comparison.baseline.dir,
            comparison.verdict.as_str()
        ),
        reasons: comparison
            .regressions()
            .map(|i| i.reason.clone())
            .chain(comparison.notes.iter().cloned())
            .collect(),
        time_s: comparison.baseline.duration_s + comparison.candidate.duration_s,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::compare::RunRef;

    fn compared(id: &str, judgement: Judgement) -> ComparedItem {
        ComparedItem {
            id: id.to_string(),
            label: "steady RSS".to_string(),
            unit: "bytes".to_string(),
            baseline: Some(200e6),
            candidate: Some(250e6),
            difference: Some(50e6),
            ratio: Some(1.25),
            ci: Some([0.2, 0.3]),
            limit: Some(0.1),
            limit_kind: Some(LimitKind::Relative),
            judgement,
            reason: format!("{id} reason"),
        }
    }

    #[test]
    fn items_map_judgements_to_statuses_with_stable_names() {
        let items: Vec<CiItem> = [
            compared("memory.steady", Judgement::Regressed),
            compared("memory.peak", Judgement::NotCompared),
            compared("load.p95", Judgement::Improved),
        ]
        .iter()
        .map(item)
        .collect();
        let statuses: Vec<CiStatus> = items.iter().map(|i| i.status).collect();
        assert_eq!(
            statuses,
            [CiStatus::Fail, CiStatus::Skipped, CiStatus::Pass]
        );
        assert_eq!(items[0].name, "memory.steady");
        assert_eq!(items[0].classname, COMPARE_CLASS);
        assert_eq!(items[0].message, "memory.steady reason");
        assert!(items[0].value.contains('→'), "{}", items[0].value);
        assert_eq!(items[0].threshold, "+10%");
    }

    #[test]
    fn a_regressed_comparison_fails_its_suite() {
        let run = |dir: &str| RunRef {
            dir: dir.to_string(),
            target: Default::default(),
            started_at: String::new(),
            duration_s: 60.0,
        };
        let comparison = Comparison {
            schema_version: 1,
            verdict: CompareVerdict::Regressed,
            notes: Vec::new(),
            comparable: true,
            baseline: run("a"),
            candidate: run("b"),
            limits: Default::default(),
            items: vec![compared("memory.steady", Judgement::Regressed)],
        };
        let suite = comparison_suite(&comparison, Vec::new());
        assert_eq!(suite.status, CiStatus::Fail);
        assert_eq!(suite.reasons, ["memory.steady reason"]);
    }
}
