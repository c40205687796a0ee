//! The CIFAR-10 binary format: records of 1 label byte (0..9) followed by 3072 pixel bytes
//! (1024 red, 1024 green, 1024 blue, each a 32 x 32 image in row-major order). The files
//! `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin` hold 10000 records each.

use std::path::Path;

use gradus_core::{Error, Result};

use super::Dataset;

/// Bytes per image.
pub const PIXELS: usize = 3072;
/// Bytes per record.
pub const RECORD: usize = PIXELS + 1;

/// CIFAR-10 images as stored: pixel bytes and labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cifar10 {
    /// `len x 3072` bytes, channel-major per image.
    pub pixels: Vec<u8>,
    /// Labels in `0..10`.
    pub labels: Vec<u8>,
}

impl Cifar10 {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features `(p / 255 - 0.5) / 0.5` in `[-1, 1]` (the normalisation of paper 05's code).
    pub fn to_dataset(&self) -> Result<Dataset> {
        let x = self.pixels.iter().map(|&p| (p as f64 / 255.0 - 0.5) / 0.5).collect();
        Dataset::new(x, self.labels.iter().map(|&y| y as usize).collect(), PIXELS, 10)
    }
}

/// Parses the records of one CIFAR-10 binary file. Errors (without panicking or allocating
/// more than the input size) if the length is not a multiple of 3073 or a label exceeds 9.
pub fn parse_cifar10(bytes: &[u8]) -> Result<Cifar10> {
    if bytes.len() % RECORD != 0 {
        return Err(Error::corrupt(
            "CIFAR-10 file",
            format!("length {} is not a multiple of the record size {RECORD}", bytes.len()),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut out = Cifar10 { pixels: Vec::with_capacity(n * PIXELS), labels: Vec::with_capacity(n) };
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(Error::corrupt(
                "CIFAR-10 file",
                format!("record {i} has label {}", rec[0]),
            ));
        }
        out.labels.push(rec[0]);
        out.pixels.extend_from_slice(&rec[1..]);
    }
    Ok(out)
}

/// Reads `data_batch_1.bin` .. `data_batch_5.bin` (train) and `test_batch.bin` (test) from
/// `dir` (the `cifar-10-batches-bin` folder of the official archive). Missing training
/// batches are skipped if at least one exists; a missing test batch is an error.
pub fn load_cifar10_dir(dir: &Path) -> Result<(Cifar10, Cifar10)> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| Error::io(p.display(), e))
    };
    let mut train = Cifar10::default();
    let mut found = 0;
    for b in 1..=5 {
        let name = format!("data_batch_{b}.bin");
        if !dir.join(&name).exists() {
            continue;
        }
        let part = parse_cifar10(&read(&name)?)?;
        train.pixels.extend_from_slice(&part.pixels);
        train.labels.extend_from_slice(&part.labels);
        found += 1;
    }
    if found == 0 {
        return Err(Error::io(
            dir.join("data_batch_1.bin").display(),
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    let test = parse_cifar10(&read("test_batch.bin")?)?;
    Ok((train, test))
}
