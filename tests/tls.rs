//! TLS served by rustls directly, and the certificate reloaded on SIGHUP
//! without a restart.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Atalaya test CA");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        der: cert.der().clone(),
        params,
        key,
    }
}

/// A server certificate for 127.0.0.1 signed by `ca`, written as PEM files.
fn leaf(ca: &Ca, cn: &str, dir: &Path) -> CertificateDer<'static> {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    // Write atomically so the server never reads half a file.
    std::fs::write(dir.join("cert.tmp"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.tmp"), key.serialize_pem()).unwrap();
    std::fs::rename(dir.join("key.tmp"), dir.join("key.pem")).unwrap();
    std::fs::rename(dir.join("cert.tmp"), dir.join("cert.pem")).unwrap();
    cert.der().clone()
}

/// Handshake, GET /healthz, and return the certificate the server presented.
async fn fetch(
    port: u16,
    ca: &CertificateDer<'static>,
) -> Option<(CertificateDer<'static>, String)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).ok()?;
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let name = ServerName::try_from("127.0.0.1").ok()?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .ok()?;
    let presented = tls
        .get_ref()
        .1
        .peer_certificates()?
        .first()?
        .clone()
        .into_owned();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Some((presented, String::from_utf8_lossy(&out).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_and_reloads_the_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    let first = leaf(&ca, "first", dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("a.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ndata = \"{}\"\n[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            dir.path().join("data").display(),
            dir.path().join("cert.pem").display(),
            dir.path().join("key.pem").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (cert, body) = loop {
        if let Some(r) = fetch(port, &ca.der).await {
            break r;
        }
        assert!(Instant::now() < deadline, "no TLS answer");
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _guard = Kill(child);
    assert_eq!(cert, first);
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("\"status\":\"ok\""),
        "{body}"
    );

    let second = leaf(&ca, "second", dir.path());
    assert_ne!(first, second);
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (cert, body) = fetch(port, &ca.der)
            .await
            .expect("still serving after SIGHUP");
        assert!(body.starts_with("HTTP/1.1 200"));
        if cert == second {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
