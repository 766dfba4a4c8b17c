//! HTML to plain text, keeping block structure and blockquotes (rendered as "> " lines, which
//! the quote stripper then recognises).
use std::sync::LazyLock;

use regex::Regex;

/// Deeper element nesting than this is not real mail: the fallback stripper handles it.
const MAX_NESTING: usize = 256;

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<(script|style|head)\b.*?</(?:script|style|head)\s*>|<!--.*?-->|<(/?)([a-z][a-z0-9]*)\b[^>]*?(/?)>").unwrap()
});

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "table",
    "ul",
    "ol",
    "pre",
    "section",
    "article",
    "header",
    "footer",
];

/// Approximate maximum element nesting depth of `html`.
pub fn nesting_depth(html: &str) -> usize {
    let mut depth: usize = 0;
    let mut max = 0;
    for c in TAG.captures_iter(html) {
        let Some(name) = c.get(3) else { continue };
        let name = name.as_str().to_ascii_lowercase();
        if VOID.contains(&name.as_str()) || c.get(4).is_some_and(|m| !m.as_str().is_empty()) {
            continue;
        }
        if c.get(2).is_some_and(|m| m.as_str() == "/") {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// Renders `html` as text: paragraphs and line breaks kept, no wrapping, links as their text,
/// blockquotes prefixed with "> ".
pub fn html_to_text(html: &str) -> String {
    if nesting_depth(html) > MAX_NESTING {
        return strip_tags(html);
    }
    let rendered = html2text::config::plain_no_decorate()
        .link_footnotes(false)
        .no_table_borders()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), 1_000_000);
    match rendered {
        Ok(t) => tidy(&t),
        Err(_) => strip_tags(html),
    }
}

/// Trailing spaces off every line, trailing blank lines off the text.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// A plain, linear tag stripper: blocks become line breaks, quotes become "> " lines, entities
/// the common ones. Used for pathological HTML.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut last = 0;
    let mut quote_depth: usize = 0;
    let push_text = |out: &mut String, s: &str, quote_depth: usize| {
        for (i, piece) in s.split('\n').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if !piece.trim().is_empty()
                && (out.is_empty() || out.ends_with('\n'))
                && quote_depth > 0
            {
                out.push_str(&"> ".repeat(quote_depth.min(8)));
            }
            out.push_str(&decode_entities(piece));
        }
    };
    for c in TAG.captures_iter(html) {
        let m = c.get(0).expect("group 0");
        push_text(&mut out, &html[last..m.start()], quote_depth);
        last = m.end();
        if let Some(name) = c.get(3) {
            let name = name.as_str().to_ascii_lowercase();
            let closing = c.get(2).is_some_and(|m| m.as_str() == "/");
            if name == "blockquote" {
                quote_depth = if closing {
                    quote_depth.saturating_sub(1)
                } else {
                    quote_depth + 1
                };
            }
            if BLOCK.contains(&name.as_str()) && !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    push_text(&mut out, &html[last..], quote_depth);
    out.trim().to_string()
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_blocks_and_quotes() {
        let t = html_to_text("<html><body><p>Hello <b>team</b>,</p><div>it broke again.</div><blockquote>old text</blockquote></body></html>");
        assert!(t.contains("Hello"), "{t}");
        assert!(t.contains("it broke again."), "{t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with('>') && l.contains("old text")),
            "{t}"
        );
    }

    #[test]
    fn deep_nesting_falls_back() {
        let html = format!("{}deep{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert_eq!(html_to_text(&html), "deep");
    }
}
