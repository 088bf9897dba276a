//! The `record` and `analyze` commands: wiring of target, sampler, loop, log, analysis and
//! report. `record` ends by calling the same `analyze_dir` that `soakprof analyze` runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::analysis::sequential::{self, LookSchedule};
use crate::analysis::{self, AnalysisConfig, RunVerdict, Verdict};
use crate::cli::JudgeArgs;
use crate::config::{self, RecordConfig};
use crate::load::{LoadDriver, LoadLive};
use crate::process;
use crate::record::{self, Clock, EarlyStop, INTERRUPT, LoopSettings, Recorder, SystemClock};
use crate::report;
use crate::runlog::{
    self, Event, EventKind, Header, HostInfo, Limits, RunData, RunLogWriter, TargetInfo,
};
use crate::sample::{self, ProcInfo};
use crate::status::{self, LoadWatch};
use crate::target::{self, TargetSpec};

/// Work that runs beside the sampler for the length of a run (the demo's request loop,
/// later the load driver): started once the target runs, stopped before the report.
pub trait Companion {
    /// Start beside the sampler; `t0` is the instant the run's clock counts from.
    fn start(&mut self, run_dir: &Path, t0: Instant) -> anyhow::Result<()>;
    fn stop(&mut self);
    /// Counters for the live status line, for a load driver.
    fn live(&self) -> Option<Arc<LoadLive>> {
        None
    }
}

