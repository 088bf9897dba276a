//! Everything written from an analysed run: verdict.json, the SVG charts, report.html, and
//! the summary printed in the terminal. Each reads only the run log's types and the verdict.

pub mod charts;
pub mod ci;
pub mod ci_compare;
pub mod ci_fleet;
pub mod compare;
pub mod fleet;
pub mod html;
pub mod junit;
pub mod markdown;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::load::{
    ExternalSummary, LoadSummary, format_error_kinds, format_ms, format_rps,
};
use crate::analysis::{MetricTrend, Metrics, RunVerdict};
use crate::runlog::{RunData, TargetInfo};
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};

pub const VERDICT_FILE: &str = "verdict.json";
pub use charts::RunView;
pub use fleet::FLEET_FILE;
pub use html::{
    COMPARE_HTML_FILE, FLEET_HTML_FILE, REPORT_FILE, write_compare_html, write_fleet_html,
};

/// Every file the report of a run may write (`record --force` removes those of the run it
/// replaces).
pub const OUTPUT_FILES: [&str; 8] = [
    VERDICT_FILE,
    REPORT_FILE,
    charts::CHART_FILES[0],
    charts::CHART_FILES[1],
    charts::CHART_FILES[2],
    charts::CHART_FILES[3],
    charts::CHART_FILES[4],
    charts::CAPACITY_CHART_FILE,
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
}

impl ReportError {
    /// Writing the report fails at run time (a full disk, a directory gone, a chart file
    /// removed under us), never for the user's input: the run was read and judged first.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ReportError::Write { .. } | ReportError::Read { .. } => false,
            ReportError::Chart(e) => e.is_bad_input(),
        }
    }
}

/// The text of verdict.json: pretty-printed, with a final newline. `analyze --format json`
/// prints exactly this.
pub fn verdict_json(verdict: &RunVerdict) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(verdict)?;
    text.push('\n');
    Ok(text)
}

/// Write `bytes` to `path` atomically: into a temporary file beside it (named for this
/// process, so two writers never share one), then renamed over `path`. A reader never sees
/// half a file, and a write that fails (a full disk) leaves whatever `path` held before;
/// the temporary file is removed.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map_or_else(
        || std::borrow::Cow::Borrowed("output"),
        |n| n.to_string_lossy(),
    );
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Write `text` to `dir/name` atomically (see [`write_file_atomic`]).
fn write_atomic(dir: &Path, name: &str, text: &str) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    write_file_atomic(&path, text.as_bytes()).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Rows as an aligned table, two spaces in: the first column left-aligned, the last one
/// as it is (a name or a judgement, of any length), the ones between right-aligned.
fn aligned_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(k, cell)| match k {
                _ if k == last => cell.clone(),
                0 => format!("{cell:<w$}", w = widths[k]),
                _ => format!("{cell:>w$}", w = widths[k]),
            })
            .collect();
        out.push_str("  ");
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

/// Write verdict.json atomically, so a reader never sees half.
pub fn write_verdict(dir: &Path, verdict: &RunVerdict) -> Result<PathBuf, ReportError> {
    let text = verdict_json(verdict).map_err(|e| ReportError::Write {
        path: dir.join(VERDICT_FILE),
        source: e.into(),
    })?;
    write_atomic(dir, VERDICT_FILE, &text)
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
    // The page inlines the charts just written, so it comes last.
    html::write_report(dir, run, verdict, &files)?;
    files.push(REPORT_FILE.to_string());
    Ok(files)
}

