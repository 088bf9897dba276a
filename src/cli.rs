//! The command line: clap definitions and value parsers only, no logic.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::record::PssInterval;
use crate::sample::Backend;
use crate::target::Pick;
use crate::units;

#[derive(Debug, Parser)]
#[command(
    name = "soakprof",
    version,
    about = "Memory and resource soak profiler: sample a process for hours, fit growth rates, flag leaks",
    after_help = "Exit codes: 0 pass or warn, 1 fail verdict, 2 bad input, 3 runtime error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample a process (by PID, name, regex, or by starting it) and judge its growth.
    Record(RecordArgs),
    /// Re-analyse a run directory (also a crashed or partial one) and rewrite its report.
    Analyze(AnalyzeArgs),
    /// Compare a candidate run with a baseline run: regressed, improved or unchanged, per
    /// metric; exit 1 when anything regressed.
    Compare(CompareArgs),
    /// Profile a built-in leaking HTTP server under load for about a minute.
    Demo(DemoArgs),
    /// The fixture program used by tests and the demo (a process with known behaviour).
    #[command(hide = true)]
    Fixture(crate::fixture::FixtureArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["pid", "name", "match_regex", "cgroup", "container", "command"])))]
pub struct RecordArgs {
    /// Attach to the process with this PID.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Attach to the process with this name (kernel name, executable or argv[0] file name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Attach to the process whose full command line matches this regex.
    #[arg(long = "match", value_name = "REGEX")]
    pub match_regex: Option<String>,
    /// Profile a cgroup: its processes summed (re-read every sample) and its own memory,
    /// CPU, throttling and OOM counters. The path as /proc/PID/cgroup shows it
    /// (`/docker/ID`, `/system.slice/x.service`) or a directory under a cgroup mount.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Profile a container or Kubernetes pod by its ID (or a unique prefix) or pod UID,
    /// found through /proc/*/cgroup (Docker, containerd, CRI-O, podman; no daemon asked).
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// When several processes match --name/--match: take the newest, the oldest, or all.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub pick: Option<Pick>,
    /// Include all descendant processes, summed (re-walked on every sample).
    #[arg(long)]
    pub children: bool,
    /// Keep recording across restarts: a target found by --name/--match is looked for
    /// again by the same rule on every tick once it is gone; with `-- CMD`, CMD is a
    /// supervisor and its children are followed (a new child is a restart; the run ends
    /// when CMD itself exits). Each restart is an event; each life is judged.
    #[arg(long)]
    pub follow: bool,
    /// Time between samples (minimum 10ms).
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub interval: Duration,
    /// Stop after this long (default: until Ctrl-C or the target exits).
    #[arg(long, value_parser = units::parse_positive_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// How often to read PSS/USS (smaps_rollup, whose cost grows with the target's memory):
    /// `auto` (every 5 s, less often if reading would cost over 0.5% of a core),
    /// `off`, or a period.
    #[arg(long, default_value = "auto", value_parser = parse_pss_interval, value_name = "auto|off|DURATION")]
    pub pss_interval: PssInterval,
    /// Run directory (default: reports/<YYYYmmdd-HHMMSS>-<target>); one that holds a run
    /// is refused.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the run in --out (its logs and report); never a run still recording.
    #[arg(long, requires = "out")]
    pub force: bool,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    /// Stop early once a fail verdict is certain (sequential test at α = 1%; 0.4% false stops
    /// measured on the detection bench: 1 of 270 no-leak runs, a GC sawtooth's first rise).
    #[arg(long)]
    pub fail_fast: bool,
    /// No live status line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Sampling backend (default: linux on Linux, portable elsewhere).
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub sampler: Option<Backend>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub ci: CiArgs,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    /// Command to start and profile; its output goes to target.log in the run directory.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Load to drive at the target while recording.
#[derive(Debug, Args, Clone, Default)]
#[command(group(ArgGroup::new("load_source").args(["load", "load_url", "load_cmd"])))]
#[command(group(ArgGroup::new("builtin_load").args(["load", "load_url"]).multiple(false)))]
pub struct LoadArgs {
    /// Drive HTTP load described by a scenario file (TOML; see the README).
    #[arg(long, value_name = "SCENARIO.toml", help_heading = "Load")]
    pub load: Option<PathBuf>,
    /// Drive HTTP GETs at this URL (with --users or --rps).
    #[arg(long, value_name = "URL", help_heading = "Load")]
    pub load_url: Option<String>,
    /// Closed model: this many users (at most 4000: each holds a connection and its buffers, up to 50 KiB), each sending its next request when
    /// the previous one finished (plus --think).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "rps", requires = "builtin_load", help_heading = "Load")]
    pub users: Option<u32>,
    /// Open model: start this many requests per second on a fixed schedule, however slow
    /// the server (latency counts from the intended start); at most 1000 in flight, what is
    /// due beyond that is counted as `dropped`.
    #[arg(long, value_name = "N", value_parser = parse_positive_number, requires = "builtin_load", help_heading = "Load")]
    pub rps: Option<f64>,
    /// Think time between a user's requests: a duration or a random range MIN..MAX.
    #[arg(long, value_name = "MIN..MAX", value_parser = units::parse_duration_range, requires = "builtin_load", help_heading = "Load")]
    pub think: Option<(Duration, Duration)>,
    /// Load shape, scaled by --users/--rps and the run's --duration.
    #[arg(
        long,
        value_enum,
        value_name = "PROFILE",
        requires = "builtin_load",
        help_heading = "Load"
    )]
    pub load_profile: Option<crate::load::scenario::Profile>,
    /// Per-request timeout [default: 30s, or the scenario's].
    #[arg(long, value_name = "DURATION", value_parser = units::parse_positive_duration, requires = "builtin_load", help_heading = "Load")]
    pub load_timeout: Option<Duration>,
    /// Longest response body read (e.g. 10MiB); a longer one is a `body_too_large` error and
    /// its connection is closed [default: 10MiB, or the scenario's `max_body`].
    #[arg(long, value_name = "SIZE", value_parser = units::parse_positive_size, requires = "builtin_load", help_heading = "Load")]
    pub max_body: Option<u64>,
    /// An external load driver (locust, k6, wrk, a script) run with `sh -c` in its own
    /// process group for the run; output to load.log; stopped at the end.
    #[arg(long, value_name = "SHELL COMMAND", help_heading = "Load")]
    pub load_cmd: Option<String>,
}

