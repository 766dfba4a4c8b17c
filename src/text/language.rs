//! Language identification with whatlang, reported with its confidence.
//!
//! whatlang is unreliable on short texts ("ok thanks", "спасибо!"). When its verdict is not
//! reliable we fall back to the writing system among the languages the models cover (Cyrillic ->
//! Russian, Latin -> English) at reduced confidence, rather than guess an arbitrary language.
use whatlang::{Detector, Lang, Script};

/// A text's language as rapport reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Language {
    /// ISO 639-1 where one exists ("en", "ru"), else whatlang's ISO 639-3 code; "und" if unknown.
    pub code: String,
    pub confidence: f32,
    /// Whether the loaded heads cover this language.
    pub supported: bool,
    pub from_hint: bool,
}

/// Detects the language of `text`, or takes `hint` (ISO 639-1/639-3, any case) when given.
/// `supported` lists the ISO 639-1 codes the heads were trained on.
pub fn detect_language(text: &str, hint: Option<&str>, supported: &[String]) -> Language {
    let is_supported = |code: &str| supported.iter().any(|s| s == code);
    if let Some(hint) = hint.map(str::trim).filter(|h| !h.is_empty()) {
        let code = normalise_code(hint);
        return Language {
            supported: is_supported(&code),
            code,
            confidence: 1.0,
            from_hint: true,
        };
    }
    let Some(info) = whatlang::detect(text) else {
        return Language {
            code: "und".into(),
            confidence: 0.0,
            supported: false,
            from_hint: false,
        };
    };
    if info.script() == Script::Cyrillic && info.lang() == Lang::Rus {
        // The reverse confusion: letters the Russian alphabet lacks name the language.
        if let Some(lang) = non_russian_alphabet(text) {
            let code = iso639_1(lang).unwrap_or(lang.code()).to_string();
            return Language {
                supported: is_supported(&code),
                code,
                confidence: (info.confidence() as f32).min(0.8),
                from_hint: false,
            };
        }
    }
    if info.script() == Script::Cyrillic
        && info.lang() != Lang::Rus
        && is_supported("ru")
        && !is_supported(iso639_1(info.lang()).unwrap_or(""))
        && russian_orthography(text, info.lang())
    {
        // whatlang confuses Russian with Bulgarian, Ukrainian and others on ordinary sentences;
        // the alphabets settle it (see `russian_orthography`).
        return Language {
            code: "ru".into(),
            supported: true,
            confidence: (info.confidence() as f32).max(0.05),
            from_hint: false,
        };
    }
    if info.is_reliable() {
        let code = iso639_1(info.lang())
            .unwrap_or(info.lang().code())
            .to_string();
        return Language {
            supported: is_supported(&code),
            code,
            confidence: info.confidence() as f32,
            from_hint: false,
        };
    }
    // Unreliable: decide among the supported languages written in this script.
    let candidates: Vec<Lang> = supported
        .iter()
        .filter_map(|c| Lang::from_code(iso639_3(c)))
        .filter(|l| script_of(*l) == Some(info.script()))
        .collect();
    let pick = match candidates.len() {
        0 => None,
        1 => Some((candidates[0], info.confidence())),
        _ => Detector::with_allowlist(candidates)
            .detect(text)
            .map(|i| (i.lang(), i.confidence())),
    };
    match pick {
        Some((lang, confidence)) => {
            let code = iso639_1(lang).unwrap_or(lang.code()).to_string();
            Language {
                supported: is_supported(&code),
                code,
                // Never more sure than whatlang itself was about the unrestricted question.
                confidence: (confidence as f32).min(info.confidence() as f32).max(0.05),
                from_hint: false,
            }
        }
        None => {
            let code = iso639_1(info.lang())
                .unwrap_or(info.lang().code())
                .to_string();
            Language {
                supported: is_supported(&code),
                code,
                confidence: info.confidence() as f32,
                from_hint: false,
            }
        }
    }
}

/// Sentences with fewer letters than this are not given to whatlang (it cannot tell languages
/// apart on a few words): they take the message's language when written in its script.
pub const MIN_SENTENCE_LETTERS: usize = 40;

fn letters(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphabetic()).count()
}

fn dominant_script(text: &str) -> Option<Script> {
    let (cyr, lat) = script_shares(text);
    if cyr == 0.0 && lat == 0.0 {
        None
    } else if cyr >= lat {
        Some(Script::Cyrillic)
    } else {
        Some(Script::Latin)
    }
}

