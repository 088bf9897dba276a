//! `analyze --prometheus`: series read from a Prometheus server's HTTP API (`client`,
//! with headers whose values come from the environment or a file, `headers`), and series
//! joined into runs the analysis core judges as it judges a recorded one (`assemble`).

pub mod assemble;
pub mod client;
pub mod headers;

use std::collections::BTreeMap;

pub use client::{PromClient, PromError};

/// One series a query returned: its labels (`__name__` among them when the server kept
/// it) and its points in time order, `(unix seconds, value)`. A missing scrape or a stale
/// series is a gap between points, never a point; a NaN value is left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawSeries {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}
