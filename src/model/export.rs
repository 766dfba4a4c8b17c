//! Export the packaged bundle as an ordinary Hugging Face model directory (f32 safetensors),
//! for the reference runtimes (PyTorch / ONNX Runtime in `bench/`) and for the `Dir` source.
use std::path::Path;

use candle_core::Device;
use serde_json::json;

use super::encoder::{load_tokenizer, read_bundle};
use super::source::{CONFIG_FILE, SAFETENSORS_FILE, TOKENIZER_FILE};
use crate::{Error, Result};

/// Write `config.json` (model_type bert), `tokenizer.json`, `tokenizer_config.json`,
/// `special_tokens_map.json` and `model.safetensors` (the dequantized weights, f32) into
/// `out_dir`, created if needed. Existing files of those names are replaced.
pub fn export_hf(bundle_dir: &Path, out_dir: &Path) -> Result<()> {
    let parts = read_bundle(bundle_dir, &Device::Cpu, false)?;
    let h = &parts.header;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;

    let tokenizer = load_tokenizer(&parts.tokenizer_path)?;
    let tok = |id: i32| {
        u32::try_from(id)
            .ok()
            .and_then(|id| tokenizer.id_to_token(id))
    };
    let (bos, eos, pad, unk) = (tok(h.bos), tok(h.eos), tok(h.pad), tok(h.unk));
    let mask = tokenizer
        .token_to_id("<mask>")
        .map(|_| "<mask>".to_string());
    let xlmr = bos.as_deref() == Some("<s>") && eos.as_deref() == Some("</s>");

    let mut config = json!({
        "_name_or_path": parts.model_id,
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": null,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ff,
        // shortest decimal of the f32 (1e-12, not 9.999999960041972e-13)
        "layer_norm_eps": h.eps.to_string().parse::<f64>().unwrap_or(h.eps as f64),
        "max_position_embeddings": h.max_positions,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "pad_token_id": h.pad.max(0),
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "type_vocab_size": h.type_vocab,
        "use_cache": true,
        "vocab_size": h.vocab,
        "rapport_export": {
            "from": "E5S1 bundle (Q4_0 weights dequantized to f32)",
            "source_sha256": parts.sha256,
        },
    });
    if xlmr {
        config["tokenizer_class"] = json!("XLMRobertaTokenizer");
    }
    write_json(&out_dir.join(CONFIG_FILE), &config)?;

    // Special tokens, so that transformers' AutoTokenizer pads and masks with the right ids.
    let mut special = serde_json::Map::new();
    for (k, v) in [
        ("bos_token", &bos),
        ("cls_token", &bos),
        ("eos_token", &eos),
        ("sep_token", &eos),
        ("pad_token", &pad),
        ("unk_token", &unk),
        ("mask_token", &mask),
    ] {
        if let Some(v) = v {
            special.insert(k.to_string(), json!(v));
        }
    }
    write_json(
        &out_dir.join("special_tokens_map.json"),
        &serde_json::Value::Object(special.clone()),
    )?;
    let mut tok_config = special;
    if xlmr {
        tok_config.insert("tokenizer_class".into(), json!("XLMRobertaTokenizer"));
    }
    tok_config.insert("model_max_length".into(), json!(h.max_positions));
    write_json(
        &out_dir.join("tokenizer_config.json"),
        &serde_json::Value::Object(tok_config),
    )?;

    let tok_out = out_dir.join(TOKENIZER_FILE);
    std::fs::copy(&parts.tokenizer_path, &tok_out).map_err(|e| Error::io(&tok_out, e))?;

    let st = out_dir.join(SAFETENSORS_FILE);
    candle_core::safetensors::save(&parts.tensors, &st)
        .map_err(|e| Error::model(format!("writing {}: {e}", st.display())))?;
    // The safetensors writer creates the file owner-only; it is a public model, let others read it
    // (e.g. a benchmark container running as another user).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&st, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(&st, e))?;
    }
    tracing::info!(out = %out_dir.display(), tensors = parts.tensors.len(), "exported HF model");
    Ok(())
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v)
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
    s.push('\n');
    std::fs::write(path, s).map_err(|e| Error::io(path, e))
}
