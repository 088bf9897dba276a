//! The run directory and its logs.
//!
//! `samples.jsonl` holds a header line, then one line per sample and event lines, each
//! tagged by `"type"`. It is written through a buffered writer: the header and events are
//! flushed at once, samples within 200 ms (at once at intervals of 200 ms or more), so a
//! `kill -9` of the profiler loses at most that much; the reader skips a torn or malformed
//! line and counts it.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::sample::{Backend, ProcId, Sample};

pub mod load;

pub use load::{LOAD_CMD_LOG_FILE, LOAD_FILE, LoadRun};

pub const SCHEMA_VERSION: u32 = 1;
pub const SAMPLES_FILE: &str = "samples.jsonl";
pub const TARGET_LOG_FILE: &str = "target.log";

#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("cannot write the run directory {path}: {source} (choose another --out)")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source} (is it a soakprof run directory?)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} has no valid header line; it is not a soakprof run log")]
    NoHeader { path: PathBuf },
    #[error("{path} has schema version {found}; this soakprof reads version {SCHEMA_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

impl RunLogError {
    /// Errors that come from what the user gave (a path), as opposed to a failing disk.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RunLogError::Write { .. })
    }
}

/// The machine the run was recorded on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: Option<String>,
    pub os: String,
    pub kernel: Option<String>,
    pub cpus: usize,
    pub mem_total_bytes: Option<u64>,
}

/// How the target was named, and what it resolved to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `pid`, `name`, `match` or `spawn`.
    pub mode: String,
    /// What the user gave: the PID, name, regex or command.
    pub spec: String,
    pub roots: Vec<ProcId>,
    /// Process name and command line of the (first) root.
    pub name: String,
    pub cmdline: Vec<String>,
    pub children: bool,
}

/// Limits in force for the run, and where each came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub mem_limit_bytes: Option<u64>,
    /// `option`, `cgroup v1` or `cgroup v2`.
    pub mem_limit_source: Option<String>,
    pub cpu_limit_cores: Option<f64>,
    pub cpu_limit_source: Option<String>,
}

/// Thresholds the run was recorded with; `analyze` uses them unless told otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub warn_growth_bytes_per_min: f64,
    pub max_growth_bytes_per_min: f64,
    pub max_thread_growth_per_min: f64,
    pub max_fd_growth_per_min: f64,
    /// `--warmup DURATION` in seconds; `None` for automatic detection.
    #[serde(default)]
    pub warmup_s: Option<f64>,
    /// Load gates (`--max-p95`, `--max-p99`, `--max-error-rate`, `--min-rps`); each fails
    /// the run when a load driver ran and missed it.
    #[serde(default)]
    pub max_p95_ms: Option<f64>,
    #[serde(default)]
    pub max_p99_ms: Option<f64>,
    /// A fraction: 0.01 for 1 %.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    #[serde(default)]
    pub min_rps: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        // Our users' own memory targets: < 5 MB/min fine, > 10 MB/min poor; 10 threads or
        // FDs per hour.
        Thresholds {
            warn_growth_bytes_per_min: 5e6,
            max_growth_bytes_per_min: 10e6,
            max_thread_growth_per_min: 10.0 / 60.0,
            max_fd_growth_per_min: 10.0 / 60.0,
            warmup_s: None,
            max_p95_ms: None,
            max_p99_ms: None,
            max_error_rate: None,
            min_rps: None,
        }
    }
}

/// First line of `samples.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub schema_version: u32,
    pub tool_version: String,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    pub started_unix_s: f64,
    pub host: HostInfo,
    /// soakprof's own command line.
    pub command_line: Vec<String>,
    pub target: TargetInfo,
    pub interval_s: f64,
    pub duration_s: Option<f64>,
    pub backend: Backend,
    /// smaps_rollup (PSS/USS) is read on every n-th sample; it costs time in proportion
    /// to the target's mapped memory. Changes during the run are `smaps_every` events.
    pub smaps_every: u32,
    /// What one smaps_rollup read cost when probed at the start, milliseconds.
    pub smaps_read_ms: Option<f64>,
    /// The detail fields (swap, context switches, I/O bytes, host memory) are read on every
    /// n-th sample (once a second at short intervals); other samples have them `null`.
    #[serde(default = "one")]
    pub detail_every: u32,
    pub limits: Limits,
    pub thresholds: Thresholds,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C (or SIGTERM) to the profiler.
    Interrupted,
    /// Every target process exited (or its PID was reused).
    TargetExited,
    /// `--fail-fast` found a fail verdict certain.
    FailFast,
}

impl StopReason {
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Duration => "the duration elapsed",
            StopReason::Interrupted => "interrupted (Ctrl-C)",
            StopReason::TargetExited => "the target exited",
            StopReason::FailFast => "--fail-fast found a certain fail",
        }
    }
}

