//! The customer's satisfaction survey: `GET /survey/{token}` shows the
//! form in the survey's language, `POST` saves the answer once. No session:
//! the token in the link is the capability (stored hashed by the app); a
//! post must still come from this site (Origin).

use super::*;
use views::survey::{self as sv, State as Shown};

/// Longer tokens are not ours (the app's are 64 hex characters).
const MAX_TOKEN: usize = 128;

fn lang_of(code: &str) -> Lang {
    if code.starts_with("es") {
        Lang::Es
    } else {
        Lang::En
    }
}

fn show(app: &AppState, status: StatusCode, lang: Lang, token: &str, state: Shown) -> Response {
    html_page(
        status,
        sv::page(lang, &app.config.business.name, token, state),
    )
}

fn unknown(app: &AppState, headers: &HeaderMap, token: &str) -> Response {
    show(
        app,
        StatusCode::NOT_FOUND,
        Lang::from_headers(headers),
        token,
        Shown::Unknown,
    )
}

/// `GET /survey/{token}`.
pub(super) async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if token.len() > MAX_TOKEN {
        return unknown(&app, &headers, &token);
    }
    match app.survey(&token).await {
        Ok(None) => unknown(&app, &headers, &token),
        Ok(Some(rec)) => {
            let lang = lang_of(&rec.language);
            if rec.answer.is_some() {
                show(&app, StatusCode::OK, lang, &token, Shown::AlreadyAnswered)
            } else {
                let state = Shown::Form {
                    nps: rec.nps,
                    csat: None,
                    nps_value: None,
                    comment: "",
                    error: None,
                };
                show(&app, StatusCode::OK, lang, &token, state)
            }
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// `POST /survey/{token}`: `csat` 1–5, `nps` 0–10 (when asked), `comment`.
pub(super) async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = session::check_origin(&headers) {
        return r.into_response();
    }
    if token.len() > MAX_TOKEN {
        return unknown(&app, &headers, &token);
    }
    let rec = match app.survey(&token).await {
        Ok(Some(rec)) => rec,
        Ok(None) => return unknown(&app, &headers, &token),
        Err(e) => return WebError::from(e).into_response(),
    };
    let lang = lang_of(&rec.language);
    if rec.answer.is_some() {
        return show(
            &app,
            StatusCode::CONFLICT,
            lang,
            &token,
            Shown::AlreadyAnswered,
        );
    }
    let csat = f
        .get("csat")
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|v| (1..=5).contains(v));
    let nps = f
        .get("nps")
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|v| *v <= 10);
    let comment = f.get("comment").map(String::as_str).unwrap_or("");
    let again = |error: &str| {
        show(
            &app,
            StatusCode::BAD_REQUEST,
            lang,
            &token,
            Shown::Form {
                nps: rec.nps,
                csat,
                nps_value: nps,
                comment,
                error: Some(error),
            },
        )
    };
    let Some(csat) = csat else {
        return again(crate::web::i18n::t(lang, T::SurveyPickRating));
    };
    match app.answer_survey(&token, csat, nps, comment).await {
        Ok(_) => show(&app, StatusCode::OK, lang, &token, Shown::Thanks),
        Err(AppError::NotFound(_)) => unknown(&app, &headers, &token),
        Err(AppError::Conflict(_)) => show(
            &app,
            StatusCode::CONFLICT,
            lang,
            &token,
            Shown::AlreadyAnswered,
        ),
        Err(AppError::Invalid(m)) => again(&m),
        Err(e) => WebError::from(e).into_response(),
    }
}
