//! Client key sets published at a `jwks_uri`: fetched over HTTPS with a time
//! and size limit, checked like registered key sets, kept for five minutes,
//! and fetched again at most once a minute when an assertion names a key
//! the cached set lacks (the client rotated).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eid_core::oidc::Jwks;
use eid_core::oidc::jwk::{MAX_JWKS_BYTES, parse_client_jwks};
use time::OffsetDateTime;

/// How long a fetched key set is used.
const FRESH_FOR: time::Duration = time::Duration::minutes(5);
/// How soon an unknown `kid` may trigger another fetch.
const REFETCH_AFTER: time::Duration = time::Duration::minutes(1);

#[derive(Debug, Clone)]
struct Entry {
    jwks: Jwks,
    fetched_at: OffsetDateTime,
}

/// Fetches and caches client key sets.
#[derive(Debug, Clone)]
pub struct JwksFetcher {
    http: reqwest::Client,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
}

impl JwksFetcher {
    /// A fetcher whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The key set at `uri`, from the cache when fresh. With `kid`, a cached
    /// set lacking that key is fetched again (at most once a minute).
    pub async fn get(
        &self,
        uri: &str,
        kid: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Jwks, String> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(uri).cloned());
        if let Some(entry) = &cached {
            let fresh = now - entry.fetched_at < FRESH_FOR;
            let has_kid =
                kid.is_none_or(|k| entry.jwks.keys.iter().any(|j| j.kid.as_deref() == Some(k)));
            let may_refetch = now - entry.fetched_at >= REFETCH_AFTER;
            if fresh && (has_kid || !may_refetch) {
                return Ok(entry.jwks.clone());
            }
        }
        let jwks = self.fetch(uri).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                uri.to_owned(),
                Entry {
                    jwks: jwks.clone(),
                    fetched_at: now,
                },
            );
        }
        Ok(jwks)
    }

    async fn fetch(&self, uri: &str) -> Result<Jwks, String> {
        let mut response = self.http.get(uri).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("the key set is too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        parse_client_jwks(&body).map_err(|e| e.to_string())
    }
}
