//! The wire format of a compressed message: the vector `C(v)` a compressor produced, encoded
//! either densely or as sparse index-value pairs, whichever is smaller.
//!
//! A packet is
//!
//! ```text
//! u8 layout (0 dense, 1 sparse)  u8 value bits (32 | 64)  u64 d  u64 count
//! sparse: count indices, each index_bits(d) bits, packed LSB first, padded to a byte,
//!         then count values
//! dense:  d values
//! ```
//!
//! (integers and values little-endian, values as raw IEEE bits). The payload after the
//! 18-byte head carries `message_bits(d, count, VALUE_BITS, 0)` bits plus at most 7 bits of
//! padding, so for the compressors that send plain values (top-k, rand-k, the identity,
//! EF21's uncompressed first message) a packet's payload is exactly the size the bit
//! accounting ([`crate::compression::message_bits`]) reports: the encoder sends at least the
//! `nnz` values the compressor reported, padding with zero entries when some selected values
//! happen to be zero. Quantizers (sign, QSGD, natural dithering / compression) account for
//! fewer bits per value than a float: their packets carry the decompressed floats, which is
//! exact but larger than their accounted size.
//!
//! Decoding treats the bytes as untrusted: every length, index and value is checked (indices
//! strictly increasing and below `d`, values finite) and any violation is an error, never a
//! panic or an allocation sized by the input.

use gradus_core::{Error, Result};

use crate::compression::{WireScalar, index_bits, message_bits};

/// Bytes of a packet's head.
pub const HEAD_BYTES: usize = 18;

const DENSE: u8 = 0;
const SPARSE: u8 = 1;

fn corrupt(detail: impl Into<String>) -> Error {
    Error::corrupt("message packet", detail)
}

/// Appends the raw IEEE bits of `x` (4 or 8 bytes, little-endian).
#[inline]
pub(crate) fn put_value<T: WireScalar>(out: &mut Vec<u8>, x: T) {
    if T::VALUE_BITS == 32 {
        // Widening an f32 to f64 and back is exact, sign of zero included.
        out.extend_from_slice(&(x.to_f64() as f32).to_bits().to_le_bytes());
    } else {
        out.extend_from_slice(&x.to_f64().to_bits().to_le_bytes());
    }
}

/// Reads one value written by [`put_value`] from the front of `b` (length checked by caller).
#[inline]
fn get_value<T: WireScalar>(b: &[u8]) -> T {
    if T::VALUE_BITS == 32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&b[..4]);
        T::from_f64(f32::from_bits(u32::from_le_bytes(a)) as f64)
    } else {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        T::from_f64(f64::from_bits(u64::from_le_bytes(a)))
    }
}

/// Whether `x` is `+0.0` (the value of every entry a sparse packet leaves out).
#[inline]
fn is_positive_zero<T: WireScalar>(x: T) -> bool {
    x.magnitude_key() == 0 && x.to_f64().is_sign_positive()
}

/// What [`encode`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Values sent (`d` for a dense packet).
    pub count: usize,
    /// Whether the packet is sparse.
    pub sparse: bool,
    /// Payload bits before byte padding: `message_bits(d, count, VALUE_BITS, 0)`.
    pub payload_bits: u64,
    /// Bytes appended, head included.
    pub bytes: usize,
}

