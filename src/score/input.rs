//! The archives `rapport score` reads, each as a sequence of records: one `Message` each (or
//! why not), with where it stands in the input. JSONL, CSV, mbox, a folder of .eml files and a
//! folder of call transcripts.
use std::{
    fs::File,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{proto::v1 as pb, Error, Result};

/// How the input is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One `Message` per line in the proto3 JSON mapping.
    Jsonl,
    /// A header row, then one message per row (columns named by the --*-column flags).
    Csv,
    /// A Unix mailbox: each mail one message (RFC 822, as sent).
    Mbox,
    /// .eml files (RFC 822): one file, or every .eml under a folder.
    Eml,
    /// Call transcripts (.vtt, .srt, .txt, .json) under a folder, or one such file.
    Transcripts,
}

const TRANSCRIPT_EXTENSIONS: &[&str] = &["vtt", "srt", "txt", "json"];

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The format given, or the one the path shows: its extension, or for a folder, the files in it.
pub fn detect(path: &Path, given: Option<InputFormat>) -> Result<InputFormat> {
    if let Some(f) = given {
        return Ok(f);
    }
    if path.as_os_str() == "-" {
        return Ok(InputFormat::Jsonl);
    }
    if path.is_dir() {
        let files = list_files(path, |_| true)?;
        let eml = files.iter().any(|f| extension(f) == "eml");
        let transcripts = files
            .iter()
            .any(|f| TRANSCRIPT_EXTENSIONS.contains(&extension(f).as_str()));
        return match (eml, transcripts) {
            (true, false) => Ok(InputFormat::Eml),
            (false, true) => Ok(InputFormat::Transcripts),
            (true, true) => Err(Error::invalid(
                "--input-format",
                format!(
                    "{} holds both .eml files and transcripts: say which to read",
                    path.display()
                ),
            )),
            (false, false) => Err(Error::invalid(
                "--input",
                format!(
                    "{} holds no .eml files and no transcripts (.vtt, .srt, .txt, .json)",
                    path.display()
                ),
            )),
        };
    }
    match extension(path).as_str() {
        "jsonl" | "ndjson" => Ok(InputFormat::Jsonl),
        "csv" | "tsv" => Ok(InputFormat::Csv),
        "mbox" | "mbx" => Ok(InputFormat::Mbox),
        "eml" => Ok(InputFormat::Eml),
        "vtt" | "srt" => Ok(InputFormat::Transcripts),
        _ => Err(Error::invalid(
            "--input-format",
            format!(
                "cannot tell the format of {} from its name: give --input-format",
                path.display()
            ),
        )),
    }
}

/// Which CSV columns hold the `Message` fields. A column named here that the header lacks is an
/// error; a default one that is missing is simply not read (but the text column is required).
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct CsvColumns {
    /// CSV column of the message id [default: id; without one, the row's number from 1].
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// CSV column of the text to analyse [default: text].
    #[arg(long, value_name = "COLUMN")]
    pub text_column: Option<String>,
    /// CSV column of the customer id [default: customer_id].
    #[arg(long, value_name = "COLUMN")]
    pub customer_column: Option<String>,
    /// CSV column of the time written: RFC 3339 ("2026-11-02T09:00:00Z", or
    /// "2026-11-02 09:00:00" read as UTC), or Unix seconds (milliseconds above 10^12)
    /// [default: timestamp].
    #[arg(long, value_name = "COLUMN")]
    pub timestamp_column: Option<String>,
    /// CSV column of the channel: email, chat, call, sms, social (or CHANNEL_*)
    /// [default: channel].
    #[arg(long, value_name = "COLUMN")]
    pub channel_column: Option<String>,
    /// CSV column of the writer's role: customer, agent, bot (or ROLE_*) [default: role].
    #[arg(long, value_name = "COLUMN")]
    pub role_column: Option<String>,
    /// CSV column of the conversation id [default: conversation_id].
    #[arg(long, value_name = "COLUMN")]
    pub conversation_column: Option<String>,
    /// CSV field delimiter [default: ',' and a tab for .tsv].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
}

/// One record of the input, read and converted.
#[derive(Debug)]
pub struct Record {
    /// Position among the input's records, from 0.
    pub index: u64,
    /// Line where it starts in the input, from 1 (JSONL and CSV), for error lines.
    pub line: Option<u64>,
    pub id: String,
    /// The message, or why the record is not one (written in its place).
    pub message: std::result::Result<pb::Message, String>,
    /// Input fields that no `Message` field takes (`--keep-fields`).
    pub extra: Option<Map<String, Value>>,
}

