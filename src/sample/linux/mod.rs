//! Linux backend: reads /proc.
//!
//! The hot path (`Sampler::sample`) reads `stat`, `status`, `io`, the size of `fd/` and
//! optionally `smaps_rollup` per process into one reused buffer, building paths in one
//! reused string. The stat/status/io files of up to `HELD_MAX` processes and /proc/meminfo
//! stay open between samples and are re-read with pread, which halves the system calls.
//! `stat` is parsed with the procfs crate (two small allocations); `status`, `io`,
//! `smaps_rollup` and `meminfo` are scanned here for the two or three fields we need,
//! because procfs's parsers build a map of every line (and an 8 KiB reader) on each call.
//! The process table (not hot) uses procfs throughout.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use procfs::process::{Process, Stat};
use procfs::{FromRead, ProcError};

use super::{
    CgroupLimits, Gone, ProcId, ProcInfo, ProcessTable, Reading, Reads, Sample, SampleError,
    Sampler, cgroup,
};

/// Reads /proc files into one reused buffer, building their paths in one reused string.
#[derive(Default)]
struct ProcReader {
    path: String,
    /// Kept initialized to its full length (so reads need no zeroing); `len` bytes are valid.
    buf: Vec<u8>,
    len: usize,
}

impl ProcReader {
    fn set_path(&mut self, path: fmt::Arguments<'_>) -> &str {
        self.path.clear();
        // Formatting into a String cannot fail.
        let _ = self.path.write_fmt(path);
        &self.path
    }

    /// The whole of a one-record file at `path` (see `fill_from`).
    fn read(&mut self, path: fmt::Arguments<'_>) -> io::Result<&[u8]> {
        self.set_path(path);
        let file = File::open(&self.path)?;
        self.fill(&file, true)
    }

    /// The whole file at `path`, read up to end of file: for seq_files of many records
    /// (such as `children`), where a read may stop short at a page of text.
    fn read_to_eof(&mut self, path: fmt::Arguments<'_>) -> io::Result<&[u8]> {
        self.set_path(path);
        let file = File::open(&self.path)?;
        self.fill(&file, false)
    }

