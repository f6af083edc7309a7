//! Shared integration-test harness: runs the real `atalaya` binary on a
//! temporary data directory and a free local port.
//!
//! Each test file does `mod common;` and uses only part of this module, so
//! unused items are allowed.
#![allow(dead_code)]

pub mod api;
pub mod peers;
pub mod webdriver;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The first admin's email, created on an empty data directory.
pub const ADMIN_EMAIL: &str = "admin@example.test";

/// How long the server gets to answer `GET /healthz` with 200 after a start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `terminate` waits for a clean exit after SIGTERM (the contract says 10 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `atalaya serve` child process with its own temporary directory.
///
/// The temporary directory holds `atalaya.toml`, `server.log` (stdout and
/// stderr of every run, appended) and `data/` (the data directory).
pub struct Server {
    child: Option<Child>,
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    config_path: PathBuf,
    log_path: PathBuf,
    pub admin_email: String,
    pub admin_password: String,
}

impl Server {
    /// Start a server on a fresh data directory and a free port. `extra_config_toml`
    /// is appended after the `[server]` table (lines before any table header
    /// therefore land in `[server]`).
    pub async fn start(extra_config_toml: &str) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("atalaya-test-")
            .tempdir()
            .expect("create a temporary directory");
        let data = dir.path().join("data");
        let config_path = dir.path().join("atalaya.toml");
        let log_path = dir.path().join("server.log");
        let port = free_port();
        let config = format!(
            "[server]\nlisten = {listen}\ndata = {data}\n{extra_config_toml}\n",
            listen = toml_string(&format!("127.0.0.1:{port}")),
            data = toml_string(&data.to_string_lossy()),
        );
        std::fs::write(&config_path, config).expect("write the test config file");
        let mut server = Server {
            child: None,
            dir,
            data,
            port,
            config_path,
            log_path,
            admin_email: ADMIN_EMAIL.to_string(),
            admin_password: format!("pw-{}", uuid::Uuid::new_v4().simple()),
        };
        server.spawn();
        server.wait_healthy().await;
        server
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The temporary directory holding the config, the log and the data directory.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the running child, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the server wrote to stdout and stderr so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL the server and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the server again on the same data directory, config and port, and
    /// wait for `/healthz`. A still-running previous process is killed first.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_healthy().await;
    }

    /// SIGTERM the server and wait for it to exit (this blocks the calling
    /// thread). Panics, with the log, if it is still running after 15 s.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("terminate: the server is not running");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            matches!(sent, Ok(s) if s.success()),
            "could not send SIGTERM to {pid}: {sent:?}"
        );
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the server did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM\n\
                         --- server log ---\n{}",
                        self.log()
                    );
                }
                Err(e) => panic!("waiting for the server: {e}"),
            }
        }
    }

    /// Log in as the first admin and return the bearer token.
    pub async fn admin_token(&self) -> String {
        let res = Self::client()
            .post(format!("{}/api/v1/login", self.base_url()))
            .json(&serde_json::json!({
                "email": self.admin_email,
                "password": self.admin_password,
            }))
            .send()
            .await
            .expect("POST /api/v1/login");
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 200, "admin login failed: {body}");
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("login answer is not JSON ({e}): {body}"));
        v["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answer has no token: {body}"))
            .to_string()
    }

    /// An HTTP client for talking to the server: rustls with ring, no proxy,
    /// 30 s timeout.
    pub fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .expect("build the HTTP client")
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open the server log file");
        let out: File = log.try_clone().expect("clone the log file handle");
        let child = Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .env_remove("ATALAYA_DATA")
            .env_remove("ATALAYA_LISTEN")
            .env_remove("ATALAYA_CONFIG")
            .env("ATALAYA_ADMIN_EMAIL", &self.admin_email)
            .env("ATALAYA_ADMIN_PASSWORD", &self.admin_password)
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("spawn the atalaya binary");
        self.child = Some(child);
    }

    async fn wait_healthy(&mut self) {
        let client = Self::client();
        let url = format!("{}/healthz", self.base_url());
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last: String;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "the server exited during startup ({status})\n--- server log ---\n{}",
                    self.log()
                );
            }
            match client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(res) if res.status().as_u16() == 200 => return,
                Ok(res) => {
                    let status = res.status();
                    last = format!("{status}: {}", res.text().await.unwrap_or_default());
                }
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                self.kill9();
                panic!(
                    "GET /healthz did not answer 200 within {STARTUP_TIMEOUT:?} (last: {last})\n\
                     --- server log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A port that was free on 127.0.0.1 a moment ago (bound to port 0, read, dropped).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A TOML basic string literal for `s`.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Poll `f` every 100 ms until it returns `Some`, or give up after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