/// The metric trends in display order, with their display names.
fn metric_trends(m: &Metrics) -> [(&'static str, Option<&MetricTrend>); 10] {
    [
        ("RSS", m.rss.as_ref()),
        ("PSS", m.pss.as_ref()),
        ("USS", m.uss.as_ref()),
        ("VMS", m.vms.as_ref()),
        ("threads", m.threads.as_ref()),
        ("FDs", m.fds.as_ref()),
        ("cgroup anon", m.cgroup_anon.as_ref()),
        ("cgroup in use", m.cgroup_memory.as_ref()),
        ("cgroup cache", m.cgroup_file.as_ref()),
        ("working set", m.cgroup_working_set.as_ref()),
    ]
}

/// A trend's verdict word; `info` for a metric that is reported but not judged.
fn trend_verdict(trend: &MetricTrend) -> &'static str {
    if trend.judged {
        trend.verdict.as_str()
    } else {
        "info"
    }
}

/// A rate in the trend's own unit per minute, for people: `12.4 MB/min`, `3.20/h`.
fn trend_rate(trend: &MetricTrend, per_min: f64) -> String {
    if trend.unit == "bytes" {
        format_byte_rate(per_min)
    } else {
        format_count_rate(per_min)
    }
}

/// A value in the trend's own unit, for people: `81.2 MB`, `12`.
fn trend_value(trend: &MetricTrend, value: f64) -> String {
    if trend.unit == "bytes" {
        format_bytes(value)
    } else {
        format!("{value:.0}")
    }
}

/// What the target is called in a title: its process name, else what the user gave.
fn target_label(target: &TargetInfo) -> &str {
    if target.name.is_empty() {
        target.spec.as_str()
    } else {
        target.name.as_str()
    }
}

/// `pid 4242, pid 4243`.
fn pid_list(target: &TargetInfo) -> String {
    target
        .roots
        .iter()
        .map(|r| format!("pid {}", r.pid))
        .collect::<Vec<_>>()
        .join(", ")
}

fn trend_row(name: &str, trend: &MetricTrend, width: usize) -> String {
    format!(
        "  {name:<width$} {:<5} {:>14}  95% CI {} to {}   first {}  last {}  peak {}",
        trend_verdict(trend),
        trend_rate(trend, trend.slope_per_min),
        trend_rate(trend, trend.slope_ci[0]),
        trend_rate(trend, trend.slope_ci[1]),
        trend_value(trend, trend.first),
        trend_value(trend, trend.last),
        trend_value(trend, trend.max),
    )
}

/// `latency p50 1.2 ms p95 3.4 ms p99 8.1 ms max 20 ms`, or `latency n/a`.
fn latency_text(latency: &crate::runlog::load::LatencyMs) -> String {
    let parts: Vec<String> = [
        ("p50", latency.p50),
        ("p95", latency.p95),
        ("p99", latency.p99),
        ("max", latency.max),
    ]
    .iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {} ms", format_ms(v))))
    .collect();
    if parts.is_empty() {
        "latency n/a (no responses)".to_string()
    } else {
        format!("latency {}", parts.join(" "))
    }
}

/// `6000 requests, 0 errors (0.00%), 200.0 req/s`.
fn volume_text(requests: u64, errors: u64, error_rate: Option<f64>, rps: Option<f64>) -> String {
    format!(
        "{requests} requests, {errors} errors ({}), {}",
        error_rate.map_or_else(|| "n/a".to_string(), |r| format!("{:.2}%", r * 100.0)),
        rps.map_or_else(
            || "n/a req/s".to_string(),
            |r| format!("{} req/s", format_rps(r))
        ),
    )
}

/// How an external load command ended: `stopped by soakprof after 30 s`, ….
fn external_status(ext: &ExternalSummary) -> String {
    match (ext.exited_at_s, ext.exit_code, ext.signal) {
        (None, _, _) => "no exit recorded".to_string(),
        (Some(t), _, _) if ext.stopped_by_profiler => {
            format!("stopped by soakprof after {}", format_duration_s(t))
        }
        (Some(t), _, Some(sig)) => {
            format!("killed by signal {sig} after {}", format_duration_s(t))
        }
        (Some(t), Some(code), None) => {
            format!("exited with status {code} after {}", format_duration_s(t))
        }
        (Some(t), None, None) => format!("exited after {}", format_duration_s(t)),
    }
}

