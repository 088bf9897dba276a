//! `--find-capacity`: the pure part of the search for the highest load that meets the gates.
//!
//! The search ramps the offered level (open model: requests per second; closed model:
//! users) geometrically from a start level until a step fails a gate, then bisects
//! (geometrically) between the highest passing and the lowest failing level until they are
//! within a tolerance or the time budget ends. Each step's observation comes from the live
//! controller (`load::capsearch`); here it is judged, the next level chosen, and the whole
//! search summarised for verdict.json. No I/O: the same code replays a recorded search in
//! `soakprof analyze`.

use serde::{Deserialize, Serialize};

use super::load::{format_ms, format_rps};
use crate::units::format_bytes;

/// Ratio between levels of the coarse ramp.
pub const RAMP_FACTOR: f64 = 2.0;
/// Default: the search ends when the lowest failing level is within this share above the
/// highest passing one.
pub const DEFAULT_TOLERANCE: f64 = 0.05;
/// Open model: a step keeps up when it completed at least this share of what it offered.
pub const KEEP_UP_SHARE: f64 = 0.9;
/// The driver is the bottleneck when its thread used more than this many cores.
pub const DRIVER_BUSY_CORES: f64 = 0.9;
/// Two halves of a step have a settled p95 when they differ by at most this share of the
/// larger one, or by at most [`SETTLED_SLACK_MS`].
pub const SETTLED_SHARE: f64 = 0.25;
pub const SETTLED_SLACK_MS: f64 = 1.0;
/// Responses a step needs before its p95 is judged (five above the p95).
pub const MIN_STEP_RESPONSES: u64 = 100;
/// Steps the time budget is planned for: a ramp of about six doublings and six bisections.
pub const PLANNED_STEPS: f64 = 12.0;
/// Bounds of one step's planned hold, seconds.
pub const MIN_STEP_S: f64 = 2.0;
pub const MAX_STEP_S: f64 = 60.0;
/// An unsettled or thin step is extended up to this multiple of its planned hold.
pub const MAX_EXTENSION: f64 = 2.0;
/// Levels the search never goes below or above.
pub const MIN_OPEN_RPS: f64 = 0.5;
pub const MAX_OPEN_RPS: f64 = 1_000_000.0;
pub const MAX_USERS: f64 = 4000.0;

/// What is ramped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchModel {
    /// Requests per second on a fixed schedule.
    Open,
    /// Concurrent users, each sending its next request when the last one ended.
    Closed,
}

impl SearchModel {
    pub fn unit(self) -> &'static str {
        match self {
            SearchModel::Open => "rps",
            SearchModel::Closed => "users",
        }
    }

    /// A level for people: `800 rps`, `12 users`.
    pub fn level_text(self, level: f64) -> String {
        match self {
            SearchModel::Open => format!("{} rps", format_rps(level)),
            SearchModel::Closed => format!("{level:.0} users"),
        }
    }

    fn clamp(self, level: f64) -> f64 {
        match self {
            SearchModel::Open => level.clamp(MIN_OPEN_RPS, MAX_OPEN_RPS),
            SearchModel::Closed => level.round().clamp(1.0, MAX_USERS),
        }
    }
}

/// What each step is judged against; every gate is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchGates {
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    /// Server-side failures (drops by the driver are its own limit, see `lower_bound`).
    pub max_error_rate: Option<f64>,
    /// Peak memory of the target during the step (cgroup working set when read, else RSS).
    pub mem_limit_bytes: Option<u64>,
    /// Share of CFS periods throttled during the step (0..1).
    pub max_throttled_share: Option<f64>,
}

impl SearchGates {
    /// Whether any gate can fail a step (the search needs one).
    pub fn any(&self) -> bool {
        self.max_p95_ms.is_some()
            || self.max_p99_ms.is_some()
            || self.max_error_rate.is_some()
            || self.mem_limit_bytes.is_some()
            || self.max_throttled_share.is_some()
    }
}

/// How the search runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchPlan {
    pub model: SearchModel,
    pub start: f64,
    pub tolerance: f64,
    /// Planned hold of each step, seconds (warm-up included).
    pub step_s: f64,
    /// Open model: the driver's in-flight cap.
    pub max_in_flight: Option<u64>,
}

/// The planned hold of a step when `budget_s` is what the search may use.
pub fn step_hold_s(budget_s: f64) -> f64 {
    (budget_s / PLANNED_STEPS).clamp(MIN_STEP_S, MAX_STEP_S)
}

