//! Helpers for the tests of the Linux backend: this process, and children to sample.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use super::LinuxSampler;
use crate::sample::{ProcId, ProcessTable};

pub(super) fn me() -> ProcId {
    LinuxSampler::new()
        .get(std::process::id())
        .unwrap()
        .unwrap()
        .id
}

/// A child in its own process group, so the whole group can be killed.
pub(super) fn spawn(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .process_group(0)
        .spawn()
        .unwrap()
}

pub(super) fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) with a negative PID signals that process group; no memory is shared.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
}

/// Polls for up to 10 s: a bound for a busy CI machine, not a timing assertion.
pub(super) fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("condition not reached in 10 s");
}
