//! Where revocation data comes from when the caller does not supply it:
//! pluggable [`CrlSource`] and [`OcspSource`] (the gateway implements them
//! over HTTP with a cache and a timeout); [`gather`], which asks a CRL source
//! for every CRL distribution point of a chain; and [`gather_path`], which
//! asks each certificate's OCSP responders first and falls back to its CRLs.
//! Failures are collected, not raised: the validator then finds no status
//! for the affected certificates and applies its
//! [`UnknownStatus`](super::UnknownStatus) policy (fail closed by default).

use std::future::Future;

use super::model::{Certificate, GeneralName};
use super::ocsp::{OcspResponse, OcspStatus, ocsp_request};
use super::{CertError, Crl, Revocation};

/// Fetches a CRL by URL.
pub trait CrlSource: Send + Sync {
    /// The CRL at `url` (an `http://` or `https://` URL), or why not.
    fn fetch(&self, url: &str) -> impl Future<Output = Result<Crl, CertError>> + Send;
}

/// Asks an OCSP responder.
pub trait OcspSource: Send + Sync {
    /// The responder at `url` (an `http://` or `https://` URL)'s answer to
    /// `request`, a DER OCSPRequest (see [`ocsp_request`]), typically sent by
    /// HTTP POST as `application/ocsp-request` (RFC 6960 A.1). A response
    /// that is not `successful` is an error (as
    /// [`OcspResponse::from_der`] makes it).
    fn fetch(
        &self,
        url: &str,
        request: &[u8],
    ) -> impl Future<Output = Result<OcspResponse, CertError>> + Send;
}

fn fetchable(uri: &str) -> bool {
    uri.starts_with("http://") || uri.starts_with("https://")
}

/// The distribution point URLs of `certs` that a source can fetch, without
/// duplicates, in order.
pub fn distribution_urls(certs: &[&Certificate]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for cert in certs {
        for point in &cert.crl_distribution_points {
            for name in &point.full_names {
                if let GeneralName::Uri(uri) = name
                    && fetchable(uri)
                    && !urls.contains(uri)
                {
                    urls.push(uri.clone());
                }
            }
        }
    }
    urls
}

/// What [`gather`] or [`gather_path`] found: the revocation data, and the
/// URLs that failed with why (for the log; the validator's verdict already
/// accounts for them).
#[derive(Debug, Default)]
pub struct Gathered {
    /// The CRLs and OCSP responses fetched.
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

/// Fetches revocation data for a validated `path` (end-entity first, trust
/// anchor last, as [`ValidatedPath::chain`](super::ValidatedPath::chain)):
/// for each certificate below the anchor, in order, asks its OCSP
/// responders (authorityInfoAccess, `http`/`https` only) one after the
/// other with an [`ocsp_request`] without nonce, until one answers with a
/// response that gives the certificate's status (good or revoked); when
/// none does, fetches the CRLs of its distribution points instead (all of
/// them, as [`gather`] does).
///
/// No URL is fetched twice: a CRL URL once in all (whether it answered or
/// not), a responder once per certificate. At most `max_fetches` fetches are
/// made in all, the end-entity's first; what the cap leaves out is not
/// fetched and not reported. Responses are not checked here beyond naming
/// the certificate: signatures, times and the issuer's authority are the
/// validator's job.
pub async fn gather_path<C: CrlSource, O: OcspSource>(
    crls: &C,
    ocsp: &O,
    path: &[Certificate],
    max_fetches: usize,
) -> Gathered {
    let mut gathered = Gathered::default();
    let mut fetches = 0usize;
    let mut crl_urls_done: Vec<String> = Vec::new();
    for pair in path.windows(2) {
        let [cert, issuer] = pair else { continue };
        let mut answered = false;
        let mut asked: Vec<&str> = Vec::new();
        let request = ocsp_request(cert, issuer, None);
        for url in &cert.ocsp_responders {
            if !fetchable(url) || asked.contains(&url.as_str()) {
                continue;
            }
            if fetches >= max_fetches {
                return gathered;
            }
            fetches += 1;
            asked.push(url);
            match ocsp.fetch(url, &request).await {
                Ok(response) => match status_given(&response, cert, issuer) {
                    Ok(()) => {
                        gathered.revocation.ocsp.push(response);
                        answered = true;
                        break;
                    }
                    Err(e) => gathered.failures.push((url.clone(), e)),
                },
                Err(e) => gathered.failures.push((url.clone(), e)),
            }
        }
        if answered {
            continue;
        }
        for url in distribution_urls(&[cert]) {
            if crl_urls_done.contains(&url) {
                continue;
            }
            if fetches >= max_fetches {
                return gathered;
            }
            fetches += 1;
            match crls.fetch(&url).await {
                Ok(crl) => gathered.revocation.crls.push(crl),
                Err(e) => gathered.failures.push((url.clone(), e)),
            }
            crl_urls_done.push(url);
        }
    }
    gathered
}

/// Whether `response` has a SingleResponse for `cert` that says good or
/// revoked (unverified: only to decide whether to look further).
fn status_given(
    response: &OcspResponse,
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<(), CertError> {
    let single = response
        .responses
        .iter()
        .find(|r| r.matches(cert, issuer))
        .ok_or_else(|| CertError::BadRevocationData {
            detail: format!("OCSP response has no status for {}", cert.subject),
        })?;
    if single.status == OcspStatus::Unknown {
        return Err(CertError::BadRevocationData {
            detail: format!("OCSP responder does not know {}", cert.subject),
        });
    }
    Ok(())
}
