//! Fetching CRLs and OCSP responses over HTTP for certificate validation: a
//! time limit per request, a size limit on the body, and for CRLs an
//! in-memory cache that keeps each until its nextUpdate (losing the cache on
//! restart only costs a refetch). OCSP responses are asked for each time: a
//! card sign-in wants the status now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eid_core::cert::{
    CertError, Crl, CrlSource, MAX_CRL_SIZE, MAX_OCSP_SIZE, OcspResponse, OcspSource,
};
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
        Ok(Self {
            client: client(timeout)?,
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
}

impl CrlSource for HttpCrlSource {
    async fn fetch(&self, url: &str) -> Result<Crl, CertError> {
        let now = self.clock.now();
        if let Some(crl) = self.cached(url, now) {
            return Ok(crl);
        }
        let body = download(self.client.get(url), url, "CRL", MAX_CRL_SIZE).await?;
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

fn client(timeout: Duration) -> Result<reqwest::Client, CertError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| CertError::RevocationFetch {
            url: String::new(),
            detail: e.to_string(),
        })
}

/// Sends `request` and reads at most `limit` bytes of a successful answer.
async fn download(
    request: reqwest::RequestBuilder,
    url: &str,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, CertError> {
    let fail = |detail: String| CertError::RevocationFetch {
        url: url.to_owned(),
        detail,
    };
    let too_large = |size: usize| CertError::TooLarge { what, size, limit };
    let mut response = request.send().await.map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP status {}", response.status())));
    }
    if let Some(len) = response.content_length()
        && len > limit as u64
    {
        return Err(too_large(usize::try_from(len).unwrap_or(usize::MAX)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An [`OcspSource`] over HTTP(S): the request is POSTed as
/// `application/ocsp-request` (RFC 6960 appendix A).
#[derive(Debug, Clone)]
pub struct HttpOcspSource {
    client: reqwest::Client,
}

impl HttpOcspSource {
    /// A source whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, CertError> {
        Ok(Self {
            client: client(timeout)?,
        })
    }
}

impl OcspSource for HttpOcspSource {
    async fn fetch(&self, url: &str, request: &[u8]) -> Result<OcspResponse, CertError> {
        let post = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/ocsp-request")
            .header(reqwest::header::ACCEPT, "application/ocsp-response")
            .body(request.to_vec());
        let body = download(post, url, "OCSP response", MAX_OCSP_SIZE).await?;
        OcspResponse::from_der(&body)
    }
}
