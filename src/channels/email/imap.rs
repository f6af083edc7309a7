//! The IMAP poller: one worker per mailbox.
//!
//! Each step connects (implicit TLS, STARTTLS or plain) if needed, then for
//! every folder lists the UIDs above the saved cursor with their sizes,
//! downloads them in small batches (mail above `max_message_bytes` is not
//! downloaded but quarantined with its reason) and stores each batch together
//! with the cursor in one transaction — so the cursor never passes a mail
//! that was neither stored nor quarantined, and a crash at any point re-reads
//! at most one batch, which dedupe (Message-ID, else SHA-256) absorbs.
//! With one folder and a server that offers IDLE, the step then waits in
//! IDLE (at most `poll_interval`) so new mail arrives within moments.
//!
//! A UIDVALIDITY change restarts the folder from UID 1; mail already stored
//! is recognized by dedupe, so nothing is duplicated.

use crate::app::App;
use crate::app::email::{MailCursor, PreparedMail, RawMail, cursor_key};
use crate::config::{AfterImport, EmailChannel, ImapConfig, MailSecurity};
use crate::domain::{Actor, EventKind};
use crate::workers::{Step, Worker};
use async_imap::Session;
use futures_util::StreamExt;
use rustls_pki_types::pem::PemObject;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Mails downloaded (and stored) per round trip.
const BATCH: usize = 200;
/// Most bytes downloaded per batch (mail above the size limit is not downloaded).
const BATCH_BYTES: u64 = 32 << 20;
/// Longest wait for any single IMAP command.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// A plain or TLS connection.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// rustls client settings: the public roots plus the configured extra CA.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

async fn tls_wrap(cfg: &ImapConfig, tcp: TcpStream) -> Result<Conn, String> {
    let config = tls_config(cfg.ca_file.as_deref())?;
    let name = rustls_pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| format!("host {:?}: {e}", cfg.host))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {}: {e}", cfg.host))?;
    Ok(Conn::Tls(Box::new(tls)))
}

async fn within<T, E: std::fmt::Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("IMAP {what}: {e}")),
        Err(_) => Err(format!("IMAP {what}: no answer within {OP_TIMEOUT:?}")),
    }
}

