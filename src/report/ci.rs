//! What CI is told about a judged run: a flat list of checks ([`CiItem`]), each pass, warn,
//! fail or skipped with the reason a release manager reads, and a header ([`CiSuite`]). The
//! JUnit file ([`super::junit`]) and the Markdown summary ([`super::markdown`]) are both
//! written from it, so a run's verdict and a comparison of two runs speak the same way.
//!
//! A check's classname and name never hold a figure, a PID or a time: CI trend views key
//! on them across runs. Its figures go to the message, value and threshold.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::load::GateKind;
use crate::analysis::{MetricTrend, RunVerdict, Verdict};
use crate::units::{format_bytes, format_limit, three_figures};

use super::{ReportError, junit, markdown, trend_rate, trend_value};

/// How a check ended. A warning passes in JUnit (its text goes to `system-out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CiStatus {
    /// Not judged in this run (the metric could not be read, too few samples).
    Skipped,
    Pass,
    Warn,
    Fail,
}

impl CiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CiStatus::Skipped => "skipped",
            CiStatus::Pass => "pass",
            CiStatus::Warn => "warn",
            CiStatus::Fail => "fail",
        }
    }
}

impl From<Verdict> for CiStatus {
    fn from(v: Verdict) -> CiStatus {
        match v {
            Verdict::Pass => CiStatus::Pass,
            Verdict::Warn => CiStatus::Warn,
            Verdict::Fail => CiStatus::Fail,
        }
    }
}

/// One judged check.
#[derive(Clone, Debug, PartialEq)]
pub struct CiItem {
    /// The group, dotted: `soakprof.metrics`, `soakprof.load`, `soakprof.compare`. Stable.
    pub classname: String,
    /// The check within the group: `memory growth`, `p95 latency gate`. Stable.
    pub name: String,
    pub status: CiStatus,
    /// The reason, one or more sentences with the figures.
    pub message: String,
    /// What was measured, for a table cell (`12.3 MB/min (95% CI 11.0 to 13.5 MB/min)`).
    pub value: String,
    /// What it was judged against (`warn 5 MB/min, fail 10 MB/min`); empty when nothing.
    pub threshold: String,
    /// Further lines (for JUnit's `system-out`).
    pub details: Vec<String>,
}

/// The header both outputs carry.
#[derive(Clone, Debug, PartialEq)]
pub struct CiSuite {
    /// The JUnit testsuite name, stable across runs: `soakprof <target>`.
    pub name: String,
    /// The Markdown heading: `soakprof record: api`, `soakprof compare`.
    pub title: String,
    pub status: CiStatus,
    /// One line under the heading: samples, duration, target.
    pub summary: String,
    pub reasons: Vec<String>,
    /// Seconds the run (or runs) lasted; JUnit's `time`.
    pub time_s: f64,
    /// The report files to link, as paths the process can open (the run directory as
    /// given, joined with the file name).
    pub files: Vec<PathBuf>,
}

/// Classnames of a run's checks.
pub const CLASS_METRICS: &str = "soakprof.metrics";
pub const CLASS_CAPACITY: &str = "soakprof.capacity";
pub const CLASS_LOAD: &str = "soakprof.load";
pub const CLASS_RUN: &str = "soakprof.run";

/// The check that gathers the findings no other check claims.
pub const OTHER_FINDINGS: &str = "other findings";

/// The suite name of a run of `target`: `soakprof <name>`, with the process name (or the
/// kind of target when it has none: never a PID).
pub fn suite_name(verdict: &RunVerdict) -> String {
    let target = &verdict.target;
    let label = if target.name.is_empty() {
        target.mode.as_str()
    } else {
        target.name.as_str()
    };
    format!("soakprof {label}")
}

