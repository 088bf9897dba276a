//! Compact, exact columns of a run's samples: one time column and one column per metric the
//! analysis and the charts use. The run-log reader fills them line by line, and any other
//! source of `(t, value)` series (a baseline run, Prometheus) can fill them too.
//!
//! Memory is what a week-long run at 1 Hz is judged in, so every column costs what its
//! values need and no more, without rounding a single value:
//! - integer metrics (bytes, counts) are stored in 1, 2, 4 or 8 bytes each, divided by the
//!   largest power of two (up to a page, 4096) that divides every value. RSS of a 200 MB
//!   process in whole pages takes 2 bytes a sample instead of a `u64`'s 8 (or the 24 of an
//!   `Option<u64>` in a `Sample`);
//! - CPU, a real number, is an `f64`;
//! - a missing value (`null` in the log) is a sentinel, never 0: the width's all-ones for
//!   integers, NaN for floats (a JSON number is never NaN).
//!
//! A value that does not fit the current encoding re-encodes the column once (wider, or a
//! smaller power of two); that happens a handful of times per column at most.

use std::borrow::Cow;

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
}

/// The integer metrics, in storage order.
const INT_METRICS: [Metric; 7] = [
    Metric::Rss,
    Metric::Vms,
    Metric::Pss,
    Metric::Uss,
    Metric::Threads,
    Metric::Fds,
    Metric::Procs,
];

impl Metric {
    fn int_slot(self) -> Option<usize> {
        INT_METRICS.iter().position(|m| *m == self)
    }

    /// An integer metric's value in a sample, as read (`None` for CPU, a float).
    fn int_of(self, s: &Sample) -> Option<Option<u64>> {
        Some(match self {
            Metric::Rss => s.rss,
            Metric::Vms => s.vms,
            Metric::Pss => s.pss,
            Metric::Uss => s.uss,
            Metric::Threads => s.threads,
            Metric::Fds => s.fds,
            Metric::Procs => s.procs.map(u64::from),
            Metric::Cpu => return None,
        })
    }
}

/// Largest power of two an integer column divides its values by (a 4 KiB page).
const MAX_SHIFT: u32 = 12;

/// Storage of an integer column at one width. The all-ones value of the width is "missing".
#[derive(Clone, Debug, PartialEq)]
enum Packed {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Packed {
    fn len(&self) -> usize {
        match self {
            Packed::U8(v) => v.len(),
            Packed::U16(v) => v.len(),
            Packed::U32(v) => v.len(),
            Packed::U64(v) => v.len(),
        }
    }

    /// The stored code at `i` (`None` for the missing sentinel).
    fn code(&self, i: usize) -> Option<u64> {
        let (code, missing) = match self {
            Packed::U8(v) => (u64::from(v[i]), u64::from(u8::MAX)),
            Packed::U16(v) => (u64::from(v[i]), u64::from(u16::MAX)),
            Packed::U32(v) => (u64::from(v[i]), u64::from(u32::MAX)),
            Packed::U64(v) => (v[i], u64::MAX),
        };
        (code != missing).then_some(code)
    }

    /// The largest code this width holds (one below its sentinel).
    fn max_code(&self) -> u64 {
        match self {
            Packed::U8(_) => u64::from(u8::MAX) - 1,
            Packed::U16(_) => u64::from(u16::MAX) - 1,
            Packed::U32(_) => u64::from(u32::MAX) - 1,
            Packed::U64(_) => u64::MAX - 1,
        }
    }

    /// Append a code known to fit (`None`: missing).
    fn push(&mut self, code: Option<u64>) {
        // Codes above the width's maximum never get here (`IntColumn::push` widens first),
        // so the conversions cannot fail; the sentinel is the fallback all the same.
        match self {
            Packed::U8(v) => v.push(code.and_then(|c| u8::try_from(c).ok()).unwrap_or(u8::MAX)),
            Packed::U16(v) => {
                v.push(code.and_then(|c| u16::try_from(c).ok()).unwrap_or(u16::MAX));
            }
            Packed::U32(v) => {
                v.push(code.and_then(|c| u32::try_from(c).ok()).unwrap_or(u32::MAX));
            }
            Packed::U64(v) => v.push(code.unwrap_or(u64::MAX)),
        }
    }

