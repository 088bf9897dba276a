//! Reading and parsing /proc files: one reused buffer and path for every read, the scanners
//! for the few fields we use of `status`, `io`, `smaps_rollup` and `meminfo`, and the count
//! of open file descriptors.

use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;

use procfs::FromRead;
use procfs::process::Stat;

/// Reads /proc files into one reused buffer, building their paths in one reused string.
#[derive(Default)]
pub(super) struct ProcReader {
    path: String,
    /// Kept initialized to its full length (so reads need no zeroing); `len` bytes are valid.
    buf: Vec<u8>,
    len: usize,
}

impl ProcReader {
    /// A reader with room for a typical /proc file and path, so early reads do not grow it.
    pub(super) fn new() -> ProcReader {
        ProcReader {
            path: String::with_capacity(64),
            buf: vec![0; 8192],
            len: 0,
        }
    }

    pub(super) fn set_path(&mut self, path: fmt::Arguments<'_>) -> &str {
        self.path.clear();
        // Formatting into a String cannot fail.
        let _ = self.path.write_fmt(path);
        &self.path
    }

    /// The whole of a one-record file at `path` (see `fill_from`).
    pub(super) fn read(&mut self, path: fmt::Arguments<'_>) -> io::Result<&[u8]> {
        self.set_path(path);
        let file = File::open(&self.path)?;
        self.fill(&file, true)
    }

    /// The whole file at `path`, read up to end of file: for seq_files of many records
    /// (such as `children`), where a read may stop short at a page of text.
    pub(super) fn read_to_eof(&mut self, path: fmt::Arguments<'_>) -> io::Result<&[u8]> {
        self.set_path(path);
        let file = File::open(&self.path)?;
        self.fill(&file, false)
    }

    /// The whole of a one-record /proc file (`stat`, `status`, `io`, `smaps_rollup`,
    /// `meminfo`: each is printed by a single seq_file `show`). A short read is then the
    /// end of the text, which saves the extra read that would return 0.
    pub(super) fn fill_from(&mut self, file: &File) -> io::Result<&[u8]> {
        self.fill(file, true)
    }

    /// Reads from offset 0 with pread: a file kept open is generated afresh (a seq_file
    /// restarts at offset 0) with no open or close, and without the fstat and lseek that
    /// `read_to_end` spends on a size hint /proc cannot give.
    fn fill(&mut self, file: &File, short_read_ends: bool) -> io::Result<&[u8]> {
        self.len = 0;
        loop {
            if self.buf.len() - self.len < 1024 {
                let grown = self.buf.len() + 4096;
                self.buf.resize(grown, 0);
            }
            let wanted = self.buf.len() - self.len;
            let read = file.read_at(&mut self.buf[self.len..], self.len as u64)?;
            self.len += read;
            if read == 0 || (short_read_ends && read < wanted) {
                return Ok(&self.buf[..self.len]);
            }
        }
    }
}

/// The process is gone (exited, or reaped) — not a failure to report.
pub(super) fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

pub(super) fn is_dead(state: char) -> bool {
    matches!(state, 'Z' | 'X')
}

pub(super) enum StatError {
    /// No such process (any more).
    Gone,
    /// It exists but its stat could not be read or parsed.
    Unreadable,
}

/// Parse the result of reading a /proc/PID/stat file.
pub(super) fn stat_from(read: io::Result<&[u8]>) -> Result<Stat, StatError> {
    match read {
        Ok([]) => Err(StatError::Gone),
        Ok(bytes) => Stat::from_read(bytes).map_err(|_| StatError::Unreadable),
        Err(e) if is_gone(&e) => Err(StatError::Gone),
        Err(_) => Err(StatError::Unreadable),
    }
}

pub(super) fn read_stat(reader: &mut ProcReader, pid: u32) -> Result<Stat, StatError> {
    stat_from(reader.read(format_args!("/proc/{pid}/stat")))
}

