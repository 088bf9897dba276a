//! Leak detection end to end: the real binary records a real fixture process whose
//! behaviour is known (a linear leak, a GC sawtooth, a warm-up then plateau, a thread
//! leak, an FD leak) for a few seconds at 50 ms, and the verdict must say what the fixture
//! does. Rates are time-compressed: what a soak sees in an hour happens here in seconds.
//!
//! Every figure the assertions look at is printed (`--nocapture` shows them), so a failure
//! or a drift can be read without re-running.

use std::process::Output;

use serde_json::Value;

use crate::util::{record_fixture, stderr};

fn metric<'a>(v: &'a Value, name: &str) -> &'a Value {
    let m = &v["metrics"][name];
    assert!(m.is_object(), "no metrics.{name} in {v}");
    m
}

fn slope(v: &Value, name: &str) -> f64 {
    metric(v, name)["slope_per_min"]
        .as_f64()
        .unwrap_or_else(|| panic!("metrics.{name}.slope_per_min is not a number: {v}"))
}

fn verdict_of<'a>(v: &'a Value, name: &str) -> &'a str {
    metric(v, name)["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("metrics.{name}.verdict is not a string: {v}"))
}

/// One line per judged metric plus the reasons: the figures a failure report needs.
fn summary(test: &str, out: &Output, v: &Value) -> String {
    let mut s = format!(
        "[{test}] exit {:?}, verdict {}, {} samples over {} s\n  reasons: {}\n",
        out.status.code(),
        v["verdict"],
        v["samples"],
        v["duration_s"],
        v["reasons"]
    );
    for name in ["rss", "uss", "threads", "fds"] {
        let m = &v["metrics"][name];
        if m.is_object() {
            s += &format!(
                "  {name}: {} slope/min {} ci {} robust {} p {} warm-up {} s, first {} last {}\n",
                m["verdict"],
                m["slope_per_min"],
                m["slope_ci"],
                m["robust_slope_per_min"],
                m["trend_p_value"],
                m["warmup_s"],
                m["first"],
                m["last"]
            );
        }
    }
    s + &format!("  stderr: {}", stderr(out).trim_end())
}

#[test]
fn linear_leak_fails_with_its_rate() {
    let (out, v, _dir) = record_fixture(6, &[], &["--leak-mb-per-min", "120"]);
    let info = summary("leak 120 MB/min", &out, &v);
    eprintln!("{info}");
    assert_eq!(out.status.code(), Some(1), "{info}");
    assert_eq!(verdict_of(&v, "rss"), "fail", "{info}");
    let rss = slope(&v, "rss");
    assert!(
        (rss - 120e6).abs() <= 0.10 * 120e6,
        "RSS slope {rss} B/min not within 10% of 120 MB/min\n{info}"
    );
}

#[test]
fn gc_sawtooth_without_leak_passes() {
    // Thresholds scaled for time compression. The fixture saws 0 → 40 MB every second and
    // gives it all back: per minute that is an enormous absolute swing, while a real GC
    // doing this once a minute is judged over hours. Sampling every 50 ms, a trough is read
    // anywhere up to 50 ms into the next rise (up to 2 MB above the true floor), and over
    // an 8 s run a 2 MB difference between early and late troughs alone reads as
    // ~15 MB/min, above the 10 MB/min default. 60 MB/min (fail) and 30 MB/min (warn) are
    // well above that jitter yet far below what the sawtooth's raw swing would suggest.
    let (out, v, _dir) = record_fixture(
        8,
        &["--max-growth", "60MB/min", "--warn-growth", "30MB/min"],
        &["--saw-mb", "40", "--saw-period", "1s"],
    );
    let info = summary("sawtooth 40 MB / 1 s", &out, &v);
    eprintln!("{info}");
    // The run must have seen the sawtooth at all, or passing proves nothing.
    let max = metric(&v, "rss")["max"].as_f64().unwrap();
    assert!(
        max > 30e6,
        "RSS peak {max}: the sawtooth never showed\n{info}"
    );
    assert_eq!(out.status.code(), Some(0), "{info}");
    assert_ne!(verdict_of(&v, "rss"), "fail", "{info}");
}

