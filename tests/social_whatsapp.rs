//! The WhatsApp Cloud API connector against a local fake of the Graph API:
//! the webhook subscription check, signed inbound deliveries (one
//! conversation per number, Meta's retries stored once, bad signatures
//! refused), replies within the 24-hour window with their statuses, replies
//! outside it refused before any call, and Graph errors.

mod common;
#[path = "fakes/whatsapp.rs"]
mod fake;

use common::{Server, toml_string, wait_for};
use fake::{FakeWhatsapp, Fault};
use serde_json::{Value, json};
use std::time::Duration;

const NUMBER: &str = "555";
/// Distinctive, so the log check cannot match an ordinary word.
const TOKEN: &str = "EAAtok-wa-9f3c2b7e";
const SECRET: &str = "shh";
const WINDOW_MSG: &str = "outside WhatsApp's 24-hour window";
const SEGUIMIENTO: &str = "Hola, tenemos novedades de tu caso. ¿Podemos seguir por aquí?";

fn config(fake: &FakeWhatsapp) -> String {
    format!(
        "[outbox]\nmin_backoff = \"100ms\"\nmax_backoff = \"1s\"\n\n\
         [[channel.whatsapp]]\nname = \"wa\"\nphone_number_id = {NUMBER:?}\n\
         access_token = {token}\napp_secret = {SECRET:?}\nverify_token = \"vt\"\n\
         base_url = {base}\n\
         templates = [{{ name = \"seguimiento_pedido\", language = \"es\", body = {SEGUIMIENTO:?} }}, \
         {{ name = \"order_update\", language = \"en_US\", body = \"Hi, we have news about your case.\" }}, \
         {{ name = \"encuesta\", language = \"es\", body = \"¿Qué tal te atendimos?\" }}]\n",
        token = toml_string(TOKEN),
        base = toml_string(&fake.base_url()),
    )
}

async fn start() -> (FakeWhatsapp, Server, String) {
    let fake = FakeWhatsapp::start(NUMBER, TOKEN);
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    (fake, server, token)
}

