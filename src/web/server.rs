//! Serving: plain HTTP (default, on 127.0.0.1) or TLS with rustls directly,
//! with the certificate reloaded on SIGHUP.

use crate::config::TlsConfig;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: String },
    #[error("invalid certificate or key: {0}")]
    Invalid(String),
}

/// Load a rustls server config from PEM files.
pub fn load_tls(cfg: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let read_err = |p: &std::path::Path, e: &dyn std::fmt::Display| TlsError::Read {
        path: p.display().to_string(),
        err: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
        .map_err(|e| read_err(&cfg.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(&cfg.cert, &e))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid(format!(
            "{} holds no certificate",
            cfg.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| read_err(&cfg.key, &e))?;
    let mut sc =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Invalid(e.to_string()))?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(sc))
}

/// Serve `router` until `shutdown` turns true, then drain connections (at
/// most `drain` long).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsConfig>,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<()> {
    let Some(tls_cfg) = tls else {
        let mut sd = shutdown.clone();
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = sd.wait_for(|v| *v).await;
        });
        let mut handle = tokio::spawn(server.into_future());
        tokio::select! {
            r = &mut handle => return r.unwrap_or(Ok(())),
            _ = shutdown.wait_for(|v| *v) => {}
        }
        // Long-lived streams (SSE) do not end by themselves: cut them after `drain`.
        return match tokio::time::timeout(drain, handle).await {
            Ok(Ok(r)) => r,
            _ => Ok(()),
        };
    };
    let current = Arc::new(RwLock::new(
        load_tls(&tls_cfg).map_err(|e| std::io::Error::other(e.to_string()))?,
    ));
    spawn_reloader(tls_cfg, current.clone(), shutdown.clone());
    let (conn_tx, mut conn_rx) = watch::channel(0usize);
    let conn_tx = Arc::new(conn_tx);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { let _ = shutdown.wait_for(|v| *v).await; } => break,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(
            current.read().unwrap_or_else(|e| e.into_inner()).clone(),
        );
        let router = router.clone();
        let conn_tx = conn_tx.clone();
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            conn_tx.send_modify(|n| *n += 1);
            if let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            {
                let svc = hyper::service::service_fn(
                    move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        router.clone().oneshot(req.map(axum::body::Body::new))
                    },
                );
                let builder = Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = async { let _ = sd.wait_for(|v| *v).await; } => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            }
            conn_tx.send_modify(|n| *n -= 1);
        });
    }
    let _ = tokio::time::timeout(drain, conn_rx.wait_for(|n| *n == 0)).await;
    Ok(())
}

fn spawn_reloader(
    cfg: TlsConfig,
    current: Arc<RwLock<Arc<ServerConfig>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
            match load_tls(&cfg) {
                Ok(sc) => {
                    *current.write().unwrap_or_else(|e| e.into_inner()) = sc;
                    tracing::info!("TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS reload failed; keeping the old certificate")
                }
            }
        }
    });
}
