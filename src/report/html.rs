//! report.html: one self-contained page with the verdict, the metric table, capacity, load,
//! the charts (the SVG files inlined) and the target and run metadata. Inline CSS only: no
//! scripts, no fonts, nothing fetched from the network. Built as a plain string; every
//! text from the run is escaped (a target's command line may hold `<` or `&`).

use std::fs;
use std::path::{Path, PathBuf};

use super::{
    ReportError, external_status, latency_text, metric_trends, pid_list, target_label, trend_rate,
    trend_value, trend_verdict, volume_text, write_atomic,
};
use crate::analysis::load::{
    LoadSummary, format_error_kinds, format_ms, format_percent, format_rps,
};
use crate::analysis::{MetricTrend, RunVerdict};
use crate::runlog::RunData;
use crate::runlog::load::LatencyMs;
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};

pub const REPORT_FILE: &str = "report.html";

/// The charts in page order, with the accessible name each gets when inlined.
const CHARTS: [(&str, &str); 4] = [
    ("memory.svg", "Memory chart"),
    ("threads_fds.svg", "Threads and open file descriptors chart"),
    ("cpu.svg", "CPU chart"),
    (super::charts::LOAD_CHART_FILE, "Load chart"),
];

/// Write report.html into `dir`, inlining the `.svg` files among `written` (the files
/// `write_all` has just written there). Returns the page's path.
pub fn write_report(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
    written: &[String],
) -> Result<PathBuf, ReportError> {
    let mut names: Vec<&str> = CHARTS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| written.iter().any(|w| w == name))
        .collect();
    // Charts this page does not know by name still show, after the known ones.
    names.extend(
        written
            .iter()
            .map(String::as_str)
            .filter(|w| w.ends_with(".svg") && !CHARTS.iter().any(|(name, _)| name == w)),
    );
    let mut charts = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(name);
        let svg = fs::read_to_string(&path).map_err(|source| ReportError::Read {
            path: path.clone(),
            source,
        })?;
        charts.push((name.to_string(), svg));
    }
    write_atomic(dir, REPORT_FILE, &render(run, verdict, &charts))
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A command line as one would type it: arguments with spaces or shell characters quoted.
fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

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

