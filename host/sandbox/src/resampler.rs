//! Resampler plugins: `steprl_core::Resampler` over the `resampler` world.

use async_trait::async_trait;
use steprl_core::{CallError, PlanRequest, Resampler, TaskStat};

use crate::bindings::v0_1_0::resampler::{Resampler as Bindings, ResamplerPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::kind::PluginKind;
use crate::limits::Call;
use crate::loaded::LoadedPlugin;
use crate::plugin::{Guarded, PluginOptions, single_interface_world};
use crate::sandbox::Sandbox;

single_interface_world!(
    ResamplerWorld,
    Bindings,
    ResamplerPre,
    PluginKind::Resampler,
    steprl_plugin_resample
);

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
        Ok(WasmResampler {
            guarded: Guarded::load(sandbox, plugin, options).await?,
        })
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
        self.guarded
            .call(Call::Plan, async |b: &Bindings, store| {
                let r = b.steprl_plugin_resample();
                let out = r.call_plan(store, round, &stats, request).await?;
                Ok(out.map_err(Into::into))
            })
            .await
    }
}