/// Connect, secure and log in.
pub async fn connect(cfg: &ImapConfig) -> Result<Session<Conn>, String> {
    let addr = (cfg.host.as_str(), cfg.port());
    let tcp = within("connect", TcpStream::connect(addr)).await?;
    let _ = tcp.set_nodelay(true);
    let conn = match cfg.security {
        MailSecurity::Tls => tls_wrap(cfg, tcp).await?,
        MailSecurity::None | MailSecurity::Starttls => Conn::Plain(tcp),
    };
    let mut client = async_imap::Client::new(conn);
    within("greeting", async {
        client
            .read_response()
            .await
            .and_then(|r| r.ok_or_else(|| std::io::Error::other("closed before the greeting")))
    })
    .await?;
    if cfg.security == MailSecurity::Starttls {
        within(
            "STARTTLS",
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await?;
        let Conn::Plain(tcp) = client.into_inner() else {
            return Err("STARTTLS on a TLS connection".into());
        };
        client = async_imap::Client::new(tls_wrap(cfg, tcp).await?);
    }
    let password = cfg
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .unwrap_or_default();
    match tokio::time::timeout(OP_TIMEOUT, client.login(&cfg.username, password)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => Err(format!("IMAP login as {:?}: {e}", cfg.username)),
        Err(_) => Err("IMAP login: no answer".into()),
    }
}

pub struct ImapWorker {
    app: Arc<App>,
    channel: String,
    session: Option<Session<Conn>>,
    idle: bool,
    /// UIDs (with sizes) listed but not stored yet, per folder and
    /// UIDVALIDITY: a big backlog is listed once, not once per batch.
    backlog: BTreeMap<String, (u32, std::collections::VecDeque<u32>)>,
}

impl ImapWorker {
    pub fn new(app: Arc<App>, channel: &str) -> ImapWorker {
        ImapWorker {
            app,
            channel: channel.to_string(),
            session: None,
            idle: false,
            backlog: BTreeMap::new(),
        }
    }

    async fn session(&mut self, cfg: &ImapConfig) -> Result<&mut Session<Conn>, String> {
        if self.session.is_none() {
            let mut s = connect(cfg).await?;
            let caps = within("CAPABILITY", s.capabilities()).await?;
            self.idle = caps.has_str("IDLE");
            self.session = Some(s);
        }
        self.session.as_mut().ok_or_else(|| "no session".into())
    }

    /// Bring one folder up to date. `Ok(true)` when it may have more.
    async fn sync_folder(&mut self, ch: &EmailChannel, folder: &str) -> Result<bool, String> {
        let imap = ch.imap.clone().ok_or("no [imap] section")?;
        let app = self.app.clone();
        let key = cursor_key(&ch.name, &format!("imap:{folder}"));
        let saved = app.mail_cursor(&key).await.map_err(|e| e.to_string())?;
        let session = self.session(&imap).await?;
        let mb = within("SELECT", session.select(folder)).await?;
        let uidvalidity = mb.uid_validity.unwrap_or(0);
        let last = match saved {
            MailCursor::Imap {
                uidvalidity: v,
                last_uid,
            } if v == uidvalidity => last_uid,
            MailCursor::Imap { uidvalidity: v, .. } => {
                let detail = format!(
                    "folder {folder}: UIDVALIDITY changed from {v} to {uidvalidity}; re-reading it (stored mail is recognized and not duplicated)"
                );
                tracing::warn!(channel = %ch.name, "{detail}");
                let channel = ch.name.clone();
                app.store
                    .write(move |tx| {
                        tx.append_event(
                            Actor::Channel(channel.clone()),
                            EventKind::CursorReset { channel, detail },
                        )
                        .map(|_| ())
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                0
            }
            _ => 0,
        };
        if mb.exists == 0 {
            if saved
                != (MailCursor::Imap {
                    uidvalidity,
                    last_uid: last,
                })
            {
                let c = MailCursor::Imap {
                    uidvalidity,
                    last_uid: last,
                };
                app.store_mail_batch(&ch.name, vec![], Some((key, c)))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(false);
        }
        // UIDs above the cursor with their sizes (`n:*` always names the
        // last mail, even below n: filter).
        // UIDs above the cursor: listed once (UID SEARCH, a few bytes per
        // mail) and kept while UIDVALIDITY holds, so a big backlog is not
        // listed again for every batch or after a dropped connection.
        let cached = match self.backlog.remove(folder) {
            Some((v, q)) if v == uidvalidity => {
                let q: Vec<u32> = q.into_iter().filter(|u| *u > last).collect();
                (!q.is_empty()).then_some(q)
            }
            _ => None,
        };
        let session = self.session(&imap).await?;
        let mut listed: Vec<u32> = match cached {
            Some(q) => q,
            None => {
                let found = within(
                    "UID SEARCH",
                    session.uid_search(format!("UID {}:*", last + 1)),
                )
                .await?;
                // `n:*` always names the last mail, even below n: filter.
                found.into_iter().filter(|u| *u > last).collect()
            }
        };
        drain(session);
        listed.sort_unstable();
        listed.dedup();
        if listed.is_empty() {
            if saved
                != (MailCursor::Imap {
                    uidvalidity,
                    last_uid: last,
                })
            {
                let c = MailCursor::Imap {
                    uidvalidity,
                    last_uid: last,
                };
                app.store_mail_batch(&ch.name, vec![], Some((key, c)))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(false);
        }
        let more = listed.len() > BATCH;
        let first: Vec<u32> = listed.iter().take(BATCH).copied().collect();
        self.backlog.insert(
            folder.to_string(),
            (uidvalidity, listed.into_iter().skip(BATCH).collect()),
        );
        // Sizes of this batch only, before anything is downloaded.
        let session = self.session(&imap).await?;
        let set = first
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut sizes: BTreeMap<u32, u64> = BTreeMap::new();
        let listing: Result<(), String> = async {
            let mut stream = within(
                "UID FETCH sizes",
                session.uid_fetch(set, "(UID RFC822.SIZE)"),
            )
            .await?;
            while let Some(item) = within("UID FETCH sizes", async {
                Ok::<_, String>(stream.next().await)
            })
            .await?
            {
                let f = item.map_err(|e| format!("IMAP UID FETCH sizes: {e}"))?;
                if let Some(uid) = f.uid {
                    sizes.insert(uid, f.size.unwrap_or(0) as u64);
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = listing {
            if let Some((_, q)) = self.backlog.get_mut(folder) {
                for u in first.iter().rev() {
                    q.push_front(*u);
                }
            }
            return Err(e);
        }
        // A UID without a size was expunged meanwhile: nothing to store.
        let mut chunk: Vec<(u32, u64)> = first
            .iter()
            .filter_map(|u| sizes.get(u).map(|s| (*u, *s)))
            .collect();
        // Keep the download of one batch bounded; the rest waits its turn.
        let mut budget = 0u64;
        let keep = chunk
            .iter()
            .take_while(|(_, size)| {
                let cost = if *size > ch.max_message_bytes {
                    0
                } else {
                    *size
                };
                budget += cost;
                budget <= BATCH_BYTES
            })
            .count()
            .max(1);
        let later: Vec<u32> = chunk
            .split_off(keep.min(chunk.len()))
            .iter()
            .map(|c| c.0)
            .collect();
        let more = more || !later.is_empty();
        if let Some((_, q)) = self.backlog.get_mut(folder) {
            for u in later.iter().rev() {
                q.push_front(*u);
            }
        }
        if let Some(s) = self.session.as_mut() {
            drain(s);
        }
        let session = self.session(&imap).await?;
        let wanted: Vec<u32> = chunk
            .iter()
            .filter(|(_, size)| *size <= ch.max_message_bytes)
            .map(|(u, _)| *u)
            .collect();
        let mut failure = None;
        // Headers of the mail too large to download, for the quarantine.
        let big: Vec<String> = chunk
            .iter()
            .filter(|(_, size)| *size > ch.max_message_bytes)
            .map(|(u, _)| u.to_string())
            .collect();
        let mut heads: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        if !big.is_empty() {
            match within(
                "UID FETCH headers",
                session.uid_fetch(big.join(","), "(UID BODY.PEEK[HEADER])"),
            )
            .await
            {
                Err(e) => failure = Some(e),
                Ok(mut stream) => {
                    while let Ok(Some(item)) = tokio::time::timeout(OP_TIMEOUT, stream.next()).await
                    {
                        match item {
                            Ok(f) => {
                                if let (Some(uid), Some(h)) = (f.uid, f.header()) {
                                    heads.insert(uid, h.to_vec());
                                }
                            }
                            Err(e) => {
                                failure = Some(format!("IMAP UID FETCH headers: {e}"));
                                break;
                            }
                        }
                    }
                }
            }
        }
        let mut bodies: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        if failure.is_none() && !wanted.is_empty() {
            let set = wanted
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(",");
            match within("UID FETCH", session.uid_fetch(set, "(UID BODY.PEEK[])")).await {
                Err(e) => failure = Some(e),
                Ok(mut stream) => loop {
                    match tokio::time::timeout(OP_TIMEOUT, stream.next()).await {
                        Err(_) => {
                            failure = Some("IMAP UID FETCH: no answer".into());
                            break;
                        }
                        Ok(None) => break,
                        Ok(Some(Err(e))) => {
                            failure = Some(format!("IMAP UID FETCH: {e}"));
                            break;
                        }
                        Ok(Some(Ok(f))) => {
                            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                                bodies.insert(uid, body.to_vec());
                            }
                        }
                    }
                },
            }
        }
        if failure.is_none() {
            drain(session);
        }
        // The stored prefix: stop at the first mail we did not get.
        let mut raws = Vec::new();
        let mut through = last;
        for (uid, size) in &chunk {
            let source = format!("imap {folder} uid {uid} (uidvalidity {uidvalidity})");
            let (raw, headers) = if *size > ch.max_message_bytes {
                match heads.remove(uid) {
                    Some(h) => (None, Some(h)),
                    None if failure.is_some() => break,
                    None => (None, None),
                }
            } else {
                match bodies.remove(uid) {
                    Some(b) => (Some(b), None),
                    None => break,
                }
            };
            raws.push(RawMail {
                source,
                size: *size,
                raw,
                headers,
            });
            through = *uid;
        }
        let stored_uids: Vec<u32> = chunk
            .iter()
            .map(|c| c.0)
            .take_while(|u| *u <= through)
            .collect();
        if !raws.is_empty() {
            let ch2 = ch.clone();
            let app2 = app.clone();
            let prepared: Vec<PreparedMail> = tokio::task::spawn_blocking(move || {
                raws.into_iter()
                    .map(|r| app2.prepare_mail(&ch2, r))
                    .collect()
            })
            .await
            .map_err(|e| format!("preparing mail: {e}"))?;
            let cursor = MailCursor::Imap {
                uidvalidity,
                last_uid: through,
            };
            app.store_mail_batch(&ch.name, prepared, Some((key, cursor)))
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(e) = failure {
            self.session = None;
            if stored_uids.is_empty() {
                if let Some((_, q)) = self.backlog.get_mut(folder) {
                    for (u, _) in chunk.iter().rev() {
                        q.push_front(*u);
                    }
                }
                return Err(e);
            }
            // Progress was made: reconnect at once and go on where it broke
            // (the listing stays valid while UIDVALIDITY does).
            tracing::info!(channel = %ch.name, error = %e, stored = stored_uids.len(), "IMAP connection lost mid-fetch; resuming");
            if let Some((_, q)) = self.backlog.get_mut(folder) {
                for (u, _) in chunk.iter().rev().filter(|(u, _)| *u > through) {
                    q.push_front(*u);
                }
            }
            return Ok(true);
        }
        if !stored_uids.is_empty() && imap.after_import != AfterImport::Keep {
            let set = stored_uids
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let session = self.session(&imap).await?;
            match imap.after_import {
                AfterImport::Seen => {
                    let s = within("UID STORE", session.uid_store(&set, "+FLAGS (\\Seen)")).await?;
                    let _ = s.collect::<Vec<_>>().await;
                }
                AfterImport::Move => {
                    let to = imap.move_to.clone().unwrap_or_default();
                    within("UID MOVE", session.uid_mv(&set, &to)).await?;
                }
                AfterImport::Keep => {}
            }
            drain(session);
        }
        // Mail we did not get (expunged meanwhile, or cut short) is listed
        // again next round.
        let short = through < chunk.last().map(|c| c.0).unwrap_or(through);
        if short {
            self.backlog.remove(folder);
        }
        Ok(more || short)
    }
}

/// Discard unsolicited responses (EXISTS, EXPUNGE…): each round lists the
/// folder anyway, and the channel must not fill up.
fn drain(s: &mut Session<Conn>) {
    while s.unsolicited_responses.try_recv().is_ok() {}
}

impl ImapWorker {
    /// One pass over every folder (no IDLE): `Ok(true)` while mail remains.
    /// The benchmark drives the poller with it.
    pub async fn sync_once(&mut self) -> Result<bool, String> {
        let ch = self
            .app
            .email_channel(&self.channel)
            .ok_or("no such mailbox")?;
        let folders = ch
            .imap
            .as_ref()
            .map(|i| i.folder_list())
            .unwrap_or_default();
        let mut more = false;
        for f in &folders {
            match self.sync_folder(&ch, f).await {
                Ok(m) => more |= m,
                Err(e) => {
                    self.session = None;
                    return Err(e);
                }
            }
        }
        Ok(more)
    }
}

impl Worker for ImapWorker {
    fn name(&self) -> String {
        format!("email:{}", self.channel)
    }

    async fn step(&mut self) -> Result<Step, String> {
        let Some(ch) = self.app.email_channel(&self.channel) else {
            return Ok(Step::Idle(Duration::from_secs(3600)));
        };
        let Some(imap) = ch.imap.clone() else {
            return Ok(Step::Idle(Duration::from_secs(3600)));
        };
        if self.app.channel_disabled(&self.channel) {
            self.session = None;
            return Ok(Step::Idle(Duration::from_secs(5)));
        }
        let folders = imap.folder_list();
        if self.sync_once().await? {
            return Ok(Step::Busy);
        }
        let wait = ch.poll_interval.0.min(Duration::from_secs(29 * 60));
        if !(self.idle && folders.len() == 1) {
            return Ok(Step::Idle(wait));
        }
        // IDLE on the (selected) folder until something happens.
        let Some(session) = self.session.take() else {
            return Ok(Step::Busy);
        };
        let mut handle = session.idle();
        within("IDLE", handle.init()).await?;
        let (fut, _stop) = handle.wait_with_timeout(wait);
        fut.await.map_err(|e| format!("IMAP IDLE: {e}"))?;
        let session = within("DONE", handle.done()).await?;
        self.session = Some(session);
        Ok(Step::Busy)
    }
}