/// What a reader yields before it is numbered.
pub struct Raw {
    pub line: Option<u64>,
    pub id: String,
    pub message: std::result::Result<pb::Message, String>,
    pub extra: Option<Map<String, Value>>,
}

/// A reader of one layout. `Ok(None)` at the end; `Err` only for what stops the run (the input
/// cannot be read), never for a bad record.
pub trait Source: Send {
    fn next(&mut self) -> Result<Option<Raw>>;
    /// Skips `n` records (a resumed run), cheaper where the layout allows.
    fn skip(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            if self.next()?.is_none() {
                break;
            }
        }
        Ok(())
    }
    /// How far the reader is, in the unit of [`Source::total`].
    fn position(&self) -> u64;
    /// The input's size: bytes, or files for a folder.
    fn total(&self) -> u64;
    /// With `--keep-fields`, the CSV columns that no flag maps (extra output columns).
    fn extra_columns(&self) -> Option<Vec<String>> {
        None
    }
}

/// Opens the input for reading in `format`.
pub fn open(
    path: &Path,
    format: InputFormat,
    columns: &CsvColumns,
    keep_fields: bool,
) -> Result<Box<dyn Source>> {
    let stdin = path.as_os_str() == "-";
    if stdin && format != InputFormat::Jsonl && format != InputFormat::Csv {
        return Err(Error::invalid(
            "--input",
            "standard input can be JSONL or CSV only",
        ));
    }
    let file = || -> Result<(Box<dyn Read + Send>, u64)> {
        if stdin {
            return Ok((Box::new(std::io::stdin()), 0));
        }
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok((Box::new(f), size))
    };
    Ok(match format {
        InputFormat::Jsonl => {
            let (r, total) = file()?;
            let counter = Counter::new(r);
            let pos = counter.count.clone();
            Box::new(Jsonl {
                reader: BufReader::with_capacity(1 << 16, counter),
                line: 0,
                keep_fields,
                pos,
                total,
                path: path.to_path_buf(),
            })
        }
        InputFormat::Csv => {
            let (r, total) = file()?;
            Box::new(Csv::new(path, r, total, columns, keep_fields)?)
        }
        InputFormat::Mbox => {
            if path.is_dir() {
                return Err(Error::invalid(
                    "--input",
                    format!("{} is a folder, not an mbox file", path.display()),
                ));
            }
            let (r, total) = file()?;
            let counter = Counter::new(r);
            let pos = counter.count.clone();
            Box::new(Mbox {
                mails: mail_parser::mailbox::mbox::MessageIterator::new(BufReader::with_capacity(
                    1 << 16,
                    counter,
                )),
                number: 0,
                pos,
                total,
                path: path.to_path_buf(),
            })
        }
        InputFormat::Eml | InputFormat::Transcripts => {
            let wanted: fn(&Path) -> bool = if format == InputFormat::Eml {
                |p| extension(p) == "eml"
            } else {
                |p| TRANSCRIPT_EXTENSIONS.contains(&extension(p).as_str())
            };
            let (root, files) = if path.is_dir() {
                (path.to_path_buf(), list_files(path, wanted)?)
            } else {
                // One file: its id is its name.
                let root = path.parent().unwrap_or(Path::new("")).to_path_buf();
                let name = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
                (root, vec![name])
            };
            Box::new(Files {
                root,
                files,
                next: 0,
                transcripts: format == InputFormat::Transcripts,
            })
        }
    })
}

