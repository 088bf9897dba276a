//! A cgroup's own counters, judged: OOM kills fail the run; CPU throttling above
//! `--max-throttled` warns (fails with `--throttled-gate fail`); memory stalls are reported
//! and warn only when every task stalled for `MEM_FULL_STALL_WARN_PCT` of the run. Also the
//! capacity figures of the cgroup (`capacity.cgroup` in verdict.json): the working set
//! against the limit, throttled share and seconds, OOM kills, pressure, and a few sentences
//! for a person. Pure over a run's columns, events and load intervals.

use serde::{Deserialize, Serialize};

use super::load::format_ms;
use super::stats;
use super::verdict::{Finding, MetricTrend, Subject, Verdict};
use crate::columns::{Columns, Metric};
use crate::runlog::load::{LoadRun, decode_histogram, new_latency_histogram};
use crate::runlog::{CgroupTarget, Event, EventKind, GateLevel, Limits, OomVictim, Thresholds};
use crate::units::{format_bytes, format_duration_s, format_limit, three_figures};

/// Fewest CFS periods (100 ms each by default) over the run before a throttled share is
/// judged: fewer and two throttled periods would read as a share.
pub const THROTTLE_MIN_PERIODS: u64 = 20;
/// Every task of the cgroup stalled waiting for memory this share of the run (PSI `full`)
/// or more: it is thrashing (reclaiming page cache it needs, or swapping), which a growth
/// verdict cannot see. Warns; below it the stalls are only reported.
pub const MEM_FULL_STALL_WARN_PCT: f64 = 5.0;
/// Load intervals count as throttled when at least `--max-throttled` of their periods
/// were, and as unthrottled below a quarter of it; the p95 of each group is compared
/// when each has at least `LATENCY_MIN_INTERVALS` intervals with responses.
pub const UNTHROTTLED_FRACTION_OF_GATE: f64 = 0.25;
/// See `UNTHROTTLED_FRACTION_OF_GATE`.
pub const LATENCY_MIN_INTERVALS: usize = 3;

/// A percentage for people: `20`, `12.5`, `0.50`.
pub fn format_pct(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        three_figures(value)
    }
}

/// One OOM kill (or several seen at one sample).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OomKill {
    /// Seconds since the start of the run.
    pub t_s: f64,
    pub kills: u64,
    /// The processes seen to go as it happened (empty when none was identified).
    pub victims: Vec<OomVictim>,
}

/// p95 latency of load intervals with the cgroup throttled and without.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThrottledLatency {
    /// Intervals with at least this share of periods throttled count as throttled...
    pub throttled_from_pct: f64,
    /// ... and those below this share as unthrottled.
    pub unthrottled_below_pct: f64,
    pub throttled_intervals: usize,
    pub unthrottled_intervals: usize,
    pub p95_throttled_ms: f64,
    pub p95_unthrottled_ms: f64,
}

