//! URLs of a scenario: the base URL, request paths joined to it, the rule that the driver
//! only talks to the base URL's origin, credentials in it (`user:pass@`) turned into HTTP
//! Basic auth, and their redaction wherever a URL is written or shown.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// What stands for redacted credentials.
const REDACTED: &str = "***";

/// An http(s) URL to send requests to.
pub(crate) fn check_http_url(url: url::Url) -> Result<url::Url, String> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err("has no host".to_string()),
        other => Err(format!(
            "only http and https URLs are supported (got `{other}:`)"
        )),
    }
}

pub(crate) fn check_base_url(base_url: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(base_url)
        .map_err(|err| format!("not a URL: {err} (example: http://127.0.0.1:8080)"))
        .and_then(check_http_url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment; put them in each request's `path`".into());
    }
    Ok(url)
}

/// A request's URL: `path` appended to the base URL's path (`http://h/api` + `/items` →
/// `http://h/api/items`; `items` alike). A path is a path: a scheme (`http://x/`,
/// `mailto:`) or a scheme-relative `//host/x` is refused, so a scenario cannot send
/// requests anywhere but `base_url`'s host.
pub(crate) fn request_url(base_url: &url::Url, path: &str) -> Result<url::Url, String> {
    if path.is_empty() {
        return Err("must not be empty (use \"/\" for the base URL itself)".to_string());
    }
    let first_segment = path.split(['/', '?', '#']).next().unwrap_or_default();
    if first_segment.contains(':') || path.starts_with("//") || path.starts_with("\\\\") {
        return Err(format!(
            "must be a path joined to `base_url` (like `/items`), not a URL (got `{}`); \
             requests only go to `base_url`'s host",
            redact_userinfo(path)
        ));
    }
    let joined = format!(
        "{}/{}",
        base_url.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let url =
        url::Url::parse(&joined).map_err(|err| format!("cannot be joined to `base_url`: {err}"))?;
    same_origin(base_url, &url)?;
    Ok(url)
}

/// `url` goes to the same scheme, host and port as `base_url`; the one check every request
/// URI passes before it is sent (the driver calls it too).
pub(crate) fn same_origin(base_url: &url::Url, url: &url::Url) -> Result<(), String> {
    if url.origin() == base_url.origin() {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not on `base_url`'s host `{}`",
            redact_url(url),
            redact_url(base_url)
        ))
    }
}

/// The `Authorization` value for the credentials in a URL (`http://user:pass@host/`), as
/// curl sends them; `None` without credentials.
pub(crate) fn basic_auth(url: &url::Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let user = percent_decode(url.username());
    let password = percent_decode(url.password().unwrap_or_default());
    let mut pair = user;
    pair.push(b':');
    pair.extend_from_slice(&password);
    Some(format!("Basic {}", BASE64.encode(pair)))
}

/// The URL without its credentials, for sending (they go in `Authorization` instead).
pub(crate) fn without_userinfo(url: &url::Url) -> url::Url {
    let mut bare = url.clone();
    // Only fails for URLs that cannot have credentials, which then have none.
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    bare
}

/// The URL for people and logs: credentials replaced by `***`.
pub(crate) fn redact_url(url: &url::Url) -> String {
    redact_userinfo(url.as_str())
}

/// Any `scheme://user:pass@host` in `text` with the `user:pass` replaced by `***`; for
/// command lines and messages that may hold a URL with credentials.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("http://127.0.0.1:8080/api").unwrap()
    }

    #[test]
    fn paths_are_joined_and_urls_refused() {
        let join = |p: &str| request_url(&base(), p).map(|u| u.to_string());
        assert_eq!(
            join("/items?x=1").unwrap(),
            "http://127.0.0.1:8080/api/items?x=1"
        );
        assert_eq!(join("items").unwrap(), "http://127.0.0.1:8080/api/items");
        assert_eq!(join("/a:b").unwrap(), "http://127.0.0.1:8080/api/a:b");
        assert_eq!(join("/x@evil").unwrap(), "http://127.0.0.1:8080/api/x@evil");
        assert_eq!(join("/../../x").unwrap(), "http://127.0.0.1:8080/x");
        for bad in [
            "http://10.1.2.3/evil",
            "HTTPS://10.1.2.3/",
            "//10.1.2.3/evil",
            "\\\\10.1.2.3\\evil",
            "http:evil",
            "mailto:x@y",
            "javascript:alert(1)",
        ] {
            let err = join(bad).unwrap_err();
            assert!(err.contains("not a URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_origin_is_checked() {
        let other = url::Url::parse("http://10.1.2.3/evil").unwrap();
        assert!(same_origin(&base(), &other).is_err());
        let port = url::Url::parse("http://127.0.0.1:9090/api").unwrap();
        assert!(same_origin(&base(), &port).is_err());
        let same = url::Url::parse("http://127.0.0.1:8080/elsewhere").unwrap();
        assert!(same_origin(&base(), &same).is_ok());
    }

    #[test]
    fn credentials_become_basic_auth_and_are_redacted() {
        let url = url::Url::parse("http://us%40er:p%3Ass@127.0.0.1:1/x").unwrap();
        // base64("us@er:p:ss")
        assert_eq!(basic_auth(&url).unwrap(), "Basic dXNAZXI6cDpzcw==");
        assert_eq!(without_userinfo(&url).as_str(), "http://127.0.0.1:1/x");
        assert_eq!(redact_url(&url), "http://***@127.0.0.1:1/x");
        assert_eq!(basic_auth(&base()), None);
        let plain = url::Url::parse("http://user:pass@h/").unwrap();
        assert_eq!(basic_auth(&plain).unwrap(), "Basic dXNlcjpwYXNz");
        assert_eq!(
            redact_userinfo("--load-url=https://a:b@h:1/p?q=x@y and http://h/ and ftp://t@x"),
            "--load-url=https://***@h:1/p?q=x@y and http://h/ and ftp://***@x"
        );
        assert_eq!(redact_userinfo("no url here"), "no url here");
    }
}
