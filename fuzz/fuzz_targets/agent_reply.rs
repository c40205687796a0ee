#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus_graph::fuzzing::agent_reply(data));
