//! The agent's reply: target marginals for `p_theta` as JSON, validated before use. Replies
//! come from a remote model, so every function here treats its input as untrusted.

use std::collections::BTreeMap;

use gradus_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::graph::Role;
use crate::model::GraphSpace;
use crate::optimise::Names;

/// Probability floor applied to every target (keeps every choice explorable).
pub const TARGET_FLOOR: f64 = 0.01;
/// Edge densities are clamped to `[EDGE_MIN, 1 - EDGE_MIN]`.
pub const EDGE_MIN: f64 = 0.02;

/// An agent's update of `p_theta`: target marginals shared by every layer / node slot, and
/// how far to move toward them. Absent fields leave their logits unchanged.
///
/// ```json
/// {"depth": [0.1, 0.5, 0.3, 0.1], "width": [0.2, 0.3, 0.3, 0.1, 0.1, 0, 0, 0],
///  "family": {"Qwen2.5": 0.8, "Llama-3.1": 0.2}, "size": {"medium": 0.7, "small": 0.3},
///  "role": {"generate": 0.5, "refine": 0.3, "aggregate": 0.2}, "edge_density": 0.6,
///  "step": 0.5, "rationale": "..."}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentUpdate {
    /// Target probabilities of depth `1..=D` (`D` entries).
    #[serde(default)]
    pub depth: Option<Vec<f64>>,
    /// Target probabilities of width `1..=W` for every layer (`W` entries).
    #[serde(default)]
    pub width: Option<Vec<f64>>,
    /// Target probabilities of families, by name (missing names get 0).
    #[serde(default)]
    pub family: Option<BTreeMap<String, f64>>,
    /// Target probabilities of size classes, by name.
    #[serde(default)]
    pub size: Option<BTreeMap<String, f64>>,
    /// Target probabilities of roles (`generate`, `refine`, `aggregate`).
    #[serde(default)]
    pub role: Option<BTreeMap<String, f64>>,
    /// Target probability of every edge.
    #[serde(default)]
    pub edge_density: Option<f64>,
    /// Blend factor in `(0, 1]`: `theta <- (1 - step) theta + step log(target)`.
    pub step: f64,
    /// The agent's reasoning (kept for the log, not used).
    #[serde(default)]
    pub rationale: Option<String>,
}

fn bad(detail: String) -> Error {
    Error::Corrupt { what: "agent reply", detail }
}

/// Normalises non-negative finite weights, then floors them at [`TARGET_FLOOR`] and
/// renormalises; returns log-probabilities.
fn log_targets(field: &str, w: &[f64]) -> Result<Vec<f64>> {
    if let Some(x) = w.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(bad(format!("field `{field}`: {x} is not a probability weight")));
    }
    let total: f64 = w.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(bad(format!("field `{field}`: weights sum to {total}")));
    }
    let floored: Vec<f64> = w.iter().map(|x| (x / total).max(TARGET_FLOOR)).collect();
    let z: f64 = floored.iter().sum();
    Ok(floored.iter().map(|p| (p / z).ln()).collect())
}

fn by_name(field: &str, map: &BTreeMap<String, f64>, names: &[&str]) -> Result<Vec<f64>> {
    if let Some(k) = map.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(bad(format!(
            "field `{field}`: unknown name `{k}` (expected one of {names:?})"
        )));
    }
    Ok(names.iter().map(|n| map.get(*n).copied().unwrap_or(0.0)).collect())
}

/// A validated update, resolved against a space: log-targets per block kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedUpdate {
    depth: Option<Vec<f64>>,
    width: Option<Vec<f64>>,
    family: Option<Vec<f64>>,
    size: Option<Vec<f64>>,
    role: Option<Vec<f64>>,
    edge_logit: Option<f64>,
    step: f64,
}

impl AgentUpdate {
    /// Parses the JSON object in an agent's message: the text between its first `{` and
    /// its last `}` (so code fences or a sentence around it are tolerated).
    pub fn parse(message: &str) -> Result<Self> {
        let (Some(a), Some(b)) = (message.find('{'), message.rfind('}')) else {
            return Err(bad("no JSON object in the reply".into()));
        };
        if b < a {
            return Err(bad("no JSON object in the reply".into()));
        }
        serde_json::from_str(&message[a..=b]).map_err(|e| bad(format!("invalid JSON: {e}")))
    }

