//! How the target and the load command ended, and the other run events that weigh on the
//! verdict (`--fail-fast`, a PID taken over by another program). One exit judge serves
//! both processes.

use super::verdict::{Finding, Subject, Verdict};
use crate::process::{Exit, signal_name};
use crate::runlog::{Event, EventKind};
use crate::units::format_duration_s;

/// Which process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// A target root process.
    Target { pid: u32 },
    /// The external load driver (`--load-cmd`).
    LoadCommand,
}

/// Judge one process that ended on its own (not stopped by soakprof) at `at_s`: a signal
/// or a non-zero status fails the run, an unknown status warns, status 0 is said only.
pub fn judge_exit(who: Who, exit: Exit, at_s: f64) -> Finding {
    let at = format_duration_s(at_s);
    let name = match who {
        Who::Target { pid } => format!("target (pid {pid})"),
        Who::LoadCommand => "the load command".to_string(),
    };
    let (verdict, text) = match exit {
        Exit::Signal(sig) => (
            Verdict::Fail,
            format!(
                "{name} was killed by signal {sig} ({}) after {at}",
                signal_name(sig)
            ),
        ),
        Exit::Code(0) => {
            let tail = match who {
                Who::Target { .. } => "",
                Who::LoadCommand => "; the load stopped there",
            };
            (
                Verdict::Pass,
                format!("{name} exited with status 0 after {at}{tail}"),
            )
        }
        Exit::Code(code) => (
            Verdict::Fail,
            format!("{name} exited with status {code} after {at}"),
        ),
        Exit::Unknown => {
            let why = match who {
                Who::Target { .. } => " (not a child of soakprof)",
                Who::LoadCommand => "",
            };
            (
                Verdict::Warn,
                format!("{name} exited after {at}; its exit status is unknown{why}"),
            )
        }
    };
    Finding::new(verdict, Subject::Exit, text)
}

/// Whether `pid` was seen to go as its cgroup's OOM-kill count rose.
fn oom_victim(events: &[Event], pid: u32) -> bool {
    events.iter().any(|e| match &e.kind {
        EventKind::OomKill { victims, .. } => victims.iter().any(|v| v.pid == pid),
        _ => false,
    })
}

/// Findings from the run's events, in the order they happened.
pub fn judge_events(events: &[Event]) -> Vec<Finding> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::TargetExit {
                by_profiler: true, ..
            } => None,
            EventKind::TargetExit {
                pid, code, signal, ..
            } => {
                let mut finding = judge_exit(
                    Who::Target { pid: *pid },
                    Exit::from_parts(*code, *signal),
                    event.t,
                );
                if oom_victim(events, *pid) {
                    finding.text.push_str(": the OOM killer killed it");
                }
                Some(finding)
            }
            EventKind::FailFast { reason } => Some(Finding::new(
                Verdict::Fail,
                Subject::FailFast,
                format!(
                    "stopped early at {} by --fail-fast: {reason}",
                    format_duration_s(event.t)
                ),
            )),
            EventKind::PidReused { pid } => Some(Finding::new(
                Verdict::Warn,
                Subject::PidReused,
                format!(
                    "target pid {pid} was reused by another program at {}; sampling stopped there",
                    format_duration_s(event.t)
                ),
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::synthetic;

    #[test]
    fn exit_status_and_signal_fail() {
        let exit = |code, signal| Event {
            t: 20.0,
            kind: EventKind::TargetExit {
                pid: 42,
                code,
                signal,
                by_profiler: false,
            },
        };
        let samples = synthetic::linear_rss(30, 0.0);
        let v = analyse(
            &synthetic::run(&samples, vec![exit(Some(3), None)]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(
            v.reasons.iter().any(|r| r.contains("exited with status 3")),
            "{:?}",
            v.reasons
        );
        let v = analyse(
            &synthetic::run(&samples, vec![exit(None, Some(9))]),
            &AnalysisConfig::default(),
        );
        assert!(
            v.reasons.iter().any(|r| r.contains("signal 9 (SIGKILL)")),
            "{:?}",
            v.reasons
        );
        let v = analyse(
            &synthetic::run(&samples, vec![exit(Some(0), None)]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Pass);
        let stopped = Event {
            t: 20.0,
            kind: EventKind::TargetExit {
                pid: 1,
                code: None,
                signal: Some(15),
                by_profiler: true,
            },
        };
        assert_eq!(
            analyse(
                &synthetic::run(&samples, vec![stopped]),
                &AnalysisConfig::default()
            )
            .verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn one_judge_for_target_and_load_command() {
        let cases = [
            (
                Who::Target { pid: 42 },
                Exit::Code(3),
                Verdict::Fail,
                "target (pid 42) exited with status 3 after 20 s",
            ),
            (
                Who::Target { pid: 42 },
                Exit::Signal(9),
                Verdict::Fail,
                "target (pid 42) was killed by signal 9 (SIGKILL) after 20 s",
            ),
            (
                Who::Target { pid: 42 },
                Exit::Code(0),
                Verdict::Pass,
                "target (pid 42) exited with status 0 after 20 s",
            ),
            (
                Who::Target { pid: 42 },
                Exit::Unknown,
                Verdict::Warn,
                "target (pid 42) exited after 20 s; its exit status is unknown (not a child of soakprof)",
            ),
            (
                Who::LoadCommand,
                Exit::Code(0),
                Verdict::Pass,
                "the load command exited with status 0 after 20 s; the load stopped there",
            ),
            (
                Who::LoadCommand,
                Exit::Code(4),
                Verdict::Fail,
                "the load command exited with status 4 after 20 s",
            ),
            (
                Who::LoadCommand,
                Exit::Signal(15),
                Verdict::Fail,
                "the load command was killed by signal 15 (SIGTERM) after 20 s",
            ),
            (
                Who::LoadCommand,
                Exit::Unknown,
                Verdict::Warn,
                "the load command exited after 20 s; its exit status is unknown",
            ),
        ];
        for (who, exit, verdict, text) in cases {
            let f = judge_exit(who, exit, 20.0);
            assert_eq!((f.verdict, f.text.as_str()), (verdict, text));
        }
    }

    #[test]
    fn a_target_soakprof_stopped_is_no_finding() {
        let events = [Event {
            t: 5.0,
            kind: EventKind::TargetExit {
                pid: 1,
                code: None,
                signal: Some(15),
                by_profiler: true,
            },
        }];
        assert!(judge_events(&events).is_empty());
    }
}
