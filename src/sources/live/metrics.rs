//! The metric registry (every family soakprof exposes, its type and help) and the
//! Prometheus text exposition format 0.0.4 encoder that renders a snapshot with it.
//!
//! Hand-written rather than from a crate: the format is a few lines of escaping, and
//! `prometheus-client` encodes OpenMetrics, not the 0.0.4 text format asked for.

use std::fmt::Write;

/// The Content-Type of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// Sent to a Pushgateway at the end of the run (the verdict and what backs it; the
    /// process's last readings are not: a gateway would keep serving them as if live).
    pub pushed: bool,
}

impl Family {
    /// The series names a query can use: the family's own, or a histogram's
    /// `_bucket`, `_sum` and `_count`.
    pub fn series_names(&self) -> Vec<String> {
        match self.kind {
            Kind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{}{s}", self.name))
                .collect(),
            Kind::Gauge | Kind::Counter => vec![self.name.to_string()],
        }
    }
}

const fn family(name: &'static str, kind: Kind, help: &'static str, pushed: bool) -> Family {
    Family {
        name,
        kind,
        help,
        pushed,
    }
}

pub const RSS: Family = family(
    "process_resident_memory_bytes",
    Kind::Gauge,
    "Resident memory size in bytes (summed over the processes with --children).",
    false,
);
pub const VMS: Family = family(
    "process_virtual_memory_bytes",
    Kind::Gauge,
    "Virtual memory size in bytes.",
    false,
);
pub const FDS: Family = family(
    "process_open_fds",
    Kind::Gauge,
    "Number of open file descriptors.",
    false,
);
pub const CPU: Family = family(
    "process_cpu_seconds_total",
    Kind::Counter,
    "Total user and system CPU time spent in seconds.",
    false,
);
pub const START_TIME: Family = family(
    "process_start_time_seconds",
    Kind::Gauge,
    "Start time of the process since the Unix epoch in seconds (absent with --follow or several roots: it would go stale).",
    false,
);
pub const PSS: Family = family(
    "soakprof_pss_bytes",
    Kind::Gauge,
    "Proportional set size in bytes (last read; smaps_rollup is read every --pss-interval).",
    false,
);
pub const USS: Family = family(
    "soakprof_uss_bytes",
    Kind::Gauge,
    "Unique set size in bytes (last read).",
    false,
);
pub const THREADS: Family = family("soakprof_threads", Kind::Gauge, "Number of threads.", false);
pub const PROCS: Family = family(
    "soakprof_processes",
    Kind::Gauge,
    "Number of processes summed in the sample (roots and, with --children, descendants).",
    false,
);
pub const GROWTH_BYTES: Family = family(
    "soakprof_growth_bytes_per_second",
    Kind::Gauge,
    "Memory growth: while recording the running least-squares slope of all samples, at the end the judged trend.",
    true,
);
pub const GROWTH_COUNT: Family = family(
    "soakprof_growth_per_second",
    Kind::Gauge,
    "Thread and FD growth: while recording the running least-squares slope, at the end the judged trend.",
    true,
);
pub const THRESHOLD_BYTES: Family = family(
    "soakprof_growth_threshold_bytes_per_second",
    Kind::Gauge,
    "Memory growth that warns (level=warn) or fails (level=fail) the run.",
    true,
);
pub const THRESHOLD_COUNT: Family = family(
    "soakprof_growth_threshold_per_second",
    Kind::Gauge,
    "Thread or FD growth that fails the run.",
    true,
);
pub const VERDICT: Family = family(
    "soakprof_verdict",
    Kind::Gauge,
    "1 for the current verdict, 0 for the others: provisional while recording (running slopes against the thresholds), judged once soakprof_verdict_final is 1.",
    true,
);
pub const VERDICT_FINAL: Family = family(
    "soakprof_verdict_final",
    Kind::Gauge,
    "1 once the run is over and soakprof_verdict is the judged verdict, 0 while recording.",
    true,
);
pub const SAMPLES: Family = family(
    "soakprof_samples_total",
    Kind::Counter,
    "Samples taken.",
    true,
);
pub const ELAPSED: Family = family(
    "soakprof_elapsed_seconds",
    Kind::Gauge,
    "Seconds since the start of the run, at the last sample (at the end: the run's duration).",
    true,
);
pub const LOAD_REQUESTS: Family = family(
    "soakprof_load_requests_total",
    Kind::Counter,
    "Requests of the built-in load driver (failed and dropped ones included).",
    true,
);
pub const LOAD_ERRORS: Family = family(
    "soakprof_load_errors_total",
    Kind::Counter,
    "Failed load requests by kind.",
    true,
);
pub const LOAD_LATENCY: Family = family(
    "soakprof_load_request_duration_seconds",
    Kind::Histogram,
    "Latency of load requests that got a response, in seconds.",
    true,
);

/// Every family, in the order they are rendered.
pub const FAMILIES: &[&Family] = &[
    &RSS,
    &VMS,
    &FDS,
    &CPU,
    &START_TIME,
    &PSS,
    &USS,
    &THREADS,
    &PROCS,
    &GROWTH_BYTES,
    &GROWTH_COUNT,
    &THRESHOLD_BYTES,
    &THRESHOLD_COUNT,
    &VERDICT,
    &VERDICT_FINAL,
    &SAMPLES,
    &ELAPSED,
    &LOAD_REQUESTS,
    &LOAD_ERRORS,
    &LOAD_LATENCY,
];

