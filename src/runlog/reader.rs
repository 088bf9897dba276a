//! Reading a run log back: streamed line by line into compact columns (no `Vec<Sample>`),
//! tolerating a torn or malformed line (counted, not fatal). Logs of every earlier version
//! of schema 1 read the same way.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{
    Event, EventKind, Header, Record, RunLogError, SAMPLES_FILE, SCHEMA_VERSION, StopReason, load,
};
use crate::columns::Columns;
use crate::sample::Sample;

/// Everything `samples.jsonl` (and `load.jsonl`) holds, read back.
#[derive(Clone, Debug, PartialEq)]
pub struct RunData {
    pub header: Header,
    /// The samples, by column.
    pub columns: Columns,
    pub events: Vec<Event>,
    /// Lines that could not be parsed (a torn last line after a crash, typically).
    pub skipped_lines: usize,
    /// The reason in the final `stop` event; `None` when the profiler was killed.
    pub stop_reason: Option<StopReason>,
    /// `load.jsonl`, when a load driver ran.
    pub load: Option<load::LoadRun>,
}

/// Read a run directory: `samples.jsonl` into columns, and `load.jsonl` when there is one.
pub fn read_run(dir: &Path) -> Result<RunData, RunLogError> {
    let path = dir.join(SAMPLES_FILE);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let mut run = read_records_sized(open(&path)?, &path, size)?;
    run.load = load::read_load(dir)?;
    Ok(run)
}

/// Every sample of a run log with all its fields, as written (for tests and tools that
/// look at fields the columns do not keep). Memory grows with the run: the analysis reads
/// columns instead.
pub fn read_samples(dir: &Path) -> Result<Vec<Sample>, RunLogError> {
    let path = dir.join(SAMPLES_FILE);
    let mut samples = Vec::new();
    read_lines(open(&path)?, &path, |line, _| {
        if let Line::Sample(s) = line {
            samples.push(s);
        }
        Ok(())
    })?;
    Ok(samples)
}

fn open(path: &Path) -> Result<BufReader<File>, RunLogError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(64 * 1024, f))
        .map_err(|source| RunLogError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Hand each non-blank line of a JSON-lines log to `each`, parsed as `T` (a torn or
/// malformed line arrives as the parse error, for the caller to count).
pub(crate) fn for_each_record<T: serde::de::DeserializeOwned>(
    reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(Result<T, serde_json::Error>) -> Result<(), RunLogError>,
) -> Result<(), RunLogError> {
    for_each_line(reader, path, |line| each(serde_json::from_slice::<T>(line)))
}

fn for_each_line(
    mut reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(&[u8]) -> Result<(), RunLogError>,
) -> Result<(), RunLogError> {
    // One line buffer for the whole file: memory stays at the longest line.
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| RunLogError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            each(&line)?;
        }
    }
}

/// One line of `samples.jsonl`, after the header check.
// One at a time, per line read; boxing the header would allocate for nothing.
#[allow(clippy::large_enum_variant)]
enum Line {
    Header(Header),
    Sample(Sample),
    Event(Event),
    /// Torn, malformed, or before the header.
    Skipped,
}

/// How every sample line this program writes begins (serde writes the tag first).
const SAMPLE_PREFIX: &[u8] = br#"{"type":"sample","#;

/// Parse one line. Sample lines as written are parsed straight into a `Sample` (the tag is
/// then an ignored field), which skips the buffering an internally tagged enum needs and
/// halves the time to read a long log; anything else goes through `Record`.
fn parse_line(line: &[u8]) -> Result<Record, serde_json::Error> {
    if line.starts_with(SAMPLE_PREFIX) {
        return serde_json::from_slice::<Sample>(line).map(Record::Sample);
    }
    serde_json::from_slice::<Record>(line)
}

/// Read every line in order, checking the header, and hand each to `each`.
fn read_lines(
    reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(Line, usize) -> Result<(), RunLogError>,
) -> Result<bool, RunLogError> {
    let mut has_header = false;
    for_each_line(reader, path, |bytes| {
        let line = match parse_line(bytes) {
            Ok(Record::Header(h)) if !has_header => {
                if h.schema_version != SCHEMA_VERSION {
                    return Err(RunLogError::Version {
                        path: path.to_path_buf(),
                        found: h.schema_version,
                    });
                }
                has_header = true;
                Line::Header(h)
            }
            Ok(Record::Sample(s)) if has_header => Line::Sample(s),
            Ok(Record::Event(e)) if has_header => Line::Event(e),
            _ => Line::Skipped,
        };
        each(line, bytes.len())
    })?;
    Ok(has_header)
}

/// Parse records from any reader (the file, or a test's bytes) into columns.
pub fn read_records(reader: impl BufRead, path: &Path) -> Result<RunData, RunLogError> {
    read_records_sized(reader, path, 0)
}

/// Sample lines read before the columns' final size is estimated from the log's.
const SIZE_PROBE_LINES: usize = 1000;

/// `read_records` for a log of `size` bytes (0: unknown): after the first thousand
/// samples, room is made for as many as the rest of the log holds at their average line
/// length (plus 2%).
fn read_records_sized(
    reader: impl BufRead,
    path: &Path,
    size: u64,
) -> Result<RunData, RunLogError> {
    let mut header = None;
    let mut columns = Columns::default();
    let mut bytes_read = 0u64;
    let mut events = Vec::new();
    let mut skipped_lines = 0;
    let mut stop_reason = None;
    read_lines(reader, path, |line, len| {
        bytes_read += len as u64;
        match line {
            Line::Header(h) => header = Some(h),
            Line::Sample(s) => {
                columns.push(&s);
                if columns.len() == SIZE_PROBE_LINES && size > bytes_read {
                    let per_line = bytes_read as f64 / SIZE_PROBE_LINES as f64;
                    let rows = SIZE_PROBE_LINES as f64 + (size - bytes_read) as f64 / per_line;
                    columns.expect_rows((rows * 1.02) as usize);
                }
            }
            Line::Event(e) => {
                if let EventKind::Stop { reason } = e.kind {
                    stop_reason = Some(reason);
                }
                events.push(e);
            }
            Line::Skipped => skipped_lines += 1,
        }
        Ok(())
    })?;
    let header = header.ok_or_else(|| RunLogError::NoHeader {
        path: path.to_path_buf(),
    })?;
    Ok(RunData {
        header,
        columns,
        events,
        skipped_lines,
        stop_reason,
        load: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::Metric;
    use crate::runlog::tests_support::header as test_header;
    use crate::runlog::{Event, RunLogWriter};
    use std::fs::{self, OpenOptions};
    use std::io::Write;

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
        assert_eq!(read_samples(dir.path()).unwrap(), vec![s]);
        assert_eq!(run.columns.len(), 1);
        assert_eq!(run.columns.value(Metric::Rss, 0), Some(1234.0));
        assert_eq!(run.columns.value(Metric::Fds, 0), None, "null stays null");
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
