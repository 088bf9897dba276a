use super::*;
use crate::analysis::Warmup;
use crate::analysis::{AnalysisConfig, JudgedMemory, RunVerdict, analyse};
use crate::runlog::RunData;
use crate::synthetic::{self, CgroupShape, cgroup_run, cgroup_samples};

const MIB: u64 = 1 << 20;

fn config(th: Thresholds) -> AnalysisConfig {
    AnalysisConfig {
        thresholds: th,
        limits: synthetic::cgroup_header().limits,
    }
}

fn judge(run: &RunData) -> RunVerdict {
    analyse(run, &config(Thresholds::default()))
}

fn cgroup(v: &RunVerdict) -> &CgroupCapacity {
    v.capacity.cgroup.as_ref().expect("a cgroup section")
}

#[test]
fn page_cache_growth_passes_and_an_anon_leak_fails() {
    // 30 MB/min of page cache for 10 minutes: memory in use grows 300 MB; not a leak.
    let cache = judge(&cgroup_run(
        &cgroup_samples(
            600,
            CgroupShape {
                file_per_min: 30e6,
                ..CgroupShape::default()
            },
        ),
        vec![],
    ));
    assert_eq!(cache.verdict, Verdict::Pass, "{:?}", cache.reasons);
    assert_eq!(cache.capacity.judged_memory, JudgedMemory::CgroupAnon);
    let memory = cache.metrics.cgroup_memory.as_ref().unwrap();
    assert!(!memory.judged && memory.slope_per_min > 25e6, "{memory:?}");
    assert!(!cache.metrics.cgroup_file.as_ref().unwrap().judged);
    assert!(!cache.metrics.cgroup_working_set.as_ref().unwrap().judged);
    assert!(cache.metrics.cgroup_anon.as_ref().unwrap().judged);
    assert!(!cache.metrics.rss.as_ref().unwrap().judged);
    assert!(
        cache.reasons[0].starts_with("cgroup anon memory trend "),
        "{:?}",
        cache.reasons
    );

    // 20 MB/min of anon: fails on the usual --max-growth; 7 MB/min warns.
    let leak = judge(&cgroup_run(
        &cgroup_samples(
            600,
            CgroupShape {
                anon_per_min: 20e6,
                ..CgroupShape::default()
            },
        ),
        vec![],
    ));
    assert_eq!(leak.verdict, Verdict::Fail, "{:?}", leak.reasons);
    assert!(
        leak.reasons[0].starts_with("cgroup anon memory grows 20."),
        "{:?}",
        leak.reasons
    );
    let slow = judge(&cgroup_run(
        &cgroup_samples(
            600,
            CgroupShape {
                anon_per_min: 7e6,
                ..CgroupShape::default()
            },
        ),
        vec![],
    ));
    assert_eq!(slow.verdict, Verdict::Warn, "{:?}", slow.reasons);
    // The capacity figures are of the anon memory; the working set is set against the limit.
    let cap = cgroup(&leak);
    assert_eq!(leak.capacity.peak_bytes, cap.anon_peak_bytes);
    let ws = cap.working_set_peak_bytes.unwrap();
    let expected = (256 * MIB) as f64 - ws as f64;
    assert!(
        (cap.working_set_headroom_pct.unwrap() - expected / (256 * MIB) as f64 * 100.0).abs()
            < 1e-9
    );
    assert!(cap.working_set_steady_bytes.unwrap() < ws);
    assert!(leak.capacity.time_to_limit_s.is_some());
}

#[test]
fn an_oom_kill_event_fails_with_its_victim() {
    let samples = cgroup_samples(120, CgroupShape::default());
    let exit = Event {
        t: 61.5,
        kind: EventKind::TargetExit {
            pid: 1234,
            code: None,
            signal: Some(9),
            by_profiler: false,
        },
    };
    let events = vec![
        Event {
            t: 61.0,
            kind: EventKind::OomKill {
                kills: 1,
                total: 1,
                victims: vec![OomVictim {
                    pid: 1234,
                    name: Some("soakprof-fixtu".into()),
                }],
            },
        },
        exit,
    ];
    let mut samples = samples;
    for s in samples.iter_mut().filter(|s| s.t >= 61.0) {
        s.cgroup_oom_kills = Some(1);
        s.cgroup_oom_events = Some(1);
    }
    let v = judge(&cgroup_run(&samples, events));
    assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
    assert!(
        v.reasons.iter().any(|r| r
            == "the OOM killer killed PID 1234 (soakprof-fixtu) at 1 m 1 s: the cgroup hit its 256 MiB limit"),
        "{:?}",
        v.reasons
    );
    assert!(
        v.reasons.iter().any(|r| r
            == "target (pid 1234) was killed by signal 9 (SIGKILL) after 1 m 2 s: the OOM killer killed it"),
        "{:?}",
        v.reasons
    );
    let cap = cgroup(&v);
    assert_eq!(cap.oom_kills, Some(1));
    assert_eq!(cap.oom_events, Some(1));
    assert_eq!(
        cap.oom_kill_events.len(),
        1,
        "the event and the counter are one kill"
    );
    assert_eq!(cap.oom_kill_events[0].victims[0].pid, 1234);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["capacity"]["cgroup"]["oom_kills"], 1);
    assert_eq!(
        json["capacity"]["cgroup"]["oom_kill_events"][0]["victims"][0]["name"],
        "soakprof-fixtu"
    );
}

