//! The gateway's settings: a typed serde struct read from a TOML file and
//! `GATEWAY_*` environment variables, then checked.
//!
//! Precedence, lowest first: built-in defaults, the config file, the
//! environment, command-line flags. Nested keys use a double underscore in
//! environment variables: `http.max_body_bytes` is
//! `GATEWAY_HTTP__MAX_BODY_BYTES`. `gateway.example.toml` at the repository
//! root documents every setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eid_core::Secret;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "GATEWAY_";

/// All settings of one gateway process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP listener.
    pub http: HttpConfig,
    /// TLS termination; absent means plain HTTP.
    pub tls: Option<TlsConfig>,
    /// The database.
    pub database: DatabaseConfig,
    /// Logging.
    pub log: LogConfig,
    /// The OpenID Connect provider.
    pub oidc: OidcConfig,
    /// Signing keys.
    pub keys: KeysConfig,
    /// The operators' HTTP API.
    pub admin: AdminConfig,
    /// Citizen sign-in and sessions.
    pub signin: SigninConfig,
    /// The citizens' e-ME profiles.
    pub profile: ProfileConfig,
    /// The departments' `/v1` API.
    pub api: ApiConfig,
    /// Bills, payment providers and webhooks.
    pub payments: PaymentsConfig,
}

/// Settings of payments (`[payments]`): attempt lifetime, webhook delivery,
/// and the providers of each method. A method without a provider is not
/// offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// An attempt not paid this long after it started expires (the FPS
    /// code carries this expiry too).
    pub attempt_lifetime_secs: u64,
    /// Webhooks are retried, with exponential backoff and jitter, for this
    /// long; then marked failed (visible to the department, redeliverable).
    pub webhook_retry_hours: u64,
    /// Time limit of one webhook delivery.
    pub webhook_timeout_secs: u64,
    /// How often the background worker looks for due webhooks and overdue
    /// attempts.
    pub worker_interval_ms: u64,
    /// FPS through a collecting bank.
    pub fps: Option<FpsSettings>,
    /// PPS web payment.
    pub pps: Option<PpsSettings>,
    /// Cards through Stripe's PaymentIntents API.
    pub card: Option<StripeSettings>,
    /// E-wallets through Stripe.
    pub ewallet: Option<StripeSettings>,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            attempt_lifetime_secs: 15 * 60,
            webhook_retry_hours: 72,
            webhook_timeout_secs: 10,
            worker_interval_ms: 1000,
            fps: None,
            pps: None,
            card: None,
            ewallet: None,
        }
    }
}

/// What a provider charges the department per payment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeeSettings {
    /// A fixed amount per payment, in cents.
    pub fixed_cents: u64,
    /// A share of the amount, in hundredths of a percent (basis points).
    pub basis_points: u32,
}

/// An FPS provider (`[payments.fps]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FpsSettings {
    /// The provider id on attempts.
    #[serde(default = "fps_provider_id")]
    pub provider_id: String,
    /// The collection account's FPS proxy, e.g. `{ fps_id = "1234567" }`.
    pub proxy: payment_core::fps::Proxy,
    /// The collecting bank's clearing code (3 digits).
    #[serde(default)]
    pub clearing_code: Option<String>,
    /// Shown in the banking app (at most 25 characters).
    pub merchant_name: String,
    /// At most 15 characters.
    #[serde(default = "hong_kong")]
    pub merchant_city: String,
    /// Merchant category code (9399: government services).
    #[serde(default = "government_category")]
    pub merchant_category: String,
    /// The bank's Ed25519 public keys, base64, newest first.
    #[serde(default)]
    pub bank_public_keys: Vec<String>,
    /// Runs the built-in sandbox bank, whose key comes from this base64
    /// seed (32 bytes); its public key is then trusted too. For test and
    /// demo installations only.
    #[serde(default)]
    pub sandbox_seed: Option<Secret<String>>,
    /// Accepted notification age, seconds.
    #[serde(default = "five_minutes")]
    pub tolerance_secs: i64,
    /// Its fee.
    #[serde(default)]
    pub fee: FeeSettings,
}

