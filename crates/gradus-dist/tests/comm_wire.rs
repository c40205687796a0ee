//! Property tests of the message packets: exact round trip, size = the bit accounting.

use gradus_dist::comm::wire;
use gradus_dist::compression::{Compressor, TopK, message_bits};
use proptest::prelude::*;

fn sparse_vec() -> impl Strategy<Value = (Vec<f64>, usize)> {
    (1usize..300).prop_flat_map(|d| {
        let entry = prop_oneof![
            6 => Just(0.0f64),
            1 => Just(-0.0f64),
            3 => -1e6f64..1e6,
        ];
        (prop::collection::vec(entry, d), 0..=d)
    })
}

proptest! {
    #[test]
    fn packets_round_trip_bitwise((v, nnz) in sparse_vec()) {
        let d = v.len();
        let mut buf = Vec::new();
        let p = wire::encode(&v, nnz, &mut buf);
        let nonzero = v.iter().filter(|x| x.to_bits() != 0).count();
        prop_assert_eq!(p.bytes, buf.len());
        prop_assert_eq!(buf.len(), wire::packet_bytes(d, p.count, 64));
        prop_assert_eq!(p.payload_bits, message_bits(d, p.count, 64, 0));
        if p.sparse {
            prop_assert_eq!(p.count, nonzero.max(nnz));
        } else {
            prop_assert_eq!(p.count, d);
        }
        // Never more than one byte of padding per region beyond the accounted bits.
        prop_assert!(((buf.len() - wire::HEAD_BYTES) as u64) * 8 < p.payload_bits + 16);
        let mut out = vec![7.0f64; d];
        let q = wire::decode(&buf, &mut out).unwrap();
        prop_assert_eq!(q, p);
        for (a, b) in v.iter().zip(&out) {
            prop_assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn top_k_packets_are_the_accounted_size(v in prop::collection::vec(-10.0f32..10.0, 2..400), k in 1usize..50) {
        let d = v.len();
        let k = k.min(d);
        let mut c = TopK::new(d, k).unwrap();
        let mut out = vec![0.0f32; d];
        let m = c.compress(&v, &mut out, &mut gradus_core::rng::seeded(0)).unwrap();
        let mut buf = Vec::new();
        let p = wire::encode(&out, m.nnz, &mut buf);
        prop_assert_eq!(p.payload_bits, m.bits);
        let mut back = vec![1.0f32; d];
        wire::decode(&buf, &mut back).unwrap();
        prop_assert_eq!(back, out);
    }
}
