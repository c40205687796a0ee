//! The agent-reply format without a network: parsing, validation and application of
//! [`AgentUpdate`], chat-completions bodies, HTTP responses and endpoint URLs, and the prompt.

use gradus_core::Error;
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::llm::http::{Endpoint, parse_response};
use gradus_graph::llm::{AgentUpdate, TARGET_FLOOR, chat_content, prompt};
use gradus_graph::model::ROLES;
use gradus_graph::optimise::{FeedbackInput, Names, Record, SearchConfig, SearchContext};
use gradus_graph::{Environment, Graph, GraphDistribution, GraphSpace};

fn setup() -> (SimEnv, GraphSpace, Names) {
    let env = SimEnv::new(ModelPool::open_2024(), TaskProfile::math_like(), 16, 100, 0).unwrap();
    let names = Names::of(&env);
    (env, GraphSpace::new(3, 4, 2, 3).unwrap(), names)
}

const GOOD: &str = r#"Here is my update:
```json
{"depth": [0.2, 0.6, 0.2], "width": [0, 1, 1, 0], "family": {"Qwen2.5": 0.9},
 "size": {"medium": 3, "small": 1}, "role": {"aggregate": 1.0}, "edge_density": 0.999,
 "step": 1.0, "rationale": "medium Qwen samplers, one aggregator"}
```"#;

#[test]
fn a_good_reply_sets_every_block_to_its_floored_target() {
    let (_, space, names) = setup();
    let update = AgentUpdate::parse(GOOD).unwrap();
    assert_eq!(update.rationale.as_deref(), Some("medium Qwen samplers, one aggregator"));
    let mut theta = vec![0.7; space.dim()];
    update.resolve(&space, &names).unwrap().apply(&space, &mut theta).unwrap();
    let p = GraphDistribution::new(&space, &theta).unwrap();
    let p = p.probabilities();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    // step = 1: the distribution is the (floored, renormalised) target everywhere.
    assert!(close(p[space.depth_offset() + 1], 0.6));
    let floor_w = TARGET_FLOOR / (1.0 + 2.0 * TARGET_FLOOR);
    for d in 0..3 {
        let w = &p[space.width_offset(d)..space.width_offset(d) + 4];
        assert!(close(w[0], floor_w) && close(w[1], 0.5 / (1.0 + 2.0 * TARGET_FLOOR)), "{w:?}");
    }
    let f = space.family_offset(2, 3);
    assert!(
        close(p[f], 1.0 / (1.0 + TARGET_FLOOR))
            && close(p[f + 1], TARGET_FLOOR / (1.0 + TARGET_FLOOR))
    );
    let s = space.size_offset(0, 0);
    let z = 0.25 + 0.75 + TARGET_FLOOR;
    assert!(
        close(p[s], 0.25 / z) && close(p[s + 1], 0.75 / z) && close(p[s + 2], TARGET_FLOOR / z)
    );
    let r = space.role_offset(1, 0);
    assert!(close(p[r + 2], 1.0 / (1.0 + 2.0 * TARGET_FLOOR)));
    assert_eq!(ROLES, 3);
    assert!(space.edge_range().all(|e| close(p[e], 0.98)));
}

