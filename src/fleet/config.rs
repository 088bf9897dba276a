//! `analyze --prometheus`'s options, checked: the queries by metric (a `--job` preset and
//! `--query`), the time range and step, the headers, the fleet directory. Every bad-input
//! error is found here, before anything is fetched or written.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::FleetError;
use crate::cli::FleetArgs;
use crate::config::JudgeOverrides;
use crate::report::FLEET_FILE;
use crate::runlog::{Limits, Thresholds};
use crate::sources::prometheus::assemble::{MetricKey, Range};
use crate::sources::prometheus::headers::{HeaderSpec, parse_header_spec};

/// The range judged when neither --range nor --start is given.
pub const DEFAULT_RANGE_S: f64 = 3600.0;
/// The automatic step divides the range into this many steps (a day: one a minute).
pub const AUTO_STEPS: f64 = 1440.0;
/// Points per series beyond which a range is refused: each series is held in memory, and
/// a million points of one series is more than any judgement needs.
pub const MAX_POINTS_PER_SERIES: f64 = 1_000_000.0;

/// A checked fleet configuration.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    pub url: url::Url,
    /// The queries, one per metric, in metric order.
    pub queries: Vec<(MetricKey, String)>,
    pub job: Option<String>,
    pub range: Range,
    pub group_by: Vec<String>,
    pub headers: Vec<HeaderSpec>,
    pub timeout: Duration,
    /// `--out`, or `None` for a new `reports/<timestamp>-fleet-<job>`.
    pub out: Option<PathBuf>,
    pub format: crate::cli::OutputFormat,
    /// The thresholds every series is judged with: the defaults, as the options change them.
    pub thresholds: Thresholds,
    pub limits: Limits,
}

impl FleetConfig {
    /// `now_unix_s` is the default end of the range.
    pub fn from_args(
        url: url::Url,
        args: &FleetArgs,
        format: crate::cli::OutputFormat,
        overrides: JudgeOverrides,
        now_unix_s: f64,
    ) -> Result<FleetConfig, FleetError> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FleetError::Url {
                url: crate::load::scenario::redact_userinfo(url.as_str()),
            });
        }
        let queries = queries(args)?;
        let range = range(args, now_unix_s)?;
        let headers = args
            .prometheus_header
            .iter()
            .map(|spec| parse_header_spec(spec))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(out) = &args.out {
            check_out(out)?;
        }
        let group_by: Vec<String> = args
            .group_by
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(bad) = group_by.iter().find(|l| !is_label_name(l)) {
            return Err(FleetError::Label { label: bad.clone() });
        }
        Ok(FleetConfig {
            url,
            queries,
            job: args.job.clone(),
            range,
            group_by,
            headers,
            timeout: args.prometheus_timeout,
            out: args.out.clone(),
            format,
            thresholds: overrides.resolve(&Thresholds::default())?,
            limits: overrides.limits.over(&Limits::default()),
        })
    }

    /// The fleet directory: `--out`, or `reports/<timestamp>-fleet-<job>`.
    pub fn out_dir(&self, timestamp: &str) -> PathBuf {
        match &self.out {
            Some(out) => out.clone(),
            None => {
                let name: String = self
                    .job
                    .as_deref()
                    .unwrap_or("prometheus")
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(40)
                    .collect();
                PathBuf::from("reports").join(format!("{timestamp}-fleet-{name}"))
            }
        }
    }
}

/// Seconds since the epoch, now.
pub fn now_unix_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `--job` preset's queries: what is judged (memory, threads, FDs, CPU) and the start
/// time that tells restarts. VMS is left out: it is never judged, and its trend would cost
/// as much as RSS's (`--query vms=...` adds it).
fn job_queries(job: &str) -> Vec<(MetricKey, String)> {
    let escaped = job.replace('\\', "\\\\").replace('"', "\\\"");
    [
        (MetricKey::Rss, "process_resident_memory_bytes"),
        (MetricKey::Threads, "soakprof_threads"),
        (MetricKey::Fds, "process_open_fds"),
        (MetricKey::Cpu, "process_cpu_seconds_total"),
        (MetricKey::Start, "process_start_time_seconds"),
    ]
    .into_iter()
    .map(|(key, metric)| (key, format!("{metric}{{job=\"{escaped}\"}}")))
    .collect()
}

