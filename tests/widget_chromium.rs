//! End to end: the website chat widget in real headless Chromium, driven over
//! the W3C WebDriver protocol (chromedriver), talking to the real server from a
//! host page on another origin.

mod common;

use common::webdriver::{self, WebDriver};
use common::{Server, wait_for};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

    let wd = start_widget_driver().await;
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
    let wd = start_widget_driver().await;
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
    webdriver::require_browser();
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

/// A browser whose failure dumps show the widget's markup and localStorage.
async fn start_widget_driver() -> WebDriver {
    let mut wd = WebDriver::start().await;
    wd.dump_script = "var r = document.querySelector('[data-atalaya=root]'); \
        return (r ? r.outerHTML : 'no widget root') + '\\nlocalStorage: ' + \
        JSON.stringify(Object.assign({}, localStorage));"
        .to_string();
    wd
}

/// The widget's message list, read from the page.
trait WidgetMessages {
    /// The widget's messages in DOM order, as (direction, text).
    async fn messages(&self) -> Vec<(String, String)>;
    /// Poll the DOM (up to 10 s) until `pred` holds for the message list.
    async fn wait_messages(
        &self,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> Option<Vec<(String, String)>>;
}

impl WidgetMessages for WebDriver {
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
}
