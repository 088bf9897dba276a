//! The cgroup's rows of the capacity table: what it is, its working set against the limit,
//! throttling, OOM kills and pressure, and the sentences a capacity planner reads.

use super::{escape, kv};
use crate::analysis::cgroup::{CgroupCapacity, format_pct};
use crate::units::{format_bytes, format_duration_s, three_figures};

/// `81.2 MB (37% headroom)`, or the bytes alone without a limit.
fn bytes_with_headroom(bytes: u64, headroom_pct: Option<f64>) -> String {
    match headroom_pct {
        Some(h) => format!(
            "{} ({}% headroom)",
            format_bytes(bytes as f64),
            three_figures(h)
        ),
        None => format_bytes(bytes as f64),
    }
}

/// `12 s (3.4% of the run)`.
fn stall(seconds: Option<f64>, pct: Option<f64>) -> Option<String> {
    let s = seconds?;
    Some(match pct {
        Some(p) => format!("{} ({:.1}% of the run)", format_duration_s(s), p),
        None => format_duration_s(s),
    })
}

/// The working set against the limit, and the peaks of the cgroup's memory.
fn memory_rows(out: &mut String, cap: &CgroupCapacity) {
    if let Some(peak) = cap.working_set_peak_bytes {
        kv(
            out,
            "peak working set",
            &escape(&bytes_with_headroom(peak, cap.working_set_headroom_pct)),
        );
    }
    if let Some(steady) = cap.working_set_steady_bytes {
        kv(
            out,
            "steady working set (median after warm-up)",
            &escape(&bytes_with_headroom(
                steady,
                cap.working_set_steady_headroom_pct,
            )),
        );
    }
    let peaks: Vec<String> = [
        ("in use", cap.memory_peak_bytes),
        ("anon", cap.anon_peak_bytes),
        ("page cache", cap.file_peak_bytes),
    ]
    .iter()
    .filter_map(|(name, b)| b.map(|b| format!("{name} {}", format_bytes(b as f64))))
    .collect();
    if !peaks.is_empty() {
        kv(out, "cgroup memory peaks", &escape(&peaks.join(", ")));
    }
}

pub(super) fn cgroup_rows(out: &mut String, cap: &CgroupCapacity) {
    let what = match (&cap.path, &cap.version) {
        (Some(path), Some(version)) => format!("{path} (cgroup {version})"),
        (Some(path), None) => path.clone(),
        _ => "read from the samples".to_string(),
    };
    let role = if cap.is_target {
        "the target: its anon memory is judged"
    } else {
        "the target's own cgroup: reported, not judged"
    };
    kv(out, "cgroup", &escape(&format!("{what}; {role}")));
    memory_rows(out, cap);
    if let Some(mean) = cap.cpu_mean_cores {
        let p95 = cap
            .cpu_p95_cores
            .map_or(String::new(), |p| format!(", p95 {}", three_figures(p)));
        kv(
            out,
            "cgroup CPU",
            &escape(&format!("mean {} cores{p95}", three_figures(mean))),
        );
    }
    let throttled = match (cap.throttled_pct, cap.periods) {
        (Some(pct), Some(periods)) => format!(
            "{}% of {periods} CFS periods{}",
            three_figures(pct),
            cap.throttled_s.map_or(String::new(), |s| format!(
                ", {} throttled",
                format_duration_s(s)
            ))
        ),
        _ => "no CFS period counted (no CPU quota)".to_string(),
    };
    kv(out, "CPU throttled", &escape(&throttled));
    if let Some(l) = &cap.latency_when_throttled {
        kv(
            out,
            "p95 while throttled",
            &escape(&format!(
                "{:.0} ms in {} intervals with {}% or more of periods throttled, {:.0} ms in {} with under {}%",
                l.p95_throttled_ms,
                l.throttled_intervals,
                format_pct(l.throttled_from_pct),
                l.p95_unthrottled_ms,
                l.unthrottled_intervals,
                format_pct(l.unthrottled_below_pct)
            )),
        );
    }
    let kills = match cap.oom_kills {
        None => "not read".to_string(),
        Some(0) => "none".to_string(),
        Some(n) => {
            let times: Vec<String> = cap
                .oom_kill_events
                .iter()
                .map(|k| format_duration_s(k.t_s))
                .collect();
            format!("{n}, at {}", times.join(", "))
        }
    };
    kv(out, "OOM kills", &escape(&kills));
    if let Some(n) = cap.under_oom_samples.filter(|&n| n > 0) {
        kv(
            out,
            "out of memory, OOM killer disabled (v1)",
            &escape(&format!("{n} sample(s)")),
        );
    }
    if let Some(some) = stall(cap.memory_stall_some_s, cap.memory_stall_some_pct) {
        let full = stall(cap.memory_stall_full_s, cap.memory_stall_full_pct)
            .map_or(String::new(), |f| format!("; every task: {f}"));
        kv(
            out,
            "memory pressure stalls",
            &escape(&format!("some task: {some}{full}")),
        );
    }
    if let Some(cpu) = stall(cap.cpu_stall_some_s, cap.cpu_stall_some_pct) {
        kv(
            out,
            "CPU pressure stalls",
            &escape(&format!("some task: {cpu}")),
        );
    }
    if !cap.summary.is_empty() {
        let sentences: Vec<String> = cap
            .summary
            .iter()
            .map(|s| {
                let mut s = escape(s);
                if let Some(first) = s.get(..1) {
                    s = first.to_uppercase() + &s[1..];
                }
                s + "."
            })
            .collect();
        kv(out, "in short", &sentences.join(" "));
    }
}
