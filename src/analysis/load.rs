//! What the load driver did, summarised for verdict.json, and the load gates
//! (`--max-p95`, `--max-p99`, `--max-error-rate`, `--min-rps`) judged on it.
//! Pure functions: input is the `LoadRun` read from `load.jsonl`.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::exits::{Who, judge_exit};
use super::verdict::{Finding, Subject, Verdict};
use crate::process::Exit;
use crate::runlog::Thresholds;
use crate::runlog::load::{ErrorCounts, LatencyMs, LoadRun, LoadTotals, new_latency_histogram};

/// Share of failed requests above which the run warns when no `--max-error-rate` was given.
pub const UNGATED_ERROR_RATE_WARN: f64 = 0.05;

/// A request still unanswered when the run ended counts as an `unfinished` error once it
/// has waited longer than this, or than the smallest latency gate (`--max-p95`,
/// `--max-p99`) when one is lower: past the gate it has missed that latency whatever
/// happens next, so it also enters the percentiles, at its age (a lower bound on its
/// latency). Younger ones are the normal tail of a run that stopped, counted nowhere but
/// in `abandoned_in_flight`. Five seconds: no interactive request is still fine by then,
/// and a run's last seconds of normal requests stay out.
pub const UNFINISHED_AFTER_MS: f64 = 5000.0;

/// The load section of verdict.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// `builtin` or `external`.
    pub driver: String,
    /// `closed` (users) or `open` (requests per second); built-in driver only.
    pub model: Option<String>,
    /// The scenario file, `--load-url`, or the external command; null when the log has no
    /// start line.
    pub source: Option<String>,
    /// Span covered by the recorded intervals, seconds (0 when there are none).
    pub duration_s: f64,
    /// Requests completed, failed ones included.
    pub requests: u64,
    /// Responses that carried a latency (a timeout or refused connection has none).
    pub responses: u64,
    pub errors: u64,
    pub errors_by_kind: ErrorCounts,
    /// errors / requests, a fraction; null without requests.
    pub error_rate: Option<f64>,
    /// requests / duration_s; null when no interval was recorded.
    pub rps: Option<f64>,
    /// Whole-run percentiles from the merged histograms; each null without responses.
    pub latency_ms: LatencyMs,
    pub by_name: BTreeMap<String, NameSummary>,
    pub stages: Vec<StageMark>,
    /// Requests still in flight when the driver stopped; null when the driver wrote no end
    /// line (the profiler was killed). Those older than `unfinished_after_ms` are also in
    /// `requests`, `errors` (kind `unfinished`) and the latency percentiles.
    pub abandoned_in_flight: Option<u64>,
    /// The age past which a request in flight at the end counts as `unfinished`, ms.
    #[serde(default = "default_unfinished_after_ms")]
    pub unfinished_after_ms: f64,
    /// The external load command (`--load-cmd`), when one ran.
    pub external: Option<ExternalSummary>,
    pub gates: Vec<Gate>,
    /// Unreadable lines of load.jsonl that were skipped.
    pub skipped_lines: usize,
    pub verdict: Verdict,
}

/// One request name's share of the load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NameSummary {
    pub requests: u64,
    pub responses: u64,
    pub errors: u64,
    pub errors_by_kind: ErrorCounts,
    pub error_rate: Option<f64>,
    pub rps: Option<f64>,
    pub latency_ms: LatencyMs,
}

/// A stage change of the built-in driver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageMark {
    /// Seconds since the run started (the samples' clock).
    pub t: f64,
    pub name: String,
    /// Target users (closed model) or requests per second (open model).
    pub target: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalSummary {
    pub command: String,
    pub pid: u32,
    /// Null while it had not exited (or was killed by a signal).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// True when soakprof stopped it at the end of the run.
    pub stopped_by_profiler: bool,
    /// When it exited, seconds since the run started; null when no exit was recorded.
    pub exited_at_s: Option<f64>,
}

/// Which load gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    P95,
    P99,
    ErrorRate,
    MinRps,
}

