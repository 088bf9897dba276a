use super::*;
use crate::rng::SplitMix64;

fn plan(model: SearchModel, start: f64) -> SearchPlan {
    SearchPlan {
        model,
        start,
        tolerance: DEFAULT_TOLERANCE,
        step_s: 3.0,
        max_in_flight: Some(1000),
    }
}

fn gates() -> SearchGates {
    SearchGates {
        max_p95_ms: Some(100.0),
        max_error_rate: Some(0.01),
        ..SearchGates::default()
    }
}

/// A server with a hard ceiling: below it 5 ms (times `noise`), above it the queue grows
/// and p95 passes any gate; the open model completes at most the ceiling.
fn server(level: f64, ceiling: f64, noise: f64) -> StepObservation {
    let over = level > ceiling;
    let achieved = level.min(ceiling);
    let p95 = if over { 2_000.0 } else { 5.0 * noise };
    StepObservation {
        offered: level,
        requests: (level * 3.0) as u64,
        responses: (achieved * 3.0) as u64,
        achieved_rps: achieved,
        p95_ms: Some(p95),
        p99_ms: Some(p95 * 1.5),
        settled: true,
        driver_cpu_cores: Some(0.2),
        ..StepObservation::default()
    }
}

fn run(search: &mut Search, mut observe: impl FnMut(f64) -> StepObservation) -> usize {
    let mut steps = 0;
    while let Next::Step(level) = search.next() {
        search.observe(observe(level));
        steps += 1;
        assert!(steps < 100, "the search does not end");
    }
    steps
}

#[test]
fn finds_a_known_ceiling_within_the_tolerance() {
    for ceiling in [37.0, 500.0, 4_321.0, 90_000.0] {
        let mut search = Search::new(plan(SearchModel::Open, 10.0), gates());
        let steps = run(&mut search, |level| server(level, ceiling, 1.0));
        let result = summarize(&search, SearchEnd::Converged);
        let found = result.highest_passing.unwrap();
        let failing = result.first_failing.unwrap();
        assert!(
            found <= ceiling && failing > ceiling,
            "{ceiling}: {result:?}"
        );
        assert!(
            found >= ceiling / (1.0 + DEFAULT_TOLERANCE),
            "{ceiling}: {found}"
        );
        assert!(steps <= 25, "{ceiling}: {steps} steps");
        assert!(!result.lower_bound, "{result:?}");
        assert!(result.why.as_deref().unwrap().contains("p95"), "{result:?}");
        assert!(
            result.summary.starts_with("capacity "),
            "{}",
            result.summary
        );
    }
}

#[test]
fn noise_around_the_gate_still_lands_near_the_ceiling() {
    let mut rng = SplitMix64(7);
    for round in 0..20 {
        let ceiling = 800.0;
        let mut search = Search::new(plan(SearchModel::Open, 25.0), gates());
        // p95 wobbles ±30% below the ceiling; the gate is far above, so only the ceiling
        // fails; throughput near the ceiling is noisy by ±5%.
        run(&mut search, |level| {
            let mut obs = server(level, ceiling, 0.7 + 0.6 * rng.unit_f64());
            obs.achieved_rps *= 0.95 + 0.1 * rng.unit_f64();
            obs
        });
        let found = summarize(&search, SearchEnd::Converged)
            .highest_passing
            .unwrap();
        assert!(
            (found - ceiling).abs() <= 0.15 * ceiling,
            "round {round}: {found}"
        );
    }
}

#[test]
fn a_failing_start_walks_down_and_all_failing_says_so() {
    let mut search = Search::new(plan(SearchModel::Open, 1000.0), gates());
    run(&mut search, |level| server(level, 100.0, 1.0));
    let found = summarize(&search, SearchEnd::Converged);
    let h = found.highest_passing.unwrap();
    assert!((95.0..=100.0).contains(&h), "{found:?}");

    let mut search = Search::new(plan(SearchModel::Open, 10.0), gates());
    run(&mut search, |level| server(level, 0.1, 1.0));
    let none = summarize(&search, SearchEnd::Converged);
    assert_eq!(none.highest_passing, None);
    assert_eq!(none.first_failing, Some(MIN_OPEN_RPS));
    assert!(
        none.summary.starts_with("no level met the gates"),
        "{none:?}"
    );
}

