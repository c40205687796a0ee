//! Every graph of a small space, for exact expectations (tests, exhaustive search).

use gradus_core::{Error, Result};

use super::space::{GraphSpace, ROLES};
use crate::graph::{Graph, Node, Role};

/// Calls `f` on every graph of `space` (each depth, width, model, role and edge choice once).
/// Errors, before visiting anything, if the space holds more than `limit` graphs.
pub fn for_each_graph(space: &GraphSpace, limit: u64, mut f: impl FnMut(&Graph)) -> Result<()> {
    let size = 10f64.powf(space.log10_size());
    if size.is_nan() || size > limit as f64 {
        return Err(Error::InvalidShape {
            what: "graph space",
            detail: format!("about {size:.3e} graphs exceed the enumeration limit {limit}"),
        });
    }
    let (fam, siz) = (space.families(), space.sizes());
    for depth in 1..=space.max_depth() {
        let mut widths = vec![1usize; depth];
        loop {
            let n: usize = widths.iter().sum();
            let e: usize = widths.windows(2).map(|p| p[0] * p[1]).sum();
            // Mixed-radix counter over every node's (family, size, role) choice.
            let radix: Vec<usize> = (0..depth)
                .flat_map(|d| {
                    let r = if d == 0 { fam * siz } else { fam * siz * ROLES };
                    std::iter::repeat_n(r, widths[d])
                })
                .collect();
            let mut digits = vec![0usize; n];
            loop {
                let mut nodes = Vec::with_capacity(n);
                let mut k = 0;
                for (layer, &w) in widths.iter().enumerate() {
                    for slot in 0..w {
                        let c = digits[k];
                        let (model, role) = (c % (fam * siz), c / (fam * siz));
                        let role = if layer == 0 { Role::Generate } else { Role::ALL[role] };
                        nodes.push(Node {
                            layer,
                            slot,
                            family: model / siz,
                            size: model % siz,
                            role,
                        });
                        k += 1;
                    }
                }
                for bits in 0..1u64 << e {
                    let edges = (0..e).map(|b| bits >> b & 1 == 1).collect();
                    f(&Graph::new(widths.clone(), nodes.clone(), edges)?);
                }
                if !increment(&mut digits, &radix) {
                    break;
                }
            }
            let w_radix = vec![space.max_width(); depth];
            let mut w0: Vec<usize> = widths.iter().map(|w| w - 1).collect();
            if !increment(&mut w0, &w_radix) {
                break;
            }
            widths = w0.iter().map(|w| w + 1).collect();
        }
    }
    Ok(())
}

/// Advances a mixed-radix counter; false after the last value.
fn increment(digits: &mut [usize], radix: &[usize]) -> bool {
    for (d, &r) in digits.iter_mut().zip(radix) {
        *d += 1;
        if *d < r {
            return true;
        }
        *d = 0;
    }
    false
}
