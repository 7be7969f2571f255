//! Checks of what a plugin declares and returns against the contract: spaces that make
//! sense, observations that fit them. Used by `steprl plugin check` and the rollout.

use std::collections::HashSet;

use crate::types::{EnvInfo, Observation, PlanRequest, Verdict};

/// Largest vocabulary an environment may declare.
pub const MAX_VOCAB: u32 = 1 << 20;
/// Largest `max-tokens`.
pub const MAX_TOKENS: u32 = 1 << 16;
/// Largest `feature-dim`.
pub const MAX_FEATURES: u32 = 1 << 20;
/// Largest image side, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Most discrete actions.
pub const MAX_ACTIONS: u32 = 1 << 16;

/// Problems with an environment's declarations (empty = fine): besides consistency,
/// every declared size has an upper bound (so nothing sized from it can overflow or
/// exhaust memory).
pub fn spec_problems(info: &EnvInfo) -> Vec<String> {
    let mut p = Vec::new();
    let o = &info.observation;
    for (key, value, max) in [
        ("vocab-size", o.vocab_size, MAX_VOCAB),
        ("max-tokens", o.max_tokens, MAX_TOKENS),
        ("feature-dim", o.feature_dim, MAX_FEATURES),
        ("discrete", Some(info.action.discrete), MAX_ACTIONS),
    ] {
        if let Some(v) = value
            && v > max
        {
            p.push(format!("{key} = {v} is above the limit of {max}"));
        }
    }
    if let Some(img) = o.image
        && (img.width == 0
            || img.height == 0
            || img.width > MAX_IMAGE_SIDE
            || img.height > MAX_IMAGE_SIDE
            || !(1..=4).contains(&img.channels))
    {
        p.push(format!(
            "image {}x{}x{}: sides must lie in 1..={MAX_IMAGE_SIDE} and channels in 1..=4",
            img.width, img.height, img.channels
        ));
    }
    if info.tasks.is_empty() {
        p.push("the environment offers no tasks".to_owned());
    }
    let mut seen = HashSet::new();
    for t in &info.tasks {
        if !seen.insert(t.id.as_str()) {
            p.push(format!("task id `{}` appears more than once", t.id));
        }
        if t.max_steps == 0 {
            p.push(format!("task `{}` has max-steps 0", t.id));
        }
        if !matches!(
            serde_json::from_str::<serde_json::Value>(&t.metadata_json),
            Ok(serde_json::Value::Object(_))
        ) {
            p.push(format!(
                "task `{}`: metadata-json is not a JSON object",
                t.id
            ));
        }
    }
    if let Some(v) = o.vocab_size {
        if !o.vocab.is_empty() && o.vocab.len() != v as usize {
            p.push(format!(
                "vocab lists {} tokens but vocab-size is {v}",
                o.vocab.len()
            ));
        }
        if v == 0 {
            p.push("vocab-size is 0".to_owned());
        }
    } else if !o.vocab.is_empty() || o.max_tokens.is_some() {
        p.push("vocab or max-tokens given without vocab-size".to_owned());
    }
    if !o.text && o.vocab_size.is_none() && o.feature_dim.is_none() && o.image.is_none() {
        p.push("observations declare no part (text, tokens, features or image)".to_owned());
    }
    let a = &info.action;
    if a.discrete == 0 && !a.text {
        p.push("the action space accepts neither discrete nor text actions".to_owned());
    }
    if !a.discrete_labels.is_empty() && a.discrete_labels.len() != a.discrete as usize {
        p.push(format!(
            "{} discrete labels for {} discrete actions",
            a.discrete_labels.len(),
            a.discrete
        ));
    }
    p
}

