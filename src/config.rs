//! Raw arguments become a checked configuration before any work starts: every "bad input"
//! (exit 2) that can be found without touching the target is found here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use crate::analysis::compare::CompareLimits;
use crate::cli::{CiArgs, JudgeArgs, LoadArgs, RecordArgs};
use crate::load::LoadPlan;
use crate::load::scenario::{self, LoadOverrides, ThinkTime};
use crate::record::PssInterval;
use crate::report::ci::{CiOutputs, check_output_file};
use crate::runlog::{GateLevel, Limits, Thresholds};
use crate::sample::Backend;
use crate::target::{Pick, TargetSpec};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--match '{pattern}' is not a valid regex: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("--warn-growth ({warn}) is above --max-growth ({max}); the warning must come first")]
    WarnAboveFail { warn: String, max: String },
    #[error("--name must not be empty")]
    EmptyName,
    #[error("--pick only applies to --name or --match")]
    PickWithoutSearch,
    #[error(
        "--follow does not apply to --pid: a PID does not restart; give --name, --match or the supervisor's command"
    )]
    FollowPid,
    #[error(
        "--follow does not apply to --cgroup/--container: processes that restart inside the cgroup are followed anyway, and the run ends when the cgroup is removed"
    )]
    FollowCgroup,
    #[error("--cgroup must not be empty")]
    EmptyCgroup,
    #[error(transparent)]
    Scenario(#[from] crate::load::scenario::ScenarioError),
    #[error("--load-cmd must not be empty")]
    EmptyLoadCommand,
    #[error(
        "--load-cmd: `{program}` is not an executable file or a program on PATH (in `{command}`); install it or give its full path"
    )]
    LoadProgramNotFound { program: String, command: String },
    #[error(
        "--interval {interval} is longer than --duration {duration}: the run would end before its second sample; give a shorter --interval or a longer --duration"
    )]
    IntervalOverDuration { interval: String, duration: String },
    #[error("{option} {}: {reason}", path.display())]
    OutputPath {
        option: &'static str,
        path: PathBuf,
        reason: &'static str,
    },
    #[error("--junit and --summary-md name the same file {}; give two files", path.display())]
    SameOutput { path: PathBuf },
    /// A baseline or candidate directory that is not a run that can be compared.
    #[error("{role} {}: {what}", path.display())]
    RunDir {
        role: &'static str,
        path: PathBuf,
        what: String,
    },
    #[error("{role}: {source}")]
    RunRead {
        role: &'static str,
        source: crate::runlog::RunLogError,
    },
    #[error(
        "the baseline and the candidate are the same run directory ({}); give two different runs",
        path.display()
    )]
    SameRun { path: PathBuf },
    #[error(
        "--out {} holds a run; compare.json goes into a directory of its own (default: CANDIDATE_DIR/compare)",
        path.display()
    )]
    OutIsRun { path: PathBuf },
    #[error("the runs are not comparable (--strict): {notes}")]
    NotComparable { notes: String },
    /// `--find-capacity` without what it needs.
    #[error("--find-capacity: {0}")]
    Search(String),
}

impl ConfigError {
    /// Every configuration error is the user's, except a scenario file that exists but
    /// cannot be read (the scenario error says which).
    pub fn is_bad_input(&self) -> bool {
        match self {
            ConfigError::Scenario(e) => e.is_bad_input(),
            ConfigError::RunRead { source, .. } => source.is_bad_input(),
            ConfigError::Regex { .. }
            | ConfigError::WarnAboveFail { .. }
            | ConfigError::EmptyName
            | ConfigError::PickWithoutSearch
            | ConfigError::FollowPid
            | ConfigError::FollowCgroup
            | ConfigError::EmptyCgroup
            | ConfigError::EmptyLoadCommand
            | ConfigError::LoadProgramNotFound { .. }
            | ConfigError::IntervalOverDuration { .. }
            | ConfigError::OutputPath { .. }
            | ConfigError::SameOutput { .. }
            | ConfigError::RunDir { .. }
            | ConfigError::SameRun { .. }
            | ConfigError::OutIsRun { .. }
            | ConfigError::NotComparable { .. }
            | ConfigError::Search(_) => true,
        }
    }
}

