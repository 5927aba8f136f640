//! Smart-ID-card sign-in with rcgen fixtures: a card issuer (root) whose
//! OCSP responder and CRL are served on loopback, cards that are valid,
//! expired, revoked by CRL, revoked by OCSP, without any reachable status,
//! with the wrong key usage, or from an untrusted issuer; the signed
//! challenge (replayed, answered from another browser), binding a card to
//! a passkey account, recovery, and the TLS client-certificate listener.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use eid_core::cert::testing::{TestOcspStatus, ocsp_response};
use eid_core::cert::{Certificate, RevocationScope};
use gateway::AppState;
use gateway::config::{CardConfig, RevocationSetting, TlsConfig};
use gateway::signin::card::CardVerifier;
use gateway::state::SystemClock;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevokedCertParams, SerialNumber,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{json as body_json, send};

const ORIGIN: &str = "http://localhost:8080";
const HIGH: &str = "urn:eid-gateway:loa:high";
const SUBSTANTIAL: &str = "urn:eid-gateway:loa:substantial";
/// Serials the issuer's CRL lists from the start (the gateway keeps a CRL
/// until its nextUpdate, as CRL users do, so revocations are published
/// before the first fetch).
const REVOKED: [u64; 3] = [13, 39, 89];

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A card issuer: its root, the loopback server with its CRL and OCSP
/// answers, and the PEM file the gateway trusts.
pub struct Issuer {
    cert: rcgen::Certificate,
    key: KeyPair,
    base: String,
    ocsp: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    crl: Arc<Mutex<Vec<u8>>>,
    dir: tempfile::TempDir,
}

fn root(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.not_before = now() - time::Duration::days(365);
    params.not_after = now() + time::Duration::days(3650);
    let cert = params.self_signed(&key).unwrap();
    (cert, key)
}

impl Issuer {
    pub async fn start() -> Issuer {
        let (cert, key) = root("Test Card Issuer");
        let ocsp: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let crl: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (ocsp_map, crl_body) = (ocsp.clone(), crl.clone());
        let app = Router::new()
            .route(
                "/ocsp/{name}",
                axum::routing::post(move |Path(name): Path<String>| {
                    let answer = ocsp_map.lock().unwrap().get(&name).cloned();
                    async move {
                        match answer {
                            Some(der) => (StatusCode::OK, der),
                            None => (StatusCode::NOT_FOUND, Vec::new()),
                        }
                    }
                }),
            )
            .route(
                "/crl",
                get(move || {
                    let der = crl_body.lock().unwrap().clone();
                    async move { der }
                }),
            )
            .route(
                "/broken",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR })
                    .post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("roots.pem"), cert.pem()).unwrap();
        let issuer = Issuer {
            cert,
            key,
            base: format!("http://{addr}"),
            ocsp,
            crl,
            dir,
        };
        issuer.publish_crl();
        issuer
    }

    fn eid_cert(&self) -> Certificate {
        Certificate::from_der(self.cert.der()).unwrap()
    }

    /// Signs and publishes the CRL listing [`REVOKED`].
    fn publish_crl(&self) {
        let revoked = REVOKED
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from(*serial),
                revocation_time: now() - time::Duration::hours(2),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect();
        let crl = CertificateRevocationListParams {
            this_update: now() - time::Duration::hours(1),
            next_update: now() + time::Duration::days(1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.cert, &self.key)
        .unwrap();
        *self.crl.lock().unwrap() = crl.der().to_vec();
    }

    pub fn card_config(&self) -> CardConfig {
        CardConfig {
            trust_anchors: vec![self.dir.path().join("roots.pem")],
            intermediates: vec![],
            revocation: RevocationSetting::All,
            fetch_timeout_secs: 2,
            tls_listen: None,
            tls_url: None,
            helper_url: Some("http://127.0.0.1:30521".into()),
        }
    }

    fn verifier(&self) -> CardVerifier {
        CardVerifier::new(
            vec![self.eid_cert()],
            vec![],
            RevocationScope::All,
            Duration::from_secs(2),
            Arc::new(SystemClock),
        )
        .unwrap()
    }
}

