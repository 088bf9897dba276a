//! fleet.html: one self-contained page for a fleet of series judged from Prometheus. The
//! fleet's verdict and counts and where the series came from (server, queries, range,
//! step); then small multiples, one small chart per series in the fleet's order (worst
//! first), each a link to that series' section; then one section per series with its full
//! verdict, as report.html states a run's. Like the other pages: inline CSS and inline SVG
//! only, no scripts, nothing fetched; every text from a label, a query or a reason is
//! escaped.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::verdict::{self, Place};
use super::{STYLE, escape, kv};
use crate::analysis::fleet::{FleetVerdict, SeriesVerdict};
use crate::analysis::{MetricKind, MetricTrend, Metrics, RunVerdict, lives};
use crate::report::charts::MiniChart;
use crate::report::{ReportError, write_atomic};
use crate::runlog::RunData;
use crate::units::{format_byte_rate, format_bytes, format_count_rate, format_duration_s};

pub const FLEET_HTML_FILE: &str = "fleet.html";

/// Characters of a series' name a tile shows; the whole name is in its `title`.
const TILE_NAME_CHARS: usize = 40;

/// The page's own looks, after the run report's: the grid of tiles and the series'
/// sections.
const FLEET_STYLE: &str = r#"
ol.tiles { list-style: none; margin: 8px 0; padding: 0; display: grid; gap: 10px;
  grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); }
