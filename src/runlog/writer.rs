//! Writing the run log: a JSON-lines file flushed as it goes, so a crash of the profiler
//! loses at most the last line (or the last `SOON` of samples).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Event, Header, RunLogError, SAMPLES_FILE};
use crate::sample::Sample;

/// Borrowing twin of `Record`, so writing a sample never clones it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header(&'a Header),
    Sample(&'a Sample),
    Event(&'a Event),
}

/// Local wall-clock time as `YYYYmmdd-HHMMSS` for run directory names.
pub fn local_timestamp() -> String {
    #[cfg(unix)]
    {
        // SAFETY: time(2) and localtime_r(3) write only into the struct we own.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        if !unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
            return format!(
                "{:04}{:02}{:02}-{:02}{:02}{:02}",
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday,
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec
            );
        }
    }
    let utc = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    utc.replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
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
