//! Values derived from a customer's statistics: behavioural features, each with its provenance,
//! text-signal summaries, and a lifecycle segment. A pure function of the stored statistics and
//! the time, so `rapport profiles rebuild` can recompute it after an upgrade.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    aggregate::{Stat, DAY},
    ProfileState, Seconds,
};

/// Version of the derivation below: stored with each profile, so a rebuild is known to be due.
pub const DERIVE_VERSION: &str = "derive-v1";

/// One derived value with where it came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// e.g. "reply_latency_seconds", "messages_per_week", "return_rate".
    pub name: String,
    pub value: f64,
    /// "seconds", "per_week", "ratio", "days", "minor_units", "score", "words_per_30_days", ...
    pub unit: String,
    /// Observations behind it (undecayed) and the time they span.
    pub count: u64,
    pub first: Seconds,
    pub last: Seconds,
}

/// A text signal's decayed mean over the customer's messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalSummary {
    pub name: String,
    pub mean: f64,
    pub sd: f64,
    /// Decayed weight of the messages behind it (how much recent evidence there is).
    pub weight: f64,
    pub count: u64,
    pub first: Seconds,
    pub last: Seconds,
}

/// Everything derived from a [`ProfileState`] at one time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub version: String,
    pub computed_at: Seconds,
    /// Behavioural features (sorted by name).
    pub behaviour: Vec<Feature>,
    /// Text signals (sorted by name).
    pub signals: Vec<SignalSummary>,
    /// Lexical feature rates per word ("rate.pronoun_i", ...) and per message means.
    pub style: Vec<Feature>,
    /// Shares of messages by UTC hour (24) and weekday (7, Monday first); empty without
    /// messages.
    pub hour_of_day: Vec<f64>,
    pub day_of_week: Vec<f64>,
    /// Shares of messages per channel and per language.
    pub channel_mix: BTreeMap<String, f64>,
    pub languages: BTreeMap<String, f64>,
    /// Lifecycle segment name (see [`SEGMENTS`]).
    pub segment: String,
}

/// The lifecycle segments, in the order they are tested: the first whose rule holds.
pub const SEGMENTS: &[(&str, &str)] = &[
    (
        "dormant",
        "no message or event in the last 180 days",
    ),
    (
        "frustrated",
        "two or more escalations, or a mean sentiment below -0.3 over five or more messages, in the last 90 days",
    ),
    (
        "champion",
        "five or more purchases, the latest within 30 days",
    ),
    (
        "loyal",
        "three or more purchases, the latest within 90 days",
    ),
    (
        "at_risk",
        "two or more purchases, none in the last 90 days",
    ),
    (
        "new",
        "first seen within the last 30 days",
    ),
    (
        "engaged",
        "active within the last 30 days",
    ),
    ("occasional", "everyone else"),
];

fn feature(name: &str, value: f64, unit: &str, s: &Stat) -> Feature {
    Feature {
        name: name.into(),
        value,
        unit: unit.into(),
        count: s.n,
        first: s.first,
        last: s.last,
    }
}

/// Occurrences per day implied by a decayed count `w` over a history of `span` seconds: the
/// decayed weight of a steady rate r over a span S is r h / ln 2 (1 - 2^(-S/h)).
fn rate_per_day(w: f64, span: f64, half_life: f64) -> f64 {
    let span = span.max(DAY);
    if !half_life.is_finite() {
        return w / (span / DAY);
    }
    let h = half_life / DAY;
    let window = h / std::f64::consts::LN_2 * (1.0 - 0.5f64.powf(span / half_life));
    w / window
}

/// Shares of a list of weights; empty when they sum to nothing.
fn shares(w: &[f64]) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    w.iter().map(|x| x / total).collect()
}

fn map_shares(m: &BTreeMap<String, Stat>) -> BTreeMap<String, f64> {
    let total: f64 = m.values().map(|s| s.w).sum();
    if total <= 0.0 {
        return BTreeMap::new();
    }
    m.iter().map(|(k, s)| (k.clone(), s.w / total)).collect()
}

