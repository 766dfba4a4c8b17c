//! The state of one running conversation: smoothed trajectories per side, the escalation risk,
//! agent metrics, open questions and what a turn showed ([`Observed`]), for the rules.
//!
//! Everything here is O(1) per turn and bounded in memory: smoothed values, counters, and at
//! most [`KEPT`] recent complaints and open questions.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{
    cues::{overlap, TurnCues},
    Lang,
};
use crate::analysis::{Channel, MessageAnalysis};

/// Weight of the newest turn in the smoothed values.
pub const ALPHA: f32 = 0.5;
/// Recent complaints and open questions kept.
pub const KEPT: usize = 8;
/// A chat reply slower than this (seconds) is slow; Zendesk and Intercom benchmarks put a good
/// chat first response under two minutes.
pub const SLOW_CHAT_SECONDS: f64 = 120.0;
/// Silence on a call before the agent answers, in seconds.
pub const SLOW_CALL_SECONDS: f64 = 10.0;

/// Emotions tracked per side.
const EMOTIONS: [&str; 6] = ["anger", "disgust", "fear", "joy", "sadness", "surprise"];

/// Which side of the conversation wrote a turn (bots count as the agent side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Customer,
    Agent,
}

/// A running mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mean {
    pub sum: f64,
    pub n: u32,
}

impl Mean {
    fn add(&mut self, x: f32) {
        self.sum += x as f64;
        self.n += 1;
    }

    pub fn get(&self) -> Option<f32> {
        (self.n > 0).then(|| (self.sum / self.n as f64) as f32)
    }
}

/// One side's smoothed trajectory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideState {
    pub turns: u32,
    pub sentiment: Option<f32>,
    pub emotions: BTreeMap<String, f32>,
    /// Smoothed turn frustration ([`Observed::frustration`] for the customer).
    pub frustration: f32,
    pub politeness: Mean,
    pub formality: Mean,
    pub you_formal: u32,
    pub you_informal: u32,
    /// Greetings, "please", deference markers so far.
    pub politeness_markers: u32,
    pub words: u64,
    pub talk_seconds: f64,
}

impl SideState {
    /// +1 all "Вы", -1 all "ты", 0 neither.
    pub fn address(&self) -> f32 {
        let n = self.you_formal + self.you_informal;
        if n == 0 {
            0.0
        } else {
            (self.you_formal as f32 - self.you_informal as f32) / n as f32
        }
    }

    pub fn words_per_turn(&self) -> f32 {
        if self.turns == 0 {
            0.0
        } else {
            self.words as f32 / self.turns as f32
        }
    }

    fn smooth(old: Option<f32>, new: f32) -> f32 {
        old.map_or(new, |o| ALPHA * new + (1.0 - ALPHA) * o)
    }

    fn fold(&mut self, a: &MessageAnalysis, sentiment: Option<f32>, frustration: f32) {
        let first = self.turns == 0;
        self.turns += 1;
        if let Some(s) = sentiment {
            self.sentiment = Some(Self::smooth(self.sentiment, s));
        }
        for (label, p) in &a.results.emotions {
            if EMOTIONS.contains(&label.as_str()) {
                let old = self.emotions.get(label).copied();
                self.emotions.insert(label.clone(), Self::smooth(old, *p));
            }
        }
        self.frustration = if first {
            frustration
        } else {
            Self::smooth(Some(self.frustration), frustration)
        };
        let style = &a.results.style;
        if let Some(p) = &style.politeness {
            self.politeness.add(p.value);
        }
        if let Some(f) = &style.formality {
            self.formality.add(f.value);
        }
        let f = &a.text.features;
        self.you_formal += f.you_formal as u32;
        self.you_informal += f.you_informal as u32;
        self.politeness_markers += f.politeness as u32;
        self.words += f.words as u64;
    }

    /// Formal (1), informal (-1) or neither (0), from address and the formality head.
    pub fn register(&self) -> i8 {
        register(self.address(), self.formality.get())
    }
}

