//! `rapport eval support`: the served models on the project's support-domain set
//! (`eval/support/`, labelled from its README's guidelines before any output was seen), per
//! language, against issue 20's targets (EVAL.md, "Support domain"). The `test` split is for
//! evaluation only; `dev` is where calibration is to be chosen.
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use clap::Args;
use serde::{Deserialize, Serialize};

use super::{crossling, domain_fit, metrics, EvalArgs};
use crate::{
    analysis::{
        domain::{self, Domain, DomainCalibration, General},
        MessageAnalysis, Role,
    },
    Error, Result,
};

#[derive(Args, Clone, Debug)]
pub struct SupportArgs {
    /// `eval support`: directory of the labelled JSONL files.
    #[arg(long, env = "RAPPORT_SUPPORT_DIR", default_value = "eval/support/data")]
    pub support_dir: PathBuf,
    /// `eval support`: "test", "dev" or "all".
    #[arg(long, env = "RAPPORT_SUPPORT_SPLIT", default_value = "test")]
    pub support_split: String,
    /// `eval support`: the calibration domain to score under (`general`: the heads as trained;
    /// `support`: MODELS_DIR/domains/support.json applied).
    #[arg(long = "domain", env = "RAPPORT_DOMAIN", value_enum, default_value_t = Domain::Support)]
    pub support_domain: Domain,
    /// `eval support`: fit the support domain's maps on the dev split by EVAL.md's rule and
    /// write MODELS_DIR/domains/support.json (reads dev only, whatever `--support-split`).
    #[arg(long = "fit", env = "RAPPORT_SUPPORT_FIT")]
    pub support_fit: bool,
    /// `eval support`: send each message with its role (customer, agent), as LiveAssist and
    /// conversations do; `false` sends none, as a caller that does not say.
    #[arg(long = "support-roles", env = "RAPPORT_SUPPORT_ROLES", default_value_t = true, action = clap::ArgAction::Set)]
    pub support_roles: bool,
}

/// One labelled message (eval/support/README.md has the guidelines).
#[derive(Clone, Debug, Deserialize)]
pub struct Item {
    pub id: String,
    pub pair_id: String,
    pub lang: String,
    pub role: String,
    pub text: String,
    pub sentiment: String,
    pub emotions: Vec<String>,
    pub frustration: u8,
    pub urgency: u8,
    pub formality: String,
    pub politeness: String,
    /// Agent turns only (null for customers).
    #[serde(default)]
    pub empathy: Option<u8>,
    #[serde(default)]
    pub apology: Option<u8>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub split: String,
}

impl Item {
    /// The role a caller would send the message with.
    pub fn role(&self) -> Role {
        match self.role.as_str() {
            "agent" => Role::Agent,
            "customer" => Role::Customer,
            _ => Role::Unspecified,
        }
    }
}

pub fn read_items(dir: &Path) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for p in &super::data::files_with_extension(dir, "jsonl")? {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            items.push(serde_json::from_str(line).map_err(|e| {
                Error::invalid(format!("{}:{}", p.display(), i + 1), e.to_string())
            })?);
        }
    }
    Ok(items)
}

/// The figures of one language (or all).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub messages: usize,
    pub sentiment_accuracy: f64,
    /// Messages with no sentiment (the language was not told or not covered).
    pub sentiment_abstained: usize,
    /// Gold label -> predicted label ("none" when abstaining) -> messages.
    pub sentiment_confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub anger_auc: f64,
    /// Calibration of P(anger) against the anger label (15 bins).
    pub anger_ece: f64,
    /// Mean P(anger) on messages labelled anger.
    pub anger_mean_on_angry: f64,
    /// The frustrated tone against the frustration label.
    pub frustration_auc: f64,
    pub frustration_ece: f64,
    pub urgency_auc: f64,
    pub urgency_ece: f64,
    /// The most probable emotion (neutral included) is one of the labelled ones.
    pub top_emotion_accuracy: f64,
    /// Formal against informal (neutral left out): AUC, and accuracy at 0.5.
    pub formality_auc: f64,
    pub formality_accuracy: f64,
    /// Polite against rude: AUC; three classes read from the score (< 0.4 rude, > 0.6 polite,
    /// neutral between): accuracy.
    pub politeness_auc: f64,
    pub politeness_accuracy: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// AUC of `score` for items where `label` says Some(positive); others left out.