    /// An empty store wide enough for `code`.
    fn for_code(code: u64, capacity: usize) -> Packed {
        if code < u64::from(u8::MAX) {
            Packed::U8(Vec::with_capacity(capacity))
        } else if code < u64::from(u16::MAX) {
            Packed::U16(Vec::with_capacity(capacity))
        } else if code < u64::from(u32::MAX) {
            Packed::U32(Vec::with_capacity(capacity))
        } else {
            Packed::U64(Vec::with_capacity(capacity))
        }
    }

    fn bytes_per_value(&self) -> usize {
        match self {
            Packed::U8(_) => 1,
            Packed::U16(_) => 2,
            Packed::U32(_) => 4,
            Packed::U64(_) => 8,
        }
    }
}

/// A column of non-negative integers (bytes, counts), exact, with missing values.
#[derive(Clone, Debug, PartialEq)]
pub struct IntColumn {
    /// Values are stored as `value >> shift`; every value stored is a multiple of
    /// `1 << shift`.
    shift: u32,
    packed: Packed,
    present: usize,
}

impl Default for IntColumn {
    fn default() -> Self {
        IntColumn {
            shift: MAX_SHIFT,
            packed: Packed::U8(Vec::new()),
            present: 0,
        }
    }
}

impl IntColumn {
    pub fn len(&self) -> usize {
        self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values are present (not missing).
    pub fn present(&self) -> usize {
        self.present
    }

    /// The value at row `i`; `None` when it was not read. Panics past the end, like a slice.
    pub fn get(&self, i: usize) -> Option<u64> {
        self.packed.code(i).map(|c| c << self.shift)
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<u64>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Append a row. A value of `u64::MAX` (which no metric reaches) is stored as one less.
    pub fn push(&mut self, value: Option<u64>) {
        let Some(value) = value else {
            self.packed.push(None);
            return;
        };
        let value = value.min(u64::MAX - 1);
        // trailing_zeros(0) is 64: a zero fits any shift.
        let shift = self.shift.min(value.trailing_zeros());
        if shift < self.shift || value >> self.shift > self.packed.max_code() {
            self.reencode(shift, value);
        }
        self.packed.push(Some(value >> self.shift));
        self.present += 1;
    }

    /// Re-store every row with `shift`, in a width that also holds `value`.
    fn reencode(&mut self, shift: u32, value: u64) {
        let widest = self.iter().flatten().fold(value, u64::max) >> shift;
        let mut packed = Packed::for_code(widest, self.len().max(16));
        for i in 0..self.len() {
            packed.push(self.get(i).map(|v| v >> shift));
        }
        self.shift = shift;
        self.packed = packed;
    }

    /// Bytes the column's values take (for the benches and the notes).
    pub fn heap_bytes(&self) -> usize {
        self.len() * self.packed.bytes_per_value()
    }
}

/// A column of real numbers; NaN marks a missing value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatColumn {
    values: Vec<f64>,
    present: usize,
}

impl FloatColumn {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn present(&self) -> usize {
        self.present
    }

    pub fn get(&self, i: usize) -> Option<f64> {
        let v = self.values[i];
        (!v.is_nan()).then_some(v)
    }

    /// Append a row; a NaN is stored as missing.
    pub fn push(&mut self, value: Option<f64>) {
        match value.filter(|v| !v.is_nan()) {
            Some(v) => {
                self.values.push(v);
                self.present += 1;
            }
            None => self.values.push(f64::NAN),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.len() * std::mem::size_of::<f64>()
    }
}

/// One metric's values as plain `(t, value)` series: the rows where it is present. `t` is
/// borrowed from the columns when the metric is present on every row.
#[derive(Clone, Debug, PartialEq)]
pub struct Series<'a> {
    pub t: Cow<'a, [f64]>,
    pub y: Vec<f64>,
}

/// The samples of a run, by column. Row `i` of every column is sample `i`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    t: Vec<f64>,
    ints: [IntColumn; INT_METRICS.len()],
    cpu: FloatColumn,
}

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

