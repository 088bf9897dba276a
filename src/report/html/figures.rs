//! The charts section: each chart's SVG inlined, with an accessible name, its ids made
//! unique in the page.

use super::escape;
use crate::report::charts::{
    CGROUP_CHART_FILE, CPU_CHART_FILE, LOAD_CHART_FILE, MEMORY_CHART_FILE, THREADS_FDS_CHART_FILE,
};

/// The accessible name each chart gets when inlined.
const CHART_LABELS: [(&str, &str); 5] = [
    (MEMORY_CHART_FILE, "Memory chart"),
    (
        THREADS_FDS_CHART_FILE,
        "Threads and open file descriptors chart",
    ),
    (CPU_CHART_FILE, "CPU chart"),
    (
        CGROUP_CHART_FILE,
        "cgroup memory against the limit, and CPU throttling chart",
    ),
    (LOAD_CHART_FILE, "Load chart"),
];

/// The accessible name of a chart file.
fn chart_label(name: &str) -> String {
    CHART_LABELS
        .iter()
        .find(|(file, _)| *file == name)
        .map_or_else(
            || format!("Chart {name}"),
            |(_, label)| (*label).to_string(),
        )
}

/// An SVG document made fit to sit inside an HTML page: anything before the `<svg>` element
/// (XML prolog, doctype, comments) and after it dropped, an accessible name and a `<title>`
/// added, and its ids prefixed with `prefix` so several charts cannot collide. `None` when
/// the text holds no `<svg>` element or holds a script.
pub fn inline_svg(svg: &str, label: &str, prefix: &str) -> Option<String> {
    if svg.to_ascii_lowercase().contains("<script") {
        return None;
    }
    let start = svg.find("<svg")?;
    let end = svg.rfind("</svg>")? + "</svg>".len();
    if end <= start {
        return None;
    }
    let body = &svg[start..end];
    let tag_end = body.find('>')?;
    let (tag, rest) = body.split_at(tag_end);
    let mut out = String::with_capacity(body.len() + 200);
    out.push_str(tag.trim_end_matches('/'));
    if !tag.contains("role=") {
        out.push_str(" role=\"img\"");
    }
    if !tag.contains("aria-label=") {
        out.push_str(&format!(" aria-label=\"{}\"", escape(label)));
    }
    out.push('>');
    if !rest.contains("<title") {
        out.push_str(&format!("<title>{}</title>", escape(label)));
    }
    let rest = &rest[1..];
    out.push_str(
        &rest
            .replace(" id=\"", &format!(" id=\"{prefix}"))
            .replace("url(#", &format!("url(#{prefix}"))
            .replace("href=\"#", &format!("href=\"#{prefix}")),
    );
    Some(out)
}

pub(super) fn charts_section(out: &mut String, charts: &[(String, String)]) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if charts.is_empty() {
        out.push_str("<p>No charts were drawn.</p>\n");
    }
    for (i, (name, svg)) in charts.iter().enumerate() {
        let label = chart_label(name);
        match inline_svg(svg, &label, &format!("c{i}-")) {
            Some(inline) => out.push_str(&format!(
                "<figure id=\"chart-{}\">\n{inline}\n</figure>\n",
                escape(name.trim_end_matches(".svg"))
            )),
            None => out.push_str(&format!(
                "<p class=\"note\">{} could not be inlined; open <code>{}</code> beside this page.</p>\n",
                escape(&label),
                escape(name)
            )),
        }
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::super::tests::svg;
    use super::*;

    #[test]
    fn inline_svg_is_fit_for_html() {
        let inline = inline_svg(&svg("t"), "Memory <chart>", "c0-").unwrap();
        assert!(inline.starts_with("<svg width=\"10\""), "{inline}");
        assert!(inline.ends_with("</svg>"), "{inline}");
        assert!(
            !inline.contains("<?xml") && !inline.contains("<!--"),
            "{inline}"
        );
        assert!(
            inline.contains(r#" role="img" aria-label="Memory &lt;chart&gt;">"#),
            "{inline}"
        );
        assert!(
            inline.contains("<title>Memory &lt;chart&gt;</title>"),
            "{inline}"
        );
        assert!(
            inline.contains(r#"id="c0-clip""#) && inline.contains("url(#c0-clip)"),
            "{inline}"
        );
        // An SVG that already names itself keeps its own name; a script is refused.
        let named = "<svg role=\"img\" aria-label=\"mine\"><title>mine</title></svg>";
        assert_eq!(inline_svg(named, "other", "c1-").unwrap(), named);
        assert!(inline_svg("<svg><script>alert(1)</script></svg>", "x", "c2-").is_none());
        assert!(inline_svg("not an svg", "x", "c3-").is_none());
    }
}
