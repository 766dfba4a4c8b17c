//! The hint rules: which hints a turn raises and which earlier ones it withdraws.
//!
//! Each rule is a row of [`Hinter::candidates`]: a condition on what the turn showed
//! ([`Observed`]) and the conversation so far ([`Conversation`]). Hints are de-duplicated (a kind
//! that is up is not raised again, unless its severity rises), rate-limited ([`MAX_NEW`] a turn,
//! the most urgent first), and withdrawn when they no longer hold: state hints by their own
//! condition, one-off hints after [`EVENT_TURNS`] turns.
use super::{
    state::{register, Conversation, Observed, Side, SLOW_CALL_SECONDS, SLOW_CHAT_SECONDS},
    texts::{self, StyleAdvice},
    Hint, HintKind, Lang, Severity,
};
use crate::analysis::Channel;

/// New hints one turn may raise.
pub const MAX_NEW: usize = 3;
/// Turns a one-off hint (slow reply, missing empathy, ...) stays up.
pub const EVENT_TURNS: u32 = 4;
/// Escalation risk that raises the hint, and that makes it critical.
pub const RISK_WARN: f32 = 0.5;
pub const RISK_CRITICAL: f32 = 0.75;
/// Below this the escalation hint is withdrawn (hysteresis against flapping).
pub const RISK_CLEAR: f32 = 0.3;
/// Turn frustration that raises CUSTOMER_FRUSTRATED, and that makes it critical.
pub const FRUSTRATION_WARN: f32 = 0.55;
pub const FRUSTRATION_CRITICAL: f32 = 0.8;
pub const TOXICITY_ABUSIVE: f32 = 0.7;
/// Customer words in a turn before the style can be told.
pub const STYLE_MIN_WORDS: usize = 8;

#[derive(Clone, Debug)]
struct Up {
    id: String,
    kind: HintKind,
    severity: Severity,
    /// What the hint is about (the question's turn id for UNANSWERED_QUESTION).
    key: String,
    /// The turn after which a one-off hint is withdrawn.
    until: Option<u32>,
}

struct Candidate {
    kind: HintKind,
    severity: Severity,
    confidence: f32,
    text: String,
    turn_ids: Vec<String>,
    signals: Vec<String>,
    key: String,
    one_off: bool,
}

/// What a turn changed on the agent's screen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub raised: Vec<Hint>,
    pub withdrawn: Vec<String>,
}

/// The hints of one session.
#[derive(Clone, Debug, Default)]
pub struct Hinter {
    turn: u32,
    next_id: u32,
    up: Vec<Up>,
    style: Option<StyleAdvice>,
    /// SUGGEST_STYLE is told again at most once, when the register changed.
    style_retold: bool,
}

impl Hinter {
    /// Hints that hold from the start: the style a stored profile shows.
    pub fn at_open(&mut self, conv: &Conversation) -> Vec<Hint> {
        let Some(b) = conv.baseline.as_ref().filter(|b| b.messages >= 3) else {
            return Vec::new();
        };
        let advice = StyleAdvice {
            register: register(b.address, b.formality),
            vy: b.address > 0.3,
            detail: detail(b.words_per_message),
            fast: false,
        };
        self.style = Some(advice);
        let lang = conv.language.unwrap_or_default();
        let c = Candidate {
            kind: HintKind::SuggestStyle,
            severity: Severity::Info,
            confidence: (b.messages as f32 / (b.messages as f32 + 5.0)).max(0.5),
            text: texts::style(lang, advice),
            turn_ids: Vec::new(),
            signals: vec![
                format!("profile.messages={}", b.messages),
                format!("profile.address={:.2}", b.address),
                format!("profile.words_per_message={:.0}", b.words_per_message),
            ],
            key: String::new(),
            one_off: false,
        };
        vec![self.raise(c, lang)]
    }

    /// The hints after one observed turn.
    pub fn after_turn(&mut self, conv: &Conversation, o: &Observed) -> Decision {
        self.turn += 1;
        let lang = conv.language.unwrap_or_default();
        let mut d = Decision {
            withdrawn: self.withdraw(conv, o),
            ..Default::default()
        };
        let mut candidates = self.candidates(conv, o, lang);
        candidates.sort_by_key(|c| (std::cmp::Reverse(c.severity), priority(c.kind)));
        for c in candidates {
            if d.raised.len() == MAX_NEW {
                break;
            }
            if let Some(i) = self
                .up
                .iter()
                .position(|u| u.kind == c.kind && u.key == c.key)
            {
                // Up already: raised again only to a higher severity.
                if self.up[i].severity >= c.severity && c.kind != HintKind::SuggestStyle {
                    continue;
                }
                d.withdrawn.push(self.up.remove(i).id);
            }
            d.raised.push(self.raise(c, lang));
        }
        d
    }

