//! Chats: turns with speakers, roles and times, from JSON or from `[12:01] Name: text` lines.
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::features::tokenize;
use super::turns::{parse_clock, parse_time, Role, Turn};
use crate::{Error, Result};

static CHAT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?x)^\s*
        (?: \[(?P<t1>[^\]\n]{3,40})\]\s* | (?P<t2>\d{4}-\d{2}-\d{2}[\sT]\d{1,2}:\d{2}(?::\d{2})?)\s+ | (?P<t3>\d{1,2}:\d{2}(?::\d{2})?)\s+ )?
        (?P<who>[^:\[\]\n]{1,60}?)
        (?:\s*\((?P<t4>\d{1,2}:\d{2}(?::\d{2})?)\))?
        \s*:(?:\s+|$)(?P<text>.*)$").unwrap()
});

fn str_field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| v.get(*n).and_then(Value::as_str))
}

/// A time field: a number of seconds or a string [`parse_time`] reads.
pub(crate) fn time_field(v: &Value, names: &[&str], clock: bool) -> Option<Option<f64>> {
    for n in names {
        match v.get(*n) {
            Some(Value::Number(x)) => return Some(x.as_f64()),
            Some(Value::String(s)) => {
                return Some(if clock { parse_clock(s) } else { parse_time(s) })
            }
            _ => {}
        }
    }
    None
}

/// The array of turn objects in a JSON document: the document itself, or its
/// `messages` / `turns` / `segments` / `utterances` member.
pub(crate) fn json_items(doc: &Value) -> Option<&Vec<Value>> {
    match doc {
        Value::Array(a) => Some(a),
        Value::Object(o) => ["messages", "turns", "segments", "utterances", "results"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array)),
        _ => None,
    }
}

/// Parses a chat: a JSON array of `{role|speaker|author|from, text|message|content, time|timestamp}`
/// (or an object with a `messages` array), or text lines such as `[12:01] Customer: text`,
/// `2024-05-01 12:01 Anna: text`, `Anna (12:01): text`, `Anna: text`; a line without a speaker
/// continues the previous turn.
pub fn parse_chat(text: &str) -> Result<Vec<Turn>> {
    let trimmed = text.trim_start();
    // JSON: an object, or an array whose first item is an object or an array (or which is
    // empty); "[12:01] Name: text" is a chat line, not JSON.
    let json_array = trimmed
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start().starts_with(['{', '[', ']']));
    if json_array || trimmed.starts_with('{') {
        return parse_json(trimmed);
    }
    let mut turns: Vec<Turn> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let caps = CHAT_LINE.captures(line).filter(|c| {
            let who = c.name("who").map_or("", |m| m.as_str().trim());
            !who.is_empty() && who.split_whitespace().count() <= 5 && !who.contains("://")
        });
        match caps {
            Some(c) => {
                let speaker = c.name("who").map_or("", |m| m.as_str().trim()).to_string();
                let time = ["t1", "t2", "t3", "t4"]
                    .iter()
                    .find_map(|n| c.name(n))
                    .and_then(|m| parse_clock(m.as_str()));
                turns.push(Turn {
                    role: Role::Unknown,
                    speaker,
                    start: time,
                    end: None,
                    text: c.name("text").map_or("", |m| m.as_str().trim()).to_string(),
                });
            }
            None => match turns.last_mut() {
                Some(t) => {
                    if !t.text.is_empty() {
                        t.text.push('\n');
                    }
                    t.text.push_str(line.trim());
                }
                None => turns.push(Turn {
                    speaker: String::new(),
                    role: Role::Unknown,
                    start: None,
                    end: None,
                    text: line.trim().to_string(),
                }),
            },
        }
    }
    Ok(turns)
}

fn parse_json(text: &str) -> Result<Vec<Turn>> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid("body", format!("chat JSON: {e}")))?;
    let items = json_items(&doc).ok_or_else(|| {
        Error::invalid(
            "body",
            "chat JSON: expected an array of messages or {\"messages\": [...]}",
        )
    })?;
    let mut turns = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = str_field(item, &["text", "message", "content", "body"])
            .ok_or_else(|| Error::invalid(format!("messages[{i}].text"), "missing text"))?;
        let speaker = str_field(item, &["speaker", "author", "from", "name", "user"]).unwrap_or("");
        let role = str_field(item, &["role", "sender_type", "type"])
            .map(Role::from_label)
            .unwrap_or(Role::Unknown);
        let start = time_field(
            item,
            &["time", "timestamp", "ts", "created_at", "date"],
            true,
        )
        .flatten();
        turns.push(Turn {
            speaker: if speaker.is_empty() {
                role.as_str().to_string()
            } else {
                speaker.to_string()
            },
            role,
            start,
            end: None,
            text: text.to_string(),
        });
    }
    Ok(turns)
}

/// Chat-level figures about the customer's turns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatSummary {
    pub turns: usize,
    pub customer_turns: usize,
    /// Customer turns of a single word ("ok", "ну", "???").
    pub one_word_turns: usize,
    pub mean_customer_turn_words: f32,
    /// Mean seconds from a customer turn to the next agent/bot turn (clock times needed).
    pub agent_response_latency_s: Option<f64>,
    /// Mean seconds from an agent/bot turn to the customer's next turn.
    pub customer_response_latency_s: Option<f64>,
}

/// Figures over the turns (roles already assigned).
pub fn summarize(turns: &[Turn]) -> ChatSummary {
    let customer: Vec<&Turn> = turns.iter().filter(|t| t.role == Role::Customer).collect();
    let words: Vec<usize> = customer.iter().map(|t| tokenize(&t.text).len()).collect();
    let mut agent_lat = Vec::new();
    let mut cust_lat = Vec::new();
    for w in turns.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if let (Some(t0), Some(t1)) = (a.start, b.start) {
            let d = t1 - t0;
            if !(0.0..=86_400.0).contains(&d) {
                continue;
            }
            match (a.role, b.role) {
                (Role::Customer, Role::Agent | Role::Bot) => agent_lat.push(d),
                (Role::Agent | Role::Bot, Role::Customer) => cust_lat.push(d),
                _ => {}
            }
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    ChatSummary {
        turns: turns.len(),
        customer_turns: customer.len(),
        one_word_turns: customer
            .iter()
            .zip(&words)
            .filter(|(t, w)| **w <= 1 && !t.text.trim().is_empty())
            .count(),
        mean_customer_turn_words: if words.is_empty() {
            0.0
        } else {
            words.iter().sum::<usize>() as f32 / words.len() as f32
        },
        agent_response_latency_s: mean(&agent_lat),
        customer_response_latency_s: mean(&cust_lat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines() {
        let t = parse_chat("[12:01] Customer: hi\n[12:02] Agent Anna: hello, how can I help?\nsecond line\n12:05 Customer: ok").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].speaker, "Agent Anna");
        assert_eq!(t[1].text, "hello, how can I help?\nsecond line");
        assert_eq!(t[2].start, Some(43_500.0));
    }

    #[test]
    fn json() {
        let t = parse_chat(r#"[{"role":"customer","text":"где заказ?","time":"2024-05-01T12:00:00Z"},{"role":"agent","text":"Проверяю"}]"#).unwrap();
        assert_eq!(t[0].role, Role::Customer);
        assert_eq!(t[1].role, Role::Agent);
        assert!(parse_chat("[{\"role\": 1}]").is_err());
    }
}
