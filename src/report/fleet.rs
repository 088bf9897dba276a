//! A judged fleet written out: `fleet.json` and the terminal table, sorted by growth.

use std::path::{Path, PathBuf};

use super::{ReportError, write_atomic};
use crate::analysis::fleet::{FleetVerdict, SeriesVerdict};
use crate::units::{format_byte_rate, format_bytes, format_count_rate};

pub const FLEET_FILE: &str = "fleet.json";

/// fleet.json's text.
pub fn fleet_json(fleet: &FleetVerdict) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(fleet).map(|mut text| {
        text.push('\n');
        text
    })
}

/// Write fleet.json atomically into `dir` (which exists).
pub fn write_fleet(dir: &Path, fleet: &FleetVerdict) -> Result<PathBuf, ReportError> {
    let text = fleet_json(fleet).map_err(|e| ReportError::Write {
        path: dir.join(FLEET_FILE),
        source: e.into(),
    })?;
    write_atomic(dir, FLEET_FILE, &text)
}

/// Series names longer than this are cut in the table (fleet.json has them whole).
const NAME_WIDTH: usize = 60;

fn short(name: &str) -> String {
    if name.chars().count() <= NAME_WIDTH {
        return name.to_string();
    }
    let kept: String = name.chars().take(NAME_WIDTH - 1).collect();
    format!("{kept}…")
}

/// One table row: verdict, growth, last memory, threads and FD growth, restarts, name.
fn row(s: &SeriesVerdict) -> [String; 7] {
    let m = &s.verdict.metrics;
    let memory = m.judged_memory(s.verdict.capacity.judged_memory);
    let count_rate = |t: &Option<crate::analysis::MetricTrend>| {
        t.as_ref()
            .map_or("-".to_string(), |t| format_count_rate(t.slope_per_min))
    };
    [
        s.verdict.verdict.as_str().to_uppercase(),
        s.growth_bytes_per_min
            .map_or("-".to_string(), format_byte_rate),
        memory.map_or("-".to_string(), |t| format_bytes(t.last)),
        count_rate(&m.threads),
        count_rate(&m.fds),
        s.verdict
            .restarts
            .as_ref()
            .map_or("0".to_string(), |r| r.count.to_string()),
        short(&s.name),
    ]
}

/// The terminal summary: a line of counts, the series by growth (fastest first), the
/// worst series' reasons, and where the fleet was written.
pub fn fleet_table(fleet: &FleetVerdict, written: Option<&Path>) -> String {
    let c = &fleet.counts;
    let mut out = format!(
        "soakprof fleet: {} — {} series from {}: {} fail, {} warn, {} pass",
        fleet.verdict.as_str().to_uppercase(),
        c.series,
        fleet.source.url,
        c.fail,
        c.warn,
        c.pass
    );
    if c.restarts > 0 {
        out.push_str(&format!(", {} restarts", c.restarts));
    }
    out.push('\n');
    let mut by_growth: Vec<&SeriesVerdict> = fleet.series.iter().collect();
    by_growth.sort_by(|a, b| {
        let g = |s: &SeriesVerdict| s.growth_bytes_per_min.unwrap_or(f64::NEG_INFINITY);
        g(b).total_cmp(&g(a)).then_with(|| a.name.cmp(&b.name))
    });
    let header = [
        "verdict", "growth", "memory", "threads", "fds", "restarts", "series",
    ];
    let rows: Vec<Vec<String>> = std::iter::once(header.map(String::from).to_vec())
        .chain(by_growth.iter().map(|s| row(s).to_vec()))
        .collect();
    out.push_str(&super::aligned_table(&rows));
    if let Some(worst) = fleet
        .series
        .first()
        .filter(|s| !s.verdict.reasons.is_empty())
    {
        out.push_str(&format!("  worst: {}\n", short(&worst.name)));
        for reason in &worst.verdict.reasons {
            out.push_str(&format!("    - {reason}\n"));
        }
    }
    if let Some(dir) = written {
        out.push_str(&format!(
            "  fleet: {}\n  report: {}\n",
            dir.join(FLEET_FILE).display(),
            dir.join(super::FLEET_HTML_FILE).display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Verdict;
    use crate::analysis::fleet::{FleetSource, summarize, test_kit};
    use crate::runlog::Thresholds;

    fn series(name: &str, verdict: Verdict, growth: Option<f64>) -> SeriesVerdict {
        test_kit::series(name, verdict, growth, 0)
    }

    #[test]
    fn table_is_sorted_by_growth_and_names_the_worst() {
        let fleet = summarize(
            FleetSource {
                url: "http://127.0.0.1:9090/".into(),
                ..FleetSource::default()
            },
            Thresholds::default(),
            vec![
                series(r#"{instance="slow"}"#, Verdict::Warn, Some(6e6)),
                series(r#"{instance="none"}"#, Verdict::Warn, None),
                series(r#"{instance="fast"}"#, Verdict::Fail, Some(2e7)),
                series(r#"{instance="flat"}"#, Verdict::Pass, Some(1e3)),
            ],
        );
        let text = fleet_table(&fleet, Some(Path::new("reports/f")));
        assert!(text.starts_with("soakprof fleet: FAIL — 4 series from http://127.0.0.1:9090/: 1 fail, 2 warn, 1 pass\n"), "{text}");
        let order: Vec<usize> = ["fast", "slow", "flat", "none"]
            .iter()
            .filter_map(|n| text.find(&format!("instance=\"{n}\"")))
            .collect();
        assert_eq!(order.len(), 4, "{text}");
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("worst: {instance=\"fast\"}"), "{text}");
        assert!(text.contains("reports/f/fleet.json"), "{text}");
        let json = fleet_json(&fleet).unwrap_or_default();
        let back: Result<FleetVerdict, _> = serde_json::from_str(&json);
        assert_eq!(back.ok().as_ref(), Some(&fleet));
    }

    #[test]
    fn long_names_are_cut_in_the_table() {
        let name = "x".repeat(100);
        assert_eq!(short(&name).chars().count(), NAME_WIDTH);
    }
}
