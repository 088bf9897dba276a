//! Real containers for the cgroup tests: an image made with `docker import` from a folder
//! holding the fixture binary and the libraries `ldd` lists (no registry is needed), and
//! containers started from it with real limits. Everything made here is named
//! `soakprof-test-…` and removed when dropped; nothing else is touched.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::util::{fixture_bin, wait_for};

/// `soakprof-test-KIND-PID-N`: unique within and across test processes.
fn unique(kind: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("soakprof-test-{kind}-{}-{n}", std::process::id())
}

/// Is a Docker Engine reachable? A test that needs one says it skipped, unless
/// `SOAKPROF_REQUIRE_ALL` is set (`.ci/run`), when it fails instead.
pub fn docker_available(test: &str) -> bool {
    let reachable = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        assert!(
            std::env::var_os("SOAKPROF_REQUIRE_ALL").is_none(),
            "{test}: no Docker Engine is reachable, and SOAKPROF_REQUIRE_ALL is set"
        );
        eprintln!("{test}: skipped: no Docker Engine is reachable (`docker version` failed)");
    }
    reachable
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An image holding `/bin/soakprof-fixture` and its libraries; removed when dropped.
pub struct FixtureImage {
    pub tag: String,
}

impl FixtureImage {
    pub fn build() -> FixtureImage {
        let root = tempfile::tempdir().unwrap();
        let bin = fixture_bin();
        copy_into(root.path(), &bin, Path::new("/bin/soakprof-fixture"));
        let ldd = Command::new("ldd").arg(&bin).output().unwrap();
        for lib in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            copy_into(root.path(), Path::new(lib), Path::new(lib));
        }
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        let tag = format!("{}:test", unique("img"));
        let mut tar = Command::new("tar")
            .args(["-C", root.path().to_str().unwrap(), "-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let import = Command::new("docker")
            .args(["import", "-", &tag])
            .stdin(tar.stdout.take().unwrap())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(tar.wait().unwrap().success(), "tar failed");
        assert!(import.success(), "docker import failed");
        FixtureImage { tag }
    }

    /// Start a container from this image, `docker run -d` with `options` (limits), running
    /// the fixture with `args`, on the host network (load tests listen on 127.0.0.1).
    pub fn run(&self, options: &[&str], args: &[&str]) -> Container {
        let name = unique("ctr");
        let mut all = vec!["run", "-d", "--name", &name, "--network", "host"];
        all.extend_from_slice(options);
        all.push(&self.tag);
        all.push("/bin/soakprof-fixture");
        all.extend_from_slice(args);
        let id = docker(&all);
        let container = Container { id };
        wait_for("the container to run", Duration::from_secs(10), || {
            container.pid().is_some()
        });
        container
    }
}

impl Drop for FixtureImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn copy_into(root: &Path, from: &Path, at: &Path) {
    let dest = root.join(at.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap();
}

/// A running container; removed (with `docker rm -f`) when dropped.
pub struct Container {
    pub id: String,
}

impl Container {
    /// The host PID of its first process, while it runs.
    pub fn pid(&self) -> Option<u32> {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Pid}}", &self.id])
            .output()
            .ok()?;
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        (pid > 0).then_some(pid)
    }

    /// `docker exec` the fixture with `args` in it; its exit code.
    pub fn exec_fixture(&self, args: &[&str]) -> Option<i32> {
        let mut all = vec!["exec", &self.id, "/bin/soakprof-fixture"];
        all.extend_from_slice(args);
        Command::new("docker")
            .args(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .code()
    }

    /// Its cgroup path as `/proc/PID/cgroup` shows it for the memory controller (v1) or
    /// the unified hierarchy (v2).
    pub fn cgroup_path(&self) -> String {
        let pid = self.pid().unwrap();
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        text.lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let memory = controllers.split(',').any(|c| c == "memory");
                (memory || controllers.is_empty()).then(|| (memory, path.to_string()))
            })
            .max_by_key(|(memory, path)| (*memory, path.len()))
            .map(|(_, path)| path)
            .unwrap()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