/// Something that happened during the run, at time `t` (seconds since start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub t: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A target root process exited. `code` is its exit status, `signal` the signal that
    /// killed it; both `None` when soakprof could not see them (not its child, already
    /// reaped). `by_profiler` is true when soakprof itself stopped a target it started.
    TargetExit {
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        by_profiler: bool,
    },
    /// The PID we followed now belongs to another program.
    PidReused { pid: u32 },
    /// A tick was late by `late_s`; `missed_ticks` whole ticks were skipped.
    Gap { late_s: f64, missed_ticks: u64 },
    /// smaps_rollup is now read every `every` samples (it took `read_ms`).
    SmapsEvery { every: u32, read_ms: f64 },
    /// `--fail-fast` stopped the run: a fail verdict is certain, for `reason`.
    FailFast { reason: String },
    /// The run ended; always the last line of a run that was not killed.
    Stop { reason: StopReason },
}

/// One line of `samples.jsonl`.
// One value at a time, per line read or written; boxing would allocate for every sample.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Sample(Sample),
    Event(Event),
}

/// Borrowing twin of `Record`, so writing a sample never clones it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header(&'a Header),
    Sample(&'a Sample),
    Event(&'a Event),
}

/// Create the run directory (and parents). Fails when it cannot be written.
pub fn create_run_dir(dir: &Path) -> Result<(), RunLogError> {
    let create = |source| RunLogError::Create {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(create)?;
    // Prove it is writable now rather than after the target has been started.
    let probe = dir.join(".soakprof-write-test");
    File::create(&probe).map_err(create)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// A JSON-lines file written through a buffer flushed after every line (or, for lines
/// written with `write_soon`, within `SOON`), so a crash of the profiler loses at most the
/// line being written (or the last `SOON` of them). Both logs of a run use it.
pub(crate) struct JsonLinesWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// When the buffer was last handed to the OS.
    flushed_at: Instant,
}

/// How long a `write_soon` line may wait in the buffer. At sampling intervals of this or
/// longer every sample is written at once; at 10 ms, one write() carries about 20 samples,
/// which is a sixth of the profiler's CPU per sample (the write updates the file's times).
pub(crate) const SOON: Duration = Duration::from_millis(200);

impl JsonLinesWriter {
    pub(crate) fn create(path: PathBuf) -> Result<JsonLinesWriter, RunLogError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|source| RunLogError::Create {
                path: path.clone(),
                source,
            })?;
        Ok(JsonLinesWriter {
            path,
            out: BufWriter::with_capacity(16 * 1024, file),
            flushed_at: Instant::now(),
        })
    }

    /// Write one line and hand it to the OS at once.
    pub(crate) fn write<T: Serialize>(&mut self, record: &T) -> Result<(), RunLogError> {
        self.append(record)?;
        self.flush()
    }

    /// Write one line; hand the buffer to the OS when its oldest line is `SOON` old.
    pub(crate) fn write_soon<T: Serialize>(&mut self, record: &T) -> Result<(), RunLogError> {
        self.append(record)?;
        if self.flushed_at.elapsed() >= SOON {
            self.flush()?;
        }
        Ok(())
    }

    fn append<T: Serialize>(&mut self, record: &T) -> Result<(), RunLogError> {
        let wrap = |source| RunLogError::Write {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, record).map_err(|e| wrap(e.into()))?;
        self.out.write_all(b"\n").map_err(wrap)
    }

    pub(crate) fn flush(&mut self) -> Result<(), RunLogError> {
        self.out.flush().map_err(|source| RunLogError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.flushed_at = Instant::now();
        Ok(())
    }
}

/// Streams records to `samples.jsonl`: the header and events are flushed at once, samples
/// within `SOON`.
pub struct RunLogWriter {
    log: JsonLinesWriter,
}

impl RunLogWriter {
    pub fn create(dir: &Path) -> Result<RunLogWriter, RunLogError> {
        Ok(RunLogWriter {
            log: JsonLinesWriter::create(dir.join(SAMPLES_FILE))?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.log.path
    }

    fn write(&mut self, record: &RecordRef) -> Result<(), RunLogError> {
        self.log.write(record)
    }

    pub fn header(&mut self, header: &Header) -> Result<(), RunLogError> {
        self.write(&RecordRef::Header(header))
    }

    pub fn sample(&mut self, sample: &Sample) -> Result<(), RunLogError> {
        self.log.write_soon(&RecordRef::Sample(sample))
    }

    /// Hand any buffered samples to the OS.
    pub fn flush(&mut self) -> Result<(), RunLogError> {
        self.log.flush()
    }

    pub fn event(&mut self, event: &Event) -> Result<(), RunLogError> {
        self.write(&RecordRef::Event(event))
    }

    /// Ask the OS to put the log on disk (power loss, not just a crash of the profiler).
    pub fn sync(&mut self) -> Result<(), RunLogError> {
        self.log.flush()?;
        self.log
            .out
            .get_ref()
            .sync_data()
            .map_err(|source| RunLogError::Write {
                path: self.log.path.clone(),
                source,
            })
    }
}

fn one() -> u32 {
    1
}

/// Everything `samples.jsonl` holds, read back.
#[derive(Clone, Debug, PartialEq)]
pub struct RunData {
    pub header: Header,
    pub samples: Vec<Sample>,
    pub events: Vec<Event>,
    /// Lines that could not be parsed (a torn last line after a crash, typically).
    pub skipped_lines: usize,
    /// The reason in the final `stop` event; `None` when the profiler was killed.
    pub stop_reason: Option<StopReason>,
    /// `load.jsonl`, when a load driver ran.
    pub load: Option<LoadRun>,
}

/// Read a run log, tolerating torn and malformed lines (they are counted, not fatal).
pub fn read_run(dir: &Path) -> Result<RunData, RunLogError> {
    let path = dir.join(SAMPLES_FILE);
    let file = File::open(&path).map_err(|source| RunLogError::Open {
        path: path.clone(),
        source,
    })?;
    let mut run = read_records(BufReader::new(file), &path)?;
    run.load = load::read_load(dir)?;
    Ok(run)
}

/// Hand each non-blank line of a JSON-lines log to `each`, parsed as `T` (a torn or
/// malformed line arrives as the parse error, for the caller to count).
pub(crate) fn for_each_record<T: serde::de::DeserializeOwned>(
    reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(Result<T, serde_json::Error>) -> Result<(), RunLogError>,
) -> Result<(), RunLogError> {
    for line in reader.split(b'\n') {
        let line = line.map_err(|source| RunLogError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if !line.iter().all(u8::is_ascii_whitespace) {
            each(serde_json::from_slice::<T>(&line))?;
        }
    }
    Ok(())
}

/// Parse records from any reader (the file, or a test's bytes).
pub fn read_records(reader: impl BufRead, path: &Path) -> Result<RunData, RunLogError> {
    let mut header = None;
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let mut skipped_lines = 0;
    let mut stop_reason = None;
    for_each_record(reader, path, |record| {
        match record {
            Ok(Record::Header(h)) if header.is_none() => {
                if h.schema_version != SCHEMA_VERSION {
                    return Err(RunLogError::Version {
                        path: path.to_path_buf(),
                        found: h.schema_version,
                    });
                }
                header = Some(h);
            }
            Ok(Record::Sample(s)) if header.is_some() => samples.push(s),
            Ok(Record::Event(e)) if header.is_some() => {
                if let EventKind::Stop { reason } = e.kind {
                    stop_reason = Some(reason);
                }
                events.push(e);
            }
            _ => skipped_lines += 1,
        }
        Ok(())
    })?;
    let header = header.ok_or_else(|| RunLogError::NoHeader {
        path: path.to_path_buf(),
    })?;
    Ok(RunData {
        header,
        samples,
        events,
        skipped_lines,
        stop_reason,
        load: None,
    })
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A plain header for tests.
    pub(crate) fn header() -> Header {
        Header {
            schema_version: SCHEMA_VERSION,
            tool_version: "0.0.0".into(),
            started_at: "2026-11-23T21:00:00Z".into(),
            started_unix_s: 1.0,
            host: HostInfo::default(),
            command_line: vec!["soakprof".into()],
            target: TargetInfo::default(),
            interval_s: 1.0,
            duration_s: None,
            backend: Backend::Linux,
            smaps_every: 1,
            smaps_read_ms: None,
            detail_every: 1,
            limits: Limits::default(),
            thresholds: Thresholds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::header as test_header;
    use super::*;

    #[test]
    fn round_trip_and_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RunLogWriter::create(dir.path()).unwrap();
        w.header(&test_header()).unwrap();
        let s = Sample {
            t: 0.5,
            rss: Some(1234),
            fds: None,
            ..Sample::default()
        };
        w.sample(&s).unwrap();
        w.event(&Event {
            t: 0.7,
            kind: EventKind::Gap {
                late_s: 1.2,
                missed_ticks: 1,
            },
        })
        .unwrap();
        drop(w);
        // A crash mid-line leaves a torn last line.
        let path = dir.path().join(SAMPLES_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"type":"sample","t":1.5,"rss":12"#)
            .unwrap();
        drop(f);

        let run = read_run(dir.path()).unwrap();
        assert_eq!(run.samples, vec![s]);
        assert_eq!(run.samples[0].fds, None, "null stays null");
        assert_eq!(run.events.len(), 1);
        assert_eq!(run.skipped_lines, 1);
        assert_eq!(run.stop_reason, None);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#""fds":null"#),
            "unread metrics are written as null: {text}"
        );
        assert!(text.contains(r#""event":"gap""#));
    }

    #[test]
    fn missing_header_is_an_error() {
        let bytes = br#"{"type":"sample","t":1.0}"#;
        let err = read_records(&bytes[..], Path::new("x")).unwrap_err();
        assert!(matches!(err, RunLogError::NoHeader { .. }));
    }

    #[test]
    fn stop_event_is_found() {
        let mut text = serde_json::to_string(&Record::Header(test_header())).unwrap();
        text.push('\n');
        text.push_str(r#"{"type":"event","t":3.0,"event":"stop","reason":"interrupted"}"#);
        let run = read_records(text.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(run.stop_reason, Some(StopReason::Interrupted));
    }
}
