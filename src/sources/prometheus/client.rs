//! The Prometheus HTTP API's `query_range`: a range split into the chunks the server
//! accepts, the answers parsed straight into points, and every failure sorted into bad
//! input (the URL, the query, the credentials: exit 2) or a runtime failure (a timeout,
//! a failing server: exit 3), told in one line naming the server and what to do.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::RawSeries;

/// Prometheus refuses a range of more than 11,000 steps per series; each request asks
/// for at most this many points.
pub const MAX_POINTS_PER_REQUEST: u64 = 11_000;
/// An answer larger than this is refused (a query matching far more series than meant).
pub const MAX_BODY_BYTES: u64 = 1 << 30;
/// How much of a server's own message an error quotes.
const QUOTE_CHARS: usize = 400;
const QUERY_RANGE_PATH: &str = "api/v1/query_range";

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("--prometheus: {0}")]
    Url(String),
    #[error(
        "cannot reach Prometheus at {url}: {reason} (is the server running? check --prometheus)"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "Prometheus at {url} did not answer within {} (a heavy query or a long range: narrow it, or raise --prometheus-timeout)",
        humantime::format_duration(*timeout)
    )]
    Timeout { url: String, timeout: Duration },
    #[error("{url} did not answer as a Prometheus API ({what}): check the --prometheus URL")]
    NotPrometheus { url: String, what: String },
    #[error("Prometheus at {url} refused access (HTTP {status}): check --prometheus-header")]
    Denied { url: String, status: u16 },
    #[error("Prometheus rejected the query '{query}': {message}")]
    Rejected { query: String, message: String },
    #[error("Prometheus at {url} failed the query '{query}': {message}")]
    Failed {
        url: String,
        query: String,
        message: String,
    },
    #[error("Prometheus at {url} sent more than {} MiB for the query '{query}': narrow the query or the range", MAX_BODY_BYTES >> 20)]
    TooLarge { url: String, query: String },
    #[error("reading the answer of Prometheus at {url}: {reason}")]
    Read { url: String, reason: String },
    #[error("invalid range: {0}")]
    Range(String),
    /// `name` is empty when the name itself is unusable (it may be a mistyped secret).
    #[error("--prometheus-header{}: {reason}", if name.is_empty() { String::new() } else { format!(" {name}") })]
    HeaderSpec { name: String, reason: String },
    #[error("--prometheus-header '{spec}': {reason}")]
    HeaderValue { spec: String, reason: String },
}

impl PromError {
    /// Bad input: what the user gave (URL, query, credentials, range, header) must change;
    /// otherwise the server or the network failed and a retry may do.
    pub fn is_bad_input(&self) -> bool {
        match self {
            PromError::Url(_)
            | PromError::Unreachable { .. }
            | PromError::NotPrometheus { .. }
            | PromError::Denied { .. }
            | PromError::Rejected { .. }
            | PromError::Range(_)
            | PromError::HeaderSpec { .. }
            | PromError::HeaderValue { .. } => true,
            PromError::Timeout { .. }
            | PromError::Failed { .. }
            | PromError::TooLarge { .. }
            | PromError::Read { .. } => false,
        }
    }
}

/// `--prometheus`: an http(s) URL of a Prometheus server or of anything serving its API
/// (a path prefix is kept: `http://host/prom/` asks `http://host/prom/api/v1/...`).
pub fn parse_prometheus_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("'{text}' is not a URL ({e}); example: http://127.0.0.1:9090"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{text}': a Prometheus URL starts with http:// or https://"
        ));
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(format!("'{text}' names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "'{text}': give the server's base URL, without ?query or #fragment"
        ));
    }
    Ok(url)
}

/// The consecutive `(start, end)` ranges, in unix seconds, that cover `start..=end` at
/// `step` with at most `MAX_POINTS_PER_REQUEST` points each: every chunk starts on the
/// step grid from `start`, the next one a step after the previous one's last point, and
/// the last one ends at `end`, so the points are those of the whole range, each once.
/// Empty when the range is not a range (`end < start`, a step that is not positive,
/// a value that is not finite).
pub fn chunks(start: f64, end: f64, step: f64) -> Vec<(f64, f64)> {
    if !(start.is_finite() && end.is_finite() && step.is_finite() && step > 0.0 && end >= start) {
        return Vec::new();
    }
    // The tolerance keeps a range of exactly n steps from losing its last point to
    // rounding.
    let steps = ((end - start) / step + 1e-9).floor() as u64;
    let points = steps + 1;
    let mut out = Vec::new();
    let mut first = 0u64;
    while first < points {
        let last = (first + MAX_POINTS_PER_REQUEST - 1).min(steps);
        let chunk_start = start + first as f64 * step;
        let chunk_end = if last == steps {
            end
        } else {
            start + last as f64 * step
        };
        out.push((chunk_start, chunk_end));
        first = last + 1;
    }
    out
}