/// How a test card differs from a good one.
#[derive(Clone)]
pub struct Spec {
    serial: u64,
    reference: &'static str,
    /// OCSP answer path (`/ocsp/NAME` or `/broken`); none: no AIA.
    ocsp: Option<&'static str>,
    /// CRL path (`/crl` or `/broken`); none: no distribution point.
    crl: Option<&'static str>,
    not_after: OffsetDateTime,
    key_usages: Vec<KeyUsagePurpose>,
    eku: Vec<ExtendedKeyUsagePurpose>,
}

impl Spec {
    pub fn good(serial: u64, reference: &'static str) -> Spec {
        Spec {
            serial,
            reference,
            ocsp: None,
            crl: Some("/crl"),
            not_after: now() + time::Duration::days(700),
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
        }
    }
}

/// A citizen's card: certificate and key.
pub struct Card {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// DER of an authorityInfoAccess extension naming one OCSP responder.
fn aia(url: &str) -> Vec<u8> {
    let tlv = |tag: u8, body: &[u8]| {
        assert!(body.len() < 128, "short form only");
        let mut out = vec![tag, body.len() as u8];
        out.extend_from_slice(body);
        out
    };
    let ocsp_oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let description = tlv(0x30, &[&ocsp_oid[..], &tlv(0x86, url.as_bytes())].concat());
    tlv(0x30, &description)
}

pub fn issue(issuer: &Issuer, spec: &Spec) -> Card {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "CHAN, Tai Man");
    params.distinguished_name.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        DnValue::PrintableString(spec.reference.try_into().unwrap()),
    );
    params.serial_number = Some(SerialNumber::from(spec.serial));
    params.not_before = now() - time::Duration::days(30);
    params.not_after = spec.not_after;
    params.key_usages = spec.key_usages.clone();
    params.extended_key_usages = spec.eku.clone();
    params.use_authority_key_identifier_extension = true;
    if let Some(path) = spec.crl {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![format!("{}{path}", issuer.base)],
        }];
    }
    if let Some(path) = spec.ocsp {
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia(&format!("{}{path}", issuer.base)),
        )];
    }
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Card { cert, key }
}

/// Has the issuer's responder answer for `card` at `/ocsp/NAME`.
fn respond(issuer: &Issuer, card: &Card, name: &str, status: TestOcspStatus) {
    let der = ocsp_response(
        &Certificate::from_der(card.cert.der()).unwrap(),
        &issuer.eid_cert(),
        &issuer.key.serialize_der(),
        status,
        now() - time::Duration::hours(1),
        Some(now() + time::Duration::hours(12)),
    );
    issuer.ocsp.lock().unwrap().insert(name.to_owned(), der);
}

impl Card {
    fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.cert.der().to_vec()]
    }

    /// What the card-reader helper sends: the signature over the
    /// challenge's bytes and the chain.
    pub fn answer(&self, challenge: &Value) -> Value {
        let tbs = B64
            .decode(challenge["to_be_signed"].as_str().unwrap())
            .unwrap();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &self.key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        let signature = signer.sign(&SystemRandom::new(), &tbs).unwrap();
        json!({
            "ceremony": challenge["ceremony"],
            "algorithm": "ES256",
            "signature": B64.encode(signature.as_ref()),
            "certificates": [STANDARD.encode(self.cert.der())],
        })
    }
}

// --- validation ---------------------------------------------------------

