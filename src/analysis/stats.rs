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
pub fn median_of<I: Iterator<Item = f64>>(replay: impl Fn() -> I) -> Option<f64> {
    let picked = select_ranks(replay, |m| vec![(m - 1) / 2, m / 2])?;
    let m = picked.count;
    Some(mid_value(m, picked.values[0], picked.values[1]))
}

/// The `q`-quantile (0..=1) by nearest rank: the ⌈q·n⌉-th smallest value (at least the
/// first) of a replayable stream. `None` when it is empty.
pub fn quantile_of<I: Iterator<Item = f64>>(replay: impl Fn() -> I, q: f64) -> Option<f64> {
    let rank = |m: usize| ((q * m as f64).ceil() as usize).clamp(1, m) - 1;
    select_ranks(replay, |m| vec![rank(m)]).map(|p| p.values[0])
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
/// Short streams are copied and selected in place. Longer ones: the first pass counts the
/// values by their top 16 bits (in `total_cmp` order); each further pass, shared by all
/// wanted ranks, either copies the values of a rank's bucket when few enough remain and
/// selects among them, or counts the next 16 bits within it. Two or three passes in
/// practice; memory: 256 KiB of counters per open bucket and the final few values.
pub fn select_ranks<I: Iterator<Item = f64>>(
    replay: impl Fn() -> I,
    ranks: impl FnOnce(usize) -> Vec<usize>,
) -> Option<Selected> {
    // The first IN_PLACE_MAX values are kept, so a short stream is read once; past that
    // they become counts of the top digit.
    let mut early: Vec<f64> = Vec::new();
    let mut top_counts: Vec<u32> = Vec::new();
    let mut count = 0usize;
    let top = |v: f64| (order_key(v) >> (64 - DIGIT_BITS)) as usize;
    for v in replay() {
        count += 1;
        if top_counts.is_empty() {
            if early.len() < IN_PLACE_MAX {
                early.push(v);
                continue;
            }
            top_counts = vec![0; DIGITS];
            for &e in &early {
                top_counts[top(e)] += 1;
            }
            early = Vec::new();
        }
        top_counts[top(v)] += 1;
    }
    if count == 0 {
        return None;
    }
    let positions = ranks(count);
    if top_counts.is_empty() {
        let values = select_in_place(&mut early, &positions);
        return Some(Selected { count, values });
    }
    let mut wanted: Vec<Wanted> = positions
        .iter()
        .map(|&rank| Wanted::in_bucket(&top_counts, rank.min(count - 1)))
        .collect();
    drop(top_counts);
    let mut known_bits = DIGIT_BITS;
    while wanted.iter().any(|w| w.value.is_none()) {
        if known_bits >= 64 {
            // Every bit known: the values left are all this one.
            for w in wanted.iter_mut().filter(|w| w.value.is_none()) {
                w.value = Some(from_order_key(w.prefix));
            }
            break;
        }
        radix_pass(&replay, &mut wanted, known_bits);
        known_bits += DIGIT_BITS;
    }
    let values = wanted.iter().map(|w| w.value.unwrap_or(f64::NAN)).collect();
    Some(Selected { count, values })
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
fn radix_pass<I: Iterator<Item = f64>>(
    replay: &impl Fn() -> I,
    wanted: &mut [Wanted],
    known_bits: u32,
) {
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
    let shift = 64 - known_bits - DIGIT_BITS;
    for v in replay() {
        let key = order_key(v);
        let prefix = key >> (64 - known_bits);
        let Ok(k) = buckets.binary_search(&prefix) else {
            continue;
        };
        if counts[k].is_empty() {
            copies[k].push(v);
        } else {
            counts[k][((key >> shift) as usize) & (DIGITS - 1)] += 1;
        }
    }
    for w in wanted.iter_mut().filter(|w| w.value.is_none()) {
        let Ok(k) = buckets.binary_search(&w.prefix) else {
            continue;
        };
        if counts[k].is_empty() {
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
        let got = select_ranks(
            || values.iter().copied(),
            |m| {
                assert_eq!(m, values.len());
                ranks.to_vec()
            },
        )
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