/// What one step measured, as the controller saw it (one line of `capacity_search.jsonl`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepObservation {
    pub offered: f64,
    /// The judged window, seconds on the run's clock (the warm-up before it left out).
    pub t_start_s: f64,
    pub t_end_s: f64,
    /// Requests due in the window: responses, failures and drops.
    pub requests: u64,
    pub responses: u64,
    /// Failed requests other than drops.
    pub errors: u64,
    /// Open model: requests due while the in-flight cap was reached, never sent.
    pub dropped: u64,
    pub achieved_rps: f64,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// p95 of the first and second half of the judged window.
    pub p95_halves_ms: [Option<f64>; 2],
    pub settled: bool,
    /// Target CPU, cores (the cgroup's when read), mean over the window.
    pub cpu_cores: Option<f64>,
    /// Peak memory over the window: cgroup working set when read, else RSS.
    pub mem_bytes: Option<u64>,
    pub throttled_share: Option<f64>,
    /// The driver thread's own CPU over the window, cores.
    pub driver_cpu_cores: Option<f64>,
}

impl StepObservation {
    pub fn error_rate(&self) -> Option<f64> {
        let sent = self.requests.saturating_sub(self.dropped);
        (sent > 0).then(|| self.errors as f64 / sent as f64)
    }
}

/// A step as judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub passed: bool,
    /// Every gate it failed, for people (`p95 412 ms > 250 ms`).
    pub why: Vec<String>,
    /// Why the driver, not the target, may have set the limit here.
    pub driver_limited: Option<String>,
}

/// Judge one step against the gates.
pub fn judge_step(obs: &StepObservation, gates: &SearchGates, plan: &SearchPlan) -> Judged {
    let mut why = Vec::new();
    let mut over_ms = |name: &str, got: Option<f64>, gate: Option<f64>| {
        if let (Some(got), Some(gate)) = (got, gate)
            && got > gate
        {
            why.push(format!(
                "{name} {} ms > {} ms",
                format_ms(got),
                format_ms(gate)
            ));
        }
    };
    over_ms("p95", obs.p95_ms, gates.max_p95_ms);
    over_ms("p99", obs.p99_ms, gates.max_p99_ms);
    if let (Some(rate), Some(gate)) = (obs.error_rate(), gates.max_error_rate)
        && rate > gate
    {
        why.push(format!(
            "errors {:.1}% > {:.1}%",
            rate * 100.0,
            gate * 100.0
        ));
    }
    if let (Some(mem), Some(limit)) = (obs.mem_bytes, gates.mem_limit_bytes)
        && mem > limit
    {
        why.push(format!(
            "memory {} > {}",
            format_bytes(mem as f64),
            format_bytes(limit as f64)
        ));
    }
    if let (Some(share), Some(gate)) = (obs.throttled_share, gates.max_throttled_share)
        && share > gate
    {
        why.push(format!(
            "throttled {:.0}% of periods > {:.0}%",
            share * 100.0,
            gate * 100.0
        ));
    }
    if plan.model == SearchModel::Open && obs.achieved_rps < KEEP_UP_SHARE * obs.offered {
        why.push(format!(
            "throughput {} rps < {:.0}% of offered",
            format_rps(obs.achieved_rps),
            KEEP_UP_SHARE * 100.0
        ));
    }
    if obs.responses == 0 && obs.requests > 0 {
        why.push("no responses".into());
    }
    let driver_limited = driver_limit(obs, plan);
    if let Some(limit) = &driver_limited {
        why.push(limit.clone());
    }
    Judged {
        passed: why.is_empty(),
        why,
        driver_limited,
    }
}

fn driver_limit(obs: &StepObservation, plan: &SearchPlan) -> Option<String> {
    if obs.dropped > 0 {
        let cap = plan
            .max_in_flight
            .map_or(String::new(), |cap| format!(" ({cap})"));
        return Some(format!(
            "the driver's in-flight cap{cap} was reached: {} of {} requests dropped",
            obs.dropped, obs.requests
        ));
    }
    match obs.driver_cpu_cores {
        Some(cores) if cores > DRIVER_BUSY_CORES => Some(format!(
            "the driver's thread was busy ({:.0}% of a core)",
            cores * 100.0
        )),
        _ => None,
    }
}

/// Whether a step's p95 has settled: its two halves agree (see [`SETTLED_SHARE`]).
pub fn settled(first_ms: Option<f64>, second_ms: Option<f64>) -> bool {
    match (first_ms, second_ms) {
        (Some(a), Some(b)) => (a - b).abs() <= (SETTLED_SHARE * a.max(b)).max(SETTLED_SLACK_MS),
        // No responses in either half: nothing to settle (the gates judge the step).
        (None, None) => true,
        _ => false,
    }
}

/// Whether a step held for `held_s` of its `hold_s` may end now: settled with enough
/// responses, or extended as far as it may be.
pub fn step_may_end(held_s: f64, hold_s: f64, responses: u64, is_settled: bool) -> bool {
    held_s >= hold_s * MAX_EXTENSION
        || (held_s >= hold_s && is_settled && responses >= MIN_STEP_RESPONSES)
}

