//! `--follow`: a run whose target restarted is a series of lives. Each life is prepared
//! (warm-up, envelope, onset) and judged on its own, so a restart loop is never read as a
//! GC sawtooth, and growth that resets at each death is still a leak; the run's trend is
//! the life with the median slope.

use serde::{Deserialize, Serialize};

use super::sequential;
use super::trend::{Judged, JudgedMemory, MetricKind, Warmup, judge_trend_judging};
use super::verdict::{Finding, MetricTrend, Verdict};
use crate::columns::Columns;
use crate::runlog::{Event, EventKind, Thresholds};
use crate::units::format_duration_s;

/// The restarts of a followed target (`restarts` in verdict.json).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Restarts {
    pub count: usize,
    /// When each restart was seen, seconds since the start of the run.
    pub times_s: Vec<f64>,
    /// Mean time between the start of the run and the restarts, and between restarts:
    /// how long a life lasts on average (`null` without a restart).
    pub mean_spacing_s: Option<f64>,
    /// Lives with enough samples to judge RSS growth.
    pub lives_judged: usize,
}

/// The times of the run's restart events, in order.
pub fn restart_times(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Restart { .. }))
        .map(|e| e.t)
        .collect()
}

/// Mean life length: from the first sample to the last restart, divided by the restarts.
pub fn mean_spacing_s(first_t: f64, times: &[f64]) -> Option<f64> {
    let last = times.last()?;
    Some((last - first_t) / times.len() as f64)
}

/// One life's samples of a metric: `(t, value)` with `from <= t < to`.
fn life_series(columns: &Columns, kind: MetricKind, from: f64, to: f64) -> (Vec<f64>, Vec<f64>) {
    columns
        .points(kind.column())
        .filter(|&(t, _)| t >= from && t < to)
        .unzip()
}

/// Judge `kind` life by life (lives split at `restarts`): the median life's trend, with
/// the run's first, last, min, max and sample count, and a finding when it is not a pass.
/// `None` when no life has enough samples.
pub fn judge_lives(
    columns: &Columns,
    kind: MetricKind,
    thresholds: &Thresholds,
    restarts: &[f64],
    memory: JudgedMemory,
) -> Option<(Judged, usize)> {
    let warmup: Warmup = sequential::warmup_setting(thresholds);
    let mut bounds = vec![f64::NEG_INFINITY];
    bounds.extend_from_slice(restarts);
    bounds.push(f64::INFINITY);
    let mut lives: Vec<Judged> = bounds
        .windows(2)
        .filter_map(|w| {
            let (t, y) = life_series(columns, kind, w[0], w[1]);
            judge_trend_judging(&t, &y, kind, thresholds, warmup, memory)
        })
        .collect();
    if lives.is_empty() {
        return None;
    }
    let judged = lives.len();
    let (mut first, mut last) = (lives[0].trend.first, lives[judged - 1].trend.last);
    let min = lives
        .iter()
        .map(|l| l.trend.min)
        .fold(f64::INFINITY, f64::min);
    let max = lives
        .iter()
        .map(|l| l.trend.max)
        .fold(f64::NEG_INFINITY, f64::max);
    let samples = lives.iter().map(|l| l.trend.samples).sum();
    lives.sort_by(|a, b| a.trend.slope_per_min.total_cmp(&b.trend.slope_per_min));
    // The lower median: with an even count, the calmer of the two middle lives.
    let median = lives.swap_remove((judged - 1) / 2);
    let mut trend: MetricTrend = median.trend;
    std::mem::swap(&mut trend.first, &mut first);
    std::mem::swap(&mut trend.last, &mut last);
    trend.min = min;
    trend.max = max;
    trend.samples = samples;
    let finding = median.finding.map(|f| {
        let spacing = mean_spacing_s(columns.t().first().copied().unwrap_or(0.0), restarts)
            .map_or(String::new(), |s| {
                format!(", every {} on average", format_duration_s(s))
            });
        let text = format!(
            "{} grew {} in each of {judged} lives (median), restarted {} times{spacing}; life of the median: {}",
            kind.label(),
            kind.format_rate(trend.slope_per_min),
            restarts.len(),
            f.text
        );
        Finding {
            text,
            ..f
        }
    });
    Some((Judged { trend, finding }, judged))
}

/// The restart summary, when the target restarted.
pub fn summary(columns: &Columns, restarts: &[f64], lives_judged: usize) -> Option<Restarts> {
    if restarts.is_empty() {
        return None;
    }
    Some(Restarts {
        count: restarts.len(),
        times_s: restarts.to_vec(),
        mean_spacing_s: mean_spacing_s(columns.t().first().copied().unwrap_or(0.0), restarts),
        lives_judged,
    })
}

/// A pass-level note that says the restarts, when nothing else does.
pub fn restarts_finding(restarts: &Restarts) -> Finding {
    let spacing = restarts.mean_spacing_s.map_or(String::new(), |s| {
        format!(", every {} on average", format_duration_s(s))
    });
    Finding::new(
        Verdict::Pass,
        super::verdict::Subject::Summary,
        format!(
            "the target restarted {} times{spacing}; each of {} lives was judged on its own",
            restarts.count, restarts.lives_judged
        ),
    )
}

/// The events without the target exits that ended a life the target restarted from: the
/// restart is what they mean, and it is judged by the growth of each life, not as a crash.
pub fn without_restarted_exits(events: &[Event]) -> Vec<Event> {
    let restarted: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Restart { old_pid, .. } => Some(old_pid),
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter(|e| {
            !matches!(e.kind, EventKind::TargetExit { pid, by_profiler: false, .. } if restarted.contains(&pid))
        })
        .cloned()
        .collect()
}
