//! Shampoo (Gupta, Koren & Singer 2018) in the unified preconditioner form of paper 01: for a
//! matrix block with gradient `G`,
//! ```text
//! L <- beta2 L + (1 - beta2) G G^T,   R <- beta2 R + (1 - beta2) G^T G
//! D = L^{-1/p} G R^{-1/p}             (p = 4;  P = L^{-1/4} (x) R^{-1/4} acting on vec(G))
//! ```
//! with the distributed-Shampoo refinements: epsilon regularisation, roots refreshed every
//! `precondition_frequency` steps (a failed root keeps the previous one and is counted in
//! [`StepInfo::root_failures`]), blocking of large dimensions, vectors and thin matrices on
//! the graft method, grafting of the step size per block, heavy-ball momentum and decoupled
//! weight decay. Statistics and roots are kept in `f64` whatever the parameter type.

mod config;
mod tile;

pub use config::{Grafting, ShampooConfig};

use gradus_core::validate::same_len;
use gradus_core::{Error, Layout, Result, Scalar, Shape};
use gradus_kernels::{SimdFloat, grad_stats};
use gradus_linalg::RootParams;
use rayon::prelude::*;

use crate::optimizer::{Optimizer, StepInfo};
use crate::state::{BufferData, NamedBuffer, OptimizerState, SCHEMA_VERSION};
use tile::Tile;

/// How a layout block is updated.
#[derive(Debug, Clone)]
enum BlockKind {
    /// Kronecker-factored, over `tiles[range]`.
    Tiles(std::ops::Range<usize>),
    /// Graft method only (vectors, thin matrices).
    Diagonal,
}

/// Shampoo with grafting; see the module documentation.
pub struct Shampoo<T> {
    cfg: ShampooConfig,
    layout: Layout,
    t: u64,
    kinds: Vec<BlockKind>,
    tiles: Vec<Tile>,
    /// Graft statistic per parameter (sum or EMA of `g^2`).
    graft: Vec<f64>,
    /// Momentum per parameter (empty without momentum).
    momentum: Vec<f64>,
    /// The step direction being assembled.
    dir: Vec<f64>,
    _marker: std::marker::PhantomData<T>,
}

