use super::*;

#[test]
fn addresses() {
    let lo = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    assert_eq!(parse_metrics_addr(":9464"), Ok(lo(9464)));
    assert_eq!(parse_metrics_addr("9464"), Ok(lo(9464)));
    assert_eq!(parse_metrics_addr("localhost:9464"), Ok(lo(9464)));
    assert_eq!(
        parse_metrics_addr("0.0.0.0:80"),
        Ok("0.0.0.0:80".parse().unwrap())
    );
    assert_eq!(
        parse_metrics_addr("[::1]:9464"),
        Ok("[::1]:9464".parse().unwrap())
    );
    for bad in [
        "",
        ":",
        ":99999",
        "host:1",
        "127.0.0.1",
        "1.2.3.4:x",
        "70000",
    ] {
        assert!(parse_metrics_addr(bad).is_err(), "{bad}");
    }
}

fn sample(t: f64, rss: u64) -> Sample {
    Sample {
        t,
        rss: Some(rss),
        threads: Some(4),
        cpu_user_s: Some(1.5),
        cpu_sys_s: Some(0.25),
        ..Sample::default()
    }
}

struct Nothing;
impl StatusSink for Nothing {
    fn update(&mut self, _: &Sample, _: Option<f64>, _: Option<f64>) {}
    fn note(&mut self, _: &str) {}
    fn finish(&mut self) {}
}

fn leaking(bytes_per_s: f64, n: usize) -> Arc<LiveState> {
    let state = LiveState::new();
    state.attach("api", &Thresholds::default(), None);
    let mut status = LiveStatus::wrap(
        Box::new(Nothing),
        Arc::clone(&state),
        &Thresholds::default(),
    );
    for i in 0..n {
        let t = i as f64;
        status.update(&sample(t, (100e6 + bytes_per_s * t) as u64), None, None);
    }
    state
}

#[test]
fn nothing_before_the_target_is_known() {
    assert_eq!(LiveState::new().render(false), "");
}

