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

    /// Runs `f`, a loop of many short parallel passes, on a rayon pool thread when `self` is
    /// parallel and the caller is outside the pool. Each pass then forks from inside the pool
    /// instead of injecting a job from outside and sleeping until it is done: that wake-up
    /// costs tens of microseconds per pass (it made a DRAG step at M = 1e4 seven times
    /// slower). Otherwise runs `f` on the calling thread. The arithmetic is the same either
    /// way.
    pub fn on_pool<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        if self.is_parallel() && rayon::current_thread_index().is_none() {
            rayon::scope(|_| f())
        } else {
            f()
        }
    }
}
