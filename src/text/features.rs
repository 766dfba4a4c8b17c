//! Lexical and stylometric features of a text, English and Russian.
//!
//! Counts are raw; [`Features::rate`] turns one into a rate per word. Pronouns: first person
//! singular (I, я) and plural (we, мы), second person (you, вы, ты); in Russian the formal "вы"
//! forms and the informal "ты" forms are counted apart as a formality signal, and "Вы"/"Ваш"
//! capitalised inside a sentence (the deferential spelling) separately again.
use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::lexicon::{
    APOLOGIES, FILLERS, HEDGES, IMPERATIVES, INTENSIFIERS, NEGATIONS, POLITENESS, THANKS, URGENCY,
};
use super::sentences::is_emoji;

/// A word token: a byte range and its lower-case form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub range: Range<usize>,
    pub lower: String,
}

/// Word tokens: runs of letters and digits, with inner apostrophes and hyphens ("don't", "по-моему").
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let inner_joiner = (matches!(c, '\'' | '’' | '-')
            && start.is_some()
            && iter.peek().is_some_and(|(_, n)| n.is_alphanumeric()))
            || (c == '.'
                && start
                    .is_some_and(|s| text[s..i].chars().all(char::is_alphabetic) && i - s <= 4)
                && iter.peek().is_some_and(|(_, n)| n.is_alphabetic()));
        if c.is_alphanumeric() || inner_joiner {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push(Token {
                range: s..i,
                lower: text[s..i].to_lowercase().replace('’', "'"),
            });
        }
    }
    if let Some(s) = start {
        out.push(Token {
            range: s..text.len(),
            lower: text[s..].to_lowercase().replace('’', "'"),
        });
    }
    out
}

/// Features of one text. Counts are occurrences; `*_ratio` and `mean_*` are as named.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    pub chars: usize,
    pub words: usize,
    pub sentences: usize,
    pub mean_word_chars: f32,
    pub mean_sentence_words: f32,
    /// Distinct lower-case words / words (on at most the first 1,000 words, so it is comparable).
    pub type_token_ratio: f32,
    pub pronoun_i: usize,
    pub pronoun_we: usize,
    pub pronoun_you: usize,
    /// Russian "вы/вас/вам/ваш..." forms (formal or plural address).
    pub you_formal: usize,
    /// Russian "ты/тебя/тебе/твой..." forms (informal address).
    pub you_informal: usize,
    /// "Вы", "Вас", "Ваш" capitalised inside a sentence: deferential formal address.
    pub you_capitalised: usize,
    pub hedges: usize,
    pub intensifiers: usize,
    pub politeness: usize,
    pub apologies: usize,
    pub thanks: usize,
    pub negations: usize,
    pub urgency: usize,
    pub imperatives: usize,
    pub questions: usize,
    pub exclamations: usize,
    pub numbers: usize,
    pub emoji: usize,
    pub emoji_positive: usize,
    pub emoji_negative: usize,
    pub emoticons_positive: usize,
    pub emoticons_negative: usize,
    /// Letters stretched for emphasis: "sooo", "оооочень", "pleeease".
    pub elongations: usize,
    /// Runs such as "!!", "?!", "????", "....".
    pub repeated_punctuation: usize,
    pub punctuation: usize,
    /// Words of 3+ letters written all in capitals ("URGENT", "ВЕРНИТЕ").
    pub caps_words: usize,
    /// Upper-case letters / letters.
    pub caps_ratio: f32,
    /// Fillers and disfluencies (um, uh, ну, э-э, типа) and repeated words ("I I").
    pub fillers: usize,
    pub repetitions: usize,
}

impl Features {
    /// `count` per word (0 for an empty text).
    pub fn rate(&self, count: usize) -> f32 {
        if self.words == 0 {
            0.0
        } else {
            count as f32 / self.words as f32
        }
    }

    /// A formality signal in [-1, 1] from the forms of address: +1 all formal ("Вы"), -1 all
    /// informal ("ты"); 0 when neither is used (English has no such distinction).
    pub fn address_formality(&self) -> f32 {
        let (f, i) = (self.you_formal as f32, self.you_informal as f32);
        if f + i == 0.0 {
            0.0
        } else {
            (f - i) / (f + i)
        }
    }
}

