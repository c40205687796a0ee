use faer::Mat;
use gradus_core::Par;

use crate::LinalgScalar;
use crate::eigh::EighWorkspace;

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
    /// Scratch for `n x n` roots computed with parallelism `par`.
    pub fn new(n: usize, par: Par) -> Self {
        let z = || Mat::zeros(n, n);
        RootWorkspace {
            par,
            eigh: EighWorkspace::new(n, par),
            w: vec![T::ZERO; n],
            u: z(),
            x: z(),
            t1: z(),
            t2: z(),
            t3: z(),
        }
    }

    /// The dimension served.
    pub fn dim(&self) -> usize {
        self.w.len()
    }
}
