//! Time-decayed sufficient statistics of a customer: an update costs O(new data) and never
//! re-reads history.
//!
//! Every sum is kept as of a reference time `t_ref` (the latest timestamp seen). An observation
//! at time `t` enters with weight `2^-((t_ref - t) / half_life)`; a later observation moves
//! `t_ref` forward and scales every sum down first. The result is exactly the same whatever
//! order observations arrive in (out-of-order timestamps are handled, not approximated), and a
//! value's weight halves every half-life. Beside the decayed sums each statistic keeps plain
//! provenance: how many observations, and the first and last time seen.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{EventKind, EventRecord, MessageRecord, Seconds};

pub const DAY: f64 = 86_400.0;

/// Evidence snippets kept per signal: the strongest few messages.
pub const EVIDENCE_PER_SIGNAL: usize = 3;
/// Longest evidence snippet kept, in characters.
pub const EVIDENCE_CHARS: usize = 280;
/// Conversations remembered for reply latency across batches.
pub const CONVERSATIONS_KEPT: usize = 32;

/// Decayed weight, sum and sum of squares of one quantity, with provenance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Decayed count (sum of weights).
    pub w: f64,
    /// Decayed sum of values.
    pub s: f64,
    /// Decayed sum of squared values.
    pub ss: f64,
    /// Observations, undecayed.
    pub n: u64,
    pub first: Seconds,
    pub last: Seconds,
}

impl Stat {
    fn add(&mut self, x: f64, weight: f64, at: Seconds) {
        self.w += weight;
        self.s += weight * x;
        self.ss += weight * x * x;
        if self.n == 0 || at < self.first {
            self.first = at;
        }
        if self.n == 0 || at > self.last {
            self.last = at;
        }
        self.n += 1;
    }

    fn scale(&mut self, f: f64) {
        self.w *= f;
        self.s *= f;
        self.ss *= f;
    }

    /// Decayed mean; 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.w > 0.0 {
            self.s / self.w
        } else {
            0.0
        }
    }

    /// Decayed standard deviation; 0 with fewer than two observations.
    pub fn sd(&self) -> f64 {
        if self.n < 2 || self.w <= 0.0 {
            return 0.0;
        }
        let m = self.mean();
        (self.ss / self.w - m * m).max(0.0).sqrt()
    }
}

/// Decayed least-squares sums of y over time (days since `t_ref`, so values stay small): the
/// slope of a trend, e.g. message length or CSAT over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub w: f64,
    pub t: f64,
    pub tt: f64,
    pub y: f64,
    pub ty: f64,
    pub n: u64,
}

impl Trend {
    fn add(&mut self, days_before_ref: f64, y: f64, weight: f64) {
        let t = -days_before_ref;
        self.w += weight;
        self.t += weight * t;
        self.tt += weight * t * t;
        self.y += weight * y;
        self.ty += weight * t * y;
        self.n += 1;
    }

    /// The reference time moves `days` later: every t shifts by -days, then weights decay.
    fn shift(&mut self, days: f64, f: f64) {
        // sum w (t - d) = t - d w; sum w (t - d)^2 = tt - 2 d t + d^2 w; sum w (t - d) y = ty - d y
        self.tt = self.tt - 2.0 * days * self.t + days * days * self.w;
        self.ty -= days * self.y;
        self.t -= days * self.w;
        self.w *= f;
        self.t *= f;
        self.tt *= f;
        self.y *= f;
        self.ty *= f;
    }

    /// Change of y per day; `None` with fewer than three points or no spread in time.
    pub fn slope_per_day(&self) -> Option<f64> {
        if self.n < 3 || self.w <= 0.0 {
            return None;
        }
        let var = self.tt / self.w - (self.t / self.w).powi(2);
        if var < 1e-6 {
            return None;
        }
        Some((self.ty / self.w - (self.t / self.w) * (self.y / self.w)) / var)
    }
}

/// One evidence snippet: a redacted sentence and the message it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    pub message_id: String,
    pub at: Seconds,
    pub score: f64,
    pub text: String,
}

