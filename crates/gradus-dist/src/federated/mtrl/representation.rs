//! The shared representation `phi: R^d -> R^k` of paper 09 (§1): the layers every client
//! shares and the server aggregates, as one flat parameter vector.
//!
//! [`Representation`] works on mini-batches of rows (row-major `rows x d`), so layers are
//! matrix products (faer, sequential inside a client; clients run in parallel). Two models:
//! [`LinearRep`] (`phi(x) = B^T x`, the multi-task linear model whose optimum is a principal
//! subspace) and [`crate::federated::mtrl::Mlp`] (a small ReLU / tanh network).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use gradus_core::{Error, Layout, Result, Rng, validate::same_len};
use gradus_models::data::normal;

use super::subspace::orthonormalize;

/// A representation `phi_params: R^d -> R^k` with exact gradients.
///
/// Buffers are caller-owned: `forward` stores what `backward` needs in `cache`
/// (`rows * cache_per_row()` floats) and `backward` uses `scratch`
/// (`rows * scratch_per_row()` floats), so neither allocates. Both check every length
/// first and return an error without writing on a mismatch.
pub trait Representation: Send + Sync {
    /// Input dimension `d`.
    fn input_dim(&self) -> usize;
    /// Output dimension `k` (the head's input).
    fn output_dim(&self) -> usize;
    /// Number of parameters (the length of the vector clients upload).
    fn num_params(&self) -> usize;
    /// The named blocks of the flat parameter vector, in storage order.
    fn layout(&self) -> Result<Layout>;
    /// Floats per row that `forward` caches for `backward`.
    fn cache_per_row(&self) -> usize;
    /// Floats per row of scratch `backward` needs.
    fn scratch_per_row(&self) -> usize;
    /// Writes a random initial parameter vector.
    fn init(&self, rng: &mut Rng, params: &mut [f64]) -> Result<()>;
    /// `z = phi(x)` for `rows` rows of `x` (`rows x d`) into `z` (`rows x k`).
    fn forward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        z: &mut [f64],
        cache: &mut [f64],
    ) -> Result<()>;
    /// `grad = d/dparams sum_r gz_r . phi(x_r)` (overwritten), the vector-Jacobian product of
    /// the last `forward` on the same `params`, `x` and `cache`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        cache: &[f64],
        gz: &[f64],
        grad: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()>;
    /// The server's map after each aggregation (identity unless the model says otherwise;
    /// [`LinearRep`] can re-orthonormalise `B`). Errors leave `params` untouched.
    fn normalize(&self, params: &mut [f64]) -> Result<()> {
        let _ = params;
        Ok(())
    }
}

/// Length checks shared by the models' `forward` and `backward`.
pub(crate) fn check_batch<R: Representation + ?Sized>(
    rep: &R,
    params: &[f64],
    x: &[f64],
    rows: usize,
    z: usize,
    cache: usize,
) -> Result<()> {
    same_len("representation parameters", rep.num_params(), params.len())?;
    // Saturating products: an overflowing request cannot match a real buffer length.
    same_len("batch inputs (rows * d)", rows.saturating_mul(rep.input_dim()), x.len())?;
    same_len("batch features (rows * k)", rows.saturating_mul(rep.output_dim()), z)?;
    let need = rows.saturating_mul(rep.cache_per_row());
    if cache < need {
        return Err(Error::LengthMismatch {
            what: "activation cache (rows * cache_per_row)",
            expected: need,
            got: cache,
        });
    }
    Ok(())
}

/// The linear representation `phi(x) = B^T x` with `B` a `d x k` matrix (row-major, block
/// `"B"`): with a linear head `theta_i` the model is paper 09's `y = theta_i^T B^T x` (spec
/// §3, the model alternating GD theory is stated for).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRep {
    d: usize,
    k: usize,
    orthonormalize: bool,
}

impl LinearRep {
    /// `B` of shape `d x k`. With `orthonormalize`, the server re-orthonormalises `B` after
    /// every aggregation (QR, positive diagonal; spec §3 "optional QR"), which only changes
    /// the basis, not the subspace, and keeps the step size meaningful.
    ///
    /// Errors unless `1 <= k <= d`.
    pub fn new(d: usize, k: usize, orthonormalize: bool) -> Result<Self> {
        if k == 0 || k > d {
            return Err(Error::InvalidShape {
                what: "linear representation",
                detail: format!("need 1 <= k <= d, got d = {d}, k = {k}"),
            });
        }
        d.checked_mul(k).ok_or_else(|| Error::InvalidShape {
            what: "linear representation",
            detail: format!("{d} x {k} overflows"),
        })?;
        Ok(LinearRep { d, k, orthonormalize })
    }
}

impl Representation for LinearRep {
    fn input_dim(&self) -> usize {
        self.d
    }
    fn output_dim(&self) -> usize {
        self.k
    }
    fn num_params(&self) -> usize {
        self.d * self.k
    }
    fn layout(&self) -> Result<Layout> {
        Layout::new().matrix("B", self.d, self.k)
    }
    fn cache_per_row(&self) -> usize {
        0
    }
    fn scratch_per_row(&self) -> usize {
        0
    }

    /// Standard normal entries, orthonormalised (with `orthonormalize`) or scaled by
    /// `1/sqrt(d)` (so `|B^T x|` is of order `|x| / sqrt(d)` either way).
    fn init(&self, rng: &mut Rng, params: &mut [f64]) -> Result<()> {
        same_len("representation parameters", self.num_params(), params.len())?;
        let mut b: Vec<f64> = (0..params.len()).map(|_| normal(rng)).collect();
        if self.orthonormalize {
            orthonormalize(&mut b, self.d, self.k)?;
        } else {
            let s = 1.0 / (self.d as f64).sqrt();
            b.iter_mut().for_each(|v| *v *= s);
        }
        params.copy_from_slice(&b);
        Ok(())
    }

    /// `Z = X B` (`rows x d` times `d x k`).
    fn forward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        z: &mut [f64],
        cache: &mut [f64],
    ) -> Result<()> {
        check_batch(self, params, x, rows, z.len(), cache.len())?;
        let (d, k) = (self.d, self.k);
        matmul(
            MatMut::from_row_major_slice_mut(z, rows, k),
            Accum::Replace,
            MatRef::from_row_major_slice(x, rows, d),
            MatRef::from_row_major_slice(params, d, k),
            1.0,
            faer::Par::Seq,
        );
        Ok(())
    }

    /// `grad_B = X^T G` (`d x rows` times `rows x k`).
    fn backward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        cache: &[f64],
        gz: &[f64],
        grad: &mut [f64],
        _scratch: &mut [f64],
    ) -> Result<()> {
        check_batch(self, params, x, rows, gz.len(), cache.len())?;
        same_len("representation gradient", self.num_params(), grad.len())?;
        let (d, k) = (self.d, self.k);
        matmul(
            MatMut::from_row_major_slice_mut(grad, d, k),
            Accum::Replace,
            MatRef::from_row_major_slice(x, rows, d).transpose(),
            MatRef::from_row_major_slice(gz, rows, k),
            1.0,
            faer::Par::Seq,
        );
        Ok(())
    }

    fn normalize(&self, params: &mut [f64]) -> Result<()> {
        if self.orthonormalize { orthonormalize(params, self.d, self.k) } else { Ok(()) }
    }
}
