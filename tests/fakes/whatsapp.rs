//! A local WhatsApp Cloud API (Graph API) for tests: the messages endpoint
//! (text messages, and template messages checked against the approved
//! templates) and the phone-number read, with Meta's JSON shapes and error bodies, plus
//! helpers that build and sign the webhook deliveries Meta would send.
//!
//! It runs on 127.0.0.1:0 in its own thread and Tokio runtime, checks the
//! bearer token, answers with fresh `wamid`s, records every request with the
//! time it arrived, and can be told to fail or delay the next requests.
#![allow(dead_code)]

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Graph API version the connector calls.
pub const VERSION: &str = "v21.0";

/// What the next request to the messages endpoint gets instead of success.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A Graph error body with this HTTP status and error code.
    Graph {
        status: u16,
        code: i64,
        message: String,
        details: String,
    },
    /// A bare status with a non-JSON body (a proxy in front of Graph).
    Raw(u16, String),
    /// Wait this long, then answer normally (the message is sent).
    Delay(Duration),
}

impl Fault {
    pub fn graph(status: u16, code: i64, message: &str, details: &str) -> Fault {
        Fault::Graph {
            status,
            code,
            message: message.into(),
            details: details.into(),
        }
    }

    /// Cloud API throughput limit.
    pub fn rate_limited() -> Fault {
        Fault::graph(
            400,
            130429,
            "(#130429) Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
    }

    /// An expired access token.
    pub fn expired_token() -> Fault {
        Fault::graph(
            401,
            190,
            "Error validating access token: Session has expired on Tuesday, 01-Dec-26 10:00:00 PST.",
            "",
        )
    }

    pub fn undeliverable() -> Fault {
        Fault::graph(
            400,
            131026,
            "Message undeliverable",
            "Unable to deliver message. The recipient may not be a WhatsApp user.",
        )
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// The wamid returned, when it was accepted.
    pub wamid: Option<String>,
}

struct State_ {
    token: String,
    phone_number_id: String,
    requests: Vec<Request>,
    faults: VecDeque<Fault>,
    next: u64,
    /// Approved templates: (name, language code).
    templates: Vec<(String, String)>,
}

type Shared = Arc<Mutex<State_>>;

/// The running fake.
pub struct FakeWhatsapp {
    port: u16,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeWhatsapp {
    /// Serve `phone_number_id`, accepting only `Bearer {token}`.
    pub fn start(phone_number_id: &str, token: &str) -> FakeWhatsapp {
        let state: Shared = Arc::new(Mutex::new(State_ {
            token: token.into(),
            phone_number_id: phone_number_id.into(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            next: 1,
            templates: Vec::new(),
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/{version}/{id}/messages", post(messages))
            .route("/{version}/{id}", get(phone_number))
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        FakeWhatsapp {
            port,
            state,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Approve a message template (as WhatsApp Manager would): only
    /// approved (name, language) pairs are accepted.
    pub fn approve(&self, name: &str, language: &str) {
        self.state
            .lock()
            .unwrap()
            .templates
            .push((name.into(), language.into()));
    }

    /// The next requests to the messages endpoint meet these, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests to the messages endpoint.
    pub fn sends(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .collect()
    }

    /// Sends addressed to `wa_id`.
    pub fn sends_to(&self, wa_id: &str) -> Vec<Request> {
        self.sends()
            .into_iter()
            .filter(|r| r.body["to"] == wa_id)
            .collect()
    }
}

impl Drop for FakeWhatsapp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn graph_error(status: u16, code: i64, message: &str, details: &str) -> Response {
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
    });
    if !details.is_empty() {
        err["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({ "error": err }))).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `POST /{version}/{phone-number-id}/messages`.
async fn messages(
    State(state): State<Shared>,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let auth = bearer(&headers);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let record = |status: u16, wamid: Option<String>| Request {
        at,
        method: "POST".into(),
        path: format!("/{version}/{id}/messages"),
        authorization: auth.clone(),
        body: parsed.clone(),
        status,
        wamid,
    };
    let (token, number, fault) = {
        let mut s = state.lock().unwrap();
        let fault = s.faults.pop_front();
        (s.token.clone(), s.phone_number_id.clone(), fault)
    };
    let push = |r: Request| state.lock().unwrap().requests.push(r);
    if auth.as_deref() != Some(&format!("Bearer {token}")) {
        push(record(401, None));
        return graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "",
        );
    }
    if version != VERSION {
        push(record(400, None));
        return graph_error(
            400,
            2635,
            "(#2635) You are calling a deprecated version",
            "",
        );
    }
    if id != number {
        push(record(400, None));
        return graph_error(
            400,
            100,
            &format!(
                "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            "",
        );
    }
    let invalid = |what: &str| {
        graph_error(
            400,
            100,
            "(#100) Invalid parameter",
            &format!("Parameter {what} is required or invalid"),
        )
    };
    let problem = if parsed["messaging_product"] != "whatsapp" {
        Some("messaging_product")
    } else if !parsed["to"]
        .as_str()
        .is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
    {
        Some("to")
    } else if parsed["type"] != "text" && parsed["type"] != "template" {
        Some("type")
    } else if parsed["type"] == "text"
        && !parsed["text"]["body"]
            .as_str()
            .is_some_and(|b| !b.trim().is_empty() && b.chars().count() <= 4096)
    {
        Some("text['body']")
    } else if parsed["type"] == "template" && !parsed["template"].is_object() {
        Some("template")
    } else if parsed["type"] == "template"
        && parsed["template"]["name"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        Some("template['name']")
    } else if parsed["type"] == "template"
        && parsed["template"]["language"]["code"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        Some("template['language']['code']")
    } else if parsed.get("context").is_some()
        && !parsed["context"]["message_id"]
            .as_str()
            .is_some_and(|m| m.starts_with("wamid."))
    {
        Some("context['message_id']")
    } else {
        None
    };
    if let Some(p) = problem {
        push(record(400, None));
        return invalid(p);
    }
    // A template must be approved, in that language, for this account.
    if parsed["type"] == "template" {
        let name = parsed["template"]["name"].as_str().unwrap_or_default();
        let code = parsed["template"]["language"]["code"]
            .as_str()
            .unwrap_or_default();
        let approved = state
            .lock()
            .unwrap()
            .templates
            .iter()
            .any(|(n, c)| n == name && c == code);
        if !approved {
            push(record(404, None));
            return graph_error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                &format!("template name ({name}) does not exist in {code}"),
            );
        }
    }
    match fault {
        Some(Fault::Graph {
            status,
            code,
            message,
            details,
        }) => {
            push(record(status, None));
            return graph_error(status, code, &message, &details);
        }
        Some(Fault::Raw(status, text)) => {
            push(record(status, None));
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (status, text).into_response();
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let to = parsed["to"].as_str().unwrap_or_default().to_string();
    let wamid = {
        let mut s = state.lock().unwrap();
        let n = s.next;
        s.next += 1;
        format!("wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI{n:08X}")
    };
    push(record(200, Some(wamid.clone())));
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": wamid }],
    }))
    .into_response()
}

/// `GET /{version}/{phone-number-id}?fields=...`.
async fn phone_number(
    State(state): State<Shared>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = bearer(&headers);
    let (token, number) = {
        let s = state.lock().unwrap();
        (s.token.clone(), s.phone_number_id.clone())
    };
    let ok = auth.as_deref() == Some(&format!("Bearer {token}"));
    let status = match (ok, id == number) {
        (false, _) => 401,
        (true, false) => 400,
        (true, true) => 200,
    };
    state.lock().unwrap().requests.push(Request {
        at: Instant::now(),
        method: "GET".into(),
        path: format!("/{version}/{id}"),
        authorization: auth,
        body: json!(q),
        status,
        wamid: None,
    });
    match status {
        401 => graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "",
        ),
        400 => graph_error(
            400,
            100,
            &format!("Unsupported get request. Object with ID '{id}' does not exist"),
            "",
        ),
        _ => {
            let mut out = json!({ "id": id });
            let fields = q.get("fields").cloned().unwrap_or_default();
            for f in fields.split(',') {
                match f {
                    "display_phone_number" => out[f] = json!("+1 555-010-0199"),
                    "verified_name" => out[f] = json!("Tienda Nordia"),
                    "quality_rating" => out[f] = json!("GREEN"),
                    _ => {}
                }
            }
            Json(out).into_response()
        }
    }
}

// ---------------------------------------------------------------------------
// Webhook deliveries (what Meta POSTs to us).

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `sha256=<hex>` of the body with the app secret, as Meta signs it.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A `messages` change for `phone_number_id` with this value (metadata added).
pub fn envelope(phone_number_id: &str, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": "15550100199",
        "phone_number_id": phone_number_id,
    });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": value }] }],
    })
}

/// A customer's message of `kind` with its object (`{"body": ..}` for text).
pub fn inbound(
    phone_number_id: &str,
    wa_id: &str,
    name: &str,
    wamid: &str,
    timestamp: i64,
    kind: &str,
    object: Value,
) -> Value {
    let mut msg = json!({
        "from": wa_id,
        "id": wamid,
        "timestamp": timestamp.to_string(),
        "type": kind,
    });
    msg[kind] = object;
    envelope(
        phone_number_id,
        json!({
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
            "messages": [msg],
        }),
    )
}

/// A text message.
pub fn text(
    phone_number_id: &str,
    wa_id: &str,
    name: &str,
    wamid: &str,
    timestamp: i64,
    body: &str,
) -> Value {
    inbound(
        phone_number_id,
        wa_id,
        name,
        wamid,
        timestamp,
        "text",
        json!({ "body": body }),
    )
}

/// An image with a caption.
pub fn image(
    phone_number_id: &str,
    wa_id: &str,
    name: &str,
    wamid: &str,
    timestamp: i64,
    caption: &str,
) -> Value {
    inbound(
        phone_number_id,
        wa_id,
        name,
        wamid,
        timestamp,
        "image",
        json!({
            "caption": caption,
            "mime_type": "image/jpeg",
            "sha256": "Z0wSTyOh1cfXCPx7SLCvhm2hPdNP+mC0j4thE3NM4ug=",
            "id": "1487360148667321",
        }),
    )
}

/// A status of one of our messages; `errors` for `failed`.
pub fn status(
    phone_number_id: &str,
    wamid: &str,
    status: &str,
    recipient: &str,
    errors: Option<Value>,
) -> Value {
    let mut s = json!({
        "id": wamid,
        "status": status,
        "timestamp": unix_now().to_string(),
        "recipient_id": recipient,
    });
    if status != "failed" {
        s["conversation"] = json!({
            "id": "0a1b2c3d4e5f",
            "origin": { "type": "service" },
        });
        s["pricing"] = json!({ "billable": true, "pricing_model": "PMP", "category": "service" });
    }
    if let Some(e) = errors {
        s["errors"] = e;
    }
    envelope(phone_number_id, json!({ "statuses": [s] }))
}

/// The errors of a `failed` status for a reply outside the 24-hour window.
pub fn reengagement_error() -> Value {
    json!([{
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {
            "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    }])
}

/// POST a delivery to `{server}/webhooks/{channel}` signed with `app_secret`;
/// returns the status and body.
pub async fn deliver(
    server: &str,
    channel: &str,
    app_secret: &str,
    payload: &Value,
) -> (u16, String) {
    let body = serde_json::to_vec(payload).unwrap();
    let sig = sign(app_secret, &body);
    post_raw(server, channel, Some(&sig), body).await
}

/// POST raw bytes with the given signature header (or none).
pub async fn post_raw(
    server: &str,
    channel: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut req = client
        .post(format!("{server}/webhooks/{channel}"))
        .header("content-type", "application/json")
        .header("user-agent", "facebookexternalua")
        .body(body);
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let res = req.send().await.expect("POST the webhook");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}
