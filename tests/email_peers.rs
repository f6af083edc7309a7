//! The email channel against real peers: a private Dovecot (IMAP with IDLE,
//! IMAPS, STARTTLS) and an aiosmtpd SMTP server, both started here. The
//! server under test is the real `atalaya serve` binary.

mod common;

use common::peers::{Dovecot, FlakyProxy, Mode, Security, SmtpOptions, SmtpPeer};
use common::{Server, toml_string, wait_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

const ADDRESS: &str = "support@example.test";

/// Which transport each side uses.
struct Wiring<'a> {
    imap_port: u16,
    imap_security: &'a str,
    imap_ca: &'a Path,
    smtp: Option<&'a SmtpPeer>,
    extra_channel: &'a str,
}

fn config(w: &Wiring<'_>) -> String {
    let mut c = format!(
        "[business]\nname = \"Acme\"\n\
         [outbox]\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\ntimeout = \"5s\"\nmax_attempts = 1000\n\
         [[channel.email]]\nname = \"support\"\naddress = \"{ADDRESS}\"\n{extra}\n\
         [channel.email.imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"{sec}\"\n\
         username = \"support@example.test\"\npassword = \"secret123\"\nca_file = {ca}\n",
        extra = w.extra_channel,
        port = w.imap_port,
        sec = w.imap_security,
        ca = toml_string(&w.imap_ca.to_string_lossy()),
    );
    if !w.extra_channel.contains("poll_interval") {
        c = c.replace(
            "[channel.email.imap]",
            "poll_interval = \"20s\"\n[channel.email.imap]",
        );
    }
    if let Some(smtp) = w.smtp {
        let sec = match smtp.options().security {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        };
        c.push_str(&format!(
            "[channel.email.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"{sec}\"\nca_file = {}\n",
            smtp.port(),
            toml_string(&smtp.ca_pem_path().to_string_lossy()),
        ));
        if let Some((u, p)) = &smtp.options().auth {
            c.push_str(&format!("username = \"{u}\"\npassword = \"{p}\"\n"));
        }
    }
    c
}

/// A simple mail. `msgid` without brackets; `None` leaves Message-ID out.
fn mail(from: &str, subject: &str, msgid: Option<&str>, body: &str, extra: &str) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    );
    if let Some(id) = msgid {
        m.push_str(&format!("Message-ID: <{id}>\r\n"));
    }
    m.push_str(extra);
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    m.push_str(body);
    m.push_str("\r\n");
    m.into_bytes()
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

/// Every conversation (all statuses), following the cursor.
async fn all_conversations(server: &Server, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get(
            server,
            token,
            &format!("/conversations?status=all&limit=200&sort=oldest&cursor={cursor}"),
        )
        .await;
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = c.to_string(),
            _ => return out,
        }
    }
}

async fn message_total(server: &Server, token: &str) -> u64 {
    all_conversations(server, token)
        .await
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum()
}

