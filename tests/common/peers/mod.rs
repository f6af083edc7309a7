//! Real mail peers on loopback for the integration tests: a private Dovecot
//! (IMAP, IMAPS, STARTTLS), an aiosmtpd SMTP server with fault injection, and a
//! TCP proxy that cuts connections after a number of bytes.
//!
//! Every peer binds only 127.0.0.1, lives in its own temporary directory and is
//! stopped when dropped. TLS peers use a certificate signed by a throwaway test
//! CA; clients trust it through [`tls_client_config`] (never "accept invalid
//! certificates").
//!
//! Dovecot and aiosmtpd come from Debian (`dovecot-imapd`, `python3-aiosmtpd`);
//! `tests/run` installs them.

pub mod dovecot;
pub mod proxy;
pub mod smtp;

// Not every test binary uses every peer.
#[allow(unused_imports)]
pub use dovecot::Dovecot;
#[allow(unused_imports)]
pub use proxy::FlakyProxy;
#[allow(unused_imports)]
pub use smtp::{Mode, Received, Security, SmtpOptions, SmtpPeer};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a peer's test CA and server certificate were written.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The test CA certificate (what clients must trust).
    pub ca_pem: PathBuf,
    /// The server certificate (CA:FALSE, SAN `localhost` and `127.0.0.1`), signed by the CA.
    pub cert_pem: PathBuf,
    /// The server's private key (PKCS#8 PEM).
    pub key_pem: PathBuf,
}

/// Make a fresh test CA and a server certificate signed by it, and write
/// `ca.pem`, `cert.pem` and `key.pem` (mode 0644) into `dir`.
///
/// The server certificate is a separate end-entity certificate: rustls rejects
/// a CA certificate presented as the server's (`CaUsedAsEndEntity`).
pub fn write_test_certs(dir: &Path) -> TestCerts {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Atalaya test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("generate the CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server certificate params");
    params.is_ca = IsCa::ExplicitNoCa;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("generate the server key");
    let cert = params
        .signed_by(&key, &issuer)
        .expect("sign the server certificate");

    let certs = TestCerts {
        ca_pem: dir.join("ca.pem"),
        cert_pem: dir.join("cert.pem"),
        key_pem: dir.join("key.pem"),
    };
    std::fs::write(&certs.ca_pem, ca_cert.pem()).expect("write ca.pem");
    std::fs::write(&certs.cert_pem, cert.pem()).expect("write cert.pem");
    std::fs::write(&certs.key_pem, key.serialize_pem()).expect("write key.pem");
    certs
}

/// A rustls client configuration (ring provider, safe default protocol
/// versions) that trusts only the test CA in `ca_pem`.
pub fn tls_client_config(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_pem)
        .unwrap_or_else(|e| panic!("read the test CA {}: {e}", ca_pem.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.expect("parse the test CA PEM"))
            .expect("add the test CA to the root store");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("rustls protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// Connect to `127.0.0.1:port` and do a TLS handshake for the name `localhost`,
/// trusting only the test CA in `ca_pem`.
pub async fn tls_connect(
    port: u16,
    ca_pem: &Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tls_wrap(tcp, ca_pem).await
}

/// Do a client TLS handshake (name `localhost`, trusting the test CA) over an
/// already connected stream, e.g. after STARTTLS.
pub async fn tls_wrap<S>(
    stream: S,
    ca_pem: &Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(tls_client_config(ca_pem));
    let name = ServerName::try_from("localhost").expect("server name");
    connector.connect(name, stream).await
}

/// `N` distinct ports that were free on 127.0.0.1 a moment ago.
pub(crate) fn free_ports<const N: usize>() -> [u16; N] {
    // Hold every probe listener until all are chosen so the ports differ.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let mut ports = [0u16; N];
    for (slot, l) in ports.iter_mut().zip(&listeners) {
        *slot = l.local_addr().expect("local address").port();
    }
    ports
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub fn accepts(port: u16) -> bool {
    match TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)) {
        Ok(s) => {
            let _ = s.shutdown(Shutdown::Both);
            true
        }
        Err(_) => false,
    }
}

/// Whether `127.0.0.1:port` can be bound again (nothing listens on it any more).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Poll `f` every 20 ms until it is true or `timeout` passes; returns the last result.
pub fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` has exited (gone, or a zombie nobody reaped yet).
pub(crate) fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => true,
    }
}

/// The live (not zombie) processes in process group `pgid`, as `(pid, comm)`.
pub(crate) fn group_members(pgid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid pgrp ..."
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            (fields.len() > 2
                && !matches!(fields[0], "Z" | "X")
                && fields[2].parse::<u32>().ok() == Some(pgid))
            .then_some((pid, comm))
        })
        .collect()
}

/// Send `signal` (e.g. "TERM", "KILL") to a process, or to a whole process
/// group when `pid` is given as `-PGID`. Errors (already gone) are ignored.
pub(crate) fn send_signal(signal: &str, pid: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(pid)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The numeric id of `name` in an `/etc/passwd`-style file, or `fallback`.
pub(crate) fn lookup_id(file: &str, name: &str, fallback: u32) -> u32 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                (fields.next() == Some(name))
                    .then(|| fields.nth(1).and_then(|id| id.parse().ok()))
                    .flatten()
            })
        })
        .unwrap_or(fallback)
}

/// The last `max` bytes of a log file, for panic messages.
pub(crate) fn log_tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}
