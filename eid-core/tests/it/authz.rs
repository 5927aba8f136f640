//! Pushed authorization requests, mirroring the FAPI 2.0 and Basic OP
//! negative tests for the request itself.

use std::collections::BTreeMap;

use eid_core::oidc::authz::{ACR_HIGH, Prompt, check_pushed_request, single_valued};
use eid_core::oidc::{Client, ClientAuth, Jwks};
use time::macros::datetime;

fn client() -> Client {
    Client {
        client_id: "dept-1".to_owned(),
        name: "Department".to_owned(),
        redirect_uris: vec!["https://dept.gov.hk/cb".to_owned()],
        post_logout_redirect_uris: vec![],
        scopes: vec!["openid".to_owned(), "profile".to_owned()],
        auth: ClientAuth::PrivateKeyJwt {
            jwks: Jwks::default(),
        },
        dpop_bound: true,
        enabled: true,
        created_at: datetime!(2026-11-28 00:00 UTC),
    }
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn params() -> BTreeMap<String, String> {
    [
        ("response_type", "code"),
        ("client_id", "dept-1"),
        ("redirect_uri", "https://dept.gov.hk/cb"),
        ("scope", "openid profile"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn with(name: &str, value: &str) -> BTreeMap<String, String> {
    let mut p = params();
    p.insert(name.to_owned(), value.to_owned());
    p
}

fn without(name: &str) -> BTreeMap<String, String> {
    let mut p = params();
    p.remove(name);
    p
}

#[test]
fn a_complete_request_is_accepted() {
    let mut p = params();
    p.insert("prompt".into(), "login consent".into());
    p.insert("max_age".into(), "600".into());
    p.insert("acr_values".into(), ACR_HIGH.into());
    p.insert("ui_locales".into(), "fr zh-hk en".into());
    p.insert(
        "claims".into(),
        r#"{"id_token":{"acr":{"essential":true}}}"#.into(),
    );
    let request = check_pushed_request(&p, &client(), Some("jkt-1")).unwrap();
    assert_eq!(request.scopes, vec!["openid", "profile"]);
    assert_eq!(request.prompt, vec![Prompt::Login, Prompt::Consent]);
    assert_eq!(request.max_age, Some(600));
    assert_eq!(request.ui_locales, vec!["zh-HK", "en"]);
    assert_eq!(request.dpop_jkt.as_deref(), Some("jkt-1"));
    assert_eq!(request.code_challenge, CHALLENGE);
}

#[test]
fn bad_requests_get_the_rfc_error_code() {
    let cases: Vec<(BTreeMap<String, String>, &str)> = vec![
        (with("response_type", "token"), "unsupported_response_type"),
        (without("response_type"), "invalid_request"),
        (
            with("redirect_uri", "https://dept.gov.hk/cb2"),
            "invalid_request",
        ),
        (
            with("redirect_uri", "https://dept.gov.hk/cb?x=1"),
            "invalid_request",
        ),
        (without("redirect_uri"), "invalid_request"),
        (with("scope", "profile"), "invalid_scope"),
        (with("scope", "openid admin"), "invalid_scope"),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (without("code_challenge_method"), "invalid_request"),
        (without("code_challenge"), "invalid_request"),
        (with("code_challenge", "short"), "invalid_request"),
        (
            with("code_challenge", &format!("{}=", &CHALLENGE[..42])),
            "invalid_request",
        ),
        (with("client_id", "dept-2"), "invalid_request"),
        (
            with("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (with("request_uri", "urn:x"), "invalid_request"),
        (with("prompt", "none login"), "invalid_request"),
        (with("prompt", "select_account"), "invalid_request"),
        (with("max_age", "-1"), "invalid_request"),
        (with("acr_values", "urn:other:loa"), "invalid_request"),
        (with("claims", "[1]"), "invalid_request"),
        (with("claims", &"x".repeat(5000)), "invalid_request"),
        (with("state", &"s".repeat(513)), "invalid_request"),
        (with("nonce", "bad\u{0}nonce"), "invalid_request"),
        (with("response_mode", "fragment"), "invalid_request"),
        (with("dpop_jkt", "another-key"), "invalid_dpop_proof"),
    ];
    for (p, code) in cases {
        let err = check_pushed_request(&p, &client(), Some("jkt-1")).unwrap_err();
        assert_eq!(err.code, code, "{p:?}: {err}");
        assert!(!err.description.is_empty());
    }
}

#[test]
fn repeated_parameters_are_refused() {
    let pairs = vec![
        ("scope".to_owned(), "openid".to_owned()),
        ("scope".to_owned(), "openid profile".to_owned()),
    ];
    assert_eq!(single_valued(&pairs).unwrap_err().code, "invalid_request");
}
