#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus_ot::fuzzing::ot_inputs(data));
