//! Departments' API keys for the `/v1` API: `gw_test_…` or `gw_live_…`,
//! made with `gateway client api-key`, shown once, stored as the SHA-256
//! of their secret part, compared in constant time, revocable. A key of a
//! disabled department is refused.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use eid_core::oidc::grant::handle_hash;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::store::Db;
use crate::store::api_keys::StoredApiKey;

/// Length of a key id (hex).
const KEY_ID_LEN: usize = 16;

/// Whether a key works on test data or on real money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Sandboxes only.
    Test,
    /// Real providers.
    Live,
}

impl Mode {
    /// `test` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

/// A department authenticated by its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// The department's client id.
    pub client_id: String,
    /// The key's mode.
    pub mode: Mode,
    /// The key's id (for logs; never the secret).
    pub key_id: String,
}

/// Why a key was refused (all answered alike: `401`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not shaped like one of our keys.
    #[error("not an API key")]
    Malformed,
    /// Unknown, revoked, wrong secret, or its department is disabled.
    #[error("unknown, revoked or wrong API key")]
    Refused,
    /// Storage failed.
    #[error("storage: {0}")]
    Store(String),
}

/// Splits `gw_MODE_KEYID_SECRET`.
fn parse(key: &str) -> Option<(Mode, &str, &str)> {
    let rest = key.strip_prefix("gw_")?;
    let (mode, rest) = match rest.split_once('_')? {
        ("test", rest) => (Mode::Test, rest),
        ("live", rest) => (Mode::Live, rest),
        _ => return None,
    };
    if rest.len() < KEY_ID_LEN + 2 || !rest.is_char_boundary(KEY_ID_LEN) {
        return None;
    }
    let (key_id, secret) = rest.split_at(KEY_ID_LEN);
    let secret = secret.strip_prefix('_')?;
    (key_id.bytes().all(|b| b.is_ascii_hexdigit()) && crate::signin::is_handle(secret))
        .then_some((mode, key_id, secret))
}

/// Makes a key for `client_id`; returns the key (to show once) and what
/// to store.
pub fn generate(
    client_id: &str,
    mode: Mode,
    now: OffsetDateTime,
) -> Option<(String, StoredApiKey)> {
    let mut id = [0u8; KEY_ID_LEN / 2];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id).ok()?;
    let key_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = crate::signin::random_handle()?;
    let key = format!("gw_{}_{key_id}_{secret}", mode.as_str());
    Some((
        key,
        StoredApiKey {
            key_id,
            client_id: client_id.to_owned(),
            mode: mode.as_str().to_owned(),
            secret_hash: handle_hash(&secret),
            created_at: now,
            revoked_at: None,
        },
    ))
}

/// Whether a bearer credential looks like an API key (rather than an
/// OAuth access token).
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with("gw_")
}

/// Keys remembered once found, for a short time (`api.key_cache_secs`):
/// what is remembered is the stored key (its secret's hash, mode, revocation
/// and whether its department is enabled), never the outcome, so every
/// request's secret is still compared, in constant time. Unknown keys are
/// not remembered.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (OffsetDateTime, StoredApiKey, bool)>>,
}

/// Keys remembered at most; beyond, the cache starts again empty.
const MAX_CACHED_KEYS: usize = 10_000;

impl KeyCache {
    /// A cache that remembers a key for `ttl` (zero: not at all).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The department a key belongs to, if the key is good; `now` is the
    /// gateway's clock, which ages what is remembered.
    pub async fn authenticate(
        &self,
        db: &Db,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Department, KeyError> {
        let (mode, key_id, secret) = parse(key).ok_or(KeyError::Malformed)?;
        let (stored, enabled) = match self.remembered(key_id, now) {
            Some(found) => found,
            None => {
                let found = db
                    .api_key_for_request(key_id)
                    .await
                    .map_err(|e| KeyError::Store(e.to_string()))?
                    .ok_or(KeyError::Refused)?;
                self.remember(key_id, &found, now);
                found
            }
        };
        check(stored, enabled, mode, secret)
    }

    fn remembered(&self, key_id: &str, now: OffsetDateTime) -> Option<(StoredApiKey, bool)> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (at, stored, enabled) = entries.get(key_id)?;
        // A clock that went back makes the entry stale, never younger.
        let age = now - *at;
        (!age.is_negative() && age < self.ttl).then(|| (stored.clone(), *enabled))
    }

    fn remember(
        &self,
        key_id: &str,
        (stored, enabled): &(StoredApiKey, bool),
        now: OffsetDateTime,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(key_id.to_owned(), (now, stored.clone(), *enabled));
    }
}

fn check(
    stored: StoredApiKey,
    enabled: bool,
    mode: Mode,
    secret: &str,
) -> Result<Department, KeyError> {
    let secret_ok: bool = handle_hash(secret)
        .as_bytes()
        .ct_eq(stored.secret_hash.as_bytes())
        .into();
    if !secret_ok || stored.revoked_at.is_some() || stored.mode != mode.as_str() || !enabled {
        return Err(KeyError::Refused);
    }
    Ok(Department {
        client_id: stored.client_id,
        mode,
        key_id: stored.key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_strictly() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (key, stored) = generate("dept", Mode::Live, now).expect("random");
        let (mode, id, secret) = parse(&key).expect("our own key parses");
        assert_eq!((mode, id), (Mode::Live, stored.key_id.as_str()));
        assert_eq!(handle_hash(secret), stored.secret_hash);
        assert!(
            !key.contains(&stored.secret_hash),
            "the hash is not the key"
        );
        for bad in [
            "",
            "gw_",
            "gw_prod_0123456789abcdef_x",
            "gw_test_0123456789abcdeZ_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "gw_test_0123456789abcdef_short",
            "gw_test_0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "gw_test_0123456789abcdé_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "Bearer gw_test",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
