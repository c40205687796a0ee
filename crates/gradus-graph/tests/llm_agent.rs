//! The `llm-agent` feature against a stub chat-completions server on 127.0.0.1 (never the
//! internet): a good reply updates `theta`; malformed JSON, a wrong schema, an HTTP error, a
//! time-out, a refused connection and an oversized reply are clear errors that leave the
//! optimisation state unchanged.
#![cfg(feature = "llm-agent")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use gradus_core::Error;
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::llm::{LlmAgent, LlmAgentConfig};
use gradus_graph::optimise::{
    AgentReinforce, Names, Record, SearchConfig, SearchContext, Searcher,
};
use gradus_graph::{Environment, GraphSpace, search};

/// Reads one HTTP request (headers and `Content-Length` body).
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}

/// A stub serving `replies` in turn (one per connection); `None` holds the connection open
/// without answering until the test drops the returned sender. The handle returns the
/// requests received.
fn stub(replies: Vec<Option<Vec<u8>>>) -> (String, mpsc::Sender<()>, JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for reply in replies {
            let (mut s, _) = listener.accept().unwrap();
            requests.push(read_request(&mut s));
            match reply {
                Some(bytes) => {
                    // The client may already have given up; that is its business.
                    let _ = s.write_all(&bytes);
                }
                None => {
                    let _ = rx.recv_timeout(Duration::from_secs(30));
                }
            }
        }
        requests
    });
    (url, tx, handle)
}

fn http(status: &str, body: &str) -> Option<Vec<u8>> {
    Some(
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .into_bytes(),
    )
}

fn chat(content: &str) -> Option<Vec<u8>> {
    let body = serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]});
    http("200 OK", &body.to_string())
}

const GOOD: &str = r#"{"family": {"Qwen2.5": 0.9, "Llama-3.1": 0.1}, "size": {"medium": 0.8, "small": 0.2}, "depth": [0.6, 0.3, 0.1], "step": 0.5, "rationale": "Qwen-7B samplers"}"#;

struct Fixture {
    env: SimEnv,
    space: GraphSpace,
    names: Names,
    cfg: SearchConfig,
}

fn fixture() -> Fixture {
    let env = SimEnv::new(ModelPool::open_2024(), TaskProfile::math_like(), 16, 100, 0).unwrap();
    let names = Names::of(&env);
    let cfg = SearchConfig::new(6.0 * env.cost_model().call_flops(0, 1, 0), 12, 4, 0);
    Fixture { env, space: GraphSpace::new(3, 4, 2, 3).unwrap(), names, cfg }
}

fn agent(url: &str, timeout_ms: u64) -> LlmAgent {
    let mut cfg = LlmAgentConfig::new(url, "stub-model");
    cfg.api_key = Some("test-key".into());
    cfg.timeout = Duration::from_millis(timeout_ms);
    cfg.max_response_bytes = 64 * 1024;
    LlmAgent::new(cfg).unwrap()
}

/// Proposes the probes and runs one learning step against the stub; returns the result and
/// whether the state (theta, distribution, initialised) is unchanged.
fn one_update(f: &Fixture, url: &str, timeout_ms: u64) -> (gradus_core::Result<()>, bool) {
    let mut m = AgentReinforce::new(&f.space, agent(url, timeout_ms), 20.0).unwrap();
    let ctx = SearchContext { cfg: &f.cfg, cost: f.env.cost_model(), names: &f.names };
    let mut graphs = Vec::new();
    m.propose(0, 4, &ctx, &mut graphs).unwrap();
    let batch: Vec<Record> = graphs
        .iter()
        .map(|g| {
            let evaluation = f.env.reference(g).unwrap();
            Record { graph: g.clone(), evaluation, utility: evaluation.accuracy, iteration: 0 }
        })
        .collect();
    let (theta, dist) = (m.theta().to_vec(), m.distribution().clone());
    let r = m.learn(&batch, &[], &ctx);
    let unchanged = m.theta() == theta.as_slice() && m.distribution() == &dist && !m.initialised();
    (r, unchanged)
}

#[test]
fn a_good_reply_updates_theta_and_the_request_is_well_formed() {
    let f = fixture();
    let (url, _tx, server) = stub(vec![chat(&format!("```json\n{GOOD}\n```"))]);
    let (r, unchanged) = one_update(&f, &url, 5000);
    r.unwrap();
    assert!(!unchanged);
    let requests = server.join().unwrap();
    let req = String::from_utf8(requests[0].clone()).unwrap();
    assert!(req.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("Authorization: Bearer test-key\r\n"));
    let body: serde_json::Value =
        serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["model"], "stub-model");
    assert_eq!(body["messages"][0]["role"], "system");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Graphs just evaluated") && user.contains("Qwen2.5-7B"), "{user}");
}

fn assert_failure(r: gradus_core::Result<()>, unchanged: bool, check: impl Fn(&Error) -> bool) {
    let e = r.unwrap_err();
    assert!(check(&e), "unexpected error: {e}");
    assert!(unchanged, "a failed update changed the state ({e})");
}

