//! Social channels added in the admin UI, against the fake Telegram Bot API
//! (`tests/fakes/telegram.rs`) and the real `atalaya serve` binary, through
//! the web forms as a signed-in admin: a wrong token is refused with the
//! network's own error and nothing is stored; a good one is stored and
//! polled at once (no restart), survives a restart, stops being polled when
//! disabled (nothing lost: it comes when enabled again) and when removed
//! (its conversations stay); its secret never reaches the page, the log or
//! the event log; agents get 403.

mod common;
#[path = "fakes/telegram.rs"]
mod fake;

use atalaya::domain::{Clock, SystemClock};
use atalaya::store::{Store, StoreOptions};
use common::api::{all_conversations, message_total, wait_messages};
use common::{Server, wait_for};
use fake::{FakeTelegram, Method, Person};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "4242:SeCrEt-bot-token-xyz";
const WRONG: &str = "4242:wrong-token-abc";

/// A browser session: the session cookie and the page's CSRF token.
struct Web {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

fn field(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&pat)
        .unwrap_or_else(|| panic!("no field {name} in {body}"))
        + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            (first.starts_with(&format!("{name}=")) && first.len() > name.len() + 1)
                .then(|| first.to_string())
        })
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Web {
    async fn sign_in(server: &Server, email: &str, password: &str) -> Web {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let base = server.base_url();
        let res = client.get(format!("{base}/login")).send().await.unwrap();
        let login = cookie(&res, "atalaya_login").expect("login cookie");
        let csrf = field(&res.text().await.unwrap(), "csrf");
        let res = client
            .post(format!("{base}/login"))
            .header("cookie", &login)
            .header("origin", &base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={csrf}&email={}&password={}&next=%2Finbox",
                enc(email),
                enc(password)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "sign in as {email}");
        let cookie = cookie(&res, "atalaya_session").expect("session cookie");
        Web {
            base,
            cookie,
            client,
        }
    }

    async fn page(&self, res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Page {
            status,
            location,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        self.page(res).await
    }

    /// Post a form with the CSRF token of the inbox page.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = field(&self.get("/inbox").await.body, "csrf");
        let mut body = format!("csrf={csrf}");
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", enc(v)));
        }
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .header("accept-language", "en")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.page(res).await
    }
}

fn add_form<'a>(name: &'a str, token: &'a str, base_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("base_url", base_url),
        ("token", token),
        ("poll_seconds", "1"),
        ("handles", "@tienda"),
        ("triggers", ""),
    ]
}

fn has_row(body: &str, name: &str) -> bool {
    body.contains(&format!("data-name=\"{name}\""))
}

