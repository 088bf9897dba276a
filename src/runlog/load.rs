//! `load.jsonl`: what the load driver did, one line per interval plus stage and external
//! driver events, each tagged by `"type"` and flushed as written.
//!
//! Each interval line carries its latency histogram (HdrHistogram V2, deflated, base64),
//! overall and per request name, so that whole-run percentiles are exact merges of the
//! intervals and a crash loses at most the interval being written.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::{JsonLinesWriter, RunLogError, for_each_record, open_log};

pub const LOAD_FILE: &str = "load.jsonl";
/// `load.jsonl` is read through the default 8 KiB buffer.
const LOAD_BUFFER: usize = 8 * 1024;
/// Output of an external load command (`--load-cmd`).
pub const LOAD_CMD_LOG_FILE: &str = "load.log";

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant figures.
pub const LATENCY_MAX_US: u64 = 600_000_000;
const LATENCY_SIGFIG: u8 = 3;

/// An empty latency histogram with the bounds every writer and reader uses.
pub fn new_latency_histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)
}

/// Histogram → base64 of its deflated V2 encoding.
pub fn encode_histogram(
    histogram: &Histogram<u64>,
    serializer: &mut V2DeflateSerializer,
    scratch: &mut Vec<u8>,
) -> Option<String> {
    scratch.clear();
    serializer.serialize(histogram, scratch).ok()?;
    Some(BASE64.encode(scratch))
}

/// The inverse of [`encode_histogram`]; `None` for anything malformed.
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = BASE64.decode(text).ok()?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

/// Failed requests by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// A response whose status was not the expected one.
    pub status: u64,
    /// No complete response within the request timeout.
    pub timeout: u64,
    /// The connection could not be made (refused, unreachable, DNS).
    pub connect: u64,
    /// A response that failed its checks (body not JSON, expected keys missing).
    pub check: u64,
    /// Open model: a request due to start while `max in flight` requests were already
    /// waiting; it was not sent.
    pub dropped: u64,
    /// Anything else (a reset connection, a malformed response, a body read error).
    pub other: u64,
    /// A response body longer than `--max-body` (or the scenario's `max_body`); the rest
    /// was not read and the connection was closed. Absent from logs before it existed.
    #[serde(default)]
    pub body_too_large: u64,
    /// Still unanswered when the run ended, after waiting longer than the bound the
    /// analysis uses (see `analysis::load`). Never in interval lines: the analysis adds
    /// them from the end line.
    #[serde(default)]
    pub unfinished: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.status
            + self.timeout
            + self.connect
            + self.check
            + self.dropped
            + self.other
            + self.body_too_large
            + self.unfinished
    }

    pub fn add(&mut self, other: &ErrorCounts) {
        self.status += other.status;
        self.timeout += other.timeout;
        self.connect += other.connect;
        self.check += other.check;
        self.dropped += other.dropped;
        self.other += other.other;
        self.body_too_large += other.body_too_large;
        self.unfinished += other.unfinished;
    }
}

/// Latency percentiles in milliseconds; `None` when no response was received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl LatencyMs {
    pub fn of(histogram: &Histogram<u64>) -> LatencyMs {
        if histogram.is_empty() {
            return LatencyMs::default();
        }
        let ms = |us: u64| Some(us as f64 / 1000.0);
        LatencyMs {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p95: ms(histogram.value_at_quantile(0.95)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        }
    }
}

/// A request kind in the mix, as the run recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub name: String,
    pub method: String,
    pub url: String,
    pub weight: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageInfo {
    pub name: String,
    pub duration_s: f64,
    pub target: f64,
}

/// First line of `load.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadStart {
    pub t: f64,
    /// `builtin` or `external`.
    pub driver: String,
    /// `closed` (users) or `open` (rps); built-in driver only.
    pub model: Option<String>,
    /// The scenario file, `--load-url`, or the external command.
    pub source: String,
    pub interval_s: f64,
    #[serde(default)]
    pub requests: Vec<RequestInfo>,
    #[serde(default)]
    pub stages: Vec<StageInfo>,
    /// Open model: requests allowed in flight before new ones are dropped.
    pub max_in_flight: Option<u64>,
}

