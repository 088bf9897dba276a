//! The capacity-search section (`--find-capacity`, issue 16): the answer in words, then
//! every level held, in the order the search held them.

use super::{escape, header_row, kv};
use crate::analysis::capsearch::{CapacitySearch, SearchEnd};
use crate::analysis::load::{format_ms, format_percent, format_rps};
use crate::units::format_bytes;

fn or_na<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "n/a".to_string(), show)
}

pub(super) fn capacity_search_section(out: &mut String, search: &CapacitySearch) {
    let model = search.model;
    out.push_str("<section id=\"capacity-search\">\n<h2>Capacity search</h2>\n");
    out.push_str(&format!("<p>{}</p>\n", escape(&search.summary)));
    out.push_str("<table class=\"kv\">\n");
    kv(
        out,
        "highest passing",
        &escape(&or_na(search.highest_passing, |l| model.level_text(l))),
    );
    kv(
        out,
        "first failing",
        &escape(&or_na(search.first_failing, |l| model.level_text(l))),
    );
    if let Some(why) = &search.why {
        kv(out, "why it failed", &escape(why));
    }
    kv(
        out,
        "lower bound",
        &escape(&match &search.lower_bound_why {
            Some(why) => format!("yes: {why}"),
            None => "no".to_string(),
        }),
    );
    let ended = match search.ended {
        SearchEnd::Converged => format!(
            "converged: the bracket is within {}",
            format_percent(search.tolerance)
        ),
        SearchEnd::Budget => "--duration left no time for another level".to_string(),
        SearchEnd::Stopped => "stopped (interrupted, or the target exited)".to_string(),
    };
    kv(out, "ended", &escape(&ended));
    kv(
        out,
        "levels",
        &escape(&format!(
            "{} held about {} s each (a quarter of it to warm up; unsettled or thin levels longer)",
            search.levels.len(),
            crate::units::three_figures(search.step_s)
        )),
    );
    out.push_str("</table>\n<table>\n");
    header_row(
        out,
        &[
            "offered",
            "achieved",
            "p95",
            "p99",
            "errors",
            "dropped",
            "target CPU",
            "memory",
            "throttled",
            "driver CPU",
            "result",
        ],
    );
    for l in &search.levels {
        let result = match &l.why {
            None => "<td class=\"v v-pass\">PASS</td>".to_string(),
            Some(why) => format!("<td class=\"v v-fail\">FAIL: {}</td>", escape(why)),
        };
        let settled = if l.settled { "" } else { " (unsettled)" };
        out.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td class=\"num\">{} req/s</td><td class=\"num\">{}{settled}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{result}</tr>\n",
            escape(&model.level_text(l.offered)),
            format_rps(l.achieved_rps),
            or_na(l.p95_ms, |v| format!("{} ms", format_ms(v))),
            or_na(l.p99_ms, |v| format!("{} ms", format_ms(v))),
            or_na(l.error_rate, format_percent),
            l.dropped,
            or_na(l.cpu_cores, |v| format!("{v:.2}")),
            or_na(l.mem_bytes, |v| format_bytes(v as f64)),
            or_na(l.throttled_share, format_percent),
            or_na(l.driver_cpu_cores, |v| format!("{v:.2}")),
        ));
    }
    out.push_str("</table>\n</section>\n");
}
