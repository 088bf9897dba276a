//! The recording loop: ticks on absolute deadlines (tick k at k × interval from the start,
//! so nothing drifts over 24 h), a late tick recorded as a gap event rather than silently
//! shifted, Ctrl-C that stops cleanly, and the target's exit noticed and recorded.
//!
//! The loop takes its `Clock` and `Sampler` as parameters: a replay sampler and a fake
//! clock run a day-long series through it in milliseconds.

use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::analysis::OnlineSlope;
use crate::process::{self, Exit};
use crate::runlog::{Event, EventKind, Header, RunLogError, RunLogWriter, StopReason};
use crate::sample::{Gone, ProcId, Reading, Reads, Sampler};
use crate::status::StatusSink;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Log(#[from] RunLogError),
}

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

/// How late a tick may be before it is recorded as a gap: half an interval, and never more
/// than 20 ms, so every sample not marked by a gap sits within 20 ms of its schedule.
pub fn late_tolerance_s(interval_s: f64) -> f64 {
    (interval_s / 2.0).min(0.020)
}

/// How long the loop waits for a spawned target's exit status once the sampler saw it gone
/// (it is a zombie, or about to be one).
const EXIT_STATUS_WAIT: Duration = Duration::from_millis(100);

/// What the loop was asked to do.
#[derive(Clone, Debug)]
pub struct LoopSettings {
    pub interval_s: f64,
    pub duration_s: Option<f64>,
    pub children: bool,
    pub pss: PssInterval,
}

/// How the loop ended.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopOutcome {
    pub stop_reason: StopReason,
    pub samples: u64,
    pub gaps: u64,
    pub last_t: f64,
}

/// The parts the loop works with.
pub struct Recorder<'a> {
    pub sampler: &'a mut dyn Sampler,
    pub clock: &'a dyn Clock,
    pub stop: &'a StopFlag,
    pub log: &'a mut RunLogWriter,
    pub status: &'a mut dyn StatusSink,
    /// The target when soakprof started it: its exit status comes from waiting on it.
    pub spawned: Option<&'a mut Child>,
    /// `--fail-fast`: asked after each sample whether a fail is already certain.
    pub early_stop: Option<&'a mut dyn EarlyStop>,
}

/// Decides, from what the log holds so far, whether the run can stop early.
pub trait EarlyStop {
    /// Called after each sample with the number written; `Some(reason)` stops the run.
    fn check(&mut self, samples_written: u64) -> Option<String>;
}

