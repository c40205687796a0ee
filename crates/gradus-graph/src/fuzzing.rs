//! Fuzz harness (`fuzz/fuzz_targets/agent_reply.rs`): an LLM agent's reply from arbitrary
//! bytes, as raw HTTP, as a chat-completions body or as the message itself, through parsing,
//! validation and application to `theta`. Nothing may panic; an accepted update must leave
//! `theta` finite and usable. The committed corpus is replayed by `tests/fuzz_corpus.rs`.

use crate::llm::http::{Endpoint, parse_response};
use crate::llm::{AgentUpdate, chat_content};
use crate::model::{GraphDistribution, GraphSpace};
use crate::optimise::Names;

/// Dispatches on the first byte: 0 = HTTP response bytes, 1 = chat-completions body,
/// 2 = agent message, 3 = endpoint URL.
pub fn agent_reply(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let content = match kind % 4 {
        0 => {
            let Ok(r) = parse_response(rest) else { return };
            let Ok(c) = chat_content(&String::from_utf8_lossy(&r.body)) else { return };
            c
        }
        1 => {
            let Ok(c) = chat_content(&text) else { return };
            c
        }
        2 => text.into_owned(),
        _ => {
            if let Ok(e) = Endpoint::parse(&text) {
                let _ = e.post_json("{}", Some("key"));
            }
            return;
        }
    };
    apply(&content);
}

fn apply(content: &str) {
    let Ok(space) = GraphSpace::new(3, 4, 2, 3) else { return };
    let names = Names {
        families: vec!["Qwen2.5".into(), "Llama-3.1".into()],
        sizes: vec!["small".into(), "medium".into(), "large".into()],
        models: (0..6).map(|m| format!("model-{m}")).collect(),
    };
    let Ok(update) = AgentUpdate::parse(content) else { return };
    let Ok(resolved) = update.resolve(&space, &names) else { return };
    let mut theta = vec![0.25; space.dim()];
    assert!(resolved.apply(&space, &mut theta).is_ok(), "a resolved update must apply");
    assert!(theta.iter().all(|t| t.is_finite()), "an accepted update made theta non-finite");
    assert!(GraphDistribution::new(&space, &theta).is_ok(), "updated theta must be usable");
}
