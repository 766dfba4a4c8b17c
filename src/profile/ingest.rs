//! From what callers send to what a profile folds: each message's analysis becomes a
//! [`MessageRecord`] (numbers and redacted evidence, never the raw text), each event is checked
//! and becomes an [`EventRecord`].
use std::collections::BTreeMap;

use super::{traits::TRAITS, EventKind, EventRecord, MessageRecord, Seconds};
use crate::{
    analysis::{Channel, MessageAnalysis, MessageInput, MessageTraits},
    text::Features,
    Error, Result,
};

/// How far past the server's clock a timestamp may be (clock skew between systems).
pub const MAX_FUTURE_SECONDS: f64 = 24.0 * 3600.0;
/// Longest message or event id, in bytes.
pub const MAX_RECORD_ID_BYTES: usize = 256;
/// Most attributes on one event, and their longest key and value.
pub const MAX_ATTRIBUTES: usize = 32;
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;

pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Unspecified => "unspecified",
        Channel::Email => "email",
        Channel::Chat => "chat",
        Channel::CallTranscript => "call",
        Channel::Sms => "sms",
        Channel::Social => "social",
    }
}

/// Checks an id used for idempotency (`field` names it).
pub fn check_id(id: &str, field: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::invalid(
            field,
            "must not be empty (ingestion is idempotent by it)",
        ));
    }
    if id.len() > MAX_RECORD_ID_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "{} bytes, over the limit of {MAX_RECORD_ID_BYTES}",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// A record's time: the given one, checked, or `now` when none was given.
pub fn check_time(at: Option<Seconds>, now: Seconds, field: &str) -> Result<Seconds> {
    let Some(at) = at else { return Ok(now) };
    if !at.is_finite() || at < 0.0 {
        return Err(Error::invalid(field, "must be a time after 1970"));
    }
    if at > now + MAX_FUTURE_SECONDS {
        return Err(Error::invalid(
            field,
            format!(
                "{:.0} hours in the future, over the limit of {:.0}",
                (at - now) / 3600.0,
                MAX_FUTURE_SECONDS / 3600.0
            ),
        ));
    }
    Ok(at)
}

/// A message's record before analysis: where and when it was written. The other side's turns
/// stay like this: they only mark their time, for the subject's reply latency.
pub fn unanalysed(m: &MessageInput, at: Seconds) -> MessageRecord {
    MessageRecord {
        id: m.id.clone(),
        at,
        conversation_id: m.conversation_id.clone(),
        channel: channel_name(m.channel).into(),
        own: false,
        ..Default::default()
    }
}

/// The subject's own message (`record` from [`unanalysed`]): its analysis as numbers, the
/// sentence behind each signal (redacted) as evidence, and with `store_text` the whole redacted
/// text.
pub fn observe(record: MessageRecord, a: &MessageAnalysis, store_text: bool) -> MessageRecord {
    let mut signals = BTreeMap::new();
    let mut evidence = BTreeMap::new();
    if let Some(s) = &a.sentiment {
        signals.insert("sentiment.score".to_string(), s.score as f64);
    }
    for (name, signal) in a.results.signals() {
        signals.insert(name.clone(), signal.value as f64);
        if let Some(e) = signal.evidence.first() {
            evidence.insert(name, e.text.clone());
        } else if a.text.sentences.len() == 1 {
            // A one-sentence message is its own evidence.
            evidence.insert(name, a.text.redacted.clone());
        }
    }
    let (traits, trait_evidence) = a
        .traits
        .as_ref()
        .map(|t| trait_record(t, a))
        .unwrap_or_default();
    let analysed = !signals.is_empty();
    MessageRecord {
        own: true,
        analysed,
        language: a.language.code.clone(),
        words: a.text.features.words as u64,
        signals,
        features: feature_map(&a.text.features),
        evidence,
        redacted_text: store_text.then(|| a.text.redacted.clone()),
        traits,
        trait_evidence,
        ..record
    }
}

type TraitRecord = (BTreeMap<String, f64>, BTreeMap<String, (f64, String)>);

/// The message's trait logits, and per trait the sentence that leans the message's way most,
/// with the message's lean (words times the logit's distance from the population's centre).
fn trait_record(t: &MessageTraits, a: &MessageAnalysis) -> TraitRecord {
    let words = a.text.features.words.max(1) as f64;
    let mut logits = BTreeMap::new();
    let mut evidence = BTreeMap::new();
    for (k, name) in TRAITS.iter().enumerate() {
        logits.insert(name.to_string(), t.logits[k] as f64);
        let lean = (t.logits[k] - t.centre[k]) as f64;
        let high = lean > 0.0;
        let sentence = t
            .stretches
            .iter()
            .max_by(|x, y| {
                let (x, y) = (x.1[k], y.1[k]);
                if high {
                    x.total_cmp(&y)
                } else {
                    y.total_cmp(&x)
                }
            })
            .and_then(|(r, _)| a.text.redacted.get(r.clone()))
            .unwrap_or(&a.text.redacted)
            .trim();
        if sentence.is_empty() {
            continue;
        }
        let side = if high { "high" } else { "low" };
        evidence.insert(
            format!("trait.{name}.{side}"),
            (lean.abs() * words, sentence.to_string()),
        );
    }
    (logits, evidence)
}