/// One request name's share of an interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NameInterval {
    /// Requests completed in the interval, failed ones included.
    pub requests: u64,
    pub errors: ErrorCounts,
    /// Encoded latency histogram (see [`encode_histogram`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hist: Option<String>,
}

/// One interval of load.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadInterval {
    /// End of the interval, seconds since the run started (the samples' clock).
    pub t: f64,
    pub dt_s: f64,
    /// Target users or requests per second at the interval's end.
    pub level: f64,
    /// Users running (closed model) or requests in flight (open model) at the end.
    pub active: u64,
    /// Requests completed in the interval, failed ones included.
    pub requests: u64,
    pub errors: ErrorCounts,
    /// Completed requests per second.
    pub rps: f64,
    /// Over responses received (a timeout or refused connection has no latency).
    pub latency_ms: LatencyMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hist: Option<String>,
    #[serde(default)]
    pub by_name: BTreeMap<String, NameInterval>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageEvent {
    pub t: f64,
    pub index: usize,
    pub name: String,
    pub target: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalExit {
    pub t: f64,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// True when soakprof stopped it at the end of the run.
    pub by_profiler: bool,
}

/// One line of `load.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoadRecord {
    Start(LoadStart),
    Interval(LoadInterval),
    Stage(StageEvent),
    ExternalStart {
        t: f64,
        command: String,
        pid: u32,
    },
    ExternalExit(ExternalExit),
    /// The driver stopped; `in_flight` requests were abandoned (counted nowhere else).
    End {
        t: f64,
        in_flight: u64,
    },
    /// Written by the built-in driver just before `end` when requests were in flight: how
    /// long each had waited, µs (an encoded histogram, see [`encode_histogram`]). Older logs
    /// do not have it.
    InFlightAges {
        t: f64,
        hist: String,
    },
}

/// Writes `load.jsonl`, one flushed line per record.
pub struct LoadLogWriter {
    log: JsonLinesWriter,
}

impl LoadLogWriter {
    pub fn create(dir: &Path) -> Result<LoadLogWriter, RunLogError> {
        Ok(LoadLogWriter {
            log: JsonLinesWriter::create(dir.join(LOAD_FILE))?,
        })
    }

    pub fn write(&mut self, record: &LoadRecord) -> Result<(), RunLogError> {
        self.log.write(record)
    }
}

/// Totals for one request name (or all of them).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadTotals {
    pub requests: u64,
    pub errors: ErrorCounts,
    /// Merged from the intervals; `None` when no interval carried a histogram.
    pub latency: Option<Histogram<u64>>,
}

impl LoadTotals {
    fn empty() -> LoadTotals {
        LoadTotals {
            requests: 0,
            errors: ErrorCounts::default(),
            latency: None,
        }
    }

    fn add(&mut self, requests: u64, errors: &ErrorCounts, hist: Option<&str>) {
        self.requests += requests;
        self.errors.add(errors);
        let Some(decoded) = hist.and_then(decode_histogram) else {
            return;
        };
        match &mut self.latency {
            None => self.latency = Some(decoded),
            Some(total) => {
                // Same bounds on both sides; a histogram from another writer that does not
                // fit is left out rather than failing the whole read.
                let _ = total.add(&decoded);
            }
        }
    }
}

/// External driver (`--load-cmd`) as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalRun {
    pub command: String,
    pub pid: u32,
    pub exit: Option<ExternalExit>,
}