// --- issue 16: capacity search (`--find-capacity`) -------------------------------------

/// `--find-capacity`: ramp the built-in driver's level, then bisect, for the highest level
/// that meets the gates.
#[derive(Debug, Args, Clone, Default)]
pub struct SearchArgs {
    /// Search the highest load that meets --max-p95/--max-p99/--max-error-rate (and
    /// --mem-limit, --capacity-max-throttled): from --rps N (open model, default 10) or
    /// --users N (closed model), doubling until a level fails, then bisecting, within
    /// --duration (needed). A capacity below --min-rps fails the run.
    #[arg(
        long,
        requires = "builtin_load",
        requires = "duration",
        help_heading = "Capacity search"
    )]
    pub find_capacity: bool,
    /// How long each level is held [default: --duration / 12, 2s to 60s]; an unsettled
    /// level (the p95 of its halves differ by over 25%) or one with under 100 responses is
    /// held up to twice as long.
    #[arg(long, value_name = "DURATION", value_parser = units::parse_positive_duration, requires = "find_capacity", help_heading = "Capacity search")]
    pub capacity_step: Option<Duration>,
    /// The search ends when the lowest failing level is within this share above the
    /// highest passing one [default: 5%].
    #[arg(long, value_name = "RATE", value_parser = parse_fraction, requires = "find_capacity", help_heading = "Capacity search")]
    pub capacity_tolerance: Option<f64>,
    /// A level fails when the target's cgroup was throttled in more than this share of
    /// its CPU periods (e.g. 20%).
    #[arg(long, value_name = "RATE", value_parser = parse_fraction, requires = "find_capacity", help_heading = "Capacity search")]
    pub capacity_max_throttled: Option<f64>,
    /// Open model: the most requests in flight before the driver drops what is due
    /// [default and at most: 1000, or half the open-file limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), requires = "find_capacity", help_heading = "Capacity search")]
    pub max_in_flight: Option<u64>,
}