fn auc(
    pairs: &[(&Item, &MessageAnalysis)],
    score: impl Fn(&MessageAnalysis) -> Option<f64>,
    label: impl Fn(&Item) -> Option<bool>,
) -> f64 {
    let (s, y): (Vec<f64>, Vec<bool>) = pairs
        .iter()
        .filter_map(|(i, a)| Some((score(a)?, label(i)?)))
        .unzip();
    metrics::roc_auc(&s, &y)
}

/// ECE (15 bins) of `score` against `label`, items without either left out.
fn ece(
    pairs: &[(&Item, &MessageAnalysis)],
    score: impl Fn(&MessageAnalysis) -> Option<f64>,
    label: impl Fn(&Item) -> bool,
) -> f64 {
    let (p, y): (Vec<f32>, Vec<f32>) = pairs
        .iter()
        .filter_map(|(i, a)| Some((score(a)? as f32, label(i) as u8 as f32)))
        .unzip();
    if p.is_empty() {
        f64::NAN
    } else {
        metrics::binary_ece(&p, &y, 15)
    }
}

pub fn figures(pairs: &[(&Item, &MessageAnalysis)]) -> Figures {
    let n = pairs.len();
    let sentiment_ok = pairs
        .iter()
        .filter(|(i, a)| a.sentiment.as_ref().is_some_and(|s| s.label == i.sentiment))
        .count();
    let has_emotions = |a: &MessageAnalysis| !a.results.emotions.is_empty();
    let top_ok = pairs
        .iter()
        .filter(|(i, a)| {
            a.results
                .emotions
                .iter()
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .is_some_and(|(l, _)| i.emotions.contains(l))
        })
        .count();
    let formality =
        |a: &MessageAnalysis| a.results.style.formality.as_ref().map(|s| s.value as f64);
    let politeness =
        |a: &MessageAnalysis| a.results.style.politeness.as_ref().map(|s| s.value as f64);
    let formal_label = |i: &Item| match i.formality.as_str() {
        "formal" => Some(true),
        "informal" => Some(false),
        _ => None,
    };
    let formal_scored: Vec<(bool, f64)> = pairs
        .iter()
        .filter_map(|(i, a)| Some((formal_label(i)?, formality(a)?)))
        .collect();
    let polite_scored: Vec<(&str, f64)> = pairs
        .iter()
        .filter_map(|(i, a)| Some((i.politeness.as_str(), politeness(a)?)))
        .collect();
    let polite_class = |p: f64| {
        if p < 0.4 {
            "rude"
        } else if p > 0.6 {
            "polite"
        } else {
            "neutral"
        }
    };
    let ratio = |k: usize, n: usize| {
        if n == 0 {
            f64::NAN
        } else {
            k as f64 / n as f64
        }
    };
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (i, a) in pairs {
        let predicted = a.sentiment.as_ref().map_or("none", |s| s.label.as_str());
        *confusion
            .entry(i.sentiment.clone())
            .or_default()
            .entry(predicted.to_string())
            .or_default() += 1;
    }
    Figures {
        messages: n,
        sentiment_confusion: confusion,
        sentiment_accuracy: ratio(sentiment_ok, n),
        sentiment_abstained: pairs.iter().filter(|(_, a)| a.sentiment.is_none()).count(),
        anger_auc: auc(
            pairs,
            |a| has_emotions(a).then(|| a.results.emotion("anger") as f64),
            |i| Some(i.emotions.iter().any(|e| e == "anger")),
        ),
        anger_ece: ece(
            pairs,
            |a| has_emotions(a).then(|| a.results.emotion("anger") as f64),
            |i| i.emotions.iter().any(|e| e == "anger"),
        ),
        frustration_ece: ece(
            pairs,
            |a| (!a.results.tones.is_empty()).then(|| a.results.tone("frustrated") as f64),
            |i| i.frustration == 1,
        ),
        urgency_ece: ece(
            pairs,
            |a| a.results.style.urgency.as_ref().map(|s| s.value as f64),
            |i| i.urgency == 1,
        ),
        anger_mean_on_angry: mean(
            pairs
                .iter()
                .filter(|(i, a)| i.emotions.iter().any(|e| e == "anger") && has_emotions(a))
                .map(|(_, a)| a.results.emotion("anger") as f64),
        ),
        frustration_auc: auc(
            pairs,
            |a| (!a.results.tones.is_empty()).then(|| a.results.tone("frustrated") as f64),
            |i| Some(i.frustration == 1),
        ),
        urgency_auc: auc(
            pairs,
            |a| a.results.style.urgency.as_ref().map(|s| s.value as f64),
            |i| Some(i.urgency == 1),
        ),
        top_emotion_accuracy: ratio(top_ok, n),
        formality_auc: auc(pairs, formality, formal_label),
        formality_accuracy: ratio(
            formal_scored
                .iter()
                .filter(|(y, p)| *y == (*p >= 0.5))
                .count(),
            formal_scored.len(),
        ),
        politeness_auc: auc(pairs, politeness, |i| match i.politeness.as_str() {
            "polite" => Some(true),
            "rude" => Some(false),
            _ => None,
        }),
        politeness_accuracy: ratio(
            polite_scored
                .iter()
                .filter(|(y, p)| *y == polite_class(*p))
                .count(),
            polite_scored.len(),
        ),
    }
}

