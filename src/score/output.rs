//! What `rapport score` writes for each record: the analysis in the proto3 JSON mapping, cut
//! down by `--compact` / `--fields`, with the input's own fields under "input"
//! (`--keep-fields`), keys sorted at every level so that two runs diff cleanly; or a CSV row of
//! the headline fields. And the file it goes to, written in whole lines.
use std::{
    fs::File,
    io::{Seek, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{proto::v1 as pb, Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON object per record.
    Jsonl,
    /// A header row, then one row per record.
    Csv,
}

/// The format given, else CSV for a .csv/.tsv path and JSONL otherwise.
pub fn detect(path: &Path, given: Option<OutputFormat>) -> OutputFormat {
    given.unwrap_or_else(|| {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") | Some("tsv") => OutputFormat::Csv,
            _ => OutputFormat::Jsonl,
        }
    })
}

/// Top-level fields of a written record: `MessageAnalysis`'s in the proto3 JSON mapping, and
/// what `score` adds.
const TOP_FIELDS: &[&str] = &[
    "id",
    "language",
    "sentiment",
    "emotions",
    "emotionLabels",
    "style",
    "toxicity",
    "tones",
    "purpose",
    "labelSignals",
    "abstentions",
    "tokens",
    "truncated",
    "evidenceTokens",
    "text",
    "modelVersion",
    "timings",
    "input",
];

/// What of each analysis is written.
#[derive(Clone, Debug, Serialize)]
pub struct Shape {
    pub format: OutputFormat,
    /// `--fields`, each a path of keys; "id" always comes first.
    pub fields: Option<Vec<Vec<String>>>,
    pub compact: bool,
    pub timings: bool,
    pub keep_fields: bool,
    /// CSV output: the input's unmapped CSV columns (with `--keep-fields` on CSV input).
    pub extra_columns: Option<Vec<String>>,
    /// The CSV columns, computed once.
    #[serde(skip)]
    header: Vec<String>,
}

impl Shape {
    pub fn new(
        format: OutputFormat,
        fields: &[String],
        compact: bool,
        timings: bool,
        keep_fields: bool,
        extra_columns: Option<Vec<String>>,
    ) -> Result<Self> {
        let fields = if fields.is_empty() {
            None
        } else {
            let mut paths = vec![vec!["id".to_string()]];
            for f in fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
                let path: Vec<String> = f.split('.').map(camel).collect();
                if !TOP_FIELDS.contains(&path[0].as_str()) {
                    return Err(Error::invalid(
                        "--fields",
                        format!(
                            "{f:?}: no such field; the fields are {} (dotted paths go inside, \
                             e.g. sentiment.label, emotions.joy)",
                            TOP_FIELDS.join(", ")
                        ),
                    ));
                }
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
            Some(paths)
        };
        let mut shape = Shape {
            format,
            fields,
            compact,
            timings,
            keep_fields,
            extra_columns,
            header: Vec::new(),
        };
        shape.header = shape.csv_header();
        Ok(shape)
    }

    /// The CSV header row (CSV output only).
    fn csv_header(&self) -> Vec<String> {
        let rest: Vec<String> = match &self.fields {
            Some(paths) => paths.iter().map(|p| p.join(".")).collect(),
            None => HEADLINE.iter().map(|c| c.to_string()).collect(),
        };
        let mut cols: Vec<String> = ["id", "line", "error"].map(String::from).to_vec();
        cols.extend(rest.into_iter().filter(|c| c != "id"));
        if self.keep_fields {
            match &self.extra_columns {
                Some(extra) => cols.extend(extra.iter().map(|c| format!("input.{c}"))),
                None => cols.push("input".into()),
            }
        }
        cols
    }

    /// The written form of an analysis.
    pub fn analysis(&self, a: &pb::MessageAnalysis, extra: Option<&Map<String, Value>>) -> Value {
        if self.format == OutputFormat::Csv && self.fields.is_none() {
            // The headline columns come from the analysis itself: no JSON to build.
            let mut map = Map::new();
            map.insert("id".into(), Value::String(a.id.clone()));
            return self.with_input(Value::Object(map), extra);
        }
        // Through the text form: f32 fields print as their shortest decimal (as pbjson writes
        // them), not as the f64 a `Value` would widen them to.
        let text = serde_json::to_string(a).expect("an analysis serialises");
        let mut v: Value = serde_json::from_str(&text).expect("its own JSON parses");
        if let Value::Object(map) = &mut v {
            // Timings differ on every run: kept only when asked for (or picked by --fields).
            let picked = self
                .fields
                .as_ref()
                .is_some_and(|f| f.iter().any(|p| p[0] == "timings"));
            if !self.timings && !picked {
                map.remove("timings");
            }
            if self.compact {
                compact(map);
            }
        }
        if let Some(paths) = &self.fields {
            v = select(&v, paths);
        }
        self.with_input(v, extra)
    }

    /// The written form of a record that could not be scored.
    pub fn error(
        &self,
        id: &str,
        line: Option<u64>,
        error: &str,
        extra: Option<&Map<String, Value>>,
    ) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::String(id.into()));
        if let Some(l) = line {
            map.insert("line".into(), Value::from(l));
        }
        map.insert("error".into(), Value::String(error.into()));
        self.with_input(Value::Object(map), extra)
    }

    fn with_input(&self, mut v: Value, extra: Option<&Map<String, Value>>) -> Value {
        if let (true, Some(extra), Value::Object(map)) = (self.keep_fields, extra, &mut v) {
            map.insert("input".into(), Value::Object(extra.clone()));
        }
        sorted(v)
    }

    /// One output line (with its newline) for a written value; `analysis` gives CSV's headline
    /// columns.
    pub fn line(&self, v: &Value, analysis: Option<&pb::MessageAnalysis>) -> Vec<u8> {
        match self.format {
            OutputFormat::Jsonl => {
                let mut out = serde_json::to_vec(v).expect("JSON serialises");
                out.push(b'\n');
                out
            }
            OutputFormat::Csv => {
                let row: Vec<String> = self
                    .header
                    .iter()
                    .map(|col| self.csv_cell(col, v, analysis))
                    .collect();
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(&row).expect("CSV into memory");
                w.into_inner().expect("CSV into memory")
            }
        }
    }

    fn csv_cell(&self, col: &str, v: &Value, analysis: Option<&pb::MessageAnalysis>) -> String {
        match col {
            "id" | "line" | "error" => return cell(v.get(col)),
            "input" => return v.get("input").map(|i| i.to_string()).unwrap_or_default(),
            _ => {}
        }
        if let Some(name) = col.strip_prefix("input.") {
            if self.extra_columns.is_some() {
                return cell(v.get("input").and_then(|i| i.get(name)));
            }
        }
        match (&self.fields, analysis) {
            (Some(_), _) => cell(lookup(v, &col.split('.').collect::<Vec<_>>())),
            (None, Some(a)) => headline(col, a),
            (None, None) => String::new(),
        }
    }

    /// The CSV header line, as written at the top of a new file.
    pub fn header_line(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.header).expect("CSV into memory");
        w.into_inner().expect("CSV into memory")
    }
}

