//! compare.html: one self-contained page that judges a candidate run against a baseline:
//! the two runs (directories, targets, starts, durations), the overall judgement, what makes
//! them less comparable, a table of the judgements with the regressed rows marked, and the
//! two runs overlaid on one time axis for memory, threads and FDs, CPU and latency. Like
//! report.html: inline CSS and inline SVG only, no scripts, nothing fetched; every text that
//! comes from a run or the comparison (targets, directories, labels, reasons) is escaped.

use std::path::{Path, PathBuf};

use super::{STYLE, escape, header_row, inline_svg};
use crate::analysis::compare::{
    CompareVerdict, ComparedItem, Comparison, Judgement, LimitKind, RunRef,
};
use crate::analysis::load::{format_ms, format_rps};
use crate::report::charts::{OverlayChart, RunView, overlay_charts};
use crate::report::{ReportError, target_label, write_atomic};
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};

pub const COMPARE_HTML_FILE: &str = "compare.html";

/// The page's own looks, after the run report's: the judgement words and the marked rows.
const COMPARE_STYLE: &str = r#"
.badge.v-regressed { color: #82071e; background: #ffebe9; border-color: #cf222e; border-style: double; border-width: 6px; }
.badge.v-unchanged { color: #1f2328; background: #f6f8fa; border-color: #59636e; }
.badge.v-improved { color: #0f5323; background: #dafbe1; border-color: #1a7f37; }
.v-regressed { background: #ffebe9; color: #82071e; }
.v-improved { background: #dafbe1; color: #0f5323; }
.v-unchanged { color: #1f2328; }
.v-not_compared { color: #59636e; }
tr.regressed th, tr.regressed td { border-top: 2px solid #cf222e; border-bottom: 2px solid #cf222e; }
tr.regressed th::before { content: "\25B2  "; color: #cf222e; }
"#;

/// Draw the overlay charts of the two runs and write compare.html into `out_dir`, charts
/// inlined; returns the page's path. `comparison` says what the page states (runs,
/// judgement, notes, items); `baseline` and `candidate` are the runs it was made from, for
/// the charts.
pub fn write_compare_html(
    out_dir: &Path,
    comparison: &Comparison,
    baseline: RunView<'_>,
    candidate: RunView<'_>,
) -> Result<PathBuf, ReportError> {
    let charts = overlay_charts(baseline, candidate)?;
    write_atomic(
        out_dir,
        COMPARE_HTML_FILE,
        &render_compare(comparison, &charts),
    )
}

/// The whole page, with `charts` in page order.
pub fn render_compare(comparison: &Comparison, charts: &[OverlayChart]) -> String {
    let word = comparison.verdict.as_str();
    let mut out =
        String::with_capacity(16 * 1024 + charts.iter().map(|c| c.svg.len()).sum::<usize>());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>soakprof compare {} — {} against {}</title>\n<style>{STYLE}{COMPARE_STYLE}</style>\n</head>\n<body>\n",
        word.to_uppercase(),
        escape(target_label(&comparison.candidate.target)),
        escape(target_label(&comparison.baseline.target)),
    ));
    header(&mut out, comparison);
    runs_section(&mut out, comparison);
    notes_section(&mut out, comparison);
    items_section(&mut out, comparison);
    charts_section(&mut out, charts);
    out.push_str(&format!(
        "<footer>Written by soakprof {}. This page is self-contained: no scripts, nothing loaded from the network.</footer>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out
}

/// What the overall outcome means, in a sentence.
fn verdict_sentence(comparison: &Comparison) -> String {
    match comparison.verdict {
        CompareVerdict::Regressed => {
            let n = comparison.regressions().count();
            format!(
                "the candidate regressed on {n} of {} items",
                comparison.items.len()
            )
        }
        CompareVerdict::Improved => "the candidate improved, and nothing regressed".to_string(),
        CompareVerdict::Unchanged => "no item changed beyond its limit".to_string(),
    }
}

fn header(out: &mut String, comparison: &Comparison) {
    let word = comparison.verdict.as_str();
    let (base, cand) = (&comparison.baseline, &comparison.candidate);
    out.push_str(&format!(
        "<header class=\"verdict\">\n<div class=\"badge v-{word}\" role=\"status\" aria-label=\"comparison: {word}\">{}</div>\n",
        word.to_uppercase()
    ));
    out.push_str(&format!(
        "<div>\n<h1>Comparison: {} against the baseline {}</h1>\n<p class=\"sub\">{} · candidate <code>{}</code>, {} from {} · baseline <code>{}</code>, {} from {}</p>\n",
        escape(target_label(&cand.target)),
        escape(target_label(&base.target)),
        escape(&verdict_sentence(comparison)),
        escape(&cand.dir),
        escape(&format_duration_s(cand.duration_s)),
        escape(&cand.started_at),
        escape(&base.dir),
        escape(&format_duration_s(base.duration_s)),
        escape(&base.started_at),
    ));
    out.push_str("<nav>");
    for (id, text) in [
        ("runs", "Runs"),
        ("notes", "Comparability"),
        ("judgements", "Judgements"),
        ("charts", "Charts"),
    ] {
        out.push_str(&format!("<a href=\"#{id}\">{text}</a>"));
    }
    out.push_str("</nav>\n</div>\n</header>\n");
}

/// One cell of the runs table: HTML from one side's run.
type RunCell = fn(&RunRef) -> String;

/// The runs side by side.
fn runs_section(out: &mut String, comparison: &Comparison) {
    let sides: [&RunRef; 2] = [&comparison.baseline, &comparison.candidate];
    out.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n<table class=\"kv\">\n<thead>");
    header_row(out, &["", "baseline", "candidate"]);
    out.push_str("</thead>\n<tbody>\n");
    let rows: [(&str, RunCell); 5] = [
        ("run directory", |r| {
            format!("<code>{}</code>", escape(&r.dir))
        }),
        ("target", |r| escape(target_label(&r.target))),
        ("target given as", |r| {
            format!(
                "{} <code>{}</code>",
                escape(&r.target.mode),
                escape(&r.target.spec)
            )
        }),
        ("started at", |r| escape(&r.started_at)),
        ("duration", |r| escape(&format_duration_s(r.duration_s))),
    ];
    for (name, cell) in rows {
        out.push_str(&format!("<tr><th scope=\"row\">{}</th>", escape(name)));
        for side in sides {
            out.push_str(&format!("<td>{}</td>", cell(side)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn notes_section(out: &mut String, comparison: &Comparison) {
    out.push_str("<section id=\"notes\">\n<h2>Comparability</h2>\n");
    if comparison.notes.is_empty() {
        out.push_str("<p>The runs are comparable: nothing in their intervals, durations or load sets them apart.</p>\n");
    } else {
        if !comparison.comparable {
            out.push_str("<p>The runs are not fully comparable; they are compared on what is comparable.</p>\n");
        }
        out.push_str("<ul class=\"reasons\">\n");
        for note in &comparison.notes {
            out.push_str(&format!("<li>{}</li>\n", escape(note)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// A value in an item's unit, for people: `212 MB`, `1.20 MB/min`, `0.25 cores`.
fn value_text(unit: &str, value: f64) -> String {
    match unit {
        "bytes" => format_bytes(value),
        "bytes/min" => format_byte_rate(value),
        "threads/min" | "fds/min" => format_count_rate(value),
        "cores" => format!("{} cores", three_figures(value)),
        "cpu_s/request" => format!("{} ms CPU/request", three_figures(value * 1e3)),
        "ms" => format!("{} ms", format_ms(value)),
        "fraction" => format!("{:.2}%", value * 100.0),
        "rps" => format!("{} req/s", format_rps(value)),
        other => format!("{} {other}", three_figures(value)),
    }
}

/// A change in an item's unit with its sign; an absolute change of a fraction is in
/// percentage points.
fn signed_change(unit: &str, value: f64) -> String {
    let text = match unit {
        "fraction" => format!("{:.2} pp", value * 100.0),
        _ => value_text(unit, value),
    };
    if value >= 0.0 && !text.starts_with('-') {
        format!("+{text}")
    } else {
        text
    }
}

/// A relative change, a fraction: `+18.4%`.
fn signed_percent(fraction: f64) -> String {
    let pct = fraction * 100.0;
    let text = format!("{}%", three_figures(pct));
    if pct >= 0.0 && !text.starts_with('-') {
        format!("+{text}")
    } else {
        text
    }
}

/// A bound of the CI or the limit, in the item's terms (relative or in its unit).
fn bound_text(item: &ComparedItem, value: f64) -> String {
    match item.limit_kind {
        Some(LimitKind::Relative) => signed_percent(value),
        _ => signed_change(&item.unit, value),
    }
}

fn na() -> String {
    "n/a".to_string()
}

/// The cells of one item after its name: baseline, candidate, change, CI, limit.
fn item_cells(item: &ComparedItem) -> [String; 5] {
    let value = |v: Option<f64>| v.map_or_else(na, |v| value_text(&item.unit, v));
    // The share of the baseline only where the limit is one: a growth rate's ratio to a
    // baseline near zero says nothing.
    let relative = item.limit_kind == Some(LimitKind::Relative);
    let change = match (item.difference, item.ratio.filter(|_| relative)) {
        (Some(d), Some(r)) => format!(
            "{} ({})",
            signed_change(&item.unit, d),
            signed_percent(r - 1.0)
        ),
        (Some(d), None) => signed_change(&item.unit, d),
        (None, _) => na(),
    };
    let ci = item.ci.map_or_else(na, |[lo, hi]| {
        format!("{} to {}", bound_text(item, lo), bound_text(item, hi))
    });
    let limit = item.limit.map_or_else(na, |l| bound_text(item, l));
    [
        value(item.baseline),
        value(item.candidate),
        change,
        ci,
        limit,
    ]
}

fn items_section(out: &mut String, comparison: &Comparison) {
    out.push_str(
        "<section id=\"judgements\">\n<h2>Judgements</h2>\n<table class=\"metrics\">\n<thead>",
    );
    header_row(
        out,
        &[
            "metric",
            "baseline",
            "candidate",
            "change",
            "95% CI of the change",
            "limit",
            "judgement",
            "reason",
        ],
    );
    out.push_str("</thead>\n<tbody>\n");
    for item in &comparison.items {
        let regressed = item.judgement == Judgement::Regressed;
        out.push_str(&format!(
            "<tr class=\"item{}\" id=\"item-{}\"><th scope=\"row\">{}</th>",
            if regressed { " regressed" } else { "" },
            escape(&item.id),
            escape(&item.label)
        ));
        for cell in item_cells(item) {
            out.push_str(&format!("<td class=\"num\">{}</td>", escape(&cell)));
        }
        let word = item.judgement.as_str();
        out.push_str(&format!(
            "<td class=\"v v-{word}\">{}</td><td>{}</td></tr>\n",
            escape(&word.replace('_', " ").to_uppercase()),
            escape(&item.reason)
        ));
    }
    if comparison.items.is_empty() {
        out.push_str("<tr><td colspan=\"8\">Nothing could be compared.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str("<p class=\"note\">Change: candidate − baseline (and as a share of the baseline where the limit is a percentage). The confidence interval and the limit are of the relative change where the limit is a percentage, else of the difference; an item regresses only when its change is significant and beyond its limit.</p>\n");
    out.push_str("</section>\n");
}

fn charts_section(out: &mut String, charts: &[OverlayChart]) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    out.push_str("<p class=\"note\">Both runs on one time axis, each from its own start: the baseline in blue, the candidate in vermillion with triangles; dashed lines are each run's fitted trend.</p>\n");
    if charts.is_empty() {
        out.push_str("<p>No charts were drawn.</p>\n");
    }
    for (i, chart) in charts.iter().enumerate() {
        match inline_svg(&chart.svg, chart.label, &format!("c{i}-")) {
            Some(inline) => out.push_str(&format!(
                "<figure id=\"chart-{}\">\n{inline}\n</figure>\n",
                escape(chart.id)
            )),
            None => out.push_str(&format!(
                "<p class=\"note\">{} could not be inlined.</p>\n",
                escape(chart.label)
            )),
        }
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::compare::{COMPARE_SCHEMA_VERSION, CompareLimits};
    use crate::analysis::{AnalysisConfig, RunVerdict, analyse};
    use crate::runlog::{RunData, TargetInfo};
    use crate::sample::Sample;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn run_ref(dir: &str, name: &str) -> RunRef {
        RunRef {
            dir: dir.into(),
            target: TargetInfo {
                mode: "name".into(),
                spec: name.into(),
                name: name.into(),
                ..TargetInfo::default()
            },
            started_at: "2026-01-02T03:04:05Z".into(),
            duration_s: 600.0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn item(
        id: &str,
        unit: &str,
        sides: (Option<f64>, Option<f64>),
        ci: Option<[f64; 2]>,
        limit: (f64, LimitKind),
        judgement: Judgement,
        reason: &str,
    ) -> ComparedItem {
        let (baseline, candidate) = sides;
        let difference = baseline.zip(candidate).map(|(b, c)| c - b);
        let ratio = baseline
            .zip(candidate)
            .filter(|(b, _)| *b != 0.0)
            .map(|(b, c)| c / b);
        ComparedItem {
            id: id.into(),
            label: id.replace('.', " "),
            unit: unit.into(),
            baseline,
            candidate,
            difference,
            ratio,
            ci,
            limit: Some(limit.0),
            limit_kind: Some(limit.1),
            judgement,
            reason: reason.into(),
        }
    }

    fn comparison() -> Comparison {
        use Judgement::*;
        use LimitKind::*;
        Comparison {
            schema_version: COMPARE_SCHEMA_VERSION,
            verdict: CompareVerdict::Regressed,
            notes: vec!["durations differ by more than 2× (10 m <&> 25 m)".into()],
            comparable: false,
            baseline: run_ref("runs/base", "api"),
            candidate: run_ref("runs/<img src=x onerror=alert(1)>", HOSTILE),
            limits: CompareLimits::default(),
            items: vec![
                item(
                    "memory.steady",
                    "bytes",
                    (Some(212e6), Some(251e6)),
                    Some([0.15, 0.21]),
                    (0.10, Relative),
                    Regressed,
                    "steady RSS 212 MB → 251 MB (+18%), limit +10%: regressed <b>&</b>",
                ),
                item(
                    "memory.growth",
                    "bytes/min",
                    (Some(0.1e6), Some(0.3e6)),
                    Some([-0.5e6, 0.9e6]),
                    (2e6, Absolute),
                    Unchanged,
                    "RSS growth unchanged",
                ),
                item(
                    "load.error_rate",
                    "fraction",
                    (Some(0.004), Some(0.001)),
                    Some([-0.004, -0.002]),
                    (0.005, Absolute),
                    Improved,
                    "errors fell",
                ),
                item(
                    "cpu.seconds_per_request",
                    "cpu_s/request",
                    (None, Some(0.002)),
                    None,
                    (0.10, Relative),
                    NotCompared,
                    "the baseline had no load",
                ),
            ],
        }
    }

    /// A run of `n` seconds at 1 Hz whose RSS grows `leak` bytes a second.
    fn run(n: u64, leak: u64) -> (RunData, RunVerdict) {
        let samples: Vec<Sample> = (0..n)
            .map(|i| Sample {
                t: i as f64,
                rss: Some(100_000_000 + i * leak + (i % 7) * 300_000),
                threads: Some(4 + i / 50),
                fds: Some(10 + i / 40),
                cpu: Some(0.1 + (i % 5) as f64 * 0.01),
                ..Sample::default()
            })
            .collect();
        let run = RunData {
            header: crate::runlog::tests_support::header(),
            columns: crate::synthetic::columns(&samples),
            events: vec![],
            skipped_lines: 0,
            stop_reason: Some(crate::runlog::StopReason::Duration),
            load: None,
        };
        let verdict = analyse(&run, &AnalysisConfig::default());
        (run, verdict)
    }

    fn view((run, verdict): &(RunData, RunVerdict)) -> RunView<'_> {
        RunView { run, verdict }
    }

    /// The page of [`comparison`] with the charts of a 2-minute and a 4-minute run.
    fn page() -> (String, usize) {
        let (base, cand) = (run(120, 10_000), run(240, 200_000));
        let charts = overlay_charts(view(&base), view(&cand)).unwrap();
        (render_compare(&comparison(), &charts), charts.len())
    }

    /// Every value of an attribute in the page's tags (text is escaped: a `<` in the
    /// page opens a tag).
    fn attribute_values(page: &str, name: &str) -> Vec<String> {
        let key = format!(" {name}=");
        page.split('<')
            .skip(1)
            .filter_map(|part| part.split('>').next())
            .flat_map(|tag| {
                let tag = tag.to_ascii_lowercase();
                tag.match_indices(&key)
                    .map(|(at, _)| {
                        let value = &tag[at + key.len()..];
                        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'');
                        match quote {
                            Some(q) => value[1..].split(q).next().unwrap_or("").to_string(),
                            None => value.split_whitespace().next().unwrap_or("").to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The text of every `<text>` element of a part of the page.
    fn texts(part: &str) -> Vec<String> {
        part.split("<text")
            .skip(1)
            .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
            .collect()
    }

    #[test]
    fn page_is_self_contained() {
        let (page, charts) = page();
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        let lower = page.to_ascii_lowercase();
        for tag in [
            "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import",
        ] {
            assert!(!lower.contains(tag), "{tag} in the page");
        }
        // Nothing is loaded: no src at all, links and references only within the page.
        assert_eq!(attribute_values(&page, "src"), Vec::<String>::new());
        let hrefs = attribute_values(&page, "href");
        assert!(hrefs.len() >= 4, "{hrefs:?}");
        assert!(hrefs.iter().all(|h| h.starts_with('#')), "{hrefs:?}");
        let urls: Vec<&str> = lower.split("url(").skip(1).collect();
        assert!(urls.iter().all(|u| u.starts_with('#')), "an external url()");
        // The only http:// left is each inlined SVG's namespace, which loads nothing.
        assert_eq!(lower.matches("http://").count(), charts);
        assert_eq!(
            lower
                .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                .count(),
            charts
        );
        assert!(!lower.contains("https://"));
    }

    #[test]
    fn page_escapes_what_comes_from_the_runs() {
        let (page, _) = page();
        assert!(
            !page.contains(HOSTILE) && !page.contains("<img src=x"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains(
            "<title>soakprof compare REGRESSED — &lt;script&gt;alert(1)&lt;/script&gt; against api</title>"
        ));
        assert!(page.contains("<code>runs/&lt;img src=x onerror=alert(1)&gt;</code>"));
        assert!(page.contains("regressed &lt;b&gt;&amp;&lt;/b&gt;</td>"));
        assert!(
            page.contains("<li>durations differ by more than 2× (10 m &lt;&amp;&gt; 25 m)</li>")
        );
        assert!(page.contains("not fully comparable"));
    }

    #[test]
    fn page_has_a_row_per_item_with_the_regressed_marked() {
        let comparison = comparison();
        let (page, _) = page();
        assert_eq!(
            page.matches("<tr class=\"item").count(),
            comparison.items.len()
        );
        assert_eq!(page.matches("<tr class=\"item regressed\"").count(), 1);
        for item in &comparison.items {
            assert!(
                page.contains(&format!("id=\"item-{}\"", item.id)),
                "{}",
                item.id
            );
        }
        let row = |id: &str| {
            let start = page.find(&format!("id=\"item-{id}\"")).unwrap();
            let end = start + page[start..].find("</tr>").unwrap();
            page[start..end].to_string()
        };
        let steady = row("memory.steady");
        assert!(
            page[..page.find("id=\"item-memory.steady\"").unwrap()]
                .ends_with("<tr class=\"item regressed\" ")
        );
        for cell in [
            ">212 MB<",
            ">251 MB<",
            ">+39.0 MB (+18.4%)<",
            ">+15.0% to +21.0%<",
            ">+10.0%<",
            "<td class=\"v v-regressed\">REGRESSED</td>",
        ] {
            assert!(steady.contains(cell), "{cell} not in {steady}");
        }
        let errors = row("load.error_rate");
        for cell in [
            ">0.40%<",
            ">-0.30 pp<",
            ">-0.40 pp to -0.20 pp<",
            ">+0.50 pp<",
        ] {
            assert!(errors.contains(cell), "{cell} not in {errors}");
        }
        let cpu = row("cpu.seconds_per_request");
        assert!(
            cpu.contains(">n/a<") && cpu.contains(">2.00 ms CPU/request<"),
            "{cpu}"
        );
        assert!(
            cpu.contains("<td class=\"v v-not_compared\">NOT COMPARED</td>"),
            "{cpu}"
        );
        let growth = row("memory.growth");
        assert!(
            growth.contains(">+200 kB/min<") && growth.contains(">+2.00 MB/min<"),
            "{growth}"
        );
        // The header states the outcome and both runs.
        assert!(page.contains("aria-label=\"comparison: regressed\">REGRESSED</div>"));
        assert!(page.contains("the candidate regressed on 1 of 4 items"));
        assert!(page.contains("<code>runs/base</code>, 10 m 0 s from 2026-01-02T03:04:05Z"));
    }

    #[test]
    fn every_chart_has_both_runs() {
        let (page, charts) = page();
        assert_eq!(charts, 3, "no latency without load");
        assert_eq!(page.matches("<svg").count(), charts);
        for id in ["memory", "threads_fds", "cpu"] {
            let start = page.find(&format!("<figure id=\"chart-{id}\">")).unwrap();
            let end = start + page[start..].find("</figure>").unwrap();
            let figure = &page[start..end];
            let texts = texts(figure);
            for side in ["baseline ", "candidate "] {
                assert!(
                    texts.iter().any(|t| t.starts_with(side)),
                    "{id}: no {side:?} in the legend: {texts:?}"
                );
            }
            for color in ["#0072B2", "#D55E00"] {
                let drawn = figure
                    .lines()
                    .filter(|l| l.starts_with("<polyline") && l.contains(color))
                    .any(|l| l.matches(',').count() > 10);
                assert!(drawn, "{id}: no {color} series");
            }
        }
    }

    #[test]
    fn write_compare_html_writes_the_page_or_says_why_not() {
        let (base, cand) = (run(60, 0), run(60, 100_000));
        let dir = tempfile::tempdir().unwrap();
        let path = write_compare_html(dir.path(), &comparison(), view(&base), view(&cand)).unwrap();
        assert_eq!(path, dir.path().join(COMPARE_HTML_FILE));
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(page.contains("<figure id=\"chart-memory\">"));
        let err = write_compare_html(
            Path::new("/nonexistent/soakprof"),
            &comparison(),
            view(&base),
            view(&cand),
        )
        .unwrap_err();
        assert!(!err.is_bad_input());
        assert!(err.to_string().contains(COMPARE_HTML_FILE), "{err}");
    }
}
