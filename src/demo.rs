//! `soakprof demo`: profile the built-in fixture as an HTTP server that leaks a little
//! memory per request, while a plain request loop on 127.0.0.1 drives it. The fixture runs
//! as `soakprof fixture ...` so the demo needs no second binary built.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::{DemoArgs, JudgeArgs};
use crate::commands::{self, Companion};
use crate::config::RecordConfig;
use crate::sample::Backend;
use crate::target::TargetSpec;

/// Requests per second the demo sends, and what each leaks: 200 × 2 kB = 24 MB/min,
/// well above the default 10 MB/min fail threshold.
const DEMO_RPS: u64 = 200;
const DEMO_LEAK_KB: &str = "2";

/// The demo's request loop: one keep-alive connection, requests on a fixed schedule.
struct RequestLoop {
    port_file: PathBuf,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    worker: Option<JoinHandle<()>>,
    /// Hard bound on the loop's life, whatever happens to the run.
    max_life: Duration,
}

fn read_port(port_file: &Path, stop: &AtomicBool) -> Option<u16> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) && !stop.load(Ordering::Relaxed) {
        if let Ok(text) = std::fs::read_to_string(port_file)
            && let Ok(port) = text.trim().parse()
        {
            return Some(port);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// One GET on a keep-alive connection; reads the whole response.
fn get(conn: &mut BufReader<TcpStream>, scratch: &mut Vec<u8>) -> std::io::Result<()> {
    conn.get_mut()
        .write_all(b"GET /demo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut content_length = 0usize;
    let mut status_ok = false;
    loop {
        scratch.clear();
        if conn.read_until(b'\n', scratch)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = String::from_utf8_lossy(scratch);
        if line.starts_with("HTTP/1.1 200") {
            status_ok = true;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    scratch.resize(content_length, 0);
    conn.read_exact(scratch)?;
    if status_ok {
        Ok(())
    } else {
        Err(std::io::Error::other("status not 200"))
    }
}

impl Companion for RequestLoop {
    fn start(&mut self, _run_dir: &Path) -> anyhow::Result<()> {
        let (port_file, stop, sent, errors, max_life) = (
            self.port_file.clone(),
            self.stop.clone(),
            self.sent.clone(),
            self.errors.clone(),
            self.max_life,
        );
        let worker = std::thread::Builder::new()
            .name("demo-load".into())
            .spawn(move || {
                let Some(port) = read_port(&port_file, &stop) else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let start = Instant::now();
                let period = Duration::from_secs(1) / DEMO_RPS as u32;
                let mut conn: Option<BufReader<TcpStream>> = None;
                let mut scratch = Vec::with_capacity(256);
                let mut n: u32 = 0;
                while !stop.load(Ordering::Relaxed) && start.elapsed() < max_life {
                    let next = period * n;
                    n += 1;
                    if let Some(wait) = next.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    if conn.is_none() {
                        conn = TcpStream::connect(("127.0.0.1", port))
                            .ok()
                            .map(BufReader::new);
                    }
                    let ok = conn.as_mut().is_some_and(|c| get(c, &mut scratch).is_ok());
                    if ok {
                        sent.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            })
            .context("starting the demo's request loop")?;
        self.worker = Some(worker);
        Ok(())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Run the demo; returns the exit code (0 when the demo ran, whatever the verdict).
pub fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("finding the soakprof executable")?;
    // Start from a clean directory, so nothing from an earlier demo is left in it.
    if args.out.join(crate::runlog::SAMPLES_FILE).exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("clearing {}", args.out.display()))?;
    }
    crate::runlog::create_run_dir(&args.out)?;
    let port_file = args.out.join("fixture.port");
    let _ = std::fs::remove_file(&port_file);
    let command = vec![
        exe.display().to_string(),
        "fixture".to_string(),
        "--serve".to_string(),
        "--leak-kb-per-request".to_string(),
        DEMO_LEAK_KB.to_string(),
        "--port-file".to_string(),
        port_file.display().to_string(),
    ];
    let config = RecordConfig {
        target: TargetSpec::Spawn(command),
        pick: None,
        children: false,
        interval: Duration::from_millis(250),
        duration: Some(args.duration),
        out: Some(args.out.clone()),
        judge: JudgeArgs::default(),
        quiet: args.quiet,
        fail_fast: false,
        backend: Backend::default_for_os(),
    };
    eprintln!(
        "soakprof demo: a fixture HTTP server leaking {DEMO_LEAK_KB} kB per request, {DEMO_RPS} requests/s from 127.0.0.1, recorded for {}",
        humantime::format_duration(args.duration)
    );
    let mut load = RequestLoop {
        port_file,
        stop: Arc::new(AtomicBool::new(false)),
        sent: Arc::default(),
        errors: Arc::default(),
        worker: None,
        max_life: args.duration + Duration::from_secs(30),
    };
    let outcome = commands::record(&config, Some(&mut load))?;
    eprintln!(
        "demo load: {} requests, {} errors",
        load.sent.load(Ordering::Relaxed),
        load.errors.load(Ordering::Relaxed)
    );
    print!(
        "{}",
        crate::report::summary_text(&outcome.verdict, &outcome.run_dir)
    );
    println!(
        "demo: verdict {} (the fixture leaks on purpose). Charts: {}/memory.svg, threads_fds.svg, cpu.svg; verdict: {}/verdict.json",
        outcome.verdict.verdict.as_str(),
        outcome.run_dir.display(),
        outcome.run_dir.display()
    );
    Ok(0)
}
