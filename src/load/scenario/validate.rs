//! Checking the file as written (the `Raw*` structs serde fills in) into the parts of a
//! [`Scenario`](super::Scenario): load levels, stages, URLs, headers, requests, bodies and
//! expected statuses. Every error names the line and field it is about.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::locate::{Source, key_text};
use super::profiles::peak_target;
use super::urls::request_url;
use super::{
    Body, MAX_REQUESTS, MAX_USERS, Model, Profile, RequestSpec, ScenarioError, Stage, level_key,
};
use crate::units::{parse_duration, parse_positive_size};

// The file as written. Values checked after parsing are `Spanned` so their errors carry a
// line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) base_url: Spanned<String>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) think: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) headers: BTreeMap<Spanned<String>, Spanned<String>>,
    pub(super) users: Option<Spanned<i64>>,
    pub(super) rps: Option<Spanned<f64>>,
    pub(super) profile: Option<Spanned<Profile>>,
    pub(super) stages: Option<Spanned<Vec<Spanned<RawStage>>>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) requests: Spanned<Vec<RawRequest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    name: Option<String>,
    duration: Spanned<String>,
    users: Option<Spanned<i64>>,
    rps: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
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
    max_body: Option<Spanned<String>>,
}

pub(super) fn check_users(
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
    if value > i64::from(MAX_USERS) {
        return Err(src.field_error(
            users.span(),
            field,
            format!(
                "must be at most {MAX_USERS} (got {value}); each user holds a connection and its buffers; use --rps for more load"
            ),
        ));
    }
    Ok(value as f64)
}

/// A `max_body` size (`10MiB`, `512kB`).
pub(super) fn check_max_body(
    src: &Source<'_>,
    max_body: &Spanned<String>,
    field: &str,
) -> Result<u64, ScenarioError> {
    parse_positive_size(max_body.get_ref())
        .map_err(|err| src.field_error(max_body.span(), field, err.to_string()))
}

pub(super) fn check_rps(
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

pub(super) fn check_stages(
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

pub(super) fn check_headers(
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

pub(super) fn check_requests(
    src: &Source<'_>,
    requests: &Spanned<Vec<RawRequest>>,
    base_url: &url::Url,
    default_headers: &[(String, String)],
    max_body: u64,
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
        if i >= MAX_REQUESTS {
            return Err(src.field_error(
                name.span(),
                format!("requests[{i}]"),
                format!("a scenario has at most {MAX_REQUESTS} `[[requests]]`"),
            ));
        }
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
        checked.push(check_request(
            src,
            i,
            request,
            base_url,
            default_headers,
            max_body,
        )?);
    }
    Ok(checked)
}

fn check_request(
    src: &Source<'_>,
    i: usize,
    raw: &RawRequest,
    base_url: &url::Url,
    default_headers: &[(String, String)],
    max_body: u64,
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
        max_body: match &raw.max_body {
            Some(own) => check_max_body(src, own, &field("max_body"))?,
            None => max_body,
        },
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

#[cfg(test)]
mod tests {
    use super::super::tests_support::*;
    use super::super::{LoadOverrides, Model};

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
    fn bad_method() {
        let message = error(&with_request("method = \"GE T\"\n"));
        assert!(
            message.starts_with("scenario.toml: line 7: field `requests[0].method`: `GE T`"),
            "{message}"
        );
        assert!(error(&with_request("method = \"\"\n")).contains("`requests[0].method`"));
        // Control characters are shown escaped: the message stays one line.
        assert_eq!(
            error(&with_request("method = \"GET\\r\\nX: \\u0007\"\n")),
            "scenario.toml: line 7: field `requests[0].method`: `GET\\r\\nX: \\u{7}` is not an HTTP \
             method (examples: GET, POST, PUT, DELETE)"
        );
    }

    #[test]
    fn paths_stay_on_base_url_and_sizes_and_levels_are_bounded() {
        let message =
            error(&with_request("").replace("path = \"/\"", "path = \"http://10.1.2.3/x\""));
        assert!(
            message.starts_with("scenario.toml: line 6: field `requests[0].path`: must be a path"),
            "{message}"
        );
        let scenario = parse(&with_request("max_body = \"1MiB\"\n")).unwrap();
        assert_eq!(scenario.requests[0].max_body, 1 << 20);
        let scenario = parse(&format!("max_body = \"2kB\"\n{}", with_request(""))).unwrap();
        assert_eq!(scenario.requests[0].max_body, 2000);
        assert_eq!(
            parse(&with_request("")).unwrap().requests[0].max_body,
            10 << 20
        );
        let cli = LoadOverrides {
            max_body: Some(5),
            ..LoadOverrides::default()
        };
        let scenario = parse_with(&with_request("max_body = \"1MiB\"\n"), &cli).unwrap();
        assert_eq!(scenario.requests[0].max_body, 5);
        let message = error(&with_request("max_body = \"lots\"\n"));
        assert!(
            message.contains("line 7: field `requests[0].max_body`"),
            "{message}"
        );
        let message = error(&with_request("").replace("users = 10", "users = 4001"));
        assert!(
            message.contains("line 2: field `users`: must be at most 4000 (got 4001)"),
            "{message}"
        );
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
}