#[test]
fn closed_model_levels_are_whole_users() {
    let mut search = Search::new(plan(SearchModel::Closed, 1.0), gates());
    // 7 users fit, 8 do not.
    run(&mut search, |users| {
        let mut obs = server(users, 7.0, 1.0);
        obs.achieved_rps = users * 100.0;
        obs
    });
    assert!(search.steps.iter().all(|(o, _)| o.offered.fract() == 0.0));
    let result = summarize(&search, SearchEnd::Converged);
    assert_eq!(
        (result.highest_passing, result.first_failing),
        (Some(7.0), Some(8.0))
    );
    assert_eq!(result.unit, "users");
}

#[test]
fn a_budget_that_ends_the_ramp_gives_a_lower_bound() {
    let mut search = Search::new(plan(SearchModel::Open, 10.0), gates());
    for _ in 0..3 {
        let Next::Step(level) = search.next() else {
            panic!("ended early")
        };
        search.observe(server(level, 10_000.0, 1.0));
    }
    let result = summarize(&search, SearchEnd::Budget);
    assert_eq!(result.highest_passing, Some(40.0));
    assert_eq!(result.first_failing, None);
    assert!(result.lower_bound, "{result:?}");
    assert!(result.summary.contains("time budget"), "{}", result.summary);
}

#[test]
fn drops_at_the_in_flight_cap_make_the_figure_a_lower_bound() {
    let mut plan = plan(SearchModel::Open, 10.0);
    plan.max_in_flight = Some(4);
    let mut search = Search::new(plan, gates());
    // The driver can keep 4 requests of 100 ms in flight: 40 rps; the server has room.
    run(&mut search, |level| {
        let mut obs = server(level, 1e9, 1.0);
        if level > 40.0 {
            obs.dropped = ((level - 40.0) * 3.0) as u64;
            obs.achieved_rps = 40.0;
        }
        obs
    });
    let result = summarize(&search, SearchEnd::Converged);
    let h = result.highest_passing.unwrap();
    assert!((38.0..=40.0).contains(&h), "{result:?}");
    assert!(result.lower_bound, "{result:?}");
    let why = result.lower_bound_why.unwrap();
    assert!(why.contains("in-flight cap (4)"), "{why}");
}

#[test]
fn a_busy_driver_is_a_lower_bound_too() {
    let mut search = Search::new(plan(SearchModel::Closed, 2.0), gates());
    run(&mut search, |users| {
        let mut obs = server(users, 1e9, 1.0);
        obs.driver_cpu_cores = Some(if users > 16.0 { 0.97 } else { 0.5 });
        obs
    });
    let result = summarize(&search, SearchEnd::Converged);
    assert_eq!(result.highest_passing, Some(16.0));
    assert!(
        result
            .lower_bound_why
            .unwrap()
            .contains("driver's thread was busy")
    );
}

