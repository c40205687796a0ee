//! The client side of a round (paper 09 §2 step 2, FedRep's alternating scheme): with the
//! broadcast representation frozen, fit the head (head epochs, or the closed form); then,
//! with the head frozen, run representation epochs from the broadcast representation and
//! upload the change. Every buffer lives in a [`ClientWorkspace`] built once, so a client
//! update allocates nothing.

use gradus_core::{Error, Par, Result, Rng, validate};
use gradus_kernels::{SgdConsts, axpy, sgd_step};
use rand::seq::SliceRandom;

use super::data::Samples;
use super::head::Head;
use super::representation::Representation;

/// Mini-batch SGD with heavy-ball momentum (PyTorch's convention, no dampening) for one
/// phase of the local update. The momentum buffer starts at zero in every phase of every
/// round (a fresh local optimizer per round, as FedRep's reference code does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalSgd {
    /// Passes over the client's training rows (`0` skips the phase).
    pub epochs: usize,
    /// Step size (`> 0`).
    pub lr: f64,
    /// Momentum `mu` in `[0, 1)`.
    pub momentum: f64,
    /// Rows per mini-batch (`>= 1`; the last batch of an epoch may be smaller).
    pub batch: usize,
}

/// Which phase a [`LocalSgd`] drives (names the fields in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Rep,
}

impl LocalSgd {
    fn validate(&self, phase: Phase) -> Result<()> {
        let (lr, mu, batch) = match phase {
            Phase::Head => ("head lr", "head momentum", "head batch"),
            Phase::Rep => ("representation lr", "representation momentum", "representation batch"),
        };
        validate::positive(lr, self.lr)?;
        validate::unit_interval_open_right(mu, self.momentum)?;
        if self.batch == 0 {
            return Err(Error::hyper(batch, 0.0, "need at least one row per batch"));
        }
        Ok(())
    }

    fn consts(&self) -> SgdConsts<f64> {
        SgdConsts { momentum: self.momentum, ..SgdConsts::plain(self.lr) }
    }
}

/// How a client fits its head while the representation is frozen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeadFit {
    /// The head's closed-form minimiser with ridge `ridge >= 0` (regression heads; spec §3
    /// "head by least squares").
    Exact {
        /// Ridge added to the normal equations.
        ridge: f64,
    },
    /// Head epochs of mini-batch SGD, warm-started from the client's current head (spec §2:
    /// `tau_h = 10` epochs).
    Sgd(LocalSgd),
}

impl HeadFit {
    /// Errors name the first invalid field.
    pub fn validate(&self) -> Result<()> {
        match self {
            HeadFit::Exact { ridge } => validate::non_negative("ridge", *ridge),
            HeadFit::Sgd(s) => s.validate(Phase::Head),
        }
    }

    fn batch(&self) -> usize {
        match self {
            HeadFit::Exact { .. } => 1,
            HeadFit::Sgd(s) => s.batch,
        }
    }
}

/// One round's local update: the head fit, then representation epochs (spec §2 steps
/// 2a-2b; the order matters, spec §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalUpdate {
    /// Head fit with the broadcast representation frozen.
    pub head: HeadFit,
    /// Representation epochs with the fitted head frozen (spec: `tau_phi = 1`).
    pub rep: LocalSgd,
}

impl LocalUpdate {
    /// Errors name the first invalid field.
    pub fn validate(&self) -> Result<()> {
        self.head.validate()?;
        self.rep.validate(Phase::Rep)
    }
}

/// Every buffer a client update, a head fit or a scoring pass needs, sized once for the
/// largest client and batch.
#[derive(Debug)]
pub struct ClientWorkspace<Y> {
    /// Rows per forward pass (the largest batch).
    chunk: usize,
    feats: Vec<f64>,
    xb: Vec<f64>,
    yb: Vec<Y>,
    zb: Vec<f64>,
    gz: Vec<f64>,
    cache: Vec<f64>,
    scratch: Vec<f64>,
    head_scratch: Vec<f64>,
    g_head: Vec<f64>,
    m_head: Vec<f64>,
    g_rep: Vec<f64>,
    m_rep: Vec<f64>,
    order: Vec<usize>,
}

impl<Y: Copy> ClientWorkspace<Y> {
    /// Buffers for clients of at most `max_rows` rows (train or test) and mini-batches of
    /// at most `batch` rows.
    pub fn new<R: Representation, H: Head<Target = Y>>(
        rep: &R,
        head: &H,
        max_rows: usize,
        batch: usize,
    ) -> Self {
        let chunk = batch.max(1);
        let (d, k, p) = (rep.input_dim(), rep.output_dim(), rep.num_params());
        ClientWorkspace {
            chunk,
            feats: vec![0.0; max_rows * k],
            xb: vec![0.0; chunk * d],
            yb: Vec::with_capacity(chunk),
            zb: vec![0.0; chunk * k],
            gz: vec![0.0; chunk * k],
            cache: vec![0.0; chunk * rep.cache_per_row()],
            scratch: vec![0.0; chunk * rep.scratch_per_row()],
            head_scratch: vec![0.0; head.scratch_len()],
            g_head: vec![0.0; head.num_params()],
            m_head: vec![0.0; head.num_params()],
            g_rep: vec![0.0; p],
            m_rep: vec![0.0; p],
            order: vec![0; max_rows],
        }
    }

