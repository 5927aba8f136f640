//! What each subcommand does, from validated arguments to exit code.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use eid_core::ReplayStore;
use tokio::net::TcpListener;

use crate::cli::{Cli, Command, ConfigArg, DemoArgs, ServeArgs};
use crate::config::Config;
use crate::demo;
use crate::state::AppState;
use crate::store::Db;
use crate::{http, server, telemetry};

/// How often expired replay records are purged.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Why a command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The configuration or the files it names are wrong: exit code 2.
    #[error("{0}")]
    Config(String),
    /// The configuration is fine but something it needs failed (the database
    /// cannot be reached, the port is taken): exit code 1.
    #[error("{0}")]
    Runtime(String),
    /// An input file or argument of a one-shot command is unusable: exit code 2.
    #[error("{0}")]
    Input(String),
    /// A one-shot command's answer is "no" (for example a certificate is not
    /// valid); its output says why: exit code 1.
    #[error("{0}")]
    Negative(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Config(_) | Failure::Input(_) => ExitCode::from(2),
            Failure::Runtime(_) | Failure::Negative(_) => ExitCode::from(1),
        }
    }
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => {
            let config = load_config(&args.config, args.listen)?;
            telemetry::init(&config.log);
            let tls = load_tls(&config)?;
            let db = open_db(&config).await?;
            serve(config, tls, db, None).await
        }
        Command::Demo(args) => run_demo(args).await,
        Command::Cert(args) => match &args.command {
            crate::cert_cmd::CertCommand::Verify(verify) => {
                if crate::cert_cmd::verify(verify).await? {
                    Ok(())
                } else {
                    Err(Failure::Negative("the certificate is not valid".to_owned()))
                }
            }
        },
        Command::Client(args) => {
            let config = load_config(&args.config, None)?;
            telemetry::init(&config.log);
            crate::oidc_cmd::client(config, args.command).await
        }
        Command::Keys(args) => {
            let config = load_config(&args.config, None)?;
            telemetry::init(&config.log);
            crate::oidc_cmd::keys_command(config, args.command).await
        }
        Command::Qr(args) => crate::qr_cmd::run(&args.command),
        Command::Profile(args) => {
            let config = load_config(&args.config, None)?;
            telemetry::init(&config.log);
            let crate::cli::ProfileCommand::Reseal = args.command;
            let keys = match config.profile.load() {
                Some(Ok(keys)) => keys,
                Some(Err(e)) => return Err(Failure::Config(e.to_string())),
                None => {
                    return Err(Failure::Config(
                        "profile.encryption_keys is not set".to_owned(),
                    ));
                }
            };
            let db = open_db(&config).await?;
            let profiles = crate::profile::Profiles::new(keys);
            let result = profiles.reseal_all(&db).await;
            db.close().await;
            let count = result.map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("resealed {count} profile values under the newest key");
            Ok(())
        }
        Command::Reconcile(args) => {
            let config = load_config(&args.config, None)?;
            telemetry::init(&config.log);
            crate::reconcile_cmd::run(config, args).await
        }
        Command::Audit(args) => {
            let config = load_config(&args.config, None)?;
            telemetry::init(&config.log);
            crate::audit::run(config, args.command).await
        }
        Command::Migrate(args) => {
            let config = load_config(&args, None)?;
            telemetry::init(&config.log);
            let db = open_db(&config).await?;
            println!("migrations applied ({:?} database)", db.backend());
            db.close().await;
            Ok(())
        }
    }
}

fn load_config(arg: &ConfigArg, listen: Option<SocketAddr>) -> Result<Config, Failure> {
    let mut config =
        Config::load(arg.config.as_deref()).map_err(|e| Failure::Config(e.to_string()))?;
    if let Some(listen) = listen {
        config.http.listen = listen;
    }
    Ok(config)
}

/// Connects and migrates.
pub(crate) async fn open_db(config: &Config) -> Result<Db, Failure> {
    let db = Db::connect(&config.database)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    db.migrate()
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    Ok(db)
}

async fn run_demo(args: DemoArgs) -> Result<(), Failure> {
    let DemoArgs {
        serve: ServeArgs { listen, config },
        data_dir,
        reset,
    } = args;
    let mut config = load_config(&config, listen)?;
    config.database.url = demo::database_url(&data_dir);
    // Browsers refuse IP addresses as passkey relying parties: on loopback
    // the demo is reached as localhost.
    if config.http.public_url.is_none()
        && config.oidc.issuer.is_none()
        && config.http.listen.ip().is_loopback()
        && config.http.listen.port() != 0
    {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        config.http.public_url = Some(format!(
            "{scheme}://localhost:{}",
            config.http.listen.port()
        ));
    }
    config
        .validate()
        .map_err(|e| Failure::Config(e.to_string()))?;
    telemetry::init(&config.log);
    let tls = load_tls(&config)?;
    if reset {
        demo::reset(&data_dir).map_err(|e| Failure::Runtime(e.to_string()))?;
    }
    let db = open_db(&config).await?;
    let now = time::OffsetDateTime::now_utc();
    let seeding = demo::seed(&db, now)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let kek = demo::encryption_key(&data_dir, config.keys.encryption_key.as_ref())
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let kek_key = eid_core::oidc::KeyEncryptionKey::from_base64(&kek).map_err(|e| {
        Failure::Config(format!("{}: {e}", data_dir.join(demo::KEK_FILE).display()))
    })?;
    config.keys.encryption_key = Some(kek);
    let pairwise = demo::pairwise_secret(&data_dir, config.oidc.pairwise_secret.as_ref())
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    config.oidc.pairwise_secret = Some(pairwise);
    let profile = demo::profile_keys(&data_dir, config.profile.encryption_keys.as_ref())
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    config.profile.encryption_keys = Some(profile);
    demo::identity(&db, &data_dir, &kek_key, &config.issuer(), now)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    demo::payment_sandboxes(&data_dir, &mut config.payments)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    demo::payments(&db, &data_dir, &config, now)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let pay_path = demo::open_bill_path(&db, &data_dir).await;
    let banner = move |base: &str| demo::banner(base, &data_dir, &seeding, pay_path.as_deref());
    serve(config, tls, db, Some(Box::new(banner))).await
}

