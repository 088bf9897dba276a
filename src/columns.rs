//! Compact, exact columns of a run's samples: one time column and one column per metric the
//! analysis and the charts use. The run-log reader fills them line by line, and any other
//! source of `(t, value)` series (a baseline run, Prometheus) can fill them too.
//!
//! Memory is what a week-long run at 1 Hz is judged in, so every column costs what its
//! values need and no more, without rounding a single value:
//! - which rows have a value is one bit per row; a missing value (`null` in the log) takes
//!   no other room and is never read as 0. PSS/USS read every fifth sample cost a fifth;
//! - integer metrics (bytes, counts) keep only the bytes their largest value needs (1 to 8),
//!   after dividing by the largest power of two, up to a 4 KiB page, that divides every
//!   value: RSS of a 500 MB process in whole pages takes 3 bytes a sample instead of a
//!   `u64`'s 8 (or the 16 of an `Option<u64>` in a `Sample`);
//! - CPU, a real number, is an `f64`;
//! - the cgroup's cumulative counters (OOM kills, CFS periods, and seconds throttled, of
//!   CPU and of pressure stalls as whole microseconds, what the kernel counts in) are kept
//!   as their increase since the sample before: a second's worth of a counter takes one to
//!   three bytes where its running total would take five. [`Columns::cumulative`] sums them
//!   back. A run without a cgroup pays nothing for these columns.
//!
//! A value that does not fit the current encoding re-encodes the column once (wider, or a
//! smaller power of two); that happens a handful of times per column at most.

use crate::sample::Sample;

/// The metrics a run's columns hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Rss,
    Vms,
    Pss,
    Uss,
    Threads,
    Fds,
    /// Processes summed in the sample.
    Procs,
    /// CPU used over the last interval, in cores.
    Cpu,
    /// The cgroup's memory in use, anon, page cache and working set, bytes.
    CgroupMemory,
    CgroupAnon,
    CgroupFile,
    CgroupWorkingSet,
    /// The cgroup's cumulative OOM events and OOM kills.
    CgroupOomEvents,
    CgroupOomKills,
    /// Cumulative CFS periods and throttled periods.
    CgroupPeriods,
    CgroupThrottledPeriods,
    /// Cumulative microseconds: throttled, CPU used, memory stalls (some, full), CPU stalls.
    CgroupThrottledUs,
    CgroupCpuUs,
    CgroupMemoryStallSomeUs,
    CgroupMemoryStallFullUs,
    CgroupCpuStallSomeUs,
    /// v1: 1 when the cgroup was out of memory at the sample (its OOM killer disabled), 0 not.
    CgroupUnderOom,
}

/// The integer metrics, in storage order.
const INT_METRICS: [Metric; 21] = [
    Metric::Rss,
    Metric::Vms,
    Metric::Pss,
    Metric::Uss,
    Metric::Threads,
    Metric::Fds,
    Metric::Procs,
    Metric::CgroupMemory,
    Metric::CgroupAnon,
    Metric::CgroupFile,
    Metric::CgroupWorkingSet,
    Metric::CgroupOomEvents,
    Metric::CgroupOomKills,
    Metric::CgroupPeriods,
    Metric::CgroupThrottledPeriods,
    Metric::CgroupThrottledUs,
    Metric::CgroupCpuUs,
    Metric::CgroupMemoryStallSomeUs,
    Metric::CgroupMemoryStallFullUs,
    Metric::CgroupCpuStallSomeUs,
    Metric::CgroupUnderOom,
];

/// A sample's value of an integer metric, as the log has it.
enum Raw {
    Int(Option<u64>),
    /// Seconds, stored as whole microseconds.
    Seconds(Option<f64>),
}

