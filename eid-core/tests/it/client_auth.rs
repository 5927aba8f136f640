//! private_key_jwt and client_secret_basic, mirroring the negative cases of
//! the OpenID Foundation's FAPI 2.0 client authentication tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_core::oidc::client_auth::{ClientAuthError, verify_assertion, verify_secret};
use eid_core::oidc::jws::{self, JwsError};
use eid_core::oidc::keys::{KeyEncryptionKey, SigningKey, generate, unseal};
use eid_core::oidc::{Alg, Client, ClientAuth, Jwks};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);
const ISSUER: &str = "https://eid.example.gov.hk";
const TOKEN_ENDPOINT: &str = "https://eid.example.gov.hk/token";

fn keypair(alg: Alg) -> (SigningKey, eid_core::oidc::Jwk) {
    let kek = KeyEncryptionKey::from_bytes(&[5u8; 32]).unwrap();
    let stored = generate(alg, &kek, NOW, NOW).unwrap();
    (unseal(&stored, &kek).unwrap(), stored.public_jwk)
}

fn client(keys: Vec<eid_core::oidc::Jwk>) -> Client {
    Client {
        client_id: "dept-1".to_owned(),
        name: "Department".to_owned(),
        redirect_uris: vec!["https://dept.gov.hk/cb".to_owned()],
        post_logout_redirect_uris: vec![],
        scopes: vec!["openid".to_owned()],
        auth: ClientAuth::PrivateKeyJwt {
            jwks: Jwks { keys },
        },
        dpop_bound: true,
        enabled: true,
        created_at: NOW,
    }
}

fn claims() -> Value {
    json!({
        "iss": "dept-1",
        "sub": "dept-1",
        "aud": ISSUER,
        "iat": NOW.unix_timestamp(),
        "exp": (NOW + Duration::seconds(60)).unix_timestamp(),
        "jti": "assertion-1",
    })
}

fn check(key: &SigningKey, client: &Client, claims: &Value) -> Result<String, ClientAuthError> {
    let assertion = jws::sign(key, "JWT", claims).unwrap();
    verify_assertion(&assertion, client, ISSUER, TOKEN_ENDPOINT, NOW).map(|v| v.jti)
}

#[test]
fn valid_assertions_with_either_algorithm_and_audience() {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let (key, public) = keypair(alg);
        let c = client(vec![public]);
        assert_eq!(check(&key, &c, &claims()), Ok("assertion-1".to_owned()));
        let mut by_endpoint = claims();
        by_endpoint["aud"] = json!([TOKEN_ENDPOINT, "https://other"]);
        assert!(check(&key, &c, &by_endpoint).is_ok());
    }
}

#[test]
fn wrong_claims_are_invalid_client() {
    let (key, public) = keypair(Alg::Es256);
    let c = client(vec![public]);
    let cases: Vec<(&str, Value)> = vec![
        ("aud", json!("https://eid.example.gov.hk/par")),
        ("aud", json!([])),
        ("aud", json!(null)),
        ("iss", json!("dept-2")),
        ("sub", json!("dept-2")),
        ("exp", json!((NOW - Duration::seconds(1)).unix_timestamp())),
        ("exp", json!((NOW + Duration::minutes(10)).unix_timestamp())),
        ("exp", json!("tomorrow")),
        ("iat", json!((NOW + Duration::minutes(2)).unix_timestamp())),
        ("nbf", json!((NOW + Duration::minutes(2)).unix_timestamp())),
        ("jti", json!("")),
        ("jti", json!("x".repeat(300))),
    ];
    for (name, value) in cases {
        let mut c2 = claims();
        c2[name] = value.clone();
        let err = check(&key, &c, &c2).unwrap_err();
        assert!(
            matches!(err, ClientAuthError::Claim(_)),
            "{name}={value}: {err:?}"
        );
        assert_eq!(err.oauth_error(), "invalid_client");
    }
    for missing in ["exp", "jti", "aud"] {
        let mut c2 = claims();
        c2.as_object_mut().unwrap().remove(missing);
        assert!(check(&key, &c, &c2).is_err(), "without {missing}");
    }
}

#[test]
fn keys_and_algorithms_must_match_the_registration() {
    let (key, public) = keypair(Alg::Es256);
    let (other_key, _) = keypair(Alg::Es256);
    let c = client(vec![public.clone()]);
    // Signed by an unregistered key under the registered kid.
    let mut forged_header = jws::sign(&other_key, "JWT", &claims()).unwrap();
    let parts: Vec<&str> = forged_header.split('.').collect();
    let header = json!({"alg": "ES256", "kid": public.kid});
    forged_header = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        verify_assertion(&forged_header, &c, ISSUER, TOKEN_ENDPOINT, NOW),
        Err(ClientAuthError::Jws(JwsError::BadSignature))
    );
    // An unknown kid.
    assert_eq!(
        check(&other_key, &c, &claims()),
        Err(ClientAuthError::UnknownKey)
    );
    // RS256 and none are refused before any key is looked at.
    for alg in ["RS256", "none", "HS256"] {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": public.kid}).to_string()),
            URL_SAFE_NO_PAD.encode(claims().to_string()),
            URL_SAFE_NO_PAD.encode([0u8; 64])
        );
        assert!(matches!(
            verify_assertion(&token, &c, ISSUER, TOKEN_ENDPOINT, NOW),
            Err(ClientAuthError::Jws(JwsError::UnsupportedAlg(_)))
        ));
    }
    // Tampered payload.
    let token = jws::sign(&key, "JWT", &claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = claims();
    evil["sub"] = json!("dept-1 ");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(evil.to_string()),
        parts[2]
    );
    assert_eq!(
        verify_assertion(&tampered, &c, ISSUER, TOKEN_ENDPOINT, NOW),
        Err(ClientAuthError::Jws(JwsError::BadSignature))
    );
}

#[test]
fn disabled_and_secret_clients() {
    let (key, public) = keypair(Alg::EdDsa);
    let mut c = client(vec![public]);
    c.enabled = false;
    assert_eq!(check(&key, &c, &claims()), Err(ClientAuthError::Disabled));

    let secret = "a-long-random-secret";
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mut s = client(vec![]);
    s.auth = ClientAuth::ClientSecretBasic {
        secret_sha256: digest.as_ref().to_vec(),
    };
    assert_eq!(verify_secret(&s, secret), Ok(()));
    assert_eq!(
        verify_secret(&s, "a-long-random-secreT"),
        Err(ClientAuthError::BadSecret)
    );
    assert_eq!(verify_secret(&s, ""), Err(ClientAuthError::BadSecret));
    assert!(matches!(
        check(&key, &s, &claims()),
        Err(ClientAuthError::WrongMethod { .. })
    ));
    let (_, public) = keypair(Alg::Es256);
    assert!(matches!(
        verify_secret(&client(vec![public]), secret),
        Err(ClientAuthError::WrongMethod { .. })
    ));
}