    fn raise(&mut self, c: Candidate, lang: Lang) -> Hint {
        self.next_id += 1;
        let id = format!("h{}", self.next_id);
        self.up.push(Up {
            id: id.clone(),
            kind: c.kind,
            severity: c.severity,
            key: c.key,
            until: c.one_off.then_some(self.turn + EVENT_TURNS),
        });
        Hint {
            id,
            kind: c.kind,
            severity: c.severity,
            confidence: c.confidence.clamp(0.0, 1.0),
            text: c.text,
            language: lang,
            turn_ids: c.turn_ids,
            signals: c.signals,
        }
    }

    /// Hints that no longer hold after this turn.
    fn withdraw(&mut self, conv: &Conversation, o: &Observed) -> Vec<String> {
        let turn = self.turn;
        let customer = o.side == Some(Side::Customer);
        let agent = o.side == Some(Side::Agent);
        let calmer = customer && o.frustration < 0.3 && conv.customer.frustration < 0.35;
        let holds = |u: &Up| -> bool {
            if u.until.is_some_and(|t| turn > t) {
                return false;
            }
            match u.kind {
                HintKind::EscalationRisk => !(customer && conv.risk < RISK_CLEAR),
                HintKind::CustomerFrustrated => !calmer,
                HintKind::MissingEmpathy => !(agent && o.acknowledged),
                HintKind::ToneMismatch => {
                    !(agent && o.informal_to_formal.is_empty() && o.cheerful_to_upset.is_empty())
                }
                HintKind::UnansweredQuestion => !o.answered.contains(&u.key),
                HintKind::PositiveMoment => !(customer && o.sentiment.is_some_and(|s| s < 0.0)),
                _ => true,
            }
        };
        let (keep, gone): (Vec<Up>, Vec<Up>) = self.up.drain(..).partition(|u| holds(u));
        self.up = keep;
        gone.into_iter().map(|u| u.id).collect()
    }

