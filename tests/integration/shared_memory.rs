//! Processes that share memory are judged on what they use, not on summed RSS (issue 13).

use super::*;

/// A parent and 3 forked children sharing 100 MB (touched before the fork, never written
/// after): summed RSS is over 400 MB and reported, not judged; the judged memory (PSS) and
/// the capacity peak are the 100 MB plus the processes' own private memory.
#[test]
fn shared_pages_are_counted_once_in_the_judged_memory() {
    let fixture = start_fixture(None, &["--hold-mb", "100", "--forks", "3"]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = soakprof(&[
        "record",
        "--pid",
        &fixture.pid.to_string(),
        "--children",
        "--interval",
        "100ms",
        "--pss-interval",
        "100ms",
        "--duration",
        "3s",
        "--mem-limit",
        "1GB",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = read_verdict(out_dir.path());
    let cap = &v["capacity"];
    assert_eq!(v["run"]["max_procs"], 4, "{v}");
    assert_eq!(cap["judged_memory"], "pss", "{cap}");
    assert_eq!(v["metrics"]["rss"]["judged"], false, "{v}");
    assert_eq!(v["metrics"]["pss"]["judged"], true, "{v}");
    let summed_rss = cap["peak_rss_bytes"].as_f64().unwrap();
    assert!(summed_rss > 400e6, "summed RSS {summed_rss}");
    // 100 MB shared, plus a few MB of the processes' own (the parent's heap and stacks).
    let peak = cap["peak_bytes"].as_f64().unwrap();
    let private = v["metrics"]["uss"]["max"].as_f64().unwrap();
    let expected = 100e6 + private;
    assert!(
        (peak - expected).abs() <= 0.15 * expected,
        "peak PSS {peak} vs {expected} (USS {private})"
    );
    let headroom = cap["headroom_pct"].as_f64().unwrap();
    assert!(
        (headroom - (1.0 - peak / 1e9) * 100.0).abs() < 0.01,
        "{cap}"
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("memory judged on PSS"), "{summary}");
    let html = std::fs::read_to_string(out_dir.path().join("report.html")).unwrap();
    assert!(html.contains("peak summed RSS (not judged)"), "report.html");
}
