//! Everything written from an analysed run: verdict.json, the SVG charts, and the summary
//! printed in the terminal. Each reads only the run log's types and the verdict.

pub mod charts;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::{MetricTrend, RunVerdict};
use crate::runlog::RunData;
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};

pub const VERDICT_FILE: &str = "verdict.json";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
}

/// Write verdict.json atomically (temp file, then rename), so a reader never sees half.
pub fn write_verdict(dir: &Path, verdict: &RunVerdict) -> Result<PathBuf, ReportError> {
    let path = dir.join(VERDICT_FILE);
    let tmp = dir.join(".verdict.json.tmp");
    let wrap = |source| ReportError::Write {
        path: path.clone(),
        source,
    };
    let mut text = serde_json::to_string_pretty(verdict).map_err(|e| wrap(e.into()))?;
    text.push('\n');
    fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(wrap)?;
    fs::rename(&tmp, &path).map_err(wrap)?;
    Ok(path)
}

/// Write every output of the run; returns the files written.
pub fn write_all(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
) -> Result<Vec<String>, ReportError> {
    write_verdict(dir, verdict)?;
    let mut files = vec![VERDICT_FILE.to_string()];
    files.extend(charts::write_charts(dir, run, verdict)?);
    Ok(files)
}

fn trend_row(name: &str, trend: &MetricTrend) -> String {
    let bytes = trend.unit == "bytes";
    let rate = |v: f64| {
        if bytes {
            format_byte_rate(v)
        } else {
            format_count_rate(v)
        }
    };
    let value = |v: f64| {
        if bytes {
            format_bytes(v)
        } else {
            format!("{v:.0}")
        }
    };
    format!(
        "  {name:<8} {:<5} {:>14}  95% CI {} to {}   first {}  last {}  peak {}",
        if trend.judged {
            trend.verdict.as_str()
        } else {
            "info"
        },
        rate(trend.slope_per_min),
        rate(trend.slope_ci[0]),
        rate(trend.slope_ci[1]),
        value(trend.first),
        value(trend.last),
        value(trend.max),
    )
}

/// The terminal summary: verdict, reasons, one row per metric, capacity.
pub fn summary_text(verdict: &RunVerdict, dir: &Path) -> String {
    let mut out = String::new();
    let target = &verdict.target;
    out.push_str(&format!(
        "soakprof: {} — {} samples over {} of {} ({})\n",
        verdict.verdict.as_str().to_uppercase(),
        verdict.samples,
        format_duration_s(verdict.duration_s),
        if target.name.is_empty() {
            target.spec.as_str()
        } else {
            target.name.as_str()
        },
        target
            .roots
            .iter()
            .map(|r| format!("pid {}", r.pid))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    for reason in &verdict.reasons {
        out.push_str(&format!("  - {reason}\n"));
    }
    let m = &verdict.metrics;
    for (name, trend) in [
        ("RSS", &m.rss),
        ("PSS", &m.pss),
        ("USS", &m.uss),
        ("VMS", &m.vms),
        ("threads", &m.threads),
        ("FDs", &m.fds),
    ] {
        if let Some(t) = trend {
            out.push_str(&trend_row(name, t));
            out.push('\n');
        }
    }
    if let Some(cpu) = &m.cpu {
        out.push_str(&format!(
            "  {:<8} {:<5} mean {} cores, p95 {}, max {}\n",
            "CPU",
            cpu.verdict.as_str(),
            three_figures(cpu.mean_cores),
            three_figures(cpu.p95_cores),
            three_figures(cpu.max_cores)
        ));
    }
    let cap = &verdict.capacity;
    if let (Some(limit), Some(peak)) = (cap.mem_limit_bytes, cap.peak_rss_bytes) {
        out.push_str(&format!(
            "  capacity: peak RSS {} of {} limit ({}% headroom){}\n",
            format_bytes(peak as f64),
            format_bytes(limit as f64),
            three_figures(cap.headroom_pct.unwrap_or(0.0)),
            cap.time_to_limit_s.map_or(String::new(), |s| format!(
                ", limit reached in {} at this trend",
                format_duration_s(s)
            )),
        ));
    }
    out.push_str(&format!("  report: {}\n", dir.display()));
    out
}
