//! A Markdown summary of a list of checks ([`CiItem`]) for a CI job page (GitHub's
//! `$GITHUB_STEP_SUMMARY`, `--summary-md FILE`): the verdict with a marker, its reasons, one
//! table per group of checks, and links to the report files by relative path. Always
//! under [`MAX_SUMMARY_BYTES`] (GitHub's limit for a step's summary is 1 MiB).

use std::path::{Component, Path, PathBuf};

use super::ci::{CLASS_CAPACITY, CLASS_LOAD, CLASS_METRICS, CLASS_RUN, CiItem, CiStatus, CiSuite};

/// The most a summary may hold, bytes.
pub const MAX_SUMMARY_BYTES: usize = 1 << 20;

/// The line that ends a summary cut to its size limit.
pub const TRUNCATED_LINE: &str =
    "\n_(summary truncated at its size limit; see the report files)_\n";

/// The marker and word of a status: `❌ FAIL`.
pub fn status_marker(status: CiStatus) -> &'static str {
    match status {
        CiStatus::Pass => "✅ PASS",
        CiStatus::Warn => "⚠️ WARN",
        CiStatus::Fail => "❌ FAIL",
        CiStatus::Skipped => "⏭️ SKIPPED",
    }
}

/// Text as inline Markdown that shows as written: the characters Markdown would read as
/// markup are escaped with a backslash, and a line break becomes `<br>` (a table cell is
/// one line).
pub fn inline_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The heading of a group of checks.
fn group_title(classname: &str) -> &str {
    match classname {
        CLASS_METRICS => "Metrics",
        CLASS_CAPACITY => "Capacity",
        CLASS_LOAD => "Load gates",
        CLASS_RUN => "Run",
        "soakprof.compare" => "Comparison with the baseline",
        other => other.rsplit('.').next().unwrap_or(other),
    }
}

/// `path` relative to the directory `base`, when both are absolute (or both relative to
/// the same directory) and share a root; else `None`.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    if path.is_absolute() != base.is_absolute() {
        return None;
    }
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if base[shared..]
        .iter()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return None;
    }
    let mut rel = PathBuf::new();
    for c in &base[shared..] {
        if !matches!(c, Component::CurDir) {
            rel.push("..");
        }
    }
    for c in &path[shared..] {
        rel.push(c);
    }
    Some(rel)
}

/// Where a summary written to `summary_dir` links `file`: relative to that directory
/// when both resolve (the summary beside the run, or in a folder of the same checkout),
/// else `file` as given.
pub fn link_path(file: &Path, summary_dir: Option<&Path>) -> PathBuf {
    let resolved = summary_dir.and_then(|dir| {
        let dir = dir.canonicalize().ok()?;
        let file = file.canonicalize().ok()?;
        relative_to(&file, &dir)
    });
    resolved.unwrap_or_else(|| file.to_path_buf())
}

/// A link destination: in angle brackets (which allow spaces), `<`, `>` and `\` escaped.
fn link_destination(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("<");
    for c in text.chars() {
        if matches!(c, '<' | '>') {
            out.push('\\');
        }
        if c == '\n' || c == '\r' {
            out.push_str("%0A");
        } else {
            out.push(c);
        }
    }
    out.push('>');
    out
}

fn table(items: &[&CiItem]) -> String {
    let mut out =
        String::from("| check | value | threshold | verdict |\n| --- | --- | --- | --- |\n");
    for item in items {
        let value = if item.value.is_empty() {
            &item.message
        } else {
            &item.value
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            inline_text(&item.name),
            inline_text(value),
            inline_text(&item.threshold),
            status_marker(item.status)
        ));
    }
    out
}