async fn wait_messages(server: &Server, token: &str, n: u64, timeout: Duration) -> u64 {
    let got = wait_for(timeout, || async {
        let t = message_total(server, token).await;
        (t >= n).then_some(t)
    })
    .await;
    match got {
        Some(t) => t,
        None => panic!(
            "expected {n} messages, have {}\n{}",
            message_total(server, token).await,
            server.log()
        ),
    }
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
    body["message_id"]
        .as_u64()
        .or_else(|| body["id"].as_u64())
        .unwrap_or_else(|| panic!("reply answer without id: {body}"))
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// New mail arrives within 2 s with IDLE (over IMAPS); a reply reaches the
/// SMTP server (STARTTLS + AUTH) with the threading headers; the customer's
/// answer, which only names our Message-ID, threads back; a bounce for the
/// reply marks it failed with the server's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_reply_threading_and_bounce() {
    let dovecot = Dovecot::start();
    let smtp = SmtpPeer::start(
        SmtpOptions::plain()
            .with_security(Security::StartTls)
            .with_auth("relay", "relay-pw"),
    );
    dovecot.deliver(&mail(
        "José Pérez <jose@example.com>",
        "Cobro doble",
        Some("first@example.com"),
        "Me cobraron dos veces el pedido A-1042.",
        "",
    ));
    let ca = dovecot.ca_pem_path();
    let server = Server::start(&config(&Wiring {
        imap_port: dovecot.tls_port(),
        imap_security: "tls",
        imap_ca: &ca,
        smtp: Some(&smtp),
        extra_channel: "",
    }))
    .await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 1, Duration::from_secs(20)).await;
    // The poller is now in IDLE: a new mail must show up within 2 s.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    dovecot.deliver(&mail(
        "Luis <luis@example.com>",
        "Pedido no llegó",
        Some("second@example.com"),
        "Mi pedido no ha llegado.",
        "",
    ));
    wait_messages(&server, &token, 2, Duration::from_secs(10)).await;
    let idle_latency = t0.elapsed();
    println!("IDLE: delivered → stored in {idle_latency:?}");
    assert!(
        idle_latency < Duration::from_secs(2),
        "took {idle_latency:?}"
    );

    let convs = all_conversations(&server, &token).await;
    let jose = convs
        .iter()
        .find(|c| c["contact"]["handle"] == "jose@example.com")
        .expect("José's conversation");
    let id = jose["id"].as_u64().unwrap();
    assert_eq!(jose["subject"], "Cobro doble");
    assert_eq!(jose["channel"], "support");
    reply(&server, &token, id, "Hola José, ya está devuelto.").await;
    let got = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{}", server.log());
    let received = &smtp.received()[0];
    assert!(received.tls, "sent over STARTTLS");
    assert_eq!(received.auth_user.as_deref(), Some("relay"));
    assert_eq!(received.rcpt_to, vec!["jose@example.com".to_string()]);
    let raw = String::from_utf8_lossy(&received.data).to_string();
    assert_eq!(header(&raw, "In-Reply-To"), Some("<first@example.com>"));
    assert!(
        header(&raw, "References")
            .unwrap()
            .contains("<first@example.com>")
    );
    assert!(header(&raw, "Subject").unwrap().contains("Re: Cobro doble"));
    assert!(header(&raw, "From").unwrap().contains("via Acme"), "{raw}");
    let our_id = header(&raw, "Message-ID").unwrap().to_string();
    assert!(our_id.ends_with("@example.test>"), "{our_id}");
    assert!(header(&raw, "Auto-Submitted").is_none());

    // The customer answers with only In-Reply-To (no References).
    let ours = our_id.trim_matches(|c| c == '<' || c == '>');
    dovecot.deliver(&mail(
        "jose@example.com",
        "Re: Cobro doble",
        Some("third@example.com"),
        "Gracias, ya lo veo.",
        &format!("In-Reply-To: <{ours}>\r\n"),
    ));
    wait_messages(&server, &token, 4, Duration::from_secs(10)).await;
    let d = detail(&server, &token, id).await;
    let msgs = d["messages"].as_array().unwrap();
    assert_eq!(
        msgs.len(),
        3,
        "the answer threads into the conversation: {d}"
    );
    assert_eq!(
        msgs[2]["text"].as_str().unwrap().trim(),
        "Gracias, ya lo veo."
    );
    let reply_msg = msgs[1]["id"].as_u64().unwrap();

    // A bounce for our reply marks it failed with the remote's text.
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@example.test>\r\nTo: {ADDRESS}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n\
         Final-Recipient: rfc822; jose@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <jose@example.com>: mailbox full and closed\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {our_id}\r\nSubject: Re: Cobro doble\r\n\r\n--B--\r\n"
    );
    dovecot.deliver(dsn.as_bytes());
    let failed = wait_for(Duration::from_secs(10), || async {
        let d = detail(&server, &token, id).await;
        let m = d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_u64() == Some(reply_msg))
            .cloned()
            .unwrap();
        (m["delivery"] == "failed").then_some(m)
    })
    .await
    .unwrap_or_else(|| panic!("the bounce did not mark the reply failed\n{}", server.log()));
    assert!(
        failed["delivery_detail"]
            .as_str()
            .unwrap()
            .contains("mailbox full and closed"),
        "{failed}"
    );
    // The bounce did not become a conversation of its own.
    assert_eq!(all_conversations(&server, &token).await.len(), 2);
}

