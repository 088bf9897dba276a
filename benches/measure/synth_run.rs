//! Write a synthetic soak run directory (the test kit's soak shape) for the measurement
//! scripts: `cargo run --release --example synth_run -- DIR SAMPLES [--load] [--seed N]`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(samples)) = (args.first(), args.get(1).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: synth_run DIR SAMPLES [--load] [--seed N]");
        return ExitCode::from(2);
    };
    let load = args.iter().any(|a| a == "--load");
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = std::path::Path::new(dir);
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("synth_run: cannot create {}: {e}", dir.display());
        return ExitCode::from(3);
    }
    match soakprof::synthetic::write_soak_run(dir, samples, seed, load) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth_run: {e}");
            ExitCode::from(3)
        }
    }
}
