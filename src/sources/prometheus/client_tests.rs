use super::*;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Instant;

const SHORT: Duration = Duration::from_secs(5);

/// A server on 127.0.0.1 answering one connection per canned response, in order, then
/// closing; `join` gives the requests it read. Every wait is bounded, so a test that
/// fails before connecting leaves no thread behind for long.
struct CannedServer {
    addr: std::net::SocketAddr,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl CannedServer {
    fn start(responses: Vec<String>) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for response in responses {
                let Some(mut stream) = accept(&listener) else {
                    break;
                };
                requests.push(read_request(&mut stream));
                if !response.is_empty() {
                    let _ = stream.write_all(response.as_bytes());
                } else {
                    // No answer: hold the connection until the client gives up.
                    let mut sink = [0u8; 64];
                    let _ = stream.read(&mut sink);
                }
            }
            requests
        });
        CannedServer {
            addr,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    fn join(mut self) -> Vec<String> {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: &TcpListener) -> Option<TcpStream> {
    let deadline = Instant::now() + SHORT;
    while Instant::now() < deadline {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_nonblocking(false).ok()?;
            stream.set_read_timeout(Some(SHORT)).ok()?;
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The request's head and its body (by Content-Length).
fn read_request(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).to_string()
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn json(status: &str, body: &str) -> String {
    response(status, "application/json", body)
}

fn matrix(series: &[(&str, &[(f64, &str)])]) -> String {
    let result: Vec<String> = series
        .iter()
        .map(|(metric, values)| {
            let values: Vec<String> = values
                .iter()
                .map(|(ts, v)| format!("[{ts},\"{v}\"]"))
                .collect();
            format!(r#"{{"metric":{metric},"values":[{}]}}"#, values.join(","))
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
        result.join(",")
    )
}

fn client(base: url::Url) -> PromClient {
    PromClient::new(base, Vec::new(), Duration::from_secs(3)).unwrap()
}

fn query_one(server_response: String) -> (Result<Vec<RawSeries>, PromError>, Vec<String>) {
    let server = CannedServer::start(vec![server_response]);
    let got = client(server.url("/")).query_range("up", 1000.0, 1060.0, 15.0, &mut |_| {});
    (got, server.join())
}

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn chunks_cover_the_range_once_at_most_11000_points_each() {
    assert_eq!(chunks(0.0, 100.0, 10.0), vec![(0.0, 100.0)]);
    // 11,000 points exactly: one chunk; one more: two.
    assert_eq!(chunks(0.0, 10_999.0, 1.0), vec![(0.0, 10_999.0)]);
    assert_eq!(
        chunks(0.0, 11_000.0, 1.0),
        vec![(0.0, 10_999.0), (11_000.0, 11_000.0)]
    );
    // An end off the step grid stays the last chunk's end.
    assert_eq!(
        chunks(100.0, 100.0 + 25_000.0 * 2.0 + 1.0, 2.0),
        vec![
            (100.0, 100.0 + 10_999.0 * 2.0),
            (100.0 + 11_000.0 * 2.0, 100.0 + 21_999.0 * 2.0),
            (100.0 + 22_000.0 * 2.0, 100.0 + 25_000.0 * 2.0 + 1.0),
        ]
    );
    // A fractional step: the points of all chunks are the points of the whole range.
    let (start, step) = (1_700_000_000.0, 0.3);
    let end = start + 30_000.0 * step;
    let parts = chunks(start, end, step);
    assert_eq!(parts.len(), 3);
    let mut count = 0u64;
    for (i, (a, b)) in parts.iter().enumerate() {
        let points = ((b - a) / step + 1e-9).floor() as u64 + 1;
        assert!(points <= MAX_POINTS_PER_REQUEST, "{points}");
        count += points;
        if let Some((next, _)) = parts.get(i + 1) {
            assert!((next - b - step).abs() < 1e-6, "{b} then {next}");
        }
    }
    assert_eq!(count, 30_001);
    assert_eq!(chunks(5.0, 5.0, 1.0), vec![(5.0, 5.0)]);
    for (s, e, st) in [
        (10.0, 5.0, 1.0),
        (0.0, 5.0, 0.0),
        (0.0, 5.0, -1.0),
        (f64::NAN, 5.0, 1.0),
        (0.0, f64::INFINITY, 1.0),
    ] {
        assert!(chunks(s, e, st).is_empty(), "{s} {e} {st}");
    }
}

#[test]
fn a_matrix_parses_into_series_without_non_finite_values() {
    let body = matrix(&[
        (
            r#"{"__name__":"process_resident_memory_bytes","instance":"a:9100","job":"node"}"#,
            &[(1000.0, "1.5e6"), (1015.0, "NaN"), (1030.0, "2000000")],
        ),
        (
            r#"{"instance":"b:9100","path":"C:\\tmp \"q\""}"#,
            &[(1000.5, "+Inf"), (1015.5, "-Inf"), (1030.5, "-3.25")],
        ),
        (r#"{"instance":"c"}"#, &[(1000.0, "NaN")]),
    ]);
    let (got, requests) = query_one(json("200 OK", &body));
    let got = got.unwrap();
    assert_eq!(got.len(), 2, "a series with no finite point is left out");
    assert_eq!(
        got[0].labels,
        labels(&[
            ("__name__", "process_resident_memory_bytes"),
            ("instance", "a:9100"),
            ("job", "node"),
        ])
    );
    assert_eq!(got[0].points, vec![(1000.0, 1.5e6), (1030.0, 2e6)]);
    assert_eq!(
        got[1].labels,
        labels(&[("instance", "b:9100"), ("path", "C:\\tmp \"q\"")])
    );
    assert_eq!(got[1].points, vec![(1030.5, -3.25)]);
    // One POST, form-encoded, to the API path.
    let request = &requests[0];
    assert!(
        request.starts_with("POST /api/v1/query_range HTTP/1.1"),
        "{request}"
    );
    assert!(
        request.contains("application/x-www-form-urlencoded"),
        "{request}"
    );
    assert!(
        request.ends_with("query=up&start=1000&end=1060&step=15"),
        "{request}"
    );
}

#[test]
fn wrong_shapes_are_not_a_prometheus_answer() {
    for (body, says) in [
        (
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#,
            "a 'vector' result",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}"#,
            "wrong shape",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}"#,
            "wrong shape",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2",3]]}]}}"#,
            "wrong shape",
        ),
        (r#"{"status":"success"}"#, "success without data"),
        (r#"{"hello":"world"}"#, "JSON without a Prometheus status"),
        (r#"{"status":"maybe"}"#, "status 'maybe'"),
        ("not json at all", "HTTP 200 for /api/v1/query_range"),
    ] {
        let (got, _) = query_one(json("200 OK", body));
        let err = got.unwrap_err();
        assert!(matches!(err, PromError::NotPrometheus { .. }), "{err:?}");
        assert!(err.is_bad_input());
        let text = err.to_string();
        assert!(text.contains(says), "{body}: {text}");
        assert!(text.contains("check the --prometheus URL"), "{text}");
    }
}

#[test]
fn a_404_page_is_not_a_prometheus_api() {
    let server = CannedServer::start(vec![response(
        "404 Not Found",
        "text/html",
        "<html><body>Not here</body></html>",
    )]);
    let addr = server.addr;
    let base = url::Url::parse(&format!("http://user:hunter2@{addr}/prom")).unwrap();
    let got = client(base).query_range("up", 0.0, 60.0, 15.0, &mut |_| {});
    let requests = server.join();
    let text = got.unwrap_err().to_string();
    assert_eq!(
        text,
        format!(
            "http://{addr}/prom did not answer as a Prometheus API (HTTP 404 for \
             /api/v1/query_range): check the --prometheus URL"
        )
    );
    assert!(!text.contains("hunter2"), "{text}");
    // The prefix is kept and the credentials are sent as basic auth.
    assert!(
        requests[0].starts_with("POST /prom/api/v1/query_range "),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: basic dxnlcjpodw50zxiy"),
        "{}",
        requests[0]
    );
}

#[test]
fn query_errors_quote_the_server() {
    let bad_data = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error:\n unclosed left parenthesis"}"#;
    let (got, _) = query_one(json("400 Bad Request", bad_data));
    let err = got.unwrap_err();
    assert!(err.is_bad_input());
    assert_eq!(
        err.to_string(),
        "Prometheus rejected the query 'up': invalid parameter \"query\": 1:6: parse error: \
         unclosed left parenthesis (bad_data)"
    );

    let execution = r#"{"status":"error","errorType":"execution","error":"found duplicate series for the match group"}"#;
    let (got, _) = query_one(json("422 Unprocessable Entity", execution));
    let err = got.unwrap_err();
    assert!(matches!(err, PromError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("duplicate series"), "{err}");

    let timeout = r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
    let (got, _) = query_one(json("503 Service Unavailable", timeout));
    let err = got.unwrap_err();
    assert!(!err.is_bad_input());
    let text = err.to_string();
    assert!(
        text.contains("failed the query 'up': query timed out in expression evaluation (timeout)"),
        "{text}"
    );

    let (got, _) = query_one(response(
        "502 Bad Gateway",
        "text/html",
        "<html>\n<h1>502 Bad Gateway</h1>\n</html>",
    ));
    let err = got.unwrap_err();
    assert!(!err.is_bad_input(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 502 Bad Gateway: <html> <h1>502"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
}

#[test]
fn denied_access_points_at_the_headers() {
    for status in ["401 Unauthorized", "403 Forbidden"] {
        let (got, _) = query_one(response(status, "text/plain", "no"));
        let err = got.unwrap_err();
        assert!(err.is_bad_input());
        let text = err.to_string();
        assert!(text.contains(&status[..3]), "{text}");
        assert!(text.ends_with("check --prometheus-header"), "{text}");
    }
}

#[test]
fn a_refused_port_is_unreachable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let err = client(base)
        .query_range("up", 0.0, 60.0, 15.0, &mut |_| {})
        .unwrap_err();
    assert!(err.is_bad_input());
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach Prometheus at http://127.0.0.1:{port}/: connection refused \
             (is the server running? check --prometheus)"
        )
    );
}

#[test]
fn no_answer_is_a_timeout() {
    let server = CannedServer::start(vec![String::new()]);
    let started = Instant::now();
    let err = PromClient::new(server.url("/"), Vec::new(), Duration::from_millis(300))
        .unwrap()
        .query_range("up", 0.0, 60.0, 15.0, &mut |_| {})
        .unwrap_err();
    assert!(started.elapsed() < SHORT);
    assert!(!err.is_bad_input());
    assert!(
        err.to_string().contains("did not answer within 300ms"),
        "{err}"
    );
}

#[test]
fn a_long_range_is_fetched_in_chunks_and_joined_by_labels() {
    let step = 1.0;
    let end = 11_000.0 + 500.0;
    let a = r#"{"instance":"a"}"#;
    let b = r#"{"instance":"b"}"#;
    let first = matrix(&[(a, &[(0.0, "1"), (10_999.0, "2")]), (b, &[(5.0, "7")])]);
    // The second chunk repeats the boundary point of "a" and brings a new series.
    let second = matrix(&[
        (r#"{"instance":"c"}"#, &[(11_100.0, "9")]),
        (a, &[(10_999.0, "2"), (11_000.0, "3"), (11_500.0, "4")]),
    ]);
    let server = CannedServer::start(vec![json("200 OK", &first), json("200 OK", &second)]);
    let mut seen = Vec::new();
    let got = client(server.url("/"))
        .query_range("up", 0.0, end, step, &mut |bytes| seen.push(bytes))
        .unwrap();
    let requests = server.join();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].ends_with("start=0&end=10999&step=1"),
        "{}",
        requests[0]
    );
    assert!(
        requests[1].ends_with("start=11000&end=11500&step=1"),
        "{}",
        requests[1]
    );
    let names: Vec<&str> = got.iter().map(|s| s.labels["instance"].as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        got[0].points,
        vec![
            (0.0, 1.0),
            (10_999.0, 2.0),
            (11_000.0, 3.0),
            (11_500.0, 4.0)
        ]
    );
    // Progress counts the bytes of both answers, growing.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(
        seen.last().copied(),
        Some((first.len() + second.len()) as u64)
    );
}

#[test]
fn headers_are_sent_and_bad_ones_refused() {
    let server = CannedServer::start(vec![json("200 OK", &matrix(&[]))]);
    let headers = vec![
        ("Authorization".to_string(), "Bearer tok".to_string()),
        ("X-Scope-OrgID".to_string(), "team-a".to_string()),
    ];
    let got = PromClient::new(server.url("/"), headers, SHORT)
        .unwrap()
        .query_range("up", 0.0, 60.0, 15.0, &mut |_| {})
        .unwrap();
    assert!(got.is_empty());
    let request = server.join()[0].to_ascii_lowercase();
    assert!(request.contains("authorization: bearer tok"), "{request}");
    assert!(request.contains("x-scope-orgid: team-a"), "{request}");

    let base = url::Url::parse("http://127.0.0.1:9/").unwrap();
    for (name, value) in [("Bad Name", "x"), ("X-A", "a\nb")] {
        let err = PromClient::new(base.clone(), vec![(name.into(), value.into())], SHORT)
            .err()
            .unwrap();
        assert!(err.is_bad_input());
        assert!(!err.to_string().contains("a\nb"), "{err}");
    }
}

#[test]
fn bad_ranges_and_urls_are_bad_input() {
    let c = client(url::Url::parse("http://127.0.0.1:9/").unwrap());
    let err = c
        .query_range("up", 60.0, 0.0, 15.0, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, PromError::Range(_)) && err.is_bad_input(),
        "{err:?}"
    );
    let err = PromClient::new(url::Url::parse("ftp://h/").unwrap(), Vec::new(), SHORT)
        .err()
        .unwrap();
    assert!(err.is_bad_input(), "{err:?}");

    assert!(parse_prometheus_url("http://127.0.0.1:9090").is_ok());
    assert!(parse_prometheus_url("https://thanos.example/prom/").is_ok());
    for bad in [
        "127.0.0.1:9090",
        "ftp://x",
        "http://",
        "http://h/?a=1",
        "http://h/#x",
        "",
    ] {
        assert!(parse_prometheus_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_variant_is_one_line_with_its_exit_class() {
    let url = "http://h:9090/".to_string();
    let query = "up".to_string();
    let cases = [
        (PromError::Url("x".into()), true),
        (
            PromError::Unreachable {
                url: url.clone(),
                reason: "connection refused".into(),
            },
            true,
        ),
        (
            PromError::Timeout {
                url: url.clone(),
                timeout: SHORT,
            },
            false,
        ),
        (
            PromError::NotPrometheus {
                url: url.clone(),
                what: "HTTP 404".into(),
            },
            true,
        ),
        (
            PromError::Denied {
                url: url.clone(),
                status: 401,
            },
            true,
        ),
        (
            PromError::Rejected {
                query: query.clone(),
                message: "m".into(),
            },
            true,
        ),
        (
            PromError::Failed {
                url: url.clone(),
                query: query.clone(),
                message: "m".into(),
            },
            false,
        ),
        (
            PromError::TooLarge {
                url: url.clone(),
                query,
            },
            false,
        ),
        (
            PromError::Read {
                url,
                reason: "reset".into(),
            },
            false,
        ),
        (PromError::Range("r".into()), true),
        (
            PromError::HeaderSpec {
                name: "X".into(),
                reason: "r".into(),
            },
            true,
        ),
        (
            PromError::HeaderValue {
                spec: "X: env:V".into(),
                reason: "r".into(),
            },
            true,
        ),
    ];
    for (err, bad) in cases {
        assert_eq!(err.is_bad_input(), bad, "{err:?}");
        let text = err.to_string();
        assert!(!text.is_empty() && !text.contains('\n'), "{text}");
    }
}

#[test]
fn boundary_duplicates_are_dropped_and_quotes_are_bounded() {
    let mut points = vec![(1.0, 1.0), (2.0, 2.0)];
    append_after(&mut points, vec![(2.0, 9.0), (3.0, 3.0)]);
    assert_eq!(points, vec![(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]);
    let mut empty = Vec::new();
    append_after(&mut empty, vec![(5.0, 5.0)]);
    assert_eq!(empty, vec![(5.0, 5.0)]);
    let long = "é".repeat(QUOTE_CHARS + 10);
    assert_eq!(quote(&long).chars().count(), QUOTE_CHARS + 1);
    assert_eq!(
        one_line("sum by (job)\n  (rate(x[5m]))"),
        "sum by (job) (rate(x[5m]))"
    );
    assert_eq!(
        shown_url(&url::Url::parse("https://u:p@h:1/x/").unwrap()),
        "https://h:1/x/"
    );
}

#[test]
fn a_redirect_is_reported_not_followed() {
    let (got, requests) = query_one(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://u:pw@prom.example/api/v1/query_range\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
            .to_string(),
    );
    assert_eq!(requests.len(), 1);
    let err = got.unwrap_err();
    assert!(err.is_bad_input());
    let text = err.to_string();
    assert!(
        text.contains(
            "(HTTP 301 for /api/v1/query_range, a redirect to \
             https://prom.example/api/v1/query_range): check the --prometheus URL"
        ),
        "{text}"
    );
}
