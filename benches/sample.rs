//! Cost of one sample of a realistic target: a process with 50 threads and 200+ open FDs.
//!
//! `raw_proc_reads` is the floor for reading the same /proc files by path (open, one read,
//! close, no parsing). `linux` keeps the files of the target open and re-reads them with
//! pread, so it can come in under that floor.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use soakprof::sample::cgroup_sampler::{CgroupRole, CgroupSampler};
use soakprof::sample::cgroup_stats::SysFiles;
use soakprof::sample::linux::LinuxSampler;
use soakprof::sample::portable::PortableSampler;
use soakprof::sample::{ProcId, ProcessTable, Reads, Sampler};

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
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("target output");
    assert_eq!(line.trim(), "ready", "target did not start");
    target
}

fn bench(c: &mut Criterion, id: ProcId) {
    let started = Instant::now();
    let elapsed_s = move || started.elapsed().as_secs_f64();

    let mut group = c.benchmark_group("sample");
    group.measurement_time(Duration::from_secs(5));

    // The floor for reading by path: open, one read into a ready buffer, close; no parsing.
    group.bench_function("raw_proc_reads", |b| {
        let dir = format!("/proc/{}", id.pid);
        let files = [
            format!("{dir}/stat"),
            format!("{dir}/status"),
            format!("{dir}/io"),
            "/proc/meminfo".to_owned(),
        ];
        let fd_dir = format!("{dir}/fd");
        let mut buf = [0u8; 8192];
        b.iter(|| {
            for path in &files {
                if let Ok(mut file) = File::open(path) {
                    black_box(file.read(&mut buf).ok());
                }
            }
            black_box(std::fs::metadata(&fd_dir).map(|m| m.len()).ok());
        })
    });

    let mut linux = LinuxSampler::new();
    group.bench_function("linux", |b| {
        b.iter(|| black_box(linux.sample(&[id], false, elapsed_s(), Reads::BASIC)))
    });

    // What most samples read at short intervals: stat and the FD count only.
    let mut linux_core = LinuxSampler::new();
    group.bench_function("linux_core", |b| {
        b.iter(|| black_box(linux_core.sample(&[id], false, elapsed_s(), Reads::CORE)))
    });

    let mut linux_smaps = LinuxSampler::new();
    group.bench_function("linux_smaps", |b| {
        b.iter(|| black_box(linux_smaps.sample(&[id], false, elapsed_s(), Reads::ALL)))
    });

    // The same sample with the target's cgroup read alongside (every cgroup file soakprof
    // reads, where this host has them), as every Linux process target is sampled.
    if let Some((dirs, info)) = soakprof::target::cgroup::alongside_pid(id.pid) {
        let mut inner = LinuxSampler::new();
        let mut with_cgroup = CgroupSampler::new(
            &mut inner,
            dirs,
            Box::new(SysFiles),
            CgroupRole::Alongside,
            info.path,
        );
        group.bench_function("linux_with_cgroup", |b| {
            b.iter(|| black_box(with_cgroup.sample(&[id], false, elapsed_s(), Reads::BASIC)))
        });
    }

    let mut portable = PortableSampler::new();
    group.bench_function("portable", |b| {
        b.iter(|| black_box(portable.sample(&[id], false, elapsed_s(), Reads::BASIC)))
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
    let check = sampler.sample(&[info.id], false, 0.0, Reads::BASIC).sample;
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
