//! Write a mixed fleet's process metrics as OpenMetrics for `promtool tsdb
//! create-blocks-from openmetrics`, for benches/measure/fleet_scale.sh:
//! `cargo run --release --example fleet_openmetrics -- FILE INSTANCES END_UNIX_S [HOURS] [STEP_S]`
//! (defaults: 24 h at 15 s; job `api`).

#[path = "../../fixtures/fleet_shapes.rs"]
mod fleet_shapes;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: Option<i64>| {
        args.get(i)
            .map(|a| a.parse::<i64>().ok().filter(|&n| n > 0))
            .unwrap_or(default)
    };
    let (Some(file), Some(instances), Some(end_unix_s), Some(hours), Some(step_s)) = (
        args.first(),
        number(1, None),
        number(2, None),
        number(3, Some(24)),
        number(4, Some(15)),
    ) else {
        eprintln!("usage: fleet_openmetrics FILE INSTANCES END_UNIX_S [HOURS] [STEP_S]");
        return ExitCode::from(2);
    };
    let span = fleet_shapes::Span {
        end_unix_s,
        duration_s: hours * 3600,
        step_s,
    };
    let fleet = fleet_shapes::mixed_fleet(instances as usize);
    let written = std::fs::File::create(file).and_then(|f| {
        let mut out = BufWriter::with_capacity(1 << 20, f);
        fleet_shapes::write_openmetrics(&mut out, "api", &fleet, &span)?;
        out.flush()
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_openmetrics: cannot write {file}: {e}");
            ExitCode::from(3)
        }
    }
}