/// A PPS provider (`[payments.pps]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpsSettings {
    /// The provider id on attempts.
    #[serde(default = "pps_provider_id")]
    pub provider_id: String,
    /// PPS's web payment page; with `sandbox`, leave it unset (the gateway
    /// serves the sandbox at `/sandbox/pps`).
    #[serde(default)]
    pub pay_url: Option<String>,
    /// The merchant (biller) code.
    pub merchant_code: String,
    /// The MAC key shared with PPS, base64 (at least 32 bytes).
    pub key: Secret<String>,
    /// Serve the built-in PPS sandbox page.
    #[serde(default)]
    pub sandbox: bool,
    /// Accepted result age, seconds.
    #[serde(default = "five_minutes")]
    pub tolerance_secs: i64,
    /// Its fee.
    #[serde(default)]
    pub fee: FeeSettings,
}

/// A Stripe account (or the localstripe emulator) (`[payments.card]`,
/// `[payments.ewallet]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// The provider id on attempts.
    pub provider_id: String,
    /// `https://api.stripe.com`, or the emulator's address.
    pub api_base: String,
    /// The secret API key.
    pub secret_key: Secret<String>,
    /// The publishable key, for the pay page's Stripe.js.
    pub publishable_key: String,
    /// Where the pay page loads Stripe.js from.
    #[serde(default = "stripe_js")]
    pub js_url: String,
    /// Webhook signing secrets, newest first.
    #[serde(default)]
    pub webhook_secrets: Vec<Secret<String>>,
    /// Time limit of one API call.
    #[serde(default = "ten_seconds")]
    pub timeout_secs: u64,
    /// Its fee.
    #[serde(default)]
    pub fee: FeeSettings,
}

fn fps_provider_id() -> String {
    "fps".into()
}
fn pps_provider_id() -> String {
    "pps".into()
}
fn hong_kong() -> String {
    "Hong Kong".into()
}
fn government_category() -> String {
    "9399".into()
}
fn five_minutes() -> i64 {
    300
}
fn ten_seconds() -> u64 {
    10
}
fn stripe_js() -> String {
    "https://js.stripe.com/v3/".into()
}

/// The longest an API key may be remembered (`api.key_cache_secs`).
pub const MAX_KEY_CACHE_SECS: u64 = 300;

/// Settings of the departments' `/v1` API (`[api]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Requests one department may make per minute, over all its keys and
    /// tokens; more get `429` with `Retry-After`.
    pub requests_per_minute: u32,
    /// Seconds a looked-up API key is remembered, so that a department's
    /// burst of requests makes one key query instead of one each. A key
    /// revoked (or a department disabled) by another process is refused
    /// by this one at most this long afterwards; `0` looks every request's
    /// key up. At most [`MAX_KEY_CACHE_SECS`].
    pub key_cache_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 600,
            key_cache_secs: 5,
        }
    }
}

/// Settings of the e-ME profile (`[profile]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// The keys that seal profile values in the database (AES-256-GCM):
    /// `ID:BASE64` pairs separated by commas, newest first. The first seals,
    /// all open, so a new key goes first and an old one stays until its
    /// values are resealed. Without keys there are no profiles. Keep them
    /// out of the config file: set `GATEWAY_PROFILE__ENCRYPTION_KEYS` from a
    /// secret store.
    pub encryption_keys: Option<Secret<String>>,
}

