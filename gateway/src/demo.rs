//! The demo: an embedded SQLite database under a data directory, seeded
//! once, reused on the next run, wiped by `--reset`.

use std::path::Path;

use eid_core::oidc::{Alg, ClientStore, KeyEncryptionKey};
use eid_core::{Secret, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::Db;

/// The demo database's file name inside the data directory.
pub const DATABASE_FILE: &str = "gateway.db";

/// The demo department's client id, redirect URI and private key.
pub const DEPARTMENT_FILE: &str = "demo-department.json";

/// The demo's key-encryption key (base64), made on first run.
pub const KEK_FILE: &str = "encryption-key";

/// The demo's pairwise-subject secret (base64), made on first run.
pub const PAIRWISE_FILE: &str = "pairwise-secret";

/// The demo's profile key (base64), made on first run.
pub const PROFILE_KEY_FILE: &str = "profile-key";

/// The seed of the demo's sandbox FPS bank (base64), made on first run.
pub const FPS_SEED_FILE: &str = "fps-sandbox-seed";

/// The key the demo shares with its PPS sandbox (base64), made on first run.
pub const PPS_KEY_FILE: &str = "pps-sandbox-key";

/// The demo department's redirect URI (a department e-service on loopback).
pub const DEPARTMENT_REDIRECT_URI: &str = "http://127.0.0.1:8081/callback";

/// Files `--reset` deletes: the database and SQLite's WAL companions, the
/// demo department and the key-encryption key. Later capabilities that
/// write demo files add them here.
pub const DEMO_FILES: &[&str] = &[
    "gateway.db",
    "gateway.db-wal",
    "gateway.db-shm",
    DEPARTMENT_FILE,
    KEK_FILE,
    PAIRWISE_FILE,
    PROFILE_KEY_FILE,
    FPS_SEED_FILE,
    PPS_KEY_FILE,
];

/// The meta key recording when the demo was seeded.
pub const SEEDED_AT_KEY: &str = "demo.seeded_at";

/// The SQLite URL of the demo database in `data_dir`.
pub fn database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join(DATABASE_FILE).display())
}

