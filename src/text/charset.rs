//! Does a text decoded with the charset its sender named read as Russian, or as mojibake that a
//! sibling charset would decode into Russian?
//!
//! A cp1251 file sent as KOI8-R decodes without a single invalid byte: every byte is a letter in
//! both, only the wrong ones ("Привет" becomes "оПХБЕР"). [`check`] decodes the same bytes with
//! each of the charsets Russian is commonly sent in ([`cyrillic_charsets`]: windows-1251, KOI8-R,
//! KOI8-U, ISO-8859-5, IBM866, x-mac-cyrillic, UTF-8) and scores each decode with a small model
//! of Russian: letter bigrams (with word starts and ends) learnt from [`SAMPLE`] over the usual
//! letter frequencies, a penalty for a capital after a small letter inside a word, and low
//! likelihoods for what Russian text rarely holds (letters of other alphabets, box drawing,
//! U+FFFD). The score of a decode is its mean log-likelihood (nats) per non-ASCII character;
//! ASCII decodes alike in every candidate and is not scored.
//!
//! It only reports: the text stays as the caller's charset decoded it. A decode is called
//! gibberish when another is far more plausible in total and per character, the other reads as
//! Russian, and it has at least [`MIN_LETTERS`] Russian letters (shorter texts are not judged).
use std::sync::LazyLock;

use encoding_rs::{
    Encoding, IBM866, ISO_8859_5, KOI8_R, KOI8_U, UTF_8, WINDOWS_1251, X_MAC_CYRILLIC,
};

/// Fewer Russian letters than this (in the better decode) are too few to judge a charset by.
pub const MIN_LETTERS: usize = 12;
/// How much more likely (in nats, in total) another decode must be to call the charset wrong.
const MIN_GAIN_TOTAL: f64 = 20.0;
/// ... and per non-ASCII character.
const MIN_GAIN_MEAN: f64 = 1.0;
/// The better decode must itself read as Russian: at least this score.
const MIN_FIT_MEAN: f64 = -4.0;
/// Bytes looked at: enough to judge, cheap on a 4 MiB body.
const SAMPLE_BYTES: usize = 64 << 10;

/// The charsets Russian is commonly sent in, the candidates [`check`] compares.
pub fn cyrillic_charsets() -> [&'static Encoding; 7] {
    [
        WINDOWS_1251,
        KOI8_R,
        KOI8_U,
        ISO_8859_5,
        IBM866,
        X_MAC_CYRILLIC,
        UTF_8,
    ]
}

/// Russian prose (customer messages, everyday narrative, two pangrams for the rare letters): the
/// letter bigrams of the model are counted on it.
pub const SAMPLE: &str = "\
Здравствуйте! Я уже третий раз пишу в вашу службу поддержки, но никто так и не ответил. Заказ \
оплачен две недели назад, деньги списали с карты, а посылка до сих пор не пришла. Курьер обещал \
позвонить в понедельник, однако звонка не было. Пожалуйста, проверьте, что случилось, и \
сообщите, когда можно ожидать доставку. Если товара нет на складе, верните мне деньги. Спасибо \
за быстрый ответ, всё работает отлично. Мне очень понравилось, как вежливо со мной разговаривал \
ваш сотрудник: он объяснил каждую деталь и помог настроить приложение. Хочу поблагодарить всю \
команду. Вчера вечером мы с семьёй гуляли по парку, смотрели на осенние листья и говорили о \
том, куда поехать летом. Дети хотят к морю, а жена предлагает отправиться в горы. Погода была \
тёплая, солнце светило ярко, и никому не хотелось возвращаться домой. Это был чудесный день. \
Почему у меня снова не получается войти в личный кабинет? Пароль правильный, но система пишет, \
что учётная запись заблокирована. Объясните, пожалуйста, что мне делать дальше, потому что без \
доступа я не могу оплатить счёт. Ваш оператор сказал, что проблема будет решена в течение часа, \
но прошло уже два дня. Я разочарован качеством обслуживания и подумываю о том, чтобы перейти к \
другому провайдеру. Впрочем, если вы исправите ситуацию, я готов остаться. Подскажите, \
пожалуйста, можно ли изменить адрес доставки после оформления заказа? Съешь же ещё этих мягких \
французских булок, да выпей чаю. Широкая электрификация южных губерний даст мощный толчок \
подъёму сельского хозяйства. В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!";

