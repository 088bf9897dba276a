//! soakprof: a memory and resource soak profiler.
//!
//! Data flows one way: target → sampler → run log → columns → analysis → findings →
//! report (README: "How it is built"). `main.rs` only
//! parses the command line and maps errors to exit codes; everything else is here so
//! tests and benches can reach it.

pub mod analysis;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod demo;
pub mod error;
#[path = "../fixtures/fixture.rs"]
pub mod fixture;
pub mod fleet;
pub mod load;
pub mod output;
pub mod output_log;
pub mod process;
pub mod record;
pub mod report;
pub mod rng;
pub mod runlog;
pub mod sample;
pub mod sources;
pub mod status;
#[doc(hidden)]
#[path = "../fixtures/synthetic.rs"]
pub mod synthetic;
pub mod target;
pub mod units;

pub use error::{EXIT_BAD_INPUT, EXIT_RUNTIME, Error, error_line};

use cli::{Cli, Command};

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Record(args) => {
            let config = config::RecordConfig::from_args(args)?;
            let prometheus = sources::Prometheus::start(&config.prometheus, config.quiet)?;
            let outcome = commands::record_live(&config, None, prometheus.state())?;
            let printed =
                output::product(&report::summary_text(&outcome.verdict, &outcome.run_dir));
            // After the run directory is complete: a failure here loses nothing of the run,
            // and neither output waits on the other.
            let ci = report::ci::write_run_outputs(&config.ci, &outcome.verdict, &outcome.run_dir);
            let pushed = prometheus.finish(&outcome.verdict);
            printed?;
            ci?;
            pushed?;
            Ok(commands::verdict_exit_code(outcome.verdict.verdict))
        }
        Command::Analyze(args) if args.fleet.prometheus.is_some() => analyze_fleet(args),
        Command::Analyze(args) => {
            let config = config::AnalyzeConfig::from_args(args)?;
            let (verdict, written) = commands::analyze_and_report(
                &config.run_dir,
                &config.overrides,
                config.baseline.as_ref(),
            )?;
            // The JSON verdict is printed even when the report could not be written (a
            // read-only directory), that failure then being the exit status; the text
            // summary names the report, so it needs it written.
            let written = match config.format {
                cli::OutputFormat::Text => Ok(written?),
                cli::OutputFormat::Json => written,
            };
            let text = match config.format {
                cli::OutputFormat::Text => report::summary_text(&verdict, &config.run_dir),
                cli::OutputFormat::Json => {
                    report::verdict_json(&verdict).map_err(|e| Error::Output {
                        what: "stdout",
                        source: e.into(),
                    })?
                }
            };
            let printed = output::product(&text);
            let ci = report::ci::write_run_outputs(&config.ci, &verdict, &config.run_dir);
            printed?;
            written?;
            ci?;
            Ok(commands::verdict_exit_code(verdict.verdict))
        }
        Command::Compare(args) => {
            let config = config::CompareConfig::from_args(args)?;
            let (comparison, path) = commands::compare_runs(&config)?;
            let printed =
                output::product(&report::compare::compare_table(&comparison, Some(&path)));
            let ci = if config.ci.is_empty() {
                Ok(())
            } else {
                let files = vec![config.out.join(report::COMPARE_HTML_FILE), path];
                config.ci.write(
                    &report::ci_compare::comparison_suite(&comparison, files),
                    &report::ci_compare::comparison_items(&comparison),
                )
            };
            printed?;
            ci?;
            Ok(commands::compare_exit_code(&comparison))
        }
        Command::Demo(args) => demo::run(args),
        Command::Fixture(args) => fixture::run(args)
            .map(|code| u8::try_from(code).unwrap_or(1))
            .map_err(Error::Fixture),
    }
}

/// `analyze --prometheus`: judge the fleet, write its directory, print the table (or
/// fleet.json with `--format json`); exit 1 when any series fails.
fn analyze_fleet(args: cli::AnalyzeArgs) -> Result<u8, Error> {
    if args.baseline.baseline.is_some() {
        return Err(fleet::FleetError::Unsupported { flag: "--baseline" }.into());
    }
    let ci = config::ci_outputs(&args.ci, config::step_summary_env())?;
    let Some(url) = args.fleet.prometheus.clone() else {
        return Ok(EXIT_BAD_INPUT);
    };
    let config = fleet::FleetConfig::from_args(
        url,
        &args.fleet,
        args.format,
        config::JudgeOverrides::from_args(&args.judge),
        fleet::config::now_unix_s(),
    )?;
    let judged = fleet::run(&config)?;
    let text = match config.format {
        cli::OutputFormat::Text => report::fleet::fleet_table(&judged.fleet, Some(&judged.dir)),
        cli::OutputFormat::Json => {
            report::fleet::fleet_json(&judged.fleet).map_err(|e| Error::Output {
                what: "stdout",
                source: e.into(),
            })?
        }
    };
    let printed = output::product(&text);
    let ci_written = if ci.is_empty() {
        Ok(())
    } else {
        let files = vec![
            judged.dir.join(report::FLEET_HTML_FILE),
            judged.dir.join(report::FLEET_FILE),
        ];
        ci.write(
            &report::ci_fleet::fleet_suite(&judged.fleet, files),
            &report::ci_fleet::fleet_items(&judged.fleet),
        )
    };
    printed?;
    ci_written?;
    Ok(commands::verdict_exit_code(judged.fleet.verdict))
}
