//! The text an LLM agent reads: what it tunes, the reply format, the current distribution
//! and the scored graphs (the "textual gradient" is its answer).

use std::fmt::Write as _;

use crate::graph::Role;
use crate::model::ROLES;
use crate::optimise::{FeedbackInput, Record};

/// The system message: the agent's job and the JSON reply format of
/// [`crate::llm::AgentUpdate`].
pub fn system() -> String {
    "You tune a probability distribution over multi-LLM collaboration graphs for test-time \
     scaling. A graph has layers of LLM calls; each call has a model (family and size) and a \
     role (generate: answer from scratch; refine: review and improve the majority answer of \
     its inputs; aggregate: pick one of its inputs' answers); edges feed a layer's answers \
     to the next layer; the final answer is the majority vote of the last layer. Graphs \
     over the FLOPs budget are never used. From the scored samples, decide which depths, \
     widths, families, sizes and roles help, and answer with ONE JSON object and nothing \
     else: {\"depth\": [probabilities of depth 1..D], \"width\": [probabilities of width \
     1..W], \"family\": {name: probability}, \"size\": {name: probability}, \"role\": \
     {\"generate\": p, \"refine\": p, \"aggregate\": p}, \"edge_density\": p, \"step\": \
     how far to move from the current distribution in (0, 1], \"rationale\": short text}. \
     Omit a field to leave it unchanged."
        .to_string()
}

fn mean_block(p: &[f64], offsets: impl Iterator<Item = usize>, len: usize) -> Vec<f64> {
    let mut acc = vec![0.0; len];
    let mut n = 0.0f64;
    for off in offsets {
        for (a, x) in acc.iter_mut().zip(&p[off..off + len]) {
            *a += x;
        }
        n += 1.0;
    }
    acc.iter().map(|a| a / n.max(1.0)).collect()
}

fn list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
    format!("[{}]", items.join(", "))
}

fn describe(input: &FeedbackInput, r: &Record) -> String {
    let names = input.ctx.names;
    format!(
        "{} | cost {:.3e} FLOPs | latency {:.2} s | accuracy {:.3} | utility {:.4}",
        r.graph.describe(|f, s| names.model(f, s).to_string()),
        r.evaluation.flops,
        r.evaluation.latency_s,
        r.evaluation.accuracy,
        r.utility
    )
}

/// The user message for one update: budget, pool, current marginals (averaged over layers
/// and slots), the graphs just scored and the best ones so far.
pub fn user(input: &FeedbackInput) -> String {
    let (s, ctx, names) = (input.space, input.ctx, input.ctx.names);
    let p = input.distribution.probabilities();
    let (dd, w) = (s.max_depth(), s.max_width());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Budget: {:.3e} FLOPs per question. Objective: accuracy - {} x latency (s). \
         Depth 1..{dd}, width 1..{w}.",
        ctx.cfg.budget, ctx.cfg.utility.latency_weight
    );
    let _ = writeln!(out, "Models (one call without inputs):");
    for f in 0..s.families() {
        for z in 0..s.sizes() {
            let _ = writeln!(
                out,
                "- {} (family {}, size {}): {:.3e} FLOPs, {:.2} s",
                names.model(f, z),
                names.families[f],
                names.sizes[z],
                ctx.cost.call_flops(f, z, 0),
                ctx.cost.call_latency(f, z, 0)
            );
        }
    }
    let slots = || (0..dd).flat_map(move |d| (0..w).map(move |i| (d, i)));
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
    let edges = &p[s.edge_range()];
    let _ = writeln!(
        out,
        "Current distribution: depth {}; width (mean over layers) {}; family {:?} {}; size {:?} {}; \
         role {:?} {}; edge probability (mean) {:.3}.",
        list(&p[s.depth_offset()..s.depth_offset() + dd]),
        list(&mean_block(p, (0..dd).map(|d| s.width_offset(d)), w)),
        names.families,
        list(&mean_block(p, slots().map(|(d, i)| s.family_offset(d, i)), s.families())),
        names.sizes,
        list(&mean_block(p, slots().map(|(d, i)| s.size_offset(d, i)), s.sizes())),
        roles,
        list(&mean_block(
            p,
            slots().filter(|(d, _)| *d > 0).map(|(d, i)| s.role_offset(d, i)),
            ROLES
        )),
        if edges.is_empty() { 0.0 } else { edges.iter().sum::<f64>() / edges.len() as f64 }
    );
    let _ = writeln!(out, "Graphs just evaluated:");
    for r in input.batch {
        let _ = writeln!(out, "- {}", describe(input, r));
    }
    let mut best: Vec<&Record> = input.history.iter().collect();
    best.sort_by(|a, b| b.utility.total_cmp(&a.utility));
    if !best.is_empty() {
        let _ = writeln!(out, "Best graphs so far:");
        for r in best.iter().take(5) {
            let _ = writeln!(out, "- {}", describe(input, r));
        }
    }
    out.push_str("Reply with the JSON object only.");
    out
}
