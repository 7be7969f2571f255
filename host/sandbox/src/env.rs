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
use crate::kind::PluginKind;
use crate::limits::Call;
use crate::loaded::LoadedPlugin;
use crate::plugin::{Guarded, PluginOptions, Shared, World};
use crate::sandbox::Sandbox;

pub(crate) struct EnvWorld;

/// The export name of the optional `lifecycle` interface.
const LIFECYCLE: &str = "steprl:plugin/lifecycle@0.1.0";

/// The export name of the optional `servers` interface.
const SERVERS: &str = "steprl:plugin/servers@0.1.0";

/// `lifecycle.shutdown`'s type.
type ShutdownFunc = TypedFunc<(), (Result<(), wit::PluginError>,)>;

/// The functions of the `servers` interface.
#[derive(Clone, Copy)]
struct ServerFuncs {
    names: TypedFunc<(), (Vec<String>,)>,
    health: TypedFunc<(u32,), (Result<String, String>,)>,
    serve: TypedFunc<(u32,), (Result<(), wit::PluginError>,)>,
}

/// An environment instance's exports: the `env` interface, and `lifecycle.shutdown`
/// and the `servers` functions when the component has them.
pub(crate) struct EnvBindings {
    env: Bindings,
    shutdown: Option<ShutdownFunc>,
    servers: Option<ServerFuncs>,
}

/// The typed function `name` of the exported interface `iface`, if the interface is
/// exported (an error if it is but lacks the function or has it at another type).
fn optional_func<P, R>(
    instance: &wasmtime::component::Instance,
    store: &mut Store<HostState>,
    iface: &str,
    name: &str,
) -> wasmtime::Result<Option<TypedFunc<P, R>>>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let Some(index) = instance.get_export_index(&mut *store, None, iface) else {
        return Ok(None);
    };
    let func = instance
        .get_export_index(&mut *store, Some(&index), name)
        .ok_or_else(|| wasmtime::format_err!("{iface} is exported without `{name}`"))?;
    Ok(Some(
        instance
            .get_typed_func(&mut *store, func)
            .map_err(|e| e.context(format!("{iface}#{name}")))?,
    ))
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
        let shutdown = optional_func(&instance, store, LIFECYCLE, "shutdown")?;
        let servers = match optional_func(&instance, store, SERVERS, "names")? {
            None => None,
            Some(names) => Some(ServerFuncs {
                names,
                health: optional_func(&instance, store, SERVERS, "health")?
                    .expect("the interface is exported"),
                serve: optional_func(&instance, store, SERVERS, "serve")?
                    .expect("the interface is exported"),
            }),
        };
        Ok(EnvBindings {
            env,
            shutdown,
            servers,
        })
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
    /// The instance that read the tasks and spaces, kept for `lifecycle.shutdown` when
    /// the component exports it (so shutting down starts no new instance); `None` when
    /// it does not.
    lifecycle: Option<tokio::sync::Mutex<Guarded<EnvWorld>>>,
    /// `servers.names`, read at load (empty without the interface).
    servers: Vec<String>,
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
        let servers = probe
            .call(Call::Servers, async |b: &EnvBindings, store| {
                match b.servers {
                    None => Ok(Ok(Vec::new())),
                    Some(f) => Ok(Ok(f.names.call_async(store, ()).await?.0)),
                }
            })
            .await?;
        let lifecycle = plugin
            .exports
            .iter()
            .any(|e| e.name.starts_with(&format!("{LIFECYCLE}#")));
        Ok(WasmEnvironment {
            shared,
            info,
            next_index: AtomicU64::new(0),
            lifecycle: lifecycle.then(|| tokio::sync::Mutex::new(probe)),
            servers,
        })
    }

    /// How many instances of the component have been started so far (each ran `init`),
    /// the one that read the tasks at load included.
    pub fn instances_started(&self) -> u64 {
        self.shared.started.load(Ordering::Relaxed)
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
            served: None,
        })
    }
}