/// Formal (1), informal (-1) or neither (0), from Russian address (+1 all "Вы" .. -1 all "ты")
/// and the formality head's mean: the same rule for a conversation and a stored profile.
pub fn register(address: f32, formality: Option<f32>) -> i8 {
    if address > 0.3 || formality.is_some_and(|f| f >= 0.65) {
        1
    } else if address < -0.3 || formality.is_some_and(|f| f <= 0.3) {
        -1
    } else {
        0
    }
}

/// The customer's stored profile, as far as the rules use it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baseline {
    /// Mean and standard deviation of the customer's sentiment score over stored messages.
    pub sentiment_mean: f32,
    pub sentiment_sd: f32,
    pub messages: u64,
    /// Stored formality (mean of the head), address (+1 "Вы" .. -1 "ты") and words per message.
    pub formality: Option<f32>,
    pub address: f32,
    pub words_per_message: f32,
    /// The language most of the stored messages are in, where rapport writes hints in it.
    pub language: Option<Lang>,
}

/// A customer question the agent has not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenQuestion {
    pub turn_id: String,
    pub text: String,
    pub content: BTreeSet<String>,
}

/// Agent metrics so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentMetrics {
    pub reply_seconds: Mean,
    pub last_reply_seconds: Option<f64>,
    pub apologies: u32,
    pub acknowledgements: u32,
    pub interruptions: u32,
}

/// What one turn showed, for the rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub side: Option<Side>,
    pub turn_id: String,
    /// Sentiment after the sarcasm and "thanks, but" corrections.
    pub sentiment: Option<f32>,
    /// A positive score read as its opposite: praise words beside waiting or negation cues, or
    /// a thank-you followed by "but" and a complaint.
    pub sarcasm: bool,
    /// Customer turns: frustration of this turn in [0, 1] and the signals behind it.
    pub frustration: f32,
    pub frustration_signals: Vec<String>,
    pub threat: bool,
    /// An earlier customer turn this one repeats (the same complaint again).
    pub repeats: Option<String>,
    pub toxicity: f32,
    /// Customer turns: why the turn reads clearly positive (thanks, relief, joy), if it does.
    pub positive: Vec<String>,
    /// A customer asking again: the earlier question's turn id.
    pub reasked: Option<String>,
    /// Seconds the customer had been waiting for a reply when this turn came (customer nudge or
    /// agent reply), where that is known.
    pub waited: Option<f64>,
    pub nudge: bool,
    /// Agent turns: the customer feeling left without acknowledgement (turn id, strength,
    /// signals).
    pub unacknowledged: Option<(String, f32, Vec<String>)>,
    pub acknowledged: bool,
    /// Agent turns: why the register clashes with the customer's, if it does.
    pub informal_to_formal: Vec<String>,
    pub cheerful_to_upset: Vec<String>,
    /// Agent turns: open questions this reply left unanswered, and those it answered.
    pub unanswered: Vec<OpenQuestion>,
    pub answered: Vec<String>,
    pub interrupted: bool,
}

/// The conversation so far.
#[derive(Clone, Debug, Default)]
pub struct Conversation {
    pub channel: Channel,
    pub language: Option<Lang>,
    pub customer: SideState,
    pub agent: SideState,
    pub baseline: Option<Baseline>,
    pub agent_metrics: AgentMetrics,
    pub risk: f32,
    /// Threat cue level, decaying by half each customer turn.
    threat_level: f32,
    /// A reply over the channel's norm was seen (or the customer said they wait), decaying.
    waiting_level: f32,
    /// Repetition level, decaying.
    repeat_level: f32,
    /// The first customer turn since the agent's last reply: (time, end of the utterance).
    waiting_since: Option<(f64, Option<f64>)>,
    last_customer_end: Option<f64>,
    last_agent_at: Option<f64>,
    customer_latency: Mean,
    complaints: VecDeque<(String, BTreeSet<String>)>,
    pub open_questions: VecDeque<OpenQuestion>,
    asked: VecDeque<OpenQuestion>,
    /// The customer's feeling since the agent's last turn, awaiting acknowledgement.
    pending_feeling: Option<(String, f32, Vec<String>)>,
}

