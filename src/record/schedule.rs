//! Which samples read the costlier files: smaps_rollup (PSS/USS) per `--pss-interval`,
//! adapted to what a read costs, and the detail files once a second.

use std::time::Duration;

/// How often PSS/USS (smaps_rollup) is read (`--pss-interval`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PssInterval {
    /// Every `PSS_AUTO_PERIOD_S` at most, and less often when one read would cost more
    /// than `SMAPS_BUDGET` of a core.
    Auto,
    /// Never: `pss` and `uss` are missing from every sample.
    Off,
    /// On this period (rounded to whole samples), whatever a read costs.
    Every(Duration),
}

/// Which samples read a costlier file: smaps_rollup (PSS/USS), and the detail files (status,
/// io, meminfo). smaps_rollup walks every page table of the target and holds its memory-map
/// lock meanwhile, so its cost grows with the target's mapped memory (about 10 ms for 1 GB
/// resident): far more than the core fields, and paid by the target too. The detail files
/// cost about as much as the core ones; read once a second, they halve the profiler's CPU
/// at a 10 ms interval.
#[derive(Clone, Debug)]
pub struct ReadSchedule {
    /// Read on every `every`-th sample; 0 = never.
    pub every: u32,
    /// The fewest samples between reads (`Auto`: `PSS_AUTO_PERIOD_S` worth).
    min_every: u32,
    adaptive: bool,
    countdown: u32,
}

/// Share of one core that smaps_rollup may use on average under `PssInterval::Auto`.
pub const SMAPS_BUDGET: f64 = 0.005;

/// The default period of PSS/USS reads under `PssInterval::Auto`.
pub const PSS_AUTO_PERIOD_S: f64 = 5.0;

/// The period of the detail fields (swap, context switches, I/O bytes, host memory): every
/// sample at this interval or longer.
pub const DETAIL_PERIOD: Duration = Duration::from_secs(1);

impl ReadSchedule {
    pub fn new(pss: PssInterval, interval_s: f64) -> ReadSchedule {
        let samples_per = |period_s: f64| (period_s / interval_s).round().clamp(1.0, 1e6) as u32;
        let (every, adaptive) = match pss {
            PssInterval::Auto => (samples_per(PSS_AUTO_PERIOD_S), true),
            PssInterval::Off => (0, false),
            PssInterval::Every(period) => (samples_per(period.as_secs_f64()), false),
        };
        ReadSchedule {
            every,
            min_every: every,
            adaptive,
            countdown: 0,
        }
    }

    /// Every `period` (rounded to whole samples, at least every sample), never adapted.
    pub fn fixed(period: Duration, interval_s: f64) -> ReadSchedule {
        ReadSchedule::new(PssInterval::Every(period), interval_s)
    }

    /// Is a read due on this tick?
    pub fn due(&mut self) -> bool {
        if self.every == 0 {
            false
        } else if self.countdown == 0 {
            self.countdown = self.every - 1;
            true
        } else {
            self.countdown -= 1;
            false
        }
    }

    /// Adapt to what one read cost; returns the new period when it changed. The period
    /// grows in powers of two above the minimum, raised when a read needs more and lowered
    /// only when it needs a quarter or less, so a target whose memory (and so read cost)
    /// grows steadily changes the period a handful of times over a run, not on every read.
    pub fn observe(&mut self, read_s: f64, interval_s: f64) -> Option<u32> {
        if !self.adaptive {
            return None;
        }
        let needed = (read_s / (SMAPS_BUDGET * interval_s))
            .ceil()
            .clamp(1.0, 1e6) as u32;
        let wanted = if needed <= self.min_every {
            self.min_every
        } else {
            // The smallest power-of-two multiple of the minimum that is enough.
            self.min_every * needed.div_ceil(self.min_every).next_power_of_two()
        };
        if wanted > self.every || wanted * 4 <= self.every {
            self.every = wanted;
            self.countdown = self.countdown.min(wanted - 1);
            Some(wanted)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_schedule_rules() {
        // At a 5 s interval the five-second minimum is every sample; the budget is 25 ms.
        let mut s = ReadSchedule::new(PssInterval::Auto, 5.0);
        assert!(s.due() && s.due());
        assert_eq!(s.observe(0.001, 5.0), None);
        assert_eq!(s.observe(0.1, 5.0), Some(4));
        let pattern: Vec<bool> = (0..8).map(|_| s.due()).collect();
        assert_eq!(pattern.iter().filter(|d| **d).count(), 2);
        assert_eq!(
            s.observe(0.07, 5.0),
            None,
            "needs 3: the period of 4 is kept"
        );
        assert_eq!(s.observe(0.04, 5.0), None, "needs 2: not yet a quarter");
        assert_eq!(s.observe(0.001, 5.0), Some(1));
        // A steadily growing cost (a leaking target) changes the period rarely.
        let mut s = ReadSchedule::new(PssInterval::Auto, 0.05);
        assert_eq!(s.every, 100, "five seconds at 50 ms");
        let changes = (1..=1000)
            .filter(|i| s.observe(*i as f64 * 1e-4, 0.05).is_some())
            .count();
        assert!(changes <= 6, "{changes} changes");
        assert_eq!(s.every % 100, 0);
    }

    #[test]
    fn pss_interval_off_and_fixed() {
        let mut off = ReadSchedule::new(PssInterval::Off, 0.01);
        assert_eq!(off.every, 0);
        assert!((0..1000).all(|_| !off.due()));
        let mut fixed = ReadSchedule::new(PssInterval::Every(Duration::from_millis(300)), 0.1);
        assert_eq!(fixed.every, 3);
        assert_eq!(fixed.observe(5.0, 0.1), None, "a fixed period is kept");
        let dues: Vec<bool> = (0..6).map(|_| fixed.due()).collect();
        assert_eq!(dues, [true, false, false, true, false, false]);
    }
}
