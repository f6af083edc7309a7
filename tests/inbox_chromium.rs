//! End to end: the agent's server-rendered inbox in real headless Chromium,
//! driven over the W3C WebDriver protocol (chromedriver): sign-in, live list
//! and timeline over SSE, replies with live delivery state, keyboard
//! shortcuts, hostile inbound HTML, and the send-guard between two agents.

mod common;

use common::webdriver::{ENTER, WebDriver};
use common::{Server, wait_for};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long live updates (SSE) get to show up.
const LIVE: Duration = Duration::from_secs(10);

/// What a failure message shows of an inbox page: the address and the app's markup.
const INBOX_DUMP: &str = "var a = document.querySelector('.app') || document.body; \
    var h = a ? a.outerHTML : ''; \
    return location.href + '\\n' + (h.length > 8000 ? h.slice(0, 8000) + '…' : h);";

/// True once the page's htmx SSE connection (`sse-connect` on `.app`) is open.
const SSE_OPEN: &str = "var a = document.querySelector('[sse-connect]'); \
    var d = a && a['htmx-internal-data']; \
    return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1);";

/// The `data-id` of the list row whose `.who` is `arguments[0]`, or null.
const ROW_BY_NAME: &str = "var want = arguments[0]; var r = Array.from(document.querySelectorAll('#list a.conv-row'))\
    .find(function (x) { var w = x.querySelector('.who'); \
    return w && w.textContent.trim() === want; }); \
    return r ? r.getAttribute('data-id') : null;";

