//! What the driver counts: the outcome of each request, per-interval statistics (overall
//! and per request name), and the requests in flight with the instant each one's latency
//! counts from.
//!
//! Memory does not grow with the level or the run: counts are plain integers; the overall
//! histogram and at most [`MAX_NAME_HISTOGRAMS`] per-name histograms exist, each created at
//! its name's first response; the in-flight table holds one slot per request in flight
//! (bounded by the users or the open model's `max in flight`).

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::load::LoadError;
use crate::runlog::load::{ErrorCounts, new_latency_histogram};

/// Request names beyond this many (in scenario order) are counted but get no latency
/// histogram of their own (their latencies are in the overall one): each histogram is
/// about 170 KB.
pub(super) const MAX_NAME_HISTOGRAMS: usize = 64;

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Ok,
    Status,
    Check,
    Timeout,
    Connect,
    BodyTooLarge,
    Other,
}

impl Outcome {
    /// Outcomes with a complete response, whose latency is recorded.
    pub(super) fn has_response(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Status | Outcome::Check)
    }

    /// A failure's place in [`crate::load::ERROR_KINDS`]; `None` for success.
    pub(super) fn error_kind(self) -> Option<usize> {
        let name = match self {
            Outcome::Ok => return None,
            Outcome::Status => "status",
            Outcome::Check => "check",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::Other => "other",
        };
        crate::load::ERROR_KINDS.iter().position(|k| *k == name)
    }
}

/// Counts and latencies for one request name (or all) over the current interval.
pub(super) struct IntervalStats {
    pub(super) requests: u64,
    pub(super) errors: ErrorCounts,
    /// `None` until the first response, and always for names without a histogram.
    pub(super) latency_us: Option<Histogram<u64>>,
    /// Whether this one keeps latencies at all.
    keeps_latency: bool,
}

impl IntervalStats {
    /// Statistics that keep latencies, the histogram allocated now (the overall one).
    pub(super) fn new() -> Result<IntervalStats, LoadError> {
        Ok(IntervalStats {
            requests: 0,
            errors: ErrorCounts::default(),
            latency_us: Some(new_latency_histogram().map_err(|e| LoadError::Start(e.to_string()))?),
            keeps_latency: true,
        })
    }

    /// Statistics for a request name; its histogram, if it keeps one, comes with its
    /// first response.
    pub(super) fn lazy(keeps_latency: bool) -> IntervalStats {
        IntervalStats {
            requests: 0,
            errors: ErrorCounts::default(),
            latency_us: None,
            keeps_latency,
        }
    }

    pub(super) fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.requests += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Status => self.errors.status += 1,
            Outcome::Check => self.errors.check += 1,
            Outcome::Timeout => self.errors.timeout += 1,
            Outcome::Connect => self.errors.connect += 1,
            Outcome::BodyTooLarge => self.errors.body_too_large += 1,
            Outcome::Other => self.errors.other += 1,
        }
        if outcome.has_response() && self.keeps_latency {
            if self.latency_us.is_none() {
                // Same bounds as the overall histogram, which was created the same way.
                self.latency_us = new_latency_histogram().ok();
            }
            if let Some(histogram) = &mut self.latency_us {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                histogram.saturating_record(us.max(1));
            }
        }
    }

    /// `n` requests that were due and never sent.
    pub(super) fn record_dropped(&mut self, n: u64) {
        self.requests += n;
        self.errors.dropped += n;
    }

    /// The interval's histogram when it holds any latency.
    pub(super) fn histogram(&self) -> Option<&Histogram<u64>> {
        self.latency_us.as_ref().filter(|h| !h.is_empty())
    }

    pub(super) fn reset(&mut self) {
        self.requests = 0;
        self.errors = ErrorCounts::default();
        if let Some(histogram) = &mut self.latency_us {
            histogram.reset();
        }
    }
}

pub(super) struct Stats {
    pub(super) overall: IntervalStats,
    pub(super) by_name: Vec<IntervalStats>,
    /// Buffers reused by every interval's histogram encoding.
    pub(super) serializer: V2DeflateSerializer,
    pub(super) scratch: Vec<u8>,
}

