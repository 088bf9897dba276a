//! Where the loop gets its time from: the monotonic clock, or (in tests and benches) a fake
//! clock that jumps to each deadline, so a day-long run replays in milliseconds.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::StopFlag;

/// Where the loop gets its time from.
pub trait Clock {
    /// Seconds since the start of the run.
    fn now_s(&self) -> f64;
    /// Sleep until `deadline_s`, or until `stop` is requested.
    fn sleep_until_s(&self, deadline_s: f64, stop: &StopFlag);
}

/// The real monotonic clock.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn start_now() -> SystemClock {
        SystemClock {
            start: Instant::now(),
        }
    }

    /// The instant `now_s` counts from.
    pub fn start(&self) -> Instant {
        self.start
    }
}

impl Clock for SystemClock {
    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
    fn sleep_until_s(&self, deadline_s: f64, stop: &StopFlag) {
        loop {
            let left = deadline_s - self.now_s();
            if left <= 0.0 || stop.wait(Duration::from_secs_f64(left)) {
                return;
            }
        }
    }
}

/// A clock for tests and benches: starts at 0 and jumps to each deadline at once; a stall
/// makes the tick at one deadline late by a given time. It never waits, so it ignores stop
/// requests.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FakeClock {
    now: Cell<f64>,
    stall: Option<(f64, f64)>,
}

impl FakeClock {
    /// At 0 s, every tick on time.
    pub fn new() -> FakeClock {
        FakeClock::default()
    }

    /// At 0 s; the tick due at `at_s` comes `late_s` late.
    pub fn stalled(at_s: f64, late_s: f64) -> FakeClock {
        FakeClock {
            now: Cell::new(0.0),
            stall: Some((at_s, late_s)),
        }
    }
}

impl Clock for FakeClock {
    fn now_s(&self) -> f64 {
        self.now.get()
    }
    fn sleep_until_s(&self, deadline_s: f64, _: &StopFlag) {
        let mut t = self.now.get().max(deadline_s);
        if let Some((at, extra)) = self.stall
            && (deadline_s - at).abs() < 1e-9
        {
            t += extra;
        }
        self.now.set(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_jumps_to_deadlines_and_stalls_once() {
        let stop = StopFlag::new();
        let clock = FakeClock::stalled(2.0, 0.5);
        clock.sleep_until_s(1.0, &stop);
        assert_eq!(clock.now_s(), 1.0);
        clock.sleep_until_s(2.0, &stop);
        assert_eq!(clock.now_s(), 2.5);
        // A deadline already passed leaves the time as it is.
        clock.sleep_until_s(2.2, &stop);
        assert_eq!(clock.now_s(), 2.5);
        clock.sleep_until_s(3.0, &stop);
        assert_eq!(clock.now_s(), 3.0);
        let plain = FakeClock::new();
        plain.sleep_until_s(86_400.0, &stop);
        assert_eq!(plain.now_s(), 86_400.0);
    }

    #[test]
    fn system_clock_wakes_on_a_stop_request() {
        let clock = SystemClock::start_now();
        let stop = StopFlag::new();
        stop.request();
        clock.sleep_until_s(60.0, &stop);
        assert!(clock.now_s() < 30.0);
        clock.sleep_until_s(0.0, &stop);
        assert!(clock.start() <= Instant::now());
    }
}
