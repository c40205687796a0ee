#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus::fuzz_harness::control_inputs(data));