#[tokio::test]
async fn card_certificates_are_validated_with_revocation_and_fail_closed() {
    let issuer = Issuer::start().await;
    let verifier = issuer.verifier();
    let verify = |card: Card| {
        let verifier = verifier.clone();
        async move {
            verifier
                .verify(&card.chain(), now())
                .await
                .map_err(|e| e.code())
        }
    };

    // Good by OCSP (asked first), and good by CRL (no responder named).
    let by_ocsp = issue(
        &issuer,
        &Spec {
            ocsp: Some("/ocsp/good"),
            ..Spec::good(11, "SRN-11")
        },
    );
    respond(&issuer, &by_ocsp, "good", TestOcspStatus::Good);
    let good = verify(by_ocsp).await.expect("valid by OCSP");
    assert_eq!(good.identity.common_name.as_deref(), Some("CHAN, Tai Man"));
    assert_eq!(
        good.identity.subscriber_reference.as_deref(),
        Some("SRN-11")
    );
    let by_crl = verify(issue(&issuer, &Spec::good(12, "SRN-12")))
        .await
        .expect("valid by CRL");
    assert_ne!(good.key, by_crl.key, "two cards, two identities");
    assert_eq!(good.key.len(), 43, "the key is a hash, not the reference");

    // Revoked by CRL.
    assert_eq!(
        verify(issue(&issuer, &Spec::good(13, "SRN-13")))
            .await
            .err(),
        Some("revoked")
    );

    // Revoked by OCSP (the CRL does not list it: the responder decides).
    let revoked = issue(
        &issuer,
        &Spec {
            ocsp: Some("/ocsp/revoked"),
            ..Spec::good(14, "SRN-14")
        },
    );
    respond(
        &issuer,
        &revoked,
        "revoked",
        TestOcspStatus::Revoked {
            at: now() - time::Duration::hours(3),
            reason: Some(1),
        },
    );
    assert_eq!(verify(revoked).await.err(), Some("revoked"));

    // Neither the responder nor the CRL answers: fails closed.
    let unreachable = issue(
        &issuer,
        &Spec {
            ocsp: Some("/broken"),
            crl: Some("/broken"),
            ..Spec::good(15, "SRN-15")
        },
    );
    assert_eq!(
        verify(unreachable).await.err(),
        Some("revocation_unavailable")
    );
    // Nor does a certificate that names no status source at all pass.
    let silent = issue(
        &issuer,
        &Spec {
            crl: None,
            ..Spec::good(16, "SRN-16")
        },
    );
    assert_eq!(verify(silent).await.err(), Some("revocation_unavailable"));

    // Expired.
    let expired = issue(
        &issuer,
        &Spec {
            not_after: now() - time::Duration::days(1),
            ..Spec::good(17, "SRN-17")
        },
    );
    assert_eq!(verify(expired).await.err(), Some("expired"));

    // Wrong key usage (encipherment only), and server-auth only.
    let wrong_ku = issue(
        &issuer,
        &Spec {
            key_usages: vec![KeyUsagePurpose::KeyEncipherment],
            ..Spec::good(18, "SRN-18")
        },
    );
    assert_eq!(verify(wrong_ku).await.err(), Some("key_usage_not_allowed"));
    let wrong_eku = issue(
        &issuer,
        &Spec {
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ..Spec::good(19, "SRN-19")
        },
    );
    assert_eq!(verify(wrong_eku).await.err(), Some("wrong_purpose"));

    // A card from an issuer the gateway does not trust.
    let stranger = Issuer::start().await;
    let foreign = issue(&stranger, &Spec::good(20, "SRN-20"));
    assert_eq!(verify(foreign).await.err(), Some("unknown_issuer"));

    // Hostile chains: empty, garbage, too many certificates.
    assert_eq!(
        verifier
            .verify(&[], now())
            .await
            .map_err(|e| e.code())
            .err(),
        Some("chain")
    );
    assert_eq!(
        verifier
            .verify(&[b"not a certificate".to_vec()], now())
            .await
            .map_err(|e| e.code())
            .err(),
        Some("malformed")
    );
    let card = issue(&issuer, &Spec::good(21, "SRN-21"));
    let long = vec![card.cert.der().to_vec(); 7];
    assert_eq!(
        verifier
            .verify(&long, now())
            .await
            .map_err(|e| e.code())
            .err(),
        Some("chain")
    );
}

// --- the signed challenge over HTTP -------------------------------------

struct Gateway {
    app: Router,
    state: AppState,
    _db: crate::support::TestDb,
}

async fn gateway(issuer: &Issuer) -> Gateway {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    config.signin.card = Some(issuer.card_config());
    let state = AppState::new(db.db.clone(), config);
    assert!(state.cards().is_some(), "card sign-in configured");
    Gateway {
        app: gateway::app(state.clone()),
        state,
        _db: db,
    }
}

fn post(uri: &str, body: &Value, cookies: &[&str]) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin");
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookies.join("; "));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

