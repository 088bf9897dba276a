//! report.html: one self-contained page with the verdict, the metric table, capacity, load,
//! the charts (the SVG files inlined) and the target and run metadata. Inline CSS only: no
//! scripts, no fonts, nothing fetched from the network. Built as a plain string; every
//! text from the run is escaped (a target's command line may hold `<` or `&`).
//!
//! This file holds the page's skeleton and what every section uses; the sections are
//! [`verdict`] (the verdict, findings, metrics and capacity), [`load`], [`figures`] (the
//! charts) and [`run`] (the target and the run). [`compare`] is the page of two runs
//! compared (compare.html), and [`fleet`] the page of a fleet's series (fleet.html, each
//! series' verdict from the same [`verdict`] sections), on the same skeleton.

mod capsearch;
mod cgroup;
mod compare;
mod figures;
mod fleet;
mod load;
mod run;
mod verdict;

use std::fs;
use std::path::{Path, PathBuf};

use super::charts::CHART_FILES;
use super::{ReportError, target_label, write_atomic};
use crate::analysis::RunVerdict;
use crate::runlog::RunData;

pub use compare::{COMPARE_HTML_FILE, render_compare, write_compare_html};
pub use figures::inline_svg;
pub use fleet::{FLEET_HTML_FILE, render_fleet, write_fleet_html};
use verdict::Place;

pub const REPORT_FILE: &str = "report.html";

/// Write report.html into `dir`, inlining the `.svg` files among `written` (the files
/// `write_all` has just written there). Returns the page's path.
pub fn write_report(
    dir: &Path,
    run: &RunData,
    verdict: &RunVerdict,
    written: &[String],
) -> Result<PathBuf, ReportError> {
    let mut names: Vec<&str> = CHART_FILES
        .into_iter()
        .filter(|name| written.iter().any(|w| w == name))
        .collect();
    // Charts this page does not know by name still show, after the known ones.
    names.extend(
        written
            .iter()
            .map(String::as_str)
            .filter(|w| w.ends_with(".svg") && !CHART_FILES.contains(w)),
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

/// A verdict word in a cell tinted by its class; the word carries the meaning, the
/// colour only repeats it.
pub(super) fn verdict_cell(word: &str) -> String {
    format!(r#"<td class="v v-{word}">{}</td>"#, word.to_uppercase())
}

/// One `<tr><th>key</th><td>value</td></tr>`; `value` is HTML already.
pub(super) fn kv(out: &mut String, key: &str, value_html: &str) {
    out.push_str(&format!(
        "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>\n",
        escape(key)
    ));
}

/// A table row of header cells.
pub(super) fn header_row(out: &mut String, names: &[&str]) {
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
    verdict::header(&mut out, verdict, Place::Report);
    verdict::reasons(&mut out, verdict, Place::Report);
    verdict::metrics(&mut out, verdict, Place::Report);
    verdict::capacity(&mut out, verdict, Place::Report);
    if let Some(load) = &verdict.load {
        load::load_section(&mut out, load);
    }
    if let Some(search) = &verdict.capacity_search {
        capsearch::capacity_search_section(&mut out, search);
    }
    figures::charts_section(&mut out, charts);
    run::run_section(&mut out, run, verdict);
    out.push_str(&format!(
        "<footer>Written by soakprof {}. This page is self-contained: no scripts, nothing loaded from the network.</footer>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::charts::{
        CPU_CHART_FILE, LOAD_CHART_FILE, MEMORY_CHART_FILE, THREADS_FDS_CHART_FILE,
    };
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::runlog::tests_support::header;
    use crate::sample::Sample;

    pub(super) fn run() -> RunData {
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

    pub(super) fn svg(title: &str) -> String {
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
        let charts: Vec<(String, String)> =
            [MEMORY_CHART_FILE, THREADS_FDS_CHART_FILE, CPU_CHART_FILE]
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
    fn write_report_inlines_the_written_charts() {
        let dir = tempfile::tempdir().unwrap();
        let run = run();
        let verdict = analyse(&run, &AnalysisConfig::default());
        fs::write(dir.path().join(CPU_CHART_FILE), svg("cpu")).unwrap();
        fs::write(dir.path().join(MEMORY_CHART_FILE), svg("mem")).unwrap();
        let written = [
            "verdict.json".to_string(),
            CPU_CHART_FILE.into(),
            MEMORY_CHART_FILE.into(),
        ];
        let path = write_report(dir.path(), &run, &verdict, &written).unwrap();
        assert_eq!(path, dir.path().join(REPORT_FILE));
        let page = fs::read_to_string(&path).unwrap();
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(page.find(">mem</text>").unwrap() < page.find(">cpu</text>").unwrap());
        // A chart listed but gone is an error naming the file.
        let err = write_report(dir.path(), &run, &verdict, &[LOAD_CHART_FILE.into()]).unwrap_err();
        assert!(
            err.to_string().contains("cannot read") && err.to_string().contains(LOAD_CHART_FILE),
            "{err}"
        );
    }
}