/// Every series name soakprof can expose (histograms with their suffixes).
pub fn series_names() -> Vec<String> {
    FAMILIES.iter().flat_map(|f| f.series_names()).collect()
}

/// A number as the format writes it: integers exactly, floats in their shortest
/// round-trip form, `NaN`, `+Inf`, `-Inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

fn write_value(out: &mut String, value: Value) {
    // Writing to a String cannot fail.
    let _ = match value {
        Value::Int(v) => write!(out, "{v}"),
        Value::Float(v) if v.is_nan() => write!(out, "NaN"),
        Value::Float(v) if v.is_infinite() => write!(out, "{}Inf", if v > 0.0 { '+' } else { '-' }),
        Value::Float(v) => write!(out, "{v}"),
    };
}

/// A label value escaped as the format wants: `\` `"` and newline.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text escaped: `\` and newline.
fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders families in the text format; a family's HELP and TYPE lines are written with
/// its first series, so a family with no series (a metric not read) is absent altogether.
pub struct Encoder<'a> {
    out: String,
    /// Labels on every series (the target).
    common: &'a [(&'a str, &'a str)],
    /// Only families sent to a Pushgateway.
    pushed_only: bool,
}

impl<'a> Encoder<'a> {
    pub fn new(common: &'a [(&'a str, &'a str)], pushed_only: bool) -> Encoder<'a> {
        Encoder {
            out: String::with_capacity(4096),
            common,
            pushed_only,
        }
    }

    /// Start a family; its series are written through the returned writer.
    pub fn family<'e>(&'e mut self, family: &'static Family) -> FamilyWriter<'e, 'a> {
        FamilyWriter {
            skip: self.pushed_only && !family.pushed,
            encoder: self,
            family,
            started: false,
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

pub struct FamilyWriter<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    family: &'static Family,
    started: bool,
    skip: bool,
}

impl FamilyWriter<'_, '_> {
    /// One series: `suffix` after the family name (`_bucket`, or empty), its own labels
    /// after the common ones.
    pub fn series(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        if self.skip {
            return;
        }
        let out = &mut self.encoder.out;
        if !self.started {
            self.started = true;
            let _ = write!(out, "# HELP {} ", self.family.name);
            escape_help(self.family.help, out);
            let _ = writeln!(
                out,
                "\n# TYPE {} {}",
                self.family.name,
                self.family.kind.as_str()
            );
        }
        out.push_str(self.family.name);
        out.push_str(suffix);
        let all = self.encoder.common.iter().chain(labels);
        for (i, (name, value)) in all.enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            out.push_str(name);
            out.push_str("=\"");
            escape_label_value(value, out);
            out.push('"');
        }
        if !self.encoder.common.is_empty() || !labels.is_empty() {
            out.push('}');
        }
        out.push(' ');
        write_value(out, value.into());
        out.push('\n');
    }

    /// A series with the common labels only, when there is a value.
    pub fn maybe(&mut self, value: Option<impl Into<Value>>) {
        if let Some(v) = value {
            self.series("", &[], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let names = series_names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        for f in FAMILIES {
            assert!(
                f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn renders_help_type_labels_and_escapes() {
        let common = [("target", "a\"b\\c\nd")];
        let mut enc = Encoder::new(&common, false);
        enc.family(&RSS).maybe(Some(1_234u64));
        enc.family(&VMS).maybe(None::<u64>);
        enc.family(&GROWTH_BYTES)
            .series("", &[("metric", "rss")], -0.5);
        enc.family(&ELAPSED).maybe(Some(f64::INFINITY));
        let text = enc.finish();
        assert_eq!(
            text,
            "# HELP process_resident_memory_bytes Resident memory size in bytes (summed over the processes with --children).\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes{target=\"a\\\"b\\\\c\\nd\"} 1234\n\
             # HELP soakprof_growth_bytes_per_second Memory growth: while recording the running least-squares slope of all samples, at the end the judged trend.\n\
             # TYPE soakprof_growth_bytes_per_second gauge\n\
             soakprof_growth_bytes_per_second{target=\"a\\\"b\\\\c\\nd\",metric=\"rss\"} -0.5\n\
             # HELP soakprof_elapsed_seconds Seconds since the start of the run, at the last sample (at the end: the run's duration).\n\
             # TYPE soakprof_elapsed_seconds gauge\n\
             soakprof_elapsed_seconds{target=\"a\\\"b\\\\c\\nd\"} +Inf\n"
        );
    }

    #[test]
    fn pushed_only_leaves_out_process_readings() {
        let mut enc = Encoder::new(&[], true);
        enc.family(&RSS).maybe(Some(1u64));
        enc.family(&SAMPLES).maybe(Some(3u64));
        assert_eq!(
            enc.finish(),
            "# HELP soakprof_samples_total Samples taken.\n# TYPE soakprof_samples_total counter\nsoakprof_samples_total 3\n"
        );
    }

    #[test]
    fn floats_keep_their_precision() {
        let mut out = String::new();
        write_value(&mut out, Value::Float(1e-7));
        out.push(' ');
        write_value(&mut out, Value::Float(f64::NAN));
        out.push(' ');
        write_value(&mut out, Value::Float(-f64::INFINITY));
        assert_eq!(out, "0.0000001 NaN -Inf");
    }
}
