//! Reward-checker plugins: implement [`RewardChecker`], then
//! `export_reward_checker!(YourType)`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "reward-checker",
        pub_export_macro: true,
        default_bindings_module: "steprl_plugin::check::bindings",
        export_macro_name: "__export_reward_checker",
        runtime_path: "steprl_plugin::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

use std::marker::PhantomData;

use bindings::exports::steprl::plugin::check as wit;
pub use bindings::steprl::plugin::types::{
    Action, PluginError, TaskInfo, TrajectorySummary, Verdict,
};

use crate::state::{self, NOT_INITIALIZED};

crate::failure::failure_into_plugin_error!(PluginError);

/// Judges finished episodes.
pub trait RewardChecker: Sized + 'static {
    /// Create the checker from its config JSON (`{}` when none is given).
    fn init(config_json: &str) -> Result<Self, PluginError>;
    /// Judge one finished episode of `task` from its summary and final-state JSON.
    fn check(
        &self,
        task: &TaskInfo,
        trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError>;
}

/// Whether the host is asking if this checker can judge the task rather than handing it
/// an episode: the *supports probe* sends the final state `{"steprl_probe":"supports"}`
/// (with an empty trajectory). Answer `Err(PluginError::Unsupported(reason))` for a task
/// the checker cannot judge (a metric it lacks) and anything else for one it can.
pub fn is_supports_probe(final_state_json: &str) -> bool {
    let compact: String = final_state_json
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    compact == r#"{"steprl_probe":"supports"}"#
}

/// Glue from the generated bindings to a [`RewardChecker`]. Used by the export macro.
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: RewardChecker> wit::Guest for Adapter<T> {
    fn init(config_json: String) -> Result<(), PluginError> {
        state::set(T::init(&config_json)?);
        Ok(())
    }

    fn check(
        task: TaskInfo,
        trajectory: TrajectorySummary,
        final_state_json: String,
    ) -> Result<Verdict, PluginError> {
        let checker =
            state::get::<T>().ok_or_else(|| PluginError::Internal(NOT_INITIALIZED.into()))?;
        checker.check(&task, &trajectory, &final_state_json)
    }
}

/// Export a [`RewardChecker`] implementation as this component's `reward-checker` world.
#[macro_export]
macro_rules! export_reward_checker {
    ($t:ty) => {
        type __SteprlRewardCheckerAdapter = $crate::check::Adapter<$t>;
        $crate::check::bindings::__export_reward_checker!(
            __SteprlRewardCheckerAdapter with_types_in $crate::check::bindings
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supports_probe_is_recognized() {
        assert!(is_supports_probe(r#"{"steprl_probe":"supports"}"#));
        assert!(is_supports_probe(r#"{ "steprl_probe": "supports" }"#));
        assert!(!is_supports_probe(r#"{"task_id": "t"}"#) && !is_supports_probe(""));
    }
}
