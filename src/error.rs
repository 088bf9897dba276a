//! Every error a command can end with, and its exit code by type: each module's error enum
//! says whether it is bad input (exit 2: the user gave something unusable) or a runtime
//! failure (exit 3: the OS, the disk, the network), wrappers ask what they wrap, and this
//! enum asks its variants. A new error type joins by a variant here, which the compiler
//! then makes every match below handle.

use crate::config::ConfigError;
use crate::load::LoadError;
use crate::load::scenario::ScenarioError;
use crate::process::ProcessError;
use crate::record::RecordError;
use crate::report::ReportError;
use crate::runlog::RunLogError;
use crate::sample::SampleError;
use crate::target::TargetError;
use crate::units::UnitError;

/// Exit code for a bad input (usage, unknown PID, ambiguous name, malformed file).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a runtime error.
pub const EXIT_RUNTIME: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Units(#[from] UnitError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    RunLog(#[from] RunLogError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Live(#[from] crate::sources::live::LiveError),
    #[error(transparent)]
    Push(#[from] crate::sources::push::PushError),
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    #[error(transparent)]
    Prom(#[from] crate::sources::prometheus::PromError),
    /// What was being done when `source` happened ("starting the load driver").
    #[error("{doing}")]
    Context {
        doing: String,
        #[source]
        source: Box<Error>,
    },
    /// `record` could not read back the log it had just written (removed or replaced at
    /// the last moment): a runtime failure, whatever `source` says of the directory.
    #[error("reading back the run just recorded in {}", dir.display())]
    Reread {
        dir: std::path::PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// Writing soakprof's own output (a summary, a JSON verdict) failed: the run directory
    /// is complete, the terminal or pipe is not.
    #[error("writing to {what}: {source}")]
    Output {
        what: &'static str,
        source: std::io::Error,
    },
    /// An OS operation of a command itself failed (finding its own executable, clearing
    /// the demo's directory).
    #[error("{doing}: {source}")]
    Io {
        doing: String,
        source: std::io::Error,
    },
    /// Something a command waited for did not happen (the demo server never reported its
    /// port).
    #[error("{0}")]
    Failed(String),
    /// The hidden `fixture` command's own errors (a test program; anyhow at its top).
    #[error("fixture: {0:#}")]
    Fixture(anyhow::Error),
}

impl Error {
    /// Wrap `source` with what was being done.
    pub fn context(doing: impl Into<String>, source: impl Into<Error>) -> Error {
        Error::Context {
            doing: doing.into(),
            source: Box::new(source.into()),
        }
    }

    /// True when the error comes from what the user gave.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Config(e) => e.is_bad_input(),
            Error::Units(e) => e.is_bad_input(),
            Error::Target(e) => e.is_bad_input(),
            Error::Process(e) => e.is_bad_input(),
            Error::Sample(e) => e.is_bad_input(),
            Error::Record(e) => e.is_bad_input(),
            Error::RunLog(e) => e.is_bad_input(),
            Error::Load(e) => e.is_bad_input(),
            Error::Scenario(e) => e.is_bad_input(),
            Error::Report(e) => e.is_bad_input(),
            Error::Live(e) => e.is_bad_input(),
            Error::Push(e) => e.is_bad_input(),
            Error::Fleet(e) => e.is_bad_input(),
            Error::Prom(e) => e.is_bad_input(),
            Error::Context { source, .. } => source.is_bad_input(),
            Error::Reread { .. }
            | Error::Output { .. }
            | Error::Io { .. }
            | Error::Failed(_)
            | Error::Fixture(_) => false,
        }
    }

    pub fn exit_code(&self) -> u8 {
        if self.is_bad_input() {
            EXIT_BAD_INPUT
        } else {
            EXIT_RUNTIME
        }
    }
}

/// One line for an error and its causes: "what: why: why".
///
/// A cause whose text the message already holds (thiserror messages often name their
/// source) is not repeated.
pub fn error_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind};
    use std::path::PathBuf;

    const BAD: u8 = EXIT_BAD_INPUT;
    const RT: u8 = EXIT_RUNTIME;

    fn io(kind: ErrorKind) -> IoError {
        IoError::new(kind, "os says no")
    }

    fn path() -> PathBuf {
        PathBuf::from("/x")
    }

    fn scenario_read(kind: ErrorKind) -> ScenarioError {
        ScenarioError::Read {
            path: path(),
            source: io(kind),
        }
    }

    fn run_log_write() -> RunLogError {
        RunLogError::Write {
            path: path(),
            source: io(ErrorKind::StorageFull),
        }
    }

    fn sample_list() -> SampleError {
        SampleError::List("no /proc".into())
    }

    fn config_cases() -> Vec<(Error, u8)> {
        vec![
            (
                ConfigError::Regex {
                    pattern: "(".into(),
                    reason: "unclosed".into(),
                }
                .into(),
                BAD,
            ),
            (
                ConfigError::WarnAboveFail {
                    warn: "a".into(),
                    max: "b".into(),
                }
                .into(),
                BAD,
            ),
            (ConfigError::EmptyName.into(), BAD),
            (ConfigError::PickWithoutSearch.into(), BAD),
            (ConfigError::FollowPid.into(), BAD),
            (ConfigError::EmptyLoadCommand.into(), BAD),
            (
                ConfigError::IntervalOverDuration {
                    interval: "2s".into(),
                    duration: "1s".into(),
                }
                .into(),
                BAD,
            ),
            (
                ConfigError::OutputPath {
                    option: "--junit",
                    path: path(),
                    reason: "its directory does not exist",
                }
                .into(),
                BAD,
            ),
            (ConfigError::SameOutput { path: path() }.into(), BAD),
            (
                ConfigError::LoadProgramNotFound {
                    program: "k6".into(),
                    command: "k6 run".into(),
                }
                .into(),
                BAD,
            ),
            (
                ConfigError::Scenario(scenario_read(ErrorKind::NotFound)).into(),
                BAD,
            ),
            (
                ConfigError::Scenario(scenario_read(ErrorKind::Other)).into(),
                RT,
            ),
        ]
    }

    fn units_cases() -> Vec<(Error, u8)> {
        vec![
            (UnitError::Duration("x".into()).into(), BAD),
            (UnitError::Size("x".into()).into(), BAD),
            (UnitError::Rate("x".into()).into(), BAD),
            (UnitError::Zero("0s".into()).into(), BAD),
            (UnitError::DurationRange("x".into()).into(), BAD),
            (UnitError::Bits("5Mb/min".into()).into(), BAD),
            (UnitError::RateWithoutBytes("10/h".into()).into(), BAD),
        ]
    }

    fn target_cases() -> Vec<(Error, u8)> {
        vec![
            (TargetError::NoSuchPid(7).into(), BAD),
            (TargetError::NoMatch { what: "x".into() }.into(), BAD),
            (
                TargetError::Ambiguous {
                    what: "x".into(),
                    count: 2,
                    list: "1, 2".into(),
                }
                .into(),
                BAD,
            ),
            (TargetError::IsSelf(1).into(), BAD),
            (TargetError::Table(sample_list()).into(), RT),
        ]
    }

    fn process_cases() -> Vec<(Error, u8)> {
        vec![
            (
                ProcessError::Start {
                    command: "x".into(),
                    source: io(ErrorKind::NotFound),
                }
                .into(),
                BAD,
            ),
            (
                ProcessError::Log {
                    path: path(),
                    source: io(ErrorKind::PermissionDenied),
                }
                .into(),
                RT,
            ),
        ]
    }

    fn sample_cases() -> Vec<(Error, u8)> {
        vec![
            (sample_list().into(), RT),
            (
                SampleError::Read {
                    pid: 1,
                    reason: "gone".into(),
                }
                .into(),
                RT,
            ),
        ]
    }

    fn record_cases() -> Vec<(Error, u8)> {
        vec![(RecordError::Log(run_log_write()).into(), RT)]
    }

    fn run_log_cases() -> Vec<(Error, u8)> {
        vec![
            (
                RunLogError::Create {
                    path: path(),
                    source: io(ErrorKind::PermissionDenied),
                }
                .into(),
                BAD,
            ),
            (run_log_write().into(), RT),
            (
                RunLogError::Open {
                    path: path(),
                    source: io(ErrorKind::NotFound),
                }
                .into(),
                BAD,
            ),
            (RunLogError::HoldsRun { path: path() }.into(), BAD),
            (
                RunLogError::InUse {
                    path: path(),
                    pid: Some(7),
                }
                .into(),
                BAD,
            ),
            (
                RunLogError::Lost {
                    path: path(),
                    what: "was removed during the run".into(),
                }
                .into(),
                RT,
            ),
            (RunLogError::NotRegular { path: path() }.into(), BAD),
            (RunLogError::NoHeader { path: path() }.into(), BAD),
            (
                RunLogError::Version {
                    path: path(),
                    found: 9,
                }
                .into(),
                BAD,
            ),
        ]
    }

    fn load_cases() -> Vec<(Error, u8)> {
        vec![
            (
                LoadError::Scenario(scenario_read(ErrorKind::NotFound)).into(),
                BAD,
            ),
            (LoadError::Start("no runtime".into()).into(), RT),
            (LoadError::StopTimeout { grace_s: 3 }.into(), RT),
            (
                LoadError::Command {
                    command: "k6".into(),
                    source: io(ErrorKind::NotFound),
                }
                .into(),
                BAD,
            ),
            (LoadError::Log(run_log_write()).into(), RT),
        ]
    }

    fn scenario_cases() -> Vec<(Error, u8)> {
        vec![
            (scenario_read(ErrorKind::NotFound).into(), BAD),
            (scenario_read(ErrorKind::IsADirectory).into(), BAD),
            (scenario_read(ErrorKind::PermissionDenied).into(), BAD),
            (scenario_read(ErrorKind::Other).into(), RT),
            (
                ScenarioError::Toml {
                    file: "s.toml".into(),
                    line: Some(3),
                    message: "x".into(),
                }
                .into(),
                BAD,
            ),
            (
                ScenarioError::Field {
                    file: "s.toml".into(),
                    line: None,
                    field: "rps".into(),
                    message: "x".into(),
                }
                .into(),
                BAD,
            ),
            (
                ScenarioError::Usage {
                    message: "x".into(),
                }
                .into(),
                BAD,
            ),
        ]
    }

    fn report_cases() -> Vec<(Error, u8)> {
        vec![
            (
                ReportError::Write {
                    path: path(),
                    source: io(ErrorKind::StorageFull),
                }
                .into(),
                RT,
            ),
            (
                ReportError::Read {
                    path: path(),
                    source: io(ErrorKind::NotFound),
                }
                .into(),
                RT,
            ),
            (
                ReportError::Chart(crate::report::charts::ChartError {
                    file: "memory.svg".into(),
                    reason: "x".into(),
                })
                .into(),
                RT,
            ),
        ]
    }

    fn prometheus_cases() -> Vec<(Error, u8)> {
        use crate::sources::{live::LiveError, push::PushError};
        vec![
            (
                LiveError::Bind {
                    addr: "127.0.0.1:9464".parse().unwrap(),
                    source: io(ErrorKind::AddrInUse),
                }
                .into(),
                BAD,
            ),
            (LiveError::Start(io(ErrorKind::Other)).into(), RT),
            (
                PushError::Failed {
                    url: "http://127.0.0.1:9091/metrics/job/soakprof/target/x".into(),
                    reason: "connection refused".into(),
                }
                .into(),
                RT,
            ),
            (
                crate::sources::prometheus::PromError::Rejected {
                    query: "rate(x[5m]".into(),
                    message: "parse error (bad_data)".into(),
                }
                .into(),
                BAD,
            ),
        ]
    }

    fn own_cases() -> Vec<(Error, u8)> {
        vec![
            (
                Error::context("starting the load driver", TargetError::NoSuchPid(3)),
                BAD,
            ),
            (Error::context("writing the report", run_log_write()), RT),
            (
                Error::Reread {
                    dir: path(),
                    source: Box::new(RunLogError::NoHeader { path: path() }.into()),
                },
                RT,
            ),
            (
                Error::Output {
                    what: "stdout",
                    source: io(ErrorKind::StorageFull),
                },
                RT,
            ),
            (
                Error::Io {
                    doing: "finding the executable".into(),
                    source: io(ErrorKind::NotFound),
                },
                RT,
            ),
            (Error::Failed("no port".into()), RT),
            (Error::Fixture(anyhow::anyhow!("BAD --saw-mb")), RT),
        ]
    }

    /// One case per variant of every error type a command can end with, wrapped as the
    /// commands wrap them: (error, exit code).
    fn cases() -> Vec<(Error, u8)> {
        [
            config_cases(),
            units_cases(),
            target_cases(),
            process_cases(),
            sample_cases(),
            record_cases(),
            run_log_cases(),
            load_cases(),
            scenario_cases(),
            report_cases(),
            prometheus_cases(),
            own_cases(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn every_error_variant_has_its_exit_code() {
        for (err, code) in cases() {
            assert_eq!(err.exit_code(), code, "{err:?}");
            let line = error_line(&err);
            assert!(!line.is_empty() && !line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn error_line_does_not_repeat_a_named_source() {
        let err: Error = ProcessError::Start {
            command: "x".into(),
            source: IoError::new(ErrorKind::NotFound, "No such file"),
        }
        .into();
        assert_eq!(error_line(&err), "cannot start `x`: No such file");
        let wrapped = Error::context("writing the report", run_log_write());
        assert_eq!(
            error_line(&wrapped),
            "writing the report: cannot write /x: os says no"
        );
    }
}