    /// The whole of a one-record /proc file (`stat`, `status`, `io`, `smaps_rollup`,
    /// `meminfo`: each is printed by a single seq_file `show`). A short read is then the
    /// end of the text, which saves the extra read that would return 0.
    fn fill_from(&mut self, file: &File) -> io::Result<&[u8]> {
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
fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

fn is_dead(state: char) -> bool {
    matches!(state, 'Z' | 'X')
}

enum StatError {
    /// No such process (any more).
    Gone,
    /// It exists but its stat could not be read or parsed.
    Unreadable,
}

/// Parse the result of reading a /proc/PID/stat file.
fn stat_from(read: io::Result<&[u8]>) -> Result<Stat, StatError> {
    match read {
        Ok([]) => Err(StatError::Gone),
        Ok(bytes) => Stat::from_read(bytes).map_err(|_| StatError::Unreadable),
        Err(e) if is_gone(&e) => Err(StatError::Gone),
        Err(_) => Err(StatError::Unreadable),
    }
}

fn read_stat(reader: &mut ProcReader, pid: u32) -> Result<Stat, StatError> {
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

/// What one process adds to a sample.
#[derive(Debug, Default)]
struct ProcFigures {
    cpu_user_s: f64,
    cpu_sys_s: f64,
    threads: u64,
    rss_bytes: u64,
    vms_bytes: u64,
    minflt: u64,
    majflt: u64,
    swap_bytes: Option<u64>,
    ctx_vol: Option<u64>,
    ctx_invol: Option<u64>,
    read_bytes: Option<u64>,
    write_bytes: Option<u64>,
    fds: Option<u64>,
    pss_bytes: Option<u64>,
    uss_bytes: Option<u64>,
}

/// Sums over the processes of one sample. A metric that one process could not give is
/// `None` for the whole sum: a partial sum would read as a drop.
struct Totals {
    procs: u32,
    /// False when a process in the set could not be read at all.
    complete: bool,
    cpu_user_s: Option<f64>,
    cpu_sys_s: Option<f64>,
    threads: Option<u64>,
    rss_bytes: Option<u64>,
    vms_bytes: Option<u64>,
    minflt: Option<u64>,
    majflt: Option<u64>,
    swap_bytes: Option<u64>,
    ctx_vol: Option<u64>,
    ctx_invol: Option<u64>,
    read_bytes: Option<u64>,
    write_bytes: Option<u64>,
    fds: Option<u64>,
    pss_bytes: Option<u64>,
    uss_bytes: Option<u64>,
}

fn add_u64(sum: &mut Option<u64>, value: Option<u64>) {
    *sum = sum.zip(value).map(|(a, b)| a.saturating_add(b));
}

impl Totals {
    fn new(reads: Reads) -> Totals {
        let smaps = reads.smaps.then_some(0);
        let detail = reads.detail.then_some(0);
        Totals {
            procs: 0,
            complete: true,
            cpu_user_s: Some(0.0),
            cpu_sys_s: Some(0.0),
            threads: Some(0),
            rss_bytes: Some(0),
            vms_bytes: Some(0),
            minflt: Some(0),
            majflt: Some(0),
            swap_bytes: detail,
            ctx_vol: detail,
            ctx_invol: detail,
            read_bytes: detail,
            write_bytes: detail,
            fds: Some(0),
            pss_bytes: smaps,
            uss_bytes: smaps,
        }
    }

    fn add(&mut self, f: &ProcFigures) {
        self.procs += 1;
        self.cpu_user_s = self.cpu_user_s.map(|s| s + f.cpu_user_s);
        self.cpu_sys_s = self.cpu_sys_s.map(|s| s + f.cpu_sys_s);
        add_u64(&mut self.threads, Some(f.threads));
        add_u64(&mut self.rss_bytes, Some(f.rss_bytes));
        add_u64(&mut self.vms_bytes, Some(f.vms_bytes));
        add_u64(&mut self.minflt, Some(f.minflt));
        add_u64(&mut self.majflt, Some(f.majflt));
        add_u64(&mut self.swap_bytes, f.swap_bytes);
        add_u64(&mut self.ctx_vol, f.ctx_vol);
        add_u64(&mut self.ctx_invol, f.ctx_invol);
        add_u64(&mut self.read_bytes, f.read_bytes);
        add_u64(&mut self.write_bytes, f.write_bytes);
        add_u64(&mut self.fds, f.fds);
        add_u64(&mut self.pss_bytes, f.pss_bytes);
        add_u64(&mut self.uss_bytes, f.uss_bytes);
    }

    /// A process of the set exists but could not be read: no metric is whole.
    fn mark_incomplete(&mut self) {
        *self = Totals {
            procs: self.procs,
            complete: false,
            cpu_user_s: None,
            cpu_sys_s: None,
            threads: None,
            rss_bytes: None,
            vms_bytes: None,
            minflt: None,
            majflt: None,
            swap_bytes: None,
            ctx_vol: None,
            ctx_invol: None,
            read_bytes: None,
            write_bytes: None,
            fds: None,
            pss_bytes: None,
            uss_bytes: None,
        };
    }

    fn into_sample(self, t: f64, cpu: Option<f64>, host_avail: Option<u64>) -> Sample {
        if self.procs == 0 {
            // Nothing was read: every metric is unknown, not zero.
            return Sample {
                t,
                procs: Some(0),
                host_avail,
                ..Sample::default()
            };
        }
        Sample {
            t,
            rss: self.rss_bytes,
            vms: self.vms_bytes,
            pss: self.pss_bytes,
            uss: self.uss_bytes,
            swap: self.swap_bytes,
            threads: self.threads,
            fds: self.fds,
            procs: Some(self.procs),
            cpu,
            cpu_user_s: self.cpu_user_s,
            cpu_sys_s: self.cpu_sys_s,
            minflt: self.minflt,
            majflt: self.majflt,
            read_bytes: self.read_bytes,
            write_bytes: self.write_bytes,
            ctx_vol: self.ctx_vol,
            ctx_invol: self.ctx_invol,
            host_avail,
        }
    }
}

/// The file name of an executable link target, without the " (deleted)" the kernel appends
/// when the binary was replaced on disk (as after an upgrade).
fn exe_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    Some(name.strip_suffix(" (deleted)").unwrap_or(&name).to_owned())
}

fn proc_info(process: &Process, stat: Stat) -> Option<ProcInfo> {
    Some(ProcInfo {
        id: ProcId {
            pid: u32::try_from(stat.pid).ok()?,
            start: stat.starttime,
        },
        ppid: u32::try_from(stat.ppid).unwrap_or(0),
        name: stat.comm,
        exe_name: process.exe().ok().and_then(|p| exe_file_name(&p)),
        cmdline: process.cmdline().unwrap_or_default(),
    })
}

/// How many processes keep their files open between samples. Re-reading an open /proc
/// file with pread skips the open and close, which cost as much as the read itself; the
/// cap keeps a large process tree from using up our file descriptors (3 per process).
/// Processes beyond it are read by path.
const HELD_MAX: usize = 16;

/// The open stat, status and io files of one process. They stay bound to the process they
/// were opened for: once it is reaped, reads fail with ESRCH, even if its PID is reused.
struct Held {
    stat: File,
    status: File,
    /// `None` when opening was refused (another user's process); not retried while this
    /// process lives.
    io: Option<File>,
    /// Read during this call; the others are closed at its end.
    used: bool,
}

impl Held {
    fn open(reader: &mut ProcReader, pid: u32) -> Option<Held> {
        let mut open = |leaf: &str| File::open(reader.set_path(format_args!("/proc/{pid}/{leaf}")));
        Some(Held {
            stat: open("stat").ok()?,
            status: open("status").ok()?,
            io: open("io").ok(),
            used: true,
        })
    }
}

/// Samples processes through /proc. See the module docs for what it reads.
pub struct LinuxSampler {
    ticks_per_s: f64,
    page_bytes: u64,
    /// /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN); checked once.
    has_children_file: bool,
    reader: ProcReader,
    /// Scratch path for directory listings while `reader` is in use.
    dir_path: String,
    /// Kept open and re-read with pread: cheaper than opening it on every sample.
    meminfo: Option<File>,
    /// Open stat/status/io files of up to `HELD_MAX` processes, by PID.
    held: HashMap<u32, Held>,
    /// Cumulative CPU seconds per process at the previous call, and at this one. Swapped
    /// each call and rebuilt from the processes present, so they never outgrow the set.
    prev_cpu_s: HashMap<ProcId, f64>,
    cur_cpu_s: HashMap<ProcId, f64>,
    prev_elapsed_s: Option<f64>,
    /// PIDs already taken this call (a root can also be another root's descendant).
    visited: HashSet<u32>,
    /// Descendants still to read, with the parent they were found under.
    pending: Vec<(u32, u32)>,
    /// (ppid, pid) of every process, sorted, when the children file is missing.
    ppid_pairs: Vec<(u32, u32)>,
    ppid_pairs_fresh: bool,
}

impl Default for LinuxSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl LinuxSampler {
    pub fn new() -> Self {
        let ticks = procfs::ticks_per_second();
        let me = std::process::id();
        LinuxSampler {
            // USER_HZ is 100 on every mainstream kernel; guard the division anyway.
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: procfs::page_size(),
            has_children_file: Path::new(&format!("/proc/{me}/task/{me}/children")).exists(),
            reader: ProcReader {
                path: String::with_capacity(64),
                buf: vec![0; 8192],
                len: 0,
            },
            dir_path: String::with_capacity(64),
            meminfo: None,
            held: HashMap::with_capacity(HELD_MAX),
            prev_cpu_s: HashMap::new(),
            cur_cpu_s: HashMap::new(),
            prev_elapsed_s: None,
            visited: HashSet::new(),
            pending: Vec::new(),
            ppid_pairs: Vec::new(),
            ppid_pairs_fresh: false,
        }
    }

    fn host_avail_bytes(&mut self) -> Option<u64> {
        if self.meminfo.is_none() {
            self.meminfo = File::open("/proc/meminfo").ok();
        }
        let file = self.meminfo.as_ref()?;
        match self.reader.fill_from(file) {
            Ok(text) => parse_meminfo_available(text),
            Err(_) => {
                // Reopen next time.
                self.meminfo = None;
                None
            }
        }
    }

    /// Everything but `stat` for one process; `Err(())` when it vanished meanwhile.
    fn read_figures(
        &mut self,
        pid: u32,
        stat: &Stat,
        reads: Reads,
        smaps_s: &mut f64,
    ) -> Result<ProcFigures, ()> {
        let mut f = ProcFigures {
            cpu_user_s: stat.utime as f64 / self.ticks_per_s,
            cpu_sys_s: stat.stime as f64 / self.ticks_per_s,
            threads: u64::try_from(stat.num_threads).unwrap_or(0),
            rss_bytes: stat.rss.saturating_mul(self.page_bytes),
            vms_bytes: stat.vsize,
            minflt: stat.minflt,
            majflt: stat.majflt,
            ..ProcFigures::default()
        };
        let reader = &mut self.reader;
        let held = self.held.get(&pid);
        if reads.detail {
            Self::read_detail(reader, held, pid, &mut f)?;
        }
        f.fds = count_fds(reader, pid)?;

        if reads.smaps {
            let started = Instant::now();
            let result = reader
                .read(format_args!("/proc/{pid}/smaps_rollup"))
                .map(parse_smaps_rollup);
            *smaps_s += started.elapsed().as_secs_f64();
            match result {
                Ok((pss, uss)) => (f.pss_bytes, f.uss_bytes) = (pss, uss),
                Err(e) if is_gone(&e) => return Err(()),
                Err(_) => {}
            }
        }
        Ok(f)
    }

    /// Swap and context switches (status) and I/O bytes (io); `Err(())` when the process
    /// vanished meanwhile.
    fn read_detail(
        reader: &mut ProcReader,
        held: Option<&Held>,
        pid: u32,
        f: &mut ProcFigures,
    ) -> Result<(), ()> {
        let status = match held {
            Some(held) => reader.fill_from(&held.status),
            None => reader.read(format_args!("/proc/{pid}/status")),
        };
        match status {
            Ok(bytes) => {
                let status = parse_status(bytes);
                f.swap_bytes = status.swap_bytes;
                f.ctx_vol = status.ctx_vol;
                f.ctx_invol = status.ctx_invol;
            }
            Err(e) if is_gone(&e) => return Err(()),
            Err(_) => {}
        }

        // Needs ptrace access: EACCES for other users' processes, then None.
        let io = match held {
            Some(Held { io: Some(io), .. }) => reader.fill_from(io),
            Some(Held { io: None, .. }) => Err(io::ErrorKind::PermissionDenied.into()),
            None => reader.read(format_args!("/proc/{pid}/io")),
        };
        match io {
            Ok(bytes) => (f.read_bytes, f.write_bytes) = parse_io(bytes),
            Err(e) if is_gone(&e) => return Err(()),
            Err(_) => {}
        }
        Ok(())
    }

    /// The stat of `pid`: through its held files, opening them when there is room.
    fn stat_of(&mut self, pid: u32) -> Result<Stat, StatError> {
        if let Some(held) = self.held.get_mut(&pid) {
            match self.reader.fill_from(&held.stat) {
                Ok(bytes) if !bytes.is_empty() => {
                    held.used = true;
                    return Stat::from_read(bytes).map_err(|_| StatError::Unreadable);
                }
                // The process they were opened for is gone; the PID may be another's now.
                _ => {
                    self.held.remove(&pid);
                }
            }
        }
        if self.held.len() < HELD_MAX
            && let Some(held) = Held::open(&mut self.reader, pid)
        {
            let held = self.held.entry(pid).insert_entry(held).into_mut();
            return stat_from(self.reader.fill_from(&held.stat));
        }
        read_stat(&mut self.reader, pid)
    }

    /// Queue the children of `pid` (which has `threads` threads) for reading.
    fn queue_children(&mut self, pid: u32, threads: i64) {
        if !self.has_children_file {
            if !self.ppid_pairs_fresh {
                self.scan_ppids();
            }
            let first = self.ppid_pairs.partition_point(|&(ppid, _)| ppid < pid);
            for &(ppid, child) in &self.ppid_pairs[first..] {
                if ppid != pid {
                    break;
                }
                if self.visited.insert(child) {
                    self.pending.push((child, pid));
                }
            }
            return;
        }
        // The children file lists the children of one thread: a child forked by another
        // thread only appears in that thread's file, so read them all.
        if threads <= 1 {
            self.queue_children_of_task(pid, pid);
            return;
        }
        self.dir_path.clear();
        let _ = write!(self.dir_path, "/proc/{pid}/task");
        let Ok(tasks) = fs::read_dir(&self.dir_path) else {
            return;
        };
        for task in tasks.flatten() {
            if let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) {
                self.queue_children_of_task(pid, tid);
            }
        }
    }

    fn queue_children_of_task(&mut self, pid: u32, tid: u32) {
        let Ok(bytes) = self
            .reader
            .read_to_eof(format_args!("/proc/{pid}/task/{tid}/children"))
        else {
            return;
        };
        for child in parse_pid_list(bytes) {
            if self.visited.insert(child) {
                self.pending.push((child, pid));
            }
        }
    }

    /// Read every process's parent once per call (kernels without the children file).
    fn scan_ppids(&mut self) {
        self.ppid_pairs.clear();
        self.ppid_pairs_fresh = true;
        let Ok(entries) = fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(bytes) = self.reader.read(format_args!("/proc/{pid}/stat"))
                && let Some(ppid) = parse_stat_ppid(bytes)
            {
                self.ppid_pairs.push((ppid, pid));
            }
        }
        self.ppid_pairs.sort_unstable();
    }

