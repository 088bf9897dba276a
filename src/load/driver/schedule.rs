//! When requests start: the weighted pick of the next request kind, the closed model's
//! users, and the open model's schedule.
//!
//! Nothing here can hold the driver's thread: the open-model scheduler starts at most the
//! free in-flight slots' worth of requests per wake-up and counts the rest of what was due
//! as `dropped` in one step, so an absurd rate (or a driver paused for minutes) costs what
//! a sane one does and the stop request is seen at once.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::Shared;
use super::request::send;
use super::stats::Outcome;
use crate::load::scenario::{self, Model};
use crate::runlog::load::StageEvent;

/// A user whose connection was refused waits this long before its next try, so an
/// unreachable target does not turn the driver into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(100);
/// How often users are added or removed and stage changes noticed.
const CONTROL_TICK: Duration = Duration::from_millis(100);
/// The open-model scheduler never sleeps longer than this, so a ramp from a low rate is
/// followed promptly, nor shorter, so a high rate is served in batches.
const MAX_SCHEDULER_SLEEP: Duration = Duration::from_millis(100);
const MIN_SCHEDULER_SLEEP: Duration = Duration::from_millis(1);
/// Drops up to this many are attributed one by one by the picker (the exact mix); more
/// are split by weight in one step.
const EXACT_DROP_ATTRIBUTION: u64 = 1000;

/// Smooth weighted round-robin: over any stretch the mix follows the weights as closely
/// as whole requests allow (a 3:2:1 mix is exact every 6 requests), unlike random picks.
/// Weights are scaled so the largest is 1: any finite positive weights (1.797e308 each)
/// keep their proportions without overflowing.
pub(super) struct Picker {
    weights: Vec<f64>,
    current: Vec<f64>,
    total: f64,
}

impl Picker {
    pub(super) fn new(weights: Vec<f64>) -> Picker {
        let largest = weights.iter().copied().fold(0.0, f64::max);
        let weights: Vec<f64> = if largest > 0.0 && largest.is_finite() {
            weights.iter().map(|w| w / largest).collect()
        } else {
            vec![1.0; weights.len()]
        };
        Picker {
            current: vec![0.0; weights.len()],
            total: weights.iter().sum(),
            weights,
        }
    }

    pub(super) fn next(&mut self) -> usize {
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        best
    }

    /// `n` picks as counts per index: one by one when few, else by weight (the largest
    /// remainders get the leftovers) in time independent of `n`.
    pub(super) fn split(&mut self, n: u64) -> Vec<u64> {
        let mut counts = vec![0u64; self.weights.len()];
        if n <= EXACT_DROP_ATTRIBUTION {
            for _ in 0..n {
                counts[self.next()] += 1;
            }
            return counts;
        }
        let exact: Vec<f64> = self
            .weights
            .iter()
            .map(|w| n as f64 * w / self.total)
            .collect();
        for (count, share) in counts.iter_mut().zip(&exact) {
            *count = share.floor() as u64;
        }
        let mut left = n.saturating_sub(counts.iter().sum());
        let mut order: Vec<usize> = (0..counts.len()).collect();
        order.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor()))
        });
        for i in order.into_iter().cycle().take(counts.len() * 2) {
            if left == 0 {
                break;
            }
            counts[i] += 1;
            left -= 1;
        }
        counts
    }
}

/// Notices stage changes (both models) and adds or removes users (closed model).
pub(super) async fn control_loop(shared: Rc<Shared>) {
    let mut stage = None;
    loop {
        let elapsed = shared.t0.elapsed();
        let now_stage = scenario::stage_at(&shared.stages, elapsed);
        if now_stage != stage {
            stage = now_stage;
            if let Some(index) = now_stage
                && shared.stages.len() > 1
            {
                let s = &shared.stages[index];
                shared.write(&crate::runlog::load::LoadRecord::Stage(StageEvent {
                    t: shared.now_s(),
                    index,
                    name: s.name.clone(),
                    target: s.target,
                }));
            }
        }
        if shared.model == Model::Closed {
            let wanted = shared.level_now().round().max(0.0) as usize;
            shared.target_users.set(wanted);
            let mut running = shared.users_running.borrow_mut();
            if running.len() < wanted {
                running.resize(wanted, false);
            }
            for (index, slot) in running.iter_mut().enumerate().take(wanted) {
                if !*slot {
                    *slot = true;
                    tokio::task::spawn_local(user_loop(Rc::clone(&shared), index));
                }
            }
        }
        tokio::time::sleep(CONTROL_TICK).await;
    }
}