/// Letters: а..я (0..32), then ё (32).
const LETTERS: usize = 33;
/// The edge of a word, before its first letter or after its last.
const EDGE: usize = LETTERS;

/// How often each letter occurs in Russian prose (а..я, then ё).
const FREQ: [f64; LETTERS] = [
    0.0801, 0.0159, 0.0454, 0.0170, 0.0298, 0.0845, 0.0094, 0.0165, 0.0735, 0.0121, 0.0349, 0.0440,
    0.0321, 0.0670, 0.1097, 0.0281, 0.0473, 0.0547, 0.0626, 0.0262, 0.0026, 0.0097, 0.0048, 0.0144,
    0.0073, 0.0036, 0.0004, 0.0190, 0.0174, 0.0032, 0.0064, 0.0201, 0.0020,
];
/// How often a word ends after a letter (about one letter in six is a word's last).
const P_EDGE: f64 = 0.16;
/// Weight of the letter frequencies against the sample's bigram counts.
const SMOOTHING: f64 = 8.0;
/// A capital right after a small letter inside a word: "оПХБЕР".
const CAMEL: f64 = -4.6;

/// `LOGP[a][b]`: ln P(b follows a), a and b letters or [`EDGE`].
static LOGP: LazyLock<[[f64; LETTERS + 1]; LETTERS + 1]> = LazyLock::new(|| {
    let mut counts = [[0.0f64; LETTERS + 1]; LETTERS + 1];
    let mut prev = EDGE;
    for c in SAMPLE.chars() {
        let next = russian_letter(c).map_or(EDGE, |(l, _)| l);
        if !(prev == EDGE && next == EDGE) {
            counts[prev][next] += 1.0;
        }
        prev = next;
    }
    let mut unigram = [0.0f64; LETTERS + 1];
    let total: f64 = FREQ.iter().sum();
    for (u, f) in unigram.iter_mut().zip(FREQ) {
        *u = f / total * (1.0 - P_EDGE);
    }
    unigram[EDGE] = P_EDGE;
    let mut logp = [[0.0f64; LETTERS + 1]; LETTERS + 1];
    for (row, n) in logp.iter_mut().zip(&counts) {
        let n_prev: f64 = n.iter().sum();
        for ((lp, count), u) in row.iter_mut().zip(n).zip(unigram) {
            *lp = ((count + SMOOTHING * u) / (n_prev + SMOOTHING)).ln();
        }
    }
    logp
});

/// A Russian letter's index and whether it is a capital.
fn russian_letter(c: char) -> Option<(usize, bool)> {
    match c {
        'а'..='я' => Some((c as usize - 'а' as usize, false)),
        'А'..='Я' => Some((c as usize - 'А' as usize, true)),
        'ё' => Some((32, false)),
        'Ё' => Some((32, true)),
        _ => None,
    }
}

/// ln P of a non-ASCII character that is not a Russian letter, in Russian text.
fn other_logp(c: char) -> f64 {
    match c {
        '\u{FFFD}' => -14.0,
        // Ukrainian and Belarusian letters: another language, but a real one.
        'і' | 'ї' | 'є' | 'ґ' | 'ў' | 'І' | 'Ї' | 'Є' | 'Ґ' | 'Ў' => -6.0,
        // Typography Russian text uses.
        '«' | '»' | '—' | '–' | '…' | '№' | '“' | '”' | '„' | '‘' | '’' | '\u{A0}' | '•' | '€'
        | '°' => -5.0,
        '\u{0400}'..='\u{04FF}' => -10.0,
        c if c.is_alphabetic() => -9.0,
        // Box drawing, mathematical signs, C1 controls.
        _ => -12.0,
    }
}

/// How well a decoded text reads as Russian.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fit {
    /// Log-likelihood (nats) of the non-ASCII characters under the model.
    pub log_likelihood: f64,
    /// Non-ASCII characters scored.
    pub chars: usize,
    /// Russian letters among them.
    pub letters: usize,
}