/// Appends the packet of `v` to `out`. `nnz` is the number of values the compressor reported
/// sending: a sparse packet carries at least that many (see the module documentation).
pub fn encode<T: WireScalar>(v: &[T], nnz: usize, out: &mut Vec<u8>) -> Packet {
    let d = v.len();
    let vb = T::VALUE_BITS;
    let ib = index_bits(d);
    let nonzero = v.iter().filter(|&&x| !is_positive_zero(x)).count();
    let count = nonzero.max(nnz.min(d));
    let sparse = (count as u64) * (vb + ib) < (d as u64) * vb;
    let start = out.len();
    out.push(if sparse { SPARSE } else { DENSE });
    out.push(vb as u8);
    out.extend_from_slice(&(d as u64).to_le_bytes());
    let sent = if sparse { count } else { d };
    out.extend_from_slice(&(sent as u64).to_le_bytes());
    if sparse {
        // Entries sent: every entry that is not +0, plus the first +0 entries as padding.
        let mut pad = count - nonzero;
        let mut keep = |x: T| {
            if !is_positive_zero(x) {
                true
            } else if pad > 0 {
                pad -= 1;
                true
            } else {
                false
            }
        };
        let mut acc: u64 = 0;
        let mut filled: u64 = 0;
        let mut kept = Vec::with_capacity(count);
        for (i, &x) in v.iter().enumerate() {
            if !keep(x) {
                continue;
            }
            kept.push(x);
            let mut idx = i as u64;
            let mut left = ib;
            while left > 0 {
                let take = left.min(64 - filled);
                let mask = if take == 64 { u64::MAX } else { (1u64 << take) - 1 };
                acc |= (idx & mask) << filled;
                filled += take;
                left -= take;
                idx = if take == 64 { 0 } else { idx >> take };
                if filled == 64 {
                    out.extend_from_slice(&acc.to_le_bytes());
                    acc = 0;
                    filled = 0;
                }
            }
        }
        let tail = filled.div_ceil(8) as usize;
        out.extend_from_slice(&acc.to_le_bytes()[..tail]);
        kept.iter().for_each(|&x| put_value(out, x));
    } else {
        v.iter().for_each(|&x| put_value(out, x));
    }
    Packet {
        count: sent,
        sparse,
        payload_bits: message_bits(d, sent, vb, 0),
        bytes: out.len() - start,
    }
}

/// Bytes a packet with `count` values out of `d` takes (head included), without building it.
pub fn packet_bytes(d: usize, count: usize, value_bits: u64) -> usize {
    let ib = index_bits(d);
    let sparse = (count as u64) * (value_bits + ib) < (d as u64) * value_bits;
    let vbytes = (value_bits / 8) as usize;
    if sparse {
        HEAD_BYTES + ((count as u64 * ib).div_ceil(8)) as usize + count * vbytes
    } else {
        HEAD_BYTES + d * vbytes
    }
}

