//! Environment plugins: `steprl_core::Environment` implemented over the `environment`
//! world, with episodes as WIT resources inside guarded instances.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use steprl_core::{
    Action, CallError, EnvInfo, EnvInstance, Environment, EpisodeId, Observation, ObservationParts,
    StepResult,
};
use wasmtime::Store;
use wasmtime::component::{InstancePre, ResourceAny, TypedFunc};

use crate::bindings::v0_1_0::environment::{Environment as Bindings, EnvironmentPre};
use crate::bindings::v0_1_0::types as wit;
use crate::error::LoadError;
use crate::host::{Clocks, HostState};
use crate::limits::Call;
use crate::plugin::{Guarded, LoadedPlugin, PluginKind, PluginOptions, Shared, World};
use crate::sandbox::Sandbox;

pub(crate) struct EnvWorld;

/// The export name of the optional `lifecycle` interface.
const LIFECYCLE: &str = "steprl:plugin/lifecycle@0.1.0";

/// `lifecycle.shutdown`'s type.
type ShutdownFunc = TypedFunc<(), (Result<(), wit::PluginError>,)>;

/// An environment instance's exports: the `env` interface, and `lifecycle.shutdown`
/// when the component has it.
pub(crate) struct EnvBindings {
    env: Bindings,
    shutdown: Option<ShutdownFunc>,
}

impl EnvBindings {
    fn env(&self) -> &crate::bindings::v0_1_0::environment::exports::steprl::plugin::env::Guest {
        self.env.steprl_plugin_env()
    }
}

impl World for EnvWorld {
    type Bindings = EnvBindings;
    type Pre = EnvironmentPre<HostState>;
    const KIND: PluginKind = PluginKind::Environment;
    const CLOCKS: Clocks = Clocks::Real;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        EnvironmentPre::new(pre)
    }

    async fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<EnvBindings> {
        let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
        let env = Bindings::new(&mut *store, &instance)?;
        let shutdown = match instance.get_export_index(&mut *store, None, LIFECYCLE) {
            None => None,
            Some(iface) => {
                let func = instance
                    .get_export_index(&mut *store, Some(&iface), "shutdown")
                    .ok_or_else(|| {
                        wasmtime::format_err!("{LIFECYCLE} is exported without `shutdown`")
                    })?;
                Some(
                    instance
                        .get_typed_func(&mut *store, func)
                        .map_err(|e| e.context(format!("{LIFECYCLE}#shutdown")))?,
                )
            }
        };
        Ok(EnvBindings { env, shutdown })
    }

    async fn init(
        b: &EnvBindings,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> wasmtime::Result<Result<(), steprl_core::GuestError>> {
        Ok(b.env()
            .call_init(store, config_json)
            .await?
            .map_err(Into::into))
    }
}

/// An environment plugin, ready to hand out instances.
pub struct WasmEnvironment {
    shared: Arc<Shared<EnvWorld>>,
    info: EnvInfo,
    next_index: AtomicU64,
    /// Whether the component exports `lifecycle`.
    lifecycle: bool,
}

impl WasmEnvironment {
    /// Type-check `plugin` as an environment, start one instance, call `init` and read
    /// its tasks and spaces.
    pub async fn new(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        let shared = Arc::new(Shared::<EnvWorld>::new(sandbox, plugin, options)?);
        let mut probe = Guarded::new(shared.clone(), u64::MAX);
        let info = read_info(&mut probe).await?;
        Ok(WasmEnvironment {
            shared,
            info,
            next_index: AtomicU64::new(0),
            lifecycle: plugin
                .exports
                .iter()
                .any(|e| e.name.starts_with(&format!("{LIFECYCLE}#"))),
        })
    }

    /// A concrete instance (the trait object form is [`Environment::instantiate`]).
    pub async fn instance(&self) -> Result<WasmEnvInstance, CallError> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let mut guarded = Guarded::new(self.shared.clone(), index);
        guarded.live().await?;
        Ok(WasmEnvInstance {
            guarded,
            episodes: HashMap::new(),
            next_episode: 0,
        })
    }
}

async fn read_info(g: &mut Guarded<EnvWorld>) -> Result<EnvInfo, CallError> {
    let live = g.begin(Call::Tasks).await?;
    let out = live.bindings.env().call_tasks(&mut live.store).await;
    let tasks = g.finish(Call::Tasks, out.map(Ok))?;
    let live = g.begin(Call::ObservationSpace).await?;
    let out = live
        .bindings
        .env()
        .call_observation_space(&mut live.store)
        .await;
    let observation = g.finish(Call::ObservationSpace, out.map(Ok))?;
    let live = g.begin(Call::ActionSpace).await?;
    let out = live.bindings.env().call_action_space(&mut live.store).await;
    let action = g.finish(Call::ActionSpace, out.map(Ok))?;
    Ok(EnvInfo::new(
        tasks.into_iter().map(Into::into).collect(),
        observation.into(),
        action.into(),
    ))
}