/// The cgroup's part of the capacity section. Counts and seconds are over the run (the
/// increase of the kernel's cumulative counters from the first sample to the last); a
/// figure that could not be read is null.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupCapacity {
    /// As the header records it; null when the log has only the counters.
    pub path: Option<String>,
    pub version: Option<String>,
    pub container_id: Option<String>,
    /// The cgroup is the target (its anon memory judged), not a process's cgroup.
    pub is_target: bool,
    pub memory_peak_bytes: Option<u64>,
    pub anon_peak_bytes: Option<u64>,
    pub file_peak_bytes: Option<u64>,
    pub working_set_peak_bytes: Option<u64>,
    /// Median working set after its warm-up.
    pub working_set_steady_bytes: Option<u64>,
    /// (limit − working set) / limit, percent, of the peak and the steady level.
    pub working_set_headroom_pct: Option<f64>,
    pub working_set_steady_headroom_pct: Option<f64>,
    /// The cgroup's CPU, cores: over the run, and the 95th percentile of the intervals.
    pub cpu_mean_cores: Option<f64>,
    pub cpu_p95_cores: Option<f64>,
    pub periods: Option<u64>,
    pub throttled_periods: Option<u64>,
    /// throttled_periods / periods × 100; null when no period was counted (no quota).
    pub throttled_pct: Option<f64>,
    pub throttled_s: Option<f64>,
    /// OOM kills during the run (0 when the counter was read and did not rise).
    pub oom_kills: Option<u64>,
    /// Times the cgroup hit its limit and reclaim could not make room (v2 `oom`).
    pub oom_events: Option<u64>,
    pub oom_kill_events: Vec<OomKill>,
    /// v1: samples that found the cgroup out of memory with its OOM killer disabled (its
    /// tasks waiting); null when not read.
    pub under_oom_samples: Option<u64>,
    /// PSI stall seconds over the run, and as a share of it (percent): some task waiting
    /// for memory, every task waiting; some task waiting for CPU.
    pub memory_stall_some_s: Option<f64>,
    pub memory_stall_some_pct: Option<f64>,
    pub memory_stall_full_s: Option<f64>,
    pub memory_stall_full_pct: Option<f64>,
    pub cpu_stall_some_s: Option<f64>,
    pub cpu_stall_some_pct: Option<f64>,
    /// With a load driver: p95 with the cgroup throttled against without.
    pub latency_when_throttled: Option<ThrottledLatency>,
    /// What a capacity planner reads, a sentence each.
    pub summary: Vec<String>,
}

/// What the run is judged against, and on, here.
pub struct CgroupInputs<'a> {
    pub columns: &'a Columns,
    pub events: &'a [Event],
    pub target: Option<&'a CgroupTarget>,
    pub limits: &'a Limits,
    pub thresholds: &'a Thresholds,
    pub load: Option<&'a LoadRun>,
    /// The working set's trend, for its warm-up.
    pub working_set: Option<&'a MetricTrend>,
}

/// Increase of a cumulative counter over the run (the columns keep its steps, resets
/// already counted from 0, see [`Metric::is_counter`]). `None` with fewer than two values.
pub fn counter_increase(columns: &Columns, metric: Metric) -> Option<f64> {
    (columns.present(metric) >= 2).then(|| columns.points(metric).map(|(_, step)| step).sum())
}

/// `(t, increase since the value before, seconds since it)` of a cumulative counter.
fn counter_steps(columns: &Columns, metric: Metric) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
    let mut prev_t: Option<f64> = None;
    columns.points(metric).filter_map(move |(t, step)| {
        let before = prev_t.replace(t)?;
        Some((t, step, t - before))
    })
}

/// Share of CFS periods throttled in each interval between samples, percent, at the
/// interval's end; intervals with no period counted are left out.
pub fn throttled_share_series(columns: &Columns) -> Vec<(f64, f64)> {
    let periods: Vec<(f64, f64)> = counter_steps(columns, Metric::CgroupPeriods)
        .map(|(t, d, _)| (t, d))
        .collect();
    let throttled: Vec<(f64, f64)> = counter_steps(columns, Metric::CgroupThrottledPeriods)
        .map(|(t, d, _)| (t, d))
        .collect();
    // Both counters come from one file, so they share their rows; pair them by time.
    let mut out = Vec::new();
    let mut k = 0;
    for (t, dp) in periods {
        while k < throttled.len() && throttled[k].0 < t {
            k += 1;
        }
        if let Some(&(tt, dthr)) = throttled.get(k)
            && tt == t
            && dp > 0.0
        {
            out.push((t, (dthr / dp * 100.0).min(100.0)));
        }
    }
    out
}

/// The cgroup's CPU in cores over each interval between samples, at the interval's end.
pub fn cgroup_cpu_series(columns: &Columns) -> Vec<(f64, f64)> {
    counter_steps(columns, Metric::CgroupCpuUs)
        .filter(|&(_, _, dt)| dt > 0.0)
        .map(|(t, dus, dt)| (t, dus / 1e6 / dt))
        .collect()
}