/// Everything `load.jsonl` holds, read back. Interval histograms are merged into the
/// totals as they are read and then dropped, so memory does not grow with run length
/// beyond one small record per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadRun {
    pub start: Option<LoadStart>,
    /// Intervals without their histograms.
    pub intervals: Vec<LoadInterval>,
    pub stages: Vec<StageEvent>,
    pub external: Option<ExternalRun>,
    /// `None` when the driver did not write its end line (the profiler was killed).
    pub end_in_flight: Option<u64>,
    /// How long the requests in flight at the end had waited, µs; `None` when none was,
    /// or the log does not say (an older log, no end line).
    pub end_in_flight_ages: Option<Histogram<u64>>,
    pub total: LoadTotals,
    pub by_name: BTreeMap<String, LoadTotals>,
    pub skipped_lines: usize,
}

/// Read `load.jsonl` if the run has one.
pub fn read_load(dir: &Path) -> Result<Option<LoadRun>, RunLogError> {
    let path = dir.join(LOAD_FILE);
    let reader = match open_log(&path, LOAD_BUFFER) {
        Ok((reader, _)) => reader,
        Err(RunLogError::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    read_load_records(reader, &path).map(Some)
}

/// Parse load records from any reader, tolerating torn and malformed lines.
pub fn read_load_records(reader: impl BufRead, path: &Path) -> Result<LoadRun, RunLogError> {
    let mut run = LoadRun {
        start: None,
        intervals: Vec::new(),
        stages: Vec::new(),
        external: None,
        end_in_flight: None,
        end_in_flight_ages: None,
        total: LoadTotals::empty(),
        by_name: BTreeMap::new(),
        skipped_lines: 0,
    };
    for_each_record(reader, path, |record| {
        match record {
            Ok(LoadRecord::Start(start)) => {
                // Every request name shows in the totals, even one never sent (interval
                // lines only carry the names that had requests in them).
                for request in &start.requests {
                    run.by_name
                        .entry(request.name.clone())
                        .or_insert_with(LoadTotals::empty);
                }
                run.start = Some(start);
            }
            Ok(LoadRecord::Interval(mut interval)) => {
                run.total.add(
                    interval.requests,
                    &interval.errors,
                    interval.hist.take().as_deref(),
                );
                for (name, part) in &mut interval.by_name {
                    run.by_name
                        .entry(name.clone())
                        .or_insert_with(LoadTotals::empty)
                        .add(part.requests, &part.errors, part.hist.take().as_deref());
                }
                run.intervals.push(interval);
            }
            Ok(LoadRecord::Stage(stage)) => run.stages.push(stage),
            Ok(LoadRecord::ExternalStart { command, pid, .. }) => {
                run.external = Some(ExternalRun {
                    command,
                    pid,
                    exit: None,
                });
            }
            Ok(LoadRecord::ExternalExit(exit)) => {
                if let Some(external) = &mut run.external {
                    external.exit = Some(exit);
                }
            }
            Ok(LoadRecord::End { in_flight, .. }) => run.end_in_flight = Some(in_flight),
            Ok(LoadRecord::InFlightAges { hist, .. }) => {
                run.end_in_flight_ages = decode_histogram(&hist);
            }
            Err(_) => run.skipped_lines += 1,
        }
        Ok(())
    })?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(values_us: &[u64]) -> Histogram<u64> {
        let mut h = new_latency_histogram().unwrap();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn histogram_round_trip() {
        let h = histogram_of(&[100, 200, 300, 5_000, 1_000_000]);
        let mut serializer = V2DeflateSerializer::new();
        let mut scratch = Vec::new();
        let text = encode_histogram(&h, &mut serializer, &mut scratch).unwrap();
        let back = decode_histogram(&text).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.max(), h.max());
        assert!(decode_histogram("not base64!").is_none());
    }

    #[test]
    fn totals_merge_intervals_and_skip_torn_lines() {
        let mut serializer = V2DeflateSerializer::new();
        let mut scratch = Vec::new();
        let mut text = String::new();
        let mut records = vec![LoadRecord::Start(LoadStart {
            t: 0.0,
            driver: "builtin".into(),
            model: Some("open".into()),
            source: "--load-url".into(),
            interval_s: 1.0,
            requests: vec![],
            stages: vec![],
            max_in_flight: Some(1000),
        })];
        // Interval 1: 1 ms responses; interval 2: 10 ms responses and a timeout.
        for (i, us) in [1_000u64, 10_000].into_iter().enumerate() {
            let h = histogram_of(&vec![us; 100]);
            let hist = encode_histogram(&h, &mut serializer, &mut scratch);
            let errors = ErrorCounts {
                timeout: i as u64,
                ..ErrorCounts::default()
            };
            records.push(LoadRecord::Interval(LoadInterval {
                t: (i + 1) as f64,
                dt_s: 1.0,
                level: 100.0,
                active: 1,
                requests: 100 + i as u64,
                errors,
                rps: 100.0,
                latency_ms: LatencyMs::of(&h),
                hist: hist.clone(),
                by_name: BTreeMap::from([(
                    "a".to_string(),
                    NameInterval {
                        requests: 100 + i as u64,
                        errors,
                        hist,
                    },
                )]),
            }));
        }
        for r in &records {
            text.push_str(&serde_json::to_string(r).unwrap());
            text.push('\n');
        }
        text.push_str("{\"type\":\"interval\",\"t\":3.0,\"dt_s\""); // torn
        let run = read_load_records(text.as_bytes(), Path::new("load.jsonl")).unwrap();
        assert_eq!(run.intervals.len(), 2);
        assert!(run.intervals.iter().all(|i| i.hist.is_none()));
        assert_eq!(run.skipped_lines, 1);
        assert_eq!(run.total.requests, 201);
        assert_eq!(run.total.errors.timeout, 1);
        let latency = run.total.latency.as_ref().unwrap();
        assert_eq!(latency.len(), 200);
        // Half at 1 ms, half at 10 ms: the median sits in the first half, p99 in the second.
        assert!(latency.value_at_quantile(0.25) < 1_100);
        assert!(latency.value_at_quantile(0.99) > 9_900);
        assert_eq!(run.by_name["a"].requests, 201);
        assert_eq!(run.end_in_flight, None);
    }

    #[test]
    fn older_logs_and_new_records_read() {
        // Written before `body_too_large`, `unfinished` and `in_flight_ages` existed.
        let old = concat!(
            r#"{"type":"interval","t":1.0,"dt_s":1.0,"level":1.0,"active":0,"requests":2,"#,
            r#""errors":{"status":1,"timeout":0,"connect":0,"check":0,"dropped":0,"other":0},"#,
            r#""rps":2.0,"latency_ms":{"p50":null,"p90":null,"p95":null,"p99":null,"max":null}}"#,
            "\n",
            r#"{"type":"end","t":1.0,"in_flight":4}"#,
            "\n"
        );
        let run = read_load_records(old.as_bytes(), Path::new("load.jsonl")).unwrap();
        assert_eq!(run.skipped_lines, 0);
        assert_eq!(run.total.errors.status, 1);
        assert_eq!(run.total.errors.body_too_large, 0);
        assert_eq!(run.end_in_flight, Some(4));
        assert!(run.end_in_flight_ages.is_none());

        let mut serializer = V2DeflateSerializer::new();
        let mut scratch = Vec::new();
        let ages = histogram_of(&[2_000_000, 3_000_000]);
        let hist = encode_histogram(&ages, &mut serializer, &mut scratch).unwrap();
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&LoadRecord::InFlightAges { t: 1.0, hist }).unwrap(),
            serde_json::to_string(&LoadRecord::End {
                t: 1.0,
                in_flight: 2
            })
            .unwrap()
        );
        let run = read_load_records(text.as_bytes(), Path::new("load.jsonl")).unwrap();
        assert_eq!(run.end_in_flight_ages.unwrap().len(), 2);
        assert_eq!(run.end_in_flight, Some(2));
    }
}
