//! What a chart holds before it is drawn: its panels, each with its value range, traces,
//! reference lines and shading; the run's marks; the legend. And the one rule for a limit
//! or gate line that lies far above the data.

use super::legend::{LegendItem, legend_item};
use super::marks::Marks;
use super::series::Trace;
use super::style::Look;

/// A straight reference line (fitted trend, threshold, limit, gate, projection), from and
/// to (seconds since the start, value), clipped to the panel when drawn.
pub(super) struct RefLine {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub look: Look,
    /// On the right-hand axis.
    pub right: bool,
    /// A label at its right end (left end with `label_at_start`), above the line (below
    /// with `label_below`).
    pub end_label: Option<String>,
    pub label_below: bool,
    pub label_at_start: bool,
}

impl RefLine {
    pub fn new(from: (f64, f64), to: (f64, f64), look: Look) -> RefLine {
        RefLine {
            from,
            to,
            look,
            right: false,
            end_label: None,
            label_below: false,
            label_at_start: false,
        }
    }
}

/// How far above the data's top a limit or gate may lie and still be drawn, as a multiple
/// of that top: further up, the line would squash the data flat, so it is left off the
/// chart and its legend entry says so.
const LEVEL_REACH: f64 = 4.0;

/// Whether a limit or gate at `value` is drawn on a panel whose data reaches `data_top`
/// (taken as at least `floor`, so that a panel of near-zero data still shows a limit near
/// it).
pub(super) fn within_reach(value: f64, data_top: f64, floor: f64) -> bool {
    value <= LEVEL_REACH * data_top.max(floor)
}

/// A limit or gate: a horizontal line across a panel when it is shown, else only a legend
/// entry that says it is above the chart.
pub(super) struct Level {
    /// The line's label and legend entry: `CPU limit 0.50 cores`, `--max-p95 500 ms`.
    pub name: String,
    /// In the panel's unit.
    pub value: f64,
    pub look: Look,
    pub shown: bool,
}

impl Level {
    /// The legend text: the name, and `(above the chart)` when the line is not drawn.
    pub fn legend_label(&self) -> String {
        if self.shown {
            self.name.clone()
        } else {
            format!("{} (above the chart)", self.name)
        }
    }

    pub fn legend_item(&self) -> LegendItem {
        legend_item(self.legend_label(), self.look)
    }

    /// The line across the whole axis (to `end_s`), labelled with the name; `None` when
    /// the level is not shown.
    pub fn line(&self, end_s: f64) -> Option<RefLine> {
        self.shown.then(|| RefLine {
            end_label: Some(self.name.clone()),
            ..RefLine::new((0.0, self.value), (end_s, self.value), self.look)
        })
    }
}

/// The part of a segment inside a box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Clipped {
    pub from: (f64, f64),
    pub to: (f64, f64),
    /// The segment's end is inside the box (it was not cut short).
    pub ends_inside: bool,
}

/// The part of the segment `a`–`b` inside the box `x` × `y` (Liang–Barsky).
pub(super) fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    x: (f64, f64),
    y: (f64, f64),
) -> Option<Clipped> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x.0),
        (dx, x.1 - a.0),
        (-dy, a.1 - y.0),
        (dy, y.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some(Clipped {
        from: at(t0),
        to: at(t1),
        ends_inside: t1 >= 1.0,
    })
}

/// A shaded span of time (the warm-up; labelled with the event markers).
pub(super) struct Shade {
    pub from_s: f64,
    pub to_s: f64,
}

/// The right-hand value axis of a panel.
pub(super) struct RightAxis {
    pub desc: String,
    pub range: (f64, f64),
}

/// One plot of a chart.
pub(super) struct PanelSpec {
    pub caption: Option<String>,
    pub y_desc: String,
    /// Value range of the left axis, before room is made for the event labels.
    pub y_range: (f64, f64),
    pub right: Option<RightAxis>,
    pub traces: Vec<Trace>,
    pub right_traces: Vec<Trace>,
    pub refs: Vec<RefLine>,
    pub shades: Vec<Shade>,
    /// Whole-number ticks (counts).
    pub integer: bool,
}

impl PanelSpec {
    pub fn new(y_desc: impl Into<String>, y_range: (f64, f64)) -> PanelSpec {
        PanelSpec {
            caption: None,
            y_desc: y_desc.into(),
            y_range,
            right: None,
            traces: Vec::new(),
            right_traces: Vec::new(),
            refs: Vec::new(),
            shades: Vec::new(),
            integer: false,
        }
    }
}

/// A whole chart: title, panels stacked, event markers, legend.
pub(super) struct ChartSpec {
    pub title: String,
    pub panels: Vec<PanelSpec>,
    pub panel_px: u32,
    pub marks: Marks,
    pub legend: Vec<LegendItem>,
}

#[cfg(test)]
mod tests {
    use super::super::style::LIMIT_LOOK;
    use super::*;

    #[test]
    fn reference_lines_are_clipped_to_the_plot() {
        let clip = |a, b| clip_segment(a, b, (0.0, 10.0), (0.0, 100.0));
        // A steep threshold leaves through the top.
        let Clipped {
            from: a,
            to: b,
            ends_inside,
        } = clip((0.0, 50.0), (10.0, 250.0)).unwrap();
        assert_eq!((a, ends_inside), ((0.0, 50.0), false));
        assert!(
            (b.0 - 2.5).abs() < 1e-9 && (b.1 - 100.0).abs() < 1e-9,
            "{b:?}"
        );
        assert_eq!(clip((0.0, 150.0), (10.0, 200.0)), None);
        assert_eq!(
            clip((1.0, 1.0), (2.0, 2.0)),
            Some(Clipped {
                from: (1.0, 1.0),
                to: (2.0, 2.0),
                ends_inside: true
            })
        );
    }

    #[test]
    fn a_level_far_above_the_data_is_only_in_the_legend() {
        assert!(within_reach(40.0, 10.0, 1.0));
        assert!(!within_reach(40.1, 10.0, 1.0));
        // Near-zero data: the floor keeps a limit near it on the chart.
        assert!(within_reach(0.2, 0.0, 0.05));
        let level = |value: f64| Level {
            name: "CPU limit 2.00 cores".into(),
            value,
            look: LIMIT_LOOK,
            shown: within_reach(value, 0.4, 0.05),
        };
        let near = level(1.0);
        assert_eq!(near.legend_label(), "CPU limit 2.00 cores");
        let line = near.line(60.0).unwrap();
        assert_eq!((line.from, line.to), ((0.0, 1.0), (60.0, 1.0)));
        assert_eq!(line.end_label.as_deref(), Some("CPU limit 2.00 cores"));
        let far = level(2.0);
        assert_eq!(far.legend_label(), "CPU limit 2.00 cores (above the chart)");
        assert!(far.line(60.0).is_none());
    }
}
