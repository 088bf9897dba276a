//! Comparison of two runs (`soakprof compare`): the candidate against a baseline, item by
//! item, on the same analysis core that judges one run. Pure: runs already read in,
//! a [`Comparison`] out.

mod types;

pub use types::{
    COMPARE_SCHEMA_VERSION, CompareLimits, CompareVerdict, ComparedItem, Comparison, Judgement,
    LimitKind, RunRef,
};

pub mod stats;

#[cfg(test)]
mod tests_stats;