/// Languages per sentence and for the whole text, running whatlang once over each long sentence
/// rather than over the text and every sentence again.
///
/// - A sentence of at least [`MIN_SENTENCE_LETTERS`] letters: [`detect_language`] on it.
/// - The whole text: the letter-weighted majority of the long sentences (confidence: their mean
///   confidence times the majority's share); with no long sentence, [`detect_language`] on the
///   whole text.
/// - A short sentence: the whole text's language when the sentence is in that language's
///   script (confidence halved), else [`detect_language`] on the sentence.
pub fn detect_sentences(
    text: &str,
    sentences: &[std::ops::Range<usize>],
    hint: Option<&str>,
    supported: &[String],
) -> (Vec<Language>, Language) {
    if hint.is_some_and(|h| !h.trim().is_empty()) {
        let l = detect_language(text, hint, supported);
        return (vec![l.clone(); sentences.len()], l);
    }
    let mut out: Vec<Option<Language>> = vec![None; sentences.len()];
    let mut votes: Vec<(String, usize, f32)> = Vec::new(); // code, letters, confidence * letters
    let mut total = 0usize;
    for (i, r) in sentences.iter().enumerate() {
        let s = &text[r.clone()];
        let n = letters(s);
        if n >= MIN_SENTENCE_LETTERS {
            let l = detect_language(s, None, supported);
            if l.code != "und" {
                total += n;
                match votes.iter_mut().find(|v| v.0 == l.code) {
                    Some(v) => {
                        v.1 += n;
                        v.2 += l.confidence * n as f32;
                    }
                    None => votes.push((l.code.clone(), n, l.confidence * n as f32)),
                }
            }
            out[i] = Some(l);
        }
    }
    let whole = match votes.iter().max_by_key(|v| v.1) {
        Some((code, n, conf)) => Language {
            code: code.clone(),
            confidence: (conf / *n as f32) * (*n as f32 / total as f32),
            supported: supported.iter().any(|s| s == code),
            from_hint: false,
        },
        None => detect_language(text, None, supported),
    };
    let whole_script = Lang::from_code(iso639_3(&whole.code)).and_then(script_of);
    let langs = out
        .into_iter()
        .zip(sentences)
        .map(|(l, r)| {
            l.unwrap_or_else(|| {
                let s = &text[r.clone()];
                if whole.code != "und"
                    && whole_script.is_some()
                    && dominant_script(s) == whole_script
                {
                    Language {
                        confidence: whole.confidence * 0.5,
                        ..whole.clone()
                    }
                } else {
                    detect_language(s, None, supported)
                }
            })
        })
        .collect();
    (langs, whole)
}

/// How the languages of a text's sentences mix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LanguageMix {
    /// Languages of the sentences with their share of the text's letters, largest first.
    pub shares: Vec<(String, f32)>,
    /// Share of letters that are Cyrillic / Latin.
    pub cyrillic: f32,
    pub latin: f32,
    /// Two languages each carry at least 15% of the sentences' letters, or Cyrillic and Latin
    /// each at least 15% of the letters (code-switching inside sentences).
    pub mixed: bool,
}

/// Share of Cyrillic and Latin letters in `text` (placeholders such as `[EMAIL]` excluded).
pub fn script_shares(text: &str) -> (f32, f32) {
    let (mut cyr, mut lat, mut all) = (0usize, 0usize, 0usize);
    let mut in_placeholder = false;
    for c in text.chars() {
        match c {
            '[' => in_placeholder = true,
            ']' => in_placeholder = false,
            c if c.is_alphabetic() && !in_placeholder => {
                all += 1;
                if ('\u{0400}'..='\u{04FF}').contains(&c) {
                    cyr += 1;
                } else if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
                    lat += 1;
                }
            }
            c if !c.is_alphanumeric() && c != ' ' => in_placeholder = in_placeholder && c != '\n',
            _ => {}
        }
    }
    if all == 0 {
        (0.0, 0.0)
    } else {
        (cyr as f32 / all as f32, lat as f32 / all as f32)
    }
}

