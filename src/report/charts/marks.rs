//! The run's events as marks on the time axis (target exits, PID reuse, fail-fast, load
//! stage changes, sampling gaps, the end of the run), and where their labels go: in rows at
//! the top of every panel, most important first, never over one another.

use super::axis::TimeAxis;
use plotters::style::BLACK;

use super::style::{GREY, LABEL_FONT, LIGHT_GREY, Look, Marker, PLOT_W_PX, VERMILLION, text_px};
use crate::process::signal_name;
use crate::runlog::load::LoadRun;
use crate::runlog::{EventKind, RunData};
use crate::units::format_duration_s;

/// Rows of event labels at the top of a panel; a label that finds no room in any is left
/// off (its marker line stays).
const MAX_LABEL_ROWS: usize = 3;
/// Event marker lines per chart at most (the most important kinds first), and sampling
/// gaps merged into at most this many markers.
const MAX_EVENT_LINES: usize = 60;
pub(super) const MAX_GAP_MARKERS: usize = 30;

/// Kinds of event marker, most important first: labels are placed in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum MarkKind {
    Exit,
    Restart,
    FailFast,
    Onset,
    RunEnd,
    Stopped,
    /// The start of the warm-up's shading: a label and no line.
    WarmUp,
    Stage,
    Gap,
}

impl MarkKind {
    /// Colour, width and dash of the marker line.
    fn look(self) -> Look {
        match self {
            MarkKind::Exit | MarkKind::Restart | MarkKind::FailFast => {
                Look::new(BLACK, 1, None, Marker::None)
            }
            MarkKind::Onset => Look::new(VERMILLION, 1, Some((6, 3)), Marker::None),
            MarkKind::RunEnd | MarkKind::Stopped | MarkKind::WarmUp => {
                Look::new(GREY, 1, None, Marker::None)
            }
            MarkKind::Stage => Look::new(GREY, 1, Some((3, 3)), Marker::None),
            MarkKind::Gap => Look::new(LIGHT_GREY, 1, None, Marker::None),
        }
    }
}

/// Something to mark on the time axis.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mark {
    pub t: f64,
    pub kind: MarkKind,
    pub label: String,
}

/// "warm: 50 req/s" for a load stage.
fn stage_label(load: &LoadRun, name: &str, target: f64) -> String {
    let per = match load.start.as_ref().and_then(|s| s.model.as_deref()) {
        Some("closed") => " users",
        Some("open") => " req/s",
        _ => "",
    };
    let target = if target.fract() == 0.0 {
        format!("{target:.0}")
    } else {
        format!("{target:.1}")
    };
    format!("{name}: {target}{per}")
}

pub(super) fn stage_marks(load: &LoadRun) -> Vec<Mark> {
    load.stages
        .iter()
        .map(|s| Mark {
            t: s.t,
            kind: MarkKind::Stage,
            label: stage_label(load, &s.name, s.target),
        })
        .collect()
}

/// The run's events as marks: target exits, PID reuse, fail-fast, load stage changes, and
/// sampling gaps merged into at most [`MAX_GAP_MARKERS`] (those close together share one).
pub(super) fn run_marks(run: &RunData, axis: &TimeAxis) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut gaps: Vec<(f64, f64)> = Vec::new();
    for event in &run.events {
        let (kind, label) = match &event.kind {
            EventKind::TargetExit {
                code,
                signal,
                by_profiler,
                ..
            } => {
                if *by_profiler {
                    (MarkKind::Stopped, "stopped".to_string())
                } else {
                    let label = match (signal, code) {
                        (Some(s), _) if signal_name(*s) != "signal" => signal_name(*s).to_string(),
                        (Some(s), _) => format!("signal {s}"),
                        (None, Some(c)) => format!("exit {c}"),
                        (None, None) => "exited".to_string(),
                    };
                    (MarkKind::Exit, label)
                }
            }
            EventKind::PidReused { .. } => (MarkKind::Restart, "PID reused".to_string()),
            EventKind::Restart { new_pid, .. } => (MarkKind::Restart, format!("restart {new_pid}")),
            EventKind::FailFast { .. } => (MarkKind::FailFast, "fail-fast".to_string()),
            EventKind::OomKill { victims, .. } => {
                let label = match victims.first() {
                    Some(v) => format!("OOM kill {}", v.pid),
                    None => "OOM kill".to_string(),
                };
                (MarkKind::Exit, label)
            }
            EventKind::CgroupGone { .. } => (MarkKind::Exit, "cgroup gone".to_string()),
            EventKind::Gap { late_s, .. } => {
                gaps.push((event.t, *late_s));
                continue;
            }
            EventKind::SmapsEvery { .. } | EventKind::ProfilerCpu(_) | EventKind::Stop { .. } => {
                continue;
            }
        };
        marks.push(Mark {
            t: event.t,
            kind,
            label,
        });
    }
    if let Some(load) = &run.load {
        marks.extend(stage_marks(load));
    }
    marks.extend(gap_marks(&gaps, axis.run_end_s));
    if axis.end_s() > axis.run_end_s * 1.05 {
        marks.push(Mark {
            t: axis.run_end_s,
            kind: MarkKind::RunEnd,
            label: "end of run".to_string(),
        });
    }
    marks
}

