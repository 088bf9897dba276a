//! Which memory a run is judged on. One process: RSS, what it holds. Several (`--children`,
//! a cgroup's processes): summed RSS counts every page they share once per process (a
//! PostgreSQL with 128 MB of shared buffers and 9 backends read 201 MB of summed RSS against
//! 71 MB of PSS), so the growth that is judged and the figure set against the memory limit
//! are PSS, which splits each shared page among its sharers and so sums to what the
//! processes use. Summed RSS stays in the verdict, marked not judged.
//!
//! A cgroup target (`--cgroup`, `--container`) is judged on the cgroup's anon memory: its
//! memory in use also counts page cache, which grows on any busy service and which the
//! kernel reclaims before it kills anything, so judging it would call a file server a
//! leak. Memory in use, page cache and the working set are reported, not judged.

use serde::{Deserialize, Serialize};

use super::trend::{JudgedMemory, MIN_SAMPLES_FOR_TREND};
use crate::columns::{Columns, Metric};
use crate::units::format_bytes;

/// The judged memory of a run, and why it is that one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryBasis {
    pub metric: JudgedMemory,
    /// One sentence a capacity planner reads.
    pub reason: String,
}

/// Choose the judged memory of a process target from what the run's columns hold.
pub fn memory_basis(columns: &Columns) -> MemoryBasis {
    memory_basis_for(columns, false)
}

/// Choose the judged memory: for a cgroup target (`cgroup_target`, the header's
/// `target.cgroup.is_target`) its anon memory when it was read in enough samples, else
/// what a process target would be judged on, and why.
pub fn memory_basis_for(columns: &Columns, cgroup_target: bool) -> MemoryBasis {
    if !cgroup_target {
        return process_basis(columns);
    }
    let anon_samples = columns.present(Metric::CgroupAnon);
    if anon_samples >= MIN_SAMPLES_FOR_TREND {
        let peak = |m| {
            columns
                .max_int(m)
                .map_or_else(|| "unknown".to_string(), |b| format_bytes(b as f64))
        };
        return MemoryBasis {
            metric: JudgedMemory::CgroupAnon,
            reason: format!(
                "the target is a cgroup: its anon memory (peak {}) is judged, since its memory in use \
                 (peak {}, reported, not judged) also counts page cache (peak {}), which the \
                 kernel reclaims before it kills anything",
                peak(Metric::CgroupAnon),
                peak(Metric::CgroupMemory),
                peak(Metric::CgroupFile)
            ),
        };
    }
    let fallback = process_basis(columns);
    MemoryBasis {
        metric: fallback.metric,
        reason: format!(
            "a cgroup whose anon memory was read in only {anon_samples} samples (at least \
             {MIN_SAMPLES_FOR_TREND} are needed), so its processes are judged: {}",
            fallback.reason
        ),
    }
}

fn process_basis(columns: &Columns) -> MemoryBasis {
    let max_procs = columns.max_int(Metric::Procs).unwrap_or(1);
    if max_procs <= 1 {
        return MemoryBasis {
            metric: JudgedMemory::Rss,
            reason: "one process: its RSS is what it holds".into(),
        };
    }
    let pss_samples = columns.present(Metric::Pss);
    let rss_peak = columns
        .max_int(Metric::Rss)
        .map_or_else(|| "unknown".to_string(), |b| format_bytes(b as f64));
    if pss_samples >= MIN_SAMPLES_FOR_TREND {
        let pss_peak = columns
            .max_int(Metric::Pss)
            .map_or_else(|| "unknown".to_string(), |b| format_bytes(b as f64));
        return MemoryBasis {
            metric: JudgedMemory::Pss,
            reason: format!(
                "up to {max_procs} processes: PSS (peak {pss_peak}) is judged, since summed RSS \
                 (peak {rss_peak}, reported, not judged) counts each page they share once per process"
            ),
        };
    }
    let why = if pss_samples == 0 {
        "PSS could not be read (--pss-interval off, or no access to smaps_rollup)".to_string()
    } else {
        format!(
            "PSS was read in only {pss_samples} samples (at least {MIN_SAMPLES_FOR_TREND} are needed; \
             a shorter --pss-interval reads it more often)"
        )
    };
    MemoryBasis {
        metric: JudgedMemory::Rss,
        reason: format!(
            "up to {max_procs} processes, and {why}: summed RSS (peak {rss_peak}) is judged, which \
             counts each page they share once per process and so may overstate their memory"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;

    fn columns(procs: u32, pss_every: usize, n: usize) -> Columns {
        let mut columns = Columns::default();
        for i in 0..n {
            let mut s = Sample {
                t: i as f64,
                rss: Some(u64::from(procs) * 110_000_000),
                procs: Some(procs),
                ..Sample::default()
            };
            if pss_every > 0 && i % pss_every == 0 {
                s.pss = Some(100_000_000 + u64::from(procs) * 10_000_000);
            }
            columns.push(&s);
        }
        columns
    }

    #[test]
    fn one_process_is_judged_on_rss() {
        let basis = memory_basis(&columns(1, 1, 30));
        assert_eq!(basis.metric, JudgedMemory::Rss);
    }

    #[test]
    fn several_processes_are_judged_on_pss_when_it_was_read_enough() {
        let basis = memory_basis(&columns(4, 2, 30));
        assert_eq!(basis.metric, JudgedMemory::Pss);
        assert!(basis.reason.contains("4 processes"), "{}", basis.reason);
        assert!(basis.reason.contains("not judged"), "{}", basis.reason);
    }

    #[test]
    fn a_cgroup_target_is_judged_on_anon_when_it_was_read() {
        let mut cols = columns(4, 2, 30);
        assert_eq!(memory_basis_for(&cols, true).metric, JudgedMemory::Pss);
        assert!(
            memory_basis_for(&cols, true)
                .reason
                .contains("read in only 0 samples")
        );
        cols = Columns::default();
        for i in 0..30 {
            cols.push(&Sample {
                t: i as f64,
                rss: Some(1 << 20),
                cgroup_anon_bytes: Some(50 << 20),
                cgroup_file_bytes: Some(200 << 20),
                cgroup_memory_bytes: Some(260 << 20),
                ..Sample::default()
            });
        }
        let basis = memory_basis_for(&cols, true);
        assert_eq!(basis.metric, JudgedMemory::CgroupAnon);
        assert!(basis.reason.contains("peak 52.4 MB"), "{}", basis.reason);
        // A process whose cgroup is read alongside keeps its own judged memory.
        assert_eq!(memory_basis_for(&cols, false).metric, JudgedMemory::Rss);
    }

    #[test]
    fn without_enough_pss_summed_rss_is_judged_and_said() {
        let none = memory_basis(&columns(4, 0, 30));
        assert_eq!(none.metric, JudgedMemory::Rss);
        assert!(none.reason.contains("could not be read"), "{}", none.reason);
        let few = memory_basis(&columns(4, 10, 30));
        assert_eq!(few.metric, JudgedMemory::Rss);
        assert!(few.reason.contains("only 3 samples"), "{}", few.reason);
    }
}