/// Summarises per-sentence languages (`(sentence text, language)`) into a mix.
pub fn language_mix<'a>(
    sentences: impl IntoIterator<Item = (&'a str, &'a Language)>,
    whole: &str,
) -> LanguageMix {
    let mut letters: Vec<(String, usize)> = Vec::new();
    let mut total = 0usize;
    for (text, lang) in sentences {
        let n = text.chars().filter(|c| c.is_alphabetic()).count();
        if n == 0 || lang.code == "und" {
            continue;
        }
        total += n;
        match letters.iter_mut().find(|(c, _)| *c == lang.code) {
            Some(e) => e.1 += n,
            None => letters.push((lang.code.clone(), n)),
        }
    }
    let mut shares: Vec<(String, f32)> = letters
        .into_iter()
        .map(|(c, n)| (c, n as f32 / total.max(1) as f32))
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (cyrillic, latin) = script_shares(whole);
    let mixed = shares.iter().filter(|(_, s)| *s >= 0.15).count() >= 2
        || (cyrillic >= 0.15 && latin >= 0.15);
    LanguageMix {
        shares,
        cyrillic,
        latin,
        mixed,
    }
}

/// Whether a Cyrillic text that whatlang took for `guess` is written in the Russian alphabet:
/// no letter found only in the other languages (і ї є ґ ў ђ ј љ њ ћ џ ѓ ќ ѕ ә ғ қ ң ө ұ ү һ),
/// and a letter that `guess`'s alphabet lacks (Bulgarian: ы э ё, or no ъ at all in a text long
/// enough to have one; Ukrainian: ы э ё ъ; Belarusian: и щ ъ; Serbian and Macedonian: й щ ъ ь
/// ы э ё я ю).
fn russian_orthography(text: &str, guess: Lang) -> bool {
    let lower = text.to_lowercase();
    if lower.contains([
        'і', 'ї', 'є', 'ґ', 'ў', 'ђ', 'ј', 'љ', 'њ', 'ћ', 'џ', 'ѓ', 'ќ', 'ѕ', 'ә', 'ғ', 'қ', 'ң',
        'ө', 'ұ', 'ү', 'һ',
    ]) {
        return false;
    }
    let cyrillic = lower
        .chars()
        .filter(|c| ('\u{0430}'..='\u{044F}').contains(c))
        .count();
    match guess {
        Lang::Bul => lower.contains(['ы', 'э', 'ё']) || (cyrillic >= 25 && !lower.contains('ъ')),
        Lang::Ukr => lower.contains(['ы', 'э', 'ё', 'ъ']),
        Lang::Bel => lower.contains(['и', 'щ', 'ъ']),
        Lang::Srp | Lang::Mkd => lower.contains(['й', 'щ', 'ъ', 'ь', 'ы', 'э', 'ё', 'я', 'ю']),
        _ => false,
    }
}

/// The Cyrillic language whose own letters `text` uses, if those are not Russian's.
fn non_russian_alphabet(text: &str) -> Option<Lang> {
    let lower = text.to_lowercase();
    let has = |set: &[char]| lower.contains(set);
    if has(&['ї', 'є', 'ґ']) {
        Some(Lang::Ukr)
    } else if has(&['ў']) {
        Some(Lang::Bel)
    } else if has(&['і']) {
        Some(Lang::Ukr)
    } else if has(&['ђ', 'ј', 'љ', 'њ', 'ћ', 'џ']) {
        Some(Lang::Srp)
    } else if has(&['ѓ', 'ќ', 'ѕ']) {
        Some(Lang::Mkd)
    } else {
        None
    }
}

fn script_of(lang: Lang) -> Option<Script> {
    match lang {
        Lang::Rus | Lang::Ukr | Lang::Bel | Lang::Bul | Lang::Srp | Lang::Mkd => {
            Some(Script::Cyrillic)
        }
        Lang::Eng | Lang::Deu | Lang::Fra | Lang::Spa | Lang::Ita | Lang::Por | Lang::Nld => {
            Some(Script::Latin)
        }
        _ => None,
    }
}

const ISO_PAIRS: &[(&str, &str)] = &[
    ("en", "eng"),
    ("ru", "rus"),
    ("uk", "ukr"),
    ("be", "bel"),
    ("bg", "bul"),
    ("sr", "srp"),
    ("mk", "mkd"),
    ("de", "deu"),
    ("fr", "fra"),
    ("es", "spa"),
    ("it", "ita"),
    ("pt", "por"),
    ("nl", "nld"),
    ("pl", "pol"),
    ("tr", "tur"),
    ("zh", "cmn"),
    ("ja", "jpn"),
    ("ko", "kor"),
    ("ar", "ara"),
    ("hi", "hin"),
    ("kk", "kaz"),
];

fn iso639_1(lang: Lang) -> Option<&'static str> {
    ISO_PAIRS
        .iter()
        .find(|(_, three)| *three == lang.code())
        .map(|(two, _)| *two)
}

fn iso639_3(code: &str) -> &str {
    ISO_PAIRS
        .iter()
        .find(|(two, _)| *two == code)
        .map(|(_, three)| *three)
        .unwrap_or(code)
}