async fn get(server: &Server, token: &str, path: &str) -> Value {
    let res = Server::client()
        .get(format!("{}/api/v1{path}", server.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "GET {path}: {}", res.status());
    res.json().await.unwrap()
}

async fn all_conversations(server: &Server, token: &str) -> Vec<Value> {
    let v = get(
        server,
        token,
        "/conversations?status=all&limit=200&sort=oldest",
    )
    .await;
    v["items"].as_array().unwrap().clone()
}

async fn message_total(server: &Server, token: &str) -> u64 {
    all_conversations(server, token)
        .await
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum()
}

/// The conversation of the customer with this WhatsApp id.
async fn conversation_of(server: &Server, token: &str, wa_id: &str) -> Option<Value> {
    let handle = format!("+{wa_id}");
    all_conversations(server, token)
        .await
        .into_iter()
        .find(|c| c["contact"]["handle"] == handle.as_str())
}

async fn detail(server: &Server, token: &str, id: u64) -> Value {
    get(server, token, &format!("/conversations/{id}")).await
}

async fn reply(server: &Server, token: &str, id: u64, text: &str) -> u64 {
    let res = Server::client()
        .post(format!(
            "{}/api/v1/conversations/{id}/messages",
            server.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({ "text": text, "private": true }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "reply: {status} {body}");
    body["message_id"].as_u64().unwrap()
}

/// A message of a conversation once `pred` holds for it.
async fn wait_message(
    server: &Server,
    token: &str,
    conv: u64,
    msg: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let got = wait_for(Duration::from_secs(10), || async {
        let d = detail(server, token, conv).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == msg)
            .filter(|m| pred(m))
            .cloned()
    })
    .await;
    match got {
        Some(m) => m,
        None => panic!(
            "message {msg} never became {what}: {}\n{}",
            detail(server, token, conv).await,
            server.log()
        ),
    }
}

async fn delivered_as(server: &Server, token: &str, conv: u64, msg: u64, state: &str) -> Value {
    wait_message(server, token, conv, msg, state, |m| m["delivery"] == state).await
}

/// Deliver a payload signed with the right secret; expect 200.
async fn hook(server: &Server, payload: &Value) {
    let (status, body) = fake::deliver(&server.base_url(), "wa", SECRET, payload).await;
    assert_eq!(status, 200, "webhook delivery: {body}");
}

/// The subscription check; signed text and image messages become one
/// conversation per number; Meta's retry of a delivery stores nothing new;
/// a bad or missing signature is 401 and stores nothing; another number's
/// messages are ignored; "check connection" reads the number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_verify_and_ingest_once() {
    let (fake, server, token) = start().await;
    let client = Server::client();
    let verify = |vt: &str| {
        client
            .get(format!("{}/webhooks/wa", server.base_url()))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", vt),
                ("hub.challenge", "1158201444"),
            ])
            .send()
    };
    let res = verify("vt").await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.unwrap(), "1158201444");
    assert_eq!(verify("nope").await.unwrap().status().as_u16(), 403);

    let now = fake::unix_now();
    let ana = "34600111222";
    let luis = "5215512345678";
    let first = fake::text(
        NUMBER,
        ana,
        "Ana Pérez",
        "wamid.ANA1",
        now - 60,
        "Hola, mi pedido no llega",
    );
    hook(&server, &first).await;
    hook(
        &server,
        &fake::image(
            NUMBER,
            ana,
            "Ana Pérez",
            "wamid.ANA2",
            now - 30,
            "así llegó la caja",
        ),
    )
    .await;
    hook(
        &server,
        &fake::text(
            NUMBER,
            luis,
            "Luis",
            "wamid.LUIS1",
            now - 10,
            "¿Tienen envío a México?",
        ),
    )
    .await;
    // WhatsApp retries a delivery it thinks failed: nothing new.
    hook(&server, &first).await;
    assert_eq!(message_total(&server, &token).await, 3);

    // Wrong secret, tampered body, no signature: 401, nothing stored.
    let evil = fake::text(NUMBER, ana, "Ana Pérez", "wamid.EVIL", now, "transfer me");
    let (status, _) = fake::deliver(&server.base_url(), "wa", "not-the-secret", &evil).await;
    assert_eq!(status, 401);
    let body = serde_json::to_vec(&evil).unwrap();
    let sig = fake::sign(SECRET, b"something else");
    let (status, _) = fake::post_raw(&server.base_url(), "wa", Some(&sig), body.clone()).await;
    assert_eq!(status, 401);
    let (status, _) = fake::post_raw(&server.base_url(), "wa", None, body).await;
    assert_eq!(status, 401);
    // Another business number on the same app: ignored.
    hook(
        &server,
        &fake::text("777", ana, "Ana Pérez", "wamid.OTHER", now, "otro número"),
    )
    .await;
    assert_eq!(message_total(&server, &token).await, 3);

    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 2, "{convs:?}");
    let c = conversation_of(&server, &token, ana).await.unwrap();
    assert_eq!(c["channel"], "wa");
    assert_eq!(c["message_count"], 2);
    assert_eq!(c["contact"]["name"], "Ana Pérez");
    let d = detail(&server, &token, c["id"].as_u64().unwrap()).await;
    let texts: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["Hola, mi pedido no llega", "[image] así llegó la caja"]
    );
    let l = conversation_of(&server, &token, luis).await.unwrap();
    assert_eq!(l["message_count"], 1);

    // "Check connection" in the admin UI reads the number with the token.
    let browser = Browser::sign_in(&server).await;
    let (status, page) = browser.post("/admin/channels/wa/check", &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("+1 555-010-0199"), "{page}");
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].path, format!("/v21.0/{NUMBER}"));
    assert_eq!(reads[0].status, 200);
    assert!(fake.sends().is_empty());
    assert!(!server.log().contains(TOKEN));
}

