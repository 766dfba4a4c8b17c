//! Email: decoding (plain text, HTML, whole RFC 822 / MIME messages) and thread clean-up
//! (quoted replies, forwarded history, signatures, disclaimers), in English and Russian.
use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use regex::Regex;

use super::span::{Cut, CutKind};
use crate::{Error, Result};

/// The content type of an email body as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailFormat {
    /// `text/plain`
    Plain,
    /// `text/html`
    Html,
    /// `message/rfc822`: a whole message with headers, MIME parts, transfer encodings, charsets.
    Rfc822,
}

/// An email decoded to text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedEmail {
    pub subject: Option<String>,
    /// The body as text (before normalisation).
    pub text: String,
    /// Whether the text came from an HTML part.
    pub from_html: bool,
    /// Attachments (including attached messages) that were not analysed.
    pub attachments: usize,
    pub warnings: Vec<String>,
}

fn decode_charset(bytes: &[u8], charset: Option<&str>, warnings: &mut Vec<String>) -> String {
    let known = charset.and_then(|c| encoding_rs::Encoding::for_label(c.trim().as_bytes()));
    let encoding = known.unwrap_or(encoding_rs::UTF_8);
    let unknown = charset.is_some() && known.is_none();
    if unknown {
        warnings.push(format!(
            "unknown charset {:?}, decoded as UTF-8",
            charset.unwrap_or("")
        ));
    }
    let (text, _, had_errors) = encoding.decode(bytes);
    if had_errors {
        warnings.push(format!(
            "invalid {} byte sequences replaced",
            encoding.name()
        ));
    }
    let place = if unknown {
        " (unknown, read as UTF-8)"
    } else {
        ""
    };
    super::charset::warn_if_mislabelled(bytes, encoding, charset, place, warnings);
    text.into_owned()
}

/// The bytes of a MIME part after its transfer encoding, before its charset; `None` when they
/// cannot be recovered.
fn part_bytes<'a>(raw: &'a [u8], part: &MessagePart) -> Option<Cow<'a, [u8]>> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        mail_parser::Encoding::None => Some(Cow::Borrowed(body)),
        mail_parser::Encoding::Base64 => base64_decode(body).map(Cow::Owned),
        mail_parser::Encoding::QuotedPrintable => quoted_printable_decode(body).map(Cow::Owned),
    }
}

/// Warns when a text part's charset (UTF-8 when it names none) decodes it as gibberish.
fn check_part_charset(raw: &[u8], part: &MessagePart, warnings: &mut Vec<String>) {
    let label = part.content_type().and_then(|ct| ct.attribute("charset"));
    let used = match label {
        // Unknown charsets are reported on their own.
        Some(l) => match encoding_rs::Encoding::for_label(l.trim().as_bytes()) {
            Some(e) => e,
            None => return,
        },
        None => encoding_rs::UTF_8,
    };
    if let Some(bytes) = part_bytes(raw, part) {
        super::charset::warn_if_mislabelled(&bytes, used, label, " of a MIME part", warnings);
    }
}

/// Decodes an email body of the given format. `charset` applies to plain and HTML bodies
/// (default UTF-8); a MIME message declares its own.
pub fn decode(format: EmailFormat, body: &[u8], charset: Option<&str>) -> Result<DecodedEmail> {
    let mut out = DecodedEmail::default();
    match format {
        EmailFormat::Plain => out.text = decode_charset(body, charset, &mut out.warnings),
        EmailFormat::Html => {
            let html = decode_charset(body, charset, &mut out.warnings);
            out.text = super::html::html_to_text(&html);
            out.from_html = true;
        }
        EmailFormat::Rfc822 => decode_mime(body, &mut out)?,
    }
    Ok(out)
}