/// The other side's latest turns in a conversation, for reply latency across batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationMark {
    pub id: String,
    /// Times of the agent's turns (the latest few).
    pub agent_turns: Vec<Seconds>,
    pub last_seen: Seconds,
}

/// Everything stored about a customer's messages and behaviour, as statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    /// Half-life the sums decay with, in days (the deployment's at creation).
    pub half_life_days: f64,
    /// The reference time of every decayed sum: the latest timestamp seen (0 before any).
    pub t_ref: Seconds,
    /// Analysis signals per message: "sentiment.score", "emotions.anger", "style.formality",
    /// "toxicity", "tones.<t>", "purpose.<p>".
    pub signals: BTreeMap<String, Stat>,
    /// Lexical feature counts per message ("pronoun_i", "hedges", ..., "words"): the decayed
    /// sums give rates per word as sum(count) / sum(words).
    pub features: BTreeMap<String, Stat>,
    /// Messages per language code.
    pub languages: BTreeMap<String, Stat>,
    /// Messages (and channel switches) per channel.
    pub channels: BTreeMap<String, Stat>,
    /// Every message of the subject: cadence and recency.
    pub messages: Stat,
    /// Message length in words over time.
    pub length_trend: Trend,
    /// Decayed weight of messages by UTC hour of day and day of week (0 = Monday).
    pub hour_of_day: Vec<f64>,
    pub day_of_week: Vec<f64>,
    /// Seconds from an agent's turn to the subject's next message in the same conversation.
    pub reply_latency: Stat,
    /// Events per kind ("purchase", ..., "other:<kind>"): the value is the amount in minor
    /// units for money events, the score for CSAT/NPS, 1 otherwise.
    pub events: BTreeMap<String, Stat>,
    /// Purchase amounts per currency (minor units).
    pub monetary: BTreeMap<String, Stat>,
    pub csat_trend: Trend,
    pub nps_trend: Trend,
    /// Strongest few redacted sentences per signal.
    pub evidence: BTreeMap<String, Vec<EvidenceItem>>,
    pub conversations: Vec<ConversationMark>,
    /// The trait head's logit per trait, weighted by words: `w` is the (decayed) words behind it
    /// and the mean is the pooled logit the Big Five estimates read.
    #[serde(default)]
    pub traits: BTreeMap<String, Stat>,
    /// Messages and sentiment per ISO week (not decayed; the latest [`WEEKS_KEPT`] weeks).
    #[serde(default)]
    pub weeks: BTreeMap<i64, Week>,
}

/// Weeks of the timeline kept.
pub const WEEKS_KEPT: usize = 104;

/// One week's messages and the sum of their sentiment scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Week {
    pub messages: u32,
    pub scored: u32,
    pub sentiment: f64,
}

/// The ISO week (Monday 00:00 UTC) a time falls in, counted from the Monday of 1970-01-05.
pub fn week_of(at: Seconds) -> i64 {
    ((at - 4.0 * DAY) / (7.0 * DAY)).floor() as i64
}

/// When a week starts.
pub fn week_start(week: i64) -> Seconds {
    week as f64 * 7.0 * DAY + 4.0 * DAY
}

impl ProfileState {
    pub fn new(half_life_days: f64) -> Self {
        ProfileState {
            half_life_days,
            hour_of_day: vec![0.0; 24],
            day_of_week: vec![0.0; 7],
            ..Default::default()
        }
    }

    fn half_life(&self) -> f64 {
        if self.half_life_days > 0.0 {
            self.half_life_days * DAY
        } else {
            f64::INFINITY
        }
    }

    /// Moves the reference time to `at` if it is later, decaying every sum; returns the weight
    /// an observation at `at` enters with.
    fn weight_at(&mut self, at: Seconds) -> f64 {
        let h = self.half_life();
        if at > self.t_ref {
            if self.t_ref > 0.0 {
                let f = 0.5f64.powf((at - self.t_ref) / h);
                let days = (at - self.t_ref) / DAY;
                self.decay_all(f, days);
            }
            self.t_ref = at;
            1.0
        } else {
            0.5f64.powf((self.t_ref - at) / h)
        }
    }

