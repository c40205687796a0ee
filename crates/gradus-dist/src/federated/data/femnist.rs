//! The LEAF FEMNIST JSON format (Caldas et al. 2018): one file holds
//! `{"users": [ids], "num_samples": [counts], "user_data": {id: {"x": [[784 floats]],
//! "y": [labels]}}}`, a natural per-writer split with 62 classes (digits and letters) of
//! 28 x 28 images flattened to 784 values in `[0, 1]`.

use std::collections::HashMap;
use std::path::Path;

use gradus_core::{Error, Result};
use serde::Deserialize;

use super::Dataset;

/// Pixels per image.
pub const PIXELS: usize = 784;
/// Number of classes.
pub const CLASSES: usize = 62;

/// One writer's samples.
#[derive(Debug, Clone, PartialEq)]
pub struct FemnistUser {
    /// Writer id.
    pub id: String,
    /// `len x 784` pixel values.
    pub x: Vec<f32>,
    /// Labels in `0..62`.
    pub y: Vec<u8>,
}

impl FemnistUser {
    /// The writer's samples as a [`Dataset`].
    pub fn to_dataset(&self) -> Result<Dataset> {
        Dataset::new(
            self.x.iter().map(|&v| v as f64).collect(),
            self.y.iter().map(|&c| c as usize).collect(),
            PIXELS,
            CLASSES,
        )
    }
}

#[derive(Deserialize)]
struct LeafFile {
    users: Vec<String>,
    num_samples: Vec<u64>,
    user_data: HashMap<String, UserData>,
}

#[derive(Deserialize)]
struct UserData {
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
}

fn corrupt(detail: String) -> Error {
    Error::corrupt("FEMNIST JSON", detail)
}

/// Parses one LEAF FEMNIST JSON file into its writers, in the order of `users`. Errors on
/// invalid JSON, a user without data, sample counts that disagree with `num_samples`, rows
/// that are not 784 finite values, or labels that are not integers in `0..62`.
pub fn parse_femnist(bytes: &[u8]) -> Result<Vec<FemnistUser>> {
    let file: LeafFile =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
    if file.users.len() != file.num_samples.len() {
        return Err(corrupt(format!(
            "{} users but {} sample counts",
            file.users.len(),
            file.num_samples.len()
        )));
    }
    let mut out = Vec::with_capacity(file.users.len());
    for (id, &count) in file.users.iter().zip(&file.num_samples) {
        let data =
            file.user_data.get(id).ok_or_else(|| corrupt(format!("user `{id}` has no data")))?;
        if data.x.len() != data.y.len() || data.x.len() as u64 != count {
            return Err(corrupt(format!(
                "user `{id}`: {} images, {} labels, num_samples {count}",
                data.x.len(),
                data.y.len()
            )));
        }
        let mut x = Vec::with_capacity(data.x.len() * PIXELS);
        for (r, row) in data.x.iter().enumerate() {
            if row.len() != PIXELS {
                return Err(corrupt(format!("user `{id}` image {r} has {} values", row.len())));
            }
            if let Some(c) = row.iter().position(|v| !v.is_finite()) {
                return Err(corrupt(format!("user `{id}` image {r} value {c} is not finite")));
            }
            x.extend(row.iter().map(|&v| v as f32));
        }
        let mut y = Vec::with_capacity(data.y.len());
        for &label in &data.y {
            if label.fract() != 0.0 || !(0.0..CLASSES as f64).contains(&label) {
                return Err(corrupt(format!("user `{id}` has label {label}")));
            }
            y.push(label as u8);
        }
        out.push(FemnistUser { id: id.clone(), x, y });
    }
    Ok(out)
}

/// Reads every `*.json` file of `dir` (LEAF's `data/train` or `data/test` folder), in file
/// name order, and concatenates their writers.
pub fn load_femnist_dir(dir: &Path) -> Result<Vec<FemnistUser>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut users = Vec::new();
    for p in files {
        let bytes = std::fs::read(&p).map_err(|e| Error::io(p.display(), e))?;
        users.extend(parse_femnist(&bytes)?);
    }
    Ok(users)
}
