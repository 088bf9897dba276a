//! The target and run section: what was profiled, on which host, how the run went, and the
//! command lines as one would type them.

use super::{escape, kv};
use crate::analysis::RunVerdict;
use crate::report::pid_list;
use crate::runlog::RunData;
use crate::units::{format_bytes, format_duration_s};

/// A command line as one would type it: arguments with spaces or shell characters quoted.
fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run_section(out: &mut String, run: &RunData, verdict: &RunVerdict) {
    let target = &verdict.target;
    let header = &run.header;
    out.push_str("<section id=\"run\">\n<h2>Target and run</h2>\n<table class=\"kv\">\n");
    kv(
        out,
        "target",
        &format!(
            "{} <code>{}</code>",
            escape(&target.mode),
            escape(&target.spec)
        ),
    );
    let mut pids = escape(&pid_list(target));
    if target.children {
        pids.push_str(" and their descendants, summed");
        if let Some(procs) = verdict.run.max_procs {
            pids.push_str(&format!(" (at most {procs} processes)"));
        }
    }
    kv(out, "processes", &pids);
    kv(out, "process name", &escape(&target.name));
    if !target.cmdline.is_empty() {
        kv(
            out,
            "command line",
            &format!("<code>{}</code>", escape(&shell_join(&target.cmdline))),
        );
    }
    let host = &header.host;
    let mut machine = host
        .hostname
        .clone()
        .unwrap_or_else(|| "unknown host".to_string());
    machine.push_str(&format!(", {}", host.os));
    if let Some(kernel) = &host.kernel {
        machine.push_str(&format!(" {kernel}"));
    }
    machine.push_str(&format!(", {} CPUs", host.cpus));
    if let Some(mem) = host.mem_total_bytes {
        machine.push_str(&format!(", {} memory", format_bytes(mem as f64)));
    }
    kv(out, "host", &escape(&machine));
    kv(out, "started at", &escape(&verdict.started_at));
    kv(
        out,
        "duration",
        &escape(&format_duration_s(verdict.duration_s)),
    );
    let interval = std::time::Duration::try_from_secs_f64(verdict.run.interval_s).map_or_else(
        |_| "unknown".to_string(),
        |d| humantime::format_duration(d).to_string(),
    );
    kv(out, "interval", &escape(&interval));
    kv(out, "samples", &verdict.samples.to_string());
    kv(
        out,
        "stop reason",
        &escape(verdict.run.stop_reason.map_or(
            "none recorded: the log has no end (the profiler was killed)",
            |r| r.describe(),
        )),
    );
    kv(out, "sampling gaps", &verdict.run.gaps.to_string());
    kv(out, "skipped lines", &verdict.run.skipped_lines.to_string());
    kv(
        out,
        "sampler",
        &escape(&format!("{:?}", header.backend).to_lowercase()),
    );
    kv(out, "soakprof version", &escape(&header.tool_version));
    kv(
        out,
        "soakprof command line",
        &format!("<code>{}</code>", escape(&shell_join(&header.command_line))),
    );
    out.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_for_the_shell() {
        assert_eq!(
            shell_join(&[
                "ls".into(),
                "-l".into(),
                "a b".into(),
                "it's".into(),
                "".into()
            ]),
            r"ls -l 'a b' 'it'\''s' ''"
        );
    }
}