/// Decodes the packet at the front of `bytes` into `out` (whose length is the expected `d`)
/// and returns what it held (`bytes`: the bytes read). On error `out` holds unspecified
/// values.
pub fn decode<T: WireScalar>(bytes: &[u8], out: &mut [T]) -> Result<Packet> {
    if bytes.len() < HEAD_BYTES {
        return Err(corrupt(format!("{} bytes, shorter than the head", bytes.len())));
    }
    let layout = bytes[0];
    let vb = bytes[1] as u64;
    if vb != T::VALUE_BITS {
        return Err(corrupt(format!("values of {vb} bits, expected {}", T::VALUE_BITS)));
    }
    let word = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let (d, count) = (word(2), word(10));
    if d != out.len() as u64 {
        return Err(corrupt(format!("dimension {d}, expected {}", out.len())));
    }
    let d = out.len();
    if count > d as u64 {
        return Err(corrupt(format!("{count} values for dimension {d}")));
    }
    let count = count as usize;
    let vbytes = (vb / 8) as usize;
    let body = &bytes[HEAD_BYTES..];
    let (used, sparse) = match layout {
        DENSE => {
            if count != d {
                return Err(corrupt(format!("dense packet with {count} values for {d}")));
            }
            let need = d * vbytes;
            if body.len() < need {
                return Err(corrupt(format!("dense payload of {} bytes, need {need}", body.len())));
            }
            for (o, c) in out.iter_mut().zip(body[..need].chunks_exact(vbytes)) {
                *o = get_value(c);
            }
            (need, false)
        }
        SPARSE => {
            let ib = index_bits(d);
            let ibytes = (count as u64 * ib).div_ceil(8) as usize;
            let need = ibytes + count * vbytes;
            if body.len() < need {
                return Err(corrupt(format!(
                    "sparse payload of {} bytes, need {need}",
                    body.len()
                )));
            }
            out.iter_mut().for_each(|o| *o = T::ZERO);
            let (idx, vals) = body[..need].split_at(ibytes);
            let mut bit: u64 = 0;
            let mut prev: Option<usize> = None;
            for (j, c) in vals.chunks_exact(vbytes).enumerate() {
                let mut i: u64 = 0;
                for b in 0..ib {
                    let at = bit + b;
                    let byte = idx[(at / 8) as usize];
                    i |= (((byte >> (at % 8)) & 1) as u64) << b;
                }
                bit += ib;
                let i = i as usize;
                if i >= d || prev.is_some_and(|p| i <= p) {
                    return Err(corrupt(format!(
                        "index {i} at position {j} out of order or range"
                    )));
                }
                prev = Some(i);
                out[i] = get_value(c);
            }
            (need, true)
        }
        other => return Err(corrupt(format!("unknown layout {other}"))),
    };
    if let Some(i) = out.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "message packet value", index: i });
    }
    Ok(Packet {
        count,
        sparse,
        payload_bits: message_bits(d, count, vb, 0),
        bytes: HEAD_BYTES + used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_round_trip_bitwise() {
        let v = [0.0f64, -0.0, 1.5, 0.0, -2.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut buf = Vec::new();
        let p = encode(&v, 2, &mut buf);
        // -0.0, 1.5, -2.25 are sent: 3 values of 64 bits plus 4-bit indices.
        assert!(p.sparse);
        assert_eq!(p.count, 3);
        assert_eq!(p.payload_bits, 3 * (64 + 4));
        assert_eq!(p.bytes, buf.len());
        assert_eq!(buf.len(), packet_bytes(12, 3, 64));
        let mut out = [9.0f64; 12];
        assert_eq!(decode(&buf, &mut out).unwrap(), p);
        for (a, b) in v.iter().zip(&out) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        let w: Vec<f32> = (0..5).map(|i| i as f32 - 2.0).collect();
        buf.clear();
        let p = encode(&w, 5, &mut buf);
        assert!(!p.sparse);
        assert_eq!(p.payload_bits, 5 * 32);
        let mut out = [0.0f32; 5];
        decode(&buf, &mut out).unwrap();
        assert_eq!(out.to_vec(), w);
    }

    #[test]
    fn padding_reaches_the_reported_count() {
        let mut v = vec![0.0f32; 1000];
        v[7] = 1.0;
        let mut buf = Vec::new();
        let p = encode(&v, 4, &mut buf);
        assert_eq!(p.count, 4);
        assert_eq!(p.payload_bits, message_bits(1000, 4, 32, 0));
        let mut out = vec![1.0f32; 1000];
        decode(&buf, &mut out).unwrap();
        assert_eq!(out, v);
    }

    #[test]
    fn malformed_packets_are_errors() {
        let v = [0.0f64, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut buf = Vec::new();
        encode(&v, 1, &mut buf);
        let mut out = [0.0f64; 8];
        assert!(decode(&buf[..buf.len() - 1], &mut out).is_err());
        assert!(decode(&buf, &mut [0.0f64; 7]).is_err());
        assert!(decode(&buf, &mut [0.0f32; 8]).is_err());
        let mut bad = buf.clone();
        bad[0] = 7;
        assert!(decode(&bad, &mut out).is_err());
        let mut bad = buf.clone();
        bad[10] = 200;
        assert!(decode(&bad, &mut out).is_err());
        let mut nan = Vec::new();
        encode(&[f64::NAN, 1.0], 2, &mut nan);
        assert!(matches!(decode(&nan, &mut [0.0f64; 2]), Err(Error::NonFinite { .. })));
    }
}
