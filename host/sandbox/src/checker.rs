//! Reward-checker plugins: `steprl_core::RewardChecker` over the `reward-checker` world.

use async_trait::async_trait;
use steprl_core::{CallError, RewardChecker, TaskInfo, TrajectorySummary, Verdict};

use crate::bindings::v0_1_0::reward_checker::{RewardChecker as Bindings, RewardCheckerPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::kind::PluginKind;
use crate::limits::Call;
use crate::loaded::LoadedPlugin;
use crate::plugin::{Guarded, PluginOptions, single_interface_world};
use crate::sandbox::Sandbox;

single_interface_world!(
    CheckerWorld,
    Bindings,
    RewardCheckerPre,
    PluginKind::RewardChecker,
    steprl_plugin_check
);

/// A reward-checker plugin instance (re-created after a trap).
pub struct WasmRewardChecker {
    guarded: Guarded<CheckerWorld>,
}

impl WasmRewardChecker {
    /// Type-check `plugin` as a reward checker, instantiate it and call `init`.
    pub async fn new(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        Ok(WasmRewardChecker {
            guarded: Guarded::load(sandbox, plugin, options).await?,
        })
    }
}

#[async_trait]
impl RewardChecker for WasmRewardChecker {
    fn name(&self) -> &str {
        &self.guarded.shared.name
    }

    async fn check(
        &mut self,
        task: &TaskInfo,
        trajectory: &TrajectorySummary,
        final_state: &str,
    ) -> Result<Verdict, CallError> {
        let task = wit::TaskInfo::from(task);
        let trajectory = wit::TrajectorySummary::from(trajectory);
        let v = self
            .guarded
            .call(Call::Check, async |b: &Bindings, store| {
                let r = b.steprl_plugin_check();
                let out = r.call_check(store, &task, &trajectory, final_state).await?;
                Ok(out.map_err(Into::into))
            })
            .await?;
        Ok(v.into())
    }
}