/// Deletes the demo's files; missing files are fine.
pub fn reset(data_dir: &Path) -> std::io::Result<()> {
    for name in DEMO_FILES {
        match std::fs::remove_file(data_dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether this run seeded the demo or found it seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeding {
    /// Seeded now.
    Fresh {
        /// When.
        at: String,
    },
    /// Seeded by an earlier run; its data is reused.
    Reused {
        /// When it was seeded.
        at: String,
    },
}

/// Seeds the demo data unless an earlier run did.
pub async fn seed(db: &Db, now: OffsetDateTime) -> Result<Seeding, StoreError> {
    let at = now.format(&Rfc3339).map_err(|e| StoreError::InvalidValue {
        field: SEEDED_AT_KEY,
        detail: e.to_string(),
    })?;
    if db.meta_insert_new(SEEDED_AT_KEY, &at, now).await? {
        tracing::info!("demo data seeded");
        return Ok(Seeding::Fresh { at });
    }
    let existing = db
        .meta_get(SEEDED_AT_KEY)
        .await?
        .map_or_else(|| "unknown".to_owned(), |entry| entry.value);
    Ok(Seeding::Reused { at: existing })
}

/// The text the demo prints once it listens.
pub fn banner(base: &str, data_dir: &Path, seeding: &Seeding, pay_path: Option<&str>) -> String {
    let department = data_dir.join(DEPARTMENT_FILE).display().to_string();
    let data = match seeding {
        Seeding::Fresh { at } => format!("seeded now ({at})"),
        Seeding::Reused { at } => format!("reusing data seeded {at}"),
    };
    format!(
        "\nDemo of the eID and e-payment gateway\n\
         \x20 database   {db} (SQLite, WAL): {data}\n\
         \x20 sign-in    {base}/signin (passkeys; English and Traditional Chinese)\n\
         \x20 health     {base}/healthz\n\
         \x20 readiness  {base}/readyz\n\
         \x20 metrics    {base}/metrics\n\
         \x20 discovery  {base}/.well-known/openid-configuration\n\
         \x20 jwks       {base}/jwks\n\
         \x20 department {department} (client id, redirect URI, private key, API key)\n\
         \x20 payments   {base}/v1/bills with the department's api_key (FPS and PPS sandboxes)\n\
         \x20 pay a bill {pay}\n\
         Stop with Ctrl-C. Run again with --reset to start afresh.",
        db = data_dir.join(DATABASE_FILE).display(),
        pay = pay_path.map_or_else(
            || "(every demo bill is paid: make one with POST /v1/bills)".to_owned(),
            |p| format!("{base}{p}")
        ),
    )
}

/// Why the demo's identity set-up failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A demo file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Keys or registration failed.
    #[error("{0}")]
    Setup(String),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> DemoError {
    DemoError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// The key-encryption key: the configured one, or the demo's own, made on
/// first run in `data_dir` (readable by the owner only).
pub fn encryption_key(
    data_dir: &Path,
    configured: Option<&Secret<String>>,
) -> Result<Secret<String>, DemoError> {
    secret_file(data_dir, KEK_FILE, configured)
}

/// The pairwise-subject secret: the configured one, or the demo's own,
/// made on first run.
pub fn pairwise_secret(
    data_dir: &Path,
    configured: Option<&Secret<String>>,
) -> Result<Secret<String>, DemoError> {
    secret_file(data_dir, PAIRWISE_FILE, configured)
}

/// The profile keys: the configured ones, or the demo's own (key id
/// `demo`), made on first run.
pub fn profile_keys(
    data_dir: &Path,
    configured: Option<&Secret<String>>,
) -> Result<Secret<String>, DemoError> {
    if let Some(keys) = configured {
        return Ok(keys.clone());
    }
    let key = secret_file(data_dir, PROFILE_KEY_FILE, None)?;
    Ok(Secret::new(format!("demo:{}", key.expose())))
}

/// A 32-byte random secret, base64, kept in `data_dir/name` (owner-only).
fn secret_file(
    data_dir: &Path,
    name: &str,
    configured: Option<&Secret<String>>,
) -> Result<Secret<String>, DemoError> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok(Secret::new(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(&path, e)),
    }
    let key = KeyEncryptionKey::generate_base64().map_err(|e| DemoError::Setup(e.to_string()))?;
    write_private(&path, key.expose().as_bytes())?;
    Ok(key)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), DemoError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| file_error(path, e))?;
    file.write_all(contents).map_err(|e| file_error(path, e))
}

/// Makes the first signing key, and registers the demo department
/// (private_key_jwt, ES256) unless `data_dir` already has one that the
/// database knows. Returns the department file's path.
pub async fn identity(
    db: &Db,
    data_dir: &Path,
    kek: &KeyEncryptionKey,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<std::path::PathBuf, DemoError> {
    crate::oidc::keyring::ensure_key(db, kek, Alg::Es256, now)
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let path = data_dir.join(DEPARTMENT_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(existing) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(id) = existing["client_id"].as_str()
        && db
            .get_client(id)
            .await
            .map_err(|e| DemoError::Setup(e.to_string()))?
            .is_some()
    {
        return Ok(path);
    }
    let (public, private) = eid_core::oidc::keys::generate_client_es256()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": [public] }))
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let registration = crate::oidc::registry::Registration {
        name: "Demo Department".to_owned(),
        redirect_uris: vec![DEPARTMENT_REDIRECT_URI.to_owned()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:8081/".to_owned()],
        scopes: [
            "openid",
            "profile",
            "eme.name",
            "eme.identity",
            "eme.contact",
            "eme.address",
            "eme.personal",
        ]
        .map(String::from)
        .to_vec(),
        auth: crate::oidc::registry::AuthChoice::Jwks(jwks),
        dpop_bound: true,
    };
    let registered = crate::oidc::registry::register(db, registration, now)
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let file = serde_json::json!({
        "issuer": issuer,
        "client_id": registered.client.client_id,
        "redirect_uri": DEPARTMENT_REDIRECT_URI,
        "token_endpoint_auth_method": "private_key_jwt",
        "private_jwk": private,
    });
    let text = serde_json::to_string_pretty(&file).map_err(|e| DemoError::Setup(e.to_string()))?;
    write_private(&path, text.as_bytes())?;
    Ok(path)
}

/// Payment providers for the demo: the built-in FPS sandbox bank and PPS
/// sandbox page (keys made on first run in `data_dir`), unless the
/// configuration names providers of its own.
pub fn payment_sandboxes(
    data_dir: &Path,
    payments: &mut crate::config::PaymentsConfig,
) -> Result<(), DemoError> {
    if payments.fps.is_none() {
        let seed = secret_file(data_dir, FPS_SEED_FILE, None)?;
        payments.fps = Some(crate::config::FpsSettings {
            provider_id: "fps-sandbox".into(),
            proxy: payment_core::fps::Proxy::FpsId("1234567".into()),
            clearing_code: Some("004".into()),
            merchant_name: "Demo Department".into(),
            merchant_city: "Hong Kong".into(),
            merchant_category: "9399".into(),
            bank_public_keys: Vec::new(),
            sandbox_seed: Some(seed),
            tolerance_secs: 300,
            fee: crate::config::FeeSettings::default(),
        });
    }
    if payments.pps.is_none() {
        let key = secret_file(data_dir, PPS_KEY_FILE, None)?;
        payments.pps = Some(crate::config::PpsSettings {
            provider_id: "pps-sandbox".into(),
            pay_url: None,
            merchant_code: "9999".into(),
            key,
            sandbox: true,
            tolerance_secs: 300,
            fee: crate::config::FeeSettings::default(),
        });
    }
    Ok(())
}

/// Gives the demo department a test API key (written into its file as
/// `api_key`) and a few open bills, once.
pub async fn payments(
    db: &Db,
    data_dir: &Path,
    config: &crate::config::Config,
    now: OffsetDateTime,
) -> Result<(), DemoError> {
    let path = data_dir.join(DEPARTMENT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
    let mut file: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_error(&path, e))?;
    if file.get("api_key").is_some() {
        return Ok(());
    }
    seed_payments(db, &path, &mut file, config, now).await
}

/// The path of an open demo bill's pay page (`/pay/bill_…`), to print.
pub async fn open_bill_path(db: &Db, data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(DEPARTMENT_FILE)).ok()?;
    let file: serde_json::Value = serde_json::from_str(&text).ok()?;
    let filter = crate::store::payments::BillFilter {
        status: Some("open".into()),
        ..Default::default()
    };
    let bills = db
        .list_bills(file["client_id"].as_str()?, &filter, 1)
        .await
        .ok()?;
    bills.first().map(|b| format!("/pay/{}", b.id))
}

async fn seed_payments(
    db: &Db,
    path: &Path,
    file: &mut serde_json::Value,
    config: &crate::config::Config,
    now: OffsetDateTime,
) -> Result<(), DemoError> {
    let client_id = file["client_id"].as_str().unwrap_or_default().to_owned();
    let (key, stored) = crate::api_keys::generate(&client_id, crate::api_keys::Mode::Test, now)
        .ok_or_else(|| DemoError::Setup("the random generator failed".into()))?;
    db.insert_api_key(&stored)
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let payments = crate::payments::Payments::from_config(config)
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let due = crate::pages::hong_kong_today(now) + time::Duration::days(30);
    let bills = [
        (
            "DEMO-RATES-0001",
            "1234.50",
            "Rates, first quarter",
            "第一季差餉",
        ),
        ("DEMO-WATER-0002", "256.80", "Water charges", "水費"),
        ("DEMO-LICENCE-0003", "88.00", "Dog licence", "狗隻牌照"),
    ];
    for (reference, amount, en, zh) in bills {
        let request = payment_core::bill::BillRequest {
            reference: reference.into(),
            amount: payment_core::Money::parse_positive_default(amount)
                .map_err(|e| DemoError::Setup(e.to_string()))?,
            description: payment_core::bill::Bilingual {
                en: en.into(),
                zh: zh.into(),
            },
            due_date: due,
            methods: vec![
                payment_core::bill::Method::Fps,
                payment_core::bill::Method::Pps,
            ],
            return_url: "http://127.0.0.1:8081/paid".into(),
            metadata: Default::default(),
        };
        match payments
            .create_bill(db, &client_id, "test", request, now)
            .await
        {
            Ok(_) | Err(crate::payments::PayError::DuplicateReference) => {}
            Err(e) => return Err(DemoError::Setup(e.to_string())),
        }
    }
    file["api_key"] = serde_json::Value::String(key);
    let text = serde_json::to_string_pretty(&file).map_err(|e| DemoError::Setup(e.to_string()))?;
    write_private(path, text.as_bytes())?;
    Ok(())
}
