//! The built-in profiles and the stage schedule: which stages a scenario runs, and the
//! level and stage at any moment of the run.

use std::time::Duration;

use super::{Level, Model, Profile, ScenarioError, Stage, level_key};

/// The run length a profile is shaped to when the run has no `--duration`.
const DEFAULT_PROFILE_RUN: Duration = Duration::from_secs(600);

/// The model and stages, from the file's level, stages and profile and the command line's
/// (`source` names the scenario in errors).
pub(super) fn schedule(
    source: &str,
    file_level: Option<Level>,
    file_stages: Option<(Model, Vec<Stage>)>,
    file_profile: Option<Profile>,
    cli_profile: Option<Profile>,
    cli: Option<Level>,
    run_duration: Option<Duration>,
) -> Result<(Model, Vec<Stage>), ScenarioError> {
    // Explicit stages run as written unless a profile on the command line replaces them.
    let stage_level = match (cli_profile, file_stages) {
        (None, Some((model, stages))) => return scale_stages(source, model, stages, cli),
        (_, stages) => stages.map(|(model, stages)| Level {
            model,
            value: peak_target(&stages),
        }),
    };
    let level = cli.or(file_level).or(stage_level).ok_or_else(|| {
        ScenarioError::usage(format!(
            "{source}: no load level: set `users` (closed model) or `rps` (open model) or \
             `[[stages]]` in the file, or pass --users N or --rps N"
        ))
    })?;
    let mut stages = match cli_profile.or(file_profile) {
        Some(profile) => profile_stages(profile, level.value, run_duration),
        None => vec![Stage {
            name: "start".to_string(),
            duration: Duration::ZERO,
            target: level.value,
        }],
    };
    round_users(level.model, &mut stages);
    Ok((level.model, stages))
}

/// Explicit stages, scaled so that the highest target becomes `--users`/`--rps` if given.
fn scale_stages(
    source: &str,
    model: Model,
    stages: Vec<Stage>,
    cli: Option<Level>,
) -> Result<(Model, Vec<Stage>), ScenarioError> {
    let Some(cli) = cli else {
        return Ok((model, stages));
    };
    if cli.model != model {
        return Err(ScenarioError::usage(format!(
            "{source}: --{} cannot scale `[[stages]]` that use `{}`; pass --{} instead",
            level_key(cli.model),
            level_key(model),
            level_key(model),
        )));
    }
    // check_stages made sure some target is above zero.
    let peak = peak_target(&stages);
    let mut scaled: Vec<Stage> = stages
        .into_iter()
        .map(|stage| Stage {
            target: stage.target * cli.value / peak,
            ..stage
        })
        .collect();
    round_users(model, &mut scaled);
    Ok((model, scaled))
}

pub(super) fn peak_target(stages: &[Stage]) -> f64 {
    stages.iter().map(|stage| stage.target).fold(0.0, f64::max)
}

/// Users are whole: round, and keep at least one wherever the level is above zero.
fn round_users(model: Model, stages: &mut [Stage]) {
    if model == Model::Closed {
        for stage in stages.iter_mut().filter(|stage| stage.target > 0.0) {
            stage.target = stage.target.round().max(1.0);
        }
    }
}