    /// Every rule's candidate for this turn.
    fn candidates(&mut self, conv: &Conversation, o: &Observed, lang: Lang) -> Vec<Candidate> {
        let mut out = Vec::new();
        let id = o.turn_id.clone();
        let one = |kind, severity, confidence: f32, text: String, signals, one_off| Candidate {
            kind,
            severity,
            confidence,
            text,
            turn_ids: vec![id.clone()],
            signals,
            key: String::new(),
            one_off,
        };
        let slow_limit = match conv.channel {
            Channel::CallTranscript => Some(SLOW_CALL_SECONDS),
            // An email reply within hours is normal: no slow-reply hints there.
            Channel::Email => None,
            _ => Some(SLOW_CHAT_SECONDS),
        };
        match o.side {
            Some(Side::Customer) => {
                if conv.risk >= RISK_WARN {
                    let severity = if conv.risk >= RISK_CRITICAL {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    };
                    let mut signals = vec![format!("escalation_risk={:.2}", conv.risk)];
                    signals.extend(o.frustration_signals.iter().cloned());
                    if o.threat {
                        signals.push("cue:threat".into());
                    }
                    let mut c = one(
                        HintKind::EscalationRisk,
                        severity,
                        conv.risk,
                        texts::escalation(lang, conv.risk, o.threat),
                        signals,
                        false,
                    );
                    if let Some(r) = &o.repeats {
                        c.turn_ids.insert(0, r.clone());
                        c.signals.push(format!("repeats={r}"));
                    }
                    out.push(c);
                }
                if o.toxicity >= TOXICITY_ABUSIVE {
                    out.push(one(
                        HintKind::AbusiveLanguage,
                        Severity::Warning,
                        o.toxicity,
                        texts::fixed(HintKind::AbusiveLanguage, lang).into(),
                        vec![format!("toxicity={:.2}", o.toxicity)],
                        true,
                    ));
                }
                if o.frustration >= FRUSTRATION_WARN && o.sentiment.is_none_or(|s| s <= 0.0) {
                    let severity = if o.frustration >= FRUSTRATION_CRITICAL {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    };
                    out.push(one(
                        HintKind::CustomerFrustrated,
                        severity,
                        o.frustration,
                        texts::fixed(HintKind::CustomerFrustrated, lang).into(),
                        o.frustration_signals.clone(),
                        false,
                    ));
                }
                if let Some(q) = &o.reasked {
                    let text = conv
                        .asked_text(q)
                        .map(|t| texts::unanswered(lang, &t))
                        .unwrap_or_else(|| texts::unanswered(lang, ""));
                    let mut c = one(
                        HintKind::UnansweredQuestion,
                        Severity::Warning,
                        0.8,
                        text,
                        vec![format!("reasked={q}")],
                        true,
                    );
                    c.turn_ids.insert(0, q.clone());
                    c.key = q.clone();
                    out.push(c);
                }
                if let (Some(limit), Some(w)) = (slow_limit, o.waited) {
                    if o.nudge && w > limit {
                        out.push(one(
                            HintKind::SlowReply,
                            Severity::Warning,
                            0.8,
                            texts::slow_reply(lang, w),
                            vec![format!("waited_seconds={w:.0}"), "cue:nudge".into()],
                            true,
                        ));
                    }
                }
                if !o.positive.is_empty() {
                    out.push(one(
                        HintKind::PositiveMoment,
                        Severity::Info,
                        (o.sentiment.unwrap_or(0.5) + 1.0) / 2.0,
                        texts::fixed(HintKind::PositiveMoment, lang).into(),
                        o.positive.clone(),
                        true,
                    ));
                }
                if let Some(c) = self.style_candidate(conv, lang, &id) {
                    out.push(c);
                }
            }
            Some(Side::Agent) => {
                if let (Some(limit), Some(w)) = (slow_limit, o.waited) {
                    if w > limit {
                        let severity = if w > 2.0 * limit {
                            Severity::Warning
                        } else {
                            Severity::Info
                        };
                        out.push(one(
                            HintKind::SlowReply,
                            severity,
                            (0.5 + (w / limit - 1.0) as f32 / 2.0).min(0.95),
                            texts::slow_reply(lang, w),
                            vec![format!("reply_seconds={w:.0}")],
                            true,
                        ));
                    }
                }
                if let Some((turn, strength, why)) = &o.unacknowledged {
                    let mut c = one(
                        HintKind::MissingEmpathy,
                        Severity::Warning,
                        *strength,
                        texts::fixed(HintKind::MissingEmpathy, lang).into(),
                        why.clone(),
                        true,
                    );
                    c.turn_ids.insert(0, turn.clone());
                    out.push(c);
                }
                if !o.informal_to_formal.is_empty() {
                    out.push(one(
                        HintKind::ToneMismatch,
                        Severity::Warning,
                        0.8,
                        texts::tone_informal(lang).into(),
                        o.informal_to_formal.clone(),
                        true,
                    ));
                } else if !o.cheerful_to_upset.is_empty() {
                    out.push(one(
                        HintKind::ToneMismatch,
                        Severity::Warning,
                        0.7,
                        texts::tone_cheerful(lang).into(),
                        o.cheerful_to_upset.clone(),
                        true,
                    ));
                }
                if let Some(q) = o.unanswered.first() {
                    let mut c = one(
                        HintKind::UnansweredQuestion,
                        Severity::Warning,
                        0.6,
                        texts::unanswered(lang, &q.text),
                        vec![format!("question={}", q.turn_id)],
                        true,
                    );
                    c.turn_ids.insert(0, q.turn_id.clone());
                    c.key = q.turn_id.clone();
                    out.push(c);
                }
            }
            None => {}
        }
        out
    }

