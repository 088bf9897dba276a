//! `--load-cmd`: an external driver (locust headless, k6, wrk, a script) run through
//! `sh -c` in its own process group, output to `load.log`, stopped at the end of the run
//! (SIGTERM to the group, SIGKILL after a grace period). Its start and exit are lines in
//! `load.jsonl`, so the report can say what it did.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{LoadError, LoadLive};
use crate::runlog::load::{ExternalExit, LoadLogWriter, LoadRecord, LoadStart};
use crate::runlog::{LOAD_CMD_LOG_FILE, RunLogError};

/// Time the command gets to exit after SIGTERM before its group is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct ExternalHandle {
    pgid: u32,
    /// The exit status, from the thread that waits on the command.
    exited: Receiver<Option<ExitStatus>>,
    waiter: std::thread::JoinHandle<Result<(), RunLogError>>,
    /// Set just before soakprof signals the group, so the exit line says who stopped it.
    stopping: Arc<std::sync::atomic::AtomicBool>,
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
    let output_path = run_dir.join(LOAD_CMD_LOG_FILE);
    let output = std::fs::File::create(&output_path).map_err(|source| RunLogError::Create {
        path: output_path.clone(),
        source,
    })?;
    let output_err = output.try_clone().map_err(|source| RunLogError::Create {
        path: output_path,
        source,
    })?;
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(command)
        .env("SOAKPROF_RUN_DIR", run_dir)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(output_err);
    if let Some(d) = run_duration {
        shell.env("SOAKPROF_DURATION_S", format!("{}", d.as_secs_f64()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own group: the stop signal reaches every process it starts.
        shell.process_group(0);
    }
    let child = shell.spawn().map_err(|source| LoadError::Command {
        command: command.to_string(),
        source,
    })?;
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
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
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

/// Wait for the command, then record how it ended.
fn wait_for_exit(
    mut child: Child,
    mut log: LoadLogWriter,
    t0: Instant,
    stopping: &std::sync::atomic::AtomicBool,
    live: &LoadLive,
    tx: &std::sync::mpsc::Sender<Option<ExitStatus>>,
) -> Result<(), RunLogError> {
    let status = child.wait().ok();
    live.external_running.store(false, Ordering::Relaxed);
    live.external_exited.store(true, Ordering::Relaxed);
    let (code, signal) = split_status(status);
    let _ = tx.send(status);
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

fn split_status(status: Option<ExitStatus>) -> (Option<i32>, Option<i32>) {
    let Some(status) = status else {
        return (None, None);
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        (status.code(), status.signal())
    }
    #[cfg(not(unix))]
    {
        (status.code(), None)
    }
}

#[cfg(unix)]
fn signal_group(pgid: u32, signal: i32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // SAFETY: kill(2) on a process group we created; ESRCH (already gone) is fine.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl ExternalHandle {
    /// Stop the command's whole group: SIGTERM, then SIGKILL after [`STOP_GRACE`]. A
    /// command that already exited still has its group killed, so nothing it started is
    /// left running.
    pub fn stop(self) -> Result<(), LoadError> {
        let already = match self.exited.try_recv() {
            Ok(_) => true,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => true,
            Err(std::sync::mpsc::TryRecvError::Empty) => false,
        };
        #[cfg(unix)]
        {
            if !already {
                self.stopping.store(true, Ordering::Relaxed);
                signal_group(self.pgid, libc::SIGTERM);
                if let Err(RecvTimeoutError::Timeout) = self.exited.recv_timeout(STOP_GRACE) {
                    signal_group(self.pgid, libc::SIGKILL);
                }
            }
            // Whatever the leader did, its group goes with it.
            signal_group(self.pgid, libc::SIGKILL);
        }
        #[cfg(not(unix))]
        let _ = (already, &self.stopping, self.pgid);
        self.waiter
            .join()
            .map_err(|_| LoadError::Start("the load command's waiter panicked".into()))?
            .map_err(LoadError::from)
    }
}
