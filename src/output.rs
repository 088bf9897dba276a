//! soakprof's own output, the one place that writes to stdout and stderr.
//!
//! Diagnostics (notices, warnings, the live status, an error's line) go to stderr and never
//! fail or stop anything: a full disk, a pipe whose reader left (SIGPIPE is ignored, so
//! that is EPIPE) or a terminal that hung up (EIO) only loses the line, and the failure is
//! remembered for the live status, which then stops drawing. The summary or JSON verdict on
//! stdout is the command's product: a failure to write it is the command's error (exit 3),
//! after the run directory is complete — except when its reader is gone (a closed pipe, a
//! terminal after a hang-up), which is no error of ours.
//!
//! Diagnostics are written by a thread of their own, so a stderr that blocks (a terminal
//! paused with Ctrl-S, a pipe nobody reads) drops lines instead of stalling sampling or
//! the signal handling; [`drain_stderr`] gives them a moment to be written at the end.
//!
//! No `print!`-family macro is used anywhere else: they panic when the write fails.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Diagnostic writes that failed (or were dropped) since the start.
static STDERR_FAILURES: AtomicU64 = AtomicU64::new(0);
/// A hang-up (SIGHUP) was received: the controlling terminal is gone.
static HUNG_UP: AtomicBool = AtomicBool::new(false);

/// Writes waiting for the stderr thread; when that many wait (stderr blocks: a terminal
/// paused with Ctrl-S, a pipe nobody reads), more are dropped rather than waited for.
const STDERR_QUEUE_WRITES: usize = 256;

/// The thread that writes stderr, so that a stderr that blocks never blocks sampling or
/// the signal handling: the queue, and counts of writes queued and finished.
struct StderrWriter {
    queue: SyncSender<Vec<u8>>,
    queued: AtomicU64,
    finished: Arc<AtomicU64>,
}

fn stderr_writer() -> Option<&'static StderrWriter> {
    static WRITER: OnceLock<Option<StderrWriter>> = OnceLock::new();
    WRITER
        .get_or_init(|| {
            let (queue, pending) = sync_channel::<Vec<u8>>(STDERR_QUEUE_WRITES);
            let finished = Arc::new(AtomicU64::new(0));
            let done = Arc::clone(&finished);
            std::thread::Builder::new()
                .name("soakprof-stderr".into())
                .spawn(move || {
                    for bytes in pending {
                        let mut err = io::stderr().lock();
                        if err.write_all(&bytes).and_then(|()| err.flush()).is_err() {
                            STDERR_FAILURES.fetch_add(1, Ordering::Relaxed);
                        }
                        done.fetch_add(1, Ordering::Release);
                    }
                })
                .ok()
                .map(|_| StderrWriter {
                    queue,
                    queued: AtomicU64::new(0),
                    finished,
                })
        })
        .as_ref()
}

/// Hand `bytes` to the stderr thread (or, when it could not be started, write them here).
/// A write that cannot be queued is dropped and counted.
fn send_stderr(bytes: Vec<u8>) -> io::Result<()> {
    let Some(writer) = stderr_writer() else {
        let mut err = io::stderr().lock();
        let result = err.write_all(&bytes).and_then(|()| err.flush());
        if result.is_err() {
            STDERR_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
        return result;
    };
    writer.queued.fetch_add(1, Ordering::AcqRel);
    match writer.queue.try_send(bytes) {
        Ok(()) => Ok(()),
        Err(_) => {
            writer.queued.fetch_sub(1, Ordering::AcqRel);
            STDERR_FAILURES.fetch_add(1, Ordering::Relaxed);
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "stderr is not being read",
            ))
        }
    }
}

/// Wait up to `timeout` for the queued diagnostics to be written (before the process
/// exits); a stderr that blocks is given up on.
pub fn drain_stderr(timeout: Duration) {
    let Some(writer) = stderr_writer() else {
        return;
    };
    let deadline = Instant::now() + timeout;
    while writer.finished.load(Ordering::Acquire) < writer.queued.load(Ordering::Acquire)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Write one diagnostic line to stderr; a failure is counted, never returned.
pub fn diag_line(line: fmt::Arguments<'_>) {
    let _ = send_stderr(format!("{line}\n").into_bytes());
}

/// `diag!("soakprof: …")`: one line on stderr, as `eprintln!` writes it but never
/// panicking or blocking (see [`diag_line`]).
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::output::diag_line(format_args!($($arg)*))
    };
}
pub(crate) use diag;

/// Write `bytes` to stderr as they are (the live status's drawing); a failure to queue
/// them is counted and returned (a failure of the write itself is counted).
pub fn write_stderr(bytes: &[u8]) -> io::Result<()> {
    send_stderr(bytes.to_vec())
}

/// How many diagnostic writes have failed.
pub fn stderr_failures() -> u64 {
    STDERR_FAILURES.load(Ordering::Relaxed)
}

/// Note that the terminal hung up (from the signal handler's thread).
pub fn note_hang_up() {
    HUNG_UP.store(true, Ordering::SeqCst);
}

/// Has the terminal hung up?
pub fn hung_up() -> bool {
    HUNG_UP.load(Ordering::SeqCst)
}

/// Print a command's result on stdout. A reader that left (a closed pipe, a terminal after
/// a hang-up) is no error of ours; any other failure is, and is the command's exit status.
pub fn product(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match result {
        Err(e) if !reader_gone(&e, hung_up()) => Err(Error::Output {
            what: "stdout",
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Does this write error mean that nobody reads any more: EPIPE, or EIO once the terminal
/// hung up (what a write to a hung-up terminal returns)?
fn reader_gone(e: &io::Error, hung_up: bool) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe || (hung_up && e.raw_os_error() == Some(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_that_left_is_no_error_a_full_disk_is() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        let eio = io::Error::from_raw_os_error(libc::EIO);
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(reader_gone(&pipe, false));
        assert!(reader_gone(&eio, true));
        assert!(!reader_gone(&eio, false), "EIO of a disk is an error");
        assert!(!reader_gone(&full, true));
    }
}
