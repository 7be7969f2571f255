//! Resampler plugins: implement [`Resampler`], then `export_resampler!(YourType)`. The
//! component exports the `resampler-with-settings` world: `resample` and, for hosts that
//! send the run's STEP settings, `resample-settings` ([`Resampler::plan_with`]).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "resampler-with-settings",
        pub_export_macro: true,
        default_bindings_module: "steprl_plugin::resample::bindings",
        export_macro_name: "__export_resampler",
        runtime_path: "steprl_plugin::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

use std::marker::PhantomData;

use bindings::exports::steprl::plugin::resample as wit;
use bindings::exports::steprl::plugin::resample_settings as wit_settings;
pub use bindings::steprl::plugin::types::{PlanRequest, PluginError, StepSettings, TaskStat};

use crate::state::{self, NOT_INITIALIZED};

crate::failure::failure_into_plugin_error!(PluginError);

/// Decides which tasks get the next round's rollouts. Must be a pure function of its
/// inputs: the host owns the success-rate record, so runs replay exactly.
pub trait Resampler: Sized + 'static {
    /// Create the strategy from its config JSON (`{}` when none is given).
    fn init(config_json: &str) -> Result<Self, PluginError>;
    /// The task id of every rollout of `round`.
    fn plan(
        &self,
        round: u32,
        stats: &[TaskStat],
        request: PlanRequest,
    ) -> Result<Vec<String>, PluginError>;

    /// The plan with the host's STEP settings (`[algo.resample]`: s0 and `adaptive`).
    /// By default the settings are ignored and [`Resampler::plan`] answers; a strategy
    /// that reads them overrides this.
    fn plan_with(
        &self,
        round: u32,
        stats: &[TaskStat],
        request: PlanRequest,
        settings: StepSettings,
    ) -> Result<Vec<String>, PluginError> {
        let _ = settings;
        self.plan(round, stats, request)
    }
}

/// Glue from the generated bindings to a [`Resampler`]. Used by the export macro.
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: Resampler> wit::Guest for Adapter<T> {
    fn init(config_json: String) -> Result<(), PluginError> {
        state::set(T::init(&config_json)?);
        Ok(())
    }

    fn plan(
        round: u32,
        stats: Vec<TaskStat>,
        request: PlanRequest,
    ) -> Result<Vec<String>, PluginError> {
        let r = state::get::<T>().ok_or_else(|| PluginError::Internal(NOT_INITIALIZED.into()))?;
        r.plan(round, &stats, request)
    }
}

impl<T: Resampler> wit_settings::Guest for Adapter<T> {
    fn plan(
        round: u32,
        stats: Vec<TaskStat>,
        request: PlanRequest,
        settings: StepSettings,
    ) -> Result<Vec<String>, PluginError> {
        let r = state::get::<T>().ok_or_else(|| PluginError::Internal(NOT_INITIALIZED.into()))?;
        r.plan_with(round, &stats, request, settings)
    }
}

/// Export a [`Resampler`] implementation as this component's `resampler-with-settings`
/// world (which hosts load as a `resampler`).
#[macro_export]
macro_rules! export_resampler {
    ($t:ty) => {
        type __SteprlResamplerAdapter = $crate::resample::Adapter<$t>;
        $crate::resample::bindings::__export_resampler!(
            __SteprlResamplerAdapter with_types_in $crate::resample::bindings
        );
    };
}
