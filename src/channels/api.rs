//! The generic API channel's outbound side: replies are POSTed as JSON to the
//! channel's `webhook_url`, signed with HMAC-SHA256, with a stable
//! `Idempotency-Key` so a receiver can drop a repeat after a retry.

use super::SendResult;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::time::Duration;

#[derive(Debug, Serialize)]
pub struct WebhookPayload {
    pub event: &'static str,
    pub idempotency_key: String,
    pub channel: String,
    pub conversation_id: u64,
    pub message_id: u64,
    pub thread: String,
    pub in_reply_to: Option<String>,
    pub to: WebhookRecipient,
    pub text: String,
    pub private: bool,
    pub author: String,
    pub sent_at: String,
}

#[derive(Debug, Serialize)]
pub struct WebhookRecipient {
    pub handle: String,
    pub name: Option<String>,
}

/// `sha256=HEX(HMAC_SHA256(secret, timestamp + "." + body))`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// One delivery attempt.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    payload: &WebhookPayload,
    timeout: Duration,
    now_unix: i64,
) -> SendResult {
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => return SendResult::Permanent(format!("cannot encode the payload: {e}")),
    };
    let mut req = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("idempotency-key", &payload.idempotency_key)
        .header("x-atalaya-timestamp", now_unix.to_string());
    if let Some(secret) = secret {
        req = req.header("x-atalaya-signature", signature(secret, now_unix, &body));
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                return SendResult::Sent;
            }
            let after = retry_after(resp.headers());
            let text: String = resp
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            let error = format!("webhook answered {status}: {}", text.trim());
            if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
                SendResult::Retry { error, after }
            } else {
                SendResult::Permanent(error)
            }
        }
        Err(e) if e.is_timeout() => SendResult::Retry {
            error: "webhook timed out".into(),
            after: None,
        },
        // Without the URL: it may carry a secret, and errors reach pages and logs.
        Err(e) => SendResult::Retry {
            error: format!("webhook unreachable: {}", e.without_url()),
            after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Reference value computed with Python's hmac module.
        let s = signature("secret", 1700000000, b"{}");
        assert_eq!(
            s,
            "sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(s, signature("other", 1700000000, b"{}"));
        assert_ne!(s, signature("secret", 1700000001, b"{}"));
    }
}