#[test]
fn every_gate_says_why() {
    let all = SearchGates {
        max_p95_ms: Some(10.0),
        max_p99_ms: Some(20.0),
        max_error_rate: Some(0.01),
        mem_limit_bytes: Some(100_000_000),
        max_throttled_share: Some(0.2),
    };
    let obs = StepObservation {
        offered: 800.0,
        requests: 1000,
        responses: 900,
        errors: 100,
        achieved_rps: 500.0,
        p95_ms: Some(412.0),
        p99_ms: Some(900.0),
        mem_bytes: Some(200_000_000),
        throttled_share: Some(0.34),
        ..StepObservation::default()
    };
    let judged = judge_step(&obs, &all, &plan(SearchModel::Open, 1.0));
    assert!(!judged.passed);
    let text = judged.why.join("; ");
    for part in [
        "p95 412 ms > 10 ms",
        "p99 900 ms > 20 ms",
        "errors 10.0% > 1.0%",
        "memory 200 MB > 100 MB",
        "throttled 34% of periods > 20%",
        "throughput 500.0 rps < 90% of offered",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(judged.driver_limited.is_none());
}

#[test]
fn settling_and_step_length() {
    assert!(settled(Some(10.0), Some(12.0)));
    assert!(!settled(Some(10.0), Some(20.0)));
    assert!(settled(Some(0.2), Some(0.9)), "within the absolute slack");
    assert!(settled(None, None));
    assert!(!settled(Some(5.0), None));
    assert!(!step_may_end(2.9, 3.0, 1000, true));
    assert!(step_may_end(3.0, 3.0, 1000, true));
    assert!(!step_may_end(3.0, 3.0, 10, true), "too few responses");
    assert!(!step_may_end(4.0, 3.0, 1000, false), "not settled");
    assert!(
        step_may_end(6.0, 3.0, 10, false),
        "extended as far as it may be"
    );
    assert_eq!(step_hold_s(36.0), 3.0);
    assert_eq!(step_hold_s(1.0), MIN_STEP_S);
    assert_eq!(step_hold_s(1e6), MAX_STEP_S);
}

#[test]
fn the_report_round_trips_through_json() {
    let mut search = Search::new(plan(SearchModel::Open, 10.0), gates());
    run(&mut search, |level| server(level, 100.0, 1.0));
    let result = summarize(&search, SearchEnd::Converged);
    let text = serde_json::to_string(&result).unwrap();
    let back: CapacitySearch = serde_json::from_str(&text).unwrap();
    assert_eq!(back, result);
}

#[test]
fn a_recorded_search_can_be_rejudged_with_other_gates() {
    let mut search = Search::new(plan(SearchModel::Open, 10.0), gates());
    run(&mut search, |level| {
        let mut obs = server(level, 1000.0, 1.0);
        // Latency rises with the level: 1 ms per 10 rps.
        obs.p95_ms = Some(level / 10.0);
        obs
    });
    let recorded = summarize(&search, SearchEnd::Converged);
    let stricter = search.rejudged(SearchGates {
        max_p95_ms: Some(30.0),
        ..SearchGates::default()
    });
    let rejudged = summarize(&stricter, SearchEnd::Converged);
    assert!(
        rejudged.highest_passing.unwrap() < recorded.highest_passing.unwrap(),
        "{rejudged:?}"
    );
    assert!(rejudged.highest_passing.unwrap() <= 300.0);
    assert_eq!(rejudged.levels.len(), recorded.levels.len());
    assert!(!rejudged.summary.contains("noisy"), "{}", rejudged.summary);
}

#[test]
fn a_failure_below_the_answer_is_called_noise() {
    let mut search = Search::new(plan(SearchModel::Open, 100.0), gates());
    for (level, p95) in [(100.0, 5.0), (200.0, 150.0), (141.0, 5.0), (170.0, 5.0)] {
        let mut obs = server(level, 1e9, 1.0);
        obs.p95_ms = Some(p95);
        search.observe(obs);
    }
    let result = summarize(&search, SearchEnd::Budget);
    assert_eq!(result.highest_passing, Some(170.0));
    assert!(!result.summary.contains("noisy"), "{}", result.summary);
    let mut obs = server(120.0, 1e9, 1.0);
    obs.p95_ms = Some(300.0);
    search.observe(obs);
    let result = summarize(&search, SearchEnd::Budget);
    assert!(
        result
            .summary
            .contains("noisy: 120.0 rps below it failed too"),
        "{}",
        result.summary
    );
}