#[test]
fn malformed_json_is_an_error_and_changes_nothing() {
    let f = fixture();
    let (url, _tx, server) =
        stub(vec![chat(r#"{"family": {"Qwen2.5": 0.9}, "step": 0.5"#), chat("{\"step\": 0.5,,}")]);
    for _ in 0..2 {
        let (r, unchanged) = one_update(&f, &url, 5000);
        assert_failure(r, unchanged, |e| matches!(e, Error::Corrupt { what: "agent reply", .. }));
    }
    server.join().unwrap();
    // A body that is not a chat completion at all.
    let (url, _tx, server) = stub(vec![http("200 OK", "<html>gateway</html>")]);
    let (r, unchanged) = one_update(&f, &url, 5000);
    assert_failure(r, unchanged, |e| matches!(e, Error::Corrupt { what: "chat completion", .. }));
    server.join().unwrap();
}

#[test]
fn a_wrong_schema_is_an_error_and_changes_nothing() {
    let f = fixture();
    let replies = [
        r#"{"family": {"Mistral": 1.0}, "step": 0.5}"#,
        r#"{"depth": [1, 0], "step": 0.5}"#,
        r#"{"family": [0.5, 0.5], "step": 0.5}"#,
        r#"{"size": {"medium": 1}}"#,
        r#"{"width": [1, 0, 0, 0], "step": 7}"#,
    ];
    let (url, _tx, server) = stub(replies.iter().map(|r| chat(r)).collect());
    for _ in replies {
        let (r, unchanged) = one_update(&f, &url, 5000);
        assert_failure(r, unchanged, |e| matches!(e, Error::Corrupt { what: "agent reply", .. }));
    }
    server.join().unwrap();
}

#[test]
fn http_errors_are_errors_and_change_nothing() {
    let f = fixture();
    let (url, _tx, server) = stub(vec![
        http("500 Internal Server Error", r#"{"error": {"message": "overloaded"}}"#),
        http("401 Unauthorized", "bad key"),
        Some(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntruncated".to_vec()),
        Some(b"garbage".to_vec()),
    ]);
    for status in ["500", "401"] {
        let (r, unchanged) = one_update(&f, &url, 5000);
        assert_failure(
            r,
            unchanged,
            |e| matches!(e, Error::Io { message, .. } if message.contains(&format!("HTTP status {status}"))),
        );
    }
    for _ in 0..2 {
        let (r, unchanged) = one_update(&f, &url, 5000);
        assert_failure(r, unchanged, |e| matches!(e, Error::Corrupt { what: "HTTP response", .. }));
    }
    server.join().unwrap();
}

#[test]
fn a_time_out_is_an_error_and_changes_nothing() {
    let f = fixture();
    let (url, tx, server) = stub(vec![None]);
    let (r, unchanged) = one_update(&f, &url, 300);
    assert_failure(
        r,
        unchanged,
        |e| matches!(e, Error::Io { message, .. } if message.contains("no complete response within 0.3 s")),
    );
    drop(tx);
    server.join().unwrap();
}

#[test]
fn refused_connections_and_oversized_replies_are_errors() {
    let f = fixture();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/chat/completions", closed.local_addr().unwrap());
    drop(closed);
    let (r, unchanged) = one_update(&f, &url, 2000);
    assert_failure(r, unchanged, |e| matches!(e, Error::Io { .. }));
    let huge = "x".repeat(100 * 1024);
    let (url, _tx, server) = stub(vec![chat(&huge)]);
    let (r, unchanged) = one_update(&f, &url, 5000);
    assert_failure(
        r,
        unchanged,
        |e| matches!(e, Error::Corrupt { detail, .. } if detail.contains("larger than")),
    );
    server.join().unwrap();
    let bad = LlmAgentConfig {
        timeout: Duration::ZERO,
        ..LlmAgentConfig::new("http://127.0.0.1:1/", "m")
    };
    assert!(LlmAgent::new(bad).is_err());
    assert!(LlmAgent::new(LlmAgentConfig::new("https://api.example.com/v1", "m")).is_err());
    assert!(LlmAgent::new(LlmAgentConfig::new("http://127.0.0.1:1/", " ")).is_err());
}

#[test]
fn a_whole_search_runs_against_the_stub() {
    let f = fixture();
    // 12 evaluations in batches of 4 after the probes: one update per iteration.
    let cost = f.env.cost_model();
    let probes = (0..6).filter(|m| cost.call_flops(m / 3, m % 3, 0) <= f.cfg.budget).count();
    assert_eq!(probes, 3);
    let iterations = 1 + (f.cfg.evaluations - probes).div_ceil(f.cfg.batch);
    let (url, _tx, server) = stub((0..iterations).map(|_| chat(GOOD)).collect());
    let mut m = AgentReinforce::new(&f.space, agent(&url, 5000), 20.0).unwrap();
    let r = search(&mut m, &f.env, &f.cfg).unwrap();
    assert_eq!(r.records.len(), f.cfg.evaluations);
    assert_eq!(server.join().unwrap().len(), iterations);
    assert_eq!(m.feedback().last_rationale(), Some("Qwen-7B samplers"));
    // The agent's targets moved the family preference toward Qwen.
    let p = m.distribution().probabilities();
    assert!(p[f.space.family_offset(0, 0)] > 0.8);
}