impl Metric {
    /// A metric in bytes (the others are counts, or CPU in cores).
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            Metric::Rss
                | Metric::Vms
                | Metric::Pss
                | Metric::Uss
                | Metric::CgroupMemory
                | Metric::CgroupAnon
                | Metric::CgroupFile
                | Metric::CgroupWorkingSet
        )
    }

    /// A cumulative counter of microseconds (stored from the log's seconds).
    pub fn is_micros(self) -> bool {
        matches!(
            self,
            Metric::CgroupThrottledUs
                | Metric::CgroupCpuUs
                | Metric::CgroupMemoryStallSomeUs
                | Metric::CgroupMemoryStallFullUs
                | Metric::CgroupCpuStallSomeUs
        )
    }

    /// A cumulative counter of the kernel's, kept as its increase since the sample before
    /// (0 at its first value; a value below the one before is a reset, counted from 0).
    pub fn is_counter(self) -> bool {
        self.is_micros()
            || matches!(
                self,
                Metric::CgroupOomEvents
                    | Metric::CgroupOomKills
                    | Metric::CgroupPeriods
                    | Metric::CgroupThrottledPeriods
            )
    }

    /// The largest value the metric can take; beyond it a value is impossible.
    fn bound(self) -> u64 {
        match self {
            m if m.is_bytes() => MAX_BYTES,
            // Cumulative counters of a cgroup: CFS periods (10 per second) and microseconds
            // of a thousand cores over ten years both stay far below this.
            m if m.is_micros() => MAX_COUNTER,
            Metric::CgroupPeriods | Metric::CgroupThrottledPeriods => MAX_COUNTER,
            _ => MAX_COUNT,
        }
    }

    fn int_slot(self) -> Option<usize> {
        INT_METRICS.iter().position(|m| *m == self)
    }

    /// An integer metric's value in a sample, as read (`None` for CPU, a float).
    fn raw_of(self, s: &Sample) -> Option<Raw> {
        Some(match self {
            Metric::Rss => Raw::Int(s.rss),
            Metric::Vms => Raw::Int(s.vms),
            Metric::Pss => Raw::Int(s.pss),
            Metric::Uss => Raw::Int(s.uss),
            Metric::Threads => Raw::Int(s.threads),
            Metric::Fds => Raw::Int(s.fds),
            Metric::Procs => Raw::Int(s.procs.map(u64::from)),
            Metric::Cpu => return None,
            Metric::CgroupMemory => Raw::Int(s.cgroup_memory_bytes),
            Metric::CgroupAnon => Raw::Int(s.cgroup_anon_bytes),
            Metric::CgroupFile => Raw::Int(s.cgroup_file_bytes),
            Metric::CgroupWorkingSet => Raw::Int(s.cgroup_working_set_bytes),
            Metric::CgroupOomEvents => Raw::Int(s.cgroup_oom_events),
            Metric::CgroupOomKills => Raw::Int(s.cgroup_oom_kills),
            Metric::CgroupPeriods => Raw::Int(s.cgroup_periods),
            Metric::CgroupThrottledPeriods => Raw::Int(s.cgroup_throttled_periods),
            Metric::CgroupThrottledUs => Raw::Seconds(s.cgroup_throttled_s),
            Metric::CgroupCpuUs => Raw::Seconds(s.cgroup_cpu_s),
            Metric::CgroupMemoryStallSomeUs => Raw::Seconds(s.cgroup_memory_pressure_some_s),
            Metric::CgroupMemoryStallFullUs => Raw::Seconds(s.cgroup_memory_pressure_full_s),
            Metric::CgroupCpuStallSomeUs => Raw::Seconds(s.cgroup_cpu_pressure_some_s),
            Metric::CgroupUnderOom => Raw::Int(s.cgroup_under_oom.map(u64::from)),
        })
    }
}

/// Largest power of two an integer column divides its values by (a 4 KiB page).
const MAX_SHIFT: u32 = 12;

/// Rows per entry of a presence index (eight 64-bit words).
const ROWS_PER_RANK: usize = 512;

/// Which rows of a column have a value: one bit per row, and the count of set bits before
/// every 512th row, so the position of a row's value is found in a few popcounts.
#[derive(Clone, Debug, Default, PartialEq)]
struct Presence {
    rows: usize,
    bits: Vec<u64>,
    /// `ranks[k]`: rows with a value among rows `0..k * ROWS_PER_RANK`.
    ranks: Vec<u32>,
    present: usize,
}

impl Presence {
    fn push(&mut self, present: bool) {
        // A column that has never had a value keeps no bits: a run without a cgroup pays
        // nothing for the cgroup's columns.
        if self.present == 0 {
            if !present {
                self.rows += 1;
                return;
            }
            self.bits.resize(self.rows.div_ceil(64), 0);
            self.ranks.resize(self.rows.div_ceil(ROWS_PER_RANK), 0);
        }
        if self.rows.is_multiple_of(ROWS_PER_RANK) {
            self.ranks
                .push(u32::try_from(self.present).unwrap_or(u32::MAX));
        }
        if self.rows.is_multiple_of(64) {
            self.bits.push(0);
        }
        if present {
            if let Some(word) = self.bits.last_mut() {
                *word |= 1 << (self.rows % 64);
            }
            self.present += 1;
        }
        self.rows += 1;
    }

    fn has(&self, row: usize) -> bool {
        debug_assert!(row < self.rows, "row {row} of {}", self.rows);
        self.bits
            .get(row / 64)
            .is_some_and(|w| w >> (row % 64) & 1 == 1)
    }

