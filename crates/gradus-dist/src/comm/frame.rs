//! Frames: what a rank sends in one round, around the message [`super::wire`] packets.
//!
//! ```text
//! "GRDM"  u8 version  u8 kind  u32 rank  u64 round  u64 seed  body  u32 crc32
//! ```
//!
//! Every frame names its sender, round and the round's seed, so the receiver can tell a
//! desynchronised or misaddressed rank from a good one; the CRC-32 of everything before it
//! catches garbled bytes that would otherwise decode to wrong but valid numbers. [`Reader`]
//! checks every read against the remaining bytes: a short or garbled frame is an
//! [`Error::Corrupt`], never a panic.

use gradus_core::{Error, Result};

/// Frame magic.
const MAGIC: &[u8; 4] = b"GRDM";
/// Frame format version.
const VERSION: u8 = 1;
/// Bytes of a frame head.
pub const FRAME_HEAD: usize = 4 + 1 + 1 + 4 + 8 + 8;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A rank's workers' messages for the server.
    Up = 1,
    /// The server's reply: the round's outcome.
    Down = 2,
    /// A consistency check (resume from checkpoints).
    Check = 3,
    /// Federated: a rank's clients' updates.
    FedUp = 4,
    /// Federated: the server's global update.
    FedDown = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Up,
            2 => Kind::Down,
            3 => Kind::Check,
            4 => Kind::FedUp,
            5 => Kind::FedDown,
            _ => return None,
        })
    }
}

/// The head every frame starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// What the frame carries.
    pub kind: Kind,
    /// Sender's rank.
    pub rank: u32,
    /// Round number (rounds completed before this one).
    pub round: u64,
    /// The round's seed.
    pub seed: u64,
}

/// Starts a frame in `out` (cleared first).
pub fn begin(out: &mut Vec<u8>, head: Head) {
    out.clear();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(head.kind as u8);
    out.extend_from_slice(&head.rank.to_le_bytes());
    out.extend_from_slice(&head.round.to_le_bytes());
    out.extend_from_slice(&head.seed.to_le_bytes());
}

/// Ends a frame: appends the CRC-32 of its bytes.
pub fn seal(out: &mut Vec<u8>) {
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Little-endian writes.
pub trait Put {
    /// Appends a byte.
    fn put_u8(&mut self, x: u8);
    /// Appends a `u32`.
    fn put_u32(&mut self, x: u32);
    /// Appends a `u64`.
    fn put_u64(&mut self, x: u64);
    /// Appends an `f64` (raw bits).
    fn put_f64(&mut self, x: f64);
    /// Appends a length-prefixed UTF-8 string.
    fn put_str(&mut self, s: &str);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, x: u8) {
        self.push(x);
    }
    fn put_u32(&mut self, x: u32) {
        self.extend_from_slice(&x.to_le_bytes());
    }
    fn put_u64(&mut self, x: u64) {
        self.extend_from_slice(&x.to_le_bytes());
    }
    fn put_f64(&mut self, x: f64) {
        self.put_u64(x.to_bits());
    }
    fn put_str(&mut self, s: &str) {
        self.put_u32(s.len() as u32);
        self.extend_from_slice(s.as_bytes());
    }
}

/// A bounds-checked cursor over a received frame.
pub struct Reader<'a> {
    bytes: &'a [u8],
    from: usize,
}

fn bad(from: usize, detail: impl std::fmt::Display) -> Error {
    Error::corrupt("message from a rank", format!("rank {from}: {detail}"))
}

