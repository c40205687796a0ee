/// States of an ODE solution at the requested times, stored row by row in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// The requested times, in increasing order.
    pub times: Vec<f64>,
    /// Dimension of the state.
    pub dim: usize,
    /// `states[i * dim .. (i + 1) * dim]` is the state at `times[i]`.
    pub states: Vec<f64>,
}

impl Solution {
    /// The state at `times[i]` (empty when `i` is out of range).
    pub fn state(&self, i: usize) -> &[f64] {
        self.states.get(i * self.dim..(i + 1) * self.dim).unwrap_or(&[])
    }

    /// The state at the last requested time.
    pub fn last(&self) -> &[f64] {
        self.state(self.times.len().saturating_sub(1))
    }

    /// Component `k` at every requested time, as `(t, y_k(t))` points.
    pub fn component(&self, k: usize) -> Vec<(f64, f64)> {
        self.times
            .iter()
            .enumerate()
            .filter_map(|(i, &t)| self.state(i).get(k).map(|&y| (t, y)))
            .collect()
    }
}
