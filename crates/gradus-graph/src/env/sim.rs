//! The simulated environment: graphs answer simulated questions, call by call.
//!
//! **Calls.** A question draws a shared difficulty `z ~ N(0, 1)`, one blind-spot variable
//! `u_f ~ N(0, 1)` and one shared wrong answer per family. A call of model `m` of family `f`
//! is right iff `Phi^{-1}(p_m) + sqrt(rho_c) z + sqrt(rho_f - rho_c) u_f + sqrt(1 - rho_f)
//! eps > 0` with fresh `eps ~ N(0, 1)`: its marginal accuracy is exactly the published `p_m`,
//! two calls of one family are correlated through `rho_f`, of two families through `rho_c`.
//! A wrong call answers its family's shared wrong answer with probability `family_share`,
//! otherwise a distractor drawn with Zipf weights.
//!
//! **Roles.** A node without inputs, or a generator, answers with its own call. A refiner
//! takes the plurality answer `x` of its inputs and makes its own attempt: a right `x`
//! survives unless the attempt is wrong and it is talked out of it (probability growing
//! with the number of refinements along the chain, [`TaskProfile::break_at`]); a wrong `x`
//! is fixed with probability `fix_prob` when the attempt is right. An aggregator reads its
//! `k` inputs properly with probability [`TaskProfile::attention`] (else returns a random
//! input's answer); reading properly, it picks the right answer when present with
//! probability `select_skill` if its own attempt is right, else the inputs' plurality.
//! The graph's answer is the plurality vote over the last layer, ties broken at random.
//!
//! Parallel sampling with voting therefore saturates (correlated errors, shared wrong
//! answers) and can lose accuracy on hard questions; refinement chains improve, then drift;
//! aggregators degrade past their context capacity; at a fixed budget width and depth
//! compete with model size. See [`crate::env::theory`] for closed forms of the two pure
//! cases, against which the simulator is tested.

use gradus_core::{Error, Par, Result, Rng, rng};
use rand::Rng as _;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::normal;
use super::pool::{MAX_FAMILIES, ModelPool};
use super::task::TaskProfile;
use super::{Environment, Evaluation};
use crate::graph::{CostModel, Graph, MAX_NODES, Role};

/// The answer id of the right answer; distractors are `1..=distractors`.
const RIGHT: u16 = 0;
/// Minibatch id of the reference (held-out) question set.
const REFERENCE_BATCH: u64 = u64::MAX;
/// Seed label of the per-call noise of reference evaluations.
const REFERENCE_NOISE: u64 = 0x5EF0_0000_0000_0001;
/// Questions per rayon job in reference evaluations.
const REFERENCE_CHUNK: usize = 256;

/// Latent variables of one question.
struct Question {
    z: f64,
    u: [f64; MAX_FAMILIES],
    shared_wrong: [u16; MAX_FAMILIES],
}

/// A simulated multi-LLM environment for one task (see the module docs for the model).
#[derive(Debug, Clone)]
pub struct SimEnv {
    pool: ModelPool,
    task: TaskProfile,
    cost: CostModel,
    /// `Phi^{-1}(p_m)` per model.
    threshold: Vec<f64>,
    /// Cumulative Zipf weights of the distractors.
    zipf_cdf: Vec<f64>,
    scale_common: f64,
    scale_family: f64,
    scale_call: f64,
    eval_questions: usize,
    reference_questions: usize,
    seed: u64,
    par: Par,
}

