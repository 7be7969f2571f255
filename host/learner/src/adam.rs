//! Adam with global gradient-norm clipping, written over burn's module mapper so its
//! state is ours to checkpoint exactly (burn's own optimizer restores state onto the
//! default device, which would open a GPU during a CPU run).

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Gradients, Tensor, TensorData};

/// Adam settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam's moment estimates, keyed by parameter id.
pub struct Adam {
    config: AdamConfig,
    steps: u64,
    moments: BTreeMap<u64, (Tensor<1>, Tensor<1>)>,
}

/// Why optimizer state could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("optimizer state is corrupt or from another model: {0}")]
pub struct AdamStateError(String);

impl Adam {
    /// Fresh state.
    pub fn new(config: AdamConfig) -> Self {
        Adam {
            config,
            steps: 0,
            moments: BTreeMap::new(),
        }
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update of `model` from `grads` with learning rate `lr`, after scaling the
    /// gradients so their global L2 norm is at most `max_norm`. Returns the model and the
    /// norm before clipping.
    pub fn step<M: Module>(
        &mut self,
        model: M,
        grads: &Gradients,
        lr: f64,
        max_norm: Option<f64>,
    ) -> (M, f64) {
        self.step_sum(model, std::slice::from_ref(grads), lr, max_norm)
    }

    /// [`Adam::step`] on the sum of several backward passes' gradients (micro-batches
    /// accumulated into one update).
    pub fn step_sum<M: Module>(
        &mut self,
        model: M,
        grads: &[Gradients],
        lr: f64,
        max_norm: Option<f64>,
    ) -> (M, f64) {
        steprl_core::failpoint::hit("update.step");
        let mut norm = SquaredNorm { grads, sum: 0.0 };
        model.visit(&mut norm);
        let total = norm.sum.sqrt();
        let scale = match max_norm {
            Some(m) if total > m => m / (total + 1e-12),
            _ => 1.0,
        };
        self.steps += 1;
        let t = self.steps as i32;
        let c = self.config;
        let mut update = Update {
            grads,
            moments: &mut self.moments,
            scale,
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            correction1: 1.0 - c.beta1.powi(t),
            correction2: 1.0 - c.beta2.powi(t),
        };
        (model.map(&mut update), total)
    }

    /// Serialize steps and moments (little-endian: u64 steps, u64 count, then per
    /// parameter: u64 id, u64 length, length × f32 for m, length × f32 for v).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(self.steps.to_le_bytes());
        out.extend((self.moments.len() as u64).to_le_bytes());
        for (id, (m, v)) in &self.moments {
            let m: Vec<f32> = m.clone().into_data().try_into_vec().expect("f32 moments");
            let v: Vec<f32> = v.clone().into_data().try_into_vec().expect("f32 moments");
            out.extend(id.to_le_bytes());
            out.extend((m.len() as u64).to_le_bytes());
            for x in m.iter().chain(&v) {
                out.extend(x.to_le_bytes());
            }
        }
        out
    }

