//! A minimal W3C WebDriver client over chromedriver, driving headless Chromium
//! for the browser tests. Dropping a [`WebDriver`] deletes its session (closing
//! Chromium) and kills chromedriver's process group, also when the test panics.

use super::{Server, free_port, wait_for};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver element reference key.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver key code of Enter (also used inside `send_keys` text).
pub const ENTER: &str = "\u{E007}";

/// What [`WebDriver::dump`] reports unless a test sets its own script: the
/// address and the start of the page's markup.
const DEFAULT_DUMP: &str = "var h = document.documentElement ? document.documentElement.outerHTML \
    : ''; return location.href + '\\n' + (h.length > 6000 ? h.slice(0, 6000) + '…' : h);";

/// Fail, naming the fix, when Chromium or chromedriver is not installed.
pub fn require_browser() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: this test needs Chromium and chromedriver; run `tests/run`, \
             which installs them"
        );
    }
}

/// One chromedriver process with one session (one Chromium with its own
/// temporary profile).
pub struct WebDriver {
    http: reqwest::Client,
    port: u16,
    session: Option<String>,
    child: Option<Child>,
    profile: tempfile::TempDir,
    /// The script [`WebDriver::dump`] runs to describe the page in failure messages.
    pub dump_script: String,
}

impl WebDriver {
    /// Start chromedriver and a headless Chromium session (1280x900, fresh profile).
    pub async fn start() -> WebDriver {
        require_browser();
        let profile = tempfile::Builder::new()
            .prefix("atalaya-chromium-")
            .tempdir()
            .expect("temporary Chromium profile");
        let port = free_port();
        let log = std::fs::File::create(profile.path().join("chromedriver.log"))
            .expect("chromedriver log file");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {CHROMEDRIVER}: {e}; run `tests/run`"));
        let mut wd = WebDriver {
            http: Server::client(),
            port,
            session: None,
            child: Some(child),
            profile,
            dump_script: DEFAULT_DUMP.to_string(),
        };
        let wdr = &wd;
        let ready = wait_for(Duration::from_secs(20), || async move {
            let v = wdr.call(Method::GET, "/status", None).await.ok()?;
            (v["ready"] == true).then_some(())
        })
        .await;
        assert!(
            ready.is_some(),
            "chromedriver did not become ready: {}",
            wd.driver_log()
        );

        let user_data_dir = wd.profile.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", user_data_dir.display()),
                ],
            },
            "timeouts": {"pageLoad": 30_000, "script": 10_000, "implicit": 0},
        }}});
        let v = match wd.call(Method::POST, "/session", Some(caps)).await {
            Ok(v) => v,
            Err(e) => panic!("new WebDriver session: {e}\n{}", wd.driver_log()),
        };
        let id = v["sessionId"].as_str().expect("sessionId").to_string();
        wd.session = Some(id);
        wd
    }

    pub fn driver_log(&self) -> String {
        let log = std::fs::read_to_string(self.profile.path().join("chromedriver.log"));
        format!("--- chromedriver log ---\n{}", log.unwrap_or_default())
    }

    /// One WebDriver command; `Ok(value)` or `Err("error: message")`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut req = self
            .http
            .request(method, &url)
            .timeout(Duration::from_secs(60));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        let ok = res.status().is_success();
        let v: Value = res
            .json()
            .await
            .map_err(|e| format!("{path}: bad JSON: {e}"))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(format!("{path}: {}: {}", value["error"], value["message"]))
        }
    }

    /// A command on the current session; `Err` on a WebDriver error.
    pub async fn try_cmd(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let sid = self.session.as_deref().ok_or("no WebDriver session")?;
        self.call(method, &format!("/session/{sid}{path}"), body)
            .await
    }

    /// A command on the current session; panics on a WebDriver error.
    pub async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.try_cmd(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {e}"),
        }
    }

    pub async fn navigate(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn refresh(&self) {
        self.cmd(Method::POST, "/refresh", Some(json!({}))).await;
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> String {
        let v = self.cmd(Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Wait (up to `timeout`) until the current address satisfies `pred`.
    pub async fn wait_url(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let pred = &pred;
        wait_for(timeout, || async move {
            let url = self.try_cmd(Method::GET, "/url", None).await.ok()?;
            let url = url.as_str()?.to_string();
            pred(&url).then_some(url)
        })
        .await
    }

    /// The first element matching `css`, or `None`.
    pub async fn find(&self, css: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self
            .try_cmd(Method::POST, "/element", Some(body))
            .await
            .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.cmd(Method::POST, "/elements", Some(body)).await;
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn displayed(&self, el: &str) -> bool {
        let path = format!("/element/{el}/displayed");
        matches!(
            self.try_cmd(Method::GET, &path, None).await,
            Ok(Value::Bool(true))
        )
    }

    pub async fn displayed_now(&self, css: &str) -> bool {
        match self.find(css).await {
            Some(el) => self.displayed(&el).await,
            None => false,
        }
    }

    /// Wait (up to 10 s) for an element matching `css` to be displayed.
    pub async fn wait_displayed(&self, css: &str) -> String {
        let found = wait_for(Duration::from_secs(10), || async move {
            let el = self.find(css).await?;
            self.displayed(&el).await.then_some(el)
        })
        .await;
        match found {
            Some(el) => el,
            None => panic!("{css} was not displayed within 10 s: {}", self.dump().await),
        }
    }

    pub async fn click(&self, el: &str) {
        self.cmd(
            Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// A click that reports a WebDriver error (say, not interactable) instead
    /// of panicking.
    pub async fn try_click(&self, el: &str) -> Result<(), String> {
        let path = format!("/element/{el}/click");
        self.try_cmd(Method::POST, &path, Some(json!({})))
            .await
            .map(drop)
    }

    pub async fn send_keys(&self, el: &str, text: &str) {
        let body = json!({"text": text});
        self.cmd(Method::POST, &format!("/element/{el}/value"), Some(body))
            .await;
    }

    /// Type `text` into whatever has the focus (W3C key actions), one key
    /// down and up per character; `ENTER` and other key codes work too.
    pub async fn press_keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.cmd(Method::POST, "/actions", Some(body)).await;
        let _ = self.try_cmd(Method::DELETE, "/actions", None).await;
    }

    pub async fn text(&self, el: &str) -> String {
        let v = self
            .cmd(Method::GET, &format!("/element/{el}/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// A DOM property of an element (`value`, `checked`, `href`, ...).
    pub async fn property(&self, el: &str, name: &str) -> Value {
        self.cmd(Method::GET, &format!("/element/{el}/property/{name}"), None)
            .await
    }

    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.cmd(Method::POST, "/execute/sync", Some(body)).await
    }

    /// Run `script` every 100 ms until it returns something other than
    /// `null`, `false` or `undefined`, for up to `timeout`.
    pub async fn wait_js(&self, timeout: Duration, script: &str, args: Value) -> Option<Value> {
        let args = &args;
        wait_for(timeout, || async move {
            let body = json!({"script": script, "args": args});
            let v = self
                .try_cmd(Method::POST, "/execute/sync", Some(body))
                .await
                .ok()?;
            (!matches!(v, Value::Null | Value::Bool(false))).then_some(v)
        })
        .await
    }

    /// The text of the open alert, confirm or prompt, if one is open.
    pub async fn alert_text(&self) -> Option<String> {
        let v = self.try_cmd(Method::GET, "/alert/text", None).await.ok()?;
        Some(v.as_str().unwrap_or_default().to_string())
    }

    /// Save a PNG screenshot of the viewport to `path` (parent directories are
    /// created).
    pub async fn screenshot(&self, path: &Path) {
        let v = self.cmd(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The page's state for failure messages (see `dump_script`).
    pub async fn dump(&self) -> String {
        let body = json!({"script": self.dump_script, "args": []});
        match self
            .try_cmd(Method::POST, "/execute/sync", Some(body))
            .await
        {
            Ok(v) => v.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(could not read the page: {e})"),
        }
    }

    /// Delete the session (closing Chromium) and stop chromedriver.
    pub async fn quit(mut self) {
        if let Some(sid) = self.session.take() {
            let path = format!("/session/{sid}");
            let _ = self.call(Method::DELETE, &path, None).await;
        }
        // Drop kills chromedriver.
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        // Synchronous on purpose (Drop cannot await, and this runs while a
        // panicking test unwinds): a raw HTTP DELETE with short timeouts.
        if let Some(sid) = self.session.take() {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
            if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "DELETE /session/{sid} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n",
                    self.port
                );
                if s.write_all(req.as_bytes()).is_ok() {
                    read_http_response(&mut s);
                }
            }
        }
        if let Some(mut child) = self.child.take() {
            // chromedriver leads its own process group; take any stray browser with it.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Read one HTTP/1.1 response (headers, then `Content-Length` bytes) and
/// discard it; chromedriver may keep the connection open after answering.
fn read_http_response(s: &mut std::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            return;
        }
    }
}
