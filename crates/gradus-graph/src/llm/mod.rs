//! An LLM as the Agent-REINFORCE feedback: the prompt it reads ([`prompt`]), the JSON
//! update it writes ([`AgentUpdate`], validated and applied to `theta`), the HTTP/1.1 wire
//! format ([`http`]) and, with the `llm-agent` feature, the client ([`LlmAgent`]).
//!
//! Replies are untrusted input: the parsers are fuzzed (`fuzz/fuzz_targets/agent_reply.rs`)
//! and every failure is an error that leaves the optimisation state unchanged.

#[cfg(feature = "llm-agent")]
mod client;
pub mod http;
pub mod prompt;
mod reply;

#[cfg(feature = "llm-agent")]
pub use client::{LlmAgent, LlmAgentConfig};
pub use reply::{AgentUpdate, EDGE_MIN, ResolvedUpdate, TARGET_FLOOR, chat_content};