pub(super) const I_FORMS: &[&str] = &[
    "i",
    "me",
    "my",
    "mine",
    "myself",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "я",
    "меня",
    "мне",
    "мной",
    "мною",
    "мой",
    "моя",
    "моё",
    "мое",
    "мои",
    "моего",
    "моей",
    "моему",
    "моих",
    "моим",
    "моими",
    "мою",
];
pub(super) const WE_FORMS: &[&str] = &[
    "we",
    "us",
    "our",
    "ours",
    "ourselves",
    "we're",
    "we've",
    "we'd",
    "we'll",
    "мы",
    "нас",
    "нам",
    "нами",
    "наш",
    "наша",
    "наше",
    "наши",
    "нашего",
    "нашей",
    "нашему",
    "наших",
    "нашим",
    "нашими",
    "нашу",
];
pub(super) const YOU_EN: &[&str] = &[
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "you're",
    "you've",
    "you'd",
    "you'll",
    "u",
    "ur",
];
pub(super) const VY_FORMS: &[&str] = &[
    "вы",
    "вас",
    "вам",
    "вами",
    "ваш",
    "ваша",
    "ваше",
    "ваши",
    "вашего",
    "вашей",
    "вашему",
    "ваших",
    "вашим",
    "вашими",
    "вашу",
];
pub(super) const TY_FORMS: &[&str] = &[
    "ты",
    "тебя",
    "тебе",
    "тобой",
    "тобою",
    "твой",
    "твоя",
    "твоё",
    "твое",
    "твои",
    "твоего",
    "твоей",
    "твоему",
    "твоих",
    "твоим",
    "твоими",
    "твою",
];
/// Words that end like Russian imperatives but are not.
const NOT_IMPERATIVE: &[&str] = &[
    "здравствуйте",
    "простите",
    "извините",
    "скажите",
    "смотрите",
];

/// A lower-cased Russian word shaped like a plural or polite imperative ("пришлите", "сделайте").
pub(super) fn ru_imperative(w: &str) -> bool {
    (w.ends_with("йте") || w.ends_with("ите"))
        && w.chars().count() > 4
        && !NOT_IMPERATIVE.contains(&w)
}

const EMOJI_POSITIVE: &[char] = &[
    '😀', '😃', '😄', '😁', '😆', '😊', '🙂', '😉', '😍', '🥰', '😘', '👍', '👌', '🙏', '🎉', '❤',
    '💕', '💖', '😇', '🤗', '✅', '💯', '🔥', '😂', '🤣', '👏', '☺', '😌', '🌹', '🙌', '🥳', '😎',
    '💪', '✨',
];
const EMOJI_NEGATIVE: &[char] = &[
    '😠', '😡', '🤬', '😞', '😢', '😭', '😤', '👎', '💔', '😒', '🙁', '☹', '😩', '😫', '😣', '😖',
    '😔', '😟', '😕', '🤦', '😱', '😰', '🤮', '💩', '❌', '🙄', '😑', '🥶', '🥵', '😬', '😿', '😨',
    '😧', '🤢',
];

static EMOTICON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?P<neg> >:-?\( | :'-?\( | [:;=]-?\(+ | \({2,} | D: | :-?/ | :\| )
      | (?P<pos> [:;=8]-?[)\]DPpЗз*]+ | \){2,} | \^_*\^ | <3 | \b[xX]D\b )
    ",
    )
    .unwrap()
});
static REPEATED_PUNCT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[!?]{2,}|\.{4,}|[!?]+1+").unwrap());
static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(?:[.,]\d+)?").unwrap());