    fn decay_all(&mut self, f: f64, days: f64) {
        let maps = [
            &mut self.signals,
            &mut self.features,
            &mut self.languages,
            &mut self.channels,
            &mut self.events,
            &mut self.monetary,
            &mut self.traits,
        ];
        for m in maps {
            m.values_mut().for_each(|s| s.scale(f));
        }
        self.messages.scale(f);
        self.reply_latency.scale(f);
        self.hour_of_day.iter_mut().for_each(|x| *x *= f);
        self.day_of_week.iter_mut().for_each(|x| *x *= f);
        self.length_trend.shift(days, f);
        self.csat_trend.shift(days, f);
        self.nps_trend.shift(days, f);
    }

    /// Folds new messages (in any order) into the statistics. The other side's turns only mark
    /// their conversation, for the subject's reply latency.
    pub fn fold_messages(&mut self, messages: &[&MessageRecord]) {
        let mut sorted: Vec<&MessageRecord> = messages.to_vec();
        sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
        // The other side's turns first, so a reply in the same batch finds the turn before it.
        for m in sorted.iter().filter(|m| !m.own) {
            self.mark_agent_turn(&m.conversation_id, m.at);
        }
        for m in sorted.into_iter().filter(|m| m.own) {
            self.fold_message(m);
        }
    }

    fn fold_message(&mut self, m: &MessageRecord) {
        let w = self.weight_at(m.at);
        self.messages.add(1.0, w, m.at);
        self.channels
            .entry(m.channel.clone())
            .or_default()
            .add(1.0, w, m.at);
        let (hour, weekday) = hour_and_weekday(m.at);
        self.hour_of_day[hour] += w;
        self.day_of_week[weekday] += w;
        if let Some(latency) = self.reply_latency_of(&m.conversation_id, m.at) {
            self.reply_latency.add(latency, w, m.at);
        }
        let week = self.weeks.entry(week_of(m.at)).or_default();
        week.messages += 1;
        if let Some(s) = m.signals.get("sentiment.score") {
            week.scored += 1;
            week.sentiment += s;
        }
        while self.weeks.len() > WEEKS_KEPT {
            self.weeks.pop_first();
        }
        if !m.analysed {
            return;
        }
        self.languages
            .entry(m.language.clone())
            .or_default()
            .add(1.0, w, m.at);
        let days_before = (self.t_ref - m.at) / DAY;
        self.length_trend.add(days_before, m.words as f64, w);
        for (k, v) in &m.signals {
            self.signals.entry(k.clone()).or_default().add(*v, w, m.at);
        }
        self.features
            .entry("words".into())
            .or_default()
            .add(m.words as f64, w, m.at);
        for (k, v) in &m.features {
            self.features.entry(k.clone()).or_default().add(*v, w, m.at);
        }
        let words = m.words.max(1) as f64;
        for (t, logit) in &m.traits {
            self.traits
                .entry(t.clone())
                .or_default()
                .add(*logit, w * words, m.at);
        }
        for (key, (lean, text)) in &m.trait_evidence {
            self.offer_evidence(key, m, *lean, text);
        }
        for (signal, text) in &m.evidence {
            let Some(&score) = m.signals.get(signal) else {
                continue;
            };
            self.offer_evidence(signal, m, score, text);
        }
    }