/// A checked `record` configuration.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    pub target: TargetSpec,
    pub pick: Option<Pick>,
    pub children: bool,
    /// `--follow`: keep recording across restarts.
    pub follow: bool,
    pub interval: Duration,
    pub duration: Option<Duration>,
    pub pss_interval: PssInterval,
    /// `None`: the default, `reports/<timestamp>-<target>`.
    pub out: Option<PathBuf>,
    /// `--force`: replace the run `out` holds (never a live one).
    pub force: bool,
    /// The thresholds the run is judged by: the options over the defaults, checked.
    pub thresholds: Thresholds,
    /// Limits given as options; a limit not given is looked for in the target's cgroup.
    pub limit_options: LimitOptions,
    pub quiet: bool,
    pub fail_fast: bool,
    pub backend: Backend,
    pub load: Option<LoadPlan>,
    /// `--junit`, `--summary-md` and `$GITHUB_STEP_SUMMARY`.
    pub ci: CiOutputs,
    /// `--metrics-addr` and `--push-url`.
    pub prometheus: crate::cli::PrometheusArgs,
    /// `--baseline`: the run to compare with at the end.
    pub baseline: Option<BaselineConfig>,
    /// `--find-capacity` (issue 16).
    pub search: Option<SearchConfig>,
}

/// A checked `analyze` configuration.
#[derive(Clone, Debug)]
pub struct AnalyzeConfig {
    pub run_dir: PathBuf,
    pub format: crate::cli::OutputFormat,
    /// What the options change in the thresholds and limits the run was recorded with.
    pub overrides: JudgeOverrides,
    pub ci: CiOutputs,
    pub baseline: Option<BaselineConfig>,
}

impl AnalyzeConfig {
    pub fn from_args(args: crate::cli::AnalyzeArgs) -> Result<AnalyzeConfig, ConfigError> {
        let baseline = BaselineConfig::from_args(&args.baseline)?;
        if let Some(b) = &baseline
            && let Some(run_dir) = &args.run_dir
            && std::fs::canonicalize(run_dir).is_ok_and(|run| run == b.dir)
        {
            return Err(ConfigError::SameRun {
                path: b.dir.clone(),
            });
        }
        Ok(AnalyzeConfig {
            ci: ci_outputs(&args.ci, step_summary_env())?,
            // clap requires RUN_DIR unless --prometheus is given, which is judged apart.
            run_dir: args.run_dir.unwrap_or_default(),
            format: args.format,
            overrides: JudgeOverrides::from_args(&args.judge),
            baseline,
        })
    }
}

/// `$GITHUB_STEP_SUMMARY`, as the environment holds it.
pub fn step_summary_env() -> Option<std::ffi::OsString> {
    std::env::var_os(crate::report::ci::STEP_SUMMARY_VAR)
}

/// The CI outputs asked for, each path checked (a directory, or one whose directory does
/// not exist, is refused now rather than after a long run); `step_summary` is the value of
/// `$GITHUB_STEP_SUMMARY` (unset or empty: none).
pub fn ci_outputs(
    args: &CiArgs,
    step_summary: Option<std::ffi::OsString>,
) -> Result<CiOutputs, ConfigError> {
    let checked = |option: &'static str, path: &Option<PathBuf>| match path {
        Some(p) => check_output_file(p)
            .map(|()| Some(p.clone()))
            .map_err(|reason| ConfigError::OutputPath {
                option,
                path: p.clone(),
                reason,
            }),
        None => Ok(None),
    };
    let step_summary = step_summary.filter(|v| !v.is_empty()).map(PathBuf::from);
    let outputs = CiOutputs {
        junit: checked("--junit", &args.junit)?,
        summary_md: checked("--summary-md", &args.summary_md)?,
        step_summary: checked("$GITHUB_STEP_SUMMARY", &step_summary)?,
    };
    if let (Some(a), Some(b)) = (&outputs.junit, &outputs.summary_md)
        && a == b
    {
        return Err(ConfigError::SameOutput { path: a.clone() });
    }
    Ok(outputs)
}

/// `--baseline DIR` and the comparison's limits, checked.
#[derive(Clone, Debug)]
pub struct BaselineConfig {
    /// The baseline run directory, canonical.
    pub dir: PathBuf,
    pub limits: CompareLimits,
}

