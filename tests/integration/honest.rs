//! Verdicts that say no more than the data: impossible times and values are left out and
//! said, a warm-up longer than the run is said, and a target nothing could be read of does
//! not pass in silence (issue 12, defect 11).

use std::path::Path;

use soakprof::runlog::{Event, EventKind, RunLogWriter, StopReason};
use soakprof::sample::Sample;

use crate::util::*;

/// Write a run log of these samples (with the kit's header) into `dir`.
fn write_log(dir: &Path, samples: &[Sample]) {
    let mut log = RunLogWriter::create(dir).unwrap();
    log.header(&soakprof::synthetic::header()).unwrap();
    for s in samples {
        log.sample(s).unwrap();
    }
    log.event(&Event {
        t: samples.last().map_or(0.0, |s| s.t),
        kind: EventKind::Stop {
            reason: StopReason::Duration,
        },
    })
    .unwrap();
}

fn reasons(verdict: &serde_json::Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn impossible_times_and_values_are_left_out_and_said() {
    // A 30 MB/min leak over 5 minutes, with three RSS readings of 2^64 − 1 B, one sample at
    // t = 1e308 and one out of time order: the leak still fails, and the reasons say what
    // was left out.
    let mut samples = soakprof::synthetic::linear_rss(300, 30e6);
    for i in [100, 150, 200] {
        samples[i].rss = Some(u64::MAX);
    }
    let mut absurd = samples[250].clone();
    absurd.t = 1e308;
    samples.insert(251, absurd);
    let mut reversed = samples[260].clone();
    reversed.t = 10.0;
    samples.insert(261, reversed);
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &samples);
    let out = soakprof(&["analyze", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = read_verdict(dir.path());
    assert_eq!(v["metrics"]["rss"]["verdict"], "fail", "{v}");
    assert_eq!(v["run"]["rejected_samples"], 2);
    assert_eq!(v["run"]["impossible_values"], 3);
    let r = reasons(&v);
    assert!(
        r.iter()
            .any(|r| r.starts_with("2 sample(s) with an impossible time")),
        "{r:?}"
    );
    assert!(
        r.iter().any(|r| r.starts_with("3 impossible value(s)")),
        "{r:?}"
    );
    assert_eq!(v["samples"], 300);
}

#[test]
fn a_target_nothing_could_be_read_of_warns() {
    // What a kernel thread looks like: samples with every metric null.
    let samples: Vec<Sample> = (0..30)
        .map(|i| Sample {
            t: f64::from(i),
            ..Sample::default()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &samples);
    let out = soakprof(&["analyze", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = read_verdict(dir.path());
    assert_eq!(v["verdict"], "warn", "{v}");
    assert!(
        reasons(&v)
            .iter()
            .any(|r| r
                .starts_with("none of RSS, USS, threads, FDs or CPU could be read in 30 samples")),
        "{v}"
    );
}

#[test]
fn a_warmup_longer_than_the_run_is_said_not_claimed() {
    let (out, v, _dir) = record_fixture(3, &["--warmup", "10m"], &["--leak-mb-per-min", "300"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let r = reasons(&v);
    assert!(
        r.iter()
            .any(|r| r.starts_with("--warmup 10 m 0 s leaves too little of the")),
        "{r:?}"
    );
    assert!(
        !r.iter()
            .any(|r| r.contains("warm-up;") || r.contains("after a 10 m")),
        "{r:?}"
    );
    assert_eq!(v["metrics"]["rss"]["warmup_s"], 0.0, "{v}");
}

#[test]
fn extreme_but_possible_values_are_charted_without_a_panic() {
    // The largest a metric can be, and a jump from 0 to it: the charts' axes must cope.
    let samples: Vec<Sample> = (0..60)
        .map(|i| Sample {
            t: f64::from(i),
            rss: Some(if i < 30 {
                0
            } else {
                soakprof::columns::MAX_BYTES
            }),
            vms: Some(soakprof::columns::MAX_BYTES),
            threads: Some(if i % 2 == 0 {
                1
            } else {
                soakprof::columns::MAX_COUNT
            }),
            fds: Some(3),
            cpu: Some(if i == 7 {
                soakprof::columns::MAX_CORES
            } else {
                0.0
            }),
            ..Sample::default()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &samples);
    let out = soakprof(&["analyze", dir.path().to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert_complete_run(dir.path());
}

#[test]
fn a_byte_threshold_takes_bytes_not_bits_or_counts() {
    for (rate, expect) in [
        ("10/h", "has no size unit"),
        ("5Mb/min", "uses b, bits"),
        ("5mb/min", "uses b, bits"),
    ] {
        let out = soakprof(&["record", "--pid", "1", "--max-growth", rate]);
        assert_bad_input(&out, expect);
    }
}
