//! Splitting work across threads without making results depend on the thread count.
//!
//! Buffers are cut at multiples of [`CHUNK`] elements by a recursion that depends only on the
//! length, never on the number of threads; the same tree is walked sequentially under
//! [`Par::Seq`]. Elementwise kernels are therefore trivially thread-count independent, and
//! reductions combine their per-chunk partial results in one fixed pairwise order.

use gradus_core::Par;

use crate::bf16::Bf16SliceMut;

/// Elements per leaf of the work tree. A multiple of every lane count and of the bf16 block,
/// so a split never lands inside a SIMD register or a packed bf16 block.
pub const CHUNK: usize = 1 << 14;

/// Buffers below this many elements are never split (thread hand-off costs more than it saves).
pub const PAR_MIN: usize = 1 << 16;

/// A bundle of buffers that can be cut at the same element index.
pub trait Splittable: Sized + Send {
    /// Splits every buffer at element `mid` (a multiple of [`CHUNK`]).
    fn split_at_elem(self, mid: usize) -> (Self, Self);
}

impl<T: Send> Splittable for &mut [T] {
    fn split_at_elem(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

impl<T: Sync> Splittable for &[T] {
    fn split_at_elem(self, mid: usize) -> (Self, Self) {
        self.split_at(mid)
    }
}

impl<A: Splittable> Splittable for Option<A> {
    fn split_at_elem(self, mid: usize) -> (Self, Self) {
        match self {
            Some(a) => {
                let (l, r) = a.split_at_elem(mid);
                (Some(l), Some(r))
            }
            None => (None, None),
        }
    }
}

impl Splittable for Bf16SliceMut<'_> {
    fn split_at_elem(self, mid: usize) -> (Self, Self) {
        self.split_at(mid)
    }
}

macro_rules! splittable_tuple {
    ($($name:ident),+) => {
        impl<$($name: Splittable),+> Splittable for ($($name,)+) {
            #[allow(non_snake_case)]
            fn split_at_elem(self, mid: usize) -> (Self, Self) {
                let ($($name,)+) = self;
                $(let $name = $name.split_at_elem(mid);)+
                (($($name.0,)+), ($($name.1,)+))
            }
        }
    };
}
splittable_tuple!(A, B);
splittable_tuple!(A, B, C);
splittable_tuple!(A, B, C, D);
splittable_tuple!(A, B, C, D, E);

/// Applies `f` to consecutive pieces of `parts` (of total length `len`), in parallel when
/// `par` allows it and `len >= PAR_MIN`. For elementwise kernels only: pieces are independent.
pub fn for_each_chunk<P, F>(par: Par, len: usize, parts: P, f: &F)
where
    P: Splittable,
    F: Fn(P) + Sync,
{
    if !par.is_parallel() || len < PAR_MIN {
        f(parts);
        return;
    }
    let mid = (len.div_ceil(CHUNK) / 2) * CHUNK;
    let (a, b) = parts.split_at_elem(mid);
    rayon::join(|| for_each_chunk(par, mid, a, f), || for_each_chunk(par, len - mid, b, f));
}

/// Reduces `parts` (of total length `len`) by applying `leaf` to pieces of at most [`CHUNK`]
/// elements and combining the results pairwise along a tree that depends only on `len`.
///
/// `Par::Seq` and `Par::Rayon` walk the same tree, so the result is bit-identical for every
/// thread count. The pairwise tree also keeps the rounding error of long sums at
/// `O(log(len / CHUNK))` levels rather than `O(len / CHUNK)`.
pub fn tree_reduce<P, R, F, C>(par: Par, len: usize, parts: P, leaf: &F, combine: &C) -> R
where
    P: Splittable,
    R: Send,
    F: Fn(P) -> R + Sync,
    C: Fn(R, R) -> R + Sync,
{
    if len <= CHUNK {
        return leaf(parts);
    }
    let mid = (len.div_ceil(CHUNK) / 2) * CHUNK;
    let (a, b) = parts.split_at_elem(mid);
    let (ra, rb) = if par.is_parallel() && len >= PAR_MIN {
        rayon::join(
            || tree_reduce(par, mid, a, leaf, combine),
            || tree_reduce(par, len - mid, b, leaf, combine),
        )
    } else {
        (tree_reduce(par, mid, a, leaf, combine), tree_reduce(par, len - mid, b, leaf, combine))
    };
    combine(ra, rb)
}