/// Files under `dir` that `wanted` accepts, as paths relative to it, sorted (byte order of the
/// path with '/' separators, the same on every machine). Hidden files and folders are skipped.
pub fn list_files(dir: &Path, wanted: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = dir.join(&rel);
        for entry in std::fs::read_dir(&full).map_err(|e| Error::io(&full, e))? {
            let entry = entry.map_err(|e| Error::io(&full, e))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = rel.join(entry.file_name());
            let kind = entry.file_type().map_err(|e| Error::io(&full, e))?;
            // Followed links count as what they point to.
            let is_dir = kind.is_dir() || (kind.is_symlink() && dir.join(&rel).is_dir());
            if is_dir {
                stack.push(rel);
            } else if wanted(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort_by_key(|p| slash_path(p));
    Ok(out)
}

/// A relative path with '/' separators: a record's id.
pub fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Counts the bytes read through it, for the progress bar.
struct Counter<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> Counter<R> {
    fn new(inner: R) -> Self {
        Counter {
            inner,
            count: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<R: Read> Read for Counter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The `Message` fields as the proto3 JSON mapping names them (lowerCamelCase) and as pbjson
/// also accepts them (the proto's own snake_case names): any other key of a JSONL line is the
/// caller's own (`--keep-fields`).
const MESSAGE_FIELDS: &[&str] = &[
    "id",
    "customerId",
    "customer_id",
    "conversationId",
    "conversation_id",
    "channel",
    "role",
    "text",
    "timestamp",
    "languageHint",
    "language_hint",
    "email",
    "transcript",
    "raw",
    "charset",
    "format",
    "customerSpeaker",
    "customer_speaker",
];

struct Jsonl {
    reader: BufReader<Counter<Box<dyn Read + Send>>>,
    line: u64,
    keep_fields: bool,
    pos: Arc<AtomicU64>,
    total: u64,
    path: PathBuf,
}

impl Source for Jsonl {
    fn next(&mut self) -> Result<Option<Raw>> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = Some(self.line);
            return Ok(Some(match std::str::from_utf8(&buf) {
                Ok(text) => {
                    let (id, message, extra) = parse_json_message(text, self.keep_fields);
                    Raw {
                        line,
                        id,
                        message,
                        extra,
                    }
                }
                Err(e) => Raw {
                    line,
                    id: String::new(),
                    message: Err(format!("not UTF-8: {e}")),
                    extra: None,
                },
            }));
        }
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        // Blank lines are not records: count the others without parsing them.
        let mut skipped = 0;
        let mut buf = Vec::new();
        while skipped < n {
            buf.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io(&self.path, e))?;
            if read == 0 {
                break;
            }
            self.line += 1;
            if !buf.iter().all(u8::is_ascii_whitespace) {
                skipped += 1;
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos.load(Ordering::Relaxed)
    }

    fn total(&self) -> u64 {
        self.total
    }
}

/// One JSONL line as a `Message`: its id, the message or why not, and the keys no `Message`
/// field takes (ignored, or kept with `keep`).
pub fn parse_json_message(
    text: &str,
    keep: bool,
) -> (
    String,
    std::result::Result<pb::Message, String>,
    Option<Map<String, Value>>,
) {
    let bad = |e: &dyn std::fmt::Display| format!("not a Message in proto3 JSON: {e}");
    let map = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            return (
                String::new(),
                Err(bad(&format!("{kind}, not an object"))),
                None,
            );
        }
        Err(e) => return (String::new(), Err(bad(&e)), None),
    };
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (known, extra): (Map<String, Value>, Map<String, Value>) = map
        .into_iter()
        .partition(|(k, _)| MESSAGE_FIELDS.contains(&k.as_str()));
    let extra = (keep && !extra.is_empty()).then_some(extra);
    match serde_json::from_value::<pb::Message>(Value::Object(known)) {
        Ok(m) => (id, Ok(m), extra),
        Err(e) => (id, Err(bad(&e)), extra),
    }
}

/// The CSV reader with its columns resolved against the header.
struct Csv {
    reader: csv::Reader<Box<dyn Read + Send>>,
    id: Option<usize>,
    text: usize,
    customer: Option<usize>,
    timestamp: Option<(usize, String)>,
    channel: Option<(usize, String)>,
    role: Option<(usize, String)>,
    conversation: Option<usize>,
    /// Unmapped columns (name, index), with `--keep-fields`.
    extra: Option<Vec<(String, usize)>>,
    row: u64,
    total: u64,
    path: PathBuf,
    record: csv::StringRecord,
}

impl Csv {
    fn new(
        path: &Path,
        r: Box<dyn Read + Send>,
        total: u64,
        columns: &CsvColumns,
        keep_fields: bool,
    ) -> Result<Self> {
        let delimiter =
            columns
                .delimiter
                .unwrap_or(if extension(path) == "tsv" { '\t' } else { ',' });
        if !delimiter.is_ascii() {
            return Err(Error::invalid(
                "--delimiter",
                format!("{delimiter:?} is not a single-byte (ASCII) character"),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter as u8)
            // Short or long rows are read as far as they go: a missing cell is empty.
            .flexible(true)
            .from_reader(r);
        let header = reader
            .headers()
            .map_err(|e| Error::invalid("--input", format!("{}: {e}", path.display())))?
            .clone();
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let find = |flag: &str, given: &Option<String>, default: &str| -> Result<Option<usize>> {
            let name = given.as_deref().unwrap_or(default);
            match names.iter().position(|n| n == name) {
                Some(i) => Ok(Some(i)),
                None if given.is_some() => Err(Error::invalid(
                    flag,
                    format!(
                        "no column {name:?} in {}; its columns: {}",
                        path.display(),
                        names.join(", ")
                    ),
                )),
                None => Ok(None),
            }
        };
        let id = find("--id-column", &columns.id_column, "id")?;
        let text = find("--text-column", &columns.text_column, "text")?.ok_or_else(|| {
            Error::invalid(
                "--text-column",
                format!(
                    "no column \"text\" in {}: name the column of the texts; its columns: {}",
                    path.display(),
                    names.join(", ")
                ),
            )
        })?;
        let named = |i: Option<usize>| i.map(|i| (i, names[i].clone()));
        let customer = find("--customer-column", &columns.customer_column, "customer_id")?;
        let timestamp = named(find(
            "--timestamp-column",
            &columns.timestamp_column,
            "timestamp",
        )?);
        let channel = named(find(
            "--channel-column",
            &columns.channel_column,
            "channel",
        )?);
        let role = named(find("--role-column", &columns.role_column, "role")?);
        let conversation = find(
            "--conversation-column",
            &columns.conversation_column,
            "conversation_id",
        )?;
        let mapped = [
            id,
            Some(text),
            customer,
            timestamp.as_ref().map(|t| t.0),
            channel.as_ref().map(|t| t.0),
            role.as_ref().map(|t| t.0),
            conversation,
        ];
        let extra = keep_fields.then(|| {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| !mapped.contains(&Some(*i)))
                .map(|(i, n)| (n.clone(), i))
                .collect()
        });
        Ok(Csv {
            reader,
            id,
            text,
            customer,
            timestamp,
            channel,
            role,
            conversation,
            extra,
            row: 0,
            total,
            path: path.to_path_buf(),
            record: csv::StringRecord::new(),
        })
    }

    fn cell(&self, i: Option<usize>) -> &str {
        i.and_then(|i| self.record.get(i)).unwrap_or("")
    }

    fn message(&self) -> std::result::Result<pb::Message, String> {
        let mut m = pb::Message {
            id: self.id_value(),
            text: self.cell(Some(self.text)).to_string(),
            customer_id: self.cell(self.customer).trim().to_string(),
            conversation_id: self.cell(self.conversation).trim().to_string(),
            ..Default::default()
        };
        if let Some((i, name)) = &self.timestamp {
            m.timestamp = parse_timestamp(self.cell(Some(*i)))
                .map_err(|e| format!("column {name:?}: {e}"))?;
        }
        if let Some((i, name)) = &self.channel {
            m.channel = parse_channel(self.cell(Some(*i)))
                .map_err(|e| format!("column {name:?}: {e}"))? as i32;
        }
        if let Some((i, name)) = &self.role {
            m.role = parse_role(self.cell(Some(*i))).map_err(|e| format!("column {name:?}: {e}"))?
                as i32;
        }
        Ok(m)
    }

    fn id_value(&self) -> String {
        match self.id {
            Some(i) => self.cell(Some(i)).trim().to_string(),
            None => self.row.to_string(),
        }
    }
}

impl Source for Csv {
    fn next(&mut self) -> Result<Option<Raw>> {
        let mut record = std::mem::take(&mut self.record);
        let read = self.reader.read_record(&mut record);
        self.record = record;
        match read {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Utf8 { pos, err } = e.kind() {
                    self.row += 1;
                    return Ok(Some(Raw {
                        line: pos.as_ref().map(|p| p.line()),
                        id: String::new(),
                        message: Err(format!("row is not UTF-8: {err}")),
                        extra: None,
                    }));
                }
                return Err(Error::invalid(
                    "--input",
                    format!("{}: {e}", self.path.display()),
                ));
            }
        }
        self.row += 1;
        let line = self.record.position().map(|p| p.line());
        let extra = self.extra.as_ref().map(|cols| {
            cols.iter()
                .map(|(name, i)| (name.clone(), Value::String(self.cell(Some(*i)).into())))
                .collect()
        });
        Ok(Some(Raw {
            line,
            id: self.id_value(),
            message: self.message(),
            extra,
        }))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        let mut record = csv::ByteRecord::new();
        for _ in 0..n {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => self.row += 1,
                Err(e) => {
                    return Err(Error::invalid(
                        "--input",
                        format!("{}: {e}", self.path.display()),
                    ))
                }
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    fn total(&self) -> u64 {
        self.total
    }

    fn extra_columns(&self) -> Option<Vec<String>> {
        self.extra
            .as_ref()
            .map(|cols| cols.iter().map(|(n, _)| n.clone()).collect())
    }
}

/// A CSV time: empty (none), Unix seconds (milliseconds above 10^12), or RFC 3339, where a
/// space may stand for the "T" and a time without a zone is UTC.
pub fn parse_timestamp(s: &str) -> std::result::Result<Option<pbjson_types::Timestamp>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(mut secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("{s:?} is not a time after 1970"));
        }
        if secs > 1e12 {
            secs /= 1000.0;
        }
        return Ok(Some(pbjson_types::Timestamp {
            seconds: secs.floor() as i64,
            nanos: ((secs - secs.floor()) * 1e9) as i32,
        }));
    }
    let mut text = s.to_string();
    if text.len() > 10 && text.as_bytes()[10] == b' ' {
        text.replace_range(10..11, "T");
    }
    // No zone after the time of day: UTC.
    let time = text.get(11..).unwrap_or("");
    if !time.is_empty() && !time.ends_with(['Z', 'z']) && !time.contains(['+', '-']) {
        text.push('Z');
    }
    serde_json::from_value::<pbjson_types::Timestamp>(Value::String(text))
        .map(Some)
        .map_err(|_| format!("cannot read {s:?} as RFC 3339 or Unix seconds"))
}

/// A channel by its proto name (`CHANNEL_EMAIL`) or a plain word (`email`, `chat`, `call`).
pub fn parse_channel(s: &str) -> std::result::Result<pb::Channel, String> {
    let v = s.trim().to_ascii_lowercase();
    let v = v.strip_prefix("channel_").unwrap_or(&v);
    Ok(match v {
        "" | "unspecified" => pb::Channel::Unspecified,
        "email" | "e-mail" | "mail" => pb::Channel::Email,
        "chat" | "livechat" | "messenger" => pb::Channel::Chat,
        "call" | "call_transcript" | "phone" | "voice" | "transcript" => {
            pb::Channel::CallTranscript
        }
        "sms" => pb::Channel::Sms,
        "social" => pb::Channel::Social,
        _ => {
            return Err(format!(
                "unknown channel {s:?}; expected email, chat, call, sms, social or a CHANNEL_* name"
            ))
        }
    })
}

/// A role by its proto name (`ROLE_AGENT`) or a plain word (`customer`, `agent`, `bot`).
pub fn parse_role(s: &str) -> std::result::Result<pb::Role, String> {
    let v = s.trim().to_ascii_lowercase();
    let v = v.strip_prefix("role_").unwrap_or(&v);
    Ok(match v {
        "" | "unspecified" => pb::Role::Unspecified,
        "customer" | "client" | "user" | "contact" => pb::Role::Customer,
        "agent" | "operator" | "support" | "staff" => pb::Role::Agent,
        "bot" | "system" => pb::Role::Bot,
        _ => {
            return Err(format!(
                "unknown role {s:?}; expected customer, agent, bot or a ROLE_* name"
            ))
        }
    })
}

/// The headers of a whole email that `score` reads: its Message-ID and its Date.
fn mail_headers(raw: &[u8]) -> (Option<String>, Option<pbjson_types::Timestamp>) {
    let Some(m) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return (None, None);
    };
    let id = m
        .message_id()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let at = m.date().filter(|d| d.is_valid()).and_then(|d| {
        let secs = d.to_timestamp();
        (secs > 0).then_some(pbjson_types::Timestamp {
            seconds: secs,
            nanos: 0,
        })
    });
    (id, at)
}

