//! End to end: the website chat widget in real headless Chromium, driven over
//! the W3C WebDriver protocol (chromedriver), talking to the real server from a
//! host page on another origin.

mod common;

use common::{Server, wait_for};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

const NAME: &str = "Lucía Test";
const EMAIL: &str = "lucia.test@example.test";
const FIRST: &str = "Hola, mi pedido #A-1042 no ha llegado";
const REPLY: &str = "Hola Lucía, lo revisamos ahora mismo: sale hoy con Correos.";
const SECOND: &str = "¡Gracias! Quedo atenta.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_round_trip_in_chromium() {
    let (server, host_origin) = start_server_and_host().await;
    let base = &server.base_url();
    let api = &Server::client();
    let token = &server.admin_token().await;

    let wd = WebDriver::start().await;
    let fail = |what: &str| -> String { format!("{what}\n--- server log ---\n{}", server.log()) };

    // First visit: launcher, name form, first message.
    wd.navigate(&format!("{host_origin}/tienda")).await;
    let launcher = wd.wait_displayed("[data-atalaya=launcher]").await;
    let root_position = wd
        .execute(
            "return getComputedStyle(document.querySelector('[data-atalaya=root]')).position",
            json!([]),
        )
        .await;
    assert_eq!(
        root_position,
        json!("fixed"),
        "widget styles were not applied under the CSP"
    );
    wd.click(&launcher).await;
    wd.wait_displayed("[data-atalaya=panel]").await;
    let name = wd.wait_displayed("[data-atalaya=name]").await;
    wd.send_keys(&name, NAME).await;
    let email = wd.find("[data-atalaya=email]").await.expect("email field");
    wd.send_keys(&email, EMAIL).await;
    let start = wd.find("[data-atalaya=start]").await.expect("start button");
    wd.click(&start).await;

    let input = wd.wait_displayed("[data-atalaya=input]").await;
    wd.send_keys(&input, FIRST).await;
    let send = wd.find("[data-atalaya=send]").await.expect("send button");
    wd.click(&send).await;
    let shown = wd.wait_messages(|m| has(m, "in", FIRST)).await;
    assert!(
        shown.is_some(),
        "{}",
        fail(&format!("own message not shown: {}", wd.dump().await))
    );
    let value = wd.execute(
        "return document.querySelector('[data-atalaya=input]').value",
        json!([]),
    );
    assert_eq!(
        value.await,
        json!(""),
        "the input was not cleared after a send"
    );

    // The business sees it in the inbox.
    let conv_id = wait_for(Duration::from_secs(10), || async move {
        let list = get_json(
            api,
            token,
            &format!("{base}/api/v1/conversations?status=open"),
        )
        .await;
        list["items"].as_array()?.iter().find_map(|c| {
            let ok = c["channel"] == "webchat" && c["contact"]["name"] == NAME;
            ok.then(|| c["id"].clone())
        })
    })
    .await
    .unwrap_or_else(|| panic!("{}", fail("no open webchat conversation from the visitor")));
    let conv_url = format!("{base}/api/v1/conversations/{}", id_str(&conv_id));
    let conv = get_json(api, token, &conv_url).await;
    let messages = conv["messages"].as_array().cloned().unwrap_or_default();
    assert!(
        messages
            .iter()
            .any(|m| m["direction"] == "in" && m["text"] == FIRST),
        "the conversation lacks the visitor's message: {conv:#}"
    );

    // An agent answers; the reply reaches the page without a reload.
    let res = api
        .post(format!("{conv_url}/messages"))
        .bearer_auth(token)
        .json(&json!({"text": REPLY}))
        .send()
        .await
        .expect("POST reply");
    let status = res.status().as_u16();
    assert_eq!(
        status,
        201,
        "agent reply: {}",
        res.text().await.unwrap_or_default()
    );
    let shown = wd.wait_messages(|m| has(m, "out", REPLY)).await;
    assert!(
        shown.is_some(),
        "{}",
        fail(&format!("agent reply not shown: {}", wd.dump().await))
    );
    let out = wd
        .find(r#"[data-atalaya=message][data-direction="out"] [data-atalaya=text]"#)
        .await
        .expect("out message element");
    assert_eq!(
        wd.text(&out).await,
        REPLY,
        "visible text of the agent's reply"
    );

    // A reload keeps the session: history is shown and the conversation continues.
    let key = format!("atalaya-widget:{base}:webchat");
    let stored = wd
        .execute("return localStorage.getItem(arguments[0])", json!([key]))
        .await;
    assert!(
        stored.is_string(),
        "no session in localStorage under {key}: {stored}"
    );
    wd.refresh().await;
    let launcher = wd.wait_displayed("[data-atalaya=launcher]").await;
    if !wd.displayed_now("[data-atalaya=panel]").await {
        wd.click(&launcher).await;
    }
    let both = wd
        .wait_messages(|m| has(m, "in", FIRST) && has(m, "out", REPLY))
        .await;
    assert!(
        both.is_some(),
        "{}",
        fail(&format!("history lost on reload: {}", wd.dump().await))
    );
    for (dir, text) in [("in", FIRST), ("out", REPLY)] {
        let css = format!(r#"[data-atalaya=message][data-direction="{dir}"] [data-atalaya=text]"#);
        let el = wd.find(&css).await.expect("message after reload");
        assert_eq!(
            wd.text(&el).await,
            text,
            "visible {dir} message after reload"
        );
    }
    assert!(
        !wd.displayed_now("[data-atalaya=name]").await,
        "the name form came back"
    );

    // Enter sends; the message joins the same conversation.
    let input = wd.wait_displayed("[data-atalaya=input]").await;
    wd.send_keys(&input, &format!("{SECOND}\u{E007}")).await;
    let shown = wd.wait_messages(|m| has(m, "in", SECOND)).await;
    assert!(
        shown.is_some(),
        "{}",
        fail(&format!("Enter did not send: {}", wd.dump().await))
    );
    let conv_url = &conv_url;
    let same = wait_for(Duration::from_secs(10), || async move {
        let conv = get_json(api, token, conv_url).await;
        let msgs = conv["messages"].as_array()?.clone();
        msgs.iter()
            .any(|m| m["direction"] == "in" && m["text"] == SECOND)
            .then_some(())
    })
    .await;
    assert!(
        same.is_some(),
        "{}",
        fail("the message after reload is not in the same conversation")
    );

    wd.quit().await;
}

/// A send while the server is down shows an error and keeps the text; the retry
/// after a restart goes through; a session the server no longer knows (401)
/// brings back the name form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_send_failure_and_lost_session() {
    let (mut server, host_origin) = start_server_and_host().await;
    let wd = WebDriver::start().await;
    wd.navigate(&format!("{host_origin}/")).await;
    let launcher = wd.wait_displayed("[data-atalaya=launcher]").await;
    wd.click(&launcher).await;
    let name = wd.wait_displayed("[data-atalaya=name]").await;
    wd.send_keys(&name, "Visitante\u{E007}").await; // Enter submits the name form
    let input = wd.wait_displayed("[data-atalaya=input]").await;

    server.kill9();
    let text = "¿Seguís ahí?";
    wd.send_keys(&input, text).await;
    let send = wd.find("[data-atalaya=send]").await.expect("send button");
    wd.click(&send).await;
    let error = wait_for(Duration::from_secs(10), || async {
        let el = wd.find("[data-atalaya=error]").await?;
        let t = wd.text(&el).await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert!(
        error.is_some(),
        "no error line after a failed send: {}",
        wd.dump().await
    );
    let kept = wd.execute(
        "return document.querySelector('[data-atalaya=input]').value",
        json!([]),
    );
    assert_eq!(
        kept.await,
        json!(text),
        "the typed text was not kept after a failed send"
    );
    assert!(
        wd.messages().await.is_empty(),
        "a failed send was shown as sent"
    );

    server.restart().await;
    wd.click(&send).await;
    let shown = wd.wait_messages(|m| has(m, "in", text)).await;
    let log = server.log();
    assert!(
        shown.is_some(),
        "retry failed: {}\n--- server log ---\n{log}",
        wd.dump().await
    );
    let el = wd.find("[data-atalaya=error]").await.expect("error line");
    assert_eq!(
        wd.text(&el).await,
        "",
        "the error line stayed after a good send"
    );

    // The server forgets the session: the widget starts over with the name form.
    let base = server.base_url();
    let key = format!("atalaya-widget:{base}:webchat");
    let bogus = json!({"token": "not-a-valid-token", "name": "Visitante"}).to_string();
    wd.execute(
        "localStorage.setItem(arguments[0], arguments[1])",
        json!([key, bogus]),
    )
    .await;
    wd.refresh().await;
    let launcher = wd.wait_displayed("[data-atalaya=launcher]").await;
    if !wd.displayed_now("[data-atalaya=panel]").await {
        wd.click(&launcher).await;
    }
    wd.wait_displayed("[data-atalaya=name]").await;
    let stored = wd.execute("return localStorage.getItem(arguments[0])", json!([key]));
    assert_eq!(
        stored.await,
        Value::Null,
        "the dead session stayed in localStorage"
    );
    assert!(
        wd.messages().await.is_empty(),
        "messages shown without a session"
    );

    wd.quit().await;
}

/// Check the browser is installed, then start the server with a webchat channel
/// that allows a second local origin serving the host page. Returns the server
/// and that origin.
async fn start_server_and_host() -> (Server, String) {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: this test needs Chromium and chromedriver; run `tests/run`, \
             which installs them"
        );
    }
    // The business's website, on its own origin.
    let host = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind host page");
    let host_origin = format!("http://127.0.0.1:{}", host.local_addr().unwrap().port());
    let server = Server::start(&format!(
        "\n[[channel.webchat]]\nname = \"webchat\"\nallowed_origins = [\"{host_origin}\"]\n"
    ))
    .await;
    tokio::spawn(serve_host_page(host, server.port()));
    (server, host_origin)
}