/// A client of one server's API, its headers sent with every request.
pub struct PromClient {
    http: reqwest::blocking::Client,
    endpoint: url::Url,
    /// The base URL without credentials, for messages.
    shown: String,
    timeout: Duration,
}

impl PromClient {
    /// `headers` are resolved `(name, value)` pairs (see `headers::HeaderSpec::resolve`);
    /// `timeout` bounds each request, connecting and reading the whole answer included.
    /// Credentials in `base` (`http://user:pass@host/`) are sent as basic auth and never
    /// shown.
    pub fn new(
        base: url::Url,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<PromClient, PromError> {
        let shown = shown_url(&base);
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(PromError::Url(format!(
                "'{shown}': a Prometheus URL starts with http:// or https://"
            )));
        }
        let mut base = base;
        // Without a trailing slash, joining would replace the last segment of a prefix.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoint = base
            .join(QUERY_RANGE_PATH)
            .map_err(|e| PromError::Url(format!("'{shown}': {e}")))?;
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            // Neither the value nor an unusable name is repeated: either may be a secret.
            let header_name =
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    PromError::HeaderSpec {
                        name: String::new(),
                        reason: "a header name is not a valid HTTP header name".to_string(),
                    }
                })?;
            let mut header_value =
                reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                    PromError::HeaderSpec {
                        name: name.clone(),
                        reason: "the value holds a character a header cannot carry".to_string(),
                    }
                })?;
            header_value.set_sensitive(true);
            map.append(header_name, header_value);
        }
        let http = reqwest::blocking::Client::builder()
            .default_headers(map)
            .timeout(timeout)
            .connect_timeout(timeout)
            // A followed redirect turns the POST into a GET without the query, which the
            // server would then reject as if the query were wrong: say where it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PromError::Read {
                url: shown.clone(),
                reason: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(PromClient {
            http,
            endpoint,
            shown,
            timeout,
        })
    }

    /// The base URL as messages show it (no credentials).
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// The series `promql` gives over `start..=end` (unix seconds) at `step` seconds, one
    /// request per chunk (see `chunks`), series of several chunks joined by their labels
    /// in the order first seen. Values that are not finite (NaN from an expression,
    /// ±Inf) are left out: they measure nothing. A series with no point left is left
    /// out. `progress` is called with the bytes read so far, all chunks together.
    pub fn query_range(
        &self,
        promql: &str,
        start_unix_s: f64,
        end_unix_s: f64,
        step_s: f64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<RawSeries>, PromError> {
        let ranges = chunks(start_unix_s, end_unix_s, step_s);
        if ranges.is_empty() {
            return Err(PromError::Range(format!(
                "from {start_unix_s} to {end_unix_s} every {step_s} s: the end must not \
                 precede the start and the step must be positive"
            )));
        }
        let mut series: Vec<RawSeries> = Vec::new();
        let mut index: HashMap<std::collections::BTreeMap<String, String>, usize> = HashMap::new();
        let mut read_bytes = 0u64;
        for (start, end) in ranges {
            let body = self.fetch(promql, start, end, step_s, &mut read_bytes, progress)?;
            for one in body {
                match index.get(&one.labels) {
                    Some(&at) => append_after(&mut series[at].points, one.points),
                    None => {
                        index.insert(one.labels.clone(), series.len());
                        series.push(one);
                    }
                }
            }
        }
        series.retain(|s| !s.points.is_empty());
        // Parsing grows each list by doubling: give back the slack of 200 long series.
        for one in &mut series {
            one.points.shrink_to_fit();
        }
        Ok(series)
    }

    /// One request: its answer parsed, or the error it makes.
    fn fetch(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
        read_bytes: &mut u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<RawSeries>, PromError> {
        let form = [
            ("query", promql.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ];
        let response = self
            .http
            .post(self.endpoint.clone())
            .form(&form)
            .send()
            .map_err(|e| self.send_error(&e))?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403 | 407) {
            return Err(PromError::Denied {
                url: self.shown.clone(),
                status: status.as_u16(),
            });
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| self.endpoint.join(l).ok())
                .map(|l| format!(" to {}", shown_url(&l)))
                .unwrap_or_default();
            return Err(PromError::NotPrometheus {
                url: self.shown.clone(),
                what: format!(
                    "HTTP {} for /{QUERY_RANGE_PATH}, a redirect{to}",
                    status.as_u16()
                ),
            });
        }
        let body = self.read_body(response, promql, read_bytes, progress)?;
        self.judge(status, &body, promql)
    }

    /// The whole body, at most `MAX_BODY_BYTES`, `progress` told as it comes.
    fn read_body(
        &self,
        mut response: reqwest::blocking::Response,
        promql: &str,
        read_bytes: &mut u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<u8>, PromError> {
        let expected = response.content_length().unwrap_or(0).min(MAX_BODY_BYTES);
        let mut body = Vec::with_capacity(expected as usize);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(&e)),
            };
            if (body.len() + n) as u64 > MAX_BODY_BYTES {
                return Err(PromError::TooLarge {
                    url: self.shown.clone(),
                    query: one_line(promql),
                });
            }
            body.extend_from_slice(&buf[..n]);
            *read_bytes += n as u64;
            progress(*read_bytes);
        }
        Ok(body)
    }

    /// The series of a successful answer, or what the answer says went wrong.
    fn judge(
        &self,
        status: reqwest::StatusCode,
        body: &[u8],
        promql: &str,
    ) -> Result<Vec<RawSeries>, PromError> {
        let not_prometheus = |what: String| PromError::NotPrometheus {
            url: self.shown.clone(),
            what,
        };
        let http_what = format!("HTTP {} for /{QUERY_RANGE_PATH}", status.as_u16());
        let answer = match serde_json::from_slice::<Answer>(body) {
            Ok(answer) => answer,
            Err(e) => {
                return Err(match serde_json::from_slice::<LooseAnswer>(body) {
                    Ok(loose) if loose.status == "success" => {
                        let kind = loose.data.map(|d| d.result_type).unwrap_or_default();
                        if kind == "matrix" {
                            not_prometheus(format!("{http_what}: a matrix of the wrong shape: {e}"))
                        } else {
                            not_prometheus(format!(
                                "{http_what}: a '{kind}' result where a range query gives a matrix"
                            ))
                        }
                    }
                    _ if status.is_server_error() => PromError::Failed {
                        url: self.shown.clone(),
                        query: one_line(promql),
                        message: server_said(status, body),
                    },
                    _ if serde_json::from_slice::<IgnoredAny>(body).is_ok() => {
                        not_prometheus(format!("{http_what}: JSON without a Prometheus status"))
                    }
                    _ => not_prometheus(http_what),
                });
            }
        };
        match answer.status.as_str() {
            "success" if status.is_success() => match answer.data {
                Some(Data {
                    result_type,
                    result: Some(result),
                }) if result_type == "matrix" => Ok(result.0),
                Some(Data { result_type, .. }) => Err(not_prometheus(format!(
                    "{http_what}: a '{result_type}' result where a range query gives a matrix"
                ))),
                None => Err(not_prometheus(format!("{http_what}: success without data"))),
            },
            "error" => {
                let message = match (&answer.error_type, &answer.error) {
                    (Some(kind), Some(text)) => format!("{} ({kind})", quote(text)),
                    (None, Some(text)) => quote(text),
                    (_, None) => format!("HTTP {status} without a reason"),
                };
                // A 4xx is the query's own fault (bad_data: 400; execution: 422, such as
                // many-to-many matching or too many samples), and a retry cannot help;
                // a 5xx (timeout, unavailable, internal) may pass another time.
                let query_fault = status.is_client_error()
                    || (!status.is_server_error()
                        && matches!(answer.error_type.as_deref(), Some("bad_data" | "execution")));
                if query_fault {
                    Err(PromError::Rejected {
                        query: one_line(promql),
                        message,
                    })
                } else {
                    Err(PromError::Failed {
                        url: self.shown.clone(),
                        query: one_line(promql),
                        message,
                    })
                }
            }
            other => Err(not_prometheus(format!(
                "{http_what}: status '{}'",
                quote(other)
            ))),
        }
    }

    /// A request that got no answer.
    fn send_error(&self, e: &reqwest::Error) -> PromError {
        if e.is_timeout() {
            return PromError::Timeout {
                url: self.shown.clone(),
                timeout: self.timeout,
            };
        }
        let reason = innermost(e);
        if e.is_connect() {
            PromError::Unreachable {
                url: self.shown.clone(),
                reason,
            }
        } else {
            PromError::Read {
                url: self.shown.clone(),
                reason,
            }
        }
    }

    /// An answer cut short.
    fn read_error(&self, e: &std::io::Error) -> PromError {
        let timed_out = e.kind() == std::io::ErrorKind::TimedOut
            || e.get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                .is_some_and(reqwest::Error::is_timeout);
        if timed_out {
            PromError::Timeout {
                url: self.shown.clone(),
                timeout: self.timeout,
            }
        } else {
            PromError::Read {
                url: self.shown.clone(),
                reason: innermost(e),
            }
        }
    }
}

