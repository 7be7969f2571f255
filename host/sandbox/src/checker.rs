//! Reward-checker plugins: `steprl_core::RewardChecker` over the `reward-checker` world.

use std::sync::Arc;

use async_trait::async_trait;
use steprl_core::{CallError, RewardChecker, TaskInfo, TrajectorySummary, Verdict};
use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::bindings::v0_1_0::reward_checker::{RewardChecker as Bindings, RewardCheckerPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::host::{Clocks, HostState};
use crate::limits::Call;
use crate::plugin::{Guarded, LoadedPlugin, PluginKind, PluginOptions, Shared, World};
use crate::sandbox::Sandbox;

pub(crate) struct CheckerWorld;

impl World for CheckerWorld {
    type Bindings = Bindings;
    type Pre = RewardCheckerPre<HostState>;
    const KIND: PluginKind = PluginKind::RewardChecker;
    const CLOCKS: Clocks = Clocks::Virtual;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        RewardCheckerPre::new(pre)
    }

    async fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Bindings> {
        pre.instantiate_async(store).await
    }

    async fn init(
        b: &Bindings,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> wasmtime::Result<Result<(), steprl_core::GuestError>> {
        Ok(b.steprl_plugin_check()
            .call_init(store, config_json)
            .await?
            .map_err(Into::into))
    }
}

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
        let shared = Arc::new(Shared::<CheckerWorld>::new(sandbox, plugin, options)?);
        let mut guarded = Guarded::new(shared, 0);
        guarded.live().await?;
        Ok(WasmRewardChecker { guarded })
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
        let live = self.guarded.begin(Call::Check).await?;
        let out = live
            .bindings
            .steprl_plugin_check()
            .call_check(&mut live.store, &task, &trajectory, final_state)
            .await;
        let v = self
            .guarded
            .finish(Call::Check, out.map(|r| r.map_err(Into::into)))?;
        Ok(v.into())
    }
}