/// Calls `f(index, value)` for each `KEY:  123...` line whose key is `keys[index]`, with
/// the value's leading decimal digits (units such as `kB` are the caller's business).
/// Other lines are skipped without parsing.
fn for_each_number(text: &[u8], keys: &[&[u8]], mut f: impl FnMut(usize, u64)) {
    for line in text.split(|&b| b == b'\n') {
        let Some(index) = keys
            .iter()
            .position(|key| line.starts_with(key) && line.get(key.len()) == Some(&b':'))
        else {
            continue;
        };
        let value = line[keys[index].len() + 1..].trim_ascii_start();
        let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
        let parsed = value[..digits].iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        if let (true, Some(number)) = (digits > 0, parsed) {
            f(index, number);
        }
    }
}

/// The fields we use from /proc/PID/status.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct StatusFields {
    /// Absent for kernel threads and zombies.
    pub swap_bytes: Option<u64>,
    pub ctx_vol: Option<u64>,
    pub ctx_invol: Option<u64>,
    pub tgid: Option<u32>,
}

pub(crate) fn parse_status(text: &[u8]) -> StatusFields {
    let mut fields = StatusFields::default();
    let keys: [&[u8]; 4] = [
        b"VmSwap",
        b"voluntary_ctxt_switches",
        b"nonvoluntary_ctxt_switches",
        b"Tgid",
    ];
    for_each_number(text, &keys, |index, value| match index {
        0 => fields.swap_bytes = value.checked_mul(1024),
        1 => fields.ctx_vol = Some(value),
        2 => fields.ctx_invol = Some(value),
        _ => fields.tgid = u32::try_from(value).ok(),
    });
    fields
}

/// `(read_bytes, write_bytes)` from /proc/PID/io.
pub(crate) fn parse_io(text: &[u8]) -> (Option<u64>, Option<u64>) {
    let (mut read_bytes, mut write_bytes) = (None, None);
    for_each_number(
        text,
        &[b"read_bytes", b"write_bytes"],
        |index, value| match index {
            0 => read_bytes = Some(value),
            _ => write_bytes = Some(value),
        },
    );
    (read_bytes, write_bytes)
}

/// `(pss_bytes, uss_bytes)` from /proc/PID/smaps_rollup; USS = Private_Clean + Private_Dirty.
pub(crate) fn parse_smaps_rollup(text: &[u8]) -> (Option<u64>, Option<u64>) {
    let mut kib: [Option<u64>; 3] = [None; 3];
    for_each_number(
        text,
        &[b"Pss", b"Private_Clean", b"Private_Dirty"],
        |index, value| {
            kib[index] = Some(value);
        },
    );
    let [pss_kib, clean_kib, dirty_kib] = kib;
    let uss_kib = clean_kib.zip(dirty_kib).map(|(c, d)| c.saturating_add(d));
    (
        pss_kib.map(|k| k.saturating_mul(1024)),
        uss_kib.map(|k| k.saturating_mul(1024)),
    )
}

/// MemAvailable from /proc/meminfo, bytes.
pub(crate) fn parse_meminfo_available(text: &[u8]) -> Option<u64> {
    let mut avail_kib = None;
    for_each_number(text, &[b"MemAvailable"], |_, value| avail_kib = Some(value));
    avail_kib.map(|k| k.saturating_mul(1024))
}

/// PIDs in a /proc/PID/task/TID/children file ("123 456 ").
pub(crate) fn parse_pid_list(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.split(|b| b.is_ascii_whitespace())
        .filter_map(|word| std::str::from_utf8(word).ok()?.parse().ok())
}

/// The parent PID from a /proc/PID/stat line, without parsing the rest (for scanning every
/// process). The command name may hold spaces and parentheses, so look after the last ')'.
pub(crate) fn parse_stat_ppid(text: &[u8]) -> Option<u32> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text[close + 1..]
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty());
    let _state = fields.next()?;
    std::str::from_utf8(fields.next()?).ok()?.parse().ok()
}