/// Problems with one observation under `info`'s declarations (empty = fine).
pub fn observation_problems(info: &EnvInfo, obs: &Observation) -> Vec<String> {
    let mut p = Vec::new();
    let spec = &info.observation;
    if obs.text.is_some() && !spec.text {
        p.push("text sent but the observation space declares no text".to_owned());
    }
    if let Some(tokens) = &obs.tokens {
        match spec.vocab_size {
            None => {
                p.push("tokens sent but the observation space declares no vocabulary".to_owned())
            }
            Some(v) => {
                if let Some((i, t)) = tokens.iter().enumerate().find(|(_, t)| **t >= v) {
                    p.push(format!(
                        "token {i} is id {t}, outside the vocabulary of {v}"
                    ));
                }
            }
        }
        if let Some(max) = spec.max_tokens
            && tokens.len() > max as usize
        {
            p.push(format!(
                "{} tokens, more than max-tokens {max}",
                tokens.len()
            ));
        }
    }
    if let Some(f) = &obs.features {
        match spec.feature_dim {
            None => p.push("features sent but the observation space declares none".to_owned()),
            Some(d) if f.len() != d as usize => {
                p.push(format!("{} features, but feature-dim is {d}", f.len()))
            }
            Some(_) => {}
        }
        if let Some((i, x)) = f.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            p.push(format!("feature {i} is {x}, not a finite number"));
        }
    }
    if let Some(img) = &obs.image {
        let expected = u128::from(img.width) * u128::from(img.height) * u128::from(img.channels);
        if img.data.len() as u128 != expected {
            p.push(format!(
                "image of {}x{}x{} carries {} bytes, expected {expected}",
                img.width,
                img.height,
                img.channels,
                img.data.len()
            ));
        }
        match spec.image {
            None => p.push("image sent but the observation space declares none".to_owned()),
            Some(s) if (s.width, s.height, s.channels) != (img.width, img.height, img.channels) => {
                p.push(format!(
                    "image is {}x{}x{}, declared {}x{}x{}",
                    img.width, img.height, img.channels, s.width, s.height, s.channels
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(mask) = &obs.action_mask {
        let n = info.action.discrete as usize;
        if mask.len() != n {
            p.push(format!(
                "action mask has {} entries for {n} discrete actions",
                mask.len()
            ));
        } else if n > 0 && !mask.iter().any(|&m| m) {
            p.push("action mask allows no action".to_owned());
        }
    }
    p
}

/// The largest final state the host accepts, in bytes (a larger one is a plugin
/// failure, not held in memory with every other episode's).
pub const MAX_FINAL_STATE_BYTES: usize = 16 << 20;
/// The longest verdict reason kept, in characters (a longer one is cut).
pub const MAX_REASON_CHARS: usize = 4096;

/// The problem with a final state of `len` bytes, if it is over the cap.
pub fn final_state_problem(len: usize) -> Option<String> {
    (len > MAX_FINAL_STATE_BYTES).then(|| {
        format!(
            "its final state is {:.1} MiB, above the {} MiB the host accepts",
            len as f64 / (1 << 20) as f64,
            MAX_FINAL_STATE_BYTES >> 20
        )
    })
}

/// A verdict's reason cut to [`MAX_REASON_CHARS`] characters, saying how much was cut.
pub fn capped_reason(reason: String) -> String {
    let n = reason.chars().count();
    if n <= MAX_REASON_CHARS {
        return reason;
    }
    let mut s: String = reason.chars().take(MAX_REASON_CHARS).collect();
    s.push_str(&format!("… ({} more characters cut)", n - MAX_REASON_CHARS));
    s
}

/// Problems with a reward checker's verdict (empty = fine): the score is a finite
/// number in [0, 1], a success scores above 0, and step rewards are finite — a NaN
/// score is a broken checker, never a training signal.
pub fn verdict_problems(v: &Verdict) -> Vec<String> {
    let mut p = Vec::new();
    if !(v.score.is_finite() && (0.0..=1.0).contains(&v.score)) {
        p.push(format!("score {} is not a number in [0, 1]", v.score));
    } else if v.success && v.score == 0.0 {
        p.push("success with score 0: a successful episode must score above 0".to_owned());
    }
    if let Some(rewards) = &v.step_rewards
        && let Some((i, r)) = rewards.iter().enumerate().find(|(_, r)| !r.is_finite())
    {
        p.push(format!("step reward {i} is {r}, not a finite number"));
    }
    p
}

/// The problem with a step's `info-json`, if any: it must be empty or a JSON object.
pub fn info_problem(info_json: &str) -> Option<String> {
    (!info_json.is_empty()
        && !matches!(
            serde_json::from_str::<serde_json::Value>(info_json),
            Ok(serde_json::Value::Object(_))
        ))
    .then(|| "info-json is neither empty nor a JSON object".to_owned())
}

/// Problems with a resampler's plan for `request` (empty = fine): it names at least one
/// rollout and at most the B × N requested.
pub fn plan_problems(plan: &[String], request: &PlanRequest) -> Vec<String> {
    let mut p = Vec::new();
    let cap = request.tasks_per_round as usize * request.copies_per_task as usize;
    if plan.is_empty() {
        p.push("the plan is empty".to_owned());
    }
    if plan.len() > cap {
        p.push(format!(
            "the plan names {} rollouts, more than the {cap} requested (tasks-per-round {} × copies-per-task {})",
            plan.len(),
            request.tasks_per_round,
            request.copies_per_task
        ));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ActionSpec, Image, ImageShape, ObservationSpec, TaskInfo};

    #[test]
    fn declared_sizes_have_upper_bounds() {
        let mut i = info();
        assert!(spec_problems(&i).is_empty(), "{:?}", spec_problems(&i));
        i.observation.vocab_size = Some(u32::MAX);
        i.observation.max_tokens = Some(u32::MAX);
        i.action.discrete = u32::MAX;
        i.observation.image = Some(ImageShape {
            width: u32::MAX,
            height: u32::MAX,
            channels: 3,
        });
        let p = spec_problems(&i).join("\n");
        for want in [
            "vocab-size = 4294967295 is above the limit of 1048576",
            "max-tokens = 4294967295 is above the limit of 65536",
            "discrete = 4294967295 is above the limit of 65536",
            "image 4294967295x4294967295x3: sides must lie in 1..=8192",
        ] {
            assert!(p.contains(want), "{want} missing from:\n{p}");
        }
        // An observation's image size is computed without overflow.
        let obs = Observation {
            image: Some(Image {
                width: u32::MAX,
                height: u32::MAX,
                channels: 3,
                data: vec![],
            }),
            ..Default::default()
        };
        assert!(observation_problems(&i, &obs)[0].contains("carries 0 bytes"));
    }

    #[test]
    fn verdicts_need_a_finite_score_in_the_unit_interval() {
        let v = |score: f32, rewards: Option<Vec<f32>>| Verdict {
            success: false,
            score,
            reason: String::new(),
            step_rewards: rewards,
        };
        assert!(verdict_problems(&v(0.0, None)).is_empty());
        assert!(verdict_problems(&v(1.0, Some(vec![0.5]))).is_empty());
        for bad in [f32::NAN, f32::INFINITY, -0.1, 2.0] {
            assert_eq!(
                verdict_problems(&v(bad, None)),
                [format!("score {bad} is not a number in [0, 1]")]
            );
        }
        assert_eq!(
            verdict_problems(&v(0.5, Some(vec![0.0, f32::NAN]))),
            ["step reward 1 is NaN, not a finite number"]
        );
        let success = |score: f32| Verdict {
            success: true,
            ..v(score, None)
        };
        assert!(verdict_problems(&success(1.0)).is_empty());
        assert!(verdict_problems(&success(0.3)).is_empty());
        assert_eq!(
            verdict_problems(&success(0.0)),
            ["success with score 0: a successful episode must score above 0"]
        );
    }

    #[test]
    fn step_info_is_a_json_object_or_empty() {
        assert_eq!(info_problem(""), None);
        assert_eq!(info_problem("{}"), None);
        assert_eq!(info_problem(r#"{"a": [1, 2]}"#), None);
        for bad in ["{not json", "[]", "3", "\"x\""] {
            assert_eq!(
                info_problem(bad).as_deref(),
                Some("info-json is neither empty nor a JSON object"),
                "{bad}"
            );
        }
    }

    #[test]
    fn plans_are_non_empty_and_no_bigger_than_requested() {
        let r = PlanRequest {
            tasks_per_round: 2,
            copies_per_task: 3,
            seed: 0,
            settings: crate::types::StepSettings::default(),
        };
        let plan = |n: usize| vec!["t".to_owned(); n];
        assert!(plan_problems(&plan(6), &r).is_empty());
        assert!(plan_problems(&plan(1), &r).is_empty());
        assert_eq!(plan_problems(&plan(0), &r), ["the plan is empty"]);
        assert_eq!(
            plan_problems(&plan(7), &r),
            [
                "the plan names 7 rollouts, more than the 6 requested (tasks-per-round 2 × copies-per-task 3)"
            ]
        );
    }

    fn info() -> EnvInfo {
        EnvInfo::new(
            vec![TaskInfo {
                id: "t".into(),
                suite: "s".into(),
                instruction: "i".into(),
                max_steps: 5,
                difficulty: Some(1),
                metadata_json: "{}".into(),
            }],
            ObservationSpec {
                text: true,
                vocab_size: Some(10),
                vocab: vec![],
                max_tokens: Some(4),
                feature_dim: Some(2),
                image: Some(ImageShape {
                    width: 2,
                    height: 1,
                    channels: 3,
                }),
            },
            ActionSpec {
                discrete: 3,
                discrete_labels: vec![],
                text: false,
            },
        )
    }

    #[test]
    fn a_good_spec_and_observation_pass() {
        let i = info();
        assert!(spec_problems(&i).is_empty(), "{:?}", spec_problems(&i));
        let o = Observation {
            text: Some("x".into()),
            tokens: Some(vec![0, 9]),
            features: Some(vec![0.5, -1.0]),
            image: Some(Image {
                width: 2,
                height: 1,
                channels: 3,
                data: vec![0; 6],
            }),
            action_mask: Some(vec![true, false, false]),
        };
        assert!(observation_problems(&i, &o).is_empty());
    }

    #[test]
    fn every_observation_violation_is_named() {
        let i = info();
        let o = Observation {
            text: None,
            tokens: Some(vec![1, 10, 2, 3, 4]),
            features: Some(vec![f32::NAN]),
            image: Some(Image {
                width: 2,
                height: 2,
                channels: 3,
                data: vec![0; 5],
            }),
            action_mask: Some(vec![true]),
        };
        let p = observation_problems(&i, &o).join("\n");
        for needle in [
            "outside the vocabulary of 10",
            "more than max-tokens 4",
            "1 features, but feature-dim is 2",
            "not a finite number",
            "carries 5 bytes",
            "declared 2x1x3",
            "1 entries for 3 discrete actions",
        ] {
            assert!(p.contains(needle), "missing `{needle}` in:\n{p}");
        }
        let stuck = Observation {
            action_mask: Some(vec![false; 3]),
            ..Default::default()
        };
        assert!(observation_problems(&i, &stuck)[0].contains("allows no action"));
    }

    #[test]
    fn spec_violations_are_named() {
        let mut i = info();
        i.tasks.push(i.tasks[0].clone());
        i.tasks[0].max_steps = 0;
        i.observation.vocab = vec!["a".into()];
        i.action.discrete_labels = vec!["x".into()];
        let p = spec_problems(&i).join("\n");
        for needle in [
            "appears more than once",
            "max-steps 0",
            "vocab lists 1 tokens but vocab-size is 10",
            "1 discrete labels for 3 discrete actions",
        ] {
            assert!(p.contains(needle), "missing `{needle}` in:\n{p}");
        }
    }

    #[test]
    fn oversize_final_states_and_reasons_are_bounded() {
        assert_eq!(final_state_problem(MAX_FINAL_STATE_BYTES), None);
        let p = final_state_problem(60 << 20).unwrap();
        assert_eq!(
            p,
            "its final state is 60.0 MiB, above the 16 MiB the host accepts"
        );
        assert_eq!(capped_reason("short".into()), "short");
        let long = capped_reason("é".repeat(MAX_REASON_CHARS + 10));
        assert!(
            long.ends_with("… (10 more characters cut)"),
            "{}",
            &long[long.len() - 40..]
        );
        assert_eq!(long.chars().filter(|c| *c == 'é').count(), MAX_REASON_CHARS);
    }
}
