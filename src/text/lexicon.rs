//! Word lists compiled into the binary (`models/lexicons/*.txt`, see the README there).
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pat {
    Exact(String),
    Stem(String),
}

impl Pat {
    fn matches(&self, word: &str) -> bool {
        match self {
            Pat::Exact(w) => w == word,
            Pat::Stem(s) => word.starts_with(s.as_str()),
        }
    }
}

/// A list of words and phrases, matched on lower-case word tokens.
#[derive(Clone, Debug, Default)]
pub struct Lexicon {
    by_first: HashMap<String, Vec<Vec<Pat>>>,
    stem_first: Vec<Vec<Pat>>,
}

impl Lexicon {
    /// Parses the file format: one entry a line, `#` comments, `*` at a word's end for a stem.
    pub fn parse(src: &str) -> Lexicon {
        let mut lex = Lexicon::default();
        for line in src.lines() {
            let line = line.split('#').next().unwrap_or("").trim().to_lowercase();
            if line.is_empty() {
                continue;
            }
            let pats: Vec<Pat> = line
                .split_whitespace()
                .map(|w| match w.strip_suffix('*') {
                    Some(stem) => Pat::Stem(stem.to_string()),
                    None => Pat::Exact(w.to_string()),
                })
                .collect();
            match &pats[0] {
                Pat::Exact(w) => lex.by_first.entry(w.clone()).or_default().push(pats),
                Pat::Stem(_) => lex.stem_first.push(pats),
            }
        }
        for v in lex.by_first.values_mut() {
            v.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
        lex.stem_first.sort_by_key(|p| std::cmp::Reverse(p.len()));
        lex
    }

    /// Length in tokens of the longest entry matching at `words[i..]`, if any.
    pub fn match_at(&self, words: &[&str], i: usize) -> Option<usize> {
        let fits = |p: &Vec<Pat>| {
            p.len() <= words.len() - i && p.iter().zip(&words[i..]).all(|(pat, w)| pat.matches(w))
        };
        let exact = self
            .by_first
            .get(words[i])
            .and_then(|cands| cands.iter().find(|p| fits(p)))
            .map(Vec::len);
        let stem = self.stem_first.iter().find(|p| fits(p)).map(Vec::len);
        exact.max(stem)
    }

    /// Non-overlapping matches in `words`, longest first at each position.
    pub fn count(&self, words: &[&str]) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < words.len() {
            match self.match_at(words, i) {
                Some(len) => {
                    n += 1;
                    i += len;
                }
                None => i += 1,
            }
        }
        n
    }

    pub fn contains_word(&self, word: &str) -> bool {
        self.match_at(&[word], 0) == Some(1)
    }
}

/// One category, English and Russian together (the scripts do not collide).
pub struct Bilingual {
    pub en: Lexicon,
    pub ru: Lexicon,
}

impl Bilingual {
    fn new(en: &str, ru: &str) -> Self {
        Bilingual {
            en: Lexicon::parse(en),
            ru: Lexicon::parse(ru),
        }
    }

    pub fn count(&self, words: &[&str]) -> usize {
        self.en.count(words) + self.ru.count(words)
    }

    pub fn contains_word(&self, w: &str) -> bool {
        self.en.contains_word(w) || self.ru.contains_word(w)
    }
}

macro_rules! lexicon {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Bilingual> = LazyLock::new(|| {
            Bilingual::new(
                include_str!(concat!("../../models/lexicons/", $file, ".en.txt")),
                include_str!(concat!("../../models/lexicons/", $file, ".ru.txt")),
            )
        });
    };
}

lexicon!(HEDGES, "hedges");
lexicon!(INTENSIFIERS, "intensifiers");
lexicon!(POLITENESS, "politeness");
lexicon!(APOLOGIES, "apologies");
lexicon!(THANKS, "thanks");
lexicon!(NEGATIONS, "negations");
lexicon!(URGENCY, "urgency");
lexicon!(IMPERATIVES, "imperatives");
lexicon!(FILLERS, "fillers");
// LiveAssist's cues (src/hints).
lexicon!(THREATS, "threats");
lexicon!(LEAVING, "leaving");
lexicon!(WAITING, "waiting");
lexicon!(ACKNOWLEDGEMENTS, "acknowledgements");
lexicon!(CHEERFUL, "cheerful");
lexicon!(SLANG, "slang");
lexicon!(NUDGES, "nudges");
lexicon!(RESOLVED, "resolved");
lexicon!(REPEATED, "repeated");
lexicon!(OUTRAGE, "outrage");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_and_stems() {
        let lex = Lexicon::parse("# c\nsort of\nsort\nизвин*\nне уверен*\n");
        assert_eq!(lex.count(&["sort", "of", "sort"]), 2);
        assert_eq!(lex.count(&["извините", "я", "не", "уверена"]), 2);
        assert!(HEDGES.contains_word("maybe"));
        assert!(APOLOGIES.contains_word("извиняюсь"));
    }
}
