//! Where weights come from: a source answers "give me tensor NAME" in Hugging Face
//! naming with f32 values in row-major order, whatever the file stores. This file holds
//! the safetensors source (one file, or shards listed by model.safetensors.index.json).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::error::{LmError, Result, io};

/// A tensor's values on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape, outermost first (PyTorch order).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// The values of a 2-D tensor transposed (row-major `[cols, rows]`): between
    /// Hugging Face's `[out, in]` weights and burn's `[in, out]`.
    pub fn transposed_data(&self) -> Vec<f32> {
        let (rows, cols) = (self.shape[0], self.shape[1]);
        let mut out = vec![0.0f32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = self.data[r * cols + c];
            }
        }
        out
    }
}

/// A checkpoint that yields tensors by their Hugging Face names.
pub trait TensorSource {
    /// The file to name in errors about `hf_name`.
    fn file_of(&self, hf_name: &str) -> PathBuf;
    /// The tensor's name as the file spells it.
    fn file_name(&self, hf_name: &str) -> String;
    /// Whether the checkpoint has the tensor.
    fn contains(&self, hf_name: &str) -> bool;
    /// Shape of the tensor without reading it, if present.
    fn shape(&self, hf_name: &str) -> Option<Vec<usize>>;
    /// The tensor as f32 (dequantized or widened); `None` when absent.
    fn get(&self, hf_name: &str) -> Result<Option<HostTensor>>;
    /// Storage types found, e.g. `F32` or `Q4_1 + F32`.
    fn storage(&self) -> String;

    /// The tensor, which must exist and have `expected` shape.
    fn require(&self, hf_name: &str, expected: &[usize]) -> Result<HostTensor> {
        let t = self.get(hf_name)?.ok_or_else(|| LmError::MissingTensor {
            path: self.file_of(hf_name),
            name: self.file_name(hf_name),
        })?;
        if t.shape != expected {
            return Err(LmError::ShapeMismatch {
                path: self.file_of(hf_name),
                name: self.file_name(hf_name),
                expected: expected.to_vec(),
                found: t.shape,
            });
        }
        Ok(t)
    }
}

/// Safetensors checkpoint files, memory-mapped.
pub struct SafetensorsSource {
    files: Vec<(PathBuf, Mmap)>,
    /// Tensor name → index into `files`, with its dtype and shape.
    index: BTreeMap<String, (usize, Dtype, Vec<usize>)>,
}

impl SafetensorsSource {
    /// Open `model.safetensors`, or the shards named by `model.safetensors.index.json`, in `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.is_file() {
            Self::open(&[single])
        } else if index.is_file() {
            let text = std::fs::read_to_string(&index).map_err(io(&index))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| LmError::Json {
                path: index.clone(),
                detail: e.to_string(),
            })?;
            let map = v
                .get("weight_map")
                .and_then(Value::as_object)
                .ok_or_else(|| LmError::MissingKey {
                    path: index.clone(),
                    key: "weight_map".into(),
                })?;
            let mut shards: Vec<PathBuf> = map
                .values()
                .filter_map(Value::as_str)
                .map(|f| dir.join(f))
                .collect();
            shards.sort();
            shards.dedup();
            Self::open(&shards)
        } else {
            Err(LmError::NotAModel {
                path: dir.to_path_buf(),
            })
        }
    }

    /// Open these safetensors files as one checkpoint.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::new();
        let mut index = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = File::open(path).map_err(io(path))?;
            // SAFETY: the checkpoint is opened read-only and not modified while mapped;
            // a file changed under us can only produce wrong values, not unsoundness
            // beyond what reading it would.
            let map = unsafe { Mmap::map(&file) }.map_err(io(path))?;
            let st = SafeTensors::deserialize(&map).map_err(|e| LmError::Truncated {
                path: path.clone(),
                detail: format!("safetensors header: {e}"),
            })?;
            for (name, view) in st.tensors() {
                index.insert(name, (i, view.dtype(), view.shape().to_vec()));
            }
            files.push((path.clone(), map));
        }
        Ok(SafetensorsSource { files, index })
    }
}

impl TensorSource for SafetensorsSource {
    fn file_of(&self, hf_name: &str) -> PathBuf {
        match self.index.get(hf_name) {
            Some((i, ..)) => self.files[*i].0.clone(),
            None if self.files.len() == 1 => self.files[0].0.clone(),
            None => self
                .files
                .first()
                .and_then(|(p, _)| p.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        }
    }

    fn file_name(&self, hf_name: &str) -> String {
        hf_name.to_owned()
    }

    fn contains(&self, hf_name: &str) -> bool {
        self.index.contains_key(hf_name)
    }

    fn shape(&self, hf_name: &str) -> Option<Vec<usize>> {
        self.index.get(hf_name).map(|(_, _, s)| s.clone())
    }

    fn get(&self, hf_name: &str) -> Result<Option<HostTensor>> {
        let Some((i, ..)) = self.index.get(hf_name) else {
            return Ok(None);
        };
        let (path, map) = &self.files[*i];
        let st = SafeTensors::deserialize(map).map_err(|e| LmError::Truncated {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let view = st.tensor(hf_name).map_err(|e| LmError::Truncated {
            path: path.clone(),
            detail: format!("tensor `{hf_name}`: {e}"),
        })?;
        let bytes = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(LmError::UnsupportedType {
                    path: path.clone(),
                    name: hf_name.to_owned(),
                    found: format!("{other:?}"),
                    supported: "F32, F16, BF16",
                });
            }
        };
        Ok(Some(HostTensor {
            shape: view.shape().to_vec(),
            data,
        }))
    }

    fn storage(&self) -> String {
        let mut kinds: Vec<String> = self
            .index
            .values()
            .map(|(_, d, _)| format!("{d:?}"))
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds.join(" + ")
    }
}