/// A connection cut every few KB, a Dovecot restart mid-stream, a
/// UIDVALIDITY reset, a mail without Message-ID and a 40 MB mail over the
/// limit: every mail is stored exactly once, the big one is quarantined
/// with a visible reason (and never downloaded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_survived_exactly_once() {
    let mut dovecot = Dovecot::start();
    let proxy = FlakyProxy::start(dovecot.port(), Some(6_000));
    let mut batch: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            mail(
                &format!("c{i}@example.com"),
                &format!("Consulta {i}"),
                Some(&format!("m{i}@example.com")),
                &"línea de texto con acentos: facturación\r\n".repeat(20),
                "",
            )
        })
        .collect();
    batch.push(mail(
        "noid@example.com",
        "Sin Message-ID",
        None,
        "Este correo no tiene Message-ID.",
        "",
    ));
    // 40 MB of attachment, over the 25 MB default limit.
    let big = format!(
        "From: big@example.com\r\nTo: {ADDRESS}\r\nSubject: Fotos\r\nMessage-ID: <big@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\n\
         Content-Type: text/plain\r\n\r\nadjunto\r\n--X\r\nContent-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"fotos.zip\"\r\n\r\n{}\r\n--X--\r\n",
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
            .repeat((40 << 20) / 82)
    );
    assert!(big.len() >= 40 << 20);
    batch.push(big.into_bytes());
    dovecot.deliver_bulk(&batch);
    let ca = dovecot.ca_pem_path();
    let mut server = Server::start(&config(&Wiring {
        imap_port: proxy.port(),
        imap_security: "none",
        imap_ca: &ca,
        smtp: None,
        extra_channel: "poll_interval = \"1s\"",
    }))
    .await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 61, Duration::from_secs(90)).await;
    assert!(
        proxy.cuts() >= 3,
        "the proxy cut {} connections",
        proxy.cuts()
    );
    // Restart Dovecot while more mail comes in.
    dovecot.stop();
    let more: Vec<Vec<u8>> = (60..80)
        .map(|i| {
            mail(
                &format!("c{i}@example.com"),
                &format!("Consulta {i}"),
                Some(&format!("m{i}@example.com")),
                "después del reinicio",
                "",
            )
        })
        .collect();
    dovecot.start_again();
    dovecot.deliver_bulk(&more);
    wait_messages(&server, &token, 81, Duration::from_secs(60)).await;

    // UIDVALIDITY reset: everything is listed again, nothing is duplicated.
    let before = dovecot.uidvalidity();
    let after = dovecot.reset_uidvalidity();
    assert_ne!(before, after);
    dovecot.deliver(&mail(
        "late@example.com",
        "Después del cambio",
        Some("late@example.com"),
        "nuevo",
        "",
    ));
    wait_messages(&server, &token, 82, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let convs = all_conversations(&server, &token).await;
    let total: u64 = convs
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 82, "every mail exactly once");
    assert_eq!(convs.len(), 82);
    assert!(convs.iter().any(|c| c["subject"] == "Sin Message-ID"));

    let q = get(&server, &token, "/admin/quarantine").await;
    let items = q["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{q}");
    assert!(
        items[0]["reason"].as_str().unwrap().contains("too large"),
        "{q}"
    );
    assert_eq!(items[0]["has_raw"], false);
    assert!(
        items[0]["reason"]
            .as_str()
            .unwrap()
            .contains("from big@example.com"),
        "the admin sees who sent it: {q}"
    );
    let events = server.log();
    assert!(
        events.contains("UIDVALIDITY changed"),
        "the reset is reported"
    );
    let status = server.terminate();
    assert!(status.success());
}