fn email_message(id: String, raw: Vec<u8>, at: Option<pbjson_types::Timestamp>) -> pb::Message {
    pb::Message {
        id,
        raw,
        timestamp: at,
        channel: pb::Channel::Email as i32,
        format: pb::TextFormat::Rfc822 as i32,
        ..Default::default()
    }
}

/// An mbox: mail-parser's splitter (the "From " line rule, ">From " lines unescaped).
struct Mbox {
    mails: mail_parser::mailbox::mbox::MessageIterator<BufReader<Counter<Box<dyn Read + Send>>>>,
    /// Mails read, for ids of mails without a Message-ID.
    number: u64,
    pos: Arc<AtomicU64>,
    total: u64,
    path: PathBuf,
}

impl Source for Mbox {
    fn next(&mut self) -> Result<Option<Raw>> {
        let Some(mail) = self.mails.next() else {
            return Ok(None);
        };
        let mail = mail.map_err(|e| Error::io(&self.path, e))?;
        self.number += 1;
        let raw = mail.unwrap_contents();
        // The Message-ID where there is one (CRMs join on it), else the mail's number.
        let (message_id, at) = mail_headers(&raw);
        let id = message_id.unwrap_or_else(|| format!("#{}", self.number));
        Ok(Some(Raw {
            line: None,
            id: id.clone(),
            message: Ok(email_message(id, raw, at)),
            extra: None,
        }))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            match self.mails.next() {
                None => break,
                Some(m) => {
                    m.map_err(|e| Error::io(&self.path, e))?;
                    self.number += 1;
                }
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos.load(Ordering::Relaxed)
    }

    fn total(&self) -> u64 {
        self.total
    }
}

/// Files of a folder, each one message whose id is its path relative to the folder.
struct Files {
    root: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    transcripts: bool,
}

impl Source for Files {
    fn next(&mut self) -> Result<Option<Raw>> {
        let Some(rel) = self.files.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let id = slash_path(rel);
        let path = self.root.join(rel);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            // One unreadable file fails its own record only.
            Err(e) => {
                return Ok(Some(Raw {
                    line: None,
                    id,
                    message: Err(format!("cannot read the file: {e}")),
                    extra: None,
                }))
            }
        };
        let message = if self.transcripts {
            pb::Message {
                id: id.clone(),
                raw,
                channel: pb::Channel::CallTranscript as i32,
                format: pb::TextFormat::Transcript as i32,
                ..Default::default()
            }
        } else {
            let (_, at) = mail_headers(&raw);
            email_message(id.clone(), raw, at)
        };
        Ok(Some(Raw {
            line: None,
            id,
            message: Ok(message),
            extra: None,
        }))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.next = self.next.saturating_add(n as usize).min(self.files.len());
        Ok(())
    }