impl GateKind {
    /// The option that sets it.
    pub fn option(self) -> &'static str {
        match self {
            GateKind::P95 => "--max-p95",
            GateKind::P99 => "--max-p99",
            GateKind::ErrorRate => "--max-error-rate",
            GateKind::MinRps => "--min-rps",
        }
    }

    /// What it measures, for people.
    pub fn label(self) -> &'static str {
        match self {
            GateKind::P95 => "p95 latency",
            GateKind::P99 => "p99 latency",
            GateKind::ErrorRate => "error rate",
            GateKind::MinRps => "throughput",
        }
    }

    /// `ms`, `fraction` or `rps`.
    pub fn unit(self) -> &'static str {
        match self {
            GateKind::P95 | GateKind::P99 => "ms",
            GateKind::ErrorRate => "fraction",
            GateKind::MinRps => "rps",
        }
    }

    /// A value of this gate's unit for people: `812 ms`, `3.2%`, `85.1 req/s`.
    pub fn format_value(self, value: f64) -> String {
        match self {
            GateKind::P95 | GateKind::P99 => format!("{} ms", format_ms(value)),
            GateKind::ErrorRate => format_percent(value),
            GateKind::MinRps => format!("{} req/s", format_rps(value)),
        }
    }

    /// A limit as it was given on the command line: `500 ms`, `1%`, `100`.
    pub fn format_limit(self, limit: f64) -> String {
        match self {
            GateKind::P95 | GateKind::P99 => format!("{} ms", format_ms(limit)),
            GateKind::ErrorRate => format_percent(limit),
            GateKind::MinRps => trimmed(limit),
        }
    }

    /// True when `value` is the better side of `limit` (or on it).
    fn passes(self, value: f64, limit: f64) -> bool {
        match self {
            GateKind::MinRps => value >= limit,
            _ => value <= limit,
        }
    }
}

/// One load gate and how the run did against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub gate: GateKind,
    pub limit: f64,
    /// Null when it could not be measured (no responses, no requests); the gate then fails.
    pub value: Option<f64>,
    /// `ms`, `fraction` or `rps`.
    pub unit: String,
    pub passed: bool,
}

