//! Load scenarios: the TOML scenario file, quick mode (`--load-url`), built-in profiles and
//! the stage schedule. Pure parsing and arithmetic; no I/O beyond reading the file.
//!
//! A scenario file names a `base_url`, a load level (`users` for the closed model or `rps`
//! for the open one), optionally a `profile` or explicit `[[stages]]`, and one or more
//! `[[requests]]` picked at random by `weight`. Unknown keys are errors, and every error
//! names the file, the line and the field (`requests[2].weight`, counting from 0).
//!
//! One job per file: `validate` checks the file as written into the parts of a [`Scenario`],
//! `locate` turns TOML byte offsets into the lines and field paths that errors name, and
//! `profiles` holds the built-in profiles and the stage schedule arithmetic. This file holds
//! the public types and the entry points.

mod locate;
mod profiles;
mod urls;
mod validate;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use crate::units::{parse_duration_range, parse_positive_duration};

pub use profiles::{level_at, profile_stages, stage_at};
pub use urls::redact_userinfo;
pub(crate) use urls::{basic_auth, redact_url, same_origin, without_userinfo};

pub(crate) use locate::one_line;
use locate::{Source, line_of};
use profiles::schedule;
use urls::{check_base_url, check_http_url};
use validate::{
    RawScenario, check_headers, check_max_body, check_requests, check_rps, check_stages,
    check_users,
};

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
    /// Longest response body read, bytes; a longer one is a `body_too_large` error.
    pub max_body: u64,
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
    /// `--max-body`: replaces the scenario's `max_body` (top level and per request).
    pub max_body: Option<u64>,
}

/// A scenario that cannot be used. Every message is one line naming the file, the line
/// and the field where known.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {}: {source}", one_line(&path.display().to_string()))]
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
    /// or unreadable file, or a directory given as the file, is bad input; an I/O error
    /// reading a file that is there is not.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ScenarioError::Read { source, .. } => matches!(
                source.kind(),
                ErrorKind::NotFound
                    | ErrorKind::IsADirectory
                    | ErrorKind::NotADirectory
                    | ErrorKind::PermissionDenied
            ),
            ScenarioError::Toml { .. }
            | ScenarioError::Field { .. }
            | ScenarioError::Usage { .. } => true,
        }
    }

    fn usage(message: impl Into<String>) -> Self {
        ScenarioError::Usage {
            message: locate::one_line(&message.into()),
        }
    }
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|n| format!("line {n}: ")).unwrap_or_default()
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest response body read by default (`--max-body`, `max_body`).
pub const DEFAULT_MAX_BODY: u64 = 10 << 20;
/// Most users the built-in driver runs (`--users`, `users`, a stage's `users`): each is a
/// task with its own connection on the driver's one thread.
pub const MAX_USERS: u32 = 4_000;
/// Most `[[requests]]` in a scenario; each name has its own counts in every interval.
pub const MAX_REQUESTS: usize = 1000;

/// A load level: how many users, or how many requests per second.
#[derive(Clone, Copy, Debug)]
struct Level {
    model: Model,
    value: f64,
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
    let file = one_line(&path.display().to_string());
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

    let base_url = check_base_url(raw.base_url.get_ref())
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
    let max_body = match &raw.max_body {
        Some(max_body) => check_max_body(&src, max_body, "max_body")?,
        None => DEFAULT_MAX_BODY,
    };
    let mut requests = check_requests(&src, &raw.requests, &base_url, &default_headers, max_body)?;
    if let Some(max_body) = overrides.max_body {
        for request in &mut requests {
            request.max_body = max_body;
        }
    }
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
        .map_err(|message| {
            ScenarioError::usage(format!("--load-url {}: {message}", redact_userinfo(url)))
        })?;
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
        max_body: overrides.max_body.unwrap_or(DEFAULT_MAX_BODY),
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
        (Some(users), None) if users > MAX_USERS => Err(ScenarioError::usage(format!(
            "--users must be at most {MAX_USERS} (got {users}); each user holds a connection and its buffers; use --rps for more load"
        ))),
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

#[cfg(test)]
mod tests_support {
    //! Helpers shared by the tests of every file in this module.

    use super::*;

    pub(super) const HEAD: &str = "base_url = \"http://127.0.0.1:8080\"\nusers = 10\n";

    pub(super) fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    pub(super) fn parse_with(
        text: &str,
        overrides: &LoadOverrides,
    ) -> Result<Scenario, ScenarioError> {
        parse_scenario_str(text, "scenario.toml", overrides, Some(secs(3600)))
    }

    pub(super) fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_with(text, &LoadOverrides::default())
    }

    pub(super) fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    /// HEAD, then one request whose `extra` lines start at line 7.
    pub(super) fn with_request(extra: &str) -> String {
        format!("{HEAD}\n[[requests]]\nname = \"a\"\npath = \"/\"\n{extra}")
    }

    pub(super) fn stage(name: &str, duration_s: u64, target: f64) -> Stage {
        Stage {
            name: name.to_string(),
            duration: secs(duration_s),
            target,
        }
    }

    pub(super) fn targets(stages: &[Stage]) -> Vec<f64> {
        stages.iter().map(|stage| stage.target).collect()
    }

    pub(super) const STAGED: &str = "base_url = \"http://h\"\n\
        [[stages]]\nname = \"ramp\"\nduration = \"1m\"\nusers = 5\n\
        [[stages]]\nduration = \"10m\"\nusers = 10\n\
        [[stages]]\nduration = \"1m\"\nusers = 0\n\
        [[requests]]\nname = \"a\"\npath = \"/\"\n";
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
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
path = "health"
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
        assert_eq!(health.url.as_str(), "http://127.0.0.1:8080/api/health");
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

        // A file the user may not read is theirs to fix; a failing disk is not.
        let denied = ScenarioError::Read {
            path: good.clone(),
            source: std::io::Error::from(ErrorKind::PermissionDenied),
        };
        assert!(denied.is_bad_input());
        let disk = ScenarioError::Read {
            path: good,
            source: std::io::Error::other("I/O error"),
        };
        assert!(!disk.is_bad_input());
    }
}
