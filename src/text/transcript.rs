//! Call transcripts: JSON segments, WebVTT, SRT and "Speaker: text" lines; per-speaker metrics
//! (talk time and ratio, speech rate, fillers, overlaps and interruptions, pauses, longest
//! monologue, response latency).
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::chat::{json_items, time_field};
use super::features::tokenize;
use super::lexicon::FILLERS;
use super::turns::{parse_time, Role, Turn};
use crate::{Error, Result};

/// How a transcript is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranscriptFormat {
    /// Guess from the content: "WEBVTT" header, JSON, SRT cue numbers and timings, else lines.
    Auto,
    /// An array of `{speaker, start, end, text}` (or an object with `segments`/`utterances`).
    Json,
    WebVtt,
    Srt,
    /// "Speaker: text" lines, optionally with `[00:01:02]` timestamps.
    Lines,
}

/// Times above this (seconds, about 11.5 days) are not a call.
const MAX_TIME_S: f64 = 1.0e6;
/// A silence at least this long counts as a pause.
pub const PAUSE_S: f64 = 2.0;
/// An overlap at least this long, by a turn of at least three words, counts as an interruption.
pub const INTERRUPTION_S: f64 = 0.5;

static TIMING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(\S+)\s+-->\s+(\S+)").unwrap());
static VOICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<v(?:\.[^\s>]*)?\s+([^>]{1,80})>").unwrap());
static TAGS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]{0,200}>").unwrap());
static SPEAKER_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:>>\s*|-\s*)?(?:\[(?P<b>[^\]\n]{1,60})\]\s*|(?P<n>[^:\[\]\n]{1,60}?)\s*:\s+)(?P<text>.*)$").unwrap()
});
static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?x)^\s*
        (?:\[?(?P<t1>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)(?:\s*-\s*(?P<t2>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?))?\]?\s+)?
        (?P<who>[^:\[\]\n]{1,60}?)
        (?:\s*\((?P<t3>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\))?
        \s*:\s+(?P<text>.*)$").unwrap()
});

/// Detects the format of `text`.
pub fn detect_format(text: &str) -> TranscriptFormat {
    let t = text.trim_start_matches('\u{FEFF}').trim_start();
    if t.starts_with("WEBVTT") {
        TranscriptFormat::WebVtt
    } else if t.starts_with(['[', '{']) && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
    {
        TranscriptFormat::Json
    } else if t.lines().take(3).any(|l| TIMING.is_match(l)) {
        TranscriptFormat::Srt
    } else {
        TranscriptFormat::Lines
    }
}

/// Parses a transcript into turns (roles not yet assigned). Times are validated: a negative or
/// non-finite time is an error naming the segment; an end before its start is clamped to the
/// start with a warning.
pub fn parse_transcript(text: &str, format: TranscriptFormat) -> Result<(Vec<Turn>, Vec<String>)> {
    let format = match format {
        TranscriptFormat::Auto => detect_format(text),
        f => f,
    };
    let mut turns = match format {
        TranscriptFormat::Json => parse_json(text)?,
        TranscriptFormat::WebVtt | TranscriptFormat::Srt => parse_cues(text)?,
        TranscriptFormat::Lines | TranscriptFormat::Auto => parse_lines(text),
    };
    let mut warnings = Vec::new();
    let mut clamped = 0;
    for (i, t) in turns.iter_mut().enumerate() {
        for (name, v) in [("start", t.start), ("end", t.end)] {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Err(Error::invalid(
                        format!("segments[{i}].{name}"),
                        format!("time {v} is negative or not a number"),
                    ));
                }
                if v > MAX_TIME_S {
                    return Err(Error::invalid(
                        format!("segments[{i}].{name}"),
                        format!("time {v} s is beyond {MAX_TIME_S} s"),
                    ));
                }
            }
        }
        if let (Some(s), Some(e)) = (t.start, t.end) {
            if e < s {
                t.end = Some(s);
                clamped += 1;
            }
        }
    }
    if clamped > 0 {
        warnings.push(format!(
            "{clamped} segment(s) ended before they started: end set to start"
        ));
    }
    turns.retain(|t| !t.text.trim().is_empty());
    Ok((turns, warnings))
}

