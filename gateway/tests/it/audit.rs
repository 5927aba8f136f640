//! The audit trail: events from sign-in and the profile page are appended
//! with identifiers only; concurrent appends stay one unbroken chain on
//! both databases; `gateway audit verify` (the binary) finds a modified,
//! a deleted and a reordered entry, and `audit export` gives one
//! department's slice.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_core::Secret;
use eid_core::audit::verify;
use gateway::AppState;

use crate::support::{TestDb, send, text};

async fn all(db: &gateway::Db) -> Vec<eid_core::audit::Entry> {
    db.audit_page(0, None).await.unwrap()
}

pub async fn sql(db: &gateway::Db, statement: &str) {
    match db {
        gateway::Db::Sqlite(pool) => {
            sqlx::query(statement).execute(pool).await.unwrap();
        }
        gateway::Db::Postgres(pool) => {
            sqlx::query(statement).execute(pool).await.unwrap();
        }
    }
}

#[tokio::test]
async fn sign_in_and_profile_changes_are_recorded_without_personal_data() {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.http.public_url = Some("http://localhost:8080".into());
    config.profile.encryption_keys = Some(Secret::new(
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    let state = AppState::new(db.db.clone(), config);
    let app = gateway::app(state.clone());
    let (mut passkey, cookie) = crate::passkeys::register(&app).await;
    let (status, _, _) = crate::passkeys::sign_in(&app, &mut passkey).await;
    assert_eq!(status, StatusCode::OK);
    let page = text(
        send(
            &app,
            Request::get("/account/profile")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await,
    )
    .await;
    let csrf = crate::support::csrf_of(&page);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("f.name_en", "CHAN, Tai Man"),
            ("f.hkid", "A123456(3)"),
        ])
        .finish();
    let saved = send(
        &app,
        Request::post("/account/profile")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let entries = all(state.db()).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["account.created", "signin", "signin", "profile.change"]
    );
    let citizen = entries[0].citizen_id.clone().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.citizen_id.as_deref() == Some(citizen.as_str()))
    );
    let change: serde_json::Value = serde_json::from_str(&entries[3].detail).unwrap();
    assert_eq!(change["set"], serde_json::json!(["name_en", "hkid"]));
    for entry in &entries {
        for personal in ["CHAN", "A123456"] {
            assert!(!entry.detail.contains(personal), "{}", entry.detail);
        }
    }
    assert!(verify(entries).is_ok());
    db.finish().await;
}