/// kill -9 while 5,000 mails are being fetched: after the restart every
/// mail is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_a_5000_mail_fetch() {
    const N: usize = 5_000;
    let dovecot = Dovecot::start();
    let mails: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            mail(
                &format!("c{}@example.com", i % 700),
                &format!("Asunto {i}"),
                Some(&format!("bulk{i}@example.com")),
                "Hola, tengo una pregunta sobre mi factura.",
                "",
            )
        })
        .collect();
    dovecot.deliver_bulk(&mails);
    let ca = dovecot.ca_pem_path();
    let mut server = Server::start(&config(&Wiring {
        imap_port: dovecot.port(),
        imap_security: "starttls",
        imap_ca: &ca,
        smtp: None,
        extra_channel: "",
    }))
    .await;
    let token = server.admin_token().await;
    let t0 = Instant::now();
    let mid = wait_messages(&server, &token, 800, Duration::from_secs(120)).await;
    server.kill9();
    println!("killed after {mid} messages ({:?})", t0.elapsed());
    assert!(mid < N as u64, "the kill came too late to test anything");
    server.restart().await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, N as u64, Duration::from_secs(240)).await;
    println!("{N} mails fetched in {:?} (with one kill -9)", t0.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = server.terminate();
    assert!(status.success());
    let store = atalaya::store::Store::open(
        server.data_dir(),
        atalaya::store::StoreOptions::default(),
        std::sync::Arc::new(atalaya::domain::SystemClock),
        std::sync::Arc::new(atalaya::metrics::Metrics::default()),
    )
    .unwrap();
    let report = store.verify().unwrap();
    assert!(report.ok(), "integrity: {:?}", report.problems);
    assert_eq!(report.messages as usize, N, "every mail exactly once");
    let missing = store
        .read_blocking(|r| {
            let mut missing = Vec::new();
            for i in 0..N {
                if r.dedupe("support", &format!("bulk{i}@example.com"))?
                    .is_none()
                {
                    missing.push(i);
                }
            }
            Ok(missing)
        })
        .unwrap();
    assert!(missing.is_empty(), "not stored: {missing:?}");
}

/// SMTP down with queued replies, then 421 and 451 answers, then a kill -9
/// while the server holds the end of DATA: after recovery every reply is
/// delivered, in order per conversation, each with its one Message-ID. A
/// permanent 550 marks the reply failed with the server's text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_retries_in_order_with_one_message_id() {
    let dovecot = Dovecot::start();
    let mut smtp = SmtpPeer::start(SmtpOptions::plain().with_security(Security::Tls));
    for (i, who) in ["ana", "beto"].iter().enumerate() {
        dovecot.deliver(&mail(
            &format!("{who}@example.com"),
            &format!("Caso {i}"),
            Some(&format!("case{i}@example.com")),
            "Necesito ayuda.",
            "",
        ));
    }
    let ca = dovecot.ca_pem_path();
    let mut server = Server::start(&config(&Wiring {
        imap_port: dovecot.port(),
        imap_security: "none",
        imap_ca: &ca,
        smtp: Some(&smtp),
        extra_channel: "",
    }))
    .await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 2, Duration::from_secs(20)).await;
    let convs = all_conversations(&server, &token).await;
    let ids: Vec<u64> = convs.iter().map(|c| c["id"].as_u64().unwrap()).collect();

    smtp.stop();
    for n in 1..=3 {
        for id in &ids {
            reply(&server, &token, *id, &format!("respuesta {n} a {id}")).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    smtp.start_again();
    smtp.set_mode(Mode::Temp421);
    tokio::time::sleep(Duration::from_secs(2)).await;
    smtp.set_mode(Mode::Temp451);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.count(), 0, "nothing accepted while refusing");
    // Hold the end of DATA, and kill Atalaya while it waits.
    smtp.set_mode(Mode::Tarpit(Duration::from_secs(3)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    smtp.set_mode(Mode::Accept);
    server.restart().await;
    let token = server.admin_token().await;
    let got = smtp.wait_for(6, Duration::from_secs(60));
    assert!(got.len() >= 6, "{}", server.log());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // One Message-ID per reply (a repeat after the kill keeps its id), and
    // per conversation the first arrivals are in order.
    let mut first_arrival: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for r in smtp.received() {
        let raw = String::from_utf8_lossy(&r.data).to_string();
        let id = header(&raw, "Message-ID").unwrap().to_string();
        let body = raw.split("\r\n\r\n").nth(2).unwrap_or("").to_string();
        let text = body
            .lines()
            .find(|l| l.starts_with("respuesta"))
            .unwrap_or("")
            .to_string();
        first_arrival.entry(id).or_insert((r.seq, text));
    }
    assert_eq!(first_arrival.len(), 6, "six replies, six Message-IDs");
    let texts: HashSet<&String> = first_arrival.values().map(|v| &v.1).collect();
    assert_eq!(texts.len(), 6, "each reply once by id: {first_arrival:?}");
    for id in &ids {
        let mut seqs: Vec<(u64, String)> = first_arrival
            .values()
            .filter(|(_, t)| t.ends_with(&format!(" a {id}")))
            .cloned()
            .collect();
        seqs.sort();
        let order: Vec<String> = seqs.into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            order,
            (1..=3)
                .map(|n| format!("respuesta {n} a {id}"))
                .collect::<Vec<_>>()
        );
    }
    // Every reply shows as sent.
    for id in &ids {
        let d = detail(&server, &token, *id).await;
        for m in d["messages"].as_array().unwrap() {
            if m["direction"] == "out" {
                assert_eq!(m["delivery"], "sent", "{m}");
            }
        }
    }
    // A permanent refusal: failed, with the server's words for the agent.
    smtp.set_mode(Mode::Perm550);
    let mid = reply(&server, &token, ids[0], "esta no llegará").await;
    let failed = wait_for(Duration::from_secs(20), || async {
        let d = detail(&server, &token, ids[0]).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_u64() == Some(mid) && m["delivery"] == "failed")
            .cloned()
    })
    .await
    .expect("a 550 marks the reply failed");
    assert!(
        failed["delivery_detail"]
            .as_str()
            .unwrap()
            .contains("mailbox unavailable"),
        "{failed}"
    );
}

