//! A tiny randomly initialised BERT in Hugging Face layout, written by the tests themselves:
//! hidden 32, 2 layers, 2 heads, intermediate 64, max positions 64, and a word-level tokenizer
//! over ~100 English and Russian words (`[CLS] ... [SEP]` template, `[UNK]`, `[PAD]`).
//!
//! The tokenizer.json deliberately carries a fixed padding (16) and a truncation (8) like some
//! published tokenizers do (all-MiniLM-L6-v2's, for one): the encoder must switch both off.
use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;

pub const HIDDEN: usize = 32;
pub const LAYERS: usize = 2;
pub const HEADS: usize = 2;
pub const INTERMEDIATE: usize = 64;
pub const MAX_POSITIONS: usize = 64;
/// `_name_or_path` in config.json, hence the encoder's model id.
pub const MODEL_ID: &str = "rapport-tests/tiny-bert";

pub const PAD: u32 = 0;
pub const UNK: u32 = 1;
pub const CLS: u32 = 2;
pub const SEP: u32 = 3;

const SPECIALS: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

/// The words the tokenizer knows (after the 4 special tokens), lower case.
pub const WORDS: &[&str] = &[
    "query",
    "passage",
    ":",
    ".",
    ",",
    "!",
    "?",
    "-",
    "i",
    "you",
    "we",
    "it",
    "this",
    "that",
    "my",
    "your",
    "the",
    "a",
    "is",
    "are",
    "was",
    "not",
    "very",
    "so",
    "much",
    "and",
    "but",
    "thank",
    "thanks",
    "please",
    "help",
    "order",
    "refund",
    "late",
    "delivery",
    "package",
    "great",
    "good",
    "bad",
    "terrible",
    "love",
    "hate",
    "service",
    "support",
    "problem",
    "today",
    "when",
    "where",
    "why",
    "how",
    "what",
    "again",
    "email",
    "money",
    "fast",
    "slow",
    "happy",
    "angry",
    "sorry",
    "weather",
    "nice",
    "привет",
    "спасибо",
    "пожалуйста",
    "помогите",
    "заказ",
    "возврат",
    "опять",
    "доставка",
    "посылка",
    "отлично",
    "хорошо",
    "плохо",
    "ужасно",
    "люблю",
    "сервис",
    "поддержка",
    "проблема",
    "сегодня",
    "когда",
    "где",
    "почему",
    "как",
    "что",
    "это",
    "мой",
    "ваш",
    "я",
    "мы",
    "не",
    "очень",
    "и",
    "но",
    "деньги",
    "верните",
    "быстро",
    "погода",
];

pub fn vocab_size() -> usize {
    SPECIALS.len() + WORDS.len()
}

/// config.json of the tiny model.
pub fn tiny_config() -> serde_json::Value {
    json!({
        "_name_or_path": MODEL_ID,
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": MAX_POSITIONS,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": PAD,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": vocab_size(),
    })
}

/// tokenizer.json of the tiny model (tokenizers 0.22 format).
pub fn tiny_tokenizer() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for (i, w) in SPECIALS.iter().chain(WORDS).enumerate() {
        vocab.insert(w.to_string(), json!(i));
    }
    let added: Vec<_> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let special = |name: &str| json!({"SpecialToken": {"id": name, "type_id": 0}});
    let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 16}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": PAD, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]"), seq("A", 0), special("[SEP]")],
            "pair": [special("[CLS]"), seq("A", 0), special("[SEP]"), seq("B", 1), special("[SEP]")],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [CLS], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [SEP], "tokens": ["[SEP]"]},
            },
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    })
}

/// Random weights under HF BERT names (no `bert.` prefix), deterministic in `seed`. Scales are
/// larger than BERT's init so that different inputs give clearly different embeddings.
pub fn tiny_tensors(seed: u64) -> HashMap<String, Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = HashMap::new();
    let mut put = |name: String, shape: &[usize], center: f32, spread: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| center + rng.random_range(-spread..spread))
            .collect();
        let tensor = Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor");
        t.insert(name, tensor);
    };
    let (h, ff) = (HIDDEN, INTERMEDIATE);
    put(
        "embeddings.word_embeddings.weight".into(),
        &[vocab_size(), h],
        0.0,
        1.0,
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        &[MAX_POSITIONS, h],
        0.0,
        0.5,
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        &[2, h],
        0.0,
        0.2,
    );
    put("embeddings.LayerNorm.weight".into(), &[h], 1.0, 0.2);
    put("embeddings.LayerNorm.bias".into(), &[h], 0.0, 0.1);
    let lin = |n_in: usize| 1.7 / (n_in as f32).sqrt();
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        for m in ["query", "key", "value"] {
            put(
                format!("{p}.attention.self.{m}.weight"),
                &[h, h],
                0.0,
                lin(h),
            );
            put(format!("{p}.attention.self.{m}.bias"), &[h], 0.0, 0.1);
        }
        put(
            format!("{p}.attention.output.dense.weight"),
            &[h, h],
            0.0,
            lin(h),
        );
        put(format!("{p}.attention.output.dense.bias"), &[h], 0.0, 0.1);
        put(
            format!("{p}.attention.output.LayerNorm.weight"),
            &[h],
            1.0,
            0.2,
        );
        put(
            format!("{p}.attention.output.LayerNorm.bias"),
            &[h],
            0.0,
            0.1,
        );
        put(
            format!("{p}.intermediate.dense.weight"),
            &[ff, h],
            0.0,
            lin(h),
        );
        put(format!("{p}.intermediate.dense.bias"), &[ff], 0.0, 0.1);
        put(format!("{p}.output.dense.weight"), &[h, ff], 0.0, lin(ff));
        put(format!("{p}.output.dense.bias"), &[h], 0.0, 0.1);
        put(format!("{p}.output.LayerNorm.weight"), &[h], 1.0, 0.2);
        put(format!("{p}.output.LayerNorm.bias"), &[h], 0.0, 0.1);
    }
    t
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Writes config.json, tokenizer.json and model.safetensors of a tiny random BERT into `dir`
/// (created if needed).
pub fn write_tiny_model(dir: &Path, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    write_json(&dir.join("config.json"), &tiny_config());
    write_json(&dir.join("tokenizer.json"), &tiny_tokenizer());
    candle_core::safetensors::save(&tiny_tensors(seed), dir.join("model.safetensors")).unwrap();
}

/// Writes the same tiny model as a packaged bundle: e5-small-q4.bin (E5S1, Q4_0 matrices and
/// word embeddings) and tokenizer.json. No bundle.json.
pub fn write_tiny_bundle(dir: &Path, seed: u64) {
    use rapport::model::e5s1;
    std::fs::create_dir_all(dir).unwrap();
    write_json(&dir.join("tokenizer.json"), &tiny_tokenizer());
    let (cfg, _) = rapport::model::parse_bert_config(&tiny_config().to_string(), "tiny").unwrap();
    let mut header = e5s1::Header::from_bert_config(&cfg);
    header.bos = CLS as i32;
    header.eos = SEP as i32;
    header.unk = UNK as i32;
    let f = std::fs::File::create(dir.join("e5-small-q4.bin")).unwrap();
    e5s1::write(std::io::BufWriter::new(f), &header, &tiny_tensors(seed)).unwrap();
}