/// `url` without user name and password.
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    // Both fail only on URLs that cannot hold credentials, which then hold none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The innermost cause of an error, which says what happened without reqwest's
/// repetition of the URL (which may hold credentials); a refused connection in words.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::ConnectionRefused
    {
        return "connection refused".to_string();
    }
    one_line(&cause.to_string())
}

/// Append `more` to `points`, leaving out points not after the last one (a boundary
/// point two chunks both returned).
fn append_after(points: &mut Vec<(f64, f64)>, more: Vec<(f64, f64)>) {
    let last = points.last().map(|p| p.0);
    points.extend(
        more.into_iter()
            .filter(|p| last.is_none_or(|last| p.0 > last)),
    );
}

/// Text on one line: whitespace runs (a query's line breaks) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A server's own message, on one line and at most `QUOTE_CHARS` long.
fn quote(text: &str) -> String {
    let line = one_line(text);
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// What a failing server's non-API body says: its status and the start of its text.
fn server_said(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = quote(&String::from_utf8_lossy(
        &body[..body.len().min(4 * QUOTE_CHARS)],
    ));
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    }
}

/// The API's envelope; `error`/`errorType` when `status` is `error`.
#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Option<Matrix>,
}

/// The envelope without the result, to say what an answer that did not parse was.
#[derive(Deserialize)]
struct LooseAnswer {
    status: String,
    data: Option<LooseData>,
}

