//! Lexical cues a task head may take beside the embedding (head.json `inputs`): the request
//! strategies of Danescu-Niculescu-Mizil et al. (2013), whose presence features drove their
//! politeness SVM, plus a few style cues (contractions, caps, lower-case start, length), in English
//! and Russian, so an English-trained head reads the same cue in a Russian message.
//!
//! Presence indicators (0 or 1), as in the 2013 paper, and one graded length: the same cue weighs
//! the same in a chat line and in a long email. Positions are sentence starts ("Please send ..." is
//! a different strategy from "... send it, please"). The vector's layout is [`NAMES`]; a change to
//! what any cue means must change [`VERSION`], which heads record and the server checks.
use std::collections::HashSet;
use std::ops::Range;

use super::features::{
    features_of_tokens, ru_imperative, tokenize, Token, I_FORMS, TY_FORMS, VY_FORMS, WE_FORMS,
    YOU_EN,
};
use super::lexicon::IMPERATIVES;

/// Names the layout and meaning of [`cues`]; recorded by every head that takes them.
pub const VERSION: &str = "cues-v2";

/// One name per value of [`cues`], in order.
pub const NAMES: [&str; 30] = [
    "gratitude",
    "deference",
    "greeting",
    "apology",
    "please",
    "please_start",
    "by_the_way",
    "direct_question",
    "direct_start",
    "counterfactual_modal",
    "indicative_modal",
    "first_person_start",
    "first_person_plural",
    "first_person",
    "second_person",
    "second_person_start",
    "hedge",
    "factuality",
    "question",
    "exclamation",
    "negation",
    "intensifier",
    "imperative_start",
    "urgency",
    "caps_word",
    "emoticon",
    "contraction",
    "lowercase_start",
    "address_formality",
    "length",
];

/// Number of cues.
pub const LEN: usize = NAMES.len();

/// One text's cues, laid out as [`NAMES`].
pub type Cues = [f32; LEN];

const DEFERENCE: &[&str] = &[
    "great",
    "good",
    "nice",
    "interesting",
    "cool",
    "excellent",
    "awesome",
    "wonderful",
    "отлично",
    "отличный",
    "отличная",
    "прекрасно",
    "хорошо",
    "хороший",
    "хорошая",
    "замечательно",
    "интересно",
    "интересный",
    "классно",
    "круто",
    "супер",
];
const GREETING: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "greetings",
    "morning",
    "здравствуйте",
    "здравствуй",
    "привет",
    "приветствую",
    "добрый",
    "доброе",
    "доброго",
    "уважаемый",
    "уважаемая",
    "уважаемые",
];
const PLEASE: &[&str] = &["please", "pls", "plz", "kindly", "пожалуйста", "плиз"];
const BY_THE_WAY: &[&[&str]] = &[
    &["by", "the", "way"],
    &["btw"],
    &["кстати"],
    &["между", "прочим"],
];
const WH_WORDS: &[&str] = &[
    "what",
    "why",
    "who",
    "how",
    "where",
    "when",
    "which",
    "whose",
    "что",
    "почему",
    "зачем",
    "кто",
    "как",
    "где",
    "когда",
    "какой",
    "какая",
    "какое",
    "какие",
    "куда",
    "откуда",
    "сколько",
    "чего",
];
const DIRECT_START: &[&str] = &[
    "so", "then", "and", "but", "or", "так", "и", "но", "а", "или", "ну",
];
const COUNTERFACTUAL: &[&[&str]] = &[
    &["could", "you"],
    &["would", "you"],
    &["could", "u"],
    &["would", "u"],
    &["могли", "бы"],
    &["могла", "бы"],
    &["мог", "бы"],
    &["не", "сложно"],
    &["будьте", "добры"],
];
const INDICATIVE: &[&[&str]] = &[
    &["can", "you"],
    &["will", "you"],
    &["can", "u"],
    &["will", "u"],
    &["можете"],
    &["можешь"],
    &["сможете"],
    &["сможешь"],
];
const FACTUALITY: &[&[&str]] = &[
    &["in", "fact"],
    &["actually"],
    &["the", "point"],
    &["the", "reality"],
    &["the", "truth"],
    &["obviously"],
    &["clearly"],
    &["на", "самом", "деле"],
    &["вообще-то"],
    &["очевидно"],
    &["фактически"],
];
/// Second-person forms, English and Russian (Вы and ты alike).
fn second_person(w: &str) -> bool {
    YOU_EN.contains(&w) || VY_FORMS.contains(&w) || TY_FORMS.contains(&w)
}
fn first_singular(w: &str) -> bool {
    I_FORMS.contains(&w)
}

fn phrase_at(words: &[&str], i: usize, phrases: &[&[&str]]) -> bool {
    phrases
        .iter()
        .any(|p| words.len() - i >= p.len() && p.iter().zip(&words[i..]).all(|(a, b)| a == b))
}

