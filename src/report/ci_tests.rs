//! Tests of `report::ci`: the checks of real verdicts, and the outputs written.

use super::*;
use crate::analysis::exits::{Who, judge_exit};
use crate::analysis::{AnalysisConfig, analyse};
use crate::process::Exit;
use crate::runlog::{Event, EventKind};
use crate::synthetic;

fn judged(slope_bytes_per_min: f64, events: Vec<Event>, config: &AnalysisConfig) -> RunVerdict {
    analyse(
        &synthetic::run(&synthetic::linear_rss(300, slope_bytes_per_min), events),
        config,
    )
}

fn names(items: &[CiItem]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| (i.classname.clone(), i.name.clone()))
        .collect()
}

fn find<'a>(items: &'a [CiItem], name: &str) -> &'a CiItem {
    items.iter().find(|i| i.name == name).unwrap()
}

#[test]
fn a_leak_fails_its_check_and_names_stay_the_same() {
    let config = AnalysisConfig::default();
    let flat = run_items(&judged(0.0, vec![], &config), Vec::new());
    let leak_verdict = judged(30e6, vec![], &config);
    let leak = run_items(&leak_verdict, Vec::new());
    assert_eq!(names(&flat), names(&leak));
    assert_eq!(
        names(&flat)
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "memory growth",
            "USS growth",
            "threads growth",
            "FDs growth",
            "target exit"
        ]
    );
    for (class, name) in names(&leak) {
        assert!(
            !class
                .chars()
                .chain(name.chars())
                .any(|c| c.is_ascii_digit()),
            "{name}"
        );
    }
    let memory = find(&leak, "memory growth");
    assert_eq!(memory.status, CiStatus::Fail);
    assert_eq!(memory.message, leak_verdict.reasons[0]);
    assert!(memory.value.contains("MB/min"), "{}", memory.value);
    assert_eq!(memory.threshold, "warn 5.00 MB/min, fail 10.0 MB/min");
    // USS was not read by the synthetic run: skipped, never a zero.
    assert_eq!(find(&leak, "USS growth").status, CiStatus::Skipped);
    let c = counts(&leak);
    assert_eq!((c.tests, c.failures, c.skipped), (5, 1, 1));
    // A passing run's summary sentence is the memory check's.
    let flat_verdict = judged(0.0, vec![], &config);
    assert_eq!(
        find(&flat, "memory growth").message,
        flat_verdict.reasons[0]
    );
    assert_eq!(counts(&flat).failures, 0);
}

#[test]
fn every_exit_sentence_keeps_its_weight() {
    for (exit, who) in [
        (Exit::Signal(9), Who::Target { pid: 4242 }),
        (Exit::Code(0), Who::Target { pid: 4242 }),
        (Exit::Code(3), Who::Target { pid: 4242 }),
        (Exit::Unknown, Who::Target { pid: 4242 }),
        (Exit::Signal(15), Who::LoadCommand),
        (Exit::Code(0), Who::LoadCommand),
        (Exit::Code(1), Who::LoadCommand),
        (Exit::Unknown, Who::LoadCommand),
    ] {
        let finding = judge_exit(who, exit, 12.0);
        assert_eq!(
            exit_status(&finding.text),
            CiStatus::from(finding.verdict),
            "{}",
            finding.text
        );
        let opening = match who {
            Who::Target { .. } => "target (pid ",
            Who::LoadCommand => "the load command ",
        };
        assert!(finding.text.starts_with(opening), "{}", finding.text);
    }
}

#[test]
fn a_crash_and_fail_fast_are_checks_of_their_own() {
    let events = vec![
        Event {
            t: 200.0,
            kind: EventKind::FailFast {
                reason: "RSS grows for sure".into(),
            },
        },
        Event {
            t: 250.0,
            kind: EventKind::TargetExit {
                pid: 4242,
                code: None,
                signal: Some(11),
                by_profiler: false,
            },
        },
    ];
    let verdict = judged(0.0, events, &AnalysisConfig::default());
    assert_eq!(verdict.verdict, Verdict::Fail, "{:?}", verdict.reasons);
    let items = run_items(&verdict, Vec::new());
    assert_eq!(find(&items, "target exit").status, CiStatus::Fail);
    assert!(find(&items, "target exit").message.contains("signal 11"));
    assert_eq!(find(&items, "fail-fast").status, CiStatus::Fail);
    assert!(items.iter().all(|i| i.name != OTHER_FINDINGS), "{items:#?}");
}

#[test]
fn limits_and_gates_are_checks_when_set() {
    let mut config = AnalysisConfig::default();
    config.limits.mem_limit_bytes = Some(100_000_000);
    config.limits.cpu_limit_cores = Some(0.1);
    let verdict = judged(0.0, vec![], &config);
    let items = run_items(&verdict, Vec::new());
    let memory = find(&items, "memory limit");
    assert_eq!(memory.status, CiStatus::Fail, "{memory:?}");
    assert!(
        memory.message.starts_with("peak RSS "),
        "{}",
        memory.message
    );
    let cpu = find(&items, "CPU limit");
    assert_eq!(cpu.status, CiStatus::Warn, "{cpu:?}");
    assert!(cpu.message.starts_with("CPU "), "{}", cpu.message);
    // Every reason is some check's.
    for r in &verdict.reasons {
        assert!(items.iter().any(|i| i.claims(r)), "{r} in {items:#?}");
    }
    assert!(items.iter().all(|i| i.name != OTHER_FINDINGS));

    let run = crate::report::tests::run_with_load();
    let mut config = AnalysisConfig::default();
    config.thresholds.max_p95_ms = Some(500.0);
    config.thresholds.max_error_rate = Some(0.001);
    let verdict = analyse(&run, &config);
    let items = run_items(&verdict, Vec::new());
    let p95 = find(&items, "p95 latency gate");
    assert_eq!((p95.status, p95.value.as_str()), (CiStatus::Pass, "3.4 ms"));
    let errors = find(&items, "error rate gate");
    assert_eq!(errors.status, CiStatus::Fail);
    assert!(
        errors.message.starts_with("load gate: error rate 0.5%"),
        "{}",
        errors.message
    );
    assert_eq!(errors.classname, CLASS_LOAD);
}