impl Recorder<'_> {
    fn event(&mut self, t: f64, kind: EventKind) -> Result<(), RecordError> {
        self.log.event(&Event { t, kind })?;
        Ok(())
    }

    /// How a root that exited ended: from waiting on it when soakprof started it, else
    /// from the wait status the sampler read.
    fn exit_of(&mut self, pid: u32, wait_status: Option<i32>) -> Exit {
        match self.spawned.as_deref_mut() {
            Some(child) if child.id() == pid => {
                process::exit_within(child, EXIT_STATUS_WAIT).unwrap_or(Exit::Unknown)
            }
            _ => wait_status.map_or(Exit::Unknown, Exit::from_wait_status),
        }
    }

    /// Record roots that left and drop them from `roots`.
    fn handle_gone(
        &mut self,
        t: f64,
        gone: &[(ProcId, Gone)],
        roots: &mut Vec<ProcId>,
    ) -> Result<(), RecordError> {
        for (id, how) in gone {
            roots.retain(|r| r != id);
            let kind = match how {
                Gone::PidReused => {
                    self.status.note(&format!(
                        "PID {} was reused by another program; no longer followed",
                        id.pid
                    ));
                    EventKind::PidReused { pid: id.pid }
                }
                Gone::Exited { wait_status } => {
                    let exit = self.exit_of(id.pid, *wait_status);
                    self.status
                        .note(&format!("target PID {} {}", id.pid, exit.describe()));
                    EventKind::TargetExit {
                        pid: id.pid,
                        code: exit.code(),
                        signal: exit.signal(),
                        by_profiler: false,
                    }
                }
            };
            self.event(t, kind)?;
        }
        Ok(())
    }

    /// Run the loop until the duration elapses, a stop is requested, or every root is gone.
    /// `header` is written before the first sample, with the smaps schedule filled in from
    /// what the first read cost.
    pub fn run(
        &mut self,
        settings: &LoopSettings,
        mut header: Header,
        mut roots: Vec<ProcId>,
    ) -> Result<LoopOutcome, RecordError> {
        let interval_s = settings.interval_s;
        let mut smaps = ReadSchedule::new(settings.pss, interval_s);
        header.smaps_every = smaps.every;
        let mut detail = ReadSchedule::fixed(DETAIL_PERIOD, interval_s);
        header.detail_every = detail.every;
        let mut slope = OnlineSlope::default();
        let mut outcome = LoopOutcome {
            stop_reason: StopReason::Duration,
            samples: 0,
            gaps: 0,
            last_t: 0.0,
        };
        let mut tick: u64 = 0;
        let mut header_written = false;
        loop {
            let deadline_s = tick as f64 * interval_s;
            if settings.duration_s.is_some_and(|d| deadline_s > d + 1e-9) {
                outcome.stop_reason = StopReason::Duration;
                break;
            }
            self.clock.sleep_until_s(deadline_s, self.stop);
            if self.stop.is_requested() {
                outcome.stop_reason = StopReason::Interrupted;
                break;
            }
            let now_s = self.clock.now_s();
            let late_s = now_s - deadline_s;
            // Late beyond the tolerance: say so. Whole ticks missed are skipped (the
            // schedule is never shifted, and never caught up in a burst).
            let mut gap = None;
            if header_written && late_s > late_tolerance_s(interval_s) {
                let missed_ticks = (late_s / interval_s).floor() as u64;
                tick += missed_ticks;
                gap = Some(EventKind::Gap {
                    late_s,
                    missed_ticks,
                });
            }
            let reads = Reads {
                smaps: smaps.due(),
                detail: detail.due(),
            };
            let Reading {
                sample,
                gone,
                smaps_read_s,
            } = self.sampler.sample(&roots, settings.children, now_s, reads);
            if let Some(read_s) = smaps_read_s {
                let changed = smaps.observe(read_s, interval_s);
                if !header_written {
                    header.smaps_every = smaps.every;
                    header.smaps_read_ms = Some(read_s * 1e3);
                } else if let Some(every) = changed {
                    self.event(
                        now_s,
                        EventKind::SmapsEvery {
                            every,
                            read_ms: read_s * 1e3,
                        },
                    )?;
                }
            }
            if !header_written {
                self.log.header(&header)?;
                header_written = true;
            }
            if let Some(kind) = gap {
                outcome.gaps += 1;
                self.status.note(&format!(
                    "sampling was {:.0} ms late at {:.1} s (recorded as a gap)",
                    late_s * 1e3,
                    now_s
                ));
                self.event(now_s, kind)?;
            }
            self.handle_gone(now_s, &gone, &mut roots)?;
            if roots.is_empty() {
                outcome.stop_reason = StopReason::TargetExited;
                break;
            }
            self.log.sample(&sample)?;
            outcome.samples += 1;
            outcome.last_t = sample.t;
            if let Some(rss) = sample.rss {
                slope.push(sample.t, rss as f64);
            }
            if let Some(early) = self.early_stop.as_deref_mut()
                && let Some(reason) = early.check(outcome.samples)
            {
                self.status.note(&format!("--fail-fast: {reason}"));
                self.event(now_s, EventKind::FailFast { reason })?;
                outcome.stop_reason = StopReason::FailFast;
                break;
            }
            let remaining = settings.duration_s.map(|d| (d - now_s).max(0.0));
            self.status
                .update(&sample, slope.slope_per_s().map(|s| s * 60.0), remaining);
            tick += 1;
        }
        if !header_written {
            self.log.header(&header)?;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::{read_run, tests_support::header};
    use crate::sample::Sample;
    use std::cell::Cell;

    /// A clock that jumps to each deadline; `stall_at` makes one tick late.
    struct FakeClock {
        now: Cell<f64>,
        stall: Option<(f64, f64)>,
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

    /// Replays a synthetic leak: RSS = 100 MB + 1 MB/min; the root exits at `exit_at_s`.
    struct ReplaySampler {
        exit_at_s: Option<f64>,
        smaps_cost_s: f64,
    }

    impl Sampler for ReplaySampler {
        fn sample(&mut self, roots: &[ProcId], _: bool, elapsed_s: f64, reads: Reads) -> Reading {
            if self.exit_at_s.is_some_and(|e| elapsed_s >= e) {
                return Reading {
                    gone: vec![(
                        roots[0],
                        Gone::Exited {
                            wait_status: Some(3 << 8),
                        },
                    )],
                    ..Reading::default()
                };
            }
            Reading {
                sample: Sample {
                    t: elapsed_s,
                    rss: Some((100e6 + elapsed_s * 1e6 / 60.0) as u64),
                    threads: Some(4),
                    swap: reads.detail.then_some(0),
                    pss: reads.smaps.then_some(1),
                    ..Sample::default()
                },
                gone: vec![],
                smaps_read_s: reads.smaps.then_some(self.smaps_cost_s),
            }
        }
    }

    struct Silent;
    impl StatusSink for Silent {
        fn update(&mut self, _: &Sample, _: Option<f64>, _: Option<f64>) {}
        fn note(&mut self, _: &str) {}
        fn finish(&mut self) {}
    }

    fn run(
        clock: &FakeClock,
        sampler: &mut ReplaySampler,
        settings: LoopSettings,
    ) -> (LoopOutcome, crate::runlog::RunData) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLogWriter::create(dir.path()).unwrap();
        let stop = StopFlag::new();
        let mut status = Silent;
        let mut rec = Recorder {
            sampler,
            clock,
            stop: &stop,
            log: &mut log,
            status: &mut status,
            spawned: None,
            early_stop: None,
        };
        let outcome = rec
            .run(&settings, header(), vec![ProcId { pid: 7, start: 1 }])
            .unwrap();
        drop(log);
        (outcome, read_run(dir.path()).unwrap())
    }

    #[test]
    fn a_day_at_one_hertz_in_milliseconds() {
        let clock = FakeClock {
            now: Cell::new(0.0),
            stall: None,
        };
        let mut sampler = ReplaySampler {
            exit_at_s: None,
            smaps_cost_s: 1e-4,
        };
        let settings = LoopSettings {
            interval_s: 1.0,
            duration_s: Some(86_400.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let (outcome, run) = run(&clock, &mut sampler, settings);
        assert_eq!(outcome.stop_reason, StopReason::Duration);
        assert_eq!(run.samples.len(), 86_401);
        assert_eq!(outcome.gaps, 0);
        // Absolute deadlines: the last sample sits exactly on its schedule.
        assert_eq!(run.samples.last().unwrap().t, 86_400.0);
    }

    #[test]
    fn late_tick_is_a_gap_and_schedule_is_kept() {
        // Tick at t=10 is 3.4 s late: ticks 11, 12, 13 are skipped, then back on schedule.
        let clock = FakeClock {
            now: Cell::new(0.0),
            stall: Some((10.0, 3.4)),
        };
        let mut sampler = ReplaySampler {
            exit_at_s: None,
            smaps_cost_s: 0.0,
        };
        let settings = LoopSettings {
            interval_s: 1.0,
            duration_s: Some(20.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let (outcome, run) = run(&clock, &mut sampler, settings);
        assert_eq!(outcome.gaps, 1);
        let gap = run.events.iter().find_map(|e| match e.kind {
            EventKind::Gap {
                late_s,
                missed_ticks,
            } => Some((e.t, late_s, missed_ticks)),
            _ => None,
        });
        let (t, late_s, missed) = gap.unwrap();
        assert!((t - 13.4).abs() < 1e-9 && (late_s - 3.4).abs() < 1e-9 && missed == 3);
        let times: Vec<f64> = run.samples.iter().map(|s| s.t).collect();
        assert!(times.contains(&14.0) && times.contains(&20.0), "{times:?}");
        assert!(!times.contains(&11.0));
    }

    #[test]
    fn target_exit_ends_the_run_with_its_status() {
        let clock = FakeClock {
            now: Cell::new(0.0),
            stall: None,
        };
        let mut sampler = ReplaySampler {
            exit_at_s: Some(5.0),
            smaps_cost_s: 0.0,
        };
        let settings = LoopSettings {
            interval_s: 0.5,
            duration_s: None,
            children: false,
            pss: PssInterval::Auto,
        };
        let (outcome, run) = run(&clock, &mut sampler, settings);
        assert_eq!(outcome.stop_reason, StopReason::TargetExited);
        assert_eq!(run.samples.len(), 10);
        assert_eq!(
            run.events[0].kind,
            EventKind::TargetExit {
                pid: 7,
                code: Some(3),
                signal: None,
                by_profiler: false
            }
        );
    }

    #[test]
    fn slow_smaps_is_read_less_often() {
        // 50 ms per read at a 100 ms interval: at most 0.5% of a core needs 10 s between
        // reads, twice the five-second minimum -> every 100th sample.
        let clock = FakeClock {
            now: Cell::new(0.0),
            stall: None,
        };
        let mut sampler = ReplaySampler {
            exit_at_s: None,
            smaps_cost_s: 0.05,
        };
        let settings = LoopSettings {
            interval_s: 0.1,
            duration_s: Some(20.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let (_, run) = run(&clock, &mut sampler, settings);
        assert_eq!(run.header.smaps_every, 100);
        let with_pss = run.samples.iter().filter(|s| s.pss.is_some()).count();
        assert_eq!(with_pss, 3, "t = 0, 10 and 20 s");
        assert_eq!(run.header.smaps_read_ms, Some(50.0));
    }

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
    fn detail_fields_once_a_second_at_short_intervals() {
        let clock = FakeClock {
            now: Cell::new(0.0),
            stall: None,
        };
        let mut sampler = ReplaySampler {
            exit_at_s: None,
            smaps_cost_s: 0.0,
        };
        let settings = LoopSettings {
            interval_s: 0.01,
            duration_s: Some(2.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let (_, fast) = run(&clock, &mut sampler, settings);
        assert_eq!(fast.samples.len(), 201);
        assert_eq!(fast.header.detail_every, 100);
        let detail_at: Vec<f64> = fast
            .samples
            .iter()
            .filter(|s| s.swap.is_some())
            .map(|s| s.t)
            .collect();
        assert_eq!(detail_at, [0.0, 1.0, 2.0]);
        let pss = fast.samples.iter().filter(|s| s.pss.is_some()).count();
        assert_eq!(pss, 1, "PSS every 5 s");
        // At a 1 s interval every sample has them.
        let settings = LoopSettings {
            interval_s: 1.0,
            duration_s: Some(5.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let (_, slow) = run(&clock_at_zero(), &mut sampler, settings);
        assert!(slow.samples.iter().all(|s| s.swap.is_some()));
        let pss_at: Vec<f64> = slow
            .samples
            .iter()
            .filter(|s| s.pss.is_some())
            .map(|s| s.t)
            .collect();
        assert_eq!(pss_at, [0.0, 5.0]);
    }

    fn clock_at_zero() -> FakeClock {
        FakeClock {
            now: Cell::new(0.0),
            stall: None,
        }
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

    #[test]
    fn small_lateness_is_tolerated_larger_is_a_gap() {
        // 15 ms late at a 1 s interval: within tolerance, no gap; 30 ms late: a gap event,
        // no tick skipped.
        for (extra, gaps) in [(0.015, 0), (0.030, 1)] {
            let clock = FakeClock {
                now: Cell::new(0.0),
                stall: Some((5.0, extra)),
            };
            let mut sampler = ReplaySampler {
                exit_at_s: None,
                smaps_cost_s: 0.0,
            };
            let settings = LoopSettings {
                interval_s: 1.0,
                duration_s: Some(10.0),
                children: false,
                pss: PssInterval::Auto,
            };
            let (outcome, run) = run(&clock, &mut sampler, settings);
            assert_eq!(outcome.gaps, gaps);
            assert_eq!(
                run.samples.len(),
                11,
                "no tick skipped for lateness under one interval"
            );
        }
        assert_eq!(late_tolerance_s(0.01), 0.005);
        assert_eq!(late_tolerance_s(1.0), 0.020);
    }
}