/// One turn as the state sees it.
pub struct TurnView<'a> {
    pub id: &'a str,
    pub side: Side,
    pub analysis: &'a MessageAnalysis,
    pub cues: &'a TurnCues,
    /// Unix seconds, when known and in order.
    pub at: Option<f64>,
    /// Call utterance offsets (start, end), seconds.
    pub span: Option<(f64, f64)>,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Conversation {
    pub fn new(channel: Channel, language: Option<Lang>, baseline: Option<Baseline>) -> Self {
        Conversation {
            channel,
            language,
            baseline,
            ..Default::default()
        }
    }

    /// Mean seconds from an agent's turn to the customer's next (chat pace).
    pub fn customer_reply_seconds(&self) -> Option<f32> {
        self.customer_latency.get()
    }

    /// The text of a question the customer asked, by its turn id.
    pub fn asked_text(&self, turn_id: &str) -> Option<String> {
        self.asked
            .iter()
            .find(|q| q.turn_id == turn_id)
            .map(|q| q.text.clone())
    }

    pub fn is_call(&self) -> bool {
        self.channel == Channel::CallTranscript
    }

    /// The customer's smoothed sentiment against their stored baseline, in standard deviations.
    pub fn baseline_deviation(&self) -> f32 {
        match (&self.baseline, self.customer.sentiment) {
            (Some(b), Some(s)) if b.messages >= 3 => {
                (s - b.sentiment_mean) / b.sentiment_sd.max(0.2)
            }
            _ => 0.0,
        }
    }

    /// Folds one analysed turn in and says what it showed.
    pub fn observe(&mut self, t: &TurnView) -> Observed {
        if self.language.is_none() && t.side == Side::Customer {
            self.language = Lang::parse(&t.analysis.language.code);
        }
        let mut o = Observed {
            side: Some(t.side),
            turn_id: t.id.to_string(),
            toxicity: t
                .analysis
                .results
                .toxicity
                .as_ref()
                .map_or(0.0, |s| s.value),
            ..Default::default()
        };
        let raw = t.analysis.sentiment.as_ref().map(|s| s.score);
        let c = t.cues;
        // Praise words beside waiting or negation ("Great, another week without internet.
        // Just great.") and "thanks, but ... again" read as complaints, whatever the head says.
        let f = &t.analysis.text.features;
        o.sarcasm = raw.is_some_and(|s| s > 0.2)
            && ((c.cheerful > 0 && (c.waiting > 0 || f.negations > 0) && c.resolved == 0)
                || (c.contrast && (c.waiting > 0 || f.negations > 0)));
        o.sentiment = match raw {
            Some(s) if o.sarcasm => Some(-s.abs().max(0.3)),
            Some(s) => Some(s),
            // No language: emoji and emoticons still say something.
            None => {
                let pos = f.emoji_positive + f.emoticons_positive;
                let neg = f.emoji_negative + f.emoticons_negative;
                (pos + neg > 0).then(|| (pos as f32 - neg as f32) / (pos + neg) as f32)
            }
        };
        // Call timing: talk time and interruptions.
        if let Some((start, end)) = t.span {
            let side = match t.side {
                Side::Customer => &mut self.customer,
                Side::Agent => &mut self.agent,
            };
            side.talk_seconds += (end - start).max(0.0);
            if t.side == Side::Agent && self.last_customer_end.is_some_and(|e| start < e - 0.3) {
                o.interrupted = true;
                self.agent_metrics.interruptions += 1;
            }
        }
        match t.side {
            Side::Customer => self.observe_customer(t, &mut o),
            Side::Agent => self.observe_agent(t, &mut o),
        }
        o
    }

    fn observe_customer(&mut self, t: &TurnView, o: &mut Observed) {
        let a = t.analysis;
        let c = t.cues;
        let f = &a.text.features;
        // Waiting: the first unanswered customer turn starts the clock; on a call the silence
        // counts from the end of the customer's last utterance.
        let when = t.at.or(t.span.map(|s| s.0));
        if let (Some(at), Some(agent)) = (when, self.last_agent_at.take()) {
            if at >= agent {
                self.customer_latency.add((at - agent) as f32);
            }
        }
        if let (Some(at), Some((since, end))) = (when, self.waiting_since) {
            let waited = match (t.span, end) {
                (Some((start, _)), Some(end)) => start - end,
                _ => at - since,
            };
            if waited > 0.0 {
                o.waited = Some(waited);
                o.nudge = c.nudges > 0 && f.words <= 8;
            }
        }
        if self.waiting_since.is_none() {
            if let Some(at) = when {
                self.waiting_since = Some((at, None));
            }
        }
        if let Some((_, end)) = t.span {
            self.last_customer_end = Some(end);
            if let Some(w) = &mut self.waiting_since {
                w.1 = Some(end);
            }
        }

        let negative = o.sentiment.is_some_and(|s| s < -0.2);
        // The model's reading of frustration, and the cues that heads trained on other
        // domains under-read (issue 20: anger on support messages is ranked well but scored
        // low). Outrage words and "this is the third time" weigh double.
        let model = a
            .results
            .tone("frustrated")
            .max(a.results.emotion("anger"))
            .max(0.8 * a.results.emotion("disgust"));
        let mut signals = vec![format!("model={model:.2}")];
        let mut cue_weight = 0usize;
        let mut cue = |on: bool, weight: usize, name: &str| {
            if on {
                cue_weight += weight;
                signals.push(format!("cue:{name}"));
            }
        };
        cue(
            f.caps_words >= 2 || (f.caps_ratio >= 0.5 && f.words >= 3),
            1,
            "caps",
        );
        cue(
            f.repeated_punctuation > 0 || f.exclamations >= 2,
            1,
            "exclamations",
        );
        cue(c.waiting > 0, 1, "waiting");
        cue(c.repeated > 0, 2, "repeated");
        cue(c.outrage > 0, 2, "outrage");
        cue(c.threats > 0, 1, "threat");
        cue(
            f.emoji_negative + f.emoticons_negative > 0,
            1,
            "negative_emoji",
        );
        cue(o.sarcasm, 1, "sarcasm");
        let strong = o.sentiment.is_some_and(|s| s <= -0.5);
        let from_cues = if negative || o.sarcasm {
            0.25 + 0.2 * cue_weight.min(3) as f32 + if strong { 0.1 } else { 0.0 }
        } else if cue_weight >= 2 {
            0.2 * cue_weight.min(3) as f32
        } else {
            0.0
        };
        let from_model = if negative || model >= 0.5 {
            model
        } else {
            0.5 * model
        };
        let frustration = from_model.max(from_cues).clamp(0.0, 1.0);
        if let Some(s) = o.sentiment {
            signals.push(format!("sentiment={s:.2}"));
        }
        o.frustration = frustration;
        o.frustration_signals = signals;
        o.threat = c.threats > 0 || (c.leaving > 0 && (negative || frustration >= 0.3));
        let joy = a.results.emotion("joy");
        if o.sentiment.is_some_and(|s| s >= 0.5) && !o.sarcasm && c.waiting == 0 && !o.threat {
            let cues = [
                (f.thanks > 0, "cue:thanks".to_string()),
                (c.resolved > 0, "cue:resolved".to_string()),
                (joy >= 0.5, format!("emotions.joy={joy:.2}")),
                (
                    f.emoji_positive + f.emoticons_positive > 0,
                    "cue:positive_emoji".to_string(),
                ),
            ];
            o.positive = cues
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, s)| s)
                .collect();
            if !o.positive.is_empty() {
                o.positive
                    .push(format!("sentiment={:.2}", o.sentiment.unwrap_or(0.0)));
            }
        }

        // The same complaint again: a negative turn sharing topic words with an earlier one.
        if negative {
            o.repeats = self
                .complaints
                .iter()
                .find(|(_, words)| overlap(words, &c.content) >= 2)
                .map(|(id, _)| id.clone());
            if o.repeats.is_none() && c.repeated > 0 && !self.complaints.is_empty() {
                o.repeats = self.complaints.back().map(|(id, _)| id.clone());
            }
            push_bounded(&mut self.complaints, (t.id.to_string(), c.content.clone()));
        }

        // Questions: a re-ask, then this turn's own question.
        if c.question {
            let again = |q: &OpenQuestion| {
                let shared = overlap(&q.content, &c.content);
                shared >= 2 && shared * 2 >= q.content.len().min(c.content.len()).max(1)
            };
            o.reasked = self
                .open_questions
                .iter()
                .chain(self.asked.iter())
                .find(|q| again(q) || c.repeated > 0)
                .map(|q| q.turn_id.clone());
            if o.reasked.is_none() {
                let q = OpenQuestion {
                    turn_id: t.id.to_string(),
                    text: c.question_text.clone().unwrap_or_default(),
                    content: c.content.clone(),
                };
                push_bounded(&mut self.open_questions, q.clone());
                push_bounded(&mut self.asked, q);
            }
        }

        // Feeling awaiting acknowledgement: frustration, worry or grief.
        let fear = a.results.emotion("fear");
        let sadness = a.results.emotion("sadness");
        let feeling = if frustration >= 0.5 {
            frustration
        } else {
            fear.max(sadness)
        };
        if negative && (frustration >= 0.5 || fear.max(sadness) >= 0.35) {
            let mut why = o.frustration_signals.clone();
            if fear >= 0.3 {
                why.push(format!("emotions.fear={fear:.2}"));
            }
            if sadness >= 0.3 {
                why.push(format!("emotions.sadness={sadness:.2}"));
            }
            let stronger = self
                .pending_feeling
                .as_ref()
                .is_none_or(|(_, s, _)| feeling > *s);
            if stronger {
                self.pending_feeling = Some((t.id.to_string(), feeling, why));
            }
        }

        self.customer.fold(a, o.sentiment, frustration);
        self.threat_level = (0.5 * self.threat_level).max(if o.threat { 1.0 } else { 0.0 });
        let waited_long = o.waited.is_some_and(|w| w > SLOW_CHAT_SECONDS) && !self.is_call();
        self.waiting_level = (0.5 * self.waiting_level).max(
            if (c.waiting > 0 && frustration >= 0.55) || waited_long || o.nudge {
                1.0
            } else {
                0.0
            },
        );
        self.repeat_level =
            (0.5 * self.repeat_level).max(if o.repeats.is_some() { 1.0 } else { 0.0 });
        self.risk = self.escalation_risk(o);
    }

    /// Probability of escalation after a customer turn: a logistic score over the smoothed
    /// frustration and sentiment, threats, repetition, waiting, toxicity and the baseline
    /// deviation. The weights follow the guidelines (eval/live/README.md): a threat, or
    /// frustration with a repeated complaint or a long wait, reaches 0.5; frustration or
    /// waiting alone does not. They were set by hand on the dev conversations;
    /// EVAL.md reports how well this is calibrated on the scripted conversations.
    fn escalation_risk(&self, o: &Observed) -> f32 {
        let neg = (-self.customer.sentiment.unwrap_or(0.0)).max(0.0);
        let below_baseline = (-self.baseline_deviation() - 1.0).clamp(0.0, 2.0);
        let positive_now = o.sentiment.is_some_and(|s| s >= 0.5) && !o.sarcasm;
        let z = -3.5
            + 2.5 * self.customer.frustration
            + 1.0 * neg
            + 3.0 * self.threat_level
            + 1.8 * self.repeat_level
            + 2.0 * self.waiting_level
            + 1.5 * o.toxicity
            + 0.4 * below_baseline
            - if positive_now { 1.5 } else { 0.0 };
        sigmoid(z)
    }

    fn observe_agent(&mut self, t: &TurnView, o: &mut Observed) {
        let a = t.analysis;
        let c = t.cues;
        let f = &a.text.features;
        // Reply latency: from the first unanswered customer turn (chat), or the silence after
        // the customer's last utterance (call).
        if let Some((since, end)) = self.waiting_since.take() {
            let waited = match (t.span, end) {
                (Some((start, _)), Some(end)) => Some(start - end),
                _ => t.at.or(t.span.map(|s| s.0)).map(|at| at - since),
            };
            if let Some(w) = waited.filter(|w| *w >= 0.0) {
                o.waited = Some(w);
                self.agent_metrics.reply_seconds.add(w as f32);
                self.agent_metrics.last_reply_seconds = Some(w);
            }
        }
        self.last_agent_at = t.at.or(t.span.map(|s| s.1));
        // The text pipeline counts apologies already (`features.apologies`).
        o.acknowledged = c.acknowledgements > 0 || f.apologies > 0;
        if f.apologies > 0 {
            self.agent_metrics.apologies += 1;
        }
        if c.acknowledgements > 0 {
            self.agent_metrics.acknowledgements += 1;
        }
        if let Some(p) = self.pending_feeling.take() {
            if !o.acknowledged {
                o.unacknowledged = Some(p);
            }
        }

        // Register: an informal agent to a formal customer, an upbeat one to an upset customer.
        // An informal agent to a customer who writes formally, or politely without being
        // familiar: "ты", slang and emoji are the markers (two needed for the latter).
        let customer_register = self.customer.register();
        let polite = self.customer.politeness_markers > 0 && self.customer.you_informal == 0;
        let mut why = Vec::new();
        if f.you_informal > 0 && self.customer.you_informal == 0 {
            why.push(format!("agent.you_informal={}", f.you_informal));
        }
        if c.slang > 0 {
            why.push("cue:slang".to_string());
        }
        if f.emoji > 0 {
            why.push(format!("agent.emoji={}", f.emoji));
        }
        let informal = match customer_register {
            1 => !why.is_empty(),
            0 => polite && why.len() >= 2,
            _ => false,
        };
        if informal {
            why.push(format!("customer.address={:.2}", self.customer.address()));
            if let Some(fm) = self.customer.formality.get() {
                why.push(format!("customer.style.formality={fm:.2}"));
            }
            o.informal_to_formal = why;
        }
        let upset =
            self.customer.sentiment.is_some_and(|s| s <= -0.3) || self.customer.frustration >= 0.45;
        if upset {
            let joy = a.results.emotion("joy");
            let exclaim = f.exclamations > 0;
            let cheerful = (c.cheerful > 0 && exclaim)
                || c.cheerful >= 2
                || f.emoji_positive + f.emoticons_positive > 0
                || (joy >= 0.6 && exclaim && !o.acknowledged);
            if cheerful && !o.acknowledged {
                o.cheerful_to_upset = vec![
                    format!(
                        "customer.sentiment={:.2}",
                        self.customer.sentiment.unwrap_or(0.0)
                    ),
                    format!("agent.emotions.joy={joy:.2}"),
                    "cue:cheerful".to_string(),
                ];
            }
        }

        // Open questions: addressed when the reply shares a topic word or has the shape of an
        // answer. An agent asking back about something else leaves it unanswered; a statement
        // on another topic may still answer it in other words, so that one is only judged by the
        // customer's next turn (a re-ask).
        for q in std::mem::take(&mut self.open_questions) {
            let addressed =
                overlap(&q.content, &c.content) >= 1 || (c.answer_like && !c.only_questions);
            if addressed {
                // An answered question asked again is a new question, not a re-ask.
                self.asked.retain(|a| a.turn_id != q.turn_id);
                o.answered.push(q.turn_id.clone());
            } else if c.only_questions {
                o.unanswered.push(q);
            }
        }

        self.agent.fold(a, o.sentiment, 0.0);
    }
}

fn push_bounded<T>(v: &mut VecDeque<T>, x: T) {
    if v.len() == KEPT {
        v.pop_front();
    }
    v.push_back(x);
}