#[test]
fn a_rise_of_the_oom_kill_count_without_an_event_fails() {
    let mut samples = cgroup_samples(120, CgroupShape::default());
    // Kills before the run (3) do not count; two during it, at 30 s, without an event.
    for s in &mut samples {
        s.cgroup_oom_kills = Some(if s.t >= 30.0 { 5 } else { 3 });
    }
    let v = judge(&cgroup_run(&samples, vec![]));
    assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
    assert!(
        v.reasons.iter().any(|r| r
            == "the OOM killer killed 2 processes (not identified) at 30 s: the cgroup hit its 256 MiB limit"),
        "{:?}",
        v.reasons
    );
    assert_eq!(cgroup(&v).oom_kills, Some(2));
    // A process target whose cgroup saw a kill fails too, without a limit known.
    let mut run = synthetic::run(&samples, vec![]);
    run.header.target.cgroup = synthetic::cgroup_header().target.cgroup;
    if let Some(c) = run.header.target.cgroup.as_mut() {
        c.is_target = false;
    }
    let v = analyse(&run, &AnalysisConfig::default());
    assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.ends_with("at 30 s: the cgroup ran out of memory")),
        "{:?}",
        v.reasons
    );
}

#[test]
fn throttling_warns_above_max_throttled_and_fails_with_the_gate() {
    let samples = cgroup_samples(
        300,
        CgroupShape {
            throttled: 0.34,
            ..CgroupShape::default()
        },
    );
    let run = cgroup_run(&samples, vec![]);
    let v = judge(&run);
    assert_eq!(v.verdict, Verdict::Warn, "{:?}", v.reasons);
    let cap = cgroup(&v);
    assert!((cap.throttled_pct.unwrap() - 34.0).abs() < 0.1, "{cap:?}");
    assert_eq!(cap.periods, Some(2990));
    assert!((cap.throttled_s.unwrap() - 299.0 * 0.34 * 0.05).abs() < 1e-6);
    let reason = v.reasons.iter().find(|r| r.contains("throttled")).unwrap();
    assert_eq!(
        reason,
        "at 0.50 CPU the target was throttled in 34% of 2990 CFS periods, 5.1 s throttled, above --max-throttled 20%"
    );
    let gated = analyse(
        &run,
        &config(Thresholds {
            throttled_gate: GateLevel::Fail,
            ..Thresholds::default()
        }),
    );
    assert_eq!(gated.verdict, Verdict::Fail, "{:?}", gated.reasons);
    let raised = analyse(
        &run,
        &config(Thresholds {
            max_throttled_pct: 40.0,
            throttled_gate: GateLevel::Fail,
            ..Thresholds::default()
        }),
    );
    assert_eq!(raised.verdict, Verdict::Pass, "{:?}", raised.reasons);
    assert!(
        cgroup(&raised).summary[1].starts_with("at 0.50 CPU the target was throttled in 34%"),
        "{:?}",
        cgroup(&raised).summary
    );
    // Too few periods to judge a share: a one-second run.
    let short = judge(&cgroup_run(&samples[..2], vec![]));
    assert!(!short.reasons.iter().any(|r| r.contains("--max-throttled")));
}

#[test]
fn no_quota_means_no_share() {
    let mut samples = cgroup_samples(60, CgroupShape::default());
    for s in &mut samples {
        s.cgroup_periods = Some(0);
        s.cgroup_throttled_periods = Some(0);
    }
    let v = judge(&cgroup_run(&samples, vec![]));
    let cap = cgroup(&v);
    assert_eq!(cap.throttled_pct, None);
    assert_eq!(cap.periods, Some(0));
    assert!((cap.cpu_mean_cores.unwrap() - 0.45).abs() < 1e-9);
    assert!(
        cap.summary.iter().any(|s| s.contains("no CPU quota")),
        "{:?}",
        cap.summary
    );
}