impl Fit {
    /// Mean log-likelihood per non-ASCII character (0 for none): the score in warnings.
    pub fn score(&self) -> f64 {
        if self.chars == 0 {
            0.0
        } else {
            self.log_likelihood / self.chars as f64
        }
    }
}

/// Scores a decoded text against the model of Russian (see the module's documentation).
pub fn fit(text: &str) -> Fit {
    let logp = &*LOGP;
    let mut f = Fit::default();
    // The Russian letter just before, inside the same word.
    let mut prev: Option<usize> = None;
    // Whether the character just before is a small letter of any alphabet.
    let mut prev_small = false;
    for c in text.chars() {
        let letter = russian_letter(c);
        if let (Some(p), None) = (prev, letter) {
            f.log_likelihood += logp[p][EDGE];
        }
        if c.is_ascii() {
            prev = None;
            prev_small = c.is_ascii_lowercase();
            continue;
        }
        f.chars += 1;
        match letter {
            Some((l, capital)) => {
                f.letters += 1;
                f.log_likelihood += logp[prev.unwrap_or(EDGE)][l];
                if capital && prev_small {
                    f.log_likelihood += CAMEL;
                }
                prev = Some(l);
                prev_small = !capital;
            }
            None => {
                f.log_likelihood += other_logp(c);
                prev = None;
                prev_small = c.is_lowercase();
            }
        }
    }
    if let Some(p) = prev {
        f.log_likelihood += logp[p][EDGE];
    }
    f
}

/// The declared charset decodes the bytes as gibberish; `fits` decodes them as Russian.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    pub declared: Fit,
    pub fits: &'static Encoding,
    pub fit: Fit,
}

impl Mismatch {
    /// The warning for the caller: `subject` says whose charset it was (`charset "koi8-r"`).
    pub fn warning(&self, subject: &str) -> String {
        format!(
            "{subject} looks wrong for this text: it decodes as gibberish; {:?} fits (score {:.1} against {:.1})",
            self.fits.name().to_ascii_lowercase(),
            self.fit.score(),
            self.declared.score(),
        )
    }
}

/// Adds [`check`]'s warning to `warnings` when `bytes`, decoded with `used`, look mislabelled.
/// `label` is the charset as its sender wrote it (`None`: none was given, UTF-8 by default);
/// `place` says whose it was, after the word "charset" (`""`, `" of a MIME part"`).
pub fn warn_if_mislabelled(
    bytes: &[u8],
    used: &'static Encoding,
    label: Option<&str>,
    place: &str,
    warnings: &mut Vec<String>,
) {
    let Some(m) = check(bytes, used) else {
        return;
    };
    let subject = match label {
        Some(l) => format!("charset {:?}{place}", l.trim()),
        None => format!("charset \"utf-8\"{place} (the default: none was given)"),
    };
    let w = m.warning(&subject);
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}

