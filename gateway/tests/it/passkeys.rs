//! Passkey registration and sign-in through the HTTP endpoints, with a
//! software authenticator written from the WebAuthn specification (ES256
//! key from ring, `none` attestation, user verification, a signature
//! counter; `benches/support/soft_passkey.rs`, shared with the benchmark),
//! so that webauthn-rs verifies real ceremonies.

#[path = "../../benches/support/soft_passkey.rs"]
mod soft_passkey;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gateway::AppState;
use serde_json::{Value, json};

use self::soft_passkey::{ORIGIN, SoftPasskey};
use crate::support::{TestDb, json as body_json, send};

async fn setup() -> (axum::Router, AppState, TestDb) {
    setup_on(crate::support::sqlite().await)
}

fn setup_on(db: TestDb) -> (axum::Router, AppState, TestDb) {
    let mut config = db.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    let state = AppState::new(db.db.clone(), config);
    (gateway::app(state.clone()), state, db)
}

fn post(uri: &str, body: &Value, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn session_cookie(response: &axum::http::Response<Body>) -> String {
    let set = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

/// Registers a new account; returns the passkey and the session cookie.
pub async fn register(app: &axum::Router) -> (SoftPasskey, String) {
    let begin = body_json(
        send(
            app,
            post("/signin/passkey/register/begin", &json!({}), None),
        )
        .await,
    )
    .await;
    let mut passkey = SoftPasskey::new();
    let credential = passkey.create(&begin["options"]);
    let body = json!({"ceremony": begin["ceremony"], "credential": credential, "name": "Phone"});
    let response = send(app, post("/signin/passkey/register/finish", &body, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);
    assert_eq!(body_json(response).await["acr"], "urn:eid-gateway:loa:low");
    // The same answer again: the ceremony was taken.
    let again = send(app, post("/signin/passkey/register/finish", &body, None)).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    (passkey, cookie)
}

/// Adds a passkey to the account signed in with `session`.
pub async fn register_more(app: &axum::Router, session: &str) -> SoftPasskey {
    let begin = body_json(
        send(
            app,
            post("/signin/passkey/register/begin", &json!({}), Some(session)),
        )
        .await,
    )
    .await;
    let mut passkey = SoftPasskey::new();
    let credential = passkey.create(&begin["options"]);
    let body =
        json!({"ceremony": begin["ceremony"], "credential": credential, "name": "New phone"});
    let response = send(
        app,
        post("/signin/passkey/register/finish", &body, Some(session)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["status"], "passkey_added");
    passkey
}

pub async fn sign_in(
    app: &axum::Router,
    passkey: &mut SoftPasskey,
) -> (StatusCode, Option<String>, Value) {
    let begin = body_json(send(app, post("/signin/passkey/begin", &json!({}), None)).await).await;
    let credential = passkey.get(&begin["options"]);
    let body = json!({"ceremony": begin["ceremony"], "credential": credential});
    let response = send(app, post("/signin/passkey/finish", &body, None)).await;
    let status = response.status();
    let cookie = (status == StatusCode::OK).then(|| session_cookie(&response));
    (status, cookie, body)
}

fn headers_with(cookie: &str) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::COOKIE, cookie.parse().unwrap());
    headers
}

#[tokio::test]
async fn register_then_sign_in_with_the_same_passkey() {
    register_then_sign_in(setup().await).await;
}

#[tokio::test]
async fn register_then_sign_in_on_postgres() {
    let Some(db) = crate::support::postgres().await else {
        return;
    };
    register_then_sign_in(setup_on(db)).await;
}

async fn register_then_sign_in((app, state, db): (axum::Router, AppState, TestDb)) {
    let (mut passkey, first) = register(&app).await;
    let citizen = state
        .sessions()
        .current(&headers_with(&first))
        .await
        .expect("signed in");
    assert_eq!(citizen.amr, ["hwk", "user"]);

    let (status, second, body) = sign_in(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    let second = second.unwrap();
    assert_ne!(first, second);
    let again = state
        .sessions()
        .current(&headers_with(&second))
        .await
        .unwrap();
    assert_eq!(again.citizen_id, citizen.citizen_id);
    assert_ne!(again.session_id, citizen.session_id);
    let keys = state.db().passkeys_of(&citizen.citizen_id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "Phone");
    assert!(keys[0].last_used_at.is_some());
    // The last passkey of an account cannot be removed; another's cannot be touched.
    use gateway::store::signin::Removal;
    let id = &keys[0].credential_id;
    assert_eq!(
        state
            .db()
            .remove_passkey(&citizen.citizen_id, id)
            .await
            .unwrap(),
        Removal::LastOne
    );
    assert_eq!(
        state.db().remove_passkey("someone-else", id).await.unwrap(),
        Removal::NotFound
    );
    assert!(
        !state
            .db()
            .rename_passkey("someone-else", id, "Mine now")
            .await
            .unwrap()
    );
    assert!(
        state
            .db()
            .rename_passkey(&citizen.citizen_id, id, "Work phone")
            .await
            .unwrap()
    );

    // A replayed sign-in answer finds no ceremony.
    let replay = send(&app, post("/signin/passkey/finish", &body, None)).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(replay).await["error"], "sign_in_failed");

    // Sign out everywhere ends both sessions.
    let out = send(
        &app,
        post("/signout", &json!({"everywhere": true}), Some(&second)),
    )
    .await;
    assert_eq!(body_json(out).await["sessions_ended"], 2);
    assert!(
        state
            .sessions()
            .current(&headers_with(&first))
            .await
            .is_none()
    );
    db.finish().await;
}

#[tokio::test]
async fn forged_and_cross_site_ceremonies_are_refused() {
    let (app, _state, db) = setup().await;
    let (mut passkey, _) = register(&app).await;

    // Signed for another origin (a phishing site relaying the challenge).
    passkey.origin = "https://evil.example".into();
    let (status, cookie, _) = sign_in(&app, &mut passkey).await;
    assert_eq!((status, cookie), (StatusCode::BAD_REQUEST, None));
    passkey.origin = ORIGIN.into();

    // A signature that does not verify.
    let begin = body_json(send(&app, post("/signin/passkey/begin", &json!({}), None)).await).await;
    let mut credential = passkey.get(&begin["options"]);
    credential["response"]["signature"] =
        json!(B64.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]));
    let body = json!({"ceremony": begin["ceremony"], "credential": credential});
    assert_eq!(
        send(&app, post("/signin/passkey/finish", &body, None))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    // A passkey the gateway never registered: the same generic answer.
    let mut stranger = SoftPasskey::new();
    stranger.user_handle = passkey.user_handle.clone();
    let (status, _, _) = sign_in(&app, &mut stranger).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Cross-site and non-JSON requests never reach the ceremony.
    let cross = Request::post("/signin/passkey/begin")
        .header(header::CONTENT_TYPE, "application/json")
        .header("origin", "https://evil.example")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(&app, cross).await.status(), StatusCode::FORBIDDEN);
    let form = Request::post("/signin/passkey/begin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("a=b"))
        .unwrap();
    assert_eq!(
        send(&app, form).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let garbage = send(
        &app,
        post("/signin/passkey/finish", &json!({"ceremony": 1}), None),
    )
    .await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    // Still works for the real origin afterwards (the counter goes on).
    let (status, _, _) = sign_in(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    db.finish().await;
}

pub fn get_with(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).unwrap()
}

pub fn location(response: &axum::http::Response<Body>) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response
        .headers()
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// A department's request waits while a new citizen registers a passkey,
/// then returns with a code; a request for `high` cannot be met by a
/// passkey and keeps waiting for a step-up.
#[tokio::test]
async fn a_department_request_waits_for_sign_in_and_step_up() {
    use crate::flow::{Backend, param, push, setup_db_sessions};
    let Some(s) = setup_db_sessions(Backend::Sqlite).await else {
        return;
    };
    let dept = crate::par::department(&s.state).await;
    let authorize = |request_uri: String| {
        format!(
            "/authorize?{}",
            crate::par::form(&[
                ("client_id", dept.client_id.as_str()),
                ("request_uri", &request_uri)
            ])
        )
    };
    let request_uri = push(&s, &dept, "si-1", &[("ui_locales", "zh-HK")]).await;
    let to_signin = location(&send(&s.app, get_with(&authorize(request_uri), None)).await);
    assert!(
        to_signin.starts_with("/signin?flow=") && to_signin.ends_with("&lang=zh-HK"),
        "{to_signin}"
    );
    let flow = to_signin
        .split_once("flow=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let resume = format!("/signin/continue?flow={flow}");

    // Not signed in yet: refused, and the request keeps waiting.
    assert_eq!(
        send(&s.app, get_with(&resume, None)).await.status(),
        StatusCode::FORBIDDEN
    );
    let (_, cookie) = register(&s.app).await;
    let back = location(&send(&s.app, get_with(&resume, Some(&cookie))).await);
    assert!(back.starts_with("https://lands.gov.hk/cb?"), "{back}");
    let params: Vec<(String, String)> =
        form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert!(param(&params, "code").is_some());
    assert_eq!(param(&params, "state"), Some("st"));
    assert_eq!(param(&params, "iss"), Some("http://localhost:8080"));
    // The flow was used: a second continue (another tab, a replay) finds nothing.
    let again = send(&s.app, get_with(&resume, Some(&cookie))).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(again).await["error"], "flow_expired");

    // Signed in with a passkey, a request for `high` asks for a step-up.
    let request_uri = push(
        &s,
        &dept,
        "si-2",
        &[("acr_values", "urn:eid-gateway:loa:high")],
    )
    .await;
    let step_up = location(&send(&s.app, get_with(&authorize(request_uri), Some(&cookie))).await);
    assert!(step_up.contains("&step_up=1"), "{step_up}");
    let flow = step_up
        .split_once("flow=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let resume = format!("/signin/continue?flow={flow}");
    let refused = send(&s.app, get_with(&resume, Some(&cookie))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(refused).await["error"], "sign_in_required");
    s.db.finish().await;
}

/// More sign-in attempts on one account than its hourly limit: 429 with
/// `Retry-After`, while another account still signs in.
#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_account() {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    config.signin.account_attempts_per_hour = 2;
    let state = AppState::new(db.db.clone(), config);
    let app = gateway::app(state);
    let (mut passkey, _) = register(&app).await;
    let (mut other, _) = register(&app).await;
    for _ in 0..2 {
        let (status, _, _) = sign_in(&app, &mut passkey).await;
        assert_eq!(status, StatusCode::OK);
    }
    let begin = body_json(send(&app, post("/signin/passkey/begin", &json!({}), None)).await).await;
    let credential = passkey.get(&begin["options"]);
    let body = json!({"ceremony": begin["ceremony"], "credential": credential});
    let limited = send(&app, post("/signin/passkey/finish", &body, None)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(body_json(limited).await["error"], "too_many_requests");
    let (status, _, _) = sign_in(&app, &mut other).await;
    assert_eq!(status, StatusCode::OK, "another account is not limited");
    db.finish().await;
}

/// More sign-in requests than the limit from one address: 429 with
/// `Retry-After`, and no ceremony is started.
#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    config.signin.attempts_per_minute = 3;
    let state = AppState::new(db.db.clone(), config);
    let app = gateway::app(state);
    for _ in 0..3 {
        let ok = send(&app, post("/signin/passkey/begin", &json!({}), None)).await;
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let limited = send(&app, post("/signin/passkey/begin", &json!({}), None)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(body_json(limited).await["error"], "too_many_requests");
    // Other pages are not limited.
    let page = send(&app, Request::get("/signin").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status(), StatusCode::OK);
    db.finish().await;
}

/// The page picks its language from `lang`, then Accept-Language; a flow
/// handle that is not one of ours is not echoed; no inline script.
#[tokio::test]
async fn the_sign_in_page_negotiates_language_and_echoes_nothing_hostile() {
    let (app, _state, db) = setup().await;
    let page = |uri: &str, accept: Option<&str>| {
        let mut request = Request::get(uri);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT_LANGUAGE, accept);
        }
        request.body(Body::empty()).unwrap()
    };
    let zh =
        crate::support::text(send(&app, page("/signin", Some("zh-HK,zh;q=0.9,en;q=0.5"))).await)
            .await;
    assert!(zh.contains(r#"<html lang="zh-Hant-HK">"#) && zh.contains("使用通行密鑰登入"));
    let en = crate::support::text(send(&app, page("/signin?lang=en", Some("zh-HK"))).await).await;
    assert!(en.contains(r#"<html lang="en">"#) && en.contains(r#"href="/signin?lang=zh-HK""#));
    let fr = crate::support::text(send(&app, page("/signin", Some("fr-FR"))).await).await;
    assert!(fr.contains(r#"<html lang="en">"#));
    let hostile = crate::support::text(
        send(
            &app,
            page(
                "/signin?flow=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&lang=xx",
                None,
            ),
        )
        .await,
    )
    .await;
    assert!(!hostile.contains("alert(1)") && hostile.contains(r#"data-flow="""#));
    assert!(
        !hostile.contains("<script>"),
        "no inline script: CSP allows only our own files"
    );
    db.finish().await;
}

/// `prompt=login`: the existing session does not do; it ends, and the
/// request resumes only after a new sign-in.
#[tokio::test]
async fn prompt_login_asks_for_a_new_sign_in() {
    use crate::flow::{Backend, param, push, setup_db_sessions};
    let Some(s) = setup_db_sessions(Backend::Sqlite).await else {
        return;
    };
    let dept = crate::par::department(&s.state).await;
    let (mut passkey, old) = register(&s.app).await;
    let request_uri = push(&s, &dept, "pl-1", &[("prompt", "login")]).await;
    let uri = format!(
        "/authorize?{}",
        crate::par::form(&[
            ("client_id", dept.client_id.as_str()),
            ("request_uri", &request_uri)
        ])
    );
    let to_signin = location(&send(&s.app, get_with(&uri, Some(&old))).await);
    assert!(
        to_signin.starts_with("/signin?flow=") && !to_signin.contains("step_up"),
        "{to_signin}"
    );
    let flow = to_signin
        .split_once("flow=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let resume = format!("/signin/continue?flow={flow}");
    // The old session was ended.
    assert_eq!(
        send(&s.app, get_with(&resume, Some(&old))).await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, fresh, _) = sign_in(&s.app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    let back = location(&send(&s.app, get_with(&resume, fresh.as_deref())).await);
    let params: Vec<(String, String)> =
        form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert!(param(&params, "code").is_some(), "{back}");
    s.db.finish().await;
}

/// Housekeeping removes expired ceremonies and sessions past their
/// absolute timeout, and nothing live.
#[tokio::test]
async fn expired_sign_in_records_are_purged() {
    let (app, state, db) = setup().await;
    let (_, cookie) = register(&app).await;
    let _ = send(&app, post("/signin/passkey/begin", &json!({}), None)).await;
    let now = time::OffsetDateTime::now_utc();
    let purged = state
        .db()
        .purge_expired_signin(now, now - time::Duration::hours(8))
        .await
        .unwrap();
    assert_eq!(purged, 0, "everything is live");
    assert!(
        state
            .sessions()
            .current(&headers_with(&cookie))
            .await
            .is_some()
    );
    let later = now + time::Duration::hours(9);
    let purged = state
        .db()
        .purge_expired_signin(later, later - time::Duration::hours(8))
        .await
        .unwrap();
    assert_eq!(purged, 2, "one ceremony and one session");
    assert!(
        state
            .sessions()
            .current(&headers_with(&cookie))
            .await
            .is_none()
    );
    db.finish().await;
}

fn form_post(uri: &str, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

/// The account page lists passkeys; renames and removals need the
/// session's CSRF token; the last passkey stays; sign-out works.
#[tokio::test]
async fn the_account_page_manages_passkeys_behind_csrf_tokens() {
    let (app, state, db) = setup().await;
    let (_, cookie) = register(&app).await;
    // Not signed in: to the sign-in page.
    let anonymous = send(&app, get_with("/account/passkeys?lang=zh-HK", None)).await;
    assert_eq!(location(&anonymous), "/signin?lang=zh-HK");
    let page =
        crate::support::text(send(&app, get_with("/account/passkeys", Some(&cookie))).await).await;
    assert!(page.contains("Phone") && page.contains("This is your only passkey"));
    assert!(
        !page.contains("Remove this passkey"),
        "no removal of the only passkey"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let citizen = state
        .sessions()
        .current(&headers_with(&cookie))
        .await
        .unwrap();
    let id = state.db().passkeys_of(&citizen.citizen_id).await.unwrap()[0]
        .credential_id
        .clone();

    // Without the token, or with another: forbidden, nothing changes.
    for token in ["", "forged-token-forged-token-forged-token-123"] {
        let body = format!("csrf={token}&action=rename&credential_id={id}&name=Evil");
        let refused = send(&app, form_post("/account/passkeys", &body, Some(&cookie))).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let body = format!("csrf={csrf}&action=rename&credential_id={id}&name=Work+phone");
    let renamed = send(
        &app,
        form_post("/account/passkeys?lang=en", &body, Some(&cookie)),
    )
    .await;
    assert_eq!(location(&renamed), "/account/passkeys?lang=en&done=renamed");
    assert_eq!(
        state.db().passkeys_of(&citizen.citizen_id).await.unwrap()[0].name,
        "Work phone"
    );
    let body = format!("csrf={csrf}&action=remove&credential_id={id}");
    let kept = send(&app, form_post("/account/passkeys", &body, Some(&cookie))).await;
    assert!(location(&kept).ends_with("done=refused"));
    assert_eq!(
        state
            .db()
            .passkeys_of(&citizen.citizen_id)
            .await
            .unwrap()
            .len(),
        1
    );

    let out = send(
        &app,
        form_post(
            "/account/signout",
            &format!("csrf={csrf}&everywhere=true"),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(location(&out), "/signin?lang=en");
    assert!(
        state
            .sessions()
            .current(&headers_with(&cookie))
            .await
            .is_none()
    );
    db.finish().await;
}

/// Adding a passkey while signed in excludes the ones the account has, and
/// a second authenticator is added to the same account.
#[tokio::test]
async fn a_signed_in_citizen_adds_a_second_passkey() {
    let (app, state, db) = setup().await;
    let (first, cookie) = register(&app).await;
    let begin = body_json(
        send(
            &app,
            post("/signin/passkey/register/begin", &json!({}), Some(&cookie)),
        )
        .await,
    )
    .await;
    let excluded: Vec<&str> = begin["options"]["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(excluded, [B64.encode(&first.credential_id)]);
    let mut second = SoftPasskey::new();
    let credential = second.create(&begin["options"]);
    let body = json!({"ceremony": begin["ceremony"], "credential": credential, "name": "Laptop"});
    let added = send(
        &app,
        post("/signin/passkey/register/finish", &body, Some(&cookie)),
    )
    .await;
    assert_eq!(body_json(added).await["status"], "passkey_added");
    let citizen = state
        .sessions()
        .current(&headers_with(&cookie))
        .await
        .unwrap();
    let names: Vec<String> = state
        .db()
        .passkeys_of(&citizen.citizen_id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Laptop".to_string()));
    // Both sign in to the same account.
    let (status, _, _) = sign_in(&app, &mut second).await;
    assert_eq!(status, StatusCode::OK);
    db.finish().await;
}