impl SimEnv {
    /// An environment for `task` over `pool`: minibatch evaluations use `eval_questions`
    /// questions, reference evaluations `reference_questions` held-out ones; `seed` fixes
    /// the questions.
    pub fn new(
        pool: ModelPool,
        task: TaskProfile,
        eval_questions: usize,
        reference_questions: usize,
        seed: u64,
    ) -> Result<Self> {
        pool.validate()?;
        task.validate()?;
        for (field, n) in
            [("eval_questions", eval_questions), ("reference_questions", reference_questions)]
        {
            if n == 0 {
                return Err(Error::hyper(field, 0.0, "must be at least 1"));
            }
        }
        let cost = CostModel::new(
            pool.families.len(),
            pool.sizes.len(),
            pool.params_b(),
            task.prompt_tokens,
            task.output_tokens,
        )?;
        let b = task.benchmark.index();
        let threshold = pool.models.iter().map(|m| normal::quantile(m.accuracy[b])).collect();
        let mut acc = 0.0;
        let weights: Vec<f64> =
            (1..=task.distractors).map(|k| (k as f64).powf(-task.zipf_exponent)).collect();
        let total: f64 = weights.iter().sum();
        let zipf_cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Ok(SimEnv {
            scale_common: task.rho_common.sqrt(),
            scale_family: (task.rho_family - task.rho_common).sqrt(),
            scale_call: (1.0 - task.rho_family).sqrt(),
            pool,
            task,
            cost,
            threshold,
            zipf_cdf,
            eval_questions,
            reference_questions,
            seed,
            par: Par::Rayon,
        })
    }

    /// Sets the parallelism of reference evaluations (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &ModelPool {
        &self.pool
    }

    /// The task profile.
    pub fn task(&self) -> &TaskProfile {
        &self.task
    }

    fn distractor(&self, rng: &mut Rng) -> u16 {
        let u: f64 = rng.random();
        let k = self.zipf_cdf.iter().position(|&c| u < c).unwrap_or(self.zipf_cdf.len() - 1);
        (k + 1) as u16
    }

    fn question(&self, rng: &mut Rng) -> Question {
        let mut q = Question {
            z: rng.sample(StandardNormal),
            u: [0.0; MAX_FAMILIES],
            shared_wrong: [1; MAX_FAMILIES],
        };
        for f in 0..self.pool.families.len() {
            q.u[f] = rng.sample(StandardNormal);
            q.shared_wrong[f] = self.distractor(rng);
        }
        q
    }

    /// One call: whether it is right, and its answer.
    fn call(&self, family: usize, size: usize, q: &Question, rng: &mut Rng) -> (bool, u16) {
        let m = family * self.pool.sizes.len() + size;
        let eps: f64 = rng.sample(StandardNormal);
        let score = self.threshold[m]
            + self.scale_common * q.z
            + self.scale_family * q.u[family]
            + self.scale_call * eps;
        if score > 0.0 {
            (true, RIGHT)
        } else if rng.random::<f64>() < self.task.family_share {
            (false, q.shared_wrong[family])
        } else {
            (false, self.distractor(rng))
        }
    }

    /// Whether `g` answers question `q` right.
    fn answer(&self, g: &Graph, q: &Question, rng: &mut Rng) -> bool {
        let n = g.nodes().len();
        let mut ans = [RIGHT; MAX_NODES];
        let mut refinements = [0u32; MAX_NODES];
        let mut inputs = [RIGHT; MAX_NODES];
        for v in 0..n {
            let node = g.nodes()[v];
            let (mut k, mut r_in) = (0, 0);
            g.for_each_input(v, |u| {
                inputs[k] = ans[u];
                r_in = r_in.max(refinements[u]);
                k += 1;
            });
            let (own_right, own) = self.call(node.family, node.size, q, rng);
            let inputs = &inputs[..k];
            (ans[v], refinements[v]) = match node.role {
                _ if k == 0 => (own, 0),
                Role::Generate => (own, 0),
                Role::Refine => {
                    let x = plurality(inputs, rng);
                    let r = r_in + 1;
                    let out = if x == RIGHT {
                        if own_right || rng.random::<f64>() >= self.task.break_at(r) {
                            RIGHT
                        } else {
                            own
                        }
                    } else if own_right && rng.random::<f64>() < self.task.fix_prob {
                        RIGHT
                    } else {
                        x
                    };
                    (out, r)
                }
                Role::Aggregate => {
                    let out = if rng.random::<f64>() >= self.task.attention(k) {
                        inputs[rng.random_range(0..k)]
                    } else if own_right
                        && inputs.contains(&RIGHT)
                        && rng.random::<f64>() < self.task.select_skill
                    {
                        RIGHT
                    } else {
                        plurality(inputs, rng)
                    };
                    (out, r_in)
                }
            };
        }
        let last = g.layer_start(g.depth() - 1);
        plurality(&ans[last..n], rng) == RIGHT
    }

    fn check(&self, g: &Graph) -> Result<()> {
        // Pricing checks that every node's model is in the pool.
        self.cost.flops(g).map(|_| ())
    }

    fn evaluation(&self, g: &Graph, right: usize, questions: usize) -> Result<Evaluation> {
        Ok(Evaluation {
            accuracy: right as f64 / questions as f64,
            flops: self.cost.flops(g)?,
            latency_s: self.cost.latency(g)?,
            questions,
        })
    }

    /// Accuracy of `g` on `questions` questions of minibatch `batch`, per-call noise from
    /// `noise`.
    fn right_on_batch(&self, g: &Graph, batch: u64, questions: usize, noise: &mut Rng) -> usize {
        let qseed = rng::derive_seed(self.seed, batch);
        (0..questions)
            .filter(|&i| {
                let q = self.question(&mut rng::stream(qseed, i as u64));
                self.answer(g, &q, noise)
            })
            .count()
    }
}

