//! Started targets sampled after their exec, and `--follow` across restarts (issue 13).

use std::process::Command;

use crate::util::*;

/// The samples of a run's log, and its header.
fn log_lines(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("samples.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The Python interpreter itself (not a wrapper script such as a pyenv shim, whose own
/// execs would be what is sampled first, rightly).
fn python_binary() -> Option<String> {
    if !have_tool("python3", "first_sample_is_of_the_target_after_exec") {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Before the fix, 1 run in 3 had a first sample with RSS 0 and 400 KB of VMS (the kernel
/// had begun the exec, closing the spawn pipe, but not yet mapped the image), or the
/// interpreter's image without its libraries. Now the first sample is of the program with
/// its libraries mapped: a Python interpreter maps more than 5 MB before its first line,
/// and holds pages of its own. (RSS right after the loader is still small: 0.4 MB was seen.)
#[test]
fn first_sample_is_of_the_target_after_exec() {
    let Some(python) = python_binary() else {
        return;
    };
    let script = "import threading, time\n\
                  b = bytearray(50 * 1024 * 1024)\n\
                  for _ in range(4): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
                  time.sleep(60)\n";
    for attempt in 0..6 {
        let out_dir = tempfile::tempdir().unwrap();
        let out = soakprof(&[
            "record",
            "--interval",
            "10ms",
            "--duration",
            "300ms",
            "--quiet",
            "--out",
            out_dir.path().to_str().unwrap(),
            "--",
            &python,
            "-c",
            script,
        ]);
        // The 50 MB allocated in 0.3 s may well fail the run: only the samples matter here.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        let lines = log_lines(out_dir.path());
        let name = lines[0]["target"]["name"].as_str().unwrap_or("");
        assert!(
            name.starts_with("python"),
            "run {attempt}: target name {name}"
        );
        let first = lines.iter().find(|l| l["type"] == "sample").unwrap();
        let rss = first["rss"].as_u64().unwrap();
        let vms = first["vms"].as_u64().unwrap();
        assert!(
            vms > 5_000_000 && rss > 200_000,
            "run {attempt}: first sample before the program was mapped: {first}"
        );
        // One thread (the interpreter's main) until the script starts its four.
        assert!(first["threads"].as_u64().unwrap() >= 1, "{first}");
    }
}