impl<'a> Reader<'a> {
    /// Reads and checks the head of a frame received from rank `from`: magic, version, kind
    /// `kind`, sender `from`, round `round` and seed `seed`.
    pub fn open(bytes: &'a [u8], from: usize, kind: Kind, round: u64, seed: u64) -> Result<Self> {
        if bytes.len() < FRAME_HEAD + 4 {
            return Err(bad(from, format!("frame of {} bytes, shorter than a head", bytes.len())));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let mut c = [0u8; 4];
        c.copy_from_slice(crc);
        if crc32fast::hash(body) != u32::from_le_bytes(c) {
            return Err(bad(from, "frame checksum mismatch (garbled bytes)"));
        }
        let mut r = Reader { bytes: body, from };
        if r.take(4)? != MAGIC {
            return Err(bad(from, "not a gradus frame (bad magic)"));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(bad(from, format!("frame version {version}, expected {VERSION}")));
        }
        let k = r.u8()?;
        match Kind::from_u8(k) {
            Some(got) if got == kind => {}
            _ => return Err(bad(from, format!("frame kind {k}, expected {}", kind as u8))),
        }
        let rank = r.u32()? as usize;
        if rank != from {
            return Err(bad(from, format!("frame claims to come from rank {rank}")));
        }
        let (got_round, got_seed) = (r.u64()?, r.u64()?);
        if got_round != round {
            return Err(bad(from, format!("frame for round {got_round}, expected round {round}")));
        }
        if got_seed != seed {
            return Err(bad(from, format!("round seed {got_seed:#x}, expected {seed:#x}")));
        }
        Ok(r)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(bad(
                self.from,
                format!("truncated frame: need {n} bytes, {} left", self.bytes.len()),
            ));
        }
        let (h, t) = self.bytes.split_at(n);
        self.bytes = t;
        Ok(h)
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Skips `n` bytes (checked).
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// An `f64`.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// A string written by [`Put::put_str`].
    pub fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad(self.from, "string is not UTF-8"))
    }

    /// Errors unless the whole frame was read.
    pub fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(bad(self.from, format!("{} trailing bytes", self.bytes.len())))
        }
    }

    /// An error about this frame's content.
    pub fn error(&self, detail: impl std::fmt::Display) -> Error {
        bad(self.from, detail)
    }
}

/// A worker error as it crosses the wire: non-finite errors keep their kind and index (their
/// `what` from a fixed table), anything else travels as text.
pub fn put_error(out: &mut Vec<u8>, e: &Error) {
    match e {
        Error::NonFinite { what, index } => match NON_FINITE.iter().position(|w| w == what) {
            Some(k) => {
                out.put_u8(1);
                out.put_u32(k as u32);
                out.put_u64(*index as u64);
            }
            None => {
                out.put_u8(2);
                out.put_str(&e.to_string());
            }
        },
        e => {
            out.put_u8(2);
            out.put_str(&e.to_string());
        }
    }
}

/// Reads an error written by [`put_error`].
pub fn get_error(r: &mut Reader<'_>) -> Result<Error> {
    match r.u8()? {
        1 => {
            let k = r.u32()? as usize;
            let index = r.u64()? as usize;
            let what =
                NON_FINITE.get(k).copied().ok_or_else(|| r.error(format!("error code {k}")))?;
            Ok(Error::NonFinite { what, index })
        }
        2 => Ok(Error::Unsupported(format!("remote failure: {}", r.string()?))),
        b => Err(r.error(format!("error tag {b}"))),
    }
}

/// The non-finite errors a worker reports, by code.
const NON_FINITE: [&str; 5] = [
    "worker loss (index is the worker)",
    "worker gradient (index is the worker)",
    "worker compressor input (index is the worker)",
    "client update (index is the client)",
    "message packet value",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_checked() {
        let mut f = Vec::new();
        begin(&mut f, Head { kind: Kind::Up, rank: 2, round: 5, seed: 9 });
        f.put_f64(1.5);
        seal(&mut f);
        let mut r = Reader::open(&f, 2, Kind::Up, 5, 9).unwrap();
        assert_eq!(r.f64().unwrap(), 1.5);
        r.finish().unwrap();
        assert!(Reader::open(&f, 1, Kind::Up, 5, 9).is_err());
        assert!(Reader::open(&f, 2, Kind::Down, 5, 9).is_err());
        assert!(Reader::open(&f, 2, Kind::Up, 6, 9).is_err());
        assert!(Reader::open(&f, 2, Kind::Up, 5, 8).is_err());
        assert!(Reader::open(&f[..10], 2, Kind::Up, 5, 9).is_err());
        let mut g = f.clone();
        g[30] ^= 1;
        assert!(Reader::open(&g, 2, Kind::Up, 5, 9).is_err());
        assert!(Reader::open(b"garbage bytes that are long enough", 2, Kind::Up, 5, 9).is_err());
    }

    #[test]
    fn errors_cross_the_wire() {
        let e = Error::NonFinite { what: "worker gradient (index is the worker)", index: 3 };
        let mut f = Vec::new();
        begin(&mut f, Head { kind: Kind::Down, rank: 0, round: 0, seed: 0 });
        put_error(&mut f, &e);
        put_error(&mut f, &Error::hyper("eta", -1.0, "must be positive"));
        seal(&mut f);
        let mut r = Reader::open(&f, 0, Kind::Down, 0, 0).unwrap();
        assert_eq!(get_error(&mut r).unwrap(), e);
        assert!(matches!(get_error(&mut r).unwrap(), Error::Unsupported(m) if m.contains("eta")));
    }
}
