//! `expect_json_keys`, checked as the body streams past: is it one JSON object with these
//! keys at its top level? The body is never kept, so the check costs a few bytes per
//! request whatever the body's size and however many requests are in flight (keeping a
//! prefix cost that prefix per request: 2,000 users checking large bodies took 300 MB).
//!
//! The object's structure is followed (strings and their escapes, nesting, the
//! key/colon/value/comma order of the top level); nested values are skipped by their
//! brackets and scalars by their characters, not validated in full.

/// Where the scanner is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// After `{` (`first`) or a `,`: a key, or `}` right after `{`.
    BeforeKey { first: bool },
    /// Inside a top-level key.
    InKey { escaped: bool },
    /// After a key: its `:`.
    Colon,
    /// After `:`: the start of a value.
    ValueStart,
    /// Inside a string value or a nested object or array (`depth` brackets open).
    InValue {
        depth: u32,
        in_string: bool,
        escaped: bool,
    },
    /// Inside a number or a literal (`true`, `null`, …).
    InScalar,
    /// After a value: `,` or `}`.
    AfterValue,
    /// After the closing `}`: only white space may follow.
    Done,
    /// Not a JSON object.
    Invalid,
}

/// The check for one response.
pub(super) struct JsonKeyCheck<'a> {
    expected: &'a [String],
    found: Vec<bool>,
    state: State,
    /// The raw bytes of the key being read, up to `key_cap`; a longer key matches nothing.
    key: Vec<u8>,
    key_cap: usize,
    key_too_long: bool,
}

impl<'a> JsonKeyCheck<'a> {
    pub(super) fn new(expected: &'a [String]) -> JsonKeyCheck<'a> {
        // An escaped key can be up to 6 bytes per character of the key it spells.
        let longest = expected.iter().map(String::len).max().unwrap_or(0);
        JsonKeyCheck {
            expected,
            found: vec![false; expected.len()],
            state: State::Start,
            key: Vec::new(),
            key_cap: longest.saturating_mul(6).max(16),
            key_too_long: false,
        }
    }

    /// Scan the next piece of the body.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.state == State::Invalid {
                return;
            }
            self.state = self.step(b);
        }
    }

    /// Was the body one JSON object holding every expected key?
    pub(super) fn passed(&self) -> bool {
        self.state == State::Done && self.found.iter().all(|&f| f)
    }

    fn step(&mut self, b: u8) -> State {
        let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match self.state {
            State::Start if ws => State::Start,
            State::Start if b == b'{' => State::BeforeKey { first: true },
            State::BeforeKey { first } if ws => State::BeforeKey { first },
            State::BeforeKey { .. } if b == b'"' => {
                self.key.clear();
                self.key_too_long = false;
                State::InKey { escaped: false }
            }
            State::BeforeKey { first: true } if b == b'}' => State::Done,
            State::InKey { escaped: false } if b == b'"' => {
                self.key_done();
                State::Colon
            }
            State::InKey { escaped } => {
                if self.key.len() < self.key_cap {
                    self.key.push(b);
                } else {
                    self.key_too_long = true;
                }
                State::InKey {
                    escaped: !escaped && b == b'\\',
                }
            }
            State::Colon if ws => State::Colon,
            State::Colon if b == b':' => State::ValueStart,
            State::ValueStart if ws => State::ValueStart,
            State::ValueStart => match b {
                b'"' => State::InValue {
                    depth: 0,
                    in_string: true,
                    escaped: false,
                },
                b'{' | b'[' => State::InValue {
                    depth: 1,
                    in_string: false,
                    escaped: false,
                },
                b'-' | b'0'..=b'9' | b'a'..=b'z' => State::InScalar,
                _ => State::Invalid,
            },
            State::InValue {
                depth,
                in_string,
                escaped,
            } => in_value(depth, in_string, escaped, b),
            State::InScalar => match b {
                b',' => State::BeforeKey { first: false },
                b'}' => State::Done,
                _ if ws => State::AfterValue,
                b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'E' => State::InScalar,
                _ => State::Invalid,
            },
            State::AfterValue if ws => State::AfterValue,
            State::AfterValue if b == b',' => State::BeforeKey { first: false },
            State::AfterValue if b == b'}' => State::Done,
            State::Done if ws => State::Done,
            _ => State::Invalid,
        }
    }

    /// A top-level key ended: mark it found if it is one of those expected.
    fn key_done(&mut self) {
        if self.key_too_long {
            return;
        }
        let decoded;
        let key: &[u8] = if self.key.contains(&b'\\') {
            let mut quoted = Vec::with_capacity(self.key.len() + 2);
            quoted.push(b'"');
            quoted.extend_from_slice(&self.key);
            quoted.push(b'"');
            match serde_json::from_slice::<String>(&quoted) {
                Ok(text) => {
                    decoded = text;
                    decoded.as_bytes()
                }
                Err(_) => return,
            }
        } else {
            &self.key
        };
        for (expected, found) in self.expected.iter().zip(self.found.iter_mut()) {
            if expected.as_bytes() == key {
                *found = true;
            }
        }
    }
}

