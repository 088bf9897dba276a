//! The series a chart draws, read straight from the run's columns (or its load intervals)
//! and thinned as they are read, so that drawing a week-long run takes memory for the
//! points drawn and none for the samples.
//!
//! A series is walked in time order as points and breaks ([`Walk`]). Its walk can be made
//! again, the same each time, so a series is read in a few passes instead of being held:
//! the typical step (for the breaks) by exact selection over the replayed steps, then one
//! pass to learn how long each segment is, then one in which each segment is thinned to
//! its share as its points are read.
//!
//! Thinning keeps the first-occurring minimum and maximum of each bucket, in time order,
//! about two points per pixel column: peaks and troughs stay. It is for display only; the
//! analysis always uses every sample.

use std::iter::once;

use super::style::{Look, MAX_POINTS};
use crate::analysis::stats::select_ranks;
use crate::columns::{Columns, Metric};
use crate::runlog::load::LoadInterval;

/// (seconds since the run start, value).
pub(super) type Point = (f64, f64);

/// One step of a walk over a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Walk {
    Point(Point),
    /// No line from the point before to the point after: the data stopped, or has no
    /// value here.
    Break,
}

/// A series of a chart, thinned for drawing, in segments (there is no line between two),
/// with its look.
pub(super) struct Trace {
    pub segments: Vec<Vec<Point>>,
    pub look: Look,
}

impl Trace {
    /// A walked series thinned to at most about [`MAX_POINTS`].
    pub fn of_walk<I: Iterator<Item = Walk>>(walk: impl Fn() -> I, look: Look) -> Trace {
        Trace {
            segments: thin_walk(walk, MAX_POINTS),
            look,
        }
    }

    /// Segments already in memory (a few hundred means), thinned like any other series.
    pub fn of_segments(segments: &[Vec<Point>], look: Look) -> Trace {
        Trace::of_walk(|| walk_segments(segments), look)
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

/// The values of every point the traces draw (their extent is the data's: thinning keeps
/// each bucket's minimum and maximum).
pub(super) fn trace_values(traces: &[Trace]) -> impl Iterator<Item = f64> + '_ {
    traces
        .iter()
        .flat_map(|t| t.segments.iter().flatten())
        .map(|p| p.1)
}

/// A walk over segments held in memory.
pub(super) fn walk_segments(segments: &[Vec<Point>]) -> impl Iterator<Item = Walk> + '_ {
    segments
        .iter()
        .flat_map(|s| s.iter().map(|&p| Walk::Point(p)).chain(once(Walk::Break)))
}

/// How many points each segment of a walk has, in order. One number per segment is
/// within the drawing's size: every segment draws at least one point.
fn segment_lengths(walk: impl Iterator<Item = Walk>) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut current = 0;
    for step in walk {
        match step {
            Walk::Point(_) => current += 1,
            Walk::Break if current > 0 => lengths.push(std::mem::take(&mut current)),
            Walk::Break => {}
        }
    }
    if current > 0 {
        lengths.push(current);
    }
    lengths
}

/// Thin a walked series to about `max_points` in all: whole when it has no more, else each
/// segment thinned to its share, in proportion to its length (at least 4). `walk` makes
/// the same walk each time; the series is walked twice (to learn its segments' lengths,
/// then to thin them) and never held.
pub(super) fn thin_walk<I: Iterator<Item = Walk>>(
    walk: impl Fn() -> I,
    max_points: usize,
) -> Vec<Vec<Point>> {
    let lengths = segment_lengths(walk());
    let total: usize = lengths.iter().sum();
    let mut points = walk().filter_map(|step| match step {
        Walk::Point(p) => Some(p),
        Walk::Break => None,
    });
    lengths
        .into_iter()
        .map(|len| {
            let segment = points.by_ref().take(len);
            if total <= max_points {
                segment.collect()
            } else {
                thin_segment(segment, len, (max_points * len / total).max(4))
            }
        })
        .collect()
}

