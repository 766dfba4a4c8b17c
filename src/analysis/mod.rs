//! Message and conversation analysis: validates input, tokenizes off the async runtime, sends
//! the tokens through the engine and turns head outputs into domain results.
pub mod compose;
pub mod conversation;
pub mod domain;
pub mod emoji;
pub mod evidence;
pub mod prepare;
pub mod types;

use std::{sync::Arc, time::Instant};

pub use prepare::{PreparedMessage, Preparer};
pub use types::*;

use crate::{
    config::ModelArgs,
    engine::{Engine, Inference, Sequence},
    model::{default_bundle_dir, Encoder, EncoderOptions, HeadSet, ModelSource},
    Error, Result,
};

/// Input limits, enforced the same way for the API and the CLI.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_text_chars: usize,
    /// Largest `raw` body (a whole MIME email, attachments included), in bytes.
    pub max_raw_bytes: usize,
    pub max_batch_messages: usize,
    pub max_tokens: usize,
    /// Most stretches a message is cut into for evidence; 0 turns evidence off.
    pub evidence_max_sentences: usize,
    pub evidence_mode: evidence::EvidenceMode,
}

/// One loaded model as reported by Info.
#[derive(Clone, Debug)]
pub struct ModelDescription {
    pub name: String,
    pub source: String,
    pub version: String,
    pub sha256: String,
    pub languages: Vec<String>,
}

/// What this analyzer runs, for the Info API and logs.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    pub version: String,
    pub model_version: String,
    pub models: Vec<ModelDescription>,
    pub languages: Vec<String>,
    pub label_sets: Vec<(String, Vec<String>)>,
    pub limits: Limits,
    /// The domain of requests that name none.
    pub domain: String,
    /// The domains a request may name.
    pub domains: Vec<String>,
}

pub struct Analyzer {
    encoder: Arc<Encoder>,
    heads: Arc<HeadSet>,
    engine: Engine,
    preparer: Preparer,
    limits: Limits,
    model_version: Arc<str>,
    /// Position of the sentiment head in `heads.heads()` order (the engine's output order).
    sentiment_index: usize,
    /// Position of the `traits` head, if the heads have one.
    traits_index: Option<usize>,
    sentiment_languages: Vec<String>,
    /// The domain of messages that name none (`--domain`), after loading: `General` when the
    /// support artifact is missing or was fitted on other heads.
    domain: domain::Domain,
    /// The support domain's maps, when loaded.
    support: Option<Arc<domain::DomainCalibration>>,
}

impl Analyzer {
    /// Loads the encoder and heads named by `args` and starts the engine. Blocking: call it off
    /// the async runtime.
    pub fn load(args: &ModelArgs) -> Result<Self> {
        // Before the encoder loads: a binary away from its checkout fails here at once, saying how
        // to give it heads (the adapter lookup below treats a missing manifest as "no adapter").
        if !args
            .heads_dir
            .join(crate::model::heads::MANIFEST_FILE)
            .is_file()
        {
            return Err(crate::model::install::missing_heads(&args.heads_dir));
        }
        let source = match &args.model {
            Some(s) => s.parse::<ModelSource>()?,
            None => ModelSource::Bundle(default_bundle_dir()),
        };
        let opts = EncoderOptions {
            device: args.device.device()?,
            max_tokens: args.max_tokens,
            precision: args.precision,
            adapter: crate::model::adapter::pinned(&args.heads_dir)?,
            ..EncoderOptions::default()
        };
        let started = Instant::now();
        let encoder = Encoder::load(&source, &opts)?;
        let heads = HeadSet::load(&args.heads_dir, encoder.info(), args.allow_encoder_mismatch)?;
        tracing::info!(
            source = %source,
            sha256 = %encoder.info().sha256,
            heads = %heads.version(),
            secs = started.elapsed().as_secs_f32(),
            "models loaded"
        );
        let limits = Limits {
            max_text_chars: args.max_text_chars,
            max_raw_bytes: args.max_raw_bytes,
            max_batch_messages: args.max_batch_messages,
            max_tokens: args.max_tokens,
            evidence_max_sentences: args.evidence_max_sentences,
            evidence_mode: args.evidence_mode,
        };
        let version = heads.version();
        let analyzer = Self::new(Arc::new(encoder), Arc::new(heads), &args.engine, limits)?;
        // The support maps load whatever the default domain, so a request may still ask for them.
        let support = domain::DomainCalibration::load(&args.heads_dir, domain::Domain::Support)?
            .filter(|cal| {
                let same = cal.heads_version == version;
                if !same {
                    tracing::warn!(
                        domain = %cal.version,
                        fitted_on = %cal.heads_version,
                        heads = %version,
                        "the support domain was fitted on other heads; not applied (refit it \
                         with `rapport eval support --fit`)"
                    );
                }
                same
            });
        if args.domain == domain::Domain::Support && support.is_none() {
            tracing::warn!(
                path = %domain::DomainCalibration::path(&args.heads_dir, domain::Domain::Support)
                    .display(),
                "no usable support-domain calibration: serving the general domain"
            );
        }
        Ok(analyzer.with_domain(args.domain, support))
    }