/// The timeline's messages as `[class, body text, delivery class or null]`.
const TIMELINE: &str = "return Array.from(document.querySelectorAll('#timeline article.msg'))\
    .map(function (m) { var d = m.querySelector('.meta .delivery'); \
    return [m.className, (m.querySelector('.body') || m).textContent.trim(), \
    d ? d.className : null]; });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_flow() {
    let hook = Webhook::start().await;
    let server = Server::start(&format!(
        "\n[[channel.api]]\nname = \"api\"\nwebhook_url = \"{}/hook\"\n",
        hook.origin
    ))
    .await;
    let (base, api) = (server.base_url(), Server::client());
    let token = server.admin_token().await;
    let fail = |what: String| -> String { format!("{what}\n--- server log ---\n{}", server.log()) };

    // Two customers wrote before the agent signs in.
    inbound(
        &api,
        &base,
        &token,
        "flow-1",
        "@marta",
        "Marta Ruiz",
        "¿Hacéis envíos a Canarias? Necesito saber plazos.",
    )
    .await;
    inbound(
        &api,
        &base,
        &token,
        "flow-2",
        "@jon",
        "Jon Etxeberria",
        "La factura de octubre me ha llegado duplicada.",
    )
    .await;

    let wd = start_driver().await;
    sign_in(&wd, &server).await;
    let cookies = wd.cmd(reqwest::Method::GET, "/cookie", None).await;
    let session = cookies
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "atalaya_session"))
        .cloned()
        .unwrap_or_else(|| panic!("no atalaya_session cookie after sign-in: {cookies}"));
    assert_eq!(session["httpOnly"], true, "session cookie: {session}");
    assert_eq!(session["sameSite"], "Strict", "session cookie: {session}");
    for name in ["Marta Ruiz", "Jon Etxeberria"] {
        let row = wd.execute(ROW_BY_NAME, json!([name])).await;
        assert!(row.is_string(), "no row for {name}: {}", wd.dump().await);
    }
    wait_sse(&wd).await;

    // A new customer message appears in the list without a reload.
    wd.execute("window.__page = 'inbox-1'", json!([])).await;
    let lucia = "Lucía Fernández";
    let ids = inbound(
        &api,
        &base,
        &token,
        "flow-3",
        "@lucia",
        lucia,
        "Mi pedido #A-1042 llegó roto, ¿qué hago?",
    )
    .await;
    let conv = id_str(&ids["conversation_id"]);
    let row = wd.wait_js(LIVE, ROW_BY_NAME, json!([lucia])).await;
    assert_eq!(
        row,
        Some(json!(conv)),
        "{}",
        fail(format!(
            "the new conversation did not show up live: {}",
            wd.dump().await
        ))
    );
    let marker = wd.execute("return window.__page", json!([])).await;
    assert_eq!(
        marker,
        json!("inbox-1"),
        "the inbox reloaded instead of updating live"
    );
    wd.screenshot(&screenshot_path("inbox.png")).await;

    // Open it with a click.
    let row = wd
        .find(&format!("#list a.conv-row[data-id=\"{conv}\"]"))
        .await
        .expect("the new row");
    wd.click(&row).await;
    wd.wait_url(LIVE, |u| u.contains(&format!("/conversations/{conv}?")))
        .await
        .unwrap_or_else(|| panic!("the row click did not open the conversation"));
    let h1 = wd.wait_displayed(".conv-head h1").await;
    assert!(
        wd.text(&h1).await.contains(lucia),
        "conversation heading: {}",
        wd.dump().await
    );

    // Reply: it is shown as outgoing and queued while the webhook has not answered...
    let reply = "Hola Lucía, lo sentimos mucho: te enviamos otro hoy mismo y recogemos el roto.";
    let area = wd.wait_displayed("form#reply textarea[name=text]").await;
    wd.send_keys(&area, reply).await;
    let send = wd
        .find("form#reply button.btn.primary")
        .await
        .expect("send button");
    wd.click(&send).await;
    let shown = wd
        .wait_js(
            LIVE,
            "var want = arguments[0]; \
             return Array.from(document.querySelectorAll('#timeline article.msg.out')).some(function (m) { \
             return m.querySelector('.body').textContent.trim() === want; }) \
             && location.pathname",
            json!([reply]),
        )
        .await;
    assert_eq!(
        shown,
        Some(json!(format!("/conversations/{conv}"))),
        "{}",
        fail(format!(
            "the reply is not in the timeline after sending: {}",
            wd.dump().await
        ))
    );
    let area = wd
        .find("form#reply textarea[name=text]")
        .await
        .expect("reply box after sending");
    assert_eq!(
        wd.property(&area, "value").await,
        json!(""),
        "the draft stayed after a successful send"
    );
    let timeline = wd.execute(TIMELINE, json!([])).await;
    let out = out_delivery(&timeline, reply);
    assert_eq!(
        out.as_deref(),
        Some("delivery queued"),
        "the reply before the webhook answered: {timeline}"
    );

    // ... and turns to sent without a reload once it does.
    wait_sse(&wd).await;
    wd.execute("window.__page = 'conv-1'", json!([])).await;
    hook.release();
    let sent = wait_for(LIVE, || async {
        let t = wd.execute(TIMELINE, json!([])).await;
        (out_delivery(&t, reply).as_deref() == Some("delivery sent")).then_some(())
    })
    .await;
    assert!(
        sent.is_some(),
        "{}",
        fail(format!(
            "the delivery state did not turn to sent live: {}",
            wd.dump().await
        ))
    );
    let marker = wd.execute("return window.__page", json!([])).await;
    assert_eq!(
        marker,
        json!("conv-1"),
        "the conversation reloaded instead of updating live"
    );
    let posted = hook.bodies();
    assert!(
        posted
            .iter()
            .any(|b| serde_json::from_str::<Value>(b).is_ok_and(|v| v["text"] == reply)),
        "the webhook did not receive the reply: {posted:?}"
    );
    wd.screenshot(&screenshot_path("conversation.png")).await;

    // `e` resolves.
    wd.press_keys("e").await;
    wd.wait_displayed(".conv-head .status.resolved").await;
    assert!(
        wd.displayed_now(".conv-head button[data-action=open]")
            .await,
        "no reopen button on a resolved conversation: {}",
        wd.dump().await
    );
    let detail = get_json(&api, &token, &format!("{base}/api/v1/conversations/{conv}")).await;
    assert_eq!(detail["status"], "resolved", "status after `e`");

    // `j` focuses the first row, Enter opens it.
    wd.navigate(&format!("{base}/inbox")).await;
    wd.wait_displayed("#list a.conv-row").await;
    wd.press_keys("j").await;
    let focused = wd
        .execute(
            "var a = document.activeElement; \
             return a && a.classList.contains('conv-row') \
             ? [a.getAttribute('data-id'), a.querySelector('.who').textContent.trim()] : null",
            json!([]),
        )
        .await;
    let (Some(focused), Some(who)) = (focused[0].as_str(), focused[1].as_str()) else {
        panic!("`j` did not focus a row: {}", wd.dump().await);
    };
    wd.press_keys(ENTER).await;
    let opened = wd
        .wait_url(LIVE, |u| u.contains(&format!("/conversations/{focused}?")))
        .await;
    assert!(
        opened.is_some(),
        "Enter did not open the focused row {focused}: {}",
        wd.dump().await
    );
    let h1 = wd.wait_displayed(".conv-head h1").await;
    assert!(
        wd.text(&h1).await.contains(who),
        "Enter opened the wrong conversation: {}",
        wd.dump().await
    );

    // `?` toggles the shortcut sheet.
    assert!(
        !wd.displayed_now("#shortcuts").await,
        "the shortcut sheet shows before `?`"
    );
    wd.press_keys("?").await;
    let open = wd
        .wait_js(
            LIVE,
            "return !!document.querySelector('#shortcuts.open')",
            json!([]),
        )
        .await;
    assert!(
        open.is_some(),
        "`?` did not open the shortcut sheet: {}",
        wd.dump().await
    );
    wd.wait_displayed("#shortcuts").await;
    wd.press_keys("?").await;
    let closed = wd
        .wait_js(
            LIVE,
            "return !document.querySelector('#shortcuts.open')",
            json!([]),
        )
        .await;
    assert!(
        closed.is_some(),
        "a second `?` did not close the shortcut sheet"
    );
    assert!(
        !wd.displayed_now("#shortcuts").await,
        "the closed shortcut sheet is still displayed"
    );

    // `/` puts the cursor in the search box (and types nothing into it).
    wd.press_keys("/").await;
    let focused = wd
        .wait_js(
            LIVE,
            "var a = document.activeElement; return (a && a.name === 'q' && a.type === 'search' && a.value === '') ? true : null",
            json!([]),
        )
        .await;
    assert!(
        focused.is_some(),
        "`/` did not focus the search box: {}",
        wd.dump().await
    );

    wd.quit().await;
}

