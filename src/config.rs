//! Raw arguments become a checked configuration before any work starts: every "bad input"
//! (exit 2) that can be found without touching the target is found here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use crate::cli::{JudgeArgs, LoadArgs, RecordArgs};
use crate::load::LoadPlan;
use crate::load::scenario::{self, LoadOverrides, ThinkTime};
use crate::record::PssInterval;
use crate::runlog::{Limits, Thresholds};
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
    #[error(transparent)]
    Scenario(#[from] crate::load::scenario::ScenarioError),
    #[error("--load-cmd must not be empty")]
    EmptyLoadCommand,
}

/// A checked `record` configuration.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    pub target: TargetSpec,
    pub pick: Option<Pick>,
    pub children: bool,
    pub interval: Duration,
    pub duration: Option<Duration>,
    pub pss_interval: PssInterval,
    /// `None`: the default, `reports/<timestamp>-<target>`.
    pub out: Option<PathBuf>,
    pub judge: JudgeArgs,
    pub quiet: bool,
    pub fail_fast: bool,
    pub backend: Backend,
    pub load: Option<LoadPlan>,
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
        } else {
            TargetSpec::Spawn(args.command)
        };
        if args.pick.is_some() && !matches!(target, TargetSpec::Name(_) | TargetSpec::Match(_)) {
            return Err(ConfigError::PickWithoutSearch);
        }
        check_judge(&args.judge, &Thresholds::default())?;
        let load = load_plan(&args.load, args.duration)?;
        Ok(RecordConfig {
            target,
            pick: args.pick,
            children: args.children,
            interval: args.interval,
            pss_interval: args.pss_interval,
            duration: args.duration,
            out: args.out,
            judge: args.judge,
            quiet: args.quiet,
            fail_fast: args.fail_fast,
            backend: args.sampler.unwrap_or_else(Backend::default_for_os),
            load,
        })
    }

    /// The run directory: `--out`, or `reports/<YYYYmmdd-HHMMSS>-<target>`.
    pub fn run_dir(&self, timestamp: &str) -> PathBuf {
        if let Some(out) = &self.out {
            return out.clone();
        }
        let label = match &self.target {
            TargetSpec::Pid(pid) => format!("pid{pid}"),
            TargetSpec::Name(name) => name.clone(),
            TargetSpec::Match(_) => "match".to_string(),
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
        return Ok(Some(LoadPlan::External {
            command: command.clone(),
        }));
    }
    Ok(None)
}

/// Thresholds from the options, falling back to `base` (the defaults, or what a run was
/// recorded with).
pub fn thresholds(judge: &JudgeArgs, base: &Thresholds) -> Thresholds {
    Thresholds {
        warn_growth_bytes_per_min: judge.warn_growth.unwrap_or(base.warn_growth_bytes_per_min),
        max_growth_bytes_per_min: judge.max_growth.unwrap_or(base.max_growth_bytes_per_min),
        max_thread_growth_per_min: judge
            .max_thread_growth
            .unwrap_or(base.max_thread_growth_per_min),
        max_fd_growth_per_min: judge.max_fd_growth.unwrap_or(base.max_fd_growth_per_min),
        warmup_s: match judge.warmup {
            Some(crate::cli::WarmupArg::Auto) => None,
            Some(crate::cli::WarmupArg::Fixed(d)) => Some(d.as_secs_f64()),
            None => base.warmup_s,
        },
        max_p95_ms: judge
            .max_p95
            .map(|d| d.as_secs_f64() * 1e3)
            .or(base.max_p95_ms),
        max_p99_ms: judge
            .max_p99
            .map(|d| d.as_secs_f64() * 1e3)
            .or(base.max_p99_ms),
        max_error_rate: judge.max_error_rate.or(base.max_error_rate),
        min_rps: judge.min_rps.or(base.min_rps),
    }
}

/// Check that the thresholds make sense together.
pub fn check_judge(judge: &JudgeArgs, base: &Thresholds) -> Result<(), ConfigError> {
    let th = thresholds(judge, base);
    if th.warn_growth_bytes_per_min > th.max_growth_bytes_per_min {
        // When only --max-growth is lowered below the default warning, the warning follows it.
        if judge.warn_growth.is_some() {
            return Err(ConfigError::WarnAboveFail {
                warn: crate::units::format_byte_rate(th.warn_growth_bytes_per_min),
                max: crate::units::format_byte_rate(th.max_growth_bytes_per_min),
            });
        }
    }
    Ok(())
}

/// Thresholds with the warning clamped to the fail level (see `check_judge`).
pub fn effective_thresholds(judge: &JudgeArgs, base: &Thresholds) -> Thresholds {
    let mut th = thresholds(judge, base);
    th.warn_growth_bytes_per_min = th
        .warn_growth_bytes_per_min
        .min(th.max_growth_bytes_per_min);
    th
}

/// Limits: options first, then what was found (the cgroup), each with its source.
pub fn limits(judge: &JudgeArgs, found: &Limits) -> Limits {
    let (mem_limit_bytes, mem_limit_source) = match judge.mem_limit {
        Some(v) => (Some(v), Some("option".to_string())),
        None => (found.mem_limit_bytes, found.mem_limit_source.clone()),
    };
    let (cpu_limit_cores, cpu_limit_source) = match judge.cpu_limit {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowered_max_growth_drags_the_warning_down() {
        let judge = JudgeArgs {
            max_growth: Some(1e6),
            ..JudgeArgs::default()
        };
        assert!(check_judge(&judge, &Thresholds::default()).is_ok());
        let th = effective_thresholds(&judge, &Thresholds::default());
        assert_eq!(th.warn_growth_bytes_per_min, 1e6);
        let bad = JudgeArgs {
            warn_growth: Some(20e6),
            ..JudgeArgs::default()
        };
        assert!(check_judge(&bad, &Thresholds::default()).is_err());
    }

    #[test]
    fn option_limits_override_cgroup() {
        let found = Limits {
            mem_limit_bytes: Some(1 << 30),
            mem_limit_source: Some("cgroup v2".into()),
            ..Limits::default()
        };
        let judge = JudgeArgs {
            cpu_limit: Some(0.5),
            ..JudgeArgs::default()
        };
        let l = limits(&judge, &found);
        assert_eq!(l.mem_limit_bytes, Some(1 << 30));
        assert_eq!(l.mem_limit_source.as_deref(), Some("cgroup v2"));
        assert_eq!(l.cpu_limit_cores, Some(0.5));
        assert_eq!(l.cpu_limit_source.as_deref(), Some("option"));
    }
}
