//! Bytes from a peer rank: message packets and uplink frames (gradus-dist `comm`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gradus_dist::comm::fuzzing::decode(data);
});