impl ProfileConfig {
    /// The keys as `(id, base64)` pairs, in order.
    pub fn keys(&self) -> Vec<(String, Secret<String>)> {
        self.encryption_keys
            .as_ref()
            .map(|all| {
                all.expose()
                    .split(',')
                    .filter(|entry| !entry.trim().is_empty())
                    .map(|entry| match entry.trim().split_once(':') {
                        Some((id, key)) => (id.to_owned(), Secret::new(key.to_owned())),
                        None => (String::new(), Secret::new(entry.trim().to_owned())),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The loaded keys (`None` without a setting).
    pub fn load(
        &self,
    ) -> Option<Result<eid_core::profile::seal::ProfileKeys, eid_core::profile::seal::SealError>>
    {
        self.encryption_keys
            .as_ref()
            .map(|_| eid_core::profile::seal::ProfileKeys::new(&self.keys()))
    }
}

/// Settings of citizen sign-in and sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigninConfig {
    /// A session unused this long ends.
    pub session_idle_secs: u64,
    /// A session ends this long after sign-in, however much it is used.
    pub session_absolute_secs: u64,
    /// How long a passkey ceremony (begin to finish) may take.
    pub ceremony_lifetime_secs: u64,
    /// How long a department's authorization request waits for the citizen
    /// to sign in.
    pub pending_authorization_secs: u64,
    /// Sign-in requests (passkey begin and finish, continue) one client
    /// address may make per minute; more get `429` with `Retry-After`.
    pub attempts_per_minute: u32,
    /// Sign-in attempts one account may see per hour (failed or not, from
    /// any address); more get `429` until the hour has passed.
    pub account_attempts_per_hour: u32,
    /// Smart-ID-card sign-in; absent means passkeys only.
    pub card: Option<CardConfig>,
}

/// Settings of smart-ID-card sign-in (`[signin.card]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardConfig {
    /// PEM files with the card issuers' root certificates.
    pub trust_anchors: Vec<PathBuf>,
    /// PEM files with the card issuers' intermediate certificates (cards
    /// and helpers often send only their own certificate).
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    /// Which certificates need a revocation status: `all` (default) or
    /// `end-entity`. Without one the sign-in fails (closed).
    #[serde(default)]
    pub revocation: RevocationSetting,
    /// Time limit of each OCSP or CRL request.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_secs: u64,
    /// Address of the listener that asks browsers for the card's TLS client
    /// certificate (needs `[tls]`); absent means no such listener.
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
    /// The URL citizens reach that listener at, for example
    /// `https://id.example.gov.hk:8443`. Defaults to the public URL's host
    /// with the listener's port.
    #[serde(default)]
    pub tls_url: Option<String>,
    /// Where the card-reader helper on the citizen's computer answers
    /// signed challenges, for example `http://127.0.0.1:30521`; absent
    /// means the page does not offer the helper.
    #[serde(default)]
    pub helper_url: Option<String>,
}

fn default_fetch_timeout() -> u64 {
    5
}

/// `signin.card.revocation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationSetting {
    /// Every certificate below the trust anchor.
    #[default]
    All,
    /// Only the card's own certificate.
    EndEntity,
}

impl Default for SigninConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 30 * 60,
            session_absolute_secs: 8 * 3600,
            ceremony_lifetime_secs: 300,
            pending_authorization_secs: 600,
            attempts_per_minute: 30,
            account_attempts_per_hour: 60,
            card: None,
        }
    }
}

/// Settings of the operators' HTTP API under `/admin`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The operator token (at least 32 characters), sent as
    /// `Authorization: Bearer`. Without it the API is not served. Set
    /// `GATEWAY_ADMIN__TOKEN` from a secret store.
    pub token: Option<Secret<String>>,
}

/// Settings of the OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer identifier; defaults to `http.public_url`. Departments
    /// pin it: change it only with them.
    pub issuer: Option<String>,
    /// Lifetime of access tokens.
    pub access_token_lifetime_secs: u64,
    /// Lifetime of ID tokens.
    pub id_token_lifetime_secs: u64,
    /// Lifetime of refresh tokens (each use replaces the token).
    pub refresh_token_lifetime_secs: u64,
    /// Require server-provided nonces in DPoP proofs (RFC 9449 section 8).
    /// Needs `keys.encryption_key`, from which the nonce key is derived.
    pub require_dpop_nonce: bool,
    /// Base64 of at least 32 random bytes: keys the pairwise subject
    /// identifiers. Changing it changes every `sub` every department sees.
    /// Set `GATEWAY_OIDC__PAIRWISE_SECRET` from a secret store.
    pub pairwise_secret: Option<Secret<String>>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            access_token_lifetime_secs: 300,
            id_token_lifetime_secs: 300,
            refresh_token_lifetime_secs: 8 * 3600,
            require_dpop_nonce: false,
            pairwise_secret: None,
        }
    }
}

/// Settings of the signing keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Base64 of 32 random bytes: seals the private signing keys in the
    /// database (AES-256-GCM). Keep it out of the config file: set
    /// `GATEWAY_KEYS__ENCRYPTION_KEY` from a secret store.
    pub encryption_key: Option<Secret<String>>,
    /// After `gateway keys rotate`, how long a new key is only published
    /// before it signs, so that departments' cached key sets pick it up.
    pub rotation_grace_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            encryption_key: None,
            rotation_grace_secs: 3600,
        }
    }
}

/// Settings of the HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger bodies get `413`.
    pub max_body_bytes: usize,
    /// Longest time a request may take before it is answered with `503`.
    pub request_timeout_secs: u64,
    /// After a shutdown signal, how long in-flight requests may still run.
    pub shutdown_grace_secs: u64,
    /// The URL citizens and departments reach this gateway at, used in the
    /// links the gateway prints and, later, as the OIDC issuer. Defaults to
    /// `http(s)://LISTEN`.
    pub public_url: Option<String>,
}