/// Two auto-responders mailing each other: we acknowledge a sender at most
/// once per window, never answer automated mail, and mark our own
/// acknowledgement as automatic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_replies_never_loop() {
    let dovecot = Dovecot::start();
    let smtp = SmtpPeer::start(SmtpOptions::plain());
    let ca = dovecot.ca_pem_path();
    let server = Server::start(&config(&Wiring {
        imap_port: dovecot.port(),
        imap_security: "none",
        imap_ca: &ca,
        smtp: Some(&smtp),
        extra_channel: "acknowledge = true\npoll_interval = \"1s\"",
    }))
    .await;
    let token = server.admin_token().await;
    // A naive responder: a new subject every time, no automation headers.
    for i in 0..5 {
        dovecot.deliver(&mail(
            "bot@other.example",
            &format!("Ticket #{i} received"),
            Some(&format!("bot{i}@other.example")),
            "We got your message.",
            "",
        ));
    }
    // Well-behaved automation and lists are never answered.
    dovecot.deliver(&mail(
        "ooo@example.com",
        "Out of office",
        Some("ooo@example.com"),
        "I am away.",
        "Auto-Submitted: auto-replied\r\n",
    ));
    dovecot.deliver(&mail(
        "news@example.com",
        "Newsletter",
        Some("news1@example.com"),
        "Offers.",
        "Precedence: bulk\r\nList-Id: <news.example.com>\r\n",
    ));
    dovecot.deliver(&mail(
        "MAILER-DAEMON@example.net",
        "Warning",
        Some("md1@example.net"),
        "delayed",
        "",
    ));
    // Mail from our own address (a loop through a forwarder).
    dovecot.deliver(&mail(ADDRESS, "Loop", Some("self1@example.test"), "x", ""));
    // A person gets one acknowledgement.
    dovecot.deliver(&mail(
        "maria@example.com",
        "Consulta",
        Some("maria1@example.com"),
        "¿Tienen envío a Canarias?",
        "",
    ));
    wait_messages(&server, &token, 9 + 2, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = smtp.received();
    let to: Vec<String> = received.iter().map(|r| r.rcpt_to.join(",")).collect();
    assert_eq!(
        to.iter()
            .filter(|t| t.as_str() == "bot@other.example")
            .count(),
        1,
        "{to:?}"
    );
    assert_eq!(
        to.iter()
            .filter(|t| t.as_str() == "maria@example.com")
            .count(),
        1
    );
    assert_eq!(received.len(), 2, "nobody else is answered: {to:?}");
    for r in &received {
        let raw = String::from_utf8_lossy(&r.data).to_string();
        assert_eq!(header(&raw, "Auto-Submitted"), Some("auto-replied"));
    }
}

