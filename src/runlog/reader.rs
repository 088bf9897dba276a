//! Reading a run log back: streamed line by line into compact columns (no `Vec<Sample>`),
//! tolerating a torn, malformed or over-long line (counted, not fatal) and a UTF-8 byte
//! order mark at the start. Logs of every earlier version of schema 1 read the same way.
//!
//! What a log can make the reader do is bounded: only a regular file is read (a FIFO would
//! block, a device never end), no further than its size when opened, and no line is held
//! in memory beyond `MAX_LINE_BYTES`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Take};
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
    let (reader, size) = open_log(&path, SAMPLES_BUFFER)?;
    let mut run = read_records_sized(reader, &path, size)?;
    run.load = load::read_load(dir)?;
    Ok(run)
}

/// Every sample of a run log with all its fields, as written (for tests and tools that
/// look at fields the columns do not keep). Memory grows with the run: the analysis reads
/// columns instead.
pub fn read_samples(dir: &Path) -> Result<Vec<Sample>, RunLogError> {
    let path = dir.join(SAMPLES_FILE);
    let mut samples = Vec::new();
    read_lines(open_log(&path, SAMPLES_BUFFER)?.0, &path, |line, _| {
        if let Line::Sample(s) = line {
            samples.push(s);
        }
        Ok(())
    })?;
    Ok(samples)
}

/// The read buffer for `samples.jsonl`: a week's log is read in 64 KiB steps.
const SAMPLES_BUFFER: usize = 64 * 1024;

/// The longest line read; a longer one is skipped (and counted) without being held in
/// memory. Far above any line soakprof writes: a header with a 2 MiB command line, a
/// `load.jsonl` interval with a histogram for each of hundreds of request names.
pub(crate) const MAX_LINE_BYTES: usize = 8 << 20;

/// A log opened for reading, bounded to its size when opened.
pub(crate) type LogReader = BufReader<Take<File>>;