/// The `name=value` of each Set-Cookie.
fn set_cookies(response: &axum::http::Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

/// A challenge and the binding cookie that came with it.
async fn challenge(app: &Router, intent: &str, cookies: &[&str]) -> (Value, String) {
    let response = send(
        app,
        post(
            "/signin/card/challenge",
            &json!({ "intent": intent }),
            cookies,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let binding = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("eid_card="))
        .expect("binding cookie");
    let body = body_json(response).await;
    let tbs =
        String::from_utf8(B64.decode(body["to_be_signed"].as_str().unwrap()).unwrap()).unwrap();
    assert!(
        tbs.starts_with("eid-gateway card sign-in v1\norigin=http://localhost:8080\n"),
        "{tbs}"
    );
    (body, binding)
}

/// Signs in with `card`: the status, the body and the session cookie.
async fn card_sign_in(
    app: &Router,
    card: &Card,
    intent: &str,
    session: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let cookies: Vec<&str> = session.into_iter().collect();
    let (challenge, binding) = challenge(app, intent, &cookies).await;
    let mut cookies = cookies.clone();
    cookies.push(&binding);
    let response = send(
        app,
        post("/signin/card/finish", &card.answer(&challenge), &cookies),
    )
    .await;
    let status = response.status();
    let session = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("eid_session=") && c.len() > "eid_session=".len());
    (status, body_json(response).await, session)
}

fn headers_with(cookie: &str) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::COOKIE, cookie.parse().unwrap());
    headers
}

#[tokio::test]
async fn a_valid_card_signs_in_at_high_and_its_account_is_found_again() {
    let issuer = Issuer::start().await;
    let g = gateway(&issuer).await;
    let card = issue(&issuer, &Spec::good(31, "SRN-31"));

    let (status, body, session) = card_sign_in(&g.app, &card, "sign_in", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "account_created");
    assert_eq!(body["acr"], HIGH);
    let first = g
        .state
        .sessions()
        .current(&headers_with(&session.unwrap()))
        .await
        .unwrap();
    assert_eq!(first.acr, HIGH);
    assert_eq!(first.amr, ["sc", "pop"]);

    let (status, body, session) = card_sign_in(&g.app, &card, "sign_in", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "signed_in");
    let second = g
        .state
        .sessions()
        .current(&headers_with(&session.unwrap()))
        .await
        .unwrap();
    assert_eq!(
        second.citizen_id, first.citizen_id,
        "same card, same account"
    );
    assert_ne!(second.session_id, first.session_id);

    // A revoked card gets the generic answer and no session.
    let revoked = issue(&issuer, &Spec::good(39, "SRN-39"));
    let (status, body, session) = card_sign_in(&g.app, &revoked, "sign_in", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "sign_in_failed");
    assert!(session.is_none());
}

