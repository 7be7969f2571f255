//! Rotary position embeddings in the Hugging Face convention (the two halves of each
//! head are rotated against each other, `rotate_half`), with Llama 3 frequency scaling or
//! per-frequency divisors. burn's `RotaryEncoding` rotates interleaved pairs instead and
//! precomputes a table for the whole context, so the tables here are built per call for
//! just the positions in use.

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::RopeScaling;

/// Inverse frequencies of one head (`head_dim / 2` values).
#[derive(Debug, Clone)]
pub struct Rope {
    inv_freq: Vec<f64>,
}

impl Rope {
    /// Frequencies for `head_dim`, base `theta` and optional scaling.
    pub fn new(head_dim: usize, theta: f64, scaling: Option<&RopeScaling>) -> Self {
        let half = head_dim / 2;
        // In f32, as transformers computes it (base ** (arange(0, d, 2) / d) in float32).
        let mut inv_freq: Vec<f64> = (0..half)
            .map(|i| (1.0f32 / (theta as f32).powf((2 * i) as f32 / head_dim as f32)) as f64)
            .collect();
        match scaling {
            None => {}
            Some(RopeScaling::Factors(f)) => {
                for (v, d) in inv_freq.iter_mut().zip(f) {
                    *v /= *d as f64;
                }
            }
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: old,
            }) => {
                let low_wavelen = old / low_freq_factor;
                let high_wavelen = old / high_freq_factor;
                for v in inv_freq.iter_mut() {
                    let wavelen = 2.0 * std::f64::consts::PI / *v;
                    if wavelen > low_wavelen {
                        *v /= factor;
                    } else if wavelen >= high_wavelen {
                        let smooth = (old / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        *v = (1.0 - smooth) * *v / factor + smooth * *v;
                    }
                }
            }
        }
        Rope { inv_freq }
    }

    /// The inverse frequencies.
    pub fn inv_freq(&self) -> &[f64] {
        &self.inv_freq
    }

    /// `(cos, sin)` tables `[1, 1, len, head_dim]` for positions `start..start + len`.
    pub fn tables(&self, start: usize, len: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let positions: Vec<usize> = (start..start + len).collect();
        self.tables_at(&positions, 1, len, device)
    }

    /// `(cos, sin)` tables `[batch, 1, len, head_dim]` for the given position of each
    /// token (`positions` row-major, `batch · len` of them): rows of a batch may sit at
    /// different positions.
    pub fn tables_at(
        &self,
        positions: &[usize],
        batch: usize,
        len: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>) {
        assert_eq!(positions.len(), batch * len, "one position per token");
        let dim = 2 * self.inv_freq.len();
        let mut cos = Vec::with_capacity(positions.len() * dim);
        let mut sin = Vec::with_capacity(positions.len() * dim);
        for &p in positions {
            // The same angles for both halves of the head.
            for _ in 0..2 {
                for f in &self.inv_freq {
                    // transformers computes the angle in f32: position × inv_freq(f32).
                    let angle = p as f32 * (*f as f32);
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let make =
            |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [batch, 1, len, dim]), device);
        (make(cos), make(sin))
    }
}

/// Rotate `x` `[batch, heads, len, head_dim]` by the tables from [`Rope::tables`].
pub fn apply(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_scaling_keeps_high_frequencies_and_divides_low_ones() {
        let plain = Rope::new(64, 500_000.0, None);
        let scaled = Rope::new(
            64,
            500_000.0,
            Some(&RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192.0,
            }),
        );
        let (p, s) = (plain.inv_freq(), scaled.inv_freq());
        assert_eq!(p[0], s[0], "the highest frequency is untouched");
        assert!(
            (s[31] - p[31] / 8.0).abs() < 1e-15,
            "the lowest is divided by the factor"
        );
        // In between, values lie between the two.
        assert!(
            p.iter()
                .zip(s)
                .all(|(a, b)| *b <= *a && *b >= *a / 8.0 - 1e-18)
        );
    }

    #[test]
    fn rotation_at_position_zero_is_identity_and_preserves_norm_elsewhere() {
        let device = Device::flex();
        let rope = Rope::new(4, 10_000.0, None);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0],
                [1, 1, 2, 4],
            ),
            &device,
        );
        let (c, s) = rope.tables(0, 2, &device);
        let y: Vec<f32> = apply(x, &c, &s).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(&y[..4], &[1.0, 2.0, 3.0, 4.0]);
        let n0: f32 = [1.0f32, 2.0, 3.0, 4.0].iter().map(|v| v * v).sum();
        let n1: f32 = y[4..].iter().map(|v| v * v).sum();
        assert!((n0 - n1).abs() < 1e-4);
        // Pair (x0, x2) rotated by angle 1 (position 1, inv_freq 1): (1, 3) → (cos1 - 3 sin1, sin1 + 3 cos1).
        assert!((y[4] - (1f32.cos() - 3.0 * 1f32.sin())).abs() < 1e-5);
        assert!((y[6] - (1f32.sin() + 3.0 * 1f32.cos())).abs() < 1e-5);
    }
}
