//! An Agent-REINFORCE feedback that asks an OpenAI-compatible chat-completions endpoint for
//! the update (feature `llm-agent`): plain HTTP/1.1 over `std::net`, with a deadline on the
//! whole exchange and a cap on the response size.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use gradus_core::{Error, Result};

use super::http::{Endpoint, parse_response, truncate};
use super::prompt;
use super::reply::{AgentUpdate, chat_content};
use crate::optimise::{Feedback, FeedbackInput};

/// Settings of an [`LlmAgent`].
#[derive(Debug, Clone, PartialEq)]
pub struct LlmAgentConfig {
    /// `http://host:port/path` of the chat-completions endpoint.
    pub endpoint: String,
    /// Model name sent in the request.
    pub model: String,
    /// Bearer token, if the endpoint wants one (passed in by the caller, never read from
    /// the environment).
    pub api_key: Option<String>,
    /// Deadline for connecting, sending and receiving one reply.
    pub timeout: Duration,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: usize,
    /// Sampling temperature sent in the request.
    pub temperature: f64,
}

impl LlmAgentConfig {
    /// `model` at `endpoint`, no key, 60 s deadline, 1 MiB responses, temperature 0.
    pub fn new(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        LlmAgentConfig {
            endpoint: endpoint.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(60),
            max_response_bytes: 1 << 20,
            temperature: 0.0,
        }
    }
}

/// The LLM feedback agent: sends the scored graphs ([`prompt::user`]) and applies the JSON
/// update it gets back ([`AgentUpdate`]). Any failure (connection, time-out, HTTP status,
/// malformed JSON, wrong schema) is an error and leaves `theta` unchanged.
#[derive(Debug, Clone)]
pub struct LlmAgent {
    endpoint: Endpoint,
    cfg: LlmAgentConfig,
    last_rationale: Option<String>,
}

impl LlmAgent {
    /// Checks the settings and parses the endpoint.
    pub fn new(cfg: LlmAgentConfig) -> Result<Self> {
        let endpoint = Endpoint::parse(&cfg.endpoint)?;
        if cfg.model.trim().is_empty() {
            return Err(Error::InvalidShape {
                what: "LLM agent model",
                detail: "empty name".into(),
            });
        }
        gradus_core::validate::positive("timeout", cfg.timeout.as_secs_f64())?;
        gradus_core::validate::non_negative("temperature", cfg.temperature)?;
        if cfg.max_response_bytes == 0 {
            return Err(Error::hyper("max_response_bytes", 0.0, "must be at least 1"));
        }
        Ok(LlmAgent { endpoint, cfg, last_rationale: None })
    }

    /// The rationale of the last applied update.
    pub fn last_rationale(&self) -> Option<&str> {
        self.last_rationale.as_deref()
    }

    /// The JSON request body for one exchange.
    pub fn request_body(&self, system: &str, user: &str) -> String {
        serde_json::json!({
            "model": self.cfg.model,
            "temperature": self.cfg.temperature,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        })
        .to_string()
    }

    fn timed_out(&self) -> Error {
        Error::Io {
            path: self.endpoint.url(),
            message: format!("no complete response within {:.1} s", self.cfg.timeout.as_secs_f64()),
        }
    }

    /// Sends `request` and reads the response until the server closes the connection.
    fn exchange(&self, request: &[u8]) -> Result<Vec<u8>> {
        let url = self.endpoint.url();
        let io = |e: std::io::Error| Error::io(&url, e);
        let deadline = Instant::now() + self.cfg.timeout;
        let left =
            || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let addrs =
            (self.endpoint.host.as_str(), self.endpoint.port).to_socket_addrs().map_err(io)?;
        let mut stream = None;
        let mut last = std::io::Error::new(ErrorKind::NotFound, "the host resolved to no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, left()) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut stream = stream.ok_or_else(|| io(last))?;
        stream.set_write_timeout(Some(left())).map_err(io)?;
        stream.write_all(request).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => self.timed_out(),
            _ => io(e),
        })?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if Instant::now() >= deadline {
                return Err(self.timed_out());
            }
            stream.set_read_timeout(Some(left())).map_err(io)?;
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(raw),
                Ok(n) => {
                    if raw.len() + n > self.cfg.max_response_bytes {
                        return Err(Error::Corrupt {
                            what: "HTTP response",
                            detail: format!("larger than {} bytes", self.cfg.max_response_bytes),
                        });
                    }
                    raw.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(self.timed_out());
                }
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// One chat exchange: the assistant's message content.
    pub fn chat(&self, system: &str, user: &str) -> Result<String> {
        let body = self.request_body(system, user);
        let request = self.endpoint.post_json(&body, self.cfg.api_key.as_deref())?;
        let response = parse_response(&self.exchange(&request)?)?;
        let text = String::from_utf8_lossy(&response.body);
        if response.status != 200 {
            return Err(Error::Io {
                path: self.endpoint.url(),
                message: format!("HTTP status {}: {}", response.status, truncate(&text, 200)),
            });
        }
        chat_content(&text)
    }
}

impl Feedback for LlmAgent {
    fn name(&self) -> String {
        format!("LLM agent ({})", self.cfg.model)
    }

    fn wants_probes(&self) -> bool {
        true
    }

    fn initialise(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        self.update(input, theta)
    }

    fn update(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        let content = self.chat(&prompt::system(), &prompt::user(input))?;
        let update = AgentUpdate::parse(&content)?;
        update.resolve(input.space, input.ctx.names)?.apply(input.space, theta)?;
        self.last_rationale = update.rationale;
        Ok(())
    }
}