/// "EN", "eng", "en-US" -> "en"; unknown codes are kept, lower-cased.
fn normalise_code(code: &str) -> String {
    let base = code
        .split(['-', '_'])
        .next()
        .unwrap_or(code)
        .to_ascii_lowercase();
    ISO_PAIRS
        .iter()
        .find(|(_, three)| *three == base)
        .map(|(two, _)| two.to_string())
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> Vec<String> {
        vec!["en".into(), "ru".into()]
    }

    #[test]
    fn detects_english_and_russian() {
        let en = detect_language(
            "I have been waiting for my refund for three weeks and nobody answers my emails.",
            None,
            &sup(),
        );
        assert_eq!((en.code.as_str(), en.supported), ("en", true));
        let ru = detect_language(
            "Я уже три недели жду возврата денег, и никто не отвечает на мои письма.",
            None,
            &sup(),
        );
        assert_eq!((ru.code.as_str(), ru.supported), ("ru", true));
    }

    #[test]
    fn cyrillic_languages_by_their_own_letters() {
        let code = |t: &str| detect_language(t, None, &sup()).code;
        assert_eq!(
            code("Добрий день, коли ви повернете гроші? Я чекаю вже тиждень."),
            "uk"
        );
        assert_eq!(
            code("Здравейте, все още чакам възстановяването на сумата, благодаря."),
            "bg"
        );
        assert_eq!(code("Объявление о съезде: подъезд закрыт, извините."), "ru");
        assert_eq!(
            code("Где мой заказ? Жду уже неделю, никто не отвечает."),
            "ru"
        );
        assert_eq!(
            code("Я уже три недели жду возврата денег, и никто не отвечает на мои письма."),
            "ru"
        );
    }

    #[test]
    fn short_texts_fall_back_to_script() {
        assert_eq!(detect_language("спасибо!", None, &sup()).code, "ru");
        assert_eq!(detect_language("ok thanks", None, &sup()).code, "en");
    }

    #[test]
    fn unsupported_language_is_reported_not_guessed() {
        let de = detect_language(
            "Ich warte seit drei Wochen auf meine Rückerstattung und niemand antwortet mir.",
            None,
            &sup(),
        );
        assert_eq!(de.code, "de");
        assert!(!de.supported);
    }

    #[test]
    fn hint_wins_and_is_normalised() {
        let l = detect_language("whatever", Some("RU-ru"), &sup());
        assert_eq!(l.code, "ru");
        assert!(l.from_hint && l.supported);
        assert_eq!(detect_language("x", Some("eng"), &sup()).code, "en");
    }

    #[test]
    fn mixed_russian_english() {
        let en = detect_language(
            "The invoice you sent last week has the wrong company address on it.",
            None,
            &sup(),
        );
        let ru = detect_language(
            "Пожалуйста, исправьте адрес и пришлите новый счёт.",
            None,
            &sup(),
        );
        let mix = language_mix(
            [
                (
                    "The invoice you sent last week has the wrong company address on it.",
                    &en,
                ),
                ("Пожалуйста, исправьте адрес и пришлите новый счёт.", &ru),
            ],
            "x",
        );
        assert!(mix.mixed);
        assert_eq!(mix.shares.len(), 2);
        let (c, l) = script_shares("Сделал deploy на prod, но pipeline упал [EMAIL]");
        assert!(c > 0.3 && l > 0.3, "{c} {l}");
    }

    #[test]
    fn per_sentence_languages() {
        let text = "The invoice you sent last week has the wrong company address on it. Пожалуйста, исправьте адрес и пришлите новый счёт до пятницы. Thanks!";
        let ranges = crate::text::sentences::split_sentences(text);
        let (langs, whole) = detect_sentences(text, &ranges, None, &sup());
        let codes: Vec<&str> = langs.iter().map(|l| l.code.as_str()).collect();
        assert_eq!(codes, vec!["en", "ru", "en"]);
        assert!(whole.code == "en" || whole.code == "ru");
        assert!(
            whole.confidence < 1.0,
            "a mixed text is not certain: {whole:?}"
        );
        let (langs, whole) = detect_sentences(text, &ranges, Some("ru"), &sup());
        assert!(whole.from_hint && langs.iter().all(|l| l.code == "ru"));
    }

    #[test]
    fn no_letters_is_undetermined() {
        let l = detect_language("12345 !!!", None, &sup());
        assert_eq!(l.code, "und");
        assert!(!l.supported);
    }
}
