//! The load section: what drove the load and how it went, requests by name, the gates.

use super::{escape, header_row, kv, verdict_cell};
use crate::analysis::load::{
    LoadSummary, format_error_kinds, format_ms, format_percent, format_rps,
};
use crate::report::{external_status, latency_text, volume_text};
use crate::runlog::load::LatencyMs;
use crate::units::{format_duration_s, three_figures};

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

pub(super) fn load_section(out: &mut String, load: &LoadSummary) {
    out.push_str("<section id=\"load\">\n<h2>Load</h2>\n");
    let measured = load.requests > 0 || load.duration_s > 0.0 || load.external.is_none();
    load_facts(out, load, measured);
    if measured {
        requests_table(out, load);
    }
    if !load.gates.is_empty() {
        gates_table(out, load);
    }
    out.push_str("</section>\n");
}

/// The load's facts, one per row: verdict, driver, volume, errors, latency, stages.
fn load_facts(out: &mut String, load: &LoadSummary, measured: bool) {
    out.push_str("<table class=\"kv\">\n");
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
}

/// Requests by name and in all: volume, errors, throughput and latency percentiles.
fn requests_table(out: &mut String, load: &LoadSummary) {
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

/// The load gates: limit, measured value, result.
fn gates_table(out: &mut String, load: &LoadSummary) {
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

#[cfg(test)]
mod tests {
    use super::super::render;
    use crate::analysis::{AnalysisConfig, analyse};

    #[test]
    fn load_section_has_requests_and_gates() {
        let mut run = super::super::tests::run();
        run.load = crate::report::tests::run_with_load().load;
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
}