/// snake_case to the proto3 JSON mapping's lowerCamelCase (`emotion_labels` ->
/// `emotionLabels`); map keys such as `emotions.joy` have no underscore and stay as they are.
fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for ch in s.trim().chars() {
        if ch == '_' && !out.is_empty() {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `--compact`: the results without the evidence behind them and without the per-sentence and
/// per-turn detail of the text report (what drove a short message to 9-20 KB).
fn compact(map: &mut Map<String, Value>) {
    map.remove("labelSignals");
    strip_evidence(map);
    if let Some(Value::Object(text)) = map.get_mut("text") {
        for k in [
            "redacted",
            "cuts",
            "pii",
            "sentences",
            "features",
            "turns",
            "subject",
        ] {
            text.remove(k);
        }
        if let Some(Value::Object(call)) = text.get_mut("call") {
            call.remove("speakers");
        }
    }
}

fn strip_evidence(map: &mut Map<String, Value>) {
    map.remove("evidence");
    for v in map.values_mut() {
        if let Value::Object(inner) = v {
            strip_evidence(inner);
        }
    }
}

/// The sub-value at `path`. A key may itself hold dots (`labelSignals.sentiment.negative`):
/// the longest run of segments that names a key wins. Through an array, each element.
fn lookup<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    let map = v.as_object()?;
    (1..=path.len()).rev().find_map(|n| {
        let key = path[..n].join(".");
        map.get(&key).and_then(|inner| lookup(inner, &path[n..]))
    })
}

/// `v` cut down to `paths`, each kept at its place.
fn select(v: &Value, paths: &[Vec<String>]) -> Value {
    let mut out = Value::Object(Map::new());
    for p in paths {
        let segs: Vec<&str> = p.iter().map(String::as_str).collect();
        if let Some(picked) = pick(v, &segs) {
            merge(&mut out, picked);
        }
    }
    out
}

/// The value at `path` inside the objects leading to it; arrays are gone through element by
/// element.
fn pick(v: &Value, path: &[&str]) -> Option<Value> {
    if path.is_empty() {
        return Some(v.clone());
    }
    match v {
        Value::Object(map) => (1..=path.len()).rev().find_map(|n| {
            let key = path[..n].join(".");
            let inner = pick(map.get(&key)?, &path[n..])?;
            let mut m = Map::new();
            m.insert(key, inner);
            Some(Value::Object(m))
        }),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| pick(i, path).unwrap_or(Value::Object(Map::new())))
                .collect(),
        )),
        _ => None,
    }
}

