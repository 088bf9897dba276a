//! The recording loop: ticks on absolute deadlines (tick k at k × interval from the start,
//! so nothing drifts over 24 h), a late tick recorded as a gap event rather than silently
//! shifted, Ctrl-C that stops cleanly, and the target's exit noticed and recorded.
//!
//! The loop takes its `Clock` and `Sampler` as parameters: a replay sampler and a fake
//! clock run a day-long series through it in milliseconds.

mod clock;
mod interrupt;
mod schedule;
mod self_cost;

use std::process::Child;
use std::time::Duration;

pub use clock::{Clock, FakeClock, SystemClock};
pub use interrupt::{INTERRUPT, StopFlag, install_interrupt_handler};
pub use schedule::{DETAIL_PERIOD, PSS_AUTO_PERIOD_S, PssInterval, ReadSchedule, SMAPS_BUDGET};
pub use self_cost::{CpuMeter, ThreadCpu};

use crate::analysis::OnlineSlope;
use crate::analysis::profiler::{busy_text, too_busy};
use crate::process::{self, Exit};
use crate::runlog::{Event, EventKind, Header, RunLogError, RunLogWriter, StopReason};
use crate::sample::{CgroupNews, Gone, ProcId, Reading, Reads, Sample, Sampler};
use crate::status::StatusSink;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Log(#[from] RunLogError),
}

impl RecordError {
    pub fn is_bad_input(&self) -> bool {
        match self {
            RecordError::Log(e) => e.is_bad_input(),
        }
    }
}

/// How long the loop waits for a spawned target's exit status once the sampler saw it gone
/// (it is a zombie, or about to be one).
const EXIT_STATUS_WAIT: Duration = Duration::from_millis(100);

/// How late a tick may be before it is recorded as a gap: half an interval, and never more
/// than 20 ms, so every sample not marked by a gap sits within 20 ms of its schedule.
pub fn late_tolerance_s(interval_s: f64) -> f64 {
    (interval_s / 2.0).min(0.020)
}

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
    /// What the loop's own thread has used: the profiler's cost ([`ThreadCpu`]).
    pub cpu: &'a dyn CpuMeter,
    /// `--follow`: how to find the target again once it is gone.
    pub follow: Option<&'a mut dyn Refind>,
}

/// `--follow`: finds the target again once every process followed is gone.
pub trait Refind {
    /// The processes to follow now (empty while there are none).
    fn refind(&mut self) -> Vec<ProcId>;
}

/// The life that ended, while `--follow` waits for the next.
#[derive(Clone, Copy, Debug)]
struct Down {
    pid: u32,
    exit: Exit,
    since_s: f64,
}

/// Decides, from what the log holds so far, whether the run can stop early.
pub trait EarlyStop {
    /// Called after each sample with the number written; `Some(reason)` stops the run.
    fn check(&mut self, samples_written: u64) -> Option<String>;
    /// Why the run stops when `check` says so: `--fail-fast` unless told otherwise.
    fn stop_reason(&self) -> StopReason {
        StopReason::FailFast
    }
}

/// What the loop carries from one tick to the next.
struct LoopState {
    smaps: ReadSchedule,
    detail: ReadSchedule,
    slope: OnlineSlope,
    outcome: LoopOutcome,
    tick: u64,
    /// The header until it is written, before the first sample.
    header: Option<Header>,
    cost: self_cost::SelfCost,
    /// `--follow`: the last life's end, while no process is followed.
    down: Option<Down>,
}

impl LoopState {
    fn new(settings: &LoopSettings, mut header: Header) -> LoopState {
        let smaps = ReadSchedule::new(settings.pss, settings.interval_s);
        header.smaps_every = smaps.every;
        let detail = ReadSchedule::fixed(DETAIL_PERIOD, settings.interval_s);
        header.detail_every = detail.every;
        LoopState {
            smaps,
            detail,
            slope: OnlineSlope::default(),
            outcome: LoopOutcome {
                stop_reason: StopReason::Duration,
                samples: 0,
                gaps: 0,
                last_t: 0.0,
            },
            tick: 0,
            header: Some(header),
            cost: self_cost::SelfCost::new(),
            down: None,
        }
    }

