//! The output of what soakprof starts (the target, `--load-cmd`) is capped on disk: a
//! chatty process cannot fill the disk the run directory is on (issue 12, defect 12).

use std::path::Path;

use super::*;

/// Cap of one output log (src/output_log.rs): 32 MiB.
const CAP_BYTES: u64 = 32 << 20;

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Asserts that `name` and `name.1` together hold at most two caps (plus the notes),
/// and that the latest output, `last_line`, is kept.
fn assert_capped(run_dir: &Path, name: &str, written_bytes: u64, last_line: &str) {
    let current = run_dir.join(name);
    let rotated = run_dir.join(format!("{name}.1"));
    let (current_bytes, rotated_bytes) = (size(&current), size(&rotated));
    assert!(
        current_bytes <= CAP_BYTES + 4096 && rotated_bytes <= CAP_BYTES + 4096,
        "{name}: {current_bytes} + {rotated_bytes} bytes for {written_bytes} written"
    );
    assert!(rotated_bytes > 0, "{name} was not rotated");
    let text = std::fs::read(&current).unwrap();
    let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(4096)..]).to_string();
    assert!(
        tail.contains(last_line),
        "{name} lost its latest output: {tail:?}"
    );
    let head = String::from_utf8_lossy(&text[..text.len().min(300)]).to_string();
    assert!(
        head.starts_with("[soakprof: "),
        "{name} does not say it rotated: {head:?}"
    );
}

#[test]
fn chatty_target_and_load_command_keep_at_most_two_caps_on_disk() {
    let out_dir = tempfile::tempdir().unwrap();
    let run_dir = out_dir.path().join("run");
    let written: u64 = 100_000_000;
    let chatty =
        |word: &str| format!("yes {word} | head -c {written}; echo {word}-LAST-LINE; sleep 30");
    let out = soakprof(&[
        "record",
        "--interval",
        "100ms",
        "--duration",
        "4s",
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
        "--load-cmd",
        &chatty("loadcmd"),
        "--",
        "sh",
        "-c",
        &chatty("target"),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert_capped(&run_dir, "target.log", written, "target-LAST-LINE");
    assert_capped(&run_dir, "load.log", written, "loadcmd-LAST-LINE");
}