    /// SUGGEST_STYLE once the customer has written enough to tell, and again when their
    /// register changes.
    fn style_candidate(&mut self, conv: &Conversation, lang: Lang, id: &str) -> Option<Candidate> {
        let c = &conv.customer;
        if c.words < STYLE_MIN_WORDS as u64 {
            return None;
        }
        let latency = conv.customer_reply_seconds();
        let advice = StyleAdvice {
            register: c.register(),
            vy: c.address() > 0.3,
            detail: detail(c.words_per_turn()),
            fast: latency.is_some_and(|l| l < 30.0) && !conv.is_call(),
        };
        match self.style {
            // Told already: again only when the register changed, once it is clear.
            Some(old) if old.register == advice.register || c.turns < 3 || self.style_retold => {
                return None
            }
            Some(_) => self.style_retold = true,
            None => {}
        }
        self.style = Some(advice);
        let mut signals = vec![
            format!("customer.address={:.2}", c.address()),
            format!("customer.words_per_turn={:.0}", c.words_per_turn()),
        ];
        if let Some(f) = c.formality.get() {
            signals.push(format!("customer.style.formality={f:.2}"));
        }
        Some(Candidate {
            kind: HintKind::SuggestStyle,
            severity: Severity::Info,
            confidence: (c.turns as f32 / (c.turns as f32 + 2.0)).max(0.5),
            text: texts::style(lang, advice),
            turn_ids: vec![id.to_string()],
            signals,
            key: String::new(),
            one_off: false,
        })
    }
}

fn detail(words_per_message: f32) -> i8 {
    if words_per_message < 15.0 {
        -1
    } else if words_per_message > 60.0 {
        1
    } else {
        0
    }
}

