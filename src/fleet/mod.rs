//! `soakprof analyze --prometheus`: fetch every query's series, join them into one run
//! per target, judge each run with the same core as a recorded one, and write the fleet
//! directory (fleet.json, fleet.html). Nothing is written until every series is judged,
//! so a failure leaves no half-written directory.

pub mod config;

use std::path::{Path, PathBuf};

pub use config::FleetConfig;

use crate::analysis::fleet::{FleetSource, FleetVerdict, SeriesVerdict, summarize};
use crate::analysis::{self, AnalysisConfig};
use crate::report::ReportError;
use crate::runlog::RunData;
use crate::sources::prometheus::assemble::{self, Fetched, RunContext, Target};
use crate::sources::prometheus::{PromClient, PromError};

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("--prometheus {url}: not an http:// or https:// URL with a host")]
    Url { url: String },
    #[error("{flag} does not apply to --prometheus")]
    Unsupported { flag: &'static str },
    #[error("give --query PROMQL or --job NAME: there is nothing to judge")]
    NoQuery,
    #[error("--query '{spec}': {why}")]
    Query { spec: String, why: String },
    #[error(
        "{flag} '{value}': not a time (give RFC 3339, e.g. 2026-12-01T08:00:00Z, or unix seconds)"
    )]
    Time { flag: &'static str, value: String },
    #[error("the range is empty: --start must be before --end")]
    EmptyRange,
    #[error("{why}")]
    Step { why: String },
    #[error("--group-by '{label}': not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")]
    Label { label: String },
    #[error("--out {} holds {holds}; a fleet goes into a directory of its own", path.display())]
    OutTaken { path: PathBuf, holds: &'static str },
    #[error(
        "no series: {queries} returned nothing from {url} between {start} and {end}; check the queries, the labels and the range"
    )]
    Empty {
        queries: String,
        url: String,
        start: String,
        end: String,
    },
    #[error(
        "no usable values: {queries} returned {series} series from {url}, but none holds a value that is a size or count (finite, not negative); check what the queries measure"
    )]
    Unusable {
        queries: String,
        series: usize,
        url: String,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Prom(#[from] PromError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl FleetError {
    pub fn is_bad_input(&self) -> bool {
        match self {
            FleetError::Config(e) => e.is_bad_input(),
            FleetError::Prom(e) => e.is_bad_input(),
            FleetError::Report(e) => e.is_bad_input(),
            FleetError::Url { .. }
            | FleetError::Unsupported { .. }
            | FleetError::NoQuery
            | FleetError::Query { .. }
            | FleetError::Time { .. }
            | FleetError::EmptyRange
            | FleetError::Step { .. }
            | FleetError::Label { .. }
            | FleetError::OutTaken { .. }
            | FleetError::Empty { .. }
            | FleetError::Unusable { .. } => true,
        }
    }
}

/// A judged fleet: the document, each series' run in the document's order, and the
/// directory it was written to.
pub struct JudgedFleet {
    pub fleet: FleetVerdict,
    pub runs: Vec<RunData>,
    pub dir: PathBuf,
}

/// A time for messages: RFC 3339, seconds.
fn time_text(unix_s: f64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(unix_s.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `f` of every item on `workers` threads, dealt round-robin (so slow and fast items
/// spread over them); the results in the items' order.
fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    workers: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.clamp(1, items.len().max(1));
    let mut hands: Vec<Vec<(usize, T)>> = (0..workers).map(|_| Vec::new()).collect();
    for (k, item) in items.into_iter().enumerate() {
        hands[k % workers].push((k, item));
    }
    let f = &f;
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = hands
            .into_iter()
            .map(|hand| {
                scope.spawn(move || {
                    hand.into_iter()
                        .map(|(k, item)| (k, f(item)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(done) => done,
                // A panic in a worker is a bug: raise it as the panic it was.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Queries in flight at once: two keep the server and the parse busy together, while
/// holding at most two answers' bodies in memory.
const FETCH_THREADS: usize = 2;

/// Fetch every query, `FETCH_THREADS` at a time, with a progress bar on a terminal. The
/// first error (in query order) is the one reported.
fn fetch_all(config: &FleetConfig, client: &PromClient) -> Result<Vec<Fetched>, FleetError> {
    let range = config.range;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(config.queries.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} queries, {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("fetching");
    let fetch_one = |key: crate::sources::prometheus::assemble::MetricKey, promql: &str| {
        let mut on_progress = |read_bytes: u64| {
            bar.set_message(format!(
                "fetching {} ({})",
                key.name(),
                crate::units::format_bytes(read_bytes as f64)
            ));
        };
        let series = client.query_range(
            promql,
            range.start_unix_s,
            range.end_unix_s,
            range.step_s,
            &mut on_progress,
        );
        bar.inc(1);
        series.map(|series| Fetched { key, series })
    };
    let results = in_parallel(
        config.queries.iter().collect(),
        FETCH_THREADS,
        |(key, promql)| fetch_one(*key, promql),
    );
    bar.finish_and_clear();
    results
        .into_iter()
        .map(|r| r.map_err(FleetError::from))
        .collect()
}

/// The judged memory's growth of a verdict, bytes per minute.
fn judged_growth(verdict: &analysis::RunVerdict) -> Option<f64> {
    verdict
        .metrics
        .judged_memory(verdict.capacity.judged_memory)
        .map(|t| t.slope_per_min)
}

/// Judge one target as a run of its own.
fn judge_target(target: Target, analysis_config: &AnalysisConfig) -> (SeriesVerdict, RunData) {
    let verdict = analysis::analyse(&target.run, analysis_config);
    let series = SeriesVerdict {
        id: String::new(),
        name: target.run.header.target.name.clone(),
        labels: target.labels,
        growth_bytes_per_min: judged_growth(&verdict),
        segments: target.segments,
        verdict,
    };
    (series, target.run)
}

/// Judge every target, on as many threads as there are cores (each judgement is pure and
/// independent; a day of 200 series is seconds of CPU). The order is kept.
fn judge_targets(
    targets: Vec<Target>,
    analysis_config: &AnalysisConfig,
) -> Vec<(SeriesVerdict, RunData)> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    in_parallel(targets, workers, |t| judge_target(t, analysis_config))
}

/// Fetch, join, judge: the fleet document and its runs, in the document's order.
pub fn judge_fleet(config: &FleetConfig) -> Result<(FleetVerdict, Vec<RunData>), FleetError> {
    let headers = config
        .headers
        .iter()
        .map(|h| h.resolve())
        .collect::<Result<Vec<_>, _>>()?;
    let client = PromClient::new(config.url.clone(), headers, config.timeout)?;
    let fetched = fetch_all(config, &client)?;
    let url = crate::load::scenario::redact_userinfo(config.url.as_str());
    let thresholds = config.thresholds.clone();
    let context = RunContext {
        thresholds: thresholds.clone(),
        limits: config.limits.clone(),
        url: url.clone(),
    };
    let returned: usize = fetched.iter().map(|f| f.series.len()).sum();
    let targets = assemble::assemble(fetched, &config.group_by, config.range, &context);
    if targets.iter().all(|t| t.run.columns.is_empty()) {
        let queries: Vec<&str> = config.queries.iter().map(|(_, q)| q.as_str()).collect();
        let queries = queries.join(", ");
        if returned > 0 {
            return Err(FleetError::Unusable {
                queries,
                series: returned,
                url,
            });
        }
        return Err(FleetError::Empty {
            queries,
            url,
            start: time_text(config.range.start_unix_s),
            end: time_text(config.range.end_unix_s),
        });
    }
    let analysis_config = AnalysisConfig {
        thresholds: thresholds.clone(),
        limits: context.limits.clone(),
    };
    let judged = judge_targets(targets, &analysis_config);
    let source = FleetSource {
        url,
        queries: config
            .queries
            .iter()
            .map(|(k, q)| (k.name().to_string(), q.clone()))
            .collect(),
        job: config.job.clone(),
        start_unix_s: config.range.start_unix_s,
        end_unix_s: config.range.end_unix_s,
        step_s: config.range.step_s,
        group_by: config.group_by.clone(),
    };
    let (series, mut runs): (Vec<SeriesVerdict>, Vec<RunData>) = judged.into_iter().unzip();
    // `summarize` sorts; each run follows its series by name (names are unique: they are
    // the target's labels).
    let fleet = summarize(source, thresholds, series);
    let order: std::collections::HashMap<&str, usize> = fleet
        .series
        .iter()
        .enumerate()
        .map(|(k, s)| (s.name.as_str(), k))
        .collect();
    runs.sort_by_key(|r| {
        order
            .get(r.header.target.name.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    Ok((fleet, runs))
}

/// Create the fleet directory: `--out` (created when missing), or a new
/// `reports/<timestamp>-fleet-<job>[-N]`.
fn create_dir(config: &FleetConfig) -> Result<PathBuf, FleetError> {
    let write_error = |path: &Path, source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let base = config.out_dir(&crate::runlog::local_timestamp());
    if config.out.is_some() {
        std::fs::create_dir_all(&base).map_err(|e| write_error(&base, e))?;
        return Ok(base);
    }
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
    }
    let name = base
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    for n in 1..=999 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            base.with_file_name(format!("{name}-{n}"))
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(write_error(&candidate, e).into()),
        }
    }
    Err(write_error(
        &base,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "999 fleets of that name exist",
        ),
    )
    .into())
}

/// The whole command: judge the fleet, then write fleet.json and fleet.html.
pub fn run(config: &FleetConfig) -> Result<JudgedFleet, FleetError> {
    let (fleet, runs) = judge_fleet(config)?;
    let dir = create_dir(config)?;
    crate::report::fleet::write_fleet(&dir, &fleet)?;
    let run_refs: Vec<&RunData> = runs.iter().collect();
    crate::report::write_fleet_html(&dir, &fleet, &run_refs)?;
    Ok(JudgedFleet { fleet, runs, dir })
}