    /// Position of row `row`'s value among the values (rows with a value before it).
    fn rank(&self, row: usize) -> usize {
        let block = row / ROWS_PER_RANK;
        let first_word = block * ROWS_PER_RANK / 64;
        let word = row / 64;
        let full: u32 = self.bits[first_word..word]
            .iter()
            .map(|w| w.count_ones())
            .sum();
        let partial = (self.bits[word] & ((1u64 << (row % 64)) - 1)).count_ones();
        self.ranks[block] as usize + (full + partial) as usize
    }

    /// The rows that have a value, in order.
    fn rows(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let mut left = word;
            std::iter::from_fn(move || {
                (left != 0).then(|| {
                    let bit = left.trailing_zeros() as usize;
                    left &= left - 1;
                    w * 64 + bit
                })
            })
        })
    }

    fn heap_bytes(&self) -> usize {
        self.bits.len() * 8 + self.ranks.len() * 4
    }

    fn reserve(&mut self, rows: usize) {
        self.bits.reserve(rows.div_ceil(64));
        self.ranks.reserve(rows.div_ceil(ROWS_PER_RANK));
    }
}

/// Unsigned codes of one width, 1 to 8 little-endian bytes each.
#[derive(Clone, Debug, PartialEq)]
struct Packed {
    width: usize,
    bytes: Vec<u8>,
}

impl Packed {
    fn with_width(width: usize, codes: usize) -> Packed {
        Packed {
            width,
            bytes: Vec::with_capacity(width * codes),
        }
    }

    /// Bytes a code needs.
    fn width_for(code: u64) -> usize {
        (64 - code.leading_zeros() as usize).div_ceil(8).max(1)
    }

    #[inline]
    fn get(&self, k: usize) -> u64 {
        // The common widths spelled out: this is the inner loop of every pass over a column.
        let b = &self.bytes;
        match self.width {
            1 => u64::from(b[k]),
            2 => u64::from(u16::from_le_bytes([b[2 * k], b[2 * k + 1]])),
            3 => {
                let i = 3 * k;
                u64::from(b[i]) | u64::from(b[i + 1]) << 8 | u64::from(b[i + 2]) << 16
            }
            4 => {
                let i = 4 * k;
                u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
            }
            width => {
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(&b[k * width..(k + 1) * width]);
                u64::from_le_bytes(le)
            }
        }
    }

    fn push(&mut self, code: u64) {
        self.bytes
            .extend_from_slice(&code.to_le_bytes()[..self.width]);
    }

    fn len(&self) -> usize {
        self.bytes.len() / self.width
    }
}

/// A column of non-negative integers (bytes, counts), exact, with missing values.
#[derive(Clone, Debug, PartialEq)]
pub struct IntColumn {
    presence: Presence,
    /// Values are stored as `value >> shift`; every value stored is a multiple of
    /// `1 << shift`.
    shift: u32,
    /// The values of the rows that have one, in row order.
    codes: Packed,
    /// Rows expected in all, so storage grows once rather than by doubling (and copying).
    expected_rows: usize,
}

impl Default for IntColumn {
    fn default() -> Self {
        IntColumn {
            presence: Presence::default(),
            shift: MAX_SHIFT,
            codes: Packed::with_width(1, 0),
            expected_rows: 0,
        }
    }
}

impl IntColumn {
    pub fn len(&self) -> usize {
        self.presence.rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values are present (not missing).
    pub fn present(&self) -> usize {
        self.presence.present
    }

    /// The value at row `i`; `None` when it was not read. Panics past the end, like a slice.
    pub fn get(&self, i: usize) -> Option<u64> {
        self.presence
            .has(i)
            .then(|| self.codes.get(self.presence.rank(i)) << self.shift)
    }

    /// The `k`-th value present (of `present()`), in row order.
    #[inline]
    pub fn present_value(&self, k: usize) -> u64 {
        self.codes.get(k) << self.shift
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<u64>> + '_ {
        let mut next_value = 0;
        (0..self.len()).map(move |row| {
            self.presence.has(row).then(|| {
                next_value += 1;
                self.codes.get(next_value - 1) << self.shift
            })
        })
    }

    /// The rows that have a value, with it, in order.
    pub fn present_rows(&self) -> impl Iterator<Item = (usize, u64)> + Clone + '_ {
        self.presence
            .rows()
            .enumerate()
            .map(|(k, row)| (row, self.codes.get(k) << self.shift))
    }

