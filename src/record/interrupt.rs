//! Ctrl-C and SIGTERM: the first asks the loop to finish cleanly (the report is still
//! written), the second quits at once, stopping a target soakprof started.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

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

/// The process-wide stop flag that Ctrl-C sets.
pub static INTERRUPT: StopFlag = StopFlag::new();
static INTERRUPT_COUNT: AtomicU32 = AtomicU32::new(0);

/// Install the Ctrl-C / SIGTERM handler (once per process): the first one asks the loop to
/// finish cleanly; the second exits at once (the log is flushed line by line, so it stays
/// valid), stopping a target soakprof started (the group given to
/// [`process::set_spawned_group`]).
pub fn install_interrupt_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let result = ctrlc::set_handler(|| {
            if INTERRUPT_COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
                eprintln!("\nsoakprof: stopping; writing the report (Ctrl-C again to quit at once)");
                INTERRUPT.request();
            } else {
                process::terminate_spawned_group();
                eprintln!("\nsoakprof: quit; the run log is valid, run `soakprof analyze` on it");
                std::process::exit(130);
            }
        });
        if let Err(e) = result {
            eprintln!("soakprof: warning: cannot catch Ctrl-C ({e}); Ctrl-C will end the run without a report");
        }
    });
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
