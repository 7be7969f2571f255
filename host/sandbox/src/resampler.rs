//! Resampler plugins: `steprl_core::Resampler` over the `resampler` world.

use std::sync::Arc;

use async_trait::async_trait;
use steprl_core::{CallError, PlanRequest, Resampler, TaskStat};
use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::bindings::v0_1_0::resampler::{Resampler as Bindings, ResamplerPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::host::{Clocks, HostState};
use crate::limits::Call;
use crate::plugin::{Guarded, LoadedPlugin, PluginKind, PluginOptions, Shared, World};
use crate::sandbox::Sandbox;

pub(crate) struct ResamplerWorld;

impl World for ResamplerWorld {
    type Bindings = Bindings;
    type Pre = ResamplerPre<HostState>;
    const KIND: PluginKind = PluginKind::Resampler;
    const CLOCKS: Clocks = Clocks::Virtual;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        ResamplerPre::new(pre)
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
        Ok(b.steprl_plugin_resample()
            .call_init(store, config_json)
            .await?
            .map_err(Into::into))
    }
}

/// A resampler plugin instance (re-created after a trap).
pub struct WasmResampler {
    guarded: Guarded<ResamplerWorld>,
}

impl WasmResampler {
    /// Type-check `plugin` as a resampler, instantiate it and call `init`.
    pub async fn new(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        let shared = Arc::new(Shared::<ResamplerWorld>::new(sandbox, plugin, options)?);
        let mut guarded = Guarded::new(shared, 0);
        guarded.live().await?;
        Ok(WasmResampler { guarded })
    }
}

#[async_trait]
impl Resampler for WasmResampler {
    fn name(&self) -> &str {
        &self.guarded.shared.name
    }

    async fn plan(
        &mut self,
        round: u32,
        stats: &[TaskStat],
        request: &PlanRequest,
    ) -> Result<Vec<String>, CallError> {
        let stats: Vec<wit::TaskStat> = stats.iter().map(Into::into).collect();
        let request = wit::PlanRequest::from(request);
        let live = self.guarded.begin(Call::Plan).await?;
        let out = live
            .bindings
            .steprl_plugin_resample()
            .call_plan(&mut live.store, round, &stats, request)
            .await;
        self.guarded
            .finish(Call::Plan, out.map(|r| r.map_err(Into::into)))
    }
}