/// A counter's running total (`(t, total)`, ascending) at time `t`, interpolated between
/// the samples around it; `None` outside them.
fn counter_at(points: &[(f64, f64)], t: f64) -> Option<f64> {
    let i = points.partition_point(|&(pt, _)| pt < t);
    let (t1, v1) = *points.get(i)?;
    if t1 == t {
        return Some(v1);
    }
    let (t0, v0) = *points.get(i.checked_sub(1)?)?;
    (t1 > t0 && v1 >= v0).then(|| v0 + (v1 - v0) * (t - t0) / (t1 - t0))
}

/// The judge: the cgroup's capacity figures and its findings; `None` when the run read no
/// cgroup (an older log, a process without one): such a run is judged as before.
pub fn judge_cgroup(input: &CgroupInputs) -> Option<(CgroupCapacity, Vec<Finding>)> {
    let columns = input.columns;
    let has_counters = [
        Metric::CgroupMemory,
        Metric::CgroupAnon,
        Metric::CgroupWorkingSet,
        Metric::CgroupOomKills,
        Metric::CgroupPeriods,
        Metric::CgroupCpuUs,
    ]
    .iter()
    .any(|&m| columns.present(m) > 0);
    let oom_events_logged = input
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::OomKill { .. }));
    if input.target.is_none() && !has_counters && !oom_events_logged {
        return None;
    }
    let mut cap = CgroupCapacity {
        path: input.target.map(|c| c.path.clone()),
        version: input.target.map(|c| c.version.clone()),
        container_id: input.target.and_then(|c| c.container_id.clone()),
        is_target: input.target.is_some_and(|c| c.is_target),
        ..CgroupCapacity::default()
    };
    memory_figures(input, &mut cap);
    cpu_figures(columns, &mut cap);
    pressure_figures(columns, &mut cap);
    cap.oom_kill_events = oom_kills(columns, input.events);
    let logged_kills: u64 = cap.oom_kill_events.iter().map(|k| k.kills).sum();
    cap.oom_kills = counter_increase(columns, Metric::CgroupOomKills)
        .map(|k| (k as u64).max(logged_kills))
        .or((logged_kills > 0).then_some(logged_kills));
    cap.oom_events = counter_increase(columns, Metric::CgroupOomEvents).map(|v| v as u64);
    cap.under_oom_samples = (columns.present(Metric::CgroupUnderOom) > 0).then(|| {
        columns
            .points(Metric::CgroupUnderOom)
            .filter(|&(_, v)| v > 0.0)
            .count() as u64
    });
    if let Some(load) = input.load {
        cap.latency_when_throttled = throttled_latency(columns, load, input.thresholds);
    }
    let mut findings = Vec::new();
    findings.extend(oom_finding(&cap, input.limits));
    findings.extend(oom_without_kill_finding(&cap));
    findings.extend(under_oom_finding(columns, &cap));
    findings.extend(throttle_finding(&cap, input.limits, input.thresholds));
    findings.extend(pressure_finding(&cap, columns));
    cap.summary = summary(&cap, input.limits);
    Some((cap, findings))
}

fn memory_figures(input: &CgroupInputs, cap: &mut CgroupCapacity) {
    let columns = input.columns;
    cap.memory_peak_bytes = columns.max_int(Metric::CgroupMemory);
    cap.anon_peak_bytes = columns.max_int(Metric::CgroupAnon);
    cap.file_peak_bytes = columns.max_int(Metric::CgroupFile);
    cap.working_set_peak_bytes = columns.max_int(Metric::CgroupWorkingSet);
    cap.working_set_steady_bytes =
        super::capacity::steady(columns, Metric::CgroupWorkingSet, input.working_set);
    if let Some(limit) = input.limits.mem_limit_bytes.filter(|&l| l > 0) {
        let headroom = |b: u64| (limit as f64 - b as f64) / limit as f64 * 100.0;
        cap.working_set_headroom_pct = cap.working_set_peak_bytes.map(headroom);
        cap.working_set_steady_headroom_pct = cap.working_set_steady_bytes.map(headroom);
    }
}

