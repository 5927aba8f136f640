//! The storage suite, run against SQLite and against PostgreSQL (a fresh
//! schema per test; skipped with a printed reason when `TEST_DATABASE_URL`
//! is unset, never in CI).

use eid_core::oidc::keys::{self, generate};
use eid_core::oidc::{Alg, Client, ClientAuth, ClientStore, KeyEncryptionKey, KeyStore};
use eid_core::{ReplayStore, Sighting, StoreError};
use gateway::Db;
use time::{Duration, OffsetDateTime, macros::datetime};

const T0: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

/// Defines each case twice: `sqlite::NAME` and `postgres::NAME`.
macro_rules! storage_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let test_db = crate::support::sqlite().await;
                    super::$case(&test_db.db).await;
                    test_db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(test_db) = crate::support::postgres().await else { return };
                    super::$case(&test_db.db).await;
                    test_db.finish().await;
                }
            )*
        }
    };
}

storage_suite!(
    migrations_are_idempotent,
    ping_answers,
    meta_round_trip,
    meta_insert_new_keeps_the_first_value,
    replay_first_sighting_wins,
    replay_is_scoped,
    replay_expired_record_can_be_reused,
    replay_concurrent_presentations_accept_exactly_one,
    replay_purge_removes_only_expired,
    replay_rejects_oversized_and_empty_keys,
    replay_hostile_ids_are_stored_literally,
    closed_pool_reports_unavailable,
    clients_round_trip_for_every_auth_method,
    clients_are_listed_and_disabled,
    client_ids_are_unique,
    rotated_keys_close_the_previous_signing_period,
    pushed_requests_are_taken_once_before_expiry,
    codes_are_redeemed_once_and_reuse_names_the_family,
    access_tokens_expire_and_families_are_revoked,
    idempotency_keys_replay_refuse_mismatches_and_serialise,
);

async fn migrations_are_idempotent(db: &Db) {
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    db.meta_set("k", "v", T0).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.meta_get("k").await.unwrap().unwrap().value, "v");
}

async fn ping_answers(db: &Db) {
    db.ping().await.unwrap();
}

async fn meta_round_trip(db: &Db) {
    assert_eq!(db.meta_get("absent").await.unwrap(), None);
    db.meta_set("demo.seeded_at", "first", T0).await.unwrap();
    let later = T0 + Duration::hours(1);
    db.meta_set("demo.seeded_at", "second 香港", later)
        .await
        .unwrap();
    let entry = db.meta_get("demo.seeded_at").await.unwrap().unwrap();
    assert_eq!(entry.value, "second 香港");
    assert_eq!(entry.updated_at, later);
}

async fn meta_insert_new_keeps_the_first_value(db: &Db) {
    assert!(db.meta_insert_new("once", "a", T0).await.unwrap());
    assert!(!db.meta_insert_new("once", "b", T0).await.unwrap());
    assert_eq!(db.meta_get("once").await.unwrap().unwrap().value, "a");
}

async fn replay_first_sighting_wins(db: &Db) {
    let exp = T0 + Duration::minutes(5);
    assert_eq!(
        db.check_and_record("jti", "abc", exp, T0).await.unwrap(),
        Sighting::Fresh
    );
    for at in [T0, T0 + Duration::minutes(4)] {
        assert_eq!(
            db.check_and_record("jti", "abc", exp, at).await.unwrap(),
            Sighting::Replayed
        );
    }
}

async fn replay_is_scoped(db: &Db) {
    let exp = T0 + Duration::minutes(5);
    assert_eq!(
        db.check_and_record("dpop", "same", exp, T0).await.unwrap(),
        Sighting::Fresh
    );
    assert_eq!(
        db.check_and_record("client_assertion", "same", exp, T0)
            .await
            .unwrap(),
        Sighting::Fresh
    );
}

async fn replay_expired_record_can_be_reused(db: &Db) {
    let exp = T0 + Duration::minutes(1);
    assert_eq!(
        db.check_and_record("jti", "x", exp, T0).await.unwrap(),
        Sighting::Fresh
    );
    // At the expiry instant the record is dead: the message itself would be
    // rejected as expired, so the guard may forget it.
    let later = exp;
    let new_exp = later + Duration::minutes(1);
    assert_eq!(
        db.check_and_record("jti", "x", new_exp, later)
            .await
            .unwrap(),
        Sighting::Fresh
    );
    assert_eq!(
        db.check_and_record("jti", "x", new_exp, later + Duration::seconds(30))
            .await
            .unwrap(),
        Sighting::Replayed,
        "the renewed record is live again"
    );
}