// --- end of issue 16 capacity search ----------------------------------------------------

/// Thresholds and limits; shared by `record` and `analyze` (where they override what the
/// run was recorded with).
#[derive(Debug, Args, Clone, Default)]
pub struct JudgeArgs {
    /// Memory growth that gives a warning [default: 5MB/min].
    #[arg(long, value_parser = units::parse_byte_rate, value_name = "RATE")]
    pub warn_growth: Option<f64>,
    /// Memory growth that fails the run [default: 10MB/min].
    #[arg(long, value_parser = units::parse_byte_rate, value_name = "RATE")]
    pub max_growth: Option<f64>,
    /// Thread-count growth that fails the run [default: 10/h].
    #[arg(long, value_parser = units::parse_count_rate, value_name = "RATE")]
    pub max_thread_growth: Option<f64>,
    /// Open-FD growth that fails the run [default: 10/h].
    #[arg(long, value_parser = units::parse_count_rate, value_name = "RATE")]
    pub max_fd_growth: Option<f64>,
    /// Memory limit to compare against [default: the target's cgroup limit, if any].
    #[arg(long, value_parser = units::parse_positive_size, value_name = "SIZE")]
    pub mem_limit: Option<u64>,
    /// Warm-up to leave out of the trend: `auto` (where growth settles, within the first
    /// half) or a duration from the start [default: auto].
    #[arg(long, value_parser = parse_warmup, value_name = "auto|DURATION")]
    pub warmup: Option<WarmupArg>,
    /// CPU limit in cores, e.g. 0.5 [default: the target's cgroup quota, if any].
    #[arg(long, value_parser = parse_cores, value_name = "CORES")]
    pub cpu_limit: Option<f64>,
    /// Load gate: fail when the run's p95 latency is above this (e.g. 500ms).
    #[arg(long, value_parser = units::parse_positive_duration, value_name = "DURATION")]
    pub max_p95: Option<Duration>,
    /// Load gate: fail when the run's p99 latency is above this.
    #[arg(long, value_parser = units::parse_positive_duration, value_name = "DURATION")]
    pub max_p99: Option<Duration>,
    /// Load gate: fail when more than this share of requests fail (e.g. 1% or 0.01).
    #[arg(long, value_parser = parse_fraction, value_name = "RATE")]
    pub max_error_rate: Option<f64>,
    /// Load gate: fail when the run's throughput is below this many requests per second.
    #[arg(long, value_parser = parse_positive_number, value_name = "RPS")]
    pub min_rps: Option<f64>,
    /// cgroup CPU throttling: warn when more than this share of the cgroup's CFS periods
    /// were throttled over the run (e.g. 20% or 20) [default: 20%].
    #[arg(long, value_parser = parse_percent, value_name = "PCT")]
    pub max_throttled: Option<f64>,
    /// What throttling above --max-throttled does to the verdict [default: warn].
    #[arg(long, value_enum, value_name = "warn|fail")]
    pub throttled_gate: Option<GateArg>,
}

/// A gate's weight when it is missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GateArg {
    Warn,
    Fail,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The run directory to analyse (or --prometheus URL, to judge a fleet's series).
    #[arg(
        value_name = "RUN_DIR",
        required_unless_present = "prometheus",
        conflicts_with = "prometheus"
    )]
    pub run_dir: Option<PathBuf>,
    /// What to print: `text`, the summary for people, or `json`, verdict.json's content
    /// alone on stdout, for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub ci: CiArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// `analyze --prometheus`: judge every series a Prometheus server holds for the queries,