/// Open a log for reading: only a regular file (anything else is `NotRegular`), read no
/// further than its size now, so a log still being written, a /proc file or a device
/// cannot make a read go on. Returns the reader and that size.
pub(crate) fn open_log(path: &Path, buffer: usize) -> Result<(LogReader, u64), RunLogError> {
    let open_error = |source| RunLogError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO opened without O_NONBLOCK waits for a writer; with it, the open returns and
    // the file's type is checked below. A regular file ignores the flag.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(open_error)?;
    let meta = file.metadata().map_err(open_error)?;
    if !meta.is_file() {
        return Err(RunLogError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let size = meta.len();
    Ok((BufReader::with_capacity(buffer, file.take(size)), size))
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
    reader: impl BufRead,
    path: &Path,
    each: impl FnMut(&[u8]) -> Result<(), RunLogError>,
) -> Result<(), RunLogError> {
    for_each_line_within(reader, path, MAX_LINE_BYTES, each)
}

/// How a UTF-8 file may begin (an editor's byte order mark); skipped on the first line.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// `for_each_line` with lines bounded to `max_line` bytes (newline included): a longer line
/// reaches `each` empty, so it is counted as unreadable, and is skipped without being
/// buffered.
fn for_each_line_within(
    mut reader: impl BufRead,
    path: &Path,
    max_line: usize,
    mut each: impl FnMut(&[u8]) -> Result<(), RunLogError>,
) -> Result<(), RunLogError> {
    let read_error = |source| RunLogError::Open {
        path: path.to_path_buf(),
        source,
    };
    // One line buffer for the whole file: memory stays at the longest line, at most
    // `max_line`.
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(max_line as u64)
            .read_until(b'\n', &mut line)
            .map_err(read_error)?;
        if read == 0 {
            return Ok(());
        }
        if read == max_line && line.last() != Some(&b'\n') {
            reader.skip_until(b'\n').map_err(read_error)?;
            each(&[])?;
            first = false;
            continue;
        }
        let mut bytes = &line[..];
        if first {
            first = false;
            bytes = bytes.strip_prefix(BYTE_ORDER_MARK).unwrap_or(bytes);
        }
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            each(bytes)?;
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

    /// The header line and two sample lines, as bytes.
    fn log_lines() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut header = serde_json::to_vec(&Record::Header(test_header())).unwrap();
        header.push(b'\n');
        let sample = |t: f64| {
            let s = Sample {
                t,
                rss: Some(1000),
                ..Sample::default()
            };
            let mut line = serde_json::to_vec(&Record::Sample(s)).unwrap();
            line.push(b'\n');
            line
        };
        (header, sample(0.0), sample(1.0))
    }

    #[test]
    fn a_line_longer_than_the_bound_is_skipped_and_counted() {
        let (header, s0, s1) = log_lines();
        let bound = header.len().max(s0.len()) + 10;
        // One line just within the bound, one just over, one far over with no newline
        // before the end.
        let mut within = s0.clone();
        within.splice(
            within.len() - 1..,
            std::iter::repeat_n(b' ', bound - s0.len()),
        );
        within.push(b'\n');
        assert_eq!(within.len(), bound);
        let over = vec![b'x'; bound];
        let bytes = [
            &header[..],
            &within,
            &over,
            b"\n",
            &s1,
            &vec![b'y'; 5 * bound],
        ]
        .concat();
        let mut lines = Vec::new();
        for_each_line_within(&bytes[..], Path::new("x"), bound, |line| {
            lines.push(line.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, vec![header.len(), bound, 0, s1.len(), 0]);

        // The same through the real bound: a 9 MiB line between two samples.
        let long = vec![b'z'; MAX_LINE_BYTES + (1 << 20)];
        let bytes = [&header[..], &s0, &long, b"\n", &s1].concat();
        let run = read_records(&bytes[..], Path::new("x")).unwrap();
        assert_eq!((run.columns.len(), run.skipped_lines), (2, 1));
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        let (header, s0, s1) = log_lines();
        let bytes = [BYTE_ORDER_MARK, &header, &s0, &s1].concat();
        let run = read_records(&bytes[..], Path::new("x")).unwrap();
        assert_eq!((run.columns.len(), run.skipped_lines), (2, 0));
        // Only at the start: one before a later line is that line's problem.
        let bytes = [&header[..], &s0, BYTE_ORDER_MARK, &s1].concat();
        let run = read_records(&bytes[..], Path::new("x")).unwrap();
        assert_eq!((run.columns.len(), run.skipped_lines), (1, 1));
    }

    #[test]
    fn torn_and_blank_lines_are_told_apart() {
        let (header, s0, s1) = log_lines();
        let torn = &s1[..s1.len() / 2];
        let bytes = [&header[..], b"\n  \n", &s0, torn, b"\n", &s1, torn].concat();
        let run = read_records(&bytes[..], Path::new("x")).unwrap();
        assert_eq!((run.columns.len(), run.skipped_lines), (2, 2));
    }

    #[test]
    fn only_regular_files_are_read_and_only_as_far_as_they_reached() {
        let dir = tempfile::tempdir().unwrap();
        for path in [Path::new("/dev/zero"), dir.path()] {
            let err = open_log(path, 1024).unwrap_err();
            assert!(matches!(err, RunLogError::NotRegular { .. }), "{err}");
        }
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path in this test's own directory.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = open_log(&fifo, 1024).unwrap_err();
        assert!(matches!(err, RunLogError::NotRegular { .. }), "{err}");

        let (header, s0, s1) = log_lines();
        let path = dir.path().join(SAMPLES_FILE);
        fs::write(&path, [&header[..], &s0].concat()).unwrap();
        let (reader, size) = open_log(&path, 1024).unwrap();
        // Written after the open: not read.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&s1)
            .unwrap();
        assert_eq!(size, (header.len() + s0.len()) as u64);
        let run = read_records(reader, &path).unwrap();
        assert_eq!(run.columns.len(), 1);
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
