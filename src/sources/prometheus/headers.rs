//! `--prometheus-header`: a header sent with every query whose value comes from an
//! environment variable or a file, never from the command line, so a token lands neither
//! in shell history nor in the run header.
//!
//! A spec is `NAME: [LITERAL PREFIX ]env:VAR` or `NAME: [LITERAL PREFIX ]file:PATH`:
//!
//! - `Authorization: Bearer file:/run/secrets/prom-token` sends `Bearer <file content>`;
//! - `X-Scope-OrgID: env:TENANT` sends the value of `$TENANT`.
//!
//! The last whitespace-separated word names the source (so a PATH holds no space); the
//! words before it are a literal prefix, joined by one space. A file's trailing line
//! ending is trimmed. A spec is only parsed when given; the variable or file is read when
//! the queries start (`HeaderSpec::resolve`).

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::client::PromError;

/// A secret file larger than this is not a header value: it is refused unread.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Where a header's secret part is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HeaderSource {
    Env(String),
    File(PathBuf),
}

/// One parsed `--prometheus-header`; printing it shows where the value comes from, never
/// the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSpec {
    pub name: String,
    prefix: String,
    source: HeaderSource,
}

impl fmt::Display for HeaderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        if !self.prefix.is_empty() {
            write!(f, "{} ", self.prefix)?;
        }
        match &self.source {
            HeaderSource::Env(var) => write!(f, "env:{var}"),
            HeaderSource::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// Parse a spec (see the module's documentation) without reading anything: usable as a
/// clap value parser. Errors never repeat the value part of `spec`, which may be a secret
/// typed by mistake.
pub fn parse_header_spec(spec: &str) -> Result<HeaderSpec, PromError> {
    let bad = |name: &str, reason: &str| PromError::HeaderSpec {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let Some((name, rest)) = spec.split_once(':') else {
        return Err(bad(
            "",
            "expected NAME: env:VAR or NAME: file:PATH, e.g. 'Authorization: Bearer file:/run/secrets/prom-token'",
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("", "the header name is empty"));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        // Not repeated: a name with a space or a colon may be a mistyped secret.
        return Err(bad(
            "",
            "the text before the first ':' is not a valid HTTP header name; expected NAME: env:VAR or NAME: file:PATH",
        ));
    }
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let source = match words.pop() {
        None => return Err(bad(name, "no value source: give env:VAR or file:PATH")),
        Some(last) => {
            if let Some(var) = last.strip_prefix("env:") {
                if var.is_empty() {
                    return Err(bad(name, "env: names no variable"));
                }
                HeaderSource::Env(var.to_string())
            } else if let Some(path) = last.strip_prefix("file:") {
                if path.is_empty() {
                    return Err(bad(name, "file: names no path"));
                }
                HeaderSource::File(PathBuf::from(path))
            } else {
                return Err(bad(
                    name,
                    "a value given on the command line is refused (it would stay in shell \
                     history and the run header): put it in an environment variable \
                     (NAME: env:VAR) or a file (NAME: file:PATH)",
                ));
            }
        }
    };
    Ok(HeaderSpec {
        name: name.to_string(),
        prefix: words.join(" "),
        source,
    })
}

impl HeaderSpec {
    /// Read the value from the process environment or the file: `(name, value)`.
    pub fn resolve(&self) -> Result<(String, String), PromError> {
        self.resolve_with(|var| std::env::var_os(var))
    }

    /// `resolve` with the environment looked up through `env` (tests give their own).
    pub fn resolve_with(
        &self,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<(String, String), PromError> {
        let bad = |reason: String| PromError::HeaderValue {
            spec: self.to_string(),
            reason,
        };
        let secret = match &self.source {
            HeaderSource::Env(var) => {
                let value = env(var).ok_or_else(|| bad(format!("${var} is not set")))?;
                value
                    .into_string()
                    .map_err(|_| bad(format!("${var} is not valid UTF-8")))?
            }
            HeaderSource::File(path) => read_secret(path).map_err(bad)?,
        };
        if secret.is_empty() {
            return Err(bad(match &self.source {
                HeaderSource::Env(var) => format!("${var} is empty"),
                HeaderSource::File(path) => format!("{} is empty", path.display()),
            }));
        }
        let value = if self.prefix.is_empty() {
            secret
        } else {
            format!("{} {secret}", self.prefix)
        };
        if http::HeaderValue::from_str(&value).is_err() {
            // Said without the value: it holds the secret.
            return Err(bad(
                "the value holds a character a header cannot carry (a control character \
                 or a line break inside it)"
                    .to_string(),
            ));
        }
        Ok((self.name.clone(), value))
    }
}

/// A secret file's content, its trailing line endings trimmed; the reason when it cannot
/// be read (naming the path, never the content).
fn read_secret(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is larger than {} KiB: not a header value",
            MAX_FILE_BYTES / 1024
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SECRET: &str = "s3cr3t-t0ken";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| OsString::from(v))
        }
    }

    fn secret_file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        file
    }

    fn message(err: PromError) -> String {
        assert!(err.is_bad_input(), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
        text
    }

    #[test]
    fn env_spec_with_and_without_prefix() {
        let spec = parse_header_spec("X-Scope-OrgID: env:TENANT").unwrap();
        assert_eq!(spec.to_string(), "X-Scope-OrgID: env:TENANT");
        let env = env_of(&[("TENANT", "team-a"), ("TOKEN", SECRET)]);
        assert_eq!(
            spec.resolve_with(&env).unwrap(),
            ("X-Scope-OrgID".to_string(), "team-a".to_string())
        );
        let spec = parse_header_spec("  Authorization :  Bearer   env:TOKEN ").unwrap();
        assert_eq!(spec.name, "Authorization");
        assert_eq!(spec.to_string(), "Authorization: Bearer env:TOKEN");
        assert_eq!(
            spec.resolve_with(&env).unwrap().1,
            format!("Bearer {SECRET}")
        );
    }

    #[test]
    fn multi_word_prefix_is_joined_by_one_space() {
        let spec = parse_header_spec("X-Auth: a  b\tc env:V").unwrap();
        assert_eq!(spec.to_string(), "X-Auth: a b c env:V");
        assert_eq!(
            spec.resolve_with(env_of(&[("V", "x")])).unwrap().1,
            "a b c x"
        );
    }

    #[test]
    fn file_spec_trims_the_trailing_line_ending() {
        for content in [
            format!("{SECRET}\n"),
            format!("{SECRET}\r\n"),
            format!("{SECRET}\n\n"),
            SECRET.to_string(),
        ] {
            let file = secret_file(content.as_bytes());
            let text = format!("Authorization: Bearer file:{}", file.path().display());
            let spec = parse_header_spec(&text).unwrap();
            assert_eq!(spec.to_string(), text);
            let (name, value) = spec.resolve_with(env_of(&[])).unwrap();
            assert_eq!(name, "Authorization");
            assert_eq!(value, format!("Bearer {SECRET}"));
        }
    }

    #[test]
    fn a_literal_value_is_refused_without_echoing_it() {
        for spec in [
            format!("Authorization: Bearer {SECRET}"),
            format!("Authorization: {SECRET}"),
        ] {
            let text = message(parse_header_spec(&spec).unwrap_err());
            assert!(text.contains("Authorization"), "{text}");
            assert!(text.contains("environment variable"), "{text}");
            assert!(text.contains("file:PATH"), "{text}");
        }
    }

    #[test]
    fn malformed_specs_are_refused() {
        for (spec, says) in [
            ("Authorization env:X", "expected NAME:"),
            (
                "Authorization Bearer user:hunter2",
                "not a valid HTTP header name",
            ),
            (": env:X", "name is empty"),
            ("Bad Name: env:X", "not a valid HTTP header name"),
            ("X-A:", "no value source"),
            ("X-A:   ", "no value source"),
            ("X-A: env:", "names no variable"),
            ("X-A: Bearer file:", "names no path"),
        ] {
            let text = message(parse_header_spec(spec).unwrap_err());
            assert!(text.contains(says), "{spec}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn missing_or_empty_sources_name_the_variable_or_path() {
        let spec = parse_header_spec("X-A: env:SOAKPROF_TEST_UNSET_VAR").unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(
            text.contains("$SOAKPROF_TEST_UNSET_VAR is not set"),
            "{text}"
        );

        let spec = parse_header_spec("X-A: env:EMPTY").unwrap();
        let text = message(spec.resolve_with(env_of(&[("EMPTY", "")])).unwrap_err());
        assert!(text.contains("$EMPTY is empty"), "{text}");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-token");
        let spec = parse_header_spec(&format!("X-A: file:{}", missing.display())).unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(text.contains("cannot open"), "{text}");
        assert!(text.contains(&missing.display().to_string()), "{text}");

        let spec = parse_header_spec(&format!("X-A: file:{}", dir.path().display())).unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(text.contains("cannot read"), "{text}");

        let empty = secret_file(b"\n");
        let spec = parse_header_spec(&format!("X-A: file:{}", empty.path().display())).unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(text.contains("is empty"), "{text}");
    }

    #[test]
    fn values_a_header_cannot_carry_are_refused_without_echoing_them() {
        let spec = parse_header_spec("X-A: env:V").unwrap();
        let env = env_of(&[("V", "s3cr3t-t0ken\nInjected: 1")]);
        let text = message(spec.resolve_with(env).unwrap_err());
        assert!(text.contains("X-A: env:V"), "{text}");

        let big = secret_file(&vec![b'a'; MAX_FILE_BYTES as usize + 1]);
        let spec = parse_header_spec(&format!("X-A: file:{}", big.path().display())).unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(text.contains("larger than 64 KiB"), "{text}");

        let binary = secret_file(&[0xff, 0xfe, b'\n']);
        let spec = parse_header_spec(&format!("X-A: file:{}", binary.path().display())).unwrap();
        let text = message(spec.resolve_with(env_of(&[])).unwrap_err());
        assert!(text.contains("not UTF-8"), "{text}");
    }

    #[test]
    fn resolve_reads_the_process_environment() {
        // PATH is set in every test environment; reading it needs no unsafe set_var.
        let spec = parse_header_spec("X-A: env:PATH").unwrap();
        let expected = std::env::var("PATH").unwrap();
        assert_eq!(spec.resolve().unwrap().1, expected);
    }
}