impl Stats {
    pub(super) fn new(names: usize) -> Result<Stats, LoadError> {
        Ok(Stats {
            overall: IntervalStats::new()?,
            by_name: (0..names)
                .map(|i| IntervalStats::lazy(i < MAX_NAME_HISTOGRAMS))
                .collect(),
            serializer: V2DeflateSerializer::new(),
            scratch: Vec::with_capacity(4096),
        })
    }
}

/// The requests in flight, each with the instant its latency counts from: a slot table
/// with a free list, so starting and finishing a request cost no allocation once warm.
#[derive(Default)]
pub(super) struct InFlight {
    slots: Vec<Option<Instant>>,
    free: Vec<usize>,
    len: u64,
}

impl InFlight {
    pub(super) fn start(&mut self, since: Instant) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(since);
                slot
            }
            None => {
                self.slots.push(Some(since));
                self.slots.len() - 1
            }
        }
    }

    pub(super) fn finish(&mut self, slot: usize) {
        if let Some(entry @ Some(_)) = self.slots.get_mut(slot) {
            *entry = None;
            self.free.push(slot);
            self.len -= 1;
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// How long each request in flight has waited by `now`, µs; `None` when none is.
    pub(super) fn ages_us(&self, now: Instant) -> Option<Histogram<u64>> {
        if self.len == 0 {
            return None;
        }
        let mut ages = new_latency_histogram().ok()?;
        for since in self.slots.iter().flatten() {
            let us = u64::try_from(now.saturating_duration_since(*since).as_micros())
                .unwrap_or(u64::MAX);
            ages.saturating_record(us.max(1));
        }
        Some(ages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_stats_count_errors_by_kind_and_latency_only_for_responses() {
        let mut stats = IntervalStats::new().unwrap();
        stats.record(Outcome::Ok, Duration::from_millis(2));
        stats.record(Outcome::Status, Duration::from_millis(4));
        stats.record(Outcome::Connect, Duration::from_millis(1));
        stats.record(Outcome::Timeout, Duration::from_secs(30));
        stats.record(Outcome::BodyTooLarge, Duration::from_millis(3));
        stats.record_dropped(10);
        assert_eq!(stats.requests, 15);
        assert_eq!(stats.errors.total(), 14);
        assert_eq!(stats.errors.connect, 1);
        assert_eq!(stats.errors.dropped, 10);
        assert_eq!(stats.errors.body_too_large, 1);
        let h = stats.histogram().unwrap();
        assert_eq!(h.len(), 2);
        assert!(h.max() < 5_000);
        stats.reset();
        assert_eq!(stats.requests, 0);
        assert!(stats.histogram().is_none());
    }

    #[test]
    fn name_histograms_are_lazy_and_bounded() {
        let stats = Stats::new(100_000).unwrap();
        assert!(stats.by_name.iter().all(|s| s.latency_us.is_none()));
        let mut named = IntervalStats::lazy(true);
        named.record(Outcome::Timeout, Duration::from_secs(1));
        assert!(named.latency_us.is_none(), "no response, no histogram");
        named.record(Outcome::Ok, Duration::from_millis(1));
        assert_eq!(named.histogram().unwrap().len(), 1);
        let mut counted_only = IntervalStats::lazy(false);
        counted_only.record(Outcome::Ok, Duration::from_millis(1));
        assert_eq!(counted_only.requests, 1);
        assert!(counted_only.latency_us.is_none());
    }

    #[test]
    fn in_flight_slots_are_reused_and_aged() {
        let t0 = Instant::now();
        let mut in_flight = InFlight::default();
        let a = in_flight.start(t0);
        let b = in_flight.start(t0 + Duration::from_millis(500));
        in_flight.finish(a);
        in_flight.finish(a);
        assert_eq!(in_flight.len(), 1);
        assert_eq!(in_flight.start(t0), a);
        in_flight.finish(b);
        let ages = in_flight.ages_us(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(ages.len(), 1);
        assert!(
            (1_990_000..=2_010_000).contains(&ages.max()),
            "{}",
            ages.max()
        );
        in_flight.finish(a);
        assert!(in_flight.ages_us(t0).is_none());
    }
}
