//! Sentence segmentation for English and Russian.
//!
//! Rule based and linear: a boundary is terminal punctuation (`.`, `!`, `?`, `…`, and runs of
//! them) or a run of emoji, followed by whitespace and a sentence start (upper-case letter,
//! digit, quote, bracket, emoji); a blank line; or a line break after a short or terminated line.
//! Not a boundary: known abbreviations (Mr., e.g., т.е., т.к., г., ул.), initials ("А. С."),
//! decimals and URLs (no whitespace after the dot).
use std::ops::Range;

/// Abbreviations (lower case, without the final dot) after which a dot does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    // English
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "eg",
    "ie",
    "inc",
    "ltd",
    "co",
    "corp",
    "no",
    "nos",
    "approx",
    "fig",
    "dept",
    "est",
    "mt",
    "ave",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "a.m",
    "p.m",
    "u.s",
    "u.k",
    "ref",
    "tel",
    "ext",
    "attn",
    "cf",
    "al",
    // Russian
    "т.е",
    "т.к",
    "т.д",
    "т.п",
    "т.н",
    "т.о",
    "т.ч",
    "г",
    "гг",
    "ул",
    "д",
    "кв",
    "стр",
    "руб",
    "коп",
    "тыс",
    "млн",
    "млрд",
    "им",
    "см",
    "др",
    "пр",
    "проф",
    "доц",
    "акад",
    "напр",
    "мин",
    "сек",
    "ч",
    "п",
    "пп",
    "рис",
    "табл",
    "обл",
    "р-н",
    "пос",
    "пер",
    "просп",
    "корп",
    "эт",
    "тел",
    "моб",
    "доб",
    "вх",
    "исх",
    "зам",
    "нач",
    "ген",
    "дир",
    "гр",
    "ср",
    "англ",
    "рус",
];

/// Is `c` an emoji or pictograph (the ranges that carry emoji in practice)?
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F300..=0x1F5FF | 0x1F600..=0x1F64F | 0x1F680..=0x1F6FF | 0x1F900..=0x1F9FF
        | 0x1FA70..=0x1FAFF | 0x2600..=0x26FF | 0x2700..=0x27BF | 0x1F1E6..=0x1F1FF
        | 0x2B50 | 0x2B55 | 0x1F004 | 0x1F0CF | 0x1F170..=0x1F251)
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '‼' | '⁉')
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '»' | '”' | '’' | '\u{FE0F}' | '\u{200D}'
    )
}

fn starts_sentence(c: char) -> bool {
    c.is_uppercase()
        || c.is_ascii_digit()
        || matches!(c, '"' | '«' | '“' | '(' | '[' | '-' | '—' | '–' | '¿' | '¡')
        || is_emoji(c)
}

/// The word right before byte `dot` (letters, digits and inner dots), lower-cased.
fn word_before(text: &str, dot: usize) -> (usize, String) {
    let before = &text[..dot];
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '.' || *c == '-')
        .last()
        .map(|(i, _)| i)
        .unwrap_or(dot);
    (start, before[start..].to_lowercase())
}

/// Abbreviations that often end a sentence too ("... 350 руб. Курьер", "... and so on, etc. Then"):
/// after them a dot ends the sentence when an upper-case word follows.
const CAN_END: &[&str] = &[
    "etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "руб", "коп", "тыс", "млн", "млрд", "т.д",
    "т.п", "др", "гг",
];

/// Whether the dot after `word` (lower case) may end a sentence before `next` (the next char).
fn abbreviation_blocks(text: &str, (word_start, word): (usize, &str), next: char) -> bool {
    if !is_abbreviation(word) {
        return false;
    }
    let trimmed = word.trim_start_matches('.');
    if CAN_END.contains(&trimmed) {
        return !next.is_uppercase();
    }
    // "г." after a year ("в 2024 г. Мы") can end a sentence; "г. Москва" cannot.
    if trimmed == "г" {
        // (Lower-casing can change a word's length: slice at the original start.)
        let before = text[..word_start].trim_end();
        if before.ends_with(|c: char| c.is_ascii_digit()) {
            return !next.is_uppercase();
        }
    }
    true
}

