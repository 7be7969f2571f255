//! The host-agnostic plugin traits. The sandbox implements them for Wasm components;
//! tests and benchmarks may implement them natively.

use async_trait::async_trait;

use crate::error::CallError;
use crate::types::{
    Action, EnvInfo, Observation, ObservationParts, PlanRequest, StepResult, TaskInfo, TaskStat,
    TrajectorySummary, Verdict,
};

/// Opaque handle of an episode inside one [`EnvInstance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpisodeId(pub u64);

/// A loaded environment plugin: what it declares, and a way to get instances.
#[async_trait]
pub trait Environment: Send + Sync {
    /// The plugin's name (used in every error and log line).
    fn name(&self) -> &str;
    /// Tasks and spaces, read once at load.
    fn info(&self) -> &EnvInfo;
    /// A fresh, initialized instance. Instances are independent; each can run many
    /// episodes, one call at a time.
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError>;
    /// The host is done with this environment (the command is over): let the plugin
    /// release what lives outside the sandbox. Nothing by default.
    async fn shutdown(&self) -> Result<(), CallError> {
        Ok(())
    }
    /// The servers (VMs, emulators) the plugin drives, one episode at a time on each
    /// (the WIT `servers` interface). Empty, by default, when it runs no pool: the
    /// rollout then runs `concurrency` lanes, not one per server.
    fn servers(&self) -> &[String] {
        &[]
    }
}

/// One environment instance, running any number of episodes.
#[async_trait]
pub trait EnvInstance: Send {
    /// Start an episode of `task_id` with `seed`; observations carry `parts`.
    async fn start(
        &mut self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<EpisodeId, CallError>;
    /// Reset the episode and return its first observation.
    async fn reset(&mut self, episode: EpisodeId) -> Result<Observation, CallError>;
    /// Apply one action.
    async fn step(&mut self, episode: EpisodeId, action: &Action) -> Result<StepResult, CallError>;
    /// The final state JSON the reward checker reads.
    async fn final_state(&mut self, episode: EpisodeId) -> Result<String, CallError>;
    /// Release the episode (no-op for lost episodes).
    async fn close(&mut self, episode: EpisodeId);
    /// Run this instance's episodes on server `index` of [`Environment::servers`] from
    /// now on. Nothing by default (an environment without a pool).
    async fn serve(&mut self, index: u32) -> Result<(), CallError> {
        let _ = index;
        Ok(())
    }
    /// Whether server `index` answers now: a short description, or why not. By
    /// default, every server answers (an environment without a pool has none to ask).
    async fn health(&mut self, index: u32) -> Result<String, String> {
        let _ = index;
        Ok(String::new())
    }
}

/// A reward checker: judges a finished episode.
#[async_trait]
pub trait RewardChecker: Send {
    /// The plugin's name.
    fn name(&self) -> &str;
    /// Judge one episode of `task` from its summary and final-state JSON.
    async fn check(
        &mut self,
        task: &TaskInfo,
        trajectory: &TrajectorySummary,
        final_state: &str,
    ) -> Result<Verdict, CallError>;
}

/// A resampling strategy: which tasks get the next round's rollouts.
#[async_trait]
pub trait Resampler: Send {
    /// The plugin's name.
    fn name(&self) -> &str;
    /// Whether its plans read the host's STEP settings (`request.settings`); a plugin
    /// that does not export `resample-settings` never sees them.
    fn reads_settings(&self) -> bool {
        true
    }
    /// The task id of every rollout of `round`.
    async fn plan(
        &mut self,
        round: u32,
        stats: &[TaskStat],
        request: &PlanRequest,
    ) -> Result<Vec<String>, CallError>;
}