    /// Sets the default domain and the support maps (`None`: only `general` can be served).
    pub fn with_domain(
        mut self,
        default: domain::Domain,
        support: Option<domain::DomainCalibration>,
    ) -> Self {
        self.support = support.map(Arc::new);
        self.domain = if self.support.is_some() {
            default
        } else {
            domain::Domain::General
        };
        tracing::info!(domain = %self.domain, "calibration domain");
        self
    }

    /// The domain of messages that name none.
    pub fn domain(&self) -> domain::Domain {
        self.domain
    }

    fn domain_maps(&self, requested: Option<domain::Domain>) -> Option<&domain::DomainCalibration> {
        match requested.unwrap_or(self.domain) {
            domain::Domain::Support => self.support.as_deref(),
            domain::Domain::General => None,
        }
    }

    pub fn new(
        encoder: Arc<Encoder>,
        heads: Arc<HeadSet>,
        engine_args: &crate::config::EngineArgs,
        mut limits: Limits,
    ) -> Result<Self> {
        // A message and its encoded stretches enter the queue together: they must fit in it.
        let room = engine_args.queue_capacity.saturating_sub(1);
        if limits.evidence_mode == evidence::EvidenceMode::Encoded
            && limits.evidence_max_sentences > room
        {
            tracing::warn!(
                evidence_max_sentences = limits.evidence_max_sentences,
                queue_capacity = engine_args.queue_capacity,
                "evidence stretches per message lowered to fit the queue with their message"
            );
            limits.evidence_max_sentences = room;
        }
        let sentiment = heads.sentiment()?;
        let sentiment_index = heads
            .heads()
            .position(|h| h.task == sentiment.task)
            .expect("the sentiment head is one of the heads");
        let sentiment_languages = sentiment.languages.clone();
        let traits_index = heads.heads().position(|h| h.task == "traits");
        for needed in ["negative", "positive"] {
            if !sentiment.labels.iter().any(|l| l == needed) {
                return Err(Error::model(format!(
                    "sentiment head labels {:?} lack {needed:?}",
                    sentiment.labels
                )));
            }
        }
        let engine = Engine::start(encoder.clone(), heads.clone(), engine_args)?;
        let preparer = Preparer::new(
            encoder.clone(),
            &sentiment_languages,
            limits,
            heads.reads_cues(),
        );
        Ok(Analyzer {
            preparer,
            model_version: heads.version().into(),
            encoder,
            heads,
            engine,
            limits,
            sentiment_index,
            traits_index,
            sentiment_languages,
            domain: domain::Domain::General,
            support: None,
        })
    }