/// Paths of the PEM certificate chain and private key for TLS termination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate first, then its intermediates.
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Settings of the database connection pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (embedded, the default) or `postgres://...`.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for a free connection.
    pub acquire_timeout_secs: u64,
    /// How long `/readyz` waits for the database to answer.
    pub ready_timeout_ms: u64,
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter, for example `info` or `info,gateway=debug`.
    /// `RUST_LOG` overrides it when set.
    pub filter: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 256 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            public_url: None,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/gateway.db".to_owned(),
            max_connections: 10,
            acquire_timeout_secs: 5,
            ready_timeout_ms: 2000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

/// The configuration could not be loaded or is inconsistent. Shown to the
/// operator as one line; the process exits with code 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file named on the command line does not exist or cannot be read.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A value has the wrong type, a key is unknown, or the TOML is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A value parsed but is not acceptable.
    #[error("invalid setting {key}: {reason}")]
    Value {
        /// The setting's dotted key.
        key: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

impl Config {
    /// Loads defaults, then `file` (when given), then `GATEWAY_*` variables
    /// from the process environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed(ENV_PREFIX))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            // figment silently skips a missing file; an operator who names
            // one wants to hear that it is not there.
            std::fs::metadata(path).map_err(|e| ConfigError::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // GATEWAY_CONFIG names the file itself (see the CLI), it is not a setting.
        figment = figment.merge(env.ignore(&["config"]).split("__"));
        let config: Config = figment.extract().map_err(one_line)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Value {
                key: "database.url",
                reason: "must start with sqlite: or postgres://".to_owned(),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Value {
                key: "database.max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.http.max_body_bytes == 0 {
            return Err(ConfigError::Value {
                key: "http.max_body_bytes",
                reason: "must be at least 1".to_owned(),
            });
        }
        for (key, value) in [
            ("signin.session_idle_secs", self.signin.session_idle_secs),
            (
                "signin.session_absolute_secs",
                self.signin.session_absolute_secs,
            ),
            (
                "signin.ceremony_lifetime_secs",
                self.signin.ceremony_lifetime_secs,
            ),
            (
                "signin.pending_authorization_secs",
                self.signin.pending_authorization_secs,
            ),
            (
                "signin.attempts_per_minute",
                u64::from(self.signin.attempts_per_minute),
            ),
            (
                "signin.account_attempts_per_hour",
                u64::from(self.signin.account_attempts_per_hour),
            ),
            (
                "api.requests_per_minute",
                u64::from(self.api.requests_per_minute),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Value {
                    key,
                    reason: "must be at least 1".to_owned(),
                });
            }
        }
        if self.api.key_cache_secs > MAX_KEY_CACHE_SECS {
            return Err(ConfigError::Value {
                key: "api.key_cache_secs",
                reason: format!(
                    "must be at most {MAX_KEY_CACHE_SECS}: a revoked key works that long"
                ),
            });
        }
        if let Some(card) = &self.signin.card {
            if card.trust_anchors.is_empty() {
                return Err(ConfigError::Value {
                    key: "signin.card.trust_anchors",
                    reason: "name at least one PEM file of card issuer roots".to_owned(),
                });
            }
            if card.fetch_timeout_secs == 0 {
                return Err(ConfigError::Value {
                    key: "signin.card.fetch_timeout_secs",
                    reason: "must be at least 1".to_owned(),
                });
            }
            if card.tls_listen.is_some() && self.tls.is_none() {
                return Err(ConfigError::Value {
                    key: "signin.card.tls_listen",
                    reason: "the card listener needs [tls] (its certificate and key)".to_owned(),
                });
            }
            for (key, url) in [
                ("signin.card.tls_url", &card.tls_url),
                ("signin.card.helper_url", &card.helper_url),
            ] {
                if let Some(url) = url
                    && !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    return Err(ConfigError::Value {
                        key,
                        reason: "must be an http:// or https:// URL".to_owned(),
                    });
                }
            }
        }
        if self.http.request_timeout_secs == 0 {
            return Err(ConfigError::Value {
                key: "http.request_timeout_secs",
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(public) = &self.http.public_url
            && !(public.starts_with("https://") || public.starts_with("http://"))
        {
            return Err(ConfigError::Value {
                key: "http.public_url",
                reason: "must be an http:// or https:// URL".to_owned(),
            });
        }
        if let Some(issuer) = &self.oidc.issuer
            && !(issuer.starts_with("https://") || issuer.starts_with("http://"))
        {
            return Err(ConfigError::Value {
                key: "oidc.issuer",
                reason: "must be an https:// URL".to_owned(),
            });
        }
        if self.oidc.access_token_lifetime_secs == 0 || self.oidc.id_token_lifetime_secs == 0 {
            return Err(ConfigError::Value {
                key: "oidc.access_token_lifetime_secs",
                reason: "token lifetimes must be at least 1 second".to_owned(),
            });
        }
        if let Some(secret) = &self.oidc.pairwise_secret
            && decode_secret(secret).is_none()
        {
            return Err(ConfigError::Value {
                key: "oidc.pairwise_secret",
                reason: "must be at least 32 bytes, base64-encoded (openssl rand -base64 32)"
                    .to_owned(),
            });
        }
        if self.oidc.require_dpop_nonce && self.keys.encryption_key.is_none() {
            return Err(ConfigError::Value {
                key: "oidc.require_dpop_nonce",
                reason: "needs keys.encryption_key (the nonce key is derived from it)".to_owned(),
            });
        }
        if let Some(token) = &self.admin.token
            && token.expose().len() < 32
        {
            return Err(ConfigError::Value {
                key: "admin.token",
                reason: "must be at least 32 characters".to_owned(),
            });
        }
        if let Some(key) = &self.keys.encryption_key
            && eid_core::oidc::KeyEncryptionKey::from_base64(key).is_err()
        {
            return Err(ConfigError::Value {
                key: "keys.encryption_key",
                reason: "must be 32 bytes, base64-encoded (openssl rand -base64 32)".to_owned(),
            });
        }
        if let Some(Err(e)) = self.profile.load() {
            return Err(ConfigError::Value {
                key: "profile.encryption_keys",
                reason: format!("{e} (write ID:BASE64 pairs, newest first)"),
            });
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::Value {
                key: "log.filter",
                reason: e.to_string(),
            });
        }
        Ok(())
    }

    /// The base URL this gateway is reached at (no trailing slash).
    pub fn public_url(&self) -> String {
        match &self.http.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", self.http.listen)
            }
        }
    }

    /// The OIDC issuer identifier (no trailing slash).
    pub fn issuer(&self) -> String {
        match &self.oidc.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => self.public_url(),
        }
    }

    /// Where citizens reach the smart-ID-card listener (no trailing
    /// slash): `signin.card.tls_url`, else the issuer's host with the
    /// listener's port. `None` without a card listener.
    pub fn card_tls_url(&self) -> Option<String> {
        let card = self.signin.card.as_ref()?;
        let listen = card.tls_listen?;
        if let Some(url) = &card.tls_url {
            return Some(url.trim_end_matches('/').to_owned());
        }
        let mut url = webauthn_rs::prelude::Url::parse(&self.issuer()).ok()?;
        url.set_scheme("https").ok()?;
        url.set_port(Some(listen.port())).ok()?;
        url.set_path("");
        Some(url.as_str().trim_end_matches('/').to_owned())
    }

    /// The request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }
}

