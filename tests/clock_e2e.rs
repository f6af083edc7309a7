//! The clock end to end with the real binary and the real time: a message
//! on a closed day gets exactly one automatic reply naming the next opening
//! in the customer's language; a resolved conversation with a follow-up
//! delay of seconds receives the survey message, the customer answers on
//! the public survey page, and the answer shows on the conversation and in
//! the CSAT figures; a broken cron expression stops the server at start.

mod common;

use common::{Server, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const DIAS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const MESES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

async fn call(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
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
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}\n{}",
        server.log()
    );
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn inbound(server: &Server, token: &str, id: &str, handle: &str, text: &str) -> u64 {
    let v = call(
        server,
        token,
        "POST",
        "/inbound",
        Some(json!({"external_id": id, "from": {"handle": handle}, "text": text, "public": false})),
    )
    .await;
    v["conversation_id"].as_u64().unwrap()
}

/// The conversation's outgoing messages.
async fn outgoing(server: &Server, token: &str, conv: u64) -> Vec<Value> {
    let v = call(
        server,
        token,
        "GET",
        &format!("/conversations/{conv}"),
        None,
    )
    .await;
    v["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["direction"] == "out")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_day_message_gets_one_reply_naming_the_next_opening_in_its_language() {
    // Open only on tomorrow's weekday (UTC), 09:00-17:00: today is closed.
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let tomorrow = today.tomorrow().unwrap();
    let wd = tomorrow.weekday().to_monday_zero_offset() as usize;
    let config = format!(
        "[business]\nname = \"Tienda Sol\"\n\n[hours]\ntimezone = \"UTC\"\n{} = [\"09:00-17:00\"]\n\n[autoreply]\nwhen_closed = true\n",
        WEEKDAYS[wd]
    );
    let server = Server::start(&config).await;
    let token = server.admin_token().await;
    let es = format!(
        "el {} {} de {} a las 9:00",
        DIAS[wd],
        tomorrow.day(),
        MESES[tomorrow.month() as usize - 1]
    );
    let en = format!(
        "{} {} {} at 9:00",
        DAYS_EN[wd],
        tomorrow.day(),
        MONTHS_EN[tomorrow.month() as usize - 1]
    );

    let c = inbound(
        &server,
        &token,
        "e2e-1",
        "@lucia",
        "Hola, mi pedido no ha llegado todavía y estoy preocupada",
    )
    .await;
    let replies = wait_for(Duration::from_secs(10), || async {
        let out = outgoing(&server, &token, c).await;
        (!out.is_empty()).then_some(out)
    })
    .await
    .unwrap_or_else(|| panic!("no automatic reply\n{}", server.log()));
    let text = replies[0]["text"].as_str().unwrap();
    assert!(text.contains(&es), "expected {es:?} in {text:?}");
    // A second message in the same conversation gets no second reply.
    let c2 = inbound(&server, &token, "e2e-2", "@lucia", "¿Hay alguien ahí?").await;
    assert_eq!(c2, c);
    let e = inbound(
        &server,
        &token,
        "e2e-3",
        "@john",
        "Hello, my parcel has not arrived yet and I am worried",
    )
    .await;
    let replies_en = wait_for(Duration::from_secs(10), || async {
        let out = outgoing(&server, &token, e).await;
        (!out.is_empty()).then_some(out)
    })
    .await
    .unwrap_or_else(|| panic!("no automatic reply in English\n{}", server.log()));
    let text = replies_en[0]["text"].as_str().unwrap();
    assert!(text.contains(&en), "expected {en:?} in {text:?}");
    // The English reply came after the second Spanish message was handled.
    assert_eq!(outgoing(&server, &token, c).await.len(), 1, "exactly one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_conversation_gets_a_survey_whose_answer_counts() {
    let server = Server::start("[followup]\nafter = \"2s\"\n").await;
    let token = server.admin_token().await;
    let c = inbound(
        &server,
        &token,
        "s-1",
        "@ana",
        "Hola, el paquete llegó abierto y falta una pieza",
    )
    .await;
    call(
        &server,
        &token,
        "POST",
        &format!("/conversations/{c}/status"),
        Some(json!({"status": "resolved"})),
    )
    .await;
    let survey = wait_for(Duration::from_secs(15), || async {
        outgoing(&server, &token, c)
            .await
            .into_iter()
            .find(|m| m["text"].as_str().unwrap_or("").contains("/survey/"))
    })
    .await
    .unwrap_or_else(|| panic!("no survey message\n{}", server.log()));
    let text = survey["text"].as_str().unwrap();
    assert!(text.contains("¿Quedó todo bien?"), "in Spanish: {text}");
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/survey/"))
        .unwrap()
        .to_string();
    let token_part = url.rsplit('/').next().unwrap().to_string();
    let page = format!("{}/survey/{token_part}", server.base_url());

    // The public page, without a session.
    let html = Server::client()
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("csat"), "{html}");
    let res = Server::client()
        .post(&page)
        .header("origin", server.base_url())
        .form(&[
            ("csat", "5"),
            ("nps", "10"),
            ("comment", "¡Genial, gracias!"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let s = call(&server, &token, "GET", "/satisfaction", None).await;
    assert_eq!(s["responses"], 1, "{s}");
    assert_eq!(s["csat_percent"].as_f64(), Some(100.0), "{s}");
    let detail = call(&server, &token, "GET", &format!("/conversations/{c}"), None).await;
    assert_eq!(detail["survey"]["csat"], 5, "{detail}");
    assert_eq!(detail["survey"]["comment"], "¡Genial, gracias!", "{detail}");
}

#[test]
fn a_broken_cron_expression_is_rejected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("atalaya.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata = {}\n\n[[scheduler.cron]]\nname = \"digest\"\nschedule = \"61 * * * *\"\ntask = \"digest\"\n",
            common::toml_string(&dir.path().join("data").to_string_lossy())
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["check-config", "--config"])
        .arg(&cfg)
        .env_remove("ATALAYA_DATA")
        .env_remove("ATALAYA_LISTEN")
        .env_remove("ATALAYA_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scheduler.cron.digest.schedule"), "{err}");
    assert!(err.contains("61 * * * *"), "{err}");
}