    /// Read one live process, add it to `totals`, and queue its children when asked.
    fn take_process(&mut self, pid: u32, stat: &Stat, ctx: &mut CallState) {
        let Ok(figures) = self.read_figures(pid, stat, ctx.reads, &mut ctx.smaps_s) else {
            // Exited while we read it: it is gone, not unreadable.
            return;
        };
        ctx.totals.add(&figures);
        let id = ProcId {
            pid,
            start: stat.starttime,
        };
        let cpu_s = figures.cpu_user_s + figures.cpu_sys_s;
        if let Some(prev_s) = self.prev_cpu_s.get(&id) {
            ctx.cpu_delta_s += (cpu_s - prev_s).max(0.0);
        }
        self.cur_cpu_s.insert(id, cpu_s);
        if ctx.children {
            self.queue_children(pid, stat.num_threads);
        }
    }
}

/// What one `sample` call carries between processes.
struct CallState {
    totals: Totals,
    reads: Reads,
    children: bool,
    smaps_s: f64,
    cpu_delta_s: f64,
}

/// The wait status a zombie left in its stat (`exit_code`, Linux ≥ 3.5). The kernel shows
/// it only to a reader with ptrace read access (PTRACE_MODE_READ_FSCREDS) and shows 0
/// otherwise, which would read as a clean exit; so it is trusted only when that access is
/// there. Reading /proc/PID/io is checked with the same mode, at read time, and works on a
/// zombie, so it tells.
fn zombie_wait_status(pid: u32, stat: &Stat) -> Option<i32> {
    let permitted = std::fs::read(format!("/proc/{pid}/io")).is_ok();
    stat.exit_code.filter(|_| permitted)
}

