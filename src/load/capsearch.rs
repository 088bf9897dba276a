//! `--find-capacity`, live: a controller thread beside one built-in driver. It sets the
//! driver's level step by step (the choice and the judging are `analysis::capsearch`),
//! reads what each step did from counters the driver fills, and the target's samples from
//! the recording loop's status feed, and writes `capacity_search.jsonl`.
//!
//! One driver for the whole search, told its level through [`SearchControl`], rather than
//! a driver per step: connections stay warm from step to step, load.jsonl stays one
//! continuous log (its intervals carry the level), and no step pays a driver's start-up.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{LoadDriver, LoadError};
use crate::analysis::capsearch::{
    self, Next, Search, SearchEnd, SearchGates, SearchPlan, StepObservation,
};
use crate::runlog::load::new_latency_histogram;
use crate::runlog::{JsonLinesWriter, RunLogError, for_each_record, open_log};
use crate::sample::Sample;
use crate::status::StatusSink;

pub use crate::runlog::CAPACITY_SEARCH_FILE as SEARCH_FILE;
/// Time kept free at the end of `--duration`: the last step ends this much before it.
const END_MARGIN: Duration = Duration::from_millis(500);
/// Share of a step's hold spent reaching the level before it is measured (at least
/// [`MIN_WARMUP`]): connections open, queues fill or drain.
const WARMUP_SHARE: f64 = 0.25;
const MIN_WARMUP: Duration = Duration::from_millis(500);
/// After a failing step the load pauses until the requests it left in flight are answered
/// (at most this long, and at most one hold), so its queue does not spoil the next step.
const MAX_DRAIN: Duration = Duration::from_secs(5);
/// Samples held for the step being measured, at most (a step at a 10 ms interval for
/// two minutes holds 12,000).
const MAX_SAMPLES_HELD: usize = 100_000;
/// How often the controller looks at the stop flag while it waits.
const POLL: Duration = Duration::from_millis(20);

/// What the driver and the controller share.
#[derive(Debug)]
pub struct SearchControl {
    /// The level wanted now (f64 bits); the driver reads it instead of its stages.
    level_bits: AtomicU64,
    /// Counts up at each level change: a request counts for the level it was sent at, so
    /// one left over from an overloaded level does not land in the next one's latencies.
    level_id: AtomicU64,
    counts: Mutex<StepCounts>,
    /// Requests started and ended (answered, failed or timed out): the difference is in flight.
    started: AtomicU64,
    ended: AtomicU64,
    /// The driver thread's CPU clock, once it runs.
    driver_clock: Mutex<Option<DriverClock>>,
    samples: Mutex<Vec<SamplePoint>>,
    /// Set when the search has ended: the recording stops.
    done: AtomicBool,
    /// Set by `stop`: the controller ends at once.
    stop: AtomicBool,
    /// Open model: the in-flight cap asked for (`--max-in-flight`).
    pub max_in_flight: Option<u64>,
}

/// A thread's CPU clock, as `pthread_getcpuclockid` gives it.
#[derive(Clone, Copy, Debug)]
struct DriverClock(#[cfg_attr(not(target_os = "linux"), allow(dead_code))] i64);

/// Counts since the controller last took them.
#[derive(Debug, Default)]
pub struct StepCounts {
    pub requests: u64,
    pub responses: u64,
    pub errors: u64,
    pub dropped: u64,
    pub latency_us: Option<Histogram<u64>>,
}

impl StepCounts {
    fn add(&mut self, other: &StepCounts) {
        self.requests += other.requests;
        self.responses += other.responses;
        self.errors += other.errors;
        self.dropped += other.dropped;
        if let Some(h) = &other.latency_us {
            match &mut self.latency_us {
                Some(total) => {
                    let _ = total.add(h);
                }
                None => self.latency_us = Some(h.clone()),
            }
        }
    }

    fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.latency_us
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q) as f64 / 1e3)
    }
}

/// What the search needs of one sample.
#[derive(Clone, Copy, Debug, Default)]
struct SamplePoint {
    t: f64,
    cpu: Option<f64>,
    mem_bytes: Option<u64>,
    periods: Option<u64>,
    throttled: Option<u64>,
}