/// A reply within 24 hours reaches WhatsApp quoting the customer's message,
/// becomes "sent", then "delivered" and "read" from the statuses (a late
/// "sent" does not move it back); a "failed" status with 131047 marks it
/// failed with the reason; a reply outside the window fails at once and
/// nothing is sent; Graph errors are retried or refused as they should be;
/// the token never reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_window_and_statuses() {
    let (fake, server, token) = start().await;
    let now = fake::unix_now();
    let ana = "34600111222";
    let old = "34911222333";
    hook(
        &server,
        &fake::text(NUMBER, ana, "Ana", "wamid.ANA1", now - 120, "Hola"),
    )
    .await;
    hook(
        &server,
        &fake::text(
            NUMBER,
            ana,
            "Ana",
            "wamid.ANA2",
            now - 60,
            "¿Dónde está mi pedido?",
        ),
    )
    .await;
    // The customer wrote 25 hours ago.
    hook(
        &server,
        &fake::text(
            NUMBER,
            old,
            "Olga",
            "wamid.OLD1",
            now - 25 * 3600,
            "¿Siguen abiertos?",
        ),
    )
    .await;
    let c = conversation_of(&server, &token, ana).await.unwrap();
    let conv = c["id"].as_u64().unwrap();

    // Within the window.
    let m1 = reply(&server, &token, conv, "Hola Ana, lo revisamos ahora mismo.").await;
    let sent = delivered_as(&server, &token, conv, m1, "sent").await;
    let sends = fake.sends_to(ana);
    assert_eq!(sends.len(), 1, "{sends:?}");
    let req = &sends[0];
    assert_eq!(req.path, format!("/v21.0/{NUMBER}/messages"));
    assert_eq!(
        req.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(req.body["messaging_product"], "whatsapp");
    assert_eq!(req.body["recipient_type"], "individual");
    assert_eq!(req.body["type"], "text");
    assert_eq!(
        req.body["text"]["body"],
        "Hola Ana, lo revisamos ahora mismo."
    );
    assert_eq!(req.body["context"]["message_id"], "wamid.ANA2");
    let wamid = req.wamid.clone().unwrap();
    assert_eq!(sent["external_id"], wamid.as_str());

    // Statuses: delivered, read; a late "sent" does not move it back.
    hook(
        &server,
        &fake::status(NUMBER, &wamid, "delivered", ana, None),
    )
    .await;
    delivered_as(&server, &token, conv, m1, "delivered").await;
    hook(&server, &fake::status(NUMBER, &wamid, "read", ana, None)).await;
    delivered_as(&server, &token, conv, m1, "read").await;
    hook(&server, &fake::status(NUMBER, &wamid, "sent", ana, None)).await;
    hook(
        &server,
        &fake::status(NUMBER, &wamid, "delivered", ana, None),
    )
    .await;
    let m = delivered_as(&server, &token, conv, m1, "read").await;
    assert_eq!(m["delivery"], "read");

    // A throughput limit and a 5xx are retried; the reply goes out once.
    fake.fail_next([Fault::rate_limited(), Fault::Raw(502, "Bad Gateway".into())]);
    let m2 = reply(&server, &token, conv, "Ya está en camino.").await;
    delivered_as(&server, &token, conv, m2, "sent").await;
    let tries: Vec<_> = fake
        .sends_to(ana)
        .into_iter()
        .filter(|r| r.body["text"]["body"] == "Ya está en camino.")
        .collect();
    let statuses: Vec<u16> = tries.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![400, 502, 200]);
    // The rate limit's pause (capped by outbox.max_backoff = 1s) was respected.
    let gap = tries[1].at - tries[0].at;
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    let wamid2 = tries[2].wamid.clone().unwrap();

    // WhatsApp later reports it failed: outside the window after all.
    hook(
        &server,
        &fake::status(
            NUMBER,
            &wamid2,
            "failed",
            ana,
            Some(fake::reengagement_error()),
        ),
    )
    .await;
    let m = delivered_as(&server, &token, conv, m2, "failed").await;
    let why = m["delivery_detail"].as_str().unwrap();
    assert!(why.contains(WINDOW_MSG) && why.contains("131047"), "{why}");

    // A refusal for good (131026): failed at once with WhatsApp's words.
    fake.fail_next([Fault::undeliverable()]);
    let m3 = reply(&server, &token, conv, "¿Sigue ahí?").await;
    let m = delivered_as(&server, &token, conv, m3, "failed").await;
    let why = m["delivery_detail"].as_str().unwrap();
    assert!(
        why.contains("131026") && why.contains("undeliverable"),
        "{why}"
    );

    // Outside the 24-hour window: failed at once, nothing sent.
    let o = conversation_of(&server, &token, old).await.unwrap();
    let oconv = o["id"].as_u64().unwrap();
    let mo = reply(&server, &token, oconv, "Sí, hasta las 20:00.").await;
    let m = delivered_as(&server, &token, oconv, mo, "failed").await;
    assert_eq!(
        m["delivery_detail"],
        "outside WhatsApp's 24-hour window: only an approved template can be sent now"
    );
    assert!(fake.sends_to(old).is_empty());

    // An expired token: the reply waits (retried) with the reason, and goes
    // out once the token works again.
    fake.fail_next([Fault::expired_token()]);
    let m4 = reply(&server, &token, conv, "Gracias por su paciencia.").await;
    let m = wait_message(
        &server,
        &token,
        conv,
        m4,
        "retried after an auth error",
        |m| {
            m["delivery_detail"]
                .as_str()
                .is_some_and(|d| d.contains("authentication failed") && d.contains("190"))
                || m["delivery"] == "sent"
        },
    )
    .await;
    assert_ne!(m["delivery"], "failed", "{m}");
    delivered_as(&server, &token, conv, m4, "sent").await;

    let log = server.log();
    assert!(
        !log.contains(TOKEN),
        "the access token is in the log:\n{log}"
    );
}

