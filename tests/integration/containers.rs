//! `record --container` and `--cgroup` on real Docker containers with real limits
//! (`--cpus 0.5 --memory 256m`, and smaller to provoke an OOM kill).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::docker::{Container, FixtureImage, docker_available};
use super::util::*;

/// The samples of a run's log, and its header.
fn samples_of(dir: &Path) -> (Value, Vec<Value>, Vec<Value>) {
    let text = std::fs::read_to_string(dir.join("samples.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |kind: &str| {
        lines
            .iter()
            .filter(|l| l["type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    (lines[0].clone(), of("sample"), of("event"))
}

/// Where a controller's files of the cgroup at `path` are on this host.
fn controller_dir(controller: &str, path: &str) -> PathBuf {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return root.join(path.trim_start_matches('/'));
    }
    let mount = [controller, "cpu,cpuacct", "cpuacct,cpu"]
        .iter()
        .map(|m| root.join(m))
        .find(|m| m.exists())
        .unwrap();
    mount.join(path.trim_start_matches('/'))
}

fn keyed(file: PathBuf) -> HashMap<String, f64> {
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn number(file: PathBuf) -> f64 {
    std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The cgroup's figures read by hand, named as the sample fields, at a wall-clock time.
fn read_by_hand(path: &str) -> (f64, HashMap<&'static str, f64>) {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let memory = controller_dir("memory", path);
    let cpu = controller_dir("cpu", path);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let stat = keyed(memory.join("memory.stat"));
    let cpu_stat = keyed(cpu.join("cpu.stat"));
    let mut v = HashMap::new();
    if v2 {
        let usage = number(memory.join("memory.current"));
        v.insert("cgroup_memory_bytes", usage);
        v.insert("cgroup_anon_bytes", stat["anon"]);
        v.insert("cgroup_file_bytes", stat["file"]);
        v.insert("cgroup_working_set_bytes", usage - stat["inactive_file"]);
        v.insert("cgroup_cpu_s", cpu_stat["usage_usec"] / 1e6);
        v.insert("cgroup_throttled_s", cpu_stat["throttled_usec"] / 1e6);
    } else {
        let usage = number(memory.join("memory.usage_in_bytes"));
        v.insert("cgroup_memory_bytes", usage);
        v.insert("cgroup_anon_bytes", stat["total_rss"]);
        v.insert("cgroup_file_bytes", stat["total_cache"]);
        v.insert(
            "cgroup_working_set_bytes",
            usage - stat["total_inactive_file"],
        );
        let acct = controller_dir("cpuacct", path);
        v.insert("cgroup_cpu_s", number(acct.join("cpuacct.usage")) / 1e9);
        v.insert("cgroup_throttled_s", cpu_stat["throttled_time"] / 1e9);
    }
    v.insert("cgroup_periods", cpu_stat["nr_periods"]);
    v.insert("cgroup_throttled_periods", cpu_stat["nr_throttled"]);
    (now, v)
}

/// A field of the samples at wall time `at` (unix s): the value of the nearest sample for
/// a level, interpolated between the two around it for a counter.
fn sampled_at(header: &Value, samples: &[Value], field: &str, at: f64, counter: bool) -> f64 {
    let t0 = header["started_unix_s"].as_f64().unwrap();
    let t = at - t0;
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((s["t"].as_f64()?, s[field].as_f64()?)))
        .collect();
    assert!(points.len() > 3, "{field} missing from the samples");
    let after = points.iter().position(|(ts, _)| *ts >= t).unwrap();
    assert!(after > 0, "{field}: hand reading before the first sample");
    let (a, b) = (points[after - 1], points[after]);
    if counter {
        a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
    } else if t - a.0 < b.0 - t {
        a.1
    } else {
        b.1
    }
}

#[test]
fn a_limited_container_is_sampled_by_id_and_by_cgroup_path() {
    if !docker_available("a_limited_container_is_sampled_by_id_and_by_cgroup_path") {
        return;
    }
    let image = FixtureImage::build();
    let container = image.run(
        &["--cpus", "0.5", "--memory", "256m"],
        &["--cpu-cores", "1", "--hold-mb", "40"],
    );
    let path = container.cgroup_path();
    for by in [
        vec!["--container", &container.id[..12]],
        vec!["--cgroup", &path],
    ] {
        let out_dir = tempfile::tempdir().unwrap();
        let mut args = by.clone();
        args.extend([
            "--interval",
            "200ms",
            "--duration",
            "6s",
            "--quiet",
            "--out",
        ]);
        args.push(out_dir.path().to_str().unwrap());
        let mut record = std::process::Command::new(soakprof_bin());
        record.arg("record").args(&args);
        let record = record
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read the files by hand during the run, at moments the samples bracket.
        std::thread::sleep(Duration::from_millis(1500));
        let mut by_hand = Vec::new();
        for _ in 0..3 {
            by_hand.push(read_by_hand(&path));
            std::thread::sleep(Duration::from_millis(1300));
        }
        let (code, err) = finish(record, Duration::from_secs(30));
        // A 1-core burner at 0.5 CPU: the CPU warning is expected, never a fail.
        assert!(matches!(code, Some(0)), "{by:?}: exit {code:?}: {err}");
        let (header, samples, _) = samples_of(out_dir.path());
        let cgroup = &header["target"]["cgroup"];
        assert_eq!(cgroup["is_target"], true, "{header}");
        assert_eq!(cgroup["path"], path.as_str());
        assert_eq!(cgroup["container_id"], container.id.as_str());
        assert_eq!(header["limits"]["mem_limit_bytes"], 256 * 1024 * 1024);
        assert_eq!(header["limits"]["cpu_limit_cores"], 0.5);
        for (at, hand) in &by_hand {
            for (field, value) in hand {
                let counter = !field.ends_with("_bytes");
                let sampled = sampled_at(&header, &samples, field, *at, counter);
                let off = (sampled - value).abs() / value.abs().max(1.0);
                assert!(
                    off < 0.05,
                    "{by:?} {field}: sampled {sampled}, by hand {value}"
                );
            }
        }
        let last = samples.last().unwrap();
        let elapsed = last["t"].as_f64().unwrap() - samples[0]["t"].as_f64().unwrap();
        let d = |f: &str| last[f].as_f64().unwrap() - samples[0][f].as_f64().unwrap();
        // A burner that wants a whole core uses up its quota in most periods (nearly all on
        // an idle host; fewer when the tests beside it leave it no CPU to want), is held
        // back for about half the wall time, and never gets more than its half core.
        let throttled_share = d("cgroup_throttled_periods") / d("cgroup_periods");
        let throttled_time_share = d("cgroup_throttled_s") / elapsed;
        let cores = d("cgroup_cpu_s") / elapsed;
        assert!(
            throttled_share >= 0.5,
            "throttled in {throttled_share} of periods"
        );
        assert!(
            (0.2..0.65).contains(&throttled_time_share),
            "throttled {throttled_time_share} of the time"
        );
        assert!((0.2..0.56).contains(&cores), "{cores} cores");
        eprintln!(
            "{by:?}: throttled in {:.0}% of periods, {:.0}% of the time, {cores:.2} cores",
            throttled_share * 100.0,
            throttled_time_share * 100.0
        );
        let v = read_verdict(out_dir.path());
        assert_eq!(
            v["target"]["mode"],
            if by[0] == "--cgroup" {
                "cgroup"
            } else {
                "container"
            }
        );
    }
}

/// Record `container` for `duration`, running `during` while it records; exit code,
/// stderr, verdict, events.
fn record_container(
    container: &Container,
    duration: &str,
    during: impl FnOnce(),
) -> (Option<i32>, String, Value, Vec<Value>) {
    let out_dir = tempfile::tempdir().unwrap();
    let record = std::process::Command::new(soakprof_bin())
        .args([
            "record",
            "--container",
            &container.id,
            "--interval",
            "200ms",
        ])
        .args(["--duration", duration, "--quiet", "--out"])
        .arg(out_dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first samples", Duration::from_secs(10), || {
        std::fs::read_to_string(out_dir.path().join("samples.jsonl"))
            .is_ok_and(|t| t.lines().count() > 3)
    });
    during();
    let (code, err) = finish(record, Duration::from_secs(60));
    let (_, _, events) = samples_of(out_dir.path());
    (code, err, read_verdict(out_dir.path()), events)
}

#[test]
fn a_process_that_leaks_past_the_limit_is_oom_killed_and_the_run_fails() {
    if !docker_available("a_process_that_leaks_past_the_limit_is_oom_killed_and_the_run_fails") {
        return;
    }
    let image = FixtureImage::build();
    // No swap, so the leak meets the limit instead of being paged out. The leak runs in a
    // second process: the OOM killer takes the largest, and PID 1 keeps the container (and
    // its cgroup) alive.
    let container = image.run(&["--memory", "48m", "--memory-swap", "48m"], &[]);
    let started = Instant::now();
    let mut exec_code = None;
    let (code, err, v, events) = record_container(&container, "8s", || {
        exec_code = container.exec_fixture(&["--leak-mb-per-min", "1200"]);
    });
    assert_eq!(
        exec_code,
        Some(137),
        "the leaking process was killed (SIGKILL)"
    );
    assert!(started.elapsed() < Duration::from_secs(40));
    let kill = events
        .iter()
        .find(|e| e["event"] == "oom_kill")
        .unwrap_or_else(|| panic!("no oom_kill event: {events:?}"));
    let victim = &kill["victims"][0];
    assert_eq!(victim["name"], "soakprof-fixtur", "{kill}");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(v["verdict"], "fail", "{v}");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("OOM"), "{reasons}");
    assert!(reasons.contains(&victim["pid"].to_string()), "{reasons}");
}

#[test]
fn page_cache_growth_passes_and_an_anon_leak_fails_on_a_container() {
    if !docker_available("page_cache_growth_passes_and_an_anon_leak_fails_on_a_container") {
        return;
    }
    let image = FixtureImage::build();
    let limits = ["--cpus", "0.5", "--memory", "256m"];
    let cache = image.run(
        &limits,
        &["--cache-mb-per-min", "600", "--cache-file", "/tmp/cache"],
    );
    let (code, err, v, _) = record_container(&cache, "8s", || {});
    let memory = &v["metrics"]["cgroup_memory"];
    let grew = memory["last"].as_f64().unwrap() - memory["first"].as_f64().unwrap();
    assert!(
        grew > 40e6,
        "the cgroup's usage grew by {grew} bytes: {memory}"
    );
    assert_eq!(code, Some(0), "page cache is not a leak: {err}\n{v}");
    assert_eq!(v["capacity"]["judged_memory"], "cgroup_anon", "{v}");

    let leak = image.run(&limits, &["--leak-mb-per-min", "120"]);
    let (code, err, v, _) = record_container(&leak, "8s", || {});
    assert_eq!(code, Some(1), "{err}\n{v}");
    let anon = &v["metrics"]["cgroup_anon"];
    let slope = anon["slope_per_min"].as_f64().unwrap();
    assert!(
        (slope - 120e6).abs() < 24e6,
        "anon grows {slope} B/min: {anon}"
    );
}

#[test]
fn a_wrong_container_or_cgroup_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    for (args, message) in [
        (vec!["--container", "web-1"], "not a container ID"),
        (
            vec!["--container", "0123456789abcdef0000"],
            "no running container",
        ),
        (
            vec!["--cgroup", "/no/such/cgroup-xyz"],
            "no cgroup /no/such/cgroup-xyz",
        ),
        (
            vec!["--cgroup", "/no", "--follow"],
            "--follow does not apply",
        ),
    ] {
        let mut all = vec!["record"];
        all.extend(args);
        all.extend(["--duration", "1s", "--out", out]);
        assert_bad_input(&soakprof(&all), message);
        assert!(!Path::new(out).exists(), "no run directory is left");
    }
}