/// Script vectors in inbound text, HTML and contact names never run, and the
/// sanitized markup keeps no handlers, scripts, dangerous URLs or htmx attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xss_payloads_never_execute() {
    let server = Server::start("").await;
    let (base, api) = (server.base_url(), Server::client());
    let token = server.admin_token().await;

    let name = "Eve <img src=x onerror=\"window.__xss=1\"><script>window.__xss=1</script>";
    let handle = "@eve\"><svg onload=window.__xss=1>";
    let mut convs: Vec<String> = Vec::new();
    for (i, p) in PAYLOADS.iter().enumerate() {
        for field in ["text", "html"] {
            // Visible text too, or an HTML payload may sanitize to nothing (a 400).
            let content = match field {
                "html" => format!("<p>payload {i}</p>{p}"),
                _ => p.to_string(),
            };
            let body = json!({
                "external_id": format!("xss-{field}-{i}"),
                "from": {"handle": handle, "name": name},
                field: content,
            });
            let v = post_inbound(&api, &base, &token, &body).await;
            let c = id_str(&v["conversation_id"]);
            if !convs.contains(&c) {
                convs.push(c);
            }
        }
    }

    let wd = start_driver().await;
    sign_in(&wd, &server).await;
    assert_clean(&wd, "the inbox").await;
    for conv in &convs {
        let url = format!("{base}/conversations/{conv}");
        wd.navigate(&url).await;
        wd.wait_displayed("#timeline").await;
        wait_sse(&wd).await;

        // One more arrives while the page is open: the timeline and the list
        // are swapped in by htmx, which parses the markup again.
        let before = wd.find_all("#timeline article.msg.in").await.len();
        let all = PAYLOADS.concat();
        post_inbound(
            &api,
            &base,
            &token,
            &json!({
                "external_id": format!("xss-live-{conv}"),
                "from": {"handle": handle, "name": name},
                "html": all,
            }),
        )
        .await;
        let grown = wd
            .wait_js(LIVE, "return document.querySelectorAll('#timeline article.msg.in').length > arguments[0]", json!([before]))
            .await;
        assert!(
            grown.is_some(),
            "the live message did not arrive: {}",
            wd.dump().await
        );
        assert_clean(&wd, &format!("conversation {conv}")).await;

        // Plain text is shown as text, exactly.
        let bodies = wd
            .execute(
                "return Array.from(document.querySelectorAll('#timeline article.msg.in .body'))\
                 .map(function (b) { return b.textContent; })",
                json!([]),
            )
            .await;
        for p in PAYLOADS {
            assert!(
                bodies
                    .as_array()
                    .is_some_and(|b| b.iter().any(|t| t.as_str() == Some(p))),
                "the text message {p:?} is not shown verbatim"
            );
        }

        // Click every link in the messages.
        let links = "#timeline article.msg .body a, #timeline article.msg .body area";
        let count = wd.find_all(links).await.len();
        assert!(
            count > 0,
            "no links survived at all (expected the harmless ones)"
        );
        for i in 0..count {
            if wd.current_url().await != url {
                wd.navigate(&url).await;
                wd.wait_displayed("#timeline").await;
            }
            let all = wd.find_all(links).await;
            let Some(link) = all.get(i) else { break };
            let href = wd
                .execute(
                    "return arguments[0].outerHTML",
                    json!([{common::webdriver::ELEMENT: link}]),
                )
                .await;
            wd.execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                json!([{common::webdriver::ELEMENT: link}]),
            )
            .await;
            if wd.try_click(link).await.is_err() {
                wd.execute(
                    "arguments[0].click()",
                    json!([{common::webdriver::ELEMENT: link}]),
                )
                .await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            if let Some(text) = wd.alert_text().await {
                panic!("clicking {href} opened an alert: {text:?}");
            }
            let clean = wd
                .execute("return window.__xss === undefined", json!([]))
                .await;
            assert_eq!(clean, json!(true), "clicking {href} ran script");
        }
        if wd.current_url().await != url {
            wd.navigate(&url).await;
        }
        assert_clean(&wd, &format!("conversation {conv} after the clicks")).await;
        // The agent is still signed in (no `hx-post="/logout"` fired).
        assert!(
            wd.current_url().await.contains("/conversations/"),
            "the agent was signed out: {}",
            wd.current_url().await
        );
    }
    wd.navigate(&format!("{base}/inbox")).await;
    wd.wait_displayed("#list").await;
    assert_clean(&wd, "the inbox at the end").await;

    wd.quit().await;
}