async fn read_info(g: &mut Guarded<EnvWorld>) -> Result<EnvInfo, CallError> {
    let tasks = g
        .call(Call::Tasks, async |b: &EnvBindings, store| {
            b.env().call_tasks(store).await.map(Ok)
        })
        .await?;
    let observation = g
        .call(Call::ObservationSpace, async |b: &EnvBindings, store| {
            b.env().call_observation_space(store).await.map(Ok)
        })
        .await?;
    let action = g
        .call(Call::ActionSpace, async |b: &EnvBindings, store| {
            b.env().call_action_space(store).await.map(Ok)
        })
        .await?;
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

    fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Calls `lifecycle.shutdown` when the component exports it, on the instance that
    /// read the tasks at load (a new one only if that instance was lost to a trap).
    async fn shutdown(&self) -> Result<(), CallError> {
        let Some(probe) = &self.lifecycle else {
            return Ok(());
        };
        let mut guarded = probe.lock().await;
        guarded
            .call(Call::Shutdown, async |b: &EnvBindings, store| {
                let func = b.shutdown.expect("the component exports lifecycle");
                let (out,) = func.call_async(store, ()).await?;
                Ok(out.map_err(Into::into))
            })
            .await
    }
}

/// One instance of an environment plugin; its episodes are guest resources.
pub struct WasmEnvInstance {
    guarded: Guarded<EnvWorld>,
    /// Episode id -> (instance generation it lives in, the guest resource).
    episodes: HashMap<u64, (u32, ResourceAny)>,
    next_episode: u64,
    /// The server `serve` named, and the instance generation it was told in (a
    /// replacement instance, after a trap, is told again before its first episode).
    served: Option<(u32, u32)>,
}

impl WasmEnvInstance {
    /// The resource of a live episode, or `EpisodeLost` if its instance was dropped.
    /// Tell the live instance which server it serves, unless it was told already.
    async fn tell_server(&mut self) -> Result<(), CallError> {
        let Some((index, told)) = self.served else {
            return Ok(());
        };
        self.guarded.live().await?;
        if told == self.guarded.generation {
            return Ok(());
        }
        self.guarded
            .call(Call::Serve, async |b: &EnvBindings, store| {
                match b.servers {
                    None => Ok(Err(steprl_core::GuestError::Unsupported(
                        "this component does not export the `servers` interface".into(),
                    ))),
                    Some(f) => Ok(f
                        .serve
                        .call_async(store, (index,))
                        .await?
                        .0
                        .map_err(Into::into)),
                }
            })
            .await?;
        self.served = Some((index, self.guarded.generation));
        Ok(())
    }

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
        self.tell_server().await?;
        let parts = wit::ObservationParts::from(parts);
        let res = self
            .guarded
            .call(Call::Start, async |b: &EnvBindings, store| {
                let e = b.env().episode();
                let out = e.call_start(store, task_id, seed, parts).await?;
                Ok(out.map_err(Into::into))
            })
            .await?;
        let id = self.next_episode;
        self.next_episode += 1;
        self.episodes.insert(id, (self.guarded.generation, res));
        Ok(EpisodeId(id))
    }

    async fn reset(&mut self, episode: EpisodeId) -> Result<Observation, CallError> {
        let res = self.resource(episode)?;
        let obs = self
            .guarded
            .call(Call::Reset, async |b: &EnvBindings, store| {
                let out = b.env().episode().call_reset(store, res).await?;
                Ok(out.map_err(Into::into))
            })
            .await?;
        Ok(obs.into())
    }

    async fn step(&mut self, episode: EpisodeId, action: &Action) -> Result<StepResult, CallError> {
        let res = self.resource(episode)?;
        let action = wit::Action::from(action);
        let r = self
            .guarded
            .call(Call::Step, async |b: &EnvBindings, store| {
                let out = b.env().episode().call_step(store, res, &action).await?;
                Ok(out.map_err(Into::into))
            })
            .await?;
        Ok(r.into())
    }

    async fn final_state(&mut self, episode: EpisodeId) -> Result<String, CallError> {
        let res = self.resource(episode)?;
        self.guarded
            .call(Call::FinalState, async |b: &EnvBindings, store| {
                let out = b.env().episode().call_final_state(store, res).await?;
                Ok(out.map_err(Into::into))
            })
            .await
    }

    async fn serve(&mut self, index: u32) -> Result<(), CallError> {
        // u32::MAX is never a generation an instance has, so the next start tells it.
        self.served = Some((index, u32::MAX));
        self.tell_server().await
    }

    async fn health(&mut self, index: u32) -> Result<String, String> {
        self.guarded
            .call(Call::Health, async |b: &EnvBindings, store| {
                match b.servers {
                    None => Ok(Ok(Ok(String::new()))),
                    Some(f) => Ok(Ok(f.health.call_async(store, (index,)).await?.0)),
                }
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
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