fn run_span_s(columns: &Columns) -> f64 {
    match (columns.t().first(), columns.t().last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    }
}

fn cpu_figures(columns: &Columns, cap: &mut CgroupCapacity) {
    let series = cgroup_cpu_series(columns);
    let span: f64 = counter_steps(columns, Metric::CgroupCpuUs)
        .map(|(_, _, dt)| dt)
        .sum();
    if let Some(us) = counter_increase(columns, Metric::CgroupCpuUs)
        && span > 0.0
    {
        cap.cpu_mean_cores = Some(us / 1e6 / span);
        cap.cpu_p95_cores = stats::quantile_of(|| series.iter().map(|&(_, c)| c), 0.95);
    }
    let periods = counter_increase(columns, Metric::CgroupPeriods);
    let throttled = counter_increase(columns, Metric::CgroupThrottledPeriods);
    cap.periods = periods.map(|p| p as u64);
    cap.throttled_periods = throttled.map(|p| p as u64);
    if let (Some(p), Some(thr)) = (periods, throttled)
        && p > 0.0
    {
        cap.throttled_pct = Some((thr / p * 100.0).min(100.0));
    }
    cap.throttled_s = counter_increase(columns, Metric::CgroupThrottledUs).map(|us| us / 1e6);
}

fn pressure_figures(columns: &Columns, cap: &mut CgroupCapacity) {
    let span = run_span_s(columns);
    let stall = |m| {
        let s = counter_increase(columns, m).map(|us| us / 1e6);
        let pct = s
            .filter(|_| span > 0.0)
            .map(|s| (s / span * 100.0).min(100.0));
        (s, pct)
    };
    (cap.memory_stall_some_s, cap.memory_stall_some_pct) = stall(Metric::CgroupMemoryStallSomeUs);
    (cap.memory_stall_full_s, cap.memory_stall_full_pct) = stall(Metric::CgroupMemoryStallFullUs);
    (cap.cpu_stall_some_s, cap.cpu_stall_some_pct) = stall(Metric::CgroupCpuStallSomeUs);
}

/// The OOM kills of the run: every `oom_kill` event, and every rise of the OOM-kill count
/// with no event between the samples around it (a log of an older or a partial recorder).
fn oom_kills(columns: &Columns, events: &[Event]) -> Vec<OomKill> {
    let mut kills: Vec<OomKill> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OomKill { kills, victims, .. } => Some(OomKill {
                t_s: e.t,
                kills: *kills,
                victims: victims.clone(),
            }),
            _ => None,
        })
        .collect();
    let points: Vec<(f64, f64)> = columns.points(Metric::CgroupOomKills).collect();
    for i in 1..points.len() {
        let ((t0, _), (t1, rise)) = (points[i - 1], points[i]);
        if rise <= 0.0 {
            continue;
        }
        let t_next = points.get(i + 1).map_or(f64::INFINITY, |p| p.0);
        let logged = kills.iter().any(|k| k.t_s > t0 && k.t_s < t_next);
        if !logged {
            kills.push(OomKill {
                t_s: t1,
                kills: rise as u64,
                victims: Vec::new(),
            });
        }
    }
    kills.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    kills
}