/// Compares the decode of `bytes` in `declared` with their decodes in the other
/// [`cyrillic_charsets`]; `Some` when another is far more plausible Russian. Charsets outside
/// that family are not judged, nor is valid UTF-8 labelled UTF-8, nor a text with fewer than
/// [`MIN_LETTERS`] Russian letters, nor bytes that start with a byte order mark. Looks at the
/// first 64 KiB.
pub fn check(bytes: &[u8], declared: &'static Encoding) -> Option<Mismatch> {
    let candidates = cyrillic_charsets();
    if !candidates.contains(&declared) {
        return None;
    }
    let sample = if bytes.len() > SAMPLE_BYTES {
        // Cut after an ASCII byte, so that no multi-byte character is split.
        let end = bytes[..SAMPLE_BYTES]
            .iter()
            .rposition(u8::is_ascii)
            .map_or(SAMPLE_BYTES, |i| i + 1);
        &bytes[..end]
    } else {
        bytes
    };
    // A byte order mark decides the charset before any label does (as `Encoding::decode`
    // reads it).
    if sample.is_ascii()
        || Encoding::for_bom(sample).is_some()
        || (declared == UTF_8 && std::str::from_utf8(sample).is_ok())
    {
        return None;
    }
    let declared_text = declared.decode_without_bom_handling(sample).0;
    let declared_fit = fit(&declared_text);
    let mut best: Option<(&'static Encoding, Fit)> = None;
    for enc in candidates {
        if enc == declared {
            continue;
        }
        let text = enc.decode_without_bom_handling(sample).0;
        if text == declared_text {
            continue;
        }
        let f = fit(&text);
        if best.is_none_or(|(_, b)| f.log_likelihood > b.log_likelihood) {
            best = Some((enc, f));
        }
    }
    let (fits, fit) = best?;
    let far_better = fit.log_likelihood - declared_fit.log_likelihood >= MIN_GAIN_TOTAL
        && fit.score() - declared_fit.score() >= MIN_GAIN_MEAN;
    (fit.letters >= MIN_LETTERS && fit.score() >= MIN_FIT_MEAN && far_better).then_some(Mismatch {
        declared: declared_fit,
        fits,
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUSSIAN: &[&str] = &[
        "Привет",
        "Спасибо, всё работает!",
        "Добрый день. Подскажите, пожалуйста, когда придёт мой заказ?",
        "Я очень недоволен: деньги списали дважды, а на звонки никто не отвечает.",
        "СРОЧНО ВЕРНИТЕ ДЕНЬГИ ЗА ЗАКАЗ",
        "Оператор Мария помогла мне быстро и вежливо, огромное ей спасибо! Буду рекомендовать \
         ваш магазин друзьям.",
        "Здравствуйте, Иван Петрович! Высылаю счёт № 45 от 12.03 — оплатите, пожалуйста, \
         до пятницы. «Сбербанк», ИНН в приложении.",
        "Не могу войти в приложение, пишет «ошибка сервера». Что делать?",
        "Ну и где моя посылка???",
        "Щедрый подъём: объявлен съезд, в чащах юга жил бы цитрус.",
    ];

    /// `text` in `enc`; `None` where `enc` has no byte for one of its characters.
    fn try_encode(text: &str, enc: &'static Encoding) -> Option<Vec<u8>> {
        let (bytes, _, unmappable) = enc.encode(text);
        (!unmappable).then(|| bytes.into_owned())
    }

    fn encode(text: &str, enc: &'static Encoding) -> Vec<u8> {
        try_encode(text, enc).unwrap_or_else(|| panic!("{text:?} in {}", enc.name()))
    }

    #[test]
    fn right_labels_never_warn() {
        let mut judged = 0;
        for text in RUSSIAN {
            for enc in cyrillic_charsets() {
                // KOI8 has no "«", "—" or "№".
                let Some(bytes) = try_encode(text, enc) else {
                    continue;
                };
                assert_eq!(check(&bytes, enc), None, "{text:?} in {}", enc.name());
                judged += 1;
            }
        }
        assert!(judged >= 60, "{judged}");
    }

    #[test]
    fn english_never_warns() {
        for text in [
            "Thanks, that solved it!",
            "Where is my refund? I asked twice.",
        ] {
            for enc in cyrillic_charsets() {
                assert_eq!(check(text.as_bytes(), enc), None);
            }
        }
        // Typographic quotes in windows-1251 (0x93, 0x94) are no Russian text in any charset.
        let quoted = encode("He said “refund” — twice, at 10 °C…", WINDOWS_1251);
        for enc in cyrillic_charsets() {
            assert_eq!(check(&quoted, enc), None, "{}", enc.name());
        }
    }

    #[test]
    fn cp1251_labelled_koi8_r_names_windows_1251() {
        let text = "Добрый день. Подскажите, пожалуйста, когда придёт мой заказ?";
        let m = check(&encode(text, WINDOWS_1251), KOI8_R).expect("a mismatch");
        assert_eq!(m.fits, WINDOWS_1251);
        let w = m.warning("charset \"koi8-r\"");
        assert!(
            w.starts_with("charset \"koi8-r\" looks wrong for this text: it decodes as gibberish; \"windows-1251\" fits (score "),
            "{w}"
        );
    }

    #[test]
    fn koi8_r_labelled_cp1251_names_koi8_r() {
        let text = "Я очень недоволен: деньги списали дважды, а на звонки никто не отвечает.";
        let m = check(&encode(text, KOI8_R), WINDOWS_1251).expect("a mismatch");
        // KOI8-U decodes Russian as KOI8-R does; the first of equals is named.
        assert_eq!(m.fits, KOI8_R, "{}", m.fits.name());
        assert!(m
            .warning("charset \"windows-1251\"")
            .contains("; \"koi8-r\" fits (score "));
    }

    #[test]
    fn every_wrong_sibling_is_caught_on_a_sentence() {
        let text = "Я очень недоволен: деньги списали дважды, а на звонки никто не отвечает. \
                    Верните, пожалуйста, деньги на карту.";
        for real in cyrillic_charsets() {
            let bytes = encode(text, real);
            for label in cyrillic_charsets() {
                if label.decode_without_bom_handling(&bytes).0
                    == real.decode_without_bom_handling(&bytes).0
                {
                    continue;
                }
                let m = check(&bytes, label);
                // x-mac-cyrillic and windows-1251 share their small letters: only the capitals
                // and "я" differ, too little to be sure of.
                let close = [real, label].contains(&X_MAC_CYRILLIC)
                    && [real, label].contains(&WINDOWS_1251);
                if !close {
                    let m = m.unwrap_or_else(|| {
                        panic!("{} read as {}: no warning", real.name(), label.name())
                    });
                    assert_eq!(
                        m.fits.decode_without_bom_handling(&bytes).0,
                        text,
                        "{} read as {}",
                        real.name(),
                        label.name()
                    );
                }
            }
        }
    }

    #[test]
    fn short_texts_are_not_judged() {
        // "Привет" in windows-1251 read as KOI8-R is "оПХБЕР", but six letters are too few.
        assert_eq!(check(&encode("Привет", WINDOWS_1251), KOI8_R), None);
    }

    #[test]
    fn real_russian_reads_better_than_its_mojibake() {
        for text in RUSSIAN {
            let right = fit(text);
            let bytes = encode(text, WINDOWS_1251);
            let wrong = fit(&KOI8_R.decode_without_bom_handling(&bytes).0);
            assert!(right.score() > wrong.score(), "{text:?}");
            assert!(right.score() > MIN_FIT_MEAN, "{text:?}: {}", right.score());
        }
    }

    #[test]
    fn the_pipeline_warns_and_keeps_the_callers_decode() {
        use crate::text::{prepare, Channel, EmailFormat, RawText};
        let text = "Здравствуйте! Заказ пришёл без инструкции, а ещё курьер нагрубил.";
        let cp1251 = encode(text, WINDOWS_1251);
        for channel in [
            Channel::Plain,
            Channel::Email(EmailFormat::Plain),
            Channel::Email(EmailFormat::Html),
        ] {
            let p = prepare(&RawText::new(channel, cp1251.clone()).with_charset("koi8-r")).unwrap();
            let w: Vec<_> = p
                .warnings
                .iter()
                .filter(|w| w.contains("looks wrong"))
                .collect();
            assert_eq!(w.len(), 1, "{channel:?}: {:?}", p.warnings);
            assert!(
                w[0].starts_with("charset \"koi8-r\" looks wrong for this text: it decodes as gibberish; \"windows-1251\" fits (score "),
                "{}",
                w[0]
            );
            // The caller's charset decoded it, gibberish or not.
            assert_eq!(p.decoded, KOI8_R.decode_without_bom_handling(&cp1251).0);

            let p = prepare(&RawText::new(channel, cp1251.clone()).with_charset("cp1251")).unwrap();
            assert_eq!(p.decoded, text);
            assert!(p.warnings.is_empty(), "{channel:?}: {:?}", p.warnings);
        }
        // No charset: UTF-8 by default, and these bytes are not UTF-8.
        let p = prepare(&RawText::new(Channel::Plain, cp1251)).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.starts_with(
                "charset \"utf-8\" (the default: none was given) looks wrong for this text"
            ) && w.contains("\"windows-1251\" fits")),
            "{:?}",
            p.warnings
        );
        // UTF-8 as sent, no charset: nothing to say.
        let p = prepare(&RawText::new(Channel::Plain, text)).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }
}
