//! `gateway client ...` and `gateway keys ...`: the department registry and
//! the signing keys from the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use eid_core::oidc::{Alg, ClientAuth, ClientStore, KeyEncryptionKey, KeyStore, keys};
use serde_json::json;
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::cli::ConfigArg;
use crate::config::Config;
use crate::oidc::keyring;
use crate::oidc::registry::{self, AuthChoice, Registration, RegistrationError};
use crate::run::Failure;
use crate::store::Db;

/// `gateway client ...`
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
}

/// Registry subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a department; prints its client_id (and a secret for --secret clients, once).
    Add(AddArgs),
    /// List the registered departments as JSON lines.
    List,
    /// Disable a department: every request from it is refused.
    Disable {
        /// The client_id.
        client_id: String,
    },
    /// Enable a disabled department again.
    Enable {
        /// The client_id.
        client_id: String,
    },
    /// Make an API key for the department's /v1 calls; it is printed once
    /// and only its hash is kept.
    ApiKey {
        /// The client_id.
        client_id: String,
        /// Sandboxes only (test) or real providers (live).
        #[arg(long, value_enum, default_value = "test")]
        mode: crate::api_keys::Mode,
    },
    /// Revoke an API key by its id (the 16 hex digits after gw_MODE_).
    RevokeKey {
        /// The key id.
        key_id: String,
    },
    /// Set where the department receives webhooks; prints a new signing
    /// secret once. With --rotate, the previous secret keeps signing too
    /// (two v1 signatures) until the next --rotate or a plain set.
    Webhook {
        /// The client_id.
        client_id: String,
        /// The endpoint: https, or http on loopback.
        #[arg(long)]
        url: String,
        /// Keep the current secret alongside the new one.
        #[arg(long)]
        rotate: bool,
    },
}

/// Options of `client add`. Exactly one of --jwks-file, --jwks-uri, --secret.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("auth").required(true).args(["jwks_file", "jwks_uri", "secret"])))]
pub struct AddArgs {
    /// The department's name, as citizens will see it.
    #[arg(long)]
    pub name: String,
    /// A redirect URI (repeat for more); matched exactly.
    #[arg(long = "redirect-uri", value_name = "URI", required = true)]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat for more).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A scope the department may ask for (repeat for more; openid is implied).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// private_key_jwt with the public keys in this JWK Set file.
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// private_key_jwt with the keys published at this https URL.
    #[arg(long, value_name = "URI")]
    pub jwks_uri: Option<String>,
    /// client_secret_basic with a generated secret (printed once).
    #[arg(long)]
    pub secret: bool,
    /// Issue Bearer tokens instead of DPoP-bound ones (not FAPI 2.0).
    #[arg(long)]
    pub no_dpop: bool,
}

/// `gateway keys ...`
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
}

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key: published now, signing after keys.rotation_grace_secs.
    Rotate {
        /// The new key's algorithm.
        #[arg(long, value_enum, default_value = "es256")]
        alg: AlgArg,
    },
    /// List the signing keys (public parts and schedule) as JSON lines.
    List,
}

/// `--alg`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgArg {
    /// ECDSA P-256.
    Es256,
    /// Ed25519.
    Eddsa,
}

/// Runs `gateway client ...`.
pub async fn client(config: Config, command: ClientCommand) -> Result<(), Failure> {
    let db = crate::run::open_db(&config).await?;
    let now = time::OffsetDateTime::now_utc();
    let result = match command {
        ClientCommand::Add(args) => add(&db, args, now).await,
        ClientCommand::List => {
            let clients = db
                .list_clients()
                .await
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            for c in clients {
                let jwks_uri = match &c.auth {
                    ClientAuth::PrivateKeyJwtUri { jwks_uri } => Some(jwks_uri.clone()),
                    _ => None,
                };
                println!(
                    "{}",
                    json!({
                        "client_id": c.client_id,
                        "name": c.name,
                        "enabled": c.enabled,
                        "token_endpoint_auth_method": c.auth.method(),
                        "jwks_uri": jwks_uri,
                        "redirect_uris": c.redirect_uris,
                        "post_logout_redirect_uris": c.post_logout_redirect_uris,
                        "scopes": c.scopes,
                        "dpop_bound": c.dpop_bound,
                        "created_at": c.created_at.format(&Rfc3339).unwrap_or_default(),
                    })
                );
            }
            Ok(())
        }
        ClientCommand::Disable { client_id } => set_enabled(&db, &client_id, false).await,
        ClientCommand::Enable { client_id } => set_enabled(&db, &client_id, true).await,
        ClientCommand::ApiKey { client_id, mode } => api_key(&db, &client_id, mode, now).await,
        ClientCommand::Webhook {
            client_id,
            url,
            rotate,
        } => match kek(&config) {
            Ok(kek) => webhook(&db, &kek, &client_id, &url, rotate, now).await,
            Err(e) => Err(e),
        },
        ClientCommand::RevokeKey { key_id } => {
            if db
                .revoke_api_key(&key_id, now)
                .await
                .map_err(|e| Failure::Runtime(e.to_string()))?
            {
                println!("API key {key_id} revoked");
                Ok(())
            } else {
                Err(Failure::Input(format!(
                    "no live API key {}",
                    key_id.chars().take(32).collect::<String>()
                )))
            }
        }
    };
    db.close().await;
    result
}

