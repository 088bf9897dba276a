//! The live status: one factory decides between a TTY line (indicatif), plain lines every
//! minute (stderr not a terminal), or nothing (`--quiet`). Nothing else touches indicatif.
//! Output goes through [`crate::output`]: a write that fails never stops sampling, and the
//! TTY line stops drawing for good once its terminal is gone.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::load::LoadLive;
use crate::output::{self, diag};
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
    /// Diagnostic write failures before the status started drawing.
    failures_at_start: u64,
    /// The terminal went away (a write failed, a hang-up, stderr no longer a terminal):
    /// nothing is drawn any more.
    gone: bool,
}

impl TtyStatus {
    fn new(load: Option<LoadWatch>) -> TtyStatus {
        let bar = ProgressBar::with_draw_target(
            None,
            ProgressDrawTarget::term_like(Box::new(StderrTerm::default())),
        );
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        TtyStatus {
            bar,
            last_draw: None,
            load,
            failures_at_start: output::stderr_failures(),
            gone: false,
        }
    }

    /// Is the terminal still there? Once it is not, the bar draws nowhere for good.
    fn terminal_here(&mut self) -> bool {
        if !self.gone
            && (output::hung_up()
                || output::stderr_failures() > self.failures_at_start
                || !std::io::stderr().is_terminal())
        {
            self.gone = true;
            self.bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        !self.gone
    }
}

impl StatusSink for TtyStatus {
    fn update(&mut self, sample: &Sample, slope: Option<f64>, remaining_s: Option<f64>) {
        // At a 10 ms interval, formatting every sample would cost more than sampling.
        if self
            .last_draw
            .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
            || !self.terminal_here()
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
        if self.terminal_here() {
            self.bar.println(message);
        }
    }
    fn finish(&mut self) {
        if self.terminal_here() {
            self.bar.finish_and_clear();
        }
    }
}

/// indicatif's terminal: stderr through [`output`], one write per redraw, and a buffer
/// that is emptied whatever the write did (console's buffered terminal keeps what it could
/// not write, and re-sends a growing buffer to a terminal that is gone).
#[derive(Debug, Default)]
struct StderrTerm {
    pending: Mutex<Vec<u8>>,
}

impl StderrTerm {
    fn add(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // A redraw is a line or two; a bound keeps a terminal that never takes them cheap.
        if pending.len() < 64 * 1024 {
            pending.extend_from_slice(bytes);
        }
        Ok(())
    }
}

impl TermLike for StderrTerm {
    fn width(&self) -> u16 {
        terminal_width().unwrap_or(80)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.add(format!("\x1b[{n}A").as_bytes())?;
        }
        Ok(())
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.add(format!("\x1b[{n}B").as_bytes())?;
        }
        Ok(())
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.add(format!("\x1b[{n}C").as_bytes())?;
        }
        Ok(())
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.add(format!("\x1b[{n}D").as_bytes())?;
        }
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.add(s.as_bytes())?;
        self.add(b"\n")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.add(s.as_bytes())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.add(b"\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        let bytes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if bytes.is_empty() {
            return Ok(());
        }
        output::write_stderr(&bytes)
    }
}

/// The width of the terminal on stderr, when it is one.
fn terminal_width() -> Option<u16> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills the winsize struct we own; a failure leaves it unused.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col > 0 {
            return Some(size.ws_col);
        }
    }
    None
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
            diag!("soakprof: {warning}");
        }
        if self.last_line.is_none_or(|t| t.elapsed() >= self.every) {
            self.last_line = Some(Instant::now());
            let mut line = status_line(sample, slope, remaining_s);
            if let Some(load) = &self.load {
                line.push_str(" | ");
                line.push_str(&load.live.status_text());
            }
            diag!("soakprof: {line}");
        }
    }
    fn note(&mut self, message: &str) {
        diag!("soakprof: {message}");
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