fn merge(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) if d.len() == s.len() => {
            for (x, y) in d.iter_mut().zip(s) {
                merge(x, y);
            }
        }
        (d, s) => *d = s,
    }
}

/// Keys in byte order at every level, whatever order the map kept them in (protobuf maps come
/// in hash order; serde_json keeps insertion order where a dependency turns that on).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A CSV cell for a JSON value: text as it is, numbers and booleans printed, a list of plain
/// values joined by ";", anything else as compact JSON.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

/// The CSV columns without `--fields`: what a CRM analyst sorts and filters by.
const HEADLINE: &[&str] = &[
    "id",
    "language",
    "language_confidence",
    "sentiment",
    "sentiment_score",
    "sentiment_confidence",
    "p_negative",
    "p_neutral",
    "p_positive",
    "top_emotion",
    "top_emotion_probability",
    "emotion_labels",
    "politeness",
    "formality",
    "certainty",
    "directness",
    "emotionality",
    "urgency",
    "toxicity",
    "top_tone",
    "top_tone_value",
    "purpose",
    "purpose_probability",
    "words",
    "truncated",
    "abstentions",
    "warnings",
    "model_version",
];

fn num(x: f32) -> String {
    // The shortest decimal that reads back as the same f32, as in the JSONL.
    serde_json::to_string(&x).unwrap_or_default()
}

/// The largest entry of a label -> probability map (ties: the first label in byte order).
pub fn top(map: &std::collections::HashMap<String, f32>) -> Option<(&str, f32)> {
    let mut entries: Vec<(&String, &f32)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .into_iter()
        .fold(None, |best: Option<(&str, f32)>, (k, &v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((k.as_str(), v)),
        })
}

fn headline(col: &str, a: &pb::MessageAnalysis) -> String {
    let signal = |s: &Option<pb::Signal>| s.as_ref().map(|s| num(s.value)).unwrap_or_default();
    let style = a.style.as_ref();
    let sentiment = a.sentiment.as_ref();
    let prob = |label: &str| {
        sentiment
            .and_then(|s| s.probabilities.get(label))
            .map(|p| num(*p))
            .unwrap_or_default()
    };
    match col {
        "id" => a.id.clone(),
        "language" => a
            .language
            .as_ref()
            .map(|l| l.code.clone())
            .unwrap_or_default(),
        "language_confidence" => a
            .language
            .as_ref()
            .map(|l| num(l.confidence))
            .unwrap_or_default(),
        "sentiment" => sentiment.map(|s| s.label.clone()).unwrap_or_default(),
        "sentiment_score" => sentiment.map(|s| num(s.score)).unwrap_or_default(),
        "sentiment_confidence" => sentiment.map(|s| num(s.confidence)).unwrap_or_default(),
        "p_negative" => prob("negative"),
        "p_neutral" => prob("neutral"),
        "p_positive" => prob("positive"),
        "top_emotion" => top(&a.emotions)
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        "top_emotion_probability" => top(&a.emotions).map(|t| num(t.1)).unwrap_or_default(),
        "emotion_labels" => a.emotion_labels.join(";"),
        "politeness" => style.map(|s| signal(&s.politeness)).unwrap_or_default(),
        "formality" => style.map(|s| signal(&s.formality)).unwrap_or_default(),
        "certainty" => style.map(|s| signal(&s.certainty)).unwrap_or_default(),
        "directness" => style.map(|s| signal(&s.directness)).unwrap_or_default(),
        "emotionality" => style.map(|s| signal(&s.emotionality)).unwrap_or_default(),
        "urgency" => style.map(|s| signal(&s.urgency)).unwrap_or_default(),
        "toxicity" => signal(&a.toxicity),
        "top_tone" => top(&a.tones).map(|t| t.0.to_string()).unwrap_or_default(),
        "top_tone_value" => top(&a.tones).map(|t| num(t.1)).unwrap_or_default(),
        "purpose" => top(&a.purpose).map(|t| t.0.to_string()).unwrap_or_default(),
        "purpose_probability" => top(&a.purpose).map(|t| num(t.1)).unwrap_or_default(),
        "words" => a
            .text
            .as_ref()
            .and_then(|t| t.features.as_ref())
            .map(|f| f.words.to_string())
            .unwrap_or_default(),
        "truncated" => a.truncated.to_string(),
        "abstentions" => a.abstentions.join("; "),
        "warnings" => a
            .text
            .as_ref()
            .map(|t| t.warnings.join("; "))
            .unwrap_or_default(),
        "model_version" => a.model_version.clone(),
        _ => String::new(),
    }
}