/// Lexical features as named counts (rates come from their sums over words) and ratios.
pub fn feature_map(f: &Features) -> BTreeMap<String, f64> {
    let counts = [
        ("pronoun_i", f.pronoun_i),
        ("pronoun_we", f.pronoun_we),
        ("pronoun_you", f.pronoun_you),
        ("you_formal", f.you_formal),
        ("you_informal", f.you_informal),
        ("you_capitalised", f.you_capitalised),
        ("hedges", f.hedges),
        ("intensifiers", f.intensifiers),
        ("politeness", f.politeness),
        ("apologies", f.apologies),
        ("thanks", f.thanks),
        ("negations", f.negations),
        ("urgency", f.urgency),
        ("imperatives", f.imperatives),
        ("questions", f.questions),
        ("exclamations", f.exclamations),
        ("numbers", f.numbers),
        ("emoji", f.emoji),
        ("emoji_positive", f.emoji_positive + f.emoticons_positive),
        ("emoji_negative", f.emoji_negative + f.emoticons_negative),
        ("elongations", f.elongations),
        ("repeated_punctuation", f.repeated_punctuation),
        ("caps_words", f.caps_words),
        ("fillers", f.fillers),
        ("repetitions", f.repetitions),
        ("sentences", f.sentences),
    ];
    let mut out: BTreeMap<String, f64> = counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v as f64))
        .collect();
    for (k, v) in [
        ("type_token_ratio", f.type_token_ratio),
        ("caps_ratio", f.caps_ratio),
        ("mean_word_chars", f.mean_word_chars),
        ("mean_sentence_words", f.mean_sentence_words),
        ("address_formality", f.address_formality()),
    ] {
        out.insert(k.to_string(), v as f64);
    }
    out
}

/// Checks one event's business rules (`field` names it, e.g. `events[2]`).
pub fn check_event(e: &EventRecord, field: &str) -> Result<()> {
    check_id(&e.id, &format!("{field}.id"))?;
    if e.amount_minor < 0 {
        return Err(Error::invalid(
            format!("{field}.amount_minor"),
            format!(
                "{} is negative; amounts are never negative (a refund is its own kind)",
                e.amount_minor
            ),
        ));
    }
    match e.kind {
        EventKind::Other if e.custom_kind.trim().is_empty() => {
            return Err(Error::invalid(
                format!("{field}.custom_kind"),
                "must name the kind when kind is EVENT_KIND_OTHER",
            ));
        }
        EventKind::Csat => check_score(e.score, 1.0, 5.0, field)?,
        EventKind::Nps => check_score(e.score, 0.0, 10.0, field)?,
        _ => {}
    }
    if e.custom_kind.len() > 64 {
        return Err(Error::invalid(
            format!("{field}.custom_kind"),
            format!("{} bytes, over the limit of 64", e.custom_kind.len()),
        ));
    }
    if e.currency.len() > 8 {
        return Err(Error::invalid(
            format!("{field}.currency"),
            format!("{:?} is not a currency code", e.currency),
        ));
    }
    if e.attributes.len() > MAX_ATTRIBUTES {
        return Err(Error::invalid(
            format!("{field}.attributes"),
            format!(
                "{} attributes, over the limit of {MAX_ATTRIBUTES}",
                e.attributes.len()
            ),
        ));
    }
    if let Some((k, _)) = e
        .attributes
        .iter()
        .find(|(k, v)| k.len() > MAX_ATTRIBUTE_BYTES || v.len() > MAX_ATTRIBUTE_BYTES)
    {
        return Err(Error::invalid(
            format!("{field}.attributes[{k:?}]"),
            format!("key or value over the limit of {MAX_ATTRIBUTE_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn check_score(score: Option<f64>, lo: f64, hi: f64, field: &str) -> Result<()> {
    match score {
        Some(s) if (lo..=hi).contains(&s) => Ok(()),
        Some(s) => Err(Error::invalid(
            format!("{field}.score"),
            format!("{s} is outside {lo}..={hi}"),
        )),
        None => Err(Error::invalid(
            format!("{field}.score"),
            format!("required for this kind ({lo}..={hi})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> EventRecord {
        EventRecord {
            id: "e1".into(),
            kind,
            custom_kind: String::new(),
            at: 1.0,
            channel: String::new(),
            amount_minor: 100,
            currency: "EUR".into(),
            score: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn events_break_their_rules_with_the_field_named() {
        let mut e = event(EventKind::Purchase);
        e.amount_minor = -5;
        let err = check_event(&e, "events[3]").unwrap_err().to_string();
        assert!(
            err.starts_with("events[3].amount_minor: -5 is negative"),
            "{err}"
        );
        let err = check_event(&event(EventKind::Csat), "events[0]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("events[0].score: required"), "{err}");
        let mut e = event(EventKind::Nps);
        e.score = Some(11.0);
        assert!(check_event(&e, "e").is_err());
        e.score = Some(9.0);
        check_event(&e, "e").unwrap();
        let err = check_event(&event(EventKind::Other), "events[1]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("events[1].custom_kind"), "{err}");
        let mut e = event(EventKind::Login);
        e.id = " ".into();
        assert!(check_event(&e, "x")
            .unwrap_err()
            .to_string()
            .starts_with("x.id"));
    }

    #[test]
    fn times_far_in_the_future_are_refused() {
        let now = 1_790_000_000.0;
        assert_eq!(check_time(None, now, "t").unwrap(), now);
        assert_eq!(check_time(Some(now - 5.0), now, "t").unwrap(), now - 5.0);
        let err = check_time(Some(now + 3.0 * 86_400.0), now, "events[0].timestamp")
            .unwrap_err()
            .to_string();
        assert!(err.contains("72 hours in the future"), "{err}");
    }
}