/// The load block of the terminal summary (ASCII only).
fn load_text(load: &LoadSummary) -> String {
    let mut out = String::new();
    if let Some(ext) = &load.external {
        out.push_str(&format!(
            "  load command: {} (pid {}), {}\n",
            ext.command,
            ext.pid,
            external_status(ext)
        ));
    }
    let measured = load.requests > 0 || load.duration_s > 0.0 || load.external.is_none();
    if measured {
        out.push_str(&format!(
            "  load: {}, {}\n",
            volume_text(load.requests, load.errors, load.error_rate, load.rps),
            latency_text(&load.latency_ms)
        ));
    }
    if load.errors > 0 {
        out.push_str(&format!(
            "    errors: {}\n",
            format_error_kinds(&load.errors_by_kind)
        ));
    }
    if let Some(n) = load.abandoned_in_flight.filter(|n| *n > 0) {
        out.push_str(&format!(
            "    {n} request(s) still in flight at the end were abandoned\n"
        ));
    }
    if load.by_name.len() > 1 {
        for (name, part) in &load.by_name {
            out.push_str(&format!(
                "    {name}: {}, {}\n",
                volume_text(part.requests, part.errors, part.error_rate, part.rps),
                latency_text(&part.latency_ms)
            ));
        }
    }
    for gate in &load.gates {
        let value = gate
            .value
            .map_or_else(|| "not measured".to_string(), |v| gate.gate.format_value(v));
        out.push_str(&format!(
            "    gate {:<11} {}  {value}  ({} {})\n",
            gate.gate.label(),
            if gate.passed { "PASS" } else { "FAIL" },
            gate.gate.option(),
            gate.gate.format_limit(gate.limit),
        ));
    }
    out
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
        target_label(target),
        pid_list(target),
    ));
    for reason in &verdict.reasons {
        out.push_str(&format!("  - {reason}\n"));
    }
    let m = &verdict.metrics;
    // Names padded to the longest shown (8 at least: "threads", "CPU" line up as before).
    let width = metric_trends(m)
        .iter()
        .filter(|(_, t)| t.is_some())
        .map(|(name, _)| name.len())
        .fold(8, usize::max);
    for (name, trend) in metric_trends(m) {
        if let Some(t) = trend {
            out.push_str(&trend_row(name, t, width));
            out.push('\n');
        }
    }
    if let Some(cpu) = &m.cpu {
        out.push_str(&format!(
            "  {:<width$} {:<5} mean {} cores, p95 {}, max {}\n",
            "CPU",
            cpu.verdict.as_str(),
            three_figures(cpu.mean_cores),
            three_figures(cpu.p95_cores),
            three_figures(cpu.max_cores)
        ));
    }
    let cap = &verdict.capacity;
    let label = cap.judged_memory.kind().label();
    if verdict.run.max_procs.is_some_and(|p| p > 1)
        || cap.cgroup.as_ref().is_some_and(|c| c.is_target)
    {
        out.push_str(&format!(
            "  memory judged on {label}: {}\n",
            cap.judged_memory_reason
        ));
    }
    let peak = cap.peak_bytes.or(cap.peak_rss_bytes);
    if let (Some(limit), Some(peak)) = (cap.mem_limit_bytes, peak) {
        out.push_str(&format!(
            "  capacity: peak {label} {} of {} limit ({}% headroom){}\n",
            format_bytes(peak as f64),
            format_bytes(limit as f64),
            three_figures(cap.headroom_pct.unwrap_or(0.0)),
            cap.time_to_limit_s.map_or(String::new(), |s| format!(
                ", limit reached in {} at this trend",
                format_duration_s(s)
            )),
        ));
    }
    if let Some(cgroup) = &cap.cgroup {
        for sentence in &cgroup.summary {
            out.push_str(&format!("  cgroup: {sentence}\n"));
        }
    }
    if let Some(load) = &verdict.load {
        out.push_str(&load_text(load));
    }
    if let Some(search) = &verdict.capacity_search {
        out.push_str(&capacity_search_text(search));
    }
    if let Some(baseline) = &verdict.baseline {
        // The regressions are among the reasons above; the notes and the tally here.
        let regressed = baseline.regressions().count();
        out.push_str(&format!(
            "  baseline {}: {} ({regressed} regressed of {} compared)\n",
            baseline.baseline.dir,
            baseline.verdict.as_str(),
            baseline.items.len()
        ));
        for note in &baseline.notes {
            out.push_str(&format!("    note: {note}\n"));
        }
    }
    out.push_str(&format!("  report: {}\n", dir.join(REPORT_FILE).display()));
    out
}