#[test]
fn memory_stalls_are_reported_and_warn_when_every_task_stalls() {
    let mild = judge(&cgroup_run(
        &cgroup_samples(
            120,
            CgroupShape {
                memory_full_stall: 0.01,
                ..CgroupShape::default()
            },
        ),
        vec![],
    ));
    assert_eq!(mild.verdict, Verdict::Pass, "{:?}", mild.reasons);
    let cap = cgroup(&mild);
    assert!((cap.memory_stall_full_pct.unwrap() - 1.0).abs() < 1e-6);
    assert!((cap.memory_stall_some_s.unwrap() - 119.0 * 0.02).abs() < 1e-6);
    assert!(
        cap.summary
            .iter()
            .any(|s| s.starts_with("memory pressure: some task stalled")),
        "{:?}",
        cap.summary
    );
    let thrashing = judge(&cgroup_run(
        &cgroup_samples(
            120,
            CgroupShape {
                memory_full_stall: 0.08,
                ..CgroupShape::default()
            },
        ),
        vec![],
    ));
    assert_eq!(thrashing.verdict, Verdict::Warn, "{:?}", thrashing.reasons);
    assert!(
        thrashing
            .reasons
            .iter()
            .any(|r| r.starts_with("every task of the cgroup stalled waiting for memory 8.0%")),
        "{:?}",
        thrashing.reasons
    );
}