/// Gaps (time, seconds late) in at most [`MAX_GAP_MARKERS`] marks: gaps within 1% of the
/// run of each other share a mark ("3 gaps"), and more widely when there are many.
pub(super) fn gap_marks(gaps: &[(f64, f64)], run_end_s: f64) -> Vec<Mark> {
    let span = run_end_s.max(1e-9);
    let mut bins = 100usize;
    loop {
        let mut merged: Vec<(f64, usize, f64)> = Vec::new();
        let mut last_bin = usize::MAX;
        for &(t, late) in gaps {
            let bin = ((t / span * bins as f64).floor().max(0.0) as usize).min(bins - 1);
            match merged.last_mut() {
                Some(m) if bin == last_bin => m.1 += 1,
                _ => merged.push((t, 1, late)),
            }
            last_bin = bin;
        }
        if merged.len() <= MAX_GAP_MARKERS || bins <= MAX_GAP_MARKERS {
            return merged
                .into_iter()
                .map(|(t, n, late)| Mark {
                    t,
                    kind: MarkKind::Gap,
                    label: if n == 1 {
                        format!("gap {}", format_duration_s(late))
                    } else {
                        format!("{n} gaps")
                    },
                })
                .collect();
        }
        bins = MAX_GAP_MARKERS;
    }
}

/// A marker line placed on the axis, with its label's row (0 = top) and side.
pub(super) struct PlacedMark {
    /// In axis units.
    pub x: f64,
    pub look: Look,
    pub line: bool,
    /// The label, its row, and whether it goes to the left of the line.
    pub label: Option<(String, usize, bool)>,
}

/// Event markers of one chart, and how many rows of labels they take.
pub(super) struct Marks {
    pub placed: Vec<PlacedMark>,
    pub rows: usize,
}

/// Place labels in rows at the top of the plot so they do not overlap: most important
/// first, each in the first row with room, to the right of its line (to the left near the
/// right edge). A label with no room in [`MAX_LABEL_ROWS`] rows is left off.
pub(super) fn place_marks(marks: &[Mark], axis: &TimeAxis) -> Marks {
    let mut marks: Vec<&Mark> = marks
        .iter()
        .filter(|m| m.t >= 0.0 && axis.x(m.t) <= axis.end * 1.01)
        .collect();
    marks.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.t.total_cmp(&b.t)));
    marks.truncate(MAX_EVENT_LINES);
    let plot_w = f64::from(PLOT_W_PX);
    let mut rows: Vec<Vec<(f64, f64)>> = vec![Vec::new(); MAX_LABEL_ROWS];
    let mut used = 0;
    let placed = marks
        .into_iter()
        .map(|m| {
            let x = axis.x(m.t).min(axis.end);
            let px = x / axis.end * plot_w;
            let w = text_px(&m.label, LABEL_FONT) + 6.0;
            let left = px + w + 4.0 > plot_w;
            let span = if left {
                (px - w - 3.0, px)
            } else {
                (px, px + w + 3.0)
            };
            let row = rows.iter().position(|taken| {
                taken
                    .iter()
                    .all(|&(a, b)| span.1 + 2.0 < a || b + 2.0 < span.0)
            });
            let label = row.map(|r| {
                rows[r].push(span);
                used = used.max(r + 1);
                (m.label.clone(), r, left)
            });
            PlacedMark {
                x,
                look: m.kind.look(),
                line: m.kind != MarkKind::WarmUp,
                label,
            }
        })
        .collect();
    Marks { placed, rows: used }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_gaps_merge_into_few_markers() {
        let gaps: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64 * 17.0, 1.5)).collect();
        let marks = gap_marks(&gaps, 86_400.0);
        assert!(marks.len() <= MAX_GAP_MARKERS, "{}", marks.len());
        assert!(marks.iter().all(|m| m.label.ends_with(" gaps")));
        let one = gap_marks(&[(100.0, 2.5)], 86_400.0);
        assert_eq!(one[0].label, "gap 2.5 s");
    }

    #[test]
    fn event_labels_take_rows_and_do_not_overlap() {
        let axis = TimeAxis::new(100.0, 100.0);
        let mark = |t: f64, kind, label: &str| Mark {
            t,
            kind,
            label: label.into(),
        };
        let marks = [
            mark(10.0, MarkKind::Gap, "gap 1.5 s"),
            mark(10.5, MarkKind::Exit, "exit 3"),
            mark(11.0, MarkKind::Stage, "steady: 200 req/s"),
            mark(11.5, MarkKind::Gap, "2 gaps"),
            mark(12.0, MarkKind::Gap, "3 gaps"),
            mark(99.5, MarkKind::Restart, "PID reused"),
        ];
        let placed = place_marks(&marks, &axis);
        let labels: Vec<Option<(String, usize, bool)>> =
            placed.placed.iter().map(|p| p.label.clone()).collect();
        // The exit first, in the top row; then the stage and a gap below it; no room left
        // for the others; the last one goes to the left of its line.
        assert_eq!(labels[0], Some(("exit 3".into(), 0, false)));
        assert_eq!(labels[1], Some(("PID reused".into(), 0, true)));
        assert_eq!(labels[2], Some(("steady: 200 req/s".into(), 1, false)));
        assert_eq!(labels[3], Some(("gap 1.5 s".into(), 2, false)));
        assert_eq!((labels[4].clone(), labels[5].clone()), (None, None));
        assert_eq!(placed.rows, 3);
        assert_eq!(placed.placed.len(), 6, "every marker keeps its line");
    }
}
