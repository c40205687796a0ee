#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus_dist::compression::fuzzing::compressed_step(data));