/// One segment of `len` points in about `max_points`: whole when it has no more, else in
/// `max_points / 2` buckets of equal size, each as its first-occurring minimum and maximum
/// in time order, a point repeated right after itself dropped.
fn thin_segment(points: impl Iterator<Item = Point>, len: usize, max_points: usize) -> Vec<Point> {
    if len <= max_points || max_points < 4 {
        return points.collect();
    }
    let buckets = max_points / 2;
    let size = len.div_ceil(buckets);
    let mut out: Vec<Point> = Vec::with_capacity(buckets * 2 + 2);
    let mut flush = |(lo, hi): (Point, Point)| {
        let pair = if lo.0 <= hi.0 { [lo, hi] } else { [hi, lo] };
        for p in pair {
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
    };
    let mut bucket: Option<(Point, Point)> = None;
    let mut in_bucket = 0;
    for p in points {
        let (lo, hi) = bucket.get_or_insert((p, p));
        if p.1 < lo.1 {
            *lo = p;
        }
        if p.1 > hi.1 {
            *hi = p;
        }
        in_bucket += 1;
        if in_bucket == size {
            bucket.take().into_iter().for_each(&mut flush);
            in_bucket = 0;
        }
    }
    bucket.into_iter().for_each(&mut flush);
    out
}

/// The middle of a replayed stream by `f64::total_cmp`: for an even count, the upper of
/// the two middle values, not their mean, so the typical step is a step some samples
/// took. Exact; a long stream is never held (a short one is copied: at most 1 MiB).
/// `None` when it is empty.
pub(super) fn upper_middle<I: Iterator<Item = f64>>(replay: impl Fn() -> I) -> Option<f64> {
    select_ranks(&replay, |count| vec![count / 2]).map(|picked| picked.values[0])
}

/// The rows of a metric with a finite value, as points.
fn finite_points(columns: &Columns, metric: Metric) -> impl Iterator<Item = Point> + '_ {
    columns.points(metric).filter(|(_, v)| v.is_finite())
}

/// A sample metric as a series, values divided by a scale: the line breaks where the
/// samples stop for more than five of their typical intervals (a stalled profiler, a
/// suspended host), so a gap shows as a gap. A metric read only on some ticks (PSS/USS
/// every n-th) keeps its own typical interval.
pub(super) struct SampleSeries<'c> {
    columns: &'c Columns,
    metric: Metric,
    /// Values are drawn divided by this (bytes in MB: 1e6).
    scale: f64,
    /// A step longer than this (five typical steps), seconds, breaks the line.
    break_over_s: f64,
}

impl<'c> SampleSeries<'c> {
    pub fn new(columns: &'c Columns, metric: Metric, scale: f64) -> SampleSeries<'c> {
        // Each step from the point before: one walk per replay.
        let steps = || {
            let mut prev_t: Option<f64> = None;
            finite_points(columns, metric).filter_map(move |(t, _)| {
                let step = prev_t.map(|prev| t - prev);
                prev_t = Some(t);
                step
            })
        };
        let typical_s = upper_middle(steps).unwrap_or(0.0);
        SampleSeries {
            columns,
            metric,
            scale,
            break_over_s: 5.0 * typical_s,
        }
    }

    pub fn walk(&self) -> impl Iterator<Item = Walk> + '_ {
        BreakingWalk {
            points: finite_points(self.columns, self.metric),
            scale: self.scale,
            break_over_s: self.break_over_s,
            prev_t: None,
            after_break: None,
        }
    }

    /// How many points the series has.
    pub fn len(&self) -> usize {
        finite_points(self.columns, self.metric).count()
    }

    pub fn trace(&self, look: Look) -> Trace {
        Trace::of_walk(|| self.walk(), look)
    }
}

/// The walk of a [`SampleSeries`]: its points, with a break before each one that comes
/// too long after the one before. (A state machine rather than a `flat_map`: the walk is
/// made a few times over every sample of every series.)
struct BreakingWalk<P> {
    points: P,
    scale: f64,
    break_over_s: f64,
    prev_t: Option<f64>,
    /// The point that comes after the break just walked.
    after_break: Option<Point>,
}

impl<P: Iterator<Item = Point>> Iterator for BreakingWalk<P> {
    type Item = Walk;