/// The header of a run's outputs; `files` are the report files to link.
pub fn run_suite(verdict: &RunVerdict, files: Vec<PathBuf>) -> CiSuite {
    CiSuite {
        name: suite_name(verdict),
        title: format!("soakprof: {}", super::target_label(&verdict.target)),
        status: verdict.verdict.into(),
        summary: format!(
            "{} samples over {} of {} ({})",
            verdict.samples,
            crate::units::format_duration_s(verdict.duration_s),
            super::target_label(&verdict.target),
            super::pid_list(&verdict.target)
        ),
        reasons: verdict.reasons.clone(),
        time_s: verdict.duration_s,
        files,
    }
}

/// The checks of a judged run, in a fixed order: metric trends, capacity limits, load
/// gates, how the run ended; then `extra` (a comparison with a baseline); then, when some
/// reason of the verdict is claimed by none of them, one `other findings` check that holds
/// those reasons and carries the verdict's weight where no other check does.
///
/// The trend and gate checks take their status from the verdict's structured fields; the
/// checks that only the reasons describe (memory limit, exits, `--fail-fast`) claim their
/// reasons by the sentence openings the judges write (tested against the judges).
pub fn run_items(verdict: &RunVerdict, extra: Vec<CiItem>) -> Vec<CiItem> {
    let mut items = metric_items(verdict);
    items.extend(capacity_items(verdict));
    items.extend(load_items(verdict));
    items.extend(end_items(verdict));
    items.extend(extra);
    let claimed: HashSet<&str> = verdict
        .reasons
        .iter()
        .filter(|r| items.iter().any(|i| i.claims(r)))
        .map(String::as_str)
        .collect();
    let unclaimed: Vec<&String> = verdict
        .reasons
        .iter()
        .filter(|r| !claimed.contains(r.as_str()))
        .collect();
    if !unclaimed.is_empty() {
        let overall = CiStatus::from(verdict.verdict);
        let worst = items
            .iter()
            .map(|i| i.status)
            .max()
            .unwrap_or(CiStatus::Pass);
        let status = if worst < overall {
            overall
        } else {
            CiStatus::Pass
        };
        items.push(CiItem {
            classname: CLASS_RUN.to_string(),
            name: OTHER_FINDINGS.to_string(),
            status,
            message: join_reasons(unclaimed.iter().map(|r| r.as_str())),
            value: String::new(),
            threshold: String::new(),
            details: Vec::new(),
        });
    }
    items
}

impl CiItem {
    /// Whether this check already says `reason` (in its message or its details), or the
    /// reason quotes the check's message (a verdict's `baseline: …` line quoting a
    /// comparison item).
    fn claims(&self, reason: &str) -> bool {
        self.message.contains(reason)
            || (!self.message.is_empty() && reason.contains(&self.message))
            || self.details.iter().any(|d| d.contains(reason))
    }
}

fn join_reasons<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    reasons.collect::<Vec<_>>().join("; ")
}

/// The reasons of the verdict that start with one of `openings`.
fn reasons_opening<'a>(verdict: &'a RunVerdict, openings: &[String]) -> Vec<&'a str> {
    verdict
        .reasons
        .iter()
        .filter(|r| openings.iter().any(|o| r.starts_with(o.as_str())))
        .map(String::as_str)
        .collect()
}

/// `12.3 MB/min (95% CI 11.0 to 13.5 MB/min)`.
fn slope_text(trend: &MetricTrend) -> String {
    format!(
        "{} (95% CI {} to {})",
        trend_rate(trend, trend.slope_per_min),
        trend_rate(trend, trend.slope_ci[0]),
        trend_rate(trend, trend.slope_ci[1])
    )
}