/// One byte of a string value or a nested object or array.
fn in_value(depth: u32, in_string: bool, escaped: bool, b: u8) -> State {
    let next = |depth, in_string, escaped| State::InValue {
        depth,
        in_string,
        escaped,
    };
    if in_string {
        return match b {
            b'"' if !escaped && depth == 0 => State::AfterValue,
            b'"' if !escaped => next(depth, false, false),
            _ => next(depth, true, !escaped && b == b'\\'),
        };
    }
    match b {
        b'"' => next(depth, true, false),
        b'{' | b'[' => next(depth.saturating_add(1), false, false),
        b'}' | b']' if depth == 1 => State::AfterValue,
        b'}' | b']' => next(depth - 1, false, false),
        _ => next(depth, false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, keys: &[&str]) -> bool {
        let expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        // Byte by byte and whole: a body split anywhere gives the same answer.
        let mut whole = JsonKeyCheck::new(&expected);
        whole.feed(body.as_bytes());
        let mut split = JsonKeyCheck::new(&expected);
        for b in body.as_bytes() {
            split.feed(std::slice::from_ref(b));
        }
        assert_eq!(whole.passed(), split.passed(), "{body}");
        whole.passed()
    }

    #[test]
    fn top_level_keys_are_found_whatever_the_values() {
        let body = r#" {"results": [1, {"x": "}"}], "n": -1.5e3, "ok": true, "s": "a\"b", "o": {"results2": null}} "#;
        assert!(check(body, &["results", "n", "ok", "s", "o"]));
        assert!(check(r#"{"a":1}"#, &["a"]));
        assert!(check("{}", &[]));
    }

    #[test]
    fn nested_or_missing_keys_and_non_objects_fail() {
        assert!(!check(r#"{"o": {"results": 1}}"#, &["results"]));
        assert!(!check(r#"{"a": 1}"#, &["a", "b"]));
        assert!(!check(r#"["results"]"#, &["results"]));
        assert!(!check(r#""results""#, &["results"]));
        assert!(!check("", &["results"]));
        assert!(!check("<html>results</html>", &["results"]));
    }

    #[test]
    fn truncated_or_trailing_garbage_fails() {
        assert!(!check(r#"{"results": [1, 2"#, &["results"]));
        assert!(!check(r#"{"results": 1"#, &["results"]));
        assert!(!check(r#"{"results": 1} x"#, &["results"]));
        assert!(!check(r#"{"results" 1}"#, &["results"]));
        assert!(!check(r#"{"results": 1,}"#, &["results"]));
    }

    #[test]
    fn escaped_keys_are_decoded_and_long_keys_match_nothing() {
        assert!(check(r#"{"res\u0075lts": 1}"#, &["results"]));
        assert!(check(r#"{"a\"b": 1}"#, &["a\"b"]));
        let long = format!(r#"{{"{}": 1, "k": 2}}"#, "x".repeat(10_000));
        assert!(check(&long, &["k"]));
        assert!(!check(&long, &["x"]));
    }

    #[test]
    fn memory_does_not_follow_the_body() {
        let expected = vec!["results".to_string()];
        let mut check = JsonKeyCheck::new(&expected);
        check.feed(br#"{"results": ["#);
        for _ in 0..10_000 {
            check.feed(br#"{"item": "some text", "n": [1, 2, 3]}, "#);
        }
        check.feed(b"0]}");
        assert!(check.passed());
        assert!(check.key.capacity() <= 64, "{}", check.key.capacity());
    }
}
