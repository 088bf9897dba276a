//! `record --metrics-addr` and `--push-url` against the real engine: promtool checks the
//! scraped page, a Prometheus started here scrapes a live run, a Pushgateway started here
//! takes the pushed verdict; and the Grafana dashboard queries only what soakprof exposes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::prom::*;
use crate::util::*;

/// `soakprof record` of a leaking fixture with `args`, in the background.
fn record_leak(out_dir: &Path, args: &[&str]) -> Child {
    Command::new(soakprof_bin())
        .args(["record", "--interval", "100ms", "--quiet", "--out"])
        .arg(out_dir)
        .args(args)
        .arg("--")
        .arg(fixture_bin())
        .args(["--leak-mb-per-min", "60", "--exit-after", "90s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn live_metrics_pass_promtool_and_reach_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut recording = Recording(Some(record_leak(
        &out_dir,
        &["--duration", "60s", "--metrics-addr", &addr],
    )));
    let url = format!("http://{addr}/metrics");
    let page = poll("a scrape with RSS", Duration::from_secs(20), || {
        let response = get(&url)?;
        let content_type = response.headers()["content-type"]
            .to_str()
            .ok()?
            .to_string();
        let text = response.text().ok()?;
        text.contains("process_resident_memory_bytes{")
            .then_some((content_type, text))
    });
    assert_eq!(page.0, "text/plain; version=0.0.4; charset=utf-8");
    let text = page.1;
    for family in [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "soakprof_threads",
        "soakprof_samples_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family}: {text}"
        );
    }
    // The fixture soakprof started a moment ago, to the second (boot time is in seconds).
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value_of(
        &text,
        "process_start_time_seconds{target=\"soakprof-fixtur\"}",
    )
    .unwrap_or_else(|| panic!("no start time: {text}"));
    assert!(
        started <= now_s + 1.0 && started > now_s - 30.0,
        "{started} vs now {now_s}"
    );
    promtool_check(&text, "live_metrics_pass_promtool_and_reach_prometheus");
    if have_tool(
        "prometheus",
        "live_metrics_pass_promtool_and_reach_prometheus",
    ) {
        let (_prometheus, base) = start_prometheus(dir.path(), std::slice::from_ref(&addr));
        let answer = poll(
            "Prometheus to hold the RSS",
            Duration::from_secs(30),
            || {
                let v = query(&base, "process_resident_memory_bytes{job=\"soak\"}");
                let result = v["data"]["result"].as_array()?.first()?.clone();
                Some(result)
            },
        );
        assert_eq!(answer["metric"]["target"], "soakprof-fixtur", "{answer}");
        assert_eq!(answer["metric"]["instance"], addr.as_str(), "{answer}");
        let rss: f64 = answer["value"][1].as_str().unwrap().parse().unwrap();
        assert!(rss > 1e6, "{answer}");
        dashboard_queries_run(&base);
        let scrape = query(&base, "up{job=\"soak\"}");
        assert_eq!(scrape["data"]["result"][0]["value"][1], "1", "{scrape}");
    }
    // Enough samples (3 s at 100 ms) for the leak to be judged, also when no Prometheus
    // was started above to take that long.
    wait_for_log_lines(&out_dir, 32);
    let child = recording.take();
    signal(child.id(), libc::SIGINT);
    let (code, err) = finish(child, Duration::from_secs(30));
    assert_eq!(code, Some(1), "a 60 MB/min leak fails: {err}");
    assert_complete_run(&out_dir);
    // Stopped with the run: nothing listens any more.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

/// Every expression of the dashboard is valid PromQL to this Prometheus (its variables
/// set to match all).
fn dashboard_queries_run(base: &str) {
    for expr in dashboard_exprs() {
        let concrete = expr
            .replace("$__rate_interval", "5s")
            .replace("$target", ".*")
            .replace("$instance", ".*");
        let v = query(base, &concrete);
        assert_eq!(v["status"], "success", "{concrete}: {v}");
    }
}

