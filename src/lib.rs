//! soakprof: a memory and resource soak profiler.
//!
//! Data flows one way: target → sampler → run log → analysis → report. `main.rs` only
//! parses the command line and maps errors to exit codes; everything else is here so
//! tests and benches can reach it.

pub mod analysis;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod demo;
#[path = "../fixtures/fixture.rs"]
pub mod fixture;
pub mod load;
pub mod process;
pub mod record;
pub mod report;
pub mod rng;
pub mod runlog;
pub mod sample;
pub mod status;
#[doc(hidden)]
#[path = "../fixtures/synthetic.rs"]
pub mod synthetic;
pub mod target;
pub mod units;

use cli::{Cli, Command};

/// Exit code for a bad input (usage, unknown PID, ambiguous name, malformed file).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a runtime error.
pub const EXIT_RUNTIME: u8 = 3;

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Record(args) => {
            let config = config::RecordConfig::from_args(args)?;
            let outcome = commands::record(&config, None)?;
            print!(
                "{}",
                report::summary_text(&outcome.verdict, &outcome.run_dir)
            );
            Ok(commands::verdict_exit_code(outcome.verdict.verdict))
        }
        Command::Analyze(args) => {
            let (verdict, _) = commands::analyze_dir(&args.run_dir, &args.judge)?;
            let text = match args.format {
                cli::OutputFormat::Text => report::summary_text(&verdict, &args.run_dir),
                cli::OutputFormat::Json => report::verdict_json(&verdict)?,
            };
            // A reader that stops early (`| head`) is no error of ours.
            let mut stdout = std::io::stdout().lock();
            match std::io::Write::write_all(&mut stdout, text.as_bytes())
                .and_then(|()| std::io::Write::flush(&mut stdout))
            {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(anyhow::Error::new(e).context("writing to stdout"));
                }
                _ => {}
            }
            Ok(commands::verdict_exit_code(verdict.verdict))
        }
        Command::Demo(args) => demo::run(args),
        Command::Fixture(args) => Ok(u8::try_from(fixture::run(args)?).unwrap_or(1)),
    }
}

/// The exit code for an error: 2 when it comes from what the user gave, 3 otherwise.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<config::ConfigError>() || cause.is::<units::UnitError>() {
            return EXIT_BAD_INPUT;
        }
        if let Some(e) = cause.downcast_ref::<process::ProcessError>() {
            return if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_RUNTIME
            };
        }
        if let Some(e) = cause.downcast_ref::<target::TargetError>() {
            return if matches!(e, target::TargetError::Table(_)) {
                EXIT_RUNTIME
            } else {
                EXIT_BAD_INPUT
            };
        }
        if let Some(e) = cause.downcast_ref::<runlog::RunLogError>() {
            return if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_RUNTIME
            };
        }
    }
    EXIT_RUNTIME
}

/// One line for an error and its causes: "what: why: why".
///
/// A cause whose text the message already holds (thiserror messages often name their
/// source) is not repeated.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_does_not_repeat_a_named_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::from(process::ProcessError::Start {
            command: "x".into(),
            source: io,
        });
        assert_eq!(error_line(&err), "cannot start `x`: No such file");
        assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
        let wrapped = anyhow::anyhow!("disk on fire").context("writing the report");
        assert_eq!(error_line(&wrapped), "writing the report: disk on fire");
        assert_eq!(exit_code_for(&wrapped), EXIT_RUNTIME);
    }

    #[test]
    fn a_target_log_that_cannot_be_created_is_a_runtime_error() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied");
        let err = anyhow::Error::from(process::ProcessError::Log {
            path: "run/target.log".into(),
            source: io,
        });
        assert_eq!(
            error_line(&err),
            "cannot create run/target.log: Permission denied"
        );
        assert_eq!(exit_code_for(&err), EXIT_RUNTIME);
    }
}
