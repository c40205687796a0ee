//! Symmetric eigendecomposition `A = U diag(w) U^T` (eigenvalues ascending).
//!
//! Two tiers, as in faer: [`eigh_into`] writes into caller-owned storage and draws scratch from
//! an [`EighWorkspace`] allocated once (no heap allocation per call with `Par::Seq`; faer's
//! rayon path allocates internally); [`eigh`] allocates and returns an [`Eigh`].

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{Mat, MatMut, MatRef};
use gradus_core::{Error, Par, Result, validate::same_len};

use crate::LinalgScalar;
use crate::check;

/// Which library computes the decomposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// faer (pure Rust; the default build).
    #[default]
    Faer,
    /// LAPACK `?syevd` through ndarray-linalg and the system OpenBLAS (feature
    /// `openblas-system`); an error when the feature is off.
    Lapack,
}

/// Converts gradus parallelism to faer's.
pub(crate) fn faer_par(par: Par) -> faer::Par {
    match par {
        Par::Seq => faer::Par::Seq,
        Par::Rayon => faer::Par::rayon(0),
    }
}

/// Reusable scratch space for eigendecompositions of `n x n` matrices.
pub struct EighWorkspace<T> {
    n: usize,
    par: Par,
    buf: MemBuffer,
    /// Copy of the input: faer's routine reads only the lower triangle but the validated
    /// input may be a view with any strides.
    pub(crate) tmp: Mat<T>,
}

impl<T: LinalgScalar> EighWorkspace<T> {
    /// Scratch for `n x n` problems run with parallelism `par`.
    pub fn new(n: usize, par: Par) -> Self {
        let req = evd::self_adjoint_evd_scratch::<T>(
            n,
            ComputeEigenvectors::Yes,
            faer_par(par),
            Default::default(),
        );
        EighWorkspace { n, par, buf: MemBuffer::new(req), tmp: Mat::zeros(n, n) }
    }

    /// The dimension this workspace serves.
    pub fn dim(&self) -> usize {
        self.n
    }
}

/// An owned eigendecomposition.
#[derive(Debug, Clone)]
pub struct Eigh<T> {
    /// Eigenvalues, ascending.
    pub values: Vec<T>,
    /// Orthonormal eigenvectors as columns.
    pub vectors: Mat<T>,
}

/// Validates `a` (square, finite, symmetric to a relative tolerance of about `256 eps sqrt(n)`)
/// and returns its dimension.
pub fn validate_symmetric<T: LinalgScalar>(a: MatRef<'_, T>) -> Result<usize> {
    let n = check::square("symmetric matrix", a)?;
    check::finite("symmetric matrix", a)?;
    check::symmetric(a, check::default_sym_tol::<T>(n))?;
    Ok(n)
}

/// `A = U diag(w) U^T` into `w` (ascending) and `u`, allocation-free after `ws` is built.
///
/// Errors (touching neither output) for a non-square, non-finite or non-symmetric `a`, or
/// outputs of the wrong size; [`Error::NoConvergence`] if the QR iteration fails.
pub fn eigh_into<T: LinalgScalar>(
    a: MatRef<'_, T>,
    w: &mut [T],
    mut u: MatMut<'_, T>,
    ws: &mut EighWorkspace<T>,
) -> Result<()> {
    let n = validate_symmetric(a)?;
    same_len("eigh workspace dimension", ws.n, n)?;
    same_len("eigenvalue output", n, w.len())?;
    if u.nrows() != n || u.ncols() != n {
        return Err(Error::InvalidShape {
            what: "eigenvector output",
            detail: format!("{} x {} for n = {n}", u.nrows(), u.ncols()),
        });
    }
    ws.tmp.as_mut().copy_from(a);
    let stack = MemStack::new(&mut ws.buf);
    evd::self_adjoint_evd(
        ws.tmp.as_ref(),
        faer::diag::DiagMut::from_slice_mut(w),
        Some(u.as_mut()),
        faer_par(ws.par),
        stack,
        Default::default(),
    )
    .map_err(|_| Error::NoConvergence {
        method: "symmetric eigendecomposition",
        iterations: 0,
        residual: f64::NAN,
    })
}

/// `A = U diag(w) U^T`, allocating the result.
pub fn eigh<T: LinalgScalar>(a: MatRef<'_, T>, backend: Backend, par: Par) -> Result<Eigh<T>> {
    let n = validate_symmetric(a)?;
    match backend {
        Backend::Faer => {
            let mut ws = EighWorkspace::new(n, par);
            let mut values = vec![T::ZERO; n];
            let mut vectors = Mat::zeros(n, n);
            eigh_into(a, &mut values, vectors.as_mut(), &mut ws)?;
            Ok(Eigh { values, vectors })
        }
        Backend::Lapack => lapack_eigh(a),
    }
}

#[cfg(feature = "openblas-system")]
fn lapack_eigh<T: LinalgScalar>(a: MatRef<'_, T>) -> Result<Eigh<T>> {
    crate::lapack::eigh(a)
}

#[cfg(not(feature = "openblas-system"))]
fn lapack_eigh<T: LinalgScalar>(_: MatRef<'_, T>) -> Result<Eigh<T>> {
    Err(Error::Unsupported("the LAPACK backend needs the `openblas-system` feature".into()))
}
