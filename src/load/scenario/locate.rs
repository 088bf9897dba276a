//! Where in the TOML text an error is: byte offsets and spans turned into 1-based lines and
//! field paths such as `requests[2].weight`.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ScenarioError;

/// The file being parsed, for errors that point into it.
pub(super) struct Source<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        line_of(self.text.as_bytes(), offset)
    }

    pub(super) fn field_error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Field {
            file: one_line(self.file),
            line: Some(self.line(span.start)),
            field: one_line(&field.into()),
            message: one_line(&message.into()),
        }
    }

    /// A toml error, with the path of the key or table it points at when `doc` is given.
    pub(super) fn toml_error(
        &self,
        err: &toml::de::Error,
        doc: Option<&DeTable<'_>>,
    ) -> ScenarioError {
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
            file: one_line(self.file),
            line: span.map(|span| self.line(span.start)),
            message: one_line(&message),
        }
    }
}

/// `text` with control characters escaped (`\r`, `\n`, `\u{7}`), so that a value quoted
/// from a scenario keeps its error message on one line.
pub(crate) fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(super) fn line_of(bytes: &[u8], offset: usize) -> usize {
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
pub(super) fn key_text(key: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::tests_support::*;

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
}