/// What the set's agent turns show (EVAL.md, "Agent turns").
#[derive(Clone, Debug, Default, Serialize)]
pub struct AgentFigures {
    pub turns: usize,
    pub sentiment_accuracy: f64,
    /// Turns labelled empathy or apology, and how many of them read negative.
    pub empathic: usize,
    pub empathic_negative: usize,
    /// The sympathetic tone against empathy or apology.
    pub sympathetic_auc: f64,
}

pub fn agent_figures(agents: &[(&Item, &MessageAnalysis)]) -> AgentFigures {
    let empathic = |i: &Item| i.empathy == Some(1) || i.apology == Some(1);
    let negative =
        |a: &MessageAnalysis| a.sentiment.as_ref().is_some_and(|s| s.label == "negative");
    AgentFigures {
        turns: agents.len(),
        sentiment_accuracy: if agents.is_empty() {
            f64::NAN
        } else {
            agents
                .iter()
                .filter(|(i, a)| a.sentiment.as_ref().is_some_and(|s| s.label == i.sentiment))
                .count() as f64
                / agents.len() as f64
        },
        empathic: agents.iter().filter(|(i, _)| empathic(i)).count(),
        empathic_negative: agents
            .iter()
            .filter(|(i, a)| empathic(i) && negative(a))
            .count(),
        sympathetic_auc: auc(
            agents,
            |a| (!a.results.tones.is_empty()).then(|| a.results.tone("sympathetic") as f64),
            |i| Some(empathic(i)),
        ),
    }
}

/// Mean |sentiment score (en) − score (ru)| over pairs with both versions scored.
pub fn parity(pairs: &[(&Item, &MessageAnalysis)]) -> (f64, usize) {
    let mut by_pair: BTreeMap<&str, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for (i, a) in pairs {
        let s = a.sentiment.as_ref().map(|s| s.score as f64);
        let e = by_pair.entry(i.pair_id.as_str()).or_default();
        match i.lang.as_str() {
            "en" => e.0 = s,
            "ru" => e.1 = s,
            _ => {}
        }
    }
    let diffs: Vec<f64> = by_pair
        .values()
        .filter_map(|(en, ru)| Some((en.as_ref()? - ru.as_ref()?).abs()))
        .collect();
    let n = diffs.len();
    (mean(diffs.into_iter()), n)
}

/// A table row: its name, how to read it from the figures, the target.
type Row = (&'static str, fn(&Figures) -> f64, &'static str);