/// Whether the widget's message list (as returned by `WebDriver::messages`)
/// holds a message with this direction and text.
fn has(messages: &[(String, String)], direction: &str, text: &str) -> bool {
    messages.iter().any(|(d, t)| d == direction && t == text)
}

fn id_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn get_json(client: &reqwest::Client, token: &str, url: &str) -> Value {
    let res = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// A tiny HTTP/1.1 server for the host page: any path gets the page, with a
/// strict Content-Security-Policy that still admits the widget.
async fn serve_host_page(listener: tokio::net::TcpListener, server_port: u16) {
    let widget_origin = format!("http://127.0.0.1:{server_port}");
    let page = format!(
        "<!doctype html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">\
         <title>Tienda de prueba</title></head>\n<body><h1>Tienda de prueba</h1>\
         <p>Productos, precios y envíos.</p>\n\
         <script src=\"{widget_origin}/widget.js\" data-channel=\"webchat\" data-lang=\"es\" \
         async></script>\n</body></html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src {widget_origin}; connect-src {widget_origin}; \
         style-src 'self'; img-src 'self'"
    );
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let (page, csp) = (page.clone(), csp.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 2048];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let request_line = String::from_utf8_lossy(&buf);
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, ctype, body) = if path == "/favicon.ico" {
                ("404 Not Found", "text/plain", String::from("not found"))
            } else {
                ("200 OK", "text/html; charset=utf-8", page)
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
                 Content-Security-Policy: {csp}\r\nCache-Control: no-store\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// A minimal W3C WebDriver client over chromedriver. Dropping it deletes the
/// session (closing Chromium) and kills chromedriver's process group, also when
/// the test panics.
struct WebDriver {
    http: reqwest::Client,
    port: u16,
    session: Option<String>,
    child: Option<Child>,
    profile: tempfile::TempDir,
}

impl WebDriver {
    async fn start() -> WebDriver {
        let profile = tempfile::Builder::new()
            .prefix("atalaya-chromium-")
            .tempdir()
            .expect("temporary Chromium profile");
        let port = common::free_port();
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
        };
        let wdr = &wd;
        let ready = wait_for(Duration::from_secs(20), || async move {
            let v = wdr.call(reqwest::Method::GET, "/status", None).await.ok()?;
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
        let v = match wd.call(reqwest::Method::POST, "/session", Some(caps)).await {
            Ok(v) => v,
            Err(e) => panic!("new WebDriver session: {e}\n{}", wd.driver_log()),
        };
        let id = v["sessionId"].as_str().expect("sessionId").to_string();
        wd.session = Some(id);
        wd
    }

    fn driver_log(&self) -> String {
        let log = std::fs::read_to_string(self.profile.path().join("chromedriver.log"));
        format!("--- chromedriver log ---\n{}", log.unwrap_or_default())
    }

    /// One WebDriver command; `Ok(value)` or `Err("error: message")`.
    async fn call(
        &self,
        method: reqwest::Method,
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

    /// A command on the current session; panics on a WebDriver error.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let sid = self.session.as_deref().expect("no WebDriver session");
        let full = format!("/session/{sid}{path}");
        match self.call(method, &full, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {e}"),
        }
    }

    async fn navigate(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn refresh(&self) {
        self.cmd(reqwest::Method::POST, "/refresh", Some(json!({})))
            .await;
    }

    /// The first element matching `css`, or `None`.
    async fn find(&self, css: &str) -> Option<String> {
        let sid = self.session.as_deref()?;
        let body = json!({"using": "css selector", "value": css});
        let path = format!("/session/{sid}/element");
        let v = self
            .call(reqwest::Method::POST, &path, Some(body))
            .await
            .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    async fn displayed(&self, el: &str) -> bool {
        let sid = self.session.as_deref().unwrap_or_default();
        let path = format!("/session/{sid}/element/{el}/displayed");
        matches!(
            self.call(reqwest::Method::GET, &path, None).await,
            Ok(Value::Bool(true))
        )
    }

    async fn displayed_now(&self, css: &str) -> bool {
        match self.find(css).await {
            Some(el) => self.displayed(&el).await,
            None => false,
        }
    }

    /// Wait (up to 10 s) for an element matching `css` to be displayed.
    async fn wait_displayed(&self, css: &str) -> String {
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

    async fn click(&self, el: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn send_keys(&self, el: &str, text: &str) {
        let body = json!({"text": text});
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(body),
        )
        .await;
    }

    async fn text(&self, el: &str) -> String {
        let v = self
            .cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// The widget's messages in DOM order, as (direction, text).
    async fn messages(&self) -> Vec<(String, String)> {
        let v = self
            .execute(
                "return Array.from(document.querySelectorAll('[data-atalaya=message]')).map(\
                 m => [m.getAttribute('data-direction'), \
                 (m.querySelector('[data-atalaya=text]') || m).textContent])",
                json!([]),
            )
            .await;
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|p| {
                        let s = |i: usize| p[i].as_str().unwrap_or_default().to_string();
                        (s(0), s(1))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Poll the DOM (up to 10 s) until `pred` holds for the message list.
    async fn wait_messages(
        &self,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> Option<Vec<(String, String)>> {
        let pred = &pred;
        wait_for(Duration::from_secs(10), || async move {
            let m = self.messages().await;
            pred(&m).then_some(m)
        })
        .await
    }

    /// The widget's state for failure messages.
    async fn dump(&self) -> String {
        let sid = self.session.as_deref().unwrap_or_default();
        let body = json!({"script": "var r = document.querySelector('[data-atalaya=root]'); \
            return (r ? r.outerHTML : 'no widget root') + '\\nlocalStorage: ' + \
            JSON.stringify(Object.assign({}, localStorage));", "args": []});
        let path = format!("/session/{sid}/execute/sync");
        match self.call(reqwest::Method::POST, &path, Some(body)).await {
            Ok(v) => v.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(could not read the page: {e})"),
        }
    }

    /// Delete the session (closing Chromium) and stop chromedriver.
    async fn quit(mut self) {
        if let Some(sid) = self.session.take() {
            let path = format!("/session/{sid}");
            let _ = self.call(reqwest::Method::DELETE, &path, None).await;
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
