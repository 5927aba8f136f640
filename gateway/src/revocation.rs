//! Fetching CRLs over HTTP for certificate validation: a time limit per
//! request, a size limit on the body, and an in-memory cache that keeps each
//! CRL until its nextUpdate (losing the cache on restart only costs a refetch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eid_core::cert::{CertError, Crl, CrlSource, MAX_CRL_SIZE};
use time::OffsetDateTime;

use crate::state::Clock;

/// How long a CRL without nextUpdate is reused before it is fetched again.
const REUSE_WITHOUT_NEXT_UPDATE: time::Duration = time::Duration::hours(1);

#[derive(Debug, Clone)]
struct Cached {
    crl: Crl,
    fresh_until: OffsetDateTime,
}

/// A [`CrlSource`] over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpCrlSource {
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

impl HttpCrlSource {
    /// A source whose requests give up after `timeout`.
    pub fn new(timeout: Duration, clock: Arc<dyn Clock>) -> Result<Self, CertError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| CertError::RevocationFetch {
                url: String::new(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            client,
            clock,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn cached(&self, url: &str, now: OffsetDateTime) -> Option<Crl> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(url)
            .filter(|c| now < c.fresh_until)
            .map(|c| c.crl.clone())
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, CertError> {
        let fail = |detail: String| CertError::RevocationFetch {
            url: url.to_owned(),
            detail,
        };
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP status {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_CRL_SIZE as u64)
        {
            return Err(CertError::TooLarge {
                what: "CRL",
                size: response.content_length().unwrap_or_default() as usize,
                limit: MAX_CRL_SIZE,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > MAX_CRL_SIZE {
                return Err(CertError::TooLarge {
                    what: "CRL",
                    size: body.len() + chunk.len(),
                    limit: MAX_CRL_SIZE,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl CrlSource for HttpCrlSource {
    async fn fetch(&self, url: &str) -> Result<Crl, CertError> {
        let now = self.clock.now();
        if let Some(crl) = self.cached(url, now) {
            return Ok(crl);
        }
        let body = self.download(url).await?;
        let crl = if body.starts_with(b"-----BEGIN") {
            Crl::from_pem(&body)?
                .into_iter()
                .next()
                .ok_or_else(|| CertError::Malformed {
                    what: "CRL",
                    detail: "no CRL in the PEM body".to_owned(),
                })?
        } else {
            Crl::from_der(&body)?
        };
        let fresh_until = crl.next_update.unwrap_or(now + REUSE_WITHOUT_NEXT_UPDATE);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                url.to_owned(),
                Cached {
                    crl: crl.clone(),
                    fresh_until,
                },
            );
        }
        Ok(crl)
    }
}