#[test]
fn a_partial_reply_blends_only_its_fields() {
    let (_, space, names) = setup();
    let update =
        AgentUpdate::parse(r#"{"family": {"Llama-3.1": 1, "Qwen2.5": 1}, "step": 0.5}"#).unwrap();
    let mut theta: Vec<f64> = (0..space.dim()).map(|i| (i % 7) as f64 * 0.1).collect();
    let before = theta.clone();
    update.resolve(&space, &names).unwrap().apply(&space, &mut theta).unwrap();
    let f = space.family_offset(1, 1);
    for k in 0..space.dim() {
        if k == f || k == f + 1 {
            assert!((theta[k] - (0.5 * before[k] + 0.5 * 0.5f64.ln())).abs() < 1e-12);
        } else if !(space.family_offset(0, 0)..space.size_offset(0, 0)).contains(&k) {
            assert_eq!(theta[k], before[k], "index {k}");
        }
    }
}

#[test]
fn malformed_and_wrong_schema_replies_are_clear_errors() {
    let (_, space, names) = setup();
    let corrupt = |e: Error, needle: &str| match e {
        Error::Corrupt { what: "agent reply", detail } => {
            assert!(detail.contains(needle), "`{detail}` lacks `{needle}`")
        }
        other => panic!("unexpected error {other}"),
    };
    corrupt(AgentUpdate::parse("I think more width helps.").unwrap_err(), "no JSON object");
    corrupt(AgentUpdate::parse("} {").unwrap_err(), "no JSON object");
    corrupt(AgentUpdate::parse(r#"{"step": 0.5,}"#).unwrap_err(), "invalid JSON");
    corrupt(AgentUpdate::parse(r#"{"step": 0.5, "depth": [1, 2"#).unwrap_err(), "no JSON object");
    corrupt(AgentUpdate::parse(r#"{"depth": [1, 2]}"#).unwrap_err(), "missing field `step`");
    corrupt(
        AgentUpdate::parse(r#"{"family": [0.5, 0.5], "step": 1}"#).unwrap_err(),
        "invalid JSON",
    );
    corrupt(AgentUpdate::parse(r#"{"step": "half"}"#).unwrap_err(), "invalid JSON");
    let resolve = |s: &str| AgentUpdate::parse(s).unwrap().resolve(&space, &names).unwrap_err();
    corrupt(resolve(r#"{"step": 0}"#), "step");
    corrupt(resolve(r#"{"step": 1.5}"#), "step");
    corrupt(resolve(r#"{"depth": [1, 2], "step": 1}"#), "2 entries, expected 3");
    corrupt(resolve(r#"{"width": [1, -1, 0, 0], "step": 1}"#), "not a probability");
    corrupt(resolve(r#"{"width": [0, 0, 0, 0], "step": 1}"#), "sum to 0");
    corrupt(resolve(r#"{"width": [1e308, 1e308, 1, 1], "step": 1}"#), "sum to inf");
    corrupt(resolve(r#"{"family": {"Mistral": 1}, "step": 1}"#), "unknown name `Mistral`");
    corrupt(resolve(r#"{"role": {"judge": 1}, "step": 1}"#), "unknown name `judge`");
    corrupt(resolve(r#"{"edge_density": 1.5, "step": 1}"#), "edge_density");
}

#[test]
fn chat_bodies_are_unwrapped_or_refused() {
    let body = r#"{"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"step\": 1}"}}]}"#;
    assert_eq!(chat_content(body).unwrap(), r#"{"step": 1}"#);
    for (bad, needle) in [
        ("not json", "invalid JSON"),
        (r#"{"choices": []}"#, "no choices[0].message.content"),
        (r#"{"choices": [{"message": {"content": 3}}]}"#, "no choices[0].message.content"),
        (r#"{"error": {"message": "rate limited"}}"#, "rate limited"),
    ] {
        match chat_content(bad).unwrap_err() {
            Error::Corrupt { what: "chat completion", detail } => {
                assert!(detail.contains(needle), "{detail}")
            }
            e => panic!("{e}"),
        }
    }
}

#[test]
fn http_responses_parse_with_length_chunked_or_eof_bodies() {
    let r =
        parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA").unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    let r = parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n").unwrap();
    assert_eq!(r.body, b"Wikipedia");
    let r = parse_response(b"HTTP/1.0 503 Busy\r\n\r\nlater").unwrap();
    assert_eq!((r.status, r.body.as_slice()), (503, &b"later"[..]));
    for bad in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
        b"SMTP 220 hello\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"",
    ] {
        assert!(
            matches!(parse_response(bad), Err(Error::Corrupt { what: "HTTP response", .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn endpoints_parse_and_requests_are_well_formed() {
    let e = Endpoint::parse("http://127.0.0.1:8080/v1/chat/completions").unwrap();
    assert_eq!(
        (e.host.as_str(), e.port, e.path.as_str()),
        ("127.0.0.1", 8080, "/v1/chat/completions")
    );
    assert_eq!(Endpoint::parse("http://localhost").unwrap().path, "/v1/chat/completions");
    assert_eq!(Endpoint::parse("http://localhost").unwrap().port, 80);
    assert!(matches!(Endpoint::parse("https://api.example.com/v1"), Err(Error::Unsupported(_))));
    for bad in ["ftp://x", "http://:80/", "http://host:99999/", "http://ho st/", "http://h/p q"] {
        assert!(Endpoint::parse(bad).is_err(), "{bad}");
    }
    let req = String::from_utf8(e.post_json(r#"{"a":1}"#, Some("k")).unwrap()).unwrap();
    assert!(req.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"));
    assert!(req.contains("Content-Length: 7\r\n") && req.contains("Authorization: Bearer k\r\n"));
    assert!(req.ends_with("\r\n\r\n{\"a\":1}"));
    assert!(e.post_json("{}", Some("a\r\nInjected: 1")).is_err());
}

#[test]
fn the_prompt_states_budget_pool_distribution_and_scores() {
    let (env, space, names) = setup();
    let cfg = SearchConfig::new(5e13, 10, 2, 0);
    let ctx = SearchContext { cfg: &cfg, cost: env.cost_model(), names: &names };
    let g = Graph::parallel(0, 1, 3).unwrap();
    let evaluation = env.reference(&g).unwrap();
    let rec = Record { graph: g, evaluation, utility: 0.8125, iteration: 0 };
    let dist = GraphDistribution::uniform(&space);
    let input = FeedbackInput {
        space: &space,
        distribution: &dist,
        ctx: &ctx,
        batch: std::slice::from_ref(&rec),
        history: std::slice::from_ref(&rec),
    };
    let text = prompt::user(&input);
    for needle in [
        "5.000e13 FLOPs",
        "Qwen2.5-7B (family Qwen2.5, size medium)",
        "[3x Qwen2.5-7B gen]",
        "utility 0.8125",
        "Best graphs so far",
        "depth [0.333, 0.333, 0.333]",
    ] {
        assert!(text.contains(needle), "prompt lacks `{needle}`:\n{text}");
    }
    assert!(prompt::system().contains("\"step\""));
}
