//! Resampler plugins: `steprl_core::Resampler` over the `resampler` world, planned
//! through the optional `resample-settings` interface (the host's STEP settings in the
//! request) when the component exports it, and through `resample.plan` otherwise.

use async_trait::async_trait;
use steprl_core::{CallError, PlanRequest, Resampler, TaskStat};
use wasmtime::Store;
use wasmtime::component::{InstancePre, TypedFunc};

use crate::bindings::v0_1_0::resampler::{Resampler as Bindings, ResamplerPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::host::{Clocks, HostState};
use crate::kind::PluginKind;
use crate::limits::Call;
use crate::loaded::LoadedPlugin;
use crate::plugin::{Guarded, PluginOptions, World};
use crate::sandbox::Sandbox;

/// The export name of the optional `resample-settings` interface.
pub(crate) const RESAMPLE_SETTINGS: &str = "steprl:plugin/resample-settings@0.1.0";

/// `resample-settings.plan`'s type.
type PlanWithFunc = TypedFunc<
    (u32, Vec<wit::TaskStat>, wit::PlanRequest, wit::StepSettings),
    (Result<Vec<String>, wit::PluginError>,),
>;

pub(crate) struct ResamplerWorld;

/// A resampler instance's exports: the `resample` interface, and
/// `resample-settings.plan` when the component has it.
pub(crate) struct ResamplerBindings {
    resample: Bindings,
    plan_with: Option<PlanWithFunc>,
}

impl World for ResamplerWorld {
    type Bindings = ResamplerBindings;
    type Pre = ResamplerPre<HostState>;
    const KIND: PluginKind = PluginKind::Resampler;
    const CLOCKS: Clocks = Clocks::Virtual;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        ResamplerPre::new(pre)
    }

    async fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<ResamplerBindings> {
        let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
        let resample = Bindings::new(&mut *store, &instance)?;
        let plan_with = match instance.get_export_index(&mut *store, None, RESAMPLE_SETTINGS) {
            None => None,
            Some(iface) => {
                let func = instance
                    .get_export_index(&mut *store, Some(&iface), "plan")
                    .ok_or_else(|| {
                        wasmtime::format_err!("{RESAMPLE_SETTINGS} is exported without `plan`")
                    })?;
                Some(
                    instance
                        .get_typed_func(&mut *store, func)
                        .map_err(|e| e.context(format!("{RESAMPLE_SETTINGS}#plan")))?,
                )
            }
        };
        Ok(ResamplerBindings {
            resample,
            plan_with,
        })
    }

    async fn init(
        b: &ResamplerBindings,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> wasmtime::Result<Result<(), steprl_core::GuestError>> {
        Ok(b.resample
            .steprl_plugin_resample()
            .call_init(store, config_json)
            .await?
            .map_err(Into::into))
    }
}

/// A resampler plugin instance (re-created after a trap).
pub struct WasmResampler {
    guarded: Guarded<ResamplerWorld>,
    reads_settings: bool,
}

impl WasmResampler {
    /// Type-check `plugin` as a resampler, instantiate it and call `init`.
    pub async fn new(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        let reads_settings = plugin
            .exports
            .iter()
            .any(|e| e.name.starts_with(&format!("{RESAMPLE_SETTINGS}#")));
        Ok(WasmResampler {
            guarded: Guarded::load(sandbox, plugin, options).await?,
            reads_settings,
        })
    }
}

#[async_trait]
impl Resampler for WasmResampler {
    fn name(&self) -> &str {
        &self.guarded.shared.name
    }

    fn reads_settings(&self) -> bool {
        self.reads_settings
    }

    async fn plan(
        &mut self,
        round: u32,
        stats: &[TaskStat],
        request: &PlanRequest,
    ) -> Result<Vec<String>, CallError> {
        let stats: Vec<wit::TaskStat> = stats.iter().map(Into::into).collect();
        let settings = wit::StepSettings::from(&request.settings);
        let request = wit::PlanRequest::from(request);
        self.guarded
            .call(Call::Plan, async |b: &ResamplerBindings, store| {
                let out = match b.plan_with {
                    Some(func) => {
                        func.call_async(&mut *store, (round, stats, request, settings))
                            .await?
                            .0
                    }
                    None => {
                        b.resample
                            .steprl_plugin_resample()
                            .call_plan(store, round, &stats, request)
                            .await?
                    }
                };
                Ok(out.map_err(Into::into))
            })
            .await
    }
}