#[test]
fn what_was_not_read_is_absent() {
    let text = leaking(0.0, 10).render(false);
    assert!(
        text.contains("process_resident_memory_bytes{target=\"api\"} 100000000\n"),
        "{text}"
    );
    assert!(
        text.contains("process_cpu_seconds_total{target=\"api\"} 1.75\n"),
        "{text}"
    );
    assert!(
        text.contains("soakprof_threads{target=\"api\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("soakprof_samples_total{target=\"api\"} 10\n"),
        "{text}"
    );
    for absent in [
        "process_start_time_seconds",
        "process_open_fds",
        "process_virtual_memory_bytes",
        "soakprof_pss_bytes",
        "soakprof_load_",
        "soakprof_growth_per_second{target=\"api\",metric=\"fds\"}",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    assert!(
        text.contains("soakprof_verdict{target=\"api\",verdict=\"pass\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("soakprof_verdict_final{target=\"api\"} 0\n"),
        "{text}"
    );
}

#[test]
fn the_running_slope_gives_the_provisional_verdict() {
    // Thresholds: warn at 5 MB/min, fail at 10 MB/min.
    let verdict_of = |bytes_per_s: f64| {
        let text = leaking(bytes_per_s, 30).render(false);
        ["pass", "warn", "fail"]
            .into_iter()
            .find(|v| text.contains(&format!("verdict=\"{v}\"}} 1")))
            .map(str::to_string)
    };
    assert_eq!(verdict_of(0.0).as_deref(), Some("pass"));
    assert_eq!(verdict_of(7e6 / 60.0).as_deref(), Some("warn"));
    assert_eq!(verdict_of(20e6 / 60.0).as_deref(), Some("fail"));
    let text = leaking(1000.0, 30).render(false);
    let rss_growth: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("soakprof_growth_bytes_per_second{target=\"api\",metric=\"rss\"} ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((rss_growth - 1000.0).abs() < 1.0, "{text}");
    assert!(text.contains("soakprof_growth_per_second{target=\"api\",metric=\"threads\"} 0\n"));
    // Two samples give no slope: no growth and no verdict yet.
    let early = leaking(1000.0, 2).render(false);
    assert!(
        !early.contains("soakprof_growth_bytes_per_second{")
            && !early.contains("soakprof_growth_per_second{")
            && !early.contains("soakprof_verdict{"),
        "{early}"
    );
}

#[test]
fn several_processes_are_judged_by_pss() {
    let th = Thresholds::default();
    let mut growth = [None; GROWTHS.len()];
    growth[0] = Some(1e6); // RSS 60 MB/min: would fail
    assert_eq!(
        provisional_verdict(&growth, &th, false),
        Some(Verdict::Fail)
    );
    assert_eq!(provisional_verdict(&growth, &th, true), None, "no PSS yet");
    growth[2] = Some(0.0);
    assert_eq!(provisional_verdict(&growth, &th, true), Some(Verdict::Pass));
    let mut fds = [None; GROWTHS.len()];
    fds[5] = Some(1.0); // 60 FDs/min, over 10/h
    assert_eq!(provisional_verdict(&fds, &th, false), Some(Verdict::Fail));
}

#[test]
fn pss_keeps_its_last_reading() {
    let state = LiveState::new();
    state.attach("x", &Thresholds::default(), None);
    let mut status = LiveStatus::wrap(
        Box::new(Nothing),
        Arc::clone(&state),
        &Thresholds::default(),
    );
    let mut s = sample(0.0, 1);
    s.pss = Some(777);
    status.update(&s, None, None);
    status.update(&sample(1.0, 1), None, None);
    assert!(
        state
            .render(false)
            .contains("soakprof_pss_bytes{target=\"x\"} 777\n")
    );
}

#[test]
fn load_counters_and_latency_histogram() {
    let load = Arc::new(LoadLive::default());
    for us in [500, 1_000, 1_001, 30_000, 20_000_000] {
        load.count_latency(us);
    }
    load.count_error(ERROR_KINDS.iter().position(|k| *k == "timeout").unwrap(), 2);
    load.requests.store(9, std::sync::atomic::Ordering::Relaxed);
    let state = LiveState::new();
    state.attach("x", &Thresholds::default(), Some(load));
    let text = state.render(false);
    for line in [
        "# TYPE soakprof_load_request_duration_seconds histogram",
        "soakprof_load_request_duration_seconds_bucket{target=\"x\",le=\"0.001\"} 2",
        "soakprof_load_request_duration_seconds_bucket{target=\"x\",le=\"0.0025\"} 3",
        "soakprof_load_request_duration_seconds_bucket{target=\"x\",le=\"0.05\"} 4",
        "soakprof_load_request_duration_seconds_bucket{target=\"x\",le=\"10\"} 4",
        "soakprof_load_request_duration_seconds_bucket{target=\"x\",le=\"+Inf\"} 5",
        "soakprof_load_request_duration_seconds_sum{target=\"x\"} 20.032501",
        "soakprof_load_request_duration_seconds_count{target=\"x\"} 5",
        "soakprof_load_requests_total{target=\"x\"} 9",
        "soakprof_load_errors_total{target=\"x\",kind=\"timeout\"} 2",
        "soakprof_load_errors_total{target=\"x\",kind=\"status\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    }
}

#[test]
fn push_body_is_the_judgement_only() {
    let state = leaking(0.0, 10);
    let text = state.render(true);
    assert!(text.contains("soakprof_verdict{"), "{text}");
    assert!(
        !text.contains("process_") && !text.contains("soakprof_threads"),
        "{text}"
    );
}

/// One HTTP/1.0 exchange with the server: the status line and the whole answer.
fn exchange(addr: SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn the_server_answers_scrapes_and_refuses_the_rest() {
    let state = leaking(0.0, 5);
    let server = LiveServer::start("127.0.0.1:0".parse().unwrap(), state).unwrap();
    let addr = server.addr();
    let ok = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{ok}"
    );
    assert!(
        ok.contains("soakprof_samples_total{target=\"api\"} 5"),
        "{ok}"
    );
    assert!(exchange(addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404"));
    let post = exchange(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let refused = exchange(addr, &huge);
    assert!(!refused.starts_with("HTTP/1.1 200"), "{refused}");
    // The same address again is refused while it is served.
    match LiveServer::start(addr, LiveState::new()) {
        Err(e @ LiveError::Bind { .. }) => assert!(e.is_bad_input()),
        other => panic!("{:?}", other.map(|s| s.addr())),
    }
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped when dropped"
    );
}

#[test]
fn idle_connections_past_the_cap_do_not_stop_scrapes_for_long() {
    let server = LiveServer::start("127.0.0.1:0".parse().unwrap(), leaking(0.0, 3)).unwrap();
    let addr = server.addr();
    // Clients that connect and send nothing hold every slot; the next is closed at once,
    // and the slots come back when the header timeout closes them.
    let idle: Vec<_> = (0..server::MAX_CONNECTIONS)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let over = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(over, "", "over the cap: closed without an answer");
    let start = std::time::Instant::now();
    loop {
        let answer = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(12),
            "never served again"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(idle);
}
