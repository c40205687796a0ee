//! The LAPACK backend (feature `openblas-system`): `dsyevd` / `ssyevd`, LAPACK's divide and
//! conquer symmetric eigensolver (Householder tridiagonalisation, Cuppen's divide and conquer
//! on the tridiagonal, back-transformation), from the system OpenBLAS, declared by `lapack-sys`
//! and linked here (`-lopenblas`).
//!
//! Everything the routine needs (a column-major copy of the input, LAPACK's `work` and
//! `iwork` arrays at the sizes its workspace query asks for, an eigenvalue buffer) is
//! allocated once in [`LapackWork`], so a call allocates nothing on the Rust side.
//! OpenBLAS runs its BLAS with its own thread pool, sized by `OPENBLAS_NUM_THREADS`
//! (gradus' `Par` does not reach it).

use std::any::TypeId;
use std::os::raw::c_char;

use faer::{MatMut, MatRef};
use gradus_core::{Error, Result};
use lapack_sys::lapack_int;

use crate::LinalgScalar;

// The system OpenBLAS (Debian's libopenblas-dev) exports LAPACK as well as BLAS.
#[link(name = "openblas")]
unsafe extern "C" {}

/// Reusable buffers of one `n x n` LAPACK eigendecomposition.
pub(crate) struct LapackWork<T> {
    n: usize,
    /// The input copied column-major with `lda = n`; LAPACK overwrites it with the
    /// eigenvectors.
    a: Vec<T>,
    /// Eigenvalues (copied out only on success, so a failed call leaves the output alone).
    w: Vec<T>,
    work: Vec<T>,
    iwork: Vec<lapack_int>,
}

/// Views `x` as a slice of `U` when `T` is `U` (the same type, so the cast is an identity).
fn cast_mut<T: 'static, U: 'static>(x: &mut [T]) -> Option<&mut [U]> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        // SAFETY: T and U are the same type, so layout and validity are identical.
        Some(unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<U>(), x.len()) })
    } else {
        None
    }
}

/// One call of `?syevd` with `jobz = 'V'`, `uplo = 'L'`; `lwork = liwork = -1` is the
/// workspace query (sizes returned in `work[0]`, `iwork[0]`). Returns LAPACK's `info`.
fn syevd<T: LinalgScalar>(
    n: usize,
    a: &mut [T],
    w: &mut [T],
    work: &mut [T],
    lwork: lapack_int,
    iwork: &mut [lapack_int],
    liwork: lapack_int,
) -> Result<lapack_int> {
    let too_big = || Error::InvalidShape {
        what: "LAPACK eigendecomposition",
        detail: format!("n = {n} exceeds LAPACK's 32-bit integer sizes"),
    };
    let nn = lapack_int::try_from(n).map_err(|_| too_big())?;
    n.checked_mul(n).and_then(|s| lapack_int::try_from(s).ok()).ok_or_else(too_big)?;
    // Every buffer must hold what LAPACK will touch: a is n x n, w has n entries, work and
    // iwork at least the sizes passed (1 for the query).
    let lwork_len = if lwork < 0 { 1 } else { lwork as usize };
    let liwork_len = if liwork < 0 { 1 } else { liwork as usize };
    if a.len() < n * n || w.len() < n || work.len() < lwork_len || iwork.len() < liwork_len {
        return Err(Error::InvalidShape {
            what: "LAPACK workspace",
            detail: format!("buffers too small for n = {n}"),
        });
    }
    let (jobz, uplo) = (b'V' as c_char, b'L' as c_char);
    let lda = nn.max(1);
    let mut info: lapack_int = 0;
    if let (Some(a), Some(w), Some(work)) = (cast_mut::<T, f64>(a), cast_mut(w), cast_mut(work)) {
        // SAFETY: the pointers cover the sizes checked above; LAPACK reads and writes only
        // within a (lda x n), w (n), work (lwork) and iwork (liwork).
        unsafe {
            lapack_sys::dsyevd_(
                &jobz,
                &uplo,
                &nn,
                a.as_mut_ptr(),
                &lda,
                w.as_mut_ptr(),
                work.as_mut_ptr(),
                &lwork,
                iwork.as_mut_ptr(),
                &liwork,
                &mut info,
            )
        };
    } else if let (Some(a), Some(w), Some(work)) =
        (cast_mut::<T, f32>(a), cast_mut(w), cast_mut(work))
    {
        // SAFETY: as above.
        unsafe {
            lapack_sys::ssyevd_(
                &jobz,
                &uplo,
                &nn,
                a.as_mut_ptr(),
                &lda,
                w.as_mut_ptr(),
                work.as_mut_ptr(),
                &lwork,
                iwork.as_mut_ptr(),
                &liwork,
                &mut info,
            )
        };
    } else {
        return Err(Error::Unsupported(format!("LAPACK backend for {}", T::NAME)));
    }
    Ok(info)
}

