//! Sign-in and password pages.

use super::Ctx;
use crate::web::i18n::T;
use maud::{Markup, html};

pub fn login(ctx: &Ctx, next: &str, error: Option<T>) -> Markup {
    html! {
        main class="login" {
            form method="post" action="/login" {
                h1 { (ctx.business) }
                @if let Some(e) = error { p class="flash error" role="alert" { (ctx.t(e)) } }
                (ctx.csrf_field())
                input type="hidden" name="next" value=(next);
                label class="field" { (ctx.t(T::Email)) input type="email" name="email" autocomplete="username" required autofocus; }
                label class="field" { (ctx.t(T::Password)) input type="password" name="password" autocomplete="current-password" required; }
                button class="btn primary" type="submit" { (ctx.t(T::SignIn)) }
            }
        }
    }
}

pub fn password(ctx: &Ctx, flash: Option<(bool, String)>) -> Markup {
    html! {
        main class="login" {
            form method="post" action="/account/password" {
                h1 { (ctx.t(T::ChangePassword)) }
                @if let Some((ok, msg)) = flash {
                    p class={ "flash " (if ok { "ok" } else { "error" }) } role="alert" { (msg) }
                }
                (ctx.csrf_field())
                label class="field" { (ctx.t(T::CurrentPassword)) input type="password" name="current" autocomplete="current-password" required; }
                label class="field" { (ctx.t(T::NewPassword)) input type="password" name="new" autocomplete="new-password" minlength="8" required; }
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                p { a href="/inbox" { "← " (ctx.t(T::Inbox)) } }
            }
        }
    }
}

/// Language and time zone, on the account page.
pub fn prefs(ctx: &Ctx, prefs: &crate::domain::Prefs, flash: Option<(bool, String)>) -> Markup {
    let lang = prefs.lang.as_deref().unwrap_or("");
    html! {
        main class="login" {
            form method="post" action="/account/prefs" {
                h1 { (ctx.t(T::Preferences)) }
                @if let Some((ok, msg)) = flash {
                    p class={ "flash " (if ok { "ok" } else { "error" }) } role="alert" { (msg) }
                }
                (ctx.csrf_field())
                label class="field" { (ctx.t(T::Language))
                    select name="lang" {
                        option value="" selected[lang.is_empty()] { (ctx.t(T::Automatic)) }
                        option value="es" selected[lang == "es"] { "Español" }
                        option value="en" selected[lang == "en"] { "English" }
                    }
                }
                label class="field" { (ctx.t(T::TimeZone))
                    input name="tz" value=[prefs.tz.as_deref()] placeholder="Europe/Madrid";
                }
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                p { a href="/account/password" { (ctx.t(T::ChangePassword)) } " · " a href="/inbox" { "← " (ctx.t(T::Inbox)) } }
            }
        }
    }
}
