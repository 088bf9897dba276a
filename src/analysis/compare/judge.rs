//! One rule for every compared item: a change counts when it is significant and beyond the
//! item's limit; its direction says regressed or improved. And the sentence that says so.

use super::stats::Change;
use super::types::{ComparedItem, Judgement, LimitKind};

/// Which way is worse for an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Higher,
    Lower,
}

/// What an item is, before it is judged.
pub struct ItemSpec<'a> {
    pub id: &'a str,
    pub label: String,
    pub unit: &'a str,
    /// How a value of the item reads: `212 MB`, `3.4 ms`.
    pub format: &'a dyn Fn(f64) -> String,
    pub worse: Worse,
}

/// The test behind a change, in the terms of its limit (absolute or relative).
pub struct Tested {
    pub change: Change,
    /// Whether the change's test rejected "no change" (the interval, or a rank test).
    pub significant: bool,
    pub limit: f64,
    pub limit_kind: LimitKind,
    /// An absolute change below which a relative one does not count (scheduling noise on a
    /// sub-millisecond latency, a few hundredths of a core), with how it reads.
    pub floor: Option<(f64, String)>,
    /// What the interval is of when it is not of the estimate itself ("block maxima",
    /// "per-interval p95 medians").
    pub ci_of: Option<&'static str>,
}

/// An item one side lacks the data for.
pub fn not_compared(
    spec: &ItemSpec,
    baseline: Option<f64>,
    candidate: Option<f64>,
    why: &str,
) -> ComparedItem {
    let (difference, ratio) = diff_ratio(baseline, candidate);
    ComparedItem {
        id: spec.id.to_string(),
        label: spec.label.clone(),
        unit: spec.unit.to_string(),
        baseline,
        candidate,
        difference,
        ratio,
        ci: None,
        limit: None,
        limit_kind: None,
        judgement: Judgement::NotCompared,
        reason: format!("{}: not compared ({why})", spec.label),
    }
}

fn diff_ratio(baseline: Option<f64>, candidate: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (baseline, candidate) {
        (Some(b), Some(c)) => (Some(c - b), (b != 0.0).then(|| c / b)),
        _ => (None, None),
    }
}

/// `+18%`, `-3.2%`.
pub fn signed_percent(fraction: f64) -> String {
    let pct = fraction * 100.0;
    let text = if pct.abs() >= 10.0 {
        format!("{pct:+.0}%")
    } else {
        format!("{pct:+.1}%")
    };
    text.replace("+-", "-")
}

/// A signed figure: `+1.20 MB/min`.
fn signed(value: f64, format: &dyn Fn(f64) -> String) -> String {
    if value < 0.0 {
        format(value)
    } else {
        format!("+{}", format(value))
    }
}

/// Judge a tested change. The difference compared with the limit is the estimate itself
/// (absolute) or the relative change.
pub fn judged(
    spec: &ItemSpec,
    baseline: f64,
    candidate: f64,
    tested: &Tested,
    forced: Option<(Judgement, String)>,
) -> ComparedItem {
    let estimate = tested.change.estimate;
    let bad = match spec.worse {
        Worse::Higher => estimate > 0.0,
        Worse::Lower => estimate < 0.0,
    };
    let beyond = estimate.abs() > tested.limit;
    let above_floor = tested
        .floor
        .as_ref()
        .is_none_or(|(floor, _)| (candidate - baseline).abs() >= *floor);
    let (judgement, why) = if !tested.significant {
        (
            Judgement::Unchanged,
            format!("not significant (p = {:.2})", tested.change.p_value),
        )
    } else if !beyond {
        (Judgement::Unchanged, "within the limit".to_string())
    } else if !above_floor {
        let floor = tested.floor.as_ref().map_or(String::new(), |f| f.1.clone());
        (
            Judgement::Unchanged,
            format!("a change of less than {floor} does not count"),
        )
    } else if bad {
        (Judgement::Regressed, String::new())
    } else {
        (Judgement::Improved, String::new())
    };
    // A forced judgement (a run failing its own thresholds) is said when the test alone
    // would not have reached it.
    let (judgement, why) = match forced {
        Some((forced, forced_why)) if forced != judgement => (forced, forced_why),
        _ => (judgement, why),
    };
    let (change_text, ci_text, limit_text) = match tested.limit_kind {
        LimitKind::Relative => (
            signed_percent(estimate),
            format!(
                "{} to {}",
                signed_percent(tested.change.ci[0]),
                signed_percent(tested.change.ci[1])
            ),
            format!(
                "{}{}",
                if spec.worse == Worse::Higher {
                    "+"
                } else {
                    "-"
                },
                crate::analysis::load::format_percent(tested.limit)
            ),
        ),
        LimitKind::Absolute => (
            signed(estimate, spec.format),
            format!(
                "{} to {}",
                signed(tested.change.ci[0], spec.format),
                signed(tested.change.ci[1], spec.format)
            ),
            format!(
                "{}{}",
                if spec.worse == Worse::Higher {
                    "+"
                } else {
                    "-"
                },
                (spec.format)(tested.limit)
            ),
        ),
    };
    let verdict = if why.is_empty() {
        judgement.as_str().to_string()
    } else {
        format!("{} ({why})", judgement.as_str())
    };
    let ci_of = tested.ci_of.map_or(String::new(), |of| format!(" of {of}"));
    let reason = format!(
        "{} {} → {} ({change_text}, 95% CI{ci_of} {ci_text}), limit {limit_text}: {verdict}",
        spec.label,
        (spec.format)(baseline),
        (spec.format)(candidate),
    );
    let (difference, ratio) = diff_ratio(Some(baseline), Some(candidate));
    ComparedItem {
        id: spec.id.to_string(),
        label: spec.label.clone(),
        unit: spec.unit.to_string(),
        baseline: Some(baseline),
        candidate: Some(candidate),
        difference,
        ratio,
        ci: Some(tested.change.ci),
        limit: Some(tested.limit),
        limit_kind: Some(tested.limit_kind),
        judgement,
        reason,
    }
}
