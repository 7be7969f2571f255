//! Environment plugins: implement [`Environment`] and [`Episode`], then
//! `export_environment!(YourType)`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "environment-with-servers",
        pub_export_macro: true,
        default_bindings_module: "steprl_plugin::env::bindings",
        export_macro_name: "__export_environment",
        runtime_path: "steprl_plugin::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

use std::cell::RefCell;
use std::marker::PhantomData;

use bindings::exports::steprl::plugin::env as wit;
pub use bindings::steprl::plugin::types::{
    Action, ActionSpec, Image, ImageShape, Observation, ObservationParts, ObservationSpec,
    PluginError, StepResult, TaskInfo,
};

use crate::state::{self, NOT_INITIALIZED};

crate::failure::failure_into_plugin_error!(PluginError);

/// A task suite. `init` creates it from the run config; it then lists tasks, declares
/// its spaces and starts episodes.
pub trait Environment: Sized + 'static {
    /// One running episode.
    type Episode: Episode;

    /// Create the environment from its config JSON (`{}` when none is given).
    fn init(config_json: &str) -> Result<Self, PluginError>;
    /// Every task offered.
    fn tasks(&self) -> Vec<TaskInfo>;
    /// What observations look like.
    fn observation_space(&self) -> ObservationSpec;
    /// What actions are accepted.
    fn action_space(&self) -> ActionSpec;
    /// Start an episode of `task_id` whose random parameters come from `seed`.
    fn start(
        &self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<Self::Episode, PluginError>;
    /// The host is done with this environment (its command is over; called on a fresh
    /// instance after `init`): release what lives outside the sandbox. Nothing by
    /// default.
    fn shutdown(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// The servers (VMs, emulators) this adapter drives, one episode at a time on each
    /// (see [`crate::servers::expand`] for a config's `servers` list). Empty, the
    /// default: no pool, and the host runs its `concurrency` lanes.
    fn servers(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether server `index` answers now: a short description, or why not. Give up
    /// within a few seconds (the host waits for it).
    fn health(&self, index: u32) -> Result<String, String> {
        let _ = index;
        Ok(String::new())
    }
    /// Episodes started from now on (in this instance) run on server `index`. The
    /// default accepts only 0 (an adapter without a pool).
    fn serve(&self, index: u32) -> Result<(), PluginError> {
        if index == 0 {
            Ok(())
        } else {
            Err(PluginError::Unsupported(format!(
                "server {index}: this environment runs no server pool"
            )))
        }
    }
}

/// One episode of one task.
pub trait Episode: 'static {
    /// Reset to the initial state and return the first observation.
    fn reset(&mut self) -> Result<Observation, PluginError>;
    /// Apply one action.
    fn step(&mut self, action: Action) -> Result<StepResult, PluginError>;
    /// The final state the reward checker reads, as JSON.
    fn final_state(&self) -> Result<String, PluginError>;
}

/// Glue from the generated bindings to an [`Environment`]. Used by the export macro.
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

/// The guest side of the `episode` resource.
#[doc(hidden)]
pub struct EpisodeAdapter<T: Environment>(RefCell<T::Episode>);

fn env<T: Environment>() -> Result<std::rc::Rc<T>, PluginError> {
    state::get::<T>().ok_or_else(|| PluginError::Internal(NOT_INITIALIZED.into()))
}

impl<T: Environment> wit::Guest for Adapter<T> {
    type Episode = EpisodeAdapter<T>;

    fn init(config_json: String) -> Result<(), PluginError> {
        state::set(T::init(&config_json)?);
        Ok(())
    }

    fn tasks() -> Vec<TaskInfo> {
        env::<T>().map(|e| e.tasks()).unwrap_or_default()
    }

    fn observation_space() -> ObservationSpec {
        env::<T>()
            .map(|e| e.observation_space())
            .expect(NOT_INITIALIZED)
    }

    fn action_space() -> ActionSpec {
        env::<T>().map(|e| e.action_space()).expect(NOT_INITIALIZED)
    }
}

impl<T: Environment> bindings::exports::steprl::plugin::lifecycle::Guest for Adapter<T> {
    fn shutdown() -> Result<(), PluginError> {
        env::<T>()?.shutdown()
    }
}

impl<T: Environment> bindings::exports::steprl::plugin::servers::Guest for Adapter<T> {
    fn names() -> Vec<String> {
        env::<T>().map(|e| e.servers()).unwrap_or_default()
    }

    fn health(index: u32) -> Result<String, String> {
        env::<T>().map_err(|e| format!("{e:?}"))?.health(index)
    }

    fn serve(index: u32) -> Result<(), PluginError> {
        env::<T>()?.serve(index)
    }
}

impl<T: Environment> wit::GuestEpisode for EpisodeAdapter<T> {
    fn start(
        task_id: String,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<wit::Episode, PluginError> {
        let ep = env::<T>()?.start(&task_id, seed, parts)?;
        Ok(wit::Episode::new(EpisodeAdapter::<T>(RefCell::new(ep))))
    }

    fn reset(&self) -> Result<Observation, PluginError> {
        self.0.borrow_mut().reset()
    }

    fn step(&self, action: Action) -> Result<StepResult, PluginError> {
        self.0.borrow_mut().step(action)
    }

    fn final_state(&self) -> Result<String, PluginError> {
        self.0.borrow().final_state()
    }
}

/// Export an [`Environment`] implementation as this component's `environment` world
/// (with the optional `lifecycle` and `servers` interfaces, so the host can call
/// [`Environment::shutdown`] and run one lane per [`Environment::servers`] entry).
#[macro_export]
macro_rules! export_environment {
    ($t:ty) => {
        type __SteprlEnvironmentAdapter = $crate::env::Adapter<$t>;
        $crate::env::bindings::__export_environment!(
            __SteprlEnvironmentAdapter with_types_in $crate::env::bindings
        );
    };
}