/// The search's state: the steps so far and their judgements.
#[derive(Clone, Debug)]
pub struct Search {
    pub plan: SearchPlan,
    pub gates: SearchGates,
    pub steps: Vec<(StepObservation, Judged)>,
}

/// What the search says to do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    Step(f64),
    /// The bracket is within the tolerance, or no level can be tried.
    Done,
}

impl Search {
    pub fn new(plan: SearchPlan, gates: SearchGates) -> Search {
        Search {
            plan,
            gates,
            steps: Vec::new(),
        }
    }

    /// The same levels judged against other gates (`analyze --max-p95 …` on a recorded
    /// search: the levels stay those the search chose with its own gates).
    pub fn rejudged(self, gates: SearchGates) -> Search {
        let mut search = Search::new(self.plan, gates);
        for (obs, _) in self.steps {
            search.observe(obs);
        }
        search
    }

    pub fn observe(&mut self, obs: StepObservation) -> &Judged {
        let judged = judge_step(&obs, &self.gates, &self.plan);
        self.steps.push((obs, judged));
        &self.steps[self.steps.len() - 1].1
    }

    fn highest_pass(&self) -> Option<f64> {
        self.steps
            .iter()
            .filter(|(_, j)| j.passed)
            .map(|(o, _)| o.offered)
            .reduce(f64::max)
    }

    /// The lowest failing level above the highest passing one (a failure below a pass is
    /// noise the bracket has already moved past).
    fn lowest_fail(&self) -> Option<f64> {
        let floor = self.highest_pass().unwrap_or(f64::NEG_INFINITY);
        self.steps
            .iter()
            .filter(|(o, j)| !j.passed && o.offered > floor)
            .map(|(o, _)| o.offered)
            .reduce(f64::min)
    }

    pub fn next(&self) -> Next {
        let model = self.plan.model;
        let tried = |level: f64| self.steps.iter().any(|(o, _)| o.offered == level);
        let candidate = match (self.highest_pass(), self.lowest_fail()) {
            (None, None) => model.clamp(self.plan.start),
            (Some(pass), None) => model.clamp(pass * RAMP_FACTOR),
            (None, Some(fail)) => model.clamp(fail / RAMP_FACTOR),
            (Some(pass), Some(fail)) => {
                if fail <= pass * (1.0 + self.plan.tolerance) {
                    return Next::Done;
                }
                model.clamp((pass * fail).sqrt())
            }
        };
        if tried(candidate) {
            // The clamp or whole users leave nothing new to try.
            Next::Done
        } else {
            Next::Step(candidate)
        }
    }
}

/// How the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchEnd {
    /// The bracket is within the tolerance (or whole users leave nothing between).
    Converged,
    /// `--duration` left no time for another step.
    Budget,
    /// Interrupted, the target exited, or the log ends without an end line.
    Stopped,
}

/// One level in verdict.json's `capacity_search.levels`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelReport {
    pub offered: f64,
    pub achieved_rps: f64,
    pub requests: u64,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub dropped: u64,
    pub settled: bool,
    pub cpu_cores: Option<f64>,
    pub mem_bytes: Option<u64>,
    pub throttled_share: Option<f64>,
    pub driver_cpu_cores: Option<f64>,
    pub passed: bool,
    /// Why it failed; null when it passed.
    pub why: Option<String>,
    pub t_start_s: f64,
    pub t_end_s: f64,
}

/// verdict.json's `capacity_search`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacitySearch {
    pub model: SearchModel,
    pub unit: String,
    pub gates: SearchGates,
    pub tolerance: f64,
    pub step_s: f64,
    /// In the order they ran.
    pub levels: Vec<LevelReport>,
    pub highest_passing: Option<f64>,
    /// Throughput achieved at the highest passing level.
    pub highest_passing_rps: Option<f64>,
    /// The lowest failing level above the highest passing one.
    pub first_failing: Option<f64>,
    /// Why `first_failing` failed.
    pub why: Option<String>,
    pub ended: SearchEnd,
    pub lower_bound: bool,
    pub lower_bound_why: Option<String>,
    /// One line for people.
    pub summary: String,
}

