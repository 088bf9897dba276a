//! The top of the page: the verdict banner with its links, the findings, the metrics
//! table and the capacity table.

use super::{escape, header_row, kv, verdict_cell};
use crate::analysis::{JudgedMemory, MetricTrend, RunVerdict};
use crate::report::{
    metric_trends, pid_list, target_label, trend_rate, trend_value, trend_verdict,
};
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};

fn percent(value: f64) -> String {
    format!("{}%", three_figures(value))
}

/// A p-value for people: `0.0312`, `< 0.0001`.
fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "n/a".to_string()
    } else if p < 1e-4 {
        "&lt; 0.0001".to_string()
    } else {
        format!("{p:.4}")
    }
}

/// Where a verdict's sections are: alone on report.html, or one of many on fleet.html,
/// where each series' ids are prefixed with its own (`s3-metrics`, unique in the page),
/// its headings sit a level lower (the page has its own `<h1>`) and only the sections the
/// fleet page gives a series are linked.
#[derive(Clone, Copy, Debug)]
pub(super) enum Place<'a> {
    Report,
    Series { id: &'a str, name: &'a str },
}

impl Place<'_> {
    /// The id of the section `name` here.
    fn id(self, name: &str) -> String {
        match self {
            Place::Report => name.to_string(),
            Place::Series { id, .. } => format!("{id}-{name}"),
        }
    }

    /// `<section id="…">` and its `<h2>` (an `<h3>` on fleet.html); `title` is HTML.
    fn open(self, out: &mut String, name: &str, title: &str) {
        let level = match self {
            Place::Report => 2,
            Place::Series { .. } => 3,
        };
        out.push_str(&format!(
            "<section id=\"{}\">\n<h{level}>{title}</h{level}>\n",
            escape(&self.id(name))
        ));
    }
}

pub(super) fn header(out: &mut String, verdict: &RunVerdict, place: Place<'_>) {
    let word = verdict.verdict.as_str();
    let target = &verdict.target;
    out.push_str(&format!(
        "<header class=\"verdict\">\n<div class=\"badge v-{word}\" role=\"status\" aria-label=\"verdict: {word}\">{}</div>\n",
        word.to_uppercase()
    ));
    let mut links = vec![
        ("reasons", "Findings"),
        ("metrics", "Metrics"),
        ("capacity", "Capacity"),
    ];
    match place {
        Place::Report => {
            out.push_str(&format!(
                "<div>\n<h1>Soak report: {}</h1>\n<p class=\"sub\">verdict <strong>{word}</strong> · {} samples over {} of <strong>{}</strong> ({}), started {}</p>\n",
                escape(target_label(target)),
                verdict.samples,
                escape(&format_duration_s(verdict.duration_s)),
                escape(target_label(target)),
                escape(&pid_list(target)),
                escape(&verdict.started_at),
            ));
            if verdict.load.is_some() {
                links.push(("load", "Load"));
            }
            links.extend([("charts", "Charts"), ("run", "Target and run")]);
        }
        // A series has no process: its name is its labels.
        Place::Series { id, name } => out.push_str(&format!(
            "<div>\n<h2>{}: <code>{}</code></h2>\n<p class=\"sub\">verdict <strong>{word}</strong> · {} samples over {}, from {}</p>\n",
            escape(id),
            escape(name),
            verdict.samples,
            escape(&format_duration_s(verdict.duration_s)),
            escape(&verdict.started_at),
        )),
    }
    out.push_str("<nav>");
    for (id, text) in links {
        out.push_str(&format!(
            "<a href=\"#{}\">{text}</a>",
            escape(&place.id(id))
        ));
    }
    out.push_str("</nav>\n</div>\n</header>\n");
}