    /// Append a row.
    pub fn push(&mut self, value: Option<u64>) {
        self.presence.push(value.is_some());
        let Some(value) = value else {
            return;
        };
        // trailing_zeros(0) is 64: a zero fits any shift.
        let shift = self.shift.min(value.trailing_zeros());
        let width = Packed::width_for(value >> shift);
        if shift < self.shift || width > self.codes.width {
            self.reencode(shift, width);
        }
        self.codes.push(value >> self.shift);
    }

    /// Re-store every value with `shift`, at least `width` bytes each.
    fn reencode(&mut self, shift: u32, width: usize) {
        let old_shift = self.shift;
        let count = self.codes.len();
        let widest = (0..count)
            .map(|k| Packed::width_for((self.codes.get(k) << old_shift) >> shift))
            .fold(width, usize::max);
        let mut codes = Packed::with_width(widest, count.max(self.expected_rows).max(16));
        for k in 0..count {
            codes.push((self.codes.get(k) << old_shift) >> shift);
        }
        self.shift = shift;
        self.codes = codes;
    }

    /// Bytes the column takes (for the benches and the notes).
    pub fn heap_bytes(&self) -> usize {
        self.codes.bytes.len() + self.presence.heap_bytes()
    }

    /// Make room for `rows` rows in all.
    fn expect_rows(&mut self, rows: usize) {
        self.expected_rows = rows;
        let more = rows.saturating_sub(self.len());
        self.presence.reserve(more);
        self.codes.bytes.reserve(more * self.codes.width);
    }
}

/// A column of real numbers, with missing values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatColumn {
    presence: Presence,
    values: Vec<f64>,
}

impl FloatColumn {
    pub fn len(&self) -> usize {
        self.presence.rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn present(&self) -> usize {
        self.presence.present
    }

    pub fn get(&self, i: usize) -> Option<f64> {
        self.presence
            .has(i)
            .then(|| self.values[self.presence.rank(i)])
    }

    /// The rows that have a value, with it, in order.
    pub fn present_rows(&self) -> impl Iterator<Item = (usize, f64)> + Clone + '_ {
        self.presence.rows().zip(self.values.iter().copied())
    }

    /// Append a row; a NaN (which a JSON number never is) is stored as missing.
    pub fn push(&mut self, value: Option<f64>) {
        let value = value.filter(|v| !v.is_nan());
        self.presence.push(value.is_some());
        self.values.extend(value);
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.len() * std::mem::size_of::<f64>() + self.presence.heap_bytes()
    }

    fn expect_rows(&mut self, rows: usize) {
        let more = rows.saturating_sub(self.len());
        self.presence.reserve(more);
        self.values.reserve(more);
    }
}

/// The samples of a run, by column. Row `i` of every column is sample `i`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    t: Vec<f64>,
    ints: [IntColumn; INT_METRICS.len()],
    cpu: FloatColumn,
    /// The last value read of each counter (see [`Metric::is_counter`]).
    counter_last: [Option<u64>; INT_METRICS.len()],
    /// Samples left out for an impossible time, and values read as missing for being
    /// impossible (see [`Columns::push`]).
    rejected_samples: usize,
    impossible_values: usize,
}

/// Seconds since the start beyond which a sample's time is impossible: ten years (the
/// monotonic clock a run is timed by does not even count suspended time).
pub const MAX_TIME_S: f64 = 10.0 * 365.25 * 86400.0;
/// Bytes no metric can reach: 2^57, the largest virtual address space a 64-bit kernel
/// gives a process (five-level page tables).
pub const MAX_BYTES: u64 = 1 << 57;
/// Threads, FDs or processes no metric can reach: 2^32.
pub const MAX_COUNT: u64 = 1 << 32;
/// A cumulative counter (CFS periods, microseconds) no cgroup can reach: 2^60.
pub const MAX_COUNTER: u64 = 1 << 60;
/// CPU use beyond this many cores is impossible.
pub const MAX_CORES: f64 = 1e6;

impl Columns {
    /// Number of samples (rows).
    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Seconds since the start of the run, one per sample.
    pub fn t(&self) -> &[f64] {
        &self.t
    }

    /// Make room for `rows` samples in all: a reader that can estimate the count (from the
    /// log's size) saves the columns from growing by doubling, which at the end of a
    /// week-long run would briefly hold two copies of each.
    pub fn expect_rows(&mut self, rows: usize) {
        self.t.reserve(rows.saturating_sub(self.t.len()));
        for column in &mut self.ints {
            column.expect_rows(rows);
        }
        self.cpu.expect_rows(rows);
    }

