//! The storage suite, run against SQLite and against PostgreSQL (a fresh
//! schema per test; skipped with a printed reason when `TEST_DATABASE_URL`
//! is unset, never in CI).

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
