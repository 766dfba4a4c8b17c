//! The run's counts (kept in the checkpoint, so a resumed run reports the whole archive) and the
//! summary printed at the end and written by `--summary FILE`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::proto::v1 as pb;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Records read from the input (this shard's and the others').
    pub read: u64,
    pub scored: u64,
    /// Records answered with an error line.
    pub rejected: u64,
    /// Records of other shards.
    pub skipped_by_shard: u64,
    pub languages: BTreeMap<String, u64>,
    /// Sentiment label -> messages.
    pub sentiment: BTreeMap<String, u64>,
    /// Each message's most probable emotion -> messages.
    pub top_emotions: BTreeMap<String, u64>,
    /// Error, with its numbers masked ("#"), -> records.
    pub errors: BTreeMap<String, u64>,
    /// With `--ingest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<IngestCounts>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IngestCounts {
    /// Messages folded into a profile for the first time.
    pub messages_new: u64,
    /// Messages a profile already held (by id): a rerun counts nothing twice.
    pub messages_duplicate: u64,
    /// Scored messages without a customer id: not profiled.
    pub without_customer: u64,
    /// Messages the profile store refused, by reason.
    pub rejected: BTreeMap<String, u64>,
}

impl Counts {
    pub fn scored(&mut self, a: &pb::MessageAnalysis) {
        self.scored += 1;
        let lang = a.language.as_ref().map_or("und", |l| l.code.as_str());
        *self.languages.entry(lang.to_string()).or_default() += 1;
        let label = a
            .sentiment
            .as_ref()
            .map_or("(abstained)", |s| s.label.as_str());
        *self.sentiment.entry(label.to_string()).or_default() += 1;
        if let Some((e, _)) = super::output::top(&a.emotions) {
            *self.top_emotions.entry(e.to_string()).or_default() += 1;
        }
    }

    pub fn rejected(&mut self, error: &str) {
        self.rejected += 1;
        *self.errors.entry(reason(error)).or_default() += 1;
    }
}

/// An error as a reason to count: numbers masked, so that "line 3 column 7" and "25000
/// characters" group with their kind (digits within a word, "proto3", stay); at most 120
/// characters.
pub fn reason(error: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    let mut in_word = false;
    for ch in error.chars() {
        if ch.is_ascii_digit() && !in_word {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            out.push(ch);
            in_number = false;
            in_word = ch.is_alphanumeric() || ch == '_';
        }
        if out.chars().count() >= 120 {
            break;
        }
    }
    out
}

/// The summary as JSON (`--summary FILE`).
pub struct Run<'a> {
    pub input: String,
    pub output: String,
    pub shard: Option<String>,
    pub server: bool,
    /// Records consumed before this run (a resumed run).
    pub resumed_from: u64,
    pub counts: &'a Counts,
    /// Records this run wrote (scored or rejected).
    pub this_run: u64,
    /// Loading the models or reaching the servers.
    pub setup_seconds: f64,
    /// Scoring, from the first record read to the last written.
    pub elapsed_seconds: f64,
}

impl Run<'_> {
    pub fn to_json(&self) -> Value {
        let rate = if self.elapsed_seconds > 0.0 {
            self.this_run as f64 / self.elapsed_seconds
        } else {
            0.0
        };
        super::output::sorted(json!({
            "input": self.input,
            "output": self.output,
            "shard": self.shard,
            "engine": if self.server { "server" } else { "in-process" },
            "resumed_from_record": self.resumed_from,
            "read": self.counts.read,
            "scored": self.counts.scored,
            "rejected": self.counts.rejected,
            "skipped_by_shard": self.counts.skipped_by_shard,
            "languages": self.counts.languages,
            "sentiment": self.counts.sentiment,
            "top_emotions": self.counts.top_emotions,
            "errors": self.counts.errors,
            "ingest": self.counts.ingest,
            "this_run": {
                "records": self.this_run,
                "setup_seconds": round(self.setup_seconds, 3),
                "elapsed_seconds": round(self.elapsed_seconds, 3),
                "messages_per_second": round(rate, 1),
            },
        }))
    }

    /// A few lines for a person, on stderr.
    pub fn to_text(&self) -> String {
        let c = self.counts;
        let dist = |m: &BTreeMap<String, u64>| {
            let mut v: Vec<(&String, &u64)> = m.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            v.iter()
                .take(8)
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rate = if self.elapsed_seconds > 0.0 {
            self.this_run as f64 / self.elapsed_seconds
        } else {
            0.0
        };
        let mut s = format!(
            "score: {} read, {} scored, {} rejected, {} skipped by shard{}\n",
            c.read,
            c.scored,
            c.rejected,
            c.skipped_by_shard,
            self.shard
                .as_ref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default()
        );
        if self.resumed_from > 0 {
            s += &format!("  resumed after record {}\n", self.resumed_from);
        }
        s += &format!("  languages: {}\n", dist(&c.languages));
        s += &format!("  sentiment: {}\n", dist(&c.sentiment));
        s += &format!("  top emotions: {}\n", dist(&c.top_emotions));
        if !c.errors.is_empty() {
            s += &format!("  errors: {}\n", dist(&c.errors));
        }
        if let Some(i) = &c.ingest {
            s += &format!(
                "  profiles: {} messages new, {} already stored, {} without a customer id{}\n",
                i.messages_new,
                i.messages_duplicate,
                i.without_customer,
                if i.rejected.is_empty() {
                    String::new()
                } else {
                    format!(", refused: {}", dist(&i.rejected))
                }
            );
        }
        s += &format!(
            "  {} records in {:.1} s: {:.1} msg/s (after {:.1} s of setup)",
            self.this_run, self.elapsed_seconds, rate, self.setup_seconds
        );
        s
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_mask_numbers() {
        assert_eq!(
            super::reason("not a Message in proto3 JSON: EOF at line 1 column 17"),
            "not a Message in proto3 JSON: EOF at line # column #"
        );
    }
}
