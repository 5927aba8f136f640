//! Serving a router on a TCP listener, in plain HTTP or with TLS terminated
//! by rustls, with graceful shutdown: when the shutdown future completes the
//! listener closes at once, requests in flight run to their end (up to a
//! grace period), idle keep-alive connections are closed.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::TlsConfig;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The certificate file is missing, unreadable or holds no certificate.
    #[error("tls.cert_file {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The key file is missing, unreadable or holds no private key.
    #[error("tls.key_file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the pair (for example the key does not match).
    #[error("tls: {0}")]
    Rustls(String),
}

/// Builds the rustls server configuration (ring provider, TLS 1.2 and 1.3,
/// ALPN h2 and http/1.1) from the PEM files named in the settings.
pub fn load_tls(config: &TlsConfig) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let cert_path = config.cert_file.display().to_string();
    let key_path = config.key_file.display().to_string();
    let certs = read_certs(&config.cert_file).map_err(|reason| TlsSetupError::Certificate {
        path: cert_path.clone(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file).map_err(|e| TlsSetupError::Key {
        path: key_path,
        reason: e.to_string(),
    })?;
    build(certs, key, None)
}

/// Like [`load_tls`], for the smart-ID-card listener: the server also asks
/// for a client certificate (optional: a browser without a card still gets
/// the page that says so), naming `issuer_subjects` (DER names of the card
/// issuers) so that browsers offer only fitting certificates.
///
/// rustls checks only that the client holds the key of the certificate it
/// presents (the handshake signature); the chain itself is validated by
/// the gateway with `eid-core::cert`, revocation included, and reaches the
/// handlers as [`PeerCertificates`].
pub fn load_tls_client_auth(
    config: &TlsConfig,
    issuer_subjects: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let cert_path = config.cert_file.display().to_string();
    let key_path = config.key_file.display().to_string();
    let certs = read_certs(&config.cert_file).map_err(|reason| TlsSetupError::Certificate {
        path: cert_path.clone(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file).map_err(|e| TlsSetupError::Key {
        path: key_path,
        reason: e.to_string(),
    })?;
    build(certs, key, Some(issuer_subjects))
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: Option<Vec<Vec<u8>>>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(subjects) => builder.with_client_cert_verifier(Arc::new(AnyClientCertificate {
            hints: subjects.into_iter().map(DistinguishedName::from).collect(),
            algorithms: provider.signature_verification_algorithms,
        })),
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// The certificates a TLS client presented, end entity first (DER), as a
/// request extension on connections that had one.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<Vec<u8>>>);

/// Accepts any client certificate whose key signed the handshake; the
/// chain is judged later, by the gateway's own validator.
#[derive(Debug)]
struct AnyClientCertificate {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found in the file".to_owned());
    }
    Ok(certs)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests
/// in flight finish for at most `grace`.
///
/// With `tls`, every connection is a TLS connection; handshakes that fail or
/// stall are dropped without affecting others. Handlers can read the peer
/// address as `ConnectInfo<std::net::SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = move |certificates: Option<PeerCertificates>| {
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                if let Some(certificates) = &certificates {
                    request.extensions_mut().insert(certificates.clone());
                }
                app.clone().oneshot(request)
            })
        };
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let result =
                match acceptor {
                    None => {
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service(None))
                            .into_owned();
                        watcher.watch(connection).await
                    }
                    Some(acceptor) => {
                        let tls_stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(error)) => {
                                    tracing::debug!(%error, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                        let certificates = tls_stream.get_ref().1.peer_certificates().map(|c| {
                            PeerCertificates(Arc::new(c.iter().map(|d| d.to_vec()).collect()))
                        });
                        let connection = builder
                            .serve_connection_with_upgrades(
                                TokioIo::new(tls_stream),
                                service(certificates),
                            )
                            .into_owned();
                        watcher.watch(connection).await
                    }
                };
            if let Err(error) = result {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(open_connections = open, "shutting down: no new connections");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over; dropping the remaining connections");
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