    /// The workspace a [`LocalUpdate`] needs for clients of at most `max_rows` rows.
    pub fn for_update<R: Representation, H: Head<Target = Y>>(
        rep: &R,
        head: &H,
        max_rows: usize,
        local: &LocalUpdate,
    ) -> Self {
        Self::new(rep, head, max_rows, local.head.batch().max(local.rep.batch))
    }

    fn check<R: Representation, H: Head<Target = Y>>(
        &self,
        rep: &R,
        head: &H,
        rows: usize,
        batch: usize,
    ) -> Result<()> {
        let k = rep.output_dim();
        let fits = self.feats.len() >= rows * k
            && self.order.len() >= rows
            && self.yb.capacity() >= batch
            && self.chunk >= batch
            && self.xb.len() == self.chunk * rep.input_dim()
            && self.zb.len() == self.chunk * k
            && self.g_rep.len() == rep.num_params()
            && self.g_head.len() == head.num_params()
            && self.head_scratch.len() >= head.scratch_len();
        if fits {
            Ok(())
        } else {
            Err(Error::InvalidShape {
                what: "client workspace",
                detail: format!(
                    "built for other models or smaller clients ({rows} rows, batch {batch})"
                ),
            })
        }
    }
}

impl<Y: Copy> Clone for ClientWorkspace<Y> {
    /// A copy with the same capacities (a derived clone would drop the reserved capacity of
    /// the empty label buffer, and the copy would allocate in its first batch).
    fn clone(&self) -> Self {
        let mut yb = Vec::with_capacity(self.yb.capacity());
        yb.extend_from_slice(&self.yb);
        ClientWorkspace {
            chunk: self.chunk,
            feats: self.feats.clone(),
            xb: self.xb.clone(),
            yb,
            zb: self.zb.clone(),
            gz: self.gz.clone(),
            cache: self.cache.clone(),
            scratch: self.scratch.clone(),
            head_scratch: self.head_scratch.clone(),
            g_head: self.g_head.clone(),
            m_head: self.m_head.clone(),
            g_rep: self.g_rep.clone(),
            m_rep: self.m_rep.clone(),
            order: self.order.clone(),
        }
    }
}

/// `phi(x)` for every row of `s` into `ws.feats[..rows * k]`, `ws.chunk` rows at a time.
fn features<R: Representation, H: Head>(
    rep: &R,
    params: &[f64],
    s: &Samples<H::Target>,
    ws: &mut ClientWorkspace<H::Target>,
) -> Result<()> {
    let (d, k, chunk) = (rep.input_dim(), rep.output_dim(), ws.chunk);
    for (c, xs) in s.x.chunks(chunk * d).enumerate() {
        let rows = xs.len() / d;
        let z = &mut ws.feats[c * chunk * k..(c * chunk + rows) * k];
        rep.forward(params, xs, rows, z, &mut ws.cache[..rows * rep.cache_per_row()])?;
    }
    Ok(())
}

/// `0..n`, shuffled, in `order[..n]`: the epoch's row order.
fn shuffled<'o>(order: &'o mut [usize], n: usize, rng: &mut Rng) -> &'o [usize] {
    let order = &mut order[..n];
    order.iter_mut().enumerate().for_each(|(i, v)| *v = i);
    order.shuffle(rng);
    order
}

/// Fits `head_params` on the training rows `s` with the representation `rep_params` frozen
/// (warm start from the given head for [`HeadFit::Sgd`]). Errors on mismatched shapes or a
/// failed closed-form fit, leaving `head_params` untouched in the latter case.
#[allow(clippy::too_many_arguments)]
pub fn fit_head<R: Representation, H: Head>(
    rep: &R,
    head: &H,
    rep_params: &[f64],
    s: &Samples<H::Target>,
    fit: &HeadFit,
    head_params: &mut [f64],
    ws: &mut ClientWorkspace<H::Target>,
    rng: &mut Rng,
) -> Result<()> {
    fit.validate()?;
    ws.check(rep, head, s.len(), fit.batch())?;
    validate::same_len("head parameters", head.num_params(), head_params.len())?;
    features::<R, H>(rep, rep_params, s, ws)?;
    let (k, m) = (rep.output_dim(), s.len());
    match fit {
        HeadFit::Exact { ridge } => {
            head.fit_exact(&ws.feats[..m * k], &s.y, *ridge, head_params, &mut ws.head_scratch)
        }
        HeadFit::Sgd(sgd) => {
            let c = sgd.consts();
            ws.m_head.iter_mut().for_each(|v| *v = 0.0);
            for _ in 0..sgd.epochs {
                for idx in shuffled(&mut ws.order, m, rng).chunks(sgd.batch) {
                    let rows = idx.len();
                    ws.yb.clear();
                    ws.yb.extend(idx.iter().map(|&i| s.y[i]));
                    for (r, &i) in idx.iter().enumerate() {
                        ws.zb[r * k..(r + 1) * k].copy_from_slice(&ws.feats[i * k..(i + 1) * k]);
                    }
                    head.loss_grad(
                        head_params,
                        &ws.zb[..rows * k],
                        &ws.yb,
                        Some(&mut ws.g_head),
                        None,
                        &mut ws.head_scratch,
                    )?;
                    let buf = (sgd.momentum > 0.0).then_some(&mut ws.m_head[..]);
                    sgd_step(Par::Seq, &c, head_params, &ws.g_head, buf)?;
                }
            }
            Ok(())
        }
    }
}