impl Companion for LoadDriver {
    fn start(&mut self, run_dir: &Path, t0: Instant) -> anyhow::Result<()> {
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

/// Local wall-clock time as `YYYYmmdd-HHMMSS` for run directory names.
pub fn local_timestamp() -> String {
    #[cfg(unix)]
    {
        // SAFETY: time(2) and localtime_r(3) write only into the struct we own.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        if !unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
            return format!(
                "{:04}{:02}{:02}-{:02}{:02}{:02}",
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday,
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec
            );
        }
    }
    let utc = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    utc.replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
}

fn host_info() -> HostInfo {
    let mem_total_bytes = sysinfo::System::new().ok().and_then(|mut system| {
        system.refresh_memory();
        Some(system.total_memory()).filter(|&m| m > 0)
    });
    HostInfo {
        hostname: sysinfo::System::host_name().ok(),
        os: std::env::consts::OS.to_string(),
        kernel: sysinfo::System::kernel_version().ok(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total_bytes,
    }
}

/// Start a target or resolve an existing one; returns its processes and, when started, the child.
fn acquire_target(
    config: &RecordConfig,
    table: &mut dyn sample::ProcessTable,
    run_dir: &Path,
) -> anyhow::Result<(Vec<ProcInfo>, Option<std::process::Child>)> {
    match &config.target {
        TargetSpec::Spawn(command) => {
            let child = target::spawn(command, &run_dir.join(runlog::TARGET_LOG_FILE))?;
            process::set_spawned_group(child.id());
            let info = table
                .get(child.id())?
                .ok_or(target::TargetError::NoSuchPid(child.id()))?;
            Ok((vec![info], Some(child)))
        }
        spec => Ok((target::resolve(spec, config.pick, table)?, None)),
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
        sequential::certain_fail(
            &run.columns,
            &self.thresholds,
            sequential::warmup_setting(&self.thresholds),
            self.schedule.looks,
            sequential::FAIL_FAST_ALPHA,
            self.earliest_s,
        )
    }
}

/// Record a run, then analyse and report it.
pub fn record(
    config: &RecordConfig,
    companion: Option<&mut dyn Companion>,
) -> anyhow::Result<RecordOutcome> {
    let mut own_driver = config
        .load
        .clone()
        .map(|plan| LoadDriver::new(plan, config.duration));
    let mut companion: Option<&mut dyn Companion> =
        companion.or(own_driver.as_mut().map(|d| d as &mut dyn Companion));
    let mut backend = sample::open_backend(config.backend);
    // Resolve an existing target before creating anything, so a typo leaves no directory.
    let resolved = match &config.target {
        TargetSpec::Spawn(_) => None,
        spec => Some(target::resolve(spec, config.pick, backend.as_mut())?),
    };
    let run_dir = config.run_dir(&local_timestamp());
    runlog::create_run_dir(&run_dir)?;
    let mut log = RunLogWriter::create(&run_dir)?;
    let (infos, mut child) = match resolved {
        Some(infos) => (infos, None),
        None => acquire_target(config, backend.as_mut(), &run_dir)?,
    };
    record::install_interrupt_handler();

    let first = &infos[0];
    let cgroup = backend.cgroup_limits(first.id.pid);
    let source = cgroup.version.as_ref().map(|v| format!("cgroup {v}"));
    let found = Limits {
        mem_limit_bytes: cgroup.mem_limit_bytes,
        mem_limit_source: cgroup.mem_limit_bytes.and(source.clone()),
        cpu_limit_cores: cgroup.cpu_limit_cores,
        cpu_limit_source: cgroup.cpu_limit_cores.and(source),
    };
    let now = std::time::SystemTime::now();
    let header = Header {
        schema_version: runlog::SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: humantime::format_rfc3339_millis(now).to_string(),
        started_unix_s: now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        host: host_info(),
        command_line: std::env::args().collect(),
        target: TargetInfo {
            mode: config.target.mode().to_string(),
            spec: config.target.describe(),
            roots: infos.iter().map(|p| p.id).collect(),
            name: first.name.clone(),
            cmdline: first.cmdline.clone(),
            children: config.children,
        },
        interval_s: config.interval.as_secs_f64(),
        duration_s: config.duration.map(|d| d.as_secs_f64()),
        backend: config.backend,
        smaps_every: 1,
        smaps_read_ms: None,
        detail_every: 1,
        limits: config::limits(&config.judge, &found),
        thresholds: config::effective_thresholds(&config.judge, &runlog::Thresholds::default()),
    };

    let load_watch = companion
        .as_ref()
        .and_then(|c| c.live())
        .map(|live| LoadWatch {
            live,
            warn_error_rate: header
                .thresholds
                .max_error_rate
                .unwrap_or(crate::load::DEFAULT_ERROR_WARNING_RATE),
        });
    let mut status = status::make_status(config.quiet, load_watch);
    if !config.quiet {
        eprintln!(
            "soakprof: recording {} ({}) every {}{} into {}; Ctrl-C to stop and report",
            header.target.name,
            infos
                .iter()
                .map(|p| format!("pid {}", p.id.pid))
                .collect::<Vec<_>>()
                .join(", "),
            humantime::format_duration(config.interval),
            config.duration.map_or(String::new(), |d| format!(
                " for {}",
                humantime::format_duration(d)
            )),
            run_dir.display()
        );
    }
    let clock = SystemClock::start_now();
    if let Some(c) = &mut companion
        && let Err(e) = c.start(&run_dir, clock.start())
    {
        // Leave nothing running: a target soakprof started goes with the failed run.
        if let Some(child) = child.as_mut() {
            process::stop(child, process::STOP_GRACE);
        }
        return Err(e.context("starting the load driver"));
    }
    let mut fail_fast = config.fail_fast.then(|| FailFastCheck {
        run_dir: run_dir.clone(),
        thresholds: config::effective_thresholds(&config.judge, &runlog::Thresholds::default()),
        schedule: LookSchedule::default(),
        earliest_s: sequential::earliest_stop_s(config.duration.map(|d| d.as_secs_f64())),
    });
    let settings = LoopSettings {
        interval_s: config.interval.as_secs_f64(),
        duration_s: config.duration.map(|d| d.as_secs_f64()),
        children: config.children,
        pss: config.pss_interval,
    };
    let roots = infos.iter().map(|p| p.id).collect();
    let mut recorder = Recorder {
        sampler: backend.as_mut(),
        clock: &clock,
        stop: &INTERRUPT,
        log: &mut log,
        status: status.as_mut(),
        spawned: child.as_mut(),
        early_stop: fail_fast.as_mut().map(|f| f as &mut dyn EarlyStop),
    };
    let outcome = recorder.run(&settings, header, roots);
    status.finish();
    if let Some(c) = &mut companion {
        c.stop();
    }
    // Stop a target we started even when the loop failed, then report the loop's error.
    if let Some(child) = child.as_mut() {
        let pid = child.id();
        let stopped = process::stop(child, process::STOP_GRACE);
        // An exit before the stop was recorded by the loop.
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
    let (verdict, _) = analyze_dir(&run_dir, &config.judge)?;
    Ok(RecordOutcome { run_dir, verdict })
}

/// Read a run directory, analyse it with the thresholds it was recorded with (overridden by
/// `judge`), and write verdict.json and the charts.
pub fn analyze_dir(dir: &Path, judge: &JudgeArgs) -> anyhow::Result<(RunVerdict, RunData)> {
    let run = runlog::read_run(dir)?;
    if run.skipped_lines > 0 {
        eprintln!(
            "soakprof: notice: skipped {} unreadable line(s) in {} (a torn last line is what a killed profiler leaves)",
            run.skipped_lines,
            dir.join(runlog::SAMPLES_FILE).display()
        );
    }
    config::check_judge(judge, &run.header.thresholds)?;
    let analysis_config = AnalysisConfig {
        thresholds: config::effective_thresholds(judge, &run.header.thresholds),
        limits: config::limits(judge, &run.header.limits),
    };
    let verdict = analysis::analyse(&run, &analysis_config);
    report::write_all(dir, &run, &verdict)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    Ok((verdict, run))
}

/// Exit code of a verdict: 1 on fail, 0 on pass or warn.
pub fn verdict_exit_code(verdict: Verdict) -> u8 {
    if verdict == Verdict::Fail { 1 } else { 0 }
}