/// The cues of one text, laid out as [`NAMES`].
pub fn cues(text: &str, sentences: &[Range<usize>]) -> Cues {
    let tokens = tokenize(text);
    let f = features_of_tokens(text, &tokens, sentences);
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    // index of each sentence's first word
    let first_of = |s: &Range<usize>| tokens.partition_point(|t: &Token| t.range.start < s.start);
    let starts: HashSet<usize> = sentences
        .iter()
        .map(first_of)
        .filter(|&i| i < tokens.len())
        .collect();
    let at_start = |is: &dyn Fn(&str) -> bool| starts.iter().any(|&i| is(words[i]));
    let in_list = |list: &'static [&'static str]| move |w: &str| list.contains(&w);
    let anywhere = |phrases: &[&[&str]]| (0..words.len()).any(|i| phrase_at(&words, i, phrases));
    let elsewhere =
        |is: &dyn Fn(&str) -> bool| (0..words.len()).any(|i| !starts.contains(&i) && is(words[i]));
    let imperative_start = starts.iter().any(|&i| {
        let w = words[i];
        IMPERATIVES.contains_word(w) || ru_imperative(w)
    });
    let lowercase_start = text
        .chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(char::is_lowercase);
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let n = |x: usize| b(x > 0);
    [
        n(f.thanks),
        b(at_start(&in_list(DEFERENCE))),
        b(at_start(&in_list(GREETING))),
        n(f.apologies),
        b(elsewhere(&in_list(PLEASE))),
        b(at_start(&in_list(PLEASE))),
        b(anywhere(BY_THE_WAY)),
        b(at_start(&in_list(WH_WORDS))),
        b(at_start(&in_list(DIRECT_START))),
        b(anywhere(COUNTERFACTUAL)),
        b(anywhere(INDICATIVE)),
        b(at_start(&first_singular)),
        b(words.iter().any(|w| WE_FORMS.contains(w))),
        b(elsewhere(&first_singular)),
        b(elsewhere(&second_person)),
        b(at_start(&second_person)),
        n(f.hedges),
        b(anywhere(FACTUALITY)),
        n(f.questions),
        b(text.contains('!')),
        n(f.negations),
        n(f.intensifiers),
        b(imperative_start || (n(f.politeness) > 0.0 && f.imperatives > 0)),
        n(f.urgency),
        n(f.caps_words),
        n(f.emoji + f.emoticons_positive + f.emoticons_negative),
        b(words.iter().any(|w| w.contains('\'') && w.is_ascii())),
        b(lowercase_start),
        f.address_formality(),
        ((1 + f.words) as f32).ln() / 5.0,
    ]
}

/// [`cues`] of a text split into sentences by the pipeline's splitter: the same for a corpus
/// text in training and for the text a message's encoder saw in serving.
pub fn cues_of(text: &str) -> Cues {
    cues(text, &super::sentences::split_sentences(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(text: &str) -> Vec<&'static str> {
        let c = cues_of(text);
        NAMES
            .iter()
            .zip(c)
            .filter(|(n, v)| *v == 1.0 && **n != "length")
            .map(|(n, _)| *n)
            .collect()
    }

    fn assert_on(text: &str, cues: &[&str]) {
        let found = on(text);
        for cue in cues {
            assert!(
                found.contains(cue),
                "{cue} missing from {found:?} of {text:?}"
            );
        }
    }

    #[test]
    fn request_strategies_in_english() {
        let polite = "Hi! Could you please take a look at my edit? Thanks in advance.";
        let cues = ["greeting", "counterfactual_modal", "please", "gratitude"];
        assert_on(polite, &cues);
        assert!(!on(polite).contains(&"please_start"));
        let blunt = "Why did you revert it? So what's the point of the rule";
        let cues = [
            "direct_question",
            "direct_start",
            "second_person",
            "factuality",
        ];
        assert_on(blunt, &cues);
        assert_on(blunt, &["contraction", "question"]);
        assert!(!on(blunt).contains(&"gratitude"));
        assert_on(
            "Please send the file.",
            &["please_start", "imperative_start"],
        );
        assert_on("send it pls", &["lowercase_start", "please"]);
    }

    #[test]
    fn the_same_cues_in_russian() {
        let polite = "Здравствуйте! Не могли бы Вы, пожалуйста, проверить заказ? Спасибо.";
        let cues = [
            "greeting",
            "counterfactual_modal",
            "please",
            "gratitude",
            "negation",
        ];
        assert_on(polite, &cues);
        let c = cues_of("Почему ты опять ничего не сделал?");
        let at = |name: &str| c[NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("direct_question"), 1.0);
        assert_eq!(at("address_formality"), -1.0);
        assert_eq!(at("second_person"), 1.0);
    }

    #[test]
    fn person_and_imperative_cues_read_the_text_features_word_lists() {
        // Every form the features count as first or second person is that cue here too.
        for w in I_FORMS {
            assert_on(&format!("Thanks, {w} see."), &["first_person"]);
        }
        for w in YOU_EN.iter().chain(VY_FORMS).chain(TY_FORMS) {
            assert_on(&format!("Thanks, {w} see."), &["second_person"]);
        }
        for w in WE_FORMS {
            assert_on(&format!("Thanks, {w} see."), &["first_person_plural"]);
        }
        // "Смотрите, ..." is a discourse marker shaped like an imperative; "Пришлите" is one.
        assert!(!on("Смотрите, заказ так и не пришёл").contains(&"imperative_start"));
        assert_on("Пришлите чек.", &["imperative_start"]);
    }

    #[test]
    fn empty_text_has_no_cues() {
        assert!(cues_of("").iter().all(|v| *v == 0.0));
        assert_eq!(cues_of("ok").len(), LEN);
    }
}
