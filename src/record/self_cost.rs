//! What sampling costs soakprof itself: the CPU of the thread the loop runs on, read at
//! window boundaries only (one getrusage(2) every few seconds), as the mean over the run
//! and the worst window. The judging is the analysis's (`analysis::profiler`).

use crate::analysis::profiler::{
    PROFILER_CPU_MIN_WINDOW_S, PROFILER_CPU_WINDOW_S, ProfilerCpu, too_busy,
};

/// CPU seconds used so far by what is measured.
pub trait CpuMeter {
    /// `None` where it cannot be read.
    fn cpu_s(&self) -> Option<f64>;
}

/// The calling thread's CPU (user + system) on Linux; the process's elsewhere on Unix.
pub struct ThreadCpu;

impl CpuMeter for ThreadCpu {
    fn cpu_s(&self) -> Option<f64> {
        #[cfg(unix)]
        {
            #[cfg(target_os = "linux")]
            let who = libc::RUSAGE_THREAD;
            #[cfg(not(target_os = "linux"))]
            let who = libc::RUSAGE_SELF;
            // SAFETY: getrusage(2) fills the struct we own.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(who, &mut usage) } != 0 {
                return None;
            }
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            Some(secs(usage.ru_utime) + secs(usage.ru_stime))
        }
        #[cfg(not(unix))]
        None
    }
}

/// The profiler's cost over the run, window by window.
pub(super) struct SelfCost {
    /// (wall seconds, CPU seconds) where the run and the current window began.
    run_start: Option<(f64, f64)>,
    window_start: (f64, f64),
    max_cores: Option<f64>,
    /// The figures were written (and said) when a window first passed the bound.
    warned: bool,
}

/// What [`SelfCost::observe`] found.
pub(super) enum Observed {
    Nothing,
    /// A window passed the bound for the first time: say it, and log these figures.
    FirstTooBusy(ProfilerCpu),
}

impl SelfCost {
    pub(super) fn new() -> SelfCost {
        SelfCost {
            run_start: None,
            window_start: (0.0, 0.0),
            max_cores: None,
            warned: false,
        }
    }

    /// Called each tick at `now_s`; reads the meter at the start and when a window is full.
    pub(super) fn observe(&mut self, meter: &dyn CpuMeter, now_s: f64) -> Observed {
        let Some(_) = self.run_start else {
            if let Some(cpu) = meter.cpu_s() {
                self.run_start = Some((now_s, cpu));
                self.window_start = (now_s, cpu);
            }
            return Observed::Nothing;
        };
        if now_s - self.window_start.0 < PROFILER_CPU_WINDOW_S {
            return Observed::Nothing;
        }
        self.close_window(meter, now_s);
        match self.figures(meter, now_s) {
            Some(cpu) if !self.warned && too_busy(cpu.max_cores) => {
                self.warned = true;
                Observed::FirstTooBusy(cpu)
            }
            _ => Observed::Nothing,
        }
    }

    /// End the current window at `now_s` and start the next.
    fn close_window(&mut self, meter: &dyn CpuMeter, now_s: f64) {
        let Some(cpu) = meter.cpu_s() else {
            return;
        };
        let (t0, c0) = self.window_start;
        if now_s > t0 {
            let cores = (cpu - c0).max(0.0) / (now_s - t0);
            self.max_cores = Some(self.max_cores.map_or(cores, |m| m.max(cores)));
        }
        self.window_start = (now_s, cpu);
    }

    /// The figures so far; `None` before the first reading.
    fn figures(&self, meter: &dyn CpuMeter, now_s: f64) -> Option<ProfilerCpu> {
        let (t0, c0) = self.run_start?;
        let cpu = meter.cpu_s()?;
        let mean_cores = if now_s > t0 {
            (cpu - c0).max(0.0) / (now_s - t0)
        } else {
            0.0
        };
        Some(ProfilerCpu {
            mean_cores,
            max_cores: self.max_cores.unwrap_or(mean_cores),
            window_s: PROFILER_CPU_WINDOW_S,
        })
    }

    /// The figures at the end of the run: the last, shorter window counts when it is long
    /// enough to say something (or is the only one).
    pub(super) fn finish(&mut self, meter: &dyn CpuMeter, now_s: f64) -> Option<ProfilerCpu> {
        let open_s = now_s - self.window_start.0;
        if open_s >= PROFILER_CPU_MIN_WINDOW_S || self.max_cores.is_none() {
            self.close_window(meter, now_s);
        }
        self.figures(meter, now_s)
    }

    /// Did a window already pass the bound (and was it said)?
    pub(super) fn warned(&self) -> bool {
        self.warned
    }
}