impl<T: LinalgScalar> LapackWork<T> {
    /// Buffers for `n x n` problems, sized by LAPACK's own workspace query.
    pub(crate) fn new(n: usize) -> Result<Self> {
        let (mut wq, mut iq) = (vec![T::ZERO; 1], vec![0 as lapack_int; 1]);
        let mut a = vec![T::ZERO; (n * n).max(1)];
        let mut w = vec![T::ZERO; n.max(1)];
        let info = syevd(n, &mut a, &mut w, &mut wq, -1, &mut iq, -1)?;
        if info != 0 {
            return Err(lapack_error("workspace query", info));
        }
        // The query answers in floating point; round up so a size like 1.0000001e6 in f32
        // is not cut short.
        let lwork = wq[0].to_f64().ceil().max(1.0) as usize;
        let liwork = (iq[0].max(1)) as usize;
        Ok(LapackWork { n, a, w, work: vec![T::ZERO; lwork], iwork: vec![0; liwork] })
    }

    /// `a = U diag(w) U^T` for a validated symmetric `a` of this workspace's size. Outputs are
    /// written only on success.
    pub(crate) fn eigh_into(
        &mut self,
        a: MatRef<'_, T>,
        w: &mut [T],
        mut u: MatMut<'_, T>,
    ) -> Result<()> {
        let n = self.n;
        // Column-major copy; LAPACK reads only the lower triangle (uplo = 'L').
        for j in 0..n {
            let col = &mut self.a[j * n..(j + 1) * n];
            for (i, x) in col.iter_mut().enumerate().skip(j) {
                *x = a[(i, j)];
            }
        }
        let (lwork, liwork) = (self.work.len(), self.iwork.len());
        let info = syevd(
            n,
            &mut self.a,
            &mut self.w,
            &mut self.work,
            lapack_int::try_from(lwork).unwrap_or(lapack_int::MAX),
            &mut self.iwork,
            lapack_int::try_from(liwork).unwrap_or(lapack_int::MAX),
        )?;
        if info != 0 {
            return Err(lapack_error("eigendecomposition", info));
        }
        w.copy_from_slice(&self.w[..n]);
        for j in 0..n {
            let col = &self.a[j * n..(j + 1) * n];
            for (i, &x) in col.iter().enumerate() {
                u[(i, j)] = x;
            }
        }
        Ok(())
    }
}

/// `info > 0`: the divide and conquer failed to converge on a sub-problem; `info < 0`: LAPACK
/// rejected argument `-info` (a bug here, reported rather than hidden).
fn lapack_error(stage: &str, info: lapack_int) -> Error {
    if info > 0 {
        Error::NoConvergence {
            method: "LAPACK ?syevd (divide and conquer)",
            iterations: 0,
            residual: f64::NAN,
        }
    } else {
        Error::Unsupported(format!("LAPACK ?syevd {stage}: argument {} rejected", -info))
    }
}