/// One closed-model user: request, think, repeat, while its slot is wanted.
async fn user_loop(shared: Rc<Shared>, index: usize) {
    while index < shared.target_users.get() {
        let (which, body) = shared.pick();
        let started = Instant::now();
        let level_id = shared.started();
        let slot = shared.in_flight.borrow_mut().start(started);
        let outcome = send(&shared, which, body).await;
        shared.in_flight.borrow_mut().finish(slot);
        shared.record(which, outcome, started.elapsed());
        shared.ended(level_id, outcome, started.elapsed());
        if outcome == Outcome::Connect {
            tokio::time::sleep(CONNECT_BACKOFF).await;
        }
        if let Some(think) = shared.think_time() {
            tokio::time::sleep(think).await;
        }
    }
    if let Some(slot) = shared.users_running.borrow_mut().get_mut(index) {
        *slot = false;
    }
}

/// Open model: integrate the target rate over time and start a request each time the
/// integral passes a whole number, at the instant it did — as many as there are free
/// in-flight slots; the rest of what is due is dropped, counted in one step.
pub(super) async fn open_scheduler(shared: Rc<Shared>) {
    let mut last = Instant::now();
    // Fraction of a request owed since the last start, in [0, 1).
    let mut owed = 0.0f64;
    loop {
        let now = Instant::now();
        let rate = shared.level_now().max(0.0);
        let total = owed + rate * now.duration_since(last).as_secs_f64();
        let due = total.floor();
        let free = shared
            .max_in_flight
            .saturating_sub(shared.in_flight.borrow().len());
        // `as` saturates: an absurd `due` is still a finite count.
        let send_now = (due as u64).min(free);
        for k in 1..=send_now {
            // The integral reached k at this instant (rate > 0 whenever due ≥ 1).
            let at = Duration::try_from_secs_f64((k as f64 - owed) / rate).unwrap_or_default();
            issue_open(&shared, last + at);
        }
        shared.record_dropped((due as u64).saturating_sub(send_now));
        owed = total - due;
        last = now;
        let wait = if rate > 0.0 {
            Duration::try_from_secs_f64((1.0 - owed) / rate).unwrap_or(MAX_SCHEDULER_SLEEP)
        } else {
            MAX_SCHEDULER_SLEEP
        };
        tokio::time::sleep(wait.clamp(MIN_SCHEDULER_SLEEP, MAX_SCHEDULER_SLEEP)).await;
    }
}

fn issue_open(shared: &Rc<Shared>, intended: Instant) {
    let (which, body) = shared.pick();
    let level_id = shared.started();
    let slot = shared.in_flight.borrow_mut().start(intended);
    let shared = Rc::clone(shared);
    tokio::task::spawn_local(async move {
        let outcome = send(&shared, which, body).await;
        shared.in_flight.borrow_mut().finish(slot);
        // From the intended start: time spent waiting to be sent counts.
        shared.record(which, outcome, intended.elapsed());
        shared.ended(level_id, outcome, intended.elapsed());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_follows_weights_exactly() {
        let mut picker = Picker::new(vec![3.0, 2.0, 1.0]);
        let mut counts = [0; 3];
        for _ in 0..600 {
            counts[picker.next()] += 1;
        }
        assert_eq!(counts, [300, 200, 100]);
        // Interleaved, not in runs: within any 6 consecutive picks the mix is exact.
        let window: Vec<usize> = (0..6).map(|_| picker.next()).collect();
        assert_eq!(window.iter().filter(|&&i| i == 0).count(), 3);
    }

    #[test]
    fn huge_weights_keep_proportions() {
        for weights in [
            vec![1.797e308, 1.797e308],
            vec![f64::MAX, f64::MAX / 2.0],
            vec![1e-300, 2e-300],
            vec![5e-324, 5e-324],
        ] {
            let mut picker = Picker::new(weights.clone());
            let mut counts = [0u64; 2];
            for _ in 0..3000 {
                counts[picker.next()] += 1;
            }
            let share = weights[0] / weights[1];
            let got = counts[0] as f64 / counts[1] as f64;
            assert!((got - share).abs() < 0.01, "{weights:?}: {counts:?}");
        }
    }

    #[test]
    fn bulk_splits_follow_weights_and_add_up() {
        let mut picker = Picker::new(vec![3.0, 2.0, 1.0]);
        assert_eq!(picker.split(6), vec![3, 2, 1]);
        let counts = picker.split(100_000_000_001);
        assert_eq!(counts.iter().sum::<u64>(), 100_000_000_001);
        assert!((counts[0] as f64 / counts[2] as f64 - 3.0).abs() < 1e-6);
    }
}
