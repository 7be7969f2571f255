//! The plugin kinds (one WIT world each) and the listing of a component's imports and
//! exports, for classifying a file and for `steprl plugin inspect`.

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentItem, Type};

/// The three plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// World `environment`, exports `steprl:plugin/env`.
    Environment,
    /// World `reward-checker`, exports `steprl:plugin/check`.
    RewardChecker,
    /// World `resampler`, exports `steprl:plugin/resample`.
    Resampler,
}

impl PluginKind {
    /// The WIT world name.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Environment => "environment",
            PluginKind::RewardChecker => "reward-checker",
            PluginKind::Resampler => "resampler",
        }
    }

    /// The exported interface's name without package or version.
    pub(crate) fn interface(self) -> &'static str {
        match self {
            PluginKind::Environment => "env",
            PluginKind::RewardChecker => "check",
            PluginKind::Resampler => "resample",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Environment => "an environment",
            PluginKind::RewardChecker => "a reward-checker",
            PluginKind::Resampler => "a resampler",
        })
    }
}

/// Names of everything a component imports.
pub(crate) fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// One exported function or resource, for `steprl plugin inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedItem {
    /// `interface#name`, e.g. `steprl:plugin/env@0.1.0#tasks`.
    pub name: String,
    /// `func(a, b) -> 1 result`, or `resource`.
    pub signature: String,
}

pub(crate) fn collect_items(
    engine: &Engine,
    prefix: &str,
    item: &ComponentItem,
    out: &mut Vec<ExportedItem>,
) {
    match item {
        ComponentItem::ComponentInstance(inst) => {
            for (name, ext) in inst.exports(engine) {
                collect_items(engine, &format!("{prefix}#{name}"), &ext.ty, out);
            }
        }
        ComponentItem::ComponentFunc(f) => {
            let params: Vec<String> = f
                .params()
                .map(|(n, t)| format!("{n}: {}", type_name(&t)))
                .collect();
            let results: Vec<String> = f.results().map(|t| type_name(&t)).collect();
            out.push(ExportedItem {
                name: prefix.to_owned(),
                signature: format!(
                    "func({}){}",
                    params.join(", "),
                    if results.is_empty() {
                        String::new()
                    } else {
                        format!(" -> {}", results.join(", "))
                    }
                ),
            });
        }
        ComponentItem::Resource(_) => out.push(ExportedItem {
            name: prefix.to_owned(),
            signature: "resource".to_owned(),
        }),
        _ => {}
    }
}

/// A short WIT-like name of a component value type (nominal types by kind only).
fn type_name(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => format!(
            "result<{}, …>",
            r.ok().map(|t| type_name(&t)).unwrap_or_else(|| "_".into())
        ),
        Type::Record(_) => "record".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}