/// Two agents on the same conversation: B's page is stale after A replies,
/// so B's send is held by the guard (draft kept) until B confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_see_each_other_and_the_send_guard_holds() {
    let mut server = Server::start("").await;
    // A second staff account, created offline with the CLI.
    let (b_email, b_password) = ("berta@example.test", "berta-pass-1");
    tokio::task::block_in_place(|| {
        let status = server.terminate();
        assert!(
            status.success(),
            "the server did not stop cleanly: {status}"
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "user",
                "add",
                "--email",
                b_email,
                "--name",
                "Berta Agent",
                "--role",
                "supervisor",
                "--config",
            ])
            .arg(server.config_path())
            .env_remove("ATALAYA_DATA")
            .env_remove("ATALAYA_LISTEN")
            .env_remove("ATALAYA_CONFIG")
            .env("ATALAYA_USER_PASSWORD", b_password)
            .output()
            .expect("run atalaya user add");
        assert!(
            out.status.success(),
            "atalaya user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    server.restart().await;
    let (base, api) = (server.base_url(), Server::client());
    let token = server.admin_token().await;
    let ids = inbound(
        &api,
        &base,
        &token,
        "guard-1",
        "@pablo",
        "Pablo Gómez",
        "¿Podéis cambiar la dirección de entrega del pedido #B-77?",
    )
    .await;
    let conv = id_str(&ids["conversation_id"]);

    let (a, b) = tokio::join!(start_driver(), start_driver());
    tokio::join!(
        sign_in_as(&a, &base, &server.admin_email, &server.admin_password),
        sign_in_as(&b, &base, b_email, b_password)
    );
    let url = format!("{base}/conversations/{conv}");
    for wd in [&a, &b] {
        wd.navigate(&url).await;
        wd.wait_displayed("form#reply textarea[name=text]").await;
        wait_sse(wd).await;
    }

    // Presence: each sees the other on the conversation, live.
    let present = "var p = document.querySelector('#presence'); \
                   return p && p.textContent.indexOf(arguments[0]) >= 0 ? p.textContent : null;";
    let (seen_by_b, seen_by_a) = tokio::join!(
        b.wait_js(Duration::from_secs(15), present, json!(["Administrator"])),
        a.wait_js(Duration::from_secs(15), present, json!(["Berta Agent"]))
    );
    assert!(
        seen_by_b.is_some(),
        "B does not see A viewing: {}",
        b.dump().await
    );
    assert!(
        seen_by_a.is_some(),
        "A does not see B viewing: {}",
        a.dump().await
    );

    // A replies.
    let from_a = "Hola Pablo, sí: ¿a qué dirección lo cambiamos?";
    let area = a
        .find("form#reply textarea[name=text]")
        .await
        .expect("A's reply box");
    a.send_keys(&area, from_a).await;
    let send = a
        .find("form#reply button.btn.primary")
        .await
        .expect("A's send button");
    a.click(&send).await;
    assert!(
        wait_outs(&a, 1).await.is_some(),
        "A's reply is not in A's timeline: {}",
        a.dump().await
    );
    // B's timeline shows it live, but B's page (and its send) is now stale.
    assert!(
        wait_outs(&b, 1).await.is_some(),
        "A's reply did not reach B's page live: {}",
        b.dump().await
    );

    // B sends: held by the guard, the draft is kept.
    let from_b = "Pablo, te lo cambio yo ahora mismo.";
    let area = b
        .find("form#reply textarea[name=text]")
        .await
        .expect("B's reply box");
    b.send_keys(&area, from_b).await;
    let send = b
        .find("form#reply button.btn.primary")
        .await
        .expect("B's send button");
    b.click(&send).await;
    b.wait_displayed(".guard").await;
    let area = b
        .find("form#reply textarea[name=text]")
        .await
        .expect("B's reply box after the guard");
    assert_eq!(
        b.property(&area, "value").await,
        json!(from_b),
        "the draft was lost at the guard"
    );
    let detail = get_json(&api, &token, &format!("{base}/api/v1/conversations/{conv}")).await;
    assert_eq!(
        out_texts(&detail),
        vec![from_a.to_string()],
        "B's reply went out despite the guard"
    );

    // B confirms: the reply goes out.
    let confirm = b
        .find(".guard button")
        .await
        .expect("the guard's send button");
    b.click(&confirm).await;
    let both = b
        .wait_js(
            LIVE,
            "var t = Array.from(document.querySelectorAll('#timeline article.msg.out .body'))\
             .map(function (x) { return x.textContent.trim(); }); \
             return !document.querySelector('.guard') && t.indexOf(arguments[0]) >= 0 \
             && t.indexOf(arguments[1]) >= 0 && t.length === 2",
            json!([from_a, from_b]),
        )
        .await;
    assert!(
        both.is_some(),
        "after confirming, B's timeline lacks the two replies: {}",
        b.dump().await
    );
    let detail = get_json(&api, &token, &format!("{base}/api/v1/conversations/{conv}")).await;
    assert_eq!(
        out_texts(&detail),
        vec![from_a.to_string(), from_b.to_string()],
        "replies stored"
    );
    assert!(
        wait_outs(&a, 2).await.is_some(),
        "B's reply did not reach A's page live: {}",
        a.dump().await
    );

    a.quit().await;
    b.quit().await;
}

/// Hostile markup, sent both as `text` and as `html`: the obvious vectors and
/// well-known sanitizer (DOMPurify) bypasses and mutation-XSS payloads, plus
/// htmx attributes, which would act inside this app.
const PAYLOADS: &[&str] = &[
    r#"<img src=x onerror="window.__xss=1">"#,
    r#"<img src=x onerror=alert(1)>"#,
    r#"<svg onload="window.__xss=1">"#,
    r#"<a href="javascript:window.__xss=1">js link</a>"#,
    r#"<a href="javascript:alert(document.domain)">alert link</a>"#,
    r#"<script>window.__xss=1</script>"#,
    r#"<iframe src="javascript:window.__xss=1"></iframe>"#,
    r#"<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>"#,
    r#"<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=1">"#,
    r#"<form><math><mtext></form><form><mglyph><style></math><img src onerror="window.__xss=1">"#,
    r#"<svg></p><style><a id="</style><img src=1 onerror=window.__xss=1>">"#,
    r#"<math><mi//xlink:href="data:x,<script>window.__xss=1</script>">"#,
    r#"<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">"#,
    r#"<!--<img src="--><img src=x onerror=window.__xss=1//">"#,
    r#"<svg><style><img src=x onerror=window.__xss=1></style></svg>"#,
    r#"<svg><a xlink:href="javascript:window.__xss=1"><text x="20" y="20">svg link</text></a></svg>"#,
    r#"<a href="&#106;avascript:window.__xss=1">entity link</a>"#,
    r#"<a href="java&#x09;script:window.__xss=1">tab link</a>"#,
    r#"<a href=" javascript:window.__xss=1">space link</a>"#,
    r#"<a href="javascript&colon;window.__xss=1">colon link</a>"#,
    r#"<a href="data:text/html;base64,PHNjcmlwdD5vcGVuZXIuX194c3M9MTwvc2NyaXB0Pg==">data link</a>"#,
    r#"<a href="vbscript:msgbox(1)">vb link</a>"#,
    r##"<a href="#" onclick="window.__xss=1">onclick link</a>"##,
    r#"<object data="javascript:window.__xss=1"></object><embed src="javascript:window.__xss=1">"#,
    r#"<details open ontoggle="window.__xss=1"><summary>details</summary></details>"#,
    r#"<input autofocus onfocus="window.__xss=1">"#,
    r#"<body onload="window.__xss=1">"#,
    r#"<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">"#,
    r#"<base href="javascript:/">"#,
    r#"<div style="background:url(javascript:window.__xss=1)">styled</div>"#,
    r#"<style>@import 'javascript:window.__xss=1';</style>"#,
    r#"<table><td background="javascript:window.__xss=1">cell</td></table>"#,
    r#"<video><source onerror="window.__xss=1"></video>"#,
    r#"<div hx-post="/logout" hx-trigger="load">htmx load</div>"#,
    r#"<div data-hx-post="/logout" data-hx-trigger="load">htmx data load</div>"#,
    r##"<a href="#" hx-on:click="window.__xss=1">hx-on link</a>"##,
    r#"<div sse-connect="/events" sse-swap="change">sse</div>"#,
    r#"<a id="reply" name="text">clobber</a><form id="shortcuts"></form>"#,
    r#"<a href="/inbox?view=mine">relative link</a>"#,
    r#"<a href="https://example.invalid/ok" target="_blank">plain link</a>"#,
];

/// Checks the page's customer-controlled parts for anything that could run or
/// act: fails with every finding.
/// A canned response with variables, created on its page, inserted with
/// the `/` picker in the reply box, rendered for this customer and sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canned_response_inserted_with_the_slash_picker() {
    let server = Server::start("").await;
    let (base, api) = (server.base_url(), Server::client());
    let token = server.admin_token().await;
    let ids = inbound(
        &api,
        &base,
        &token,
        "canned-1",
        "@rocio",
        "Rocío Martín",
        "¿Dónde está mi reembolso?",
    )
    .await;
    let conv = id_str(&ids["conversation_id"]);
    let wd = start_driver().await;
    sign_in(&wd, &server).await;

    wd.navigate(&format!("{base}/canned")).await;
    for (field, value) in [
        ("input[name=shortcut]", "reembolso"),
        ("input[name=title]", "Reembolso en camino"),
        (
            "textarea[name=body]",
            "Hola {{contact.first_name}}, tu reembolso (caso #{{conversation.id}}) ya va en camino. {{agent.initials}}",
        ),
        ("input[name=tags]", "billing"),
    ] {
        let el = wd.wait_displayed(field).await;
        wd.send_keys(&el, value).await;
    }
    let save = wd
        .find("#canned form.card button.btn.primary")
        .await
        .expect("save button");
    wd.click(&save).await;
    assert!(
        wd.wait_js(
            LIVE,
            "return document.body.textContent.indexOf('/reembolso') >= 0",
            json!([])
        )
        .await
        .is_some(),
        "the canned response was not saved: {}",
        wd.dump().await
    );

    wd.navigate(&format!("{base}/conversations/{conv}")).await;
    let area = wd.wait_displayed("form#reply textarea[name=text]").await;
    wd.send_keys(&area, "/reem").await;
    let picked = wd
        .wait_js(
            LIVE,
            "var p = document.querySelector('.picker li'); return p ? p.textContent : null;",
            json!([]),
        )
        .await;
    assert!(
        picked.is_some_and(|v| v.as_str().unwrap_or("").contains("/reembolso")),
        "no picker: {}",
        wd.dump().await
    );
    wd.press_keys(ENTER).await;
    let want = format!("Hola Rocío, tu reembolso (caso #{conv}) ya va en camino. ^A");
    let value = wd
        .wait_js(LIVE, "var t = document.querySelector('form#reply textarea'); return t.value.indexOf(arguments[0]) >= 0 ? t.value : null;", json!([want]))
        .await;
    assert!(
        value.is_some(),
        "the rendered text was not inserted: {}",
        wd.dump().await
    );
    let send = wd
        .find("form#reply button.btn.primary")
        .await
        .expect("send button");
    wd.click(&send).await;
    assert!(
        wait_outs(&wd, 1).await.is_some(),
        "the reply did not appear: {}",
        wd.dump().await
    );
    let detail = get_json(&api, &token, &format!("{base}/api/v1/conversations/{conv}")).await;
    assert_eq!(
        out_texts(&detail),
        [want],
        "what was sent is the rendered text"
    );
    wd.quit().await;
}