/// each as a run of its own.
#[derive(Debug, Args, Clone, Default)]
pub struct FleetArgs {
    /// Judge series from this Prometheus server (base URL, e.g. http://127.0.0.1:9090)
    /// instead of a run directory: one verdict per series, in a fleet directory.
    #[arg(long, value_name = "URL", value_parser = crate::sources::prometheus::client::parse_prometheus_url, help_heading = "Fleet (Prometheus)")]
    pub prometheus: Option<url::Url>,
    /// A PromQL query to judge, as METRIC=PROMQL (METRIC: rss, vms, pss, uss, threads,
    /// fds, cpu for a CPU-seconds counter, cpu_cores, start for
    /// process_start_time_seconds) or PROMQL alone for rss. Repeatable: the series of all
    /// queries that carry the same labels are one target, judged together.
    #[arg(
        long,
        value_name = "[METRIC=]PROMQL",
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub query: Vec<String>,
    /// The standard process_* queries of a scrape job (rss, fds, cpu, start, and
    /// soakprof_threads), each filtered by job="NAME"; --query adds to or replaces them.
    #[arg(
        long,
        value_name = "NAME",
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub job: Option<String>,
    /// How far back to judge, ending at --end (default: now) [default: 1h].
    #[arg(long, value_parser = units::parse_positive_duration, value_name = "DURATION", requires = "prometheus", help_heading = "Fleet (Prometheus)")]
    pub range: Option<Duration>,
    /// Start of the range: RFC 3339 (2026-12-01T08:00:00Z) or unix seconds.
    #[arg(
        long,
        value_name = "TIME",
        requires = "prometheus",
        conflicts_with = "range",
        help_heading = "Fleet (Prometheus)"
    )]
    pub start: Option<String>,
    /// End of the range: RFC 3339 or unix seconds [default: now].
    #[arg(
        long,
        value_name = "TIME",
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub end: Option<String>,
    /// Resolution of the series [default: the range / 1440, rounded up to whole seconds,
    /// at least 1s]; a range of more than 11,000 steps is fetched in chunks.
    #[arg(long, value_parser = units::parse_positive_duration, value_name = "DURATION", requires = "prometheus", help_heading = "Fleet (Prometheus)")]
    pub step: Option<Duration>,
    /// The labels that name a target, comma-separated (e.g. instance): series that differ
    /// only in other labels (a new pod, a new PID) are segments of the same target
    /// [default: every label].
    #[arg(
        long,
        value_name = "LABELS",
        value_delimiter = ',',
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub group_by: Vec<String>,
    /// A header for every request, its value read from the environment or a file so no
    /// secret is on the command line: 'NAME: [PREFIX ]env:VAR' or 'NAME: [PREFIX ]file:PATH'
    /// (e.g. 'Authorization: Bearer file:/run/secrets/prom-token'). Repeatable.
    #[arg(
        long,
        value_name = "HEADER",
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub prometheus_header: Vec<String>,
    /// Time allowed for each request to the server.
    #[arg(long, default_value = "30s", value_parser = units::parse_positive_duration, value_name = "DURATION", help_heading = "Fleet (Prometheus)")]
    pub prometheus_timeout: Duration,
    /// The fleet directory for fleet.json and fleet.html (default:
    /// reports/<YYYYmmdd-HHMMSS>-fleet-<job>); one that holds a fleet.json is refused.
    #[arg(
        long,
        value_name = "DIR",
        requires = "prometheus",
        help_heading = "Fleet (Prometheus)"
    )]
    pub out: Option<PathBuf>,
}

/// CI outputs of a judged run or comparison; shared by `record`, `analyze` and `compare`.
#[derive(Debug, Args, Clone, Default)]
pub struct CiArgs {
    /// Write the judged checks as JUnit XML to FILE, one testcase per metric, limit, gate
    /// and comparison (for CI test reporters).
    #[arg(long, value_name = "FILE", help_heading = "CI")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary to FILE (verdict, a table of the checks, links to the
    /// report). It is also appended to $GITHUB_STEP_SUMMARY when that is set.
    #[arg(long, value_name = "FILE", help_heading = "CI")]
    pub summary_md: Option<PathBuf>,
}