fn parse_json(text: &str) -> Result<Vec<Turn>> {
    let doc: Value = serde_json::from_str(text.trim_start_matches('\u{FEFF}'))
        .map_err(|e| Error::invalid("body", format!("transcript JSON: {e}")))?;
    let items = json_items(&doc).ok_or_else(|| {
        Error::invalid(
            "body",
            "transcript JSON: expected an array of segments or {\"segments\": [...]}",
        )
    })?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = ["text", "transcript", "utterance", "content"]
            .iter()
            .find_map(|k| item.get(*k).and_then(Value::as_str))
            .ok_or_else(|| Error::invalid(format!("segments[{i}].text"), "missing text"))?;
        let speaker = match ["speaker", "speaker_label", "spk", "channel", "role"]
            .iter()
            .find_map(|k| item.get(*k))
        {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => format!("speaker {n}"),
            _ => String::new(),
        };
        let time = |names: &[&str], what: &str| -> Result<Option<f64>> {
            match time_field(item, names, false) {
                None => Ok(None),
                Some(Some(v)) => Ok(Some(v)),
                Some(None) => Err(Error::invalid(
                    format!("segments[{i}].{what}"),
                    "not a time",
                )),
            }
        };
        let mut start = time(&["start", "start_time", "from", "begin", "offset"], "start")?;
        let mut end = time(&["end", "end_time", "to", "stop"], "end")?;
        // Some recognisers write milliseconds.
        if item.get("start_ms").is_some() || item.get("end_ms").is_some() {
            start = time(&["start_ms"], "start_ms")?.map(|v| v / 1000.0);
            end = time(&["end_ms"], "end_ms")?.map(|v| v / 1000.0);
        }
        out.push(Turn {
            speaker,
            role: Role::Unknown,
            start,
            end,
            text: text.to_string(),
        });
    }
    Ok(out)
}

/// WebVTT and SRT: blocks separated by blank lines, each with a "start --> end" line.
fn parse_cues(text: &str) -> Result<Vec<Turn>> {
    let mut out: Vec<Turn> = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let all: Vec<&str> = text.lines().collect();
    for (n, line) in all
        .iter()
        .enumerate()
        .chain(std::iter::once((all.len(), &"")))
    {
        if !line.trim().is_empty() {
            block.push((n + 1, line));
            continue;
        }
        if block.is_empty() {
            continue;
        }
        let Some(ti) = block.iter().position(|(_, l)| TIMING.is_match(l)) else {
            block.clear(); // header, NOTE, STYLE, REGION blocks
            continue;
        };
        let (line_no, timing) = block[ti];
        let c = TIMING.captures(timing).expect("matched");
        let start = parse_time(&c[1]).ok_or_else(|| {
            Error::invalid("body", format!("line {line_no}: bad cue start {:?}", &c[1]))
        })?;
        let end = parse_time(&c[2]).ok_or_else(|| {
            Error::invalid("body", format!("line {line_no}: bad cue end {:?}", &c[2]))
        })?;
        let mut speaker = String::new();
        let mut words: Vec<String> = Vec::new();
        for (_, l) in &block[ti + 1..] {
            if let Some(v) = VOICE.captures(l) {
                speaker = v[1].trim().to_string();
            }
            let plain = TAGS.replace_all(l, "");
            let plain = plain.trim();
            match SPEAKER_PREFIX.captures(plain) {
                Some(p) if speaker.is_empty() || words.is_empty() => {
                    let who = p
                        .name("b")
                        .or(p.name("n"))
                        .map_or("", |m| m.as_str().trim());
                    if !who.is_empty() && who.split_whitespace().count() <= 4 {
                        if speaker.is_empty() {
                            speaker = who.to_string();
                        }
                        words.push(p["text"].trim().to_string());
                    } else {
                        words.push(plain.to_string());
                    }
                }
                _ => words.push(plain.to_string()),
            }
        }
        out.push(Turn {
            speaker,
            role: Role::Unknown,
            start: Some(start),
            end: Some(end),
            text: words.join(" ").trim().to_string(),
        });
        block.clear();
    }
    Ok(out)
}

fn parse_lines(text: &str) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let caps = LINE.captures(line).filter(|c| {
            let who = c.name("who").map_or("", |m| m.as_str().trim());
            !who.is_empty() && who.split_whitespace().count() <= 4
        });
        match caps {
            Some(c) => {
                let t = |n: &str| c.name(n).and_then(|m| parse_time(m.as_str()));
                out.push(Turn {
                    speaker: c["who"].trim().to_string(),
                    role: Role::Unknown,
                    start: t("t1").or(t("t3")),
                    end: t("t2"),
                    text: c["text"].trim().to_string(),
                });
            }
            None => match out.last_mut() {
                Some(t) => {
                    t.text.push(' ');
                    t.text.push_str(line.trim());
                }
                None => out.push(Turn {
                    speaker: String::new(),
                    role: Role::Unknown,
                    start: None,
                    end: None,
                    text: line.trim().to_string(),
                }),
            },
        }
    }
    out
}

