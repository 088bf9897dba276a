//! Order statistics, written once: median, nearest-rank quantile and exact selection of
//! ranks, either in place on a slice or over a stream that can be replayed.
//!
//! The streaming form is what keeps the end of a week-long run small: the median step of
//! 600,000 samples, or the median of a million Theil–Sen pair slopes, is found exactly
//! without storing the values, by radix selection on their bits (a few passes over the
//! stream, 512 KiB of counters). Both forms order values by `f64::total_cmp` and return
//! the very same values a sort would, so results do not depend on which one ran.

/// Streams of up to this many values are copied and selected in place; longer ones are
/// selected by radix passes over the replayed stream.
pub const IN_PLACE_MAX: usize = 1 << 17;

use crate::rng::SplitMix64;

/// A stream of values that can be produced again, the same each time: what the streaming
/// selections read. Any `Fn() -> impl Iterator<Item = f64>` is one; a generator with
/// nested loops (every pair of points) implements it directly, which is several times
/// faster than a chain of iterator adapters.
pub trait Replay {
    /// Call `each` with every value, in order.
    fn replay(&self, each: &mut impl FnMut(f64));

    /// How many values there are and a uniform random sample of them (at most
    /// `SAMPLE_MAX`), when the stream can tell without being read: the selection then
    /// skips its counting pass. The count is checked against the next full pass, so a
    /// wrong one costs time, never a wrong answer.
    fn count_and_sample(&self) -> Option<(usize, Vec<f64>)> {
        None
    }
}

impl<F, I> Replay for F
where
    F: Fn() -> I,
    I: Iterator<Item = f64>,
{
    fn replay(&self, each: &mut impl FnMut(f64)) {
        self().for_each(each);
    }
}

/// Median (mean of the two middle values for an even count), reordering `v`. `None` when
/// empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    let m = v.len();
    if m == 0 {
        return None;
    }
    let picked = select_in_place(v, &[(m - 1) / 2, m / 2]);
    Some(mid_value(m, picked[0], picked[1]))
}

/// The middle of a sorted run of `m` values from its lower and upper middle.
fn mid_value(m: usize, lower: f64, upper: f64) -> f64 {
    if m % 2 == 1 {
        upper
    } else {
        (lower + upper) / 2.0
    }
}

/// Median of a replayable stream (see [`select_ranks`]).
pub fn median_of(replay: impl Replay) -> Option<f64> {
    let picked = select_ranks(&replay, |m| vec![(m - 1) / 2, m / 2])?;
    let m = picked.count;
    Some(mid_value(m, picked.values[0], picked.values[1]))
}

/// The `q`-quantile (0..=1) by nearest rank: the ⌈q·n⌉-th smallest value (at least the
/// first) of a replayable stream. `None` when it is empty.
pub fn quantile_of(replay: impl Replay, q: f64) -> Option<f64> {
    let rank = |m: usize| ((q * m as f64).ceil() as usize).clamp(1, m) - 1;
    select_ranks(&replay, |m| vec![rank(m)]).map(|p| p.values[0])
}

/// Values at the given 0-based positions of `v` as if it were sorted, in the order given.
/// Each selection only partitions what lies above the previous one: O(m) per position.
pub fn select_in_place(v: &mut [f64], positions: &[usize]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by_key(|&i| positions[i]);
    let mut out = vec![0.0; positions.len()];
    let mut start = 0;
    for i in order {
        let p = positions[i];
        let (_, value, _) = v[start..].select_nth_unstable_by(p - start, f64::total_cmp);
        out[i] = *value;
        start = p;
    }
    out
}

/// What [`select_ranks`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    /// Values in the stream.
    pub count: usize,
    /// The value at each asked position, in the order asked.
    pub values: Vec<f64>,
}

/// Bits resolved per radix pass, and the counters each pass needs.
const DIGIT_BITS: u32 = 16;
const DIGITS: usize = 1 << DIGIT_BITS;