/// The summary of `items` under `suite`, linking `suite.files` relative to `summary_dir`
/// (see [`link_path`]), at most `max_bytes` long (never more than [`MAX_SUMMARY_BYTES`]):
/// what does not fit is cut at a line, and [`TRUNCATED_LINE`] ends it. Empty when not even
/// the heading fits.
pub fn summary_markdown(
    suite: &CiSuite,
    items: &[CiItem],
    summary_dir: Option<&Path>,
    max_bytes: usize,
) -> String {
    let mut out = format!(
        "## {} {}\n\n{}\n\n",
        status_marker(suite.status),
        inline_text(&suite.title),
        inline_text(&suite.summary)
    );
    for reason in &suite.reasons {
        out.push_str(&format!("- {}\n", inline_text(reason)));
    }
    if !suite.reasons.is_empty() {
        out.push('\n');
    }
    // Groups in the order their first check comes.
    let mut groups: Vec<&str> = Vec::new();
    for item in items {
        if !groups.contains(&item.classname.as_str()) {
            groups.push(&item.classname);
        }
    }
    for group in groups {
        let members: Vec<&CiItem> = items.iter().filter(|i| i.classname == group).collect();
        out.push_str(&format!("### {}\n\n", inline_text(group_title(group))));
        out.push_str(&table(&members));
        out.push('\n');
    }
    if !suite.files.is_empty() {
        out.push_str("### Report files\n\n");
        for file in &suite.files {
            let name = file.file_name().map_or_else(
                || file.to_string_lossy().into_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            out.push_str(&format!(
                "- [{}]({})\n",
                inline_text(&name),
                link_destination(&link_path(file, summary_dir))
            ));
        }
        out.push('\n');
    }
    truncate(out, max_bytes.min(MAX_SUMMARY_BYTES))
}

/// `text` cut to `max_bytes` at the end of a line, with [`TRUNCATED_LINE`].
fn truncate(text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let Some(room) = max_bytes.checked_sub(TRUNCATED_LINE.len()) else {
        return String::new();
    };
    let mut cut = room;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let end = text[..cut].rfind('\n').map_or(0, |i| i + 1);
    let mut kept = text[..end].to_string();
    kept.push_str(TRUNCATED_LINE);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, status: CiStatus, value: &str) -> CiItem {
        CiItem {
            classname: CLASS_METRICS.into(),
            name: name.into(),
            status,
            message: format!("{name} message"),
            value: value.into(),
            threshold: "fail 10 MB/min".into(),
            details: vec![],
        }
    }

    fn suite(files: Vec<PathBuf>) -> CiSuite {
        CiSuite {
            name: "soakprof api".into(),
            title: "soakprof: api".into(),
            status: CiStatus::Warn,
            summary: "60 samples over 1 min".into(),
            reasons: vec!["RSS grows 7 MB/min".into()],
            time_s: 60.0,
            files,
        }
    }

    #[test]
    fn cells_escape_pipes_newlines_and_markup() {
        assert_eq!(inline_text("a|b\nc\r\nd"), r"a\|b<br>c<br>d");
        assert_eq!(inline_text("*x* _y_ <b>"), r"\*x\* \_y\_ \<b\>");
        let items = [item("RSS | odd", CiStatus::Fail, "1\n2")];
        let md = summary_markdown(&suite(vec![]), &items, None, MAX_SUMMARY_BYTES);
        assert!(
            md.contains(r"| RSS \| odd | 1<br>2 | fail 10 MB/min | ❌ FAIL |"),
            "{md}"
        );
        assert!(md.starts_with("## ⚠️ WARN soakprof: api\n"), "{md}");
    }

    #[test]
    fn links_are_relative_to_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("reports").join("run 1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("report.html"), "x").unwrap();
        let file = run.join("report.html");
        assert_eq!(
            link_path(&file, Some(dir.path())),
            PathBuf::from("reports/run 1/report.html")
        );
        let beside = dir.path().join("out");
        std::fs::create_dir_all(&beside).unwrap();
        assert_eq!(
            link_path(&file, Some(&beside)),
            PathBuf::from("../reports/run 1/report.html")
        );
        // Nothing to resolve against: the path as given.
        assert_eq!(
            link_path(Path::new("reports/x/report.html"), None),
            PathBuf::from("reports/x/report.html")
        );
        let md = summary_markdown(&suite(vec![file]), &[], Some(dir.path()), MAX_SUMMARY_BYTES);
        assert!(
            md.contains("- [report.html](<reports/run 1/report.html>)"),
            "{md}"
        );
    }

    #[test]
    fn a_huge_summary_is_cut_under_the_limit() {
        let long = "x".repeat(10_000);
        let items: Vec<CiItem> = (0..300)
            .map(|_| item("RSS", CiStatus::Pass, &long))
            .collect();
        let md = summary_markdown(&suite(vec![]), &items, None, MAX_SUMMARY_BYTES);
        assert!(md.len() <= MAX_SUMMARY_BYTES, "{}", md.len());
        assert!(md.ends_with(TRUNCATED_LINE));
        // Cut at a line: every table row before the notice is whole.
        let body = &md[..md.len() - TRUNCATED_LINE.len()];
        assert!(body.ends_with('\n'));
        let small = summary_markdown(&suite(vec![]), &items, None, 5000);
        assert!(
            small.len() <= 5000 && small.starts_with("## "),
            "{}",
            small.len()
        );
        assert_eq!(summary_markdown(&suite(vec![]), &items, None, 10), "");
    }
}