/// The top bar's search box shows results as you type; Enter opens the
/// search page with highlighted excerpts and facets; a result opens the
/// conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_as_you_type_and_the_search_page() {
    let server = Server::start("").await;
    let (base, api) = (server.base_url(), Server::client());
    let token = server.admin_token().await;
    let ids = inbound(
        &api,
        &base,
        &token,
        "search-1",
        "@nerea",
        "Nerea Ibáñez",
        "Me han cobrado dos veces la facturación de marzo.",
    )
    .await;
    inbound(
        &api,
        &base,
        &token,
        "search-2",
        "@owen",
        "Owen Hall",
        "My parcel never arrived.",
    )
    .await;
    let conv = id_str(&ids["conversation_id"]);
    let wd = start_driver().await;
    sign_in(&wd, &server).await;
    let boxed = wd.wait_displayed("form.topsearch input[name=q]").await;
    // Accent-free, as people type.
    wd.send_keys(&boxed, "facturacion").await;
    let drop = wd
        .wait_js(
            LIVE,
            "var h = document.querySelectorAll('#search-drop .hit'); return h.length ? [h.length, h[0].textContent] : null;",
            json!([]),
        )
        .await;
    let drop = drop.unwrap_or_else(|| panic!("no instant results: {}", server.log()));
    assert_eq!(drop[0], 1, "{drop}");
    assert!(drop[1].as_str().unwrap().contains("Nerea"), "{drop}");
    wd.press_keys(ENTER).await;
    let url = wd
        .wait_url(LIVE, |u| u.contains("/search?q=facturacion"))
        .await;
    assert!(url.is_some(), "Enter did not open the search page");
    let marked = wd
        .wait_js(
            LIVE,
            "var m = document.querySelector('#search-results .hit mark'); return m ? m.textContent : null;",
            json!([]),
        )
        .await;
    assert_eq!(marked, Some(json!("facturación")), "{}", wd.dump().await);
    let facet = wd
        .execute(
            "return Array.from(document.querySelectorAll('.facets li')).map(function (l) { return l.textContent.trim(); });",
            json!([]),
        )
        .await;
    assert!(facet.to_string().contains("api"), "facets: {facet}");
    let hit = wd.find("#search-results .hit a").await.expect("a hit");
    wd.click(&hit).await;
    let url = wd
        .wait_url(LIVE, |u| u.contains(&format!("/conversations/{conv}")))
        .await;
    assert!(url.is_some(), "the hit did not open the conversation");
    // A malformed query explains itself instead of failing.
    wd.navigate(&format!("{base}/search?q=%22abc")).await;
    let err = wd
        .wait_js(
            LIVE,
            "var e = document.querySelector('#search-results .flash.error'); return e ? e.textContent : null;",
            json!([]),
        )
        .await;
    assert!(
        err.is_some_and(|e| e.as_str().unwrap_or("").contains("position 0")),
        "{}",
        wd.dump().await
    );
    wd.quit().await;
}