#[test]
fn logs_without_cgroup_fields_judge_as_before() {
    for (samples, verdict) in [
        (synthetic::linear_rss(300, 30e6), Verdict::Fail),
        (synthetic::linear_rss(300, 7e6), Verdict::Warn),
        (synthetic::linear_rss(300, 0.0), Verdict::Pass),
    ] {
        let v = analyse(
            &synthetic::run(&samples, vec![]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, verdict, "{:?}", v.reasons);
        assert_eq!(v.capacity.cgroup, None);
        assert_eq!(v.capacity.judged_memory, JudgedMemory::Rss);
        assert!(v.metrics.cgroup_anon.is_none() && v.metrics.cgroup_memory.is_none());
        assert!(v.metrics.uss.is_none() && v.metrics.rss.as_ref().unwrap().judged);
        assert!(
            !v.reasons.iter().any(|r| r.contains("cgroup")),
            "{:?}",
            v.reasons
        );
        // A verdict.json written before the cgroup fields still reads.
        let mut json = serde_json::to_value(&v).unwrap();
        for key in [
            "cgroup_memory",
            "cgroup_anon",
            "cgroup_file",
            "cgroup_working_set",
        ] {
            json["metrics"].as_object_mut().unwrap().remove(key);
        }
        json["capacity"].as_object_mut().unwrap().remove("cgroup");
        let old: RunVerdict = serde_json::from_value(json).unwrap();
        assert_eq!(old, v);
    }
}

#[test]
fn a_process_with_its_cgroup_alongside_keeps_its_judged_memory() {
    // The cgroup's anon leaks (another process in it), the target's RSS is flat.
    let mut samples = cgroup_samples(
        600,
        CgroupShape {
            anon_per_min: 20e6,
            ..CgroupShape::default()
        },
    );
    for s in &mut samples {
        s.rss = Some(100_000_000);
        s.procs = Some(1);
    }
    let mut run = cgroup_run(&samples, vec![]);
    if let Some(c) = run.header.target.cgroup.as_mut() {
        c.is_target = false;
    }
    run.header.target.mode = "pid".into();
    let v = judge(&run);
    assert_eq!(v.capacity.judged_memory, JudgedMemory::Rss);
    assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    assert!(!v.metrics.cgroup_anon.as_ref().unwrap().judged);
    assert!(v.metrics.rss.as_ref().unwrap().judged);
    assert!(!cgroup(&v).is_target);
}

#[test]
fn p95_while_throttled_is_compared_with_p95_without() {
    use crate::runlog::load::{LoadInterval, LoadTotals};
    // Throttled in minutes 2 and 4 (80% of periods), not otherwise; 10 s load intervals
    // with p95 310 ms while throttled and 40 ms otherwise. The intervals that begin or end
    // a throttled minute hold one throttled second of ten (10%): neither group.
    let hot = |t: f64| (60.0..120.0).contains(&t) || (180.0..240.0).contains(&t);
    let mut samples = cgroup_samples(300, CgroupShape::default());
    let mut throttled = 0u64;
    for s in &mut samples {
        if hot(s.t) {
            throttled += 8;
        }
        s.cgroup_throttled_periods = Some(throttled);
        s.cgroup_throttled_s = Some(throttled as f64 * 0.05);
    }
    let intervals = (1..30)
        .map(|k| {
            let t = k as f64 * 10.0;
            let mut hist = new_latency_histogram().unwrap();
            let ms = if hot(t - 1.0) { 310 } else { 40 };
            hist.record_n(ms * 1000, 100).unwrap();
            let mut serializer = hdrhistogram::serialization::V2DeflateSerializer::new();
            let encoded =
                crate::runlog::load::encode_histogram(&hist, &mut serializer, &mut Vec::new());
            LoadInterval {
                t,
                dt_s: 10.0,
                requests: 100,
                rps: 10.0,
                hist: encoded,
                ..LoadInterval::default()
            }
        })
        .collect();
    let mut run = cgroup_run(&samples, vec![]);
    run.load = Some(LoadRun {
        start: None,
        intervals,
        stages: vec![],
        external: None,
        end_in_flight: Some(0),
        end_in_flight_ages: None,
        total: LoadTotals {
            requests: 2900,
            errors: Default::default(),
            latency: None,
        },
        by_name: Default::default(),
        skipped_lines: 0,
    });
    let v = judge(&run);
    let cap = cgroup(&v);
    let latency = cap.latency_when_throttled.as_ref().expect("compared");
    assert_eq!(
        (latency.throttled_intervals, latency.unthrottled_intervals),
        (12, 15),
        "{latency:?}"
    );
    assert!(
        (latency.p95_throttled_ms - 310.0).abs() < 1.0,
        "{latency:?}"
    );
    assert!(
        (latency.p95_unthrottled_ms - 40.0).abs() < 0.1,
        "{latency:?}"
    );
    let sentence = &cap.summary[1];
    assert!(
        sentence.contains("; p95 rose from 40 ms to 310 ms while throttled"),
        "{sentence}"
    );
    // 32% of the run's periods throttled: above the gate, and the reason says it too.
    assert!(
        v.reasons
            .iter()
            .any(|r| r.contains("above --max-throttled 20%; p95 rose from 40 ms")),
        "{:?}",
        v.reasons
    );
}

#[test]
fn counters_reset_count_from_zero() {
    let samples: Vec<crate::sample::Sample> = [10u64, 15, 20, 3, 8]
        .iter()
        .enumerate()
        .map(|(i, &v)| crate::sample::Sample {
            t: i as f64,
            cgroup_periods: Some(v),
            ..crate::sample::Sample::default()
        })
        .collect();
    let columns = synthetic::columns(&samples);
    assert_eq!(
        counter_increase(&columns, Metric::CgroupPeriods),
        Some(18.0)
    );
    assert_eq!(counter_increase(&columns, Metric::CgroupOomKills), None);
    let at = [(0.0, 0.0), (10.0, 100.0)];
    assert_eq!(counter_at(&at, 2.5), Some(25.0));
    assert_eq!(counter_at(&at, 10.0), Some(100.0));
    assert_eq!(counter_at(&at, 11.0), None);
    assert_eq!(counter_at(&at, -1.0), None);
}

#[test]
fn fail_fast_stops_at_an_oom_kill_and_judges_a_cgroup_on_anon() {
    use crate::analysis::sequential::{FAIL_FAST_ALPHA, certain_fail_of_run};
    let th = Thresholds::default();
    let look =
        |run: &RunData| certain_fail_of_run(run, &th, Warmup::Auto, 5, FAIL_FAST_ALPHA, 60.0);
    let cache = cgroup_run(
        &cgroup_samples(
            900,
            CgroupShape {
                file_per_min: 60e6,
                ..CgroupShape::default()
            },
        ),
        vec![],
    );
    assert_eq!(look(&cache), None, "page cache is not a leak");
    let leak = cgroup_run(
        &cgroup_samples(
            900,
            CgroupShape {
                anon_per_min: 60e6,
                ..CgroupShape::default()
            },
        ),
        vec![],
    );
    let reason = look(&leak).expect("a certain fail");
    assert!(
        reason.starts_with("cgroup anon memory growth of at least"),
        "{reason}"
    );
    let mut samples = cgroup_samples(120, CgroupShape::default());
    samples[100].cgroup_oom_kills = Some(1);
    samples.truncate(101);
    let oom = cgroup_run(&samples, vec![]);
    assert_eq!(
        look(&oom).as_deref(),
        Some(
            "the OOM killer killed 1 process (not identified) at 1 m 40 s: the cgroup hit its 256 MiB limit"
        )
    );
}

#[test]
fn a_v1_cgroup_out_of_memory_without_its_killer_warns() {
    let mut samples = cgroup_samples(60, CgroupShape::default());
    for s in &mut samples {
        s.cgroup_under_oom = Some(s.t >= 40.0 && s.t < 45.0);
    }
    let v = judge(&cgroup_run(&samples, vec![]));
    assert_eq!(v.verdict, Verdict::Warn, "{:?}", v.reasons);
    assert!(
        v.reasons.iter().any(|r| r
            == "the cgroup was out of memory with its OOM killer disabled in 5 sample(s), from 40 s: its tasks waited for memory"),
        "{:?}",
        v.reasons
    );
    assert_eq!(cgroup(&v).under_oom_samples, Some(5));
    let calm = judge(&cgroup_run(
        &cgroup_samples(60, CgroupShape::default()),
        vec![],
    ));
    assert_eq!(cgroup(&calm).under_oom_samples, None, "not read: null");
}
