//! [`Compressed`]: compression with a feedback rule, as a wrapper over any optimizer.
//!
//! The wrapper sits between the gradient and the optimizer (optax's lesson: compose
//! transforms instead of writing each combination): a step checks the gradient, lets the
//! [`Feedback`] rule compress it into a direction, hands that direction to the inner
//! [`Optimizer`] as its gradient, and only then commits the rule's memory, the generator and
//! the bit count. So EF21 with Adam is
//! `Compressed::wrap(Agm::adam(..), top_k, Ef21Feedback::new(init), seed)`, and paper 06's
//! CGD / EF / EF21 are the wrapper over SGD ([`super::Cgd`], [`super::Ef`], [`super::Ef21`]).

use gradus_core::validate::all_finite;
use gradus_core::{Error, Layout, Par, Result, Rng};
use gradus_optim::{NamedBuffer, Optimizer, OptimizerState, SCHEMA_VERSION, StepInfo};
use serde::{Deserialize, Serialize};

use super::compressor::Compressor;
use super::feedback::Feedback;
use super::feedback::rule::Rule;
use super::link::{Link, check_step};
use super::scalar::WireScalar;

/// Prefix of the inner optimizer's buffers inside the wrapper's checkpoint.
const INNER: &str = "inner.";

/// An optimizer `O` fed with gradients compressed by `C` under the feedback rule `F`.
///
/// The compressor's randomness comes from a generator seeded at construction (saved in
/// checkpoints). Steps allocate nothing. A rejected step (wrong length, non-finite gradient,
/// compressor refusing its input, inner optimizer refusing the direction) returns the error
/// and leaves parameters, memory, generator, counters and the inner optimizer unchanged.
#[derive(Debug, Clone)]
pub struct Compressed<T, O, C, F> {
    name: String,
    inner: O,
    link: Link<T, C>,
    feedback: F,
    t: u64,
    par: Par,
}

impl<T, O, C, F> Compressed<T, O, C, F>
where
    T: WireScalar,
    O: Optimizer<T>,
    C: Compressor<T>,
    F: Feedback<T>,
{
    /// `inner` fed through `compressor` under `feedback`, compressor generator seeded with
    /// `seed`. Named `"{rule}+{inner}"` in checkpoints (e.g. `"ef21+adam"`). Errors unless
    /// the compressor's dimension is the inner optimizer's parameter count.
    ///
    /// ```
    /// use gradus_core::Layout;
    /// use gradus_dist::compression::{Compressed, Ef21Feedback, Ef21Init, TopK};
    /// use gradus_optim::{Agm, Optimizer};
    ///
    /// // EF21 with Adam, sending the 2 largest of 8 coordinates per step.
    /// let adam = Agm::<f64>::adam(Layout::flat(8)?, 1e-2)?;
    /// let rule = Ef21Feedback::new(Ef21Init::Compressed);
    /// let mut opt = Compressed::wrap(adam, TopK::new(8, 2)?, rule, 0)?;
    /// let mut x = vec![1.0; 8];
    /// opt.step(&mut x, &[0.5, -3.0, 0.1, 2.0, 0.0, 0.2, -0.1, 1.0])?;
    /// assert_eq!(opt.name(), "ef21+adam");
    /// assert_eq!(opt.estimate(), &[0.0, -3.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    /// # Ok::<(), gradus_core::Error>(())
    /// ```
    pub fn wrap(inner: O, compressor: C, mut feedback: F, seed: u64) -> Result<Self> {
        let n = inner.layout().len();
        let link = Link::new(compressor, n, seed)?;
        feedback.allocate(n);
        let name = format!("{}+{}", F::NAME, inner.name());
        Ok(Compressed { name, inner, link, feedback, t: 0, par: Par::default() })
    }

    /// The same wrapper under another checkpoint name (the paper's methods keep theirs).
    pub(crate) fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Uses `par` for the wrapper's gradient check (results do not depend on it; the inner
    /// optimizer keeps its own setting).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The feedback rule (its memory included).
    pub fn feedback(&self) -> &F {
        &self.feedback
    }

    /// The rule, for its validated setters (memory length is fixed at construction).
    pub(crate) fn feedback_mut(&mut self) -> &mut F {
        &mut self.feedback
    }

    /// The compressor.
    pub fn compressor(&self) -> &C {
        &self.link.compressor
    }

    /// Bits sent so far.
    pub fn bits_sent(&self) -> u64 {
        self.link.bits
    }

    /// The last compressed message `C(.)` (CGD: `C(g)`; EF: `C(v)`; EF21: `C(g - d)`).
    pub fn last_message(&self) -> &[T] {
        &self.link.out
    }
}

/// The wrapper's part of a checkpoint's `config`.
#[derive(Debug, Serialize, Deserialize)]
struct Saved<S> {
    compressor: String,
    rng: Rng,
    bits: u64,
    feedback: S,
    inner: InnerHead,
}