/// A browser session against the real server (cookie + CSRF by hand).
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

/// An admin adds a mailbox in the UI: a wrong password is refused with the
/// server's reason before anything is saved; the right one is saved, polled
/// at once without a restart, answers go out through its SMTP server, and
/// it survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_added_in_the_admin_ui() {
    let dovecot = Dovecot::start();
    let smtp = SmtpPeer::start(SmtpOptions::plain().with_auth("relay", "relay-pw"));
    dovecot.deliver(&mail(
        "ana@example.com",
        "Hola",
        Some("ui1@example.com"),
        "¿Abren el sábado?",
        "",
    ));
    let mut server = Server::start("").await;
    let browser = Browser::sign_in(&server).await;
    let (status, page) = browser.get("/admin/channels").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"add-mailbox\""));
    let imap_port = dovecot.port().to_string();
    let smtp_port = smtp.port().to_string();
    let mut form = vec![
        ("name", "ventas"),
        ("address", ADDRESS),
        ("imap_host", "127.0.0.1"),
        ("imap_port", imap_port.as_str()),
        ("imap_security", "none"),
        ("imap_username", "support@example.test"),
        ("imap_password", "wrong-password"),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", smtp_port.as_str()),
        ("smtp_security", "none"),
        ("smtp_username", "relay"),
        ("smtp_password", "relay-pw"),
        ("poll_seconds", "30"),
    ];
    let (status, page) = browser.post("/admin/channels/email", &form).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("could not connect"), "{page}");
    assert!(!page.contains("relay-pw"), "passwords are not sent back");
    form[6] = ("imap_password", "secret123");
    let (status, page) = browser.post("/admin/channels/email", &form).await;
    assert_eq!(status, 303, "{page}");
    let token = server.admin_token().await;
    wait_messages(&server, &token, 1, Duration::from_secs(20)).await;
    let (_, page) = browser.get("/admin/channels").await;
    assert!(page.contains("data-name=\"ventas\""), "{page}");
    assert!(!page.contains("secret123"));

    let conv = all_conversations(&server, &token).await[0]["id"]
        .as_u64()
        .unwrap();
    reply(&server, &token, conv, "Sí, de 10 a 14.").await;
    let got = smtp.wait_for(1, Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&got[0]).contains("In-Reply-To: <ui1@example.com>"));

    // After a restart the mailbox is still there and still polled.
    server.terminate();
    server.restart().await;
    dovecot.deliver(&mail(
        "ana@example.com",
        "Otra",
        Some("ui2@example.com"),
        "Y el domingo?",
        "",
    ));
    let token = server.admin_token().await;
    wait_messages(&server, &token, 3, Duration::from_secs(20)).await;
    // Removing it stops nothing already stored.
    let browser = Browser::sign_in(&server).await;
    let (status, _) = browser
        .post("/admin/channels/email/ventas/delete", &[])
        .await;
    assert_eq!(status, 303);
    let (_, page) = browser.get("/admin/channels").await;
    assert!(!page.contains("data-name=\"ventas\""));
    assert_eq!(message_total(&server, &token).await, 3);
}

