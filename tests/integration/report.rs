//! report.html and `analyze --format`: the real binary on real fixture runs.

use std::path::Path;
use std::time::Duration;

use crate::util::*;

/// The `.svg` files in a run directory.
fn chart_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    names.sort();
    names
}

/// Every `src=`/`href=` attribute value and every CSS `url(...)` in `page` is a link
/// inside the page (`#...`): nothing is fetched, from the network or from disk.
fn assert_nothing_loaded(page: &str) {
    let lower = page.to_ascii_lowercase();
    for attr in ["src=", "href=", "url("] {
        for (at, _) in lower.match_indices(attr) {
            let value = lower[at + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                value.starts_with('#'),
                "{attr} pointing outside the page: {}",
                &page[at..(at + 80).min(page.len())]
            );
        }
    }
    for tag in [
        "<script", "<link", "<iframe", "<img", "<object", "<embed", "@import",
    ] {
        assert!(!lower.contains(tag), "{tag} in the page");
    }
}

/// report.html of a finished run: self-contained, one inline `<svg>` per chart file, in
/// page order, and the verdict word. Returns the page.
fn assert_report(dir: &Path, verdict: &serde_json::Value) -> String {
    let page = std::fs::read_to_string(dir.join("report.html"))
        .unwrap_or_else(|e| panic!("no report.html in {}: {e}", dir.display()));
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert_nothing_loaded(&page);
    let charts = chart_files(dir);
    assert!(charts.len() >= 3, "{charts:?}");
    assert_eq!(page.matches("<svg").count(), charts.len(), "{charts:?}");
    assert!(!page.contains("<?xml"), "an XML prolog inside the page");
    let word = verdict["verdict"].as_str().unwrap().to_uppercase();
    assert!(
        page.contains(&format!("\">{word}</div>")),
        "no {word} badge"
    );
    let order: Vec<usize> = ["memory", "threads_fds", "cpu", "cgroup", "load"]
        .iter()
        .filter_map(|c| page.find(&format!("<figure id=\"chart-{c}\">")))
        .collect();
    assert_eq!(order.len(), charts.len(), "{charts:?}");
    assert!(order.windows(2).all(|w| w[0] < w[1]), "charts out of order");
    page
}

#[test]
fn report_html_and_analyze_formats() {
    let (out, v, dir) = record_fixture(3, &[], &["--leak-mb-per-min", "120", "--threads", "2"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let dir = dir.path();
    let page = assert_report(dir, &v);
    for section in ["reasons", "metrics", "capacity", "charts", "run"] {
        assert!(
            page.contains(&format!("<section id=\"{section}\">")),
            "{section}"
        );
    }
    assert!(!page.contains("<section id=\"load\">"));
    // The record summary names the page.
    let summary = String::from_utf8(out.stdout).unwrap();
    let report_line = format!("  report: {}", dir.join("report.html").display());
    assert!(summary.lines().any(|l| l == report_line), "{summary}");

    // --format json: verdict.json's content, byte for byte, and nothing else.
    let dir_arg = dir.to_str().unwrap();
    let json = soakprof(&["analyze", dir_arg, "--format", "json"]);
    assert_eq!(json.status.code(), out.status.code(), "{}", stderr(&json));
    let file = std::fs::read(dir.join("verdict.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&json.stdout),
        String::from_utf8_lossy(&file)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["verdict"], v["verdict"]);

    // --format text (the default): the terminal summary.
    for args in [
        &["analyze", dir_arg, "--format", "text"][..],
        &["analyze", dir_arg],
    ] {
        let text = soakprof(args);
        assert_eq!(text.status.code(), out.status.code(), "{}", stderr(&text));
        let text = String::from_utf8(text.stdout).unwrap();
        let word = v["verdict"].as_str().unwrap().to_uppercase();
        assert!(text.starts_with(&format!("soakprof: {word} — ")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("  RSS ")), "{text}");
        assert!(text.lines().any(|l| l == report_line), "{text}");
    }
    // analyze rewrote the page as well.
    assert_report(dir, &v);

    assert_bad_input(
        &soakprof(&["analyze", dir_arg, "--format", "yaml"]),
        "'yaml'",
    );
}

#[test]
fn report_html_with_load_has_the_load_section_and_chart() {
    let port_dir = tempfile::tempdir().unwrap();
    let port_file = port_dir.path().join("port");
    let server = start_fixture(
        None,
        &["--serve", "--port-file", port_file.to_str().unwrap()],
    );
    wait_for("the server's port file", Duration::from_secs(10), || {
        std::fs::read_to_string(&port_file).is_ok_and(|p| p.trim().parse::<u16>().is_ok())
    });
    let port = std::fs::read_to_string(&port_file).unwrap();
    let url = format!("http://127.0.0.1:{}/", port.trim());
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof_within(
        Duration::from_secs(60),
        &[
            "record",
            "--pid",
            &server.pid.to_string(),
            "--interval",
            "100ms",
            "--duration",
            "4s",
            "--quiet",
            "--out",
            out_dir.path().to_str().unwrap(),
            "--load-url",
            &url,
            "--rps",
            "50",
            "--max-p95",
            "2s",
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let v = read_verdict(out_dir.path());
    assert!(chart_files(out_dir.path()).contains(&"load.svg".to_string()));
    let page = assert_report(out_dir.path(), &v);
    assert!(page.contains("<section id=\"load\">"));
    assert!(page.contains("<table class=\"requests\">"));
    assert!(page.contains("<th scope=\"row\">p95 latency</th><td><code>--max-p95 2000 ms</code>"));
    // The load URL is shown (in the command line), never loaded.
    assert!(page.contains(&format!("--load-url {url}")), "{page}");
}