/// One speaker's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpeakerMetrics {
    pub speaker: String,
    pub role: Option<Role>,
    pub segments: usize,
    pub words: usize,
    /// Seconds of speech (sum of the speaker's segment durations).
    pub talk_time_s: f64,
    /// Share of all speech, 0..1 (by time when timed, else by words).
    pub talk_ratio: f64,
    /// Words per minute of the speaker's own talk time; `None` untimed.
    pub words_per_minute: Option<f64>,
    pub fillers: usize,
    /// Repeated words ("I I", "the the"): a disfluency.
    pub repetitions: usize,
    pub fillers_per_100_words: f64,
    /// Times this speaker started talking over another (>= 0.5 s overlap, >= 3 words).
    pub interruptions_made: usize,
    /// Times another speaker talked over this one.
    pub interrupted: usize,
    /// Seconds this speaker spoke while another was speaking.
    pub overlap_s: f64,
    /// The longest run of this speaker's consecutive segments, seconds.
    pub longest_monologue_s: f64,
    /// Mean seconds between the other party's segment end and this speaker's reply (negative
    /// when the reply overlapped); `None` when never replying or untimed.
    pub mean_response_latency_s: Option<f64>,
}

/// Figures for the whole call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallMetrics {
    /// Whether every segment had a start time (otherwise ratios are by words and rates absent).
    pub timed: bool,
    pub duration_s: f64,
    pub speakers: Vec<SpeakerMetrics>,
    pub overlaps: usize,
    pub overlap_s: f64,
    pub interruptions: usize,
    /// Silences of at least [`PAUSE_S`] while nobody spoke.
    pub pauses: usize,
    pub longest_pause_s: f64,
    pub silence_s: f64,
    pub longest_monologue_s: f64,
}

struct Seg {
    spk: usize,
    start: f64,
    end: f64,
    words: usize,
}