/// After import, mail is marked seen or moved to a folder, as configured,
/// and a second folder is polled too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_import_seen_or_moved_and_several_folders() {
    let dovecot = Dovecot::start();
    dovecot.create_folder("Atalaya");
    dovecot.create_folder("Ventas");
    for i in 0..3 {
        dovecot.deliver(&mail(
            &format!("s{i}@example.com"),
            &format!("Visto {i}"),
            Some(&format!("seen{i}@example.com")),
            "hola",
            "",
        ));
    }
    dovecot.deliver_into(
        "Ventas",
        &mail(
            "lead@example.com",
            "Precio",
            Some("lead1@example.com"),
            "¿Cuánto cuesta?",
            "",
        ),
    );
    let ca = dovecot.ca_pem_path();
    let base = config(&Wiring {
        imap_port: dovecot.port(),
        imap_security: "none",
        imap_ca: &ca,
        smtp: None,
        extra_channel: "poll_interval = \"1s\"",
    });
    let seen = base.replace(
        "[channel.email.imap]\n",
        "[channel.email.imap]\nafter_import = \"seen\"\nfolders = [\"INBOX\", \"Ventas\"]\n",
    );
    let mut server = Server::start(&seen).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 4, Duration::from_secs(20)).await;
    assert!(
        common::peers::poll_until(Duration::from_secs(10), || dovecot.seen_count("INBOX") == 3),
        "INBOX mail marked \\Seen"
    );
    assert_eq!(dovecot.message_count("INBOX"), 3, "nothing moved");
    server.terminate();

    // The same mailbox, now moving what it imports.
    for i in 3..5 {
        dovecot.deliver(&mail(
            &format!("m{i}@example.com"),
            &format!("Mover {i}"),
            Some(&format!("move{i}@example.com")),
            "hola",
            "",
        ));
    }
    let moving = base.replace(
        "[channel.email.imap]\n",
        "[channel.email.imap]\nafter_import = \"move\"\nmove_to = \"Atalaya\"\n",
    );
    std::fs::write(
        server.config_path(),
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\ndata = {}\n{moving}",
            server.port(),
            toml_string(&server.data_dir().to_string_lossy())
        ),
    )
    .unwrap();
    server.restart().await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 6, Duration::from_secs(20)).await;
    assert!(
        common::peers::poll_until(Duration::from_secs(10), || {
            dovecot.message_count("Atalaya") == 2 && dovecot.message_count("INBOX") == 3
        }),
        "the two new mails were moved: INBOX {} Atalaya {}",
        dovecot.message_count("INBOX"),
        dovecot.message_count("Atalaya")
    );
    assert_eq!(
        message_total(&server, &token).await,
        6,
        "nothing imported twice"
    );
}