#[derive(Deserialize)]
struct LooseData {
    #[serde(rename = "resultType")]
    result_type: String,
}

/// A matrix result: `[{"metric": {...}, "values": [[ts, "v"], ...]}, ...]`.
struct Matrix(Vec<RawSeries>);

impl<'de> Deserialize<'de> for Matrix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Series {
            metric: std::collections::BTreeMap<String, String>,
            // A native-histogram series has `histograms` instead: no point here.
            #[serde(default)]
            values: Points,
        }
        let all = Vec::<Series>::deserialize(deserializer)?;
        Ok(Matrix(
            all.into_iter()
                .map(|s| RawSeries {
                    labels: s.metric,
                    points: s.values.0,
                })
                .collect(),
        ))
    }
}

/// A series' `values`, the finite ones only, each parsed where it lies in the body.
#[derive(Default)]
struct Points(Vec<(f64, f64)>);

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PointsVisitor;
        impl<'de> Visitor<'de> for PointsVisitor {
            type Value = Points;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of [timestamp, \"value\"] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Points, A::Error> {
                let mut points = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(Point(ts, value)) = seq.next_element()? {
                    if value.is_finite() {
                        points.push((ts, value));
                    }
                }
                Ok(Points(points))
            }
        }
        deserializer.deserialize_seq(PointsVisitor)
    }
}

/// One `[ts, "value"]` pair; the value may be NaN or ±Inf here.
struct Point(f64, f64);

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PointVisitor;
        impl<'de> Visitor<'de> for PointVisitor {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
                let ts: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let Value(value) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(Point(ts, value))
            }
        }
        deserializer.deserialize_tuple(2, PointVisitor)
    }
}

/// A sample value, a string in the API (`"1.5"`, `"NaN"`, `"+Inf"`), parsed from the
/// borrowed text without an allocation.
struct Value(f64);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value as a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Value, E> {
                text.parse::<f64>()
                    .map(Value)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(ValueVisitor)
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
