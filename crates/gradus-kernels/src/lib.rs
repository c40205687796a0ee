//! SIMD elementwise kernels for optimizer hot loops, written once with `pulp` and dispatched at
//! run time by `pulp::Arch::new()`: AVX2+FMA (pulp's `V3`) on x86-64, NEON on aarch64, a
//! scalar fallback elsewhere. pulp's AVX-512 level (`V4`) sits behind its `x86-v4` feature,
//! which gradus does not enable, so a machine with AVX-512 runs the AVX2+FMA code
//! ([`simd_level`] reports the level actually dispatched).
//!
//! Every update kernel is *fused*: it reads and writes each array exactly once per step
//! (Adam with f32 state moves 28 bytes per parameter, 20 with bf16 moments). Every kernel has
//! a scalar twin in [`reference`] with the same operation order; fused multiply-adds are
//! correctly rounded on both sides, so elementwise kernels agree with their references bit for
//! bit and reductions agree within the rounding bound stated in [`blas1`].
//!
//! Large buffers are split across the rayon pool in fixed [`chunk::CHUNK`]-element pieces and
//! reductions combine pieces along a fixed tree, so results never depend on the thread count.
//! All kernels validate lengths up front and return an error without touching any buffer.

mod adagrad;
mod adam;
pub mod bf16;
pub mod blas1;
pub mod chunk;
pub mod reference;
mod rmsprop;
mod sgd;
pub mod simd;

pub use adagrad::{AdagradConsts, adagrad_elem, adagrad_step};
pub use adam::{AdamConsts, adam_elem, adam_step, adam_step_bf16, adam_step_bf16_rounded};
pub use bf16::{Bf16Rounding, Bf16Vec};
pub use blas1::{
    GradStats, axpy, block_mean_squares, dot, grad_stats, norm2, scale, sign, sum_squares,
};
pub use rmsprop::{RmsPropConsts, RmsPropState, rmsprop_elem, rmsprop_step};
pub use sgd::{SgdConsts, sgd_elem, sgd_momentum_elem, sgd_step};
pub use simd::SimdFloat;

/// Name of the instruction set the kernels dispatch to on this machine (for reports): the
/// variant `pulp::Arch::new()` selects, which is what every kernel's `dispatch` runs.
pub fn simd_level() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        #[allow(unreachable_patterns)]
        match pulp::Arch::new() {
            pulp::Arch::V3(_) => "avx2+fma",
            pulp::Arch::Scalar => "scalar",
            _ => "avx-512",
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if pulp::aarch64::Neon::try_new().is_some() { "neon" } else { "scalar" }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}
