//! Independent inverse roots in parallel (Shampoo recomputes all its preconditioners at once).

use faer::Mat;
use gradus_core::{Par, Result};
use rayon::prelude::*;

use super::{RootInfo, RootParams, RootWorkspace, inverse_root};
use crate::LinalgScalar;

/// One root to compute: input, output, its own workspace (sequential inside, so the result
/// is the same whichever thread runs it) and the outcome of the last computation.
pub struct RootJob<T> {
    /// The SPD input.
    pub a: Mat<T>,
    /// The root (unchanged when the computation fails).
    pub out: Mat<T>,
    /// Scratch.
    pub ws: RootWorkspace<T>,
    /// Outcome of the last [`inverse_root_batch`] call.
    pub outcome: Option<Result<RootInfo>>,
}

impl<T: LinalgScalar> RootJob<T> {
    /// A job for `n x n` matrices, input zero and output the identity.
    pub fn new(n: usize) -> Self {
        let mut out = Mat::zeros(n, n);
        for i in 0..n {
            out[(i, i)] = T::ONE;
        }
        RootJob { a: Mat::zeros(n, n), out, ws: RootWorkspace::new(n, Par::Seq), outcome: None }
    }
}

/// Computes every job's root, in parallel over jobs when `par` allows.
pub fn inverse_root_batch<T: LinalgScalar>(jobs: &mut [RootJob<T>], params: &RootParams, par: Par) {
    let run = |job: &mut RootJob<T>| {
        let RootJob { a, out, ws, outcome } = job;
        *outcome = Some(inverse_root(a.as_ref(), out.as_mut(), params, ws));
    };
    if par.is_parallel() {
        jobs.par_iter_mut().for_each(run);
    } else {
        jobs.iter_mut().for_each(run);
    }
}
