//! Formatting of the table's cells, the confusion counts and the header that explains them.

use soakprof::analysis::sequential::FAIL_FAST_ALPHA;
use soakprof::runlog::Thresholds;

use super::{Config, Label, PROM_MEM_PER_H, RunResult};

pub fn fmt_delay(s: f64) -> String {
    let minutes = (s / 60.0).round() as u64;
    if minutes < 60 {
        format!("{minutes} min")
    } else {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// Like `fmt_delay`, to the second under 10 min (the sequential test's looks come seconds
/// apart early in a run).
pub fn fmt_stop(s: f64) -> String {
    let secs = s.round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => fmt_delay(s),
    }
}

pub fn fmt_length(s: u64) -> String {
    if s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", s / 60)
    }
}

/// Median with a miss counting as never (the upper middle for an even count); "–" if the
/// median run never detected the leak.
pub fn median_delay(delays: &[Option<f64>]) -> String {
    let mut sorted: Vec<f64> = delays.iter().map(|d| d.unwrap_or(f64::INFINITY)).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.get(sorted.len() / 2) {
        Some(d) if d.is_finite() => fmt_delay(*d),
        _ => "–".to_string(),
    }
}

pub fn ratio(num: usize, den: usize) -> String {
    if den == 0 {
        "–".to_string()
    } else {
        format!("{:.2}", num as f64 / den as f64)
    }
}

/// Percentage with one decimal; "–" for an empty denominator.
pub fn percent(num: usize, den: usize) -> String {
    if den == 0 {
        "–".to_string()
    } else {
        format!("{:.1}%", 100.0 * num as f64 / den as f64)
    }
}

