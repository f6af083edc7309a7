//! Demo mode (`atalaya serve --demo`): in-process fakes of Telegram, Mastodon,
//! X and a Facebook page on 127.0.0.1, the real connectors pointed at them, and a script that
//! replays a realistic stream of customers writing (a first burst, then one
//! message every `--demo-interval`), so a newcomer sees the inbox fill
//! without any credentials.
//!
//! Nothing here bypasses the product: the fakes speak the networks' APIs (a
//! simplified copy of the test fakes in `tests/fakes/`), the connectors are
//! the real ones registered in the run-time registry and polled by the
//! normal social pollers, and replies go through the real outbox. The fakes
//! accept replies (so deliveries show "sent") and now and then let the
//! customer answer back in the same thread.
//!
//! The fakes keep everything in memory, so the demo runs on a fresh data
//! directory of its own (see [`prepare_config`]); it never touches a real
//! store. The fakes live under `web/` because they are HTTP servers, and
//! only `web/` imports axum (DESIGN invariant 4).

mod facebook;
mod mastodon;
mod script;
mod telegram;
mod x;

use crate::app::App;
use crate::config::{
    Config, Dur, FacebookChannel, Listening, MastodonChannel, Secret, TelegramChannel, XChannel,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The channel names the demo registers.
pub const TELEGRAM: &str = "demo-telegram";
pub const MASTODON: &str = "demo-mastodon";
pub const X: &str = "demo-x";
pub const FACEBOOK: &str = "demo-facebook";

/// The fictional business the demo's customers write to (the generated
/// corpus speaks of it), used when the configuration names none.
pub const DEMO_BUSINESS: &str = "Nordia";
/// Our accounts on the fake networks.
pub const BOT_USERNAME: &str = "NordiaBot";
pub const OUR_HANDLE: &str = "NordiaAyuda";

/// How the stream is replayed.
#[derive(Clone, Debug)]
pub struct Options {
    /// Messages pushed right at the start.
    pub burst: usize,
    /// Time between two messages after the burst.
    pub interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            burst: 24,
            interval: Duration::from_secs(6),
        }
    }
}

/// Make `cfg` a demo configuration: the data directory is `dir` (a fresh
/// one: the fakes start empty every run, so a store from an earlier run
/// would hold cursors they no longer know), the configured channels are left
/// out (no real network traffic lands in the demo store, no demo reply goes
/// to a real network), and the business is the demo's unless one is named.
pub fn prepare_config(cfg: &mut Config, dir: &Path) {
    cfg.server.data = dir.to_path_buf();
    cfg.channel = Default::default();
    if cfg.business.name.trim().is_empty() || cfg.business.name == "Atalaya" {
        cfg.business.name = DEMO_BUSINESS.into();
    }
}

/// What the demo listens for on every network: our handles, the brand's
/// hashtag and name (and the configured business name), the built-in
/// trigger words.
pub fn listening(business: &str) -> Listening {
    let mut keywords = vec![DEMO_BUSINESS.to_string()];
    let b = business.trim();
    if !b.is_empty() && !b.eq_ignore_ascii_case(DEMO_BUSINESS) {
        keywords.push(b.to_string());
    }
    Listening {
        brand_handles: vec![
            format!("@{OUR_HANDLE}"),
            "@NordiaHelp".into(),
            format!("@{BOT_USERNAME}"),
        ],
        hashtags: vec!["#Nordia".into()],
        keywords,
        triggers: None,
    }
}

/// Bind a local port for one fake and serve `router` on it until `stop`.
async fn serve_fake(
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind a local port for a demo network: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|v| *v).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "a demo network stopped");
        }
    });
    Ok(format!("http://{addr}"))
}

/// Start the fakes, register a connector for each (the caller starts the
/// pollers through the normal path afterwards), and start replaying the
/// stream. Returns the names of the channels registered.
pub async fn start(
    app: &Arc<App>,
    opts: Options,
    stop: watch::Receiver<bool>,
) -> Result<Vec<String>, String> {
    let listen = listening(&app.config.business.name);
    let poll = Dur(Duration::from_secs(2));

    let tg = telegram::Fake::new();
    let tg_url = serve_fake(tg.clone().router(), stop.clone()).await?;
    let tg_conn = crate::channels::social::telegram::connector(&TelegramChannel {
        name: TELEGRAM.into(),
        token: Some(Secret::new(telegram::TOKEN)),
        base_url: tg_url,
        poll_timeout: Dur(Duration::from_secs(10)),
        listening: listen.clone(),
    })
    .ok_or("the Telegram connector did not start")?;

    let md = mastodon::Fake::new();
    let md_url = serve_fake(md.clone().router(), stop.clone()).await?;
    md.set_base(&md_url);
    let md_conn = crate::channels::social::mastodon::connector(&MastodonChannel {
        name: MASTODON.into(),
        base_url: md_url,
        access_token: Some(Secret::new(mastodon::TOKEN)),
        poll_interval: poll,
        listening: listen.clone(),
    })
    .ok_or("the Mastodon connector did not start")?;

    let xf = x::Fake::new();
    let x_url = serve_fake(xf.clone().router(), stop.clone()).await?;
    let x_conn = crate::channels::social::x::connector(&XChannel {
        name: X.into(),
        user_id: x::ME.into(),
        bearer_token: Some(Secret::new(x::TOKEN)),
        base_url: x_url,
        poll_interval: poll,
        listening: listen.clone(),
    })
    .ok_or("the X connector did not start")?;

    let fb = facebook::Fake::new();
    let fb_url = serve_fake(fb.clone().router(), stop.clone()).await?;
    fb.set_base(&fb_url);
    let fb_conn = crate::channels::social::facebook::connector(&FacebookChannel {
        name: FACEBOOK.into(),
        page_id: facebook::PAGE_ID.into(),
        page_access_token: Some(Secret::new(facebook::TOKEN)),
        app_secret: None,
        verify_token: None,
        base_url: fb_url,
        poll_interval: poll,
        listening: listen.clone(),
    })
    .ok_or("the Facebook connector did not start")?;

    let mut names = Vec::new();
    for conn in [tg_conn, md_conn, x_conn, fb_conn] {
        names.push(conn.name().to_string());
        app.register_connector(conn, listen.clone());
    }

    let nets = script::Networks {
        telegram: tg,
        mastodon: md,
        x: xf,
        facebook: fb,
    };
    tokio::spawn(script::run(nets, opts, stop));
    Ok(names)
}
