//! Cost of one sample of a realistic target: a process with 50 threads and 200+ open FDs.
//!
//! `raw_proc_reads` is the floor: reading the same /proc files with `std::fs` and no
//! parsing. The sampler variants should stay close to it.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use soakprof::sample::linux::LinuxSampler;
use soakprof::sample::portable::PortableSampler;
use soakprof::sample::{ProcId, ProcessTable, Sampler};

/// 1 main + 49 sleeping threads = 50; 200 /dev/null FDs plus stdin/stdout/stderr.
const TARGET_PY: &str = "import sys, threading, time
fds = [open('/dev/null') for _ in range(200)]
for _ in range(49):
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
print('ready', flush=True)
time.sleep(600)
";

/// The target process, killed when dropped (also when a benchmark panics).
struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_target() -> Target {
    let child = Command::new("python3")
        .args(["-c", TARGET_PY])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed to run this benchmark");
    let mut target = Target(child);
    let stdout = target.0.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("target output");
    assert_eq!(line.trim(), "ready", "target did not start");
    target
}

fn bench(c: &mut Criterion, id: ProcId) {
    let started = Instant::now();
    let elapsed_s = move || started.elapsed().as_secs_f64();

    let mut group = c.benchmark_group("sample");
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("raw_proc_reads", |b| {
        let dir = format!("/proc/{}", id.pid);
        let (stat, status, io, fd) = (format!("{dir}/stat"), format!("{dir}/status"), format!("{dir}/io"), format!("{dir}/fd"));
        b.iter(|| {
            black_box(std::fs::read(&stat).ok());
            black_box(std::fs::read(&status).ok());
            black_box(std::fs::read(&io).ok());
            black_box(std::fs::metadata(&fd).map(|m| m.len()).ok());
            black_box(std::fs::read("/proc/meminfo").ok());
        })
    });

    let mut linux = LinuxSampler::new();
    group.bench_function("linux", |b| {
        b.iter(|| black_box(linux.sample(&[id], false, elapsed_s(), false)))
    });

    let mut linux_smaps = LinuxSampler::new();
    group.bench_function("linux_smaps", |b| {
        b.iter(|| black_box(linux_smaps.sample(&[id], false, elapsed_s(), true)))
    });

    let mut portable = PortableSampler::new();
    group.bench_function("portable", |b| {
        b.iter(|| black_box(portable.sample(&[id], false, elapsed_s(), false)))
    });
    group.finish();
}

fn main() {
    let target = start_target();
    let mut sampler = LinuxSampler::new();
    let info = sampler
        .get(target.0.id())
        .expect("read target")
        .expect("target is running");
    let check = sampler.sample(&[info.id], false, 0.0, false).sample;
    eprintln!(
        "target pid {}: {} threads, {} fds, rss {} bytes",
        info.id.pid,
        check.threads.unwrap_or(0),
        check.fds.unwrap_or(0),
        check.rss.unwrap_or(0)
    );

    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, info.id);
    criterion.final_summary();
    drop(target);
}
