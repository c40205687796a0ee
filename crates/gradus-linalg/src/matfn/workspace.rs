use faer::Mat;
use gradus_core::{Par, Result};

use crate::LinalgScalar;
use crate::eigh::{Backend, EighWorkspace};

/// Everything an inverse root of an `n x n` matrix needs, allocated once.
pub struct RootWorkspace<T> {
    pub(crate) par: Par,
    pub(crate) eigh: EighWorkspace<T>,
    pub(crate) w: Vec<T>,
    pub(crate) u: Mat<T>,
    /// The root being built.
    pub(crate) x: Mat<T>,
    pub(crate) t1: Mat<T>,
    pub(crate) t2: Mat<T>,
    pub(crate) t3: Mat<T>,
}

impl<T: LinalgScalar> RootWorkspace<T> {
    /// Scratch for `n x n` roots computed with parallelism `par`, the eigendecomposition on
    /// [`Backend::Auto`]'s choice for `n`.
    pub fn new(n: usize, par: Par) -> Self {
        Self::from_eigh(n, par, EighWorkspace::new(n, par))
    }

    /// Scratch whose eigendecomposition runs on `backend` (an error for
    /// [`Backend::Lapack`] without the `openblas-system` feature).
    pub fn with_backend(n: usize, par: Par, backend: Backend) -> Result<Self> {
        Ok(Self::from_eigh(n, par, EighWorkspace::with_backend(n, par, backend)?))
    }

    /// The eigendecomposition backend in use (`Faer` or `Lapack`).
    pub fn backend(&self) -> Backend {
        self.eigh.backend()
    }

    fn from_eigh(n: usize, par: Par, eigh: EighWorkspace<T>) -> Self {
        let z = || Mat::zeros(n, n);
        RootWorkspace { par, eigh, w: vec![T::ZERO; n], u: z(), x: z(), t1: z(), t2: z(), t3: z() }
    }

    /// The dimension served.
    pub fn dim(&self) -> usize {
        self.w.len()
    }
}