fn has_elongation(word: &str) -> bool {
    let mut run = 1;
    let mut prev: Option<char> = None;
    for c in word.chars() {
        if Some(c) == prev && c.is_alphabetic() {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else {
            run = 1;
        }
        prev = Some(c);
    }
    false
}

/// Computes the features of `text` given its sentences (byte ranges into `text`).
pub fn features(text: &str, sentences: &[Range<usize>]) -> Features {
    features_of_tokens(text, &tokenize(text), sentences)
}

/// [`features`] of `text` already cut into its word `tokens` (as [`tokenize`] cuts it).
pub fn features_of_tokens(text: &str, tokens: &[Token], sentences: &[Range<usize>]) -> Features {
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    let mut f = Features {
        chars: text.chars().count(),
        words: tokens.len(),
        sentences: sentences.len(),
        ..Features::default()
    };
    if !tokens.is_empty() {
        f.mean_word_chars = tokens
            .iter()
            .map(|t| t.lower.chars().count())
            .sum::<usize>() as f32
            / tokens.len() as f32;
        let head = &words[..words.len().min(1000)];
        let distinct: HashSet<&&str> = head.iter().collect();
        f.type_token_ratio = distinct.len() as f32 / head.len() as f32;
    }
    if !sentences.is_empty() {
        f.mean_sentence_words = tokens.len() as f32 / sentences.len() as f32;
    }
    // Sentence starts, to tell a capitalised "Вы" that is deferential from one that opens a sentence.
    let first_token = |s: &Range<usize>| tokens.partition_point(|t| t.range.start < s.start);
    let sentence_starts: HashSet<usize> = sentences
        .iter()
        .filter_map(|s| tokens.get(first_token(s)).map(|t| t.range.start))
        .collect();
    let mut prev_word: Option<&str> = None;
    for t in tokens {
        let w = t.lower.as_str();
        let orig = &text[t.range.clone()];
        if I_FORMS.contains(&w) {
            f.pronoun_i += 1;
        } else if WE_FORMS.contains(&w) {
            f.pronoun_we += 1;
        } else if YOU_EN.contains(&w) {
            f.pronoun_you += 1;
        } else if VY_FORMS.contains(&w) {
            f.pronoun_you += 1;
            f.you_formal += 1;
            if orig.starts_with('В') && !sentence_starts.contains(&t.range.start) {
                f.you_capitalised += 1;
            }
        } else if TY_FORMS.contains(&w) {
            f.pronoun_you += 1;
            f.you_informal += 1;
        }
        if has_elongation(w) && !w.chars().all(|c| c.is_ascii_digit()) && w != "www" {
            f.elongations += 1;
        }
        let letters = orig.chars().filter(|c| c.is_alphabetic()).count();
        if letters >= 3
            && orig.chars().all(|c| !c.is_lowercase())
            && !matches!(
                orig,
                "EMAIL" | "PHONE" | "CARD" | "IBAN" | "SNILS" | "INN" | "PASSPORT" | "URL"
            )
        {
            f.caps_words += 1;
        }
        if prev_word == Some(w) && w.chars().any(char::is_alphabetic) {
            f.repetitions += 1;
        }
        prev_word = Some(w);
    }
    f.hedges = HEDGES.count(&words);
    f.intensifiers = INTENSIFIERS.count(&words);
    f.politeness = POLITENESS.count(&words);
    f.apologies = APOLOGIES.count(&words);
    f.thanks = THANKS.count(&words);
    f.negations = NEGATIONS.count(&words);
    f.urgency = URGENCY.count(&words);
    f.fillers = FILLERS.count(&words);
    for s in sentences {
        let st = text[s.clone()].trim_end();
        if st.contains('?') {
            f.questions += 1;
        }
        if st.ends_with('!') || st.contains("!!") {
            f.exclamations += 1;
        }
        // An imperative among the first words ("Please send", "Срочно заблокируйте"), in a
        // sentence that is not a question, and not after a subject pronoun ("вы говорите").
        let first: Vec<&Token> = tokens[first_token(s)..]
            .iter()
            .take_while(|t| t.range.end <= s.end)
            .take(3)
            .collect();
        if !st.contains('?') {
            let mut lead = first.iter().take_while(|t| {
                !matches!(
                    t.lower.as_str(),
                    "вы" | "ты" | "you" | "i" | "я" | "we" | "мы"
                )
            });
            let imperative = lead.any(|t| {
                let w = t.lower.as_str();
                ru_imperative(w)
                    || (IMPERATIVES.contains_word(w) && t.range.start == first[0].range.start)
                    || (IMPERATIVES.contains_word(w) && POLITENESS.contains_word(&first[0].lower))
            });
            if imperative {
                f.imperatives += 1;
            }
        }
    }
    f.numbers = NUMBER.find_iter(text).count();
    let mut letters = 0usize;
    let mut upper = 0usize;
    for c in text.chars() {
        if is_emoji(c) {
            f.emoji += 1;
            if EMOJI_POSITIVE.contains(&c) {
                f.emoji_positive += 1;
            } else if EMOJI_NEGATIVE.contains(&c) {
                f.emoji_negative += 1;
            }
        } else if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            }
        } else if c.is_ascii_punctuation() || matches!(c, '…' | '«' | '»' | '—' | '–' | '“' | '”')
        {
            f.punctuation += 1;
        }
    }
    if letters > 0 {
        f.caps_ratio = upper as f32 / letters as f32;
    }
    for c in EMOTICON.captures_iter(text) {
        if c.name("pos").is_some() {
            f.emoticons_positive += 1;
        } else {
            f.emoticons_negative += 1;
        }
    }
    f.repeated_punctuation = REPEATED_PUNCT.find_iter(text).count();
    f
}

#[cfg(test)]
mod tests {
    use super::super::sentences::split_sentences;
    use super::*;

    fn feat(t: &str) -> Features {
        features(t, &split_sentences(t))
    }

    #[test]
    fn english_style() {
        let f =
            feat("Please send me the refund ASAP!!! I think I was charged twice. Sorry, thanks :)");
        assert_eq!(f.imperatives, 1);
        assert_eq!(f.pronoun_i, 3);
        assert_eq!(f.hedges, 1);
        assert_eq!(f.urgency, 1);
        assert_eq!(f.caps_words, 1);
        assert_eq!(f.repeated_punctuation, 1);
        assert_eq!((f.apologies, f.thanks), (1, 1));
        assert_eq!(f.emoticons_positive, 1);
    }

    #[test]
    fn russian_address_and_elongation() {
        let f = feat("Здравствуйте! Не могли бы Вы проверить заказ? Это оооочень срочно)))");
        assert_eq!((f.you_formal, f.you_capitalised, f.you_informal), (1, 1, 0));
        assert!(f.address_formality() > 0.9);
        assert_eq!(f.elongations, 1);
        assert_eq!(f.urgency, 1);
        assert!(f.politeness >= 2);
        assert_eq!(f.emoticons_positive, 1);
        let g = feat("Слушай, верни деньги, ты же обещал(((");
        assert_eq!(g.you_informal, 1);
        assert_eq!(g.emoticons_negative, 1);
        assert!(g.address_formality() < -0.9);
        assert_eq!(feat("Верните деньги немедленно!").imperatives, 1);
    }
}
