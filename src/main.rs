use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::error::ErrorKind;

use soakprof::cli::Cli;

/// clap's usage errors, flattened to one line (no usage block, no "try --help").
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    kept.join(" ")
}

/// How long the last diagnostics get to reach a stderr that blocks before soakprof exits.
const STDERR_DRAIN: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let code = parse_and_run();
    soakprof::output::drain_stderr(STDERR_DRAIN);
    code
}

fn parse_and_run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            soakprof::output::diag_line(format_args!("soakprof: {}", one_line(&err)));
            return ExitCode::from(soakprof::EXIT_BAD_INPUT);
        }
    };
    match soakprof::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            soakprof::output::diag_line(format_args!(
                "soakprof: error: {}",
                soakprof::error_line(&err)
            ));
            ExitCode::from(err.exit_code())
        }
    }
}