/// `--query [METRIC=]PROMQL`: the metric it names, and the query. The prefix is a metric
/// name followed by `=` but not `==` or `=~` (PromQL's own operators).
fn parse_query(spec: &str) -> Result<(MetricKey, String), FleetError> {
    let named = spec.split_once('=').and_then(|(name, rest)| {
        let key = MetricKey::from_name(name.trim())?;
        (!rest.starts_with('=') && !rest.starts_with('~')).then(|| (key, rest.trim()))
    });
    let (key, promql) = named.unwrap_or((MetricKey::Rss, spec.trim()));
    if promql.is_empty() {
        return Err(FleetError::Query {
            spec: spec.to_string(),
            why: "the query is empty".into(),
        });
    }
    Ok((key, promql.to_string()))
}

fn queries(args: &FleetArgs) -> Result<Vec<(MetricKey, String)>, FleetError> {
    let mut queries = args.job.as_deref().map(job_queries).unwrap_or_default();
    if args.job.as_deref().is_some_and(|j| j.trim().is_empty()) {
        return Err(FleetError::Query {
            spec: "--job".into(),
            why: "the job name is empty".into(),
        });
    }
    let mut given: Vec<MetricKey> = Vec::new();
    for spec in &args.query {
        let (key, promql) = parse_query(spec)?;
        if given.contains(&key) {
            return Err(FleetError::Query {
                spec: spec.clone(),
                why: format!(
                    "a second query for {}: give each metric one query (METRIC=PROMQL)",
                    key.name()
                ),
            });
        }
        given.push(key);
        queries.retain(|(k, _)| *k != key);
        queries.push((key, promql));
    }
    if queries.is_empty() {
        return Err(FleetError::NoQuery);
    }
    queries.sort_by_key(|(k, _)| *k);
    Ok(queries)
}

/// A time as `--start`/`--end` take it: RFC 3339, or seconds since the epoch.
fn parse_time(flag: &'static str, text: &str) -> Result<f64, FleetError> {
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(seconds) => Some(seconds),
        Err(_) => humantime::parse_rfc3339_weak(text)
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64()),
    };
    if let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) {
        return Ok(seconds);
    }
    Err(FleetError::Time {
        flag,
        value: text.to_string(),
    })
}

/// The automatic step: the range in `AUTO_STEPS` steps, whole seconds, at least 1 s.
pub fn auto_step_s(range_s: f64) -> f64 {
    (range_s / AUTO_STEPS).ceil().max(1.0)
}

fn range(args: &FleetArgs, now_unix_s: f64) -> Result<Range, FleetError> {
    let end = match &args.end {
        Some(text) => parse_time("--end", text)?,
        None => now_unix_s,
    };
    let start = match (&args.start, args.range) {
        (Some(text), _) => parse_time("--start", text)?,
        (None, Some(range)) => end - range.as_secs_f64(),
        (None, None) => end - DEFAULT_RANGE_S,
    };
    if start >= end {
        return Err(FleetError::EmptyRange);
    }
    let span = end - start;
    let step = args
        .step
        .map_or_else(|| auto_step_s(span), |s| s.as_secs_f64());
    if step > span {
        return Err(FleetError::Step {
            why: format!(
                "--step {} is longer than the range {}",
                crate::units::format_duration_s(step),
                crate::units::format_duration_s(span)
            ),
        });
    }
    if span / step > MAX_POINTS_PER_SERIES {
        return Err(FleetError::Step {
            why: format!(
                "the range holds {:.0} steps of {} per series, more than {MAX_POINTS_PER_SERIES:.0}: give a longer --step",
                span / step,
                crate::units::format_duration_s(step)
            ),
        });
    }
    Ok(Range {
        start_unix_s: start,
        end_unix_s: end,
        step_s: step,
    })
}

