//! `--shard i/N`: which records of the archive this run scores, so that N runs (the pods of a
//! Kubernetes Indexed Job) cover it exactly once between them.
use serde::{Deserialize, Serialize};

use super::input::Raw;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("{s:?}: expected i/N, e.g. 0/8 (i counts from 0, below N)");
        let (i, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = i.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err(format!("{s:?}: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "{s:?}: i counts from 0, so it must be below N ({index} is not below {count}; \
                 the shards of 8 pods are 0/8 .. 7/8)"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the record at `index` is this shard's.
    ///
    /// By a stable hash (FNV-1a, the same on every machine and version) of the customer id
    /// where the record has one, so that all of a customer's messages land on one pod (with
    /// `--ingest` each customer's profile is then folded by one pod alone, with no two
    /// fighting over its row); else of the message id, which does not move when an archive is
    /// exported again in another order; else (no id, or a record that is not a message) of its
    /// position. Every pod reads the same records and decides each one the same way, so
    /// between them they take each exactly once.
    pub fn owns(&self, record: &Raw, index: u64) -> bool {
        if self.count == 1 {
            return true;
        }
        let customer = record
            .message
            .as_ref()
            .map(|m| m.customer_id.as_str())
            .unwrap_or_default();
        let hash = if !customer.is_empty() {
            fnv1a(b'c', customer.as_bytes())
        } else if !record.id.is_empty() {
            fnv1a(b'm', record.id.as_bytes())
        } else {
            fnv1a(b'i', &index.to_le_bytes())
        };
        hash % self.count as u64 == self.index as u64
    }
}

fn fnv1a(kind: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&kind).chain(bytes) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert!("3/3".parse::<Shard>().unwrap_err().contains("below N"));
        assert!("1/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("-1/3".parse::<Shard>().is_err());
    }

    #[test]
    fn every_record_has_one_shard() {
        for i in 0..200u64 {
            let raw = Raw {
                line: None,
                id: if i % 3 == 0 {
                    String::new()
                } else {
                    format!("m{i}")
                },
                message: Ok(crate::proto::v1::Message {
                    customer_id: if i % 2 == 0 {
                        format!("c{}", i % 7)
                    } else {
                        String::new()
                    },
                    ..Default::default()
                }),
                extra: None,
            };
            let owners = (0..4)
                .filter(|k| {
                    Shard {
                        index: *k,
                        count: 4,
                    }
                    .owns(&raw, i)
                })
                .count();
            assert_eq!(owners, 1);
        }
        // Pinned: the split must not move between versions, or a resumed Job would mix two.
        assert_eq!(fnv1a(b'm', b"a"), 0x08a9_5b07_b550_49db);
        assert_eq!(fnv1a(b'c', b"crm-42"), 0x1fb9_d23c_e5b9_0003);
    }
}