/// Derives every value from the statistics as of `now`.
/// Lexical features kept as a per-message mean (ratios, means, the address score); the rest are
/// counts, read as rates per word.
pub fn is_mean_feature(k: &str) -> bool {
    k.ends_with("_ratio") || k.starts_with("mean_") || k == "address_formality"
}

pub fn derive(state: &ProfileState, now: Seconds) -> Derived {
    let half_life = if state.half_life_days > 0.0 {
        state.half_life_days * DAY
    } else {
        f64::INFINITY
    };
    // Sums are kept as of t_ref; as of now they have decayed further.
    let age = if state.t_ref > 0.0 && half_life.is_finite() {
        0.5f64.powf((now - state.t_ref).max(0.0) / half_life)
    } else {
        1.0
    };
    let mut behaviour = Vec::new();
    let m = &state.messages;
    if m.n > 0 {
        let per_day = rate_per_day(m.w * age, now - m.first, half_life);
        behaviour.push(feature("messages_per_week", per_day * 7.0, "per_week", m));
        behaviour.push(feature(
            "days_since_last_message",
            ((now - m.last) / DAY).max(0.0),
            "days",
            m,
        ));
    }
    if state.reply_latency.n > 0 {
        let r = &state.reply_latency;
        behaviour.push(feature("reply_latency_seconds", r.mean(), "seconds", r));
    }
    if let Some(slope) = state.length_trend.slope_per_day() {
        let words = state.features.get("words").cloned().unwrap_or_default();
        behaviour.push(feature(
            "message_length_trend",
            slope * 30.0,
            "words_per_30_days",
            &words,
        ));
    }
    let ev = |k: &str| state.events.get(k).cloned().unwrap_or_default();
    let (purchases, returns, refunds) = (ev("purchase"), ev("return"), ev("refund"));
    let (tickets, escalations) = (ev("ticket_opened"), ev("escalation"));
    if purchases.n > 0 {
        let p = &purchases;
        behaviour.push(feature(
            "recency_days",
            ((now - p.last) / DAY).max(0.0),
            "days",
            p,
        ));
        behaviour.push(feature(
            "frequency_per_90_days",
            rate_per_day(p.w * age, now - p.first, half_life) * 90.0,
            "per_90_days",
            p,
        ));
        behaviour.push(feature(
            "return_rate",
            (returns.w / p.w).min(1.0),
            "ratio",
            &returns_provenance(&returns, p),
        ));
        if refunds.n > 0 {
            behaviour.push(feature(
                "refund_rate",
                (refunds.w / p.w).min(1.0),
                "ratio",
                &refunds,
            ));
        }
    }
    for (currency, s) in &state.monetary {
        // Decayed sum of purchase amounts, then as a mean purchase value.
        let label = if currency.is_empty() {
            "unknown"
        } else {
            currency
        };
        behaviour.push(feature(
            &format!("monetary.{label}"),
            s.s * age,
            "minor_units",
            s,
        ));
        behaviour.push(feature(
            &format!("mean_purchase.{label}"),
            s.mean(),
            "minor_units",
            s,
        ));
    }
    if escalations.n > 0 || tickets.n > 0 {
        // Escalations per ticket opened; per conversation-bearing message when no tickets come in.
        let base = if tickets.w > 0.0 {
            tickets.w
        } else {
            m.w.max(1.0)
        };
        let mut prov = escalations.clone();
        prov.n = escalations.n + tickets.n;
        prov.first = first_of(&escalations, &tickets);
        prov.last = escalations.last.max(tickets.last);
        behaviour.push(feature(
            "escalation_rate",
            (escalations.w / base).min(1.0),
            "ratio",
            &prov,
        ));
    }
    for (name, key, trend) in [
        ("csat", "csat", &state.csat_trend),
        ("nps", "nps", &state.nps_trend),
    ] {
        let s = ev(key);
        if s.n == 0 {
            continue;
        }
        behaviour.push(feature(&format!("{name}_mean"), s.mean(), "score", &s));
        if let Some(slope) = trend.slope_per_day() {
            behaviour.push(feature(
                &format!("{name}_trend"),
                slope * 30.0,
                "score_per_30_days",
                &s,
            ));
        }
    }
    for (k, s) in &state.events {
        behaviour.push(feature(
            &format!("events.{k}"),
            rate_per_day(s.w * age, now - s.first, half_life) * 30.0,
            "per_30_days",
            s,
        ));
    }
    behaviour.sort_by(|a, b| a.name.cmp(&b.name));

    let signals = state
        .signals
        .iter()
        .map(|(k, s)| SignalSummary {
            name: k.clone(),
            mean: s.mean(),
            sd: s.sd(),
            weight: s.w * age,
            count: s.n,
            first: s.first,
            last: s.last,
        })
        .collect();

    let mut style = Vec::new();
    if let Some(words) = state.features.get("words").filter(|w| w.s > 0.0) {
        for (k, s) in &state.features {
            if k == "words" {
                style.push(feature("words_per_message", s.mean(), "words", s));
            } else if is_mean_feature(k) {
                style.push(feature(k, s.mean(), "mean", s));
            } else {
                style.push(feature(&format!("rate.{k}"), s.s / words.s, "per_word", s));
            }
        }
    }

    let mut d = Derived {
        version: DERIVE_VERSION.into(),
        computed_at: now,
        behaviour,
        signals,
        style,
        hour_of_day: shares(&state.hour_of_day),
        day_of_week: shares(&state.day_of_week),
        channel_mix: map_shares(&state.channels),
        languages: map_shares(&state.languages),
        segment: String::new(),
    };
    d.segment = segment(state, now).into();
    d
}

