//! Smart-ID-card identities bound to citizen accounts. An account holds at
//! most one card identity and a card identity belongs to at most one
//! account; both rules are also unique constraints in the schema, so two
//! concurrent bindings cannot break them.

use eid_core::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, store_error, to_unix, with_pool};

/// What binding a card identity to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBinding {
    /// Bound now.
    Bound,
    /// This card was already bound to this account.
    AlreadyBound,
    /// The card is bound to another account.
    CardInUse,
    /// The account already holds another card identity.
    AccountHasCard,
}

impl Db {
    /// The account a card identity is bound to.
    pub async fn card_owner(&self, card_key: &str) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT citizen_id FROM card_identities WHERE card_key = $1",
        )
        .bind(card_key)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)
    }

    /// Whether the account holds a verified card identity.
    pub async fn has_card(&self, citizen_id: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT 1 FROM card_identities WHERE citizen_id = $1",
        )
        .bind(citizen_id)
        .fetch_optional(pool)
        .await
        .map(|row| row.is_some()))
        .map_err(store_error)
    }

    /// Creates an account from a card sign-in, bound to the card, in one
    /// transaction.
    pub async fn create_citizen_with_card(
        &self,
        citizen_id: &str,
        card_key: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO citizens (id, created_at) VALUES ($1, $2)")
                .bind(citizen_id)
                .bind(to_unix(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO card_identities (card_key, citizen_id, bound_at) VALUES ($1, $2, $3)",
            )
            .bind(card_key)
            .bind(citizen_id)
            .bind(to_unix(now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await)
        .map_err(store_error)
    }

    /// Binds a card identity to an existing account, unless either side is
    /// already bound elsewhere.
    pub async fn bind_card(
        &self,
        citizen_id: &str,
        card_key: &str,
        now: OffsetDateTime,
    ) -> Result<CardBinding, StoreError> {
        let inserted = with_pool!(self, pool => sqlx::query(
            "INSERT INTO card_identities (card_key, citizen_id, bound_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(card_key)
        .bind(citizen_id)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(store_error)?;
        if inserted == 1 {
            return Ok(CardBinding::Bound);
        }
        Ok(match self.card_owner(card_key).await? {
            Some(owner) if owner == citizen_id => CardBinding::AlreadyBound,
            Some(_) => CardBinding::CardInUse,
            None => CardBinding::AccountHasCard,
        })
    }
}
