//! The tables: false regressions per no-change shape, recall per regression, the summary
//! per size against the naive judge, and the acceptance targets checked.

use std::collections::BTreeMap;

use soakprof::analysis::compare::{CompareLimits, Judgement};

use crate::shapes::Change;
use crate::{Case, LOAD_SHORT_S, PairResult, SHORT_S};

type Cells<'a> = BTreeMap<(usize, u64), Vec<&'a PairResult>>;

pub fn fmt_length(s: u64) -> String {
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", s / 60)
    }
}

fn rate(k: usize, n: usize) -> String {
    if n == 0 {
        "–".into()
    } else {
        format!("{:.2} ({k}/{n})", k as f64 / n as f64)
    }
}

/// `memory.steady ×3, cpu.mean ×1`, or `–`.
fn tally<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    if counts.is_empty() {
        return "–".into();
    }
    counts
        .iter()
        .map(|(id, n)| format!("{id} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets of issue 14's acceptance 2, with what was measured.
#[derive(Default)]
pub struct Acceptance {
    /// No-change pairs with any item regressed, of all no-change pairs.
    false_regressions: (usize, usize),
    leak_20: (usize, usize),
    steady_50: (usize, usize),
    latency_30_2min: (usize, usize),
    /// Lines naming each pair that missed a target, with the item reasons.
    misses: Vec<String>,
}

impl Acceptance {
    fn recall_met(c: (usize, usize)) -> bool {
        c.1 > 0 && c.0 as f64 >= 0.95 * c.1 as f64
    }

    pub fn all_met(&self) -> bool {
        self.false_regressions.0 == 0
            && Self::recall_met(self.leak_20)
            && Self::recall_met(self.steady_50)
            && Self::recall_met(self.latency_30_2min)
    }

    fn print(&self) {
        let mark = |ok: bool| if ok { "met" } else { "**missed**" };
        println!("## Acceptance (issue 14, 2)");
        println!();
        println!("| target | measured | |");
        println!("|---|---|---|");
        let (f, n) = self.false_regressions;
        println!(
            "| no false regression in any no-change pair (≥ 10 seeds per shape) | {f}/{n} pairs regressed | {} |",
            mark(f == 0)
        );
        for (name, c) in [
            (
                "recall ≥ 0.95, +20 MB/min leaks, 15 min at 1 Hz",
                self.leak_20,
            ),
            (
                "recall ≥ 0.95, +50% steady memory, 15 min at 1 Hz",
                self.steady_50,
            ),
            (
                "p95 +30% detected at 200 req/s within 2 min",
                self.latency_30_2min,
            ),
        ] {
            println!(
                "| {name} | {} | {} |",
                rate(c.0, c.1),
                mark(Self::recall_met(c))
            );
        }
        println!();
        if !self.misses.is_empty() {
            println!("Pairs that missed a target:");
            println!();
            for line in &self.misses {
                println!("- {line}");
            }
            println!();
        }
    }
}

fn print_no_change(cases: &[Case], cells: &Cells, acc: &mut Acceptance) {
    println!("## No-change pairs (the same build twice, different seeds)");
    println!();
    println!(
        "| shape | length | pairs | soakprof false regressions | items regressed | naive: final RSS +10% | naive: merged p95 +10% |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (c, case) in cases.iter().enumerate() {
        if case.change != Change::None {
            continue;
        }
        for &len in &case.lengths_s {
            let Some(runs) = cells.get(&(c, len)) else {
                continue;
            };
            let n = runs.len();
            let false_regressions = runs.iter().filter(|r| !r.regressed.is_empty()).count();
            acc.false_regressions.0 += false_regressions;
            acc.false_regressions.1 += n;
            for (pair, r) in runs.iter().enumerate() {
                for (id, reason) in &r.regressed {
                    acc.misses.push(format!(
                        "no change, {}, {}, pair {pair}: {id} regressed: {reason}",
                        case.shape,
                        fmt_length(len)
                    ));
                }
            }
            let items = tally(
                runs.iter()
                    .flat_map(|r| r.regressed.iter().map(|(id, _)| id.as_str())),
            );
            let naive_mem = runs.iter().filter(|r| r.naive_memory).count();
            let naive_p95 = if case.base.has_load() {
                rate(runs.iter().filter(|r| r.naive_p95 == Some(true)).count(), n)
            } else {
                "".into()
            };
            println!(
                "| {} | {} | {n} | {} | {items} | {} | {naive_p95} |",
                case.shape,
                fmt_length(len),
                rate(false_regressions, n),
                rate(naive_mem, n),
            );
        }
    }
    println!();
}

/// Whether the naive judge for this change flagged the pair.
fn naive_hit(case: &Case, r: &PairResult) -> bool {
    match case.change {
        Change::Latency { .. } => r.naive_p95 == Some(true),
        _ => r.naive_memory,
    }
}

fn detected(r: &PairResult) -> bool {
    matches!(r.right, Some((Judgement::Regressed, _)))
}

/// Note a regression pair that missed an acceptance target.
fn note_target(acc: &mut Acceptance, case: &Case, len: u64, runs: &[&PairResult]) {
    let slot = match (case.change, len) {
        (Change::Leak { mb_per_min: 20.0 }, SHORT_S) => &mut acc.leak_20,
        (Change::Steady { fraction: 0.5 }, SHORT_S) => &mut acc.steady_50,
        (Change::Latency { fraction: 0.3 }, LOAD_SHORT_S) => &mut acc.latency_30_2min,
        _ => return,
    };
    slot.1 += runs.len();
    for (pair, r) in runs.iter().enumerate() {
        if detected(r) {
            slot.0 += 1;
        } else {
            let why = r
                .right
                .as_ref()
                .map_or("item missing".to_string(), |(_, reason)| reason.clone());
            acc.misses.push(format!(
                "{}, {}, {}, pair {pair}: {why}",
                case.change_name(),
                case.shape,
                fmt_length(len)
            ));
        }
    }
}

fn print_changes(cases: &[Case], cells: &Cells, acc: &mut Acceptance) {
    println!("## Regression pairs (baseline: the shape; candidate: another seed plus the change)");
    println!();
    println!(
        "| change | vs limit | shape | length | pairs | soakprof: right item regressed | other items regressed (consequent) | other items regressed (wrong) | naive |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (c, case) in cases.iter().enumerate() {
        if case.change == Change::None {
            continue;
        }
        let right = case.right_item().unwrap_or_default();
        for &len in &case.lengths_s {
            let Some(runs) = cells.get(&(c, len)) else {
                continue;
            };
            let n = runs.len();
            note_target(acc, case, len, runs);
            let others = |consequent: bool| {
                tally(runs.iter().flat_map(|r| {
                    r.regressed
                        .iter()
                        .map(|(id, _)| id.as_str())
                        .filter(move |id| *id != right && case.consequent(id) == consequent)
                }))
            };
            println!(
                "| {} | {} | {} | {} | {n} | {} | {} | {} | {} |",
                case.change_name(),
                case.against_limit(),
                case.shape,
                fmt_length(len),
                rate(runs.iter().filter(|r| detected(r)).count(), n),
                others(true),
                others(false),
                rate(runs.iter().filter(|r| naive_hit(case, r)).count(), n),
            );
        }
    }
    println!();
}

/// Detected, pairs, pairs with a wrong item regressed, naive detected; against the limit.
type SummaryRow = (usize, usize, usize, usize, &'static str);

/// Recall per change and length over every shape, next to the naive judge's.
fn print_summary(cases: &[Case], cells: &Cells) {
    println!("## Recall per regression size (all shapes)");
    println!();
    println!(
        "| change | vs limit | length | pairs | soakprof recall | wrong items regressed | naive recall |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rows: BTreeMap<(String, u64), SummaryRow> = BTreeMap::new();
    let mut order = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        if case.change == Change::None {
            continue;
        }
        for &len in &case.lengths_s {
            let Some(runs) = cells.get(&(c, len)) else {
                continue;
            };
            let key = (case.change_name(), len);
            if !rows.contains_key(&key) {
                order.push(key.clone());
            }
            let row = rows
                .entry(key)
                .or_insert((0, 0, 0, 0, case.against_limit()));
            for r in runs {
                row.0 += usize::from(detected(r));
                row.1 += 1;
                row.2 += usize::from(r.regressed.iter().any(|(id, _)| !case.consequent(id)));
                row.3 += usize::from(naive_hit(case, r));
            }
        }
    }
    for key in order {
        let (hit, n, wrong, naive, vs) = rows[&key];
        println!(
            "| {} | {vs} | {} | {n} | {} | {} | {} |",
            key.0,
            fmt_length(key.1),
            rate(hit, n),
            rate(wrong, n),
            rate(naive, n)
        );
    }
    println!();
}

/// Print every table; returns the acceptance figures.
pub fn print_tables(cases: &[Case], cells: &Cells, quick: bool) -> Acceptance {
    let limits = CompareLimits::default();
    println!(
        "# soakprof compare: labelled pairs{}",
        if quick { " (--quick)" } else { "" }
    );
    println!();
    println!(
        "Default limits: growth +{} MB/min, steady/peak memory +{:.0}%, p95 +{:.0}% (and ≥ {} ms), \
         error rate +{:.1} pp. A false regression is a no-change pair with any item regressed. \
         Naive judge: candidate's final RSS (for latency: merged p95) over 10% above the baseline's.",
        limits.max_growth_increase_bytes_per_min / 1e6,
        limits.max_memory_increase * 100.0,
        limits.max_p95_increase * 100.0,
        limits.min_latency_change_ms,
        limits.max_error_rate_increase * 100.0
    );
    println!();
    let mut acc = Acceptance::default();
    print_no_change(cases, cells, &mut acc);
    print_summary(cases, cells);
    print_changes(cases, cells, &mut acc);
    acc.print();
    acc
}
