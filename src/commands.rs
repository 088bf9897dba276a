//! The `record`, `analyze` and `compare` commands: wiring of target, sampler, loop, log,
//! analysis and report. `record` ends by calling the same `analyze_dir` that `soakprof
//! analyze` runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::compare::{self, Comparison, Side};
use crate::analysis::sequential::{self, LookSchedule};
use crate::analysis::{self, AnalysisConfig, RunVerdict, Verdict};
use crate::config::{BaselineConfig, CompareConfig, ConfigError, JudgeOverrides, RecordConfig};
use crate::error::Error;
use crate::load::capsearch::{SearchControl, SearchDriver, SearchStatus, read_search_log};
use crate::load::{LoadDriver, LoadLive};
use crate::output::diag;
use crate::process;
use crate::record::{self, Clock, EarlyStop, INTERRUPT, LoopSettings, Recorder, SystemClock};
use crate::report;
use crate::runlog::CgroupTarget;
use crate::runlog::{self, Event, EventKind, Header, Limits, RunLogWriter, RunStart, TargetInfo};
use crate::sample::cgroup_sampler::{CgroupRole, CgroupSampler};
use crate::sample::cgroup_stats::{CgroupDirs, SysFiles};
use crate::sample::{self, ProcInfo};
use crate::sources::live::{LiveState, LiveStatus};
use crate::status::{self, LoadWatch};
use crate::target::cgroup::CgroupQuery;
use crate::target::{self, TargetSpec};

/// Work that runs beside the sampler for the length of a run (the demo's request loop,
/// later the load driver): started once the target runs, stopped before the report.
pub trait Companion {
    /// Start beside the sampler; `t0` is the instant the run's clock counts from.
    fn start(&mut self, run_dir: &Path, t0: Instant) -> Result<(), Error>;
    fn stop(&mut self);
    /// Counters for the live status line, for a load driver.
    fn live(&self) -> Option<Arc<LoadLive>> {
        None
    }
    /// `--find-capacity`: the search's control, fed the samples and watched for its end.
    fn search(&self) -> Option<Arc<SearchControl>> {
        None
    }
}

// --- issue 16: capacity search (`--find-capacity`) -------------------------------------

impl Companion for SearchDriver {
    fn start(&mut self, run_dir: &Path, t0: Instant) -> Result<(), Error> {
        Ok(SearchDriver::start(self, run_dir, t0)?)
    }
    fn stop(&mut self) {
        SearchDriver::stop(self);
    }
    fn live(&self) -> Option<Arc<LoadLive>> {
        Some(self.driver.live())
    }
    fn search(&self) -> Option<Arc<SearchControl>> {
        Some(Arc::clone(&self.control))
    }
}

/// The driver and controller of `--find-capacity`, when asked for.
fn search_driver(config: &RecordConfig) -> Option<SearchDriver> {
    let (search, plan) = (config.search.as_ref()?, config.load.clone()?);
    let control = SearchControl::new(search.plan.start, search.plan.max_in_flight);
    let driver = LoadDriver::new(plan, config.duration).with_control(Arc::clone(&control));
    Some(SearchDriver::new(
        driver,
        control,
        search.plan.clone(),
        search.gates.clone(),
        search.duration,
    ))
}

/// The early stops of a run: the search's end, and `--fail-fast`.
struct EarlyStops {
    search: Option<Arc<SearchControl>>,
    fail_fast: Option<FailFastCheck>,
    last: runlog::StopReason,
}

impl EarlyStop for EarlyStops {
    fn check(&mut self, samples_written: u64) -> Option<String> {
        if self.search.as_ref().is_some_and(|c| c.is_done()) {
            self.last = runlog::StopReason::SearchDone;
            return Some("capacity search finished".into());
        }
        self.last = runlog::StopReason::FailFast;
        self.fail_fast.as_mut()?.check(samples_written)
    }
    fn stop_reason(&self) -> runlog::StopReason {
        self.last
    }
}