/// Map an f64 to a u64 whose unsigned order is `f64::total_cmp`'s.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// Exact order statistics of a stream that `replay` produces anew on each call, the same
/// values each time. `ranks(count)` gives the wanted 0-based positions once the count is
/// known (each below it). `None` for an empty stream.
///
/// Short streams are copied and selected in place (one pass). Longer ones take two passes
/// as a rule: the first counts the values and keeps a random sample of 8,000 to 16,000 of
/// them (a stream that can tell its count and draw its own sample saves this pass); the
/// second counts the values below a bracket the sample puts around each wanted rank and
/// copies those inside, among which the rank is selected. A bracket that
/// misses (rare: it spans six standard errors of the sample's ranks) or holds too many
/// values (heavy ties) falls back to radix passes, each narrowing the ranks by 16 bits of
/// their keys. Memory: the sample (128 KiB) and the bracketed values (a few percent of the
/// stream, at most `IN_PLACE_MAX`), or 256 KiB of counters per radix pass.
pub fn select_ranks(replay: &impl Replay, ranks: impl Fn(usize) -> Vec<usize>) -> Option<Selected> {
    let told = replay
        .count_and_sample()
        .filter(|(count, sample)| *count > IN_PLACE_MAX && !sample.is_empty());
    if let Some((count, sample)) = told {
        let mut keys: Vec<u64> = sample.into_iter().map(order_key).collect();
        keys.sort_unstable();
        // `None` when the stream told a wrong count: then read it the long way.
        if let Some(selected) = select_long(replay, count, &keys, &ranks(count)) {
            return Some(selected);
        }
    }
    let first = first_pass(replay);
    if first.count == 0 {
        return None;
    }
    let count = first.count;
    match first.sample {
        None => {
            let mut early = first.early;
            let values = select_in_place(&mut early, &ranks(count));
            Some(Selected { count, values })
        }
        Some(sample) => select_long(replay, count, &sample, &ranks(count)),
    }
}

/// The ranks of a long stream of `count` values, from a sample of its keys: a bracket
/// pass, and radix passes for the ranks it missed. `None` when the stream turns out not
/// to hold `count` values.
fn select_long(
    replay: &impl Replay,
    count: usize,
    sample: &[u64],
    positions: &[usize],
) -> Option<Selected> {
    let clamped: Vec<usize> = positions.iter().map(|&r| r.min(count - 1)).collect();
    let (mut values, seen) = bracket_pass(replay, sample, count, &clamped);
    if seen != count {
        return None;
    }
    let missed: Vec<usize> = (0..clamped.len())
        .filter(|&i| values[i].is_none())
        .collect();
    if !missed.is_empty() {
        let top_counts = top_digit_counts(replay);
        let mut wanted: Vec<Wanted> = missed
            .iter()
            .map(|&i| Wanted::in_bucket(&top_counts, clamped[i]))
            .collect();
        drop(top_counts);
        radix_passes(replay, &mut wanted);
        for (&i, w) in missed.iter().zip(&wanted) {
            values[i] = w.value;
        }
    }
    let values = values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    Some(Selected { count, values })
}

/// Values a long stream's sample keeps at most (it halves when full).
pub const SAMPLE_MAX: usize = 16_384;
/// Half-width of a bracket, in standard errors of a sample quantile's rank.
const BRACKET_SIGMAS: f64 = 6.0;

/// What the first pass over a stream found.
struct FirstPass {
    count: usize,
    /// Every value, when the stream is short.
    early: Vec<f64>,
    /// A uniform random sample of the order keys (sorted), when it is long.
    sample: Option<Vec<u64>>,
}

/// Keeps about one value in 2^level, by skipping a random 0..2^(level+1) values between
/// kept ones (one random draw per kept value, not per value); when full, keeps each kept
/// one with probability ½ and goes up a level. Deterministic: the same stream gives the
/// same sample.
struct Sampler {
    rng: SplitMix64,
    level: u32,
    skip: u64,
    keys: Vec<u64>,
}

impl Sampler {
    fn new() -> Sampler {
        Sampler {
            rng: SplitMix64(0x5a3b_1e5e_1ec7_0001),
            level: 0,
            skip: 0,
            keys: Vec::with_capacity(SAMPLE_MAX),
        }
    }

    fn offer(&mut self, v: f64) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        self.keys.push(order_key(v));
        self.skip = self.rng.below(2 << self.level);
        if self.keys.len() >= SAMPLE_MAX {
            let rng = &mut self.rng;
            self.keys.retain(|_| rng.next_u64() & 1 == 0);
            self.level += 1;
        }
    }
}

fn first_pass(replay: &impl Replay) -> FirstPass {
    // The first IN_PLACE_MAX values are kept, so a short stream is read once; past that
    // they go to the sample.
    let mut early: Vec<f64> = Vec::new();
    let mut sampler: Option<Sampler> = None;
    let mut count = 0usize;
    replay.replay(&mut |v| {
        count += 1;
        match sampler.as_mut() {
            Some(sampler) => sampler.offer(v),
            None if early.len() < IN_PLACE_MAX => early.push(v),
            None => {
                let mut fresh = Sampler::new();
                for e in std::mem::take(&mut early) {
                    fresh.offer(e);
                }
                fresh.offer(v);
                sampler = Some(fresh);
            }
        }
    });
    let sample = sampler.map(|s| {
        let mut keys = s.keys;
        keys.sort_unstable();
        keys
    });
    FirstPass {
        count,
        early,
        sample,
    }
}