fn cell(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.2}")
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    if args.support.support_fit {
        return fit(args);
    }
    let domain = args.support.support_domain;
    let split = &args.support.support_split;
    let items: Vec<Item> = read_items(&args.support.support_dir)?
        .into_iter()
        .filter(|i| split == "all" || &i.split == split)
        .collect();
    if items.is_empty() {
        return Err(Error::invalid(
            "support_split",
            format!(
                "no message of split {split:?} in {}",
                args.support.support_dir.display()
            ),
        ));
    }
    let (enc, heads) = crossling::load_models(args)?;
    let support = match domain {
        Domain::General => None,
        Domain::Support => Some(
            DomainCalibration::load(&args.models_dir, Domain::Support)?.ok_or_else(|| {
                Error::model(format!(
                    "no {}: fit it with `rapport eval support --fit`",
                    DomainCalibration::path(&args.models_dir, Domain::Support).display()
                ))
            })?,
        ),
    };
    if let Some(cal) = &support {
        if cal.heads_version != heads.version() {
            return Err(Error::model(format!(
                "the support domain was fitted on heads {}, these are {}: refit it",
                cal.heads_version,
                heads.version()
            )));
        }
    }
    let domain_version = support.as_ref().map(|c| c.version.clone());
    let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
    let roles: Vec<Role> = items
        .iter()
        .map(|i| {
            if args.support.support_roles {
                i.role()
            } else {
                Role::Unspecified
            }
        })
        .collect();
    let analyses =
        crossling::analyze_texts_in(enc, heads.clone(), vec![texts], &[roles], support)?.remove(0);
    let pairs: Vec<(&Item, &MessageAnalysis)> = items.iter().zip(&analyses).collect();
    let mut table = BTreeMap::new();
    for lang in ["en", "ru", "all"] {
        let of: Vec<(&Item, &MessageAnalysis)> = pairs
            .iter()
            .filter(|(i, _)| lang == "all" || i.lang == lang)
            .copied()
            .collect();
        table.insert(lang, figures(&of));
    }
    let customers: Vec<(&Item, &MessageAnalysis)> = pairs
        .iter()
        .filter(|(i, _)| i.role == "customer")
        .copied()
        .collect();
    let (gap, pair_count) = parity(&customers);
    let emoji_only: Vec<&(&Item, &MessageAnalysis)> = pairs
        .iter()
        .filter(|(i, _)| i.tags.iter().any(|t| t == "emoji_only"))
        .collect();
    let agents: Vec<(&Item, &MessageAnalysis)> = pairs
        .iter()
        .filter(|(i, _)| i.role == "agent")
        .copied()
        .collect();
    let agent = agent_figures(&agents);
    let emoji_abstained = emoji_only
        .iter()
        .filter(|(_, a)| a.sentiment.is_none())
        .count();

    let rows: [Row; 14] = [
        ("sentiment accuracy", |f| f.sentiment_accuracy, "≥ 0.90"),
        ("anger AUC", |f| f.anger_auc, "≥ 0.90"),
        ("anger ECE", |f| f.anger_ece, "≤ 0.05"),
        ("mean P(anger) on angry", |f| f.anger_mean_on_angry, ""),
        (
            "frustration AUC (frustrated tone)",
            |f| f.frustration_auc,
            "≥ 0.90",
        ),
        ("frustration ECE", |f| f.frustration_ece, "≤ 0.05"),
        ("urgency AUC", |f| f.urgency_auc, ""),
        ("urgency ECE", |f| f.urgency_ece, ""),
        ("top-emotion accuracy", |f| f.top_emotion_accuracy, "≥ 0.70"),
        (
            "formality AUC (formal vs informal)",
            |f| f.formality_auc,
            "≥ 0.90",
        ),
        (
            "formality accuracy at 0.5",
            |f| f.formality_accuracy,
            "≥ 0.80",
        ),
        ("politeness AUC (polite vs rude)", |f| f.politeness_auc, ""),
        (
            "politeness accuracy (3 classes)",
            |f| f.politeness_accuracy,
            "≥ 0.85",
        ),
        ("messages", |f| f.messages as f64, ""),
    ];
    let mut md = format!(
        "Support set, split {split}, domain {domain}: {} messages\n\n| figure | en | ru | all | target |\n|---|---|---|---|---|\n",
        items.len()
    );
    for (name, get, target) in rows {
        let v = |l: &str| get(&table[l]);
        let fmt = |x: f64| {
            if name == "messages" {
                format!("{x:.0}")
            } else {
                cell(x)
            }
        };
        md += &format!(
            "| {name} | {} | {} | {} | {target} |\n",
            fmt(v("en")),
            fmt(v("ru")),
            fmt(v("all"))
        );
    }
    md += &format!(
        "\nMean |sentiment en − ru| over {pair_count} customer pairs: {} (target ≤ 0.15). \
         Emoji-only messages without sentiment: {emoji_abstained} of {}.\n",
        cell(gap),
        emoji_only.len()
    );
    md += &format!(
        "\nAgent turns ({}): sentiment accuracy {}; apology or empathy turns read negative: {} of \
         {}; sympathetic tone AUC for empathy or apology {}.\n",
        agent.turns,
        cell(agent.sentiment_accuracy),
        agent.empathic_negative,
        agent.empathic,
        cell(agent.sympathetic_auc)
    );
    md += "\nSentiment, gold (rows) against served (columns), all languages:\n\n| gold | negative | neutral | positive | none |\n|---|---|---|---|---|\n";
    for (gold, row) in &table["all"].sentiment_confusion {
        let c = |l: &str| row.get(l).copied().unwrap_or(0);
        md += &format!(
            "| {gold} | {} | {} | {} | {} |\n",
            c("negative"),
            c("neutral"),
            c("positive"),
            c("none")
        );
    }
    println!("{md}");
    let out = serde_json::json!({
        "what": "served heads on the support-domain set (eval/support/README.md)",
        "command": format!("rapport eval support --support-split {split} --domain {domain}"),
        "date": super::today(),
        "heads_version": heads.version(),
        "domain": domain.as_str(),
        "domain_version": domain_version,
        "split": split,
        "figures": table,
        "parity": {"mean_abs_gap": gap, "pairs": pair_count},
        "emoji_only": {"messages": emoji_only.len(), "no_sentiment": emoji_abstained},
        "agent_turns": agent,
    });
    let out_path = args.out.clone().unwrap_or_else(|| {
        args.support
            .support_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(match domain {
                // the general figures keep the file name they had before domains existed
                Domain::General => format!("results-{split}.json"),
                Domain::Support => format!("results-{split}-{domain}.json"),
            })
    });
    crate::model::heads::write_json(&out_path, &out)?;
    tracing::info!(path = %out_path.display(), "support-domain results written");
    Ok(())
}

