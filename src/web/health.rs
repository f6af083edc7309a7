//! `/healthz` and `/metrics`.

use super::AppState;
use super::routes::{Access, Routes};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use std::time::Duration;

pub fn routes() -> Routes {
    Routes::default()
        .get("/healthz", Access::Public, healthz)
        .get("/metrics", Access::Public, metrics)
}

/// 200 when the store accepts a write (an empty commit) within 2 s.
async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(Duration::from_secs(2), app.store.write(|_| Ok(()))).await;
    let store_ok = matches!(probe, Ok(Ok(()))) && app.store.healthy();
    let workers = app.workers.snapshot();
    let failing: Vec<&str> = workers
        .iter()
        .filter(|w| w.state == crate::workers::WorkerState::Failing)
        .map(|w| w.name.as_str())
        .collect();
    let body = json!({
        "status": if store_ok { "ok" } else { "unavailable" },
        "store": if store_ok { "ok" } else { "failing" },
        "failing": if store_ok { failing.clone() } else { let mut f = vec!["store"]; f.extend(failing.iter()); f },
        "version": env!("CARGO_PKG_VERSION"),
        "event_seq": app.store.committed_seq(),
        "workers": workers.iter().map(|w| json!({"name": w.name, "state": w.state.as_str()})).collect::<Vec<_>>(),
    });
    let code = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let outbox = app.store.read(|r| r.outbox_open_count()).await.unwrap_or(0);
    let mut gauges = vec![
        (
            "atalaya_queue_depth",
            "{queue=\"writer\"}".to_string(),
            app.store.queue_depth() as f64,
            "Items waiting in a queue.",
        ),
        (
            "atalaya_queue_depth",
            "{queue=\"outbox\"}".to_string(),
            outbox as f64,
            "Items waiting in a queue.",
        ),
        (
            "atalaya_event_seq",
            String::new(),
            app.store.committed_seq() as f64,
            "Newest durable event sequence.",
        ),
    ];
    for w in app.workers.snapshot() {
        for s in [
            "starting",
            "busy",
            "idle",
            "throttled",
            "failing",
            "stopped",
        ] {
            let v = if w.state.as_str() == s { 1.0 } else { 0.0 };
            gauges.push((
                "atalaya_worker_state",
                format!("{{worker=\"{}\",state=\"{s}\"}}", w.name),
                v,
                "1 for the state each worker is in.",
            ));
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(&gauges),
    )
}
