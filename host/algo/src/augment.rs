//! Step-level GRPO augmentation: for tasks with ŝ below s_aug, at every state of this
//! round's successful trajectories, G candidate actions are sampled from the current
//! policy (no environment call). Candidate j earns r_j = 1 if it equals the recorded
//! (successful) action, else 0; A_j = (r_j − mean r) / (std r + 1e-6). Groups whose
//! rewards are all equal carry no signal and are skipped. Samples carry weight λ_aug.
//! The paper leaves s_aug, G and the weighting open; the defaults here are s_aug = s0,
//! G = 8, λ_aug = 1 (`design.md` §5).

use serde::{Deserialize, Serialize};

/// Augmentation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentParams {
    /// Turn augmentation on.
    pub enabled: bool,
    /// Tasks with ŝ below this are augmented.
    pub s_aug: f64,
    /// Candidates per state (G).
    pub group_size: u32,
    /// Weight of augmentation samples (λ_aug).
    pub weight: f32,
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams {
            enabled: true,
            s_aug: 0.5,
            group_size: 8,
            weight: 1.0,
        }
    }
}

/// Whether a task with prior rate `rate` (or, if unseen, this round's rate
/// `round_rate`) is augmented.
pub fn eligible(params: &AugmentParams, rate: Option<f64>, round_rate: f64) -> bool {
    params.enabled && rate.unwrap_or(round_rate) < params.s_aug
}

/// Advantages of the candidates at one state from whether each matched the recorded
/// action, or `None` if all rewards are equal.
pub fn match_advantages(matched: &[bool]) -> Option<Vec<f32>> {
    let r: Vec<f64> = matched.iter().map(|&m| f64::from(u8::from(m))).collect();
    if r.iter().all(|x| *x == r[0]) {
        return None;
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    Some(
        r.iter()
            .map(|x| ((x - mean) / (std + 1e-6)) as f32)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_match_in_four() {
        // r = [1, 0, 0, 0]: mean 0.25, std sqrt(3)/4 ≈ 0.4330.
        let a = match_advantages(&[true, false, false, false]).unwrap();
        let std = 3f64.sqrt() / 4.0;
        assert!((f64::from(a[0]) - 0.75 / std).abs() < 1e-4);
        assert!((f64::from(a[1]) + 0.25 / std).abs() < 1e-4);
        assert!(
            (a.iter().sum::<f32>()).abs() < 1e-4,
            "advantages sum to zero"
        );
    }

    #[test]
    fn all_equal_groups_are_skipped() {
        assert_eq!(match_advantages(&[true; 3]), None, "all match");
        assert_eq!(match_advantages(&[false; 3]), None, "none match");
        assert_eq!(match_advantages(&[true]), None, "group of one");
    }

    #[test]
    fn eligibility_uses_the_prior_rate_or_this_rounds() {
        let p = AugmentParams::default();
        assert!(eligible(&p, Some(0.2), 0.9));
        assert!(
            !eligible(&p, Some(0.5), 0.0),
            "ŝ exactly s_aug is not below it"
        );
        assert!(eligible(&p, None, 0.25));
        assert!(!eligible(
            &AugmentParams {
                enabled: false,
                ..p
            },
            Some(0.0),
            0.0
        ));
    }
}