fn decode_mime(body: &[u8], out: &mut DecodedEmail) -> Result<()> {
    let message = MessageParser::default()
        .parse(body)
        .ok_or_else(|| Error::invalid("body", "not an RFC 822 message: no header fields found"))?;
    out.subject = message.subject().map(str::to_string);
    out.attachments = message.attachments().count();
    let mut texts: Vec<String> = Vec::new();
    let mut saw_html = false;
    for part in message.text_bodies() {
        check_part_charset(body, part, &mut out.warnings);
        match &part.body {
            PartType::Text(t) => texts.push(t.to_string()),
            PartType::Html(h) => {
                saw_html = true;
                texts.push(super::html::html_to_text(h));
            }
            _ => {}
        }
        if part.is_encoding_problem {
            out.warnings
                .push("a MIME part could not be decoded cleanly".into());
        }
    }
    if texts.is_empty() {
        // No text/plain alternative: fall back to the HTML bodies.
        for part in message.html_bodies() {
            if let PartType::Html(h) = &part.body {
                check_part_charset(body, part, &mut out.warnings);
                saw_html = true;
                texts.push(super::html::html_to_text(h));
            }
        }
    }
    if texts.is_empty()
        && message
            .attachments()
            .any(|p| matches!(p.body, PartType::Message(_)))
    {
        out.warnings
            .push("only an attached message, which is forwarded history: not analysed".into());
    }
    if texts.iter().any(|t| t.contains('\u{FFFD}')) {
        out.warnings
            .push("invalid bytes in a MIME part were replaced".into());
    }
    let charset_unknown = message.parts.iter().any(|p| {
        p.content_type()
            .and_then(|ct| ct.attribute("charset"))
            .is_some_and(|cs| {
                encoding_rs::Encoding::for_label(cs.as_bytes()).is_none()
                    && !cs.eq_ignore_ascii_case("utf8")
            })
    });
    if charset_unknown {
        out.warnings
            .push("a MIME part declares an unknown charset".into());
    }
    out.from_html = saw_html;
    out.text = texts.join("\n\n");
    Ok(())
}

/// One line of a text: its byte range without the line feed.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            out.push(Line { start, end: i });
            start = i + 1;
        }
    }
    out.push(Line {
        start,
        end: text.len(),
    });
    out
}

static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?isx)
        ^\s*(?:on|am|le|el)\b.{0,300}\b(?:wrote|schrieb|a\s+écrit|escribió)\s*:\s*$
      | (?:писал|написал|пишет|написала|писала|написал\(а\)|писал\(а\))\s*:\s*$
      | ^\s*\S.{0,200}\d{1,2}:\d{2}.{0,100}<[^<>\s]+@[^<>\s]+>\s*:\s*$
    ",
    )
    .unwrap()
});
static ORIGINAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*[-_=]{2,}\s*(?:original\s+message|исходное\s+сообщение|оригинальное\s+сообщение|reply\s+message)\s*[-_=]{2,}\s*$").unwrap()
});
static FORWARD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:[-_=]{2,}\s*(?:forwarded\s+message|пересылаемое\s+сообщение|переадресованное\s+сообщение|пересланное\s+сообщение|forwarded\s+by\b.*?)\s*[-_=]*\s*$|begin\s+forwarded\s+message\s*:\s*$)").unwrap()
});
static HEADER_FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*\**(?:from|от|de|von)\s*\**\s*:\s*\S").unwrap());
static HEADER_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\**(?:sent|date|to|cc|subject|отправлено|дата|кому|копия|тема|gesendet|envoyé)\s*\**\s*:").unwrap()
});
static RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[_─━-]{8,}|<hr>)\s*$").unwrap());
static SIG_DELIM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:--|—|-- )\s*$").unwrap());
static MOBILE_SIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:sent\s+from\s+my\b|sent\s+from\s+(?:mail|yahoo|outlook|samsung)|sent\s+via\b|get\s+outlook\s+for\b|отправлено\s+(?:с|из)\s+|отправлено\s+через\b|послано\s+с\b)").unwrap()
});
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:best\s+regards|kind\s+regards|warm\s+regards|regards|best\s+wishes|best|cheers|sincerely|yours\s+sincerely|yours\s+truly|yours|thanks|thank\s+you|many\s+thanks|thanks\s+in\s+advance|thx|с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+доброго|всего\s+хорошего|спасибо|заранее\s+спасибо|благодарю|с\s+благодарностью)(?:[,.!]?\s*(?:[-—]\s*)?(?:\p{Lu}[\p{L}.\-]*(?:\s+\p{Lu}[\p{L}.\-]*){0,2})?)?\s*[,.!]?\s*$").unwrap()
});
static NAME_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\p{Lu}[\p{L}.'\-]{0,30}(?:\s+\p{Lu}[\p{L}.'\-]{0,30}){0,2}$").unwrap()
});
static DISCLAIMER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)confidential|intended\s+(?:solely\s+)?(?:only\s+)?for\s+the\s+(?:use|addressee)|intended\s+recipient|privileged|disclaimer|if\s+you\s+(?:have\s+)?received\s+this|do\s+not\s+(?:disclose|copy|distribute)|конфиденциальн|предназначен\S*\s+(?:исключительно|только)|если\s+вы\s+получили\s+(?:это|данное)|не\s+является\s+(?:публичной\s+)?офертой|получено\s+(?:вами\s+)?по\s+ошибке|не\s+являетесь\s+адресатом").unwrap()
});

