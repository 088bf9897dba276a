//! The CPU chart: cores used, their mean over a few minutes when the run is too long to
//! draw whole, and the CPU limit.

use super::axis::TimeAxis;
use super::legend::legend_item;
use super::marks::{Mark, place_marks};
use super::panel::{ChartSpec, Level, PanelSpec, RefLine, within_reach};
use super::series::{Point, SampleSeries, Trace, Walk, trace_values};
use super::style::{CPU_LOOK, CPU_MEAN_LOOK, LIMIT_LOOK, MAX_POINTS, SINGLE_PANEL_PX};
use crate::analysis::RunVerdict;
use crate::columns::Metric;
use crate::runlog::RunData;
use crate::units::{short_duration, three_figures};

/// Points of the mean line drawn over a series too long to draw whole.
pub(super) const MEAN_POINTS: usize = 400;

/// "CPU: mean 0.25 cores, p95 0.30, max 0.31 (limit 0.50; pass)".
fn cpu_title(verdict: &RunVerdict) -> String {
    match (&verdict.metrics.cpu, verdict.capacity.cpu_limit_cores) {
        (Some(c), Some(limit)) => format!(
            "CPU: mean {} cores, p95 {}, max {} (limit {}; {})",
            three_figures(c.mean_cores),
            three_figures(c.p95_cores),
            three_figures(c.max_cores),
            three_figures(limit),
            c.verdict.as_str()
        ),
        (Some(c), None) => format!(
            "CPU: mean {} cores, p95 {}, max {} (no limit set)",
            three_figures(c.mean_cores),
            three_figures(c.p95_cores),
            three_figures(c.max_cores),
        ),
        (None, _) => "CPU: not measured".to_string(),
    }
}

pub(super) fn chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> ChartSpec {
    let cpu = SampleSeries::new(&run.columns, Metric::Cpu, 1.0);
    let trace = cpu.trace(CPU_LOOK);
    let mut legend = vec![legend_item("CPU (cores)", CPU_LOOK)];
    let data_max = trace_values(std::slice::from_ref(&trace)).fold(0.0, f64::max);
    let mut top = data_max;
    let mut refs = Vec::new();
    if let Some(cores) = verdict.capacity.cpu_limit_cores {
        let limit = Level {
            name: format!("CPU limit {} cores", three_figures(cores)),
            value: cores,
            look: LIMIT_LOOK,
            shown: within_reach(cores, data_max, 0.05),
        };
        if let Some(line) = limit.line(axis.end_s()) {
            top = top.max(cores);
            refs.push(RefLine {
                label_at_start: true,
                ..line
            });
        }
        legend.push(limit.legend_item());
    }
    let mut panel = PanelSpec::new("cores", (0.0, (top * 1.05).max(0.01)));
    // At one sample a second a day of CPU is a band from the min to the max of each pixel
    // column; its mean over a few minutes shows how the level moves.
    let (means, window_s) = bucket_means(cpu.walk(), cpu.len(), MEAN_POINTS);
    panel.traces = vec![trace];
    if window_s > 0.0 {
        legend.push(legend_item(
            format!("CPU, mean per {}", short_duration(window_s)),
            CPU_MEAN_LOOK,
        ));
        panel.traces.push(Trace::of_segments(&means, CPU_MEAN_LOOK));
    }
    panel.refs = refs;
    ChartSpec {
        title: cpu_title(verdict),
        panels: vec![panel],
        panel_px: SINGLE_PANEL_PX,
        marks: place_marks(marks, axis),
        legend,
    }
}

/// Consecutive points of one segment being averaged.
struct Bucket {
    n: usize,
    first_t: f64,
    last_t: f64,
    sum_t: f64,
    sum_v: f64,
}

impl Bucket {
    fn new() -> Bucket {
        // Sums start where `Iterator::sum` of floats starts: at -0.0.
        Bucket {
            n: 0,
            first_t: 0.0,
            last_t: 0.0,
            sum_t: -0.0,
            sum_v: -0.0,
        }
    }

    fn add(&mut self, (t, v): Point) {
        if self.n == 0 {
            self.first_t = t;
        }
        self.n += 1;
        self.last_t = t;
        self.sum_t += t;
        self.sum_v += v;
    }

    fn mean(&self) -> Point {
        let n = self.n as f64;
        (self.sum_t / n, self.sum_v / n)
    }

    /// The time a full bucket spans: from its first sample's tick to the tick after its
    /// last one.
    fn window_s(&self) -> f64 {
        let gaps = (self.n - 1) as f64;
        (self.last_t - self.first_t) * self.n as f64 / gaps
    }
}

/// The means of consecutive runs of points of each segment of a walk (about `points` in
/// all), when the series has more than [`MAX_POINTS`] of its `total` (fewer are drawn
/// whole, and need no mean), and the time each mean spans, seconds (0 when none were
/// made). One pass; the means are all it keeps.
pub(super) fn bucket_means(
    walk: impl Iterator<Item = Walk>,
    total: usize,
    points: usize,
) -> (Vec<Vec<Point>>, f64) {
    if total <= MAX_POINTS {
        return (Vec::new(), 0.0);
    }
    let size = total.div_ceil(points).max(2);
    let mut window_s: f64 = 0.0;
    let mut means = Vec::new();
    let mut segment = Vec::new();
    let mut bucket = Bucket::new();
    for step in walk {
        match step {
            Walk::Point(p) => {
                bucket.add(p);
                if bucket.n == size {
                    window_s = window_s.max(bucket.window_s());
                    segment.push(bucket.mean());
                    bucket = Bucket::new();
                }
            }
            Walk::Break => {
                if bucket.n > 0 {
                    segment.push(bucket.mean());
                    bucket = Bucket::new();
                }
                if !segment.is_empty() {
                    means.push(std::mem::take(&mut segment));
                }
            }
        }
    }
    if bucket.n > 0 {
        segment.push(bucket.mean());
    }
    if !segment.is_empty() {
        means.push(segment);
    }
    (means, window_s)
}

#[cfg(test)]
mod tests {
    use super::super::series::walk_segments;
    use super::*;

    #[test]
    fn means_cover_each_segment_and_say_their_window() {
        // Two segments at 1 Hz: 3000 points and 1005; buckets of 11.
        let first: Vec<Point> = (0..3000).map(|i| (i as f64, (i % 2) as f64)).collect();
        let second: Vec<Point> = (5000..6005).map(|i| (i as f64, 1.0)).collect();
        let total = first.len() + second.len();
        let (means, window_s) = bucket_means(walk_segments(&[first, second]), total, 400);
        assert_eq!(
            means.iter().map(Vec::len).collect::<Vec<_>>(),
            [273, 92],
            "full buckets, then the rest of each segment"
        );
        assert_eq!(means[0][0], (5.0, 5.0 / 11.0));
        assert_eq!(means[1][91], (6002.5, 1.0));
        assert_eq!(window_s, 11.0);
        // Few points are drawn whole: no means.
        let short: Vec<Point> = (0..100).map(|i| (i as f64, 1.0)).collect();
        assert_eq!(
            bucket_means(walk_segments(&[short]), 100, 400),
            (vec![], 0.0)
        );
    }
}
