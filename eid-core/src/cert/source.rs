//! Where CRLs come from when the caller does not supply them: a pluggable
//! [`CrlSource`] (the gateway implements one over HTTP with a cache and a
//! timeout), and [`gather`], which asks it for every CRL distribution point
//! of a chain. Failures are collected, not raised: the validator then finds
//! no status for the affected certificates and applies its
//! [`UnknownStatus`](super::UnknownStatus) policy (fail closed by default).

use std::future::Future;

use super::model::{Certificate, GeneralName};
use super::{CertError, Crl, Revocation};

/// Fetches a CRL by URL.
pub trait CrlSource: Send + Sync {
    /// The CRL at `url` (an `http://` or `https://` URL), or why not.
    fn fetch(&self, url: &str) -> impl Future<Output = Result<Crl, CertError>> + Send;
}

/// The distribution point URLs of `certs` that a source can fetch, without
/// duplicates, in order.
pub fn distribution_urls(certs: &[&Certificate]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for cert in certs {
        for point in &cert.crl_distribution_points {
            for name in &point.full_names {
                if let GeneralName::Uri(uri) = name
                    && (uri.starts_with("http://") || uri.starts_with("https://"))
                    && !urls.contains(uri)
                {
                    urls.push(uri.clone());
                }
            }
        }
    }
    urls
}

/// What [`gather`] found: the revocation data, and the URLs that failed
/// with why (for the log; the validator's verdict already accounts for them).
#[derive(Debug, Default)]
pub struct Gathered {
    /// The CRLs fetched.
    pub revocation: Revocation,
    /// Each failed URL with its error.
    pub failures: Vec<(String, CertError)>,
}

/// Fetches the CRLs of every distribution point in `leaf` and
/// `intermediates`, at most `max_urls` of them (a certificate could name
/// thousands).
pub async fn gather<S: CrlSource>(
    source: &S,
    leaf: &Certificate,
    intermediates: &[Certificate],
    max_urls: usize,
) -> Gathered {
    let mut certs = vec![leaf];
    certs.extend(intermediates.iter());
    let mut gathered = Gathered::default();
    for url in distribution_urls(&certs).into_iter().take(max_urls) {
        match source.fetch(&url).await {
            Ok(crl) => gathered.revocation.crls.push(crl),
            Err(e) => gathered.failures.push((url, e)),
        }
    }
    gathered
}
