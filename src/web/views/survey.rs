//! The customer's satisfaction survey (`/survey/{token}`): no account, no
//! script, no external resource; readable on a phone.

use crate::web::i18n::{Lang, T, t};
use maud::{DOCTYPE, Markup, html};

/// What the survey page shows.
pub enum State<'a> {
    /// The form; `error` after a refused answer, with what was chosen.
    Form {
        nps: bool,
        csat: Option<u8>,
        nps_value: Option<u8>,
        comment: &'a str,
        error: Option<&'a str>,
    },
    Thanks,
    AlreadyAnswered,
    Unknown,
}

fn shell(lang: Lang, business: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (t(lang, T::SurveyTitle)) " · " (business) }
                link rel="stylesheet" href="/static/app.css";
            }
            body class="survey-page" {
                main class="survey" {
                    p class="brand-line" { (business) }
                    (body)
                }
            }
        }
    }
}

const LABELS: [T; 5] = [T::Csat1, T::Csat2, T::Csat3, T::Csat4, T::Csat5];

pub fn page(lang: Lang, business: &str, token: &str, state: State) -> Markup {
    let tr = |k: T| t(lang, k);
    let body = match state {
        State::Form {
            nps,
            csat,
            nps_value,
            comment,
            error,
        } => html! {
            h1 { (tr(T::SurveyQuestion)) }
            @if let Some(e) = error { p class="flash error" role="alert" id="survey-error" { (e) } }
            form method="post" action=(format!("/survey/{token}")) id="survey-form" {
                fieldset class="scale csat" {
                    legend { (tr(T::SurveyCsatLegend)) }
                    @for (i, label) in LABELS.iter().enumerate() {
                        @let v = i as u8 + 1;
                        label {
                            input type="radio" name="csat" value=(v) required checked[csat == Some(v)];
                            span class="face" aria-hidden="true" { (v) }
                            span class="lbl" { (tr(*label)) }
                        }
                    }
                }
                @if nps {
                    fieldset class="scale nps" {
                        legend { (tr(T::SurveyNpsLegend)) }
                        div class="nps-row" {
                            @for v in 0..=10u8 {
                                label {
                                    input type="radio" name="nps" value=(v) checked[nps_value == Some(v)];
                                    span { (v) }
                                }
                            }
                        }
                        p class="ends" { span { "0 · " (tr(T::NpsUnlikely)) } span { "10 · " (tr(T::NpsLikely)) } }
                    }
                }
                label class="field" { (tr(T::SurveyComment))
                    textarea name="comment" rows="4" maxlength="2000" { (comment) }
                }
                button class="btn primary" type="submit" { (tr(T::SurveySend)) }
            }
        },
        State::Thanks => html! {
            h1 id="survey-thanks" { (tr(T::SurveyThanks)) }
            p { (tr(T::SurveyThanksText)) }
        },
        State::AlreadyAnswered => html! {
            h1 id="survey-done" { (tr(T::SurveyAlready)) }
            p { (tr(T::SurveyThanksText)) }
        },
        State::Unknown => html! {
            h1 id="survey-unknown" { (tr(T::SurveyUnknown)) }
            p { (tr(T::SurveyUnknownText)) }
        },
    };
    shell(lang, business, body)
}