/// The rustls settings of the listeners.
struct Tls {
    /// The main listener's (absent: plain HTTP).
    main: Option<Arc<rustls::ServerConfig>>,
    /// The smart-ID-card listener's, when one is configured.
    card: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
}

/// Loads the TLS files and the card issuers' certificates before anything
/// else touches the database, so that a bad path is reported as the
/// configuration error it is.
fn load_tls(config: &Config) -> Result<Tls, Failure> {
    let config_error = |e: &dyn std::fmt::Display| Failure::Config(e.to_string());
    let main = config
        .tls
        .as_ref()
        .map(server::load_tls)
        .transpose()
        .map_err(|e| config_error(&e))?;
    crate::payments::Payments::from_config(config).map_err(|e| config_error(&e))?;
    let mut card = None;
    if let Some(settings) = &config.signin.card {
        let verifier = crate::signin::card::CardVerifier::from_config(
            settings,
            Arc::new(crate::state::SystemClock),
        )
        .map_err(|e| config_error(&e))?;
        if let (Some(listen), Some(tls)) = (settings.tls_listen, &config.tls) {
            let server = server::load_tls_client_auth(tls, verifier.anchor_subjects())
                .map_err(|e| config_error(&e))?;
            card = Some((listen, server));
        }
    }
    Ok(Tls { main, card })
}

/// Prints what a newcomer should open, given the base URL.
type Banner = Box<dyn FnOnce(&str) -> String + Send>;

async fn serve(config: Config, tls: Tls, db: Db, banner: Option<Banner>) -> Result<(), Failure> {
    let Tls { main: tls, card } = tls;
    let listener = TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {}: {e}", config.http.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("cannot read the listening address: {e}")))?;
    let base = base_url(&config, bound);
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let state = AppState::new(db.clone(), config);
    let maintenance = tokio::spawn(maintenance(state.clone()));
    let payments_worker = tokio::spawn(crate::payments::worker(state.clone()));

    // One shutdown signal stops every listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let card_server = match card {
        Some((listen, card_tls)) => {
            let listener = TcpListener::bind(listen).await.map_err(|e| {
                Failure::Runtime(format!(
                    "cannot listen on {listen} (signin.card.tls_listen): {e}"
                ))
            })?;
            tracing::info!(address = %listen, "smart-ID-card listener (TLS client certificates)");
            Some(tokio::spawn(server::serve(
                listener,
                http::card_app(state.clone()),
                Some(card_tls),
                until_stopped(),
                grace,
            )))
        }
        None => None,
    };
    tracing::info!(address = %bound, tls = tls.is_some(), "listening");
    println!("gateway listening on {base}");
    if let Some(banner) = banner {
        println!("{}", banner(&base));
    }
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = stop.send(true);
    });
    server::serve(listener, http::app(state), tls, until_stopped(), grace).await;
    if let Some(card_server) = card_server {
        let _ = card_server.await;
    }
    maintenance.abort();
    payments_worker.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The URL to print: the configured public URL, or the bound address with
/// an unspecified IP replaced by loopback so that the link can be opened.
fn base_url(config: &Config, bound: SocketAddr) -> String {
    if config.http.public_url.is_some() {
        return config.public_url();
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut shown = bound;
    if shown.ip().is_unspecified() {
        shown.set_ip(if bound.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("{scheme}://{shown}")
}

/// Background housekeeping: purges expired replay records, pushed
/// requests, sign-in ceremonies, waiting requests and sessions.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        ticks += 1;
        // A signed checkpoint of the audit trail every 15 minutes (when
        // there is something new and a signing key).
        if ticks % 15 == 1 && state.config().keys.encryption_key.is_some() {
            match crate::audit::checkpoint(state.db(), state.config(), state.now()).await {
                Ok(Some(c)) => tracing::info!(seq = c.seq, "audit checkpoint signed"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "audit checkpoint failed"),
            }
        }
        match state.db().purge_expired(state.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired replay records purged"),
            Err(error) => tracing::warn!(%error, "replay purge failed"),
        }
        match state.db().purge_expired_par(state.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired pushed requests purged"),
            Err(error) => tracing::warn!(%error, "pushed request purge failed"),
        }
        let absolute = time::Duration::seconds(
            i64::try_from(state.config().signin.session_absolute_secs).unwrap_or(i64::MAX),
        );
        let now = state.now();
        match state.db().purge_expired_signin(now, now - absolute).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired sign-in records purged"),
            Err(error) => tracing::warn!(%error, "sign-in purge failed"),
        }
    }
}