    fn next(&mut self) -> Option<Walk> {
        if let Some(p) = self.after_break.take() {
            return Some(Walk::Point(p));
        }
        let (t, v) = self.points.next()?;
        let gap = self.prev_t.is_some_and(|prev| t - prev > self.break_over_s);
        self.prev_t = Some(t);
        let p = (t, v / self.scale);
        if gap {
            self.after_break = Some(p);
            Some(Walk::Break)
        } else {
            Some(Walk::Point(p))
        }
    }
}

/// A per-interval load value as a trace, each value placed at its interval's end (the
/// samples' clock). A missing value (no responses in the interval) or missing intervals
/// (more than 1.5 intervals between two ends) break the line, so a gap shows as a gap and
/// not as a zero.
pub(super) fn interval_trace(
    intervals: &[LoadInterval],
    value: impl Fn(&LoadInterval) -> Option<f64>,
    look: Look,
) -> Trace {
    let typical_s =
        upper_middle(|| intervals.iter().map(|i| i.dt_s).filter(|d| *d > 0.0)).unwrap_or(0.0);
    let value = &value;
    let walk = || {
        let mut prev_t: Option<f64> = None;
        intervals.iter().flat_map(move |interval| {
            let gap = prev_t.is_some_and(|p| interval.t - p > 1.5 * interval.dt_s.max(typical_s));
            prev_t = Some(interval.t);
            let here = match value(interval).filter(|v| v.is_finite()) {
                Some(v) => Walk::Point((interval.t, v)),
                None => Walk::Break,
            };
            gap.then_some(Walk::Break).into_iter().chain(once(here))
        })
    };
    Trace::of_walk(walk, look)
}

#[cfg(test)]
mod tests {
    use super::super::style::CPU_LOOK;
    use super::super::test_kit::load_run;
    use super::*;
    use crate::sample::Sample;

    fn thin_points(points: &[Point], max_points: usize) -> Vec<Point> {
        let held = [points.to_vec()];
        let mut segments = thin_walk(|| walk_segments(&held), max_points);
        assert!(segments.len() <= 1);
        segments.pop().unwrap_or_default()
    }

