//! What each process adds to a sample, and the sums over the processes of one sample.

use crate::sample::{Reads, Sample};

/// What one process adds to a sample.
#[derive(Debug, Default)]
pub(super) struct ProcFigures {
    pub(super) cpu_user_s: f64,
    pub(super) cpu_sys_s: f64,
    pub(super) threads: u64,
    pub(super) rss_bytes: u64,
    pub(super) vms_bytes: u64,
    pub(super) minflt: u64,
    pub(super) majflt: u64,
    pub(super) swap_bytes: Option<u64>,
    pub(super) ctx_vol: Option<u64>,
    pub(super) ctx_invol: Option<u64>,
    pub(super) read_bytes: Option<u64>,
    pub(super) write_bytes: Option<u64>,
    pub(super) fds: Option<u64>,
    pub(super) pss_bytes: Option<u64>,
    pub(super) uss_bytes: Option<u64>,
}

/// Sums over the processes of one sample. A metric that one process could not give is
/// `None` for the whole sum: a partial sum would read as a drop.
pub(super) struct Totals {
    pub(super) procs: u32,
    /// False when a process in the set could not be read at all.
    pub(super) complete: bool,
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
    pub(super) fn new(reads: Reads) -> Totals {
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

    pub(super) fn add(&mut self, f: &ProcFigures) {
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
    pub(super) fn mark_incomplete(&mut self) {
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

    pub(super) fn into_sample(self, t: f64, cpu: Option<f64>, host_avail: Option<u64>) -> Sample {
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
            ..Sample::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sample::linux::LinuxSampler;
    use crate::sample::linux::test_util::me;
    use crate::sample::{ProcessTable, Reads, Sampler};
    use std::fs::File;
    use std::io;

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
}