async fn add(db: &Db, args: AddArgs, now: time::OffsetDateTime) -> Result<(), Failure> {
    let auth = if let Some(path) = &args.jwks_file {
        AuthChoice::Jwks(
            std::fs::read(path)
                .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))?,
        )
    } else if let Some(uri) = args.jwks_uri {
        AuthChoice::JwksUri(uri)
    } else {
        AuthChoice::Secret
    };
    let registration = Registration {
        name: args.name,
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        scopes: args.scopes,
        auth,
        dpop_bound: !args.no_dpop,
    };
    let registered = registry::register(db, registration, now)
        .await
        .map_err(|e| match e {
            RegistrationError::Store(_) | RegistrationError::Random => {
                Failure::Runtime(e.to_string())
            }
            other => Failure::Input(other.to_string()),
        })?;
    println!("client_id: {}", registered.client.client_id);
    if let Some(secret) = registered.secret {
        println!("client_secret: {}", secret.expose());
        println!("(the secret is shown once and stored only as a hash)");
    }
    Ok(())
}

async fn webhook(
    db: &Db,
    kek: &KeyEncryptionKey,
    client_id: &str,
    url: &str,
    rotate: bool,
    now: time::OffsetDateTime,
) -> Result<(), Failure> {
    let runtime = |e: &dyn std::fmt::Display| Failure::Runtime(e.to_string());
    if db
        .get_client(client_id)
        .await
        .map_err(|e| runtime(&e))?
        .is_none()
    {
        return Err(Failure::Input(format!("no client {client_id}")));
    }
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        });
    if !(url.starts_with("https://") || loopback)
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Err(Failure::Input(
            "the webhook URL must be https (or http on loopback)".into(),
        ));
    }
    let secret = crate::signin::random_handle()
        .map(|s| format!("whsec_{s}"))
        .ok_or_else(|| Failure::Runtime("the random generator failed".into()))?;
    let mut secrets = vec![secret.clone()];
    if rotate
        && let Some(current) = db
            .webhook_endpoint(client_id, kek)
            .await
            .map_err(|e| runtime(&e))?
        && let Some(previous) = current.secrets.first()
    {
        secrets.push(previous.clone());
    }
    db.set_webhook_endpoint(
        &crate::store::payments::WebhookEndpoint {
            client_id: client_id.to_owned(),
            url: url.to_owned(),
            secrets,
        },
        kek,
        now.unix_timestamp(),
    )
    .await
    .map_err(|e| runtime(&e))?;
    println!("webhook_url: {url}");
    println!("webhook_secret: {secret}");
    println!("(the secret is shown once; verify Gateway-Signature with it)");
    Ok(())
}

async fn set_enabled(db: &Db, client_id: &str, enabled: bool) -> Result<(), Failure> {
    let found = db
        .set_client_enabled(client_id, enabled)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    if !found {
        return Err(Failure::Input(format!("no client {client_id}")));
    }
    println!(
        "{client_id} {}",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}

/// The configured key-encryption key.
pub fn kek(config: &Config) -> Result<KeyEncryptionKey, Failure> {
    let text = config
        .keys
        .encryption_key
        .as_ref()
        .ok_or_else(|| Failure::Config(keyring::KeyringError::NoKek.to_string()))?;
    KeyEncryptionKey::from_base64(text).map_err(|e| Failure::Config(e.to_string()))
}

/// Runs `gateway keys ...`.
pub async fn keys_command(config: Config, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Rotate { alg } => {
            let kek = kek(&config)?;
            let db = crate::run::open_db(&config).await?;
            let alg = match alg {
                AlgArg::Es256 => Alg::Es256,
                AlgArg::Eddsa => Alg::EdDsa,
            };
            let grace = Duration::seconds(
                i64::try_from(config.keys.rotation_grace_secs).unwrap_or(i64::MAX),
            );
            let now = time::OffsetDateTime::now_utc();
            let rotated = keyring::rotate(&db, &kek, alg, now, grace).await;
            db.close().await;
            let key = rotated.map_err(|e| Failure::Runtime(e.to_string()))?;
            println!(
                "new key {} ({}) published now, signing from {}",
                key.kid,
                key.alg.name(),
                key.sign_from.format(&Rfc3339).unwrap_or_default()
            );
            Ok(())
        }
        KeysCommand::List => {
            let db = crate::run::open_db(&config).await?;
            let all = db.list_keys().await;
            db.close().await;
            let all = all.map_err(|e| Failure::Runtime(e.to_string()))?;
            let now = time::OffsetDateTime::now_utc();
            let current = keys::current(&all, now).map(|k| k.kid.clone());
            for key in &all {
                println!(
                    "{}",
                    json!({
                        "kid": key.kid,
                        "alg": key.alg.name(),
                        "signing": current.as_deref() == Some(key.kid.as_str()),
                        "created_at": key.created_at.format(&Rfc3339).unwrap_or_default(),
                        "sign_from": key.sign_from.format(&Rfc3339).unwrap_or_default(),
                        "signing_until": key.signing_until.and_then(|t| t.format(&Rfc3339).ok()),
                    })
                );
            }
            Ok(())
        }
    }
}

async fn api_key(
    db: &Db,
    client_id: &str,
    mode: crate::api_keys::Mode,
    now: time::OffsetDateTime,
) -> Result<(), Failure> {
    match db.get_client(client_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Failure::Input(format!("no department {client_id}"))),
        Err(e) => return Err(Failure::Runtime(e.to_string())),
    }
    let (key, stored) = crate::api_keys::generate(client_id, mode, now)
        .ok_or_else(|| Failure::Runtime("random generator failure".to_owned()))?;
    db.insert_api_key(&stored)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    println!("{key}");
    eprintln!(
        "API key {} ({}) for {client_id}: shown once, only its hash is kept",
        stored.key_id,
        mode.as_str()
    );
    Ok(())
}
