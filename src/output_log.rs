//! The output of a process soakprof starts (the target, a `--load-cmd`): its stdout and
//! stderr go through one pipe to a thread that writes them to the log file, which is
//! capped. A file that reaches the cap is renamed to `NAME.1` (replacing the one before)
//! and a new one begun, so a chatty command keeps at most two caps on disk, and always its
//! latest output. The pipe is always drained, so a full disk or the cap never blocks the
//! process on a write.

use std::fs::File;
use std::io::{PipeReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::units::format_bytes;

/// Bytes one output log holds before it is rotated: 32 MiB (so at most 64 MiB on disk).
pub const OUTPUT_LOG_CAP_BYTES: u64 = 32 << 20;

/// Read size of the copying thread.
const CHUNK_BYTES: usize = 64 << 10;

/// The rotated file's name: `NAME.1`.
pub fn rotated_path(log_path: &Path) -> PathBuf {
    let mut name = log_path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    log_path.with_file_name(name)
}

/// Copy everything from `pipe` into `file` (at `log_path`) until every writer has closed
/// it, rotating at `cap_bytes`. A write error (a full disk) stops the writing, never the
/// draining.
pub fn copy_capped(mut pipe: PipeReader, file: File, log_path: &Path, cap_bytes: u64) {
    let mut log = CappedLog {
        file: Some(file),
        path: log_path.to_path_buf(),
        cap_bytes: cap_bytes.max(1),
        in_file_bytes: 0,
        total_bytes: 0,
    };
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => log.write(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

struct CappedLog {
    /// None once a write failed: the rest is drained and dropped.
    file: Option<File>,
    path: PathBuf,
    cap_bytes: u64,
    in_file_bytes: u64,
    total_bytes: u64,
}

impl CappedLog {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.cap_bytes.saturating_sub(self.in_file_bytes);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if bytes.len() <= room {
                self.write_to_file(bytes);
                return;
            }
            // Break at the last line end that fits, so a line is not split across files
            // when it can be helped.
            let head = match bytes[..room].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => room,
            };
            self.write_to_file(&bytes[..head]);
            bytes = &bytes[head..];
            self.rotate();
        }
    }

    fn write_to_file(&mut self, bytes: &[u8]) {
        self.total_bytes += bytes.len() as u64;
        self.in_file_bytes += bytes.len() as u64;
        if let Some(file) = &mut self.file
            && file.write_all(bytes).is_err()
        {
            self.file = None;
        }
    }

    /// Move the full file to `NAME.1` and begin a new one with a line that says so.
    fn rotate(&mut self) {
        if self.file.take().is_none() {
            // Writing had failed: nothing to rotate; keep counting what is dropped.
            self.in_file_bytes = 0;
            return;
        }
        let rotated = rotated_path(&self.path);
        let reopened = std::fs::rename(&self.path, &rotated)
            .and_then(|()| File::create(&self.path))
            .ok();
        self.file = reopened;
        self.in_file_bytes = 0;
        let earlier = self.total_bytes.saturating_sub(self.cap_bytes);
        let name = rotated.file_name().unwrap_or_default().to_string_lossy();
        let dropped = if earlier > 0 {
            format!(
                "; the {} before that were not kept",
                format_bytes(earlier as f64)
            )
        } else {
            String::new()
        };
        let note = format!(
            "[soakprof: {} of output before this line; the last {} of it are in {name}{dropped}]\n",
            format_bytes(self.total_bytes as f64),
            format_bytes(self.cap_bytes as f64),
        );
        // The note is not output of the process: it counts toward neither figure.
        let total = self.total_bytes;
        self.write_to_file(note.as_bytes());
        self.total_bytes = total;
        self.in_file_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[&[u8]], cap_bytes: u64) -> (String, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("load.log");
        let (reader, mut writer) = std::io::pipe().unwrap();
        let file = File::create(&path).unwrap();
        let copier = {
            let path = path.clone();
            std::thread::spawn(move || copy_capped(reader, file, &path, cap_bytes))
        };
        for part in input {
            writer.write_all(part).unwrap();
        }
        drop(writer);
        copier.join().unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        let rotated = std::fs::read_to_string(rotated_path(&path)).ok();
        (current, rotated)
    }

    #[test]
    fn rotated_names_are_the_ones_the_run_directory_knows() {
        use crate::runlog::{LOAD_CMD_LOG_FILE, LOAD_CMD_LOG_ROTATED_FILE};
        use crate::runlog::{TARGET_LOG_FILE, TARGET_LOG_ROTATED_FILE};
        let rotated = |name| rotated_path(Path::new(name));
        assert_eq!(rotated(TARGET_LOG_FILE), Path::new(TARGET_LOG_ROTATED_FILE));
        assert_eq!(
            rotated(LOAD_CMD_LOG_FILE),
            Path::new(LOAD_CMD_LOG_ROTATED_FILE)
        );
    }

    #[test]
    fn output_under_the_cap_is_kept_whole() {
        let (current, rotated) = run(&[b"one\n", b"two\n"], 100);
        assert_eq!(current, "one\ntwo\n");
        assert_eq!(rotated, None);
    }

    #[test]
    fn a_full_file_rotates_at_a_line_end_and_keeps_the_latest() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i:03}\n")).collect();
        let parts: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let (current, rotated) = run(&parts, 95);
        let rotated = rotated.unwrap();
        // Each file holds whole lines only, at most the cap of them.
        assert!(current.ends_with("line 099\n"), "{current}");
        assert!(
            rotated.lines().skip(1).all(|l| l.starts_with("line ")),
            "{rotated}"
        );
        let kept = current.lines().filter(|l| l.starts_with("line ")).count();
        assert!(kept <= 10, "{current}");
        assert!(current.starts_with("[soakprof: "), "{current}");
        assert!(current.contains("were not kept"), "{current}");
        assert!(current.len() as u64 <= 95 + 120, "{}", current.len());
    }

    #[test]
    fn a_line_longer_than_the_cap_is_split() {
        let long = vec![b'x'; 250];
        let (current, rotated) = run(&[&long], 100);
        assert!(rotated.is_some());
        let xs = current.bytes().filter(|&b| b == b'x').count();
        assert_eq!(xs, 50, "{current}");
    }
}
