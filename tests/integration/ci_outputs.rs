//! CI outputs end to end: real `record` runs of the fixture (one clean, one leaking) write
//! `--junit`, `--summary-md` and append to `$GITHUB_STEP_SUMMARY`; the JUnit files are
//! read by a real JUnit consumer (Python's `junitparser`, installed in a throw-away
//! virtualenv) and checked well-formed by `xmllint`, the summary is rendered by a Markdown
//! parser (pulldown-cmark); bad output paths stop `record` before it starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    assert_bad_input, assert_complete_run, command_within, fixture_bin, have_tool, read_verdict,
    soakprof_bin, stderr,
};

const STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// `soakprof record` of the fixture (50 ms interval, `duration_s`, quiet) into `out`, with
/// `extra` options, the fixture's `fixture_args`, and `$GITHUB_STEP_SUMMARY` set to
/// `step_summary` (or unset).
fn record(
    out: &Path,
    duration_s: u64,
    extra: &[&str],
    fixture_args: &[&str],
    step_summary: Option<&Path>,
) -> Output {
    let duration = format!("{duration_s}s");
    let fixture = fixture_bin();
    let mut args = vec![
        "record",
        "--interval",
        "50ms",
        "--duration",
        &duration,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(["--", fixture.to_str().unwrap(), "--exit-after", "90s"]);
    args.extend_from_slice(fixture_args);
    let mut command = Command::new(soakprof_bin());
    command.args(&args);
    match step_summary {
        Some(path) => command.env(STEP_SUMMARY, path),
        None => command.env_remove(STEP_SUMMARY),
    };
    command_within(Duration::from_secs(duration_s + 30), command, &args)
}

/// The parse of a JUnit file by junitparser: the root's counts and every case.
const JUNITPARSER_SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = list(xml)
out = {"root": {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors,
                "skipped": xml.skipped, "time": xml.time},
       "suites": []}
for suite in suites:
    cases = []
    for case in suite:
        results = [{"kind": type(r).__name__, "message": r.message, "text": r.text}
                   for r in case.result]
        cases.append({"classname": case.classname, "name": case.name,
                      "results": results, "system_out": case.system_out})
    out["suites"].append({"name": suite.name, "tests": suite.tests,
                          "failures": suite.failures, "skipped": suite.skipped,
                          "time": suite.time, "cases": cases})
print(json.dumps(out))
"#;

/// A Python with junitparser, in a virtualenv made once per test process; `None` (said
/// on stderr) when python3, venv or the package index is not available, a failure
/// under `SOAKPROF_REQUIRE_ALL`.
fn junitparser_python(test: &str) -> Option<PathBuf> {
    static VENV: OnceLock<Result<(tempfile::TempDir, PathBuf), String>> = OnceLock::new();
    let made = VENV.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let run = |program: &Path, args: &[&str]| -> Result<(), String> {
            let out = Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{}: {e}", program.display()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{} {args:?}: {}",
                    program.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        let venv = dir.path().join("venv");
        run(
            Path::new("python3"),
            &["-m", "venv", venv.to_str().unwrap()],
        )?;
        let python = venv.join("bin").join("python");
        run(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "junitparser>=3,<6",
            ],
        )?;
        Ok((dir, python))
    });
    match made {
        Ok((_, python)) => Some(python.clone()),
        Err(why) => {
            assert!(
                std::env::var_os("SOAKPROF_REQUIRE_ALL").is_none(),
                "{test}: junitparser could not be installed ({why}), and SOAKPROF_REQUIRE_ALL is set"
            );
            eprintln!("{test}: skipped the JUnit consumer check: {why}");
            None
        }
    }
}

