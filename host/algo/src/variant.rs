//! The methods `steprl compare` runs, one enum: STEP, its two baselines and the paper's
//! three ablations, each a [`Method`] and which of STEP's parts it keeps (adaptive
//! resampling, step-level augmentation). The names are those of `--methods` and of
//! `compare.json`; everything that acts on a variant reads it from here.

use std::fmt;
use std::str::FromStr;

use crate::advantage::Method;

/// A method `steprl compare` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// STEP in full.
    Step,
    /// Trajectory-level GRPO, uniform sampling.
    Tgrpo,
    /// GiGPO, uniform sampling.
    Gigpo,
    /// STEP without adaptive resampling.
    StepNoResample,
    /// STEP without the step-level augmentation.
    StepNoAug,
    /// STEP without either.
    StepNoBoth,
}

impl Variant {
    /// Every variant, in the order `compare` lists them.
    pub const ALL: [Variant; 6] = [
        Variant::Step,
        Variant::Tgrpo,
        Variant::Gigpo,
        Variant::StepNoResample,
        Variant::StepNoAug,
        Variant::StepNoBoth,
    ];

    /// The paper's ablation table, full STEP first.
    pub const ABLATION: [Variant; 4] = [
        Variant::Step,
        Variant::StepNoResample,
        Variant::StepNoAug,
        Variant::StepNoBoth,
    ];

    /// Its name (`--methods`, `compare.json`).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Step => "step",
            Variant::Tgrpo => "tgrpo",
            Variant::Gigpo => "gigpo",
            Variant::StepNoResample => "step-no-resample",
            Variant::StepNoAug => "step-no-aug",
            Variant::StepNoBoth => "step-no-both",
        }
    }

    /// What differs from full STEP, for help text.
    pub fn description(self) -> &'static str {
        match self {
            Variant::Step => "STEP: adaptive resampling, success-weighted advantages, augmentation",
            Variant::Tgrpo => "trajectory-level GRPO, uniform sampling",
            Variant::Gigpo => "GiGPO (episode + anchor-state step advantages), uniform sampling",
            Variant::StepNoResample => "STEP without adaptive resampling",
            Variant::StepNoAug => "STEP without the step-level augmentation",
            Variant::StepNoBoth => "STEP without either",
        }
    }

    /// Its row label in the ablation table.
    pub fn ablation_label(self) -> &'static str {
        match self {
            Variant::Step => "STEP (full)",
            Variant::StepNoResample => "without adaptive sampling",
            Variant::StepNoAug => "without augmentation",
            Variant::StepNoBoth => "without both",
            Variant::Tgrpo | Variant::Gigpo => self.description(),
        }
    }

    /// The advantage estimator it trains with.
    pub fn method(self) -> Method {
        match self {
            Variant::Tgrpo => Method::Tgrpo,
            Variant::Gigpo => Method::Gigpo,
            Variant::Step | Variant::StepNoResample | Variant::StepNoAug | Variant::StepNoBoth => {
                Method::Step
            }
        }
    }

    /// Whether it asks for STEP's adaptive resampling (`[algo.resample] adaptive`).
    pub fn adaptive(self) -> bool {
        matches!(self, Variant::Step | Variant::StepNoAug)
    }

    /// Whether it keeps STEP's step-level augmentation.
    pub fn augment(self) -> bool {
        matches!(self, Variant::Step | Variant::StepNoResample)
    }

    /// Whether it resamples from STEP's task cache (so a cache-size plot means
    /// something): the variants with adaptive resampling.
    pub fn uses_cache(self) -> bool {
        self.adaptive()
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Variant::ALL.map(Variant::name).join(", ")
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown variant name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method `{0}` (valid: {names})", names = Variant::names())]
pub struct UnknownVariant(pub String);

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_ones_list_the_valid() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        let e = "stpe".parse::<Variant>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown method `stpe` (valid: step, tgrpo, gigpo, step-no-resample, step-no-aug, step-no-both)"
        );
    }

    #[test]
    fn each_variant_keeps_the_parts_of_step_its_name_says() {
        let table: Vec<(&str, Method, bool, bool)> = Variant::ALL
            .iter()
            .map(|v| (v.name(), v.method(), v.adaptive(), v.augment()))
            .collect();
        assert_eq!(
            table,
            [
                ("step", Method::Step, true, true),
                ("tgrpo", Method::Tgrpo, false, false),
                ("gigpo", Method::Gigpo, false, false),
                ("step-no-resample", Method::Step, false, true),
                ("step-no-aug", Method::Step, true, false),
                ("step-no-both", Method::Step, false, false),
            ]
        );
        let cache: Vec<&str> = Variant::ALL
            .into_iter()
            .filter(|v| v.uses_cache())
            .map(Variant::name)
            .collect();
        assert_eq!(cache, ["step", "step-no-aug"]);
    }
}