/// Order among hints of one severity: the most urgent for the agent first.
fn priority(kind: HintKind) -> u8 {
    match kind {
        HintKind::EscalationRisk => 0,
        HintKind::AbusiveLanguage => 1,
        HintKind::CustomerFrustrated => 2,
        HintKind::MissingEmpathy => 3,
        HintKind::ToneMismatch => 4,
        HintKind::UnansweredQuestion => 5,
        HintKind::SlowReply => 6,
        HintKind::PositiveMoment => 7,
        HintKind::SuggestStyle => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::state::OpenQuestion;

    fn customer(id: &str) -> Observed {
        Observed {
            side: Some(Side::Customer),
            turn_id: id.into(),
            sentiment: Some(0.0),
            ..Default::default()
        }
    }

    fn agent(id: &str) -> Observed {
        Observed {
            side: Some(Side::Agent),
            turn_id: id.into(),
            ..Default::default()
        }
    }

    fn kinds(d: &Decision) -> Vec<HintKind> {
        d.raised.iter().map(|h| h.kind).collect()
    }

    #[test]
    fn escalation_rises_to_critical_once_and_is_withdrawn_when_risk_falls() {
        let mut conv = Conversation::new(Channel::Chat, Some(Lang::Ru), None);
        let mut h = Hinter::default();
        conv.risk = 0.6;
        let d = h.after_turn(&conv, &customer("t1"));
        assert_eq!(kinds(&d), [HintKind::EscalationRisk]);
        assert_eq!(d.raised[0].severity, Severity::Warning);
        assert!(d.raised[0].text.starts_with("Риск эскалации 60%"));
        // Still up at the same level: not raised again.
        assert!(h.after_turn(&conv, &customer("t2")).raised.is_empty());
        conv.risk = 0.9;
        let d = h.after_turn(&conv, &customer("t3"));
        assert_eq!(d.raised[0].severity, Severity::Critical);
        assert_eq!(d.withdrawn, ["h1"], "the warning is replaced");
        // Between the thresholds it holds; under 0.3 it goes.
        conv.risk = 0.4;
        assert!(h.after_turn(&conv, &customer("t4")).withdrawn.is_empty());
        conv.risk = 0.2;
        assert_eq!(h.after_turn(&conv, &customer("t5")).withdrawn, ["h2"]);
    }

    #[test]
    fn frustration_needs_a_non_positive_turn_and_clears_on_a_calm_one() {
        let conv = Conversation::new(Channel::Chat, None, None);
        let mut h = Hinter::default();
        let mut o = customer("t1");
        o.frustration = 0.7;
        o.sentiment = Some(0.6);
        assert!(h.after_turn(&conv, &o).raised.is_empty());
        o.sentiment = Some(-0.5);
        let d = h.after_turn(&conv, &o);
        assert_eq!(kinds(&d), [HintKind::CustomerFrustrated]);
        assert_eq!(d.raised[0].language, Lang::En);
        let mut calm = customer("t3");
        calm.frustration = 0.1;
        assert_eq!(h.after_turn(&conv, &calm).withdrawn.len(), 1);
    }

    #[test]
    fn agent_rules_raise_their_hints_and_the_next_good_turn_withdraws_them() {
        let conv = Conversation::new(Channel::Chat, None, None);
        let mut h = Hinter::default();
        let mut o = agent("t2");
        o.unacknowledged = Some(("t1".into(), 0.8, vec!["cue:outrage".into()]));
        o.informal_to_formal = vec!["cue:slang".into()];
        o.unanswered = vec![OpenQuestion {
            turn_id: "t1".into(),
            text: "Where is my refund?".into(),
            content: Default::default(),
        }];
        let d = h.after_turn(&conv, &o);
        assert_eq!(
            kinds(&d),
            [
                HintKind::MissingEmpathy,
                HintKind::ToneMismatch,
                HintKind::UnansweredQuestion
            ]
        );
        assert_eq!(d.raised[0].turn_ids, ["t1", "t2"]);
        assert!(d.raised[2].text.contains("Where is my refund?"));
        let mut good = agent("t4");
        good.acknowledged = true;
        good.answered = vec!["t1".into()];
        assert_eq!(h.after_turn(&conv, &good).withdrawn.len(), 3);
    }

    #[test]
    fn slow_replies_follow_the_channel() {
        let mut o = agent("t2");
        o.waited = Some(300.0);
        for (channel, expected) in [
            (Channel::Chat, true),
            (Channel::Email, false),
            (Channel::CallTranscript, true),
        ] {
            let d = Hinter::default().after_turn(&Conversation::new(channel, None, None), &o);
            assert_eq!(
                kinds(&d).contains(&HintKind::SlowReply),
                expected,
                "{channel:?}"
            );
        }
        o.waited = Some(60.0);
        let chat = Conversation::new(Channel::Chat, None, None);
        assert!(Hinter::default().after_turn(&chat, &o).raised.is_empty());
        let call = Conversation::new(Channel::CallTranscript, None, None);
        let d = Hinter::default().after_turn(&call, &o);
        assert_eq!(
            d.raised[0].severity,
            Severity::Warning,
            "60 s is past twice 10 s"
        );
    }

    #[test]
    fn at_most_three_new_hints_a_turn_most_severe_first_and_one_offs_expire() {
        let mut conv = Conversation::new(Channel::Chat, None, None);
        conv.risk = 0.9;
        let mut o = customer("t1");
        o.sentiment = Some(-0.9);
        o.frustration = 0.9;
        o.toxicity = 0.9;
        o.reasked = Some("t0".into());
        o.waited = Some(400.0);
        o.nudge = true;
        let mut h = Hinter::default();
        let d = h.after_turn(&conv, &o);
        assert_eq!(
            kinds(&d),
            [
                HintKind::EscalationRisk,
                HintKind::CustomerFrustrated,
                HintKind::AbusiveLanguage
            ]
        );
        // The abuse hint is a one-off: gone after EVENT_TURNS more turns.
        let quiet = agent("t2");
        let withdrawn: Vec<String> = (0..=EVENT_TURNS)
            .flat_map(|_| h.after_turn(&conv, &quiet).withdrawn)
            .collect();
        assert!(withdrawn.contains(&d.raised[2].id), "{withdrawn:?}");
    }

    #[test]
    fn style_is_suggested_once_the_customer_wrote_enough_and_again_once_on_a_change() {
        let mut conv = Conversation::new(Channel::Chat, Some(Lang::En), None);
        let mut h = Hinter::default();
        conv.customer.turns = 1;
        conv.customer.words = 5;
        assert!(h.after_turn(&conv, &customer("t1")).raised.is_empty());
        conv.customer.words = 12;
        conv.customer.you_formal = 2;
        let d = h.after_turn(&conv, &customer("t2"));
        assert_eq!(kinds(&d), [HintKind::SuggestStyle]);
        assert!(d.raised[0].text.contains("formal"), "{}", d.raised[0].text);
        conv.customer.turns = 3;
        conv.customer.you_informal = 10;
        let d = h.after_turn(&conv, &customer("t3"));
        assert_eq!(kinds(&d), [HintKind::SuggestStyle]);
        assert_eq!(d.withdrawn.len(), 1, "the old suggestion is replaced");
        conv.customer.you_formal = 30;
        assert!(h.after_turn(&conv, &customer("t4")).raised.is_empty());
    }
}