impl Sampler for LinuxSampler {
    fn sample(
        &mut self,
        roots: &[ProcId],
        children: bool,
        elapsed_s: f64,
        reads: Reads,
    ) -> Reading {
        let mut ctx = CallState {
            totals: Totals::new(reads),
            reads,
            children,
            smaps_s: 0.0,
            cpu_delta_s: 0.0,
        };
        let mut gone = Vec::new();
        self.cur_cpu_s.clear();
        self.visited.clear();
        self.pending.clear();
        self.ppid_pairs_fresh = false;

        for root in roots {
            if !self.visited.insert(root.pid) {
                continue;
            }
            let stat = match self.stat_of(root.pid) {
                Ok(stat) => stat,
                Err(StatError::Gone) => {
                    gone.push((*root, Gone::Exited { wait_status: None }));
                    continue;
                }
                Err(StatError::Unreadable) => {
                    ctx.totals.mark_incomplete();
                    continue;
                }
            };
            if stat.starttime != root.start {
                gone.push((*root, Gone::PidReused));
            } else if is_dead(stat.state) {
                gone.push((
                    *root,
                    Gone::Exited {
                        wait_status: zombie_wait_status(root.pid, &stat),
                    },
                ));
            } else {
                self.take_process(root.pid, &stat, &mut ctx);
            }
        }

        while let Some((pid, parent)) = self.pending.pop() {
            let stat = match self.stat_of(pid) {
                Ok(stat) => stat,
                Err(StatError::Gone) => continue,
                Err(StatError::Unreadable) => {
                    ctx.totals.mark_incomplete();
                    continue;
                }
            };
            // A zombie holds no resources; a changed parent means the PID was reused
            // between listing and reading.
            if is_dead(stat.state) || u32::try_from(stat.ppid).ok() != Some(parent) {
                continue;
            }
            self.take_process(pid, &stat, &mut ctx);
        }

        let dt_s = self.prev_elapsed_s.map(|prev| elapsed_s - prev);
        let cpu = match dt_s {
            Some(dt_s) if dt_s > 0.0 && ctx.totals.procs > 0 && ctx.totals.complete => {
                Some(ctx.cpu_delta_s / dt_s)
            }
            _ => None,
        };
        std::mem::swap(&mut self.prev_cpu_s, &mut self.cur_cpu_s);
        // Close the files of processes not read this time.
        self.held.retain(|_, held| std::mem::take(&mut held.used));
        self.prev_elapsed_s = Some(elapsed_s);

        let host_avail = if reads.detail {
            self.host_avail_bytes()
        } else {
            None
        };
        Reading {
            sample: ctx.totals.into_sample(elapsed_s, cpu, host_avail),
            gone,
            smaps_read_s: reads.smaps.then_some(ctx.smaps_s),
        }
    }
}