/// `--out`: refused when it holds a fleet (never overwritten) or a recorded run.
fn check_out(out: &Path) -> Result<(), FleetError> {
    for name in [FLEET_FILE, crate::runlog::SAMPLES_FILE] {
        if std::fs::symlink_metadata(out.join(name)).is_ok() {
            return Err(FleetError::OutTaken {
                path: out.to_path_buf(),
                holds: name,
            });
        }
    }
    if std::fs::metadata(out).is_ok_and(|m| !m.is_dir()) {
        return Err(FleetError::OutTaken {
            path: out.to_path_buf(),
            holds: "a file, not a directory",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut FleetArgs)) -> FleetArgs {
        let mut a = FleetArgs {
            prometheus_timeout: Duration::from_secs(30),
            ..FleetArgs::default()
        };
        f(&mut a);
        a
    }

    fn config(a: &FleetArgs) -> Result<FleetConfig, FleetError> {
        let url = url::Url::parse("http://127.0.0.1:9090").map_err(|_| FleetError::NoQuery)?;
        FleetConfig::from_args(
            url,
            a,
            crate::cli::OutputFormat::Text,
            JudgeOverrides::default(),
            1_000_000.0,
        )
    }

    #[test]
    fn job_preset_gives_the_process_queries_and_query_replaces_one() {
        let c = config(&args(|a| {
            a.job = Some("api".into());
            a.query = vec![r#"threads=go_threads{job="api"}"#.into()];
        }));
        let queries = c.map(|c| c.queries).unwrap_or_default();
        let threads = queries.iter().find(|(k, _)| *k == MetricKey::Threads);
        assert_eq!(
            threads.map(|(_, q)| q.as_str()),
            Some(r#"go_threads{job="api"}"#)
        );
        let rss = queries.iter().find(|(k, _)| *k == MetricKey::Rss);
        assert_eq!(
            rss.map(|(_, q)| q.as_str()),
            Some(r#"process_resident_memory_bytes{job="api"}"#)
        );
        assert_eq!(queries.len(), 5);
    }

    #[test]
    fn a_query_names_its_metric_or_is_rss_and_promql_operators_are_not_names() {
        assert_eq!(
            parse_query("fds=process_open_fds").ok(),
            Some((MetricKey::Fds, "process_open_fds".into()))
        );
        assert_eq!(
            parse_query(r#"up{job="x"}"#).ok(),
            Some((MetricKey::Rss, r#"up{job="x"}"#.into()))
        );
        // `rss==5` and `rss=~"a"` are PromQL, not a named query.
        assert_eq!(
            parse_query("rss==5").ok().map(|q| q.0),
            Some(MetricKey::Rss)
        );
        assert_eq!(
            parse_query("rss==5").ok().map(|q| q.1),
            Some("rss==5".to_string())
        );
        assert!(parse_query("cpu=").is_err());
    }

    #[test]
    fn two_queries_for_one_metric_or_none_at_all_are_refused() {
        assert!(matches!(
            config(&args(|a| a.query = vec!["a".into(), "b".into()])),
            Err(FleetError::Query { .. })
        ));
        assert!(matches!(config(&args(|_| {})), Err(FleetError::NoQuery)));
    }

    #[test]
    fn range_defaults_to_an_hour_to_now_with_the_auto_step() {
        let c = config(&args(|a| a.query = vec!["x".into()]));
        let range = c.map(|c| c.range).ok();
        assert_eq!(
            range,
            Some(Range {
                start_unix_s: 1_000_000.0 - 3600.0,
                end_unix_s: 1_000_000.0,
                step_s: 3.0
            })
        );
        assert_eq!(auto_step_s(86400.0), 60.0);
        assert_eq!(auto_step_s(60.0), 1.0);
    }

    #[test]
    fn times_parse_as_rfc3339_or_unix_seconds_and_bad_ranges_are_refused() {
        assert_eq!(parse_time("--end", "1700000000").ok(), Some(1.7e9));
        assert_eq!(
            parse_time("--end", "1970-01-02T00:00:00Z").ok(),
            Some(86400.0)
        );
        assert!(parse_time("--end", "yesterday").is_err());
        let reversed = args(|a| {
            a.query = vec!["x".into()];
            a.start = Some("2000".into());
            a.end = Some("1000".into());
        });
        assert!(matches!(config(&reversed), Err(FleetError::EmptyRange)));
        let tiny_step = args(|a| {
            a.query = vec!["x".into()];
            a.range = Some(Duration::from_secs(30 * 86400));
            a.step = Some(Duration::from_secs(1));
        });
        assert!(matches!(config(&tiny_step), Err(FleetError::Step { .. })));
    }

    #[test]
    fn an_out_that_holds_a_fleet_is_refused_and_labels_are_checked() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return };
        let _ = std::fs::write(dir.path().join(FLEET_FILE), "{}");
        let taken = args(|a| {
            a.query = vec!["x".into()];
            a.out = Some(dir.path().to_path_buf());
        });
        assert!(matches!(config(&taken), Err(FleetError::OutTaken { .. })));
        let bad_label = args(|a| {
            a.query = vec!["x".into()];
            a.group_by = vec!["instance".into(), "no-dash".into()];
        });
        assert!(matches!(config(&bad_label), Err(FleetError::Label { .. })));
    }
}
