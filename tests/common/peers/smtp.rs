//! An SMTP peer: `smtpd.py` (Debian's aiosmtpd under `/usr/bin/python3`) on a
//! free 127.0.0.1 port, storing every accepted message with its envelope, with
//! optional STARTTLS / implicit TLS, AUTH PLAIN/LOGIN, and faults switched at
//! run time through a mode file the script re-reads on every command.

use super::{TestCerts, free_ports, log_tail, poll_until, port_is_free, write_test_certs};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, which has `python3-aiosmtpd` (a `python3` on PATH may not).
pub const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/peers/smtpd.py");
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Transport security of the SMTP peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Plain SMTP, no STARTTLS offered.
    #[default]
    None,
    /// STARTTLS offered and required before anything but EHLO/NOOP/QUIT.
    StartTls,
    /// Implicit TLS from the first byte (submissions port style).
    Tls,
}

/// How the peer is started.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    pub security: Security,
    /// `Some((user, password))`: AUTH PLAIN and LOGIN offered and required
    /// before MAIL (also over plain SMTP when `security` is `None`).
    pub auth: Option<(String, String)>,
}

impl SmtpOptions {
    pub fn plain() -> Self {
        Self::default()
    }

    pub fn with_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_string(), password.to_string()));
        self
    }

    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }
}

/// What the peer answers, switched at run time with [`SmtpPeer::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Accept everything.
    Accept,
    /// `421 4.3.0 try later` to MAIL and to the end of DATA, then close.
    Temp421,
    /// `451 4.3.0 local error` to the end of DATA.
    Temp451,
    /// `550 5.1.1 mailbox unavailable` to RCPT.
    Perm550,
    /// `550 5.1.1 mailbox unavailable` to the end of DATA.
    Perm550Data,
    /// Wait this long before answering the end of DATA, then accept.
    Tarpit(Duration),
}

impl Mode {
    fn file_text(self) -> String {
        match self {
            Mode::Accept => "accept".into(),
            Mode::Temp421 => "temp421".into(),
            Mode::Temp451 => "temp451".into(),
            Mode::Perm550 => "perm550".into(),
            Mode::Perm550Data => "perm550data".into(),
            Mode::Tarpit(d) => format!("tarpit {}", d.as_secs_f64()),
        }
    }
}

/// One accepted message with its envelope.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival number, from 1, continuing across restarts.
    pub seq: u64,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The AUTH user of the session, if it authenticated.
    pub auth_user: Option<String>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// The message as received (CRLF line endings, dot-stuffing removed).
    pub data: Vec<u8>,
}

/// A running (or stopped) SMTP peer. Dropping it kills the server.
pub struct SmtpPeer {
    dir: tempfile::TempDir,
    port: u16,
    options: SmtpOptions,
    certs: TestCerts,
    child: Option<Child>,
    log: PathBuf,
}

impl SmtpPeer {
    /// Start a peer on a free port and wait until it accepts connections
    /// (and greets, for plain and STARTTLS). Panics with its log on failure.
    pub fn start(options: SmtpOptions) -> SmtpPeer {
        require_aiosmtpd();
        let dir = tempfile::Builder::new()
            .prefix("atalaya-smtp-")
            .tempdir()
            .expect("create a temporary directory for the SMTP peer");
        let certs = write_test_certs(dir.path());
        let mut peer = SmtpPeer {
            log: dir.path().join("smtpd.log"),
            dir,
            port: 0,
            options,
            certs,
            child: None,
        };
        peer.set_mode(Mode::Accept);
        let mut last = String::new();
        for _ in 0..5 {
            let [port] = free_ports::<1>();
            peer.port = port;
            peer.spawn();
            match peer.wait_ready() {
                Ok(()) => return peer,
                Err(e) if peer.log().contains("Address already in use") => {
                    last = e;
                    peer.kill_child();
                }
                Err(e) => {
                    peer.kill_child();
                    panic!("the SMTP peer did not start: {e}\n{}", peer.diagnostics());
                }
            }
        }
        panic!(
            "the SMTP peer did not start (ports in use): {last}\n{}",
            peer.diagnostics()
        );
    }