/// One-sided 95% upper confidence bound on a rate from `k` events in `n` trials
/// (Clopper–Pearson: the p at which P(X ≤ k) = 5%), by bisection.
pub fn upper_bound_95(k: usize, n: usize) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    let cdf = |p: f64| -> f64 {
        // P(X ≤ k) for X ~ Binomial(n, p), term by term in log space.
        let (lp, lq) = (p.ln(), (1.0 - p).ln());
        let mut log_choose = 0.0;
        let mut total = 0.0;
        for i in 0..=k {
            if i > 0 {
                log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
            }
            total += (log_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
        }
        total
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// `--fail-fast` on a cell's runs: stops, stops before the leak onset, the median delay
/// from the onset to the stop and the median share of the run saved (a run that is not
/// stopped counts as never / nothing saved; upper middle of the delays for an even n).
pub struct FailFastCell {
    pub stopped: usize,
    pub before_onset: usize,
    pub delay: String,
    pub saved: String,
    /// Median time of the stops, over the stopped runs only ("" when none stopped).
    pub stopped_at: String,
}

pub fn fail_fast_cell(runs: &[&RunResult], onset: f64, duration_s: u64) -> FailFastCell {
    let d = duration_s as f64;
    let mut stops: Vec<f64> = runs
        .iter()
        .map(|r| r.ff_stop.unwrap_or(f64::INFINITY))
        .collect();
    stops.sort_by(f64::total_cmp);
    let median = stops.get(stops.len() / 2).copied();
    let (delay, saved) = match median {
        Some(at) if at.is_finite() => (
            fmt_stop((at - onset).max(0.0)),
            format!("{:.1}%", 100.0 * (d - at) / d),
        ),
        _ => ("–".to_string(), "0.0%".to_string()),
    };
    let stopped = stops.iter().filter(|s| s.is_finite()).count();
    FailFastCell {
        stopped,
        stopped_at: if stopped == 0 {
            String::new()
        } else {
            fmt_stop(stops[stopped / 2])
        },
        before_onset: stops.iter().filter(|&&s| s < onset).count(),
        delay,
        saved,
    }
}

/// "k/n", with the stops on flat data before a late leak's onset named.
pub fn stopped_cell(c: &FailFastCell, n: usize) -> String {
    if c.before_onset > 0 {
        format!("{}/{n} ({} before the onset)", c.stopped, c.before_onset)
    } else {
        format!("{}/{n}", c.stopped)
    }
}

pub fn label_name(lab: Label) -> &'static str {
    match lab {
        Label::Leak => "leak",
        Label::Slow => "slow",
        Label::NoLeak => "no",
    }
}

#[derive(Default, Clone, Copy)]
pub struct Confusion {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Confusion {
    pub fn add(&mut self, leak: bool, fail: bool) {
        match (leak, fail) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn row(&self, judge: &str, scope: &str) -> String {
        let precision = ratio(self.tp, self.tp + self.fp);
        let recall = ratio(self.tp, self.tp + self.fn_);
        let f1 = ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_);
        let false_fail = ratio(self.fp, self.fp + self.tn);
        format!(
            "| {judge} | {scope} | {} | {} | {} | {} | {} | {precision} | {recall} | {f1} | {false_fail} |",
            self.tp + self.fp + self.fn_ + self.tn,
            self.tp,
            self.fp,
            self.fn_,
            self.tn
        )
    }
}

pub fn print_header(cfg: &Config, th: &Thresholds) {
    let lengths: Vec<String> = cfg.lengths_s.iter().map(|&s| fmt_length(s)).collect();
    println!(
        "# soakprof leak-verdict benchmark{}",
        if cfg.quick { " (--quick)" } else { "" }
    );
    println!();
    println!(
        "Synthetic series at 1 Hz; run lengths {}; {} seed(s) per cell. Memory series: base \
         RSS 200 MB ±10%, white measurement noise sd 0.5 MB, rounded to 4 KiB pages. Thread \
         and FD series are integer staircases with short-lived extra threads/FDs (about one a \
         minute, +1..3 for 1–5 s).",
        lengths.join(", "),
        cfg.seeds
    );
    println!();
    println!(
        "Thresholds (`Thresholds::default()`, what soakprof judges with): RSS warn above {} \
         bytes/min, fail {} bytes/min (5 / 10 MB/min, MB = 10^6 B); threads fail {:.4}/min \
         ({}/h); FDs fail {:.4}/min ({}/h).",
        th.warn_growth_bytes_per_min,
        th.max_growth_bytes_per_min,
        th.max_thread_growth_per_min,
        th.max_thread_growth_per_min * 60.0,
        th.max_fd_growth_per_min,
        th.max_fd_growth_per_min * 60.0,
    );
    println!();
    println!(
        "Label: **leak** when the true growth rate (after its onset) ≥ the fail threshold; \
         **slow** rows grow below it and count as no-leak (a fail there is a false fail; \
         soakprof's warn column shows whether it warns); **no** rows do not grow."
    );
    println!();
    println!("Judges:");
    println!(
        "- **soakprof**: `analysis::judge_trend(t, y, kind, &Thresholds::default(), Warmup::Auto)` \
         with RSS, Threads or FDs; fail = `Verdict::Fail` (no verdict = pass)."
    );
    println!("- **(a) endpoints**: (last − first) / (t_last − t_first) above the fail threshold.");
    println!(
        "- **(b) Prometheus rule**: `deriv(x[1h]) * 3600 > {} for: 3h` (memory: the users' 10 MB/h \
         — 60× below soakprof's fail threshold, as the rule is written; threads/FDs: 10/h), \
         evaluated every 1 min over (T − 1 h, T]. The condition is only evaluated once a full \
         hour of data exists (\"growth over the last hour\"), so it cannot fire before 4 h: \
         never on the 15 min and 1 h runs. (Prometheus itself would take `deriv` of a partial \
         window at the start of a series and could fire from 3 h.) End verdict = firing at \
         the end of the run.",
        PROM_MEM_PER_H
    );
    println!();
    println!("Columns:");
    println!(
        "- **fail**: runs judged fail at the end of the full run, of n. On leak rows this is \
         the recall; on slow / no rows the false-fail rate."
    );
    println!("- **warn**: soakprof runs ending with verdict warn (not counted as fail).");
    let step_6h = cfg.prefix_step_s(6 * 3600) / 60;
    println!(
        "- **delay** (leak rows): judge evaluated on prefixes of the series every 1 min for \
         15 min and 1 h runs, every {step_6h} min for 6 h runs ((b) natively every minute); \
         delay = time from the leak onset (0, or 40% of the run for the late leak) to the \
         first prefix from which the verdict stays fail on every later prefix. Median over \
         the cell's runs, a miss counting as never (upper middle for an even n); \
         \"–\" = the median run never settles on fail."
    );
    println!();
    println!(
        "`--fail-fast` (the sequential test, `analysis::sequential`): simulated on every run as \
         the recorder does it. After each sample n (n = 1, 2, ..), `LookSchedule` decides \
         whether n is a look (first at n = 30, then each at 1.25× the previous n); look k runs \
         `certain_fail(first n samples, &Thresholds::default(), Warmup::Auto, k, {FAIL_FAST_ALPHA})` \
         (it checks RSS, USS, threads and FDs; the series is in the sample field of its \
         metric) and `Some(reason)` stops the run. Columns:"
    );
    println!(
        "- **stopped early**: runs the test stopped, of n. On no / slow rows every stop is a \
         false stop; the design bound is at most {:.0}% per run (α = {FAIL_FAST_ALPHA} spent \
         over all looks as α·6/(π²k²), for growth at or below the fail threshold). On the late \
         leak a stop before the onset (on flat data) is named.",
        FAIL_FAST_ALPHA * 100.0
    );
    println!(
        "- **onset → stop** (leak rows): time from the leak onset to the sample at which the \
         run stopped; median over the cell's runs, a run that is not stopped counting as \
         never (upper middle for an even n; \"–\" = the median run is not stopped). The test \
         asks for growth *certainly above* the threshold, so a leak right at it (linear \
         10 MB/min) is not expected to stop."
    );
    println!(
        "- **run saved**: share of the run's length after the stop, for the median run (0% \
         when it is not stopped); on the 6 h runs, the share of a 6 h soak `--fail-fast` saves."
    );
    println!(
        "- **stopped runs: stop at**: time since the start of the sample at which the stopped \
         runs stopped (median over those runs only; upper middle): on no / slow rows, when the \
         false stops happen."
    );
    println!();
}
