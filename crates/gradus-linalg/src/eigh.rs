//! Symmetric eigendecomposition `A = U diag(w) U^T` (eigenvalues ascending).
//!
//! Two tiers, as in faer: [`eigh_into`] writes into caller-owned storage and draws scratch from
//! an [`EighWorkspace`] allocated once (no heap allocation per call with `Par::Seq`; faer's
//! rayon path allocates internally); [`eigh`] allocates and returns an [`Eigh`].
//!
//! Backends ([`Backend`]): faer's `self_adjoint_evd`, or LAPACK's `dsyevd` / `ssyevd` from
//! the system OpenBLAS (feature `openblas-system`); [`Backend::Auto`] (the default) picks by
//! size. Both return eigenvalues ascending; eigenvectors agree up to sign.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::{Mat, MatMut, MatRef};
use gradus_core::{Error, Par, Result, validate::same_len};

use crate::LinalgScalar;
use crate::check;

/// Which library computes the decomposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// faer's `self_adjoint_evd` (pure Rust).
    Faer,
    /// LAPACK `dsyevd` / `ssyevd` (divide and conquer) from the system OpenBLAS through
    /// `lapack-sys` (feature `openblas-system`); an error when the feature is off.
    Lapack,
    /// LAPACK for `n >= LAPACK_MIN_N` when the feature is on, faer otherwise (the
    /// threshold is measured, see `docs/benchmarks.md`). Without the feature this is faer.
    #[default]
    Auto,
}

/// Smallest dimension for which [`Backend::Auto`] calls LAPACK. Measured side by side on the
/// development machine (`docs/benchmarks.md`, "LAPACK backend vs scipy's evd"): faer was as
/// fast or faster up to n = 512 (0.96-1.0x of `dsyevd`), `dsyevd` faster from n = 1024
/// (0.88x of faer at 1024, 0.53x at 2048); the threshold sits between. Below it faer's path
/// is also allocation-free and thread-count independent.
pub const LAPACK_MIN_N: usize = 768;

impl Backend {
    /// The backend that computes an `n x n` problem: `Auto` resolved by size and build.
    pub fn resolve(self, n: usize) -> Backend {
        match self {
            Backend::Auto if cfg!(feature = "openblas-system") && n >= LAPACK_MIN_N => {
                Backend::Lapack
            }
            Backend::Auto => Backend::Faer,
            b => b,
        }
    }
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
    imp: Imp<T>,
}

/// The backend-specific buffers.
enum Imp<T> {
    Faer {
        buf: MemBuffer,
        /// Copy of the input: faer's routine reads only the lower triangle but the validated
        /// input may be a view with any strides.
        tmp: Mat<T>,
    },
    #[cfg(feature = "openblas-system")]
    Lapack(crate::lapack::LapackWork<T>),
}

impl<T: LinalgScalar> EighWorkspace<T> {
    /// Scratch for `n x n` problems run with parallelism `par`, on [`Backend::Auto`]'s choice
    /// for `n` (faer if the LAPACK workspace query were to fail).
    pub fn new(n: usize, par: Par) -> Self {
        match Self::with_backend(n, par, Backend::Auto) {
            Ok(ws) => ws,
            Err(_) => Self::faer(n, par),
        }
    }

    /// Scratch for `n x n` problems on `backend`; an error for [`Backend::Lapack`] without
    /// the `openblas-system` feature.
    pub fn with_backend(n: usize, par: Par, backend: Backend) -> Result<Self> {
        match backend.resolve(n) {
            Backend::Lapack => lapack_workspace(n, par),
            _ => Ok(Self::faer(n, par)),
        }
    }

    fn faer(n: usize, par: Par) -> Self {
        let req = evd::self_adjoint_evd_scratch::<T>(
            n,
            ComputeEigenvectors::Yes,
            faer_par(par),
            Default::default(),
        );
        EighWorkspace { n, par, imp: Imp::Faer { buf: MemBuffer::new(req), tmp: Mat::zeros(n, n) } }
    }

    /// The dimension this workspace serves.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// The backend this workspace computes with (`Faer` or `Lapack`, never `Auto`).
    pub fn backend(&self) -> Backend {
        match self.imp {
            Imp::Faer { .. } => Backend::Faer,
            #[cfg(feature = "openblas-system")]
            Imp::Lapack(_) => Backend::Lapack,
        }
    }
}

#[cfg(feature = "openblas-system")]
fn lapack_workspace<T: LinalgScalar>(n: usize, par: Par) -> Result<EighWorkspace<T>> {
    Ok(EighWorkspace { n, par, imp: Imp::Lapack(crate::lapack::LapackWork::new(n)?) })
}

#[cfg(not(feature = "openblas-system"))]
fn lapack_workspace<T: LinalgScalar>(_: usize, _: Par) -> Result<EighWorkspace<T>> {
    Err(Error::Unsupported("the LAPACK backend needs the `openblas-system` feature".into()))
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
    match &mut ws.imp {
        Imp::Faer { buf, tmp } => {
            tmp.as_mut().copy_from(a);
            let stack = MemStack::new(buf);
            evd::self_adjoint_evd(
                tmp.as_ref(),
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
        #[cfg(feature = "openblas-system")]
        Imp::Lapack(work) => work.eigh_into(a, w, u),
    }
}

/// `A = U diag(w) U^T`, allocating the result.
pub fn eigh<T: LinalgScalar>(a: MatRef<'_, T>, backend: Backend, par: Par) -> Result<Eigh<T>> {
    let n = validate_symmetric(a)?;
    let mut ws = EighWorkspace::with_backend(n, par, backend)?;
    let mut values = vec![T::ZERO; n];
    let mut vectors = Mat::zeros(n, n);
    eigh_into(a, &mut values, vectors.as_mut(), &mut ws)?;
    Ok(Eigh { values, vectors })
}