/// sha256 of the split's JSON lines, sorted: names exactly what a domain was fitted on.
fn split_sha256(dir: &Path, split: &str) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut lines = Vec::new();
    for p in &super::data::files_with_extension(dir, "jsonl")? {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error::invalid(p.display().to_string(), e.to_string()))?;
            if v["split"] == split {
                lines.push(line.trim().to_string());
            }
        }
    }
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The fitting rows of labelled messages and their general analyses: messages the heads
/// analysed (not emoji-only ones), in a language the maps are fitted for (as detected, which is
/// how the server picks a language's maps).
pub fn rows(pairs: &[(&Item, &MessageAnalysis)]) -> Vec<domain_fit::Row> {
    let mut out = Vec::new();
    for (i, a) in pairs {
        let Some(h) = &a.results.general else {
            continue;
        };
        let lang = a.language.code.clone();
        if !domain_fit::LANGUAGES.contains(&lang.as_str()) {
            continue;
        }
        let g = General::of(h, &a.text.features);
        let x = domain::inputs(
            h,
            g.formality,
            g.urgency,
            g.frustrated,
            &a.text.features,
            &a.text.redacted,
        );
        let emotions = std::array::from_fn(|k| {
            i.emotions
                .iter()
                .any(|e| e == crate::analysis::compose::EMOTIONS[k])
        });
        out.push(domain_fit::Row {
            lang,
            fold: domain_fit::fold_of(&i.pair_id),
            x,
            politeness: a.results.style.politeness.as_ref().map(|s| s.value),
            formality: a.results.style.formality.as_ref().map(|s| s.value),
            frustrated: (!a.results.tones.is_empty()).then(|| a.results.tone("frustrated")),
            urgency: a.results.style.urgency.as_ref().map(|s| s.value),
            g,
            sentiment: match i.sentiment.as_str() {
                "negative" => 0,
                "neutral" => 1,
                _ => 2,
            },
            emotions,
            politeness_class: i.politeness.clone(),
            formality_target: match i.formality.as_str() {
                "formal" => 1.0,
                "informal" => 0.0,
                _ => 0.5,
            },
            frustration: i.frustration == 1,
            urgent: i.urgency == 1,
        });
    }
    out
}

