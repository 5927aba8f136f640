//! The e-ME profile page and storage, on SQLite and PostgreSQL: values are
//! checked, sealed (no plaintext in the database), shown with the HKID
//! number masked, saved all or nothing behind the CSRF token, and a value
//! verified from the smart ID card is not replaced by a typed one.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_core::Secret;
use eid_core::profile::{Value, field};
use gateway::AppState;

use crate::passkeys::register;
use crate::support::{TestDb, csrf_of, send, text};

const ORIGIN: &str = "http://localhost:8080";
const KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn setup(
    db: TestDb,
    card: Option<gateway::config::CardConfig>,
) -> (axum::Router, AppState, TestDb) {
    let mut config = db.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    config.profile.encryption_keys = Some(Secret::new(KEYS.into()));
    config.signin.card = card;
    let state = AppState::new(db.db.clone(), config);
    assert!(state.profiles().is_some());
    (gateway::app(state.clone()), state, db)
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post_form(cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Request::post("/account/profile?lang=en")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

async fn raw_sealed(db: &gateway::Db) -> Vec<String> {
    match db {
        gateway::Db::Sqlite(pool) => sqlx::query_scalar("SELECT sealed FROM profile_fields")
            .fetch_all(pool)
            .await
            .unwrap(),
        gateway::Db::Postgres(pool) => sqlx::query_scalar("SELECT sealed FROM profile_fields")
            .fetch_all(pool)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn the_profile_is_edited_sealed_and_masked_on_sqlite() {
    edit_seal_mask(setup(crate::support::sqlite().await, None)).await;
}

#[tokio::test]
async fn the_profile_is_edited_sealed_and_masked_on_postgres() {
    let Some(db) = crate::support::postgres().await else {
        return;
    };
    edit_seal_mask(setup(db, None)).await;
}

async fn edit_seal_mask((app, state, db): (axum::Router, AppState, TestDb)) {
    let (_, cookie) = register(&app).await;
    let citizen = {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        state.sessions().current(&headers).await.unwrap().citizen_id
    };
    let page = text(send(&app, get("/account/profile?lang=en", &cookie)).await).await;
    let csrf = csrf_of(&page);
    let saved = send(
        &app,
        post_form(
            &cookie,
            &[
                ("csrf", &csrf),
                ("f.name_en", " CHAN,  Tai Man "),
                ("f.name_zh", "陳大文"),
                ("f.hkid", "a1234563"),
                ("f.gender", "male"),
                ("f.mobile", "9123 4567"),
                ("f.email", "tai.man@example.hk"),
                ("f.residential_address.flat", "12A"),
                ("f.residential_address.floor", "23"),
                ("f.residential_address.building", "Harmony Court"),
                ("f.residential_address.street", "1 Harbour Road"),
                ("f.residential_address.district", "wan_chai"),
            ],
        ),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        saved.headers()[header::LOCATION],
        "/account/profile?lang=en&done=saved"
    );

    // The database holds ciphertext only.
    let sealed = raw_sealed(state.db()).await;
    assert_eq!(sealed.len(), 7);
    for row in &sealed {
        assert!(row.starts_with("v1.k1."), "{row}");
        for plain in [
            "CHAN", "陳", "A123456", "9123", "tai.man", "Harmony", "male",
        ] {
            assert!(!row.contains(plain), "{plain} in {row}");
        }
    }
    let profile = state
        .profiles()
        .unwrap()
        .load(state.db(), &citizen)
        .await
        .unwrap();
    let value = |id: &str| {
        profile
            .iter()
            .find(|e| e.spec.id == id)
            .map(|e| e.value.clone())
    };
    assert_eq!(value("name_en"), Some(Value::Text("CHAN, Tai Man".into())));
    assert_eq!(value("hkid"), Some(Value::Text("A123456(3)".into())));
    assert_eq!(value("mobile"), Some(Value::Text("+85291234567".into())));

    // The page shows the HKID number masked, never whole.
    let page = text(send(&app, get("/account/profile?lang=zh-HK", &cookie)).await).await;
    assert!(page.contains("A123***(*)"), "masked");
    assert!(!page.contains("A123456"), "never whole");
    assert!(page.contains("+85291234567"));
    assert!(page.contains("灣仔"), "the district in Chinese");

    // One refused value: nothing is saved, the hint is shown, typed
    // values come back.
    let refused = send(
        &app,
        post_form(
            &cookie,
            &[
                ("csrf", &csrf),
                ("f.name_en", "WONG, Siu Ming"),
                ("f.hkid", "A123456(4)"),
                ("f.mobile", "12"),
            ],
        ),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(refused).await;
    assert!(
        html.contains("the digit in brackets is checked"),
        "hkid hint: {html}"
    );
    assert!(
        html.contains("8 digits for a Hong Kong number"),
        "phone hint"
    );
    assert!(html.contains("WONG, Siu Ming"), "typed values come back");
    assert!(!html.contains("A123456(4)"), "the HKID is not echoed");
    let after = state
        .profiles()
        .unwrap()
        .load(state.db(), &citizen)
        .await
        .unwrap();
    assert_eq!(after.len(), 7, "nothing changed");
    assert!(
        after
            .iter()
            .any(|e| e.value == Value::Text("CHAN, Tai Man".into()))
    );

    // No token, another session's token, a field twice: refused.
    for pairs in [
        vec![("f.name_en", "X")],
        vec![("csrf", "forged"), ("f.name_en", "X")],
    ] {
        let response = send(&app, post_form(&cookie, &pairs)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let twice = send(
        &app,
        post_form(
            &cookie,
            &[
                ("csrf", &csrf),
                ("f.email", "a@b.hk"),
                ("f.email", "c@d.hk"),
            ],
        ),
    )
    .await;
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);

    // Emptying a box removes the detail; an empty HKID box keeps it.
    let kept = send(
        &app,
        post_form(
            &cookie,
            &[
                ("csrf", &csrf),
                ("f.name_en", "CHAN, Tai Man"),
                ("f.name_zh", "陳大文"),
                ("f.gender", "male"),
                ("f.mobile", "+85291234567"),
                ("f.email", ""),
                ("f.residential_address.flat", "12A"),
                ("f.residential_address.floor", "23"),
                ("f.residential_address.building", "Harmony Court"),
                ("f.residential_address.street", "1 Harbour Road"),
                ("f.residential_address.district", "wan_chai"),
            ],
        ),
    )
    .await;
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    let after = state
        .profiles()
        .unwrap()
        .load(state.db(), &citizen)
        .await
        .unwrap();
    assert!(after.iter().all(|e| e.spec.id != "email"), "email removed");
    assert!(after.iter().any(|e| e.spec.id == "hkid"), "HKID kept");

    // A verified value is not replaced by a typed one.
    let spec = field("name_en").unwrap();
    state
        .profiles()
        .unwrap()
        .set(
            state.db(),
            &citizen,
            spec,
            &Value::Text("CHAN, Tai Man".into()),
            Some("card"),
            state.now(),
        )
        .await
        .unwrap();
    let page = text(send(&app, get("/account/profile?lang=en", &cookie)).await).await;
    assert!(page.contains("Verified from your smart ID card"));
    let response = send(
        &app,
        post_form(&cookie, &[("csrf", &csrf), ("f.name_en", "SOMEONE, Else")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = state
        .profiles()
        .unwrap()
        .load(state.db(), &citizen)
        .await
        .unwrap();
    let name = after.iter().find(|e| e.spec.id == "name_en").unwrap();
    assert_eq!(name.value, Value::Text("CHAN, Tai Man".into()));
    assert_eq!(name.verified_by.as_deref(), Some("card"));
    assert_eq!(
        state
            .db()
            .put_profile_field(&citizen, "name_en", "v1.k1.x", None, state.now())
            .await
            .unwrap(),
        gateway::store::profile::Written::Verified,
        "the store itself refuses"
    );
    db.finish().await;
}

#[tokio::test]
async fn the_profile_page_needs_a_session_and_configured_keys() {
    let (app, _, db) = setup(crate::support::sqlite().await, None);
    let response = send(&app, get("/account/profile", "eid_session=none")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Without keys: no profiles, and the account page does not link one.
    let plain = crate::support::sqlite().await;
    let mut config = plain.config.clone();
    config.http.public_url = Some(ORIGIN.into());
    let state = AppState::new(plain.db.clone(), config);
    assert!(state.profiles().is_none());
    let app = gateway::app(state);
    let response = send(&app, get("/account/profile", "eid_session=none")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    db.finish().await;
    plain.finish().await;
}

#[tokio::test]
async fn a_card_sign_in_records_the_verified_name() {
    let issuer = crate::card::Issuer::start().await;
    let card = crate::card::issue(&issuer, &crate::card::Spec::good(101, "SRN-101"));
    let (app, _, db) = setup(crate::support::sqlite().await, Some(issuer.card_config()));
    let response = send(
        &app,
        Request::post("/signin/card/challenge")
            .header(header::CONTENT_TYPE, "application/json")
            .header("origin", ORIGIN)
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    let binding = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let challenge = crate::support::json(response).await;
    let response = send(
        &app,
        Request::post("/signin/card/finish")
            .header(header::CONTENT_TYPE, "application/json")
            .header("origin", ORIGIN)
            .header(header::COOKIE, &binding)
            .body(Body::from(card.answer(&challenge).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("eid_session=") && c.len() > 12)
        .unwrap();
    let page = text(send(&app, get("/account/profile?lang=en", &session)).await).await;
    assert!(page.contains("CHAN, Tai Man"), "{page}");
    assert!(page.contains("Verified from your smart ID card"));
    db.finish().await;
}

/// After a new key is put first, `gateway profile reseal` moves every value
/// under it, so that the old key can be dropped.
#[tokio::test]
async fn values_are_resealed_under_a_new_key() {
    let db = crate::support::sqlite().await;
    let old = "old:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let new = "new:HxwdHhscGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let now = time::OffsetDateTime::now_utc();
    db.db
        .create_citizen_with_card("c-1", "card-1", now)
        .await
        .unwrap();
    let keys = |text: &str| {
        let mut config = db.config.clone();
        config.profile.encryption_keys = Some(Secret::new(text.into()));
        gateway::profile::Profiles::new(config.profile.load().unwrap().unwrap())
    };
    let before = keys(old);
    for (id, value) in [("name_en", "CHAN, Tai Man"), ("mobile", "+85291234567")] {
        before
            .set(
                &db.db,
                "c-1",
                field(id).unwrap(),
                &Value::Text(value.into()),
                None,
                now,
            )
            .await
            .unwrap();
    }
    let reseal = || {
        let dir = tempfile::tempdir().unwrap();
        let output = crate::support::gateway_command(dir.path())
            .env("GATEWAY_DATABASE__URL", &db.config.database.url)
            .env("GATEWAY_PROFILE__ENCRYPTION_KEYS", format!("{new},{old}"))
            .args(["profile", "reseal"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(reseal().contains("resealed 2 profile values"));
    assert!(
        reseal().contains("resealed 0 profile values"),
        "nothing left"
    );
    let rows = raw_sealed(&db.db).await;
    assert!(rows.iter().all(|r| r.starts_with("v1.new.")), "{rows:?}");
    // The old key can go.
    let after = keys(new).load(&db.db, "c-1").await.unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].value, Value::Text("CHAN, Tai Man".into()));
    db.finish().await;
}