/// One growth check: `name` over `trend` (None: not fitted, skipped), judged by
/// `(warn, fail)` per minute in the trend's unit; `label` is how the judges name it.
fn growth_item(
    verdict: &RunVerdict,
    name: &str,
    label: &str,
    trend: Option<&MetricTrend>,
    limits: (f64, f64),
) -> CiItem {
    let mut item = CiItem {
        classname: CLASS_METRICS.to_string(),
        name: name.to_string(),
        status: CiStatus::Skipped,
        message: String::new(),
        value: String::new(),
        threshold: String::new(),
        details: Vec::new(),
    };
    let Some(trend) = trend.filter(|t| t.judged) else {
        item.message = format!("{label} was not judged: too few samples, or it could not be read");
        return item;
    };
    let rate = |v| trend_rate(trend, v);
    item.threshold = if limits.0 < limits.1 {
        format!("warn {}, fail {}", rate(limits.0), rate(limits.1))
    } else {
        format!("fail {}", rate(limits.1))
    };
    item.value = slope_text(trend);
    item.status = trend.verdict.into();
    // The judges' sentences: growth (`RSS grows`, per life `RSS grew`) and why a clean run
    // passed (`RSS trend`, `no established RSS growth`).
    let openings = [
        format!("{label} grows "),
        format!("{label} grew "),
        format!("{label} trend "),
        format!("no established {label} growth"),
    ];
    let said = reasons_opening(verdict, &openings);
    item.message = if said.is_empty() {
        format!(
            "{label} trend {}; {}",
            item.value,
            item.threshold.replace(", ", " and ")
        )
    } else {
        join_reasons(said.into_iter())
    };
    item.details.push(format!(
        "{label}: first {}, last {}, peak {}; trend p = {:.3}",
        trend_value(trend, trend.first),
        trend_value(trend, trend.last),
        trend_value(trend, trend.max),
        trend.trend_p_value
    ));
    item
}

/// Memory growth (the judged memory: RSS, or PSS for several processes), USS, threads, FDs:
/// always all four, so the set of checks is the same run after run.
fn metric_items(verdict: &RunVerdict) -> Vec<CiItem> {
    let th = &verdict.thresholds;
    let m = &verdict.metrics;
    let memory = verdict.capacity.judged_memory;
    let memory_limits = (th.warn_growth_bytes_per_min, th.max_growth_bytes_per_min);
    vec![
        growth_item(
            verdict,
            "memory growth",
            memory.kind().label(),
            m.judged_memory(memory),
            memory_limits,
        ),
        growth_item(verdict, "USS growth", "USS", m.uss.as_ref(), memory_limits),
        growth_item(
            verdict,
            "threads growth",
            "Threads",
            m.threads.as_ref(),
            (th.max_thread_growth_per_min, th.max_thread_growth_per_min),
        ),
        growth_item(
            verdict,
            "FDs growth",
            "FDs",
            m.fds.as_ref(),
            (th.max_fd_growth_per_min, th.max_fd_growth_per_min),
        ),
    ]
}

/// The memory and CPU limits, each when the run had one.
fn capacity_items(verdict: &RunVerdict) -> Vec<CiItem> {
    let cap = &verdict.capacity;
    let mut items = Vec::new();
    if let Some(limit) = cap.mem_limit_bytes {
        let label = cap.judged_memory.kind().label();
        // `peak RSS … is above the memory limit`, `RSS stayed above 90% of the … limit`.
        let openings = [format!("peak {label} "), format!("{label} stayed above ")];
        let said = reasons_opening(verdict, &openings);
        let peak = cap.peak_bytes.or(cap.peak_rss_bytes);
        let value = peak.map_or_else(
            || "not measured".to_string(),
            |p| {
                format!(
                    "peak {label} {} ({}% headroom)",
                    format_bytes(p as f64),
                    three_figures(cap.headroom_pct.unwrap_or(0.0))
                )
            },
        );
        let (status, message) = if said.is_empty() {
            let status = if peak.is_some() {
                CiStatus::Pass
            } else {
                CiStatus::Skipped
            };
            (
                status,
                format!("{value}, within the {} limit", format_limit(limit)),
            )
        } else {
            (CiStatus::Fail, join_reasons(said.into_iter()))
        };
        items.push(CiItem {
            classname: CLASS_CAPACITY.to_string(),
            name: "memory limit".to_string(),
            status,
            message,
            value,
            threshold: format_limit(limit),
            details: Vec::new(),
        });
    }
    if let Some(limit) = cap.cpu_limit_cores {
        let limit_text = format!("{} cores", three_figures(limit));
        let (status, value, message) = match &verdict.metrics.cpu {
            Some(cpu) => {
                let value = format!(
                    "mean {} cores, p95 {}",
                    three_figures(cpu.mean_cores),
                    three_figures(cpu.p95_cores)
                );
                let said = reasons_opening(verdict, &["CPU ".to_string()]);
                let message = if said.is_empty() {
                    format!("CPU {value}, within the {limit_text} limit")
                } else {
                    join_reasons(said.into_iter())
                };
                (cpu.verdict.into(), value, message)
            }
            None => (
                CiStatus::Skipped,
                "not measured".to_string(),
                "CPU could not be read".to_string(),
            ),
        };
        items.push(CiItem {
            classname: CLASS_CAPACITY.to_string(),
            name: "CPU limit".to_string(),
            status,
            message,
            value,
            threshold: limit_text,
            details: Vec::new(),
        });
    }
    items.extend(cgroup_items(verdict));
    items
}