    /// A tick `late_s` late beyond the tolerance is a gap: whole ticks missed are skipped
    /// (the schedule is never shifted, and never caught up in a burst). The first tick,
    /// before the header, is never a gap.
    fn gap(&mut self, late_s: f64, interval_s: f64) -> Option<EventKind> {
        if self.header.is_some() || late_s <= late_tolerance_s(interval_s) {
            return None;
        }
        let missed_ticks = (late_s / interval_s).floor() as u64;
        self.tick += missed_ticks;
        Some(EventKind::Gap {
            late_s,
            missed_ticks,
        })
    }
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
    ) -> Result<Option<(u32, Exit)>, RecordError> {
        let mut last = None;
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
                    last = Some((id.pid, exit));
                    let waiting = if self.follow.is_some() {
                        "; waiting for it to restart (--follow)"
                    } else {
                        ""
                    };
                    self.status.note(&format!(
                        "target PID {} {}{waiting}",
                        id.pid,
                        exit.describe()
                    ));
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
        Ok(last)
    }

    /// Log what the cgroup's counters told: OOM kills, and the target cgroup's removal
    /// (true: the run ends, as when a process target exits).
    fn cgroup_news(&mut self, now_s: f64, news: CgroupNews) -> Result<bool, RecordError> {
        if let Some(seen) = news.oom_kill {
            let who = if seen.victims.is_empty() {
                "a process (not seen to go)".to_string()
            } else {
                seen.victims
                    .iter()
                    .map(|v| match &v.name {
                        Some(name) => format!("PID {} ({name})", v.pid),
                        None => format!("PID {}", v.pid),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.status.note(&format!(
                "the OOM killer killed {who} at {:.1} s ({} kill(s) in the cgroup so far)",
                seen.at_s, seen.total
            ));
            self.event(
                seen.at_s,
                EventKind::OomKill {
                    kills: seen.kills,
                    total: seen.total,
                    victims: seen.victims,
                },
            )?;
        }
        let Some(path) = news.gone else {
            return Ok(false);
        };
        self.status.note(&format!(
            "cgroup {path} is gone (the container was stopped or removed)"
        ));
        self.event(now_s, EventKind::CgroupGone { path })?;
        Ok(true)
    }

    /// `--follow -- CMD`: CMD is the supervisor whose children are followed; when it exits
    /// (logged as a target exit), the run ends.
    fn supervisor_exited(&mut self, now_s: f64) -> Result<bool, RecordError> {
        if self.follow.is_none() {
            return Ok(false);
        }
        let Some(child) = self.spawned.as_deref_mut() else {
            return Ok(false);
        };
        let Ok(Some(status)) = child.try_wait() else {
            return Ok(false);
        };
        let (pid, exit) = (child.id(), Exit::from_status(status));
        self.status
            .note(&format!("supervisor PID {pid} {}", exit.describe()));
        self.event(
            now_s,
            EventKind::TargetExit {
                pid,
                code: exit.code(),
                signal: exit.signal(),
                by_profiler: false,
            },
        )?;
        Ok(true)
    }

    /// `--follow` once every root is gone: look for the target again. A restart event when
    /// it is found; `Some(reason)` when following ends (the supervisor exited).
    fn refind(
        &mut self,
        now_s: f64,
        state: &mut LoopState,
        roots: &mut Vec<ProcId>,
    ) -> Result<Option<StopReason>, RecordError> {
        let Some(follow) = self.follow.as_deref_mut() else {
            return Ok(Some(StopReason::TargetExited));
        };
        let found = follow.refind();
        let Some(new) = found.first().copied() else {
            return Ok(None);
        };
        *roots = found;
        if let Some(down) = state.down.take() {
            self.status.note(&format!(
                "target restarted: PID {} follows PID {}",
                new.pid, down.pid
            ));
            self.event(
                now_s,
                EventKind::Restart {
                    old_pid: down.pid,
                    code: down.exit.code(),
                    signal: down.exit.signal(),
                    new_pid: new.pid,
                    down_s: now_s - down.since_s,
                },
            )?;
        }
        Ok(None)
    }

    /// Run the loop until the duration elapses, a stop is requested, or every root is gone.
    /// `header` is written before the first sample, with the smaps schedule filled in from
    /// what the first read cost.
    pub fn run(
        &mut self,
        settings: &LoopSettings,
        header: Header,
        mut roots: Vec<ProcId>,
    ) -> Result<LoopOutcome, RecordError> {
        let mut state = LoopState::new(settings, header);
        state.outcome.stop_reason = loop {
            if let Some(reason) = self.tick(settings, &mut state, &mut roots)? {
                break reason;
            }
        };
        if let Some(header) = state.header.take() {
            self.log.header(&header)?;
        }
        self.final_cost(&mut state, settings.interval_s)?;
        // Everything sampled is handed to the OS before anything that can take time (the
        // load driver's and the target's stop), so quitting at once loses none of it.
        self.log.flush()?;
        Ok(state.outcome)
    }

    /// One tick: wait for its deadline, sample, record. `Some(reason)` ends the run.
    fn tick(
        &mut self,
        settings: &LoopSettings,
        state: &mut LoopState,
        roots: &mut Vec<ProcId>,
    ) -> Result<Option<StopReason>, RecordError> {
        let interval_s = settings.interval_s;
        let deadline_s = state.tick as f64 * interval_s;
        if settings.duration_s.is_some_and(|d| deadline_s > d + 1e-9) {
            return Ok(Some(StopReason::Duration));
        }
        self.clock.sleep_until_s(deadline_s, self.stop);
        if self.stop.is_requested() {
            return Ok(Some(StopReason::Interrupted));
        }
        let now_s = self.clock.now_s();
        let late_s = now_s - deadline_s;
        let gap = state.gap(late_s, interval_s);
        let reads = Reads {
            smaps: state.smaps.due(),
            detail: state.detail.due(),
        };
        let Reading {
            sample,
            gone,
            smaps_read_s,
            cgroup_news,
        } = self.sampler.sample(roots, settings.children, now_s, reads);
        if let Some(read_s) = smaps_read_s {
            self.observe_smaps_cost(state, read_s, interval_s, now_s)?;
        }
        if let Some(header) = state.header.take() {
            self.log.header(&header)?;
        }
        if let Some(kind) = gap {
            state.outcome.gaps += 1;
            self.status.note(&format!(
                "sampling was {:.0} ms late at {:.1} s (recorded as a gap)",
                late_s * 1e3,
                now_s
            ));
            self.event(now_s, kind)?;
        }
        if self.supervisor_exited(now_s)? {
            return Ok(Some(StopReason::TargetExited));
        }
        if self.cgroup_news(now_s, cgroup_news)? {
            return Ok(Some(StopReason::TargetExited));
        }
        let sampled = !roots.is_empty();
        if let Some((pid, exit)) = self.handle_gone(now_s, &gone, roots)? {
            state.down = Some(Down {
                pid,
                exit,
                since_s: now_s,
            });
        }
        if roots.is_empty() {
            if let Some(reason) = self.refind(now_s, state, roots)? {
                return Ok(Some(reason));
            }
            // Nothing was followed at this tick's sample: no sample, the next tick samples
            // what was found.
            state.tick += 1;
            return Ok(None);
        }
        if !sampled {
            state.tick += 1;
            return Ok(None);
        }
        self.record_sample(state, &sample)?;
        if let Some(reason) = self.fail_fast(now_s, state.outcome.samples)? {
            return Ok(Some(reason));
        }
        if let self_cost::Observed::FirstTooBusy(cpu) = state.cost.observe(self.cpu, now_s) {
            self.status
                .note(&format!("warning: {}", busy_text(interval_s, &cpu)));
            self.event(now_s, EventKind::ProfilerCpu(cpu))?;
        }
        let remaining = settings.duration_s.map(|d| (d - now_s).max(0.0));
        let slope_per_min = state.slope.slope_per_s().map(|s| s * 60.0);
        self.status.update(&sample, slope_per_min, remaining);
        state.tick += 1;
        Ok(None)
    }

    /// The profiler's cost over the whole run, logged (and said, when it is too high and
    /// was not said yet).
    fn final_cost(&mut self, state: &mut LoopState, interval_s: f64) -> Result<(), RecordError> {
        let now_s = self.clock.now_s();
        let Some(cpu) = state.cost.finish(self.cpu, now_s) else {
            return Ok(());
        };
        if too_busy(cpu.max_cores) && !state.cost.warned() {
            self.status
                .note(&format!("warning: {}", busy_text(interval_s, &cpu)));
        }
        self.event(now_s, EventKind::ProfilerCpu(cpu))
    }

    /// Adapt the smaps schedule to what a read cost: in the header before the first sample,
    /// as an event afterwards.
    fn observe_smaps_cost(
        &mut self,
        state: &mut LoopState,
        read_s: f64,
        interval_s: f64,
        now_s: f64,
    ) -> Result<(), RecordError> {
        let changed = state.smaps.observe(read_s, interval_s);
        if let Some(header) = state.header.as_mut() {
            header.smaps_every = state.smaps.every;
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
        Ok(())
    }

    fn record_sample(&mut self, state: &mut LoopState, sample: &Sample) -> Result<(), RecordError> {
        self.log.sample(sample)?;
        state.outcome.samples += 1;
        state.outcome.last_t = sample.t;
        if let Some(rss) = sample.rss {
            state.slope.push(sample.t, rss as f64);
        }
        Ok(())
    }

    /// `--fail-fast` (a fail is already certain) or `--find-capacity` (the search ended):
    /// why the run stops now, recorded.
    fn fail_fast(&mut self, now_s: f64, samples: u64) -> Result<Option<StopReason>, RecordError> {
        let Some(early) = self.early_stop.as_deref_mut() else {
            return Ok(None);
        };
        let Some(reason) = early.check(samples) else {
            return Ok(None);
        };
        let stop = early.stop_reason();
        if stop == StopReason::FailFast {
            self.status.note(&format!("--fail-fast: {reason}"));
            self.event(now_s, EventKind::FailFast { reason })?;
        } else {
            self.status.note(&reason);
        }
        Ok(Some(stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::{read_run, read_samples, tests_support::header};

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
                ..Reading::default()
            }
        }
    }

    struct Silent;
    impl StatusSink for Silent {
        fn update(&mut self, _: &Sample, _: Option<f64>, _: Option<f64>) {}
        fn note(&mut self, _: &str) {}
        fn finish(&mut self) {}
    }

    /// A meter that cannot read: no cost is logged.
    struct NoCpu;
    impl CpuMeter for NoCpu {
        fn cpu_s(&self) -> Option<f64> {
            None
        }
    }

    /// The loop's thread busy for `share` of the (fake) time.
    struct BusyCpu<'a> {
        clock: &'a FakeClock,
        share: f64,
    }
    impl CpuMeter for BusyCpu<'_> {
        fn cpu_s(&self) -> Option<f64> {
            Some(self.clock.now_s() * self.share)
        }
    }

    fn run(
        clock: &FakeClock,
        sampler: &mut ReplaySampler,
        settings: LoopSettings,
    ) -> (LoopOutcome, Recorded) {
        run_metered(clock, sampler, settings, &NoCpu)
    }

    fn run_metered(
        clock: &FakeClock,
        sampler: &mut ReplaySampler,
        settings: LoopSettings,
        cpu: &dyn CpuMeter,
    ) -> (LoopOutcome, Recorded) {
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
            cpu,
            follow: None,
        };
        let outcome = rec
            .run(&settings, header(), vec![ProcId { pid: 7, start: 1 }])
            .unwrap();
        drop(log);
        let run = read_run(dir.path()).unwrap();
        let recorded = Recorded {
            header: run.header,
            events: run.events,
            samples: read_samples(dir.path()).unwrap(),
        };
        (outcome, recorded)
    }

    /// What a test run wrote: the header, the events, and every sample with all its fields.
    struct Recorded {
        header: crate::runlog::Header,
        events: Vec<crate::runlog::Event>,
        samples: Vec<Sample>,
    }

    #[test]
    fn a_day_at_one_hertz_in_milliseconds() {
        let clock = FakeClock::new();
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
    fn a_busy_profiler_is_logged_once_it_passes_the_bound_and_at_the_end() {
        let settings = LoopSettings {
            interval_s: 0.01,
            duration_s: Some(12.0),
            children: false,
            pss: PssInterval::Auto,
        };
        let costs = |share: f64| {
            let clock = FakeClock::new();
            let mut sampler = ReplaySampler {
                exit_at_s: None,
                smaps_cost_s: 0.0,
            };
            let meter = BusyCpu {
                clock: &clock,
                share,
            };
            let (_, run) = run_metered(&clock, &mut sampler, settings.clone(), &meter);
            run.events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::ProfilerCpu(cpu) => Some((e.t, *cpu)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let busy = costs(0.8);
        assert_eq!(
            busy.len(),
            2,
            "the first busy window, and the end: {busy:?}"
        );
        assert!((busy[0].0 - 5.0).abs() < 0.02, "{busy:?}");
        for (_, cpu) in &busy {
            assert!((cpu.mean_cores - 0.8).abs() < 1e-6 && (cpu.max_cores - 0.8).abs() < 1e-6);
        }
        let calm = costs(0.1);
        assert_eq!(calm.len(), 1, "only the end: {calm:?}");
        assert!((calm[0].1.max_cores - 0.1).abs() < 1e-6);
    }

    #[test]
    fn late_tick_is_a_gap_and_schedule_is_kept() {
        // Tick at t=10 is 3.4 s late: ticks 11, 12, 13 are skipped, then back on schedule.
        let clock = FakeClock::stalled(10.0, 3.4);
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
        let clock = FakeClock::new();
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
        let clock = FakeClock::new();
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
    fn detail_fields_once_a_second_at_short_intervals() {
        let clock = FakeClock::new();
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
        let (_, slow) = run(&FakeClock::new(), &mut sampler, settings);
        assert!(slow.samples.iter().all(|s| s.swap.is_some()));
        let pss_at: Vec<f64> = slow
            .samples
            .iter()
            .filter(|s| s.pss.is_some())
            .map(|s| s.t)
            .collect();
        assert_eq!(pss_at, [0.0, 5.0]);
    }

    #[test]
    fn small_lateness_is_tolerated_larger_is_a_gap() {
        // 15 ms late at a 1 s interval: within tolerance, no gap; 30 ms late: a gap event,
        // no tick skipped.
        for (extra, gaps) in [(0.015, 0), (0.030, 1)] {
            let clock = FakeClock::stalled(5.0, extra);
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