/// Wait until the fake saw `n` more getUpdates calls than `from`.
async fn polled_after(fake: &FakeTelegram, from: usize) -> bool {
    wait_for(Duration::from_secs(10), || async {
        (fake.calls_of(Method::GetUpdates).len() > from).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_add_check_disable_and_remove_a_telegram_channel() {
    let fake = FakeTelegram::start(TOKEN);
    let ana = Person::new(111_222_333, "Ana", Some("Pérez"), Some("anaperez"));
    let mut server = Server::start(
        "[[channel.api]]\nname = \"shop\"\n[outbox]\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\n",
    )
    .await;
    let admin = Web::sign_in(&server, &server.admin_email, &server.admin_password).await;
    let page = admin.get("/admin/channels").await;
    assert_eq!(page.status, 200);
    for kind in ["telegram", "mastodon", "x", "facebook", "whatsapp"] {
        assert!(
            page.body
                .contains(&format!("action=\"/admin/channels/{kind}/add\"")),
            "an add form for {kind}"
        );
    }

    // A wrong token: refused with Telegram's own answer; nothing stored.
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg", WRONG, &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("Telegram refused the bot token") && r.body.contains("Unauthorized"),
        "the network's error is shown: {}",
        r.body
    );
    assert!(!r.body.contains(WRONG), "the token is not sent back");
    assert!(!has_row(&admin.get("/admin/channels").await.body, "tg"));

    // Validation: a name already used, an address that is not http(s), a
    // missing token.
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("shop", TOKEN, &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already exists"), "{}", r.body);
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg", TOKEN, "ftp://127.0.0.1/"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("is not an http"), "{}", r.body);
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg", "", &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("token is required"), "{}", r.body);
    let r = admin
        .post(
            "/admin/channels/mastodon/add",
            &[("name", "md"), ("access_token", "x")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("base_url"), "{}", r.body);

    // The good token: stored, and polled at once.
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg", TOKEN, &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/admin/channels");
    // The name is taken now, for mailboxes too.
    let r = admin
        .post(
            "/admin/channels/email",
            &[
                ("name", "tg"),
                ("address", "a@b.test"),
                ("smtp_host", "127.0.0.1"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already exists"), "{}", r.body);

    fake.push_private(&ana, "hola, mi pedido no llega");
    let token = server.admin_token().await;
    wait_messages(&server, &token, 1, Duration::from_secs(15)).await;
    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0]["channel"], "tg");

    // The page: its row, added here, with health; the secret only as "set".
    let ok = wait_for(Duration::from_secs(10), || async {
        let body = admin.get("/admin/channels").await.body;
        (has_row(&body, "tg") && (body.contains("status idle") || body.contains("status busy")))
            .then_some(body)
    })
    .await;
    let body = ok.expect("the channel's row shows its poller's state");
    assert!(body.contains("•••• set"), "the token shows as set");
    assert!(body.contains("action=\"/admin/channels/tg/remove\""));
    assert!(body.contains("action=\"/admin/channels/tg/check\""));
    assert!(!body.contains(TOKEN), "the token never reaches the page");
    // "Check connection" asks the network again.
    let r = admin.post("/admin/channels/tg/check", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("tg: connected as @"), "{}", r.body);
    assert!(!r.body.contains(TOKEN));

    // Changing it: an empty token keeps the stored one.
    let r = admin
        .post(
            "/admin/channels/tg/update",
            &[
                ("base_url", &fake.base_url()),
                ("token", ""),
                ("poll_seconds", "1"),
                ("handles", "@tienda, @tienda_ayuda"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // A wrong one is refused and the stored one stays.
    let r = admin
        .post(
            "/admin/channels/tg/update",
            &[("base_url", &fake.base_url()), ("token", WRONG)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Telegram refused the bot token"));
    assert!(!r.body.contains(WRONG) && !r.body.contains(TOKEN));
    fake.push_private(&ana, "¿alguna novedad?");
    wait_messages(&server, &token, 2, Duration::from_secs(15)).await;

    // A restart: registered again from the store, and polled.
    server.terminate();
    server.restart().await;
    let token = server.admin_token().await;
    fake.push_private(&ana, "sigo esperando");
    wait_messages(&server, &token, 3, Duration::from_secs(15)).await;
    let admin = Web::sign_in(&server, &server.admin_email, &server.admin_password).await;
    assert!(has_row(&admin.get("/admin/channels").await.body, "tg"));

    // Disabled: nothing is stored while it is; the message comes when it is
    // enabled again.
    let r = admin.post("/admin/channels/tg/disable", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fake.push_private(&ana, "¿hay alguien?");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        message_total(&server, &token).await,
        3,
        "a disabled channel stores nothing"
    );
    let r = admin.post("/admin/channels/tg/enable", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_messages(&server, &token, 4, Duration::from_secs(15)).await;

    // Removed: no longer polled; its conversation stays.
    let r = admin.post("/admin/channels/tg/remove", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!has_row(&admin.get("/admin/channels").await.body, "tg"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = fake.calls_of(Method::GetUpdates).len();
    fake.push_private(&ana, "hola otra vez");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fake.calls_of(Method::GetUpdates).len(),
        calls,
        "a removed channel is not polled"
    );
    assert_eq!(message_total(&server, &token).await, 4);
    assert_eq!(all_conversations(&server, &token).await.len(), 1);
    // Removing it again, or a channel of the configuration file: refused.
    let r = admin.post("/admin/channels/tg/remove", &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // The name is free again: added once more, it is polled at once.
    let before = fake.calls_of(Method::GetUpdates).len();
    let r = admin
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg", TOKEN, &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(polled_after(&fake, before).await);
    wait_messages(&server, &token, 5, Duration::from_secs(15)).await;
    let r = admin.post("/admin/channels/tg/remove", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // An agent may do none of it.
    server.terminate();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["user", "--config"])
        .arg(server.config_path())
        .args(["add", "--email", "agente@example.test", "--role", "agent"])
        .env("ATALAYA_USER_PASSWORD", "agent-password-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.restart().await;
    let agent = Web::sign_in(&server, "agente@example.test", "agent-password-1").await;
    assert_eq!(agent.get("/admin/channels").await.status, 403);
    let r = agent
        .post(
            "/admin/channels/telegram/add",
            &add_form("tg2", TOKEN, &fake.base_url()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = agent.post("/admin/channels/shop/remove", &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = agent
        .post("/admin/channels/tg/update", &[("token", TOKEN)])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!fake.calls().is_empty());
    server.terminate();

    // The secret is in no log line and no event.
    assert!(!server.log().contains(TOKEN), "the token is never logged");
    assert!(!server.log().contains(WRONG));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(
        server.data_dir(),
        StoreOptions::default(),
        clock,
        Arc::new(atalaya::metrics::Metrics::default()),
    )
    .unwrap();
    let events = store.read(|r| r.events_after(0, 100_000)).await.unwrap();
    let all = format!("{events:?}");
    assert!(all.contains("ChannelChanged"), "{all}");
    assert!(all.contains("\"added\"") && all.contains("\"removed\""));
    assert!(!all.contains(TOKEN) && !all.contains("SeCrEt"));
    store.shutdown().await;
}