    /// A plain peer without AUTH.
    pub fn start_plain() -> SmtpPeer {
        Self::start(SmtpOptions::plain())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn options(&self) -> &SmtpOptions {
        &self.options
    }

    /// The test CA that signed the server certificate (PEM). A certificate is
    /// made whatever the security, but only TLS peers present it.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.certs.ca_pem.clone()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where accepted messages are stored (a Maildir; files in `new/`).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Switch the answers; takes effect at the next MAIL, RCPT or DATA, also on
    /// open connections.
    pub fn set_mode(&self, mode: Mode) {
        let path = self.dir.path().join("mode");
        let tmp = self.dir.path().join("mode.tmp");
        std::fs::write(&tmp, mode.file_text()).expect("write the SMTP mode file");
        std::fs::rename(&tmp, &path).expect("replace the SMTP mode file");
    }

    /// Kill the server (connections drop) and wait until the port is free.
    /// Stored messages stay; [`SmtpPeer::start_again`] serves the same port.
    pub fn stop(&mut self) {
        self.kill_child();
        let port = self.port;
        assert!(
            poll_until(Duration::from_secs(10), || port_is_free(port)),
            "port {port} still in use after the SMTP peer stopped"
        );
    }

    /// Start again on the same port, with the same options, mode and messages.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "start_again: the SMTP peer is running"
        );
        self.spawn();
        if let Err(e) = self.wait_ready() {
            self.kill_child();
            panic!(
                "the SMTP peer did not start again: {e}\n{}",
                self.diagnostics()
            );
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The raw accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.received().into_iter().map(|r| r.data).collect()
    }

    /// The accepted messages with their envelopes, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        let new = self.maildir().join("new");
        let mut names: Vec<String> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let seq_text = name.split('.').next().unwrap_or_default();
                let seq: u64 = seq_text
                    .parse()
                    .unwrap_or_else(|e| panic!("stored message name {name:?}: {e}"));
                let data = std::fs::read(new.join(&name))
                    .unwrap_or_else(|e| panic!("read stored message {name}: {e}"));
                let env_path = self
                    .dir
                    .path()
                    .join("envelopes")
                    .join(format!("{seq_text}.json"));
                let env: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(&env_path)
                        .unwrap_or_else(|e| panic!("read {}: {e}", env_path.display())),
                )
                .unwrap_or_else(|e| panic!("parse {}: {e}", env_path.display()));
                Received {
                    seq,
                    mail_from: env["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_to: env["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    auth_user: env["auth_user"].as_str().map(str::to_string),
                    tls: env["tls"].as_bool().unwrap_or(false),
                    data,
                }
            })
            .collect()
    }

    /// Number of accepted messages so far.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.maildir().join("new"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    /// Block until at least `n` messages were accepted and return them all;
    /// panics (with the peer's log) after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        if !poll_until(timeout, || self.count() >= n) {
            panic!(
                "the SMTP peer got {} of {n} messages within {timeout:?}\n{}",
                self.count(),
                self.diagnostics()
            );
        }
        self.messages()
    }

    /// [`SmtpPeer::wait_for`] without blocking the async runtime.
    pub async fn wait_for_async(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        while self.count() < n {
            if Instant::now() >= deadline {
                panic!(
                    "the SMTP peer got {} of {n} messages within {timeout:?}\n{}",
                    self.count(),
                    self.diagnostics()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.messages()
    }

    /// The script's log (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn diagnostics(&self) -> String {
        format!("--- smtpd.log (end) ---\n{}", log_tail(&self.log, 8000))
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the SMTP peer is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open smtpd.log");
        let err = log.try_clone().expect("clone the smtpd.log handle");
        let mut cmd = Command::new(PYTHON);
        cmd.arg("-u")
            .arg(SCRIPT)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--security")
            .arg(match self.options.security {
                Security::None => "none",
                Security::StartTls => "starttls",
                Security::Tls => "tls",
            })
            .arg("--cert")
            .arg(&self.certs.cert_pem)
            .arg("--key")
            .arg(&self.certs.key_pem);
        if let Some((user, password)) = &self.options.auth {
            cmd.arg("--user").arg(user).arg("--password").arg(password);
        }
        let child = cmd
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("run {PYTHON} {SCRIPT}: {e}"));
        self.child = Some(child);
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last: String;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("smtpd.py exited during startup ({status})"));
            }
            let probe = if self.options.security == Security::Tls {
                // A TCP connect suffices; the TLS tests do real handshakes.
                TcpStream::connect(("127.0.0.1", self.port))
                    .map(|_| "connected".to_string())
                    .map_err(|e| e.to_string())
            } else {
                smtp_greeting(self.port).map_err(|e| e.to_string())
            };
            match probe {
                Ok(line) if line == "connected" || line.starts_with("220") => return Ok(()),
                Ok(line) => last = format!("greeting {line:?}"),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer on 127.0.0.1:{} within {READY_TIMEOUT:?} (last: {last})",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn kill_child(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        self.kill_child();
    }
}

/// Fail, naming the fix, when Debian's aiosmtpd is not installed.
pub fn require_aiosmtpd() {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *OK.get_or_init(|| {
        Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        ok,
        "{PYTHON} cannot import aiosmtpd: install Debian's python3-aiosmtpd \
         (tests/run does it as root)"
    );
}

fn smtp_greeting(port: u16) -> std::io::Result<String> {
    let stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let _ = std::io::Write::write_all(&mut &stream, b"QUIT\r\n");
    Ok(line.trim_end().to_string())
}
