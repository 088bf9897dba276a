//! JUnit XML of a list of checks ([`CiItem`]), in the shape GitHub's and GitLab's
//! reporters read: a `<testsuites>` root with the counts and time, one named
//! `<testsuite>`, one `<testcase>` per check; a failing check has
//! `<failure message="REASON">REASON</failure>`, a skipped one `<skipped>`, and a warning
//! passes with its text in `<system-out>`. Serialised by `quick-junit` (cargo-nextest's).

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ci::{CiItem, CiStatus, CiSuite};

/// The name of the `<testsuites>` root.
pub const REPORT_NAME: &str = "soakprof";

/// Text XML 1.0 can hold: the characters it forbids (C0 controls but tab, line feed and
/// carriage return; U+FFFE and U+FFFF) become U+FFFD, so a reason with a stray byte from a
/// process name still reads. (`quick-junit` drops C0 controls itself; this keeps a mark
/// where they were, and covers the two it lets through.)
pub fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

fn test_case(item: &CiItem) -> TestCase {
    let message = xml_text(&item.message);
    let status = match item.status {
        CiStatus::Pass | CiStatus::Warn => TestCaseStatus::success(),
        CiStatus::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(message.as_str())
                .set_type("soakprof fail")
                .set_description(message.as_str());
            status
        }
        CiStatus::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message.as_str());
            status
        }
    };
    let mut case = TestCase::new(xml_text(&item.name), status);
    case.set_classname(xml_text(&item.classname));
    let mut out = Vec::new();
    match item.status {
        CiStatus::Warn => out.push(format!("warning: {message}")),
        CiStatus::Pass => out.push(message.clone()),
        CiStatus::Fail | CiStatus::Skipped => {}
    }
    out.extend(item.details.iter().map(|d| xml_text(d)));
    if !out.is_empty() {
        case.set_system_out(out.join("\n"));
    }
    case
}

/// The JUnit document of `items` under `suite`, with its XML declaration and a final
/// newline.
pub fn junit_xml(suite: &CiSuite, items: &[CiItem]) -> Result<String, quick_junit::SerializeError> {
    let mut test_suite = TestSuite::new(xml_text(&suite.name));
    test_suite.set_time(seconds(suite.time_s));
    test_suite.add_test_cases(items.iter().map(test_case));
    let mut lines = vec![format!("verdict: {}", suite.status.as_str())];
    lines.extend(suite.reasons.iter().map(|r| format!("- {}", xml_text(r))));
    test_suite.set_system_out(lines.join("\n"));
    let mut report = Report::new(REPORT_NAME);
    report.set_time(seconds(suite.time_s));
    report.add_test_suite(test_suite);
    report.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ci::CLASS_METRICS;

    fn item(name: &str, status: CiStatus, message: &str) -> CiItem {
        CiItem {
            classname: CLASS_METRICS.to_string(),
            name: name.to_string(),
            status,
            message: message.to_string(),
            value: String::new(),
            threshold: String::new(),
            details: vec![],
        }
    }

    fn suite() -> CiSuite {
        CiSuite {
            name: "soakprof api".into(),
            title: "soakprof: api".into(),
            status: CiStatus::Fail,
            summary: String::new(),
            reasons: vec!["RSS grows <fast> & \"far\"".into()],
            time_s: 61.5,
            files: vec![],
        }
    }

    #[test]
    fn counts_and_time_are_on_the_root_and_the_suite() {
        let items = [
            item("memory growth", CiStatus::Fail, "RSS grows"),
            item("threads growth", CiStatus::Pass, "flat"),
            item("FDs growth", CiStatus::Skipped, "not read"),
            item("USS growth", CiStatus::Warn, "USS grows a bit"),
        ];
        let xml = junit_xml(&suite(), &items).unwrap();
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuites name="soakprof" tests="4" skipped="1" failures="1" errors="0" time="61.500">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuite name="soakprof api" tests="4" skipped="1" errors="0" failures="1" time="61.500">"#),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
        assert!(
            xml.contains(
                r#"<failure message="RSS grows" type="soakprof fail">RSS grows</failure>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<system-out>warning: USS grows a bit</system-out>"),
            "{xml}"
        );
        assert!(xml.contains(r#"<skipped message="not read"/>"#), "{xml}");
    }

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        let nasty = "a<b>&\"c\" 'd'\u{1}\u{1b}[31mred\u{FFFF}";
        let items = [item(nasty, CiStatus::Fail, nasty)];
        let xml = junit_xml(&suite(), &items).unwrap();
        for c in ['\u{1}', '\u{1b}', '\u{FFFF}'] {
            assert!(!xml.contains(c), "{c:?} in {xml}");
        }
        assert!(!xml.contains("a<b>"), "{xml}");
        assert!(xml.contains("a&lt;b&gt;&amp;&quot;c&quot;"), "{xml}");
        assert!(
            xml.contains("- RSS grows &lt;fast&gt; &amp; &quot;far&quot;"),
            "{xml}"
        );
        assert_eq!(xml_text("ok\ttab\nline\r"), "ok\ttab\nline\r");
        assert_eq!(xml_text("x\u{0}y\u{FFFE}"), "x\u{FFFD}y\u{FFFD}");
    }
}
