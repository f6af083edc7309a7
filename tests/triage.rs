//! Triage end to end with the real binary: a message is scored, classified,
//! escalated and routed by the background follower within moments of
//! arriving, with reasons in the API; the inbox sorted by priority shows it;
//! a conversation waiting for a free agent is handed out when one frees up;
//! the rules are versioned, validated and simulated through the API.

mod common;

use common::{Server, wait_for};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Add staff accounts offline with the CLI (the store is single-process).
fn add_users(server: &mut Server, users: &[(&str, &str, &str)]) {
    let status = server.terminate();
    assert!(
        status.success(),
        "the server did not stop cleanly: {status}"
    );
    for (email, name, role) in users {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "user", "add", "--email", email, "--name", name, "--role", role, "--config",
            ])
            .arg(server.config_path())
            .env_remove("ATALAYA_DATA")
            .env_remove("ATALAYA_LISTEN")
            .env_remove("ATALAYA_CONFIG")
            .env("ATALAYA_USER_PASSWORD", "agent-pass-1")
            .output()
            .expect("run atalaya user add");
        assert!(
            out.status.success(),
            "atalaya user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

async fn call(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/v1{path}", server.base_url());
    let c = Server::client();
    let req = match method {
        "GET" => c.get(url),
        _ => c.post(url),
    }
    .bearer_auth(token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn ok(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = call(server, token, method, path, body).await;
    assert!(
        (200..300).contains(&s),
        "{method} {path}: {s} {v}\n{}",
        server.log()
    );
    v
}

async fn login(server: &Server, email: &str) -> String {
    let v = ok(
        server,
        "",
        "POST",
        "/login",
        Some(json!({"email": email, "password": "agent-pass-1"})),
    )
    .await;
    v["token"].as_str().unwrap().to_string()
}

/// Post a customer message; (conversation id, message id).
async fn post(
    server: &Server,
    token: &str,
    id: &str,
    from: Value,
    text: &str,
    public: bool,
) -> (u64, u64) {
    let v = ok(
        server,
        token,
        "POST",
        "/inbound",
        Some(json!({"external_id": id, "from": from, "text": text, "public": public})),
    )
    .await;
    (
        v["conversation_id"].as_u64().unwrap(),
        v["message_id"].as_u64().unwrap(),
    )
}

async fn inbound(
    server: &Server,
    token: &str,
    id: &str,
    from: Value,
    text: &str,
    public: bool,
) -> u64 {
    post(server, token, id, from, text, public).await.0
}

/// The conversation once triage decided on it (on message `on`, if given).
async fn decided(server: &Server, token: &str, conv: u64, on: Option<u64>) -> Value {
    let got = wait_for(Duration::from_secs(10), || async {
        let v = ok(
            server,
            token,
            "GET",
            &format!("/conversations/{conv}"),
            None,
        )
        .await;
        let m = v["triage"]["message_id"].as_u64();
        match (m, on) {
            (Some(a), Some(b)) if a == b => Some(v),
            (Some(_), None) => Some(v),
            _ => None,
        }
    })
    .await;
    got.unwrap_or_else(|| panic!("conversation {conv} was not triaged\n{}", server.log()))
}

fn reasons(v: &Value) -> String {
    v["triage"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_charge_from_a_verified_account_is_p1_billing_tier3_and_routed() {
    let mut server = Server::start("[triage]\nsweep_interval = \"1s\"\n").await;
    tokio::task::block_in_place(|| {
        add_users(
            &mut server,
            &[
                ("ana@example.test", "Ana Front", "agent"),
                ("carmen@example.test", "Carmen Billing", "agent"),
                ("diego@example.test", "Diego Billing", "agent"),
            ],
        )
    });
    server.restart().await;
    let admin = server.admin_token().await;
    let agents = ok(&server, &admin, "GET", "/agents", None).await;
    let id_of = |email: &str| {
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == email)
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let (ana, carmen, diego) = (
        id_of("ana@example.test"),
        id_of("carmen@example.test"),
        id_of("diego@example.test"),
    );
    // Ana answers general questions; Carmen and Diego are tier 3 billing.
    for (id, tier, skills, capacity) in [
        (ana, 1, vec!["general"], 5),
        (carmen, 3, vec!["billing"], 1),
        (diego, 3, vec!["billing"], 5),
    ] {
        ok(
            &server,
            &admin,
            "POST",
            &format!("/agents/{id}"),
            Some(json!({"tier": tier, "skills": skills, "languages": ["es", "en"], "capacity": capacity})),
        )
        .await;
    }
    // Ana and Carmen come online; Diego stays offline.
    let ana_token = login(&server, "ana@example.test").await;
    let carmen_token = login(&server, "carmen@example.test").await;
    for t in [&ana_token, &carmen_token] {
        ok(
            &server,
            t,
            "POST",
            "/agents/me/availability",
            Some(json!({"availability": "online"})),
        )
        .await;
    }
    let (s, _) = call(
        &server,
        &ana_token,
        "POST",
        "/agents/me/availability",
        Some(json!({"availability": "sleepy"})),
    )
    .await;
    assert_eq!(s, 400);

    // The question first, then the urgent complaint.
    let question = inbound(
        &server,
        &admin,
        "q-1",
        json!({"handle": "@lucia", "name": "Lucía"}),
        "¿a qué hora abren el sábado?",
        false,
    )
    .await;
    let sent = Instant::now();
    let billing = inbound(
        &server,
        &admin,
        "b-1",
        json!({"handle": "@pedro_influ", "name": "Pedro", "followers": 150000, "verified": true}),
        "Me cobraron dos veces la factura de noviembre, ¡es un robo!",
        true,
    )
    .await;
    let b = decided(&server, &admin, billing, None).await;
    let took = sent.elapsed();
    let why = reasons(&b);
    assert_eq!(b["priority"], "P1", "{b}");
    assert_eq!(b["triage"]["priority"], "P1");
    assert!(b["score"].as_u64().unwrap() >= 75, "{b}");
    assert!(
        b["category"].as_str().unwrap().starts_with("billing"),
        "{}",
        b["category"]
    );
    assert_eq!(b["tier"], 3, "{b}");
    assert!(why.to_lowercase().contains("cobraron dos veces"), "{why}");
    assert!(why.contains("150k followers"), "{why}");
    // The online tier-3 billing agent, not the offline one nor tier 1.
    assert_eq!(b["assignee"]["id"].as_u64(), Some(carmen), "{b}");
    assert_eq!(b["triage"]["routed_to"], "Carmen Billing");
    let routing = b["triage"]["routing_reasons"].to_string();
    assert!(routing.contains("tier 3"), "{routing}");
    assert!(b["sla_due_at"].is_string(), "an SLA due time is set: {b}");
    assert!(b["triage"]["first_response_due"].is_string());
    eprintln!("decided and routed {took:?} after the inbound POST");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let q = decided(&server, &admin, question, None).await;
    let p = q["priority"].as_str().unwrap();
    assert!(p == "P3" || p == "P4", "{q}");
    assert_eq!(q["category"], "general", "{q}");
    assert_eq!(q["tier"], 1);
    assert_eq!(q["assignee"]["id"].as_u64(), Some(ana), "{q}");

    // The inbox by priority puts the complaint first.
    let list = ok(&server, &admin, "GET", "/conversations?sort=priority", None).await;
    let ids: Vec<u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.first(), Some(&billing), "{list}");
    assert!(ids.contains(&question));

    // Carmen is at capacity (1): an outage report waits in the queue...
    let outage = inbound(
        &server,
        &admin,
        "o-1",
        json!({"handle": "@tienda_sur", "name": "Tienda Sur"}),
        "No funciona la app desde esta mañana, estamos sin servicio y perdiendo ventas",
        false,
    )
    .await;
    let o = decided(&server, &admin, outage, None).await;
    assert_eq!(o["tier"], 3, "{o}");
    assert!(o["assignee"].is_null(), "nobody tier 3 is free: {o}");
    let waiting = o["triage"]["routing_reasons"].to_string();
    assert!(waiting.contains("queue"), "{waiting}");
    // ...until she resolves the billing case: it is handed to her at once.
    ok(
        &server,
        &carmen_token,
        "POST",
        &format!("/conversations/{billing}/status"),
        Some(json!({"status": "resolved"})),
    )
    .await;
    let handed = wait_for(Duration::from_secs(10), || async {
        let v = ok(
            &server,
            &admin,
            "GET",
            &format!("/conversations/{outage}"),
            None,
        )
        .await;
        (v["assignee"]["id"].as_u64() == Some(carmen)).then_some(v)
    })
    .await;
    assert!(
        handed.is_some(),
        "the waiting outage went to Carmen\n{}",
        server.log()
    );

    // Escalation by hand with a reason; de-escalation too.
    let (s, v) = call(
        &server,
        &ana_token,
        "POST",
        &format!("/conversations/{question}/tier"),
        Some(json!({"tier": 2, "reason": ""})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let v = ok(
        &server,
        &ana_token,
        "POST",
        &format!("/conversations/{question}/tier"),
        Some(json!({"tier": 2, "reason": "asks for a refund of a special order"})),
    )
    .await;
    assert_eq!(v["tier"], 2);
    // Ana is tier 1: the conversation goes back to the queue for tier 2.
    assert!(v["assignee"].is_null(), "{v}");

    // The customer writes again: the decision is made again on the new text.
    let (_, m2) = post(
        &server,
        &admin,
        "q-2",
        json!({"handle": "@lucia", "name": "Lucía"}),
        "Sigo esperando, ¡es URGENTE! Me han cobrado dos veces",
        false,
    )
    .await;
    let q2 = decided(&server, &admin, question, Some(m2)).await;
    assert!(
        q2["score"].as_u64().unwrap() > q["score"].as_u64().unwrap(),
        "{q2}"
    );
    assert!(reasons(&q2).contains("wrote by api"), "{}", reasons(&q2));

    // A manual priority is kept by later decisions.
    ok(
        &server,
        &admin,
        "POST",
        &format!("/conversations/{question}/priority"),
        Some(json!({"priority": "P4", "reason": "known customer, already refunded"})),
    )
    .await;
    let (_, m3) = post(
        &server,
        &admin,
        "q-3",
        json!({"handle": "@lucia", "name": "Lucía"}),
        "¡¡¡Me cobraron dos veces otra vez!!!",
        false,
    )
    .await;
    let q3 = decided(&server, &admin, question, Some(m3)).await;
    assert_eq!(q3["priority"], "P4", "{q3}");
    assert!(q3["triage"]["overridden"].is_string());

    // Decisions survive a restart (they are in the store).
    server.restart().await;
    let admin = server.admin_token().await;
    let again = ok(
        &server,
        &admin,
        "GET",
        &format!("/conversations/{billing}"),
        None,
    )
    .await;
    assert_eq!(reasons(&again), why);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_versioned_validated_and_simulated() {
    let server = Server::start("").await;
    let admin = server.admin_token().await;
    let (_, first) = call(&server, &admin, "GET", "/triage/rules", None).await;
    assert_eq!(first["current"]["version"], 1, "{first}");
    assert_eq!(first["current"]["source"], "presets");
    let presets = first["current"]["toml"].as_str().unwrap().to_string();

    // Traffic for the simulation.
    for (i, text) in [
        "Me cobraron dos veces",
        "¿a qué hora abren?",
        "My package never arrived",
        "gracias por todo",
    ]
    .iter()
    .enumerate()
    {
        let c = inbound(
            &server,
            &admin,
            &format!("s-{i}"),
            json!({"handle": format!("@c{i}")}),
            text,
            false,
        )
        .await;
        decided(&server, &admin, c, None).await;
    }

    // A syntax error names the line; nothing is saved.
    let broken = format!("{presets}\n[[rule]]\nid = \"x\"\nname = \n");
    let (s, v) = call(
        &server,
        &admin,
        "POST",
        "/triage/rules",
        Some(json!({"toml": broken})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("line"), "{v}");
    // A rule that makes every mention of "abren" P1.
    // Added before the presets' rules (topic rules stop evaluation).
    let at = presets.find("[[rule]]").unwrap();
    let extra = format!(
        "{}[[rule]]\nid = \"opening-hours-p1\"\nname = \"opening hours are urgent\"\nwhen = {{ phrases = [\"abren\"] }}\nthen = {{ score = 80 }}\n\n{}",
        &presets[..at],
        &presets[at..]
    );
    let sim = ok(
        &server,
        &admin,
        "POST",
        "/triage/simulate",
        Some(json!({"toml": extra, "days": 7})),
    )
    .await;
    assert_eq!(sim["messages"], 4, "{sim}");
    assert_eq!(sim["conversations"], 4);
    assert_eq!(sim["priority_changes"], 1, "{sim}");
    let row = &sim["rows"][0];
    assert_ne!(row["before"]["priority"], row["after"]["priority"], "{row}");
    assert!(row["snippet"].as_str().unwrap().contains("abren"));
    // Simulation changes nothing.
    let (_, still) = call(&server, &admin, "GET", "/triage/rules", None).await;
    assert_eq!(still["current"]["version"], 1);

    let saved = ok(
        &server,
        &admin,
        "POST",
        "/triage/rules",
        Some(json!({"toml": extra, "note": "opening hours matter"})),
    )
    .await;
    assert_eq!(saved["version"], 2);
    let c = inbound(
        &server,
        &admin,
        "s-9",
        json!({"handle": "@c9"}),
        "¿cuándo abren mañana?",
        false,
    )
    .await;
    let v = decided(&server, &admin, c, None).await;
    assert_eq!(v["priority"], "P1", "{v}");
    assert_eq!(v["triage"]["rules_version"], 2);
    assert!(
        reasons(&v).contains("opening hours are urgent"),
        "{}",
        reasons(&v)
    );
    // Back to the presets, as version 3.
    let restored = ok(&server, &admin, "POST", "/triage/rules/1/restore", None).await;
    assert_eq!(restored["version"], 3);
    let (_, all) = call(&server, &admin, "GET", "/triage/rules", None).await;
    assert_eq!(all["current"]["source"], "restore of 1");
    assert_eq!(all["versions"].as_array().unwrap().len(), 3);
}

/// `[triage] rules_file` provisions the rules at start; a broken file is a
/// config error (exit 2) naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rules_file_is_provisioned_and_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(
        &file,
        "base_score = 0\n\n[[category]]\nid = \"general\"\nname_es = \"General\"\nname_en = \"General\"\nfirst_response = \"4h\"\nresolution = \"2d\"\n\n[[rule]]\nid = \"everything\"\nname = \"all the same\"\nthen = { score = 40, category = \"general\" }\n",
    )
    .unwrap();
    let server = Server::start(&format!(
        "[triage]\nrules_file = {}\n",
        common::toml_string(&file.to_string_lossy())
    ))
    .await;
    let admin = server.admin_token().await;
    let (_, r) = call(&server, &admin, "GET", "/triage/rules", None).await;
    assert_eq!(r["current"]["source"], "config", "{r}");
    let c = inbound(
        &server,
        &admin,
        "f-1",
        json!({"handle": "@f"}),
        "hola",
        false,
    )
    .await;
    let v = decided(&server, &admin, c, None).await;
    assert_eq!(v["score"], 40, "{v}");
    assert_eq!(v["priority"], "P3");

    std::fs::write(
        &file,
        "[[rule]]\nid = \"x\"\nname = \"bad\"\nwhen = { regex = \"(\" }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["check-config", "--config"])
        .arg(server.config_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("triage.rules_file"), "{err}");
}