/// The cgroup's checks, when the run read one: OOM kills (any fails) and CPU throttling
/// against `--max-throttled`.
fn cgroup_items(verdict: &RunVerdict) -> Vec<CiItem> {
    let Some(cg) = &verdict.capacity.cgroup else {
        return Vec::new();
    };
    let th = &verdict.thresholds;
    let killed = reasons_opening(verdict, &["the OOM killer killed ".to_string()]);
    let (status, message) = match cg.oom_kills {
        _ if !killed.is_empty() => (CiStatus::Fail, join_reasons(killed.into_iter())),
        Some(_) => (CiStatus::Pass, "no OOM kill during the run".to_string()),
        None => (
            CiStatus::Skipped,
            "the OOM-kill count could not be read".to_string(),
        ),
    };
    let oom = CiItem {
        classname: CLASS_CAPACITY.to_string(),
        name: "OOM kills".to_string(),
        status,
        message,
        value: cg
            .oom_kills
            .map_or_else(|| "not read".to_string(), |n| n.to_string()),
        threshold: "0".to_string(),
        details: Vec::new(),
    };
    let gate = format!(
        "{}%",
        crate::analysis::cgroup::format_pct(th.max_throttled_pct)
    );
    let over: Vec<&str> = verdict
        .reasons
        .iter()
        .filter(|r| r.contains("above --max-throttled"))
        .map(String::as_str)
        .collect();
    let (status, value, message) = match cg.throttled_pct {
        None => (
            CiStatus::Skipped,
            "no period counted".to_string(),
            "no CFS period was counted (no CPU quota)".to_string(),
        ),
        Some(pct) => {
            let value = format!("{}% of periods", three_figures(pct));
            if over.is_empty() {
                let message = format!("throttled in {value}, within --max-throttled {gate}");
                (CiStatus::Pass, value, message)
            } else {
                let status = match th.throttled_gate {
                    crate::runlog::GateLevel::Warn => CiStatus::Warn,
                    crate::runlog::GateLevel::Fail => CiStatus::Fail,
                };
                (status, value, join_reasons(over.into_iter()))
            }
        }
    };
    let throttling = CiItem {
        classname: CLASS_CAPACITY.to_string(),
        name: "CPU throttling".to_string(),
        status,
        message,
        value,
        threshold: gate,
        details: Vec::new(),
    };
    vec![oom, throttling]
}

/// The stable name of a load gate's check: `p95 latency gate`.
pub fn gate_name(kind: GateKind) -> String {
    format!("{} gate", kind.label())
}

