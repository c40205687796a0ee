#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gradus_dist::federated::fuzzing::cifar10(data));