#[test]
fn a_port_in_use_or_a_bad_address_is_bad_input() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let fixture = fixture_bin();
    let record = |extra: &[&str]| {
        let mut args = vec![
            "record",
            "--duration",
            "1s",
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", fixture.to_str().unwrap(), "--exit-after", "5s"]);
        soakprof_within(Duration::from_secs(30), &args)
    };
    assert_bad_input(&record(&["--metrics-addr", &addr]), "cannot listen there");
    assert!(
        !out_dir.exists(),
        "no run directory for a run that never started"
    );
    assert_bad_input(
        &record(&["--metrics-addr", "somehost:9464"]),
        "--metrics-addr",
    );
    assert_bad_input(&record(&["--push-url", "127.0.0.1:9091"]), "--push-url");
    assert_bad_input(&record(&["--push-url", "ftp://h/"]), "http://");
    assert!(!out_dir.exists());
}

#[test]
fn the_verdict_is_pushed_and_a_failed_push_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture_bin();
    let record = |out: &Path, push_url: &str| {
        soakprof_within(
            Duration::from_secs(40),
            &[
                "record",
                "--interval",
                "100ms",
                "--duration",
                "2s",
                "--quiet",
                "--out",
                out.to_str().unwrap(),
                "--push-url",
                push_url,
                "--",
                fixture.to_str().unwrap(),
                "--exit-after",
                "60s",
            ],
        )
    };
    // Nothing listens on a port just freed: the push fails after a complete run.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let failed_dir = dir.path().join("failed");
    let out = record(&failed_dir, &closed);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot push") && err.contains("/metrics/job/soakprof/target/"),
        "{err}"
    );
    assert_complete_run(&failed_dir);
    if !have_tool(
        "prometheus-pushgateway",
        "the_verdict_is_pushed_and_a_failed_push_is_exit_3",
    ) {
        return;
    }
    let port = free_port();
    let _gateway = spawn_daemon(
        "prometheus-pushgateway",
        &[
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".to_string(),
        ],
        &dir.path().join("pushgateway.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    poll(
        "the Pushgateway to be ready",
        Duration::from_secs(30),
        || get_text(&format!("{base}/-/ready")),
    );
    let pushed_dir = dir.path().join("pushed");
    let out = record(&pushed_dir, &base);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let verdict = read_verdict(&pushed_dir);
    let page = get_text(&format!("{base}/metrics")).unwrap();
    let ours: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("soakprof_") && l.contains("job=\"soakprof\""))
        .collect();
    let has = |needle: &str| ours.iter().any(|l| l.contains(needle));
    let judged = verdict["verdict"].as_str().unwrap();
    assert!(
        ours.iter().any(|l| l.starts_with("soakprof_verdict{")
            && l.contains("target=\"soakprof-fixtur\"")
            && l.contains(&format!("verdict=\"{judged}\""))
            && l.ends_with(" 1")),
        "{page}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("soakprof_verdict_final{") && l.ends_with(" 1")),
        "{page}"
    );
    assert!(
        has("soakprof_growth_bytes_per_second{") && has("metric=\"rss\""),
        "{page}"
    );
    assert!(
        !page
            .lines()
            .any(|l| l.starts_with("process_resident_memory_bytes{")
                && l.contains("job=\"soakprof\"")),
        "the last RSS reading is not pushed: {page}"
    );
    // The pushed growth is the judged slope, per second.
    let slope_per_min = verdict["metrics"]["rss"]["slope_per_min"].as_f64().unwrap();
    let pushed: f64 = ours
        .iter()
        .find(|l| {
            l.starts_with("soakprof_growth_bytes_per_second{") && l.contains("metric=\"rss\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        (pushed - slope_per_min / 60.0).abs() <= 1e-6 * (1.0 + pushed.abs()),
        "{pushed} vs {slope_per_min}/60"
    );
}

/// The dashboard's PromQL expressions (panels and variables).
fn dashboard_exprs() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/soakprof.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &Value, exprs: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", Value::String(e)) => exprs.push(e.clone()),
                        _ => walk(value, exprs),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, exprs)),
            _ => {}
        }
    }
    walk(&dashboard["panels"], &mut exprs);
    exprs
}