impl BaselineConfig {
    pub fn from_args(
        args: &crate::cli::BaselineArgs,
    ) -> Result<Option<BaselineConfig>, ConfigError> {
        let Some(dir) = &args.baseline else {
            return Ok(None);
        };
        Ok(Some(BaselineConfig {
            dir: check_run(dir, "--baseline")?,
            limits: compare_limits(&args.limits),
        }))
    }
}

/// A checked `compare` configuration.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Both canonical.
    pub baseline: PathBuf,
    pub candidate: PathBuf,
    pub limits: CompareLimits,
    pub strict: bool,
    /// Where compare.json goes.
    pub out: PathBuf,
    /// `--junit`, `--summary-md` and `$GITHUB_STEP_SUMMARY`.
    pub ci: CiOutputs,
}

impl CompareConfig {
    pub fn from_args(args: crate::cli::CompareArgs) -> Result<CompareConfig, ConfigError> {
        let baseline = check_run(&args.baseline, "baseline")?;
        let candidate = check_run(&args.candidate, "candidate")?;
        if baseline == candidate {
            return Err(ConfigError::SameRun { path: baseline });
        }
        let out = match args.out {
            Some(out) if out.join(crate::runlog::SAMPLES_FILE).exists() => {
                return Err(ConfigError::OutIsRun { path: out });
            }
            Some(out) => out,
            None => candidate.join(COMPARE_DIR),
        };
        Ok(CompareConfig {
            baseline,
            candidate,
            limits: compare_limits(&args.limits),
            strict: args.strict,
            out,
            ci: ci_outputs(&args.ci, step_summary_env())?,
        })
    }
}

/// The default place of compare.json: a directory of its own inside the candidate run
/// (which `analyze` rewrites its report in anyway); the run's own files are untouched.
pub const COMPARE_DIR: &str = "compare";

/// The comparison's limits: the options over the defaults.
fn compare_limits(args: &crate::cli::CompareLimitArgs) -> CompareLimits {
    let defaults = CompareLimits::default();
    CompareLimits {
        max_growth_increase_bytes_per_min: args
            .max_growth_increase
            .unwrap_or(defaults.max_growth_increase_bytes_per_min),
        max_memory_increase: args
            .max_memory_increase
            .unwrap_or(defaults.max_memory_increase),
        max_p95_increase: args.max_p95_increase.unwrap_or(defaults.max_p95_increase),
        max_error_rate_increase: args
            .max_error_rate_increase
            .unwrap_or(defaults.max_error_rate_increase),
        min_latency_change_ms: args
            .min_latency_change
            .map_or(defaults.min_latency_change_ms, |d| d.as_secs_f64() * 1e3),
        ..defaults
    }
}

/// A directory that holds a run with samples, canonical; found before any work starts
/// (the whole log is read once to know it has samples: a baseline with none would fail
/// a `record --baseline` only at its end).
pub fn check_run(path: &Path, role: &'static str) -> Result<PathBuf, ConfigError> {
    let err = |what: &str| ConfigError::RunDir {
        role,
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    if !path.exists() {
        return Err(err("does not exist"));
    }
    if !path.is_dir() {
        return Err(err("is not a directory"));
    }
    if !path.join(crate::runlog::SAMPLES_FILE).exists() {
        return Err(err(
            "is not a soakprof run directory (it has no samples.jsonl)",
        ));
    }
    let run =
        crate::runlog::read_run(path).map_err(|source| ConfigError::RunRead { role, source })?;
    if run.columns.is_empty() {
        return Err(err("holds no samples: there is nothing to compare"));
    }
    std::fs::canonicalize(path).map_err(|e| err(&format!("cannot be resolved: {e}")))
}

/// `--mem-limit` and `--cpu-limit` as given.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitOptions {
    pub mem_limit_bytes: Option<u64>,
    pub cpu_limit_cores: Option<f64>,
}

impl LimitOptions {
    /// The options first, then what was found (the cgroup, or what a run was recorded
    /// with), each with its source.
    pub fn over(&self, found: &Limits) -> Limits {
        let (mem_limit_bytes, mem_limit_source) = match self.mem_limit_bytes {
            Some(v) => (Some(v), Some("option".to_string())),
            None => (found.mem_limit_bytes, found.mem_limit_source.clone()),
        };
        let (cpu_limit_cores, cpu_limit_source) = match self.cpu_limit_cores {
            Some(v) => (Some(v), Some("option".to_string())),
            None => (found.cpu_limit_cores, found.cpu_limit_source.clone()),
        };
        Limits {
            mem_limit_bytes,
            mem_limit_source,
            cpu_limit_cores,
            cpu_limit_source,
        }
    }
}

