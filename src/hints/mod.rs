//! Live dialogue hints (LiveAssist): one session per running conversation, its state (smoothed
//! trajectories, escalation risk, agent metrics), the hint rules and their English and Russian
//! texts. Transport-free: `grpc::live` converts. docs/live.md documents every rule.
//!
//! The flow of one turn: analysis (the same engine as Analyze) -> [`cues`] (lexical cues of the
//! turn) -> [`state`] (what the turn changes and shows) -> [`rules`] (which hints it raises or
//! withdraws) -> [`texts`].
pub mod cues;
pub mod rules;
pub mod service;
pub mod state;
pub mod texts;

/// The typed hint kinds; clients rely on their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HintKind {
    EscalationRisk,
    CustomerFrustrated,
    ToneMismatch,
    MissingEmpathy,
    UnansweredQuestion,
    SlowReply,
    PositiveMoment,
    SuggestStyle,
    AbusiveLanguage,
}

impl HintKind {
    pub const ALL: [HintKind; 9] = [
        HintKind::EscalationRisk,
        HintKind::CustomerFrustrated,
        HintKind::ToneMismatch,
        HintKind::MissingEmpathy,
        HintKind::UnansweredQuestion,
        HintKind::SlowReply,
        HintKind::PositiveMoment,
        HintKind::SuggestStyle,
        HintKind::AbusiveLanguage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HintKind::EscalationRisk => "ESCALATION_RISK",
            HintKind::CustomerFrustrated => "CUSTOMER_FRUSTRATED",
            HintKind::ToneMismatch => "TONE_MISMATCH",
            HintKind::MissingEmpathy => "MISSING_EMPATHY",
            HintKind::UnansweredQuestion => "UNANSWERED_QUESTION",
            HintKind::SlowReply => "SLOW_REPLY",
            HintKind::PositiveMoment => "POSITIVE_MOMENT",
            HintKind::SuggestStyle => "SUGGEST_STYLE",
            HintKind::AbusiveLanguage => "ABUSIVE_LANGUAGE",
        }
    }

    pub fn parse(s: &str) -> Option<HintKind> {
        HintKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// The language hint texts are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

/// One hint for the agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    /// Unique within the session ("h3").
    pub id: String,
    pub kind: HintKind,
    pub severity: Severity,
    pub confidence: f32,
    pub text: String,
    pub language: Lang,
    /// The turns that triggered it.
    pub turn_ids: Vec<String>,
    /// The signals behind it with their values ("emotions.anger=0.81", "cue:threat").
    pub signals: Vec<String>,
}