impl SearchControl {
    pub fn new(start: f64, max_in_flight: Option<u64>) -> Arc<SearchControl> {
        Arc::new(SearchControl {
            level_bits: AtomicU64::new(start.to_bits()),
            level_id: AtomicU64::new(0),
            counts: Mutex::default(),
            started: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            driver_clock: Mutex::new(None),
            samples: Mutex::default(),
            done: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            max_in_flight,
        })
    }

    pub fn level(&self) -> f64 {
        f64::from_bits(self.level_bits.load(Ordering::Relaxed))
    }

    fn set_level(&self, level: f64) {
        self.level_bits.store(level.to_bits(), Ordering::Relaxed);
        self.level_id.fetch_add(1, Ordering::Relaxed);
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, StepCounts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The driver started a request; returns the level it counts for.
    pub fn request_started(&self) -> u64 {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.level_id.load(Ordering::Relaxed)
    }

    /// The driver has the outcome of a request sent at `level_id`; `latency` when it had
    /// a response. Only requests sent at the current level are counted for it.
    pub fn request_ended(&self, level_id: u64, failed: bool, latency: Option<Duration>) {
        self.ended.fetch_add(1, Ordering::Relaxed);
        if level_id != self.level_id.load(Ordering::Relaxed) {
            return;
        }
        let mut counts = self.counts();
        counts.requests += 1;
        counts.errors += u64::from(failed);
        if let Some(latency) = latency {
            counts.responses += 1;
            if counts.latency_us.is_none() {
                counts.latency_us = new_latency_histogram().ok();
            }
            if let Some(h) = &mut counts.latency_us {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                h.saturating_record(us.max(1));
            }
        }
    }

    pub fn requests_dropped(&self, n: u64) {
        let mut counts = self.counts();
        counts.requests += n;
        counts.dropped += n;
    }

    fn in_flight(&self) -> u64 {
        self.started
            .load(Ordering::Relaxed)
            .saturating_sub(self.ended.load(Ordering::Relaxed))
    }

    fn take(&self) -> StepCounts {
        std::mem::take(&mut *self.counts())
    }

    /// Called on the driver's thread once it runs: its CPU clock, for the controller.
    pub fn driver_thread_started(&self) {
        *self
            .driver_clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = current_thread_clock();
    }

    fn driver_cpu_s(&self) -> Option<f64> {
        let clock = *self
            .driver_clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        clock.and_then(clock_seconds)
    }

    fn push_sample(&self, sample: &Sample) {
        let point = SamplePoint {
            t: sample.t,
            cpu: sample.cgroup_cpu.or(sample.cpu),
            mem_bytes: sample.cgroup_working_set_bytes.or(sample.rss),
            periods: sample.cgroup_periods,
            throttled: sample.cgroup_throttled_periods,
        };
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken at every step; the cap only matters if the controller is gone early.
        if samples.len() >= MAX_SAMPLES_HELD {
            samples.drain(..MAX_SAMPLES_HELD / 2);
        }
        samples.push(point);
    }

    fn take_samples(&self) -> Vec<SamplePoint> {
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(target_os = "linux")]
fn current_thread_clock() -> Option<DriverClock> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self is always valid; the call writes the clock id we own.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    (rc == 0).then_some(DriverClock(i64::from(clock)))
}

#[cfg(not(target_os = "linux"))]
fn current_thread_clock() -> Option<DriverClock> {
    None
}

#[cfg(target_os = "linux")]
fn clock_seconds(clock: DriverClock) -> Option<f64> {
    let id = libc::clockid_t::try_from(clock.0).ok()?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; a clock of a thread that ended
    // returns an error, not undefined behaviour.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn clock_seconds(_clock: DriverClock) -> Option<f64> {
    None
}

/// The recording loop's status feed, passing each sample to the search as well.
pub struct SearchStatus {
    pub inner: Box<dyn StatusSink>,
    pub control: Arc<SearchControl>,
}

impl StatusSink for SearchStatus {
    fn update(&mut self, sample: &Sample, slope: Option<f64>, remaining_s: Option<f64>) {
        self.control.push_sample(sample);
        self.inner.update(sample, slope, remaining_s);
    }
    fn note(&mut self, message: &str) {
        self.inner.note(message);
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// One line of `capacity_search.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SearchRecord {
    Start {
        t: f64,
        plan: SearchPlan,
        gates: SearchGates,
    },
    Step {
        t: f64,
        step: StepObservation,
    },
    End {
        t: f64,
        ended: SearchEnd,
    },
}

/// A search as its log holds it.
#[derive(Clone, Debug)]
pub struct SearchLog {
    pub search: Search,
    /// `Stopped` when the log has no end line.
    pub ended: SearchEnd,
}

/// Read `capacity_search.jsonl` if the run has one (torn lines are skipped).
pub fn read_search_log(dir: &Path) -> Result<Option<SearchLog>, RunLogError> {
    let path = dir.join(SEARCH_FILE);
    let reader = match open_log(&path, 8 * 1024) {
        Ok((reader, _)) => reader,
        Err(RunLogError::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut search: Option<Search> = None;
    let mut ended = SearchEnd::Stopped;
    for_each_record(reader, &path, |record| {
        match record {
            Ok(SearchRecord::Start { plan, gates, .. }) => search = Some(Search::new(plan, gates)),
            Ok(SearchRecord::Step { step, .. }) => {
                if let Some(search) = &mut search {
                    search.observe(step);
                }
            }
            Ok(SearchRecord::End { ended: e, .. }) => ended = e,
            Err(_) => {}
        }
        Ok(())
    })?;
    Ok(search.map(|search| SearchLog { search, ended }))
}

/// The built-in driver and the search's controller, started and stopped together.
pub struct SearchDriver {
    pub driver: LoadDriver,
    pub control: Arc<SearchControl>,
    pub plan: SearchPlan,
    pub gates: SearchGates,
    /// The run's `--duration`: the search ends within it.
    pub duration: Duration,
    controller: Option<std::thread::JoinHandle<Result<(), RunLogError>>>,
}

impl SearchDriver {
    pub fn new(
        driver: LoadDriver,
        control: Arc<SearchControl>,
        plan: SearchPlan,
        gates: SearchGates,
        duration: Duration,
    ) -> SearchDriver {
        SearchDriver {
            driver,
            control,
            plan,
            gates,
            duration,
            controller: None,
        }
    }

    pub fn start(&mut self, run_dir: &Path, t0: Instant) -> Result<(), LoadError> {
        let mut log = JsonLinesWriter::create(run_dir.join(SEARCH_FILE))?;
        self.driver.start(run_dir, t0)?;
        log.write(&SearchRecord::Start {
            t: t0.elapsed().as_secs_f64(),
            plan: self.plan.clone(),
            gates: self.gates.clone(),
        })?;
        let controller = Controller {
            control: Arc::clone(&self.control),
            search: Search::new(self.plan.clone(), self.gates.clone()),
            t0,
            deadline: t0 + self.duration.saturating_sub(END_MARGIN),
            hold: Duration::from_secs_f64(self.plan.step_s),
            log,
        };
        self.controller = Some(
            std::thread::Builder::new()
                .name("soakprof-search".into())
                .spawn(move || controller.run())
                .map_err(|e| LoadError::Start(e.to_string()))?,
        );
        Ok(())
    }

    /// Stop the controller (its log ends with what it has), then the driver.
    pub fn stop(&mut self) {
        self.control.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.controller.take() {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => crate::output::diag!("soakprof: capacity search: {e}"),
                Err(_) => crate::output::diag!("soakprof: capacity search: its thread panicked"),
            }
        }
        self.driver.stop();
    }
}

struct Controller {
    control: Arc<SearchControl>,
    search: Search,
    t0: Instant,
    deadline: Instant,
    hold: Duration,
    log: JsonLinesWriter,
}

/// Why a wait ended early.
struct Stopped;

impl Controller {
    /// Search, then end the run: no more load, and the recording stops (also when the
    /// log cannot be written, which ends the search).
    fn run(mut self) -> Result<(), RunLogError> {
        let result = self.search_and_log();
        self.control.set_level(0.0);
        self.control.done.store(true, Ordering::Relaxed);
        result
    }

    fn search_and_log(&mut self) -> Result<(), RunLogError> {
        let ended = self.search_loop()?;
        self.log.write(&SearchRecord::End {
            t: self.now_s(),
            ended,
        })?;
        self.log.flush()
    }

    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn search_loop(&mut self) -> Result<SearchEnd, RunLogError> {
        loop {
            let Next::Step(level) = self.search.next() else {
                return Ok(SearchEnd::Converged);
            };
            if Instant::now() + self.hold > self.deadline {
                return Ok(SearchEnd::Budget);
            }
            let Ok(step) = self.step(level) else {
                return Ok(SearchEnd::Stopped);
            };
            self.log.write(&SearchRecord::Step {
                t: self.now_s(),
                step: step.clone(),
            })?;
            let passed = self.search.observe(step).passed;
            if !passed && self.drain().is_err() {
                return Ok(SearchEnd::Stopped);
            }
        }
    }

    /// Sleep until `until` or the stop flag.
    fn wait_until(&self, until: Instant) -> Result<(), Stopped> {
        loop {
            if self.control.stop.load(Ordering::Relaxed) {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(POLL));
        }
    }

    /// After a failing step: no load until what it left in flight is answered.
    fn drain(&self) -> Result<(), Stopped> {
        self.control.set_level(0.0);
        let until = (Instant::now() + MAX_DRAIN.min(self.hold)).min(self.deadline);
        while self.control.in_flight() > 0 && Instant::now() < until {
            self.wait_until((Instant::now() + POLL).min(until))?;
        }
        Ok(())
    }

    /// Hold one level: warm up, then measure in halves until the last two agree (or the
    /// step is as long as it may be, or the budget ends).
    fn step(&self, level: f64) -> Result<StepObservation, Stopped> {
        self.control.set_level(level);
        let hold_s = self.hold.as_secs_f64();
        let warm = self.hold.mul_f64(WARMUP_SHARE).max(MIN_WARMUP);
        let half = (self.hold.saturating_sub(warm) / 2).max(Duration::from_millis(250));
        self.wait_until(Instant::now() + warm)?;
        self.control.take();
        self.control.take_samples();
        // marks[i] and marks[i + 1] bound halves[i]: (run clock, driver CPU seconds).
        let mut marks = vec![(self.now_s(), self.control.driver_cpu_s())];
        let mut halves: Vec<StepCounts> = Vec::new();
        let mut held = warm;
        loop {
            self.wait_until(Instant::now() + half)?;
            held += half;
            halves.push(self.control.take());
            marks.push((self.now_s(), self.control.driver_cpu_s()));
            let n = halves.len();
            if n < 2 {
                continue;
            }
            let (a, b) = (&halves[n - 2], &halves[n - 1]);
            let is_settled = capsearch::settled(a.quantile_ms(0.95), b.quantile_ms(0.95));
            let responses = a.responses + b.responses;
            let out_of_time = Instant::now() + half > self.deadline;
            if out_of_time
                || capsearch::step_may_end(held.as_secs_f64(), hold_s, responses, is_settled)
            {
                break;
            }
        }
        let n = halves.len();
        Ok(self.observe(
            level,
            [&halves[n - 2], &halves[n - 1]],
            marks[n - 2],
            marks[n],
        ))
    }

    /// The observation of a step from its last two halves and the samples in them.
    fn observe(
        &self,
        level: f64,
        [first, second]: [&StepCounts; 2],
        (t_start, cpu_start): (f64, Option<f64>),
        (t_end, cpu_end): (f64, Option<f64>),
    ) -> StepObservation {
        let mut both = StepCounts::default();
        both.add(first);
        both.add(second);
        let window_s = (t_end - t_start).max(1e-3);
        let driver_cpu_cores = match (cpu_start, cpu_end) {
            (Some(a), Some(b)) => Some((b - a).max(0.0) / window_s),
            _ => None,
        };
        let samples: Vec<SamplePoint> = self
            .control
            .take_samples()
            .into_iter()
            .filter(|s| s.t >= t_start && s.t <= t_end)
            .collect();
        let cpus: Vec<f64> = samples.iter().filter_map(|s| s.cpu).collect();
        let throttled_share = match (samples.first(), samples.last()) {
            (Some(a), Some(b)) => match (a.periods, b.periods, a.throttled, b.throttled) {
                (Some(p0), Some(p1), Some(t0), Some(t1)) if p1 > p0 => {
                    Some(t1.saturating_sub(t0) as f64 / (p1 - p0) as f64)
                }
                _ => None,
            },
            _ => None,
        };
        let p95 = |c: &StepCounts| c.quantile_ms(0.95);
        StepObservation {
            offered: level,
            t_start_s: t_start,
            t_end_s: t_end,
            requests: both.requests,
            responses: both.responses,
            errors: both.errors,
            dropped: both.dropped,
            achieved_rps: both.responses as f64 / window_s,
            p95_ms: p95(&both),
            p99_ms: both.quantile_ms(0.99),
            p95_halves_ms: [p95(first), p95(second)],
            settled: capsearch::settled(p95(first), p95(second)),
            cpu_cores: (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cpus.len() as f64),
            mem_bytes: samples.iter().filter_map(|s| s.mem_bytes).max(),
            throttled_share,
            driver_cpu_cores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::capsearch::SearchModel;

    #[test]
    fn the_control_counts_what_the_driver_reports() {
        let control = SearchControl::new(25.0, Some(4));
        assert_eq!(control.level(), 25.0);
        for ms in [1u64, 2, 3, 40] {
            let id = control.request_started();
            control.request_ended(id, false, Some(Duration::from_millis(ms)));
        }
        let id = control.request_started();
        let old = control.request_started();
        control.request_ended(id, true, None);
        control.requests_dropped(7);
        assert_eq!(control.in_flight(), 1);
        // A request of an earlier level ends: it is no longer in flight, and not counted.
        control.set_level(50.0);
        control.set_level(25.0);
        control.request_ended(old, false, Some(Duration::from_secs(9)));
        assert_eq!(control.in_flight(), 0);
        let counts = control.take();
        assert_eq!(
            (
                counts.requests,
                counts.responses,
                counts.errors,
                counts.dropped
            ),
            (12, 4, 1, 7)
        );
        let p95 = counts.quantile_ms(0.95).unwrap();
        assert!((39.0..=41.0).contains(&p95), "{p95}");
        let empty = control.take();
        assert_eq!(empty.requests, 0);
        assert!(empty.quantile_ms(0.95).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_driver_threads_cpu_clock_is_read_from_another_thread() {
        let control = SearchControl::new(1.0, None);
        assert!(control.driver_cpu_s().is_none(), "no driver yet");
        let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let c = Arc::clone(&control);
        let worker = std::thread::spawn(move || {
            c.driver_thread_started();
            // Busy until its own clock shows 20 ms, read through the control.
            let mut x = 0u64;
            while c.driver_cpu_s().unwrap() < 0.02 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            busy_tx.send(()).unwrap();
            let _ = end_rx.recv();
        });
        busy_rx.recv().unwrap();
        // Read from this thread while the other one lives: at least what it counted.
        assert!(control.driver_cpu_s().unwrap() >= 0.02);
        end_tx.send(()).unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn the_search_log_reads_back_and_tolerates_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_search_log(dir.path()).unwrap().is_none());
        let plan = SearchPlan {
            model: SearchModel::Open,
            start: 10.0,
            tolerance: 0.05,
            step_s: 3.0,
            max_in_flight: Some(1000),
        };
        let gates = SearchGates {
            max_p95_ms: Some(50.0),
            ..SearchGates::default()
        };
        let mut log = JsonLinesWriter::create(dir.path().join(SEARCH_FILE)).unwrap();
        log.write(&SearchRecord::Start {
            t: 0.0,
            plan: plan.clone(),
            gates: gates.clone(),
        })
        .unwrap();
        for (offered, p95) in [(10.0, 3.0), (20.0, 80.0)] {
            log.write(&SearchRecord::Step {
                t: 1.0,
                step: StepObservation {
                    offered,
                    requests: 100,
                    responses: 100,
                    achieved_rps: offered,
                    p95_ms: Some(p95),
                    ..StepObservation::default()
                },
            })
            .unwrap();
        }
        log.flush().unwrap();
        drop(log);
        let path = dir.path().join(SEARCH_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"type":"step","t":2.0,"st"#);
        std::fs::write(&path, text).unwrap();
        let read = read_search_log(dir.path()).unwrap().unwrap();
        assert_eq!(read.ended, SearchEnd::Stopped, "no end line");
        assert_eq!(read.search.plan, plan);
        assert_eq!(read.search.steps.len(), 2);
        assert!(read.search.steps[0].1.passed && !read.search.steps[1].1.passed);
    }
}