fn is_quoted(text: &str, l: Line) -> bool {
    text[l.start..l.end].trim_start().starts_with('>')
}

fn blank(text: &str, l: Line) -> bool {
    text[l.start..l.end].trim().is_empty()
}

/// Finds what in an email body is not the sender's own new words: quoted replies (">" lines,
/// "On ... wrote:", "... писал(а):", "-----Original Message-----", Outlook "From:/Sent:" and
/// "От:/Отправлено:" blocks), forwarded history, disclaimers and signatures. Returns the cuts,
/// sorted and non-overlapping, as byte ranges into `text`.
pub fn find_cuts(text: &str) -> Vec<Cut> {
    let ls = lines(text);
    let mut cuts: Vec<Cut> = Vec::new();
    let mut region_end_line = ls.len();
    let mut i = 0;
    while i < ls.len() {
        let l = ls[i];
        let line = &text[l.start..l.end];
        if FORWARD.is_match(line) {
            cuts.push(Cut {
                kind: CutKind::Forward,
                range: l.start..text.len(),
            });
            region_end_line = i;
            break;
        }
        let outlook = HEADER_FROM.is_match(line)
            && ls[i + 1..ls.len().min(i + 7)]
                .iter()
                .any(|n| HEADER_OTHER.is_match(&text[n.start..n.end]));
        if ORIGINAL.is_match(line) || outlook {
            // Include a rule line just above ("________________").
            let mut s = i;
            while s > 0
                && (blank(text, ls[s - 1]) || RULE.is_match(&text[ls[s - 1].start..ls[s - 1].end]))
            {
                if RULE.is_match(&text[ls[s - 1].start..ls[s - 1].end]) {
                    s -= 1;
                    break;
                }
                s -= 1;
            }
            let s = if RULE.is_match(&text[ls[s].start..ls[s].end]) {
                s
            } else {
                i
            };
            cuts.push(Cut {
                kind: CutKind::Quote,
                range: ls[s].start..text.len(),
            });
            region_end_line = s;
            break;
        }
        // Attribution lines, possibly wrapped over up to three lines.
        let mut attribution_end = None;
        if !is_quoted(text, l) && !blank(text, l) && line.len() < 600 {
            for span in 0..3 {
                let j = i + span;
                if j >= ls.len() || (span > 0 && blank(text, ls[j])) {
                    break;
                }
                if ATTRIBUTION.is_match(&text[l.start..ls[j].end]) {
                    attribution_end = Some(j);
                    break;
                }
            }
        }
        if let Some(j) = attribution_end {
            let next = ls[j + 1..].iter().find(|n| !blank(text, **n));
            if next.is_some_and(|n| is_quoted(text, *n)) {
                // Bottom-posting or inline reply: cut the attribution, the ">" lines follow.
                cuts.push(Cut {
                    kind: CutKind::Quote,
                    range: l.start..ls[j].end,
                });
                i = j + 1;
                continue;
            }
            cuts.push(Cut {
                kind: CutKind::Quote,
                range: l.start..text.len(),
            });
            region_end_line = i;
            break;
        }
        if is_quoted(text, l) {
            let mut j = i;
            while j + 1 < ls.len()
                && (is_quoted(text, ls[j + 1])
                    || (blank(text, ls[j + 1])
                        && ls[j + 2..].first().is_some_and(|n| is_quoted(text, *n))))
            {
                j += 1;
            }
            cuts.push(Cut {
                kind: CutKind::Quote,
                range: l.start..ls[j].end,
            });
            i = j + 1;
            continue;
        }
        i += 1;
    }

    // Own region: lines before the history, minus trailing quote cuts.
    // Which lines the quote cuts so far cover (cuts are in line order: one linear sweep).
    let mut cut_line = vec![false; ls.len()];
    {
        let mut c = 0;
        for (k, l) in ls.iter().enumerate() {
            while c < cuts.len() && cuts[c].range.end < l.start {
                c += 1;
            }
            cut_line[k] = cuts
                .get(c)
                .is_some_and(|cut| cut.range.start <= l.start && l.end <= cut.range.end);
        }
    }
    let own: Vec<usize> = (0..region_end_line)
        .filter(|&k| !cut_line[k] && !blank(text, ls[k]))
        .collect();
    let Some(&last_own) = own.last() else {
        return finish(text, cuts);
    };
    let region_end = ls[last_own].end;
    let first_own = own[0];

    // Disclaimer: a paragraph after the first one that reads like legal boilerplate.
    let mut tail_end_line = last_own;
    let mut para_start: Option<usize> = None;
    let mut disclaimer_at: Option<usize> = None;
    for k in first_own..=last_own + 1 {
        let is_blank = k > last_own || blank(text, ls[k]) || cut_line[k];
        match (is_blank, para_start) {
            (false, None) => para_start = Some(k),
            (true, Some(s)) => {
                let para = &text[ls[s].start..ls[k - 1].end];
                // Two legal phrases anywhere after the first paragraph, or one in the last
                // paragraph: a customer who calls something "confidential" mid-message keeps it.
                let hits = if para.len() >= 60 {
                    DISCLAIMER.find_iter(para).take(2).count()
                } else {
                    0
                };
                let last_paragraph = k > last_own;
                if s > first_own && (hits >= 2 || (hits == 1 && last_paragraph)) {
                    disclaimer_at = Some(s);
                    break;
                }
                para_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = disclaimer_at {
        cuts.push(Cut {
            kind: CutKind::Disclaimer,
            range: ls[s].start..region_end,
        });
        tail_end_line = own
            .iter()
            .copied()
            .filter(|&k| k < s)
            .max()
            .unwrap_or(first_own);
        if s == first_own {
            return finish(text, cuts);
        }
    }
    let sig_region_end = ls[tail_end_line].end;
    let own_lines: Vec<usize> = own
        .iter()
        .copied()
        .filter(|&k| k <= tail_end_line)
        .collect();

    // Signature: "-- " delimiter, a mobile signature line, or the lines after a sign-off.
    let mut sig_start: Option<usize> = None;
    for &k in &own_lines {
        let line = &text[ls[k].start..ls[k].end];
        if k > first_own && (SIG_DELIM.is_match(line) || MOBILE_SIG.is_match(line)) {
            sig_start = Some(k);
            break;
        }
    }
    let search_from = own_lines.len().saturating_sub(10);
    for (idx, &k) in own_lines.iter().enumerate().skip(search_from) {
        if sig_start.is_some_and(|s| s <= k) {
            break;
        }
        let line = &text[ls[k].start..ls[k].end];
        if k > first_own && SIGN_OFF.is_match(line) {
            let after = &own_lines[idx + 1..];
            // Names, titles and contact lines: short, and not sentences of their own.
            let short = after.iter().all(|&a| {
                let l = text[ls[a].start..ls[a].end].trim();
                l.len() <= 100 && l.split_whitespace().count() <= 8 && !l.ends_with(['?', '!'])
            });
            if !after.is_empty() && after.len() <= 8 && short {
                sig_start = Some(after[0]);
            }
            break;
        }
    }
    // A bare name (or name and initials) as the last paragraph: "Алексей", "J. Smith".
    if sig_start.is_none() {
        if let Some(&last) = own_lines.last() {
            let line = text[ls[last].start..ls[last].end].trim();
            let paragraph_start = last > first_own && blank(text, ls[last - 1]);
            if paragraph_start && NAME_LINE.is_match(line) {
                sig_start = Some(last);
            }
        }
    }
    if let Some(s) = sig_start {
        cuts.push(Cut {
            kind: CutKind::Signature,
            range: ls[s].start..sig_region_end,
        });
    }
    finish(text, cuts)
}

fn finish(text: &str, mut cuts: Vec<Cut>) -> Vec<Cut> {
    cuts.retain(|c| c.range.start < c.range.end);
    cuts.sort_by_key(|c| c.range.start);
    let mut out: Vec<Cut> = Vec::with_capacity(cuts.len());
    for c in cuts {
        if let Some(last) = out.last_mut() {
            let only_space_between = c.range.start >= last.range.end
                && text[last.range.end..c.range.start].trim().is_empty();
            if c.range.start < last.range.end || (c.kind == last.kind && only_space_between) {
                if c.range.end > last.range.end {
                    last.range.end = c.range.end;
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The complement of `cuts` in `text`, trimmed, without empty pieces.
pub fn kept_ranges(text: &str, cuts: &[Cut]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut push = |r: Range<usize>| {
        let s = &text[r.clone()];
        let lead = s.len() - s.trim_start().len();
        let trail = s.len() - s.trim_end().len();
        if lead + trail < s.len() {
            out.push(r.start + lead..r.end - trail);
        }
    };
    for c in cuts {
        if c.range.start > pos {
            push(pos..c.range.start);
        }
        pos = pos.max(c.range.end);
    }
    if pos < text.len() {
        push(pos..text.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<&'static str> {
        find_cuts(t).iter().map(|c| c.kind.as_str()).collect()
    }

    fn kept(t: &str) -> String {
        let cuts = find_cuts(t);
        kept_ranges(t, &cuts)
            .into_iter()
            .map(|r| &t[r])
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn gmail_reply_with_signature() {
        let t = "Still broken, please help.\n\nThanks,\nJohn\nACME Ltd | +1 415 555 2671\n\nOn Mon, 3 Jun 2024 at 10:00, Support <help@shop.com> wrote:\n> Please restart the app.\n> Regards";
        assert_eq!(kinds(t), vec!["signature", "quote"]);
        assert_eq!(kept(t), "Still broken, please help.\n\nThanks,");
    }

    #[test]
    fn russian_outlook_block() {
        let t = "Добрый день! Заказ так и не пришёл.\n\nС уважением,\nИван Петров\n\n________________________________\nОт: Поддержка <help@shop.ru>\nОтправлено: 3 июня 2024 г. 10:00\nКому: Иван\nТема: Заказ\n\nЗдравствуйте, Иван!";
        assert_eq!(kinds(t), vec!["signature", "quote"]);
        assert_eq!(
            kept(t),
            "Добрый день! Заказ так и не пришёл.\n\nС уважением,"
        );
    }

    #[test]
    fn thanks_midway_and_confidential_in_passing_are_kept() {
        let t = "Hi,\n\nThanks\nOne more question: when will it ship?\n";
        assert_eq!(kinds(t), Vec::<&str>::new());
        let t = "Hello,\n\nI shared confidential data with your agent by mistake, please delete it from the ticket as soon as you can.\n\nAlso please call me back tomorrow morning about the refund.";
        assert_eq!(kinds(t), Vec::<&str>::new());
    }

    #[test]
    fn inline_reply_keeps_answers() {
        let t = "On Tue, Jane wrote:\n> Which order?\n\nOrder 1234.\n\n> And the date?\n\nMay 1st.";
        assert_eq!(kinds(t), vec!["quote", "quote"]);
        assert_eq!(kept(t), "Order 1234.\nMay 1st.");
    }

    /// A one-part MIME message: `charset` (none when empty), the body `8bit` or
    /// quoted-printable.
    fn one_part(charset: &str, body: &[u8], qp: bool) -> Vec<u8> {
        let mut m =
            b"From: a@b.ru\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain".to_vec();
        if !charset.is_empty() {
            m.extend_from_slice(format!("; charset={charset}").as_bytes());
        }
        let cte = if qp { "quoted-printable" } else { "8bit" };
        m.extend_from_slice(format!("\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").as_bytes());
        for &b in body {
            if qp && (b >= 0x80 || b == b'=') {
                m.extend_from_slice(format!("={b:02X}").as_bytes());
            } else {
                m.push(b);
            }
        }
        m.extend_from_slice(b"\r\n");
        m
    }

    fn charset_warnings(d: &DecodedEmail) -> Vec<&String> {
        d.warnings
            .iter()
            .filter(|w| w.contains("looks wrong"))
            .collect()
    }

    #[test]
    fn a_mime_part_in_the_wrong_charset_is_warned_about() {
        let text = "Спасибо за быстрый ответ, но проблема осталась: роутер не работает.";
        let cp1251 = encoding_rs::WINDOWS_1251.encode(text).0.into_owned();
        let koi8 = encoding_rs::KOI8_R.encode(text).0.into_owned();
        for qp in [false, true] {
            for (charset, body) in [("windows-1251", &cp1251), ("\"KOI8-R\"", &koi8)] {
                let d = decode(EmailFormat::Rfc822, &one_part(charset, body, qp), None).unwrap();
                assert_eq!(d.text.trim(), text, "{charset} qp={qp}");
                assert!(charset_warnings(&d).is_empty(), "{:?}", d.warnings);
            }
            let d = decode(EmailFormat::Rfc822, &one_part("koi8-r", &cp1251, qp), None).unwrap();
            let w = charset_warnings(&d);
            assert_eq!(w.len(), 1, "qp={qp}: {:?}", d.warnings);
            assert!(
                w[0].starts_with("charset \"koi8-r\" of a MIME part looks wrong for this text: it decodes as gibberish; \"windows-1251\" fits"),
                "{}",
                w[0]
            );
            // Decoded as declared all the same.
            assert_ne!(d.text.trim(), text);

            let d = decode(
                EmailFormat::Rfc822,
                &one_part("windows-1251", &koi8, qp),
                None,
            )
            .unwrap();
            let w = charset_warnings(&d);
            assert_eq!(w.len(), 1, "qp={qp}: {:?}", d.warnings);
            assert!(w[0].contains("\"koi8-r\" fits"), "{}", w[0]);
        }
        // A part that names no charset is read as UTF-8, which these bytes are not.
        let d = decode(EmailFormat::Rfc822, &one_part("", &cp1251, false), None).unwrap();
        let w = charset_warnings(&d);
        assert_eq!(w.len(), 1, "{:?}", d.warnings);
        assert!(
            w[0].starts_with(
                "charset \"utf-8\" of a MIME part (the default: none was given) looks wrong"
            ),
            "{}",
            w[0]
        );
    }
}