/// "PID 1234 (api)" for each victim, and "1 more process" for kills without one.
fn victims_text(kill: &OomKill) -> String {
    let mut parts: Vec<String> = kill
        .victims
        .iter()
        .map(|v| match &v.name {
            Some(name) => format!("PID {} ({name})", v.pid),
            None => format!("PID {}", v.pid),
        })
        .collect();
    let unnamed = kill.kills.saturating_sub(kill.victims.len() as u64);
    if unnamed > 0 {
        let what = if unnamed == 1 { "process" } else { "processes" };
        parts.push(if parts.is_empty() {
            format!("{unnamed} {what} (not identified)")
        } else {
            format!("{unnamed} more {what}")
        });
    }
    parts.join(", ")
}

/// Most OOM kills a reason lists one by one.
const OOM_KILLS_LISTED: usize = 3;

/// "the OOM killer killed PID 1234 (api) at 12 s: the cgroup hit its 16 MiB limit".
fn oom_finding(cap: &CgroupCapacity, limits: &Limits) -> Option<Finding> {
    let kills = &cap.oom_kill_events;
    if kills.is_empty() {
        return None;
    }
    let listed: Vec<String> = kills
        .iter()
        .take(OOM_KILLS_LISTED)
        .map(|k| format!("{} at {}", victims_text(k), format_duration_s(k.t_s)))
        .collect();
    let mut text = format!("the OOM killer killed {}", listed.join("; "));
    if kills.len() > OOM_KILLS_LISTED {
        let total = cap.oom_kills.unwrap_or(0);
        text.push_str(&format!(" and more ({total} OOM kills in all)"));
    }
    text.push_str(&match limits.mem_limit_bytes {
        Some(limit) => format!(": the cgroup hit its {} limit", format_limit(limit)),
        None => ": the cgroup ran out of memory".to_string(),
    });
    Some(Finding::new(Verdict::Fail, Subject::Cgroup, text))
}

/// The reason an OOM kill in the run's cgroup fails it, when there was one (for
/// `--fail-fast`, which need not wait for anything else).
pub fn oom_kill_reason(columns: &Columns, events: &[Event], limits: &Limits) -> Option<String> {
    let kills = oom_kills(columns, events);
    let cap = CgroupCapacity {
        oom_kills: Some(kills.iter().map(|k| k.kills).sum()),
        oom_kill_events: kills,
        ..CgroupCapacity::default()
    };
    oom_finding(&cap, limits).map(|f| f.text)
}

/// The cgroup hit its limit with nothing killed: tasks waited or allocations failed.
fn oom_without_kill_finding(cap: &CgroupCapacity) -> Option<Finding> {
    let events = cap.oom_events.filter(|&n| n > 0)?;
    if cap.oom_kills.unwrap_or(0) > 0 {
        return None;
    }
    let times = if events == 1 { "once" } else { "times" };
    let count = if events == 1 {
        String::new()
    } else {
        format!("{events} ")
    };
    Some(Finding::new(
        Verdict::Warn,
        Subject::Cgroup,
        format!(
            "the cgroup hit its memory limit {count}{times} without an OOM kill: allocations failed or its tasks waited for memory"
        ),
    ))
}

/// v1 with the OOM killer disabled: the cgroup sat out of memory, its tasks waiting.
fn under_oom_finding(columns: &Columns, cap: &CgroupCapacity) -> Option<Finding> {
    let samples = cap.under_oom_samples.filter(|&n| n > 0)?;
    let from = columns
        .points(Metric::CgroupUnderOom)
        .find(|&(_, v)| v > 0.0)
        .map(|(t, _)| t)?;
    Some(Finding::new(
        Verdict::Warn,
        Subject::Cgroup,
        format!(
            "the cgroup was out of memory with its OOM killer disabled in {samples} sample(s), from {}: its tasks waited for memory",
            format_duration_s(from)
        ),
    ))
}

/// "at 0.5 CPU" or "the cgroup".
fn at_cpu(limits: &Limits) -> String {
    match limits.cpu_limit_cores {
        Some(cores) => format!("at {} CPU the target", three_figures(cores)),
        None => "the cgroup".to_string(),
    }
}