/// POST a reply body; (status, JSON answer).
async fn post_reply(server: &Server, token: &str, id: u64, body: Value) -> (u16, Value) {
    let res = Server::client()
        .post(format!(
            "{}/api/v1/conversations/{id}/messages",
            server.base_url()
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn reply_template(server: &Server, token: &str, id: u64, name: &str) -> u64 {
    let (status, body) = post_reply(server, token, id, json!({ "template": name })).await;
    assert_eq!(status, 201, "template reply: {body}");
    assert_eq!(body["delivery"], "queued");
    body["message_id"].as_u64().unwrap()
}

/// Outside the 24-hour window a text reply fails with the reason and
/// nothing is sent, while an approved template goes out as WhatsApp takes
/// it (name, language, the customer's number) and becomes "sent", its body
/// in the timeline; inside the window both work. A template WhatsApp has
/// not approved fails with its error; an unknown name, a template on
/// another channel, or a template with text are 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_outside_and_inside_the_window() {
    let (fake, server, token) = start().await;
    fake.approve("seguimiento_pedido", "es");
    fake.approve("order_update", "en_US");
    let now = fake::unix_now();
    let old = "34911222333";
    let ana = "34600111222";
    hook(
        &server,
        &fake::text(
            NUMBER,
            old,
            "Olga",
            "wamid.OLD1",
            now - 25 * 3600,
            "¿Siguen abiertos?",
        ),
    )
    .await;
    hook(
        &server,
        &fake::text(
            NUMBER,
            ana,
            "Ana",
            "wamid.ANA1",
            now - 60,
            "¿Dónde está mi pedido?",
        ),
    )
    .await;
    let oconv = conversation_of(&server, &token, old).await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let aconv = conversation_of(&server, &token, ana).await.unwrap()["id"]
        .as_u64()
        .unwrap();

    // Outside the window: free text fails at once, nothing is sent.
    let m = reply(&server, &token, oconv, "Sí, hasta las 20:00.").await;
    let failed = delivered_as(&server, &token, oconv, m, "failed").await;
    assert!(
        failed["delivery_detail"]
            .as_str()
            .is_some_and(|d| d.starts_with(WINDOW_MSG) && d.contains("template")),
        "{failed}"
    );
    assert!(fake.sends_to(old).is_empty());

    // ... an approved template goes out.
    let t = reply_template(&server, &token, oconv, "seguimiento_pedido").await;
    let sent = delivered_as(&server, &token, oconv, t, "sent").await;
    assert_eq!(sent["text"], SEGUIMIENTO);
    assert_eq!(sent["direction"], "out");
    let sends = fake.sends_to(old);
    assert_eq!(sends.len(), 1, "{sends:?}");
    let req = &sends[0];
    assert_eq!(req.status, 200);
    assert_eq!(req.path, format!("/v21.0/{NUMBER}/messages"));
    assert_eq!(
        req.body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": old,
            "type": "template",
            "template": { "name": "seguimiento_pedido", "language": { "code": "es" } },
        })
    );
    assert_eq!(sent["external_id"], req.wamid.clone().unwrap().as_str());
    // Its statuses follow it like any reply's.
    let wamid = req.wamid.clone().unwrap();
    hook(
        &server,
        &fake::status(NUMBER, &wamid, "delivered", old, None),
    )
    .await;
    delivered_as(&server, &token, oconv, t, "delivered").await;

    // A template WhatsApp has not approved: failed with WhatsApp's error.
    let e = reply_template(&server, &token, oconv, "encuesta").await;
    let m = delivered_as(&server, &token, oconv, e, "failed").await;
    let why = m["delivery_detail"].as_str().unwrap();
    assert!(why.contains("132001"), "{why}");

    // Inside the window both work.
    let m = reply(&server, &token, aconv, "Lo revisamos ahora mismo.").await;
    delivered_as(&server, &token, aconv, m, "sent").await;
    let t = reply_template(&server, &token, aconv, "order_update").await;
    delivered_as(&server, &token, aconv, t, "sent").await;
    let sends = fake.sends_to(ana);
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[0].body["type"], "text");
    assert_eq!(sends[1].body["type"], "template");
    assert_eq!(sends[1].body["template"]["name"], "order_update");
    assert_eq!(sends[1].body["template"]["language"]["code"], "en_US");

    // Refusals: an unknown name (the configured ones are named), text and
    // a template together, a template on another channel.
    let before = fake.sends().len();
    let (status, body) =
        post_reply(&server, &token, aconv, json!({ "template": "hola_mundo" })).await;
    assert_eq!(status, 400, "{body}");
    let err = body["error"].as_str().unwrap();
    assert!(
        err.contains("hola_mundo")
            && err.contains("seguimiento_pedido")
            && err.contains("order_update")
            && err.contains("encuesta"),
        "{err}"
    );
    let (status, body) = post_reply(
        &server,
        &token,
        aconv,
        json!({ "template": "order_update", "text": "y además esto" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_reply(&server, &token, aconv, json!({ "private": true })).await;
    assert_eq!(status, 400, "{body}");
    let res = Server::client()
        .post(format!("{}/api/v1/inbound", server.base_url()))
        .bearer_auth(&token)
        .json(&json!({ "channel": "api", "external_id": "api-1",
                        "from": { "handle": "@ana" }, "text": "hola" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let api_conv = res.json::<Value>().await.unwrap()["conversation_id"]
        .as_u64()
        .unwrap();
    let (status, body) = post_reply(
        &server,
        &token,
        api_conv,
        json!({ "template": "seguimiento_pedido" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("WhatsApp"),
        "{body}"
    );
    assert_eq!(fake.sends().len(), before, "nothing refused was sent");
    assert!(!server.log().contains(TOKEN));
}

// --- The admin UI (session + CSRF), as in tests/email_peers.rs -------------

struct Browser<'a> {
    server: &'a Server,
    cookie: String,
    client: reqwest::Client,
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            (first.starts_with(&format!("{name}=")) && first.len() > name.len() + 1)
                .then(|| first.to_string())
        })
}

fn field(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body.find(&pat).unwrap_or_else(|| panic!("no field {name}")) + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

impl<'a> Browser<'a> {
    async fn sign_in(server: &'a Server) -> Browser<'a> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let page = client
            .get(format!("{}/login", server.base_url()))
            .send()
            .await
            .unwrap();
        let login = set_cookie(&page, "atalaya_login").unwrap();
        let csrf = field(&page.text().await.unwrap(), "csrf");
        let res = client
            .post(format!("{}/login", server.base_url()))
            .header("cookie", login)
            .header("origin", server.base_url())
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", server.admin_email.as_str()),
                ("password", server.admin_password.as_str()),
                ("next", "/inbox"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303);
        let cookie = set_cookie(&res, "atalaya_session").unwrap();
        Browser {
            server,
            cookie,
            client,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.server.base_url()))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let (_, page) = self.get("/admin/channels").await;
        let csrf = field(&page, "csrf");
        let mut form: Vec<(&str, &str)> = form.to_vec();
        form.push(("csrf", &csrf));
        let res = self
            .client
            .post(format!("{}{path}", self.server.base_url()))
            .header("cookie", &self.cookie)
            .header("origin", self.server.base_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}
