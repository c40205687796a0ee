//! Per-rank checkpoints of a [`RankCluster`] and the collective check on resume.

use std::path::Path;

use gradus_core::validate::same_len;
use gradus_core::{Error, Layout, Objective, Result};
use gradus_optim::checkpoint::{self, Checkpoint};
use gradus_optim::{BufferData, NamedBuffer, OptimizerState, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

use super::RankCluster;
use crate::comm::frame::{self, Head, Kind, Put, Reader};
use crate::comm::{Transport, tag};
use crate::compression::{Compressor, Ef21Init, Method, WireScalar};

/// What a checkpoint records besides the buffers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    method: Method,
    init: Ef21Init,
    compressor: String,
    workers: usize,
    ranks: usize,
    rank: usize,
    started: bool,
    rounds: u64,
    bits: u64,
    payload_bits_up: u64,
}

const STATE_NAME: &str = "rank-cluster";

impl<T, O, C, X> RankCluster<T, O, C, X>
where
    T: WireScalar,
    O: Objective<T> + Send,
    C: Compressor<T> + Clone,
    X: Transport,
{
    /// The checkpoint layout: one vector of the cluster's dimension.
    fn layout(&self) -> Result<Layout> {
        Layout::new().vector("params", self.dim)
    }

    fn saved(&self) -> Saved {
        Saved {
            method: self.method,
            init: self.init,
            compressor: self.compressor.clone(),
            workers: self.workers,
            ranks: self.transport.ranks(),
            rank: self.transport.rank(),
            started: self.started,
            rounds: self.rounds,
            bits: self.bits,
            payload_bits_up: self.stats.payload_bits_up,
        }
    }

    /// Writes this rank's part of the state (its workers' memories, the server estimate, the
    /// counters) and `params` to `path` (atomically; see [`gradus_optim::checkpoint`]).
    /// Every rank writes its own file.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>, params: &[T]) -> Result<()> {
        same_len("parameters", self.dim, params.len())?;
        let mut buffers: Vec<NamedBuffer> = Vec::new();
        if self.method != Method::Cgd {
            for (j, w) in self.local.iter().enumerate() {
                buffers.push(NamedBuffer {
                    name: format!("memory.{}", self.first + j),
                    data: BufferData::from_scalars(&w.memory),
                });
            }
        }
        if self.method == Method::Ef21 {
            buffers.push(NamedBuffer {
                name: "server".into(),
                data: BufferData::from_scalars(&self.server),
            });
        }
        let config = serde_json::to_value(self.saved())
            .map_err(|e| Error::corrupt("rank cluster state", e.to_string()))?;
        let ck = Checkpoint {
            optimizer: OptimizerState {
                schema_version: SCHEMA_VERSION,
                optimizer: STATE_NAME.into(),
                scalar: T::NAME.into(),
                layout: self.layout()?,
                step: self.rounds,
                config,
                buffers,
            },
            params: Some(BufferData::from_scalars(params)),
            meta: serde_json::Value::Null,
        };
        checkpoint::save(path, &ck)
    }

    /// Loads this rank's checkpoint written by [`RankCluster::save_checkpoint`] into the
    /// cluster and `params`, then checks with every other rank (a collective call) that all
    /// ranks resumed the same round with the same parameters and server estimate. On any
    /// error, on any rank, every rank returns an error and no state changes.
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>, params: &mut [T]) -> Result<()> {
        let local = self.read_checkpoint(path.as_ref(), params.len());
        let (rounds, fp) = match &local {
            Ok((saved, p, _, server)) => (saved.rounds, fingerprint(p, server)),
            Err(_) => (0, 0),
        };
        self.check_consistent(rounds, fp, local.as_ref().err())?;
        let (saved, p, memories, server) = local?;
        params.copy_from_slice(&p);
        for (w, m) in self.local.iter_mut().zip(memories) {
            w.memory = m;
        }
        self.server = server;
        self.started = saved.started;
        self.rounds = saved.rounds;
        self.bits = saved.bits;
        self.stats.payload_bits_up = saved.payload_bits_up;
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn read_checkpoint(
        &self,
        path: &Path,
        n: usize,
    ) -> Result<(Saved, Vec<T>, Vec<Vec<T>>, Vec<T>)> {
        same_len("parameters", self.dim, n)?;
        let ck = checkpoint::load(path)?;
        let st = &ck.optimizer;
        st.check_header::<T>(STATE_NAME, &self.layout()?)?;
        let saved: Saved = serde_json::from_value(st.config.clone())
            .map_err(|e| Error::corrupt("rank cluster state", e.to_string()))?;
        let mine = self.saved();
        let same = |f: &'static str, a: String, b: String| {
            if a == b { Ok(()) } else { Err(Error::mismatch(f, a, b)) }
        };
        same("method", mine.method.label().into(), saved.method.label().into())?;
        same("EF21 init", format!("{:?}", mine.init), format!("{:?}", saved.init))?;
        same("compressor", mine.compressor.clone(), saved.compressor.clone())?;
        same("workers", mine.workers.to_string(), saved.workers.to_string())?;
        same("ranks", mine.ranks.to_string(), saved.ranks.to_string())?;
        same("rank", mine.rank.to_string(), saved.rank.to_string())?;
        let mut p = vec![T::ZERO; n];
        let data = ck.params.as_ref().ok_or_else(|| Error::corrupt("checkpoint", "no params"))?;
        data.copy_to("params", &mut p)?;
        data.check_finite("params")?;
        let mut memories = Vec::with_capacity(self.local.len());
        if self.method != Method::Cgd {
            for j in 0..self.local.len() {
                let mut m = vec![T::ZERO; self.dim];
                let b = st.buffer(&format!("memory.{}", self.first + j))?;
                b.copy_to("worker memory", &mut m)?;
                b.check_finite("worker memory")?;
                memories.push(m);
            }
        } else {
            memories.resize(self.local.len(), Vec::new());
        }
        let mut server = vec![T::ZERO; self.server.len()];
        if self.method == Method::Ef21 {
            let b = st.buffer("server")?;
            b.copy_to("server estimate", &mut server)?;
            b.check_finite("server estimate")?;
        }
        Ok((saved, p, memories, server))
    }

    /// Collective: every rank sends rank 0 its round and fingerprint (or its local error);
    /// rank 0 replies with the verdict, which every rank returns.
    fn check_consistent(&mut self, rounds: u64, fp: u64, local: Option<&Error>) -> Result<()> {
        let me = self.transport.rank();
        let head = |rank: usize| Head { kind: Kind::Check, rank: rank as u32, round: 0, seed: 0 };
        if me != 0 {
            frame::begin(&mut self.frame, head(me));
            match local {
                None => {
                    self.frame.put_u8(0);
                    self.frame.put_u64(rounds);
                    self.frame.put_u64(fp);
                }
                Some(e) => {
                    self.frame.put_u8(1);
                    self.frame.put_str(&e.to_string());
                }
            }
            frame::seal(&mut self.frame);
            self.send(0, tag::CHECK)?;
            let bytes = self.recv_reply(tag::CHECK)?;
            let mut rd = Reader::open(&bytes, 0, Kind::Check, 0, 0)?;
            return match rd.u8()? {
                0 => rd.finish(),
                _ => Err(Error::corrupt("checkpoint", format!("resume refused: {}", rd.string()?))),
            };
        }
        let mut verdict: Option<String> = local.map(|e| format!("rank 0: {e}"));
        for r in 1..self.transport.ranks() {
            let bytes = match self.recv(r, tag::CHECK) {
                Ok(b) => b,
                Err(e) => return Err(self.stop_others(0, tag::CHECK, Kind::Check, e)),
            };
            let mut rd = Reader::open(&bytes, r, Kind::Check, 0, 0)?;
            match rd.u8()? {
                0 => {
                    let (rr, rf) = (rd.u64()?, rd.u64()?);
                    if verdict.is_none() && (rr != rounds || rf != fp) {
                        verdict = Some(format!(
                            "rank {r} resumed round {rr} (fingerprint {rf:#x}), rank 0 round \
                             {rounds} ({fp:#x})"
                        ));
                    }
                }
                _ => {
                    let s = rd.string()?;
                    verdict.get_or_insert(format!("rank {r}: {s}"));
                }
            }
        }
        frame::begin(&mut self.frame, head(0));
        match &verdict {
            None => self.frame.put_u8(0),
            Some(v) => {
                self.frame.put_u8(1);
                self.frame.put_str(v);
            }
        }
        frame::seal(&mut self.frame);
        for r in 1..self.transport.ranks() {
            self.send(r, tag::CHECK)?;
        }
        match verdict {
            None => Ok(()),
            Some(v) => Err(Error::corrupt("checkpoint", format!("resume refused: {v}"))),
        }
    }
}

/// FNV-1a over the bits of the parameters and the server estimate.
fn fingerprint<T: WireScalar>(params: &[T], server: &[T]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in params.iter().chain(server) {
        let bits = if T::VALUE_BITS == 32 {
            (x.to_f64() as f32).to_bits() as u64
        } else {
            x.to_f64().to_bits()
        };
        for byte in bits.to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