/// A reply with two files (a non-ASCII name, binary bytes) reaches the real
/// SMTP server as `multipart/mixed`: the text/HTML alternative and the
/// threading headers as before, and both files byte-identical with their
/// names and types. A file that disappears before sending fails that reply
/// with a clear reason instead of sending it without the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_with_attachments_is_multipart_mixed() {
    use base64::Engine;
    use mail_parser::{MessageParser, MimeHeaders};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dovecot = Dovecot::start();
    let smtp = SmtpPeer::start(SmtpOptions::plain());
    dovecot.deliver(&mail(
        "José Pérez <jose@example.com>",
        "Factura de noviembre",
        Some("factura-1@example.com"),
        "¿Me enviáis la factura, por favor?",
        "",
    ));
    let ca = dovecot.ca_pem_path();
    let server = Server::start(&config(&Wiring {
        imap_port: dovecot.port(),
        imap_security: "none",
        imap_ca: &ca,
        smtp: Some(&smtp),
        extra_channel: "",
    }))
    .await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 1, Duration::from_secs(20)).await;
    let id = all_conversations(&server, &token).await[0]["id"]
        .as_u64()
        .unwrap();

    let pdf_name = "Factura nº 7 – José (año 2026).pdf";
    let pdf = b"%PDF-1.4\n% factura de prueba\n%%EOF\n".to_vec();
    // Every byte value, with CR, LF and NUL in odd places.
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend((0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    binary.extend(b"\r\n.\r\n\0\r");
    let post = |body: Value| {
        let url = format!("{}/api/v1/conversations/{id}/messages", server.base_url());
        let token = token.clone();
        async move {
            let res = Server::client()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let v: Value = res.json().await.unwrap();
            assert_eq!(status.as_u16(), 201, "{v}");
            v["message_id"].as_u64().unwrap()
        }
    };
    post(json!({
        "text": "Hola José,\nos adjuntamos la factura y los datos.",
        "attachments": [
            {"filename": pdf_name, "content_type": "application/pdf", "data_base64": b64(&pdf)},
            {"filename": "datos.bin", "content_type": "application/octet-stream", "data_base64": b64(&binary)},
        ]
    }))
    .await;
    let got = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{}", server.log());
    let received = &smtp.received()[0];
    assert_eq!(received.rcpt_to, vec!["jose@example.com".to_string()]);
    let raw_text = String::from_utf8_lossy(&received.data).to_string();
    assert!(
        header(&raw_text, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{raw_text}"
    );
    assert_eq!(
        header(&raw_text, "In-Reply-To"),
        Some("<factura-1@example.com>")
    );
    assert!(
        header(&raw_text, "References")
            .unwrap()
            .contains("<factura-1@example.com>")
    );
    assert!(
        header(&raw_text, "Message-ID")
            .unwrap()
            .ends_with("@example.test>")
    );
    assert!(
        header(&raw_text, "Subject")
            .unwrap()
            .contains("Re: Factura de noviembre")
    );

    let parsed = MessageParser::default().parse(&received.data).unwrap();
    // The first part of the mixed mail is the text/HTML alternative.
    let first = parsed.part(1).expect("a first part");
    let ct = first.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "{raw_text}"
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("os adjuntamos la factura"), "{text}");
    assert!(
        text.contains("> ¿Me enviáis la factura, por favor?"),
        "quoted history is kept: {text}"
    );
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("os adjuntamos la factura"), "{html}");

    let atts: Vec<_> = parsed.attachments().collect();
    assert_eq!(atts.len(), 2, "{raw_text}");
    assert_eq!(atts[0].attachment_name(), Some(pdf_name));
    let ct = atts[0].content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert_eq!(atts[0].contents(), &pdf[..]);
    assert_eq!(atts[1].attachment_name(), Some("datos.bin"));
    let ct = atts[1].content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("octet-stream"))
    );
    assert_eq!(atts[1].contents(), &binary[..], "binary bytes survive");
    for a in &atts {
        assert!(
            a.content_disposition().is_some_and(|d| d.is_attachment()),
            "sent as attachments"
        );
    }
    // The reply shows its files, delivered.
    let d = detail(&server, &token, id).await;
    let out = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "out")
        .unwrap()
        .clone();
    let names: Vec<&str> = out["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![pdf_name, "datos.bin"]);
    let delivered = wait_for(Duration::from_secs(10), || async {
        let d = detail(&server, &token, id).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["direction"] == "out" && m["delivery"] == "sent")
            .then_some(())
    })
    .await;
    assert!(delivered.is_some(), "{}", server.log());

    // A file that is gone by the time the reply is sent: the server refuses
    // the first tries, the file is removed, then the reply fails by name.
    smtp.set_mode(Mode::Temp451);
    let lost = b"solo una vez".to_vec();
    let msg_id = post(json!({
        "text": "Otro adjunto.",
        "attachments": [{"filename": "perdido.txt", "data_base64": b64(&lost)}]
    }))
    .await;
    let m = wait_for(Duration::from_secs(20), || async {
        let d = detail(&server, &token, id).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_u64() == Some(msg_id) && !m["delivery_detail"].is_null())
            .cloned()
    })
    .await
    .unwrap_or_else(|| panic!("no attempt was made\n{}", server.log()));
    let sha = m["attachments"][0]["sha256"].as_str().unwrap().to_string();
    let path = server
        .data_dir()
        .join("attachments")
        .join(&sha[..2])
        .join(&sha);
    assert_eq!(std::fs::read(&path).unwrap(), lost, "stored as uploaded");
    std::fs::remove_file(&path).unwrap();
    smtp.set_mode(Mode::Accept);
    let failed = wait_for(Duration::from_secs(20), || async {
        let d = detail(&server, &token, id).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_u64() == Some(msg_id) && m["delivery"] == "failed")
            .cloned()
    })
    .await
    .unwrap_or_else(|| panic!("the reply did not fail\n{}", server.log()));
    assert!(
        failed["delivery_detail"]
            .as_str()
            .unwrap()
            .contains("perdido.txt"),
        "{failed}"
    );
    assert!(
        failed["delivery_detail"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{failed}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.count(), 1, "the reply never went out without its file");
}