fn is_abbreviation(word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let mut chars = word.chars();
    let first = chars.next().unwrap_or(' ');
    // A single letter: an initial ("J. Smith", "А. С. Пушкин") or a Russian "г."/"д.".
    if chars.next().is_none() && first.is_alphabetic() {
        return true;
    }
    let trimmed = word.trim_start_matches('.');
    ABBREVIATIONS.contains(&trimmed)
        // "т.е" style: letters separated by dots
        || (trimmed.contains('.') && trimmed.split('.').all(|p| p.chars().count() <= 2 && !p.is_empty()))
}

/// Sentence ranges in `text` (trimmed of surrounding whitespace; empty sentences dropped).
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let mut i = 0usize;
    let mut line_start = 0usize;
    while i < n {
        let (pos, c) = chars[i];
        if c == '\n' {
            // Blank line, or a line break after a short or terminated line: boundary.
            let line = text[line_start..pos].trim_end();
            let next_blank = i + 1 < n && chars[i + 1].1 == '\n';
            let next_char = chars[i + 1..]
                .iter()
                .map(|(_, c)| *c)
                .find(|c| *c != ' ' && *c != '\t');
            let continues = line.chars().count() >= 60
                && next_char.is_some_and(|c| c.is_lowercase())
                && !line.ends_with(is_terminal);
            if next_blank || !continues {
                push(text, start..pos, &mut out);
                start = pos + 1;
            }
            line_start = pos + 1;
            i += 1;
            continue;
        }
        let terminal = is_terminal(c);
        let emoji = is_emoji(c);
        if terminal || emoji {
            // Consume the run of terminals / emoji / closers.
            let mut j = i + 1;
            while j < n
                && (is_terminal(chars[j].1) || is_closing(chars[j].1) || is_emoji(chars[j].1))
            {
                j += 1;
            }
            let end = if j < n { chars[j].0 } else { text.len() };
            // Needs whitespace after the run, then a sentence start (or the end of text).
            let mut k = j;
            let mut saw_space = false;
            while k < n && (chars[k].1 == ' ' || chars[k].1 == '\t') {
                saw_space = true;
                k += 1;
            }
            let at_end = k >= n || chars[k].1 == '\n';
            let boundary = if at_end {
                terminal || emoji
            } else if !saw_space || !starts_sentence(chars[k].1) {
                false
            } else if c == '.' && j == i + 1 {
                // A single dot: not after an abbreviation or an initial.
                let (word_start, word) = word_before(text, pos);
                !abbreviation_blocks(text, (word_start, &word), chars[k].1)
            } else {
                true
            };
            if boundary {
                push(text, start..end, &mut out);
                start = end;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    push(text, start..text.len(), &mut out);
    out
}

fn push(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    if range.start >= range.end {
        return;
    }
    let s = &text[range.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    let r = range.start + lead..range.end - trail;
    if r.start < r.end {
        out.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(t: &str) -> Vec<&str> {
        split_sentences(t).into_iter().map(|r| &t[r]).collect()
    }

    #[test]
    fn english_abbreviations_decimals_urls() {
        assert_eq!(
            sents(
                "Mr. Smith paid 3.50 USD, e.g. by card. See https://example.com/a.b?x=1. Thanks!"
            ),
            vec![
                "Mr. Smith paid 3.50 USD, e.g. by card.",
                "See https://example.com/a.b?x=1.",
                "Thanks!"
            ]
        );
    }

    #[test]
    fn russian_abbreviations() {
        assert_eq!(
            sents("Я живу в г. Москва, ул. Ленина, т.е. в центре. Т.к. доставка опоздала, верните деньги! Спасибо."),
            vec![
                "Я живу в г. Москва, ул. Ленина, т.е. в центре.",
                "Т.к. доставка опоздала, верните деньги!",
                "Спасибо."
            ]
        );
        assert_eq!(
            sents("Письмо подписал А. С. Пушкин. Ответа нет."),
            vec!["Письмо подписал А. С. Пушкин.", "Ответа нет."]
        );
    }

    #[test]
    fn emoji_and_punctuation_runs() {
        assert_eq!(
            sents("Great service 😊 Will come back!!! Really?! yes"),
            vec!["Great service 😊", "Will come back!!!", "Really?! yes"]
        );
    }

    #[test]
    fn lines() {
        assert_eq!(
            sents("Hi team\n\nthe app crashes\nplease fix"),
            vec!["Hi team", "the app crashes", "please fix"]
        );
    }
}
