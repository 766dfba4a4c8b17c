//! LoRA adapters: low-rank updates `ΔW = (alpha / rank) · B·A` of the encoder's dense layers,
//! trained by `rapport train --config models/adapter/train.toml` ([`crate::train::adapter`]) and
//! merged into the weights when the encoder loads, before the int8 packing. Serving therefore
//! runs one ordinary forward pass whatever the adapter: its cost is zero at run time, and every
//! head reads the same adapted embedding.
//!
//! On disk, beside the heads: `<models>/adapter/adapter.safetensors` (for each adapted layer
//! `encoder.layer.L.<target>.lora_a` `[rank, in]` and `.lora_b` `[out, rank]`) and
//! `adapter.json` (rank, alpha, training record). `manifest.json` pins it by sha256, and every
//! head records the adapter it was trained on, so heads and adapter cannot be mixed silently.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::heads::Manifest;
use crate::{Error, Result};

pub const ADAPTER_WEIGHTS_FILE: &str = "adapter.safetensors";
pub const ADAPTER_JSON_FILE: &str = "adapter.json";

/// The dense layers of a BERT block an adapter may update (HF names under `encoder.layer.L.`).
pub const TARGETS: [&str; 6] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
];

/// Low-rank updates by layer name (`encoder.layer.L.<target>`): (A `[rank, in]`, B `[out, rank]`).
pub type Updates = BTreeMap<String, (Tensor, Tensor)>;

/// The JSON side of an adapter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterJson {
    pub version: String,
    pub rank: usize,
    pub alpha: f64,
    /// Adapted layers, 0-based.
    pub layers: Vec<usize>,
    pub targets: Vec<String>,
    /// The base encoder weights it was trained on.
    pub encoder_sha256: String,
    /// Training record (config, data, dev metrics); free-form.
    #[serde(default, flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A loaded adapter.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub meta: AdapterJson,
    /// sha256 of `adapter.safetensors`.
    pub sha256: String,
    /// f32 on the CPU.
    pub updates: Updates,
}

/// Name of a target's update in the safetensors file.
pub fn update_name(layer: usize, target: &str) -> String {
    format!("encoder.layer.{layer}.{target}")
}

impl Adapter {
    pub fn scale(&self) -> f64 {
        self.meta.alpha / self.meta.rank as f64
    }

    /// Loads `<dir>/adapter.{safetensors,json}`, checking shapes against rank and targets.
    pub fn load(dir: &Path) -> Result<Adapter> {
        let jpath = dir.join(ADAPTER_JSON_FILE);
        let text = std::fs::read_to_string(&jpath).map_err(|e| Error::io(&jpath, e))?;
        let meta: AdapterJson = serde_json::from_str(&text)
            .map_err(|e| Error::model(format!("{}: invalid adapter json: {e}", jpath.display())))?;
        let wpath = dir.join(ADAPTER_WEIGHTS_FILE);
        let bytes = std::fs::read(&wpath).map_err(|e| Error::io(&wpath, e))?;
        let sha256 = super::encoder::sha256_hex(&bytes);
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| Error::model(format!("{}: {e}", wpath.display())))?;
        let bad = |m: String| Error::model(format!("{}: {m}", wpath.display()));
        if meta.rank == 0 || meta.layers.is_empty() || meta.targets.is_empty() {
            return Err(bad("rank, layers and targets must be non-empty".into()));
        }
        let mut updates = BTreeMap::new();
        for &l in &meta.layers {
            for t in &meta.targets {
                if !TARGETS.contains(&t.as_str()) {
                    return Err(bad(format!("unknown target {t:?}")));
                }
                let name = update_name(l, t);
                let mut take = |suffix: &str| {
                    tensors
                        .remove(&format!("{name}.{suffix}"))
                        .ok_or_else(|| bad(format!("missing tensor {name}.{suffix}")))
                        .and_then(|t| Ok(t.to_dtype(DType::F32)?))
                };
                let (a, b) = (take("lora_a")?, take("lora_b")?);
                let (ra, _) = a.dims2()?;
                let (_, rb) = b.dims2()?;
                if ra != meta.rank || rb != meta.rank {
                    return Err(bad(format!(
                        "{name}: A is {:?} and B {:?}, rank is {}",
                        a.dims(),
                        b.dims(),
                        meta.rank
                    )));
                }
                let finite = |t: &Tensor| -> Result<bool> {
                    Ok(t.flatten_all()?
                        .to_vec1::<f32>()?
                        .iter()
                        .all(|v| v.is_finite()))
                };
                if !finite(&a)? || !finite(&b)? {
                    return Err(bad(format!("{name}: non-finite values")));
                }
                updates.insert(name, (a, b));
            }
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(bad(format!(
                "tensor {extra:?} is not named by adapter.json's layers and targets"
            )));
        }
        Ok(Adapter {
            meta,
            sha256,
            updates,
        })
    }

    /// Writes `<dir>/adapter.{safetensors,json}`; returns the weights' sha256.
    pub fn save(dir: &Path, meta: &AdapterJson, updates: &Updates) -> Result<String> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (name, (a, b)) in updates {
            tensors.insert(format!("{name}.lora_a"), a.to_device(&Device::Cpu)?);
            tensors.insert(format!("{name}.lora_b"), b.to_device(&Device::Cpu)?);
        }
        let wpath = dir.join(ADAPTER_WEIGHTS_FILE);
        candle_core::safetensors::save(&tensors, &wpath)?;
        let bytes = std::fs::read(&wpath).map_err(|e| Error::io(&wpath, e))?;
        let json = serde_json::to_value(meta).expect("adapter json serialises");
        super::heads::write_json(&dir.join(ADAPTER_JSON_FILE), &json)?;
        Ok(super::encoder::sha256_hex(&bytes))
    }

    /// `W += scale · B·A` for every update, on weights in HF naming (with or without the
    /// `bert.` prefix). Fails when a weight is missing or its shape does not match.
    pub fn merge_into(&self, map: &mut HashMap<String, Tensor>) -> Result<()> {
        for (name, (a, b)) in &self.updates {
            let key = [format!("{name}.weight"), format!("bert.{name}.weight")]
                .into_iter()
                .find(|k| map.contains_key(k))
                .ok_or_else(|| {
                    Error::model(format!("adapter: the encoder has no weight {name}.weight"))
                })?;
            let w = &map[&key];
            let dev = w.device().clone();
            let delta = (b.matmul(a)? * self.scale())?;
            if delta.dims() != w.dims() {
                return Err(Error::model(format!(
                    "adapter: {name} updates a {:?} weight with a {:?} delta",
                    w.dims(),
                    delta.dims()
                )));
            }
            let merged = (w.to_dtype(DType::F32)?.to_device(&Device::Cpu)? + delta)?;
            map.insert(key, merged.to_device(&dev)?);
        }
        Ok(())
    }
}

