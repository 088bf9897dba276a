//! `--push-url`: the judged run's metrics sent to a Pushgateway at the end of the run
//! (job `soakprof`, grouped by target), for CI that keeps soak results in Prometheus.

use std::time::Duration;

use base64::Engine;

use super::live::metrics::CONTENT_TYPE;

/// The longest a push may take (connect, send, answer).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The Pushgateway job every push is grouped under.
pub const JOB: &str = "soakprof";

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("--push-url: cannot push the run's metrics to {url}: {reason}")]
    Failed { url: String, reason: String },
}

impl PushError {
    /// A push fails at the end of a run the user asked for: always a runtime failure (the
    /// URL itself was checked before the run).
    pub fn is_bad_input(&self) -> bool {
        match self {
            PushError::Failed { .. } => false,
        }
    }
}

/// `--push-url`: an http(s) URL of a Pushgateway (a path prefix is kept), no query or
/// fragment.
pub fn parse_push_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("'{text}' is not a URL ({e}); example: http://127.0.0.1:9091"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{text}': a Pushgateway URL starts with http:// or https://"
        ));
    }
    if url.host().is_none() {
        return Err(format!("'{text}' names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "'{text}': give the Pushgateway's base URL, without ?query or #fragment"
        ));
    }
    if url.cannot_be_a_base() {
        return Err(format!("'{text}' cannot take a path"));
    }
    Ok(url)
}

/// The group URL: `BASE/metrics/job/soakprof/target/<target>`, the target percent-encoded,
/// or in the base64url form (`target@base64/…`) when it holds a `/` or is empty, which a
/// path segment cannot carry.
pub fn group_url(base: &url::Url, target: &str) -> url::Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(["metrics", "job", JOB]);
        if target.contains('/') || target.is_empty() {
            let encoded = base64::engine::general_purpose::URL_SAFE.encode(target);
            // The gateway reads `=` as the empty value.
            let encoded = if encoded.is_empty() {
                "=".to_string()
            } else {
                encoded
            };
            segments.extend(["target@base64", &encoded]);
        } else {
            segments.extend(["target", target]);
        }
    }
    url
}

/// Why a request got no answer, without reqwest's repetition of the URL: a timeout, or
/// the innermost cause (`Connection refused`, a DNS or TLS failure).
fn send_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within {}",
            humantime::format_duration(PUSH_TIMEOUT)
        );
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        cause.to_string()
    }
}

/// PUT `body` (text format) to the target's group, replacing what the group held.
pub fn push(base: &url::Url, target: &str, body: String) -> Result<(), PushError> {
    let url = group_url(base, target);
    let failed = |reason: String| PushError::Failed {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(PUSH_TIMEOUT)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .put(url.clone())
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(body)
        .send()
        .map_err(|e| failed(send_reason(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // The gateway says why in its body (a type clash with another push, say).
    let text = response.text().unwrap_or_default();
    let said: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect();
    Err(failed(if said.is_empty() {
        format!("the server answered {status}")
    } else {
        format!("the server answered {status}: {said}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(parse_push_url("http://127.0.0.1:9091").is_ok());
        assert!(parse_push_url("https://gw.example/prefix/").is_ok());
        for bad in [
            "127.0.0.1:9091",
            "ftp://x",
            "http://",
            "http://h/?a=1",
            "http://h/#x",
            "mailto:a@b",
            "",
        ] {
            assert!(parse_push_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_urls_encode_the_target() {
        let base = parse_push_url("http://127.0.0.1:9091").unwrap();
        assert_eq!(
            group_url(&base, "api").as_str(),
            "http://127.0.0.1:9091/metrics/job/soakprof/target/api"
        );
        assert_eq!(
            group_url(&base, "my api?#%").as_str(),
            "http://127.0.0.1:9091/metrics/job/soakprof/target/my%20api%3F%23%25"
        );
        // "a/b" in base64url is "YS9i".
        assert_eq!(
            group_url(&base, "a/b").as_str(),
            "http://127.0.0.1:9091/metrics/job/soakprof/target@base64/YS9i"
        );
        assert!(group_url(&base, "").as_str().ends_with("/target@base64/="));
        let prefixed = parse_push_url("http://h:1/gw/").unwrap();
        assert_eq!(
            group_url(&prefixed, "x").as_str(),
            "http://h:1/gw/metrics/job/soakprof/target/x"
        );
    }
}
