//! What a profile says about a person and how to talk to them: Big Five estimates with
//! intervals and evidence, DISC and MBTI-style letters, communication preferences,
//! recommendations and the weekly timeline. A pure function of the stored statistics, computed
//! when a profile is read (docs/traits.md documents every mapping and its source). Estimates for
//! adapting communication, never a diagnosis.
use std::collections::BTreeMap;

use serde::Serialize;

use super::aggregate::{week_start, ProfileState};
use super::behaviour::Derived;
use super::traits::{Posterior, TraitModel, TRAITS};
use super::Seconds;

/// One item behind a score (a message's redacted sentence, a feature, an event).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Contribution {
    pub kind: String,
    pub name: String,
    pub message_id: String,
    pub at: Seconds,
    pub text: String,
    pub value: f64,
    pub contribution: f64,
}

impl Contribution {
    fn feature(name: &str, value: f64, contribution: f64) -> Contribution {
        Contribution {
            kind: "feature".into(),
            name: name.into(),
            value,
            contribution,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraitScore {
    pub name: &'static str,
    pub score: f64,
    pub lower: f64,
    pub upper: f64,
    pub p_high: f64,
    pub level: f64,
    pub words: f64,
    pub abstained: bool,
    pub note: String,
    pub evidence: Vec<Contribution>,
    #[serde(skip)]
    pub posterior: Option<Posterior>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Disc {
    pub style: String,
    pub pace: f64,
    pub priority: f64,
    pub confidence: f64,
    pub abstained: bool,
    pub evidence: Vec<Contribution>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Letter {
    pub axis: &'static str,
    pub letter: String,
    pub confidence: f64,
    pub abstained: bool,
    pub trait_name: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Preferences {
    pub formality: String,
    pub formality_score: f64,
    pub address: String,
    pub detail: String,
    pub words_per_message: f64,
    pub pace: String,
    pub reply_latency_seconds: f64,
    pub channel: String,
    pub hours: Vec<u32>,
    pub language: String,
}

/// The documented recommendations (docs/traits.md, "Recommendations").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Advice {
    UseFormalAddress,
    UseInformalAddress,
    BeBrief,
    GiveDetail,
    LeadWithFacts,
    AcknowledgeFeelings,
    OfferCallback,
    ContactInTheMorning,
    ContactInTheAfternoon,
    ContactInTheEvening,
    ReplyQuickly,
    UseTheirChannel,
    WriteInTheirLanguage,
    Reassure,
    GiveClearStructure,
    KeepItWarm,
}

impl Advice {
    /// English and Russian text.
    pub fn texts(self) -> (&'static str, &'static str) {
        match self {
            Advice::UseFormalAddress => (
                "Write formally, as they do: full greetings, no slang.",
                "Пишите официально, как клиент: полное приветствие, на «Вы», без сленга.",
            ),
            Advice::UseInformalAddress => (
                "They write casually: a friendly, plain tone fits.",
                "Клиент пишет неформально: подойдёт дружелюбный простой тон.",
            ),
            Advice::BeBrief => (
                "Keep replies short: they write briefly.",
                "Отвечайте коротко: клиент пишет кратко.",
            ),
            Advice::GiveDetail => (
                "They write at length: give full explanations and details.",
                "Клиент пишет развёрнуто: объясняйте подробно.",
            ),
            Advice::LeadWithFacts => (
                "Lead with facts, numbers and next steps.",
                "Начинайте с фактов, цифр и следующих шагов.",
            ),
            Advice::AcknowledgeFeelings => (
                "Acknowledge how they feel before solving.",
                "Сначала признайте чувства клиента, потом решайте вопрос.",
            ),
            Advice::OfferCallback => (
                "Offer a call back: they use the phone or escalate.",
                "Предложите перезвонить: клиент звонит или эскалирует.",
            ),
            Advice::ContactInTheMorning => (
                "Reach them in the morning (UTC), when they usually write.",
                "Связывайтесь утром (UTC), когда клиент обычно пишет.",
            ),
            Advice::ContactInTheAfternoon => (
                "Reach them in the afternoon (UTC), when they usually write.",
                "Связывайтесь днём (UTC), когда клиент обычно пишет.",
            ),
            Advice::ContactInTheEvening => (
                "Reach them in the evening (UTC), when they usually write.",
                "Связывайтесь вечером (UTC), когда клиент обычно пишет.",
            ),
            Advice::ReplyQuickly => (
                "Reply quickly: they answer within minutes.",
                "Отвечайте быстро: клиент отвечает за минуты.",
            ),
            Advice::UseTheirChannel => (
                "Use the channel they use most.",
                "Пишите в канал, которым клиент пользуется чаще всего.",
            ),
            Advice::WriteInTheirLanguage => {
                ("Write in their language.", "Пишите на языке клиента.")
            }
            Advice::Reassure => (
                "Reassure: say what happens next and when.",
                "Успокойте: скажите, что будет дальше и когда.",
            ),
            Advice::GiveClearStructure => (
                "Give a clear structure: steps, dates, commitments.",
                "Давайте чёткую структуру: шаги, сроки, обязательства.",
            ),
            Advice::KeepItWarm => (
                "Keep it warm and personal.",
                "Общайтесь тепло и по-человечески.",
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub kind: Advice,
    pub text_en: &'static str,
    pub text_ru: &'static str,
    pub confidence: f64,
    pub evidence: Vec<Contribution>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeekPoint {
    pub start: Seconds,
    pub messages: u32,
    pub scored: u32,
    pub sentiment: f64,
}

/// Everything the card shows beyond the statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Persona {
    /// The estimator's version; empty when the heads carry none.
    pub traits_version: String,
    pub big_five: Vec<TraitScore>,
    pub disc: Disc,
    pub letters: Vec<Letter>,
    pub preferences: Preferences,
    pub recommendations: Vec<Recommendation>,
    pub timeline: Vec<WeekPoint>,
}

/// Evidence items per trait.
const TRAIT_EVIDENCE: usize = 3;
/// Below this confidence a letter or the DISC style abstains.
const LETTER_MIN: f64 = 0.6;
const DISC_MIN: f64 = 0.4;
/// How much the text style moves a DISC axis, in standard deviations of the trait per unit of
/// the style's distance from 0.5 (the project's choice, not a published weight).
const STYLE_NUDGE: f64 = 1.0;

pub fn persona(state: &ProfileState, d: &Derived, model: Option<&TraitModel>) -> Persona {
    let big_five = model.map(|m| big_five(state, d, m)).unwrap_or_default();
    let signal = |name: &str| d.signals.iter().find(|s| s.name == name);
    let disc = disc(
        &big_five,
        signal("style.directness"),
        signal("style.emotionality"),
    );
    let letters = letters(&big_five);
    let preferences = preferences(state, d);
    let recommendations = recommendations(state, d, &big_five, &preferences);
    let timeline = state
        .weeks
        .iter()
        .map(|(w, s)| WeekPoint {
            start: week_start(*w),
            messages: s.messages,
            scored: s.scored,
            sentiment: if s.scored > 0 {
                s.sentiment / s.scored as f64
            } else {
                0.0
            },
        })
        .collect();
    Persona {
        traits_version: model.map(|m| m.version.clone()).unwrap_or_default(),
        big_five,
        disc,
        letters,
        preferences,
        recommendations,
        timeline,
    }
}

/// Share of the profile's messages in the estimator's languages.
fn fitted_share(d: &Derived, model: &TraitModel) -> f64 {
    if d.languages.is_empty() {
        return 1.0;
    }
    let total: f64 = d.languages.values().sum();
    let fitted: f64 = d
        .languages
        .iter()
        .filter(|(l, _)| model.fitted_languages.contains(l))
        .map(|(_, v)| v)
        .sum();
    if total > 0.0 {
        fitted / total
    } else {
        1.0
    }
}

pub fn big_five(state: &ProfileState, d: &Derived, model: &TraitModel) -> Vec<TraitScore> {
    let share = fitted_share(d, model);
    let loading = model.loading(share);
    TRAITS
        .iter()
        .zip(&model.measurement)
        .map(|(&name, m)| {
            let k = TRAITS.iter().position(|t| *t == name).expect("a trait");
            // Words behind the pooled logit: the head's own, or (an estimator without a head)
            // every analysed word.
            let stat = state
                .traits
                .get(name)
                .or_else(|| model.lexical.as_ref().and(state.features.get("words")));
            let words = stat.map_or(0.0, |s| s.w);
            let (lo_pop, hi_pop) = Posterior { mean: 0.0, sd: 1.0 }.interval(model.level);
            if words < model.min_words || stat.is_none() {
                return TraitScore {
                    name,
                    score: 0.5,
                    lower: lo_pop,
                    upper: hi_pop,
                    p_high: 0.5,
                    level: model.level,
                    words,
                    abstained: true,
                    note: format!(
                        "{words:.0} words; estimates start at {:.0} (EVAL.md, \"Traits\")",
                        model.min_words
                    ),
                    evidence: Vec::new(),
                    posterior: None,
                };
            }
            let head_logit = state.traits.get(name).map_or(0.0, |s| s.mean());
            let (lexical_logit, lexical_parts) = match &model.lexical {
                Some(lx) => lx.logit(k, |f| style_value(d, f)),
                None => (0.0, Vec::new()),
            };
            let logit = head_logit + lexical_logit;
            let post = m.posterior(logit, words, loading);
            let (lower, upper) = post.interval(model.level);
            // What one message's lean moved the posterior mean by: the posterior is linear in
            // the pooled logit, whose share of each message is its words over all words.
            let a = m.a * loading;
            let gain = a / (a * a + m.noise_at(words));
            let side = if post.mean >= 0.0 { "high" } else { "low" };
            let sign = if post.mean >= 0.0 { 1.0 } else { -1.0 };
            let key = format!("trait.{name}.{side}");
            let mut evidence: Vec<Contribution> = state
                .evidence
                .get(&key)
                .map(|items| {
                    items
                        .iter()
                        .take(TRAIT_EVIDENCE)
                        .map(|e| Contribution {
                            kind: "message".into(),
                            name: key.clone(),
                            message_id: e.message_id.clone(),
                            at: e.at,
                            text: e.text.clone(),
                            value: e.score,
                            contribution: sign * gain * e.score / words,
                        })
                        .collect()
                })
                .unwrap_or_default();
            // Style features move it too: the strongest few, against the population's mean
            // logit.
            let mut parts: Vec<Contribution> = lexical_parts
                .into_iter()
                .map(|(name, v, c)| Contribution::feature(&name, v, gain * c))
                .collect();
            parts.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
            evidence.extend(parts.into_iter().take(TRAIT_EVIDENCE));
            let note = if share < 0.999 {
                format!(
                    "{:.0}% of the messages are in languages the estimator was not fitted on \
                     (fitted: {}); the interval is wider for it",
                    (1.0 - share) * 100.0,
                    model.fitted_languages.join(", ")
                )
            } else {
                String::new()
            };
            TraitScore {
                name,
                score: post.score(),
                lower,
                upper,
                p_high: post.p_high(),
                level: model.level,
                words,
                abstained: false,
                note,
                evidence,
                posterior: Some(post),
            }
        })
        .collect()
}

fn posterior_of(traits: &[TraitScore], name: &str) -> Option<Posterior> {
    traits.iter().find(|t| t.name == name)?.posterior
}

/// DISC: pace (assertive vs reserved) from extraversion nudged by directness; priority (task vs
/// people) from low agreeableness nudged by low emotionality (docs/traits.md).
fn disc(
    traits: &[TraitScore],
    directness: Option<&super::behaviour::SignalSummary>,
    emotionality: Option<&super::behaviour::SignalSummary>,
) -> Disc {
    let (Some(e), Some(a)) = (
        posterior_of(traits, "extraversion"),
        posterior_of(traits, "agreeableness"),
    ) else {
        return Disc {
            abstained: true,
            ..Default::default()
        };
    };
    let nudge = |s: Option<&super::behaviour::SignalSummary>| {
        s.map_or(0.0, |s| {
            ((s.mean - 0.5) * 2.0).clamp(-1.0, 1.0) * STYLE_NUDGE
        })
    };
    let (dn, en) = (nudge(directness), nudge(emotionality));
    let pace_mean = e.mean + dn * e.sd;
    let priority_mean = -a.mean - en * a.sd;
    let pace = super::traits::phi(pace_mean / e.sd.max(1e-9));
    let priority = super::traits::phi(priority_mean / a.sd.max(1e-9));
    let style = match (pace >= 0.5, priority >= 0.5) {
        (true, true) => "D",
        (true, false) => "I",
        (false, false) => "S",
        (false, true) => "C",
    };
    let confidence = pace.max(1.0 - pace) * priority.max(1.0 - priority);
    let mut evidence = vec![
        Contribution::feature("trait.extraversion", e.mean, e.mean),
        Contribution::feature("trait.agreeableness", a.mean, -a.mean),
    ];
    if let Some(s) = directness {
        evidence.push(Contribution::feature("style.directness", s.mean, dn * e.sd));
    }
    if let Some(s) = emotionality {
        evidence.push(Contribution::feature(
            "style.emotionality",
            s.mean,
            -en * a.sd,
        ));
    }
    let abstained = confidence < DISC_MIN;
    Disc {
        style: if abstained {
            String::new()
        } else {
            style.into()
        },
        pace,
        priority,
        confidence,
        abstained,
        evidence,
    }
}

/// MBTI-style letters from the Big Five (McCrae & Costa 1989): E/I from extraversion, S/N from
/// openness, T/F from agreeableness, J/P from conscientiousness.
fn letters(traits: &[TraitScore]) -> Vec<Letter> {
    [
        ("E/I", "extraversion", "E", "I"),
        ("S/N", "openness", "N", "S"),
        ("T/F", "agreeableness", "F", "T"),
        ("J/P", "conscientiousness", "J", "P"),
    ]
    .into_iter()
    .map(|(axis, trait_name, high, low)| {
        let Some(t) = traits.iter().find(|t| t.name == trait_name && !t.abstained) else {
            return Letter {
                axis,
                letter: String::new(),
                confidence: 0.5,
                abstained: true,
                trait_name,
            };
        };
        let confidence = t.p_high.max(1.0 - t.p_high);
        let abstained = confidence < LETTER_MIN;
        Letter {
            axis,
            letter: if abstained {
                String::new()
            } else if t.p_high >= 0.5 {
                high.into()
            } else {
                low.into()
            },
            confidence,
            abstained,
            trait_name,
        }
    })
    .collect()
}

/// A style feature's value (`Derived.style`).
pub fn style_value(d: &Derived, name: &str) -> Option<f64> {
    d.style.iter().find(|f| f.name == name).map(|f| f.value)
}

pub fn preferences(state: &ProfileState, d: &Derived) -> Preferences {
    let mut p = Preferences::default();
    if let Some(f) = d.signals.iter().find(|s| s.name == "style.formality") {
        p.formality_score = f.mean;
        p.formality = if f.mean >= 0.6 {
            "formal"
        } else if f.mean <= 0.4 {
            "informal"
        } else {
            "neutral"
        }
        .into();
    }
    let vy = style_value(d, "rate.you_formal").unwrap_or(0.0);
    let ty = style_value(d, "rate.you_informal").unwrap_or(0.0);
    if vy + ty > 0.0 {
        p.address = if vy >= ty { "vy" } else { "ty" }.into();
    }
    if let Some(w) = style_value(d, "words_per_message") {
        p.words_per_message = w;
        p.detail = if w < 25.0 {
            "brief"
        } else if w > 80.0 {
            "detailed"
        } else {
            "moderate"
        }
        .into();
    }
    if let Some(r) = d
        .behaviour
        .iter()
        .find(|f| f.name == "reply_latency_seconds")
    {
        p.reply_latency_seconds = r.value;
        p.pace = if r.value <= 300.0 {
            "fast"
        } else if r.value <= 4.0 * 3600.0 {
            "steady"
        } else {
            "slow"
        }
        .into();
    }
    p.channel = top(&d.channel_mix).unwrap_or_default();
    p.language = top(&d.languages).unwrap_or_default();
    let total: f64 = state.hour_of_day.iter().sum();
    if total > 0.0 {
        let mut hours: Vec<(u32, f64)> = state
            .hour_of_day
            .iter()
            .enumerate()
            .map(|(h, w)| (h as u32, w / total))
            .filter(|(_, s)| *s >= 0.1)
            .collect();
        hours.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        p.hours = hours.into_iter().take(3).map(|(h, _)| h).collect();
    }
    p
}

fn top(m: &BTreeMap<String, f64>) -> Option<String> {
    m.iter()
        .filter(|(k, _)| !k.starts_with("switch"))
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k.clone())
}

/// How sure a preference is from how many messages show it: 1 - e^(-n/5).
fn support(n: f64) -> f64 {
    1.0 - (-n / 5.0).exp()
}

fn recommendations(
    state: &ProfileState,
    d: &Derived,
    traits: &[TraitScore],
    p: &Preferences,
) -> Vec<Recommendation> {
    let n = state.messages.n as f64;
    let mut out: Vec<(Advice, f64, Vec<Contribution>)> = Vec::new();
    let signal = |name: &str| d.signals.iter().find(|s| s.name == name);
    let snippets = |signal: &str| -> Vec<Contribution> {
        state
            .evidence
            .get(signal)
            .map(|items| {
                items
                    .iter()
                    .take(2)
                    .map(|e| Contribution {
                        kind: "message".into(),
                        name: signal.into(),
                        message_id: e.message_id.clone(),
                        at: e.at,
                        text: e.text.clone(),
                        value: e.score,
                        contribution: 0.0,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Register: mirror it.
    if p.formality == "formal" || p.address == "vy" {
        let c = (p
            .formality_score
            .max(if p.address == "vy" { 0.8 } else { 0.0 }))
            * support(n);
        let mut ev = vec![Contribution::feature(
            "style.formality",
            p.formality_score,
            c,
        )];
        ev.extend(snippets("style.formality"));
        out.push((Advice::UseFormalAddress, c, ev));
    } else if p.formality == "informal" || p.address == "ty" {
        let c =
            (1.0 - p.formality_score).max(if p.address == "ty" { 0.8 } else { 0.0 }) * support(n);
        out.push((
            Advice::UseInformalAddress,
            c,
            vec![Contribution::feature(
                "style.formality",
                p.formality_score,
                c,
            )],
        ));
    }
    match p.detail.as_str() {
        "brief" => out.push((
            Advice::BeBrief,
            support(n) * 0.9,
            vec![Contribution::feature(
                "words_per_message",
                p.words_per_message,
                1.0,
            )],
        )),
        "detailed" => out.push((
            Advice::GiveDetail,
            support(n) * 0.9,
            vec![Contribution::feature(
                "words_per_message",
                p.words_per_message,
                1.0,
            )],
        )),
        _ => {}
    }
    let trait_p = |name: &str| {
        traits
            .iter()
            .find(|t| t.name == name && !t.abstained)
            .map(|t| t.p_high)
    };
    let trait_ev = |name: &str| -> Vec<Contribution> {
        traits
            .iter()
            .find(|t| t.name == name)
            .map(|t| {
                let mut v = vec![Contribution::feature(
                    &format!("trait.{name}"),
                    t.score,
                    t.p_high,
                )];
                v.extend(t.evidence.iter().take(1).cloned());
                v
            })
            .unwrap_or_default()
    };
    // Feelings: negative emotion in their messages, or high neuroticism.
    let negative = ["emotions.anger", "emotions.sadness", "emotions.fear"]
        .iter()
        .filter_map(|s| signal(s).map(|x| (s, x.mean, x.count)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((name, mean, count)) = negative.filter(|x| x.1 >= 0.25) {
        let c = (mean * 2.0).min(1.0) * support(count as f64);
        let mut ev = vec![Contribution::feature(name, mean, c)];
        ev.extend(snippets(name));
        out.push((Advice::AcknowledgeFeelings, c, ev));
    } else if let Some(ph) = trait_p("neuroticism").filter(|p| *p >= 0.65) {
        out.push((Advice::AcknowledgeFeelings, ph, trait_ev("neuroticism")));
    }
    if let Some(ph) = trait_p("neuroticism").filter(|p| *p >= 0.65) {
        out.push((Advice::Reassure, ph, trait_ev("neuroticism")));
    } else if let Some(f) = signal("emotions.fear").filter(|f| f.mean >= 0.25) {
        let c = (f.mean * 2.0).min(1.0) * support(f.count as f64);
        let mut ev = vec![Contribution::feature("emotions.fear", f.mean, c)];
        ev.extend(snippets("emotions.fear"));
        out.push((Advice::Reassure, c, ev));
    }
    if let Some(ph) = trait_p("conscientiousness").filter(|p| *p >= 0.65) {
        out.push((
            Advice::GiveClearStructure,
            ph,
            trait_ev("conscientiousness"),
        ));
    }
    let emotional = signal("style.emotionality").map(|s| s.mean);
    if let Some(e) = emotional.filter(|e| *e <= 0.35) {
        let c = (1.0 - e) * support(n) * 0.8;
        out.push((
            Advice::LeadWithFacts,
            c,
            vec![Contribution::feature("style.emotionality", e, c)],
        ));
    } else if let Some(ph) = trait_p("agreeableness").filter(|p| *p <= 0.35) {
        out.push((Advice::LeadWithFacts, 1.0 - ph, trait_ev("agreeableness")));
    }
    let warm = [trait_p("agreeableness"), trait_p("extraversion")]
        .into_iter()
        .flatten()
        .fold(0.0f64, f64::max);
    if warm >= 0.65 {
        let name = if trait_p("agreeableness") == Some(warm) {
            "agreeableness"
        } else {
            "extraversion"
        };
        out.push((Advice::KeepItWarm, warm, trait_ev(name)));
    }
    // Channel, calls and escalations.
    let call = d.channel_mix.get("call").copied().unwrap_or(0.0);
    let escalations = state.events.get("escalation").map_or(0, |s| s.n);
    if call >= 0.3 || escalations > 0 {
        let c = (call.max(if escalations > 0 { 0.7 } else { 0.0 })) * support(n.max(1.0));
        let mut ev = vec![Contribution::feature("channel_mix.call", call, c)];
        if escalations > 0 {
            ev.push(Contribution {
                kind: "event".into(),
                name: "escalation".into(),
                value: escalations as f64,
                contribution: 0.7,
                ..Default::default()
            });
        }
        out.push((Advice::OfferCallback, c, ev));
    }
    if let Some(share) = d.channel_mix.get(&p.channel).filter(|s| **s >= 0.6) {
        if d.channel_mix.len() > 1 || n >= 5.0 {
            let c = share * support(n);
            out.push((
                Advice::UseTheirChannel,
                c,
                vec![Contribution::feature(
                    &format!("channel_mix.{}", p.channel),
                    *share,
                    c,
                )],
            ));
        }
    }
    if let Some(share) = d.languages.get(&p.language) {
        if p.language != "en" && !p.language.is_empty() && *share >= 0.5 {
            out.push((
                Advice::WriteInTheirLanguage,
                *share,
                vec![Contribution::feature(
                    &format!("languages.{}", p.language),
                    *share,
                    *share,
                )],
            ));
        }
    }
    if p.pace == "fast" {
        let c = 0.8 * support(state.reply_latency.n as f64);
        out.push((
            Advice::ReplyQuickly,
            c,
            vec![Contribution::feature(
                "reply_latency_seconds",
                p.reply_latency_seconds,
                c,
            )],
        ));
    }
    let total: f64 = state.hour_of_day.iter().sum();
    if total > 0.0 && n >= 5.0 {
        let share =
            |from: usize, to: usize| state.hour_of_day[from..to].iter().sum::<f64>() / total;
        for (advice, from, to, name) in [
            (Advice::ContactInTheMorning, 6, 12, "hours.06-12"),
            (Advice::ContactInTheAfternoon, 12, 18, "hours.12-18"),
            (Advice::ContactInTheEvening, 18, 24, "hours.18-24"),
        ] {
            let s = share(from, to);
            if s >= 0.5 {
                let c = s * support(n);
                out.push((advice, c, vec![Contribution::feature(name, s, c)]));
            }
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.into_iter()
        .filter(|(_, c, _)| *c >= 0.3)
        .map(|(kind, confidence, evidence)| {
            let (text_en, text_ru) = kind.texts();
            Recommendation {
                kind,
                text_en,
                text_ru,
                confidence: confidence.clamp(0.0, 1.0),
                evidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::behaviour::derive;
    use crate::profile::traits::{Measurement, TraitModel};
    use crate::profile::MessageRecord;
    use rand::{Rng, SeedableRng};

    const T0: f64 = 1_780_000_000.0;

    fn model(m: Measurement) -> TraitModel {
        TraitModel {
            version: "synthetic".into(),
            level: 0.8,
            min_words: 100.0,
            fitted_languages: vec!["en".into()],
            other_language_loading: 0.5,
            measurement: vec![m; 5],
            lexical: None,
        }
    }

    fn gauss(rng: &mut rand::rngs::StdRng) -> f64 {
        let (a, b): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }

    /// A customer with latent traits `z` writes `words` words in 30-word messages; each
    /// message's logit follows the estimator's own assumptions: m + a z + the person's own
    /// offset (variance psi, fixed for the person) + noise of variance s2 / 30.
    fn customer(
        z: &[f64; 5],
        m: &Measurement,
        words: usize,
        rng: &mut rand::rngs::StdRng,
    ) -> ProfileState {
        let person: [f64; 5] = std::array::from_fn(|_| m.psi.sqrt() * gauss(rng));
        let mut state = ProfileState::new(0.0);
        let per = 30usize;
        let records: Vec<MessageRecord> = (0..words / per)
            .map(|i| MessageRecord {
                id: format!("m{i}"),
                at: T0 + i as f64 * 60.0,
                channel: "chat".into(),
                own: true,
                analysed: true,
                language: "en".into(),
                words: per as u64,
                signals: [("sentiment.score".to_string(), 0.0)].into(),
                traits: TRAITS
                    .iter()
                    .enumerate()
                    .map(|(k, t)| {
                        let noise = (m.s2 / per as f64).sqrt() * gauss(rng);
                        (t.to_string(), m.m0 + m.a * z[k] + person[k] + noise)
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        state.fold_messages(&records.iter().collect::<Vec<_>>());
        state
    }

    #[test]
    fn synthetic_customers_are_recovered_and_intervals_cover_at_their_level() {
        // A world where language says a lot (a = 1, a small floor): at 3,000 words the
        // estimates must find the people again, and the intervals hold the truth 80% of the
        // time, whatever the amount of text.
        let m = Measurement {
            m0: -0.2,
            m1: 0.0,
            a: 1.0,
            psi: 0.05,
            s2: 300.0,
        };
        let tm = model(m.clone());
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        for (words, min_r) in [(3_000usize, 0.8), (300, 0.0)] {
            let (mut truth, mut est, mut covered, mut n) = (Vec::new(), Vec::new(), 0usize, 0usize);
            for _ in 0..400 {
                let z: [f64; 5] = std::array::from_fn(|_| gauss(&mut rng));
                let state = customer(&z, &m, words, &mut rng);
                let d = derive(&state, T0 + 86_400.0);
                for (k, t) in big_five(&state, &d, &tm).iter().enumerate() {
                    assert!(!t.abstained);
                    let pct = crate::profile::traits::phi(z[k]);
                    truth.push(z[k]);
                    est.push(t.posterior.expect("estimated").mean);
                    covered += usize::from(t.lower <= pct && pct <= t.upper);
                    n += 1;
                }
            }
            let r = crate::train::metrics::pearson(&truth, &est);
            let coverage = covered as f64 / n as f64;
            assert!(r >= min_r, "{words} words: recovery r = {r:.3}");
            assert!(
                (coverage - 0.8).abs() <= 0.05,
                "{words} words: coverage {coverage:.3}"
            );
        }
    }

    #[test]
    fn too_few_words_abstain_and_one_message_stays_within_the_interval() {
        let m = Measurement {
            m0: 0.0,
            m1: 0.0,
            a: 0.4,
            psi: 0.3,
            s2: 200.0,
        };
        let tm = model(m.clone());
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let z = [1.5, -1.0, 0.5, 0.0, -2.0];
        let short = customer(&z, &m, 60, &mut rng);
        let d = derive(&short, T0 + 86_400.0);
        let est = big_five(&short, &d, &tm);
        assert!(est
            .iter()
            .all(|t| t.abstained && t.note.contains("estimates start at 100")));
        // A customer with 1,200 words, then one more (extreme) message: no trait leaves its
        // interval.
        let mut state = customer(&z, &m, 1_200, &mut rng);
        let d = derive(&state, T0 + 86_400.0);
        let before = big_five(&state, &d, &tm);
        let extreme = MessageRecord {
            id: "extreme".into(),
            at: T0 + 90_000.0,
            own: true,
            analysed: true,
            language: "en".into(),
            words: 60,
            traits: TRAITS.iter().map(|t| (t.to_string(), 4.0)).collect(),
            ..Default::default()
        };
        state.fold_messages(&[&extreme]);
        let d = derive(&state, T0 + 90_000.0);
        let after = big_five(&state, &d, &tm);
        for (b, a) in before.iter().zip(&after) {
            assert!(
                b.lower <= a.score && a.score <= b.upper,
                "{}: {:.3} -> {:.3} outside [{:.3}, {:.3}]",
                b.name,
                b.score,
                a.score,
                b.lower,
                b.upper
            );
        }
    }
}