/// `eval support --fit`: the general analyses of the dev split, the rule's fit, the artifact.
fn fit(args: &EvalArgs) -> Result<()> {
    let dir = &args.support.support_dir;
    let items: Vec<Item> = read_items(dir)?
        .into_iter()
        .filter(|i| i.split == "dev")
        .collect();
    if items.is_empty() {
        return Err(Error::invalid(
            "support_dir",
            format!("no dev message in {}", dir.display()),
        ));
    }
    let (enc, heads) = crossling::load_models(args)?;
    let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
    let analyses = crossling::analyze_texts(enc, heads.clone(), vec![texts])?.remove(0);
    let pairs: Vec<(&Item, &MessageAnalysis)> = items.iter().zip(&analyses).collect();
    let rows = rows(&pairs);
    let fitted = domain_fit::fit(&rows);
    let maps = serde_json::to_string(&fitted.languages).expect("maps serialise");
    let hash = {
        use sha2::{Digest, Sha256};
        format!("{:x}", Sha256::digest(maps.as_bytes()))
    };
    let cal = DomainCalibration {
        domain: Domain::Support.as_str().into(),
        version: format!("support-{}-{}", super::today().replace('-', ""), &hash[..8]),
        inputs: domain::INPUTS.iter().map(|s| s.to_string()).collect(),
        heads_version: heads.version(),
        languages: fitted.languages.clone(),
        fitted_on: serde_json::json!({
            "set": dir.display().to_string(),
            "split": "dev",
            "messages": items.len(),
            "rows": rows.len(),
            "split_sha256": split_sha256(dir, "dev")?,
            "rule": "EVAL.md, Support domain, \"Domain calibration: the rule\" (2026-12-06)",
            "folds": domain_fit::FOLDS,
            "margin": domain_fit::MARGIN,
            "command": "rapport eval support --fit",
            "date": super::today(),
        }),
        chosen: serde_json::to_value(&fitted.chosen).expect("serialises"),
        metrics: serde_json::json!({ "dev_crossvalidated": fitted.cv }),
    };
    let mut md = String::from(
        "Support domain, dev split, 5-fold cross-validated by pair (the rule's score; en / ru):\n\n\
         | head | candidate | score | en | ru | chosen |\n|---|---|---|---|---|---|\n",
    );
    for (target, results) in &fitted.cv {
        for r in results {
            let lang = |l: &str| {
                r.languages.get(l).map_or("–".into(), |s| {
                    let mut parts = vec![format!("{:.3}", s.score)];
                    if let Some(e) = s.ece {
                        parts.push(format!("ECE {e:.3}"));
                    }
                    parts.join(", ")
                })
            };
            md += &format!(
                "| {target:?} | {} | {:.3} | {} | {} | {} |\n",
                r.candidate,
                r.score,
                lang("en"),
                lang("ru"),
                if fitted.chosen[target] == r.candidate {
                    "✓"
                } else {
                    ""
                }
            );
        }
    }
    println!("{md}");
    let path = DomainCalibration::path(&args.models_dir, Domain::Support);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    crate::model::heads::write_json(&path, &serde_json::to_value(&cal).expect("serialises"))?;
    tracing::info!(path = %path.display(), version = %cal.version, "support domain written");
    Ok(())
}