/// "at 0.5 CPU the target was throttled in 34% of periods (41 s throttled)".
fn throttle_text(cap: &CgroupCapacity, limits: &Limits) -> Option<String> {
    let pct = cap.throttled_pct?;
    let seconds = cap.throttled_s.map_or_else(String::new, |s| {
        format!(", {} throttled", format_duration_s(s))
    });
    Some(format!(
        "{} was throttled in {:.0}% of {} CFS periods{seconds}",
        at_cpu(limits),
        pct,
        cap.periods.unwrap_or(0)
    ))
}

/// "; p95 rose from 40 ms to 310 ms while throttled".
fn latency_clause(cap: &CgroupCapacity) -> Option<String> {
    let l = cap.latency_when_throttled.as_ref()?;
    let moved = if l.p95_throttled_ms > l.p95_unthrottled_ms {
        "rose"
    } else {
        "went"
    };
    Some(format!(
        "p95 {moved} from {} ms to {} ms while throttled ({} load intervals with {:.0}% or more of periods throttled, {} with under {:.0}%)",
        format_ms(l.p95_unthrottled_ms),
        format_ms(l.p95_throttled_ms),
        l.throttled_intervals,
        l.throttled_from_pct,
        l.unthrottled_intervals,
        l.unthrottled_below_pct
    ))
}

fn throttle_finding(cap: &CgroupCapacity, limits: &Limits, th: &Thresholds) -> Option<Finding> {
    let pct = cap.throttled_pct?;
    if pct <= th.max_throttled_pct || cap.periods.unwrap_or(0) < THROTTLE_MIN_PERIODS {
        return None;
    }
    let verdict = match th.throttled_gate {
        GateLevel::Warn => Verdict::Warn,
        GateLevel::Fail => Verdict::Fail,
    };
    let mut text = format!(
        "{}, above --max-throttled {}%",
        throttle_text(cap, limits)?,
        format_pct(th.max_throttled_pct)
    );
    if let Some(latency) = latency_clause(cap) {
        text.push_str("; ");
        text.push_str(&latency);
    }
    Some(Finding::new(verdict, Subject::Cgroup, text))
}

fn pressure_finding(cap: &CgroupCapacity, columns: &Columns) -> Option<Finding> {
    let full = cap.memory_stall_full_pct?;
    if full < MEM_FULL_STALL_WARN_PCT {
        return None;
    }
    Some(Finding::new(
        Verdict::Warn,
        Subject::Cgroup,
        format!(
            "every task of the cgroup stalled waiting for memory {:.1}% of the time ({} of {}): it is short of memory (reclaim or swap), whatever its growth",
            full,
            format_duration_s(cap.memory_stall_full_s.unwrap_or(0.0)),
            format_duration_s(run_span_s(columns))
        ),
    ))
}