/// Live exposition and the push at the end of `record`.
#[derive(Debug, Args, Clone, Default)]
pub struct PrometheusArgs {
    /// Serve the live metrics at http://ADDR/metrics (Prometheus text format) while
    /// recording: `IP:PORT` binds that address; `:PORT` or `PORT` bind 127.0.0.1 only.
    #[arg(long, value_name = "ADDR", value_parser = crate::sources::live::parse_metrics_addr, help_heading = "Prometheus")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// At the end, after the verdict is written, push the judged run's metrics to this
    /// Pushgateway (job `soakprof`, grouped by target); a failed push is exit 3.
    #[arg(long, value_name = "URL", value_parser = crate::sources::push::parse_push_url, help_heading = "Prometheus")]
    pub push_url: Option<url::Url>,
}

/// `--baseline` on `record` and `analyze`: compare the run with a baseline run; a
/// regression fails the run.
#[derive(Debug, Args, Clone, Default)]
pub struct BaselineArgs {
    /// Compare the run with this baseline run directory (as `soakprof compare` does); the
    /// comparison joins the verdict, and a regression fails the run.
    #[arg(long, value_name = "DIR", help_heading = "Baseline")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub limits: CompareLimitArgs,
}

/// What a comparison counts as a regression.
#[derive(Debug, Args, Clone, Default)]
pub struct CompareLimitArgs {
    /// Judged-memory growth increase that regresses, when significant [default: 2MB/min].
    #[arg(long, value_parser = units::parse_byte_rate, value_name = "RATE", help_heading = "Baseline")]
    pub max_growth_increase: Option<f64>,
    /// Steady and peak memory increase that regresses, when significant [default: 10%].
    #[arg(long, value_parser = parse_increase, value_name = "PCT", help_heading = "Baseline")]
    pub max_memory_increase: Option<f64>,
    /// Latency (p50, p95, p99) increase that regresses, when significant [default: 10%].
    #[arg(long, value_parser = parse_increase, value_name = "PCT", help_heading = "Baseline")]
    pub max_p95_increase: Option<f64>,
    /// Error-rate increase, in percentage points, that regresses when significant
    /// [default: 0.5%].
    #[arg(long, value_parser = parse_fraction, value_name = "PCT", help_heading = "Baseline")]
    pub max_error_rate_increase: Option<f64>,
    /// Latency changes smaller than this never count, whatever their share (host
    /// scheduling noise) [default: 5ms].
    #[arg(long, value_parser = units::parse_duration, value_name = "DURATION", help_heading = "Baseline")]
    pub min_latency_change: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run directory (the last release's run, say).
    #[arg(value_name = "BASELINE_DIR")]
    pub baseline: PathBuf,
    /// The candidate run directory (this build's run).
    #[arg(value_name = "CANDIDATE_DIR")]
    pub candidate: PathBuf,
    #[command(flatten)]
    pub limits: CompareLimitArgs,
    /// Refuse runs that are not comparable (intervals or durations more than 2× apart,
    /// load in one run only, a different load): exit 2 instead of comparing what is.
    #[arg(long)]
    pub strict: bool,
    /// Where compare.json goes [default: CANDIDATE_DIR/compare]; never a run directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub ci: CiArgs,
}

/// What `analyze` prints on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The terminal summary: verdict, reasons, one row per metric, capacity, load.
    #[default]
    Text,
    /// verdict.json's content, exactly as written to the run directory.
    Json,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to record.
    #[arg(long, default_value = "60s", value_parser = units::parse_positive_duration, value_name = "DURATION")]
    pub duration: Duration,
    /// Run directory.
    #[arg(long, default_value = "reports/demo", value_name = "DIR")]
    pub out: PathBuf,
    /// No live status line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--warmup`: automatic, or a fixed span from the start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WarmupArg {
    Auto,
    Fixed(Duration),
}

pub fn parse_warmup(text: &str) -> Result<WarmupArg, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(WarmupArg::Auto);
    }
    units::parse_duration(text)
        .map(WarmupArg::Fixed)
        .map_err(|_| format!("'{text}' is not 'auto' or a duration (examples: auto, 90s, 10m)"))
}

/// The sampling interval: a duration of at least 10 ms.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = units::parse_duration(text).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(10) {
        return Err(format!(
            "'{text}' is too short: the interval must be at least 10ms"
        ));
    }
    Ok(d)
}