/// The stages of a built-in profile at level `level` (the peak: users or requests per
/// second), shaped to `run_duration` D (10 minutes when unknown):
///
/// - `smoke`: a tenth of the level, at least 1 (or the level itself if below 1), reached at
///   once and held for the whole run.
/// - `load`: ramp 0 → L over 10% of D, hold L for 80%, ramp L → 0 over the last 10%.
/// - `soak`: ramp 0 → L over 5% of D (at most 5 minutes), then hold L to the end.
/// - `stress`: four steps to 0.5 L, L, 1.5 L and 2 L, each ramping over 5% of D and
///   holding for 20% of D.
/// - `spike`: a baseline of 0.2 L from the start; at 40% of D ramp to L within 5 s (or 5%
///   of D if shorter), hold L for 1 minute (10% of D when D is under 10 minutes), drop back
///   to 0.2 L within 5 s and hold it to the end.
///
/// Targets are not rounded here; the closed model rounds users to whole numbers (at least
/// 1 wherever the level is above 0).
pub fn profile_stages(profile: Profile, level: f64, run_duration: Option<Duration>) -> Vec<Stage> {
    let run = run_duration
        .filter(|run| !run.is_zero())
        .unwrap_or(DEFAULT_PROFILE_RUN);
    let part = |fraction: f64| run.mul_f64(fraction);
    let stage = |name: &str, duration: Duration, target: f64| Stage {
        name: name.to_string(),
        duration,
        target,
    };
    match profile {
        Profile::Smoke => vec![stage(
            "smoke",
            Duration::ZERO,
            (level / 10.0).max(level.min(1.0)),
        )],
        Profile::Load => vec![
            stage("ramp up", part(0.1), level),
            stage("hold", part(0.8), level),
            stage("ramp down", part(0.1), 0.0),
        ],
        Profile::Soak => {
            let ramp = part(0.05).min(Duration::from_secs(300));
            vec![
                stage("ramp up", ramp, level),
                stage("soak", run.saturating_sub(ramp), level),
            ]
        }
        Profile::Stress => (1..=4_u32)
            .flat_map(|step| {
                let target = level * f64::from(step) / 2.0;
                let percent = step * 50;
                [
                    stage(&format!("ramp to {percent}%"), part(0.05), target),
                    stage(&format!("hold {percent}%"), part(0.2), target),
                ]
            })
            .collect(),
        Profile::Spike => {
            let edge = Duration::from_secs(5).min(part(0.05));
            let peak = if run < DEFAULT_PROFILE_RUN {
                part(0.1)
            } else {
                Duration::from_secs(60)
            };
            let baseline = 0.2 * level;
            let before = part(0.4);
            let after = run.saturating_sub(before + edge + peak + edge);
            vec![
                stage("start", Duration::ZERO, baseline),
                stage("baseline", before, baseline),
                stage("spike up", edge, level),
                stage("peak", peak, level),
                stage("spike down", edge, baseline),
                stage("recovery", after, baseline),
            ]
        }
    }
}

/// The level at `t` since the start: a linear ramp from the previous stage's target (0
/// before the first) to each stage's target over its duration; a zero-duration stage
/// jumps. After the last stage its target holds; no stages means no load.
pub fn level_at(stages: &[Stage], t: Duration) -> f64 {
    let mut start = Duration::ZERO;
    let mut from = 0.0;
    for stage in stages {
        let end = start.saturating_add(stage.duration);
        if t < end {
            let fraction = t.saturating_sub(start).as_secs_f64() / stage.duration.as_secs_f64();
            return from + (stage.target - from) * fraction;
        }
        from = stage.target;
        start = end;
    }
    from
}