impl<T: SimdFloat> Shampoo<T> {
    /// Shampoo over `layout`. Matrix blocks with both sides `>= min_preconditioner_dim` are
    /// cut into tiles of at most `max_preconditioner_dim` per side.
    pub fn new(cfg: ShampooConfig, layout: Layout) -> Result<Self> {
        cfg.validate()?;
        if layout.is_empty() {
            return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
        }
        let mut kinds = Vec::new();
        let mut tiles = Vec::new();
        let md = cfg.max_preconditioner_dim;
        for b in layout.blocks() {
            match b.shape {
                Shape::Matrix { rows, cols } if rows.min(cols) >= cfg.min_preconditioner_dim => {
                    let start = tiles.len();
                    for r0 in (0..rows).step_by(md) {
                        for c0 in (0..cols).step_by(md) {
                            tiles.push(Tile::new(
                                b.offset,
                                cols,
                                r0,
                                c0,
                                md.min(rows - r0),
                                md.min(cols - c0),
                            ));
                        }
                    }
                    kinds.push(BlockKind::Tiles(start..tiles.len()));
                }
                _ => kinds.push(BlockKind::Diagonal),
            }
        }
        let n = layout.len();
        let momentum = if cfg.momentum > 0.0 { vec![0.0; n] } else { Vec::new() };
        Ok(Shampoo {
            cfg,
            layout,
            t: 0,
            kinds,
            tiles,
            graft: vec![0.0; n],
            momentum,
            dir: vec![0.0; n],
            _marker: Default::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ShampooConfig {
        &self.cfg
    }

    /// Replaces hyperparameters between steps (not the state-shaping ones).
    pub fn set_config(&mut self, cfg: ShampooConfig) -> Result<()> {
        cfg.validate()?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "state-shaping configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        self.cfg = cfg;
        Ok(())
    }

    /// Number of Kronecker-factored tiles.
    pub fn num_tiles(&self) -> usize {
        self.tiles.len()
    }

    fn root_params(&self) -> RootParams {
        RootParams::default()
            .with_p(self.cfg.root)
            .with_eps(self.cfg.epsilon)
            .with_floor(self.cfg.epsilon.max(1e-30))
            .with_method(self.cfg.root_method)
            .with_residual(false)
    }

    /// Checks lengths and finiteness; returns the gradient norm.
    fn check_gradient(&self, params: &[T], grads: &[T]) -> Result<f64> {
        let n = self.layout.len();
        same_len("parameters", n, params.len())?;
        same_len("gradient", n, grads.len())?;
        let stats = grad_stats(self.cfg.par, grads);
        if !stats.all_finite {
            let index = grads.iter().position(|g| !g.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite { what: "gradient", index });
        }
        Ok(if stats.sum_squares.is_finite() {
            stats.sum_squares.to_f64().sqrt()
        } else {
            gradus_kernels::norm2(self.cfg.par, grads).to_f64()
        })
    }

    /// Statistics update `L <- beta2 L + (1 - beta2) G G^T`, `R <- ... G^T G` on every tile.
    /// Every tile is staged first: a non-finite statistic rejects the step with nothing
    /// changed. Tiles are independent; the error reported is the first tile's in layout
    /// order (found without allocating, whatever the thread count).
    fn update_statistics(&mut self, grads: &[T]) -> Result<()> {
        let (par, beta2) = (self.cfg.par, self.cfg.beta2);
        let stage = |(k, tile): (usize, &mut Tile)| {
            tile.load_grad(grads, 1.0);
            if tile.stage_statistics(beta2, par).is_err() { k } else { usize::MAX }
        };
        let first_bad = if par.is_parallel() {
            self.tiles.par_iter_mut().enumerate().map(stage).min()
        } else {
            self.tiles.iter_mut().enumerate().map(stage).min()
        };
        if let Some(k) = first_bad.filter(|&k| k != usize::MAX) {
            return Err(self.tiles[k].statistics_error());
        }
        self.tiles.iter_mut().for_each(Tile::commit_statistics);
        Ok(())
    }

    /// Root refresh `L^{-1/p}`, `R^{-1/p}` on every tile; returns the number of roots that
    /// failed (each keeps its previous root).
    fn refresh_roots(&mut self) -> u32 {
        let (params, par) = (self.root_params(), self.cfg.par);
        if par.is_parallel() {
            self.tiles.par_iter_mut().map(|tile| tile.refresh_roots(&params, par)).sum()
        } else {
            self.tiles.iter_mut().map(|tile| tile.refresh_roots(&params, par)).sum()
        }
    }

    /// Preconditioned direction `D = L^{-1/p} G R^{-1/p}` in every tile that has roots.
    fn precondition_tiles(&mut self) {
        let par = self.cfg.par;
        let pre = |tile: &mut Tile| {
            if tile.has_roots {
                tile.precondition(par);
            }
        };
        if par.is_parallel() {
            self.tiles.par_iter_mut().for_each(pre);
        } else {
            self.tiles.iter_mut().for_each(pre);
        }
    }

    /// Grafting: writes the step direction of step `t` into `self.dir`, advancing the graft
    /// statistic of every parameter. Diagonal blocks (and tiles without roots, or before
    /// preconditioning starts) move along the graft direction; a preconditioned tile moves
    /// along `D` rescaled to the graft direction's norm on that tile (`D` itself without
    /// grafting).
    fn assemble_direction(&mut self, grads: &[T], t: u64, preconditioning: bool) {
        let (grafting, eps) = (self.cfg.grafting, self.cfg.graft_epsilon);
        let bc2 = match grafting {
            Grafting::Adam { beta2 } => 1.0 / (1.0 - beta2.powi(t.min(i32::MAX as u64) as i32)),
            _ => 1.0,
        };
        for (b, kind) in self.kinds.iter().enumerate() {
            match kind {
                BlockKind::Diagonal => {
                    for i in self.layout.blocks()[b].range() {
                        self.dir[i] = Self::graft_dir(
                            grafting,
                            eps,
                            bc2,
                            &mut self.graft[i],
                            grads[i].to_f64(),
                        );
                    }
                }
                BlockKind::Tiles(range) => {
                    for tile in &mut self.tiles[range.clone()] {
                        let (r, c) = (tile.rows(), tile.cols());
                        let mut graft_sq = 0.0;
                        for i in 0..r {
                            for j in 0..c {
                                let k = tile.index(i, j);
                                let d = Self::graft_dir(
                                    grafting,
                                    eps,
                                    bc2,
                                    &mut self.graft[k],
                                    tile.g[(i, j)],
                                );
                                graft_sq += d * d;
                                self.dir[k] = d;
                            }
                        }
                        if !(preconditioning && tile.has_roots) {
                            continue; // the graft direction is already in place
                        }
                        let scale = if grafting == Grafting::None {
                            1.0
                        } else {
                            let s: f64 = (0..c)
                                .flat_map(|j| (0..r).map(move |i| (i, j)))
                                .map(|(i, j)| tile.dir[(i, j)].powi(2))
                                .sum();
                            if s > 0.0 { (graft_sq / s).sqrt() } else { 0.0 }
                        };
                        for i in 0..r {
                            for j in 0..c {
                                self.dir[tile.index(i, j)] = scale * tile.dir[(i, j)];
                            }
                        }
                    }
                }
            }
        }
    }

    /// `p <- decay p - lr_b d`, with heavy-ball momentum `m <- mu m + d` (then `d = m`) and
    /// each block's learning-rate scale and weight decay.
    fn apply_direction(&mut self, params: &mut [T]) {
        let (lr, mu) = (self.cfg.lr, self.cfg.momentum);
        let decay = 1.0 - lr * self.cfg.weight_decay;
        for b in self.layout.blocks() {
            let lr_b = lr * b.hyper.lr_scale;
            let decay_b = match b.hyper.weight_decay {
                Some(wd) => 1.0 - lr_b * wd,
                None => decay,
            };
            for i in b.range() {
                let mut d = self.dir[i];
                if mu > 0.0 {
                    self.momentum[i] = mu * self.momentum[i] + d;
                    d = self.momentum[i];
                }
                params[i] = T::from_f64(decay_b * params[i].to_f64() - lr_b * d);
            }
        }
    }

    /// Graft direction of one element, advancing its statistic.
    #[inline]
    fn graft_dir(grafting: Grafting, eps: f64, bc2: f64, s: &mut f64, g: f64) -> f64 {
        match grafting {
            Grafting::None | Grafting::Sgd => g,
            Grafting::Adagrad => {
                *s += g * g;
                g / (s.sqrt() + eps)
            }
            Grafting::RmsProp { beta2 } => {
                *s = beta2 * *s + (1.0 - beta2) * g * g;
                g / (s.sqrt() + eps)
            }
            Grafting::Adam { beta2 } => {
                *s = beta2 * *s + (1.0 - beta2) * g * g;
                g / ((*s * bc2).sqrt() + eps)
            }
        }
    }
}

impl<T: SimdFloat> Optimizer<T> for Shampoo<T> {
    fn name(&self) -> &str {
        "shampoo"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// One step in named stages: check the gradient, update the Kronecker statistics
    /// (nothing changes if that fails), refresh the roots when due, precondition the tiles,
    /// assemble the grafted direction, and apply it with momentum and weight decay.
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let grad_norm = self.check_gradient(params, grads)?;
        let t = self.t + 1;
        self.update_statistics(grads)?;
        let start = self.cfg.start_preconditioning_step;
        let preconditioning = t >= start;
        let root_failures = if preconditioning && (t - start) % self.cfg.precondition_frequency == 0
        {
            self.refresh_roots()
        } else {
            0
        };
        if preconditioning {
            self.precondition_tiles();
        }
        self.assemble_direction(grads, t, preconditioning);
        self.apply_direction(params);
        self.t = t;
        let mut info = StepInfo::new(t, grad_norm, 1.0, self.cfg.lr);
        info.root_failures = root_failures;
        Ok(info)
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        gradus_core::validate::positive("lr", lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Result<OptimizerState> {
        let mut buffers =
            vec![NamedBuffer { name: "graft".into(), data: BufferData::F64(self.graft.clone()) }];
        if !self.momentum.is_empty() {
            buffers.push(NamedBuffer {
                name: "momentum".into(),
                data: BufferData::F64(self.momentum.clone()),
            });
        }
        let flags: Vec<f64> =
            self.tiles.iter().map(|t| if t.has_roots { 1.0 } else { 0.0 }).collect();
        buffers.push(NamedBuffer { name: "has_roots".into(), data: BufferData::F64(flags) });
        for (k, tile) in self.tiles.iter().enumerate() {
            for (name, m) in ["L", "R", "Linv", "Rinv"].iter().zip(tile.matrices()) {
                let data =
                    (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)])).collect();
                buffers.push(NamedBuffer {
                    name: format!("tile{k}.{name}"),
                    data: BufferData::F64(data),
                });
            }
        }
        Ok(OptimizerState {
            schema_version: SCHEMA_VERSION,
            optimizer: "shampoo".into(),
            scalar: T::NAME.into(),
            layout: self.layout.clone(),
            step: self.t,
            config: crate::state::config_value(&self.cfg)?,
            buffers,
        })
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_header::<T>("shampoo", &self.layout)?;
        let cfg: ShampooConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::corrupt("optimizer configuration", e.to_string()))?;
        cfg.validate()?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "optimizer configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        let read = |name: &str, len: usize| -> Result<Vec<f64>> {
            let b = state.buffer(name)?;
            b.check_finite("shampoo state")?;
            let mut v = vec![0.0; len];
            b.copy_to("shampoo state", &mut v)?;
            Ok(v)
        };
        let n = self.layout.len();
        let graft = read("graft", n)?;
        let momentum = if self.momentum.is_empty() { Vec::new() } else { read("momentum", n)? };
        let flags = read("has_roots", self.tiles.len())?;
        let mut mats = Vec::with_capacity(self.tiles.len());
        for (k, tile) in self.tiles.iter().enumerate() {
            let mut four = Vec::with_capacity(4);
            for (name, m) in ["L", "R", "Linv", "Rinv"].iter().zip(tile.matrices()) {
                four.push(read(&format!("tile{k}.{name}"), m.nrows() * m.ncols())?);
            }
            mats.push(four);
        }
        // Everything validated: apply.
        for ((tile, four), flag) in self.tiles.iter_mut().zip(mats).zip(flags) {
            for (m, data) in tile.matrices_mut().into_iter().zip(four) {
                let r = m.nrows();
                for (idx, v) in data.into_iter().enumerate() {
                    m[(idx % r, idx / r)] = v;
                }
            }
            tile.has_roots = flag != 0.0;
        }
        (self.cfg, self.t, self.graft, self.momentum) = (cfg, state.step, graft, momentum);
        Ok(())
    }
}

impl<T: Scalar> std::fmt::Debug for Shampoo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shampoo")
            .field("cfg", &self.cfg)
            .field("t", &self.t)
            .field("tiles", &self.tiles.len())
            .finish()
    }
}
