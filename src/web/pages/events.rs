//! Live updates over Server-Sent Events.

use super::*;

// ---- live updates ----------------------------------------------------------------

/// Server-Sent Events for the signed-in agent: `change` after every durable
/// batch that touched a conversation they may see, and `conv-{id}` for each
/// such conversation, `presence-{id}` when someone starts or stops viewing or
/// replying. Reconnects resume after `Last-Event-ID`.
pub(super) async fn events(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    q: Q,
) -> Response {
    let rx = app.store.subscribe();
    // Resume after the browser's last event, else after the sequence the
    // page was rendered at, else from now.
    let start = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| q.get("after").and_then(|v| v.parse().ok()))
        .unwrap_or(s.seq)
        .min(app.store.committed_seq());
    let user = s.user.clone();
    let presence = app.presence.subscribe();
    let stream = futures_util::stream::unfold(
        (app, user, start, rx, presence),
        |(app, user, mut last, mut rx, mut presence)| async move {
            // Wait only when caught up; presence changes come in between.
            if *rx.borrow_and_update() <= last {
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    conv = presence.recv() => {
                        let out: Vec<Result<SseEvent, Infallible>> = match conv {
                            Ok(c) => vec![Ok(SseEvent::default().event(format!("presence-{c}")).data(c.to_string()))],
                            // Lagged: nothing precise to say; the fragments poll too.
                            Err(_) => Vec::new(),
                        };
                        return Some((futures_util::stream::iter(out), (app, user, last, rx, presence)));
                    }
                }
            }
            let after = last;
            let viewer = user.clone();
            let found = app
                .store
                .read(move |r| {
                    let evs = r.events_after(after, 1000)?;
                    let mut convs = Vec::new();
                    let mut newest = after;
                    for e in evs {
                        newest = newest.max(e.seq);
                        if let Some(c) = e.kind.conversation()
                            && !convs.contains(&c)
                            && let Some(conv) = r.conversation(c)?
                            && crate::app::perm::can_see(&viewer, &conv)
                        {
                            convs.push(c);
                        }
                    }
                    Ok((convs, newest))
                })
                .await
                .unwrap_or_default();
            let (convs, newest) = found;
            last = newest.max(last);
            let mut out: Vec<Result<SseEvent, Infallible>> = Vec::new();
            if !convs.is_empty() {
                for c in &convs {
                    out.push(Ok(SseEvent::default()
                        .event(format!("conv-{c}"))
                        .data(c.to_string())));
                }
                out.push(Ok(SseEvent::default()
                    .event("change")
                    .id(last.to_string())
                    .data(last.to_string())));
            }
            Some((futures_util::stream::iter(out), (app, user, last, rx, presence)))
        },
    )
    .flatten();
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
