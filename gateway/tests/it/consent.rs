//! Consent grants in the database, on SQLite and PostgreSQL: stored with
//! field ids only, reused only when they cover a request, readable by their
//! own department alone, revocable by their own citizen alone, and
//! releasing nothing once revoked.

use eid_core::consent::{ConsentRequest, FormFillAsk, Grant};
use eid_core::profile::{Value, field};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::support::TestDb;

fn ask() -> FormFillAsk {
    serde_json::from_value(json!({
        "form": {"id": "LD-17", "title_en": "Licence application", "title_zh": "牌照申請"},
        "purpose": "To process your licence application",
        "retention_days": 365,
        "fields": [
            {"field": "name_en", "as": "applicant.name", "essential": true},
            {"field": "mobile", "as": "applicant.phone"}
        ]
    }))
    .unwrap()
}

async fn grants_are_stored_scoped_and_revocable(db: TestDb) {
    let now = OffsetDateTime::now_utc();
    for citizen in ["c-1", "c-2"] {
        db.db
            .create_citizen_with_card(citizen, &format!("key-{citizen}"), now)
            .await
            .unwrap();
    }
    let request = ConsentRequest::from_form("dept-a", &ask()).unwrap();
    let grant = Grant::decide(
        "g-1".into(),
        "c-1",
        &request,
        &["mobile"],
        now,
        Duration::days(90),
    )
    .unwrap();
    db.db.insert_grant(&grant).await.unwrap();

    let stored = db.db.grants_of("c-1", None).await.unwrap();
    assert_eq!(stored.len(), 1);
    // Stored in whole seconds.
    assert_eq!(stored[0].granted, grant.granted);
    assert_eq!(stored[0].asked, grant.asked);
    assert_eq!(stored[0].granted_at.unix_timestamp(), now.unix_timestamp());
    assert!(stored[0].covers("c-1", &request, now));
    assert!(
        db.db
            .grants_of("c-1", Some("dept-b"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(db.db.grants_of("c-2", None).await.unwrap().is_empty());

    // Only the department it was given to can read it.
    assert!(
        db.db
            .grant_for_client("dept-a", "g-1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.db
            .grant_for_client("dept-b", "g-1")
            .await
            .unwrap()
            .is_none()
    );

    // Only its citizen can revoke it, once; then it releases nothing.
    assert!(!db.db.revoke_grant("c-2", "g-1", now).await.unwrap());
    assert!(db.db.revoke_grant("c-1", "g-1", now).await.unwrap());
    assert!(!db.db.revoke_grant("c-1", "g-1", now).await.unwrap());
    let revoked = db
        .db
        .grant_for_client("dept-a", "g-1")
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    let values = vec![(
        field("name_en").unwrap(),
        Value::Text("CHAN, Tai Man".into()),
    )];
    assert!(revoked.release(&values, now).is_empty());
    assert!(!revoked.covers("c-1", &request, now));
    db.finish().await;
}

#[tokio::test]
async fn grants_on_sqlite() {
    grants_are_stored_scoped_and_revocable(crate::support::sqlite().await).await;
}

#[tokio::test]
async fn grants_on_postgres() {
    let Some(db) = crate::support::postgres().await else {
        return;
    };
    grants_are_stored_scoped_and_revocable(db).await;
}

mod flow {
    //! The consent step of the OpenID Connect flow, end to end.

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use eid_core::Secret;
    use eid_core::profile::{Value, field};
    use gateway::oidc::registry::{AuthChoice, Registration, register};
    use serde_json::json;

    use crate::flow::{Backend, Setup, VERIFIER, param, setup_db_sessions_with, token_request};
    use crate::par::{Dept, assertion, base_params, form, keypair, post};
    use crate::support::{csrf_of, json as body_json, send, text};

    const ORIGIN: &str = "http://localhost:8080";
    const PURPOSE: &str = "To process your application for a licence";

    async fn eme_department(s: &Setup, name: &str) -> Dept {
        let (key, public) = keypair();
        let registered = register(
            s.state.db(),
            Registration {
                name: name.into(),
                redirect_uris: vec!["https://lands.gov.hk/cb".into()],
                post_logout_redirect_uris: vec![],
                scopes: ["openid", "eme.name", "eme.contact", "eme.identity"]
                    .map(String::from)
                    .to_vec(),
                auth: AuthChoice::Jwks(serde_json::to_vec(&json!({"keys": [public]})).unwrap()),
                dpop_bound: false,
            },
            s.state.now(),
        )
        .await
        .unwrap();
        Dept {
            client_id: registered.client.client_id,
            key,
            issuer: ORIGIN.into(),
        }
    }

    async fn push(
        s: &Setup,
        dept: &Dept,
        jti: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let a = assertion(dept, &dept.issuer, jti);
        let mut params: Vec<(&str, &str)> = base_params(dept, &a)
            .into_iter()
            .filter(|(k, _)| *k != "scope")
            .collect();
        params.push(("scope", scope));
        params.extend_from_slice(extra);
        let response = send(&s.app, post(form(&params), &[])).await;
        let status = response.status();
        let body = body_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["request_uri"].as_str().unwrap().to_owned()
    }

    fn get(uri: &str, cookie: &str) -> Request<Body> {
        Request::get(uri)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    }

    fn location(response: &axum::http::Response<Body>) -> String {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    }

    async fn authorize(s: &Setup, dept: &Dept, request_uri: &str, cookie: &str) -> String {
        let uri = format!(
            "/authorize?{}",
            form(&[
                ("client_id", dept.client_id.as_str()),
                ("request_uri", request_uri)
            ])
        );
        location(&send(&s.app, get(&uri, cookie)).await)
    }

    async fn decide(
        s: &Setup,
        cookie: &str,
        consent_url: &str,
        pairs: &[(&str, &str)],
    ) -> axum::http::Response<Body> {
        let page = text(send(&s.app, get(consent_url, cookie)).await).await;
        let csrf = csrf_of(&page);
        let flow = consent_url
            .split("flow=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let mut body = vec![("csrf", csrf.as_str()), ("flow", flow.as_str())];
        body.extend_from_slice(pairs);
        send(
            &s.app,
            Request::post("/consent")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&body)))
                .unwrap(),
        )
        .await
    }

    async fn tokens(s: &Setup, dept: &Dept, back: &str) -> serde_json::Value {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        let code = param(&params, "code").expect("a code").to_owned();
        let response = send(
            &s.app,
            token_request(dept, &code, VERIFIER, &format!("t-{code}"), None),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        body_json(response).await
    }

    /// Verifies a receipt with openidconnect's JOSE code and the published
    /// key set; returns its payload.
    async fn verify_independently(s: &Setup, receipt: &str) -> serde_json::Value {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use openidconnect::JsonWebKey;
        use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
        let published = body_json(send(&s.app, crate::support::get("/jwks")).await).await;
        let jwks: CoreJsonWebKeySet = serde_json::from_value(published).unwrap();
        let parts: Vec<&str> = receipt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "consent-receipt+jwt");
        let key = jwks
            .keys()
            .iter()
            .find(|k| k.key_id().map(|id| id.as_str()) == header["kid"].as_str())
            .expect("the receipt's key is published");
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        key.verify_signature(
            &CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            signed.as_bytes(),
            &signature,
        )
        .expect("the receipt verifies");
        // Altered: it no longer verifies.
        let mut altered = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        altered.push(b' ');
        let forged = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(&altered));
        assert!(
            key.verify_signature(
                &CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                forged.as_bytes(),
                &signature,
            )
            .is_err()
        );
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
    }

    async fn userinfo(s: &Setup, tokens: &serde_json::Value) -> serde_json::Value {
        let token = tokens["access_token"].as_str().unwrap();
        let response = send(
            &s.app,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        body_json(response).await
    }

    #[tokio::test]
    async fn departments_receive_exactly_what_the_citizen_granted_on_sqlite() {
        departments_receive_exactly_what_the_citizen_granted(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn departments_receive_exactly_what_the_citizen_granted_on_postgres() {
        departments_receive_exactly_what_the_citizen_granted(Backend::Postgres).await;
    }

    async fn departments_receive_exactly_what_the_citizen_granted(backend: Backend) {
        let Some(s) = setup_db_sessions_with(backend, |c| {
            c.http.public_url = Some(ORIGIN.into());
            // Keys looked up on every request: the revocation below bites
            // at once (the cache is tested in payments::key_cache).
            c.api.key_cache_secs = 0;
            c.profile.encryption_keys = Some(Secret::new(
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
            ));
        })
        .await
        else {
            return;
        };
        let dept = eme_department(&s, "Lands Department").await;
        let (_, cookie) = crate::passkeys::register(&s.app).await;
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        let citizen = s
            .state
            .sessions()
            .current(&headers)
            .await
            .unwrap()
            .citizen_id;
        let profiles = s.state.profiles().unwrap();
        for (id, value) in [
            ("name_en", "CHAN, Tai Man"),
            ("name_zh", "陳大文"),
            ("mobile", "+85291234567"),
            ("email", "tai.man@example.hk"),
            ("hkid", "A123456(3)"),
        ] {
            profiles
                .set(
                    s.state.db(),
                    &citizen,
                    field(id).unwrap(),
                    &Value::Text(value.into()),
                    None,
                    s.state.now(),
                )
                .await
                .unwrap();
        }

        // A request without a purpose is refused at PAR.
        let a = assertion(&dept, &dept.issuer, "no-purpose");
        let mut params: Vec<(&str, &str)> = base_params(&dept, &a)
            .into_iter()
            .filter(|(k, _)| *k != "scope")
            .collect();
        params.push(("scope", "openid eme.name"));
        let refused = send(&s.app, post(form(&params), &[])).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

        // name and contact asked; the name in the ID token is essential.
        let claims = r#"{"id_token": {"name": {"essential": true}}}"#;
        let extra = [("purpose", PURPOSE), ("claims", claims)];
        let request_uri = push(&s, &dept, "c-1", "openid eme.name eme.contact", &extra).await;
        let consent_url = authorize(&s, &dept, &request_uri, &cookie).await;
        assert!(consent_url.starts_with("/consent?flow="), "{consent_url}");
        let page = text(send(&s.app, get(&consent_url, &cookie)).await).await;
        for shown in [
            "Lands Department",
            PURPOSE,
            "365",
            "CHAN, Tai Man",
            "+85291234567",
            "tai.man@example.hk",
        ] {
            assert!(page.contains(shown), "{shown}");
        }
        assert!(!page.contains("A123456"), "not asked, not shown");

        // Unticking the essential name is refused; nothing is granted.
        let refused = decide(
            &s,
            &cookie,
            &consent_url,
            &[("decision", "approve"), ("field", "name_zh")],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        // The essential name comes as a hidden field; untick mobile and home phone.
        let approved = decide(
            &s,
            &cookie,
            &consent_url,
            &[
                ("decision", "approve"),
                ("field", "name_en"),
                ("field", "name_zh"),
                ("field", "email"),
            ],
        )
        .await;
        let resume = location(&approved);
        assert!(resume.starts_with("/signin/continue?flow="), "{resume}");
        let back = location(&send(&s.app, get(&resume, &cookie)).await);
        assert!(back.starts_with("https://lands.gov.hk/cb?code="), "{back}");
        let first = tokens(&s, &dept, &back).await;
        let claims = crate::flow::id_token_claims(&s, &first).await;
        assert_eq!(claims["name"], "CHAN, Tai Man");
        assert_eq!(claims["name#zh-Hant-HK"], "陳大文");
        assert_eq!(claims["email"], "tai.man@example.hk");
        assert!(claims.get("phone_number").is_none(), "unticked: {claims}");
        assert!(claims.get("hk_id_number").is_none(), "never asked");
        let info = userinfo(&s, &first).await;
        assert_eq!(info["email"], "tai.man@example.hk");
        assert!(info.get("phone_number").is_none());

        // The consent receipt: downloadable by the citizen, fetchable by the
        // department with its access token (not by another department,
        // below), and verified with openidconnect's JOSE code (RustCrypto),
        // independent of the gateway's own (ring).
        let grant_id = s
            .state
            .db()
            .grants_of(&citizen, Some(&dept.client_id))
            .await
            .unwrap()
            .pop()
            .unwrap()
            .id;
        let download = send(
            &s.app,
            get(&format!("/account/consents/{grant_id}/receipt"), &cookie),
        )
        .await;
        assert_eq!(download.status(), StatusCode::OK);
        assert_eq!(download.headers()[header::CONTENT_TYPE], "application/jwt");
        let receipt = text(download).await;
        let payload = verify_independently(&s, &receipt).await;
        assert_eq!(payload["jti"], grant_id.as_str());
        assert_eq!(payload["aud"], dept.client_id.as_str());
        assert_eq!(payload["consent"]["purpose"], PURPOSE);
        assert_eq!(
            payload["consent"]["fields_granted"],
            json!(["email", "name_en", "name_zh"])
        );
        assert!(
            !payload.to_string().contains("CHAN"),
            "field ids, never values"
        );
        let token = first["access_token"].as_str().unwrap();
        let fetched = send(
            &s.app,
            Request::get(format!("/v1/consents/{grant_id}/receipt"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(fetched.status(), StatusCode::OK);
        verify_independently(&s, &text(fetched).await).await;
        let anonymous = send(
            &s.app,
            Request::get(format!("/v1/consents/{grant_id}/receipt"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        // Expired: userinfo releases nothing, and the same request asks
        // again. (Put back afterwards.)
        let expire = |at: i64| {
            format!("UPDATE consent_grants SET expires_at = {at} WHERE id = '{grant_id}'")
        };
        crate::audit::sql(s.state.db(), &expire(0)).await;
        let info = userinfo(&s, &first).await;
        assert!(
            info.get("email").is_none() && info.get("name").is_none(),
            "{info}"
        );
        let request_uri = push(&s, &dept, "c-exp", "openid eme.name eme.contact", &extra).await;
        assert!(
            authorize(&s, &dept, &request_uri, &cookie)
                .await
                .starts_with("/consent?flow=")
        );
        crate::audit::sql(s.state.db(), &expire(4_102_444_800)).await;
        assert_eq!(userinfo(&s, &first).await["email"], "tai.man@example.hk");

        // With the department's API key instead of an access token; a
        // wrong, revoked or foreign key gets nothing.
        let (key, stored) = gateway::api_keys::generate(
            &dept.client_id,
            gateway::api_keys::Mode::Test,
            s.state.now(),
        )
        .unwrap();
        s.state.db().insert_api_key(&stored).await.unwrap();
        let with_key = |key: &str| {
            Request::get(format!("/v1/consents/{grant_id}/receipt"))
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap()
        };
        let by_key = send(&s.app, with_key(&key)).await;
        assert_eq!(by_key.status(), StatusCode::OK);
        verify_independently(&s, &text(by_key).await).await;
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            send(&s.app, with_key(&wrong)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let (foreign_key, foreign) = gateway::api_keys::generate(
            "another-dept",
            gateway::api_keys::Mode::Test,
            s.state.now(),
        )
        .unwrap();
        s.state.db().insert_api_key(&foreign).await.unwrap();
        assert_eq!(
            send(&s.app, with_key(&foreign_key)).await.status(),
            StatusCode::UNAUTHORIZED,
            "a key of no registered department"
        );
        assert!(
            s.state
                .db()
                .revoke_api_key(&stored.key_id, s.state.now())
                .await
                .unwrap()
        );
        assert_eq!(
            send(&s.app, with_key(&key)).await.status(),
            StatusCode::UNAUTHORIZED
        );

        // The same request again: the grant is reused, no consent page.
        let request_uri = push(&s, &dept, "c-2", "openid eme.name eme.contact", &extra).await;
        let again = authorize(&s, &dept, &request_uri, &cookie).await;
        assert!(
            again.starts_with("https://lands.gov.hk/cb?code="),
            "{again}"
        );

        // More fields: asked again. Changing the claims request afterwards
        // cannot widen the existing grant.
        let request_uri = push(
            &s,
            &dept,
            "c-3",
            "openid eme.name eme.contact eme.identity",
            &extra,
        )
        .await;
        let more = authorize(&s, &dept, &request_uri, &cookie).await;
        assert!(more.starts_with("/consent?flow="), "{more}");
        let wider = r#"{"userinfo": {"hk_id_number": null}}"#;
        let request_uri = push(
            &s,
            &dept,
            "c-4",
            "openid eme.name",
            &[("purpose", PURPOSE), ("claims", wider)],
        )
        .await;
        assert!(
            authorize(&s, &dept, &request_uri, &cookie)
                .await
                .starts_with("/consent?flow=")
        );

        // A second department sees none of the first's grants, nor its
        // receipts.
        let other = eme_department(&s, "Transport Department").await;
        let request_uri = push(&s, &other, "o-1", "openid eme.name eme.contact", &extra).await;
        let other_consent = authorize(&s, &other, &request_uri, &cookie).await;
        assert!(other_consent.starts_with("/consent?flow="));
        let approved = decide(
            &s,
            &cookie,
            &other_consent,
            &[
                ("decision", "approve"),
                ("field", "name_en"),
                ("field", "name_zh"),
            ],
        )
        .await;
        let back = location(&send(&s.app, get(&location(&approved), &cookie)).await);
        let other_tokens = tokens(&s, &other, &back).await;
        let foreign = send(
            &s.app,
            Request::get(format!("/v1/consents/{grant_id}/receipt"))
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", other_tokens["access_token"].as_str().unwrap()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND);

        // Declining sends access_denied back, with state and iss.
        let request_uri = push(
            &s,
            &dept,
            "c-5",
            "openid eme.name eme.contact",
            &[("purpose", PURPOSE), ("prompt", "consent")],
        )
        .await;
        let consent_url = authorize(&s, &dept, &request_uri, &cookie).await;
        let declined =
            location(&decide(&s, &cookie, &consent_url, &[("decision", "decline")]).await);
        assert!(
            declined.starts_with("https://lands.gov.hk/cb?error=access_denied"),
            "{declined}"
        );
        assert!(
            declined.contains("state=st") && declined.contains("iss="),
            "{declined}"
        );

        // The citizen sees the grant on the consents page and revokes it
        // there; the old access token releases nothing more.
        let grant = s
            .state
            .db()
            .grants_of(&citizen, Some(&dept.client_id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let page = text(send(&s.app, get("/account/consents?lang=zh-HK", &cookie)).await).await;
        assert!(
            page.contains("Lands Department") && page.contains("生效中"),
            "{page}"
        );
        let csrf = csrf_of(&page);
        let revoke = |grant: &str, csrf: &str| {
            Request::post("/account/consents?lang=en")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[("csrf", csrf), ("grant", grant)])))
                .unwrap()
        };
        assert_eq!(
            send(&s.app, revoke(&grant.id, "forged")).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&s.app, revoke("someone-elses", &csrf)).await.status(),
            StatusCode::NOT_FOUND
        );
        let done = send(&s.app, revoke(&grant.id, &csrf)).await;
        assert_eq!(location(&done), "/account/consents?lang=en&done=revoked");
        assert_eq!(
            send(&s.app, revoke(&grant.id, &csrf)).await.status(),
            StatusCode::NOT_FOUND,
            "once"
        );
        let info = userinfo(&s, &first).await;
        assert!(
            info.get("email").is_none() && info.get("name").is_none(),
            "{info}"
        );
        assert!(info["sub"].is_string());

        // A forged or missing CSRF token decides nothing.
        let request_uri = push(&s, &dept, "c-6", "openid eme.name", &[("purpose", PURPOSE)]).await;
        let consent_url = authorize(&s, &dept, &request_uri, &cookie).await;
        let flow = consent_url
            .split("flow=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let forged = send(
            &s.app,
            Request::post("/consent")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[
                    ("csrf", "x"),
                    ("flow", &flow),
                    ("decision", "approve"),
                ])))
                .unwrap(),
        )
        .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);

        // Every consent, decline and release is in the audit trail.
        let kinds: Vec<String> = s
            .state
            .db()
            .audit_page(0, Some(&dept.client_id))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        for kind in [
            "consent.grant",
            "release",
            "consent.decline",
            "consent.revoke",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
        s.db.finish().await;
    }

    #[tokio::test]
    async fn a_form_is_filled_with_exactly_the_granted_fields_on_sqlite() {
        a_form_is_filled_with_exactly_the_granted_fields(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_form_is_filled_with_exactly_the_granted_fields_on_postgres() {
        a_form_is_filled_with_exactly_the_granted_fields(Backend::Postgres).await;
    }

    async fn a_form_is_filled_with_exactly_the_granted_fields(backend: Backend) {
        let Some(s) = setup_db_sessions_with(backend, |c| {
            c.http.public_url = Some(ORIGIN.into());
            c.profile.encryption_keys = Some(Secret::new(
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
            ));
        })
        .await
        else {
            return;
        };
        let dept = eme_department(&s, "Lands Department").await;
        let (_, cookie) = crate::passkeys::register(&s.app).await;
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        let citizen = s
            .state
            .sessions()
            .current(&headers)
            .await
            .unwrap()
            .citizen_id;
        for (id, value) in [
            ("name_en", "CHAN, Tai Man"),
            ("mobile", "+85291234567"),
            ("hkid", "A123456(3)"),
        ] {
            s.state
                .profiles()
                .unwrap()
                .set(
                    s.state.db(),
                    &citizen,
                    field(id).unwrap(),
                    &Value::Text(value.into()),
                    None,
                    s.state.now(),
                )
                .await
                .unwrap();
        }
        let ask = json!({
            "form": {"id": "LD-17", "title_en": "Licence application", "title_zh": "牌照申請"},
            "purpose": PURPOSE,
            "retention_days": 90,
            "fields": [
                {"field": "name_en", "as": "applicant.name", "essential": true},
                {"field": "mobile", "as": "applicant.phone"},
                {"field": "hkid", "as": "applicant.id"}
            ]
        });
        // A form with eme.* scopes as well is refused at PAR.
        let a = assertion(&dept, &dept.issuer, "f-0");
        let ask_text = ask.to_string();
        let mut params: Vec<(&str, &str)> = base_params(&dept, &a)
            .into_iter()
            .filter(|(k, _)| *k != "scope")
            .collect();
        params.push(("scope", "openid eme.name"));
        params.push(("form", &ask_text));
        assert_eq!(
            send(&s.app, post(form(&params), &[])).await.status(),
            StatusCode::BAD_REQUEST
        );

        let request_uri = push(&s, &dept, "f-1", "openid", &[("form", &ask_text)]).await;
        let consent_url = authorize(&s, &dept, &request_uri, &cookie).await;
        let page = text(send(&s.app, get(&consent_url, &cookie)).await).await;
        assert!(
            page.contains("Licence application") && page.contains("90"),
            "{page}"
        );
        assert!(
            page.contains("A123***(*)") && !page.contains("A123456"),
            "masked"
        );
        let approved = decide(
            &s,
            &cookie,
            &consent_url,
            &[
                ("decision", "approve"),
                ("field", "name_en"),
                ("field", "mobile"),
            ],
        )
        .await;
        let back = location(&send(&s.app, get(&location(&approved), &cookie)).await);
        let tokens = tokens(&s, &dept, &back).await;
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let fill = |body: serde_json::Value, token: Option<String>| {
            let mut request =
                Request::post("/v1/formfill").header(header::CONTENT_TYPE, "application/json");
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            request.body(Body::from(body.to_string())).unwrap()
        };

        let filled = send(&s.app, fill(ask.clone(), Some(token.clone()))).await;
        assert_eq!(filled.status(), StatusCode::OK);
        let filled = body_json(filled).await;
        assert_eq!(
            filled["fields"],
            json!({"applicant.name": "CHAN, Tai Man", "applicant.phone": "+85291234567"}),
            "the unticked HKID number is not released"
        );

        // Asking for more, another form, another purpose: refused.
        let mut wider = ask.clone();
        wider["fields"]
            .as_array_mut()
            .unwrap()
            .push(json!({"field": "email"}));
        let mut other_form = ask.clone();
        other_form["form"]["id"] = json!("LD-18");
        let mut other_purpose = ask.clone();
        other_purpose["purpose"] = json!("Marketing");
        for body in [wider, other_form, other_purpose] {
            let response = send(&s.app, fill(body, Some(token.clone()))).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(body_json(response).await["error"], "consent_required");
        }
        // Fewer fields: only those.
        let mut fewer = ask.clone();
        fewer["fields"].as_array_mut().unwrap().truncate(1);
        let response = body_json(send(&s.app, fill(fewer, Some(token.clone()))).await).await;
        assert_eq!(
            response["fields"],
            json!({"applicant.name": "CHAN, Tai Man"})
        );
        // Oversized: a form at /par beyond the claims limit, a body beyond
        // the gateway's body limit.
        let huge = json!({"form": {"id": "x".repeat(20_000)}}).to_string();
        let a = assertion(&dept, &dept.issuer, "f-big");
        let mut params: Vec<(&str, &str)> = base_params(&dept, &a)
            .into_iter()
            .filter(|(k, _)| *k != "scope")
            .collect();
        params.push(("scope", "openid"));
        params.push(("form", &huge));
        assert_eq!(
            send(&s.app, post(form(&params), &[])).await.status(),
            StatusCode::BAD_REQUEST
        );
        let too_big = json!({"padding": "x".repeat(2 * 1024 * 1024)});
        assert_eq!(
            send(&s.app, fill(too_big, Some(token.clone())))
                .await
                .status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // No token, a forged one, a malformed body.
        assert_eq!(
            send(&s.app, fill(ask.clone(), None)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&s.app, fill(ask.clone(), Some("forged".into())))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&s.app, fill(json!({"form": 1}), Some(token.clone())))
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );

        // Revoked: nothing more.
        let grant = s
            .state
            .db()
            .grants_of(&citizen, Some(&dept.client_id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(grant.form_id.as_deref(), Some("LD-17"));
        assert!(
            s.state
                .db()
                .revoke_grant(&citizen, &grant.id, s.state.now())
                .await
                .unwrap()
        );
        let after = body_json(send(&s.app, fill(ask, Some(token))).await).await;
        assert_eq!(after["fields"], json!({}));
        assert_eq!(after["consent"], "ended");
        s.db.finish().await;
    }
}

/// `/v1` requests are limited per department, over all its keys: the
/// third within a minute gets 429 with Retry-After; another department is
/// not affected.
#[tokio::test]
async fn v1_requests_are_limited_per_department() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use gateway::oidc::registry::{AuthChoice, Registration, register};
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.api.requests_per_minute = 2;
    let state = gateway::AppState::new(db.db.clone(), config);
    let app = gateway::app(state.clone());
    let mut keys = Vec::new();
    for name in ["Lands Department", "Transport Department"] {
        let registered = register(
            state.db(),
            Registration {
                name: name.into(),
                redirect_uris: vec!["https://lands.gov.hk/cb".into()],
                post_logout_redirect_uris: vec![],
                scopes: vec!["openid".into()],
                auth: AuthChoice::Secret,
                dpop_bound: false,
            },
            state.now(),
        )
        .await
        .unwrap();
        // Two keys for the first department: they share its limit.
        for _ in 0..2 {
            let (key, stored) = gateway::api_keys::generate(
                &registered.client.client_id,
                gateway::api_keys::Mode::Test,
                state.now(),
            )
            .unwrap();
            state.db().insert_api_key(&stored).await.unwrap();
            keys.push(key);
        }
    }
    let ask = |key: &str| {
        Request::get("/v1/consents/none/receipt")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        crate::support::send(&app, ask(&keys[0])).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        crate::support::send(&app, ask(&keys[1])).await.status(),
        StatusCode::NOT_FOUND
    );
    let limited = crate::support::send(&app, ask(&keys[0])).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        crate::support::send(&app, ask(&keys[2])).await.status(),
        StatusCode::NOT_FOUND,
        "another department has its own limit"
    );
    db.finish().await;
}