/// One check per load gate, when load ran.
fn load_items(verdict: &RunVerdict) -> Vec<CiItem> {
    let Some(load) = &verdict.load else {
        return Vec::new();
    };
    load.gates
        .iter()
        .map(|gate| {
            let kind = gate.gate;
            let value = gate
                .value
                .map_or_else(|| "not measured".to_string(), |v| kind.format_value(v));
            let threshold = format!("{} {}", kind.option(), kind.format_limit(gate.limit));
            let said = reasons_opening(verdict, &[format!("load gate: {} ", kind.label())]);
            let message = if said.is_empty() {
                format!("{} {value} meets {threshold}", kind.label())
            } else {
                join_reasons(said.into_iter())
            };
            CiItem {
                classname: CLASS_LOAD.to_string(),
                name: gate_name(kind),
                status: if gate.passed {
                    CiStatus::Pass
                } else {
                    CiStatus::Fail
                },
                message,
                value,
                threshold,
                details: Vec::new(),
            }
        })
        .collect()
}

/// The weight of an exit sentence (`analysis::exits::judge_exit`): a signal or a non-zero
/// status fails, an unknown status warns, status 0 passes.
fn exit_status(reason: &str) -> CiStatus {
    if reason.contains(" was killed by signal ") {
        CiStatus::Fail
    } else if reason.contains(" exited with status 0 ") {
        CiStatus::Pass
    } else if reason.contains(" exited with status ") {
        CiStatus::Fail
    } else {
        CiStatus::Warn
    }
}

/// An exit check: every exit sentence of `who` in one check, its weight the worst of them.
fn exit_item(verdict: &RunVerdict, name: &str, opening: &str, when_none: &str) -> CiItem {
    let said = reasons_opening(verdict, &[opening.to_string()]);
    let status = said
        .iter()
        .map(|r| exit_status(r))
        .max()
        .unwrap_or(CiStatus::Pass);
    let message = if said.is_empty() {
        when_none.to_string()
    } else {
        join_reasons(said.into_iter())
    };
    CiItem {
        classname: CLASS_RUN.to_string(),
        name: name.to_string(),
        status,
        message,
        value: String::new(),
        threshold: String::new(),
        details: Vec::new(),
    }
}

/// How the run ended: the target (always), the load command (when one ran), and
/// `--fail-fast` (when it stopped the run).
fn end_items(verdict: &RunVerdict) -> Vec<CiItem> {
    let mut items = vec![exit_item(
        verdict,
        "target exit",
        "target (pid ",
        "the target did not end on its own during the run",
    )];
    if verdict.load.as_ref().is_some_and(|l| l.external.is_some()) {
        items.push(exit_item(
            verdict,
            "load command exit",
            "the load command ",
            "the load command did not end on its own during the run",
        ));
    }
    let stopped = reasons_opening(verdict, &["stopped early at ".to_string()]);
    if !stopped.is_empty() {
        items.push(CiItem {
            classname: CLASS_RUN.to_string(),
            name: "fail-fast".to_string(),
            status: CiStatus::Fail,
            message: join_reasons(stopped.into_iter()),
            value: String::new(),
            threshold: String::new(),
            details: Vec::new(),
        });
    }
    items
}

/// The counts JUnit's root and suite carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CiCounts {
    pub tests: usize,
    pub failures: usize,
    pub skipped: usize,
    pub warnings: usize,
}

pub fn counts(items: &[CiItem]) -> CiCounts {
    let mut c = CiCounts {
        tests: items.len(),
        ..CiCounts::default()
    };
    for item in items {
        match item.status {
            CiStatus::Fail => c.failures += 1,
            CiStatus::Skipped => c.skipped += 1,
            CiStatus::Warn => c.warnings += 1,
            CiStatus::Pass => {}
        }
    }
    c
}

/// Where the CI outputs of a command go; every path was checked before the work started
/// (see [`check_output_file`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CiOutputs {
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `--summary-md FILE`.
    pub summary_md: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, when set and not empty: the summary is appended to it.
    pub step_summary: Option<PathBuf>,
}

