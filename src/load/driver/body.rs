//! Reading a response body: frame by frame as it arrives, each frame dropped once counted,
//! so the driver holds no more of a body than hyper's read buffer (bounded by the client's
//! `http1_max_buf_size`); a JSON check reads the frames as they pass
//! ([`JsonKeyCheck`]). A body longer than the request's `max_body` is not read
//! further: the caller drops it, which closes the connection instead of returning it to
//! the pool with an unread body on it.

use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::json_keys::JsonKeyCheck;

/// How reading a body ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyEnd {
    /// Read to its end.
    Complete,
    /// Longer than allowed; reading stopped.
    TooLarge,
    /// The connection failed mid-body.
    Failed,
}

/// The body's declared length is already over `max_body`: no need to read any of it.
pub(super) fn declared_too_large(headers: &http::HeaderMap, max_body: u64) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > max_body)
}

/// Read `body` to its end, at most `max_body` bytes, each frame shown to `check` when
/// there is one.
pub(super) async fn read_body(
    body: &mut Incoming,
    max_body: u64,
    mut check: Option<&mut JsonKeyCheck<'_>>,
) -> BodyEnd {
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyEnd::Failed;
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len() as u64);
        if total > max_body {
            return BodyEnd::TooLarge;
        }
        if let Some(check) = check.as_deref_mut() {
            check.feed(&data);
        }
    }
    BodyEnd::Complete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_length_over_the_bound() {
        let mut headers = http::HeaderMap::new();
        assert!(!declared_too_large(&headers, 10));
        headers.insert(CONTENT_LENGTH, http::HeaderValue::from_static("1000000000"));
        assert!(declared_too_large(&headers, 10 << 20));
        assert!(!declared_too_large(&headers, 1_000_000_000));
        headers.insert(CONTENT_LENGTH, http::HeaderValue::from_static("lots"));
        assert!(!declared_too_large(&headers, 10));
    }
}