#[test]
fn findings_no_check_claims_carry_the_verdict_once() {
    // Too few samples: a warning that is no metric's.
    let verdict = analyse(
        &synthetic::run(&synthetic::linear_rss(5, 0.0), vec![]),
        &AnalysisConfig::default(),
    );
    assert_eq!(verdict.verdict, Verdict::Warn, "{:?}", verdict.reasons);
    let items = run_items(&verdict, Vec::new());
    let other = find(&items, OTHER_FINDINGS);
    assert_eq!(other.status, CiStatus::Warn);
    assert!(
        other.message.starts_with("only 5 samples"),
        "{}",
        other.message
    );
    assert_eq!(find(&items, "memory growth").status, CiStatus::Skipped);
    // A comparison's check that says a reason claims it; an unclaimed fail reason
    // fails `other findings` only when no other check fails.
    let mut verdict = judged(0.0, vec![], &AnalysisConfig::default());
    verdict.verdict = Verdict::Fail;
    verdict
        .reasons
        .push("baseline: steady RSS +18%: regressed".into());
    let extra = CiItem {
        classname: "soakprof.compare".into(),
        name: "steady memory".into(),
        status: CiStatus::Fail,
        message: "steady RSS +18%: regressed".into(),
        value: String::new(),
        threshold: String::new(),
        details: vec![],
    };
    let items = run_items(&verdict, vec![extra]);
    assert!(items.iter().all(|i| i.name != OTHER_FINDINGS), "{items:#?}");
    let items = run_items(&verdict, Vec::new());
    assert_eq!(find(&items, OTHER_FINDINGS).status, CiStatus::Fail);
    assert_eq!(counts(&items).failures, 1);
}

#[test]
fn output_paths_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_output_file(&dir.path().join("junit.xml")).is_ok());
    assert!(check_output_file(Path::new("junit.xml")).is_ok());
    assert_eq!(
        check_output_file(dir.path()),
        Err("it is a directory; give a file path")
    );
    assert_eq!(
        check_output_file(&dir.path().join("missing/junit.xml")),
        Err("its directory does not exist")
    );
}

#[test]
fn outputs_are_written_and_the_step_summary_appended() {
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("step.md");
    std::fs::write(&step, "# earlier step\n").unwrap();
    let outputs = CiOutputs {
        junit: Some(dir.path().join("junit.xml")),
        summary_md: Some(dir.path().join("summary.md")),
        step_summary: Some(step.clone()),
    };
    let verdict = judged(30e6, vec![], &AnalysisConfig::default());
    write_run_outputs(&outputs, &verdict, dir.path()).unwrap();
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.starts_with("## ❌ FAIL "), "{md}");
    let appended = std::fs::read_to_string(&step).unwrap();
    assert!(
        appended.starts_with("# earlier step\n\n## ❌ FAIL "),
        "{appended}"
    );
    // A directory where the file should be: a runtime error, the others still written.
    let blocked = CiOutputs {
        junit: Some(dir.path().to_path_buf()),
        summary_md: Some(dir.path().join("again.md")),
        step_summary: None,
    };
    let err = write_run_outputs(&blocked, &verdict, dir.path()).unwrap_err();
    assert!(!err.is_bad_input(), "{err}");
    assert!(dir.path().join("again.md").is_file());
}

#[test]
fn a_cgroup_run_has_oom_and_throttling_checks_that_claim_their_reasons() {
    use crate::synthetic::{CgroupShape, cgroup_header, cgroup_run, cgroup_samples};
    let config = AnalysisConfig {
        limits: cgroup_header().limits,
        ..AnalysisConfig::default()
    };
    let mut samples = cgroup_samples(
        300,
        CgroupShape {
            throttled: 0.34,
            ..CgroupShape::default()
        },
    );
    for s in samples.iter_mut().filter(|s| s.t >= 200.0) {
        s.cgroup_oom_kills = Some(1);
    }
    let verdict = analyse(&cgroup_run(&samples, vec![]), &config);
    let items = run_items(&verdict, Vec::new());
    let oom = find(&items, "OOM kills");
    assert_eq!((oom.status, oom.value.as_str()), (CiStatus::Fail, "1"));
    assert!(
        oom.message.starts_with("the OOM killer killed 1 process"),
        "{}",
        oom.message
    );
    let throttling = find(&items, "CPU throttling");
    assert_eq!(throttling.status, CiStatus::Warn);
    assert_eq!(throttling.threshold, "20%");
    assert!(
        !items.iter().any(|i| i.name == OTHER_FINDINGS),
        "every reason has its check: {:?}",
        verdict.reasons
    );
    // No kill, no throttling: both pass; a run without a cgroup has neither check.
    let calm = analyse(
        &cgroup_run(&cgroup_samples(300, CgroupShape::default()), vec![]),
        &config,
    );
    let items = run_items(&calm, Vec::new());
    assert_eq!(find(&items, "OOM kills").status, CiStatus::Pass);
    assert_eq!(find(&items, "CPU throttling").status, CiStatus::Pass);
    let plain = run_items(&judged(0.0, vec![], &AnalysisConfig::default()), Vec::new());
    assert!(!plain.iter().any(|i| i.name == "OOM kills"));
}