async fn assert_clean(wd: &WebDriver, place: &str) {
    let findings = wd.execute(UNSAFE_DOM, json!([])).await;
    let findings: Vec<String> = findings
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        findings.is_empty(),
        "unsafe markup in {place}:\n{}",
        findings.join("\n")
    );
    assert!(
        wd.alert_text().await.is_none(),
        "an alert is open on {place}"
    );
    let clean = wd
        .execute("return window.__xss === undefined", json!([]))
        .await;
    assert_eq!(clean, json!(true), "script ran on {place}");
}

const UNSAFE_DOM: &str = r#"
var bad = [];
var tags = ['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta',
  'link', 'style', 'form', 'input', 'button', 'textarea', 'select', 'svg', 'math', 'template',
  'noscript', 'img', 'video', 'audio', 'source', 'image', 'isindex'];
var urls = ['href', 'src', 'action', 'formaction', 'xlink:href', 'background', 'poster', 'data',
  'srcset', 'ping', 'lowsrc', 'dynsrc', 'content'];
function show(el) { var s = el.outerHTML; return s.length > 300 ? s.slice(0, 300) + '…' : s; }
function scheme(v) { return (v || '').replace(/[\u0000-\u0020]/g, '').toLowerCase(); }
document.querySelectorAll('#timeline .body *').forEach(function (el) {
  if (tags.indexOf(el.localName) >= 0) { bad.push('<' + el.localName + '> in a message: ' + show(el)); }
  if (el.hasAttribute('id') || el.hasAttribute('name')) { bad.push('id/name (DOM clobbering) in a message: ' + show(el)); }
  if (el.hasAttribute('style')) { bad.push('style attribute in a message: ' + show(el)); }
  if (el.localName === 'a' && el.hasAttribute('href') && !/noopener/.test(el.getAttribute('rel') || '')) {
    bad.push('link without rel=noopener: ' + show(el));
  }
});
document.querySelectorAll('#timeline *, #list *, #side *, .conv-head *, title').forEach(function (el) {
  for (var i = 0; i < el.attributes.length; i++) {
    var n = el.attributes[i].name.toLowerCase(), v = scheme(el.attributes[i].value);
    if (n.slice(0, 2) === 'on') { bad.push('event handler ' + n + ': ' + show(el)); }
    if (/^(data-)?(hx-|sse-)/.test(n)) { bad.push('htmx attribute ' + n + ': ' + show(el)); }
    if (n === 'srcdoc') { bad.push('srcdoc: ' + show(el)); }
    if (urls.indexOf(n) >= 0 && /^(javascript|vbscript|data):/.test(v)) { bad.push('dangerous URL in ' + n + ': ' + show(el)); }
  }
});
if (document.querySelectorAll('#reply').length > 1) { bad.push('more than one #reply'); }
if (document.querySelectorAll('#shortcuts').length > 1) { bad.push('more than one #shortcuts'); }
return bad;
"#;

