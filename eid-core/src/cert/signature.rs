//! Signature verification with `ring`: RSA PKCS#1 v1.5 and PSS with
//! SHA-256/384/512, ECDSA P-256/P-384, Ed25519. MD2, MD5 and SHA-1 are weak;
//! anything else is unsupported.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use super::CertError;
use super::model::{Algorithm, PublicKey};

const RSA_KEY: &str = "1.2.840.113549.1.1.1";
const EC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const SHA384: &str = "2.16.840.1.101.3.4.2.2";
const SHA512: &str = "2.16.840.1.101.3.4.2.3";

/// A human name for an algorithm OID, for messages.
fn name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption".into(),
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption".into(),
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption".into(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.2.840.10040.4.3" => "dsa-with-sha1".into(),
        other => other.to_owned(),
    }
}

fn unsupported(alg: &Algorithm) -> CertError {
    CertError::UnsupportedSignatureAlgorithm {
        algorithm: name(&alg.oid),
    }
}

/// Picks the ring algorithm for a signature algorithm and key, or says why
/// there is none.
fn choose(
    alg: &Algorithm,
    key: &PublicKey,
) -> Result<&'static dyn VerificationAlgorithm, CertError> {
    match alg.oid.as_str() {
        "1.2.840.113549.1.1.2"
        | "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.10045.4.1"
        | "1.2.840.10040.4.3" => {
            return Err(CertError::WeakSignatureAlgorithm {
                algorithm: name(&alg.oid),
            });
        }
        _ => {}
    }
    let key_oid = key.algorithm.oid.as_str();
    match (alg.oid.as_str(), key_oid) {
        (
            rsa @ ("1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" | "1.2.840.113549.1.1.13"),
            RSA_KEY,
        ) => {
            if !alg.params_absent_or_null() {
                return Err(unsupported(alg));
            }
            check_rsa_size(key)?;
            Ok(match rsa {
                "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
                _ => &signature::RSA_PKCS1_2048_8192_SHA512,
            })
        }
        ("1.2.840.113549.1.1.10", RSA_KEY) => {
            let Some((hash, mgf_hash, salt, trailer)) = &alg.pss else {
                return Err(unsupported(alg));
            };
            if hash != mgf_hash || *trailer != 1 {
                return Err(unsupported(alg));
            }
            check_rsa_size(key)?;
            match (hash.as_str(), salt) {
                (SHA256, 32) => Ok(&signature::RSA_PSS_2048_8192_SHA256),
                (SHA384, 48) => Ok(&signature::RSA_PSS_2048_8192_SHA384),
                (SHA512, 64) => Ok(&signature::RSA_PSS_2048_8192_SHA512),
                ("1.3.14.3.2.26", _) => Err(CertError::WeakSignatureAlgorithm {
                    algorithm: "RSASSA-PSS with SHA-1".into(),
                }),
                _ => Err(unsupported(alg)),
            }
        }
        (ecdsa @ ("1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3"), EC_KEY) => {
            if alg.params.is_some() {
                return Err(unsupported(alg));
            }
            let curve = curve_of(key)?;
            Ok(match (curve, ecdsa) {
                (P256, "1.2.840.10045.4.3.2") => &signature::ECDSA_P256_SHA256_ASN1,
                (P256, _) => &signature::ECDSA_P256_SHA384_ASN1,
                (_, "1.2.840.10045.4.3.2") => &signature::ECDSA_P384_SHA256_ASN1,
                (_, _) => &signature::ECDSA_P384_SHA384_ASN1,
            })
        }
        (ED25519, ED25519) => {
            if alg.params.is_some() {
                return Err(unsupported(alg));
            }
            Ok(&signature::ED25519)
        }
        (_, RSA_KEY | EC_KEY | ED25519) => Err(unsupported(alg)),
        (_, other) => Err(CertError::UnsupportedKey {
            detail: format!("key algorithm {other}"),
        }),
    }
}

fn check_rsa_size(key: &PublicKey) -> Result<(), CertError> {
    if !key.algorithm.params_absent_or_null() {
        return Err(CertError::UnsupportedKey {
            detail: "RSA key with parameters".into(),
        });
    }
    if key.bits < 2048 || key.bits > 8192 || !key.bits.is_multiple_of(8) {
        return Err(CertError::UnsupportedKey {
            detail: format!(
                "RSA key of {} bits (2048 to 8192, a multiple of 8, accepted)",
                key.bits
            ),
        });
    }
    Ok(())
}

fn curve_of(key: &PublicKey) -> Result<&'static str, CertError> {
    // The parameters are the named curve's OID: 06 len bytes.
    let params = key.algorithm.params.as_deref().unwrap_or_default();
    const P256_DER: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384_DER: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    match params {
        p if p == P256_DER => Ok(P256),
        p if p == P384_DER => Ok(P384),
        _ => Err(CertError::UnsupportedKey {
            detail: "EC key on a curve other than P-256 or P-384".into(),
        }),
    }
}

/// Verifies `signature` over `message` with `key` under `alg`. `subject`
/// names the signed object in the error (formatted only on failure).
pub(crate) fn verify(
    alg: &Algorithm,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
    subject: &dyn std::fmt::Display,
) -> Result<(), CertError> {
    let ring_alg = choose(alg, key)?;
    UnparsedPublicKey::new(ring_alg, &key.key)
        .verify(message, signature)
        .map_err(|_| CertError::BadSignature {
            subject: subject.to_string(),
        })
}

/// Checks that a public key is one this validator accepts anywhere in a
/// path: RSA of 2048 to 8192 bits, EC on P-256 or P-384, Ed25519.
pub(crate) fn check_key(key: &PublicKey) -> Result<(), CertError> {
    match key.algorithm.oid.as_str() {
        RSA_KEY => check_rsa_size(key),
        EC_KEY => curve_of(key).map(|_| ()),
        ED25519 => Ok(()),
        other => Err(CertError::UnsupportedKey {
            detail: format!("key algorithm {}", name(other)),
        }),
    }
}
