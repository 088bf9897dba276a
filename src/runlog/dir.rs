//! The run directory of a live `record`: claimed before anything is written into it, held
//! by a lock for the whole run, and left as it was found when the run recorded nothing.
//!
//! The lock is an exclusive `flock` on `.soakprof.lock` in the directory: the OS drops it
//! when the process ends, however it ends, so a killed run never blocks a later one (nor
//! `analyze`, which takes no lock), and two live runs can never share a directory.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{
    LOAD_CMD_LOG_FILE, LOAD_CMD_LOG_ROTATED_FILE, LOAD_FILE, RunLogError, SAMPLES_FILE,
    TARGET_LOG_FILE, TARGET_LOG_ROTATED_FILE,
};

/// The lock file a live run holds.
pub const LOCK_FILE: &str = ".soakprof.lock";

/// The logs a run writes; `--force` removes those of the run it replaces.
const RUN_LOGS: [&str; 7] = [
    SAMPLES_FILE,
    super::CAPACITY_SEARCH_FILE,
    LOAD_FILE,
    TARGET_LOG_FILE,
    TARGET_LOG_ROTATED_FILE,
    LOAD_CMD_LOG_FILE,
    LOAD_CMD_LOG_ROTATED_FILE,
];

/// Names tried for a new directory: `base`, then `base-2` … `base-999`.
const MAX_SUFFIX: u32 = 999;

/// A run directory this process holds for its run.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// Holds the exclusive lock on `LOCK_FILE` until dropped.
    _lock: File,
    /// Directories this run created, outermost first.
    created: Vec<PathBuf>,
    /// Logs that were in the directory before the run; never removed.
    found: Vec<&'static str>,
}

impl RunDir {
    /// Claim `path` (given with `--out`): create it and its parents when missing, lock it,
    /// and refuse it when it holds a run (a `samples.jsonl`), unless `force`: then that
    /// run's logs and `outputs` (its report's files) are removed. A directory a live run
    /// holds is refused even with `force`.
    pub fn claim(path: &Path, force: bool, outputs: &[&str]) -> Result<RunDir, RunLogError> {
        let created = create_dirs(path).map_err(|source| create_error(path, source))?;
        let dir = RunDir::lock(path, created)?;
        if !dir.found.contains(&SAMPLES_FILE) {
            return Ok(dir);
        }
        if !force {
            dir.abandon();
            return Err(RunLogError::HoldsRun {
                path: path.to_path_buf(),
            });
        }
        for name in RUN_LOGS.iter().chain(outputs) {
            match fs::remove_file(path.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(create_error(path, e));
                }
                _ => {}
            }
        }
        Ok(RunDir {
            found: Vec::new(),
            ..dir
        })
    }

    /// Claim a new directory: `base`, or `base-2`, `base-3`, … when that name is taken
    /// (by a run started in the same second). Its parents are created when missing.
    pub fn claim_new(base: &Path) -> Result<RunDir, RunLogError> {
        let parent = base.parent().unwrap_or(Path::new(""));
        let mut created = create_dirs(parent).map_err(|source| create_error(base, source))?;
        let name = base.file_name().unwrap_or_default().to_string_lossy();
        for n in 1..=MAX_SUFFIX {
            let candidate = if n == 1 {
                base.to_path_buf()
            } else {
                base.with_file_name(format!("{name}-{n}"))
            };
            match fs::create_dir(&candidate) {
                Ok(()) => {
                    created.push(candidate.clone());
                    return RunDir::lock(&candidate, created);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    remove_dirs(&created);
                    return Err(create_error(&candidate, source));
                }
            }
        }
        remove_dirs(&created);
        Err(create_error(
            base,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{MAX_SUFFIX} runs of that name already exist"),
            ),
        ))
    }

    /// Lock the directory at `path` (which exists), noting the logs it holds.
    fn lock(path: &Path, created: Vec<PathBuf>) -> Result<RunDir, RunLogError> {
        let lock = match lock_file(path) {
            Ok(lock) => lock,
            Err(e) => {
                remove_dirs(&created);
                return Err(e);
            }
        };
        let found = RUN_LOGS
            .into_iter()
            .filter(|name| fs::symlink_metadata(path.join(name)).is_ok())
            .collect();
        Ok(RunDir {
            path: path.to_path_buf(),
            _lock: lock,
            created,
            found,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run is over: remove the lock file and release the lock.
    pub fn release(self) {
        let _ = fs::remove_file(self.path.join(LOCK_FILE));
    }

    /// The run failed. When it recorded nothing (its log is empty: the target could not be
    /// started, the load driver failed to start), remove what it created: its empty logs,
    /// the lock file and the directories it made, if they are empty. Anything else stays:
    /// a log with something in it, every file the directory held before.
    pub fn fail(self) {
        let log = fs::symlink_metadata(self.path.join(SAMPLES_FILE));
        if log.is_ok_and(|m| m.len() > 0) {
            self.release();
        } else {
            self.abandon();
        }
    }

    fn abandon(self) {
        for name in RUN_LOGS.into_iter().filter(|n| !self.found.contains(n)) {
            let path = self.path.join(name);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
                let _ = fs::remove_file(path);
            }
        }
        let _ = fs::remove_file(self.path.join(LOCK_FILE));
        remove_dirs(&self.created);
    }
}

fn create_error(path: &Path, source: std::io::Error) -> RunLogError {
    RunLogError::Create {
        path: path.to_path_buf(),
        source,
    }
}

/// Create `path` and its missing parents; returns those this call created, outermost
/// first (one another process created at the same moment is not among them).
fn create_dirs(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing: Vec<&Path> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err())
        .collect();
    missing.reverse();
    let mut created = Vec::new();
    for dir in missing {
        match fs::create_dir(dir) {
            Ok(()) => created.push(dir.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                remove_dirs(&created);
                return Err(e);
            }
        }
    }
    if !path.as_os_str().is_empty() && !path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it exists and is not a directory",
        ));
    }
    Ok(created)
}