async fn replay_concurrent_presentations_accept_exactly_one(db: &Db) {
    let exp = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.check_and_record("code", "race", exp, T0).await })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Sighting::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one presentation may win");
}

async fn replay_purge_removes_only_expired(db: &Db) {
    for (id, minutes) in [("a", 1), ("b", 2), ("c", 10)] {
        db.check_and_record("jti", id, T0 + Duration::minutes(minutes), T0)
            .await
            .unwrap();
    }
    let purged = db.purge_expired(T0 + Duration::minutes(2)).await.unwrap();
    assert_eq!(purged, 2);
    assert_eq!(
        db.purge_expired(T0 + Duration::minutes(2)).await.unwrap(),
        0
    );
    assert_eq!(
        db.check_and_record(
            "jti",
            "c",
            T0 + Duration::minutes(10),
            T0 + Duration::minutes(3)
        )
        .await
        .unwrap(),
        Sighting::Replayed
    );
}

async fn replay_rejects_oversized_and_empty_keys(db: &Db) {
    let exp = T0 + Duration::minutes(5);
    let huge = "x".repeat(10_000);
    for (scope, id) in [
        ("jti", huge.as_str()),
        ("jti", ""),
        ("", "a"),
        ("jti", "a\0b"),
    ] {
        let err = db.check_and_record(scope, id, exp, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    }
}

async fn replay_hostile_ids_are_stored_literally(db: &Db) {
    let exp = T0 + Duration::minutes(5);
    let hostile = "'); DROP TABLE replay_guard; --\u{202e}\u{1b}[31m";
    assert_eq!(
        db.check_and_record("jti", hostile, exp, T0).await.unwrap(),
        Sighting::Fresh
    );
    assert_eq!(
        db.check_and_record("jti", hostile, exp, T0).await.unwrap(),
        Sighting::Replayed
    );
    db.ping().await.unwrap();
    assert_eq!(
        db.check_and_record("jti", "other", exp, T0).await.unwrap(),
        Sighting::Fresh,
        "the table is still there"
    );
}

async fn closed_pool_reports_unavailable(db: &Db) {
    db.close().await;
    let err = db.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    let err = db
        .check_and_record("jti", "a", T0 + Duration::minutes(1), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn sqlite_files_use_the_wal_journal() {
    let test_db = crate::support::sqlite().await;
    let Db::Sqlite(pool) = &test_db.db else {
        panic!("an SQLite database");
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    test_db.finish().await;
}

fn client(id: &str, auth: ClientAuth) -> Client {
    Client {
        client_id: id.to_owned(),
        name: "Lands Department 地政總署".to_owned(),
        redirect_uris: vec![
            "https://lands.gov.hk/cb".to_owned(),
            "http://127.0.0.1/cb".to_owned(),
        ],
        post_logout_redirect_uris: vec!["https://lands.gov.hk/".to_owned()],
        scopes: vec!["openid".to_owned(), "profile".to_owned()],
        auth,
        dpop_bound: true,
        enabled: true,
        created_at: T0,
    }
}

fn auths() -> Vec<ClientAuth> {
    let (public, _) = keys::generate_client_es256().unwrap();
    vec![
        ClientAuth::PrivateKeyJwt {
            jwks: eid_core::oidc::Jwks { keys: vec![public] },
        },
        ClientAuth::PrivateKeyJwtUri {
            jwks_uri: "https://lands.gov.hk/jwks".to_owned(),
        },
        ClientAuth::ClientSecretBasic {
            secret_sha256: vec![0xab; 32],
        },
    ]
}

async fn clients_round_trip_for_every_auth_method(db: &Db) {
    for (i, auth) in auths().into_iter().enumerate() {
        let mut c = client(&format!("client-{i}"), auth);
        c.dpop_bound = i != 2;
        db.insert_client(&c).await.unwrap();
        assert_eq!(db.get_client(&c.client_id).await.unwrap(), Some(c));
    }
    assert_eq!(db.get_client("absent").await.unwrap(), None);
}

async fn clients_are_listed_and_disabled(db: &Db) {
    let mut auths = auths().into_iter();
    let mut first = client("b-first", auths.next().unwrap());
    let mut second = client("a-second", auths.next().unwrap());
    second.created_at = T0 + Duration::seconds(1);
    db.insert_client(&second).await.unwrap();
    db.insert_client(&first).await.unwrap();
    let ids: Vec<String> = db
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, vec!["b-first", "a-second"], "oldest first");
    assert!(db.set_client_enabled("b-first", false).await.unwrap());
    first.enabled = false;
    assert_eq!(db.get_client("b-first").await.unwrap(), Some(first));
    assert!(!db.set_client_enabled("absent", false).await.unwrap());
}

async fn client_ids_are_unique(db: &Db) {
    let c = client("same", auths().remove(1));
    db.insert_client(&c).await.unwrap();
    let err = db.insert_client(&c).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
}

async fn rotated_keys_close_the_previous_signing_period(db: &Db) {
    let kek = KeyEncryptionKey::from_bytes(&[9u8; 32]).unwrap();
    assert!(db.list_keys().await.unwrap().is_empty());
    let first = generate(Alg::Es256, &kek, T0, T0).unwrap();
    db.insert_rotated_key(&first).await.unwrap();
    let second_from = T0 + Duration::hours(1);
    let second = generate(Alg::EdDsa, &kek, T0 + Duration::minutes(1), second_from).unwrap();
    db.insert_rotated_key(&second).await.unwrap();
    let stored = db.list_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].kid, first.kid);
    assert_eq!(stored[0].signing_until, Some(second_from));
    assert_eq!(stored[1], second, "stored exactly, sealed key included");
    assert_eq!(
        keys::current(&stored, T0 + Duration::minutes(30))
            .unwrap()
            .kid,
        first.kid
    );
    assert_eq!(keys::current(&stored, second_from).unwrap().kid, second.kid);
    // The sealed private key still opens after the round trip.
    let key = keys::unseal(&stored[1], &kek).unwrap();
    assert!(!key.sign(b"x").unwrap().is_empty());
}

fn authorization_request() -> eid_core::oidc::authz::AuthorizationRequest {
    eid_core::oidc::authz::AuthorizationRequest {
        client_id: "dept".to_owned(),
        redirect_uri: "https://dept.gov.hk/cb".to_owned(),
        scopes: vec!["openid".to_owned()],
        state: Some("s".to_owned()),
        nonce: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        prompt: vec![],
        max_age: Some(0),
        acr_values: vec![],
        ui_locales: vec!["zh-HK".to_owned()],
        login_hint: None,
        claims: Some(serde_json::json!({"userinfo": {"name": null}})),
        dpop_jkt: Some("jkt".to_owned()),
        purpose: Some("To reply".to_owned()),
        retention_days: Some(30),
        form: None,
    }
}

async fn pushed_requests_are_taken_once_before_expiry(db: &Db) {
    use eid_core::oidc::authz::ParStore;
    let request = authorization_request();
    let expires = T0 + Duration::seconds(60);
    db.insert_par("urn:1", &request, expires).await.unwrap();
    db.insert_par("urn:2", &request, expires).await.unwrap();
    assert!(
        db.insert_par("urn:1", &request, expires).await.is_err(),
        "request_uri is unique"
    );
    assert_eq!(db.take_par("urn:1", "other", T0).await.unwrap(), None);
    assert_eq!(
        db.take_par("urn:1", "dept", T0).await.unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        db.take_par("urn:1", "dept", T0).await.unwrap(),
        None,
        "used once"
    );
    assert_eq!(
        db.take_par("urn:2", "dept", expires).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(db.purge_expired_par(expires).await.unwrap(), 1);
    // Concurrent takers: exactly one wins.
    db.insert_par("urn:3", &request, expires).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.take_par("urn:3", "dept", T0).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

async fn codes_are_redeemed_once_and_reuse_names_the_family(db: &Db) {
    use eid_core::oidc::grant::{Authentication, CodeGrant, GrantStore, Redemption};
    let grant = CodeGrant {
        request: authorization_request(),
        authentication: Authentication {
            citizen_id: "citizen-1".to_owned(),
            auth_time: T0,
            acr: "urn:eid-gateway:loa:low".to_owned(),
            amr: vec!["hwk".to_owned()],
            session_id: "sid-1".to_owned(),
        },
        expires_at: T0 + Duration::seconds(60),
    };
    db.insert_code("code-1", &grant).await.unwrap();
    assert_eq!(
        db.get_code("code-1").await.unwrap(),
        Some((grant.clone(), None))
    );
    assert_eq!(
        db.redeem_code("code-1", "another-client", "fam-x", T0)
            .await
            .unwrap(),
        Redemption::Unknown,
        "another client cannot use it, and does not use it up"
    );
    assert_eq!(
        db.redeem_code("code-1", "dept", "fam-1", T0).await.unwrap(),
        Redemption::Granted(Box::new(grant.clone()))
    );
    assert_eq!(
        db.redeem_code("code-1", "dept", "fam-2", T0).await.unwrap(),
        Redemption::Reused {
            family: "fam-1".to_owned()
        }
    );
    db.insert_code("code-2", &grant).await.unwrap();
    assert_eq!(
        db.redeem_code("code-2", "dept", "fam-3", T0 + Duration::seconds(60))
            .await
            .unwrap(),
        Redemption::Unknown,
        "expired"
    );
    assert_eq!(
        db.redeem_code("nope", "dept", "fam-4", T0).await.unwrap(),
        Redemption::Unknown
    );
}

async fn access_tokens_expire_and_families_are_revoked(db: &Db) {
    use eid_core::oidc::grant::{AccessGrant, GrantStore};
    let grant = |family: &str| AccessGrant {
        family: family.to_owned(),
        client_id: "dept".to_owned(),
        subject: "pairwise-sub".to_owned(),
        scopes: vec!["openid".to_owned()],
        jkt: Some("jkt".to_owned()),
        expires_at: T0 + Duration::minutes(5),
        citizen_id: Some("citizen-1".to_owned()),
        consent_grant: Some("grant-1".to_owned()),
    };
    db.insert_access_token("t-1", &grant("fam-1"))
        .await
        .unwrap();
    db.insert_access_token("t-2", &grant("fam-1"))
        .await
        .unwrap();
    db.insert_access_token("t-3", &grant("fam-2"))
        .await
        .unwrap();
    assert_eq!(
        db.get_access_token("t-1", T0).await.unwrap(),
        Some(grant("fam-1"))
    );
    assert_eq!(
        db.get_access_token("t-1", T0 + Duration::minutes(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.revoke_family("fam-1").await.unwrap(), 2);
    assert_eq!(db.get_access_token("t-2", T0).await.unwrap(), None);
    assert!(db.get_access_token("t-3", T0).await.unwrap().is_some());
}

async fn idempotency_keys_replay_refuse_mismatches_and_serialise(db: &Db) {
    use payment_core::idempotency::{Begin, IdempotencyKey, IdempotencyStore, StoredResponse};
    let key = IdempotencyKey::new("dept", "create_bill", "k-1").unwrap();
    assert_eq!(db.begin(&key, b"hash-a", T0).await.unwrap(), Begin::Proceed);
    assert_eq!(
        db.begin(&key, b"hash-a", T0).await.unwrap(),
        Begin::InProgress
    );
    assert_eq!(
        db.begin(&key, b"hash-b", T0).await.unwrap(),
        Begin::Mismatch
    );
    let response = StoredResponse {
        status: 201,
        body: b"{\"id\":\"bill-1\"}".to_vec(),
    };
    db.complete(&key, &response).await.unwrap();
    assert_eq!(
        db.begin(&key, b"hash-a", T0).await.unwrap(),
        Begin::Replay(response.clone())
    );
    assert_eq!(
        db.begin(&key, b"hash-b", T0).await.unwrap(),
        Begin::Mismatch
    );
    db.abandon(&key).await.unwrap();
    assert_eq!(
        db.begin(&key, b"hash-a", T0).await.unwrap(),
        Begin::Replay(response),
        "completed keys stay"
    );
    // Scoped per department and operation.
    let other_department = IdempotencyKey::new("dept-2", "create_bill", "k-1").unwrap();
    assert_eq!(
        db.begin(&other_department, b"hash-b", T0).await.unwrap(),
        Begin::Proceed
    );
    let other_operation = IdempotencyKey::new("dept", "refund", "k-1").unwrap();
    assert_eq!(
        db.begin(&other_operation, b"hash-b", T0).await.unwrap(),
        Begin::Proceed
    );
    // An abandoned claim can be retried.
    db.abandon(&other_operation).await.unwrap();
    assert_eq!(
        db.begin(&other_operation, b"hash-c", T0).await.unwrap(),
        Begin::Proceed
    );
    // Concurrent first uses: exactly one proceeds.
    let key = IdempotencyKey::new("dept", "create_bill", "race").unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            let key = key.clone();
            tokio::spawn(async move { db.begin(&key, b"h", T0).await.unwrap() })
        })
        .collect();
    let mut proceeded = 0;
    for task in tasks {
        if task.await.unwrap() == Begin::Proceed {
            proceeded += 1;
        }
    }
    assert_eq!(proceeded, 1);
}