async fn concurrent_appends(db: TestDb) {
    let mut tasks = Vec::new();
    for i in 0..40 {
        let db = db.db.clone();
        tasks.push(tokio::spawn(async move {
            db.append_audit(
                "test",
                Some("c"),
                Some(if i % 2 == 0 { "dept-a" } else { "dept-b" }),
                &format!("{{\"i\":{i}}}"),
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let entries = all(&db.db).await;
    assert_eq!(entries.len(), 40);
    let (count, _) = verify(entries).expect("one unbroken chain");
    assert_eq!(count, 40);
    let slice = db.db.audit_page(0, Some("dept-a")).await.unwrap();
    assert_eq!(slice.len(), 20);
    assert!(
        slice
            .iter()
            .all(|e| e.client_id.as_deref() == Some("dept-a"))
    );
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_stay_one_chain_on_sqlite() {
    concurrent_appends(crate::support::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_stay_one_chain_on_postgres() {
    let Some(db) = crate::support::postgres().await else {
        return;
    };
    concurrent_appends(db).await;
}

/// `gateway audit verify` on a copy of a trail: its exit code and output.
fn verify_cli(url: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::support::gateway_command(dir.path())
        .env("GATEWAY_DATABASE__URL", url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// A fresh SQLite trail of six entries; returns the database and its URL.
async fn six_entries() -> (TestDb, String) {
    let db = crate::support::sqlite().await;
    for i in 0..6 {
        db.db
            .append_audit(
                "signin",
                Some("c"),
                (i % 3 == 0).then_some("dept-a"),
                &format!("{{\"i\":{i}}}"),
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
    }
    let url = db.config.database.url.clone();
    (db, url)
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_entry() {
    let (db, url) = six_entries().await;
    let (code, out) = verify_cli(&url);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("intact: 6 entries"), "{out}");

    // Modified.
    sql(
        &db.db,
        "UPDATE audit_log SET detail = '{\"i\":42}' WHERE seq = 3",
    )
    .await;
    let (code, out) = verify_cli(&url);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("entry 3 was modified"), "{out}");
    db.finish().await;

    // Deleted.
    let (db, url) = six_entries().await;
    sql(&db.db, "DELETE FROM audit_log WHERE seq = 4").await;
    let (code, out) = verify_cli(&url);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("entry 5 does not follow entry 3"), "{out}");
    db.finish().await;

    // Reordered: entries 2 and 3 swap places.
    let (db, url) = six_entries().await;
    sql(&db.db, "UPDATE audit_log SET seq = 100 WHERE seq = 2").await;
    sql(&db.db, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
    sql(&db.db, "UPDATE audit_log SET seq = 3 WHERE seq = 100").await;
    let (code, out) = verify_cli(&url);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("entry 2 does not follow entry 1"), "{out}");
    db.finish().await;

    // Signed checkpoints: a trail cut short after one, or rewritten from
    // the start (every hash recomputed), no longer matches what was
    // signed; a checkpoint altered in the table no longer verifies.
    for case in ["intact", "cut", "rewritten", "forged"] {
        let (db, url) = six_entries().await;
        signed_checkpoint(&db).await;
        match case {
            "cut" => sql(&db.db, "DELETE FROM audit_log WHERE seq > 4").await,
            "rewritten" => {
                let mut entries = all(&db.db).await;
                entries[2].detail = "{\"i\":42}".into();
                let mut rewritten: Vec<eid_core::audit::Entry> = Vec::new();
                for e in &entries {
                    let prev = rewritten.last().map(|p| (p.seq, p.hash.as_str()));
                    let again = eid_core::audit::Entry::next(
                        prev,
                        e.at,
                        &e.kind,
                        e.citizen_id.as_deref(),
                        e.client_id.as_deref(),
                        &e.detail,
                    );
                    rewritten.push(again);
                }
                assert!(verify(rewritten.clone()).is_ok(), "a consistent rewrite");
                for e in &rewritten {
                    sql(
                        &db.db,
                        &format!(
                            "UPDATE audit_log SET detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                            e.detail, e.prev_hash, e.hash, e.seq
                        ),
                    )
                    .await;
                }
            }
            "forged" => {
                sql(
                    &db.db,
                    "UPDATE audit_checkpoints SET hash = 'ff' || substr(hash, 3)",
                )
                .await;
            }
            _ => {}
        }
        let (code, out) = verify_cli(&url);
        match case {
            "intact" => {
                assert_eq!(code, Some(0), "{out}");
                assert!(out.contains("1 signed checkpoints match"), "{out}");
            }
            "cut" => assert!(out.contains("entries were cut off"), "{out}"),
            "rewritten" => assert!(out.contains("the trail was rewritten"), "{out}"),
            _ => assert!(out.contains("checkpoint at entry 6"), "{out}"),
        }
        if case != "intact" {
            assert_eq!(code, Some(1), "{case}: {out}");
        }
        db.finish().await;
    }

    // Export: one department's slice, as JSON lines with hashes.
    let (db, url) = six_entries().await;
    let dir = tempfile::tempdir().unwrap();
    let output = crate::support::gateway_command(dir.path())
        .env("GATEWAY_DATABASE__URL", &url)
        .args(["audit", "export", "--client", "dept-a"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 4]);
    assert!(
        lines
            .iter()
            .all(|l| l["hash"].as_str().unwrap().len() == 64)
    );
    db.finish().await;
}

/// A signing key and a signed checkpoint of the newest entry.
async fn signed_checkpoint(db: &TestDb) {
    use base64::Engine;
    let bytes = [7u8; 32];
    let kek = eid_core::oidc::KeyEncryptionKey::from_bytes(&bytes).unwrap();
    let now = time::OffsetDateTime::now_utc();
    gateway::oidc::keyring::ensure_key(&db.db, &kek, eid_core::oidc::Alg::Es256, now)
        .await
        .unwrap();
    let mut config = db.config.clone();
    config.keys.encryption_key = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ));
    let made = gateway::audit::checkpoint(&db.db, &config, now)
        .await
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(made.seq, 6);
    assert!(
        gateway::audit::checkpoint(&db.db, &config, now)
            .await
            .unwrap()
            .is_none(),
        "nothing new to sign"
    );
}
