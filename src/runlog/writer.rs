//! Writing the run log: a JSON-lines file flushed as it goes, so a crash of the profiler
//! loses at most the last line (or the last `SOON` of samples).

use std::fs::{self, File, OpenOptions};
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
///
/// The file is opened for appending: a log truncated under a live run is written on at its
/// new end, never at the old offset behind a hole of NULs.
pub(crate) struct JsonLinesWriter {
    path: PathBuf,
    out: BufWriter<Counted>,
    /// When the buffer was last handed to the OS.
    flushed_at: Instant,
}

/// The log file, and how many bytes were handed to the OS.
struct Counted {
    file: File,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// How long a `write_soon` line may wait in the buffer. At sampling intervals of this or
/// longer every sample is written at once; at 10 ms, one write() carries about 20 samples,
/// which is a sixth of the profiler's CPU per sample (the write updates the file's times).
pub(crate) const SOON: Duration = Duration::from_millis(200);

impl JsonLinesWriter {
    pub(crate) fn create(path: PathBuf) -> Result<JsonLinesWriter, RunLogError> {
        let create_error = |source| RunLogError::Create {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(create_error)?;
        // A log starts empty (append and truncate cannot be asked for together).
        file.set_len(0).map_err(create_error)?;
        Ok(JsonLinesWriter {
            path,
            out: BufWriter::with_capacity(16 * 1024, Counted { file, written: 0 }),
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

    /// Check that what was written is still there: the file not removed (with its
    /// directory, typically), moved or replaced, nor truncated. Each is `Lost`.
    pub(crate) fn check_intact(&self) -> Result<(), RunLogError> {
        let counted = self.out.get_ref();
        let lost = |what: String| RunLogError::Lost {
            path: self.path.clone(),
            what,
        };
        let meta = counted
            .file
            .metadata()
            .map_err(|source| RunLogError::Write {
                path: self.path.clone(),
                source,
            })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() == 0 {
                return Err(lost(
                    "was removed during the run (with its directory?); what it recorded is lost"
                        .into(),
                ));
            }
            let here = fs::metadata(&self.path);
            if !here.is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino()) {
                return Err(lost(
                    "was moved or replaced during the run; soakprof cannot go on writing it".into(),
                ));
            }
        }
        if meta.len() < counted.written {
            return Err(lost(format!(
                "was truncated during the run ({} of the {} bytes written are left); what it recorded is lost",
                meta.len(),
                counted.written
            )));
        }
        Ok(())
    }
}

/// Streams records to `samples.jsonl`: the header and events are flushed at once, samples
/// within `SOON`. About once a second (and at `sync`) it checks that the log is still
/// there and whole, so a run whose log was removed or truncated stops with `Lost`.
pub struct RunLogWriter {
    log: JsonLinesWriter,
    checked_at: Instant,
}

/// How often the log is checked for removal or truncation (a `stat` and an `fstat`).
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl RunLogWriter {
    pub fn create(dir: &Path) -> Result<RunLogWriter, RunLogError> {
        Ok(RunLogWriter {
            log: JsonLinesWriter::create(dir.join(SAMPLES_FILE))?,
            checked_at: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.log.path
    }

    /// Check the log when the last check is `CHECK_EVERY` old.
    fn check_soon(&mut self) -> Result<(), RunLogError> {
        if self.checked_at.elapsed() >= CHECK_EVERY {
            self.checked_at = Instant::now();
            self.log.check_intact()?;
        }
        Ok(())
    }

    pub fn header(&mut self, header: &Header) -> Result<(), RunLogError> {
        self.log.write(&RecordRef::Header(header))
    }

    pub fn sample(&mut self, sample: &Sample) -> Result<(), RunLogError> {
        self.log.write_soon(&RecordRef::Sample(sample))?;
        self.check_soon()
    }

    /// Hand any buffered samples to the OS.
    pub fn flush(&mut self) -> Result<(), RunLogError> {
        self.log.flush()
    }

    pub fn event(&mut self, event: &Event) -> Result<(), RunLogError> {
        self.log.write(&RecordRef::Event(event))?;
        self.check_soon()
    }

    /// Ask the OS to put the log on disk (power loss, not just a crash of the profiler),
    /// after checking that it is still there and whole.
    pub fn sync(&mut self) -> Result<(), RunLogError> {
        self.log.flush()?;
        self.log.check_intact()?;
        self.log
            .out
            .get_ref()
            .file
            .sync_data()
            .map_err(|source| RunLogError::Write {
                path: self.log.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::tests_support::header;

    #[test]
    fn a_truncated_log_is_appended_to_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLogWriter::create(dir.path()).unwrap();
        log.header(&header()).unwrap();
        log.sync().unwrap();
        let path = dir.path().join(SAMPLES_FILE);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        log.sample(&Sample::default()).unwrap();
        log.flush().unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(
            bytes.starts_with(br#"{"type":"sample""#),
            "a hole before the line"
        );
        let err = log.sync().unwrap_err();
        assert!(
            err.to_string().contains("was truncated during the run"),
            "{err}"
        );
        assert!(!err.is_bad_input());
    }

    #[test]
    fn a_removed_or_replaced_log_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLogWriter::create(dir.path()).unwrap();
        log.header(&header()).unwrap();
        let path = dir.path().join(SAMPLES_FILE);
        fs::rename(&path, dir.path().join("moved.jsonl")).unwrap();
        fs::write(&path, "").unwrap();
        let err = log.sync().unwrap_err();
        assert!(err.to_string().contains("moved or replaced"), "{err}");
        fs::remove_file(&path).unwrap();
        fs::remove_file(dir.path().join("moved.jsonl")).unwrap();
        let err = log.sync().unwrap_err();
        assert!(err.to_string().contains("was removed"), "{err}");
    }
}