/// `auto`, `off`, or a positive duration.
pub fn parse_pss_interval(text: &str) -> Result<PssInterval, String> {
    match text.trim() {
        "auto" => Ok(PssInterval::Auto),
        "off" => Ok(PssInterval::Off),
        other => units::parse_positive_duration(other)
            .map(PssInterval::Every)
            .map_err(|e| format!("{e} (or `auto`, `off`)")),
    }
}

/// A CPU count in cores, greater than zero: `0.5`, `2`.
pub fn parse_cores(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "'{text}' is not a CPU count in cores (examples: 0.5, 2)"
        )),
    }
}

/// A share: `1%`, `0.5%` or a fraction `0.01`; between 0 and 1.
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let value = match trimmed.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => trimmed.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{text}' is not a share between 0 and 100% (examples: 1%, 0.5%, 0.01)"
        )),
    }
}

/// A percentage between 0 and 100: `20%` or `20` (the option says PCT, so a bare number
/// is percent too).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim();
    match number.parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{text}' is not a percentage between 0 and 100 (examples: 20%, 5, 50%)"
        )),
    }
}

/// A relative increase: `10%`, `150%` or `0.1`; a bare number above 1 is refused as
/// ambiguous.
pub fn parse_increase(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let value = match trimmed.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0).ok(),
        None => trimmed.parse::<f64>().ok().filter(|v| *v <= 1.0),
    };
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "'{text}' is not an increase (examples: 10%, 150%, 0.1)"
        )),
    }
}

/// A number greater than zero: `100`, `12.5`.
pub fn parse_positive_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{text}' is not a number greater than zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn interval_bounds() {
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5ms").is_err());
        assert_eq!(parse_interval("10ms"), Ok(Duration::from_millis(10)));
        assert!(parse_interval("abc").is_err());
    }

    #[test]
    fn warmup_values() {
        assert_eq!(parse_percent("20%"), Ok(20.0));
        assert_eq!(parse_percent(" 5 "), Ok(5.0));
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert!(parse_percent("120%").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("lots").is_err());
        assert_eq!(parse_warmup("auto"), Ok(WarmupArg::Auto));
        assert_eq!(
            parse_warmup("10m"),
            Ok(WarmupArg::Fixed(Duration::from_secs(600)))
        );
        assert!(parse_warmup("soon").is_err());
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("1%"), Ok(0.01));
        assert_eq!(parse_fraction("0.02"), Ok(0.02));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-1%").is_err());
        assert!(parse_positive_number("0").is_err());
        assert_eq!(parse_positive_number("12.5"), Ok(12.5));
    }

    #[test]
    fn cores() {
        assert_eq!(parse_cores("0.5"), Ok(0.5));
        assert!(parse_cores("0").is_err());
        assert!(parse_cores("half").is_err());
    }

    #[test]
    fn load_options_need_a_load_source() {
        let parse = |args: &[&str]| {
            let mut all = vec!["soakprof", "record", "--pid", "1"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        assert!(parse(&["--rps", "10"]).is_err());
        assert!(parse(&["--load-url", "http://127.0.0.1:1/", "--rps", "10"]).is_ok());
        assert!(parse(&["--load-url", "http://x/", "--load-cmd", "true"]).is_err());
        assert!(parse(&["--load-cmd", "true", "--users", "3"]).is_err());
        assert!(parse(&["--load-url", "http://x/", "--users", "0"]).is_err());
        assert!(parse(&["--load-url", "http://x/", "--users", "2", "--rps", "3"]).is_err());
    }

    #[test]
    fn target_is_required_and_exclusive() {
        assert!(Cli::try_parse_from(["soakprof", "record"]).is_err());
        assert!(Cli::try_parse_from(["soakprof", "record", "--pid", "1", "--name", "x"]).is_err());
        let cli = Cli::try_parse_from(["soakprof", "record", "--", "sleep", "1"]).unwrap();
        let Command::Record(args) = cli.command else {
            panic!("not record")
        };
        assert_eq!(args.command, vec!["sleep", "1"]);
    }
}