/// Where a models directory's manifest says its adapter is, with the pinned sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterPin {
    /// Directory under the models directory.
    pub dir: String,
    pub sha256: String,
}

/// The adapter pinned by `<models_dir>/manifest.json`, loaded and checked against its pin;
/// `None` when there is no manifest or it pins no adapter.
pub fn pinned(models_dir: &Path) -> Result<Option<Arc<Adapter>>> {
    if !models_dir.join(super::heads::MANIFEST_FILE).is_file() {
        return Ok(None);
    }
    let Some(pin) = Manifest::load(models_dir)?.adapter else {
        return Ok(None);
    };
    let dir: PathBuf = models_dir.join(&pin.dir);
    let adapter = Adapter::load(&dir)?;
    if !adapter.sha256.eq_ignore_ascii_case(&pin.sha256) {
        return Err(Error::model(format!(
            "{}: adapter sha256 {} differs from the manifest's pin {} (replaced or corrupt; retrain or restore it)",
            dir.join(ADAPTER_WEIGHTS_FILE).display(),
            adapter.sha256,
            pin.sha256
        )));
    }
    Ok(Some(Arc::new(adapter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(rank: usize) -> (AdapterJson, Updates) {
        let meta = AdapterJson {
            version: "adapter-test".into(),
            rank,
            alpha: 4.0,
            layers: vec![1],
            targets: vec!["attention.self.query".into()],
            encoder_sha256: "ab".into(),
            extra: BTreeMap::new(),
        };
        let a = Tensor::from_vec(
            (0..rank * 3).map(|i| i as f32 * 0.1).collect(),
            (rank, 3),
            &Device::Cpu,
        )
        .unwrap();
        let b = Tensor::from_vec(
            (0..2 * rank).map(|i| 1.0 - i as f32 * 0.2).collect(),
            (2, rank),
            &Device::Cpu,
        )
        .unwrap();
        let mut u = BTreeMap::new();
        u.insert(update_name(1, "attention.self.query"), (a, b));
        (meta, u)
    }

    #[test]
    fn saves_loads_and_merges_scaled_low_rank_update() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, u) = tiny(2);
        let sha = Adapter::save(dir.path(), &meta, &u).unwrap();
        let ad = Adapter::load(dir.path()).unwrap();
        assert_eq!(ad.sha256, sha);
        assert_eq!(ad.scale(), 2.0);
        let w = Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap();
        let mut map = HashMap::from([(
            "bert.encoder.layer.1.attention.self.query.weight".to_string(),
            w,
        )]);
        ad.merge_into(&mut map).unwrap();
        let got = map["bert.encoder.layer.1.attention.self.query.weight"]
            .to_vec2::<f32>()
            .unwrap();
        let (a, b) = &u["encoder.layer.1.attention.self.query"];
        let (a, b) = (a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        for i in 0..2 {
            for j in 0..3 {
                let d: f32 = (0..2).map(|r| b[i][r] * a[r][j]).sum();
                assert!((got[i][j] - (1.0 + 2.0 * d)).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn rejects_wrong_shapes_missing_weights_and_stray_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let (mut meta, u) = tiny(2);
        Adapter::save(dir.path(), &meta, &u).unwrap();
        // Shape mismatch with the encoder weight.
        let ad = Adapter::load(dir.path()).unwrap();
        let mut map = HashMap::from([(
            "encoder.layer.1.attention.self.query.weight".to_string(),
            Tensor::ones((3, 3), DType::F32, &Device::Cpu).unwrap(),
        )]);
        let e = ad.merge_into(&mut map).unwrap_err().to_string();
        assert!(e.contains("[3, 3]"), "{e}");
        // The weight is absent.
        let e = ad.merge_into(&mut HashMap::new()).unwrap_err().to_string();
        assert!(
            e.contains("no weight encoder.layer.1.attention.self.query"),
            "{e}"
        );
        // adapter.json claims another rank.
        meta.rank = 3;
        super::super::heads::write_json(
            &dir.path().join(ADAPTER_JSON_FILE),
            &serde_json::to_value(&meta).unwrap(),
        )
        .unwrap();
        let e = Adapter::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("rank is 3"), "{e}");
        // A tensor that adapter.json does not name.
        meta.rank = 2;
        let mut more = u.clone();
        let (a, b) = u.values().next().unwrap().clone();
        more.insert(update_name(0, "attention.self.query"), (a, b));
        Adapter::save(dir.path(), &meta, &more).unwrap();
        let e = Adapter::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("encoder.layer.0.attention.self.query"), "{e}");
    }
}
