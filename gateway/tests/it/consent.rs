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