/// A run with a capacity search: its levels judged (with the recorded gates, or those
/// `analyze` gives), the section added to the verdict; a search that found no passing
/// level, or one below `--min-rps`, fails the run.
fn join_search(
    dir: &Path,
    verdict: &mut RunVerdict,
    min_rps: Option<f64>,
    overrides: &JudgeOverrides,
) -> Result<(), Error> {
    let Some(log) = read_search_log(dir)? else {
        return Ok(());
    };
    let recorded = log.search.gates.clone();
    let gates = analysis::capsearch::SearchGates {
        max_p95_ms: overrides.max_p95_ms.or(recorded.max_p95_ms),
        max_p99_ms: overrides.max_p99_ms.or(recorded.max_p99_ms),
        max_error_rate: overrides.max_error_rate.or(recorded.max_error_rate),
        mem_limit_bytes: overrides
            .limits
            .mem_limit_bytes
            .or(recorded.mem_limit_bytes),
        ..recorded
    };
    let search = log.search.rejudged(gates);
    let result = analysis::capsearch::summarize(&search, log.ended);
    analysis::capsearch::join_verdict(verdict, result, min_rps);
    Ok(())
}

// --- end of issue 16 capacity search ----------------------------------------------------

impl Companion for LoadDriver {
    fn start(&mut self, run_dir: &Path, t0: Instant) -> Result<(), Error> {
        Ok(LoadDriver::start(self, run_dir, t0)?)
    }
    fn stop(&mut self) {
        LoadDriver::stop(self);
    }
    fn live(&self) -> Option<Arc<LoadLive>> {
        Some(LoadDriver::live(self))
    }
}

/// What a finished `record` produced.
pub struct RecordOutcome {
    pub run_dir: PathBuf,
    pub verdict: RunVerdict,
}

/// A target resolved before the run directory is made: its processes and, where one is
/// read, its cgroup (the target itself, or the one its first process lives in).
struct Resolved {
    infos: Vec<ProcInfo>,
    cgroup: Option<(CgroupDirs, CgroupTarget)>,
}

/// Resolve an existing target (`None` for one to start): a typo is found before anything
/// is created.
fn resolve_existing(
    config: &RecordConfig,
    table: &mut dyn sample::ProcessTable,
) -> Result<Option<Resolved>, Error> {
    let query = match &config.target {
        TargetSpec::Spawn(_) => return Ok(None),
        TargetSpec::Cgroup(path) => CgroupQuery::Path(path),
        TargetSpec::Container(id) => CgroupQuery::Container(id),
        spec => {
            let infos = target::resolve(spec, config.pick, table)?;
            let cgroup = infos
                .first()
                .and_then(|p| target::cgroup::alongside_pid(p.id.pid));
            return Ok(Some(Resolved { infos, cgroup }));
        }
    };
    let found = target::cgroup::resolve_on_host(query, table)?;
    Ok(Some(Resolved {
        infos: found.procs,
        cgroup: Some((found.dirs, found.info)),
    }))
}

/// Start a target or resolve an existing one; returns its processes and, when started, the child.
fn acquire_target(
    config: &RecordConfig,
    table: &mut dyn sample::ProcessTable,
    run_dir: &Path,
) -> Result<(Vec<ProcInfo>, Option<std::process::Child>), Error> {
    match &config.target {
        TargetSpec::Spawn(command) => {
            let child = target::spawn(command, &run_dir.join(runlog::TARGET_LOG_FILE))?;
            process::set_spawned_group(child.id());
            // Every sample is of the target after its exec, never of the fork or of a
            // half-loaded image (see `target::past_exec`).
            if !target::wait_past_exec(child.id(), target::EXEC_WAIT) && !config.quiet {
                diag!(
                    "soakprof: notice: pid {} did not look past its exec (program and libraries mapped) within {}; sampling it anyway",
                    child.id(),
                    humantime::format_duration(target::EXEC_WAIT)
                );
            }
            let info = table
                .get(child.id())?
                .ok_or(target::TargetError::NoSuchPid(child.id()))?;
            Ok((vec![info], Some(child)))
        }
        spec => Ok((target::resolve(spec, config.pick, table)?, None)),
    }
}