// ---- helpers -------------------------------------------------------------------

/// A browser whose failure dumps show the app's markup.
async fn start_driver() -> WebDriver {
    let mut wd = WebDriver::start().await;
    wd.dump_script = INBOX_DUMP.to_string();
    wd
}

async fn sign_in(wd: &WebDriver, server: &Server) {
    sign_in_as(
        wd,
        &server.base_url(),
        &server.admin_email,
        &server.admin_password,
    )
    .await;
}

/// Sign in through the form; ends on the inbox.
async fn sign_in_as(wd: &WebDriver, base: &str, email: &str, password: &str) {
    wd.navigate(&format!("{base}/login")).await;
    let field = wd.wait_displayed("input[name=email]").await;
    wd.send_keys(&field, email).await;
    let field = wd
        .find("input[name=password]")
        .await
        .expect("password field");
    wd.send_keys(&field, password).await;
    let submit = wd.find(".btn.primary").await.expect("sign-in button");
    wd.click(&submit).await;
    let url = wd
        .wait_url(LIVE, |u| {
            u.split('?').next().is_some_and(|p| p.ends_with("/inbox"))
        })
        .await;
    assert!(
        url.is_some(),
        "sign-in as {email} did not land on /inbox: {}",
        wd.dump().await
    );
    wd.wait_displayed("section.list#list").await;
}

