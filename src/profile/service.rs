//! The Profiles capability: ingestion through the analysis engine into the store, reads,
//! export, erasure, consent and retention. Transport-free: `grpc` converts to and from it.
use std::{sync::Arc, time::Instant};

use super::{
    behaviour::SEGMENTS,
    ingest::{check_event, check_id, check_time, observe, unanalysed},
    keys::Keys,
    persona::{self, Persona},
    segments, Applied, Batch, Consent, Erased, EventRecord, Export, FoldSettings, MessageRecord,
    Seconds, StoredProfile,
};
use crate::{
    analysis::{blocking, Analyzer, MessageAnalysis, MessageInput, Role},
    store::Store,
    Error, Result,
};

/// How profiles are kept: the deployment's settings (`rapport serve` flags).
#[derive(Clone, Debug)]
pub struct ProfileSettings {
    pub half_life_days: f64,
    pub require_consent: bool,
    pub profile_agents: bool,
    pub store_text: bool,
    pub max_events: usize,
    pub retention_days: Option<f64>,
    /// The Big Five estimator (`models/traits/traits.json`); without it profiles carry no
    /// trait estimates.
    pub traits: Option<Arc<crate::profile::traits::TraitModel>>,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        ProfileSettings {
            half_life_days: 90.0,
            require_consent: false,
            profile_agents: false,
            store_text: false,
            max_events: 10_000,
            retention_days: None,
            traits: None,
        }
    }
}

/// Whose profile a batch of messages builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subject {
    #[default]
    Customer,
    /// An agent's own profile (only with `--profile-agents`).
    Agent,
}

/// What an ingestion call did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ingested {
    pub applied: Applied,
    /// Messages skipped before analysis because their ids were already stored.
    pub already_stored: u32,
    /// The analyses of the messages this call analysed, in request order.
    pub analyses: Vec<MessageAnalysis>,
}

pub fn now() -> Seconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The profile service once its store is open; empty before that (or while it cannot be).
pub type ProfilesReady = Arc<std::sync::OnceLock<Arc<Profiles>>>;

pub struct Profiles {
    store: Arc<dyn Store>,
    keys: Keys,
    settings: ProfileSettings,
}

impl Profiles {
    pub fn new(store: Arc<dyn Store>, keys: Keys, settings: ProfileSettings) -> Self {
        Profiles {
            store,
            keys,
            settings,
        }
    }

    fn fold_settings(&self, model_version: &str) -> FoldSettings {
        FoldSettings {
            half_life_days: self.settings.half_life_days,
            require_consent: self.settings.require_consent,
            model_version: model_version.to_string(),
        }
    }