    /// Keeps the message's sentence if it is among the strongest few for the signal.
    fn offer_evidence(&mut self, signal: &str, m: &MessageRecord, score: f64, text: &str) {
        let kept = self.evidence.entry(signal.to_string()).or_default();
        if kept.iter().any(|e| e.message_id == m.id) {
            return;
        }
        let text: String = text.chars().take(EVIDENCE_CHARS).collect();
        kept.push(EvidenceItem {
            message_id: m.id.clone(),
            at: m.at,
            score,
            text,
        });
        kept.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.at.total_cmp(&a.at)));
        kept.truncate(EVIDENCE_PER_SIGNAL);
    }

    fn mark_agent_turn(&mut self, conversation: &str, at: Seconds) {
        if conversation.is_empty() {
            return;
        }
        let mark = match self.conversations.iter().position(|c| c.id == conversation) {
            Some(i) => &mut self.conversations[i],
            None => {
                self.conversations.push(ConversationMark {
                    id: conversation.to_string(),
                    agent_turns: Vec::new(),
                    last_seen: at,
                });
                self.conversations.last_mut().expect("just pushed")
            }
        };
        if !mark.agent_turns.contains(&at) {
            mark.agent_turns.push(at);
            mark.agent_turns.sort_by(f64::total_cmp);
            // The latest turns matter for replies still to come.
            let excess = mark.agent_turns.len().saturating_sub(16);
            mark.agent_turns.drain(..excess);
        }
        mark.last_seen = mark.last_seen.max(at);
        // Keep the most recently active conversations.
        if self.conversations.len() > CONVERSATIONS_KEPT {
            self.conversations
                .sort_by(|a, b| b.last_seen.total_cmp(&a.last_seen));
            self.conversations.truncate(CONVERSATIONS_KEPT);
        }
    }

    /// Seconds since the latest agent turn before `at` in the conversation, if one is known.
    fn reply_latency_of(&self, conversation: &str, at: Seconds) -> Option<f64> {
        let mark = self.conversations.iter().find(|c| c.id == conversation)?;
        let before = mark.agent_turns.iter().rev().find(|&&t| t <= at)?;
        Some(at - before)
    }

    /// Folds new events (in any order) into the statistics.
    pub fn fold_events(&mut self, events: &[&EventRecord]) {
        for e in events {
            let w = self.weight_at(e.at);
            let key = match e.kind {
                EventKind::Other => format!("other:{}", e.custom_kind),
                k => k.name().to_string(),
            };
            let value = match e.kind {
                EventKind::Purchase | EventKind::Refund | EventKind::Return => {
                    e.amount_minor as f64
                }
                EventKind::Csat | EventKind::Nps => e.score.unwrap_or(0.0),
                _ => 1.0,
            };
            self.events.entry(key).or_default().add(value, w, e.at);
            let days_before = (self.t_ref - e.at) / DAY;
            match e.kind {
                EventKind::Purchase => self.monetary.entry(e.currency.clone()).or_default().add(
                    e.amount_minor as f64,
                    w,
                    e.at,
                ),
                EventKind::Csat => self.csat_trend.add(days_before, value, w),
                EventKind::Nps => self.nps_trend.add(days_before, value, w),
                EventKind::ChannelSwitch if !e.channel.is_empty() => self
                    .channels
                    .entry(e.channel.clone())
                    .or_default()
                    .add(1.0, w, e.at),
                _ => {}
            }
        }
    }

    /// Drops evidence older than `before` (retention).
    pub fn forget_evidence_before(&mut self, before: Seconds) {
        for kept in self.evidence.values_mut() {
            kept.retain(|e| e.at >= before);
        }
        self.evidence.retain(|_, v| !v.is_empty());
    }
}

