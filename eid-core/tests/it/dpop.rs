//! DPoP proofs (RFC 9449), mirroring the FAPI 2.0 DPoP negative tests.

use eid_core::oidc::dpop::{DpopError, ProofContext, access_token_hash, verify_proof};
use eid_core::oidc::jws;
use eid_core::oidc::keys::{KeyEncryptionKey, SigningKey, generate, unseal};
use eid_core::oidc::{Alg, Jwk};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);
const TOKEN_URL: &str = "https://eid.example.gov.hk/token";

fn keypair(alg: Alg) -> (SigningKey, Jwk) {
    let kek = KeyEncryptionKey::from_bytes(&[6u8; 32]).unwrap();
    let stored = generate(alg, &kek, NOW, NOW).unwrap();
    (unseal(&stored, &kek).unwrap(), stored.public_jwk)
}

fn proof(key: &SigningKey, jwk: &Jwk, header_extra: Value, claims: Value) -> String {
    let mut header = json!({"typ": "dpop+jwt", "alg": key.alg.name(), "jwk": jwk});
    for (k, v) in header_extra.as_object().unwrap() {
        header[k] = v.clone();
    }
    jws::sign_with_header(key, &header, &claims).unwrap()
}

fn claims() -> Value {
    json!({"jti": "p-1", "htm": "POST", "htu": TOKEN_URL, "iat": NOW.unix_timestamp()})
}

const TOKEN: ProofContext<'static> = ProofContext {
    method: "POST",
    url: TOKEN_URL,
    access_token: None,
    nonce: None,
};

#[test]
fn a_valid_proof_yields_the_key_thumbprint() {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let (key, jwk) = keypair(alg);
        let verified = verify_proof(&proof(&key, &jwk, json!({}), claims()), &TOKEN, NOW).unwrap();
        assert_eq!(verified.jkt, jwk.thumbprint());
        assert_eq!(verified.jti, "p-1");
        assert!(verified.replay_until > NOW);
    }
}

#[test]
fn wrong_method_url_time_and_type_are_invalid_dpop_proof() {
    let (key, jwk) = keypair(Alg::Es256);
    let cases: Vec<(&str, Value)> = vec![
        ("htm", json!("GET")),
        ("htu", json!("https://eid.example.gov.hk/par")),
        ("htu", json!("https://evil.example/token")),
        ("iat", json!((NOW - Duration::minutes(5)).unix_timestamp())),
        ("iat", json!((NOW + Duration::minutes(1)).unix_timestamp())),
        ("iat", json!("now")),
        ("jti", json!("")),
        ("ath", json!("unexpected")),
    ];
    for (name, value) in cases {
        let mut c = claims();
        c[name] = value.clone();
        let err = verify_proof(&proof(&key, &jwk, json!({}), c), &TOKEN, NOW).unwrap_err();
        assert_eq!(
            err.oauth_error(),
            "invalid_dpop_proof",
            "{name}={value}: {err}"
        );
    }
    for missing in ["jti", "htm", "htu", "iat"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(missing);
        assert!(verify_proof(&proof(&key, &jwk, json!({}), c), &TOKEN, NOW).is_err());
    }
    for typ in [json!("JWT"), json!(null)] {
        let err = verify_proof(
            &proof(&key, &jwk, json!({"typ": typ}), claims()),
            &TOKEN,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err, DpopError::Invalid("typ must be dpop+jwt"));
    }
}

#[test]
fn the_header_key_must_be_the_signer_and_public() {
    let (key, _) = keypair(Alg::Es256);
    let (_, other_jwk) = keypair(Alg::Es256);
    assert!(verify_proof(&proof(&key, &other_jwk, json!({}), claims()), &TOKEN, NOW).is_err());
    let mut private = serde_json::to_value(&other_jwk).unwrap();
    private["d"] = json!("AAAA");
    let token = proof(&key, &other_jwk, json!({"jwk": private}), claims());
    assert!(verify_proof(&token, &TOKEN, NOW).is_err());
    let token = proof(&key, &other_jwk, json!({"jwk": null}), claims());
    assert!(verify_proof(&token, &TOKEN, NOW).is_err());
}

#[test]
fn resource_requests_need_the_access_token_hash() {
    let (key, jwk) = keypair(Alg::EdDsa);
    let context = ProofContext {
        method: "GET",
        url: "https://eid.example.gov.hk/userinfo",
        access_token: Some("token-abc"),
        nonce: None,
    };
    let mut c =
        json!({"jti": "p-2", "htm": "GET", "htu": context.url, "iat": NOW.unix_timestamp()});
    assert!(verify_proof(&proof(&key, &jwk, json!({}), c.clone()), &context, NOW).is_err());
    c["ath"] = json!(access_token_hash("another token"));
    assert!(verify_proof(&proof(&key, &jwk, json!({}), c.clone()), &context, NOW).is_err());
    c["ath"] = json!(access_token_hash("token-abc"));
    assert!(verify_proof(&proof(&key, &jwk, json!({}), c), &context, NOW).is_ok());
}

#[test]
fn server_nonces_are_enforced() {
    let (key, jwk) = keypair(Alg::Es256);
    let context = ProofContext {
        nonce: Some("n-42"),
        ..TOKEN
    };
    let err = verify_proof(&proof(&key, &jwk, json!({}), claims()), &context, NOW).unwrap_err();
    assert_eq!(err.oauth_error(), "use_dpop_nonce");
    let mut c = claims();
    c["nonce"] = json!("n-41");
    assert_eq!(
        verify_proof(&proof(&key, &jwk, json!({}), c.clone()), &context, NOW).unwrap_err(),
        DpopError::NonceRequired
    );
    c["nonce"] = json!("n-42");
    assert!(verify_proof(&proof(&key, &jwk, json!({}), c), &context, NOW).is_ok());
}