    fn position(&self) -> u64 {
        self.next as u64
    }

    fn total(&self) -> u64 {
        self.files.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fields_are_every_field_of_message() {
        // A Message with every field set serialises to exactly the camelCase names listed.
        let m = pb::Message {
            id: "i".into(),
            customer_id: "c".into(),
            conversation_id: "v".into(),
            channel: 1,
            role: 1,
            text: "t".into(),
            timestamp: Some(pbjson_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            language_hint: "en".into(),
            channel_fields: Some(pb::message::ChannelFields::Email(pb::EmailFields {
                subject: "s".into(),
            })),
            raw: vec![1],
            charset: "koi8-r".into(),
            format: 1,
            customer_speaker: "A".into(),
        };
        let Value::Object(map) = serde_json::to_value(&m).unwrap() else {
            panic!()
        };
        for k in map.keys() {
            assert!(MESSAGE_FIELDS.contains(&k.as_str()), "{k} missing");
        }
        assert!(MESSAGE_FIELDS.contains(&"transcript"));
    }

    #[test]
    fn unknown_keys_are_ignored_or_kept() {
        let line = r#"{"id":"7","text":"hi","crm_stage":"lead","email":{"subject":"s","cc":"x"}}"#;
        let (id, m, extra) = parse_json_message(line, false);
        assert_eq!(id, "7");
        assert_eq!(m.unwrap().text, "hi");
        assert!(extra.is_none());
        let (_, _, extra) = parse_json_message(line, true);
        assert_eq!(extra.unwrap()["crm_stage"], "lead");
        let (_, m, _) = parse_json_message("[1]", false);
        assert!(m.unwrap_err().starts_with("not a Message in proto3 JSON: "));
    }

    #[test]
    fn csv_values() {
        let t = parse_timestamp("2026-11-02 09:00:00").unwrap().unwrap();
        assert_eq!(t.seconds, 1_793_610_000);
        assert_eq!(
            parse_timestamp("2026-11-02T12:00:00+03:00")
                .unwrap()
                .unwrap()
                .seconds,
            1_793_610_000
        );
        assert_eq!(
            parse_timestamp("1793610000000").unwrap().unwrap().seconds,
            1_793_610_000
        );
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(parse_channel("Email").unwrap(), pb::Channel::Email);
        assert_eq!(
            parse_channel("CHANNEL_CALL_TRANSCRIPT").unwrap(),
            pb::Channel::CallTranscript
        );
        assert!(parse_channel("fax").is_err());
        assert_eq!(parse_role("Operator").unwrap(), pb::Role::Agent);
    }
}
