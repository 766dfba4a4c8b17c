//! `--ingest`: each scored message folded into its customer's profile, as IngestMessages does
//! it (idempotent by message id), from the analysis `score` already made: each customer's
//! messages of a chunk in one transaction.
use std::collections::BTreeMap;

use super::summary::IngestCounts;
use crate::{
    analysis::{MessageAnalysis, MessageInput, Role},
    config::ProfileArgs,
    profile::{
        ingest::{check_id, check_time, observe, unanalysed},
        service::{now, Profiles},
        MessageRecord,
    },
    Error, Result,
};

/// A message's profile record before its analysis.
pub enum Pending {
    NoCustomer,
    Invalid(String),
    Ready {
        customer: String,
        base: Box<MessageRecord>,
        /// The customer's own words (analysed into the profile); an agent's or bot's turn only
        /// marks its time, for the customer's reply latency (as IngestMessages does).
        own: bool,
    },
}

/// What a scored message gives the profile store.
pub enum ProfileItem {
    NoCustomer,
    Invalid(String),
    Record(String, Box<MessageRecord>),
}

impl Pending {
    pub fn of(m: &MessageInput) -> Pending {
        if m.customer_id.trim().is_empty() {
            return Pending::NoCustomer;
        }
        let at = check_id(&m.id, "id").and_then(|_| check_time(m.timestamp, now(), "timestamp"));
        match at {
            Ok(at) => Pending::Ready {
                customer: m.customer_id.clone(),
                base: Box::new(unanalysed(m, at)),
                own: matches!(m.role, Role::Customer | Role::Unspecified),
            },
            Err(e) => Pending::Invalid(e.to_string()),
        }
    }

    pub fn finish(self, a: &MessageAnalysis, store_text: bool) -> ProfileItem {
        match self {
            Pending::NoCustomer => ProfileItem::NoCustomer,
            Pending::Invalid(e) => ProfileItem::Invalid(e),
            Pending::Ready {
                customer,
                base,
                own,
            } => ProfileItem::Record(
                customer,
                if own {
                    Box::new(observe(*base, a, store_text))
                } else {
                    base
                },
            ),
        }
    }
}

pub struct Ingest {
    profiles: Profiles,
    model_version: String,
    store_text: bool,
}

impl Ingest {
    /// Opens the store `args` name (migrating it as the server does).
    pub async fn open(args: &ProfileArgs, model_version: &str) -> Result<Self> {
        if args.is_off() {
            return Err(Error::invalid(
                "--ingest",
                "the profile store is off (--store off): name one to ingest into",
            ));
        }
        let spec = args.store_spec();
        let store = crate::store::open(&spec).await?;
        tracing::info!(store = %redact(&spec), "ingesting into the profile store");
        Ok(Ingest {
            profiles: Profiles::new(store, args.keys()?, args.settings()?),
            model_version: model_version.to_string(),
            store_text: args.store_text,
        })
    }

    pub fn store_text(&self) -> bool {
        self.store_text
    }

    /// Folds a chunk's items: each customer's records in one transaction. A customer the store
    /// refuses (an id too long, consent required) is counted and skipped; a store that fails
    /// stops the run before its checkpoint moves past these records, so a rerun folds them
    /// again, and ids make that count once.
    pub async fn fold(&self, items: Vec<ProfileItem>, counts: &mut IngestCounts) -> Result<()> {
        let mut by_customer: BTreeMap<String, Vec<MessageRecord>> = BTreeMap::new();
        for item in items {
            match item {
                ProfileItem::NoCustomer => counts.without_customer += 1,
                ProfileItem::Invalid(e) => {
                    *counts
                        .rejected
                        .entry(super::summary::reason(&e))
                        .or_default() += 1
                }
                ProfileItem::Record(c, r) => by_customer.entry(c).or_default().push(*r),
            }
        }
        for (customer, records) in by_customer {
            let n = records.len() as u64;
            match self
                .profiles
                .ingest_records(&customer, records, &self.model_version)
                .await
            {
                Ok(applied) => {
                    counts.messages_new += applied.messages_new as u64;
                    counts.messages_duplicate += applied.messages_duplicate as u64;
                }
                Err(e @ (Error::InvalidArgument { .. } | Error::FailedPrecondition(_))) => {
                    *counts
                        .rejected
                        .entry(super::summary::reason(&e.to_string()))
                        .or_default() += n;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A store spec for the log: a PostgreSQL URL without its password.
fn redact(spec: &str) -> String {
    match (spec.find("://"), spec.rfind('@')) {
        (Some(s), Some(at)) if at > s && spec[s + 3..at].contains(':') => {
            let user = spec[s + 3..at].split(':').next().unwrap_or("");
            format!("{}{user}:[redacted]{}", &spec[..s + 3], &spec[at..])
        }
        _ => spec.to_string(),
    }
}