    /// Analyses the subject's own messages (new ids only) through the engine, in one batch,
    /// and folds them, with the other side's turns' times, into the profile in one
    /// transaction.
    pub async fn ingest_messages(
        &self,
        analyzer: &Analyzer,
        customer_id: &str,
        subject: Subject,
        messages: Vec<MessageInput>,
        deadline: Option<Instant>,
    ) -> Result<Ingested> {
        let key = self.keys.key(customer_id, "customer_id")?;
        if subject == Subject::Agent && !self.settings.profile_agents {
            return Err(Error::FailedPrecondition(
                "agents are not profiled on this server (start it with --profile-agents)".into(),
            ));
        }
        analyzer.check_batch_len(messages.len(), "messages")?;
        let now = now();
        let mut times = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            check_id(&m.id, &format!("messages[{i}].id"))?;
            times.push(check_time(
                m.timestamp,
                now,
                &format!("messages[{i}].timestamp"),
            )?);
        }
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let known = self.store.known_messages(&key, &ids).await?;
        let own_role = match subject {
            Subject::Customer => Role::Customer,
            Subject::Agent => Role::Agent,
        };
        let is_own = |m: &MessageInput| {
            m.role == own_role || (m.role == Role::Unspecified && subject == Subject::Customer)
        };
        // Each new own message keeps its index in the request, so errors name it.
        let mut seen = std::collections::HashSet::new();
        let mut to_analyse = Vec::new();
        let mut records = Vec::new();
        let mut already = 0;
        let mut analyses = Vec::new();
        for (i, (m, at)) in messages.into_iter().zip(times).enumerate() {
            if known.contains(&m.id) || !seen.insert(m.id.clone()) {
                already += 1;
                continue;
            }
            if is_own(&m) {
                to_analyse.push((i, m, at));
            } else {
                records.push(unanalysed(&m, at));
            }
        }
        if !to_analyse.is_empty() {
            let preparer = analyzer.preparer().clone();
            let (bases, prepared) = blocking(move || {
                let mut bases = Vec::with_capacity(to_analyse.len());
                let mut prepared = Vec::with_capacity(to_analyse.len());
                for (i, m, at) in to_analyse {
                    bases.push(unanalysed(&m, at));
                    prepared.push(preparer.prepare(m, &format!("messages[{i}]"))?);
                }
                Ok::<_, Error>((bases, prepared))
            })
            .await??;
            analyses = analyzer.infer(prepared, deadline).await?;
            for (base, a) in bases.into_iter().zip(&analyses) {
                records.push(observe(base, a, self.settings.store_text));
            }
        }
        let batch = Batch {
            messages: records,
            events: Vec::new(),
        };
        let settings = self.fold_settings(analyzer.model_version());
        let mut applied = self.store.apply(&key, &batch, &settings, now).await?;
        applied.messages_duplicate += already;
        Ok(Ingested {
            applied,
            already_stored: already,
            analyses,
        })
    }

    /// Folds messages analysed elsewhere (the turns of a finished live conversation: the
    /// customer's analysed, the agent's as times) in one transaction, idempotent by id.
    pub async fn ingest_records(
        &self,
        customer_id: &str,
        mut messages: Vec<MessageRecord>,
        model_version: &str,
    ) -> Result<Applied> {
        let key = self.keys.key(customer_id, "customer_id")?;
        let now = now();
        // A client's clock ahead of ours must not move the profile's reference time forward.
        messages.iter_mut().for_each(|m| m.at = m.at.min(now));
        let batch = Batch {
            messages,
            events: Vec::new(),
        };
        self.store
            .apply(&key, &batch, &self.fold_settings(model_version), now)
            .await
    }

    /// Whether records keep the whole redacted text (`--store-text`).
    pub fn store_text(&self) -> bool {
        self.settings.store_text
    }

    /// Checks and folds behavioural events in one transaction. `model_version` is recorded
    /// with the update (the server's, where models are loaded).
    pub async fn ingest_events(
        &self,
        customer_id: &str,
        events: Vec<EventRecord>,
        model_version: &str,
    ) -> Result<Applied> {
        let key = self.keys.key(customer_id, "customer_id")?;
        if events.is_empty() {
            return Err(Error::invalid("events", "at least one event is required"));
        }
        if events.len() > self.settings.max_events {
            return Err(Error::invalid(
                "events",
                format!(
                    "{} events, over the limit of {} per call",
                    events.len(),
                    self.settings.max_events
                ),
            ));
        }
        let now = now();
        let mut checked = Vec::with_capacity(events.len());
        for (i, mut e) in events.into_iter().enumerate() {
            let field = format!("events[{i}]");
            check_event(&e, &field)?;
            e.at = check_time(Some(e.at), now, &format!("{field}.timestamp"))?;
            checked.push(e);
        }
        let batch = Batch {
            messages: Vec::new(),
            events: checked,
        };
        self.store
            .apply(&key, &batch, &self.fold_settings(model_version), now)
            .await
    }

    pub async fn get(&self, customer_id: &str) -> Result<StoredProfile> {
        let key = self.keys.key(customer_id, "customer_id")?;
        self.store.get(&key).await?.ok_or_else(not_found)
    }

    /// What the stored statistics say about the person (computed on read, so a new estimator
    /// applies to every stored profile at once).
    pub fn persona(&self, p: &StoredProfile) -> Persona {
        persona::persona(&p.state, &p.derived, self.settings.traits.as_deref())
    }

    pub async fn export(&self, customer_id: &str) -> Result<Export> {
        let key = self.keys.key(customer_id, "customer_id")?;
        self.store.export(&key, now()).await?.ok_or_else(not_found)
    }

    pub async fn erase(&self, customer_id: &str) -> Result<Erased> {
        let key = self.keys.key(customer_id, "customer_id")?;
        self.store.erase(&key, now()).await?.ok_or_else(not_found)
    }

    pub async fn set_consent(&self, customer_id: &str, consent: Consent) -> Result<u64> {
        let key = self.keys.key(customer_id, "customer_id")?;
        self.store.set_consent(&key, consent, now()).await
    }

    /// Every segment with its description and how many customers are in it now (as of each
    /// profile's last update or rebuild).
    pub async fn segments(&self) -> Result<Vec<(String, String, u64)>> {
        let counts = self.store.segments().await?;
        Ok(SEGMENTS
            .iter()
            .map(|(name, description)| {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == name)
                    .map_or(0, |(_, n)| *n);
                (name.to_string(), description.to_string(), n)
            })
            .collect())
    }

    /// The latest `rapport segment` run's segments.
    pub async fn clusters(&self) -> Result<Vec<segments::Segment>> {
        self.store.clusters().await
    }

    /// Clusters every stored profile (`segments::run`) and stores the segments and each
    /// profile's segment; names carry over from the previous run. None with too few profiles.
    pub async fn run_segments(&self, seed: u64) -> Result<Option<segments::Run>> {
        let previous = self.store.clusters().await?;
        let mut keys = Vec::new();
        let mut rows = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.store.keys_after(&after).await?;
            let Some(last) = page.last() else { break };
            after = last.clone();
            for key in page {
                let Some(p) = self.store.get(&key).await? else {
                    continue;
                };
                if p.state.messages.n == 0 {
                    continue;
                }
                let traits = self
                    .settings
                    .traits
                    .as_deref()
                    .map(|m| persona::big_five(&p.state, &p.derived, m))
                    .unwrap_or_default();
                rows.push(segments::features(&p.derived, &traits));
                keys.push(key);
            }
        }
        let Some(run) = segments::run(&rows, &previous, seed) else {
            return Ok(None);
        };
        let members: Vec<(String, String)> = keys
            .into_iter()
            .zip(&run.assignment)
            .map(|(k, &c)| (k, run.segments[c].name.clone()))
            .collect();
        self.store
            .save_clusters(&run.segments, &members, now())
            .await?;
        Ok(Some(run))
    }

    /// Recomputes every profile's derived values from its statistics (which keep the model
    /// version they were computed with).
    pub async fn rebuild(&self) -> Result<u64> {
        self.store.rebuild(&self.fold_settings(""), now()).await
    }

    /// Deletes what is past the retention TTL; 0 without one.
    pub async fn purge_expired(&self) -> Result<u64> {
        match self.settings.retention_days {
            Some(days) => {
                let now = now();
                self.store.purge_expired(now - days * 86_400.0, now).await
            }
            None => Ok(0),
        }
    }
}

fn not_found() -> Error {
    Error::NotFound("no profile for this customer_id".into())
}