/// `--follow`: the target looked for again by the rule that found it (`--name`/`--match`,
/// the newest when several match and `--pick` does not say), or, for a started
/// supervisor, its children. It lists processes with a process table of its own.
struct Refinder {
    spec: TargetSpec,
    pick: Option<target::Pick>,
    /// The supervisor soakprof started: its children are the target.
    supervisor: Option<u32>,
    table: Box<dyn sample::ProcessBackend>,
}

impl record::Refind for Refinder {
    fn refind(&mut self) -> Vec<sample::ProcId> {
        let found = match self.supervisor {
            Some(pid) => self
                .table
                .list()
                .map(|all| all.into_iter().filter(|p| p.ppid == pid).collect())
                .unwrap_or_default(),
            None => target::resolve(
                &self.spec,
                self.pick.or(Some(target::Pick::Newest)),
                self.table.as_mut(),
            )
            .unwrap_or_default(),
        };
        // A new life caught mid-exec or in its loader is taken on a later tick, so its
        // first sample is of the program, as at the start of the run.
        found
            .into_iter()
            .filter(|p: &ProcInfo| target::wait_past_exec(p.id.pid, Duration::ZERO))
            .map(|p| p.id)
            .collect()
    }
}

/// `--fail-fast`: at geometrically spaced looks, re-read the log written so far and run the
/// sequential test on it (reading the log keeps the loop's own memory constant).
struct FailFastCheck {
    run_dir: PathBuf,
    thresholds: runlog::Thresholds,
    schedule: LookSchedule,
    earliest_s: f64,
}

impl EarlyStop for FailFastCheck {
    fn check(&mut self, samples_written: u64) -> Option<String> {
        if !self.schedule.due(samples_written) {
            return None;
        }
        // What is on disk: the newest samples (at most 200 ms of them) may still be in the
        // writer's buffer, which only delays a stop by that much.
        let run = runlog::read_run(&self.run_dir).ok()?;
        sequential::certain_fail_of_run(
            &run,
            &self.thresholds,
            sequential::warmup_setting(&self.thresholds),
            self.schedule.looks,
            sequential::FAIL_FAST_ALPHA,
            self.earliest_s,
        )
    }
}

/// The run's limits: the options, else the cgroup of the (first) target process.
fn run_limits(config: &RecordConfig, table: &mut dyn sample::ProcessTable, pid: u32) -> Limits {
    let cgroup = table.cgroup_limits(pid);
    let source = cgroup.version.as_ref().map(|v| format!("cgroup {v}"));
    let found = Limits {
        mem_limit_bytes: cgroup.mem_limit_bytes,
        mem_limit_source: cgroup.mem_limit_bytes.and(source.clone()),
        cpu_limit_cores: cgroup.cpu_limit_cores,
        cpu_limit_source: cgroup.cpu_limit_cores.and(source),
    };
    config.limit_options.over(&found)
}

/// The header of the run about to start on these processes.
fn run_header(
    config: &RecordConfig,
    table: &mut dyn sample::ProcessTable,
    infos: &[ProcInfo],
    cgroup: Option<&CgroupTarget>,
) -> Header {
    let first = &infos[0];
    let is_target = cgroup.is_some_and(|c| c.is_target);
    let name = match cgroup {
        Some(c) if is_target => match &c.container_id {
            Some(id) => format!("container {}", id.chars().take(12).collect::<String>()),
            None => format!("cgroup {}", c.path),
        },
        _ => first.name.clone(),
    };
    Header::new(RunStart {
        host: table.host_info(),
        target: TargetInfo {
            mode: config.target.mode().to_string(),
            spec: config.target.describe(),
            roots: infos.iter().map(|p| p.id).collect(),
            name,
            cmdline: first.cmdline.clone(),
            children: config.children || is_target,
            follow: config.follow,
            cgroup: cgroup.cloned(),
        },
        interval_s: config.interval.as_secs_f64(),
        duration_s: config.duration.map(|d| d.as_secs_f64()),
        backend: config.backend,
        limits: run_limits(config, table, first.id.pid),
        thresholds: config.thresholds.clone(),
    })
}