    /// Runs one message, then a full batch, through the whole path: the first real call does
    /// not pay for lazy initialisation (allocator growth, kernel selection), and the engine's
    /// admission has measured what a small and a large forward pass cost before it has to judge
    /// a call by them.
    pub async fn warm_up(&self) -> Result<()> {
        let full = self.engine.max_batch().min(self.engine.queue_capacity());
        for n in [1, full] {
            let p = self.preparer.clone();
            let prepared = blocking(move || {
                (0..n)
                    .map(|_| {
                        let msg = MessageInput {
                            text: "Thank you for the quick reply. Спасибо за быстрый ответ.".into(),
                            ..Default::default()
                        };
                        // Not validated: the operator's limits are for callers, not this text.
                        p.prepare_unchecked(msg, "warm-up")
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await??;
            self.infer(prepared, None).await?;
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn model_version(&self) -> &str {
        &self.model_version
    }

    /// Checks a batch size against the limits; `field` names the repeated field in errors, and
    /// its items after it (`turns`: "at least one turn is required", "300 turns, over ...").
    pub fn check_batch_len(&self, n: usize, field: &str) -> Result<()> {
        if n == 0 {
            let item = field.strip_suffix('s').unwrap_or(field);
            return Err(Error::invalid(
                field,
                format!("at least one {item} is required"),
            ));
        }
        if n > self.limits.max_batch_messages {
            return Err(Error::invalid(
                field,
                format!(
                    "{n} {field}, over the limit of {} per call",
                    self.limits.max_batch_messages
                ),
            ));
        }
        Ok(())
    }

    /// The text pipeline and tokenizer stage, cheap to clone into blocking tasks.
    pub fn preparer(&self) -> &Preparer {
        &self.preparer
    }

    /// Analyses independent messages; results in input order. `deadline` is the caller's: work
    /// still queued when it passes is dropped. `field` names the repeated field in errors.
    pub async fn analyze(
        &self,
        messages: Vec<MessageInput>,
        deadline: Option<Instant>,
        field: &str,
    ) -> Result<Vec<MessageAnalysis>> {
        self.check_batch_len(messages.len(), field)?;
        let preparer = self.preparer.clone();
        let field = field.to_string();
        let prepared = blocking(move || {
            messages
                .into_iter()
                .enumerate()
                .map(|(i, m)| preparer.prepare(m, &format!("{field}[{i}]")))
                .collect::<Result<Vec<_>>>()
        })
        .await??;
        self.infer(prepared, deadline).await
    }

    /// One message, named `field` in errors (`requests[2].message`, `turn`): the text pipeline
    /// off the async runtime, then the engine.
    pub async fn analyze_one(&self, message: MessageInput, field: &str) -> Result<MessageAnalysis> {
        let preparer = self.preparer.clone();
        let field = field.to_string();
        let prepared = blocking(move || preparer.prepare(message, &field)).await??;
        let mut out = self.infer(vec![prepared], None).await?;
        Ok(out.remove(0))
    }

    /// Runs prepared messages through the engine and the heads; results in input order. Each
    /// message goes with its evidence stretches, all in one engine submission (admitted or
    /// refused together). When the queue cannot take the stretches too, the evidence is shed
    /// (each message says so in its abstentions) and the messages alone are submitted: a full
    /// queue refuses a call only when its messages themselves do not fit.
    pub async fn infer(
        &self,
        mut prepared: Vec<PreparedMessage>,
        deadline: Option<Instant>,
    ) -> Result<Vec<MessageAnalysis>> {
        if self.support.is_none() {
            if let Some(i) = prepared
                .iter()
                .position(|p| p.input.domain == Some(domain::Domain::Support))
            {
                return Err(Error::invalid(
                    format!("messages[{i}].domain"),
                    "the support domain is not loaded on this server (no usable \
                     domains/support.json beside its heads); ask for \"general\"",
                ));
            }
        }
        // Nothing of the customer's own left (an email that is all quote): no inference, the
        // heads abstain.
        let mut to_encode: Vec<Sequence> = Vec::new();
        // The messages' own sequences again, for a second try without the encoded stretches.
        let mut alone: Vec<Sequence> = Vec::new();
        // Per message: how many sequences it sent (0, or 1 + its encoded stretches).
        let mut counts = Vec::with_capacity(prepared.len());
        let any_stretches = prepared.iter().any(|p| !p.stretch_tokens.is_empty());
        for p in &mut prepared {
            match p.tokens.take() {
                Some(tokens) => {
                    let spans = std::mem::take(&mut p.stretch_spans);
                    let stretch_cues = std::mem::take(&mut p.stretch_cues);
                    // pooled stretches' cues ride with the message, encoded ones on their own
                    let (span_cues, encoded_cues) = if spans.is_empty() {
                        (Vec::new(), stretch_cues)
                    } else {
                        (stretch_cues, Vec::new())
                    };
                    let own = Sequence {
                        tokens,
                        spans,
                        cues: p.cues.into_iter().chain(span_cues).collect(),
                    };
                    if any_stretches {
                        alone.push(own.clone());
                    }
                    to_encode.push(own);
                    let stretches = std::mem::take(&mut p.stretch_tokens);
                    counts.push(1 + stretches.len());
                    let mut encoded_cues = encoded_cues.into_iter();
                    to_encode.extend(
                        stretches
                            .into_iter()
                            .map(|t| Sequence::new(t, encoded_cues.next())),
                    );
                }
                None => counts.push(0),
            }
        }
        let receivers = match self.engine.submit(to_encode, deadline) {
            Err(Error::Overloaded(why)) if any_stretches => {
                tracing::debug!(reason = %why, "evidence shed: the queue cannot take the sentences");
                for (p, n) in prepared.iter_mut().zip(&mut counts) {
                    if *n > 1 {
                        p.shed_evidence();
                        *n = 1;
                    }
                }
                self.engine.submit(alone, deadline)?
            }
            other => other?,
        };
        let mut receivers = receivers.into_iter();
        let mut pending = Vec::with_capacity(prepared.len());
        for n in counts {
            pending.push(receivers.by_ref().take(n).collect::<Vec<_>>());
        }
        let mut out = Vec::with_capacity(prepared.len());
        for (p, rxs) in prepared.into_iter().zip(pending) {
            let mut inferences = Vec::with_capacity(rxs.len());
            for rx in rxs {
                inferences
                    .push(rx.await.map_err(|_| {
                        Error::Unavailable("the inference thread stopped".into())
                    })??);
            }
            let mut inferences = inferences.into_iter();
            let message = inferences.next();
            out.push(self.compose(p, message, inferences.collect()));
        }
        Ok(out)
    }

    /// `stretches`: the encoded stretches' own inferences (`--evidence-mode encoded`); pooled
    /// stretches come in the message's `span_probs`.
    fn compose(
        &self,
        p: PreparedMessage,
        inference: Option<Inference>,
        stretches: Vec<Inference>,
    ) -> MessageAnalysis {
        metrics::histogram!("rapport_prepare_seconds").record(p.prepare.as_secs_f64());
        metrics::histogram!("rapport_tokenize_seconds").record(p.tokenize.as_secs_f64());
        let supported = p.language.supported;
        // No model covers the language: the emoji may still say something.
        let from_emoji = match &inference {
            Some(_) if !supported => {
                let labels = |task: &str| {
                    self.heads
                        .get(task)
                        .map(|h| h.labels.clone())
                        .unwrap_or_default()
                };
                emoji::fallback(
                    &p.report.redacted,
                    &p.report.features,
                    &labels("sentiment"),
                    &labels("emotions"),
                )
            }
            _ => None,
        };
        let cal = self.domain_maps(p.input.domain);
        let maps = cal.and_then(|c| Some((c.domain.as_str(), c.for_language(&p.language.code)?)));
        let view = |text| maps.map(|(name, maps)| compose::DomainView { name, maps, text });
        let mut sentiment = None;
        let results = match &inference {
            Some(inf) if supported => {
                let mut results = compose::results_in(
                    &self.heads,
                    &inf.head_probs,
                    &p.language,
                    &p.report.features,
                    view(&p.report.redacted),
                );
                // the sentiment head's probabilities as the results carry them (its language
                // recalibration and the domain's map applied)
                let head = self
                    .heads
                    .heads()
                    .nth(self.sentiment_index)
                    .expect("sentiment index is valid");
                let probs: Vec<f32> = head
                    .labels
                    .iter()
                    .map(|l| {
                        let key = format!("sentiment.{l}");
                        results
                            .label_signals
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map_or(0.0, |(_, s)| s.value)
                    })
                    .collect();
                sentiment = Some(sentiment_from(&head.labels, &probs));
                if maps.is_some() && p.input.role == Role::Agent {
                    agent_empathy(&mut results, &mut sentiment, &head.labels, &p.report);
                }
                results.abstentions.extend(p.evidence_note.clone());
                if !p.stretches.is_empty() {
                    let stretch_probs: Vec<&Vec<Vec<f32>>> = if stretches.is_empty() {
                        inf.span_probs.iter().collect()
                    } else {
                        stretches.iter().map(|i| &i.head_probs).collect()
                    };
                    let per_stretch: Vec<Results> = p
                        .stretches
                        .iter()
                        .zip(stretch_probs)
                        .map(|(s, probs)| {
                            let text = p.report.redacted.get(s.range.clone()).unwrap_or("");
                            compose::results_in(
                                &self.heads,
                                probs,
                                &p.language,
                                &s.features,
                                view(text),
                            )
                        })
                        .collect();
                    evidence::attach(&mut results, &p.report.redacted, &p.stretches, &per_stretch);
                }
                results
            }
            Some(_) => match &from_emoji {
                Some((_, results)) => Results {
                    abstentions: vec![format!(
                        "other results: language {} is not covered by the models; sentiment \
                         and emotions come from the emoji alone (source \"emoji\")",
                        p.language.code
                    )],
                    ..results.clone()
                },
                None => Results {
                    abstentions: vec![format!(
                        "all results: language {} is not covered by the models",
                        p.language.code
                    )],
                    ..Results::default()
                },
            },
            None => Results {
                abstentions: vec!["all results: no words of the customer's own to analyse".into()],
                ..Results::default()
            },
        };
        let sentiment = sentiment.or(from_emoji.map(|(s, _)| s));
        let traits = match (&inference, self.traits_index) {
            (Some(inf), Some(i)) if supported => Some(MessageTraits {
                logits: logits5(&inf.head_probs[i]),
                centre: logits5(
                    self.heads
                        .heads()
                        .nth(i)
                        .and_then(|h| h.thresholds.as_deref())
                        .unwrap_or(&[0.5; 5]),
                ),
                stretches: if p.stretches.len() > 1 {
                    let probs: Vec<&Vec<f32>> = if stretches.is_empty() {
                        inf.span_probs.iter().map(|s| &s[i]).collect()
                    } else {
                        stretches.iter().map(|s| &s.head_probs[i]).collect()
                    };
                    p.stretches
                        .iter()
                        .zip(probs)
                        .map(|(s, pr)| (s.range.clone(), logits5(pr)))
                        .collect()
                } else {
                    Vec::new()
                },
            }),
            _ => None,
        };
        // The message waited for its own sequence and its stretches': the longest wait and the
        // longest forward pass among them.
        let all = || inference.iter().chain(&stretches);
        MessageAnalysis {
            id: p.input.id,
            language: p.language,
            sentiment,
            results,
            tokens: p.token_count,
            truncated: p.truncated,
            evidence_tokens: p.evidence_tokens,
            text: p.report,
            model_version: self.model_version.clone(),
            traits,
            timings: Timings {
                prepare: p.prepare,
                tokenize: p.tokenize,
                queue: all().map(|i| i.queue).max().unwrap_or_default(),
                inference: all().map(|i| i.inference).max().unwrap_or_default(),
                total: p.received.elapsed(),
            },
        }
    }

    /// Analyses the ordered turns of one conversation, then the conversation as a whole.
    pub async fn analyze_conversation(
        &self,
        conversation_id: String,
        turns: Vec<MessageInput>,
        deadline: Option<Instant>,
    ) -> Result<ConversationAnalysis> {
        let roles: Vec<(Role, Option<f64>)> = turns.iter().map(|t| (t.role, t.timestamp)).collect();
        let analyses = self.analyze(turns, deadline, "turns").await?;
        let facts: Vec<conversation::TurnFacts> = roles
            .into_iter()
            .zip(&analyses)
            .map(|((role, timestamp), a)| conversation::TurnFacts {
                role,
                timestamp,
                words: a.text.features.words,
            })
            .collect();
        Ok(ConversationAnalysis {
            trajectories: conversation::trajectories(&facts, &analyses),
            metrics: conversation::turn_metrics(&facts),
            turns: analyses,
            conversation_id,
            model_version: self.model_version.clone(),
        })
    }

    pub fn info(&self) -> ServiceInfo {
        let enc = self.encoder.info();
        let mut models = vec![ModelDescription {
            name: "encoder".into(),
            source: enc.source.clone(),
            version: enc.model_id.clone(),
            sha256: enc.sha256.clone(),
            languages: self.sentiment_languages.clone(),
        }];
        if let (Some(version), Some(sha)) = (&enc.adapter_version, &enc.adapter_sha256) {
            models.push(ModelDescription {
                name: "adapter".into(),
                source: "trained by `rapport train` (LoRA, merged into the encoder at load)".into(),
                version: version.clone(),
                sha256: sha.clone(),
                languages: self.sentiment_languages.clone(),
            });
        }
        let mut label_sets = Vec::new();
        let mut languages: Vec<String> = Vec::new();
        for head in self.heads.heads() {
            models.push(ModelDescription {
                name: format!("head:{}", head.task),
                source: "trained by `rapport train`".into(),
                version: head.version.clone(),
                sha256: String::new(),
                languages: head.languages.clone(),
            });
            label_sets.push((head.task.clone(), head.labels.clone()));
            for l in &head.languages {
                if !languages.contains(l) {
                    languages.push(l.clone());
                }
            }
        }
        if let Some(cal) = &self.support {
            models.push(ModelDescription {
                name: format!("domain:{}", cal.domain),
                source: "fitted by `rapport eval support --fit` on the support set's dev split"
                    .into(),
                version: cal.version.clone(),
                sha256: String::new(),
                languages: cal.languages.keys().cloned().collect(),
            });
        }
        let mut domains = vec![domain::Domain::General.to_string()];
        if self.support.is_some() {
            domains.insert(0, domain::Domain::Support.to_string());
        }
        ServiceInfo {
            domain: self.domain.to_string(),
            domains,
            version: crate::VERSION.into(),
            model_version: self.model_version.to_string(),
            models,
            languages,
            label_sets,
            limits: self.limits,
        }
    }
}

/// An agent turn under a domain: apology and acknowledgement read as empathy, not negative
/// sentiment ([`domain::agent_empathy`]); the sentiment, its label signals and the sympathetic
/// tone are rewritten together.
fn agent_empathy(
    results: &mut Results,
    sentiment: &mut Option<Sentiment>,
    labels: &[String],
    report: &TextReport,
) {
    let Some(s) = sentiment.as_ref() else {
        return;
    };
    let prob = |l: &str| {
        s.probabilities
            .iter()
            .find(|(k, _)| k == l)
            .map_or(0.0, |(_, v)| *v)
    };
    let mut p = [prob("negative"), prob("neutral"), prob("positive")];
    let cues = domain::empathy_cues(&report.features, &report.redacted);
    let toxicity = results.toxicity.as_ref().map_or(0.0, |t| t.value);
    let polite = results.style.politeness.as_ref().map_or(0.5, |t| t.value);
    let Some(sympathetic) = domain::agent_empathy(&mut p, cues, toxicity, polite) else {
        return;
    };
    let probs: Vec<f32> = labels
        .iter()
        .map(|l| match l.as_str() {
            "negative" => p[0],
            "neutral" => p[1],
            "positive" => p[2],
            other => prob(other),
        })
        .collect();
    for (label, v) in labels.iter().zip(&probs) {
        let key = format!("sentiment.{label}");
        if let Some((_, sig)) = results.label_signals.iter_mut().find(|(k, _)| *k == key) {
            sig.value = *v;
            sig.confidence = v.max(1.0 - v);
        }
    }
    *sentiment = Some(sentiment_from(labels, &probs));
    if let Some((_, v)) = results.tones.iter_mut().find(|(k, _)| k == "sympathetic") {
        *v = sympathetic;
    }
    if let Some((_, sig)) = results
        .label_signals
        .iter_mut()
        .find(|(k, _)| k == "tones.sympathetic")
    {
        sig.value = sympathetic;
    }
}

/// Runs CPU work (text pipeline, tokenizer) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Unavailable(format!("text pipeline task failed: {e}")))
}

/// Label = argmax; score = P(positive) - P(negative).
/// A sigmoid head's five probabilities back to logits.
fn logits5(p: &[f32]) -> [f32; 5] {
    std::array::from_fn(|k| {
        let q = p.get(k).copied().unwrap_or(0.5).clamp(1e-6, 1.0 - 1e-6);
        (q / (1.0 - q)).ln()
    })
}

pub fn sentiment_from(labels: &[String], probs: &[f32]) -> Sentiment {
    let p = |name: &str| {
        labels
            .iter()
            .position(|l| l == name)
            .map_or(0.0, |i| probs[i])
    };
    let (best, confidence) =
        probs.iter().enumerate().fold(
            (0, f32::MIN),
            |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
        );
    Sentiment {
        label: labels[best].clone(),
        score: (p("positive") - p("negative")).clamp(-1.0, 1.0),
        confidence,
        probabilities: labels.iter().cloned().zip(probs.iter().copied()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_label_score_and_confidence() {
        let labels: Vec<String> = ["negative", "neutral", "positive"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = sentiment_from(&labels, &[0.7, 0.2, 0.1]);
        assert_eq!(s.label, "negative");
        assert!((s.score + 0.6).abs() < 1e-6);
        assert!((s.confidence - 0.7).abs() < 1e-6);
        assert_eq!(s.probabilities.len(), 3);
    }
}
