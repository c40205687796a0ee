#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus::fuzz_harness::eigh_and_roots(data));