#[async_trait]
impl Environment for WasmEnvironment {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn info(&self) -> &EnvInfo {
        &self.info
    }

    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(self.instance().await?))
    }

    /// Calls `lifecycle.shutdown` on a fresh instance when the component exports it.
    async fn shutdown(&self) -> Result<(), CallError> {
        if !self.lifecycle {
            return Ok(());
        }
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let mut guarded = Guarded::new(self.shared.clone(), index);
        let live = guarded.begin(Call::Shutdown).await?;
        let func = live
            .bindings
            .shutdown
            .expect("the component exports lifecycle");
        let out = func
            .call_async(&mut live.store, ())
            .await
            .map(|(r,)| r.map_err(Into::into));
        guarded.finish(Call::Shutdown, out)
    }
}

/// One instance of an environment plugin; its episodes are guest resources.
pub struct WasmEnvInstance {
    guarded: Guarded<EnvWorld>,
    /// Episode id -> (instance generation it lives in, the guest resource).
    episodes: HashMap<u64, (u32, ResourceAny)>,
    next_episode: u64,
}

impl WasmEnvInstance {
    /// The resource of a live episode, or `EpisodeLost` if its instance was dropped.
    fn resource(&self, episode: EpisodeId) -> Result<ResourceAny, CallError> {
        match self.episodes.get(&episode.0) {
            Some((generation, res))
                if *generation == self.guarded.generation && self.guarded.is_live() =>
            {
                Ok(*res)
            }
            _ => Err(CallError::EpisodeLost {
                plugin: self.guarded.shared.name.to_string(),
                episode: episode.0,
            }),
        }
    }
}

#[async_trait]
impl EnvInstance for WasmEnvInstance {
    async fn start(
        &mut self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        let live = self.guarded.begin(Call::Start).await?;
        let out = live
            .bindings
            .env()
            .episode()
            .call_start(
                &mut live.store,
                task_id,
                seed,
                wit::ObservationParts::from(parts),
            )
            .await;
        let res = self
            .guarded
            .finish(Call::Start, out.map(|r| r.map_err(Into::into)))?;
        let id = self.next_episode;
        self.next_episode += 1;
        self.episodes.insert(id, (self.guarded.generation, res));
        Ok(EpisodeId(id))
    }

    async fn reset(&mut self, episode: EpisodeId) -> Result<Observation, CallError> {
        let res = self.resource(episode)?;
        let live = self.guarded.begin(Call::Reset).await?;
        let out = live
            .bindings
            .env()
            .episode()
            .call_reset(&mut live.store, res)
            .await;
        let obs = self
            .guarded
            .finish(Call::Reset, out.map(|r| r.map_err(Into::into)))?;
        Ok(obs.into())
    }

    async fn step(&mut self, episode: EpisodeId, action: &Action) -> Result<StepResult, CallError> {
        let res = self.resource(episode)?;
        let live = self.guarded.begin(Call::Step).await?;
        let out = live
            .bindings
            .env()
            .episode()
            .call_step(&mut live.store, res, &wit::Action::from(action))
            .await;
        let r = self
            .guarded
            .finish(Call::Step, out.map(|r| r.map_err(Into::into)))?;
        Ok(r.into())
    }

    async fn final_state(&mut self, episode: EpisodeId) -> Result<String, CallError> {
        let res = self.resource(episode)?;
        let live = self.guarded.begin(Call::FinalState).await?;
        let out = live
            .bindings
            .env()
            .episode()
            .call_final_state(&mut live.store, res)
            .await;
        self.guarded
            .finish(Call::FinalState, out.map(|r| r.map_err(Into::into)))
    }

    async fn close(&mut self, episode: EpisodeId) {
        let Ok(res) = self.resource(episode) else {
            self.episodes.remove(&episode.0);
            return;
        };
        self.episodes.remove(&episode.0);
        let Ok(live) = self.guarded.begin(Call::DropEpisode).await else {
            return;
        };
        if let Err(e) = res.resource_drop_async(&mut live.store).await {
            self.guarded.fail(Call::DropEpisode, e);
        }
    }
}