/// Remove these directories, innermost first, each only if it is empty.
fn remove_dirs(dirs: &[PathBuf]) {
    for dir in dirs.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// Take the exclusive lock on `dir`'s lock file, and write this process's PID into it.
fn lock_file(dir: &Path) -> Result<File, RunLogError> {
    let path = dir.join(LOCK_FILE);
    let create = |source| create_error(dir, source);
    // A run that just ended removes its lock file: a lock taken on the removed file holds
    // nothing, so it is taken again on the file now at the path.
    for _ in 0..10 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(create)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(RunLogError::InUse {
                    path: dir.to_path_buf(),
                    pid: holder.trim().parse().ok(),
                });
            }
            Err(fs::TryLockError::Error(source)) => return Err(create(source)),
        }
        if !is_at(&file, &path) {
            continue;
        }
        file.set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()))
            .map_err(create)?;
        return Ok(file);
    }
    Err(RunLogError::InUse {
        path: dir.to_path_buf(),
        pid: None,
    })
}

/// Whether `file` is the file now at `path`.
fn is_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_claimed_directory_is_locked_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a").join("run");
        let held = RunDir::claim(&path, false, &[]).unwrap();
        for force in [false, true] {
            let err = RunDir::claim(&path, force, &[]).unwrap_err();
            assert!(
                matches!(err, RunLogError::InUse { pid: Some(p), .. } if p == std::process::id()),
                "{err}"
            );
        }
        fs::write(path.join(SAMPLES_FILE), "x").unwrap();
        held.release();
        assert_eq!(names(&path), [SAMPLES_FILE]);
        let err = RunDir::claim(&path, false, &[]).unwrap_err();
        assert!(matches!(err, RunLogError::HoldsRun { .. }), "{err}");
        assert_eq!(
            names(&path),
            [SAMPLES_FILE],
            "a refusal leaves no lock file"
        );
        // --force removes the run's logs and the outputs named, nothing else.
        fs::write(path.join(LOAD_FILE), "x").unwrap();
        fs::write(path.join("verdict.json"), "x").unwrap();
        fs::write(path.join("mine.txt"), "x").unwrap();
        let forced = RunDir::claim(&path, true, &["verdict.json", "cpu.svg"]).unwrap();
        assert_eq!(names(&path), [LOCK_FILE, "mine.txt"]);
        forced.release();
    }

    #[test]
    fn a_failed_run_removes_only_what_it_created() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a").join("b");
        let dir = RunDir::claim(&path, false, &[]).unwrap();
        fs::write(path.join(SAMPLES_FILE), "").unwrap();
        fs::write(path.join(TARGET_LOG_FILE), "").unwrap();
        dir.fail();
        assert_eq!(names(tmp.path()), Vec::<String>::new());

        // The user's directory, with an empty load.jsonl of theirs: both stay.
        let mine = tmp.path().join("mine");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join(LOAD_FILE), "").unwrap();
        let dir = RunDir::claim(&mine, false, &[]).unwrap();
        fs::write(mine.join(SAMPLES_FILE), "").unwrap();
        dir.fail();
        assert_eq!(names(&mine), [LOAD_FILE]);

        // A run that recorded something keeps it all.
        let dir = RunDir::claim(&mine, false, &[]).unwrap();
        fs::write(mine.join(SAMPLES_FILE), "{}\n").unwrap();
        fs::write(mine.join(TARGET_LOG_FILE), "").unwrap();
        dir.fail();
        assert_eq!(names(&mine), [LOAD_FILE, SAMPLES_FILE, TARGET_LOG_FILE]);
    }

    #[test]
    fn new_directories_get_a_suffix_when_the_name_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("reports").join("20260101-120000-api");
        let first = RunDir::claim_new(&base).unwrap();
        let second = RunDir::claim_new(&base).unwrap();
        let third = RunDir::claim_new(&base).unwrap();
        assert_eq!(first.path(), base);
        assert_eq!(
            second.path(),
            tmp.path().join("reports/20260101-120000-api-2")
        );
        assert_eq!(
            third.path(),
            tmp.path().join("reports/20260101-120000-api-3")
        );
        // A failed start takes its directory, and the parent it made, with it.
        third.fail();
        second.fail();
        first.fail();
        assert_eq!(names(tmp.path()), Vec::<String>::new());
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("file");
        fs::write(&path, "x").unwrap();
        let err = RunDir::claim(&path, true, &[]).unwrap_err();
        assert!(matches!(err, RunLogError::Create { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }
}