fn first_of(a: &Stat, b: &Stat) -> f64 {
    match (a.n, b.n) {
        (0, _) => b.first,
        (_, 0) => a.first,
        _ => a.first.min(b.first),
    }
}

fn returns_provenance(returns: &Stat, purchases: &Stat) -> Stat {
    let mut p = purchases.clone();
    p.n += returns.n;
    p.first = first_of(returns, purchases);
    p.last = returns.last.max(purchases.last);
    p
}

/// The first segment of [`SEGMENTS`] whose rule holds.
pub fn segment(state: &ProfileState, now: Seconds) -> &'static str {
    let days = |t: f64| (now - t) / DAY;
    let all = [&state.messages]
        .into_iter()
        .chain(state.events.values())
        .filter(|s| s.n > 0);
    let last = all.clone().map(|s| s.last).fold(f64::NAN, f64::max);
    let first = all.map(|s| s.first).fold(f64::NAN, f64::min);
    if last.is_nan() || days(last) > 180.0 {
        return "dormant";
    }
    let purchases = state.events.get("purchase");
    let escalations = state.events.get("escalation");
    let recent = |s: Option<&Stat>| s.is_some_and(|s| days(s.last) <= 90.0);
    let sentiment = state.signals.get("sentiment.score");
    let frustrated = (recent(escalations) && escalations.is_some_and(|s| s.n >= 2))
        || (recent(sentiment) && sentiment.is_some_and(|s| s.n >= 5 && s.mean() < -0.3));
    if frustrated {
        return "frustrated";
    }
    if let Some(p) = purchases {
        if p.n >= 5 && days(p.last) <= 30.0 {
            return "champion";
        }
        if p.n >= 3 && days(p.last) <= 90.0 {
            return "loyal";
        }
        if p.n >= 2 && days(p.last) > 90.0 {
            return "at_risk";
        }
    }
    if days(first) <= 30.0 {
        return "new";
    }
    if days(last) <= 30.0 {
        return "engaged";
    }
    "occasional"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{EventKind, EventRecord, MessageRecord};

    const T0: f64 = 1_780_000_000.0;

    fn event(id: &str, kind: EventKind, at: f64, amount: i64, score: Option<f64>) -> EventRecord {
        EventRecord {
            id: id.into(),
            kind,
            custom_kind: String::new(),
            at,
            channel: String::new(),
            amount_minor: amount,
            currency: "EUR".into(),
            score,
            attributes: Default::default(),
        }
    }

    fn named<'a>(d: &'a Derived, name: &str) -> &'a Feature {
        d.behaviour
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {:?}", d.behaviour))
    }

    #[test]
    fn rfm_return_rate_and_csat_with_provenance() {
        let mut s = ProfileState::new(1e9); // no decay: plain counts
        let mut evs = Vec::new();
        for i in 0..4 {
            evs.push(event(
                &format!("p{i}"),
                EventKind::Purchase,
                T0 + i as f64 * 10.0 * DAY,
                2500,
                None,
            ));
        }
        evs.push(event("r0", EventKind::Return, T0 + 15.0 * DAY, 2500, None));
        for (i, score) in [2.0, 3.0, 4.0, 5.0].into_iter().enumerate() {
            evs.push(event(
                &format!("c{i}"),
                EventKind::Csat,
                T0 + i as f64 * 10.0 * DAY,
                0,
                Some(score),
            ));
        }
        s.fold_events(&evs.iter().collect::<Vec<_>>());
        let now = T0 + 40.0 * DAY;
        let d = derive(&s, now);
        let recency = named(&d, "recency_days");
        assert!((recency.value - 10.0).abs() < 1e-9);
        assert_eq!(
            (recency.count, recency.first, recency.last),
            (4, T0, T0 + 30.0 * DAY)
        );
        assert!((named(&d, "return_rate").value - 0.25).abs() < 1e-6);
        assert!((named(&d, "mean_purchase.EUR").value - 2500.0).abs() < 1e-6);
        let monetary = named(&d, "monetary.EUR").value;
        assert!((monetary - 10_000.0).abs() < 1e-3, "{monetary}");
        assert!((named(&d, "csat_mean").value - 3.5).abs() < 1e-6);
        // +1 point per 10 days
        assert!((named(&d, "csat_trend").value - 3.0).abs() < 1e-6);
        assert_eq!(d.segment, "loyal");
    }

    #[test]
    fn cadence_counts_messages_per_week() {
        let mut s = ProfileState::new(1e9);
        let ms: Vec<MessageRecord> = (0..28)
            .map(|i| MessageRecord {
                id: i.to_string(),
                at: T0 + i as f64 * DAY / 2.0, // two a day for 14 days
                own: true,
                channel: if i % 4 == 0 { "email" } else { "chat" }.into(),
                ..Default::default()
            })
            .collect();
        s.fold_messages(&ms.iter().collect::<Vec<_>>());
        let d = derive(&s, T0 + 14.0 * DAY);
        let per_week = named(&d, "messages_per_week").value;
        assert!((per_week - 14.0).abs() < 0.01, "{per_week}");
        assert!((d.channel_mix["email"] - 0.25).abs() < 1e-9);
        assert!((d.hour_of_day.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn segments_follow_their_rules() {
        let mut s = ProfileState::new(30.0);
        assert_eq!(segment(&s, T0), "dormant");
        s.fold_events(&[
            &event("e1", EventKind::Escalation, T0, 0, None),
            &event("e2", EventKind::Escalation, T0 + DAY, 0, None),
        ]);
        assert_eq!(segment(&s, T0 + 2.0 * DAY), "frustrated");
        assert_eq!(segment(&s, T0 + 200.0 * DAY), "dormant");
        let mut s = ProfileState::new(30.0);
        s.fold_events(&[&event("l", EventKind::Login, T0, 0, None)]);
        assert_eq!(segment(&s, T0 + DAY), "new");
        assert!(SEGMENTS.iter().any(|(n, _)| *n == "occasional"));
    }
}