/// A verdict word in a cell tinted by its class; the word carries the meaning, the
/// colour only repeats it.
fn verdict_cell(word: &str) -> String {
    format!(r#"<td class="v v-{word}">{}</td>"#, word.to_uppercase())
}

/// One `<tr><th>key</th><td>value</td></tr>`; `value` is HTML already.
fn kv(out: &mut String, key: &str, value_html: &str) {
    out.push_str(&format!(
        "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>\n",
        escape(key)
    ));
}

/// A table row of header cells.
fn header_row(out: &mut String, names: &[&str]) {
    out.push_str("<tr>");
    for name in names {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(name)));
    }
    out.push_str("</tr>\n");
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; max-width: 1180px; padding: 0 20px 40px; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 1em; margin: 16px 0 6px; }
header.verdict { display: flex; align-items: center; gap: 20px; padding: 18px 0 12px;
  border-bottom: 2px solid #1f2328; }
.badge { font-size: 2.4em; font-weight: 800; letter-spacing: 0.08em; padding: 6px 22px;
  border: 4px solid; border-radius: 8px; }
.badge.v-pass { color: #0f5323; background: #dafbe1; border-color: #1a7f37; border-style: solid; }
.badge.v-warn { color: #6a4300; background: #fff1c2; border-color: #bf8700; border-style: dashed; }
.badge.v-fail { color: #82071e; background: #ffebe9; border-color: #cf222e; border-style: double; border-width: 6px; }
.sub { color: #59636e; margin: 0; }
nav { margin: 8px 0 0; font-size: 0.9em; }
nav a { color: #0969da; margin-right: 12px; }
ul.reasons { margin: 0; padding-left: 22px; }
ul.reasons li { margin: 2px 0; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
thead th, tr.head th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.v { font-weight: 700; text-align: center; }
.v-pass { background: #dafbe1; color: #0f5323; }
.v-warn { background: #fff1c2; color: #6a4300; }
.v-fail { background: #ffebe9; color: #82071e; }
.v-info { color: #59636e; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.note { color: #59636e; font-size: 0.9em; margin: 2px 0; }
figure { margin: 12px 0 20px; }
figure svg { display: block; width: 100%; max-width: 960px; height: auto; border: 1px solid #d0d7de; }
footer { margin-top: 32px; color: #59636e; font-size: 0.85em; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  nav { display: none; }
  figure, table, header { break-inside: avoid; }
  h2 { break-after: avoid; }
  .badge { background: none !important; }
}
"#;

/// The whole page. `charts` holds (file name, SVG text) in page order.
pub fn render(run: &RunData, verdict: &RunVerdict, charts: &[(String, String)]) -> String {
    let word = verdict.verdict.as_str();
    let name = target_label(&verdict.target);
    let mut out =
        String::with_capacity(16 * 1024 + charts.iter().map(|c| c.1.len()).sum::<usize>());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>soakprof {} — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        word.to_uppercase(),
        escape(name)
    ));
    header(&mut out, verdict);
    reasons(&mut out, verdict);
    metrics(&mut out, verdict);
    capacity(&mut out, verdict);
    if let Some(load) = &verdict.load {
        load_section(&mut out, load);
    }
    charts_section(&mut out, charts);
    run_section(&mut out, run, verdict);
    out.push_str(&format!(
        "<footer>Written by soakprof {}. This page is self-contained: no scripts, nothing loaded from the network.</footer>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out
}

fn header(out: &mut String, verdict: &RunVerdict) {
    let word = verdict.verdict.as_str();
    let target = &verdict.target;
    out.push_str(&format!(
        "<header class=\"verdict\">\n<div class=\"badge v-{word}\" role=\"status\" aria-label=\"verdict: {word}\">{}</div>\n",
        word.to_uppercase()
    ));
    out.push_str(&format!(
        "<div>\n<h1>Soak report: {}</h1>\n<p class=\"sub\">verdict <strong>{word}</strong> · {} samples over {} of <strong>{}</strong> ({}), started {}</p>\n",
        escape(target_label(target)),
        verdict.samples,
        escape(&format_duration_s(verdict.duration_s)),
        escape(target_label(target)),
        escape(&pid_list(target)),
        escape(&verdict.started_at),
    ));
    let mut links = vec![
        ("reasons", "Findings"),
        ("metrics", "Metrics"),
        ("capacity", "Capacity"),
    ];
    if verdict.load.is_some() {
        links.push(("load", "Load"));
    }
    links.extend([("charts", "Charts"), ("run", "Target and run")]);
    out.push_str("<nav>");
    for (id, text) in links {
        out.push_str(&format!("<a href=\"#{id}\">{text}</a>"));
    }
    out.push_str("</nav>\n</div>\n</header>\n");
}

fn reasons(out: &mut String, verdict: &RunVerdict) {
    out.push_str("<section id=\"reasons\">\n<h2>Findings</h2>\n");
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

fn metrics(out: &mut String, verdict: &RunVerdict) {
    out.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n<table class=\"metrics\">\n<thead>");
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

fn capacity(out: &mut String, verdict: &RunVerdict) {
    let cap = &verdict.capacity;
    out.push_str("<section id=\"capacity\">\n<h2>Capacity</h2>\n<table class=\"kv\">\n");
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
    if let Some(peak) = cap.peak_rss_bytes {
        kv(
            out,
            "peak RSS",
            &escape(&with_headroom(peak, cap.headroom_pct)),
        );
    }
    if let Some(steady) = cap.steady_rss_bytes {
        kv(
            out,
            "steady RSS (median after warm-up)",
            &escape(&with_headroom(steady, cap.steady_headroom_pct)),
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
    out.push_str("</table>\n</section>\n");
}

/// Latency cells p50, p90, p95, p99, max in ms; `n/a` without responses.
fn latency_cells(latency: &LatencyMs) -> String {
    [
        latency.p50,
        latency.p90,
        latency.p95,
        latency.p99,
        latency.max,
    ]
    .iter()
    .map(|v| {
        format!(
            "<td class=\"num\">{}</td>",
            v.map_or_else(|| "n/a".to_string(), |v| format!("{} ms", format_ms(v)))
        )
    })
    .collect()
}

fn rate_or_na(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_string(), format_percent)
}

fn rps_or_na(rps: Option<f64>) -> String {
    rps.map_or_else(|| "n/a".to_string(), |r| format!("{} req/s", format_rps(r)))
}

fn load_section(out: &mut String, load: &LoadSummary) {
    out.push_str("<section id=\"load\">\n<h2>Load</h2>\n<table class=\"kv\">\n");
    kv(
        out,
        "verdict",
        &format!(
            "<span class=\"v v-{0}\"><strong>{1}</strong></span>",
            load.verdict.as_str(),
            load.verdict.as_str().to_uppercase()
        ),
    );
    let mut driver = load.driver.clone();
    if let Some(model) = &load.model {
        driver.push_str(&format!(", {model} model"));
    }
    kv(out, "driver", &escape(&driver));
    if let Some(source) = &load.source {
        kv(out, "source", &format!("<code>{}</code>", escape(source)));
    }
    if let Some(ext) = &load.external {
        kv(
            out,
            "external command",
            &format!(
                "<code>{}</code> (pid {}), {}",
                escape(&ext.command),
                ext.pid,
                escape(&external_status(ext))
            ),
        );
    }
    let measured = load.requests > 0 || load.duration_s > 0.0 || load.external.is_none();
    if measured {
        kv(
            out,
            "measured over",
            &escape(&format_duration_s(load.duration_s)),
        );
        kv(
            out,
            "requests",
            &escape(&volume_text(
                load.requests,
                load.errors,
                load.error_rate,
                load.rps,
            )),
        );
        kv(out, "responses", &load.responses.to_string());
        kv(
            out,
            "errors by kind",
            &escape(&if load.errors > 0 {
                format_error_kinds(&load.errors_by_kind)
            } else {
                "none".to_string()
            }),
        );
        kv(out, "error rate", &escape(&rate_or_na(load.error_rate)));
        kv(out, "throughput", &escape(&rps_or_na(load.rps)));
        kv(out, "latency", &escape(&latency_text(&load.latency_ms)));
    }
    if let Some(n) = load.abandoned_in_flight.filter(|n| *n > 0) {
        kv(
            out,
            "abandoned",
            &format!("{n} request(s) still in flight at the end"),
        );
    }
    if !load.stages.is_empty() {
        let stages: Vec<String> = load
            .stages
            .iter()
            .map(|s| {
                escape(&format!(
                    "{} at {} (target {})",
                    s.name,
                    format_duration_s(s.t),
                    three_figures(s.target)
                ))
            })
            .collect();
        kv(out, "stages", &stages.join("<br>"));
    }
    if load.skipped_lines > 0 {
        kv(
            out,
            "skipped lines",
            &format!("{} unreadable line(s) of load.jsonl", load.skipped_lines),
        );
    }
    out.push_str("</table>\n");

    if measured {
        out.push_str("<h3>Requests</h3>\n<table class=\"requests\">\n<thead>");
        header_row(
            out,
            &[
                "request",
                "requests",
                "errors",
                "error rate",
                "throughput",
                "p50",
                "p90",
                "p95",
                "p99",
                "max",
            ],
        );
        out.push_str("</thead>\n<tbody>\n");
        let row = |out: &mut String,
                   name: &str,
                   requests: u64,
                   errors: u64,
                   rate: Option<f64>,
                   rps: Option<f64>,
                   latency: &LatencyMs| {
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{requests}</td><td class=\"num\">{errors}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>\n",
                escape(name),
                escape(&rate_or_na(rate)),
                escape(&rps_or_na(rps)),
                latency_cells(latency)
            ));
        };
        for (name, part) in &load.by_name {
            row(
                out,
                name,
                part.requests,
                part.errors,
                part.error_rate,
                part.rps,
                &part.latency_ms,
            );
        }
        row(
            out,
            "all",
            load.requests,
            load.errors,
            load.error_rate,
            load.rps,
            &load.latency_ms,
        );
        out.push_str("</tbody>\n</table>\n");
    }

    if !load.gates.is_empty() {
        out.push_str("<h3>Gates</h3>\n<table class=\"gates\">\n<thead>");
        header_row(out, &["gate", "limit", "measured", "result"]);
        out.push_str("</thead>\n<tbody>\n");
        for gate in &load.gates {
            let value = gate
                .value
                .map_or_else(|| "not measured".to_string(), |v| gate.gate.format_value(v));
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td><code>{} {}</code></td><td class=\"num\">{}</td>{}</tr>\n",
                escape(gate.gate.label()),
                escape(gate.gate.option()),
                escape(&gate.gate.format_limit(gate.limit)),
                escape(&value),
                verdict_cell(if gate.passed { "pass" } else { "fail" }),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

/// The accessible name of a chart file.
fn chart_label(name: &str) -> String {
    CHARTS.iter().find(|(file, _)| *file == name).map_or_else(
        || format!("Chart {name}"),
        |(_, label)| (*label).to_string(),
    )
}

/// An SVG document made fit to sit inside an HTML page: anything before the `<svg>` element
/// (XML prolog, doctype, comments) and after it dropped, an accessible name and a `<title>`
/// added, and its ids prefixed with `prefix` so several charts cannot collide. `None` when
/// the text holds no `<svg>` element or holds a script.
pub fn inline_svg(svg: &str, label: &str, prefix: &str) -> Option<String> {
    if svg.to_ascii_lowercase().contains("<script") {
        return None;
    }
    let start = svg.find("<svg")?;
    let end = svg.rfind("</svg>")? + "</svg>".len();
    if end <= start {
        return None;
    }
    let body = &svg[start..end];
    let tag_end = body.find('>')?;
    let (tag, rest) = body.split_at(tag_end);
    let mut out = String::with_capacity(body.len() + 200);
    out.push_str(tag.trim_end_matches('/'));
    if !tag.contains("role=") {
        out.push_str(" role=\"img\"");
    }
    if !tag.contains("aria-label=") {
        out.push_str(&format!(" aria-label=\"{}\"", escape(label)));
    }
    out.push('>');
    if !rest.contains("<title") {
        out.push_str(&format!("<title>{}</title>", escape(label)));
    }
    let rest = &rest[1..];
    out.push_str(
        &rest
            .replace(" id=\"", &format!(" id=\"{prefix}"))
            .replace("url(#", &format!("url(#{prefix}"))
            .replace("href=\"#", &format!("href=\"#{prefix}")),
    );
    Some(out)
}

fn charts_section(out: &mut String, charts: &[(String, String)]) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if charts.is_empty() {
        out.push_str("<p>No charts were drawn.</p>\n");
    }
    for (i, (name, svg)) in charts.iter().enumerate() {
        let label = chart_label(name);
        match inline_svg(svg, &label, &format!("c{i}-")) {
            Some(inline) => out.push_str(&format!(
                "<figure id=\"chart-{}\">\n{inline}\n</figure>\n",
                escape(name.trim_end_matches(".svg"))
            )),
            None => out.push_str(&format!(
                "<p class=\"note\">{} could not be inlined; open <code>{}</code> beside this page.</p>\n",
                escape(&label),
                escape(name)
            )),
        }
    }
    out.push_str("</section>\n");
}

fn run_section(out: &mut String, run: &RunData, verdict: &RunVerdict) {
    let target = &verdict.target;
    let header = &run.header;
    out.push_str("<section id=\"run\">\n<h2>Target and run</h2>\n<table class=\"kv\">\n");
    kv(
        out,
        "target",
        &format!(
            "{} <code>{}</code>",
            escape(&target.mode),
            escape(&target.spec)
        ),
    );
    let mut pids = escape(&pid_list(target));
    if target.children {
        pids.push_str(" and their descendants, summed");
        if let Some(procs) = verdict.run.max_procs {
            pids.push_str(&format!(" (at most {procs} processes)"));
        }
    }
    kv(out, "processes", &pids);
    kv(out, "process name", &escape(&target.name));
    if !target.cmdline.is_empty() {
        kv(
            out,
            "command line",
            &format!("<code>{}</code>", escape(&shell_join(&target.cmdline))),
        );
    }
    let host = &header.host;
    let mut machine = host
        .hostname
        .clone()
        .unwrap_or_else(|| "unknown host".to_string());
    machine.push_str(&format!(", {}", host.os));
    if let Some(kernel) = &host.kernel {
        machine.push_str(&format!(" {kernel}"));
    }
    machine.push_str(&format!(", {} CPUs", host.cpus));
    if let Some(mem) = host.mem_total_bytes {
        machine.push_str(&format!(", {} memory", format_bytes(mem as f64)));
    }
    kv(out, "host", &escape(&machine));
    kv(out, "started at", &escape(&verdict.started_at));
    kv(
        out,
        "duration",
        &escape(&format_duration_s(verdict.duration_s)),
    );
    let interval = std::time::Duration::try_from_secs_f64(verdict.run.interval_s).map_or_else(
        |_| "unknown".to_string(),
        |d| humantime::format_duration(d).to_string(),
    );
    kv(out, "interval", &escape(&interval));
    kv(out, "samples", &verdict.samples.to_string());
    kv(
        out,
        "stop reason",
        &escape(verdict.run.stop_reason.map_or(
            "none recorded: the log has no end (the profiler was killed)",
            |r| r.describe(),
        )),
    );
    kv(out, "sampling gaps", &verdict.run.gaps.to_string());
    kv(out, "skipped lines", &verdict.run.skipped_lines.to_string());
    kv(
        out,
        "sampler",
        &escape(&format!("{:?}", header.backend).to_lowercase()),
    );
    kv(out, "soakprof version", &escape(&header.tool_version));
    kv(
        out,
        "soakprof command line",
        &format!("<code>{}</code>", escape(&shell_join(&header.command_line))),
    );
    out.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::runlog::tests_support::header;
    use crate::sample::Sample;

    fn run() -> RunData {
        let mut h = header();
        h.target.name = "api<x>".into();
        h.target.mode = "spawn".into();
        h.target.spec = "./server --flag '<&>'".into();
        h.target.cmdline = vec!["./server".into(), "--flag".into(), "<&> \"q\"".into()];
        h.command_line = vec![
            "soakprof".into(),
            "record".into(),
            "--".into(),
            "a<b".into(),
        ];
        RunData {
            header: h,
            columns: crate::synthetic::columns(
                &(0..60)
                    .map(|i| Sample {
                        t: i as f64,
                        rss: Some(100_000_000 + i * 2_000_000),
                        threads: Some(4),
                        fds: Some(10),
                        cpu: Some(0.1),
                        ..Sample::default()
                    })
                    .collect::<Vec<Sample>>(),
            ),
            events: vec![],
            skipped_lines: 0,
            stop_reason: Some(crate::runlog::StopReason::Duration),
            load: None,
        }
    }

    fn svg(title: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- drawn -->\n<svg width=\"10\" height=\"10\" viewBox=\"0 0 10 10\" xmlns=\"http://www.w3.org/2000/svg\">\n<defs><clipPath id=\"clip\"><rect/></clipPath></defs><text clip-path=\"url(#clip)\">{title}</text>\n</svg>\n"
        )
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("plain — text"), "plain — text");
        assert_eq!(
            shell_join(&[
                "ls".into(),
                "-l".into(),
                "a b".into(),
                "it's".into(),
                "".into()
            ]),
            r"ls -l 'a b' 'it'\''s' ''"
        );
    }

    #[test]
    fn inline_svg_is_fit_for_html() {
        let inline = inline_svg(&svg("t"), "Memory <chart>", "c0-").unwrap();
        assert!(inline.starts_with("<svg width=\"10\""), "{inline}");
        assert!(inline.ends_with("</svg>"), "{inline}");
        assert!(
            !inline.contains("<?xml") && !inline.contains("<!--"),
            "{inline}"
        );
        assert!(
            inline.contains(r#" role="img" aria-label="Memory &lt;chart&gt;">"#),
            "{inline}"
        );
        assert!(
            inline.contains("<title>Memory &lt;chart&gt;</title>"),
            "{inline}"
        );
        assert!(
            inline.contains(r#"id="c0-clip""#) && inline.contains("url(#c0-clip)"),
            "{inline}"
        );
        // An SVG that already names itself keeps its own name; a script is refused.
        let named = "<svg role=\"img\" aria-label=\"mine\"><title>mine</title></svg>";
        assert_eq!(inline_svg(named, "other", "c1-").unwrap(), named);
        assert!(inline_svg("<svg><script>alert(1)</script></svg>", "x", "c2-").is_none());
        assert!(inline_svg("not an svg", "x", "c3-").is_none());
    }

    #[test]
    fn page_has_every_section_and_escapes_the_run() {
        let run = run();
        let mut config = AnalysisConfig::default();
        config.limits.mem_limit_bytes = Some(512 << 20);
        config.limits.mem_limit_source = Some("option".into());
        let verdict = analyse(&run, &config);
        assert_eq!(
            verdict.verdict,
            crate::analysis::Verdict::Fail,
            "{:?}",
            verdict.reasons
        );
        let charts: Vec<(String, String)> = ["memory.svg", "threads_fds.svg", "cpu.svg"]
            .iter()
            .map(|n| (n.to_string(), svg(n)))
            .collect();
        let page = render(&run, &verdict, &charts);
        assert!(page.starts_with("<!DOCTYPE html>"));
        for id in ["reasons", "metrics", "capacity", "charts", "run"] {
            assert!(page.contains(&format!("<section id=\"{id}\">")), "no {id}");
        }
        assert!(!page.contains("<section id=\"load\">"), "no load ran");
        assert!(page.contains(
            r#"<div class="badge v-fail" role="status" aria-label="verdict: fail">FAIL</div>"#
        ));
        assert!(page.contains("<title>soakprof FAIL — api&lt;x&gt;</title>"));
        // Reasons, one row per metric with its verdict word, the CPU row, capacity.
        for reason in &verdict.reasons {
            assert!(
                page.contains(&format!("<li>{}</li>", escape(reason))),
                "{reason}"
            );
        }
        for row in ["RSS", "threads", "FDs", "CPU"] {
            assert!(
                page.contains(&format!("<tr><th scope=\"row\">{row}</th><td class=\"v v-")),
                "{row}"
            );
        }
        assert!(page.contains(r#"<td class="v v-fail">FAIL</td>"#));
        assert!(
            page.contains("memory limit</th><td>537 MB (from option)</td>"),
            "{page}"
        );
        assert!(page.contains("time to the limit</th>"));
        // Run metadata, escaped.
        assert!(
            page.contains("<code>./server --flag &#39;&lt;&amp;&gt; &quot;q&quot;&#39;</code>"),
            "{page}"
        );
        assert!(
            page.contains("<code>soakprof record -- &#39;a&lt;b&#39;</code>"),
            "{page}"
        );
        assert!(!page.contains("api<x>") && !page.contains("a<b"));
        // Charts inline, in order, one each, nothing that runs or loads.
        assert_eq!(page.matches("<svg").count(), 3);
        let at = |n: &str| page.find(&format!("<title>{n}</title>")).unwrap();
        assert!(at("Memory chart") < at("Threads and open file descriptors chart"));
        assert!(at("Threads and open file descriptors chart") < at("CPU chart"));
        assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
    }

    #[test]
    fn load_section_has_requests_and_gates() {
        let mut run = run();
        run.load = super::super::tests::run_with_load().load;
        let mut config = AnalysisConfig::default();
        config.thresholds.max_p95_ms = Some(500.0);
        config.thresholds.max_error_rate = Some(0.001);
        let verdict = analyse(&run, &config);
        let page = render(&run, &verdict, &[]);
        assert!(page.contains("<section id=\"load\">"));
        assert!(page.contains("<a href=\"#load\">Load</a>"));
        assert!(
            page.contains("errors by kind</th><td>connect 30</td>"),
            "{page}"
        );
        assert!(page.contains("<tr><th scope=\"row\">search</th><td class=\"num\">2000</td><td class=\"num\">30</td><td class=\"num\">1.5%</td>"), "{page}");
        assert!(
            page.contains("<tr><th scope=\"row\">all</th><td class=\"num\">6000</td>"),
            "{page}"
        );
        assert!(page.contains("<th scope=\"row\">p95 latency</th><td><code>--max-p95 500 ms</code></td><td class=\"num\">3.4 ms</td><td class=\"v v-pass\">PASS</td>"), "{page}");
        assert!(page.contains("<th scope=\"row\">error rate</th><td><code>--max-error-rate 0.1%</code></td><td class=\"num\">0.5%</td><td class=\"v v-fail\">FAIL</td>"), "{page}");
        assert!(page.contains("abandoned</th><td>2 request(s) still in flight at the end</td>"));
        assert!(page.contains("<p>No charts were drawn.</p>"));
    }

    #[test]
    fn write_report_inlines_the_written_charts() {
        let dir = tempfile::tempdir().unwrap();
        let run = run();
        let verdict = analyse(&run, &AnalysisConfig::default());
        fs::write(dir.path().join("cpu.svg"), svg("cpu")).unwrap();
        fs::write(dir.path().join("memory.svg"), svg("mem")).unwrap();
        let written = [
            "verdict.json".to_string(),
            "cpu.svg".into(),
            "memory.svg".into(),
        ];
        let path = write_report(dir.path(), &run, &verdict, &written).unwrap();
        assert_eq!(path, dir.path().join(REPORT_FILE));
        let page = fs::read_to_string(&path).unwrap();
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(page.find(">mem</text>").unwrap() < page.find(">cpu</text>").unwrap());
        // A chart listed but gone is an error naming the file.
        let err = write_report(dir.path(), &run, &verdict, &["load.svg".into()]).unwrap_err();
        assert!(
            err.to_string().contains("cannot read") && err.to_string().contains("load.svg"),
            "{err}"
        );
    }
}