/// The threshold and limit options, parsed: what they change in a base set of thresholds
/// (the defaults for `record`, what a run was recorded with for `analyze`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JudgeOverrides {
    pub warn_growth_bytes_per_min: Option<f64>,
    pub max_growth_bytes_per_min: Option<f64>,
    pub max_thread_growth_per_min: Option<f64>,
    pub max_fd_growth_per_min: Option<f64>,
    /// `Some(None)`: `--warmup auto`; `Some(Some(s))`: a fixed warm-up.
    pub warmup_s: Option<Option<f64>>,
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub max_error_rate: Option<f64>,
    pub min_rps: Option<f64>,
    pub max_throttled_pct: Option<f64>,
    pub throttled_gate: Option<GateLevel>,
    pub limits: LimitOptions,
}

impl JudgeOverrides {
    pub fn from_args(judge: &JudgeArgs) -> JudgeOverrides {
        JudgeOverrides {
            warn_growth_bytes_per_min: judge.warn_growth,
            max_growth_bytes_per_min: judge.max_growth,
            max_thread_growth_per_min: judge.max_thread_growth,
            max_fd_growth_per_min: judge.max_fd_growth,
            warmup_s: judge.warmup.map(|w| match w {
                crate::cli::WarmupArg::Auto => None,
                crate::cli::WarmupArg::Fixed(d) => Some(d.as_secs_f64()),
            }),
            max_p95_ms: judge.max_p95.map(|d| d.as_secs_f64() * 1e3),
            max_p99_ms: judge.max_p99.map(|d| d.as_secs_f64() * 1e3),
            max_error_rate: judge.max_error_rate,
            min_rps: judge.min_rps,
            max_throttled_pct: judge.max_throttled,
            throttled_gate: judge.throttled_gate.map(|g| match g {
                crate::cli::GateArg::Warn => GateLevel::Warn,
                crate::cli::GateArg::Fail => GateLevel::Fail,
            }),
            limits: LimitOptions {
                mem_limit_bytes: judge.mem_limit,
                cpu_limit_cores: judge.cpu_limit,
            },
        }
    }

    /// The thresholds these options make of `base`, checked: a warning above the fail
    /// level is an error when `--warn-growth` was given, and otherwise follows the fail
    /// level down (lowering only `--max-growth` below the default warning is fine).
    pub fn resolve(&self, base: &Thresholds) -> Result<Thresholds, ConfigError> {
        let mut th = Thresholds {
            warn_growth_bytes_per_min: self
                .warn_growth_bytes_per_min
                .unwrap_or(base.warn_growth_bytes_per_min),
            max_growth_bytes_per_min: self
                .max_growth_bytes_per_min
                .unwrap_or(base.max_growth_bytes_per_min),
            max_thread_growth_per_min: self
                .max_thread_growth_per_min
                .unwrap_or(base.max_thread_growth_per_min),
            max_fd_growth_per_min: self
                .max_fd_growth_per_min
                .unwrap_or(base.max_fd_growth_per_min),
            warmup_s: self.warmup_s.unwrap_or(base.warmup_s),
            max_p95_ms: self.max_p95_ms.or(base.max_p95_ms),
            max_p99_ms: self.max_p99_ms.or(base.max_p99_ms),
            max_error_rate: self.max_error_rate.or(base.max_error_rate),
            min_rps: self.min_rps.or(base.min_rps),
            max_throttled_pct: self.max_throttled_pct.unwrap_or(base.max_throttled_pct),
            throttled_gate: self.throttled_gate.unwrap_or(base.throttled_gate),
        };
        if th.warn_growth_bytes_per_min > th.max_growth_bytes_per_min {
            if self.warn_growth_bytes_per_min.is_some() {
                return Err(ConfigError::WarnAboveFail {
                    warn: crate::units::format_byte_rate(th.warn_growth_bytes_per_min),
                    max: crate::units::format_byte_rate(th.max_growth_bytes_per_min),
                });
            }
            th.warn_growth_bytes_per_min = th.max_growth_bytes_per_min;
        }
        Ok(th)
    }
}

