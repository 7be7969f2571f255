//! Host bindings of the WIT package `steprl:plugin@0.1.0` (one `bindgen!` per world)
//! and the conversions between the generated types and `steprl-core`'s plain types.
//!
//! Following Zed's extension host, each frozen WIT version gets its own module; when a
//! new version ships, the old module stays and converts *up* to the core types here.

use steprl_core as core;

/// Bindings of `steprl:plugin@0.1.0`.
pub(crate) mod v0_1_0 {
    /// The environment world; it also generates the shared `types` and `log` interfaces.
    pub(crate) mod environment {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.0",
            world: "environment",
            exports: { default: async },
        });
    }

    /// The reward-checker world.
    pub(crate) mod reward_checker {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.0",
            world: "reward-checker",
            exports: { default: async },
            with: {
                "steprl:plugin/types": super::environment::steprl::plugin::types,
                "steprl:plugin/log": super::environment::steprl::plugin::log,
            },
        });
    }

    /// The resampler world.
    pub(crate) mod resampler {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.0",
            world: "resampler",
            exports: { default: async },
            with: {
                "steprl:plugin/types": super::environment::steprl::plugin::types,
                "steprl:plugin/log": super::environment::steprl::plugin::log,
            },
        });
    }

    pub(crate) use environment::steprl::plugin::log;
    pub(crate) use environment::steprl::plugin::types;
}

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";

use v0_1_0::types as wit;

impl From<wit::PluginError> for core::GuestError {
    fn from(e: wit::PluginError) -> Self {
        use core::GuestError as G;
        match e {
            wit::PluginError::InvalidConfig(s) => G::InvalidConfig(s),
            wit::PluginError::UnknownTask(s) => G::UnknownTask(s),
            wit::PluginError::InvalidAction(s) => G::InvalidAction(s),
            wit::PluginError::EpisodeFinished => G::EpisodeFinished,
            wit::PluginError::InvalidInput(s) => G::InvalidInput(s),
            wit::PluginError::External(s) => G::External(s),
            wit::PluginError::Unsupported(s) => G::Unsupported(s),
            wit::PluginError::Internal(s) => G::Internal(s),
        }
    }
}

impl From<wit::TaskInfo> for core::TaskInfo {
    fn from(t: wit::TaskInfo) -> Self {
        core::TaskInfo {
            id: t.id,
            suite: t.suite,
            instruction: t.instruction,
            max_steps: t.max_steps,
            difficulty: t.difficulty,
            metadata_json: t.metadata_json,
        }
    }
}

impl From<&core::TaskInfo> for wit::TaskInfo {
    fn from(t: &core::TaskInfo) -> Self {
        wit::TaskInfo {
            id: t.id.clone(),
            suite: t.suite.clone(),
            instruction: t.instruction.clone(),
            max_steps: t.max_steps,
            difficulty: t.difficulty,
            metadata_json: t.metadata_json.clone(),
        }
    }
}

impl From<core::ObservationParts> for wit::ObservationParts {
    fn from(p: core::ObservationParts) -> Self {
        let mut f = wit::ObservationParts::empty();
        if p.text {
            f |= wit::ObservationParts::TEXT;
        }
        if p.tokens {
            f |= wit::ObservationParts::TOKENS;
        }
        if p.features {
            f |= wit::ObservationParts::FEATURES;
        }
        if p.image {
            f |= wit::ObservationParts::IMAGE;
        }
        f
    }
}

impl From<wit::Observation> for core::Observation {
    fn from(o: wit::Observation) -> Self {
        core::Observation {
            text: o.text,
            tokens: o.tokens,
            features: o.features,
            image: o.image.map(|i| core::Image {
                width: i.width,
                height: i.height,
                channels: i.channels,
                data: i.data,
            }),
            action_mask: o.action_mask,
        }
    }
}

impl From<&core::Action> for wit::Action {
    fn from(a: &core::Action) -> Self {
        match a {
            core::Action::Discrete(i) => wit::Action::Discrete(*i),
            core::Action::Text(s) => wit::Action::Text(s.clone()),
        }
    }
}

impl From<wit::StepResult> for core::StepResult {
    fn from(r: wit::StepResult) -> Self {
        core::StepResult {
            observation: r.observation.into(),
            reward: r.reward,
            done: r.done,
            truncated: r.truncated,
            info_json: r.info_json,
        }
    }
}

impl From<wit::ObservationSpec> for core::ObservationSpec {
    fn from(s: wit::ObservationSpec) -> Self {
        core::ObservationSpec {
            text: s.text,
            vocab_size: s.vocab_size,
            vocab: s.vocab,
            max_tokens: s.max_tokens,
            feature_dim: s.feature_dim,
            image: s.image.map(|i| core::ImageShape {
                width: i.width,
                height: i.height,
                channels: i.channels,
            }),
        }
    }
}

impl From<wit::ActionSpec> for core::ActionSpec {
    fn from(s: wit::ActionSpec) -> Self {
        core::ActionSpec {
            discrete: s.discrete,
            discrete_labels: s.discrete_labels,
            text: s.text,
        }
    }
}

impl From<&core::TrajectorySummary> for wit::TrajectorySummary {
    fn from(t: &core::TrajectorySummary) -> Self {
        wit::TrajectorySummary {
            seed: t.seed,
            actions: t.actions.iter().map(Into::into).collect(),
            rewards: t.rewards.clone(),
            done: t.done,
            truncated: t.truncated,
        }
    }
}

impl From<wit::Verdict> for core::Verdict {
    fn from(v: wit::Verdict) -> Self {
        core::Verdict {
            success: v.success,
            score: v.score,
            reason: v.reason,
            step_rewards: v.step_rewards,
        }
    }
}

impl From<&core::TaskStat> for wit::TaskStat {
    fn from(s: &core::TaskStat) -> Self {
        wit::TaskStat {
            id: s.id.clone(),
            attempts: s.attempts,
            successes: s.successes,
            smoothed_rate: s.smoothed_rate,
            last_round: s.last_round,
        }
    }
}

impl From<&core::StepSettings> for wit::StepSettings {
    fn from(s: &core::StepSettings) -> Self {
        wit::StepSettings {
            s0: s.s0,
            adaptive: s.adaptive,
        }
    }
}

impl From<&core::PlanRequest> for wit::PlanRequest {
    fn from(r: &core::PlanRequest) -> Self {
        wit::PlanRequest {
            tasks_per_round: r.tasks_per_round,
            copies_per_task: r.copies_per_task,
            seed: r.seed,
        }
    }
}