/// The wait status a zombie left in its stat (`exit_code`, Linux ≥ 3.5). The kernel shows
/// it only to a reader with ptrace read access (PTRACE_MODE_READ_FSCREDS) and shows 0
/// otherwise, which would read as a clean exit; so it is trusted only when that access is
/// there. Reading /proc/PID/io is checked with the same mode, at read time, and works on a
/// zombie, so it tells.
pub(super) fn zombie_wait_status(pid: u32, stat: &Stat) -> Option<i32> {
    let permitted = std::fs::read(format!("/proc/{pid}/io")).is_ok();
    stat.exit_code.filter(|_| permitted)
}

/// Open file descriptors: one `stat()` of /proc/PID/fd gives the count in `st_size` on
/// Linux ≥ 6.2; older kernels report 0 there, so count the entries instead.
pub(super) fn count_fds(reader: &mut ProcReader, pid: u32) -> Result<Option<u64>, ()> {
    let path = reader.set_path(format_args!("/proc/{pid}/fd"));
    match fs::metadata(path) {
        Ok(meta) if meta.len() > 0 => return Ok(Some(meta.len())),
        Ok(_) => {}
        Err(e) if is_gone(&e) => return Err(()),
        Err(_) => {}
    }
    match fs::read_dir(path) {
        Ok(entries) => Ok(Some(entries.filter(Result::is_ok).count() as u64)),
        Err(e) if is_gone(&e) => Err(()),
        // Permission denied (another user's process) and the like.
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(path: &str) -> Vec<u8> {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/proc")
                .join(path),
        )
        .unwrap()
    }

    #[test]
    fn parses_stat_fixtures() {
        let stat = Stat::from_read(&fixture("python-threads/stat")[..]).unwrap();
        assert_eq!((stat.pid, stat.state, stat.num_threads), (7315, 'S', 5));
        assert_eq!((stat.utime, stat.stime, stat.starttime), (4, 4, 163262));
        assert_eq!(
            (stat.minflt, stat.majflt, stat.vsize, stat.rss),
            (4956, 8, 327446528, 5422)
        );

        let weird = Stat::from_read(&fixture("weird-comm/stat")[..]).unwrap();
        assert_eq!(weird.comm, "we ird) (x");
        assert_eq!(weird.ppid, 7313);
        assert_eq!(parse_stat_ppid(&fixture("weird-comm/stat")), Some(7313));
        assert_eq!(parse_stat_ppid(&fixture("python-threads/stat")), Some(7313));

        // A zombie that exited with status 3: wait status 3 << 8.
        let zombie = Stat::from_read(&fixture("zombie/stat")[..]).unwrap();
        assert!(is_dead(zombie.state));
        assert_eq!(zombie.exit_code, Some(768));
        // A PID that is not there: no access can be shown, so the status is not trusted.
        assert_eq!(zombie_wait_status(u32::MAX, &zombie), None);
    }

    #[test]
    fn parses_status_fixtures() {
        assert_eq!(
            parse_status(&fixture("python-threads/status")),
            StatusFields {
                swap_bytes: Some(0),
                ctx_vol: Some(44),
                ctx_invol: Some(8),
                tgid: Some(7315),
            }
        );
        // Kernel threads and zombies have no VmSwap line: unknown, not 0.
        let kthread = parse_status(&fixture("kthread/status"));
        assert_eq!(kthread.swap_bytes, None);
        assert!(kthread.ctx_vol.is_some());
        assert_eq!(parse_status(&fixture("zombie/status")).swap_bytes, None);
    }

    #[test]
    fn parses_io_smaps_meminfo_and_children() {
        assert_eq!(
            parse_io(&fixture("python-threads/io")),
            (Some(1122304), Some(4096))
        );
        assert_eq!(
            parse_smaps_rollup(&fixture("python-threads/smaps_rollup")),
            (Some(20447 * 1024), Some((4940 + 15176) * 1024))
        );
        let avail = parse_meminfo_available(&fixture("meminfo")).unwrap();
        assert_eq!(avail % 1024, 0);
        assert!(avail > 0);
        assert_eq!(
            parse_pid_list(b"123 456 \n").collect::<Vec<_>>(),
            [123, 456]
        );
        assert_eq!(parse_pid_list(b"").count(), 0);
        assert_eq!(parse_io(b""), (None, None));
    }
}
