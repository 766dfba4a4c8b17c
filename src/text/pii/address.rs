//! Postal addresses in English and Russian.
//!
//! English: a house number, one to four capitalised words (or an ordinal, "5th") and a street
//! type ("221B Baker Street", "12 Main St., Apt 4"), with an optional direction, unit, city,
//! state and ZIP or UK postcode ("1600 Pennsylvania Ave NW, Washington, DC 20500"); and PO boxes.
//! Street types that are also common in product names (Drive, Way, Place, Court, ...) need a unit,
//! a city or ZIP after them, or a word before them that introduces an address ("live at",
//! "ship to", "address"), so "2 Google Drive folders" stays.
//!
//! Russian: the parts of an address (city "г. Москва", region "Московская обл.", street "ул.
//! Ленина" / "Тверская улица" / "проспект Мира", house "д. 5" or a bare number after the street,
//! building "корп. 2" / "стр. 1", flat or office "кв. 12" / "оф. 3", postcode with city
//! "125009, Москва") joined where only commas and spaces part them. A run of parts is an address
//! when it has a street and a house number, a house and a flat, or a postcode with a city: a city
//! alone ("Москва", "г. Москва") or a street alone ("на ул. Ленина") is not redacted.
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

static EN_STREET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?-u:\b)\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?\s+
        (?:(?:N|S|E|W|North|South|East|West)\.?\s+)?
        (?:(?:[A-Z][a-z'’\-]*[a-z]|\d{1,3}(?:st|nd|rd|th))\s+){1,4}
        (?P<suffix>(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct
            |place|pl|square|sq|terrace|ter|way|parkway|pkwy|highway|hwy|circle|cir|crescent|cres
            |close|row|trail|trl|alley|plaza|gardens|grove|mews))(?-u:\b)\.?
        (?:\s+(?:N|S|E|W|NE|NW|SE|SW)(?-u:\b)\.?)?
        (?P<unit>,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|Room|Rm|Bldg|\#)\.?\s*\#?\s*
            [A-Za-z0-9\-]{1,6}(?-u:\b))?
        (?P<city>,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2}
            (?:,\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?
              |,?\s+\d{5}(?:-\d{4})?
              |,?\s+[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}))?
        ",
    )
    .unwrap()
});

static EN_PO_BOX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?i:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box|а/я|абонентский\s+ящик)\s*№?\s*\d{1,7}\b",
    )
    .unwrap()
});

static RU_PARTS: LazyLock<Regex> = LazyLock::new(|| {
    // Street names: an optional number ("1-я", "8"), then capitalised words.
    let name = concat!(
        r"(?:\d{1,3}(?:-?(?:я|й|го|ой|ая|ий|ый|е))?\s+)?",
        r"[А-ЯЁ][а-яёА-ЯЁ\-]*(?:\s+[А-ЯЁ][а-яё\-]+){0,2}",
    );
    // A street type before the name: "ул. Ленина", "проспект Мира", "пр-т Мира".
    let street_pre = concat!(
        r"(?i:(?:ул|просп|пр|пер|ш|наб|бул|пл|туп|мкр|мкрн)\.\s*",
        r"|(?:ул|просп|пер|наб|мкр|мкрн)\s+",
        r"|(?:пр-т|пр-кт|б-р|пр-д)\.?\s*",
        r"|(?:улиц[аеуыи]|проспект[аеу]?|переул(?:ок|ке|ка|ку)|шоссе|набережн(?:ая|ой|ую)",
        r"|бульвар[аеу]?|площад[ьи]|тупик[аеу]?|проезд[аеу]?|микрорайон[аеу]?|алле[яеи]",
        r"|лини[яи])\s+)",
    );
    // A street type after the name: "Тверская улица", "Ленинском проспекте".
    let street_post = concat!(
        r"(?i:улиц[аеуыи]|ул\.|проспект[аеу]?|просп\.|пр-т|переул(?:ок|ке|ка)|пер\.|шоссе|ш\.",
        r"|набережн(?:ая|ой|ую)|наб\.|бульвар[аеу]?|б-р|площад[ьи]|пл\.|проезд[аеу]?|алле[яеи]",
        r"|тупик[аеу]?)",
    );
    let city = r"(?:[А-ЯЁ][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)*)";
    let parts = [
        format!(r"(?P<postcode>\d{{6}},?\s+(?:(?i:г\.)\s*)?{city})"),
        format!(r"(?P<street>{street_pre}{name})"),
        format!(r"(?P<street2>[А-ЯЁ][а-яё\-]+(?:\s+[А-ЯЁ][а-яё\-]+)?\s+{street_post})"),
        format!(r"(?P<city>(?i:г\.|гор\.|город[аеу]?\s)\s*{city})"),
        concat!(
            r"(?P<region>[А-ЯЁ][а-яё]+(?:ая|ий|ой)\s+",
            r"(?i:обл\.|область|области|край|края|р-н|район[ае]?))"
        )
        .to_string(),
        r"(?P<house>(?i:д\.|дом[ау]?\s|д\s)\s*№?\s*\d{1,4}[а-яА-Я]?(?:/\d{1,4}[а-яА-Я]?)?)".into(),
        r"(?P<korp>(?i:корп(?:ус)?\.?|к\.|стр(?:оение)?\.?|лит(?:ера)?\.?)\s*\d{1,3}[а-яА-Я]?)"
            .into(),
        concat!(
            r"(?P<flat>(?i:кв\.?|квартир[аеуы]|оф\.?|офис[ае]?|пом\.?|помещени[ея]|комн\.?",
            r"|комнат[аеуы])\s*№?\s*\d{1,5}[а-яА-Я]?)"
        )
        .to_string(),
        r"(?P<num>\d{1,4}[а-яА-Я]?(?:/\d{1,4}[а-яА-Я]?)?(?:к\d{1,2})?)".into(),
    ];
    // No `\b`: a Unicode word boundary would push the regex off its fast engines on Cyrillic
    // text; `find_addresses` checks the edges of each part instead.
    Regex::new(&parts.join("|")).unwrap()
});

