//! [`ClientStore`] on the `clients` table.

use eid_core::StoreError;
use eid_core::oidc::{Client, ClientAuth, ClientStore, Jwks};
use sqlx::Row;

use super::{Db, from_unix, store_error, to_unix, with_pool};

const COLUMNS: &str = "client_id, name, redirect_uris, post_logout_redirect_uris, scopes, \
     auth_method, jwks, jwks_uri, secret_sha256, dpop_bound, enabled, created_at";

/// A row as read, before it is checked and turned into a [`Client`].
struct ClientRow {
    client_id: String,
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    auth_method: String,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    secret_sha256: Option<Vec<u8>>,
    dpop_bound: bool,
    enabled: bool,
    created_at: i64,
}

/// Reads a row of [`COLUMNS`] (the same code for both backends).
macro_rules! client_row {
    ($row:expr) => {
        (|| -> Result<ClientRow, sqlx::Error> {
            Ok(ClientRow {
                client_id: $row.try_get(0)?,
                name: $row.try_get(1)?,
                redirect_uris: $row.try_get(2)?,
                post_logout_redirect_uris: $row.try_get(3)?,
                scopes: $row.try_get(4)?,
                auth_method: $row.try_get(5)?,
                jwks: $row.try_get(6)?,
                jwks_uri: $row.try_get(7)?,
                secret_sha256: $row.try_get(8)?,
                dpop_bound: $row.try_get(9)?,
                enabled: $row.try_get(10)?,
                created_at: $row.try_get(11)?,
            })
        })()
    };
}

fn invalid(field: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidValue {
        field,
        detail: detail.to_string(),
    }
}

fn list(field: &'static str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| invalid(field, e))
}

impl ClientRow {
    fn into_client(self) -> Result<Client, StoreError> {
        let auth = match (
            self.auth_method.as_str(),
            self.jwks,
            self.jwks_uri,
            self.secret_sha256,
        ) {
            ("private_key_jwt", Some(jwks), None, None) => ClientAuth::PrivateKeyJwt {
                jwks: serde_json::from_str::<Jwks>(&jwks)
                    .map_err(|e| invalid("clients.jwks", e))?,
            },
            ("private_key_jwt", None, Some(jwks_uri), None) => {
                ClientAuth::PrivateKeyJwtUri { jwks_uri }
            }
            ("client_secret_basic", None, None, Some(secret_sha256)) => {
                ClientAuth::ClientSecretBasic { secret_sha256 }
            }
            (method, ..) => {
                return Err(invalid(
                    "clients.auth_method",
                    format!("inconsistent row for {method}"),
                ));
            }
        };
        Ok(Client {
            redirect_uris: list("clients.redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: list(
                "clients.post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            scopes: list("clients.scopes", &self.scopes)?,
            client_id: self.client_id,
            name: self.name,
            auth,
            dpop_bound: self.dpop_bound,
            enabled: self.enabled,
            created_at: from_unix("clients.created_at", self.created_at)?,
        })
    }
}

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| invalid("clients", e))
}

impl ClientStore for Db {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let (jwks, jwks_uri, secret) = match &client.auth {
            ClientAuth::PrivateKeyJwt { jwks } => (Some(json(jwks)?), None, None),
            ClientAuth::PrivateKeyJwtUri { jwks_uri } => (None, Some(jwks_uri.clone()), None),
            ClientAuth::ClientSecretBasic { secret_sha256 } => {
                (None, None, Some(secret_sha256.clone()))
            }
        };
        let redirect_uris = json(&client.redirect_uris)?;
        let post_logout = json(&client.post_logout_redirect_uris)?;
        let scopes = json(&client.scopes)?;
        let sql = format!(
            "INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&client.client_id)
            .bind(&client.name)
            .bind(&redirect_uris)
            .bind(&post_logout)
            .bind(&scopes)
            .bind(client.auth.method())
            .bind(&jwks)
            .bind(&jwks_uri)
            .bind(&secret)
            .bind(client.dpop_bound)
            .bind(client.enabled)
            .bind(to_unix(client.created_at))
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(store_error)
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1");
        let row = with_pool!(self, pool => sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(pool)
            .await
            .and_then(|row| row.map(|row| client_row!(row)).transpose()))
        .map_err(store_error)?;
        row.map(ClientRow::into_client).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY created_at, client_id");
        let rows = with_pool!(self, pool => match sqlx::query(&sql).fetch_all(pool).await {
            Ok(rows) => rows.iter().map(|row| client_row!(row)).collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        })
        .map_err(store_error)?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    async fn set_client_enabled(&self, client_id: &str, enabled: bool) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query("UPDATE clients SET enabled = $1 WHERE client_id = $2")
            .bind(enabled)
            .bind(client_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}