    /// Append one sample as a row, unless its time is impossible: not finite, negative,
    /// beyond [`MAX_TIME_S`], or before the row ahead of it (a log is written in time
    /// order). A value no metric can take (bytes beyond [`MAX_BYTES`], counts beyond
    /// [`MAX_COUNT`], CPU negative, not finite or beyond [`MAX_CORES`]) is stored as
    /// missing. Both are counted, for the verdict to say. Returns whether a row was added.
    pub fn push(&mut self, sample: &Sample) -> bool {
        let t = sample.t;
        let in_order = self.t.last().is_none_or(|&last| t >= last);
        if !(t.is_finite() && (0.0..=MAX_TIME_S).contains(&t) && in_order) {
            self.rejected_samples += 1;
            return false;
        }
        self.t.push(t);
        for (slot, metric) in INT_METRICS.iter().enumerate() {
            let Some(raw) = metric.raw_of(sample) else {
                continue;
            };
            let bound = metric.bound();
            let (read, possible) = match raw {
                Raw::Int(v) => (v.is_some(), v.filter(|&x| x <= bound)),
                Raw::Seconds(v) => (
                    v.is_some(),
                    v.map(|s| s * 1e6)
                        .filter(|us| us.is_finite() && (0.0..=bound as f64).contains(us))
                        .map(|us| us.round() as u64),
                ),
            };
            self.impossible_values += usize::from(read && possible.is_none());
            let stored = if metric.is_counter() {
                let last = &mut self.counter_last[slot];
                let step = possible.map(|v| match *last {
                    Some(prev) if v >= prev => v - prev,
                    Some(_) => v,
                    None => 0,
                });
                if possible.is_some() {
                    *last = possible;
                }
                step
            } else {
                possible
            };
            self.ints[slot].push(stored);
        }
        let cpu = sample
            .cpu
            .filter(|c| c.is_finite() && (0.0..=MAX_CORES).contains(c));
        self.impossible_values += usize::from(sample.cpu.is_some() && cpu.is_none());
        self.cpu.push(cpu);
        true
    }

    /// Samples left out for an impossible time.
    pub fn rejected_samples(&self) -> usize {
        self.rejected_samples
    }

    /// Values read as missing for being impossible.
    pub fn impossible_values(&self) -> usize {
        self.impossible_values
    }

    /// An integer metric's column; `None` for CPU.
    pub fn int(&self, metric: Metric) -> Option<&IntColumn> {
        metric.int_slot().map(|slot| &self.ints[slot])
    }

    /// The CPU column.
    pub fn cpu(&self) -> &FloatColumn {
        &self.cpu
    }

    /// The value of `metric` in row `i`, as a number.
    pub fn value(&self, metric: Metric, i: usize) -> Option<f64> {
        match metric.int_slot() {
            Some(slot) => self.ints[slot].get(i).map(|v| v as f64),
            None => self.cpu.get(i),
        }
    }

    /// Rows where `metric` is present.
    pub fn present(&self, metric: Metric) -> usize {
        match metric.int_slot() {
            Some(slot) => self.ints[slot].present(),
            None => self.cpu.present(),
        }
    }

    /// `(t, value)` of every row where `metric` is present, in row order.
    pub fn points(&self, metric: Metric) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
        let (ints, floats) = match metric.int_slot() {
            Some(slot) => (Some(self.ints[slot].present_rows()), None),
            None => (None, Some(self.cpu.present_rows())),
        };
        let ints = ints
            .into_iter()
            .flatten()
            .map(|(row, v)| (self.t[row], v as f64));
        let floats = floats
            .into_iter()
            .flatten()
            .map(|(row, v)| (self.t[row], v));
        ints.chain(floats)
    }

    /// `(t, increase since the first value)` of a counter (see [`Metric::is_counter`]) at
    /// every row where it was read: its running total over the run. For any other metric,
    /// the running sum of its values.
    pub fn cumulative(&self, metric: Metric) -> impl Iterator<Item = (f64, f64)> + '_ {
        let mut total = 0.0;
        self.points(metric).map(move |(t, step)| {
            total += step;
            (t, total)
        })
    }

    /// Largest value of an integer metric.
    pub fn max_int(&self, metric: Metric) -> Option<u64> {
        self.int(metric)?.present_rows().map(|(_, v)| v).max()
    }

    /// Bytes the columns' values take.
    pub fn heap_bytes(&self) -> usize {
        self.t.len() * std::mem::size_of::<f64>()
            + self.ints.iter().map(IntColumn::heap_bytes).sum::<usize>()
            + self.cpu.heap_bytes()
    }
}

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;