/// The pairwise secret's bytes: base64 of at least 32 bytes.
pub fn decode_secret(secret: &Secret<String>) -> Option<Secret<Vec<u8>>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(secret.expose().trim())
        .ok()
        .filter(|b| b.len() >= 32)
        .map(Secret::new)
}

/// figment reports every problem it found; the operator gets the first, on
/// one line, and how many more there are.
fn one_line(error: figment::Error) -> ConfigError {
    let count = error.count();
    let first = error.into_iter().next();
    let mut text = match first {
        Some(e) => e.to_string(),
        None => "invalid configuration".to_owned(),
    };
    text = text.replace('\n', " ");
    if count > 1 {
        text.push_str(&format!(" (and {} more)", count - 1));
    }
    ConfigError::Invalid(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment provider that reads nothing: environment overrides
    /// are tested on the real binary, where each test owns its process.
    fn no_env() -> Env {
        Env::prefixed("GATEWAY_UNIT_TEST_UNSET_PREFIX_")
    }

    #[test]
    fn example_file_documents_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway.example.toml");
        let config = Config::load_from(Some(&path), no_env()).expect("example loads");
        assert_eq!(config, Config::default());
        // The commented-out sections are complete and valid when enabled.
        let text = std::fs::read_to_string(&path).expect("read");
        let enabled = text
            .replace("# public_url", "public_url")
            .replace("# [tls]", "[tls]")
            .replace("# cert_file", "cert_file")
            .replace("# key_file", "key_file")
            .replace("# issuer", "issuer")
            .replace("# [signin.card]", "[signin.card]")
            .replace("# trust_anchors", "trust_anchors")
            .replace("# intermediates", "intermediates")
            .replace("# revocation =", "revocation =")
            .replace("# fetch_timeout_secs", "fetch_timeout_secs")
            .replace("# tls_listen", "tls_listen")
            .replace("# tls_url", "tls_url")
            .replace("# helper_url", "helper_url")
            .replace(
                "# token = \"...\"",
                "token = \"0123456789abcdef0123456789abcdef\"",
            );
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("g.toml");
        std::fs::write(&copy, enabled).expect("write");
        let config = Config::load_from(Some(&copy), no_env()).expect("enabled example loads");
        assert!(config.tls.is_some());
        assert_eq!(config.public_url(), "https://eid.example.gov.hk");
        let card = config.signin.card.expect("card section");
        assert_eq!(card.tls_listen, Some("0.0.0.0:8443".parse().expect("addr")));
        assert_eq!(card.revocation, RevocationSetting::All);
        assert_eq!(card.fetch_timeout_secs, 5);
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::default();
        config.validate().expect("defaults validate");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "[http]\nlisten = \"0.0.0.0:9000\"\n[database]\nurl = \"postgres://db/gw\"\n",
        )
        .expect("write");
        let config = Config::load_from(Some(&path), no_env()).expect("loads");
        assert_eq!(config.http.listen, "0.0.0.0:9000".parse().expect("addr"));
        assert_eq!(config.database.url, "postgres://db/gw");
        assert_eq!(config.http.max_body_bytes, 256 * 1024);
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[http]\nlisten_addr = \"0.0.0.0:9000\"\n").expect("write");
        let err = Config::load_from(Some(&path), no_env()).expect_err("rejected");
        let text = err.to_string();
        assert!(text.contains("listen_addr"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn missing_file_is_reported_with_path() {
        let err = Config::load_from(Some(Path::new("/nonexistent/g.toml")), no_env())
            .expect_err("rejected");
        assert!(matches!(err, ConfigError::Unreadable { .. }));
        assert!(err.to_string().contains("/nonexistent/g.toml"));
    }

    #[test]
    fn bad_scheme_is_rejected() {
        let mut config = Config::default();
        config.database.url = "mysql://x".to_owned();
        let err = config.validate().expect_err("rejected");
        assert!(err.to_string().contains("database.url"));
    }

    #[test]
    fn zero_limits_are_rejected() {
        let mut config = Config::default();
        config.http.max_body_bytes = 0;
        assert!(config.validate().is_err());
        let mut config = Config::default();
        config.database.max_connections = 0;
        assert!(config.validate().is_err());
        let mut config = Config::default();
        config.log.filter = "gateway=notalevel".to_owned();
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_key_cache_longer_than_five_minutes_is_rejected() {
        let mut config = Config::default();
        config.api.key_cache_secs = MAX_KEY_CACHE_SECS;
        assert!(config.validate().is_ok());
        config.api.key_cache_secs = MAX_KEY_CACHE_SECS + 1;
        let err = config.validate().expect_err("rejected");
        assert!(err.to_string().contains("api.key_cache_secs"), "{err}");
        config.api.key_cache_secs = 0;
        assert!(config.validate().is_ok(), "0 turns the cache off");
    }

    #[test]
    fn public_url_follows_tls_and_override() {
        let mut config = Config {
            tls: Some(TlsConfig {
                cert_file: "c.pem".into(),
                key_file: "k.pem".into(),
            }),
            ..Config::default()
        };
        assert_eq!(config.public_url(), "https://127.0.0.1:8080");
        config.http.public_url = Some("https://eid.example.gov.hk/".to_owned());
        assert_eq!(config.public_url(), "https://eid.example.gov.hk");
        config.http.public_url = Some("ftp://x".to_owned());
        assert!(config.validate().is_err());
    }
}
