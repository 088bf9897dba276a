//! The floor for sampling one process on Linux: read the same /proc files soakprof reads
//! (stat and the FD count on every sample; status, io and /proc/meminfo on every
//! `--detail-every`-th) with no parsing, no formatting and no output. `benches/compare.sh`
//! runs it next to the profilers so every figure comes from one run on one machine.
//!
//! Two ways of reading, both printed as one JSON line each:
//! - `path`: open, one read, close, for every file on every iteration;
//! - `held`: the files opened once and re-read from offset 0 with pread.
//!
//! The FD count is one `stat()` of /proc/PID/fd (its size is the count on Linux ≥ 6.2).
//! CPU is this process's own (CLOCK_PROCESS_CPUTIME_ID, user + system).
//!
//! With `--every MS` the reads are paced like a sampler's (one round, then sleep to the
//! next tick), so the figure includes what waking up costs: cold caches and the sleep
//! itself; a third line (`sleep`) gives the cost of waking up with nothing read.
//!
//!   usage: proc_floor PID SECONDS [--smaps] [--every MS] [--detail-every N]

use std::fs::File;
use std::hint::black_box;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Run `one` repeatedly for `seconds`, back to back or once per `every`; CPU µs per call.
fn measure(seconds: f64, every: Option<Duration>, mut one: impl FnMut()) -> (u64, f64) {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let cpu_start = cpu_s();
    let mut iterations = 0u64;
    match every {
        None => {
            while Instant::now() < until {
                // Check the clock every 64 calls so it adds nothing measurable.
                for _ in 0..64 {
                    one();
                }
                iterations += 64;
            }
        }
        Some(every) => {
            while Instant::now() < until {
                one();
                iterations += 1;
                let next = start + every * u32::try_from(iterations).unwrap_or(u32::MAX);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        }
    }
    (iterations, (cpu_s() - cpu_start) * 1e6 / iterations as f64)
}

/// The value after `--name`, parsed.
fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(pid), Some(seconds)) = (
        args.first().and_then(|s| s.parse::<u32>().ok()),
        args.get(1).and_then(|s| s.parse::<f64>().ok()),
    ) else {
        eprintln!("usage: proc_floor PID SECONDS [--smaps] [--every MS] [--detail-every N]");
        return ExitCode::from(2);
    };
    let smaps = args.iter().any(|a| a == "--smaps");
    let every = option::<f64>(&args, "--every")
        .filter(|ms| *ms > 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1e3));
    let detail_every = option::<u64>(&args, "--detail-every")
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let every_ms = every.map_or("null".to_owned(), |d| format!("{}", d.as_secs_f64() * 1e3));
    // paths[0] is read every time, the rest every `detail_every`-th time.
    let mut leaves = vec!["stat", "status", "io"];
    if smaps {
        leaves.push("smaps_rollup");
    }
    let mut paths: Vec<String> = leaves.iter().map(|l| format!("/proc/{pid}/{l}")).collect();
    paths.push("/proc/meminfo".to_owned());
    let mut round = 0u64;
    let mut take = move || {
        round += 1;
        if (round - 1).is_multiple_of(detail_every) {
            usize::MAX
        } else {
            1
        }
    };
    let fd_dir = format!("/proc/{pid}/fd");
    let mut buf = vec![0u8; 8192];

    let held: Vec<File> = match paths.iter().map(File::open).collect() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("proc_floor: cannot open the files of PID {pid}: {e}");
            return ExitCode::from(2);
        }
    };
    let fd_count = std::fs::metadata(&fd_dir).map(|m| m.len()).unwrap_or(0);

    let (n, us) = measure(seconds / 2.0, every, || {
        for path in paths.iter().take(take()) {
            if let Ok(mut file) = File::open(path) {
                black_box(file.read(&mut buf).ok());
            }
        }
        black_box(std::fs::metadata(&fd_dir).map(|m| m.len()).ok());
    });
    println!(
        "{{\"mode\":\"path\",\"pid\":{pid},\"smaps\":{smaps},\"every_ms\":{every_ms},\"detail_every\":{detail_every},\"fds\":{fd_count},\"iterations\":{n},\"cpu_us_per_iter\":{us:.3}}}"
    );

    let (n, us) = measure(seconds / 2.0, every, || {
        for file in held.iter().take(take()) {
            black_box(file.read_at(&mut buf, 0).ok());
        }
        black_box(std::fs::metadata(&fd_dir).map(|m| m.len()).ok());
    });
    println!(
        "{{\"mode\":\"held\",\"pid\":{pid},\"smaps\":{smaps},\"every_ms\":{every_ms},\"detail_every\":{detail_every},\"fds\":{fd_count},\"iterations\":{n},\"cpu_us_per_iter\":{us:.3}}}"
    );
    if every.is_some() {
        // Waking up alone, with nothing read: what any sampler pays per tick.
        let (n, us) = measure(seconds / 2.0, every, || {});
        println!(
            "{{\"mode\":\"sleep\",\"pid\":{pid},\"every_ms\":{every_ms},\"iterations\":{n},\"cpu_us_per_iter\":{us:.3}}}"
        );
    }
    ExitCode::SUCCESS
}