    /// Append one sample as a row.
    pub fn push(&mut self, sample: &Sample) {
        self.t.push(sample.t);
        for (slot, metric) in INT_METRICS.iter().enumerate() {
            if let Some(v) = metric.int_of(sample) {
                self.ints[slot].push(v);
            }
        }
        self.cpu.push(sample.cpu);
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
        (0..self.len()).filter_map(move |i| self.value(metric, i).map(|v| (self.t[i], v)))
    }

    /// The metric as a plain series, materialised for the analysis (which works on slices).
    pub fn series(&self, metric: Metric) -> Series<'_> {
        let y: Vec<f64> = (0..self.len())
            .filter_map(|i| self.value(metric, i))
            .collect();
        let t = if y.len() == self.len() {
            Cow::Borrowed(&self.t[..])
        } else {
            Cow::Owned(self.points(metric).map(|(t, _)| t).collect())
        };
        Series { t, y }
    }

    /// Largest value of an integer metric.
    pub fn max_int(&self, metric: Metric) -> Option<u64> {
        self.int(metric)?.iter().flatten().max()
    }

    /// Bytes the columns' values take.
    pub fn heap_bytes(&self) -> usize {
        self.t.len() * std::mem::size_of::<f64>()
            + self.ints.iter().map(IntColumn::heap_bytes).sum::<usize>()
            + self.cpu.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_column_is_exact_and_keeps_missing_values() {
        let values = [
            Some(4096 * 50_000),
            None,
            Some(4096 * 50_001),
            Some(1024 * 7), // kB granularity: re-encoded with a smaller shift
            Some(13),       // odd: shift 0
            None,
            Some(u64::from(u32::MAX) * 4096), // needs 8 bytes
            Some(0),
        ];
        let mut col = IntColumn::default();
        for v in values {
            col.push(v);
        }
        let back: Vec<Option<u64>> = col.iter().collect();
        assert_eq!(back, values);
        assert_eq!(col.present(), 6);
        assert_eq!(col.len(), 8);
    }

    #[test]
    fn pages_take_two_bytes_and_counts_one() {
        let mut rss = IntColumn::default();
        let mut threads = IntColumn::default();
        for i in 0..1000u64 {
            rss.push(Some((48_000 + i) * 4096)); // about 200 MB, in whole pages
            threads.push(Some(40 + i % 9));
        }
        assert_eq!(rss.heap_bytes(), 2000);
        assert_eq!(threads.heap_bytes(), 1000);
        assert_eq!(rss.get(999), Some(48_999 * 4096));
        assert_eq!(threads.get(8), Some(48));
    }

    #[test]
    fn a_value_at_the_sentinel_widens_instead_of_going_missing() {
        let mut col = IntColumn::default();
        col.push(Some(1));
        col.push(Some(255)); // u8::MAX is the U8 sentinel
        col.push(Some(65_535));
        assert_eq!(
            col.iter().collect::<Vec<_>>(),
            [Some(1), Some(255), Some(65_535)]
        );
        col.push(Some(u64::MAX));
        assert_eq!(col.get(3), Some(u64::MAX - 1));
    }

    #[test]
    fn series_borrows_time_when_dense_and_skips_missing_rows() {
        let mut cols = Columns::default();
        for i in 0..10 {
            cols.push(&Sample {
                t: i as f64,
                rss: Some(1000 + i),
                pss: (i % 5 == 0).then_some(2000 + i),
                cpu: (i > 0).then_some(0.25),
                ..Sample::default()
            });
        }
        let rss = cols.series(Metric::Rss);
        assert!(matches!(rss.t, Cow::Borrowed(_)));
        assert_eq!(rss.y.len(), 10);
        let pss = cols.series(Metric::Pss);
        assert_eq!(&pss.t[..], &[0.0, 5.0]);
        assert_eq!(pss.y, [2000.0, 2005.0]);
        assert_eq!(cols.present(Metric::Cpu), 9);
        assert_eq!(cols.value(Metric::Cpu, 0), None);
        assert_eq!(
            cols.value(Metric::Threads, 3),
            None,
            "never read: missing, not 0"
        );
        assert_eq!(cols.max_int(Metric::Rss), Some(1009));
        assert_eq!(cols.max_int(Metric::Procs), None);
    }
}
