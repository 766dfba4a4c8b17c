//! The key a customer is stored under: the CRM's own id, or with a deployment key, an HMAC of
//! it, so the store never holds the CRM's id (pseudonymisation; the same id always maps to the
//! same key, and without the deployment key a key cannot be traced back to an id).
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Error, Result};

/// Longest customer id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Turns customer ids into store keys.
#[derive(Clone, Default)]
pub struct Keys {
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("pseudonymous", &self.secret.is_some())
            .finish()
    }
}

impl Keys {
    /// Plain ids, or pseudonyms under `secret` (at least 16 bytes).
    pub fn new(secret: Option<Vec<u8>>) -> Result<Self> {
        if let Some(s) = &secret {
            if s.len() < 16 {
                return Err(Error::invalid(
                    "pseudonym_key",
                    format!("{} bytes, at least 16 are needed", s.len()),
                ));
            }
        }
        Ok(Keys { secret })
    }

    pub fn pseudonymous(&self) -> bool {
        self.secret.is_some()
    }

    /// Checks a customer id (`field` names it in errors) and returns its store key.
    pub fn key(&self, customer_id: &str, field: &str) -> Result<String> {
        if customer_id.trim().is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        if customer_id.len() > MAX_ID_BYTES {
            return Err(Error::invalid(
                field,
                format!(
                    "{} bytes, over the limit of {MAX_ID_BYTES}",
                    customer_id.len()
                ),
            ));
        }
        if customer_id.chars().any(char::is_control) {
            return Err(Error::invalid(field, "must not hold control characters"));
        }
        Ok(match &self.secret {
            None => customer_id.to_string(),
            Some(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
                mac.update(customer_id.as_bytes());
                format!("h1:{}", hex::encode(mac.finalize().into_bytes()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_id() {
        let a = Keys::new(Some(b"deployment-secret-1".to_vec())).unwrap();
        let b = Keys::new(Some(b"deployment-secret-2".to_vec())).unwrap();
        let k = a.key("crm-42", "customer_id").unwrap();
        assert_eq!(k, a.key("crm-42", "customer_id").unwrap());
        assert_ne!(k, b.key("crm-42", "customer_id").unwrap());
        assert!(!k.contains("crm-42") && k.starts_with("h1:"));
        assert_eq!(Keys::default().key("crm-42", "x").unwrap(), "crm-42");
    }

    #[test]
    fn bad_ids_are_refused_naming_the_field() {
        let k = Keys::default();
        let e = k.key("", "customer_id").unwrap_err().to_string();
        assert!(e.starts_with("customer_id: must not be empty"), "{e}");
        let e = k
            .key(&"x".repeat(300), "customer_id")
            .unwrap_err()
            .to_string();
        assert!(e.contains("300 bytes, over the limit of 256"), "{e}");
        assert!(Keys::new(Some(b"short".to_vec())).is_err());
    }
}