/// `--find-capacity` in the terminal: one line per level, in the order held (the answer
/// itself is among the reasons).
fn capacity_search_text(search: &crate::analysis::capsearch::CapacitySearch) -> String {
    let mut out = format!(
        "  capacity search ({} model, {} levels):\n",
        match search.model {
            crate::analysis::capsearch::SearchModel::Open => "open",
            crate::analysis::capsearch::SearchModel::Closed => "closed",
        },
        search.levels.len()
    );
    for l in &search.levels {
        let p95 = l
            .p95_ms
            .map_or("n/a".to_string(), |p| format!("{} ms", format_ms(p)));
        let cpu = l
            .cpu_cores
            .map_or(String::new(), |c| format!(", CPU {c:.2}"));
        let result = l
            .why
            .as_deref()
            .map_or("pass".to_string(), |w| format!("FAIL {w}"));
        out.push_str(&format!(
            "    {:>12}  {} req/s, p95 {p95}{cpu}: {result}\n",
            search.model.level_text(l.offered),
            format_rps(l.achieved_rps),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::runlog::load::{
        ErrorCounts, LoadInterval, LoadRun, LoadTotals, new_latency_histogram,
    };
    use crate::runlog::tests_support::header;
    use crate::sample::Sample;

    fn totals(requests: u64, errors: ErrorCounts, ms: &[(f64, u64)]) -> LoadTotals {
        let mut h = new_latency_histogram().unwrap();
        for &(ms, n) in ms {
            h.record_n((ms * 1000.0) as u64, n).unwrap();
        }
        LoadTotals {
            requests,
            errors,
            latency: Some(h),
        }
    }

    pub(super) fn run_with_load() -> RunData {
        let connect = ErrorCounts {
            connect: 30,
            ..ErrorCounts::default()
        };
        RunData {
            header: header(),
            columns: crate::synthetic::columns(
                &(0..30)
                    .map(|i| Sample {
                        t: i as f64,
                        rss: Some(100_000_000),
                        ..Sample::default()
                    })
                    .collect::<Vec<Sample>>(),
            ),
            events: vec![],
            skipped_lines: 0,
            stop_reason: Some(crate::runlog::StopReason::Duration),
            load: Some(LoadRun {
                start: None,
                intervals: (1..=30)
                    .map(|i| LoadInterval {
                        t: i as f64,
                        dt_s: 1.0,
                        requests: 200,
                        rps: 200.0,
                        ..LoadInterval::default()
                    })
                    .collect(),
                stages: vec![],
                external: None,
                end_in_flight: Some(2),
                end_in_flight_ages: None,
                total: totals(
                    6000,
                    connect,
                    &[(1.2, 5000), (3.4, 900), (8.1, 69), (20.0, 1)],
                ),
                by_name: [
                    (
                        "home".to_string(),
                        totals(4000, ErrorCounts::default(), &[(1.2, 4000)]),
                    ),
                    ("search".to_string(), totals(2000, connect, &[(3.4, 1970)])),
                ]
                .into(),
                skipped_lines: 0,
            }),
        }
    }

    #[test]
    fn summary_has_a_load_block() {
        let run = run_with_load();
        let mut config = AnalysisConfig::default();
        config.thresholds.max_p95_ms = Some(500.0);
        config.thresholds.max_error_rate = Some(0.001);
        let verdict = analyse(&run, &config);
        let text = summary_text(&verdict, Path::new("reports/x"));
        let expected = [
            "  load: 6000 requests, 30 errors (0.50%), 200.0 req/s, latency p50 1.2 ms p95 3.4 ms p99 8.1 ms max 20 ms",
            "    errors: connect 30",
            "    2 request(s) still in flight at the end were abandoned",
            "    home: 4000 requests, 0 errors (0.00%), 133.3 req/s, latency p50 1.2 ms p95 1.2 ms p99 1.2 ms max 1.2 ms",
            "    search: 2000 requests, 30 errors (1.50%), 66.7 req/s, latency p50 3.4 ms p95 3.4 ms p99 3.4 ms max 3.4 ms",
            "    gate p95 latency PASS  3.4 ms  (--max-p95 500 ms)",
            "    gate error rate  FAIL  0.5%  (--max-error-rate 0.1%)",
        ];
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            text.lines()
                .filter(|l| l.starts_with("  load") || l.starts_with("    "))
                .all(|l| l.is_ascii()),
            "{text}"
        );
        assert!(
            verdict
                .reasons
                .iter()
                .any(|r| r == "load gate: error rate 0.5% (30 of 6000 requests: connect 30) is above --max-error-rate 0.1%"),
            "{:?}",
            verdict.reasons
        );
    }

    #[test]
    fn report_errors_are_runtime_failures() {
        let run = run_with_load();
        let verdict = analyse(&run, &AnalysisConfig::default());
        let missing = Path::new("/nonexistent/soakprof");
        let err = write_all(missing, &run, &verdict).unwrap_err();
        assert!(matches!(err, ReportError::Write { .. }), "{err}");
        assert!(!err.is_bad_input());
        let dir = tempfile::tempdir().unwrap();
        let err = html::write_report(dir.path(), &run, &verdict, &["gone.svg".into()]).unwrap_err();
        assert!(
            matches!(err, ReportError::Read { .. }) && !err.is_bad_input(),
            "{err}"
        );
        let err = ReportError::from(charts::ChartError {
            file: charts::MEMORY_CHART_FILE.into(),
            reason: "disk full".into(),
        });
        assert!(!err.is_bad_input());
    }

    #[test]
    fn write_all_writes_the_load_chart() {
        let dir = tempfile::tempdir().unwrap();
        let run = run_with_load();
        let verdict = analyse(&run, &AnalysisConfig::default());
        let files = write_all(dir.path(), &run, &verdict).unwrap();
        assert!(
            files.contains(&charts::LOAD_CHART_FILE.to_string()),
            "{files:?}"
        );
        assert!(dir.path().join(charts::LOAD_CHART_FILE).exists());
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join(VERDICT_FILE)).unwrap())
                .unwrap();
        assert_eq!(json["load"]["requests"], 6000);
        // Without load intervals there is no load chart.
        let mut plain = run_with_load();
        plain.load = None;
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(
            dir.path(),
            &plain,
            &analyse(&plain, &AnalysisConfig::default()),
        )
        .unwrap();
        assert!(!files.iter().any(|f| f == charts::LOAD_CHART_FILE));
    }

    #[test]
    fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.svg");
        write_file_atomic(&path, b"first").unwrap();
        write_file_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        // The rename fails (a non-empty directory is in the way): what was there stays.
        let blocked = dir.path().join("blocked.svg");
        fs::create_dir_all(blocked.join("inside")).unwrap();
        let err = write_file_atomic(&blocked, b"third").unwrap_err();
        assert!(blocked.join("inside").is_dir(), "{err}");
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["blocked.svg", "out.svg"],
            "a temporary file is left"
        );
    }
}
