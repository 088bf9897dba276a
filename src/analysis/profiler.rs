//! What sampling cost soakprof itself: the sampling thread's CPU, in cores, over the run
//! and at its worst over a window. Above [`PROFILER_CPU_WARN_CORES`] the run is a warning:
//! a profiler that busy competes with the target (on the 0.5-core instances capacity
//! planning is about, it takes what the target is judged on) and runs its own ticks late,
//! so samples go missing as gaps. The cost is in proportion to the sampling rate, so the
//! advice is a longer `--interval`.

use serde::{Deserialize, Serialize};

use super::{Finding, Subject, Verdict};
use crate::units::format_duration_s;

/// Above this many cores (in a window), the profiler's own cost is a warning.
pub const PROFILER_CPU_WARN_CORES: f64 = 0.5;

/// What an advised interval aims the profiler's cost at: half the warning level.
const ADVISED_CORES: f64 = PROFILER_CPU_WARN_CORES / 2.0;

/// Length of the windows the worst cost is taken over, seconds (the last, shorter one
/// counts when it is at least [`PROFILER_CPU_MIN_WINDOW_S`]).
pub const PROFILER_CPU_WINDOW_S: f64 = 5.0;
pub const PROFILER_CPU_MIN_WINDOW_S: f64 = 1.0;

/// The profiler's CPU as the log and the verdict (`run.profiler_cpu`) hold it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfilerCpu {
    /// Over the whole run so far.
    pub mean_cores: f64,
    /// The highest of the windows so far.
    pub max_cores: f64,
    /// The windows' length, seconds.
    pub window_s: f64,
}

/// Intervals advised, shortest first.
const NICE_INTERVALS_S: [f64; 13] = [
    0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

/// The interval that would cost about [`ADVISED_CORES`], the cost being in proportion to
/// the sampling rate: the first round value at or above it.
pub fn advised_interval_s(interval_s: f64, cores: f64) -> f64 {
    let wanted = interval_s * cores / ADVISED_CORES;
    NICE_INTERVALS_S
        .into_iter()
        .find(|&i| i >= wanted && i > interval_s)
        .unwrap_or(NICE_INTERVALS_S[NICE_INTERVALS_S.len() - 1].max(wanted))
}

/// Is this cost worth a warning?
pub fn too_busy(cores: f64) -> bool {
    cores.is_finite() && cores > PROFILER_CPU_WARN_CORES
}

/// The sentence said live and in the verdict.
pub fn busy_text(interval_s: f64, cpu: &ProfilerCpu) -> String {
    format!(
        "soakprof's sampling used up to {:.2} of a core (mean {:.2}) at a {} interval: samples may run late or be missed; a longer --interval ({}) costs proportionally less",
        cpu.max_cores,
        cpu.mean_cores,
        interval_text(interval_s),
        interval_text(advised_interval_s(interval_s, cpu.max_cores)),
    )
}

/// An interval as the options write it: `10 ms`, `2 s`, `5 m 0 s`.
fn interval_text(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format_duration_s(s)
    }
}

/// A warning when the profiler's own CPU passed the bound.
pub fn judge_profiler_cpu(interval_s: f64, cpu: Option<&ProfilerCpu>) -> Option<Finding> {
    let cpu = cpu.filter(|c| too_busy(c.max_cores))?;
    Some(Finding::new(
        Verdict::Warn,
        Subject::Log,
        busy_text(interval_s, cpu),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_profiler_is_a_warning_with_a_longer_interval() {
        // 300 processes at 10 ms: 0.96 of a core; 0.25 needs about 40 ms: 50 ms.
        let cpu = ProfilerCpu {
            mean_cores: 0.9,
            max_cores: 0.96,
            window_s: 5.0,
        };
        let finding = judge_profiler_cpu(0.01, Some(&cpu)).unwrap();
        assert_eq!(finding.verdict, Verdict::Warn);
        assert!(
            finding.text.contains("up to 0.96 of a core (mean 0.90)")
                && finding.text.contains("at a 10 ms interval")
                && finding.text.contains("--interval (50 ms)"),
            "{}",
            finding.text
        );
        let calm = ProfilerCpu {
            max_cores: 0.5,
            ..cpu
        };
        assert_eq!(judge_profiler_cpu(0.01, Some(&calm)), None);
        assert_eq!(judge_profiler_cpu(0.01, None), None);
        let nan = ProfilerCpu {
            max_cores: f64::NAN,
            ..cpu
        };
        assert_eq!(judge_profiler_cpu(0.01, Some(&nan)), None);
    }

    #[test]
    fn advised_intervals_are_round_and_longer() {
        assert_eq!(advised_interval_s(0.01, 0.96), 0.05);
        assert_eq!(advised_interval_s(0.01, 0.6), 0.05);
        assert_eq!(advised_interval_s(0.1, 0.6), 0.5);
        assert_eq!(advised_interval_s(1.0, 0.51), 5.0);
        // Never the interval already in use.
        assert_eq!(advised_interval_s(0.02, 0.25), 0.05);
        assert_eq!(advised_interval_s(600.0, 1.0), 2400.0);
    }
}