/// Street types that are also common in product and place names.
fn weak_suffix(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "drive"
            | "dr"
            | "way"
            | "place"
            | "pl"
            | "court"
            | "ct"
            | "close"
            | "row"
            | "square"
            | "sq"
            | "circle"
            | "cir"
            | "plaza"
            | "gardens"
            | "grove"
            | "mews"
            | "terrace"
            | "ter"
            | "trail"
            | "trl"
            | "crescent"
            | "cres"
    )
}

/// Does a word that introduces an address stand in the 40 bytes before `start`?
fn address_cue_before(text: &str, start: usize) -> bool {
    let from = crate::text::span::floor_boundary(text, start.saturating_sub(40));
    let window = text[from..start].to_lowercase();
    [
        "address",
        "live at",
        "lives at",
        "living at",
        "located at",
        "ship to",
        "deliver to",
        "delivered to",
        "moved to",
        "at",
        "on",
    ]
    .iter()
    .any(|k| {
        window
            .trim_end()
            .strip_suffix(k)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with(|c: char| !c.is_alphanumeric()))
            || (k.len() > 2 && window.contains(k))
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Postcode,
    Street,
    City,
    Region,
    House,
    Korp,
    Flat,
    Num,
}

/// Byte ranges of the postal addresses in `text`, sorted and disjoint.
pub fn find_addresses(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return out;
    }
    for c in EN_STREET.captures_iter(text) {
        let m = c.get(0).expect("group 0");
        let suffix = c.name("suffix").map_or("", |s| s.as_str());
        let tail = c.name("unit").is_some() || c.name("city").is_some();
        let glued = text[..m.start()].ends_with(|ch: char| ch.is_alphanumeric() || ch == '.');
        if !glued && (!weak_suffix(suffix) || tail || address_cue_before(text, m.start())) {
            let mut r = m.range();
            // "Street." ends the sentence; "St." is an abbreviation.
            if !tail && suffix.len() > 4 && text[..r.end].ends_with('.') {
                r.end -= 1;
            }
            out.push(r);
        }
    }
    for m in EN_PO_BOX.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(|c| c.is_ascii_digit())
        {
            out.push(m.range());
        }
    }
    // Russian: runs of parts.
    let mut run: Vec<(Part, Range<usize>)> = Vec::new();
    let flush = |run: &mut Vec<(Part, Range<usize>)>, out: &mut Vec<Range<usize>>| {
        let has = |p: Part| run.iter().any(|(q, _)| *q == p);
        let house = has(Part::House) || has(Part::Num);
        if (has(Part::Street) && house)
            || has(Part::Postcode)
            || (has(Part::House) && has(Part::Flat))
        {
            out.push(run[0].1.start..run[run.len() - 1].1.end);
        }
        run.clear();
    };
    let cyrillic = text.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}'));
    for c in RU_PARTS.captures_iter(if cyrillic { text } else { "" }) {
        let m = c.get(0).expect("group 0");
        // Word edges: nothing alphanumeric glued before; after, nothing alphanumeric glued to a
        // part that ends in a letter or digit.
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let ends_open = m.as_str().ends_with(|ch: char| ch.is_alphanumeric());
        if before.is_some_and(char::is_alphanumeric)
            || (ends_open && after.is_some_and(char::is_alphanumeric))
        {
            continue;
        }
        let part = [
            ("postcode", Part::Postcode),
            ("street", Part::Street),
            ("street2", Part::Street),
            ("city", Part::City),
            ("region", Part::Region),
            ("house", Part::House),
            ("korp", Part::Korp),
            ("flat", Part::Flat),
            ("num", Part::Num),
        ]
        .into_iter()
        .find(|(g, _)| c.name(g).is_some())
        .map(|(_, p)| p)
        .expect("one group matches");
        let joined = run.last().is_some_and(|(prev, r)| {
            let gap = &text[r.end..m.start()];
            gap.len() <= 4
                && gap.chars().all(|ch| ch == ',' || ch.is_whitespace())
                && !gap.contains('\n')
                // A bare number belongs only right after a street.
                && (part != Part::Num || *prev == Part::Street)
        });
        if !joined {
            flush(&mut run, &mut out);
        }
        if part == Part::Num && run.is_empty() {
            continue;
        }
        run.push((part, m.range()));
    }
    flush(&mut run, &mut out);
    out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(t: &str) -> Vec<&str> {
        find_addresses(t).into_iter().map(|r| &t[r]).collect()
    }

    #[test]
    fn english_addresses() {
        assert_eq!(
            addrs("I live at 221B Baker Street, London."),
            ["221B Baker Street"]
        );
        assert_eq!(
            addrs("send it to 1600 Pennsylvania Ave NW, Washington, DC 20500 please"),
            ["1600 Pennsylvania Ave NW, Washington, DC 20500"]
        );
        assert_eq!(addrs("12 Main St., Apt 4 is mine"), ["12 Main St., Apt 4"]);
        assert_eq!(addrs("ship to 42 Oak Drive"), ["42 Oak Drive"]);
        assert_eq!(addrs("at 350 5th Avenue"), ["350 5th Avenue"]);
        assert_eq!(addrs("PO Box 1234"), ["PO Box 1234"]);
    }

    #[test]
    fn english_non_addresses() {
        for t in [
            "I have 2 Google Drive folders",
            "order 1234567 shipped",
            "it costs 12 USD",
            "5 Star Wars figures",
            "version 2 Way Better",
        ] {
            assert_eq!(addrs(t), Vec::<&str>::new(), "{t}");
        }
    }

    #[test]
    fn russian_addresses() {
        assert_eq!(
            addrs("ул. Ленина, д. 5, кв. 12"),
            ["ул. Ленина, д. 5, кв. 12"]
        );
        assert_eq!(
            addrs("Адрес: г. Москва, ул. Тверская, 7."),
            ["г. Москва, ул. Тверская, 7"]
        );
        assert_eq!(
            addrs("живу на проспект Мира 15 корп 2"),
            ["проспект Мира 15 корп 2"]
        );
        assert_eq!(addrs("125009, Москва"), ["125009, Москва"]);
        assert_eq!(
            addrs("Доставка в г. Казань, ул. Баумана, д. 5, т.е. в центр"),
            ["г. Казань, ул. Баумана, д. 5"]
        );
        assert_eq!(addrs("Тверская ул., 7, кв. 3"), ["Тверская ул., 7, кв. 3"]);
        assert_eq!(
            addrs("на Ленинском проспекте 45"),
            ["Ленинском проспекте 45"]
        );
        assert_eq!(addrs("д. 5, кв. 12"), ["д. 5, кв. 12"]);
        assert_eq!(addrs("ул. 8 Марта, д. 3"), ["ул. 8 Марта, д. 3"]);
    }

    #[test]
    fn russian_non_addresses() {
        for t in [
            "Москва",
            "г. Москва",
            "живу на ул. Ленина",
            "площадь 50 кв. м",
            "заказ 123456 от 12.05",
            "в 2023 г. Мы купили 5 штук",
            "Красная площадь",
        ] {
            assert_eq!(addrs(t), Vec::<&str>::new(), "{t}");
        }
    }
}