/// The line that says what is recorded, where to, and how to stop.
fn announce(config: &RecordConfig, header: &Header, infos: &[ProcInfo], run_dir: &Path) {
    if config.quiet {
        return;
    }
    let pids: Vec<String> = infos.iter().map(|p| format!("pid {}", p.id.pid)).collect();
    let duration = config.duration.map_or(String::new(), |d| {
        format!(" for {}", humantime::format_duration(d))
    });
    diag!(
        "soakprof: recording {} ({}) every {}{duration} into {}; Ctrl-C to stop and report",
        header.target.name,
        pids.join(", "),
        humantime::format_duration(config.interval),
        run_dir.display()
    );
}

/// Record a run, then analyse and report it.
pub fn record(
    config: &RecordConfig,
    companion: Option<&mut dyn Companion>,
) -> Result<RecordOutcome, Error> {
    record_live(config, companion, None)
}

/// [`record`], keeping `live` (the `--metrics-addr` exposition and the push's source)
/// up to date after each sample.
pub fn record_live(
    config: &RecordConfig,
    companion: Option<&mut dyn Companion>,
    live: Option<Arc<LiveState>>,
) -> Result<RecordOutcome, Error> {
    let mut search = search_driver(config);
    let mut own_driver = config
        .load
        .clone()
        .filter(|_| search.is_none())
        .map(|plan| LoadDriver::new(plan, config.duration));
    let companion: Option<&mut dyn Companion> = companion
        .or(search.as_mut().map(|d| d as &mut dyn Companion))
        .or(own_driver.as_mut().map(|d| d as &mut dyn Companion));
    // What a started target leaves behind becomes ours to stop at the end (see there).
    process::adopt_orphans();
    let mut backend = sample::open_backend(config.backend);
    // Resolve an existing target before creating anything, so a typo leaves no directory.
    let resolved = resolve_existing(config, backend.as_mut())?;
    let run_dir = claim_run_dir(config)?;
    let recorded = record_into(
        config,
        companion,
        backend.as_mut(),
        resolved,
        run_dir.path().to_path_buf(),
        live,
    );
    // The lock holds until the report is written; a run that recorded nothing leaves
    // nothing behind.
    match &recorded {
        Ok(_) => run_dir.release(),
        Err(_) => run_dir.fail(),
    }
    recorded
}

/// The run directory, claimed and locked: `--out` (refused when it holds a run, unless
/// `--force`), or a new `reports/<timestamp>-<target>[-N]`.
fn claim_run_dir(config: &RecordConfig) -> Result<runlog::RunDir, Error> {
    let path = config.run_dir(&runlog::local_timestamp());
    let claimed = if config.out.is_some() {
        runlog::RunDir::claim(&path, config.force, &report::OUTPUT_FILES)
    } else {
        runlog::RunDir::claim_new(&path)
    };
    Ok(claimed?)
}