/// Mini-batch SGD epochs on the representation `rep_local` (in place) with the head frozen
/// (`train_head = false`) or on both (`train_head = true`: joint training from scratch).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgd_epochs<R: Representation, H: Head>(
    rep: &R,
    head: &H,
    rep_local: &mut [f64],
    head_params: &mut [f64],
    train_head: bool,
    s: &Samples<H::Target>,
    sgd: &LocalSgd,
    ws: &mut ClientWorkspace<H::Target>,
    rng: &mut Rng,
) -> Result<()> {
    ws.check(rep, head, s.len(), sgd.batch)?;
    let (d, k, m) = (rep.input_dim(), rep.output_dim(), s.len());
    let (cache_row, scratch_row) = (rep.cache_per_row(), rep.scratch_per_row());
    let c = sgd.consts();
    if sgd.momentum > 0.0 {
        ws.m_rep.iter_mut().for_each(|v| *v = 0.0);
        ws.m_head.iter_mut().for_each(|v| *v = 0.0);
    }
    for _ in 0..sgd.epochs {
        for idx in shuffled(&mut ws.order, m, rng).chunks(sgd.batch) {
            let rows = idx.len();
            ws.yb.clear();
            ws.yb.extend(idx.iter().map(|&i| s.y[i]));
            for (r, &i) in idx.iter().enumerate() {
                ws.xb[r * d..(r + 1) * d].copy_from_slice(&s.x[i * d..(i + 1) * d]);
            }
            let (xb, zb, gz) = (&ws.xb[..rows * d], &mut ws.zb[..rows * k], &mut ws.gz[..rows * k]);
            let cache = &mut ws.cache[..rows * cache_row];
            rep.forward(rep_local, xb, rows, zb, cache)?;
            let g_head = train_head.then_some(&mut ws.g_head[..]);
            head.loss_grad(head_params, zb, &ws.yb, g_head, Some(gz), &mut ws.head_scratch)?;
            let scratch = &mut ws.scratch[..rows * scratch_row];
            rep.backward(rep_local, xb, rows, cache, gz, &mut ws.g_rep, scratch)?;
            let mom = sgd.momentum > 0.0;
            sgd_step(Par::Seq, &c, rep_local, &ws.g_rep, mom.then_some(&mut ws.m_rep[..]))?;
            if train_head {
                sgd_step(Par::Seq, &c, head_params, &ws.g_head, mom.then_some(&mut ws.m_head[..]))?;
            }
        }
    }
    Ok(())
}

/// The alternating local update of one round: fit the head on `global` (frozen), then
/// representation epochs from `global` with that head frozen; writes the change
/// `phi_i - global` into `upload`. `head_params` is the client's head (updated).
#[allow(clippy::too_many_arguments)]
pub fn client_update<R: Representation, H: Head>(
    rep: &R,
    head: &H,
    global: &[f64],
    s: &Samples<H::Target>,
    local: &LocalUpdate,
    head_params: &mut [f64],
    upload: &mut [f64],
    ws: &mut ClientWorkspace<H::Target>,
    rng: &mut Rng,
) -> Result<()> {
    validate::same_len("representation parameters", rep.num_params(), global.len())?;
    validate::same_len("upload", global.len(), upload.len())?;
    fit_head(rep, head, global, s, &local.head, head_params, ws, rng)?;
    upload.copy_from_slice(global);
    sgd_epochs(rep, head, upload, head_params, false, s, &local.rep, ws, rng)?;
    axpy(Par::Seq, -1.0, global, upload)
}

/// The mean per-row [`Head::metric`] of the model `head_params` on `phi_{rep_params}` over
/// the rows of `s`.
pub fn score<R: Representation, H: Head>(
    rep: &R,
    head: &H,
    rep_params: &[f64],
    head_params: &[f64],
    s: &Samples<H::Target>,
    ws: &mut ClientWorkspace<H::Target>,
) -> Result<f64> {
    ws.check(rep, head, s.len(), 1)?;
    features::<R, H>(rep, rep_params, s, ws)?;
    let total = head.score(
        head_params,
        &ws.feats[..s.len() * rep.output_dim()],
        &s.y,
        &mut ws.head_scratch,
    )?;
    Ok(total / s.len() as f64)
}
