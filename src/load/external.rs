//! `--load-cmd`: an external driver (locust headless, k6, wrk, a script) run through
//! `sh -c` in its own process group, output to `load.log`, stopped at the end of the run
//! (SIGTERM to the group, SIGKILL after a grace period). Its start and exit are lines in
//! `load.jsonl`, so the report can say what it did.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::{LoadError, LoadLive};
use crate::process::{self, Exit, Leader, ProcessError};
use crate::runlog::load::{ExternalExit, LoadLogWriter, LoadRecord, LoadStart};
use crate::runlog::{LOAD_CMD_LOG_FILE, RunLogError};

pub struct ExternalHandle {
    pgid: u32,
    /// How the command exited, from the thread that waits on it.
    exited: Receiver<Exit>,
    waiter: std::thread::JoinHandle<Result<(), RunLogError>>,
    /// Set just before soakprof signals the group, so the exit line says who stopped it.
    stopping: Arc<AtomicBool>,
}

/// Start `command` with the run. The environment tells it where the run is:
/// `SOAKPROF_RUN_DIR`, and `SOAKPROF_DURATION_S` when the run has a duration.
pub fn start(
    command: &str,
    run_dir: &Path,
    t0: Instant,
    run_duration: Option<Duration>,
    live: Arc<LoadLive>,
) -> Result<ExternalHandle, LoadError> {
    let mut log = LoadLogWriter::create(run_dir)?;
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(command)
        .env("SOAKPROF_RUN_DIR", run_dir);
    if let Some(d) = run_duration {
        shell.env("SOAKPROF_DURATION_S", format!("{}", d.as_secs_f64()));
    }
    // In its own group (process::spawn): the stop signal reaches every process it starts.
    let child = process::spawn(&mut shell, command, &run_dir.join(LOAD_CMD_LOG_FILE))
        .map_err(start_error)?;
    let pid = child.id();
    let now_s = || t0.elapsed().as_secs_f64();
    log.write(&LoadRecord::Start(LoadStart {
        t: now_s(),
        driver: "external".into(),
        model: None,
        source: command.to_string(),
        interval_s: 0.0,
        requests: Vec::new(),
        stages: Vec::new(),
        max_in_flight: None,
    }))?;
    log.write(&LoadRecord::ExternalStart {
        t: now_s(),
        command: command.to_string(),
        pid,
    })?;
    live.external_running.store(true, Ordering::Relaxed);
    let stopping = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_stopping = Arc::clone(&stopping);
    let waiter = std::thread::Builder::new()
        .name("soakprof-load-cmd".into())
        .spawn(move || wait_for_exit(child, log, t0, &thread_stopping, &live, &tx))
        .map_err(|e| LoadError::Start(e.to_string()))?;
    Ok(ExternalHandle {
        pgid: pid,
        exited: rx,
        waiter,
        stopping,
    })
}

/// The errors `--load-cmd` has always given: its own wording for a command that cannot
/// start, the run directory's for an output file that cannot be created.
fn start_error(e: ProcessError) -> LoadError {
    match e {
        ProcessError::Start { command, source } => LoadError::Command { command, source },
        ProcessError::Log { path, source } => RunLogError::Create { path, source }.into(),
    }
}

/// Wait for the command, then record how it ended.
fn wait_for_exit(
    mut child: Child,
    mut log: LoadLogWriter,
    t0: Instant,
    stopping: &AtomicBool,
    live: &LoadLive,
    tx: &std::sync::mpsc::Sender<Exit>,
) -> Result<(), RunLogError> {
    let exit = child.wait().map_or(Exit::Unknown, Exit::from_status);
    live.external_running.store(false, Ordering::Relaxed);
    live.external_exited.store(true, Ordering::Relaxed);
    let (code, signal) = exit.to_parts();
    let _ = tx.send(exit);
    log.write(&LoadRecord::ExternalExit(ExternalExit {
        t: t0.elapsed().as_secs_f64(),
        code,
        signal,
        by_profiler: stopping.load(Ordering::Relaxed),
    }))?;
    log.write(&LoadRecord::End {
        t: t0.elapsed().as_secs_f64(),
        in_flight: 0,
    })
}

/// The command's shell, as [`process::stop_group`] sees it: its exit comes from the waiter.
struct ShellLeader<'a> {
    pgid: u32,
    exited: &'a Receiver<Exit>,
    stopping: &'a AtomicBool,
}

impl Leader for ShellLeader<'_> {
    fn pgid(&self) -> u32 {
        self.pgid
    }
    fn exit_within(&mut self, timeout: Duration) -> Option<Exit> {
        if timeout.is_zero() {
            match self.exited.try_recv() {
                Ok(exit) => Some(exit),
                Err(TryRecvError::Disconnected) => Some(Exit::Unknown),
                Err(TryRecvError::Empty) => None,
            }
        } else {
            match self.exited.recv_timeout(timeout) {
                Ok(exit) => Some(exit),
                Err(RecvTimeoutError::Disconnected) => Some(Exit::Unknown),
                Err(RecvTimeoutError::Timeout) => None,
            }
        }
    }
    fn exit_after_kill(&mut self) -> Exit {
        self.exited.recv().unwrap_or(Exit::Unknown)
    }
    fn stopping(&mut self) {
        // Before the signal, so the exit line says who stopped it.
        self.stopping.store(true, Ordering::Relaxed);
    }
}

impl ExternalHandle {
    /// Stop the command's whole group: SIGTERM, then SIGKILL after
    /// [`process::STOP_GRACE`]. A command that already exited still has its group killed,
    /// so nothing it started is left running.
    pub fn stop(self) -> Result<(), LoadError> {
        process::stop_group(
            &mut ShellLeader {
                pgid: self.pgid,
                exited: &self.exited,
                stopping: &self.stopping,
            },
            process::STOP_GRACE,
        );
        self.waiter
            .join()
            .map_err(|_| LoadError::Start("the load command's waiter panicked".into()))?
            .map_err(LoadError::from)
    }
}