    /// Restore what [`Adam::to_bytes`] wrote, placing the moments on `device`.
    pub fn from_bytes(
        config: AdamConfig,
        bytes: &[u8],
        device: &Device,
    ) -> Result<Self, AdamStateError> {
        let mut r = Reader(bytes);
        let steps = r.u64()?;
        let n = r.u64()?;
        let mut moments = BTreeMap::new();
        for _ in 0..n {
            let id = r.u64()?;
            let len = r.u64()? as usize;
            let m = r.f32s(len)?;
            let v = r.f32s(len)?;
            moments.insert(
                id,
                (
                    Tensor::from_data(TensorData::new(m, [len]), device),
                    Tensor::from_data(TensorData::new(v, [len]), device),
                ),
            );
        }
        if !r.0.is_empty() {
            return Err(AdamStateError(format!("{} trailing bytes", r.0.len())));
        }
        Ok(Adam {
            config,
            steps,
            moments,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], AdamStateError> {
        if self.0.len() < n {
            return Err(AdamStateError("truncated".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, AdamStateError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, AdamStateError> {
        let b = self.take(
            n.checked_mul(4)
                .ok_or_else(|| AdamStateError("size overflow".into()))?,
        )?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

/// The gradient of `tensor` summed over `grads` (`None` when no pass reached it).
fn summed_grad<const D: usize>(tensor: &Tensor<D>, grads: &[Gradients]) -> Option<Tensor<D>> {
    grads
        .iter()
        .filter_map(|g| tensor.grad(g))
        .reduce(|a, b| a + b)
}

struct SquaredNorm<'a> {
    grads: &'a [Gradients],
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = summed_grad(&param.val(), self.grads) {
            self.sum += f64::from(g.square().sum().into_scalar::<f32>());
        }
    }
}

struct Update<'a> {
    grads: &'a [Gradients],
    moments: &'a mut BTreeMap<u64, (Tensor<1>, Tensor<1>)>,
    scale: f64,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    correction1: f64,
    correction2: f64,
}

impl ModuleMapper for Update<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = summed_grad(&tensor, self.grads) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let require_grad = tensor.is_require_grad();
        let w = tensor.inner();
        let g: Tensor<1> = grad.reshape([n]).mul_scalar(self.scale);
        let (m, v) = self
            .moments
            .remove(&id.val())
            .unwrap_or_else(|| (g.zeros_like(), g.zeros_like()));
        let m = m.mul_scalar(self.beta1) + g.clone().mul_scalar(1.0 - self.beta1);
        let v = v.mul_scalar(self.beta2) + g.square().mul_scalar(1.0 - self.beta2);
        let step = m
            .clone()
            .div_scalar(self.correction1)
            .div(
                v.clone()
                    .div_scalar(self.correction2)
                    .sqrt()
                    .add_scalar(self.eps),
            )
            .mul_scalar(self.lr);
        self.moments.insert(id.val(), (m, v));
        let mut updated = (w - step.reshape(dims)).autodiff();
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{PolicyConfig, PolicyNet, Spaces};
    use burn::tensor::{Int, activation::log_softmax};

    fn setup() -> (PolicyNet, Device) {
        let device = Device::flex().autodiff();
        let net = PolicyConfig {
            embed_dim: 4,
            hidden: 8,
            layers: 1,
            ..PolicyConfig::default()
        }
        .init(
            &Spaces {
                input_vocab: 6,
                context_len: 2,
                actions: 3,
            },
            &device,
            1,
        );
        (net, device)
    }

    fn logp0(net: &PolicyNet, device: &Device) -> Tensor<1> {
        let x: Tensor<2, Int> = Tensor::from_data(TensorData::new(vec![1i32, 2], [1, 2]), device);
        log_softmax(net.forward(x), 1)
            .slice([0..1, 0..1])
            .reshape([1])
    }

    #[test]
    fn a_step_raises_the_objective_and_state_round_trips() {
        let (mut net, device) = setup();
        let mut adam = Adam::new(AdamConfig::default());
        let before = logp0(&net.valid(), &device.clone().without_autodiff()).into_scalar::<f32>();
        for _ in 0..5 {
            let loss = logp0(&net, &device).neg();
            let grads = loss.backward();
            let (n, norm) = adam.step(net, &grads, 0.05, Some(1.0));
            assert!(norm > 0.0);
            net = n;
        }
        let after = logp0(&net.valid(), &device.clone().without_autodiff()).into_scalar::<f32>();
        assert!(
            after > before,
            "log-prob of action 0 should rise: {before} -> {after}"
        );
        let bytes = adam.to_bytes();
        let back = Adam::from_bytes(
            AdamConfig::default(),
            &bytes,
            &device.clone().without_autodiff(),
        )
        .unwrap();
        assert_eq!(back.steps(), 5);
        assert_eq!(back.to_bytes(), bytes);
        assert!(
            Adam::from_bytes(AdamConfig::default(), &bytes[..bytes.len() - 3], &device).is_err()
        );
    }

    fn first_moment_norm(adam: &Adam) -> f64 {
        adam.moments
            .values()
            .map(|(m, _)| f64::from(m.clone().square().sum().into_scalar::<f32>()))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn clipping_scales_the_gradient_to_the_global_norm() {
        // After one step m = (1 − β1) · g_clipped, so ‖m‖ = 0.1 · min(‖g‖, max_norm).
        let (net, device) = setup();
        let grads = logp0(&net, &device).mul_scalar(1000.0).backward();
        let mut clipped = Adam::new(AdamConfig::default());
        let (_, norm) = clipped.step(net.clone(), &grads, 0.0, Some(1.0));
        assert!(
            norm > 1.0,
            "the reported norm is the one before clipping: {norm}"
        );
        assert!((first_moment_norm(&clipped) - 0.1).abs() < 1e-4);
        let mut free = Adam::new(AdamConfig::default());
        free.step(net, &grads, 0.0, None);
        assert!((first_moment_norm(&free) - 0.1 * norm).abs() < 1e-3 * norm);
    }
}