/// Wait until the timeline shows at least `want` outgoing messages.
async fn wait_outs(wd: &WebDriver, want: usize) -> Option<Value> {
    let script =
        "return document.querySelectorAll('#timeline article.msg.out').length >= arguments[0]";
    wd.wait_js(LIVE, script, json!([want])).await
}

/// Wait until the page's SSE connection is open, so no change is missed.
async fn wait_sse(wd: &WebDriver) {
    let open = wd.wait_js(LIVE, SSE_OPEN, json!([])).await;
    assert!(
        open.is_some(),
        "the page's SSE connection did not open: {}",
        wd.dump().await
    );
}

async fn inbound(
    api: &reqwest::Client,
    base: &str,
    token: &str,
    external_id: &str,
    handle: &str,
    name: &str,
    text: &str,
) -> Value {
    let body =
        json!({"external_id": external_id, "from": {"handle": handle, "name": name}, "text": text});
    post_inbound(api, base, token, &body).await
}

async fn post_inbound(api: &reqwest::Client, base: &str, token: &str, body: &Value) -> Value {
    let res = api
        .post(format!("{base}/api/v1/inbound"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("POST /api/v1/inbound");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(status, 201, "POST /api/v1/inbound {body}: {text}");
    serde_json::from_str(&text).expect("inbound answer is JSON")
}

async fn get_json(api: &reqwest::Client, token: &str, url: &str) -> Value {
    let res = api.get(url).bearer_auth(token).send().await.expect("GET");
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// The texts of the outgoing messages of a conversation (API detail), in order.
fn out_texts(detail: &Value) -> Vec<String> {
    detail["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["direction"] == "out")
                .filter_map(|m| m["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The delivery class of the outgoing message with this text in a `TIMELINE` result.
fn out_delivery(timeline: &Value, text: &str) -> Option<String> {
    timeline.as_array()?.iter().find_map(|m| {
        let ok = m[0].as_str()?.split_whitespace().any(|c| c == "out") && m[1] == text;
        ok.then(|| m[2].as_str().unwrap_or("none").to_string())
    })
}

fn id_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
        .join(name)
}

/// A local webhook receiver for the `api` channel: it holds every request until
/// [`Webhook::release`], then answers 200, and keeps the bodies.
struct Webhook {
    origin: String,
    release: tokio::sync::watch::Sender<bool>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    async fn start() -> Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind webhook");
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (release, released) = tokio::sync::watch::channel(false);
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(answer_hook(stream, released.clone(), kept.clone()));
            }
        });
        Webhook {
            origin,
            release,
            bodies,
        }
    }

    fn release(&self) {
        let _ = self.release.send(true);
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

async fn answer_hook(
    mut stream: tokio::net::TcpStream,
    mut released: tokio::sync::watch::Receiver<bool>,
    bodies: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < end + 4 + len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
    if released.wait_for(|r| *r).await.is_err() {
        return;
    }
    bodies.lock().unwrap().push(body);
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
                  Connection: close\r\n\r\n{}";
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