a.tile { display: block; border: 2px solid #d0d7de; border-radius: 6px; padding: 4px 5px;
  color: inherit; text-decoration: none; background: #fff; }
a.tile:hover, a.tile:focus { box-shadow: 0 0 0 2px #0969da; }
a.tile.t-pass { border-color: #1a7f37; }
a.tile.t-warn { border-color: #bf8700; border-style: dashed; }
a.tile.t-fail { border-color: #cf222e; border-width: 3px; }
.tile-head { display: flex; gap: 6px; align-items: baseline; font-size: 0.8em; }
.tile-v { font-weight: 800; padding: 0 4px; border-radius: 3px; }
.tile-name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
a.tile svg { display: block; width: 100%; height: auto; margin: 3px 0; }
.tile-rate { font-size: 0.8em; color: #59636e; font-variant-numeric: tabular-nums; }
section.series { margin-top: 36px; border-top: 3px solid #d0d7de; }
section.series header.verdict { border-bottom-width: 1px; padding: 10px 0 8px; }
section.series .badge { font-size: 1.3em; padding: 2px 12px; border-width: 3px; }
section.series h2 { border: none; margin: 0 0 2px; }
p.top { font-size: 0.9em; }
@media print { a.tile { break-inside: avoid; } section.series { break-before: page; } }
"#;

/// Write fleet.html into `dir`; `runs[i]` is the data of `fleet.series[i]`. Returns the
/// page's path.
pub fn write_fleet_html(
    dir: &Path,
    fleet: &FleetVerdict,
    runs: &[&RunData],
) -> Result<PathBuf, ReportError> {
    write_atomic(dir, FLEET_HTML_FILE, &render_fleet(fleet, runs))
}

/// The whole page; `runs[i]` is the data of `fleet.series[i]` (a series without one gets
/// a tile that says so).
pub fn render_fleet(fleet: &FleetVerdict, runs: &[&RunData]) -> String {
    let word = fleet.verdict.as_str();
    // About 8 kB per series: its chart (at most 480 points) and its verdict's tables.
    let mut out = String::with_capacity(16 * 1024 + fleet.series.len() * 8 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>soakprof fleet {} — {} series from {}</title>\n<style>{STYLE}{FLEET_STYLE}</style>\n</head>\n<body>\n",
        word.to_uppercase(),
        fleet.counts.series,
        escape(&fleet.source.url),
    ));
    header(&mut out, fleet);
    source_section(&mut out, fleet);
    tiles_section(&mut out, fleet, runs);
    for series in &fleet.series {
        series_section(&mut out, series);
    }
    out.push_str(&format!(
        "<footer>Written by soakprof {}. This page is self-contained: no scripts, nothing loaded from the network.</footer>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out
}

/// `3 fail · 1 warn · 12 pass · 2 restarts`.
fn counts_text(fleet: &FleetVerdict) -> String {
    let c = &fleet.counts;
    format!(
        "{} fail · {} warn · {} pass · {} restart{}",
        c.fail,
        c.warn,
        c.pass,
        c.restarts,
        if c.restarts == 1 { "" } else { "s" }
    )
}

fn header(out: &mut String, fleet: &FleetVerdict) {
    let word = fleet.verdict.as_str();
    out.push_str(&format!(
        "<header class=\"verdict\" id=\"top\">\n<div class=\"badge v-{word}\" role=\"status\" aria-label=\"fleet verdict: {word}\">{}</div>\n",
        word.to_uppercase()
    ));
    let worst = fleet.worst.as_ref().map_or(String::new(), |w| {
        format!(
            " · worst <a href=\"#{}\"><code>{}</code></a>{}",
            escape(&w.id),
            escape(&w.name),
            w.reason
                .as_ref()
                .map_or(String::new(), |r| format!(": {}", escape(r)))
        )
    });
    out.push_str(&format!(
        "<div>\n<h1>Fleet: {} series from <code>{}</code></h1>\n<p class=\"sub\">{}{worst}</p>\n",
        fleet.counts.series,
        escape(&fleet.source.url),
        escape(&counts_text(fleet)),
    ));
    out.push_str("<nav><a href=\"#source\">Source</a><a href=\"#series\">Series</a></nav>\n</div>\n</header>\n");
}

/// A Unix time as UTC, to the second: `2026-11-23T00:00:00Z`.
fn utc(unix_s: f64) -> String {
    Duration::try_from_secs_f64(unix_s).map_or_else(
        |_| format!("{unix_s} (Unix seconds)"),
        |d| humantime::format_rfc3339_seconds(UNIX_EPOCH + d).to_string(),
    )
}

fn source_section(out: &mut String, fleet: &FleetVerdict) {
    let source = &fleet.source;
    out.push_str("<section id=\"source\">\n<h2>Source</h2>\n<table class=\"kv\">\n");
    kv(
        out,
        "Prometheus",
        &format!("<code>{}</code>", escape(&source.url)),
    );
    if let Some(job) = &source.job {
        kv(out, "job preset", &format!("<code>{}</code>", escape(job)));
    }
    for (metric, query) in &source.queries {
        kv(
            out,
            &format!("query ({metric})"),
            &format!("<code>{}</code>", escape(query)),
        );
    }
    kv(
        out,
        "range",
        &escape(&format!(
            "{} to {} ({})",
            utc(source.start_unix_s),
            utc(source.end_unix_s),
            format_duration_s(source.end_unix_s - source.start_unix_s)
        )),
    );
    kv(out, "step", &escape(&format_duration_s(source.step_s)));
    if !source.group_by.is_empty() {
        kv(
            out,
            "one target per",
            &format!("<code>{}</code>", escape(&source.group_by.join(", "))),
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// The trend of one metric in a verdict's metrics.
fn trend_of(metrics: &Metrics, kind: MetricKind) -> Option<&MetricTrend> {
    metrics.of(kind)
}

/// What a tile draws: the judged memory, else the first metric the series has of RSS,
/// PSS, USS, VMS, threads, FDs.
fn shown_metric(run: &RunData, verdict: &RunVerdict) -> Option<MetricKind> {
    let judged = verdict.capacity.judged_memory.kind();
    [
        judged,
        MetricKind::Rss,
        MetricKind::Pss,
        MetricKind::Uss,
        MetricKind::Vms,
        MetricKind::Threads,
        MetricKind::Fds,
    ]
    .into_iter()
    .find(|kind| run.columns.present(kind.column()) > 0)
}

/// At most `max` characters of `text`, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if text.chars().count() > max => format!("{}…", &text[..at]),
        _ => text.to_string(),
    }
}

/// A rate with its sign: `+12.4 MB/min`.
fn signed(text: String, value: f64) -> String {
    if value >= 0.0 && !text.starts_with('-') {
        format!("+{text}")
    } else {
        text
    }
}

/// The small chart of a series and the line under it (what it shows, how fast it grows).
fn tile_chart(series: &SeriesVerdict, run: &RunData, range_end_unix_s: f64) -> (String, String) {
    let Some(kind) = shown_metric(run, &series.verdict) else {
        let chart = MiniChart {
            columns: &run.columns,
            metric: crate::columns::Metric::Rss,
            trend: None,
            restarts_s: &[],
            span_s: 0.0,
            label: &format!("{}: no samples", series.id),
        };
        return (chart.svg(), "no samples".to_string());
    };
    let trend = trend_of(&series.verdict.metrics, kind);
    let restarts_s = lives::restart_times(&run.events);
    let last_t = run.columns.t().last().copied().unwrap_or(0.0);
    let span_s = range_end_unix_s - run.header.started_unix_s;
    let span_s = if span_s > 0.0 { span_s } else { last_t };
    let label = format!(
        "{} of {} over {}{}",
        kind.label(),
        series.name,
        format_duration_s(span_s),
        if trend.is_some() {
            ", with its fitted trend"
        } else {
            ""
        }
    );
    let chart = MiniChart {
        columns: &run.columns,
        metric: kind.column(),
        trend,
        restarts_s: &restarts_s,
        span_s,
        label: &label,
    };
    let bytes = kind.column().is_bytes();
    let growth = match (series.growth_bytes_per_min, trend) {
        (Some(g), _) if bytes => signed(format_byte_rate(g), g),
        (_, Some(t)) if bytes => signed(format_byte_rate(t.slope_per_min), t.slope_per_min),
        (_, Some(t)) => signed(format_count_rate(t.slope_per_min), t.slope_per_min),
        (_, None) => "growth not judged".to_string(),
    };
    let peak = run
        .columns
        .max_int(kind.column())
        .map_or(String::new(), |p| {
            if bytes {
                format!(", peak {}", format_bytes(p as f64))
            } else {
                format!(", peak {p}")
            }
        });
    let restarts = match restarts_s.len() {
        0 => String::new(),
        1 => ", 1 restart".to_string(),
        n => format!(", {n} restarts"),
    };
    (
        chart.svg(),
        format!("{} {growth}{peak}{restarts}", kind.label()),
    )
}

fn tiles_section(out: &mut String, fleet: &FleetVerdict, runs: &[&RunData]) {
    out.push_str("<section id=\"series\">\n<h2>Series</h2>\n");
    if fleet.series.is_empty() {
        out.push_str("<p>No series matched the queries.</p>\n</section>\n");
        return;
    }
    out.push_str("<p class=\"note\">Worst first. Each chart is the judged memory over the whole range, thinned to each pixel column's lowest and highest value; the dashed line is its fitted trend, grey dashes mark restarts, and a break in the line is a stretch without scrapes. Select a chart for the series' full verdict.</p>\n<ol class=\"tiles\">\n");
    for (k, series) in fleet.series.iter().enumerate() {
        let word = series.verdict.verdict.as_str();
        let (svg, line) = match runs.get(k) {
            Some(run) => tile_chart(series, run, fleet.source.end_unix_s),
            None => (String::new(), "no data".to_string()),
        };
        out.push_str(&format!(
            "<li><a class=\"tile t-{word}\" href=\"#{id}\" title=\"{name}\">\n<span class=\"tile-head\"><span class=\"tile-v v-{word}\">{}</span><span class=\"tile-name\">{}</span></span>\n{svg}\n<span class=\"tile-rate\">{}</span></a></li>\n",
            word.to_uppercase(),
            escape(&truncate(&series.name, TILE_NAME_CHARS)),
            escape(&line),
            id = escape(&series.id),
            name = escape(&series.name),
        ));
    }
    out.push_str("</ol>\n</section>\n");
}

fn series_section(out: &mut String, series: &SeriesVerdict) {
    let place = Place::Series {
        id: &series.id,
        name: &series.name,
    };
    out.push_str(&format!(
        "<section class=\"series\" id=\"{}\">\n",
        escape(&series.id)
    ));
    verdict::header(out, &series.verdict, place);
    verdict::reasons(out, &series.verdict, place);
    verdict::metrics(out, &series.verdict, place);
    verdict::capacity(out, &series.verdict, place);
    if series.segments > 1 {
        out.push_str(&format!(
            "<p class=\"note\">Joined from {} segments (a restart or a change of labels starts one).</p>\n",
            series.segments
        ));
    }
    out.push_str("<p class=\"top\"><a href=\"#top\">Back to the top</a></p>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::analysis::fleet::{FleetSource, label_string, summarize};
    use crate::analysis::{AnalysisConfig, Verdict, analyse};
    use crate::runlog::{Event, EventKind, Thresholds};
    use crate::sample::Sample;

    const HOSTILE: &str = "<script>alert(1)</script>";
    const STEP_S: f64 = 15.0;
    const POINTS: usize = 5760;
    const START_UNIX_S: f64 = 1_795_392_000.0;

    /// A day of 15 s scrapes of RSS `rss(t)`, without the ones in `gap` (seconds), with a
    /// restart at each of `restarts`.
    fn series_run(rss: impl Fn(f64) -> f64, gap: (f64, f64), restarts: &[f64]) -> RunData {
        let samples: Vec<Sample> = (0..POINTS)
            .map(|i| i as f64 * STEP_S)
            .filter(|t| !(gap.0..gap.1).contains(t))
            .map(|t| {
                let wobble = ((t as u64 * 7919) % 13) as f64 * 20_000.0;
                Sample {
                    t,
                    rss: Some((rss(t) + wobble) as u64),
                    threads: Some(8),
                    ..Sample::default()
                }
            })
            .collect();
        let events = restarts
            .iter()
            .map(|&t| Event {
                t,
                kind: EventKind::Restart {
                    old_pid: 0,
                    code: None,
                    signal: None,
                    new_pid: 0,
                    down_s: 0.0,
                },
            })
            .collect();
        let mut run = crate::synthetic::run(&samples, events);
        run.header.started_unix_s = START_UNIX_S;
        run
    }

    fn source() -> FleetSource {
        FleetSource {
            url: "http://127.0.0.1:9090".into(),
            queries: BTreeMap::from([(
                "rss".to_string(),
                "process_resident_memory_bytes{job=\"api\",x=\"<&>\"}".to_string(),
            )]),
            job: Some("node".into()),
            start_unix_s: START_UNIX_S,
            end_unix_s: START_UNIX_S + POINTS as f64 * STEP_S,
            step_s: STEP_S,
            group_by: vec!["instance".into()],
        }
    }

    /// Judge each run as the fleet does and sum them up; the runs come back in the
    /// fleet's order.
    fn fleet_of(runs: Vec<(&str, RunData)>) -> (FleetVerdict, Vec<RunData>) {
        let mut by_name = BTreeMap::new();
        let series = runs
            .into_iter()
            .map(|(instance, run)| {
                let labels = BTreeMap::from([
                    ("instance".to_string(), instance.to_string()),
                    ("job".to_string(), "api".to_string()),
                ]);
                let name = label_string(&labels);
                let verdict = analyse(&run, &AnalysisConfig::default());
                let growth = verdict.metrics.rss.as_ref().map(|t| t.slope_per_min);
                let segments = 1 + lives::restart_times(&run.events).len();
                by_name.insert(name.clone(), run);
                SeriesVerdict {
                    id: String::new(),
                    name,
                    labels,
                    growth_bytes_per_min: growth,
                    segments,
                    verdict,
                }
            })
            .collect();
        let fleet = summarize(source(), Thresholds::default(), series);
        let runs = fleet
            .series
            .iter()
            .map(|s| by_name.remove(&s.name).unwrap())
            .collect();
        (fleet, runs)
    }

    /// pass (flat, one restart at 12 h), warn (7 MB/min, no scrapes from 6 h to 9 h),
    /// fail (20 MB/min, a hostile instance label), given in no particular order.
    fn three() -> &'static (FleetVerdict, Vec<RunData>) {
        static THREE: OnceLock<(FleetVerdict, Vec<RunData>)> = OnceLock::new();
        THREE.get_or_init(judge_three)
    }

    fn judge_three() -> (FleetVerdict, Vec<RunData>) {
        let none = (-1.0, -1.0);
        fleet_of(vec![
            ("flat:9100", series_run(|_| 200e6, none, &[12.0 * 3600.0])),
            (
                "warm:9100",
                series_run(
                    |t| 100e6 + 7e6 * t / 60.0,
                    (6.0 * 3600.0, 9.0 * 3600.0),
                    &[],
                ),
            ),
            (HOSTILE, series_run(|t| 100e6 + 20e6 * t / 60.0, none, &[])),
        ])
    }

    /// The part of the page from `start` to the next `end`.
    fn part<'p>(page: &'p str, start: &str, end: &str) -> &'p str {
        let from = page.find(start).unwrap_or_else(|| panic!("no {start}"));
        let to = from + page[from..].find(end).unwrap();
        &page[from..to]
    }

    fn polyline_points(svg: &str) -> Vec<usize> {
        svg.split("<polyline")
            .skip(1)
            .map(|rest| part(rest, "points=\"", "\"/>").split(' ').count())
            .collect()
    }

    #[test]
    fn every_series_has_a_tile_and_a_section_worst_first() {
        let (fleet, runs) = three();
        let words: Vec<Verdict> = fleet.series.iter().map(|s| s.verdict.verdict).collect();
        assert_eq!(
            words,
            [Verdict::Fail, Verdict::Warn, Verdict::Pass],
            "{fleet:#?}"
        );
        let refs: Vec<&RunData> = runs.iter().collect();
        let page = render_fleet(fleet, &refs);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("aria-label=\"fleet verdict: fail\">FAIL</div>"));
        assert!(
            page.contains("1 fail · 1 warn · 1 pass · 1 restart"),
            "{page}"
        );
        // Tiles in fleet order, each a link to its section, bordered by its verdict.
        let tiles: Vec<&str> = page.split("<li><a class=\"tile ").skip(1).collect();
        assert_eq!(tiles.len(), 3);
        for (k, (tile, word)) in tiles.iter().zip(["fail", "warn", "pass"]).enumerate() {
            assert!(
                tile.starts_with(&format!("t-{word}\" href=\"#s{}\"", k + 1)),
                "{tile}"
            );
            assert!(tile.contains(&format!("<span class=\"tile-v v-{word}\">")));
        }
        for id in ["s1", "s2", "s3"] {
            assert_eq!(
                page.matches(&format!("href=\"#{id}\"")).count(),
                1 + (id == "s1") as usize
            );
            assert!(page.contains(&format!("<section class=\"series\" id=\"{id}\">")));
            for sub in ["reasons", "metrics", "capacity"] {
                assert_eq!(page.matches(&format!("id=\"{id}-{sub}\"")).count(), 1);
                assert!(page.contains(&format!("<a href=\"#{id}-{sub}\">")));
            }
        }
        assert!(page.find("id=\"s1\"").unwrap() < page.find("id=\"s2\"").unwrap());
        assert!(page.find("id=\"s2\"").unwrap() < page.find("id=\"s3\"").unwrap());
        // Links to the sections of report.html that this page has not are left out.
        assert!(!page.contains("href=\"#charts\"") && !page.contains("href=\"#run\""));
        assert!(page.contains("id=\"top\"") && page.matches("href=\"#top\"").count() == 3);
        // Every series' reasons, as report.html has them.
        for s in &fleet.series {
            for reason in &s.verdict.reasons {
                assert!(page.contains(&format!("<li>{}</li>", escape(reason))));
            }
        }
        // The source, escaped.
        assert!(page.contains(
            "<code>process_resident_memory_bytes{job=&quot;api&quot;,x=&quot;&lt;&amp;&gt;&quot;}</code>"
        ));
        assert!(
            page.contains("2026-11-23T00:00:00Z to 2026-11-24T00:00:00Z (1 d"),
            "{page}"
        );
    }

    #[test]
    fn hostile_labels_are_escaped_and_long_names_cut() {
        let (fleet, runs) = three();
        let refs: Vec<&RunData> = runs.iter().collect();
        let page = render_fleet(fleet, &refs);
        assert!(!page.contains("<script"), "a label ran");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let tile = part(&page, "<li><a class=\"tile t-fail\"", "</li>");
        // The full name in the title, a cut one shown.
        assert!(tile.contains(&format!("title=\"{}\"", escape(&fleet.series[0].name))));
        let shown = truncate(&fleet.series[0].name, TILE_NAME_CHARS);
        assert!(shown.ends_with('…') && shown.chars().count() == TILE_NAME_CHARS);
        assert!(tile.contains(&format!(
            "<span class=\"tile-name\">{}</span>",
            escape(&shown)
        )));
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn tiles_are_thinned_broken_at_gaps_and_mark_restarts() {
        let (fleet, runs) = three();
        let refs: Vec<&RunData> = runs.iter().collect();
        let page = render_fleet(fleet, &refs);
        let tile = |word: &str| part(&page, &format!("<li><a class=\"tile t-{word}\""), "</li>");
        let fail = polyline_points(tile("fail"));
        assert_eq!(fail.len(), 1);
        assert!(fail[0] <= 2 * 240 && fail[0] >= 240, "{fail:?} of {POINTS}");
        // No scrapes from 6 h to 9 h: two lines, none across the gap.
        let warn = polyline_points(tile("warn"));
        assert_eq!(warn.len(), 2, "{warn:?}");
        assert!(warn.iter().sum::<usize>() <= 2 * 240 + 2);
        // One restart, a trend line on each, what is drawn and its growth in words.
        assert_eq!(tile("pass").matches("<line class=\"restart\"").count(), 1);
        assert_eq!(page.matches("<line class=\"restart\"").count(), 1);
        assert_eq!(page.matches("<line class=\"fit\"").count(), 3);
        let rate = part(tile("fail"), "<span class=\"tile-rate\">RSS +", "</span>");
        assert!(rate.contains(" MB/min, peak "), "{rate}");
        assert!(tile("pass").contains(", 1 restart</span>"));
    }

    #[test]
    fn an_empty_fleet_and_a_series_without_data_still_render() {
        let fleet = summarize(source(), Thresholds::default(), Vec::new());
        let page = render_fleet(&fleet, &[]);
        assert!(page.contains("No series matched the queries."));
        let (fleet, runs) = three();
        let page = render_fleet(fleet, &[&runs[0]]);
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches(">no data</span>").count(), 2);
    }

    #[test]
    fn write_fleet_html_writes_the_page_or_says_why_not() {
        let (fleet, runs) = three();
        let refs: Vec<&RunData> = runs.iter().collect();
        let dir = tempfile::tempdir().unwrap();
        let path = write_fleet_html(dir.path(), fleet, &refs).unwrap();
        assert_eq!(path, dir.path().join(FLEET_HTML_FILE));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render_fleet(fleet, &refs)
        );
        let err = write_fleet_html(Path::new("/nonexistent/soakprof"), fleet, &refs).unwrap_err();
        assert!(!err.is_bad_input());
        assert!(err.to_string().contains(FLEET_HTML_FILE), "{err}");
    }

    /// The size and render time of a big fleet's page, for the record:
    /// `cargo test --release --lib fleet_page_figures -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn fleet_page_figures() {
        let runs: Vec<(String, RunData)> = (0..200)
            .map(|k| {
                let per_min = (k % 25) as f64 * 1e6;
                let gap = if k % 7 == 0 { (3e4, 4e4) } else { (-1.0, -1.0) };
                let restarts: &[f64] = if k % 11 == 0 { &[5e4] } else { &[] };
                let run = series_run(
                    move |t| 150e6 + per_min * t / 60.0 + (t % 600.0) * 2e4,
                    gap,
                    restarts,
                );
                (format!("10.0.{}.{}:9100", k / 250, k % 250), run)
            })
            .collect();
        let started = Instant::now();
        let (fleet, runs) = fleet_of(runs.iter().map(|(n, r)| (n.as_str(), r.clone())).collect());
        let judged = started.elapsed();
        let refs: Vec<&RunData> = runs.iter().collect();
        let started = Instant::now();
        let page = render_fleet(&fleet, &refs);
        let rendered = started.elapsed();
        println!(
            "200 series × {POINTS} points: judged in {judged:?}, page rendered in {rendered:?}, {} bytes ({} of them in <svg>)",
            page.len(),
            page.split("<svg")
                .skip(1)
                .map(|s| s.find("</svg>").unwrap())
                .sum::<usize>()
        );
        assert_eq!(page.matches("<svg").count(), 200);
        assert!(page.len() < 8 << 20, "{}", page.len());
    }
}