    /// Checks every field against `space` and `names` and turns targets into logits.
    pub fn resolve(&self, space: &GraphSpace, names: &Names) -> Result<ResolvedUpdate> {
        if !(self.step > 0.0 && self.step <= 1.0) {
            return Err(bad(format!("field `step`: {} is outside (0, 1]", self.step)));
        }
        let sized = |field: &str, v: &Option<Vec<f64>>, n: usize| -> Result<Option<Vec<f64>>> {
            match v {
                None => Ok(None),
                Some(v) if v.len() != n => {
                    Err(bad(format!("field `{field}`: {} entries, expected {n}", v.len())))
                }
                Some(v) => log_targets(field, v).map(Some),
            }
        };
        let named = |field: &str, m: &Option<BTreeMap<String, f64>>, names: &[&str]| {
            m.as_ref()
                .map(|m| by_name(field, m, names).and_then(|w| log_targets(field, &w)))
                .transpose()
        };
        let families: Vec<&str> = names.families.iter().map(String::as_str).collect();
        let sizes: Vec<&str> = names.sizes.iter().map(String::as_str).collect();
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        if families.len() != space.families() || sizes.len() != space.sizes() {
            return Err(Error::mismatch(
                "agent names",
                format!("{} families x {} sizes", space.families(), space.sizes()),
                format!("{} families x {} sizes", families.len(), sizes.len()),
            ));
        }
        let edge_logit = match self.edge_density {
            None => None,
            Some(p) if (0.0..=1.0).contains(&p) => {
                let p = p.clamp(EDGE_MIN, 1.0 - EDGE_MIN);
                Some((p / (1.0 - p)).ln())
            }
            Some(p) => return Err(bad(format!("field `edge_density`: {p} is outside [0, 1]"))),
        };
        Ok(ResolvedUpdate {
            depth: sized("depth", &self.depth, space.max_depth())?,
            width: sized("width", &self.width, space.max_width())?,
            family: named("family", &self.family, &families)?,
            size: named("size", &self.size, &sizes)?,
            role: named("role", &self.role, &roles)?,
            edge_logit,
            step: self.step,
        })
    }
}

impl ResolvedUpdate {
    /// Blends `theta` toward the targets: `theta <- (1 - step) theta + step target` in every
    /// block the update names (every layer's widths, every slot's family / size / role,
    /// every edge).
    pub fn apply(&self, space: &GraphSpace, theta: &mut [f64]) -> Result<()> {
        gradus_core::validate::same_len("theta", space.dim(), theta.len())?;
        let eta = self.step;
        let mut blend = |off: usize, target: &[f64]| {
            for (k, t) in target.iter().enumerate() {
                theta[off + k] = (1.0 - eta) * theta[off + k] + eta * t;
            }
        };
        if let Some(t) = &self.depth {
            blend(space.depth_offset(), t);
        }
        for d in 0..space.max_depth() {
            if let Some(t) = &self.width {
                blend(space.width_offset(d), t);
            }
            for i in 0..space.max_width() {
                if let Some(t) = &self.family {
                    blend(space.family_offset(d, i), t);
                }
                if let Some(t) = &self.size {
                    blend(space.size_offset(d, i), t);
                }
                if let (Some(t), true) = (&self.role, d > 0) {
                    blend(space.role_offset(d, i), t);
                }
            }
        }
        if let Some(l) = self.edge_logit {
            for idx in space.edge_range() {
                theta[idx] = (1.0 - eta) * theta[idx] + eta * l;
            }
        }
        Ok(())
    }
}

/// The assistant message of an OpenAI-compatible chat-completions response body
/// (`choices[0].message.content`); an `error` object becomes an error naming its message.
pub fn chat_content(body: &str) -> Result<String> {
    let corrupt = |detail: String| Error::Corrupt { what: "chat completion", detail };
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
    if let Some(err) = v.get("error") {
        let msg = err.get("message").and_then(|m| m.as_str()).unwrap_or("(no message)");
        return Err(corrupt(format!("the endpoint returned an error: {msg}")));
    }
    v.pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .ok_or_else(|| corrupt("no choices[0].message.content string".into()))
}
