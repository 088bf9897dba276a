//! Load scenarios: the TOML scenario file, quick mode (`--load-url`), built-in profiles and
//! the stage schedule. Pure parsing and arithmetic; no I/O beyond reading the file.
//!
//! A scenario file names a `base_url`, a load level (`users` for the closed model or `rps`
//! for the open one), optionally a `profile` or explicit `[[stages]]`, and one or more
//! `[[requests]]` picked at random by `weight`. Unknown keys are errors, and every error
//! names the file, the line and the field (`requests[2].weight`, counting from 0).

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::units::{parse_duration, parse_duration_range, parse_positive_duration};

/// How users arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// `users`: N loops, each request after the previous one finished plus think time.
    Closed,
    /// `rps`: requests start on a fixed schedule whatever earlier ones are doing.
    Open,
}

/// A built-in load shape, scaled by `--users`/`--rps` and by the run's duration.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Smoke,
    Load,
    Stress,
    Spike,
    Soak,
}

/// One stage: the level ramps linearly from the previous stage's target (0 before the
/// first stage) to `target` over `duration` (as in k6). After the last stage the last
/// target holds until the run ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    pub duration: Duration,
    /// Users (closed model) or requests per second (open model).
    pub target: f64,
}

/// Uniform think time between a user's requests (closed model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

/// A request body.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Text(String),
    Json(serde_json::Value),
}

/// One kind of request in the mix.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub name: String,
    /// Relative share of the mix, > 0.
    pub weight: f64,
    pub method: http::Method,
    /// Base URL joined with the request's path.
    pub url: url::Url,
    /// Scenario default headers first, then the request's own (which win).
    pub headers: Vec<(String, String)>,
    /// Empty: no body. Several: one picked at random per request.
    pub bodies: Vec<Body>,
    /// Status codes that count as success; empty means any 2xx or 3xx.
    pub expect_status: Vec<u16>,
    /// Top-level keys the JSON response must have (a `check` error otherwise).
    pub expect_json_keys: Vec<String>,
}

/// A complete, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where it came from: the file path, or `--load-url`.
    pub source: String,
    pub base_url: url::Url,
    /// Per-request timeout.
    pub timeout: Duration,
    pub think: Option<ThinkTime>,
    pub model: Model,
    pub stages: Vec<Stage>,
    pub requests: Vec<RequestSpec>,
}

/// Command-line values that override or complete a scenario.
#[derive(Clone, Debug, Default)]
pub struct LoadOverrides {
    pub users: Option<u32>,
    pub rps: Option<f64>,
    pub think: Option<ThinkTime>,
    pub profile: Option<Profile>,
    pub timeout: Option<Duration>,
}

/// A scenario that cannot be used. Every message is one line naming the file, the line
/// and the field where known.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, or a document of the wrong shape (unknown or missing key, wrong type).
    #[error("{file}: {}{message}", line_prefix(*line))]
    Toml {
        file: String,
        line: Option<usize>,
        message: String,
    },
    /// A value that parsed but is not allowed.
    #[error("{file}: {}field `{field}`: {message}", line_prefix(*line))]
    Field {
        file: String,
        line: Option<usize>,
        field: String,
        message: String,
    },
    /// A missing or contradictory load level, from the command line or the file as a whole.
    #[error("{message}")]
    Usage { message: String },
}

impl ScenarioError {
    /// Errors that come from what the user gave, as opposed to a failing disk. A missing
    /// file, or a directory given as the file, is bad input.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ScenarioError::Read { source, .. } => matches!(
                source.kind(),
                ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory
            ),
            _ => true,
        }
    }

    fn usage(message: impl Into<String>) -> Self {
        ScenarioError::Usage {
            message: message.into(),
        }
    }
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|n| format!("line {n}: ")).unwrap_or_default()
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The run length a profile is shaped to when the run has no `--duration`.
const DEFAULT_PROFILE_RUN: Duration = Duration::from_secs(600);

// The file as written. Values checked after parsing are `Spanned` so their errors carry a
// line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    base_url: Spanned<String>,
    timeout: Option<Spanned<String>>,
    think: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<Spanned<String>, Spanned<String>>,
    users: Option<Spanned<i64>>,
    rps: Option<Spanned<f64>>,
    profile: Option<Spanned<Profile>>,
    stages: Option<Spanned<Vec<Spanned<RawStage>>>>,
    requests: Spanned<Vec<RawRequest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Option<String>,
    duration: Spanned<String>,
    users: Option<Spanned<i64>>,
    rps: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    name: Spanned<String>,
    weight: Option<Spanned<f64>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<Spanned<String>, Spanned<String>>,
    body: Option<Spanned<String>>,
    json: Option<Spanned<toml::Value>>,
    bodies: Option<Spanned<Vec<String>>>,
    json_bodies: Option<Spanned<Vec<toml::Value>>>,
    expect_status: Option<Spanned<toml::Value>>,
    #[serde(default)]
    expect_json_keys: Vec<String>,
}

/// A load level: how many users, or how many requests per second.
#[derive(Clone, Copy, Debug)]
struct Level {
    model: Model,
    value: f64,
}

