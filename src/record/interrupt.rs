//! Ctrl-C, SIGTERM and a hang-up: the first asks the loop to finish cleanly (the report is
//! still written); a second Ctrl-C or SIGTERM quits at once, stopping a target soakprof
//! started.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::output::{self, diag};
use crate::process;

/// A stop request that a sleeping loop wakes up for.
pub struct StopFlag {
    requested: Mutex<bool>,
    wake: Condvar,
}

impl Default for StopFlag {
    fn default() -> Self {
        StopFlag::new()
    }
}

impl StopFlag {
    pub const fn new() -> StopFlag {
        StopFlag {
            requested: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    pub fn request(&self) {
        let mut flag = self.requested.lock().unwrap_or_else(|e| e.into_inner());
        *flag = true;
        self.wake.notify_all();
    }

    pub fn is_requested(&self) -> bool {
        *self.requested.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reset(&self) {
        *self.requested.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }

    /// Sleep up to `timeout`; true when a stop was requested.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.requested.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |stop| !*stop)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// The process-wide stop flag that SIGINT, SIGTERM and SIGHUP set.
pub static INTERRUPT: StopFlag = StopFlag::new();
/// SIGINT and SIGTERM received so far (a hang-up is not counted: see [`on_signal`]).
static INTERRUPT_COUNT: AtomicU32 = AtomicU32::new(0);

/// Install the handler of SIGINT, SIGTERM and SIGHUP (once per process). The signals are
/// taken on a thread of their own (the handler itself only wakes it), so nothing the
/// sampling thread does can delay them. See [`on_signal`] for what each does.
pub fn install_interrupt_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let started = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGCHLD]).and_then(|mut signals| {
            std::thread::Builder::new()
                .name("soakprof-signals".into())
                .spawn(move || {
                    for signal in signals.forever() {
                        on_signal(signal);
                    }
                })
                .map(drop)
        });
        if let Err(e) = started {
            diag!(
                "soakprof: warning: cannot catch Ctrl-C, SIGTERM or SIGHUP ({e}); they will end the run without a report"
            );
        }
    });
}

/// What a signal does: the first one asks the loop to finish cleanly (the report is still
/// written); a second SIGINT or SIGTERM quits at once, stopping a target soakprof started
/// (the group given to [`process::set_spawned_group`]). A hang-up (SIGHUP) only ever asks
/// for the clean stop, however often it comes (a closing terminal sends it to the session
/// leader and to the foreground group, and a shell passes it on to its jobs), and marks
/// the terminal as gone, so the live status stops drawing. The stop is requested before
/// anything is written, so a message that cannot be written changes nothing.
///
/// SIGCHLD reaps the orphans soakprof adopted ([`process::adopt_orphans`]).
fn on_signal(signal: i32) {
    if signal == SIGCHLD {
        process::reap_adopted();
        return;
    }
    let name = process::signal_name(signal);
    if signal == SIGHUP {
        output::note_hang_up();
        INTERRUPT.request();
        return;
    }
    if INTERRUPT_COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
        let first = !INTERRUPT.is_requested();
        INTERRUPT.request();
        if first {
            diag!(
                "\nsoakprof: {name}: stopping; writing the report (Ctrl-C again to quit at once)"
            );
        }
    } else {
        process::terminate_spawned_group();
        process::terminate_adopted();
        diag!("\nsoakprof: {name}: quit; the run log is valid, run `soakprof analyze` on it");
        output::drain_stderr(std::time::Duration::from_millis(500));
        std::process::exit(130);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_stop_request_wakes_a_waiting_loop() {
        let flag = StopFlag::new();
        assert!(!flag.wait(Duration::from_millis(1)));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                flag.request();
            });
            let start = Instant::now();
            assert!(flag.wait(Duration::from_secs(10)));
            assert!(start.elapsed() < Duration::from_secs(5));
        });
        assert!(flag.is_requested());
        flag.reset();
        assert!(!flag.is_requested());
    }
}
