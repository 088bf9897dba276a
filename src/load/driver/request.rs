//! One request kind made ready to send, and sending one request: the URI is built and
//! checked against the base URL's origin here (the driver only talks to the host the user
//! named), credentials in the base URL become HTTP Basic auth, and the whole exchange —
//! headers and body — runs within the request timeout.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::Full;

use super::Shared;
use super::body::{BodyEnd, declared_too_large, read_body};
use super::json_keys::JsonKeyCheck;
use super::stats::Outcome;
use crate::load::LoadError;
use crate::load::scenario::{self, Body, one_line};

/// One request kind, ready to send: headers parsed and bodies encoded once.
pub(super) struct Prepared {
    pub(super) name: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    pub(super) bodies: Vec<Bytes>,
    expect_status: Vec<u16>,
    expect_json_keys: Vec<String>,
    max_body: u64,
}

pub(super) fn prepare(
    spec: &scenario::RequestSpec,
    base_url: &url::Url,
) -> Result<Prepared, LoadError> {
    let bad = |what: &str| {
        LoadError::Start(format!(
            "request `{}`: {}",
            one_line(&spec.name),
            one_line(what)
        ))
    };
    // The one place a request's URI is made: it must be on base_url's origin.
    scenario::same_origin(base_url, &spec.url).map_err(|e| bad(&e))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("soakprof/", env!("CARGO_PKG_VERSION"))),
    );
    if let Some(auth) = scenario::basic_auth(&spec.url) {
        let mut value = HeaderValue::from_str(&auth).map_err(|_| bad("bad credentials"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    // The scenario's own headers win, an `Authorization` among them.
    for (name, value) in &spec.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("bad header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad("bad header value"))?;
        headers.insert(name, value);
    }
    let mut bodies = Vec::with_capacity(spec.bodies.len());
    for body in &spec.bodies {
        bodies.push(match body {
            Body::Text(text) => Bytes::from(text.clone()),
            Body::Json(value) => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                Bytes::from(serde_json::to_vec(value).map_err(|e| bad(&e.to_string()))?)
            }
        });
    }
    Ok(Prepared {
        name: spec.name.clone(),
        method: spec.method.clone(),
        uri: scenario::without_userinfo(&spec.url)
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?,
        headers,
        bodies,
        expect_status: spec.expect_status.clone(),
        expect_json_keys: spec.expect_json_keys.clone(),
        max_body: spec.max_body,
    })
}

/// Send one request and read its whole response, within the request timeout.
pub(super) async fn send(shared: &Shared, which: usize, body: Option<Bytes>) -> Outcome {
    let request = &shared.requests[which];
    let mut http_request = Request::new(Full::new(body.unwrap_or_default()));
    *http_request.method_mut() = request.method.clone();
    *http_request.uri_mut() = request.uri.clone();
    *http_request.headers_mut() = request.headers.clone();
    match tokio::time::timeout(shared.timeout, exchange(shared, request, http_request)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Timeout,
    }
}

async fn exchange(
    shared: &Shared,
    request: &Prepared,
    http_request: Request<Full<Bytes>>,
) -> Outcome {
    let response = match shared.client.request(http_request).await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Outcome::Connect,
        Err(_) => return Outcome::Other,
    };
    let status = response.status().as_u16();
    let status_ok = if request.expect_status.is_empty() {
        (200..400).contains(&status)
    } else {
        request.expect_status.contains(&status)
    };
    if declared_too_large(response.headers(), request.max_body) {
        // Dropping the unread body closes the connection.
        return Outcome::BodyTooLarge;
    }
    let mut body = response.into_body();
    let check_json = status_ok && !request.expect_json_keys.is_empty();
    let mut check = JsonKeyCheck::new(&request.expect_json_keys);
    match read_body(
        &mut body,
        request.max_body,
        check_json.then_some(&mut check),
    )
    .await
    {
        BodyEnd::Complete => {}
        BodyEnd::TooLarge => return Outcome::BodyTooLarge,
        BodyEnd::Failed => return Outcome::Other,
    }
    if !status_ok {
        Outcome::Status
    } else if check_json && !check.passed() {
        Outcome::Check
    } else {
        Outcome::Ok
    }
}