/// The metric names a PromQL expression reads: identifiers left once strings, label
/// matchers, ranges, grouping clauses, variables, numbers, function calls and keywords are
/// taken out.
fn metric_names(expr: &str) -> Vec<String> {
    let strip = |text: &str, pattern: &str| {
        regex::Regex::new(pattern)
            .unwrap()
            .replace_all(text, " ")
            .into_owned()
    };
    let mut rest = strip(expr, r#""(?:[^"\\]|\\.)*""#);
    rest = strip(&rest, r"\{[^}]*\}");
    rest = strip(&rest, r"\[[^\]]*\]");
    rest = strip(
        &rest,
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
    );
    rest = strip(&rest, r"\$\{?\w+\}?");
    let keywords = ["and", "or", "unless", "bool", "offset"];
    regex::Regex::new(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?")
        .unwrap()
        .captures_iter(&rest)
        .filter(|c| c.get(1).is_none())
        .map(|c| c[0].trim().to_string())
        .filter(|name| !keywords.contains(&name.as_str()))
        .collect()
}

#[test]
fn the_dashboard_queries_only_what_soakprof_exposes() {
    let exposed = soakprof::sources::live::metrics::series_names();
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut used = std::collections::BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                exposed.contains(&name),
                "{name} (in {expr}) is not exposed: {exposed:?}"
            );
            used.insert(name);
        }
    }
    // The panels the issue asks for: memory with growth, threads/FDs, CPU, load.
    for needed in [
        "process_resident_memory_bytes",
        "soakprof_growth_bytes_per_second",
        "soakprof_threads",
        "process_open_fds",
        "process_cpu_seconds_total",
        "soakprof_load_request_duration_seconds_bucket",
        "soakprof_load_errors_total",
    ] {
        assert!(used.contains(needed), "{needed} not on the dashboard");
    }
    // The extraction itself: a name in a function, a matcher and a grouping is found, and
    // labels, functions and variables are not taken for names.
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b{c}"}[$__rate_interval]))) / y_total * 3600"#
        ),
        ["x_bucket", "y_total"]
    );
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/soakprof.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let label_values = regex::Regex::new(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)").unwrap();
    for v in variables.iter().filter(|v| v["type"] == "query") {
        let q = v["query"]["query"].as_str().unwrap();
        let name = &label_values.captures(q).expect(q)[1];
        assert!(exposed.iter().any(|e| e == name), "{name} in variable {q}");
    }
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"),
        "a datasource variable"
    );
}

/// The value of the series `line_start` (name and labels as written) on a page.
fn value_of(page: &str, line_start: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[test]
fn load_counters_and_latency_are_exposed_while_the_driver_runs() {
    let (server, port, _port_dir) = crate::load::start_server(&[]);
    let out_dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://127.0.0.1:{port}/");
    let mut recording = Recording(Some(
        Command::new(soakprof_bin())
            .args(["record", "--pid", &server.pid.to_string(), "--quiet"])
            .args(["--interval", "100ms", "--duration", "30s", "--out"])
            .arg(out_dir.path())
            .args(["--metrics-addr", &addr, "--load-url", &url, "--rps", "50"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let target = "target=\"soakprof-fixtur\"";
    let page = poll("load requests on the page", Duration::from_secs(20), || {
        let page = get_text(&format!("http://{addr}/metrics"))?;
        let count = value_of(
            &page,
            &format!("soakprof_load_request_duration_seconds_count{{{target}}}"),
        )?;
        (count >= 20.0).then_some(page)
    });
    let count = value_of(
        &page,
        &format!("soakprof_load_request_duration_seconds_count{{{target}}}"),
    )
    .unwrap();
    let inf = value_of(
        &page,
        &format!("soakprof_load_request_duration_seconds_bucket{{{target},le=\"+Inf\"}}"),
    )
    .unwrap();
    let requests = value_of(&page, &format!("soakprof_load_requests_total{{{target}}}")).unwrap();
    let sum = value_of(
        &page,
        &format!("soakprof_load_request_duration_seconds_sum{{{target}}}"),
    )
    .unwrap();
    assert_eq!(inf, count, "{page}");
    assert!(requests >= count && sum > 0.0 && sum < count, "{page}");
    assert_eq!(
        value_of(
            &page,
            &format!("soakprof_load_errors_total{{{target},kind=\"connect\"}}")
        ),
        Some(0.0),
        "{page}"
    );
    promtool_check(
        &page,
        "load_counters_and_latency_are_exposed_while_the_driver_runs",
    );
    let child = recording.take();
    signal(child.id(), libc::SIGINT);
    let (code, err) = finish(child, Duration::from_secs(30));
    assert!(matches!(code, Some(0 | 1)), "{code:?}: {err}");
    let v = read_verdict(out_dir.path());
    assert!(v["load"]["requests"].as_f64().unwrap() >= requests, "{v}");
}