/// The most frequent answer in `xs` (non-empty), ties broken uniformly at random; draws
/// nothing when there is no tie.
fn plurality(xs: &[u16], rng: &mut Rng) -> u16 {
    let (mut best, mut best_count, mut ties) = (xs[0], 0, 0u32);
    for (i, &a) in xs.iter().enumerate() {
        if xs[..i].contains(&a) {
            continue;
        }
        let c = xs[i..].iter().filter(|&&b| b == a).count();
        if c > best_count {
            (best, best_count, ties) = (a, c, 1);
        } else if c == best_count {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = a;
            }
        }
    }
    best
}

impl Environment for SimEnv {
    fn cost_model(&self) -> &CostModel {
        &self.cost
    }

    fn model_name(&self, family: usize, size: usize) -> String {
        self.pool.model(family, size).name.clone()
    }

    fn family_name(&self, family: usize) -> String {
        self.pool.families[family].clone()
    }

    fn size_name(&self, size: usize) -> String {
        self.pool.sizes[size].clone()
    }

    fn evaluate(&self, graph: &Graph, batch: u64, rng: &mut Rng) -> Result<Evaluation> {
        self.check(graph)?;
        let right = self.right_on_batch(graph, batch, self.eval_questions, rng);
        self.evaluation(graph, right, self.eval_questions)
    }

    /// Accuracy on `reference_questions` held-out questions with fixed per-question noise
    /// streams: a deterministic function of the graph, computed in chunks of questions
    /// (in parallel with `Par::Rayon`; integer counts, so the thread count cannot matter).
    fn reference(&self, graph: &Graph) -> Result<Evaluation> {
        self.check(graph)?;
        let n = self.reference_questions;
        let qseed = rng::derive_seed(self.seed, REFERENCE_BATCH);
        let nseed = rng::derive_seed(self.seed, REFERENCE_NOISE);
        let chunk = |c: usize| -> usize {
            let range = c * REFERENCE_CHUNK..((c + 1) * REFERENCE_CHUNK).min(n);
            range
                .filter(|&i| {
                    let q = self.question(&mut rng::stream(qseed, i as u64));
                    self.answer(graph, &q, &mut rng::stream(nseed, i as u64))
                })
                .count()
        };
        let chunks = n.div_ceil(REFERENCE_CHUNK);
        let right: usize = if self.par.is_parallel() && chunks > 1 {
            (0..chunks).into_par_iter().map(chunk).sum()
        } else {
            (0..chunks).map(chunk).sum()
        };
        self.evaluation(graph, right, n)
    }
}
