//! Canned responses: the management page, and the picker's search for a
//! conversation (JSON, rendered with that conversation's variables).

use super::*;
use crate::app::responses::CannedInput;
use axum::Json;

pub(super) async fn page(State(app): State<AppState>, s: Session, q: Q) -> Response {
    render(
        &app,
        &s,
        q.get("edit").and_then(|v| v.parse().ok()),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render(
    app: &AppState,
    s: &Session,
    edit: Option<u64>,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let faq = match app.faq_entries().await {
        Ok(entries) => entries
            .into_iter()
            .map(|e| (e.canned, e.phrases))
            .collect::<HashMap<u64, Vec<String>>>(),
        Err(e) => return error_page(app, s, e),
    };
    match app.canned_list(&Caller::Staff(s.user.clone())).await {
        Ok(items) => {
            let editing = edit.and_then(|id| items.iter().find(|c| c.id == id));
            let body = html! { (views::topbar(&ctx)) (views::canned::page(&ctx, &items, editing, flash.as_deref(), &faq)) };
            html_page(status, views::layout(&ctx, ctx.t(T::CannedResponses), body))
        }
        Err(e) => error_page(app, s, e),
    }
}

pub(super) async fn save(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let id = f.get("id").and_then(|v| v.parse().ok());
    let input = CannedInput {
        shortcut: get("shortcut"),
        title: get("title"),
        body: get("body"),
        tags: get("tags"),
        shared: f.contains_key("shared"),
    };
    let caller = Caller::Staff(s.user.clone());
    let shared = input.shared;
    let mut edit = id;
    let saved = match app.canned_save(&caller, id, input).await {
        // The automatic answer's phrases (the field is only on the form of
        // those who may set them), saved with the response; empty clears
        // them. Only shared responses can be automatic answers.
        Ok(c) => {
            edit = Some(c.id);
            match f.get("faq") {
                Some(phrases) if shared => {
                    app.set_faq(&caller, c.id, views::hours::split_list(phrases))
                        .await
                }
                Some(phrases) if !phrases.trim().is_empty() => Err(AppError::Invalid(
                    crate::web::i18n::t(s.lang, T::FaqSharedOnly).into(),
                )),
                _ => Ok(()),
            }
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Redirect::to("/canned").into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            render(&app, &s, edit, Some(e.to_string()), StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

pub(super) async fn delete(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    match app.canned_delete(&Caller::Staff(s.user.clone()), id).await {
        Ok(()) => Redirect::to("/canned").into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

/// `GET /conversations/{id}/canned?q=`: the picker's matches, rendered.
pub(super) async fn search(
    State(app): State<AppState>,
    s: Session,
    Path(raw): Path<String>,
    q: Q,
) -> Response {
    let Ok(id) = raw.parse::<u64>() else {
        return WebError::new(StatusCode::NOT_FOUND, "no such conversation").into_response();
    };
    let query = q.get("q").map(String::as_str).unwrap_or("");
    match app
        .canned_for(
            &Caller::Staff(s.user.clone()),
            ConversationId(id),
            Some(query),
            8,
        )
        .await
    {
        Ok(items) => Json(
            items
                .into_iter()
                .map(|(c, text)| match text {
                    Ok(t) => {
                        serde_json::json!({"shortcut": c.shortcut, "title": c.title, "text": t})
                    }
                    Err(e) => {
                        serde_json::json!({"shortcut": c.shortcut, "title": c.title, "error": e})
                    }
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}
