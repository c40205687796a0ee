/// How much parallelism a routine may use.
///
/// Parallel routines split work into fixed-size pieces whose boundaries do not depend on the
/// number of threads, and combine partial results in a fixed order, so `Seq` and `Rayon` give
/// bit-identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Par {
    /// Run on the calling thread. Never allocates on the heap for parallel bookkeeping.
    Seq,
    /// Use the current rayon thread pool (set its size with `ThreadPool::install`).
    #[default]
    Rayon,
}

impl Par {
    /// Whether the routine may fork onto the rayon pool.
    pub fn is_parallel(self) -> bool {
        matches!(self, Par::Rayon)
    }
}
