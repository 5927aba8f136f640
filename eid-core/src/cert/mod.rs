//! Smart-ID-card certificate validation (RFC 5280): parsing with
//! `x509-parser`, signatures with `ring`, path building through an
//! unordered pool of intermediates, path validation (validity, basic
//! constraints and path length, key usage, extended key usage, name
//! constraints, certificate policies), revocation by CRL and OCSP, and the
//! identity a validated certificate asserts.
//!
//! ```no_run
//! use eid_core::cert::{Certificate, Crl, Options, TrustStore};
//! # fn demo(root: &[u8], ca: &[u8], citizen: &[u8], crl: &[u8], now: time::OffsetDateTime)
//! #     -> Result<(), eid_core::cert::CertError> {
//! let store = TrustStore::new(Certificate::from_pem(root)?);
//! let intermediates = Certificate::from_pem(ca)?;
//! let leaf = Certificate::from_der(citizen)?;
//! let crls = vec![Crl::from_der(crl)?];
//! let path = store.validate(&leaf, &intermediates, &crls, &Options::new(now))?;
//! println!("{:?}", path.identity().common_name);
//! # Ok(()) }
//! ```
//!
//! Time is always a parameter ([`Options::time`]). Work on untrusted input
//! is bounded: input sizes are capped, and [`Budget`] limits signature
//! checks, path-building steps and path length.

mod crl;
pub(crate) mod der;
mod error;
mod identity;
mod model;
#[cfg(test)]
mod model_tests;
mod names;
mod ocsp;
#[cfg(test)]
mod ocsp_tests;
mod policy;
mod signature;
mod source;
#[cfg(test)]
mod source_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod validate;

pub use crl::{Crl, IssuingDistributionPoint, MAX_CRL_SIZE, RevokedEntry, reason_name};
pub use error::CertError;
pub use identity::CertifiedIdentity;
pub use model::{
    Algorithm, BasicConstraints, Certificate, CertificateData, DistributionPoint, GeneralName,
    KeyUsage, MAX_CERT_SIZE, Name, NameConstraints, PublicKey,
};
pub use ocsp::{
    MAX_AGE_WITHOUT_NEXT_UPDATE, MAX_OCSP_SIZE, OcspResponse, OcspStatus, SingleResponse,
    ocsp_request,
};
pub use source::{CrlSource, Gathered, OcspSource, distribution_urls, gather, gather_path};
pub use validate::{
    Budget, Options, Purpose, Revocation, RevocationScope, TrustStore, UnknownStatus, ValidatedPath,
};