impl RecordConfig {
    pub fn from_args(args: RecordArgs) -> Result<RecordConfig, ConfigError> {
        let target = if let Some(pid) = args.pid {
            TargetSpec::Pid(pid)
        } else if let Some(name) = args.name {
            if name.is_empty() {
                return Err(ConfigError::EmptyName);
            }
            TargetSpec::Name(name)
        } else if let Some(pattern) = args.match_regex {
            let re = Regex::new(&pattern).map_err(|e| ConfigError::Regex {
                pattern: pattern.clone(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
            })?;
            TargetSpec::Match(re)
        } else if let Some(path) = args.cgroup {
            if path.trim().is_empty() {
                return Err(ConfigError::EmptyCgroup);
            }
            TargetSpec::Cgroup(path)
        } else if let Some(id) = args.container {
            TargetSpec::Container(id)
        } else {
            TargetSpec::Spawn(args.command)
        };
        if args.pick.is_some() && !matches!(target, TargetSpec::Name(_) | TargetSpec::Match(_)) {
            return Err(ConfigError::PickWithoutSearch);
        }
        if args.follow && matches!(target, TargetSpec::Pid(_)) {
            return Err(ConfigError::FollowPid);
        }
        if args.follow && matches!(target, TargetSpec::Cgroup(_) | TargetSpec::Container(_)) {
            return Err(ConfigError::FollowCgroup);
        }
        if let Some(duration) = args.duration
            && args.interval > duration
        {
            return Err(ConfigError::IntervalOverDuration {
                interval: humantime::format_duration(args.interval).to_string(),
                duration: humantime::format_duration(duration).to_string(),
            });
        }
        let overrides = JudgeOverrides::from_args(&args.judge);
        let thresholds = overrides.resolve(&Thresholds::default())?;
        let mut load_args = args.load.clone();
        if args.search.find_capacity
            && load_args.load_url.is_some()
            && load_args.users.is_none()
            && load_args.rps.is_none()
        {
            // `--find-capacity --load-url URL`: the open model from the default start.
            load_args.rps = Some(DEFAULT_SEARCH_START_RPS);
        }
        let mut load = load_plan(&load_args, args.duration)?;
        let search = search_config(
            &args.search,
            args.duration,
            &thresholds,
            &overrides.limits,
            load.as_mut(),
        )?;
        let ci = ci_outputs(&args.ci, step_summary_env())?;
        let baseline = BaselineConfig::from_args(&args.baseline)?;
        // `--force --out` the baseline itself would replace the run it compares with.
        if let (Some(out), Some(b)) = (&args.out, &baseline)
            && std::fs::canonicalize(out).is_ok_and(|out| out == b.dir)
        {
            return Err(ConfigError::SameRun {
                path: b.dir.clone(),
            });
        }
        Ok(RecordConfig {
            target,
            pick: args.pick,
            children: args.children,
            follow: args.follow,
            interval: args.interval,
            pss_interval: args.pss_interval,
            duration: args.duration,
            out: args.out,
            force: args.force,
            thresholds,
            limit_options: overrides.limits,
            quiet: args.quiet,
            fail_fast: args.fail_fast,
            backend: args.sampler.unwrap_or_else(Backend::default_for_os),
            load,
            ci,
            prometheus: args.prometheus,
            baseline,
            search,
        })
    }

    /// The run directory: `--out`, or `reports/<YYYYmmdd-HHMMSS>-<target>` (to which a
    /// `-2`, `-3`, … is added when a run of the same second has the name).
    pub fn run_dir(&self, timestamp: &str) -> PathBuf {
        if let Some(out) = &self.out {
            return out.clone();
        }
        let label = match &self.target {
            TargetSpec::Pid(pid) => format!("pid{pid}"),
            TargetSpec::Name(name) => name.clone(),
            TargetSpec::Match(_) => "match".to_string(),
            TargetSpec::Cgroup(path) => path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map_or_else(|| "cgroup".to_string(), |s| s.chars().take(24).collect()),
            TargetSpec::Container(id) => {
                format!("container-{}", id.chars().take(12).collect::<String>())
            }
            TargetSpec::Spawn(cmd) => cmd
                .first()
                .and_then(|c| Path::new(c).file_name())
                .map_or_else(|| "cmd".to_string(), |n| n.to_string_lossy().into_owned()),
        };
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        PathBuf::from("reports").join(format!("{timestamp}-{safe}"))
    }
}

/// The load to drive, from the load options; a scenario file is read and checked here.
pub fn load_plan(
    args: &LoadArgs,
    run_duration: Option<Duration>,
) -> Result<Option<LoadPlan>, ConfigError> {
    let overrides = LoadOverrides {
        users: args.users,
        rps: args.rps,
        think: args.think.map(|(min, max)| ThinkTime { min, max }),
        profile: args.load_profile,
        timeout: args.load_timeout,
        max_body: args.max_body,
    };
    if let Some(path) = &args.load {
        let scenario = scenario::parse_scenario_file(path, &overrides, run_duration)?;
        return Ok(Some(LoadPlan::Builtin(Box::new(scenario))));
    }
    if let Some(url) = &args.load_url {
        let scenario = scenario::quick_scenario(url, &overrides, run_duration)?;
        return Ok(Some(LoadPlan::Builtin(Box::new(scenario))));
    }
    if let Some(command) = &args.load_cmd {
        if command.trim().is_empty() {
            return Err(ConfigError::EmptyLoadCommand);
        }
        // A driver that is not installed would leave the whole soak without load; say so
        // now. Command lines only the shell can read (`cd x && k6 ...`) are its business.
        if let Some(program) = crate::process::first_program(command)
            && !crate::process::is_runnable(program)
        {
            return Err(ConfigError::LoadProgramNotFound {
                program: program.to_string(),
                command: command.clone(),
            });
        }
        return Ok(Some(LoadPlan::External {
            command: command.clone(),
        }));
    }
    Ok(None)
}

// --- issue 16: capacity search (`--find-capacity`) -------------------------------------

/// A checked `--find-capacity`: how the search runs and what each level is judged by.
#[derive(Clone, Debug)]
pub struct SearchConfig {
    pub plan: crate::analysis::capsearch::SearchPlan,
    pub gates: crate::analysis::capsearch::SearchGates,
    /// The run's `--duration`, which bounds the search.
    pub duration: Duration,
}

/// Steps the budget must hold at least: a ramp and a bisection need a few.
const MIN_SEARCH_STEPS: f64 = 3.0;
/// The shortest `--capacity-step`, seconds.
const MIN_SEARCH_STEP_S: f64 = 1.0;

/// `--find-capacity --load-url URL` without --rps or --users starts at this rate.
const DEFAULT_SEARCH_START_RPS: f64 = 10.0;

/// `--find-capacity` checked against the rest; the scenario's stages are replaced by one
/// at the highest level the search may reach (the driver sizes its connection pool by it;
/// the search sets the level itself).
fn search_config(
    search: &crate::cli::SearchArgs,
    duration: Option<Duration>,
    thresholds: &Thresholds,
    limits: &LimitOptions,
    load: Option<&mut LoadPlan>,
) -> Result<Option<SearchConfig>, ConfigError> {
    use crate::analysis::capsearch::{self as cs, SearchGates, SearchModel, SearchPlan};
    if !search.find_capacity {
        return Ok(None);
    }
    let Some(LoadPlan::Builtin(scenario)) = load else {
        return Err(ConfigError::Search(
            "needs the built-in driver: --load-url URL or --load SCENARIO.toml".into(),
        ));
    };
    let Some(duration) = duration else {
        return Err(ConfigError::Search(
            "needs --duration: the whole search runs within it".into(),
        ));
    };
    let gates = SearchGates {
        max_p95_ms: thresholds.max_p95_ms,
        max_p99_ms: thresholds.max_p99_ms,
        max_error_rate: thresholds.max_error_rate,
        mem_limit_bytes: limits.mem_limit_bytes,
        max_throttled_share: search.capacity_max_throttled,
    };
    if !gates.any() {
        return Err(ConfigError::Search(
            "needs a gate a level can fail: --max-p95, --max-p99, --max-error-rate, --mem-limit or --capacity-max-throttled".into(),
        ));
    }
    let model = match scenario.model {
        scenario::Model::Open => SearchModel::Open,
        scenario::Model::Closed => SearchModel::Closed,
    };
    let start = scenario.stages.iter().map(|s| s.target).fold(0.0, f64::max);
    let step_s = search.capacity_step.map_or_else(
        || cs::step_hold_s(duration.as_secs_f64()),
        |d| d.as_secs_f64(),
    );
    if step_s < MIN_SEARCH_STEP_S {
        return Err(ConfigError::Search(format!(
            "--capacity-step must be at least {MIN_SEARCH_STEP_S} s: a level needs its warm-up and two halves to judge"
        )));
    }
    if duration.as_secs_f64() < MIN_SEARCH_STEPS * step_s {
        return Err(ConfigError::Search(format!(
            "--duration {} holds fewer than {MIN_SEARCH_STEPS} levels of {}; give a longer --duration or a shorter --capacity-step",
            humantime::format_duration(duration),
            crate::units::format_duration_s(step_s)
        )));
    }
    let tolerance = search.capacity_tolerance.unwrap_or(cs::DEFAULT_TOLERANCE);
    if !(tolerance > 0.0 && tolerance < 1.0) {
        return Err(ConfigError::Search(
            "--capacity-tolerance must be between 0% and 100%".into(),
        ));
    }
    scenario.stages = vec![crate::load::scenario::Stage {
        name: "capacity search".into(),
        duration,
        target: match model {
            SearchModel::Open => cs::MAX_OPEN_RPS,
            SearchModel::Closed => cs::MAX_USERS,
        },
    }];
    Ok(Some(SearchConfig {
        plan: SearchPlan {
            model,
            start: start.max(match model {
                SearchModel::Open => cs::MIN_OPEN_RPS,
                SearchModel::Closed => 1.0,
            }),
            tolerance,
            step_s,
            max_in_flight: match model {
                SearchModel::Open => Some(search.max_in_flight.unwrap_or(1000)),
                SearchModel::Closed => None,
            },
        },
        gates,
        duration,
    }))
}

// --- end of issue 16 capacity search ----------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowered_max_growth_drags_the_warning_down() {
        let lowered = JudgeOverrides {
            max_growth_bytes_per_min: Some(1e6),
            ..JudgeOverrides::default()
        };
        let th = lowered.resolve(&Thresholds::default()).unwrap();
        assert_eq!(th.warn_growth_bytes_per_min, 1e6);
        let bad = JudgeOverrides {
            warn_growth_bytes_per_min: Some(20e6),
            ..JudgeOverrides::default()
        };
        assert!(bad.resolve(&Thresholds::default()).is_err());
        // Over a recorded run's thresholds, options win and the rest is kept.
        let recorded = Thresholds {
            max_p95_ms: Some(50.0),
            warmup_s: Some(30.0),
            max_throttled_pct: 40.0,
            ..Thresholds::default()
        };
        let gate = JudgeOverrides {
            throttled_gate: Some(GateLevel::Fail),
            ..JudgeOverrides::default()
        };
        let th = gate.resolve(&recorded).unwrap();
        assert_eq!(
            (th.max_throttled_pct, th.throttled_gate),
            (40.0, GateLevel::Fail)
        );
        // A log written before these thresholds existed reads with their defaults.
        let mut old = serde_json::to_value(Thresholds::default()).unwrap();
        old.as_object_mut().unwrap().remove("max_throttled_pct");
        old.as_object_mut().unwrap().remove("throttled_gate");
        let old: Thresholds = serde_json::from_value(old).unwrap();
        assert_eq!(old, Thresholds::default());
        let auto = JudgeOverrides {
            warmup_s: Some(None),
            ..JudgeOverrides::default()
        };
        let th = auto.resolve(&recorded).unwrap();
        assert_eq!((th.warmup_s, th.max_p95_ms), (None, Some(50.0)));
        assert_eq!(
            JudgeOverrides::default().resolve(&recorded).unwrap(),
            recorded
        );
    }

    #[test]
    fn option_limits_override_cgroup() {
        let found = Limits {
            mem_limit_bytes: Some(1 << 30),
            mem_limit_source: Some("cgroup v2".into()),
            ..Limits::default()
        };
        let options = LimitOptions {
            cpu_limit_cores: Some(0.5),
            ..LimitOptions::default()
        };
        let l = options.over(&found);
        assert_eq!(l.mem_limit_bytes, Some(1 << 30));
        assert_eq!(l.mem_limit_source.as_deref(), Some("cgroup v2"));
        assert_eq!(l.cpu_limit_cores, Some(0.5));
        assert_eq!(l.cpu_limit_source.as_deref(), Some("option"));
    }
}
