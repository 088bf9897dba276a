//! Helpers for the tests that run the real Prometheus tools: daemons started here on a
//! free loopback port with a temporary data directory (killed when dropped), a Prometheus
//! scraping given targets or serving backfilled blocks, `promtool` for backfills and
//! metric checks, and the HTTP API's instant and range queries.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::have_tool;

/// A daemon this test started (Prometheus, a Pushgateway): killed when dropped.
pub struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free now on 127.0.0.1 (the OS's choice; closed again for the caller to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET `url`; `None` while nothing answers there.
pub fn get(url: &str) -> Option<reqwest::blocking::Response> {
    client().get(url).send().ok()
}

pub fn get_text(url: &str) -> Option<String> {
    get(url).filter(|r| r.status().is_success())?.text().ok()
}

/// Wait until `probe` gives a value, for at most `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Start `program` with its output in `log`.
pub fn spawn_daemon(program: &str, args: &[String], log: &Path) -> Daemon {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Daemon(child)
}

/// Prometheus on a free loopback port with `config` (YAML), its TSDB in `data` and
/// `extra` flags; returns it and its base URL once it is ready. Retention is ten years, so
/// backfilled blocks are never dropped whatever their age.
fn prometheus(dir: &Path, config: &str, data: &Path, extra: &[&str]) -> (Daemon, String) {
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let port = free_port();
    let mut args = vec![
        format!("--config.file={}", config_file.display()),
        format!("--storage.tsdb.path={}", data.display()),
        "--storage.tsdb.retention.time=3650d".to_string(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let daemon = spawn_daemon("prometheus", &args, &dir.join("prometheus.log"));
    let base = format!("http://127.0.0.1:{port}");
    poll("Prometheus to be ready", Duration::from_secs(60), || {
        get_text(&format!("{base}/-/ready"))
    });
    (daemon, base)
}

/// Prometheus scraping `targets` every second as job `soak`, its data in `dir/data`.
pub fn start_prometheus(dir: &Path, targets: &[String]) -> (Daemon, String) {
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: soak\n    static_configs:\n      - targets: [{}]\n",
        list.join(", ")
    );
    prometheus(dir, &config, &dir.join("data"), &[])
}

/// Prometheus serving the TSDB in `data` (backfilled blocks, or none), scraping nothing,
/// with `extra` flags; its files beside the TSDB in `dir`.
pub fn start_prometheus_on(dir: &Path, data: &Path, extra: &[&str]) -> (Daemon, String) {
    prometheus(dir, "global:\n  scrape_interval: 15s\n", data, extra)
}

/// `promtool tsdb create-blocks-from openmetrics FILE DATA`: blocks Prometheus can open.
pub fn backfill(openmetrics: &Path, data: &Path) {
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(openmetrics)
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool backfill: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An instant query; the API's whole answer.
pub fn query(base: &str, promql: &str) -> Value {
    let response = client()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .unwrap();
    serde_json::from_str(&response.text().unwrap()).unwrap()
}

/// A range query over `[start, end]` every `step_s` (unix seconds); the API's whole
/// answer, whatever its status.
pub fn query_range(base: &str, promql: &str, start_s: i64, end_s: i64, step_s: i64) -> Value {
    let response = client()
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", promql.to_string()),
            ("start", start_s.to_string()),
            ("end", end_s.to_string()),
            ("step", step_s.to_string()),
        ])
        .send()
        .unwrap();
    serde_json::from_str(&response.text().unwrap()).unwrap()
}

/// One series of a range query's answer: its labels and `(t, value)` points.
pub type RangeSeries = (serde_json::Map<String, Value>, Vec<(i64, f64)>);

/// The series of a successful range query.
pub fn matrix(answer: &Value) -> Vec<RangeSeries> {
    assert_eq!(answer["status"], "success", "{answer}");
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let t = p[0].as_f64().unwrap() as i64;
                    (t, p[1].as_str().unwrap().parse().unwrap())
                })
                .collect();
            (s["metric"].as_object().unwrap().clone(), points)
        })
        .collect()
}

/// `promtool check metrics` on a scraped page: clean, nothing said (skipped without
/// promtool, unless SOAKPROF_REQUIRE_ALL is set).
pub fn promtool_check(page: &str, test: &str) {
    if !have_tool("promtool", test) {
        return;
    }
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), page.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{page}"
    );
}
