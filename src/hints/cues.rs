//! Lexical cues of one turn, read from its redacted text: the word lists under
//! `models/lexicons/` (threats, waiting, acknowledgements, ...) and the content words that tell a
//! repeated complaint or an answered question.
use std::collections::BTreeSet;

use crate::{
    analysis::MessageAnalysis,
    text::{
        features::tokenize,
        lexicon::{
            ACKNOWLEDGEMENTS, CHEERFUL, LEAVING, NUDGES, OUTRAGE, REPEATED, RESOLVED, SLANG,
            THREATS, WAITING,
        },
    },
};

/// Content words are compared on their first letters: a crude stem that joins "refund" and
/// "refunded", "возврат" and "возврата".
const STEM_CHARS: usize = 5;

/// Function words of four letters or more that say nothing about the topic.
const STOPWORDS: &[&str] = &[
    "this",
    "that",
    "with",
    "have",
    "from",
    "your",
    "what",
    "when",
    "where",
    "which",
    "there",
    "they",
    "them",
    "their",
    "would",
    "could",
    "should",
    "about",
    "been",
    "were",
    "will",
    "just",
    "please",
    "thanks",
    "thank",
    "hello",
    "here",
    "also",
    "into",
    "only",
    "some",
    "very",
    "like",
    "know",
    "want",
    "need",
    "does",
    "doesn't",
    "don't",
    "can't",
    "it's",
    "i'm",
    "you're",
    "sorry",
    "still",
    "again",
    "today",
    "then",
    "than",
    "these",
    "those",
    "being",
    "because",
    "after",
    "before",
    "okay",
    "yes",
    "sure",
    "help",
    "make",
    "made",
    "tell",
    "told",
    "said",
    "этот",
    "этого",
    "это",
    "который",
    "которая",
    "чтобы",
    "когда",
    "почему",
    "есть",
    "было",
    "была",
    "будет",
    "можно",
    "нужно",
    "пожалуйста",
    "спасибо",
    "здравствуйте",
    "меня",
    "мне",
    "вас",
    "вам",
    "ваш",
    "ваша",
    "ваше",
    "ваши",
    "вашей",
    "наш",
    "наша",
    "если",
    "уже",
    "ещё",
    "еще",
    "тоже",
    "очень",
    "только",
    "сейчас",
    "просто",
    "сегодня",
    "опять",
    "снова",
    "тогда",
    "потому",
    "после",
    "чего",
    "этом",
    "этой",
    "всё",
    "все",
    "себя",
    "свой",
    "свою",
    "моей",
    "мой",
    "моя",
    "мою",
    "моего",
    "хотел",
    "хотела",
    "хочу",
    "могу",
    "можете",
    "подскажите",
];

const QUESTION_OPENERS: &[&str] = &[
    "how",
    "why",
    "when",
    "where",
    "what",
    "which",
    "who",
    "can",
    "could",
    "is",
    "are",
    "do",
    "does",
    "will",
    "как",
    "почему",
    "когда",
    "где",
    "что",
    "какой",
    "какая",
    "какие",
    "сколько",
    "зачем",
    "можно",
    "кто",
    "куда",
    "ли",
];

const YES_NO: &[&str] = &[
    "yes",
    "no",
    "yeah",
    "nope",
    "sure",
    "correct",
    "exactly",
    "да",
    "нет",
    "конечно",
    "верно",
    "точно",
    "разумеется",
];

/// Cue counts of one turn (on its redacted words).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnCues {
    /// Threats to escalate or complain (strong whatever the tone).
    pub threats: usize,
    /// Cancelling or switching provider (an escalation cue on an upset turn only).
    pub leaving: usize,
    pub outrage: usize,
    pub waiting: usize,
    pub acknowledgements: usize,
    pub cheerful: usize,
    pub slang: usize,
    pub nudges: usize,
    pub resolved: usize,
    pub repeated: usize,
    /// "but", "но", "however", "однако": a thank-you before a complaint.
    pub contrast: bool,
    /// The turn asks something ("?" or a sentence opening with a question word).
    pub question: bool,
    /// Every sentence of the turn is a question (an agent asking back, not answering).
    pub only_questions: bool,
    /// Yes/no words or numbers: the shape of an answer.
    pub answer_like: bool,
    /// Stems of the content words.
    pub content: BTreeSet<String>,
    /// The first question sentence (redacted), for the hint text.
    pub question_text: Option<String>,
}

pub fn cues(a: &MessageAnalysis) -> TurnCues {
    let text = &a.text.redacted;
    let tokens = tokenize(text);
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    let f = &a.text.features;
    let mut question_text = None;
    let mut questions = 0;
    for s in &a.text.sentences {
        let sentence = s.text.trim();
        let first = tokenize(sentence).into_iter().next().map(|t| t.lower);
        let asks = sentence.ends_with('?')
            || sentence.contains('?')
            || first.is_some_and(|w| QUESTION_OPENERS.contains(&w.as_str()));
        if asks {
            questions += 1;
            question_text.get_or_insert_with(|| sentence.chars().take(120).collect::<String>());
        }
    }
    let sentences = a.text.sentences.len().max(1);
    TurnCues {
        threats: THREATS.count(&words),
        leaving: LEAVING.count(&words),
        outrage: OUTRAGE.count(&words),
        waiting: WAITING.count(&words),
        acknowledgements: ACKNOWLEDGEMENTS.count(&words),
        cheerful: CHEERFUL.count(&words),
        slang: SLANG.count(&words),
        nudges: NUDGES.count(&words),
        resolved: RESOLVED.count(&words),
        repeated: REPEATED.count(&words),
        contrast: words
            .iter()
            .any(|w| matches!(*w, "but" | "however" | "но" | "однако" | "зато")),
        question: questions > 0,
        only_questions: questions > 0 && questions == sentences,
        answer_like: f.numbers > 0 || words.iter().any(|w| YES_NO.contains(w)),
        content: content_stems(&words),
        question_text,
    }
}

fn content_stems(words: &[&str]) -> BTreeSet<String> {
    words
        .iter()
        .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .filter(|w| !STOPWORDS.contains(w))
        // Placeholders of redacted personal data ("EMAIL", "PHONE") say nothing of the topic.
        .filter(|w| {
            !matches!(
                **w,
                "email" | "phone" | "card" | "name" | "address" | "passport"
            )
        })
        .map(|w| w.chars().take(STEM_CHARS).collect())
        .collect()
}

/// Shared stems of two turns.
pub fn overlap(a: &BTreeSet<String>, b: &BTreeSet<String>) -> usize {
    a.intersection(b).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_join_word_forms_and_skip_function_words() {
        let s = content_stems(&["refund", "refunded", "this", "возврат", "возврата", "мне"]);
        assert_eq!(
            s.into_iter().collect::<Vec<_>>(),
            vec!["refun".to_string(), "возвр".to_string()]
        );
    }
}
