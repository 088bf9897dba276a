//! What `soakprof compare` writes: compare.json (its own schema, version 1) and the table
//! printed in the terminal.

use std::path::{Path, PathBuf};

use super::{ReportError, write_atomic};
use crate::analysis::compare::{ComparedItem, Comparison, Judgement, LimitKind};
use crate::analysis::load::{format_ms, format_percent, format_rps};
use crate::units::{format_byte_rate, format_bytes, format_count_rate, three_figures};

pub const COMPARE_FILE: &str = "compare.json";

/// The text of compare.json: pretty-printed, with a final newline.
pub fn compare_json(comparison: &Comparison) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(comparison)?;
    text.push('\n');
    Ok(text)
}

/// Write compare.json into `dir` (created when missing), atomically.
pub fn write_compare(dir: &Path, comparison: &Comparison) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let text = compare_json(comparison).map_err(|e| ReportError::Write {
        path: dir.join(COMPARE_FILE),
        source: e.into(),
    })?;
    write_atomic(dir, COMPARE_FILE, &text)
}

/// An item's value in its unit, for the table.
pub fn value_text(unit: &str, value: Option<f64>) -> String {
    let Some(v) = value else {
        return "-".to_string();
    };
    match unit {
        "bytes/min" => format_byte_rate(v),
        "bytes" => format_bytes(v),
        "threads/min" | "fds/min" => format_count_rate(v),
        "cores" => format!("{} cores", three_figures(v)),
        "cpu_s/request" => format!("{} ms", three_figures(v * 1000.0)),
        "ms" => format!("{} ms", format_ms(v)),
        "fraction" => format_percent(v),
        "rps" => format!("{} req/s", format_rps(v)),
        _ => three_figures(v),
    }
}

/// The change column: relative for relative limits, absolute for the others.
pub fn change_text(item: &ComparedItem) -> String {
    match (item.limit_kind, item.difference, item.ratio) {
        (Some(LimitKind::Relative), _, Some(ratio)) => {
            crate::analysis::compare::signed_percent(ratio - 1.0)
        }
        (_, Some(d), _) => {
            let text = value_text(&item.unit, Some(d));
            if d >= 0.0 { format!("+{text}") } else { text }
        }
        _ => "-".to_string(),
    }
}

/// The terminal table: the verdict, the notes, one row per item, then each regressed or
/// improved item's reason.
pub fn compare_table(comparison: &Comparison, written: Option<&Path>) -> String {
    let mut out = format!(
        "soakprof compare: {} — {} against baseline {}\n",
        comparison.verdict.as_str().to_uppercase(),
        comparison.candidate.dir,
        comparison.baseline.dir
    );
    for note in &comparison.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    let header = ["metric", "baseline", "candidate", "change", "judgement"].map(String::from);
    let rows: Vec<Vec<String>> = std::iter::once(header.to_vec())
        .chain(comparison.items.iter().map(|i| {
            vec![
                i.label.clone(),
                value_text(&i.unit, i.baseline),
                value_text(&i.unit, i.candidate),
                change_text(i),
                i.judgement.as_str().to_string(),
            ]
        }))
        .collect();
    out.push_str(&super::aligned_table(&rows));
    for item in comparison
        .items
        .iter()
        .filter(|i| matches!(i.judgement, Judgement::Regressed | Judgement::Improved))
    {
        out.push_str(&format!("  - {}\n", item.reason));
    }
    if let Some(path) = written {
        out.push_str(&format!("  comparison: {}\n", path.display()));
    }
    out
}