fn parse_junit(python: &Path, file: &Path) -> Value {
    let out = Command::new(python)
        .args(["-c", JUNITPARSER_SCRIPT, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "junitparser could not read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The checks a verdict judges, as the JUnit file must hold them: (name, failed), read
/// from verdict.json alone: the four growth trends always (fitted or skipped), the limits
/// given, and how the target ended.
fn judged_items(v: &Value) -> Vec<(&'static str, bool)> {
    let memory = if v["capacity"]["judged_memory"] == "pss" {
        "pss"
    } else {
        "rss"
    };
    let failed = |metric: &str| v["metrics"][metric]["verdict"] == "fail";
    let mut items = vec![
        ("memory growth", failed(memory)),
        ("USS growth", failed("uss")),
        ("threads growth", failed("threads")),
        ("FDs growth", failed("fds")),
    ];
    if v["capacity"]["mem_limit_bytes"].is_u64() {
        items.push(("memory limit", false));
    }
    if v["capacity"]["cpu_limit_cores"].is_number() {
        items.push(("CPU limit", false));
    }
    // A cgroup read (the target's own, or the one a process lives in) adds its checks.
    if v["capacity"]["cgroup"].is_object() {
        items.push(("OOM kills", false));
        items.push(("CPU throttling", false));
    }
    items.push(("target exit", false));
    items
}

fn check_junit(python: &Path, file: &Path, v: &Value) -> Vec<(String, String)> {
    let parsed = parse_junit(python, file);
    let expected = judged_items(v);
    let failures = expected.iter().filter(|(_, f)| *f).count();
    let root = &parsed["root"];
    assert_eq!(root["tests"], expected.len(), "{parsed}");
    assert_eq!(root["failures"], failures, "{parsed}");
    assert_eq!(root["errors"], 0, "{parsed}");
    let suites = parsed["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 1, "{parsed}");
    let suite = &suites[0];
    // The process name (the kernel cuts it to 15 bytes), never a PID.
    let target = v["target"]["name"].as_str().unwrap();
    assert_eq!(suite["name"], format!("soakprof {target}"), "{parsed}");
    let time = suite["time"].as_f64().unwrap();
    let duration = v["duration_s"].as_f64().unwrap();
    assert!((time - duration).abs() < 0.01, "time {time} vs {duration}");
    let cases = suite["cases"].as_array().unwrap();
    let names: Vec<(String, String)> = cases
        .iter()
        .map(|c| {
            (
                c["classname"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let case_names: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    let expected_names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(case_names, expected_names, "{parsed}");
    let reasons: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for (case, (name, failed)) in cases.iter().zip(&expected) {
        let results = case["results"].as_array().unwrap();
        let failure = results.iter().find(|r| r["kind"] == "Failure");
        assert_eq!(failure.is_some(), *failed, "{name}: {case}");
        if let Some(f) = failure {
            // The reason, as both message and text: the verdict's own sentence.
            assert_eq!(f["message"], f["text"], "{case}");
            let message = f["message"].as_str().unwrap();
            assert!(reasons.contains(&message), "{message} not in {reasons:?}");
        }
    }
    names
}

/// The rows of the HTML tables pulldown-cmark renders from `markdown`, as cell texts.
fn table_rows(markdown: &str) -> (String, Vec<Vec<String>>) {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    let rows = html
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let row = row.split("</tr>").next().unwrap();
            row.split("<td>")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap().to_string())
                .collect::<Vec<String>>()
        })
        .filter(|cells| !cells.is_empty())
        .collect();
    (html, rows)
}

#[test]
fn junit_and_summaries_of_a_clean_and_a_leaking_run() {
    let test = "junit_and_summaries_of_a_clean_and_a_leaking_run";
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("step_summary.md");
    let earlier = "## Build\n\nbuilt in 2 min\n";
    std::fs::write(&step, earlier).unwrap();
    let limits = ["--mem-limit", "1GiB", "--cpu-limit", "4"];
    let mut runs = Vec::new();
    for (tag, fixture_args, code) in [
        ("clean", &[][..], 0),
        ("leak", &["--leak-mb-per-min", "120"][..], 1),
    ] {
        let run_dir = dir.path().join(format!("{tag}-run"));
        let junit = dir.path().join(format!("{tag}.xml"));
        let md = dir.path().join(format!("{tag}.md"));
        let mut extra = vec![
            "--junit",
            junit.to_str().unwrap(),
            "--summary-md",
            md.to_str().unwrap(),
        ];
        extra.extend_from_slice(&limits);
        let out = record(&run_dir, 4, &extra, fixture_args, Some(&step));
        let v = read_verdict(&run_dir);
        eprintln!(
            "[{tag}] exit {:?} verdict {} reasons {}",
            out.status.code(),
            v["verdict"],
            v["reasons"]
        );
        assert_eq!(out.status.code(), Some(code), "{tag}: {}", stderr(&out));
        assert_complete_run(&run_dir);
        runs.push((tag, run_dir, junit, md, v));
    }

    // (a) A real JUnit consumer reads one case per judged check; names do not move.
    if have_tool("xmllint", test) {
        for (_, _, junit, _, _) in &runs {
            let out = Command::new("xmllint")
                .arg("--noout")
                .arg(junit)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    if let Some(python) = junitparser_python(test) {
        let names: Vec<Vec<(String, String)>> = runs
            .iter()
            .map(|(_, _, junit, _, v)| check_junit(&python, junit, v))
            .collect();
        assert_eq!(
            names[0], names[1],
            "the checks are named the same in both runs"
        );
        let leak_failures = judged_items(&runs[1].4).iter().filter(|(_, f)| *f).count();
        assert!(leak_failures >= 1, "the leak fails memory growth");
    }

    // (b) The summary renders as tables with a row per check and links that resolve.
    let (_, run_dir, _, md, v) = &runs[1];
    let text = std::fs::read_to_string(md).unwrap();
    let (html, rows) = table_rows(&text);
    assert!(html.contains("<table>"), "{html}");
    let target = v["target"]["name"].as_str().unwrap();
    assert!(
        html.contains(&format!("<h2>❌ FAIL soakprof: {target}</h2>")),
        "{html}"
    );
    let memory = rows
        .iter()
        .find(|r| r[0] == "memory growth")
        .unwrap_or_else(|| panic!("{html}"));
    assert_eq!(memory.len(), 4, "{memory:?}");
    assert!(memory[1].contains("MB/min"), "{memory:?}");
    assert_eq!(memory[3], "❌ FAIL", "{memory:?}");
    for name in [
        "threads growth",
        "FDs growth",
        "memory limit",
        "CPU limit",
        "target exit",
    ] {
        let row = rows
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name}: {html}"));
        assert_eq!(row[3], "✅ PASS", "{row:?}");
    }
    assert_eq!(v["metrics"]["threads"]["verdict"], "pass");
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(links.contains(&"leak-run/report.html"), "{links:?}");
    assert!(links.contains(&"leak-run/verdict.json"), "{links:?}");
    for link in &links {
        assert!(
            md.parent().unwrap().join(link).is_file(),
            "{link} does not resolve"
        );
        assert!(Path::new(link).is_relative(), "{link}");
    }
    assert!(run_dir.join("report.html").is_file());

    // (c) Both summaries were appended to the step summary, after what was there.
    let appended = std::fs::read_to_string(&step).unwrap();
    assert!(appended.starts_with(earlier), "{appended}");
    let clean_at = appended
        .find(&format!("## ✅ PASS soakprof: {target}"))
        .unwrap_or_else(|| panic!("{appended}"));
    let leak_at = appended
        .find(&format!("## ❌ FAIL soakprof: {target}"))
        .unwrap_or_else(|| panic!("{appended}"));
    assert!(earlier.len() < clean_at && clean_at < leak_at, "{appended}");
    let (_, rows) = table_rows(&appended);
    assert_eq!(
        rows.iter().filter(|r| r[0] == "memory growth").count(),
        2,
        "{appended}"
    );
}

#[test]
fn bad_ci_paths_stop_record_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let missing = dir.path().join("no-such-dir").join("junit.xml");
    let out = record(
        &run_dir,
        2,
        &["--junit", missing.to_str().unwrap()],
        &[],
        None,
    );
    assert_bad_input(&out, "--junit");
    assert!(
        stderr(&out).contains("its directory does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!run_dir.exists(), "no run directory for a refused run");
    let out = record(
        &run_dir,
        2,
        &["--summary-md", dir.path().to_str().unwrap()],
        &[],
        None,
    );
    assert_bad_input(&out, "--summary-md");
    assert!(!run_dir.exists());
    let out = record(&run_dir, 2, &[], &[], Some(&missing));
    assert_bad_input(&out, "$GITHUB_STEP_SUMMARY");
    assert!(!run_dir.exists());
    // An empty variable is no summary.
    let out = record(&run_dir, 1, &[], &[], Some(Path::new("")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // analyze checks the same way, before it rewrites anything.
    let mut command = Command::new(soakprof_bin());
    let args = [
        "analyze",
        run_dir.to_str().unwrap(),
        "--junit",
        missing.to_str().unwrap(),
    ];
    command.args(args).env_remove(STEP_SUMMARY);
    assert_bad_input(
        &command_within(Duration::from_secs(30), command, &args),
        "--junit",
    );
}

#[test]
fn a_failed_ci_write_at_the_end_is_a_runtime_error_and_keeps_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let out_dir = dir.path().join("ci");
    std::fs::create_dir(&out_dir).unwrap();
    let junit = out_dir.join("junit.xml");
    let fixture = fixture_bin();
    let args = [
        "record",
        "--interval",
        "50ms",
        "--duration",
        "3s",
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--",
        fixture.to_str().unwrap(),
        "--exit-after",
        "90s",
    ];
    let mut command = Command::new(soakprof_bin());
    command.args(args).env_remove(STEP_SUMMARY);
    let remover = std::thread::spawn(move || {
        // Once the run has started, the directory the JUnit file was to go in goes away.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !run_dir_started(&dir.path().join("run")) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::fs::remove_dir(&out_dir).unwrap();
        dir
    });
    let out = command_within(Duration::from_secs(40), command, &args);
    let dir = remover.join().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("junit.xml"), "{err}");
    assert_complete_run(&dir.path().join("run"));
    assert!(
        !stdout_is_empty(&out),
        "the summary was printed before the failure"
    );
}

fn run_dir_started(dir: &Path) -> bool {
    dir.join("samples.jsonl").is_file()
}

fn stdout_is_empty(out: &Output) -> bool {
    out.stdout.is_empty()
}