/// UTC hour of day (0-23) and day of week (0 = Monday) of a Unix time.
pub fn hour_and_weekday(at: Seconds) -> (usize, usize) {
    let secs = at.max(0.0) as u64;
    let hour = (secs / 3600 % 24) as usize;
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    let weekday = ((secs / 86_400 + 3) % 7) as usize;
    (hour, weekday)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, at: f64, sentiment: f64) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            at,
            conversation_id: "c1".into(),
            channel: "chat".into(),
            own: true,
            analysed: true,
            language: "en".into(),
            words: 10,
            signals: [("sentiment.score".to_string(), sentiment)].into(),
            ..Default::default()
        }
    }

    const T0: f64 = 1_780_000_000.0;

    #[test]
    fn folding_is_the_same_in_any_order() {
        let ms: Vec<MessageRecord> = (0..20)
            .map(|i| {
                msg(
                    &i.to_string(),
                    T0 + i as f64 * 3.7 * DAY,
                    (i as f64 / 10.0) - 1.0,
                )
            })
            .collect();
        let mut forward = ProfileState::new(30.0);
        forward.fold_messages(&ms.iter().collect::<Vec<_>>());
        let mut shuffled = ProfileState::new(30.0);
        let mut rev: Vec<&MessageRecord> = ms.iter().rev().collect();
        rev.swap(3, 11);
        // in three batches, latest first
        for chunk in rev.chunks(7) {
            shuffled.fold_messages(chunk);
        }
        let (a, b) = (
            &forward.signals["sentiment.score"],
            &shuffled.signals["sentiment.score"],
        );
        assert!(
            (a.w - b.w).abs() < 1e-9 && (a.s - b.s).abs() < 1e-9,
            "{a:?} {b:?}"
        );
        assert_eq!((a.n, a.first, a.last), (b.n, b.first, b.last));
        let (x, y) = (
            forward.length_trend.slope_per_day(),
            shuffled.length_trend.slope_per_day(),
        );
        assert_eq!(x.is_some(), y.is_some());
    }

    #[test]
    fn a_value_loses_half_its_weight_per_half_life() {
        let mut s = ProfileState::new(10.0);
        s.fold_messages(&[&msg("a", T0, 1.0)]);
        s.fold_messages(&[&msg("b", T0 + 10.0 * DAY, -1.0)]);
        let st = &s.signals["sentiment.score"];
        assert!((st.w - 1.5).abs() < 1e-12, "{st:?}");
        // (0.5 * 1 + 1 * -1) / 1.5
        assert!((st.mean() + 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(st.n, 2);
    }

    #[test]
    fn trends_survive_the_reference_moving() {
        // y = 2 per day, points folded as time moves on
        let mut s = ProfileState::new(1e9);
        for d in 0..10 {
            let mut m = msg(&d.to_string(), T0 + d as f64 * DAY, 0.0);
            m.words = 5 + 2 * d as u64;
            s.fold_messages(&[&m]);
        }
        let slope = s.length_trend.slope_per_day().unwrap();
        assert!((slope - 2.0).abs() < 1e-6, "{slope}");
    }

    #[test]
    fn reply_latency_is_measured_from_the_agent_turn_before() {
        let mut s = ProfileState::new(30.0);
        let mut agent = msg("a1", T0, 0.0);
        agent.own = false;
        agent.analysed = false;
        let reply = msg("c1", T0 + 90.0, 0.0);
        // listed before the agent's turn, the reply still finds it
        s.fold_messages(&[&reply, &agent]);
        assert_eq!(s.reply_latency.n, 1);
        assert!((s.reply_latency.mean() - 90.0).abs() < 1e-9);
        assert_eq!(
            s.messages.n, 1,
            "agent turns are not the subject's messages"
        );
    }

    #[test]
    fn evidence_keeps_the_strongest_few() {
        let mut s = ProfileState::new(30.0);
        for i in 0..6 {
            let mut m = msg(&format!("m{i}"), T0 + i as f64, 0.0);
            m.signals.insert("emotions.anger".into(), i as f64 / 10.0);
            m.evidence
                .insert("emotions.anger".into(), format!("sentence {i}"));
            s.fold_messages(&[&m]);
        }
        let kept: Vec<_> = s.evidence["emotions.anger"]
            .iter()
            .map(|e| e.message_id.as_str())
            .collect();
        assert_eq!(kept, ["m5", "m4", "m3"]);
    }

    #[test]
    fn weekdays_and_hours_are_utc() {
        // 2026-12-07 is a Monday; 09:30 UTC
        assert_eq!(hour_and_weekday(1_796_635_800.0), (9, 0));
    }
}