/// The inner optimizer's checkpoint minus its buffers (stored as `inner.<name>`).
#[derive(Debug, Serialize, Deserialize)]
struct InnerHead {
    optimizer: String,
    step: u64,
    config: serde_json::Value,
}

impl<T, O, C, F> Optimizer<T> for Compressed<T, O, C, F>
where
    T: WireScalar,
    O: Optimizer<T>,
    C: Compressor<T>,
    F: Feedback<T>,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn layout(&self) -> &Layout {
        self.inner.layout()
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let grad_norm = check_step(self.par, self.inner.layout().len(), params, grads)?;
        let saved = self.link.rng.clone();
        let Link { compressor, rng, out, .. } = &mut self.link;
        let inner = match self
            .feedback
            .direction(grads, compressor, rng, out)
            .and_then(|(bits, direction)| Ok((bits, self.inner.step(params, direction)?)))
        {
            Ok(done) => done,
            Err(e) => {
                self.link.rng = saved;
                return Err(e);
            }
        };
        let (bits, inner) = inner;
        self.feedback.commit(&self.link.out);
        self.link.bits += bits;
        self.t += 1;
        let mut info = StepInfo::new(self.t, grad_norm, inner.clip_scale, self.lr());
        info.root_failures = inner.root_failures;
        Ok(info)
    }

    /// The rule's step size if it owns one (EF in step units), else the inner optimizer's.
    fn lr(&self) -> f64 {
        self.feedback.step_size().unwrap_or_else(|| self.inner.lr())
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        if self.feedback.step_size().is_some() {
            self.feedback.set_step_size(lr)
        } else {
            self.inner.set_lr(lr)
        }
    }

    fn steps_taken(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Result<OptimizerState> {
        let inner = self.inner.state()?;
        let saved = Saved {
            compressor: self.link.compressor.name(),
            rng: self.link.rng.clone(),
            bits: self.link.bits,
            feedback: self.feedback.settings(),
            inner: InnerHead { optimizer: inner.optimizer, step: inner.step, config: inner.config },
        };
        let mut buffers: Vec<NamedBuffer> = F::MEMORY
            .map(|(name, _)| NamedBuffer {
                name: name.into(),
                data: gradus_optim::BufferData::from_scalars(self.feedback.memory()),
            })
            .into_iter()
            .collect();
        buffers.extend(
            inner
                .buffers
                .into_iter()
                .map(|b| NamedBuffer { name: format!("{INNER}{}", b.name), ..b }),
        );
        Ok(OptimizerState {
            schema_version: SCHEMA_VERSION,
            optimizer: self.name.clone(),
            scalar: T::NAME.into(),
            layout: self.inner.layout().clone(),
            step: self.t,
            config: gradus_optim::config_value(&saved)?,
            buffers,
        })
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_header::<T>(&self.name, self.inner.layout())?;
        let saved: Saved<<F as Rule<T>>::Settings> =
            serde_json::from_value(state.config.clone())
                .map_err(|e| Error::corrupt("optimizer configuration", e.to_string()))?;
        let compressor = self.link.compressor.name();
        if saved.compressor != compressor {
            return Err(Error::mismatch("compressor", compressor, &saved.compressor));
        }
        self.feedback.check_settings(&saved.feedback)?;
        let memory_name = F::MEMORY.map(|(name, _)| name);
        let mut inner_buffers = Vec::new();
        for b in &state.buffers {
            match b.name.strip_prefix(INNER) {
                Some(name) => inner_buffers.push(NamedBuffer { name: name.into(), ..b.clone() }),
                None if Some(b.name.as_str()) == memory_name => {}
                None => {
                    let expected = memory_name.map_or("inner buffers".to_string(), |m| {
                        format!("`{m}` and inner buffers")
                    });
                    return Err(Error::mismatch("buffers", expected, &b.name));
                }
            }
        }
        let mut memory = Vec::new();
        if let Some((name, what)) = F::MEMORY {
            memory = vec![T::ZERO; self.feedback.memory().len()];
            state.buffer(name)?.copy_to(what, &mut memory)?;
            all_finite(what, &memory)?;
        }
        let inner = OptimizerState {
            schema_version: state.schema_version,
            optimizer: saved.inner.optimizer,
            scalar: state.scalar.clone(),
            layout: state.layout.clone(),
            step: saved.inner.step,
            config: saved.inner.config,
            buffers: inner_buffers,
        };
        // The last check: once the inner optimizer has taken its state, nothing can fail.
        self.inner.load_state(&inner)?;
        self.feedback.restore(saved.feedback, memory);
        (self.link.rng, self.link.bits, self.t) = (saved.rng, saved.bits, state.step);
        Ok(())
    }
}