    #[test]
    fn thinning_keeps_extremes() {
        let mut pts: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, (i % 100) as f64)).collect();
        pts[54_321].1 = 1e6; // a one-sample spike
        pts[77_777].1 = -1e6;
        let thin = thin_points(&pts, 1000);
        assert!(thin.len() <= 1002, "{}", thin.len());
        assert!(thin.iter().any(|p| p.1 == 1e6) && thin.iter().any(|p| p.1 == -1e6));
        assert!(
            thin.windows(2).all(|w| w[0].0 <= w[1].0),
            "time stays ordered"
        );
    }

    #[test]
    fn load_segments_break_at_missing_values_and_intervals() {
        let run = load_run();
        let p50 = interval_trace(&run.intervals, |i| i.latency_ms.p50, CPU_LOOK).segments;
        let spans: Vec<(f64, f64, usize)> = p50
            .iter()
            .map(|s| (s[0].0, s[s.len() - 1].0, s.len()))
            .collect();
        assert_eq!(
            spans,
            vec![(1.0, 20.0, 20), (26.0, 40.0, 15), (45.0, 60.0, 16)]
        );
        assert!(
            p50.iter().flatten().all(|p| p.1 > 0.0),
            "gaps are not zeros"
        );
        // Throughput has a value in every interval: only the missing ones break it.
        let rps = interval_trace(&run.intervals, |i| Some(i.rps), CPU_LOOK);
        assert_eq!(rps.segments.len(), 2);
        let mut long = vec![(0.0, 0.0); 10_000];
        long.extend(vec![(1.0, 1.0); 10]);
        let held = [long, vec![(2.0, 2.0)]];
        let thinned = thin_walk(|| walk_segments(&held), 1000);
        assert_eq!(thinned.len(), 2);
        assert!(thinned[0].len() <= 1002 && thinned[1].len() == 1);
    }

    #[test]
    fn sample_lines_break_at_long_stalls_only() {
        let samples: Vec<Sample> = (0..100)
            .filter(|i| !(40..60).contains(i))
            .map(|i| Sample {
                t: i as f64,
                rss: Some(1),
                // Read every third tick only: not a gap.
                pss: (i % 3 == 0).then_some(1),
                ..Sample::default()
            })
            .collect();
        let columns = crate::synthetic::columns(&samples);
        let lens = |metric| -> Vec<usize> {
            SampleSeries::new(&columns, metric, 1.0)
                .trace(CPU_LOOK)
                .segments
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(lens(Metric::Rss), vec![40, 40]);
        assert_eq!(lens(Metric::Pss), vec![14, 14]);
    }

    /// What the charts drew before they streamed: every point materialised in segments
    /// (the typical step by sorting all steps), then each segment thinned to its share.
    fn materialised(columns: &Columns, metric: Metric, scale: f64) -> Vec<Vec<Point>> {
        let points: Vec<Point> = columns
            .points(metric)
            .filter(|(_, v)| v.is_finite())
            .collect();
        let mut steps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        steps.sort_by(f64::total_cmp);
        let typical = steps.get(steps.len() / 2).copied().unwrap_or(0.0);
        let mut segments: Vec<Vec<Point>> = Vec::new();
        let mut current: Vec<Point> = Vec::new();
        for p in points {
            if current.last().is_some_and(|l| p.0 - l.0 > 5.0 * typical) {
                segments.push(std::mem::take(&mut current));
            }
            current.push(p);
        }
        if !current.is_empty() {
            segments.push(current);
        }
        let segments: Vec<Vec<Point>> = segments
            .into_iter()
            .map(|s| s.into_iter().map(|(t, v)| (t, v / scale)).collect())
            .collect();
        let total: usize = segments.iter().map(Vec::len).sum();
        if total <= MAX_POINTS {
            return segments;
        }
        let thin = |s: &[Point], max_points: usize| -> Vec<Point> {
            if s.len() <= max_points {
                return s.to_vec();
            }
            let mut out = Vec::new();
            for chunk in s.chunks(s.len().div_ceil(max_points / 2)) {
                let (mut lo, mut hi) = (chunk[0], chunk[0]);
                for &p in chunk {
                    if p.1 < lo.1 {
                        lo = p;
                    }
                    if p.1 > hi.1 {
                        hi = p;
                    }
                }
                out.extend(if lo.0 <= hi.0 { [lo, hi] } else { [hi, lo] });
            }
            out.dedup();
            out
        };
        segments
            .iter()
            .map(|s| thin(s, (MAX_POINTS * s.len() / total).max(4)))
            .collect()
    }

    #[test]
    fn streamed_traces_are_the_materialised_ones_point_for_point() {
        let mut rng = crate::rng::SplitMix64(11);
        // Long enough that the typical step is found by radix passes, not in place; with
        // stalls of every length, uneven steps, flat stretches and spikes.
        let mut t = 0.0;
        let samples: Vec<Sample> = (0..200_000u64)
            .map(|i| {
                t += match i % 9_973 {
                    0 => 40.0 + 100.0 * rng.unit_f64(),
                    1 => 5.5,
                    _ => 0.5 + (i % 3) as f64 * 0.25,
                };
                let flat = (50_000..60_000).contains(&i);
                Sample {
                    t,
                    rss: Some(if flat {
                        7 << 20
                    } else {
                        (100 << 20) + (rng.unit_f64() * 4e6) as u64
                    }),
                    pss: (i % 7 == 0).then_some(i * 4096),
                    uss: (i % 50_001 < 3).then_some(i),
                    cpu: (i % 11 != 0).then(|| rng.unit_f64()),
                    ..Sample::default()
                }
            })
            .collect();
        for n in [0, 1, 2, 1_000, 5_000, 200_000] {
            let columns = crate::synthetic::columns(&samples[..n]);
            for metric in [Metric::Rss, Metric::Pss, Metric::Uss, Metric::Cpu] {
                for scale in [1.0, 1e6] {
                    let streamed = SampleSeries::new(&columns, metric, scale).trace(CPU_LOOK);
                    let expected = materialised(&columns, metric, scale);
                    assert!(
                        streamed.segments == expected,
                        "{n} rows, {metric:?} / {scale}: {} vs {} segments",
                        streamed.segments.len(),
                        expected.len()
                    );
                }
            }
        }
    }
}
