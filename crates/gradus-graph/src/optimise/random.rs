//! Random search: graphs drawn from the uniform `p_0` truncated to the budget.

use gradus_core::Result;

use super::{Record, SearchContext, Searcher, sample_batch};
use crate::graph::Graph;
use crate::model::{GraphDistribution, GraphSpace};

/// Random search over a space: every categorical uniform, every edge a fair coin, graphs
/// over budget rejected.
#[derive(Debug, Clone)]
pub struct RandomSearch {
    dist: GraphDistribution,
}

impl RandomSearch {
    /// Random search over `space`.
    pub fn new(space: &GraphSpace) -> Self {
        RandomSearch { dist: GraphDistribution::uniform(space) }
    }
}

impl Searcher for RandomSearch {
    fn name(&self) -> String {
        "random search".into()
    }

    fn propose(
        &mut self,
        t: u64,
        n: usize,
        ctx: &SearchContext,
        out: &mut Vec<Graph>,
    ) -> Result<u64> {
        sample_batch(&self.dist, t, n, ctx, out)
    }

    fn learn(&mut self, _: &[Record], _: &[Record], _: &SearchContext) -> Result<()> {
        Ok(())
    }
}