/// The file being parsed, for errors that point into it.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        line_of(self.text.as_bytes(), offset)
    }

    fn field_error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Field {
            file: self.file.to_string(),
            line: Some(self.line(span.start)),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A toml error, with the path of the key or table it points at when `doc` is given.
    fn toml_error(&self, err: &toml::de::Error, doc: Option<&DeTable<'_>>) -> ScenarioError {
        // toml's message may span lines; ours are one line, in words a user knows.
        let text = err
            .message()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("expected i64", "expected a whole number")
            .replace("expected f64", "expected a number");
        let span = err.span();
        let message = match (doc, span.clone()) {
            (None, _) => format!("TOML syntax: {text}"),
            (Some(doc), Some(span)) => {
                if text.starts_with("missing field") {
                    in_table(&path_at(doc, &Spot::Table(span)), &text)
                } else {
                    let path = path_at(doc, &Spot::Offset(span.start));
                    if text.starts_with("unknown field") || text.starts_with("duplicate field") {
                        // The span is the offending key: name the table it is in.
                        in_table(&path[..path.len().saturating_sub(1)], &text)
                    } else if path.is_empty() {
                        text
                    } else {
                        format!("field `{}`: {text}", path.concat())
                    }
                }
            }
            (Some(_), None) => text,
        };
        ScenarioError::Toml {
            file: self.file.to_string(),
            line: span.map(|span| self.line(span.start)),
            message,
        }
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    let end = offset.min(bytes.len());
    bytes[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn in_table(path: &[String], text: &str) -> String {
    if path.is_empty() {
        text.to_string()
    } else {
        format!("in `{}`: {text}", path.concat())
    }
}

/// What [`path_at`] looks for.
#[derive(Clone)]
enum Spot {
    /// The innermost key or value holding this byte offset.
    Offset(usize),
    /// The table with exactly this span (toml points at a table's header).
    Table(Range<usize>),
}

/// The path (`requests`, `[2]`, `.weight`) to `spot`; empty when it is the document itself
/// or cannot be found. Spans of tables cover only their headers, so this searches the
/// whole tree rather than descending by span.
fn path_at(table: &DeTable<'_>, spot: &Spot) -> Vec<String> {
    let mut path = Vec::new();
    find_in_table(table, spot, &mut path);
    path
}

fn span_holds(span: Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

fn find_in_table(table: &DeTable<'_>, spot: &Spot, path: &mut Vec<String>) -> bool {
    for (key, value) in table.iter() {
        let dot = if path.is_empty() { "" } else { "." };
        path.push(format!("{dot}{}", key_text(key.get_ref())));
        let in_key = matches!(spot, Spot::Offset(offset) if span_holds(key.span(), *offset));
        if find_in_value(value, spot, path) || in_key {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(value: &Spanned<DeValue<'_>>, spot: &Spot, path: &mut Vec<String>) -> bool {
    let inside = match value.get_ref() {
        DeValue::Table(table) => find_in_table(table, spot, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(format!("[{i}]"));
            let found = find_in_value(item, spot, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    };
    inside
        || match spot {
            Spot::Offset(offset) => span_holds(value.span(), *offset),
            Spot::Table(span) => value.get_ref().is_table() && value.span() == *span,
        }
}

/// A key as it would be written in TOML: bare when it can be, quoted otherwise.
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// Read and check a scenario file; see [`parse_scenario_str`]. Errors name the file as
/// `path` displays.
pub fn parse_scenario_file(
    path: &Path,
    overrides: &LoadOverrides,
    run_duration: Option<Duration>,
) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|err| {
        let valid_bytes = err.utf8_error().valid_up_to();
        ScenarioError::Toml {
            line: Some(line_of(err.as_bytes(), valid_bytes)),
            file: file.clone(),
            message: "not UTF-8 text".to_string(),
        }
    })?;
    parse_scenario_str(&text, &file, overrides, run_duration)
}

/// Parse and check a scenario, then apply the command line's overrides. `source` names the
/// scenario in errors; `run_duration` shapes a profile (10 minutes when unknown).
///
/// Overrides, kept simple on purpose:
/// - `--users` / `--rps` replace the file's `users` / `rps` and choose the model. With
///   `[[stages]]` they scale every stage so that the highest target becomes the given level;
///   the stages must use the same model.
/// - `--profile` replaces the file's `profile` and its `[[stages]]` alike; the level is then
///   `--users`/`--rps`, else the file's `users`/`rps`, else the highest stage target.
/// - `--think` and `--timeout` replace the file's. A file's `think` is dropped when `--rps`
///   turns its closed scenario into an open one.
///
/// With `[[stages]]`, a top-level `users` or `rps` only has to agree with the stages' model;
/// the stage targets are used as written.
pub fn parse_scenario_str(
    text: &str,
    source: &str,
    overrides: &LoadOverrides,
    run_duration: Option<Duration>,
) -> Result<Scenario, ScenarioError> {
    let src = Source { file: source, text };
    let doc = DeTable::parse(text).map_err(|err| src.toml_error(&err, None))?;
    let raw = RawScenario::deserialize(toml::de::Deserializer::from(doc.clone()))
        .map_err(|err| src.toml_error(&err, Some(doc.get_ref())))?;
    let cli = cli_level(overrides)?;

    let base_url = check_base_url(&raw.base_url)
        .map_err(|message| src.field_error(raw.base_url.span(), "base_url", message))?;
    let timeout = match &raw.timeout {
        Some(timeout) => parse_positive_duration(timeout.get_ref())
            .map_err(|err| src.field_error(timeout.span(), "timeout", err.to_string()))?,
        None => DEFAULT_TIMEOUT,
    };
    let file_think = match &raw.think {
        Some(think) => {
            let (min, max) = parse_duration_range(think.get_ref())
                .map_err(|err| src.field_error(think.span(), "think", err.to_string()))?;
            Some(ThinkTime { min, max })
        }
        None => None,
    };
    let default_headers = check_headers(&src, &raw.headers, "headers")?;

    let file_level = match (&raw.users, &raw.rps) {
        (Some(_), Some(rps)) => {
            return Err(src.field_error(
                rps.span(),
                "rps",
                "give either `users` (closed model) or `rps` (open model), not both",
            ));
        }
        (Some(users), None) => Some(Level {
            model: Model::Closed,
            value: check_users(&src, users, "users", 1)?,
        }),
        (None, Some(rps)) => Some(Level {
            model: Model::Open,
            value: check_rps(&src, rps, "rps", false)?,
        }),
        (None, None) => None,
    };
    let file_stages = match &raw.stages {
        Some(stages) => Some(check_stages(&src, stages)?),
        None => None,
    };
    if let (Some(profile), Some(_)) = (&raw.profile, &raw.stages) {
        return Err(src.field_error(
            profile.span(),
            "profile",
            "give either `profile` or `[[stages]]`, not both",
        ));
    }
    if let (Some(level), Some((stage_model, _))) = (file_level, &file_stages)
        && level.model != *stage_model
    {
        let span = (raw.users.as_ref().map(Spanned::span))
            .or(raw.rps.as_ref().map(Spanned::span))
            .unwrap_or_default();
        return Err(src.field_error(
            span,
            level_key(level.model),
            format!(
                "the `[[stages]]` use `{}`; use the same one here",
                level_key(*stage_model)
            ),
        ));
    }
    let file_model = file_level
        .map(|level| level.model)
        .or(file_stages.as_ref().map(|(model, _)| *model));
    if let Some(think) = &raw.think
        && file_model == Some(Model::Open)
    {
        return Err(src.field_error(
            think.span(),
            "think",
            "think time applies to the closed model (`users`) only",
        ));
    }

    let (model, stages) = schedule(
        source,
        file_level,
        file_stages,
        raw.profile.map(Spanned::into_inner),
        overrides.profile,
        cli,
        run_duration,
    )?;
    let think = think_for(model, overrides.think, file_think)?;
    let requests = check_requests(&src, &raw.requests, &base_url, &default_headers)?;
    Ok(Scenario {
        source: source.to_string(),
        base_url,
        timeout: overrides.timeout.unwrap_or(timeout),
        think,
        model,
        stages,
        requests,
    })
}

/// A scenario for `--load-url URL`: one GET request to the URL, named after its path
/// (`GET /health`), at `--users N` or `--rps N`, shaped by `--profile` if given.
pub fn quick_scenario(
    url: &str,
    overrides: &LoadOverrides,
    run_duration: Option<Duration>,
) -> Result<Scenario, ScenarioError> {
    let level = cli_level(overrides)?.ok_or_else(|| {
        ScenarioError::usage("--load-url needs --users N (closed model) or --rps N (open model)")
    })?;
    let parsed = url::Url::parse(url)
        .map_err(|err| format!("not a URL: {err} (example: http://127.0.0.1:8080/health)"))
        .and_then(check_http_url)
        .map_err(|message| ScenarioError::usage(format!("--load-url {url}: {message}")))?;
    let (model, stages) = schedule(
        "--load-url",
        None,
        None,
        None,
        overrides.profile,
        Some(level),
        run_duration,
    )?;
    let think = think_for(model, overrides.think, None)?;
    let request = RequestSpec {
        name: format!("GET {}", parsed.path()),
        weight: 1.0,
        method: http::Method::GET,
        url: parsed.clone(),
        headers: Vec::new(),
        bodies: Vec::new(),
        expect_status: Vec::new(),
        expect_json_keys: Vec::new(),
    };
    Ok(Scenario {
        source: "--load-url".to_string(),
        base_url: parsed,
        timeout: overrides.timeout.unwrap_or(DEFAULT_TIMEOUT),
        think,
        model,
        stages,
        requests: vec![request],
    })
}

/// The level from `--users` / `--rps`, checked.
fn cli_level(overrides: &LoadOverrides) -> Result<Option<Level>, ScenarioError> {
    match (overrides.users, overrides.rps) {
        (Some(_), Some(_)) => Err(ScenarioError::usage(
            "give --users N (closed model) or --rps N (open model), not both",
        )),
        (Some(0), None) => Err(ScenarioError::usage("--users must be at least 1")),
        (Some(users), None) => Ok(Some(Level {
            model: Model::Closed,
            value: f64::from(users),
        })),
        (None, Some(rps)) if !(rps.is_finite() && rps > 0.0) => Err(ScenarioError::usage(format!(
            "--rps must be a number greater than 0 (got {rps})"
        ))),
        (None, Some(rps)) => Ok(Some(Level {
            model: Model::Open,
            value: rps,
        })),
        (None, None) => Ok(None),
    }
}

fn level_key(model: Model) -> &'static str {
    match model {
        Model::Closed => "users",
        Model::Open => "rps",
    }
}

/// The model and stages, from the file's level, stages and profile and the command line's
/// (`source` names the scenario in errors).
fn schedule(
    source: &str,
    file_level: Option<Level>,
    file_stages: Option<(Model, Vec<Stage>)>,
    file_profile: Option<Profile>,
    cli_profile: Option<Profile>,
    cli: Option<Level>,
    run_duration: Option<Duration>,
) -> Result<(Model, Vec<Stage>), ScenarioError> {
    // Explicit stages run as written unless a profile on the command line replaces them.
    let stage_level = match (cli_profile, file_stages) {
        (None, Some((model, stages))) => return scale_stages(source, model, stages, cli),
        (_, stages) => stages.map(|(model, stages)| Level {
            model,
            value: peak_target(&stages),
        }),
    };
    let level = cli.or(file_level).or(stage_level).ok_or_else(|| {
        ScenarioError::usage(format!(
            "{source}: no load level: set `users` (closed model) or `rps` (open model) or \
             `[[stages]]` in the file, or pass --users N or --rps N"
        ))
    })?;
    let mut stages = match cli_profile.or(file_profile) {
        Some(profile) => profile_stages(profile, level.value, run_duration),
        None => vec![Stage {
            name: "start".to_string(),
            duration: Duration::ZERO,
            target: level.value,
        }],
    };
    round_users(level.model, &mut stages);
    Ok((level.model, stages))
}

/// Explicit stages, scaled so that the highest target becomes `--users`/`--rps` if given.
fn scale_stages(
    source: &str,
    model: Model,
    stages: Vec<Stage>,
    cli: Option<Level>,
) -> Result<(Model, Vec<Stage>), ScenarioError> {
    let Some(cli) = cli else {
        return Ok((model, stages));
    };
    if cli.model != model {
        return Err(ScenarioError::usage(format!(
            "{source}: --{} cannot scale `[[stages]]` that use `{}`; pass --{} instead",
            level_key(cli.model),
            level_key(model),
            level_key(model),
        )));
    }
    // check_stages made sure some target is above zero.
    let peak = peak_target(&stages);
    let mut scaled: Vec<Stage> = stages
        .into_iter()
        .map(|stage| Stage {
            target: stage.target * cli.value / peak,
            ..stage
        })
        .collect();
    round_users(model, &mut scaled);
    Ok((model, scaled))
}

/// Think time applies to the closed model only: `--think` with the open model is an
/// error, the file's is dropped (only `--rps` can have made the model open here).
fn think_for(
    model: Model,
    cli: Option<ThinkTime>,
    file: Option<ThinkTime>,
) -> Result<Option<ThinkTime>, ScenarioError> {
    match model {
        Model::Closed => Ok(cli.or(file)),
        Model::Open if cli.is_some() => Err(ScenarioError::usage(
            "--think applies to the closed model (--users) only",
        )),
        Model::Open => Ok(None),
    }
}

fn peak_target(stages: &[Stage]) -> f64 {
    stages.iter().map(|stage| stage.target).fold(0.0, f64::max)
}

/// Users are whole: round, and keep at least one wherever the level is above zero.
fn round_users(model: Model, stages: &mut [Stage]) {
    if model == Model::Closed {
        for stage in stages.iter_mut().filter(|stage| stage.target > 0.0) {
            stage.target = stage.target.round().max(1.0);
        }
    }
}

fn check_users(
    src: &Source<'_>,
    users: &Spanned<i64>,
    field: &str,
    min: i64,
) -> Result<f64, ScenarioError> {
    let value = *users.get_ref();
    if value < min {
        return Err(src.field_error(
            users.span(),
            field,
            format!("must be at least {min} (got {value})"),
        ));
    }
    u32::try_from(value).map(f64::from).map_err(|_| {
        src.field_error(
            users.span(),
            field,
            format!("must be at most {} (got {value})", u32::MAX),
        )
    })
}

fn check_rps(
    src: &Source<'_>,
    rps: &Spanned<f64>,
    field: &str,
    zero_ok: bool,
) -> Result<f64, ScenarioError> {
    let value = *rps.get_ref();
    let problem = if !value.is_finite() {
        Some("must be a finite number")
    } else if zero_ok && value < 0.0 {
        Some("must not be negative")
    } else if !zero_ok && value <= 0.0 {
        Some("must be greater than 0")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            Err(src.field_error(rps.span(), field, format!("{problem} (got {value})")))
        }
        None => Ok(value),
    }
}

fn check_stages(
    src: &Source<'_>,
    stages: &Spanned<Vec<Spanned<RawStage>>>,
) -> Result<(Model, Vec<Stage>), ScenarioError> {
    let mut model = None;
    let mut checked = Vec::new();
    for (i, spanned) in stages.get_ref().iter().enumerate() {
        let stage = spanned.get_ref();
        let field = |name: &str| format!("stages[{i}].{name}");
        let duration = parse_duration(stage.duration.get_ref()).map_err(|err| {
            src.field_error(stage.duration.span(), field("duration"), err.to_string())
        })?;
        let (stage_model, target, span, key) = match (&stage.users, &stage.rps) {
            (Some(_), Some(rps)) => {
                return Err(src.field_error(
                    rps.span(),
                    field("rps"),
                    "give either `users` (closed model) or `rps` (open model), not both",
                ));
            }
            (Some(users), None) => (
                Model::Closed,
                check_users(src, users, &field("users"), 0)?,
                users.span(),
                "users",
            ),
            (None, Some(rps)) => (
                Model::Open,
                check_rps(src, rps, &field("rps"), true)?,
                rps.span(),
                "rps",
            ),
            (None, None) => {
                return Err(src.field_error(
                    spanned.span(),
                    format!("stages[{i}]"),
                    "needs `users` (closed model) or `rps` (open model)",
                ));
            }
        };
        match model {
            None => model = Some(stage_model),
            Some(first) if first != stage_model => {
                return Err(src.field_error(
                    span,
                    field(key),
                    format!(
                        "every stage must use `{}` like the first one",
                        level_key(first)
                    ),
                ));
            }
            Some(_) => {}
        }
        checked.push(Stage {
            name: stage
                .name
                .clone()
                .unwrap_or_else(|| format!("stage {}", i + 1)),
            duration,
            target,
        });
    }
    match model {
        None => Err(src.field_error(stages.span(), "stages", "needs at least one stage")),
        Some(_) if peak_target(&checked) <= 0.0 => Err(src.field_error(
            stages.span(),
            "stages",
            "every stage has a target of 0, so no load would run",
        )),
        Some(model) => Ok((model, checked)),
    }
}

/// An http(s) URL to send requests to.
fn check_http_url(url: url::Url) -> Result<url::Url, String> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err("has no host".to_string()),
        other => Err(format!(
            "only http and https URLs are supported (got `{other}:`)"
        )),
    }
}

fn check_base_url(base_url: &Spanned<String>) -> Result<url::Url, String> {
    let url = url::Url::parse(base_url.get_ref())
        .map_err(|err| format!("not a URL: {err} (example: http://127.0.0.1:8080)"))
        .and_then(check_http_url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment; put them in each request's `path`".into());
    }
    Ok(url)
}

/// A request's URL: `path` appended to the base URL's path (`http://h/api` + `/items` →
/// `http://h/api/items`), or `path` itself when it is an absolute http(s) URL.
fn request_url(base_url: &url::Url, path: &str) -> Result<url::Url, String> {
    if path.is_empty() {
        return Err("must not be empty (use \"/\" for the base URL itself)".to_string());
    }
    if path.contains("://") {
        return url::Url::parse(path)
            .map_err(|err| format!("not a URL: {err}"))
            .and_then(check_http_url);
    }
    let joined = format!(
        "{}/{}",
        base_url.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url::Url::parse(&joined).map_err(|err| format!("cannot be joined to `base_url`: {err}"))
}

fn check_headers(
    src: &Source<'_>,
    headers: &BTreeMap<Spanned<String>, Spanned<String>>,
    table: &str,
) -> Result<Vec<(String, String)>, ScenarioError> {
    headers
        .iter()
        .map(|(name, value)| {
            let field = format!("{table}.{}", key_text(name.get_ref()));
            if http::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
                return Err(src.field_error(name.span(), field, "not a valid header name"));
            }
            if http::header::HeaderValue::from_str(value.get_ref()).is_err() {
                return Err(src.field_error(
                    value.span(),
                    field,
                    "not a valid header value (visible ASCII only, no line breaks)",
                ));
            }
            Ok((name.get_ref().clone(), value.get_ref().clone()))
        })
        .collect()
}

fn check_requests(
    src: &Source<'_>,
    requests: &Spanned<Vec<RawRequest>>,
    base_url: &url::Url,
    default_headers: &[(String, String)],
) -> Result<Vec<RequestSpec>, ScenarioError> {
    if requests.get_ref().is_empty() {
        return Err(src.field_error(
            requests.span(),
            "requests",
            "needs at least one `[[requests]]` table",
        ));
    }
    let mut first_index_by_name: HashMap<&str, usize> = HashMap::new();
    let mut checked = Vec::new();
    for (i, request) in requests.get_ref().iter().enumerate() {
        let name = &request.name;
        if name.get_ref().trim().is_empty() {
            return Err(src.field_error(
                name.span(),
                format!("requests[{i}].name"),
                "must not be empty",
            ));
        }
        if let Some(first) = first_index_by_name.insert(name.get_ref(), i) {
            return Err(src.field_error(
                name.span(),
                format!("requests[{i}].name"),
                format!(
                    "`{}` is also the name of requests[{first}]; names must be unique",
                    name.get_ref()
                ),
            ));
        }
        checked.push(check_request(src, i, request, base_url, default_headers)?);
    }
    Ok(checked)
}

fn check_request(
    src: &Source<'_>,
    i: usize,
    raw: &RawRequest,
    base_url: &url::Url,
    default_headers: &[(String, String)],
) -> Result<RequestSpec, ScenarioError> {
    let field = |name: &str| format!("requests[{i}].{name}");
    let weight = match &raw.weight {
        Some(weight) => {
            let value = *weight.get_ref();
            if !value.is_finite() || value <= 0.0 {
                return Err(src.field_error(
                    weight.span(),
                    field("weight"),
                    format!("must be a finite number greater than 0 (got {value})"),
                ));
            }
            value
        }
        None => 1.0,
    };
    let method = match &raw.method {
        // Methods are case-sensitive on the wire; a lower-case `get` is a typo, not an
        // extension method.
        Some(method) => http::Method::from_bytes(method.get_ref().to_ascii_uppercase().as_bytes())
            .map_err(|_| {
                src.field_error(
                    method.span(),
                    field("method"),
                    format!(
                        "`{}` is not an HTTP method (examples: GET, POST, PUT, DELETE)",
                        method.get_ref()
                    ),
                )
            })?,
        None => http::Method::GET,
    };
    let url = request_url(base_url, raw.path.get_ref())
        .map_err(|message| src.field_error(raw.path.span(), field("path"), message))?;
    let own_headers = check_headers(src, &raw.headers, &field("headers"))?;
    let mut headers: Vec<(String, String)> = default_headers
        .iter()
        .filter(|(name, _)| {
            !own_headers
                .iter()
                .any(|(own, _)| own.eq_ignore_ascii_case(name))
        })
        .cloned()
        .collect();
    headers.extend(own_headers);
    Ok(RequestSpec {
        name: raw.name.get_ref().clone(),
        weight,
        method,
        url,
        headers,
        bodies: check_bodies(src, i, raw)?,
        expect_status: match &raw.expect_status {
            Some(status) => check_status(src, status, &field("expect_status"))?,
            None => Vec::new(),
        },
        expect_json_keys: raw.expect_json_keys.clone(),
    })
}

fn check_bodies(src: &Source<'_>, i: usize, raw: &RawRequest) -> Result<Vec<Body>, ScenarioError> {
    let field = |name: &str| format!("requests[{i}].{name}");
    let given: Vec<(&str, Range<usize>)> = [
        ("body", raw.body.as_ref().map(Spanned::span)),
        ("json", raw.json.as_ref().map(Spanned::span)),
        ("bodies", raw.bodies.as_ref().map(Spanned::span)),
        ("json_bodies", raw.json_bodies.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter_map(|(key, span)| span.map(|span| (key, span)))
    .collect();
    if let [(first, _), (second, span), ..] = given.as_slice() {
        return Err(src.field_error(
            span.clone(),
            field(second),
            format!(
                "give at most one of `body`, `json`, `bodies`, `json_bodies` (`{first}` is given too)"
            ),
        ));
    }
    let json = |value: &toml::Value, span: Range<usize>, field: String| {
        toml_to_json(value)
            .map(Body::Json)
            .map_err(|message| src.field_error(span, field, message))
    };
    if let Some(body) = &raw.body {
        return Ok(vec![Body::Text(body.get_ref().clone())]);
    }
    if let Some(value) = &raw.json {
        return Ok(vec![json(value.get_ref(), value.span(), field("json"))?]);
    }
    if let Some(bodies) = &raw.bodies {
        if bodies.get_ref().is_empty() {
            return Err(src.field_error(bodies.span(), field("bodies"), "must not be empty"));
        }
        return Ok(bodies.get_ref().iter().cloned().map(Body::Text).collect());
    }
    if let Some(bodies) = &raw.json_bodies {
        if bodies.get_ref().is_empty() {
            return Err(src.field_error(bodies.span(), field("json_bodies"), "must not be empty"));
        }
        return bodies
            .get_ref()
            .iter()
            .enumerate()
            .map(|(k, value)| {
                json(
                    value,
                    bodies.span(),
                    format!("requests[{i}].json_bodies[{k}]"),
                )
            })
            .collect();
    }
    Ok(Vec::new())
}

/// A TOML value as JSON: datetimes become strings; NaN and infinities have no JSON form.
fn toml_to_json(value: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as Json;
    Ok(match value {
        toml::Value::String(text) => Json::String(text.clone()),
        toml::Value::Integer(n) => Json::from(*n),
        toml::Value::Float(x) => serde_json::Number::from_f64(*x)
            .map(Json::Number)
            .ok_or_else(|| format!("{x} cannot be written as JSON"))?,
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(when) => Json::String(when.to_string()),
        toml::Value::Array(items) => {
            Json::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(key, value)| Ok((key.clone(), toml_to_json(value)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn check_status(
    src: &Source<'_>,
    status: &Spanned<toml::Value>,
    field: &str,
) -> Result<Vec<u16>, ScenarioError> {
    let error = |message: String| src.field_error(status.span(), field, message);
    let codes: Vec<&toml::Value> = match status.get_ref() {
        toml::Value::Array(items) if items.is_empty() => {
            return Err(error(
                "must not be empty (leave it out to accept any 2xx or 3xx)".to_string(),
            ));
        }
        toml::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    codes
        .into_iter()
        .map(|code| match code {
            toml::Value::Integer(n) => match u16::try_from(*n) {
                Ok(code) if (100..=599).contains(&code) => Ok(code),
                _ => Err(error(format!("{n} is not an HTTP status (100..=599)"))),
            },
            other => Err(error(format!(
                "must be an integer or a list of integers (got a {})",
                other.type_str()
            ))),
        })
        .collect()
}

/// The stages of a built-in profile at level `level` (the peak: users or requests per
/// second), shaped to `run_duration` D (10 minutes when unknown):
///
/// - `smoke`: a tenth of the level, at least 1 (or the level itself if below 1), reached at
///   once and held for the whole run.
/// - `load`: ramp 0 → L over 10% of D, hold L for 80%, ramp L → 0 over the last 10%.
/// - `soak`: ramp 0 → L over 5% of D (at most 5 minutes), then hold L to the end.
/// - `stress`: four steps to 0.5 L, L, 1.5 L and 2 L, each ramping over 5% of D and
///   holding for 20% of D.
/// - `spike`: a baseline of 0.2 L from the start; at 40% of D ramp to L within 5 s (or 5%
///   of D if shorter), hold L for 1 minute (10% of D when D is under 10 minutes), drop back
///   to 0.2 L within 5 s and hold it to the end.
///
/// Targets are not rounded here; the closed model rounds users to whole numbers (at least
/// 1 wherever the level is above 0).
pub fn profile_stages(profile: Profile, level: f64, run_duration: Option<Duration>) -> Vec<Stage> {
    let run = run_duration
        .filter(|run| !run.is_zero())
        .unwrap_or(DEFAULT_PROFILE_RUN);
    let part = |fraction: f64| run.mul_f64(fraction);
    let stage = |name: &str, duration: Duration, target: f64| Stage {
        name: name.to_string(),
        duration,
        target,
    };
    match profile {
        Profile::Smoke => vec![stage(
            "smoke",
            Duration::ZERO,
            (level / 10.0).max(level.min(1.0)),
        )],
        Profile::Load => vec![
            stage("ramp up", part(0.1), level),
            stage("hold", part(0.8), level),
            stage("ramp down", part(0.1), 0.0),
        ],
        Profile::Soak => {
            let ramp = part(0.05).min(Duration::from_secs(300));
            vec![
                stage("ramp up", ramp, level),
                stage("soak", run.saturating_sub(ramp), level),
            ]
        }
        Profile::Stress => (1..=4_u32)
            .flat_map(|step| {
                let target = level * f64::from(step) / 2.0;
                let percent = step * 50;
                [
                    stage(&format!("ramp to {percent}%"), part(0.05), target),
                    stage(&format!("hold {percent}%"), part(0.2), target),
                ]
            })
            .collect(),
        Profile::Spike => {
            let edge = Duration::from_secs(5).min(part(0.05));
            let peak = if run < DEFAULT_PROFILE_RUN {
                part(0.1)
            } else {
                Duration::from_secs(60)
            };
            let baseline = 0.2 * level;
            let before = part(0.4);
            let after = run.saturating_sub(before + edge + peak + edge);
            vec![
                stage("start", Duration::ZERO, baseline),
                stage("baseline", before, baseline),
                stage("spike up", edge, level),
                stage("peak", peak, level),
                stage("spike down", edge, baseline),
                stage("recovery", after, baseline),
            ]
        }
    }
}

/// The level at `t` since the start: a linear ramp from the previous stage's target (0
/// before the first) to each stage's target over its duration; a zero-duration stage
/// jumps. After the last stage its target holds; no stages means no load.
pub fn level_at(stages: &[Stage], t: Duration) -> f64 {
    let mut start = Duration::ZERO;
    let mut from = 0.0;
    for stage in stages {
        let end = start.saturating_add(stage.duration);
        if t < end {
            let fraction = t.saturating_sub(start).as_secs_f64() / stage.duration.as_secs_f64();
            return from + (stage.target - from) * fraction;
        }
        from = stage.target;
        start = end;
    }
    from
}

/// The index of the stage running at `t` (the last one once all have ended); `None`
/// without stages. A zero-duration stage is over as soon as it starts.
pub fn stage_at(stages: &[Stage], t: Duration) -> Option<usize> {
    let mut end = Duration::ZERO;
    for (i, stage) in stages.iter().enumerate() {
        end = end.saturating_add(stage.duration);
        if t < end {
            return Some(i);
        }
    }
    stages.len().checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples in fixtures/scenarios (and the README's) stay valid.
    #[test]
    fn example_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let scenario = parse_scenario_file(
                &path,
                &LoadOverrides::default(),
                Some(Duration::from_secs(1800)),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(!scenario.requests.is_empty());
            seen += 1;
        }
        assert!(seen >= 3);
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let block = readme.split("```toml\n").nth(1).unwrap();
        let block = &block[..block.find("```").unwrap()];
        let scenario =
            parse_scenario_str(block, "README.md", &LoadOverrides::default(), None).unwrap();
        assert_eq!(scenario.requests.len(), 3);
    }

    const HEAD: &str = "base_url = \"http://127.0.0.1:8080\"\nusers = 10\n";

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn parse_with(text: &str, overrides: &LoadOverrides) -> Result<Scenario, ScenarioError> {
        parse_scenario_str(text, "scenario.toml", overrides, Some(secs(3600)))
    }

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_with(text, &LoadOverrides::default())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    /// HEAD, then one request whose `extra` lines start at line 7.
    fn with_request(extra: &str) -> String {
        format!("{HEAD}\n[[requests]]\nname = \"a\"\npath = \"/\"\n{extra}")
    }

    fn stage(name: &str, duration_s: u64, target: f64) -> Stage {
        Stage {
            name: name.to_string(),
            duration: secs(duration_s),
            target,
        }
    }

    fn targets(stages: &[Stage]) -> Vec<f64> {
        stages.iter().map(|stage| stage.target).collect()
    }

    const FULL: &str = r#"
base_url = "http://127.0.0.1:8080/api"
timeout = "10s"
think = "1s..3s"
headers = { Authorization = "Bearer x", Accept = "text/plain" }
users = 10
profile = "soak"

[[requests]]
name = "list"
weight = 3
path = "/items?x=1"
headers = { accept = "application/json" }
expect_status = 200
expect_json_keys = ["id"]

[[requests]]
name = "create"
weight = 0.5
method = "post"
path = "items"
json = { a = 1, tags = ["x"], at = 1979-05-27T07:32:00Z }
expect_status = [200, 201]

[[requests]]
name = "health"
path = "https://other.example/health"
bodies = ["a", "b"]

[[requests]]
name = "batch"
method = "PUT"
path = "/batch"
json_bodies = [{ a = 1 }, { a = 2 }]
"#;

    #[test]
    fn full_file() {
        let scenario = parse(FULL).unwrap();
        assert_eq!(scenario.source, "scenario.toml");
        assert_eq!(scenario.base_url.as_str(), "http://127.0.0.1:8080/api");
        assert_eq!(scenario.timeout, secs(10));
        assert_eq!(
            scenario.think,
            Some(ThinkTime {
                min: secs(1),
                max: secs(3)
            })
        );
        assert_eq!(scenario.model, Model::Closed);
        // soak over 1 h: ramp for 5% = 3 min, then hold.
        assert_eq!(
            scenario.stages,
            vec![stage("ramp up", 180, 10.0), stage("soak", 3420, 10.0)]
        );

        let [list, create, health, batch] = scenario.requests.as_slice() else {
            panic!("four requests expected");
        };
        let total_weight: f64 = scenario.requests.iter().map(|request| request.weight).sum();
        assert_eq!(total_weight, 5.5);
        assert_eq!((list.name.as_str(), list.weight), ("list", 3.0));
        assert_eq!(list.method, http::Method::GET);
        assert_eq!(list.url.as_str(), "http://127.0.0.1:8080/api/items?x=1");
        // The request's own `accept` replaces the default `Accept`.
        assert_eq!(
            list.headers,
            vec![
                ("Authorization".to_string(), "Bearer x".to_string()),
                ("accept".to_string(), "application/json".to_string()),
            ]
        );
        assert!(list.bodies.is_empty());
        assert_eq!(list.expect_status, vec![200]);
        assert_eq!(list.expect_json_keys, vec!["id".to_string()]);

        assert_eq!(create.method, http::Method::POST);
        assert_eq!(create.url.as_str(), "http://127.0.0.1:8080/api/items");
        assert_eq!(
            create.bodies,
            vec![Body::Json(serde_json::json!({
                "a": 1, "tags": ["x"], "at": "1979-05-27T07:32:00Z"
            }))]
        );
        assert_eq!(create.expect_status, vec![200, 201]);
        assert_eq!(create.headers.len(), 2);

        assert_eq!(health.weight, 1.0);
        assert_eq!(health.url.as_str(), "https://other.example/health");
        assert_eq!(
            health.bodies,
            vec![Body::Text("a".into()), Body::Text("b".into())]
        );
        assert!(health.expect_status.is_empty());

        assert_eq!(batch.method, http::Method::PUT);
        assert_eq!(
            batch.bodies,
            vec![
                Body::Json(serde_json::json!({"a": 1})),
                Body::Json(serde_json::json!({"a": 2}))
            ]
        );
    }

    #[test]
    fn defaults_hold_a_constant_level() {
        let scenario = parse(&with_request("")).unwrap();
        assert_eq!(scenario.timeout, secs(30));
        assert_eq!(scenario.think, None);
        assert_eq!(scenario.stages, vec![stage("start", 0, 10.0)]);
        assert_eq!(scenario.requests[0].url.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let message = error("base_url = \"http://h\"\n\nusers = = 1\n");
        assert!(
            message.starts_with("scenario.toml: line 3: TOML syntax: "),
            "{message}"
        );
    }

    #[test]
    fn unknown_key_names_the_line_and_table() {
        let message = error(&with_request("wieght = 3\n"));
        assert!(
            message.starts_with(
                "scenario.toml: line 7: in `requests[0]`: unknown field `wieght`, expected one of"
            ),
            "{message}"
        );
        let message = error(&format!("usres = 3\n{}", with_request("")));
        assert!(
            message.starts_with("scenario.toml: line 1: unknown field `usres`, expected one of"),
            "{message}"
        );
    }

    #[test]
    fn weight_must_be_positive() {
        assert_eq!(
            error(&with_request("weight = -1\n")),
            "scenario.toml: line 7: field `requests[0].weight`: \
             must be a finite number greater than 0 (got -1)"
        );
        let message = error(&with_request("weight = 0\n"));
        assert!(
            message.starts_with("scenario.toml: line 7: field `requests[0].weight`: ")
                && message.ends_with("(got 0)"),
            "{message}"
        );
        let message = error(&with_request("weight = nan\n"));
        assert!(
            message.contains("line 7: field `requests[0].weight`"),
            "{message}"
        );
        let message = error(&with_request("weight = \"x\"\n"));
        assert!(
            message.contains("line 7: field `requests[0].weight`: invalid type: string \"x\""),
            "{message}"
        );
    }

    #[test]
    fn missing_keys() {
        let no_base = "users = 1\n[[requests]]\nname = \"a\"\npath = \"/\"\n";
        assert_eq!(
            error(no_base),
            "scenario.toml: line 1: missing field `base_url`"
        );
        assert_eq!(
            error(HEAD),
            "scenario.toml: line 1: missing field `requests`"
        );
        assert_eq!(
            error(&format!("{HEAD}requests = []\n")),
            "scenario.toml: line 3: field `requests`: needs at least one `[[requests]]` table"
        );
        let second_without_path = format!("{}[[requests]]\nname = \"b\"\n", with_request(""));
        assert_eq!(
            error(&second_without_path),
            "scenario.toml: line 7: in `requests[1]`: missing field `path`"
        );
    }

    #[test]
    fn bad_method() {
        let message = error(&with_request("method = \"GE T\"\n"));
        assert!(
            message.starts_with("scenario.toml: line 7: field `requests[0].method`: `GE T`"),
            "{message}"
        );
        assert!(error(&with_request("method = \"\"\n")).contains("`requests[0].method`"));
    }

    #[test]
    fn bad_durations() {
        let message = error(&format!("timeout = \"soon\"\n{}", with_request("")));
        assert!(
            message.starts_with("scenario.toml: line 1: field `timeout`: 'soon' is not a duration"),
            "{message}"
        );
        let message = error(&format!("timeout = \"0s\"\n{}", with_request("")));
        assert!(message.contains("line 1: field `timeout`: '0s' must be greater than zero"));
        let message = error(&format!("think = \"3s..1s\"\n{}", with_request("")));
        assert!(message.contains("line 1: field `think`: "), "{message}");
        let text = "base_url = \"http://h\"\n[[stages]]\nduration = \"1m\"\nusers = 1\n\
                    [[stages]]\nduration = \"later\"\nusers = 2\n[[requests]]\nname = \"a\"\npath = \"/\"\n";
        let message = error(text);
        assert!(
            message.starts_with("scenario.toml: line 6: field `stages[1].duration`: 'later'"),
            "{message}"
        );
    }

    #[test]
    fn one_body_kind_per_request() {
        assert_eq!(
            error(&with_request("body = \"x\"\njson = { a = 1 }\n")),
            "scenario.toml: line 8: field `requests[0].json`: give at most one of `body`, \
             `json`, `bodies`, `json_bodies` (`body` is given too)"
        );
        let message = error(&with_request("bodies = []\n"));
        assert!(message.contains("line 7: field `requests[0].bodies`: must not be empty"));
        let message = error(&with_request("json = { x = inf }\n"));
        assert!(
            message.contains("line 7: field `requests[0].json`: inf cannot be written as JSON")
        );
    }

    #[test]
    fn level_keys() {
        let text = format!("rps = 5\n{}", with_request(""));
        assert_eq!(
            error(&text),
            "scenario.toml: line 1: field `rps`: give either `users` (closed model) or `rps` \
             (open model), not both"
        );
        let text = with_request("").replace("users = 10", "users = 0");
        assert_eq!(
            error(&text),
            "scenario.toml: line 2: field `users`: must be at least 1 (got 0)"
        );
        let text = with_request("").replace("users = 10", "users = 2.5");
        let message = error(&text);
        assert!(
            message.contains(
                "line 2: field `users`: invalid type: floating point `2.5`, expected a whole number"
            ),
            "{message}"
        );
        let text = with_request("").replace("users = 10", "rps = -3");
        assert_eq!(
            error(&text),
            "scenario.toml: line 2: field `rps`: must be greater than 0 (got -3)"
        );
        let text = with_request("").replace("users = 10\n", "");
        assert!(
            error(&text).starts_with("scenario.toml: no load level: "),
            "{}",
            error(&text)
        );
        // The command line can complete a file without a level.
        let overrides = LoadOverrides {
            rps: Some(40.0),
            ..LoadOverrides::default()
        };
        let scenario = parse_with(&text, &overrides).unwrap();
        assert_eq!(scenario.model, Model::Open);
        assert_eq!(scenario.stages, vec![stage("start", 0, 40.0)]);
    }

    #[test]
    fn other_field_errors() {
        let cases = [
            (
                with_request("").replace("http://127.0.0.1:8080", "ftp://h"),
                "line 1: field `base_url`: only http and https URLs are supported",
            ),
            (
                with_request("").replace("http://127.0.0.1:8080", "http://h/?q=1"),
                "line 1: field `base_url`: must not have a query",
            ),
            (
                with_request("").replace("http://127.0.0.1:8080", "nonsense"),
                "line 1: field `base_url`: not a URL",
            ),
            (
                with_request("headers = { \"Bad Name\" = \"x\" }\n"),
                "line 7: field `requests[0].headers.\"Bad Name\"`: not a valid header name",
            ),
            (
                format!("headers = {{ X = \"a\\nb\" }}\n{}", with_request("")),
                "line 1: field `headers.X`: not a valid header value",
            ),
            (
                with_request("expect_status = 700\n"),
                "line 7: field `requests[0].expect_status`: 700 is not an HTTP status",
            ),
            (
                with_request("expect_status = [200, \"ok\"]\n"),
                "line 7: field `requests[0].expect_status`: must be an integer",
            ),
            (
                with_request("path = \"/\"\n"),
                "line 7: TOML syntax: duplicate key",
            ),
            (
                format!(
                    "{}[[requests]]\nname = \"a\"\npath = \"/b\"\n",
                    with_request("")
                ),
                "line 8: field `requests[1].name`: `a` is also the name of requests[0]",
            ),
            (
                with_request("").replace("path = \"/\"", "path = \"\""),
                "line 6: field `requests[0].path`: must not be empty",
            ),
            (
                format!("profile = \"soaky\"\n{}", with_request("")),
                "line 1: field `profile`: unknown variant `soaky`",
            ),
            (
                with_request("").replace("users = 10", "rps = 10\nthink = \"1s\""),
                "line 3: field `think`: think time applies to the closed model",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(
                message.starts_with("scenario.toml: ") && message.contains(expected),
                "{message}\n  expected: {expected}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
    }

    const STAGED: &str = "base_url = \"http://h\"\n\
        [[stages]]\nname = \"ramp\"\nduration = \"1m\"\nusers = 5\n\
        [[stages]]\nduration = \"10m\"\nusers = 10\n\
        [[stages]]\nduration = \"1m\"\nusers = 0\n\
        [[requests]]\nname = \"a\"\npath = \"/\"\n";

    #[test]
    fn explicit_stages() {
        let scenario = parse(STAGED).unwrap();
        assert_eq!(scenario.model, Model::Closed);
        assert_eq!(
            scenario.stages,
            vec![
                stage("ramp", 60, 5.0),
                stage("stage 2", 600, 10.0),
                stage("stage 3", 60, 0.0)
            ]
        );
        // Mixed models, a level that disagrees, a profile beside them, all-zero targets.
        let mixed = STAGED.replace("users = 10", "rps = 10");
        assert!(error(&mixed).contains(
            "line 8: field `stages[1].rps`: every stage must use `users` like the first one"
        ));
        let disagree = format!("rps = 3\n{STAGED}");
        assert!(error(&disagree).contains("line 1: field `rps`: the `[[stages]]` use `users`"));
        let with_profile = format!("profile = \"load\"\n{STAGED}");
        assert!(error(&with_profile).contains("line 1: field `profile`: give either `profile` or"));
        let zero = STAGED
            .replace("users = 5", "users = 0")
            .replace("users = 10", "users = 0");
        assert!(error(&zero).contains("field `stages`: every stage has a target of 0"));
        let negative = STAGED.replace("users = 0", "users = -1");
        assert!(error(&negative).contains("line 11: field `stages[2].users`: must be at least 0"));
        let neither = STAGED.replace("users = 10\n", "");
        assert!(
            error(&neither).contains("line 6: field `stages[1]`: needs `users`"),
            "{}",
            error(&neither)
        );
    }

    #[test]
    fn command_line_overrides() {
        // --users scales explicit stages so the highest reaches it.
        let users = LoadOverrides {
            users: Some(20),
            ..LoadOverrides::default()
        };
        let scenario = parse_with(STAGED, &users).unwrap();
        assert_eq!(targets(&scenario.stages), vec![10.0, 20.0, 0.0]);
        let three = LoadOverrides {
            users: Some(3),
            ..LoadOverrides::default()
        };
        // 5 × 3 / 10 = 1.5 users rounds to 2.
        assert_eq!(
            targets(&parse_with(STAGED, &three).unwrap().stages),
            vec![2.0, 3.0, 0.0]
        );
        let rps = LoadOverrides {
            rps: Some(50.0),
            ..LoadOverrides::default()
        };
        let message = parse_with(STAGED, &rps).unwrap_err().to_string();
        assert_eq!(
            message,
            "scenario.toml: --rps cannot scale `[[stages]]` that use `users`; pass --users instead"
        );

        // --rps switches a closed file to the open model and drops its think time.
        let closed = format!("think = \"1s\"\n{}", with_request(""));
        let scenario = parse_with(&closed, &rps).unwrap();
        assert_eq!(scenario.model, Model::Open);
        assert_eq!(scenario.think, None);
        assert_eq!(scenario.stages, vec![stage("start", 0, 50.0)]);

        // --profile replaces the file's stages, at their peak unless a level is given.
        let profile = LoadOverrides {
            profile: Some(Profile::Load),
            ..LoadOverrides::default()
        };
        let scenario = parse_with(STAGED, &profile).unwrap();
        assert_eq!(
            scenario.stages,
            profile_stages(Profile::Load, 10.0, Some(secs(3600)))
        );

        // --think and --timeout replace the file's.
        let think = ThinkTime {
            min: secs(2),
            max: secs(2),
        };
        let timing = LoadOverrides {
            think: Some(think),
            timeout: Some(secs(5)),
            ..LoadOverrides::default()
        };
        let scenario = parse_with(&closed, &timing).unwrap();
        assert_eq!((scenario.think, scenario.timeout), (Some(think), secs(5)));
        let open_think = LoadOverrides {
            rps: Some(1.0),
            ..timing
        };
        assert_eq!(
            parse_with(&closed, &open_think).unwrap_err().to_string(),
            "--think applies to the closed model (--users) only"
        );

        let both = LoadOverrides {
            users: Some(1),
            rps: Some(1.0),
            ..LoadOverrides::default()
        };
        assert!(parse_with(&closed, &both).is_err());
        let zero = LoadOverrides {
            users: Some(0),
            ..LoadOverrides::default()
        };
        assert!(parse_with(&closed, &zero).is_err());
    }

    #[test]
    fn quick_mode() {
        let users = LoadOverrides {
            users: Some(5),
            ..LoadOverrides::default()
        };
        let scenario = quick_scenario("http://127.0.0.1:8080/health", &users, None).unwrap();
        assert_eq!(scenario.source, "--load-url");
        assert_eq!(scenario.model, Model::Closed);
        assert_eq!(scenario.timeout, secs(30));
        assert_eq!(scenario.stages, vec![stage("start", 0, 5.0)]);
        let [request] = scenario.requests.as_slice() else {
            panic!("one request expected");
        };
        assert_eq!(request.name, "GET /health");
        assert_eq!(request.method, http::Method::GET);
        assert_eq!(request.url.as_str(), "http://127.0.0.1:8080/health");
        assert_eq!(
            quick_scenario("http://127.0.0.1:8080", &users, None)
                .unwrap()
                .requests[0]
                .name,
            "GET /"
        );

        let spike = LoadOverrides {
            rps: Some(100.0),
            profile: Some(Profile::Spike),
            ..LoadOverrides::default()
        };
        let scenario = quick_scenario("https://127.0.0.1/", &spike, Some(secs(600))).unwrap();
        assert_eq!(scenario.model, Model::Open);
        assert_eq!(
            scenario.stages,
            profile_stages(Profile::Spike, 100.0, Some(secs(600)))
        );

        let none = LoadOverrides::default();
        let err = quick_scenario("http://127.0.0.1/", &none, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--load-url needs --users N (closed model) or --rps N (open model)"
        );
        assert!(err.is_bad_input());
        let both = LoadOverrides {
            users: Some(1),
            rps: Some(1.0),
            ..LoadOverrides::default()
        };
        assert!(quick_scenario("http://127.0.0.1/", &both, None).is_err());
        let message = quick_scenario("ftp://127.0.0.1/", &users, None)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("--load-url ftp://127.0.0.1/: only http and https"));
        assert!(quick_scenario("127.0.0.1:8080", &users, None).is_err());
    }

    #[test]
    fn reading_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let err = parse_scenario_file(&missing, &LoadOverrides::default(), None).unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().starts_with("cannot read scenario file "));
        assert!(err.to_string().contains("missing.toml"));

        let good = dir.path().join("good.toml");
        std::fs::write(&good, with_request("")).unwrap();
        let scenario = parse_scenario_file(&good, &LoadOverrides::default(), None).unwrap();
        assert_eq!(scenario.source, good.display().to_string());

        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, b"base_url = 1\n\xff\n").unwrap();
        let err = parse_scenario_file(&binary, &LoadOverrides::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: line 2: not UTF-8 text", binary.display())
        );

        let err = parse_scenario_file(dir.path(), &LoadOverrides::default(), None).unwrap_err();
        assert!(err.is_bad_input(), "{err}");

        let disk = ScenarioError::Read {
            path: good,
            source: std::io::Error::from(ErrorKind::PermissionDenied),
        };
        assert!(!disk.is_bad_input());
    }

    fn level(stages: &[Stage], t_s: f64) -> f64 {
        level_at(stages, Duration::from_secs_f64(t_s))
    }

    fn whole(stages: &[Stage]) -> bool {
        stages.iter().all(|stage| stage.target.fract() == 0.0)
    }

    #[test]
    fn smoke_profile() {
        let run = Some(secs(600));
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 50.0, run)),
            vec![5.0]
        );
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 5.0, run)),
            vec![1.0]
        );
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 0.5, run)),
            vec![0.5]
        );
        let mut stages = profile_stages(Profile::Smoke, 25.0, run);
        round_users(Model::Closed, &mut stages);
        assert_eq!(targets(&stages), vec![3.0]);
        assert_eq!(level(&stages, 0.0), 3.0);
    }

    #[test]
    fn load_profile() {
        let stages = profile_stages(Profile::Load, 100.0, Some(secs(1000)));
        assert_eq!(level(&stages, 0.0), 0.0);
        assert_eq!(level(&stages, 50.0), 50.0);
        assert_eq!(level(&stages, 100.0), 100.0);
        assert_eq!(level(&stages, 500.0), 100.0);
        assert_eq!(level(&stages, 950.0), 50.0);
        assert_eq!(level(&stages, 1000.0), 0.0);
        // Unknown run length: 10 minutes.
        let stages = profile_stages(Profile::Load, 100.0, None);
        assert_eq!(stages[0].duration, secs(60));
        assert_eq!(level(&stages, 30.0), 50.0);
    }

    #[test]
    fn soak_profile() {
        let stages = profile_stages(Profile::Soak, 10.0, Some(secs(3600)));
        assert_eq!(level(&stages, 90.0), 5.0);
        assert_eq!(level(&stages, 180.0), 10.0);
        assert_eq!(level(&stages, 99_999.0), 10.0);
        // Long runs ramp over 5 minutes at most.
        let stages = profile_stages(Profile::Soak, 10.0, Some(secs(24 * 3600)));
        assert_eq!(stages[0].duration, secs(300));
        assert_eq!(level(&stages, 150.0), 5.0);
    }

    #[test]
    fn stress_profile() {
        let stages = profile_stages(Profile::Stress, 100.0, Some(secs(1000)));
        assert_eq!(stages.len(), 8);
        assert_eq!(level(&stages, 25.0), 25.0);
        assert_eq!(level(&stages, 100.0), 50.0);
        assert_eq!(level(&stages, 350.0), 100.0);
        assert_eq!(level(&stages, 600.0), 150.0);
        assert_eq!(level(&stages, 999.0), 200.0);
        assert_eq!(stage_at(&stages, secs(999)), Some(7));
        let mut users = profile_stages(Profile::Stress, 3.0, None);
        round_users(Model::Closed, &mut users);
        assert_eq!(
            targets(&users),
            vec![2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 6.0, 6.0]
        );
    }

    #[test]
    fn spike_profile() {
        let stages = profile_stages(Profile::Spike, 100.0, Some(secs(3600)));
        assert_eq!(level(&stages, 0.0), 20.0);
        assert_eq!(level(&stages, 1439.0), 20.0);
        assert_eq!(level(&stages, 1445.0), 100.0);
        assert_eq!(level(&stages, 1505.0), 100.0);
        assert_eq!(level(&stages, 1510.0), 20.0);
        assert_eq!(level(&stages, 3600.0), 20.0);
        let total: Duration = stages.iter().map(|stage| stage.duration).sum();
        assert_eq!(total, secs(3600));
        // Short runs: the peak lasts 10% of the run.
        let stages = profile_stages(Profile::Spike, 100.0, Some(secs(300)));
        assert_eq!(stages[3].duration, secs(30));
        let mut users = profile_stages(Profile::Spike, 4.0, None);
        round_users(Model::Closed, &mut users);
        assert!(whole(&users));
        assert_eq!(targets(&users), vec![1.0, 1.0, 4.0, 4.0, 1.0, 1.0]);
    }

    #[test]
    fn closed_profiles_have_whole_users() {
        for profile in [
            Profile::Smoke,
            Profile::Load,
            Profile::Stress,
            Profile::Spike,
            Profile::Soak,
        ] {
            let text = format!("profile = \"{profile:?}\"\n{}", with_request(""))
                .to_lowercase()
                .replace("users = 10", "users = 7");
            let scenario = parse(&text).unwrap();
            assert!(whole(&scenario.stages), "{profile:?}");
            assert!(scenario.stages.iter().any(|stage| stage.target >= 1.0));
        }
    }

    #[test]
    fn ramps_and_stage_index() {
        let stages = [
            stage("up", 10, 10.0),
            stage("jump", 0, 20.0),
            stage("down", 10, 0.0),
        ];
        assert_eq!(level(&stages, 0.0), 0.0);
        assert_eq!(level(&stages, 5.0), 5.0);
        assert_eq!(level(&stages, 10.0), 20.0);
        assert_eq!(level(&stages, 15.0), 10.0);
        assert_eq!(level(&stages, 20.0), 0.0);
        assert_eq!(level(&stages, 100.0), 0.0);
        assert_eq!(stage_at(&stages, secs(0)), Some(0));
        assert_eq!(stage_at(&stages, secs(10)), Some(2));
        assert_eq!(stage_at(&stages, secs(25)), Some(2));
        assert_eq!(level(&[], 3.0), 0.0);
        assert_eq!(stage_at(&[], secs(3)), None);
        let constant = [stage("start", 0, 7.0)];
        assert_eq!(level(&constant, 0.0), 7.0);
        assert_eq!(stage_at(&constant, secs(0)), Some(0));
    }
}