#[tokio::test]
async fn a_challenge_is_answered_once_by_the_browser_that_asked_for_it() {
    let issuer = Issuer::start().await;
    let g = gateway(&issuer).await;
    let card = issue(&issuer, &Spec::good(41, "SRN-41"));

    // Browser A asks; the answer posted from browser B (its own binding
    // cookie, or none) is refused, and the challenge is gone for A too.
    let (a, _a_binding) = challenge(&g.app, "sign_in", &[]).await;
    let (_, b_binding) = challenge(&g.app, "sign_in", &[]).await;
    let answer = card.answer(&a);
    for cookies in [vec![b_binding.as_str()], vec![]] {
        let response = send(&g.app, post("/signin/card/finish", &answer, &cookies)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(response).await["error"], "sign_in_failed");
    }

    // Answered properly, then replayed: once only.
    let (c, c_binding) = challenge(&g.app, "sign_in", &[]).await;
    let answer = card.answer(&c);
    let ok = send(&g.app, post("/signin/card/finish", &answer, &[&c_binding])).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let replay = send(&g.app, post("/signin/card/finish", &answer, &[&c_binding])).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // A signature by another key over the right bytes, a signature over
    // other bytes, a tampered algorithm: refused.
    let other = issue(&issuer, &Spec::good(42, "SRN-42"));
    let (d, d_binding) = challenge(&g.app, "sign_in", &[]).await;
    let mut forged = other.answer(&d);
    forged["certificates"] = json!([STANDARD.encode(card.cert.der())]);
    let response = send(&g.app, post("/signin/card/finish", &forged, &[&d_binding])).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (e, e_binding) = challenge(&g.app, "sign_in", &[]).await;
    let mut wrong_bytes = e.clone();
    wrong_bytes["to_be_signed"] = json!(B64.encode(b"something else"));
    let mut answer = card.answer(&wrong_bytes);
    answer["ceremony"] = e["ceremony"].clone();
    let response = send(&g.app, post("/signin/card/finish", &answer, &[&e_binding])).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (f, f_binding) = challenge(&g.app, "sign_in", &[]).await;
    let mut answer = card.answer(&f);
    answer["algorithm"] = json!("RS256");
    let response = send(&g.app, post("/signin/card/finish", &answer, &[&f_binding])).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Hostile bodies: unknown fields, wrong types, huge signature, not
    // base64, cross-site.
    let (h, h_binding) = challenge(&g.app, "sign_in", &[]).await;
    for body in [
        json!({"ceremony": h["ceremony"], "algorithm": "ES256", "signature": "", "certificates": [], "extra": 1}),
        json!({"ceremony": 7}),
        json!({"ceremony": h["ceremony"], "algorithm": "ES256", "signature": "A".repeat(5000), "certificates": [STANDARD.encode(card.cert.der())]}),
        json!({"ceremony": h["ceremony"], "algorithm": "ES256", "signature": "%%%", "certificates": ["%%%"]}),
    ] {
        let response = send(&g.app, post("/signin/card/finish", &body, &[&h_binding])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let cross = Request::post("/signin/card/challenge")
        .header(header::CONTENT_TYPE, "application/json")
        .header("origin", "https://evil.example")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(&g.app, cross).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn binding_needs_a_passkey_session_and_raises_passkey_sign_ins() {
    use crate::passkeys::{register, sign_in};
    let issuer = Issuer::start().await;
    let g = gateway(&issuer).await;
    let card = issue(&issuer, &Spec::good(51, "SRN-51"));

    // Without a session, or with a card-only session: no binding.
    let (status, body, _) = card_sign_in(&g.app, &card, "bind", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "passkey_sign_in_required");

    let (mut passkey, session) = register(&g.app).await;
    let citizen = g
        .state
        .sessions()
        .current(&headers_with(&session))
        .await
        .unwrap();
    let (status, body, bound_session) = card_sign_in(&g.app, &card, "bind", Some(&session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "card_bound");
    let bound = g
        .state
        .sessions()
        .current(&headers_with(&bound_session.unwrap()))
        .await
        .unwrap();
    assert_eq!(bound.citizen_id, citizen.citizen_id);
    assert_eq!(bound.acr, HIGH);
    assert_eq!(bound.amr, ["hwk", "user", "sc", "pop"]);
    assert!(
        g.state
            .sessions()
            .current(&headers_with(&session))
            .await
            .is_none(),
        "the old session value ended"
    );

    // A passkey sign-in on the bound account is now `substantial`.
    let (status, cookie, _) = sign_in(&g.app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    let later = g
        .state
        .sessions()
        .current(&headers_with(&cookie.unwrap()))
        .await
        .unwrap();
    assert_eq!(later.acr, SUBSTANTIAL);

    // The card signs in to the same account.
    let (_, body, card_session) = card_sign_in(&g.app, &card, "sign_in", None).await;
    assert_eq!(body["status"], "signed_in");
    let by_card = g
        .state
        .sessions()
        .current(&headers_with(&card_session.unwrap()))
        .await
        .unwrap();
    assert_eq!(by_card.citizen_id, citizen.citizen_id);

    // Another passkey account cannot take the card, and this account
    // cannot take a second card.
    let (_, other_session) = register(&g.app).await;
    let (status, body, _) = card_sign_in(&g.app, &card, "bind", Some(&other_session)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "card_in_use");
    let (_, passkey_session) = {
        let (status, cookie, _) = sign_in(&g.app, &mut passkey).await;
        assert_eq!(status, StatusCode::OK);
        (status, cookie.unwrap())
    };
    let second_card = issue(&issuer, &Spec::good(52, "SRN-52"));
    let (status, body, _) =
        card_sign_in(&g.app, &second_card, "bind", Some(&passkey_session)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "account_has_card");
}

#[tokio::test]
async fn a_citizen_who_lost_their_passkey_recovers_with_the_card() {
    use crate::passkeys::{register, register_more, sign_in};
    let issuer = Issuer::start().await;
    let g = gateway(&issuer).await;
    let card = issue(&issuer, &Spec::good(61, "SRN-61"));
    let (_lost, session) = register(&g.app).await;
    let (status, _, _) = card_sign_in(&g.app, &card, "bind", Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    let owner = g
        .state
        .db()
        .card_owner(
            &g.state
                .cards()
                .unwrap()
                .verify(&card.chain(), now())
                .await
                .unwrap()
                .key,
        )
        .await
        .unwrap()
        .unwrap();

    // The passkey is lost; the card signs in and a new passkey is added.
    let (_, _, card_session) = card_sign_in(&g.app, &card, "sign_in", None).await;
    let card_session = card_session.unwrap();
    let mut replacement = register_more(&g.app, &card_session).await;
    let (status, cookie, _) = sign_in(&g.app, &mut replacement).await;
    assert_eq!(status, StatusCode::OK);
    let recovered = g
        .state
        .sessions()
        .current(&headers_with(&cookie.unwrap()))
        .await
        .unwrap();
    assert_eq!(recovered.citizen_id, owner);
    assert_eq!(recovered.acr, SUBSTANTIAL);
}

/// A department asks for `high`; the passkey session is stepped up by a
/// card sign-in and the ID token says `high` with the card's `amr`.
#[tokio::test]
async fn acr_high_is_reached_by_stepping_up_with_the_card() {
    use crate::flow::{Backend, param, push};
    use crate::passkeys::{get_with, location, register};
    let issuer = Issuer::start().await;
    let card_config = issuer.card_config();
    let Some(s) = crate::flow::setup_db_sessions_with(Backend::Sqlite, move |c| {
        c.http.public_url = Some(ORIGIN.into());
        c.signin.card = Some(card_config);
    })
    .await
    else {
        return;
    };
    let dept = crate::par::department(&s.state).await;
    let card = issue(&issuer, &Spec::good(71, "SRN-71"));
    let (_, session) = register(&s.app).await;
    let request_uri = push(&s, &dept, "hi-1", &[("acr_values", HIGH)]).await;
    let authorize = format!(
        "/authorize?{}",
        crate::par::form(&[
            ("client_id", dept.client_id.as_str()),
            ("request_uri", &request_uri)
        ])
    );
    let step_up = location(&send(&s.app, get_with(&authorize, Some(&session))).await);
    assert!(step_up.contains("step_up=1"), "{step_up}");
    let flow = step_up
        .split_once("flow=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    // The step-up page offers the card, to be linked to this account.
    let page = crate::support::text(send(&s.app, get_with(&step_up, Some(&session))).await).await;
    assert!(page.contains("id=\"card-helper\""), "{page}");
    assert!(page.contains("data-intent=\"bind\""), "{page}");
    let passkey_citizen = s
        .state
        .sessions()
        .current(&headers_with(&session))
        .await
        .unwrap();

    let (status, body, high_session) = card_sign_in(&s.app, &card, "bind", Some(&session)).await;
    assert_eq!(body["status"], "card_bound");
    assert_eq!(status, StatusCode::OK);
    let high_session = high_session.unwrap();
    let back = location(
        &send(
            &s.app,
            get_with(
                &format!("/signin/continue?flow={flow}"),
                Some(&high_session),
            ),
        )
        .await,
    );
    let params: Vec<(String, String)> =
        form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let code = param(&params, "code").expect("a code");
    let tokens = crate::flow::redeem(&s, &dept, code).await;
    let claims = crate::flow::id_token_claims(&s, &tokens).await;
    assert_eq!(claims["acr"], HIGH);
    assert_eq!(claims["amr"], json!(["hwk", "user", "sc", "pop"]));
    let owner = s
        .state
        .sessions()
        .current(&headers_with(&high_session))
        .await
        .unwrap();
    assert_eq!(
        owner.citizen_id, passkey_citizen.citizen_id,
        "the same person"
    );
}

// --- the TLS client-certificate listener ----------------------------------

#[tokio::test]
async fn the_card_listener_signs_in_with_the_tls_client_certificate() {
    let issuer = Issuer::start().await;
    let card = issue(&issuer, &Spec::good(81, "SRN-81"));
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.pem"), server_cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), server_key.serialize_pem()).unwrap();
    let tls = TlsConfig {
        cert_file: dir.path().join("tls.pem"),
        key_file: dir.path().join("tls.key"),
    };

    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.http.public_url = Some("https://localhost:8443".into());
    config.tls = Some(tls.clone());
    config.signin.card = Some(issuer.card_config());
    let state = AppState::new(db.db.clone(), config);
    let verifier = state.cards().unwrap().clone();
    let server_config =
        gateway::server::load_tls_client_auth(&tls, verifier.anchor_subjects()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(gateway::server::serve(
        listener,
        gateway::http::card_app(state.clone()),
        Some(server_config),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    let url = format!("https://localhost:{port}/signin/card/tls?lang=zh-HK");
    let client = |identity: Option<reqwest::Identity>| {
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(server_cert.pem().as_bytes()).unwrap(),
            )
            .resolve("localhost", ([127, 0, 0, 1], port).into())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        builder.build().unwrap()
    };

    // With the card's certificate: signed in, sent to the account page.
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", card.key.serialize_pem(), card.cert.pem()).as_bytes(),
    )
    .unwrap();
    let response = client(Some(identity)).get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        to,
        "https://localhost:8443/account/passkeys?lang=zh-HK&card=signed_in"
    );
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-eid_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let citizen = state
        .sessions()
        .current(&headers_with(session))
        .await
        .unwrap();
    assert_eq!(citizen.acr, HIGH);

    // Without a certificate: back to the sign-in page, which explains.
    let response = client(None).get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        to.ends_with("/signin?lang=zh-HK&card=no_certificate"),
        "{to}"
    );
    assert!(response.headers().get(header::SET_COOKIE).is_none());

    // A revoked card: refused the same way, no session.
    let revoked = issue(&issuer, &Spec::good(89, "SRN-89"));
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", revoked.key.serialize_pem(), revoked.cert.pem()).as_bytes(),
    )
    .unwrap();
    let response = client(Some(identity)).get(&url).send().await.unwrap();
    let to = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.ends_with("card=failed"), "{to}");
    assert!(response.headers().get(header::SET_COOKIE).is_none());

    // Binding over TLS needs the session's CSRF token.
    let bind = format!("https://localhost:{port}/signin/card/tls?intent=bind&csrf=forged");
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", card.key.serialize_pem(), card.cert.pem()).as_bytes(),
    )
    .unwrap();
    let response = client(Some(identity))
        .get(&bind)
        .header(header::COOKIE, session)
        .send()
        .await
        .unwrap();
    let to = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        to.contains("/account/passkeys?") && to.ends_with("card=failed"),
        "{to}"
    );
    db.finish().await;
}

/// `gateway serve` with `[tls]` and `signin.card.tls_listen` runs both
/// listeners: the card listener signs in with the client certificate and
/// the main listener then knows the session.
#[tokio::test]
async fn serve_runs_the_card_listener_next_to_the_main_one() {
    use tokio::io::AsyncBufReadExt;
    let issuer = Issuer::start().await;
    let card = issue(&issuer, &Spec::good(91, "SRN-91"));
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.pem"), server_cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), server_key.serialize_pem()).unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (main_port, card_port) = (free_port(), free_port());
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:{main_port}\"\npublic_url = \"https://localhost:{main_port}\"\n\
         [tls]\ncert_file = \"tls.pem\"\nkey_file = \"tls.key\"\n\
         [database]\nurl = \"sqlite://gw.db\"\n\
         [signin.card]\ntrust_anchors = [{:?}]\ntls_listen = \"127.0.0.1:{card_port}\"\n",
        issuer.card_config().trust_anchors[0]
    );
    std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
    let mut command = tokio::process::Command::from(crate::support::gateway_command(dir.path()));
    command
        .args(["serve", "--config", "gateway.toml"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("gateway listening on ") {
                return;
            }
        }
        panic!("gateway serve ended before listening");
    })
    .await
    .expect("listening within 30 s");

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(server_cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], 0).into())
        .identity(
            reqwest::Identity::from_pem(
                format!("{}{}", card.key.serialize_pem(), card.cert.pem()).as_bytes(),
            )
            .unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{card_port}/signin/card/tls"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("https://localhost:{main_port}/account/passkeys?lang=en&card=signed_in").as_str()
    );
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The main listener (another port, same host: the cookie applies).
    let page = client
        .get(format!(
            "https://localhost:{main_port}/account/passkeys?lang=en"
        ))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("linked to your smart ID card"), "{html}");
    assert!(html.contains("You have no passkey yet"), "{html}");
    // The card listener serves only card sign-in (and health).
    let other = client
        .get(format!("https://localhost:{card_port}/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let _ = child.kill().await;
}