/// The output file (or stdout), written in whole lines, knowing its length.
pub struct Sink {
    out: std::io::BufWriter<Box<dyn WriteSync>>,
    path: PathBuf,
    /// Bytes in the output so far (what a checkpoint records).
    pub bytes: u64,
}

/// A writer that can be made durable (a file: fsync; stdout: nothing to do).
pub trait WriteSync: Write + Send {
    fn sync(&mut self) -> std::io::Result<()>;
}

impl WriteSync for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

impl WriteSync for std::io::Stdout {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// Standard output for "-"; else the file, new (`keep` None) or cut back to `keep` bytes:
    /// what a checkpoint says was written whole before the run stopped.
    pub fn open(path: &Path, keep: Option<u64>) -> Result<Self> {
        let (w, bytes): (Box<dyn WriteSync>, u64) = if path.as_os_str() == "-" {
            (Box::new(std::io::stdout()), 0)
        } else if let Some(len) = keep {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Error::invalid(
                        "--output",
                        format!(
                            "{} is gone but its checkpoint is there: give --restart to score \
                             the input again",
                            path.display()
                        ),
                    ),
                    _ => Error::io(path, e),
                })?;
            let have = f.metadata().map_err(|e| Error::io(path, e))?.len();
            if have < len {
                return Err(Error::invalid(
                    "--output",
                    format!(
                        "{} has {have} bytes but its checkpoint says {len} were written: it was \
                         changed since; give --restart to score the input again",
                        path.display()
                    ),
                ));
            }
            f.set_len(len).map_err(|e| Error::io(path, e))?;
            f.seek(std::io::SeekFrom::End(0))
                .map_err(|e| Error::io(path, e))?;
            (Box::new(f), len)
        } else {
            let f = File::create(path).map_err(|e| Error::io(path, e))?;
            (Box::new(f), 0)
        };
        Ok(Sink {
            out: std::io::BufWriter::with_capacity(1 << 16, w),
            path: path.to_path_buf(),
            bytes,
        })
    }

    pub fn write(&mut self, line: &[u8]) -> Result<()> {
        self.out
            .write_all(line)
            .map_err(|e| Error::io(&self.path, e))?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Everything written so far on disk (flushed and, for a file, fsynced).
    pub fn sync(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        self.out
            .get_mut()
            .sync()
            .map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_pick_paths_and_keep_the_id() {
        let v = json!({"id": "1", "sentiment": {"label": "negative", "score": -0.5},
            "labelSignals": {"sentiment.negative": {"value": 0.7, "evidence": []}},
            "text": {"sentences": [{"text": "a", "start": 0}, {"text": "b", "start": 2}]}});
        let shape = Shape::new(
            OutputFormat::Jsonl,
            &[
                "sentiment.label".into(),
                "label_signals.sentiment.negative.value".into(),
                "text.sentences.text".into(),
            ],
            false,
            false,
            false,
            None,
        )
        .unwrap();
        let out = select(&v, shape.fields.as_ref().unwrap());
        assert_eq!(
            out,
            json!({"id": "1", "sentiment": {"label": "negative"},
                "labelSignals": {"sentiment.negative": {"value": 0.7}},
                "text": {"sentences": [{"text": "a"}, {"text": "b"}]}})
        );
        assert!(Shape::new(
            OutputFormat::Jsonl,
            &["sentimnt".into()],
            false,
            false,
            false,
            None
        )
        .unwrap_err()
        .to_string()
        .contains("no such field"));
    }

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = sorted(json!({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": 1}));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":1,"b":{"a":[{"x":2,"y":1}],"z":1}}"#
        );
    }

    #[test]
    fn csv_header_starts_with_id_line_error() {
        let shape = Shape::new(OutputFormat::Csv, &[], false, false, true, None).unwrap();
        let h = shape.csv_header();
        assert_eq!(&h[..4], &["id", "line", "error", "language"]);
        assert_eq!(h.last().unwrap(), "input");
    }
}