/// Summarise a search (live at its end, or replayed from the log).
pub fn summarize(search: &Search, ended: SearchEnd) -> CapacitySearch {
    let model = search.plan.model;
    let levels: Vec<LevelReport> = search.steps.iter().map(level_report).collect();
    let highest = search.highest_pass();
    let first_failing = search.lowest_fail();
    let failing = search
        .steps
        .iter()
        .find(|(o, j)| Some(o.offered) == first_failing && !j.passed);
    let why = failing.map(|(_, j)| j.why.join("; "));
    let lower_bound_why = match (failing, highest) {
        (Some((o, j)), _) if j.driver_limited.is_some() => Some(format!(
            "at {}, {}",
            model.level_text(o.offered),
            j.driver_limited.as_deref().unwrap_or_default()
        )),
        (None, Some(_)) => Some(match ended {
            SearchEnd::Budget => "the time budget ran out before any level failed".to_string(),
            SearchEnd::Stopped => "the search stopped before any level failed".to_string(),
            SearchEnd::Converged => "the highest level the search may try passed".to_string(),
        }),
        _ => None,
    };
    let highest_passing_rps = highest.and_then(|h| {
        search
            .steps
            .iter()
            .find(|(o, j)| j.passed && o.offered == h)
            .map(|(o, _)| o.achieved_rps)
    });
    let mut result = CapacitySearch {
        model,
        unit: model.unit().to_string(),
        gates: search.gates.clone(),
        tolerance: search.plan.tolerance,
        step_s: search.plan.step_s,
        levels,
        highest_passing: highest,
        highest_passing_rps,
        first_failing,
        why,
        ended,
        lower_bound: lower_bound_why.is_some(),
        lower_bound_why,
        summary: String::new(),
    };
    result.summary = summary_line(&result);
    result
}

fn level_report((obs, judged): &(StepObservation, Judged)) -> LevelReport {
    LevelReport {
        offered: obs.offered,
        achieved_rps: obs.achieved_rps,
        requests: obs.requests,
        p95_ms: obs.p95_ms,
        p99_ms: obs.p99_ms,
        error_rate: obs.error_rate(),
        dropped: obs.dropped,
        settled: obs.settled,
        cpu_cores: obs.cpu_cores,
        mem_bytes: obs.mem_bytes,
        throttled_share: obs.throttled_share,
        driver_cpu_cores: obs.driver_cpu_cores,
        passed: judged.passed,
        why: (!judged.passed).then(|| judged.why.join("; ")),
        t_start_s: obs.t_start_s,
        t_end_s: obs.t_end_s,
    }
}

/// `capacity 480 rps (482 rps achieved, p95 31 ms); 520 rps failed: p95 412 ms > 250 ms`.
fn summary_line(c: &CapacitySearch) -> String {
    let model = c.model;
    let mut text = match c.highest_passing {
        Some(level) => {
            let at = c.levels.iter().find(|l| l.passed && l.offered == level);
            let detail = at.map_or(String::new(), |l| {
                let p95 = l
                    .p95_ms
                    .map_or(String::new(), |p| format!(", p95 {} ms", format_ms(p)));
                format!(" ({} rps achieved{p95})", format_rps(l.achieved_rps))
            });
            format!("capacity {}{detail}", model.level_text(level))
        }
        None => "no level met the gates".to_string(),
    };
    if let (Some(fail), Some(why)) = (c.first_failing, &c.why) {
        text.push_str(&format!("; {} failed: {why}", model.level_text(fail)));
    }
    if let Some(why) = &c.lower_bound_why {
        text.push_str(&format!("; a lower bound: {why}"));
    }
    // Levels are assumed to get worse with load; a failure below the answer says the
    // target (or the machine) was noisy, and the figure with it.
    let below = c.highest_passing.and_then(|h| {
        c.levels
            .iter()
            .filter(|l| !l.passed && l.offered < h)
            .min_by(|a, b| a.offered.total_cmp(&b.offered))
    });
    if let Some(l) = below {
        text.push_str(&format!(
            "; noisy: {} below it failed too ({})",
            model.level_text(l.offered),
            l.why.as_deref().unwrap_or_default()
        ));
    }
    if c.ended == SearchEnd::Budget {
        text.push_str(" (the time budget ended the search)");
    }
    text
}

/// Add a search to the run's verdict: no passing level, or a capacity below `min_rps`
/// (the throughput achieved at the highest passing level), fails the run.
pub fn join_verdict(verdict: &mut super::RunVerdict, search: CapacitySearch, min_rps: Option<f64>) {
    let fail = |verdict: &mut super::RunVerdict, reason: String| {
        verdict.reasons.push(reason);
        verdict.verdict = super::Verdict::Fail;
    };
    match (search.highest_passing_rps, min_rps) {
        (None, _) => fail(verdict, format!("capacity search: {}", search.summary)),
        (Some(rps), Some(min)) if rps < min => fail(
            verdict,
            format!(
                "capacity search: {} rps at the highest passing level is below --min-rps {}",
                format_rps(rps),
                format_rps(min)
            ),
        ),
        _ => verdict
            .reasons
            .push(format!("capacity search: {}", search.summary)),
    }
    verdict.capacity_search = Some(search);
}

#[cfg(test)]
#[path = "capsearch_tests.rs"]
mod tests;
