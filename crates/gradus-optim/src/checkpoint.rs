//! Checkpoint files: a versioned, checksummed binary container written atomically.
//!
//! Layout (all integers little-endian):
//! ```text
//! "GRADUSCK"  u32 format  u64 header_len  header (JSON)  payload  u32 crc32
//! ```
//! The JSON header holds the optimizer state without its numbers (names, dtypes and lengths
//! of the buffers), the optional parameter buffer's descriptor and free-form metadata; the
//! payload holds the raw buffers in header order; the CRC-32 covers every preceding byte.
//! Decoding checks magic, format, checksum and every length before allocating, so arbitrary
//! bytes give an error, never a panic or a huge allocation.
//!
//! [`save`] writes to a temporary file in the target directory, syncs it and renames it over
//! the target: a crash leaves either the old or the new checkpoint, never a torn one.

use std::fs;
use std::io::Write;
use std::path::Path;

use gradus_core::{Error, Layout, Result};
use serde::{Deserialize, Serialize};

use crate::state::{BufferData, NamedBuffer, OptimizerState};

const MAGIC: &[u8; 8] = b"GRADUSCK";
/// Version of the container format.
pub const FORMAT_VERSION: u32 = 1;

/// Everything a checkpoint file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Optimizer state.
    pub optimizer: OptimizerState,
    /// Model parameters, if saved.
    pub params: Option<BufferData>,
    /// Free-form metadata (the trainer stores its step, schedule and RNG here).
    pub meta: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Descriptor {
    name: String,
    dtype: String,
    len: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    schema_version: u32,
    optimizer: String,
    scalar: String,
    layout: Layout,
    step: u64,
    config: serde_json::Value,
    buffers: Vec<Descriptor>,
    params: Option<Descriptor>,
    meta: serde_json::Value,
}

fn descriptor(name: &str, data: &BufferData) -> Descriptor {
    Descriptor { name: name.to_string(), dtype: data.dtype().to_string(), len: data.len() as u64 }
}

fn write_payload(out: &mut Vec<u8>, data: &BufferData) {
    match data {
        BufferData::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        BufferData::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        BufferData::Bf16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
}

/// Serialises a checkpoint to bytes.
pub fn encode(ck: &Checkpoint) -> Vec<u8> {
    let st = &ck.optimizer;
    let header = Header {
        schema_version: st.schema_version,
        optimizer: st.optimizer.clone(),
        scalar: st.scalar.clone(),
        layout: st.layout.clone(),
        step: st.step,
        config: st.config.clone(),
        buffers: st.buffers.iter().map(|b| descriptor(&b.name, &b.data)).collect(),
        params: ck.params.as_ref().map(|p| descriptor("params", p)),
        meta: ck.meta.clone(),
    };
    // Serialising plain data to a Vec cannot fail; an empty header would be caught on load.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    let mut out = Vec::with_capacity(24 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for b in &st.buffers {
        write_payload(&mut out, &b.data);
    }
    if let Some(p) = &ck.params {
        write_payload(&mut out, p);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Error::corrupt(
                "checkpoint",
                format!("truncated: {what} needs {n} bytes, {} left", self.bytes.len()),
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn buffer(&mut self, d: &Descriptor) -> Result<BufferData> {
        let width = match d.dtype.as_str() {
            "f32" => 4,
            "f64" => 8,
            "bf16" => 2,
            other => return Err(Error::corrupt("checkpoint", format!("unknown dtype `{other}`"))),
        };
        let n = usize::try_from(d.len)
            .ok()
            .and_then(|n| n.checked_mul(width).map(|bytes| (n, bytes)))
            .ok_or_else(|| {
                Error::corrupt("checkpoint", format!("buffer `{}` too large", d.name))
            })?;
        let raw = self.take(n.1, &d.name)?;
        Ok(match width {
            4 => BufferData::F32(
                raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            ),
            8 => BufferData::F64(
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            _ => BufferData::Bf16(
                raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect(),
            ),
        })
    }
}

/// Parses bytes produced by [`encode`]. Any other input gives [`Error::Corrupt`] or
/// [`Error::StateMismatch`] (unsupported format version).
pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
    if bytes.len() < MAGIC.len() + 4 + 8 + 4 {
        return Err(Error::corrupt("checkpoint", format!("only {} bytes", bytes.len())));
    }
    if &bytes[..8] != MAGIC {
        return Err(Error::corrupt("checkpoint", "not a gradus checkpoint (bad magic)"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(Error::corrupt(
            "checkpoint",
            format!("checksum mismatch (stored {stored:08x}, computed {actual:08x})"),
        ));
    }
    let mut r = Reader { bytes: &body[8..] };
    let v = r.take(4, "format version")?;
    let version = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
    if version != FORMAT_VERSION {
        return Err(Error::mismatch("checkpoint format version", FORMAT_VERSION, version));
    }
    let l = r.take(8, "header length")?;
    let header_len = u64::from_le_bytes([l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]);
    let header_len = usize::try_from(header_len)
        .map_err(|_| Error::corrupt("checkpoint", "header length overflows"))?;
    let json = r.take(header_len, "header")?;
    let h: Header = serde_json::from_slice(json)
        .map_err(|e| Error::corrupt("checkpoint", format!("header: {e}")))?;
    let mut buffers = Vec::with_capacity(h.buffers.len().min(64));
    for d in &h.buffers {
        buffers.push(NamedBuffer { name: d.name.clone(), data: r.buffer(d)? });
    }
    let params = match &h.params {
        Some(d) => Some(r.buffer(d)?),
        None => None,
    };
    if !r.bytes.is_empty() {
        return Err(Error::corrupt("checkpoint", format!("{} trailing bytes", r.bytes.len())));
    }
    Ok(Checkpoint {
        optimizer: OptimizerState {
            schema_version: h.schema_version,
            optimizer: h.optimizer,
            scalar: h.scalar,
            layout: h.layout,
            step: h.step,
            config: h.config,
            buffers,
        },
        params,
        meta: h.meta,
    })
}

/// Writes `ck` to `path` atomically (temporary file, fsync, rename, directory fsync).
pub fn save(path: impl AsRef<Path>, ck: &Checkpoint) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(ck);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.display().to_string(),
        message: "not a file path".into(),
    })?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself; not every platform can sync a directory.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path.display(), e)
    })
}

/// Reads and decodes a checkpoint file.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    decode(&bytes)
}
