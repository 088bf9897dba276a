//! The live status: one factory decides between a TTY line (indicatif), plain lines every
//! minute (stderr not a terminal), or nothing (`--quiet`). Nothing else touches indicatif.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::load::LoadLive;
use crate::sample::Sample;
use crate::units::{format_byte_rate, format_bytes, format_duration_s};

/// Receives each sample as it is taken.
pub trait StatusSink {
    /// `slope_bytes_per_min`: the running RSS slope; `remaining_s`: time left when a
    /// duration was given.
    fn update(
        &mut self,
        sample: &Sample,
        slope_bytes_per_min: Option<f64>,
        remaining_s: Option<f64>,
    );
    /// A line worth showing at once (target exit, a gap).
    fn note(&mut self, message: &str);
    fn finish(&mut self);
}

/// The load driver's counters, shown on the status line, and the error share above which
/// the status warns once.
#[derive(Clone)]
pub struct LoadWatch {
    pub live: Arc<LoadLive>,
    pub warn_error_rate: f64,
}

impl LoadWatch {
    /// The load part of the line, and a warning the first time errors pass the bound.
    fn text(&self) -> (String, Option<String>) {
        (
            self.live.status_text(),
            self.live.error_warning(self.warn_error_rate),
        )
    }
}

/// Pick the status for this terminal.
pub fn make_status(quiet: bool, load: Option<LoadWatch>) -> Box<dyn StatusSink> {
    if quiet {
        Box::new(Hidden)
    } else if std::io::stderr().is_terminal() {
        Box::new(TtyStatus::new(load))
    } else {
        Box::new(PlainStatus {
            last_line: None,
            every: Duration::from_secs(60),
            load,
        })
    }
}

/// The status text: elapsed / remaining, RSS, threads, FDs, CPU, running slope.
pub fn status_line(s: &Sample, slope: Option<f64>, remaining_s: Option<f64>) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |v| v.to_string());
    let mut line = format!("{} elapsed", format_duration_s(s.t));
    if let Some(r) = remaining_s {
        line.push_str(&format!(", {} left", format_duration_s(r)));
    }
    line.push_str(&format!(
        " | RSS {} | threads {} | FDs {} | CPU {}",
        s.rss
            .map_or_else(|| "n/a".to_string(), |b| format_bytes(b as f64)),
        opt(s.threads),
        opt(s.fds),
        s.cpu
            .map_or_else(|| "n/a".to_string(), |c| format!("{c:.2} cores")),
    ));
    if let Some(procs) = s.procs.filter(|&p| p > 1) {
        line.push_str(&format!(" | {procs} procs"));
    }
    if let Some(slope) = slope {
        line.push_str(&format!(" | RSS trend {}", format_byte_rate(slope)));
    }
    line
}

struct Hidden;

impl StatusSink for Hidden {
    fn update(&mut self, _: &Sample, _: Option<f64>, _: Option<f64>) {}
    fn note(&mut self, _: &str) {}
    fn finish(&mut self) {}
}

struct TtyStatus {
    bar: ProgressBar,
    last_draw: Option<Instant>,
    load: Option<LoadWatch>,
}

impl TtyStatus {
    fn new(load: Option<LoadWatch>) -> TtyStatus {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        TtyStatus {
            bar,
            last_draw: None,
            load,
        }
    }
}

impl StatusSink for TtyStatus {
    fn update(&mut self, sample: &Sample, slope: Option<f64>, remaining_s: Option<f64>) {
        // At a 10 ms interval, formatting every sample would cost more than sampling.
        if self
            .last_draw
            .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let mut line = status_line(sample, slope, remaining_s);
        if let Some(load) = &self.load {
            let (text, warning) = load.text();
            line.push_str(" | ");
            line.push_str(&text);
            if let Some(warning) = warning {
                self.bar.println(format!("soakprof: {warning}"));
            }
        }
        self.bar.set_message(line);
        self.bar.tick();
    }
    fn note(&mut self, message: &str) {
        self.bar.println(message);
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

struct PlainStatus {
    last_line: Option<Instant>,
    every: Duration,
    load: Option<LoadWatch>,
}

impl StatusSink for PlainStatus {
    fn update(&mut self, sample: &Sample, slope: Option<f64>, remaining_s: Option<f64>) {
        if let Some(load) = &self.load
            && let Some(warning) = load.live.error_warning(load.warn_error_rate)
        {
            eprintln!("soakprof: {warning}");
        }
        if self.last_line.is_none_or(|t| t.elapsed() >= self.every) {
            self.last_line = Some(Instant::now());
            let mut line = status_line(sample, slope, remaining_s);
            if let Some(load) = &self.load {
                line.push_str(" | ");
                line.push_str(&load.live.status_text());
            }
            eprintln!("soakprof: {line}");
        }
    }
    fn note(&mut self, message: &str) {
        eprintln!("soakprof: {message}");
    }
    fn finish(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_missing_as_na() {
        let s = Sample {
            t: 75.0,
            rss: Some(52_400_000),
            threads: Some(9),
            fds: None,
            cpu: Some(0.5),
            ..Sample::default()
        };
        let line = status_line(&s, Some(1.2e6), Some(30.0));
        assert_eq!(
            line,
            "1 m 15 s elapsed, 30 s left | RSS 52.4 MB | threads 9 | FDs n/a | CPU 0.50 cores | RSS trend 1.20 MB/min"
        );
    }
}