/// Computes the call metrics (roles already assigned; turn order is kept for untimed input).
pub fn call_metrics(turns: &[Turn]) -> CallMetrics {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut speakers: Vec<SpeakerMetrics> = Vec::new();
    let mut spk_of = Vec::with_capacity(turns.len());
    for t in turns {
        let next = speakers.len();
        let k = *index.entry(t.speaker.as_str()).or_insert(next);
        if k == next {
            speakers.push(SpeakerMetrics {
                speaker: t.speaker.clone(),
                role: Some(t.role),
                ..Default::default()
            });
        }
        spk_of.push(k);
        let toks = tokenize(&t.text);
        let words: Vec<&str> = toks.iter().map(|x| x.lower.as_str()).collect();
        let s = &mut speakers[k];
        s.segments += 1;
        s.words += words.len();
        s.fillers += FILLERS.count(&words);
        s.repetitions += words
            .windows(2)
            .filter(|w| w[0] == w[1] && w[0].chars().any(char::is_alphabetic))
            .count();
    }
    let timed = !turns.is_empty() && turns.iter().all(|t| t.start.is_some());
    let mut m = CallMetrics {
        timed,
        ..Default::default()
    };
    if timed {
        // End defaults to the next segment's start, else to a speech rate of 2.5 words/s.
        let mut segs: Vec<Seg> = turns
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let start = t.start.unwrap_or(0.0);
                let words = tokenize(&t.text).len();
                let end = t.end.unwrap_or_else(|| {
                    let next = turns
                        .get(i + 1)
                        .and_then(|n| n.start)
                        .filter(|n| *n > start);
                    next.unwrap_or(start + words as f64 / 2.5)
                });
                Seg {
                    spk: spk_of[i],
                    start,
                    end: end.max(start),
                    words,
                }
            })
            .collect();
        segs.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
        let first = segs.first().map_or(0.0, |s| s.start);
        let mut covered = first;
        // The two latest-ending segments of different speakers so far: (end, speaker, start).
        let mut latest: [Option<(f64, usize, f64)>; 2] = [None, None];
        let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); speakers.len()];
        let mut run: Option<(usize, f64, f64)> = None; // speaker, run start, run end
        let mut prev: Option<&Seg> = None;
        for seg in &segs {
            let sm = &mut speakers[seg.spk];
            sm.talk_time_s += seg.end - seg.start;
            // Overlap with the latest-ending other speaker.
            let other = latest
                .iter()
                .flatten()
                .find(|(_, s, _)| *s != seg.spk)
                .copied();
            if let Some((oend, ospk, ostart)) = other {
                if oend > seg.start {
                    let ov = oend.min(seg.end) - seg.start;
                    m.overlaps += 1;
                    m.overlap_s += ov;
                    speakers[seg.spk].overlap_s += ov;
                    if ov >= INTERRUPTION_S && seg.words >= 3 && ostart < seg.start {
                        m.interruptions += 1;
                        speakers[seg.spk].interruptions_made += 1;
                        speakers[ospk].interrupted += 1;
                    }
                }
            }
            // Pauses: silence before this segment.
            if seg.start > covered {
                let gap = seg.start - covered;
                m.silence_s += gap;
                if gap >= PAUSE_S {
                    m.pauses += 1;
                }
                m.longest_pause_s = m.longest_pause_s.max(gap);
            }
            covered = covered.max(seg.end);
            // Response latency when the speaker changes.
            if let Some(p) = prev {
                if p.spk != seg.spk {
                    latencies[seg.spk].push(seg.start - p.end);
                }
            }
            // Monologues.
            run = match run {
                Some((s, rs, re)) if s == seg.spk => Some((s, rs, re.max(seg.end))),
                Some((s, rs, re)) => {
                    let sm = &mut speakers[s];
                    sm.longest_monologue_s = sm.longest_monologue_s.max(re - rs);
                    Some((seg.spk, seg.start, seg.end))
                }
                None => Some((seg.spk, seg.start, seg.end)),
            };
            // Update the two latest-ending segments (distinct speakers).
            let cand = (seg.end, seg.spk, seg.start);
            match latest {
                [Some(a), _] if a.1 == seg.spk => {
                    if cand.0 > a.0 {
                        latest[0] = Some(cand);
                    }
                }
                [a, Some(b)] if b.1 == seg.spk => {
                    if cand.0 > b.0 {
                        latest[1] = Some(cand);
                    }
                    if latest[1].map(|x| x.0) > a.map(|x| x.0) {
                        latest.swap(0, 1);
                    }
                }
                [a, _] => {
                    if a.is_none_or(|a| cand.0 > a.0) {
                        latest = [Some(cand), a];
                    } else if latest[1].is_none_or(|b| cand.0 > b.0) {
                        latest[1] = Some(cand);
                    }
                }
            }
            prev = Some(seg);
        }
        if let Some((s, rs, re)) = run {
            let sm = &mut speakers[s];
            sm.longest_monologue_s = sm.longest_monologue_s.max(re - rs);
        }
        m.duration_s = covered - first;
        for (sm, l) in speakers.iter_mut().zip(&latencies) {
            if !l.is_empty() {
                sm.mean_response_latency_s = Some(l.iter().sum::<f64>() / l.len() as f64);
            }
            if sm.talk_time_s > 0.0 {
                sm.words_per_minute = Some(sm.words as f64 / (sm.talk_time_s / 60.0));
            }
        }
        let total: f64 = speakers.iter().map(|s| s.talk_time_s).sum();
        for sm in &mut speakers {
            sm.talk_ratio = if total > 0.0 {
                sm.talk_time_s / total
            } else {
                0.0
            };
        }
    } else {
        let total: usize = speakers.iter().map(|s| s.words).sum();
        for sm in &mut speakers {
            sm.talk_ratio = if total > 0 {
                sm.words as f64 / total as f64
            } else {
                0.0
            };
        }
        // Untimed monologue: count consecutive turns only as words; leave seconds at zero.
    }
    for sm in &mut speakers {
        sm.fillers_per_100_words = if sm.words > 0 {
            100.0 * sm.fillers as f64 / sm.words as f64
        } else {
            0.0
        };
    }
    m.longest_monologue_s = speakers
        .iter()
        .map(|s| s.longest_monologue_s)
        .fold(0.0, f64::max);
    m.speakers = speakers;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_detected() {
        assert_eq!(
            detect_format("WEBVTT\n\n00:00.000 --> 00:01.000\nhi"),
            TranscriptFormat::WebVtt
        );
        assert_eq!(
            detect_format("1\n00:00:01,000 --> 00:00:02,000\nhi"),
            TranscriptFormat::Srt
        );
        assert_eq!(
            detect_format("[{\"speaker\":\"A\",\"text\":\"hi\"}]"),
            TranscriptFormat::Json
        );
        assert_eq!(detect_format("[00:01] Agent: hi"), TranscriptFormat::Lines);
    }

    #[test]
    fn metrics_with_overlap() {
        let (turns, _) = parse_transcript(
            r#"[{"speaker":"A","start":0,"end":10,"text":"hello um I am calling about my bill"},
                {"speaker":"B","start":9,"end":12,"text":"yes I can see it here"},
                {"speaker":"A","start":15,"end":20,"text":"so what now"}]"#,
            TranscriptFormat::Auto,
        )
        .unwrap();
        let m = call_metrics(&turns);
        assert!(m.timed);
        assert_eq!(m.overlaps, 1);
        assert_eq!(m.interruptions, 1);
        assert_eq!(m.pauses, 1);
        assert!((m.longest_pause_s - 3.0).abs() < 1e-9);
        assert!((m.speakers[0].talk_ratio - 15.0 / 18.0).abs() < 1e-9);
        assert_eq!(m.speakers[0].fillers, 1);
        assert_eq!(m.speakers[1].interruptions_made, 1);
        assert_eq!(m.speakers[0].interrupted, 1);
    }
}