/// The live status of a run: the terminal line, the `--metrics-addr` exposition, and the
/// capacity search's feed, each wrapping the one before.
fn run_status(
    config: &RecordConfig,
    companion: Option<&(dyn Companion + '_)>,
    header: &Header,
    infos: &[ProcInfo],
    live: Option<Arc<LiveState>>,
) -> Box<dyn status::StatusSink> {
    let load_watch = companion.and_then(|c| c.live()).map(|live| LoadWatch {
        live,
        warn_error_rate: config
            .thresholds
            .max_error_rate
            .unwrap_or(crate::load::DEFAULT_ERROR_WARNING_RATE),
    });
    let mut status = status::make_status(config.quiet, load_watch);
    if let Some(live) = live {
        // Only the built-in driver counts requests; an external one's are its own.
        let builtin = matches!(config.load, Some(crate::load::LoadPlan::Builtin(_)));
        let load = companion.and_then(|c| c.live()).filter(|_| builtin);
        live.attach(&header.target.name, &config.thresholds, load);
        let single = (infos.len() == 1 && !config.follow).then(|| infos[0].id);
        live.set_start_time(single.and_then(|id| config.backend.start_time_unix_s(id)));
        status = Box::new(LiveStatus::wrap(status, live, &config.thresholds));
    }
    // `--find-capacity`: the search sees each sample too.
    if let Some(control) = companion.and_then(|c| c.search()) {
        status = Box::new(SearchStatus {
            inner: status,
            control,
        });
    }
    status
}

/// `record` once its directory is claimed: start or take the target, sample it, report.
fn record_into(
    config: &RecordConfig,
    mut companion: Option<&mut (dyn Companion + '_)>,
    backend: &mut dyn sample::ProcessBackend,
    resolved: Option<Resolved>,
    run_dir: PathBuf,
    live: Option<Arc<LiveState>>,
) -> Result<RecordOutcome, Error> {
    let mut log = RunLogWriter::create(&run_dir)?;
    let (infos, cgroup, mut child) = match resolved {
        Some(r) => (r.infos, r.cgroup, None),
        None => {
            let (infos, child) = acquire_target(config, backend, &run_dir)?;
            let cgroup = infos
                .first()
                .and_then(|p| target::cgroup::alongside_pid(p.id.pid));
            (infos, cgroup, child)
        }
    };
    record::install_interrupt_handler();
    let header = run_header(config, backend, &infos, cgroup.as_ref().map(|c| &c.1));
    let search = companion.as_ref().and_then(|c| c.search());
    let mut status = run_status(config, companion.as_deref(), &header, &infos, live);
    announce(config, &header, &infos, &run_dir);
    let clock = SystemClock::start_now();
    if let Some(c) = &mut companion
        && let Err(e) = c.start(&run_dir, clock.start())
    {
        // Leave nothing running: a target soakprof started goes with the failed run.
        stop_all(None, child.as_mut(), config.quiet);
        return Err(Error::context("starting the load driver", e));
    }
    let fail_fast = config.fail_fast.then(|| FailFastCheck {
        run_dir: run_dir.clone(),
        thresholds: config.thresholds.clone(),
        schedule: LookSchedule::default(),
        earliest_s: sequential::earliest_stop_s(config.duration.map(|d| d.as_secs_f64())),
    });
    let mut early_stops = (fail_fast.is_some() || search.is_some()).then_some(EarlyStops {
        search,
        fail_fast,
        last: runlog::StopReason::FailFast,
    });
    let settings = LoopSettings {
        interval_s: config.interval.as_secs_f64(),
        duration_s: config.duration.map(|d| d.as_secs_f64()),
        children: config.children,
        pss: config.pss_interval,
    };
    let mut refinder = config.follow.then(|| Refinder {
        spec: config.target.clone(),
        pick: config.pick,
        supervisor: child.as_ref().map(std::process::Child::id),
        table: sample::open_backend(config.backend),
    });
    // A started supervisor is not sampled itself: its children are, from the first tick.
    let roots = match (&refinder, &child) {
        (Some(_), Some(_)) => Vec::new(),
        _ => infos.iter().map(|p| p.id).collect(),
    };
    let mut cgroup_sampler = cgroup.map(|(dirs, info)| {
        let role = if info.is_target {
            CgroupRole::Target
        } else {
            CgroupRole::Alongside
        };
        let kernel_log = sample::kmsg::DevKmsg::open().map(|k| Box::new(k) as Box<_>);
        CgroupSampler::new(backend, dirs, Box::new(SysFiles), role, info.path)
            .with_kernel_log(kernel_log)
    });
    let sampler: &mut dyn sample::Sampler = match cgroup_sampler.as_mut() {
        Some(s) => s,
        None => backend,
    };
    let mut recorder = Recorder {
        sampler,
        clock: &clock,
        stop: &INTERRUPT,
        log: &mut log,
        status: status.as_mut(),
        spawned: child.as_mut(),
        early_stop: early_stops.as_mut().map(|f| f as &mut dyn EarlyStop),
        cpu: &record::ThreadCpu,
        follow: refinder.as_mut().map(|r| r as &mut dyn record::Refind),
    };
    let outcome = recorder.run(&settings, header, roots);
    status.finish();
    // Stop a target we started even when the loop failed, then report the loop's error.
    if let Some((pid, stopped)) = stop_all(companion, child.as_mut(), config.quiet) {
        log_stopped_target(pid, stopped, &mut log, &clock)?;
    }
    let outcome = outcome?;
    log.event(&Event {
        t: clock.now_s(),
        kind: EventKind::Stop {
            reason: outcome.stop_reason,
        },
    })?;
    log.sync()?;
    drop(log);
    // The header holds the thresholds and limits in force: nothing to override. The log
    // was just written, so a failure to read it back is a runtime error.
    let verdict = analyze_dir(
        &run_dir,
        &JudgeOverrides::default(),
        config.baseline.as_ref(),
    )
    .map_err(|e| {
        if e.is_bad_input() {
            Error::Reread {
                dir: run_dir.clone(),
                source: Box::new(e),
            }
        } else {
            e
        }
    })?;
    Ok(RecordOutcome { run_dir, verdict })
}

/// The end of a run: the load driver, a started target and what they left behind are
/// told to stop at the same time and share one [`process::STOP_GRACE`], so a run ends within
/// its duration plus that grace however many of them ignore SIGTERM. Returns the started
/// target's PID and how it was stopped.
fn stop_all(
    companion: Option<&mut (dyn Companion + '_)>,
    child: Option<&mut std::process::Child>,
    quiet: bool,
) -> Option<(u32, process::Stopped)> {
    let deadline = Instant::now() + process::STOP_GRACE;
    // Daemons in sessions of their own get SIGTERM with the rest.
    process::terminate_adopted();
    let target = std::thread::scope(|scope| {
        let target = child.map(|child| {
            scope.spawn(move || (child.id(), process::stop(child, process::STOP_GRACE)))
        });
        if let Some(c) = companion {
            c.stop();
        }
        target.and_then(|t| t.join().ok())
    });
    stop_left_behind(quiet, deadline.saturating_duration_since(Instant::now()));
    target
}

/// Log a started target's exit when the stop ended it (an exit before the stop was
/// recorded by the loop).
fn log_stopped_target(
    pid: u32,
    stopped: process::Stopped,
    log: &mut RunLogWriter,
    clock: &SystemClock,
) -> Result<(), Error> {
    if stopped.was_running() {
        log.event(&Event {
            t: clock.now_s(),
            kind: EventKind::TargetExit {
                pid,
                code: stopped.exit().code(),
                signal: stopped.exit().signal(),
                by_profiler: true,
            },
        })?;
    }
    Ok(())
}

/// Stop what the started processes left behind (a daemon in a session of its own, a child
/// that outlived its group), in what is left of the grace: they were adopted by soakprof,
/// see `process::adopt_orphans`.
fn stop_left_behind(quiet: bool, grace: Duration) {
    let left = process::stop_adopted(grace);
    if !left.is_empty() && !quiet {
        let pids: Vec<String> = left.iter().map(u32::to_string).collect();
        diag!(
            "soakprof: stopped {} process(es) the target or load command left behind (pid {})",
            left.len(),
            pids.join(", ")
        );
    }
}

/// Read a run directory, analyse it with the thresholds and limits it was recorded with
/// (as `overrides` change them), compare it with `baseline` when one is given, and write
/// verdict.json, the charts and report.html.
pub fn analyze_dir(
    dir: &Path,
    overrides: &JudgeOverrides,
    baseline: Option<&BaselineConfig>,
) -> Result<RunVerdict, Error> {
    let (verdict, written) = analyze_and_report(dir, overrides, baseline)?;
    written?;
    Ok(verdict)
}

/// Read a run and warn of the lines that could not be read.
fn read_run_noting(dir: &Path) -> Result<runlog::RunData, Error> {
    let run = runlog::read_run(dir)?;
    if run.skipped_lines > 0 {
        diag!(
            "soakprof: notice: skipped {} unreadable line(s) in {} (a torn last line is what a killed profiler leaves)",
            run.skipped_lines,
            dir.join(runlog::SAMPLES_FILE).display()
        );
    }
    Ok(run)
}

/// `analyze_dir`, with the verdict kept when the report cannot be written (a read-only
/// directory, a full disk): the verdict, and how writing the report went.
pub fn analyze_and_report(
    dir: &Path,
    overrides: &JudgeOverrides,
    baseline: Option<&BaselineConfig>,
) -> Result<(RunVerdict, Result<(), Error>), Error> {
    let run = read_run_noting(dir)?;
    let mut analysis_config = AnalysisConfig {
        thresholds: overrides.resolve(&run.header.thresholds)?,
        limits: overrides.limits.over(&run.header.limits),
    };
    // A capacity search overloads the target on purpose: its gates judge each level, not
    // the whole run (issue 16).
    let searched = dir.join(crate::load::capsearch::SEARCH_FILE).exists();
    let min_rps = analysis_config.thresholds.min_rps;
    if searched {
        let th = &mut analysis_config.thresholds;
        (th.max_p95_ms, th.max_p99_ms, th.max_error_rate, th.min_rps) = (None, None, None, None);
    }
    let mut verdict = analysis::analyse(&run, &analysis_config);
    if searched {
        join_search(dir, &mut verdict, min_rps, overrides)?;
    }
    if let Some(baseline) = baseline {
        let (base_run, base_verdict) = read_side(&baseline.dir, "--baseline")?;
        let dir_text = dir.display().to_string();
        let base_text = baseline.dir.display().to_string();
        let comparison = compare::compare(
            &Side {
                dir: &base_text,
                run: &base_run,
                verdict: &base_verdict,
            },
            &Side {
                dir: &dir_text,
                run: &run,
                verdict: &verdict,
            },
            &baseline.limits,
        );
        compare::join_verdict(&mut verdict, comparison);
    }
    let written = report::write_all(dir, &run, &verdict)
        .map(drop)
        .map_err(|e| Error::context(format!("writing the report in {}", dir.display()), e));
    Ok((verdict, written))
}

/// One side of a comparison: its run read and analysed with the thresholds and limits it
/// was recorded with (a crashed run is read as far as it was written).
fn read_side(dir: &Path, role: &'static str) -> Result<(runlog::RunData, RunVerdict), Error> {
    let run = read_run_noting(dir)?;
    if run.columns.is_empty() {
        return Err(ConfigError::RunDir {
            role,
            path: dir.to_path_buf(),
            what: "holds no samples: there is nothing to compare".into(),
        }
        .into());
    }
    let verdict = analysis::analyse(
        &run,
        &AnalysisConfig {
            thresholds: run.header.thresholds.clone(),
            limits: run.header.limits.clone(),
        },
    );
    Ok((run, verdict))
}

/// `soakprof compare`: both runs read and analysed, compared, compare.json written.
/// Returns the comparison and where it was written.
pub fn compare_runs(config: &CompareConfig) -> Result<(Comparison, PathBuf), Error> {
    let (base_run, base_verdict) = read_side(&config.baseline, "baseline")?;
    let (cand_run, cand_verdict) = read_side(&config.candidate, "candidate")?;
    let (base_text, cand_text) = (
        config.baseline.display().to_string(),
        config.candidate.display().to_string(),
    );
    let comparison = compare::compare(
        &Side {
            dir: &base_text,
            run: &base_run,
            verdict: &base_verdict,
        },
        &Side {
            dir: &cand_text,
            run: &cand_run,
            verdict: &cand_verdict,
        },
        &config.limits,
    );
    if config.strict && !comparison.comparable {
        return Err(ConfigError::NotComparable {
            notes: comparison.notes.join("; "),
        }
        .into());
    }
    let path = report::compare::write_compare(&config.out, &comparison)?;
    report::write_compare_html(
        &config.out,
        &comparison,
        report::RunView {
            run: &base_run,
            verdict: &base_verdict,
        },
        report::RunView {
            run: &cand_run,
            verdict: &cand_verdict,
        },
    )?;
    Ok((comparison, path))
}

/// Exit code of a comparison: 1 when anything regressed.
pub fn compare_exit_code(comparison: &Comparison) -> u8 {
    u8::from(comparison.regressions().next().is_some())
}

/// Exit code of a verdict: 1 on fail, 0 on pass or warn.
pub fn verdict_exit_code(verdict: Verdict) -> u8 {
    if verdict == Verdict::Fail { 1 } else { 0 }
}