/// Open file descriptors: one `stat()` of /proc/PID/fd gives the count in `st_size` on
/// Linux ≥ 6.2; older kernels report 0 there, so count the entries instead.
fn count_fds(reader: &mut ProcReader, pid: u32) -> Result<Option<u64>, ()> {
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

fn read_error(pid: u32, e: ProcError) -> SampleError {
    SampleError::Read {
        pid,
        reason: e.to_string(),
    }
}

impl ProcessTable for LinuxSampler {
    fn list(&mut self) -> Result<Vec<ProcInfo>, SampleError> {
        let processes =
            procfs::process::all_processes().map_err(|e| SampleError::List(e.to_string()))?;
        Ok(processes
            // Processes that vanish while listing are simply not there.
            .filter_map(Result::ok)
            .filter_map(|p| {
                let stat = p.stat().ok()?;
                proc_info(&p, stat)
            })
            .collect())
    }

    fn get(&mut self, pid: u32) -> Result<Option<ProcInfo>, SampleError> {
        let Ok(pid_i32) = i32::try_from(pid) else {
            return Ok(None);
        };
        if pid == 0 {
            return Ok(None);
        }
        let process = match Process::new(pid_i32) {
            Ok(p) => p,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(read_error(pid, e)),
        };
        let stat = match process.stat() {
            Ok(stat) => stat,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(read_error(pid, e)),
        };
        // /proc/TID exists for every thread too, but a thread is not a process.
        if let Ok(bytes) = self.reader.read(format_args!("/proc/{pid}/status"))
            && let Some(tgid) = parse_status(bytes).tgid
            && tgid != pid
        {
            return Ok(None);
        }
        Ok(proc_info(&process, stat))
    }

    fn cgroup_limits(&mut self, pid: u32) -> CgroupLimits {
        cgroup::limits_for_pid(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::time::Duration;

    fn fixture(path: &str) -> Vec<u8> {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/proc")
                .join(path),
        )
        .unwrap()
    }

    fn me() -> ProcId {
        LinuxSampler::new()
            .get(std::process::id())
            .unwrap()
            .unwrap()
            .id
    }

    /// A child in its own process group, so the whole group can be killed.
    fn spawn(program: &str, args: &[&str]) -> Child {
        Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .unwrap()
    }

    fn kill_group(child: &mut Child) {
        // SAFETY: kill(2) with a negative PID signals that process group; no memory is shared.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }

    /// Polls for up to 10 s: a bound for a busy CI machine, not a timing assertion.
    fn wait_until(mut done: impl FnMut() -> bool) {
        for _ in 0..1000 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("condition not reached in 10 s");
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

    #[test]
    fn samples_this_process() {
        let mut sampler = LinuxSampler::new();
        let roots = [me()];
        let first = sampler.sample(&roots, false, 0.0, Reads::BASIC);
        let s = &first.sample;
        assert!(first.gone.is_empty());
        assert!(s.rss.unwrap() > 0 && s.vms.unwrap() >= s.rss.unwrap());
        assert!(s.threads.unwrap() >= 1);
        assert!(s.fds.unwrap() >= 3, "{s:?}");
        assert_eq!(s.procs, Some(1));
        assert_eq!(s.cpu, None, "no CPU rate on the first call");
        assert!(s.cpu_user_s.is_some() && s.ctx_vol.is_some() && s.swap.is_some());
        assert!(s.read_bytes.is_some(), "own io is readable");
        assert!(s.host_avail.unwrap() > 0);
        assert_eq!((s.pss, s.uss, first.smaps_read_s), (None, None, None));

        // Burn some CPU so the rate is visible.
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let second = sampler.sample(&roots, false, started.elapsed().as_secs_f64(), Reads::ALL);
        let cpu = second.sample.cpu.unwrap();
        assert!(cpu > 0.2, "cpu {cpu}");
        assert!(second.sample.pss.unwrap() > 0);
        assert!(second.sample.uss.unwrap() > 0);
        assert!(second.smaps_read_s.unwrap() >= 0.0);
        // A clock that did not move gives no rate rather than a division by zero.
        let third = sampler.sample(
            &roots,
            false,
            started.elapsed().as_secs_f64() - 1.0,
            Reads::BASIC,
        );
        assert_eq!(third.sample.cpu, None);
    }

    #[test]
    fn core_reads_leave_the_detail_fields_missing() {
        let mut sampler = LinuxSampler::new();
        let s = sampler.sample(&[me()], false, 0.0, Reads::CORE).sample;
        assert!(s.rss.is_some() && s.vms.is_some() && s.threads.is_some() && s.fds.is_some());
        assert!(s.cpu_user_s.is_some() && s.minflt.is_some());
        assert_eq!(
            (s.swap, s.ctx_vol, s.ctx_invol, s.read_bytes, s.write_bytes),
            (None, None, None, None, None),
            "not read, so missing rather than 0"
        );
        assert_eq!((s.host_avail, s.pss, s.uss), (None, None, None));
        // The next call that asks for them has them.
        let s = sampler.sample(&[me()], false, 0.1, Reads::BASIC).sample;
        assert!(s.swap.is_some() && s.ctx_vol.is_some() && s.host_avail.is_some());
    }

    #[test]
    fn reports_a_killed_child_as_gone() {
        let mut sampler = LinuxSampler::new();
        let mut child = spawn("sleep", &["30"]);
        let id = sampler.get(child.id()).unwrap().unwrap().id;
        let alive = sampler.sample(&[id], false, 0.0, Reads::BASIC);
        assert!(alive.gone.is_empty());
        assert_eq!(alive.sample.procs, Some(1));
        assert!(alive.sample.fds.unwrap() >= 3);

        // A wrong start time means someone else now has this PID.
        let impostor = ProcId {
            start: id.start + 1,
            ..id
        };
        let reused = sampler.sample(&[impostor], false, 0.5, Reads::BASIC);
        assert_eq!(reused.gone, [(impostor, Gone::PidReused)]);
        assert_eq!(reused.sample.procs, Some(0));
        assert_eq!(reused.sample.rss, None);

        // Killed but not yet reaped: a zombie, with its wait status (killed by SIGKILL).
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        wait_until(|| {
            let mut reader = ProcReader::default();
            matches!(read_stat(&mut reader, id.pid), Ok(stat) if stat.state == 'Z')
        });
        let zombie = sampler.sample(&[id], false, 1.0, Reads::BASIC);
        assert_eq!(
            zombie.gone,
            [(
                id,
                Gone::Exited {
                    wait_status: Some(libc::SIGKILL)
                }
            )]
        );

        let _ = child.wait();
        let reaped = sampler.sample(&[id], false, 2.0, Reads::BASIC);
        assert_eq!(reaped.gone, [(id, Gone::Exited { wait_status: None })]);
        assert_eq!(reaped.sample.cpu, None);
    }

    #[test]
    fn sums_children() {
        let mut sampler = LinuxSampler::new();
        let mut shell = spawn("sh", &["-c", "sleep 30 & sleep 30 & wait"]);
        let id = sampler.get(shell.id()).unwrap().unwrap().id;
        wait_until(|| sampler.sample(&[id], true, 0.0, Reads::BASIC).sample.procs == Some(3));

        // The ppid scan (kernels without the children file) finds the same set.
        let mut scanning = LinuxSampler::new();
        scanning.has_children_file = false;
        assert_eq!(
            scanning.sample(&[id], true, 0.0, Reads::BASIC).sample.procs,
            Some(3)
        );

        let alone = sampler.sample(&[id], false, 0.1, Reads::BASIC).sample;
        let family = sampler.sample(&[id], true, 0.2, Reads::BASIC).sample;
        assert_eq!(alone.procs, Some(1));
        assert_eq!(family.procs, Some(3));
        assert!(family.rss.unwrap() > alone.rss.unwrap());
        assert!(family.threads.unwrap() >= 3);
        // The shell was seen by the previous call, the sleeps were not: a rate from the
        // shell alone on the first call with children, then from all three.
        assert!(family.cpu.is_some());
        // Memory stays bounded: the CPU map holds exactly the processes present.
        assert_eq!(sampler.prev_cpu_s.len(), 3);
        sampler.sample(&[id], false, 0.3, Reads::BASIC);
        assert_eq!(sampler.prev_cpu_s.len(), 1);

        kill_group(&mut shell);
        let after = sampler.sample(&[id], true, 0.4, Reads::BASIC);
        assert_eq!(after.gone, [(id, Gone::Exited { wait_status: None })]);
        assert_eq!(after.sample.procs, Some(0));
    }

    #[test]
    fn keeps_files_open_for_a_bounded_number_of_processes() {
        let mut sampler = LinuxSampler::new();
        let mut shell = spawn(
            "sh",
            &["-c", "for i in $(seq 20); do sleep 30 & done; wait"],
        );
        let id = sampler.get(shell.id()).unwrap().unwrap().id;
        wait_until(|| sampler.sample(&[id], true, 0.0, Reads::BASIC).sample.procs == Some(21));
        // Past the cap, processes are read by path, and counted all the same. A slot freed
        // by a short-lived child (the `seq`) is not handed to a process already read by
        // path, so the cap may not be reached exactly.
        assert!(
            (HELD_MAX - 2..=HELD_MAX).contains(&sampler.held.len()),
            "{} held",
            sampler.held.len()
        );
        let again = sampler.sample(&[id], true, 0.1, Reads::BASIC).sample;
        assert_eq!(again.procs, Some(21));
        assert!(again.fds.is_some() && again.swap.is_some() && again.read_bytes.is_some());
        // Without children, only the root's files stay open.
        sampler.sample(&[id], false, 0.2, Reads::BASIC);
        assert_eq!(sampler.held.len(), 1);
        kill_group(&mut shell);
        let after = sampler.sample(&[id], true, 0.3, Reads::BASIC);
        assert_eq!(after.gone, [(id, Gone::Exited { wait_status: None })]);
        assert!(
            sampler.held.is_empty(),
            "files of gone processes are closed"
        );
    }

    #[test]
    fn an_unreadable_metric_is_none_for_the_whole_sum() {
        // PID 1's io is not readable here even as root (no ptrace access to init):
        // the sum over {this process, PID 1} must not present our own I/O as the total.
        if !matches!(File::open("/proc/1/io"), Err(e) if e.kind() == io::ErrorKind::PermissionDenied)
        {
            return;
        }
        let mut sampler = LinuxSampler::new();
        let init = sampler.get(1).unwrap().unwrap().id;
        let s = sampler
            .sample(&[me(), init], false, 0.0, Reads::BASIC)
            .sample;
        assert_eq!(s.procs, Some(2));
        assert_eq!((s.read_bytes, s.write_bytes), (None, None));
        assert!(s.rss.is_some() && s.threads.is_some());
    }

    #[test]
    fn lists_and_gets_processes() {
        let mut sampler = LinuxSampler::new();
        let mut child = spawn("sleep", &["30"]);
        // spawn() returns once exec has begun; argv is in place a moment later.
        wait_until(|| !sampler.get(child.id()).unwrap().unwrap().cmdline.is_empty());
        let info = sampler.get(child.id()).unwrap().unwrap();
        assert_eq!(info.name, "sleep");
        assert_eq!(info.exe_name.as_deref(), Some("sleep"));
        assert_eq!(info.cmdline, ["sleep", "30"]);
        assert_eq!(info.ppid, std::process::id());
        let listed = sampler.list().unwrap();
        assert!(listed.iter().any(|p| p == &info));
        assert!(listed.iter().any(|p| p.id.pid == 1));
        kill_group(&mut child);
        assert_eq!(sampler.get(child.id()).unwrap(), None);
        assert_eq!(sampler.get(0).unwrap(), None);
        assert_eq!(sampler.get(u32::MAX).unwrap(), None);
    }

    #[test]
    fn a_thread_id_is_not_a_process() {
        let handle = std::thread::spawn(|| {
            // SAFETY: gettid(2) has no preconditions.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
            LinuxSampler::new().get(tid).unwrap()
        });
        assert_eq!(handle.join().unwrap(), None);
    }

    #[test]
    fn dead_roots_do_not_stop_live_ones() {
        let mut sampler = LinuxSampler::new();
        let ghost = ProcId {
            pid: u32::MAX - 1,
            start: 1,
        };
        let reading = sampler.sample(&[ghost, me(), me()], false, 0.0, Reads::BASIC);
        assert_eq!(reading.gone, [(ghost, Gone::Exited { wait_status: None })]);
        assert_eq!(
            reading.sample.procs,
            Some(1),
            "a duplicate root is counted once"
        );
    }
}
