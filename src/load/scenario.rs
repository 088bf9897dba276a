//! Load scenarios: the TOML scenario file, quick mode (`--load-url`), built-in profiles and
//! the stage schedule. Pure parsing and arithmetic; no I/O beyond reading the file.

use std::time::Duration;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
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
    pub method: reqwest::Method,
    /// Base URL joined with the request's path.
    pub url: reqwest::Url,
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
    pub base_url: reqwest::Url,
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