/// Milliseconds for people: `0.85`, `3.4`, `812`.
pub fn format_ms(ms: f64) -> String {
    let a = ms.abs();
    if a >= 10.0 {
        format!("{ms:.0}")
    } else if a >= 1.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Requests per second for people: `85.1`, `200.0`.
pub fn format_rps(rps: f64) -> String {
    if rps.abs() >= 10_000.0 {
        format!("{rps:.0}")
    } else {
        format!("{rps:.1}")
    }
}

/// Three significant figures without trailing zeros: `1`, `3.2`, `12`, `0.25`, `1234`.
fn trimmed(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A fraction as a percentage for people: `3.2%`, `12%`, `0.25%`, `0%`.
pub fn format_percent(fraction: f64) -> String {
    format!("{}%", trimmed(fraction * 100.0))
}

/// Non-zero error kinds: `connect 160, timeout 3`; empty when there are none.
pub fn format_error_kinds(errors: &ErrorCounts) -> String {
    [
        ("status", errors.status),
        ("timeout", errors.timeout),
        ("connect", errors.connect),
        ("check", errors.check),
        ("dropped", errors.dropped),
        ("body_too_large", errors.body_too_large),
        ("unfinished", errors.unfinished),
        ("other", errors.other),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(kind, n)| format!("{kind} {n}"))
    .collect::<Vec<_>>()
    .join(", ")
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn per_second(requests: u64, duration_s: f64) -> Option<f64> {
    (duration_s > 0.0).then(|| requests as f64 / duration_s)
}

fn latency_of(totals: &LoadTotals) -> (u64, LatencyMs) {
    totals
        .latency
        .as_ref()
        .map_or((0, LatencyMs::default()), |h| (h.len(), LatencyMs::of(h)))
}

fn name_summary(totals: &LoadTotals, duration_s: f64) -> NameSummary {
    let (responses, latency_ms) = latency_of(totals);
    let errors = totals.errors.total();
    NameSummary {
        requests: totals.requests,
        responses,
        errors,
        errors_by_kind: totals.errors,
        error_rate: ratio(errors, totals.requests),
        rps: per_second(totals.requests, duration_s),
        latency_ms,
    }
}

/// Span from the start of the first interval to the end of the last, seconds.
pub fn intervals_span_s(load: &LoadRun) -> f64 {
    match (load.intervals.first(), load.intervals.last()) {
        (Some(first), Some(last)) => (last.t - (first.t - first.dt_s)).max(0.0),
        _ => 0.0,
    }
}

/// `(160 of 5000 requests: connect 160)`.
fn error_detail(errors: u64, requests: u64, kinds: &ErrorCounts) -> String {
    let kinds = format_error_kinds(kinds);
    if kinds.is_empty() {
        format!("({errors} of {requests} requests)")
    } else {
        format!("({errors} of {requests} requests: {kinds})")
    }
}

/// Judge one gate; a failed gate comes with the finding that says why.
fn judge_gate(
    kind: GateKind,
    limit: f64,
    value: Option<f64>,
    summary: &LoadSummary,
) -> (Gate, Option<Finding>) {
    let passed = value.is_some_and(|v| kind.passes(v, limit));
    let mut finding = None;
    if !passed {
        let given = format!("{} {}", kind.option(), kind.format_limit(limit));
        let text = match value {
            Some(v) => {
                let side = if kind == GateKind::MinRps {
                    "below"
                } else {
                    "above"
                };
                let detail = if kind == GateKind::ErrorRate {
                    format!(
                        " {}",
                        error_detail(summary.errors, summary.requests, &summary.errors_by_kind)
                    )
                } else {
                    String::new()
                };
                format!(
                    "load gate: {} {}{detail} is {side} {given}",
                    kind.label(),
                    kind.format_value(v)
                )
            }
            None => {
                let why = match kind {
                    _ if summary.driver == "external" && summary.duration_s == 0.0 => {
                        "an external load command reports no request statistics to soakprof"
                            .to_string()
                    }
                    GateKind::P95 | GateKind::P99 if summary.requests > 0 => {
                        format!("none of the {} requests got a response", summary.requests)
                    }
                    GateKind::MinRps => "the load driver recorded no intervals".to_string(),
                    _ => "no requests were completed".to_string(),
                };
                format!(
                    "load gate: {} cannot be measured ({why}), so {given} is not met",
                    kind.label()
                )
            }
        };
        finding = Some(Finding::new(Verdict::Fail, Subject::Load, text));
    }
    let gate = Gate {
        gate: kind,
        limit,
        value,
        unit: kind.unit().to_string(),
        passed,
    };
    (gate, finding)
}

fn default_unfinished_after_ms() -> f64 {
    UNFINISHED_AFTER_MS
}

/// The age past which a request in flight at the end is `unfinished`, ms.
pub fn unfinished_after_ms(thresholds: &Thresholds) -> f64 {
    [thresholds.max_p95_ms, thresholds.max_p99_ms]
        .into_iter()
        .flatten()
        .fold(UNFINISHED_AFTER_MS, f64::min)
}

/// The ages (µs) of the requests in flight at the end that waited longer than `bound_ms`.
fn unfinished_ages(load: &LoadRun, bound_ms: f64) -> Option<Histogram<u64>> {
    let ages = load.end_in_flight_ages.as_ref()?;
    let bound_us = (bound_ms * 1000.0).max(0.0) as u64;
    let mut over = new_latency_histogram().ok()?;
    for value in ages.iter_recorded() {
        if value.value_iterated_to() > bound_us {
            over.saturating_record_n(value.value_iterated_to(), value.count_at_value());
        }
    }
    (!over.is_empty()).then_some(over)
}

/// Everything but the gates: totals, with the unfinished requests among them.
fn summarise(load: &LoadRun, thresholds: &Thresholds) -> LoadSummary {
    let duration_s = intervals_span_s(load);
    let unfinished_after_ms = unfinished_after_ms(thresholds);
    let unfinished = unfinished_ages(load, unfinished_after_ms);
    let unfinished_count = unfinished.as_ref().map_or(0, Histogram::len);
    let mut errors_by_kind = load.total.errors;
    errors_by_kind.unfinished += unfinished_count;
    let requests = load.total.requests + unfinished_count;
    let responses = load.total.latency.as_ref().map_or(0, Histogram::len);
    let latency = match (&load.total.latency, &unfinished) {
        (Some(total), Some(over)) => {
            let mut merged = total.clone();
            // Same bounds on both sides.
            let _ = merged.add(over);
            Some(merged)
        }
        (total, over) => total.clone().or_else(|| over.clone()),
    };
    let errors = errors_by_kind.total();
    let driver = match (&load.start, &load.external) {
        (Some(start), _) => start.driver.clone(),
        (None, Some(_)) => "external".to_string(),
        // Only the built-in driver writes intervals.
        (None, None) => "builtin".to_string(),
    };
    let external = load.external.as_ref().map(|ext| ExternalSummary {
        command: ext.command.clone(),
        pid: ext.pid,
        exit_code: ext.exit.as_ref().and_then(|e| e.code),
        signal: ext.exit.as_ref().and_then(|e| e.signal),
        stopped_by_profiler: ext.exit.as_ref().is_some_and(|e| e.by_profiler),
        exited_at_s: ext.exit.as_ref().map(|e| e.t),
    });
    LoadSummary {
        driver,
        model: load.start.as_ref().and_then(|s| s.model.clone()),
        source: load.start.as_ref().map(|s| s.source.clone()),
        duration_s,
        requests,
        responses,
        errors,
        errors_by_kind,
        error_rate: ratio(errors, requests),
        rps: per_second(load.total.requests, duration_s),
        latency_ms: latency.as_ref().map(LatencyMs::of).unwrap_or_default(),
        by_name: load
            .by_name
            .iter()
            .map(|(name, totals)| (name.clone(), name_summary(totals, duration_s)))
            .collect(),
        stages: load
            .stages
            .iter()
            .map(|s| StageMark {
                t: s.t,
                name: s.name.clone(),
                target: s.target,
            })
            .collect(),
        abandoned_in_flight: load.end_in_flight,
        unfinished_after_ms,
        external,
        gates: Vec::new(),
        skipped_lines: load.skipped_lines,
        verdict: Verdict::Pass,
    }
}

/// Summarise a load run and judge it against the load gates. Failed gates and a failed
/// external load command fail the run; a high error rate without `--max-error-rate` warns,
/// and so do unfinished requests and a load that completed no request at all.
pub fn judge_load(load: &LoadRun, thresholds: &Thresholds) -> (LoadSummary, Vec<Finding>) {
    let mut summary = summarise(load, thresholds);
    let mut findings = Vec::new();
    let gates: Vec<Gate> = [
        (GateKind::P95, thresholds.max_p95_ms, summary.latency_ms.p95),
        (GateKind::P99, thresholds.max_p99_ms, summary.latency_ms.p99),
        (
            GateKind::ErrorRate,
            thresholds.max_error_rate,
            summary.error_rate,
        ),
        (GateKind::MinRps, thresholds.min_rps, summary.rps),
    ]
    .into_iter()
    .filter_map(|(kind, limit, value)| {
        let (gate, finding) = judge_gate(kind, limit?, value, &summary);
        findings.extend(finding);
        Some(gate)
    })
    .collect();
    summary.gates = gates;

    if let Some(ext) = &summary.external
        && let Some(at_s) = ext.exited_at_s
        && !ext.stopped_by_profiler
    {
        let exit = Exit::from_parts(ext.exit_code, ext.signal);
        findings.push(judge_exit(Who::LoadCommand, exit, at_s));
    }

    if thresholds.max_error_rate.is_none()
        && let Some(rate) = summary.error_rate
        && rate > UNGATED_ERROR_RATE_WARN
    {
        let kinds = format_error_kinds(&summary.errors_by_kind);
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Load,
            format!(
                "load: {} of requests failed ({kinds}); set --max-error-rate to gate on it",
                format_percent(rate)
            ),
        ));
    }

    findings.extend(completion_findings(load, &summary));
    if load.skipped_lines > 0 {
        findings.push(Finding::new(
            Verdict::Pass,
            Subject::Log,
            format!(
                "{} unreadable line(s) in load.jsonl were skipped",
                load.skipped_lines
            ),
        ));
    }
    summary.verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    (summary, findings)
}

/// Requests that never finished, or a load that finished none.
fn completion_findings(load: &LoadRun, summary: &LoadSummary) -> Vec<Finding> {
    let mut findings = Vec::new();
    let unfinished = summary.errors_by_kind.unfinished;
    if unfinished > 0 {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Load,
            format!(
                "load: {unfinished} request(s) were still unanswered at the end after more than {} ms; \
                 they count as `unfinished` errors and at least that slow",
                format_ms(summary.unfinished_after_ms)
            ),
        ));
    }
    if summary.driver != "builtin" {
        return findings;
    }
    if load.intervals.is_empty() {
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Load,
            "load: the load driver recorded no intervals",
        ));
    } else if load.total.requests == 0 {
        let in_flight = match load.end_in_flight {
            Some(n) if n > 0 => format!("; {n} still in flight at the end"),
            _ => String::new(),
        };
        findings.push(Finding::new(
            Verdict::Warn,
            Subject::Load,
            format!(
                "load: no request completed in {:.0} s{in_flight}; is the target answering?",
                summary.duration_s
            ),
        ));
    }
    findings
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