/// The keys bracketing `rank` (of `count`) by the sample, inclusive; the open ends are
/// 0 and `u64::MAX`.
fn bracket(sample: &[u64], count: usize, rank: usize) -> (u64, u64) {
    let s = sample.len() as f64;
    let q = (rank as f64 + 0.5) / count as f64;
    let half = BRACKET_SIGMAS * (s * q * (1.0 - q)).sqrt() + 2.0;
    let at = |p: f64| (p >= 0.0 && p < s).then(|| sample[p as usize]);
    let lo = at((q * s - half).floor()).unwrap_or(0);
    let hi = at((q * s + half).ceil()).unwrap_or(u64::MAX);
    (lo, hi)
}

/// Disjoint key intervals, in order, covering every rank's bracket (overlapping brackets
/// merged, as the two middles of a median always are).
fn merged_brackets(sample: &[u64], count: usize, ranks: &[usize]) -> Vec<(u64, u64)> {
    let mut brackets: Vec<(u64, u64)> = ranks.iter().map(|&r| bracket(sample, count, r)).collect();
    brackets.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(brackets.len());
    for (lo, hi) in brackets {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

/// Values one bracket may hold before its ranks fall back to radix passes (2 MiB).
const BRACKET_MAX: usize = 1 << 18;

/// The second pass: for each bracket, the values below it counted and those inside
/// copied, and each rank selected among its bracket's values. `None` for a rank its
/// bracket missed, or whose bracket held more than `BRACKET_MAX` values.
fn bracket_pass(
    replay: &impl Replay,
    sample: &[u64],
    count: usize,
    ranks: &[usize],
) -> (Vec<Option<f64>>, usize) {
    let brackets = merged_brackets(sample, count, ranks);
    // Where each value falls among the brackets' ends, counted without a branch (the
    // values come in random order, so branches on them would mostly be mispredicted):
    // position 2k + 1 is inside bracket k, 2k below it.
    let mut at_position = vec![0usize; 2 * brackets.len() + 1];
    let mut inside: Vec<Vec<f64>> = vec![Vec::new(); brackets.len()];
    let mut overflow = vec![false; brackets.len()];
    replay.replay(&mut |v| {
        let key = order_key(v);
        let position: usize = brackets
            .iter()
            .map(|&(lo, hi)| usize::from(key >= lo) + usize::from(key > hi))
            .sum();
        at_position[position] += 1;
        if position % 2 == 1 {
            let k = position / 2;
            // A bracket of one value (a mass of ties, such as the zero slopes between
            // equal counts) needs only its count: every value inside is that one.
            if brackets[k].0 == brackets[k].1 {
                return;
            }
            if inside[k].len() < BRACKET_MAX {
                inside[k].push(v);
            } else if !overflow[k] {
                overflow[k] = true;
                inside[k] = Vec::new();
            }
        }
    });
    let seen: usize = at_position.iter().sum();
    // below[k]: values under bracket k's low end.
    let below: Vec<usize> = (0..brackets.len())
        .map(|k| at_position[..2 * k + 1].iter().sum())
        .collect();
    let values = ranks
        .iter()
        .map(|&rank| {
            let (lo, _) = bracket(sample, count, rank);
            let k = brackets.iter().rposition(|&(blo, _)| blo <= lo)?;
            let local = rank.checked_sub(below[k])?;
            if brackets[k].0 == brackets[k].1 {
                return (local < at_position[2 * k + 1]).then(|| from_order_key(brackets[k].0));
            }
            if overflow[k] || local >= inside[k].len() {
                return None;
            }
            select_in_place(&mut inside[k], &[local]).first().copied()
        })
        .collect();
    (values, seen)
}

/// Counts of the top 16 key bits of every value (one pass), for the radix fallback.
fn top_digit_counts(replay: &impl Replay) -> Vec<u32> {
    let mut counts = vec![0u32; DIGITS];
    replay.replay(&mut |v| counts[(order_key(v) >> (64 - DIGIT_BITS)) as usize] += 1);
    counts
}

/// Radix passes until every wanted rank's value is known.
fn radix_passes(replay: &impl Replay, wanted: &mut [Wanted]) {
    let mut known_bits = DIGIT_BITS;
    while wanted.iter().any(|w| w.value.is_none()) {
        if known_bits >= 64 {
            // Every bit known: the values left are all this one.
            for w in wanted.iter_mut().filter(|w| w.value.is_none()) {
                w.value = Some(from_order_key(w.prefix));
            }
            return;
        }
        radix_pass(replay, wanted, known_bits);
        known_bits += DIGIT_BITS;
    }
}

/// A rank being narrowed down: the known top bits of its value's key, its rank among the
/// values sharing them, and how many do.
struct Wanted {
    prefix: u64,
    rank: usize,
    left: usize,
    value: Option<f64>,
}

impl Wanted {
    fn in_bucket(counts: &[u32], rank: usize) -> Wanted {
        let (prefix, rank, left) = pick_digit(counts, rank);
        Wanted {
            prefix,
            rank,
            left,
            value: None,
        }
    }
}

/// One pass over the stream for every open rank that shares `known_bits` of key: copy the
/// bucket and select when it is small (or fully known), else count its next digit. Ranks
/// in the same bucket share the copy or the counters.
fn radix_pass(replay: &impl Replay, wanted: &mut [Wanted], known_bits: u32) {
    let mut buckets: Vec<u64> = wanted
        .iter()
        .filter(|w| w.value.is_none())
        .map(|w| w.prefix)
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    let left_of = |prefix: u64| {
        wanted
            .iter()
            .find(|w| w.prefix == prefix)
            .map_or(0, |w| w.left)
    };
    let copy = |prefix: u64| left_of(prefix) <= IN_PLACE_MAX;
    // Per bucket: the copied values, or the counts of the next digit.
    let mut copies: Vec<Vec<f64>> = buckets.iter().map(|_| Vec::new()).collect();
    let mut counts: Vec<Vec<u32>> = buckets
        .iter()
        .map(|&b| if copy(b) { Vec::new() } else { vec![0; DIGITS] })
        .collect();
    // The smallest and largest key counted per bucket: when they are equal the bucket is
    // one value repeated (ties), known now rather than after the remaining digits.
    let mut key_range: Vec<(u64, u64)> = vec![(u64::MAX, 0); buckets.len()];
    let shift = 64 - known_bits - DIGIT_BITS;
    replay.replay(&mut |v| {
        let key = order_key(v);
        let prefix = key >> (64 - known_bits);
        let Ok(k) = buckets.binary_search(&prefix) else {
            return;
        };
        if counts[k].is_empty() {
            copies[k].push(v);
        } else {
            counts[k][((key >> shift) as usize) & (DIGITS - 1)] += 1;
            let range = &mut key_range[k];
            *range = (range.0.min(key), range.1.max(key));
        }
    });
    for w in wanted.iter_mut().filter(|w| w.value.is_none()) {
        let Ok(k) = buckets.binary_search(&w.prefix) else {
            continue;
        };
        if !counts[k].is_empty() && key_range[k].0 == key_range[k].1 {
            w.value = Some(from_order_key(key_range[k].0));
        } else if counts[k].is_empty() {
            let bucket = &mut copies[k];
            let rank = w.rank.min(bucket.len().saturating_sub(1));
            let pick = select_in_place(bucket, &[rank]);
            w.value = pick.first().copied();
        } else {
            let (digit, rank, left) = pick_digit(&counts[k], w.rank);
            w.prefix = w.prefix << DIGIT_BITS | digit;
            (w.rank, w.left) = (rank, left);
        }
    }
}

/// The digit whose bucket holds `rank`, the rank within that bucket, and its size.
fn pick_digit(counts: &[u32], rank: usize) -> (u64, usize, usize) {
    let mut below = 0usize;
    for (digit, &c) in counts.iter().enumerate() {
        let c = c as usize;
        if rank < below + c {
            return (digit as u64, rank - below, c);
        }
        below += c;
    }
    // Unreachable for a rank below the count; the last bucket is the safe answer.
    (counts.len() as u64 - 1, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn sorted(values: &[f64]) -> Vec<f64> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn order_key_follows_total_cmp() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            3.0,
            f64::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{w:?}");
        }
        for v in values {
            assert_eq!(from_order_key(order_key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn streamed_selection_equals_sorting() {
        // Long enough for the radix passes, with heavy ties (whole pages) and both signs.
        let mut rng = SplitMix64(3);
        let values: Vec<f64> = (0..400_000)
            .map(|i| {
                let page = 4096.0 * (rng.unit_f64() * 300.0).floor();
                if i % 3 == 0 {
                    -page
                } else {
                    page + rng.unit_f64()
                }
            })
            .collect();
        let s = sorted(&values);
        let ranks = [0, 1, 199_999, 200_000, 333_333, 399_999];
        let got = select_ranks(&|| values.iter().copied(), |m| {
            assert_eq!(m, values.len());
            ranks.to_vec()
        })
        .unwrap();
        for (r, v) in ranks.iter().zip(&got.values) {
            assert_eq!(v.to_bits(), s[*r].to_bits(), "rank {r}");
        }
        let med = median_of(|| values.iter().copied()).unwrap();
        assert_eq!(med, (s[199_999] + s[200_000]) / 2.0);
        let p95 = quantile_of(|| values.iter().copied(), 0.95).unwrap();
        assert_eq!(p95, s[(0.95f64 * 400_000.0).ceil() as usize - 1]);
    }

    #[test]
    fn a_mass_of_ties_is_selected_exactly_at_and_around_its_edges() {
        // The slopes between equal counts: most values exactly 0, a spread on each side,
        // long enough that the 0 bracket overflows any copy.
        let mut rng = SplitMix64(11);
        let values: Vec<f64> = (0..1_200_000)
            .map(|i| match i % 5 {
                0 => -1.0 - rng.unit_f64(),
                1 => 1.0 + rng.unit_f64(),
                _ => 0.0,
            })
            .collect();
        let s = sorted(&values);
        let zeros_from = s.iter().position(|&v| v == 0.0).unwrap();
        let zeros_to = s.iter().rposition(|&v| v == 0.0).unwrap();
        let ranks = [zeros_from - 1, zeros_from, 600_000, zeros_to, zeros_to + 1];
        let got = select_ranks(&|| values.iter().copied(), |_| ranks.to_vec()).unwrap();
        for (r, v) in ranks.iter().zip(&got.values) {
            assert_eq!(v.to_bits(), s[*r].to_bits(), "rank {r}");
        }
        // And through the radix passes alone (a sample that misses every rank).
        let replay = || values.iter().copied();
        let wrong_sample: Vec<u64> = (0..SAMPLE_MAX as u64)
            .map(|k| order_key(1e6 + k as f64))
            .collect();
        let picked = select_long(&replay, values.len(), &wrong_sample, &ranks).unwrap();
        for (r, v) in ranks.iter().zip(&picked.values) {
            assert_eq!(v.to_bits(), s[*r].to_bits(), "radix, rank {r}");
        }
    }

    #[test]
    fn a_bracket_that_misses_falls_back_to_radix_passes() {
        let values: Vec<f64> = (0..400_000).map(f64::from).collect();
        let replay = || values.iter().copied();
        // A sample that is not the stream's: every bracket lands far from its rank.
        let wrong_sample: Vec<u64> = (0..SAMPLE_MAX as u64)
            .map(|k| order_key(k as f64))
            .collect();
        let ranks = [199_999, 200_000, 390_000];
        let (found, seen) = bracket_pass(&replay, &wrong_sample, values.len(), &ranks);
        assert_eq!((found, seen), (vec![None; 3], values.len()));
        let top_counts = top_digit_counts(&replay);
        let mut wanted: Vec<Wanted> = ranks
            .iter()
            .map(|&r| Wanted::in_bucket(&top_counts, r))
            .collect();
        radix_passes(&replay, &mut wanted);
        let got: Vec<Option<f64>> = wanted.iter().map(|w| w.value).collect();
        assert_eq!(got, [Some(199_999.0), Some(200_000.0), Some(390_000.0)]);
    }

    #[test]
    fn equal_values_past_the_copy_limit_resolve_all_64_bits() {
        let values = vec![7.25; IN_PLACE_MAX * 2 + 1];
        assert_eq!(median_of(|| values.iter().copied()), Some(7.25));
    }

    #[test]
    fn short_streams_and_edges() {
        assert_eq!(median_of(std::iter::empty), None);
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile_of(|| v.iter().copied(), 0.95), Some(5.0));
        assert_eq!(quantile_of(|| v.iter().copied(), 0.0), Some(1.0));
        assert_eq!(quantile_of(|| v.iter().copied(), 0.5), Some(3.0));
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile_of(|| twenty.iter().copied(), 0.95), Some(19.0));
        assert_eq!(quantile_of(|| twenty.iter().copied(), 1.0), Some(20.0));
        assert_eq!(quantile_of(|| [3.0].into_iter(), 0.5), Some(3.0));
    }
}