/// The index of the stage running at `t` (the last one once all have ended); `None`
/// without stages. A zero-duration stage is over as soon as it starts.
pub fn stage_at(stages: &[Stage], t: Duration) -> Option<usize> {
    let mut end = Duration::ZERO;
    for (i, stage) in stages.iter().enumerate() {
        end = end.saturating_add(stage.duration);
        if t < end {
            return Some(i);
        }
    }
    stages.len().checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::*;
    use super::*;

    fn level(stages: &[Stage], t_s: f64) -> f64 {
        level_at(stages, Duration::from_secs_f64(t_s))
    }

    fn whole(stages: &[Stage]) -> bool {
        stages.iter().all(|stage| stage.target.fract() == 0.0)
    }

    #[test]
    fn smoke_profile() {
        let run = Some(secs(600));
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 50.0, run)),
            vec![5.0]
        );
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 5.0, run)),
            vec![1.0]
        );
        assert_eq!(
            targets(&profile_stages(Profile::Smoke, 0.5, run)),
            vec![0.5]
        );
        let mut stages = profile_stages(Profile::Smoke, 25.0, run);
        round_users(Model::Closed, &mut stages);
        assert_eq!(targets(&stages), vec![3.0]);
        assert_eq!(level(&stages, 0.0), 3.0);
    }

    #[test]
    fn load_profile() {
        let stages = profile_stages(Profile::Load, 100.0, Some(secs(1000)));
        assert_eq!(level(&stages, 0.0), 0.0);
        assert_eq!(level(&stages, 50.0), 50.0);
        assert_eq!(level(&stages, 100.0), 100.0);
        assert_eq!(level(&stages, 500.0), 100.0);
        assert_eq!(level(&stages, 950.0), 50.0);
        assert_eq!(level(&stages, 1000.0), 0.0);
        // Unknown run length: 10 minutes.
        let stages = profile_stages(Profile::Load, 100.0, None);
        assert_eq!(stages[0].duration, secs(60));
        assert_eq!(level(&stages, 30.0), 50.0);
    }

    #[test]
    fn soak_profile() {
        let stages = profile_stages(Profile::Soak, 10.0, Some(secs(3600)));
        assert_eq!(level(&stages, 90.0), 5.0);
        assert_eq!(level(&stages, 180.0), 10.0);
        assert_eq!(level(&stages, 99_999.0), 10.0);
        // Long runs ramp over 5 minutes at most.
        let stages = profile_stages(Profile::Soak, 10.0, Some(secs(24 * 3600)));
        assert_eq!(stages[0].duration, secs(300));
        assert_eq!(level(&stages, 150.0), 5.0);
    }

    #[test]
    fn stress_profile() {
        let stages = profile_stages(Profile::Stress, 100.0, Some(secs(1000)));
        assert_eq!(stages.len(), 8);
        assert_eq!(level(&stages, 25.0), 25.0);
        assert_eq!(level(&stages, 100.0), 50.0);
        assert_eq!(level(&stages, 350.0), 100.0);
        assert_eq!(level(&stages, 600.0), 150.0);
        assert_eq!(level(&stages, 999.0), 200.0);
        assert_eq!(stage_at(&stages, secs(999)), Some(7));
        let mut users = profile_stages(Profile::Stress, 3.0, None);
        round_users(Model::Closed, &mut users);
        assert_eq!(
            targets(&users),
            vec![2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 6.0, 6.0]
        );
    }

    #[test]
    fn spike_profile() {
        let stages = profile_stages(Profile::Spike, 100.0, Some(secs(3600)));
        assert_eq!(level(&stages, 0.0), 20.0);
        assert_eq!(level(&stages, 1439.0), 20.0);
        assert_eq!(level(&stages, 1445.0), 100.0);
        assert_eq!(level(&stages, 1505.0), 100.0);
        assert_eq!(level(&stages, 1510.0), 20.0);
        assert_eq!(level(&stages, 3600.0), 20.0);
        let total: Duration = stages.iter().map(|stage| stage.duration).sum();
        assert_eq!(total, secs(3600));
        // Short runs: the peak lasts 10% of the run.
        let stages = profile_stages(Profile::Spike, 100.0, Some(secs(300)));
        assert_eq!(stages[3].duration, secs(30));
        let mut users = profile_stages(Profile::Spike, 4.0, None);
        round_users(Model::Closed, &mut users);
        assert!(whole(&users));
        assert_eq!(targets(&users), vec![1.0, 1.0, 4.0, 4.0, 1.0, 1.0]);
    }

    #[test]
    fn closed_profiles_have_whole_users() {
        for profile in [
            Profile::Smoke,
            Profile::Load,
            Profile::Stress,
            Profile::Spike,
            Profile::Soak,
        ] {
            let text = format!("profile = \"{profile:?}\"\n{}", with_request(""))
                .to_lowercase()
                .replace("users = 10", "users = 7");
            let scenario = parse(&text).unwrap();
            assert!(whole(&scenario.stages), "{profile:?}");
            assert!(scenario.stages.iter().any(|stage| stage.target >= 1.0));
        }
    }

    #[test]
    fn ramps_and_stage_index() {
        let stages = [
            stage("up", 10, 10.0),
            stage("jump", 0, 20.0),
            stage("down", 10, 0.0),
        ];
        assert_eq!(level(&stages, 0.0), 0.0);
        assert_eq!(level(&stages, 5.0), 5.0);
        assert_eq!(level(&stages, 10.0), 20.0);
        assert_eq!(level(&stages, 15.0), 10.0);
        assert_eq!(level(&stages, 20.0), 0.0);
        assert_eq!(level(&stages, 100.0), 0.0);
        assert_eq!(stage_at(&stages, secs(0)), Some(0));
        assert_eq!(stage_at(&stages, secs(10)), Some(2));
        assert_eq!(stage_at(&stages, secs(25)), Some(2));
        assert_eq!(level(&[], 3.0), 0.0);
        assert_eq!(stage_at(&[], secs(3)), None);
        let constant = [stage("start", 0, 7.0)];
        assert_eq!(level(&constant, 0.0), 7.0);
        assert_eq!(stage_at(&constant, secs(0)), Some(0));
    }
}
