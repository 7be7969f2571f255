//! Choosing an action from log-probabilities, and the anchor key of an observation.

use steprl_core::SplitMix;

/// Sample from `logp` (masked entries are −∞) with `rng`, or take the argmax when
/// `greedy`. Ties in greedy mode go to the lowest index.
pub fn sample_action(logp: &[f32], greedy: bool, rng: &mut SplitMix) -> u32 {
    if greedy {
        let mut best = 0;
        for (i, l) in logp.iter().enumerate() {
            if *l > logp[best] {
                best = i;
            }
        }
        return best as u32;
    }
    let max = logp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = logp.iter().map(|l| f64::from(l - max).exp()).collect();
    rng.weighted(&w) as u32
}

/// A key identifying an observation (FNV-1a of its tokens): equal observations share
/// a key, so GiGPO can group steps at the same state.
pub fn anchor(tokens: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in tokens {
        for b in t.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_actions_are_never_sampled() {
        let mut rng = SplitMix::new(1, 0);
        let logp = [
            f32::NEG_INFINITY,
            (0.5f32).ln(),
            (0.5f32).ln(),
            f32::NEG_INFINITY,
        ];
        for _ in 0..1000 {
            let a = sample_action(&logp, false, &mut rng);
            assert!(a == 1 || a == 2);
        }
    }

    #[test]
    fn sampling_follows_the_probabilities_and_greedy_takes_the_mode() {
        let mut rng = SplitMix::new(2, 0);
        let logp = [(0.2f32).ln(), (0.8f32).ln()];
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sample_action(&logp, false, &mut rng) == 1)
            .count();
        assert!((ones as f64 / f64::from(n) - 0.8).abs() < 0.02);
        assert_eq!(sample_action(&logp, true, &mut rng), 1);
        assert_eq!(sample_action(&[0.0, 0.0], true, &mut rng), 0);
    }

    #[test]
    fn anchors_separate_observations() {
        assert_eq!(anchor(&[1, 2, 3]), anchor(&[1, 2, 3]));
        assert_ne!(anchor(&[1, 2, 3]), anchor(&[1, 3, 2]));
    }
}