/// The sentences of `capacity.cgroup.summary`.
fn summary(cap: &CgroupCapacity, limits: &Limits) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = |b: u64| format_bytes(b as f64);
    if let Some(peak) = cap.working_set_peak_bytes {
        let mut s = format!("the working set peaked at {}", bytes(peak));
        match (limits.mem_limit_bytes, cap.working_set_headroom_pct) {
            (Some(limit), Some(h)) => s.push_str(&format!(
                " of the {} limit ({:.0}% headroom)",
                format_limit(limit),
                h
            )),
            _ => s.push_str(" (no memory limit)"),
        }
        if let Some(steady) = cap.working_set_steady_bytes {
            s.push_str(&format!(", steady {}", bytes(steady)));
        }
        let parts: Vec<String> = [
            ("anon", cap.anon_peak_bytes),
            ("page cache", cap.file_peak_bytes),
        ]
        .iter()
        .filter_map(|(what, b)| b.map(|b| format!("{what} up to {}", bytes(b))))
        .collect();
        if !parts.is_empty() {
            s.push_str(&format!("; {}", parts.join(", ")));
        }
        out.push(s);
    }
    match (throttle_text(cap, limits), cap.cpu_mean_cores) {
        (Some(mut s), _) => {
            if let Some(latency) = latency_clause(cap) {
                s.push_str("; ");
                s.push_str(&latency);
            }
            out.push(s);
        }
        (None, Some(mean)) => out.push(format!(
            "the cgroup used {} cores on average, never throttled (no CFS period counted: no CPU quota)",
            three_figures(mean)
        )),
        (None, None) => {}
    }
    match cap.oom_kills {
        Some(0) => out.push("no OOM kill".to_string()),
        Some(n) => {
            let listed: Vec<String> = cap
                .oom_kill_events
                .iter()
                .take(OOM_KILLS_LISTED)
                .map(|k| format!("{} at {}", victims_text(k), format_duration_s(k.t_s)))
                .collect();
            out.push(format!(
                "{n} OOM kill{} during the run: {}",
                if n == 1 { "" } else { "s" },
                listed.join("; ")
            ));
        }
        None => {}
    }
    if let Some(some) = cap.memory_stall_some_pct {
        out.push(format!(
            "memory pressure: some task stalled waiting for memory {:.1}% of the time, every task {}",
            some,
            cap.memory_stall_full_pct
                .map_or_else(|| "(not read)".to_string(), |f| format!("{f:.1}%"))
        ));
    }
    out
}

/// p95 of load intervals with the cgroup throttled (at least `--max-throttled` of their
/// periods) against those without (under a quarter of it); `None` with fewer than
/// `LATENCY_MIN_INTERVALS` of either with responses.
fn throttled_latency(
    columns: &Columns,
    load: &LoadRun,
    th: &Thresholds,
) -> Option<ThrottledLatency> {
    let periods: Vec<(f64, f64)> = columns.cumulative(Metric::CgroupPeriods).collect();
    let throttled: Vec<(f64, f64)> = columns.cumulative(Metric::CgroupThrottledPeriods).collect();
    let high = th.max_throttled_pct;
    let low = th.max_throttled_pct * UNTHROTTLED_FRACTION_OF_GATE;
    let (mut hot, mut cold) = (Vec::new(), Vec::new());
    for interval in load
        .intervals
        .iter()
        .filter(|i| i.requests > 0 && i.dt_s > 0.0)
    {
        let (from, to) = (interval.t - interval.dt_s, interval.t);
        let delta =
            |points: &[(f64, f64)]| Some(counter_at(points, to)? - counter_at(points, from)?);
        let (Some(dp), Some(dt)) = (delta(&periods), delta(&throttled)) else {
            continue;
        };
        if dp <= 0.0 {
            continue;
        }
        let share = dt / dp * 100.0;
        if share >= high {
            hot.push(interval);
        } else if share < low {
            cold.push(interval);
        }
    }
    if hot.len() < LATENCY_MIN_INTERVALS || cold.len() < LATENCY_MIN_INTERVALS {
        return None;
    }
    let p95 = |group: &[&crate::runlog::load::LoadInterval]| -> Option<f64> {
        // Exact when every interval has its histogram: merge them; else the median of
        // the intervals' own p95.
        let mut merged = new_latency_histogram().ok()?;
        let all_merged = group.iter().all(|i| {
            i.hist
                .as_deref()
                .and_then(decode_histogram)
                .is_some_and(|h| merged.add(&h).is_ok())
        });
        if all_merged && !merged.is_empty() {
            return Some(merged.value_at_quantile(0.95) as f64 / 1000.0);
        }
        stats::median_of(|| group.iter().filter_map(|i| i.latency_ms.p95))
    };
    Some(ThrottledLatency {
        throttled_from_pct: high,
        unthrottled_below_pct: low,
        throttled_intervals: hot.len(),
        unthrottled_intervals: cold.len(),
        p95_throttled_ms: p95(&hot)?,
        p95_unthrottled_ms: p95(&cold)?,
    })
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