pub(super) fn reasons(out: &mut String, verdict: &RunVerdict, place: Place<'_>) {
    place.open(out, "reasons", "Findings");
    if verdict.reasons.is_empty() {
        out.push_str("<p>Nothing to report: every metric stayed within its thresholds.</p>\n");
    } else {
        out.push_str("<ul class=\"reasons\">\n");
        for reason in &verdict.reasons {
            out.push_str(&format!("<li>{}</li>\n", escape(reason)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// Warm-up, growth onset and sawtooth of a trend, as a short note.
fn trend_notes(trend: &MetricTrend) -> String {
    let mut notes = Vec::new();
    if let Some(onset) = trend.onset_s {
        notes.push(format!("growth from {}", format_duration_s(onset)));
    }
    if let Some(period) = trend.cycle_period_s {
        notes.push(format!(
            "sawtooth every {}, trend of its floor",
            format_duration_s(period)
        ));
    }
    if !trend.judged {
        notes.push("reported, not judged".to_string());
    }
    notes.join("; ")
}

pub(super) fn metrics(out: &mut String, verdict: &RunVerdict, place: Place<'_>) {
    place.open(out, "metrics", "Metrics");
    out.push_str("<table class=\"metrics\">\n<thead>");
    header_row(
        out,
        &[
            "metric",
            "verdict",
            "slope",
            "95% CI of the slope",
            "robust slope",
            "trend p-value",
            "first",
            "last",
            "peak",
            "warm-up",
            "notes",
        ],
    );
    out.push_str("</thead>\n<tbody>\n");
    let m = &verdict.metrics;
    let mut any = false;
    for (name, trend) in metric_trends(m) {
        let Some(t) = trend else { continue };
        any = true;
        let num = |text: String| format!("<td class=\"num\">{}</td>", escape(&text));
        out.push_str(&format!("<tr><th scope=\"row\">{}</th>", escape(name)));
        out.push_str(&verdict_cell(trend_verdict(t)));
        out.push_str(&num(trend_rate(t, t.slope_per_min)));
        out.push_str(&num(format!(
            "{} to {}",
            trend_rate(t, t.slope_ci[0]),
            trend_rate(t, t.slope_ci[1])
        )));
        out.push_str(&num(t
            .robust_slope_per_min
            .map_or_else(|| "n/a".to_string(), |s| trend_rate(t, s))));
        out.push_str(&format!(
            "<td class=\"num\">{}</td>",
            p_value(t.trend_p_value)
        ));
        out.push_str(&num(trend_value(t, t.first)));
        out.push_str(&num(trend_value(t, t.last)));
        out.push_str(&num(trend_value(t, t.max)));
        out.push_str(&num(if t.warmup_s > 0.0 {
            format_duration_s(t.warmup_s)
        } else {
            "none".to_string()
        }));
        out.push_str(&format!("<td>{}</td></tr>\n", escape(&trend_notes(t))));
    }
    if let Some(cpu) = &m.cpu {
        any = true;
        out.push_str("<tr><th scope=\"row\">CPU</th>");
        out.push_str(&verdict_cell(cpu.verdict.as_str()));
        out.push_str(&format!(
            "<td colspan=\"9\">mean {} cores, p95 {}, max {}{}</td></tr>\n",
            three_figures(cpu.mean_cores),
            three_figures(cpu.p95_cores),
            three_figures(cpu.max_cores),
            verdict
                .capacity
                .cpu_limit_cores
                .map_or(String::new(), |l| format!(
                    " (limit {} cores)",
                    three_figures(l)
                )),
        ));
    }
    if !any {
        out.push_str("<tr><td colspan=\"11\">No metric could be read.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    let th = &verdict.thresholds;
    out.push_str(&format!(
        "<p class=\"note\">Slopes per minute over the analysed span (after the warm-up), with a 95% confidence interval corrected for autocorrelation; robust slope: Theil–Sen; p-value: Mann–Kendall trend test. Thresholds: memory warns above {}, fails above {}; threads fail above {}, FDs above {}; warm-up {}.</p>\n",
        escape(&format_byte_rate(th.warn_growth_bytes_per_min)),
        escape(&format_byte_rate(th.max_growth_bytes_per_min)),
        escape(&format_count_rate(th.max_thread_growth_per_min)),
        escape(&format_count_rate(th.max_fd_growth_per_min)),
        th.warmup_s
            .map_or_else(|| "detected automatically".to_string(), |s| escape(&format_duration_s(s))),
    ));
    out.push_str("</section>\n");
}

/// `81.2 MB (37% headroom)`.
fn with_headroom(bytes: u64, headroom_pct: Option<f64>) -> String {
    match headroom_pct {
        Some(h) => format!("{} ({} headroom)", format_bytes(bytes as f64), percent(h)),
        None => format_bytes(bytes as f64),
    }
}

/// `longest span 1 m 20 s, from 2 m 0 s` or `never`.
fn longest_span(longest_s: Option<f64>, from_s: Option<f64>) -> Option<String> {
    longest_s.map(|s| {
        if s > 0.0 {
            match from_s {
                Some(from) => format!(
                    "longest span {}, from {}",
                    format_duration_s(s),
                    format_duration_s(from)
                ),
                None => format!("longest span {}", format_duration_s(s)),
            }
        } else {
            "never".to_string()
        }
    })
}

pub(super) fn capacity(out: &mut String, verdict: &RunVerdict, place: Place<'_>) {
    let cap = &verdict.capacity;
    place.open(out, "capacity", "Capacity");
    out.push_str("<table class=\"kv\">\n");
    let source = |s: &Option<String>| {
        s.as_ref()
            .map_or(String::new(), |s| format!(" (from {})", escape(s)))
    };
    match cap.mem_limit_bytes {
        Some(limit) => kv(
            out,
            "memory limit",
            &format!(
                "{}{}",
                escape(&format_bytes(limit as f64)),
                source(&cap.mem_limit_source)
            ),
        ),
        None => kv(
            out,
            "memory limit",
            "none (give <code>--mem-limit</code>, or run the target in a cgroup with a limit)",
        ),
    }
    let label = cap.judged_memory.kind().label();
    if !cap.judged_memory_reason.is_empty() {
        kv(
            out,
            "judged memory",
            &escape(&format!("{label}: {}", cap.judged_memory_reason)),
        );
    }
    // Verdicts written before the judged memory was recorded hold RSS figures only.
    let (peak, steady) = match (cap.peak_bytes, cap.judged_memory_reason.is_empty()) {
        (Some(peak), false) => (Some(peak), cap.steady_bytes),
        _ => (cap.peak_rss_bytes, cap.steady_rss_bytes),
    };
    if let Some(peak) = peak {
        kv(
            out,
            &format!("peak {label}"),
            &escape(&with_headroom(peak, cap.headroom_pct)),
        );
    }
    if let Some(steady) = steady {
        kv(
            out,
            &format!("steady {label} (median after warm-up)"),
            &escape(&with_headroom(steady, cap.steady_headroom_pct)),
        );
    }
    if cap.judged_memory != JudgedMemory::Rss
        && let Some(rss) = cap.peak_rss_bytes
    {
        kv(
            out,
            "peak summed RSS (not judged)",
            &escape(&format_bytes(rss as f64)),
        );
    }
    if cap.mem_limit_bytes.is_some() {
        kv(
            out,
            "time to the limit",
            &escape(&cap.time_to_limit_s.map_or_else(
                || "not reached at this trend".to_string(),
                |s| {
                    format!(
                        "{} after the end of the run, at this trend",
                        format_duration_s(s)
                    )
                },
            )),
        );
    }
    if let Some(text) = longest_span(cap.mem_over_90pct_longest_s, cap.mem_over_90pct_from_s) {
        kv(out, "RSS above 90% of the limit", &escape(&text));
    }
    match cap.cpu_limit_cores {
        Some(limit) => kv(
            out,
            "CPU limit",
            &format!(
                "{} cores{}",
                escape(&three_figures(limit)),
                source(&cap.cpu_limit_source)
            ),
        ),
        None => kv(
            out,
            "CPU limit",
            "none (give <code>--cpu-limit</code>, or run the target in a cgroup with a quota)",
        ),
    }
    if let Some(pct) = cap.over_quota_pct {
        kv(
            out,
            "CPU over the quota",
            &escape(&format!("{} of the time", percent(pct))),
        );
    }
    if let Some(text) = longest_span(cap.cpu_over_95pct_longest_s, cap.cpu_over_95pct_from_s) {
        kv(out, "CPU above 95% of the quota", &escape(&text));
    }
    if let Some(cgroup) = &cap.cgroup {
        super::cgroup::cgroup_rows(out, cgroup);
    }
    out.push_str("</table>\n</section>\n");
}