/// The variable GitHub Actions names a step's summary file in.
pub const STEP_SUMMARY_VAR: &str = "GITHUB_STEP_SUMMARY";

/// Why `path` cannot take an output file, found before any work: it is a directory, or
/// the directory it would be in does not exist.
pub fn check_output_file(path: &Path) -> Result<(), &'static str> {
    if path.as_os_str().is_empty() {
        return Err("the path is empty");
    }
    if path.is_dir() {
        return Err("it is a directory; give a file path");
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err("its directory does not exist");
    }
    Ok(())
}

/// The report files of a run directory that exist, the page first: what a summary links.
pub fn run_files(run_dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<&str> = vec![super::REPORT_FILE, super::VERDICT_FILE];
    names.extend(super::charts::CHART_FILES);
    names
        .into_iter()
        .map(|n| run_dir.join(n))
        .filter(|p| p.is_file())
        .collect()
}

impl CiOutputs {
    pub fn is_empty(&self) -> bool {
        self.junit.is_none() && self.summary_md.is_none() && self.step_summary.is_none()
    }

    /// Write every output asked for: the JUnit file and `--summary-md` replaced atomically,
    /// the step summary appended (within what is left of its 1 MiB). Each is tried even
    /// when an earlier one failed; the first failure is returned.
    pub fn write(&self, suite: &CiSuite, items: &[CiItem]) -> Result<(), ReportError> {
        let mut first_error = None;
        let mut keep = |r: Result<(), ReportError>| {
            if let Err(e) = r
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        };
        if let Some(path) = &self.junit {
            keep(write_junit(path, suite, items));
        }
        if let Some(path) = &self.summary_md {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let text =
                markdown::summary_markdown(suite, items, Some(dir), markdown::MAX_SUMMARY_BYTES);
            keep(write_checked(path, text.as_bytes()));
        }
        if let Some(path) = &self.step_summary {
            keep(append_step_summary(path, suite, items));
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn write_checked(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    super::write_file_atomic(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn write_junit(path: &Path, suite: &CiSuite, items: &[CiItem]) -> Result<(), ReportError> {
    let xml = junit::junit_xml(suite, items).map_err(|e| ReportError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    write_checked(path, xml.as_bytes())
}

/// Append the summary to the step's summary file. It is rendered on the job's page, away
/// from the files, so the links are the paths as given (relative to the job's directory,
/// which is where an uploaded run directory's paths start too).
fn append_step_summary(path: &Path, suite: &CiSuite, items: &[CiItem]) -> Result<(), ReportError> {
    let failed = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let held = match std::fs::metadata(path) {
        Ok(m) => usize::try_from(m.len()).unwrap_or(usize::MAX),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(failed(e)),
    };
    // A blank line first, so what a step wrote before ends its own block.
    let room = markdown::MAX_SUMMARY_BYTES
        .saturating_sub(held)
        .saturating_sub(1);
    let text = markdown::summary_markdown(suite, items, None, room);
    if text.is_empty() {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    let mut bytes = Vec::with_capacity(text.len() + 1);
    if held > 0 {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(text.as_bytes());
    file.write_all(&bytes).map_err(failed)
}

/// Write the CI outputs of a judged run in `run_dir` (nothing when none was asked for).
pub fn write_run_outputs(
    outputs: &CiOutputs,
    verdict: &RunVerdict,
    run_dir: &Path,
) -> Result<(), ReportError> {
    if outputs.is_empty() {
        return Ok(());
    }
    let suite = run_suite(verdict, run_files(run_dir));
    let baseline = verdict
        .baseline
        .as_ref()
        .map(super::ci_compare::comparison_items)
        .unwrap_or_default();
    let items = run_items(verdict, baseline);
    outputs.write(&suite, &items)
}

#[cfg(test)]
#[path = "ci_tests.rs"]
mod tests;