#[test]
fn warm_up_then_plateau_passes() {
    // Default thresholds: no scaling is needed. The cache pool follows 60 MB·(1 − e^(−t/1s)),
    // so after 5 s less than 0.5 MB is still to come: the second half of the run is flat.
    let (out, v, _dir) = record_fixture(10, &[], &["--warmup-mb", "60", "--warmup-tau", "1s"]);
    let info = summary("warm-up 60 MB, tau 1 s", &out, &v);
    eprintln!("{info}");
    let last = metric(&v, "rss")["last"].as_f64().unwrap();
    assert!(
        last > 55e6,
        "RSS ends at {last}: the warm-up never showed\n{info}"
    );
    assert_eq!(out.status.code(), Some(0), "{info}");
    assert_ne!(verdict_of(&v, "rss"), "fail", "{info}");
}

/// A count leak fails on `leaking` with a slope within `tolerance` of `per_min`, and the
/// other judged metrics do not fail on their own account.
fn assert_count_leak(test: &str, out: &Output, v: &Value, leaking: &str, per_min: f64) {
    let info = summary(test, out, v);
    eprintln!("{info}");
    assert_eq!(out.status.code(), Some(1), "{info}");
    assert_eq!(verdict_of(v, leaking), "fail", "{info}");
    let got = slope(v, leaking);
    assert!(
        (got - per_min).abs() <= 0.15 * per_min,
        "{leaking} slope {got}/min not within 15% of {per_min}/min\n{info}"
    );
    for other in ["rss", "uss", "threads", "fds"] {
        if other != leaking {
            assert_ne!(verdict_of(v, other), "fail", "{other} failed\n{info}");
        }
    }
}

#[test]
fn thread_leak_fails_on_threads_only() {
    // 600/min = one new thread every 100 ms from the fixture's `ready`. Each idle thread
    // also costs a few resident pages (its stack, 64 KiB reserved), about 10 kB: RSS rises
    // ~6 MB/min, below the 10 MB/min fail threshold, so RSS must not fail.
    // USS is judged too (it must not fail), so read it often enough in 5 s.
    let (out, v, _dir) = record_fixture(
        5,
        &["--pss-interval", "100ms"],
        &["--leak-threads-per-min", "600"],
    );
    assert_count_leak("thread leak 600/min", &out, &v, "threads", 600.0);
}

#[test]
fn fd_leak_fails_on_fds_only() {
    let (out, v, _dir) = record_fixture(
        5,
        &["--pss-interval", "100ms"],
        &["--leak-fds-per-min", "1200"],
    );
    assert_count_leak("fd leak 1200/min", &out, &v, "fds", 1200.0);
}

#[test]
fn fail_fast_stops_a_leak_long_before_the_duration() {
    // 120 MB/min against the default 10 MB/min with a 2 minute duration: the sequential
    // test may not stop before 10% of the duration (12 s), and must soon after, with a
    // fail and the reason in the verdict.
    let (out, v, dir) = record_fixture(120, &["--fail-fast"], &["--leak-mb-per-min", "120"]);
    println!("{}", summary("fail_fast", &out, &v));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["run"]["stop_reason"], "fail_fast");
    let stopped_at = v["duration_s"].as_f64().unwrap();
    assert!(
        (12.0..40.0).contains(&stopped_at),
        "stopped at {stopped_at} s"
    );
    assert!(
        v["reasons"].to_string().contains("stopped early"),
        "{}",
        v["reasons"]
    );
    let log = std::fs::read_to_string(dir.path().join("samples.jsonl")).unwrap();
    assert!(log.contains(r#""event":"fail_fast""#));
}

#[test]
fn fail_fast_lets_a_flat_target_run_its_duration() {
    let (out, v, _dir) = record_fixture(4, &["--fail-fast"], &["--threads", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["run"]["stop_reason"], "duration");
}
