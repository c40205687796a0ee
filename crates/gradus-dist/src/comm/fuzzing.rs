//! Entry points for the fuzz targets (`fuzz/fuzz_targets/comm_decode.rs`): what a server or
//! worker does with bytes a peer sent. Every input must give `Ok` or `Err`, never a panic.

use super::frame::{self, Kind, Reader};
use super::wire;

/// Byte 0 picks the dimension (1..=64); the rest is decoded as a packet (f64 and f32) and
/// read as an uplink frame (head, worker range, per-worker status, loss, counts, packet or
/// error), as [`super::RankCluster`]'s server reads one.
pub fn decode(bytes: &[u8]) {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let d = first as usize % 64 + 1;
    let mut a = vec![0.0f64; d];
    if let Ok(p) = wire::decode(rest, &mut a) {
        assert!(p.bytes <= rest.len() && p.count <= d);
        assert!(a.iter().all(|x| x.is_finite()));
        // A decoded packet re-encodes to a packet that decodes to the same bits.
        let mut again = Vec::new();
        wire::encode(&a, p.count, &mut again);
        let mut b = vec![0.0f64; d];
        let q = wire::decode(&again, &mut b).map(|q| q.bytes);
        assert_eq!(q.ok(), Some(again.len()));
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    let mut c = vec![0.0f32; d];
    let _ = wire::decode(rest, &mut c);
    let _ = read_up(rest, &mut a);
}

fn read_up(bytes: &[u8], scratch: &mut [f64]) -> gradus_core::Result<()> {
    let mut rd = Reader::open(bytes, 1, Kind::Up, 0, 0)?;
    let (_first, count, _dim) = (rd.u32()?, rd.u32()?, rd.u64()?);
    for _ in 0..count.min(1024) {
        match rd.u8()? {
            0 => {
                let (_loss, _nnz, _bits) = (rd.f64()?, rd.u64()?, rd.u64()?);
                let p = wire::decode(rd.rest(), scratch)?;
                rd.skip(p.bytes)?;
            }
            1 => {
                frame::get_error(&mut rd)?;
            }
            _ => return Err(rd.error("status")),
        }
    }
    rd.finish()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, RngCore};

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut r = gradus_core::rng::seeded(4);
        for len in 0..400usize {
            let mut b = vec![0u8; len % 97];
            r.fill_bytes(&mut b);
            if len % 3 == 0 && b.len() > 3 {
                // Plausible heads: sparse / dense layouts with matching widths.
                b[1] = r.random_range(0..2);
                b[2] = 64;
            }
            super::decode(&b);
        }
    }
}
