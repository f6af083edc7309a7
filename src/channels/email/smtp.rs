//! Sending replies by SMTP: build the MIME message (lettre's builder) and
//! deliver it over implicit TLS, STARTTLS or plain (tests) with rustls.
//!
//! The Message-ID comes from the outbox row's idempotency key, fixed before
//! the first attempt, so every retry (and a retry after a crash) carries the
//! same id and the customer's client threads them as one mail.

use crate::channels::SendResult;
use crate::config::{MailSecurity, SmtpConfig};
use lettre::message::header::ContentType;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A reply ready to be turned into MIME.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutgoingMail {
    /// Display name of the sender, e.g. `Ana via Acme`.
    pub from_name: String,
    pub from_addr: String,
    pub to_addr: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The mail being answered (without brackets).
    pub in_reply_to: Option<String>,
    /// The thread's ids, oldest first (without brackets).
    pub references: Vec<String>,
    /// Automatic mail (acknowledgements): `Auto-Submitted: auto-replied`.
    pub automatic: bool,
    /// The earlier message quoted below the reply: (attribution, text).
    pub quote: Option<(String, String)>,
    /// Files sent along: the mail becomes `multipart/mixed`.
    pub attachments: Vec<MailAttachment>,
}

/// One file of an outgoing mail.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
struct AutoSubmitted(String);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone, Debug)]
struct SuppressAutoReplies;

impl Header for SuppressAutoReplies {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressAutoReplies)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".into())
    }
}

/// `Re: subject` unless it already is a reply.
pub fn reply_subject(subject: Option<&str>) -> String {
    let s = subject.unwrap_or("").trim();
    if s.is_empty() {
        "Re: your message".into()
    } else if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>\n"),
            c => out.push(c),
        }
    }
    out
}

/// The plain text and HTML bodies (reply, then the quoted history).
pub fn bodies(m: &OutgoingMail) -> (String, String) {
    let mut text = m.text.trim_end().to_string();
    let mut html = format!("<div>{}</div>", escape_html(&text));
    if let Some((who, quoted)) = &m.quote {
        text.push_str(&format!("\n\n{who}\n"));
        for line in quoted.trim_end().lines() {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
        html.push_str(&format!(
            "<br>\n<div>{}</div>\n<blockquote style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">{}</blockquote>",
            escape_html(who),
            escape_html(quoted.trim_end())
        ));
    }
    (text, html)
}

/// Build the MIME message.
pub fn build(m: &OutgoingMail) -> Result<Message, String> {
    let from = Mailbox::new(
        Some(m.from_name.clone()).filter(|n| !n.is_empty()),
        m.from_addr
            .parse()
            .map_err(|e| format!("from address {:?}: {e}", m.from_addr))?,
    );
    let to = Mailbox::new(
        m.to_name.clone(),
        m.to_addr
            .parse()
            .map_err(|e| format!("recipient {:?} is not a valid address: {e}", m.to_addr))?,
    );
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}>", m.message_id)))
        .user_agent(concat!("Atalaya/", env!("CARGO_PKG_VERSION")).into())
        .date_now();
    if let Some(id) = &m.in_reply_to {
        b = b.in_reply_to(format!("<{id}>"));
    }
    if !m.references.is_empty() {
        let refs: Vec<String> = m.references.iter().map(|r| format!("<{r}>")).collect();
        b = b.references(refs.join(" "));
    }
    if m.automatic {
        b = b
            .header(AutoSubmitted("auto-replied".into()))
            .header(SuppressAutoReplies);
    }
    let (text, html) = bodies(m);
    let alternative = MultiPart::alternative_plain_html(text, html);
    let body = if m.attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &m.attachments {
            // A type lettre cannot parse still goes out, as bytes.
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap());
            mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), ct));
        }
        mixed
    };
    b.multipart(body)
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn tls_params(cfg: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("ca_file: {e}"))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls().map_err(|e| format!("TLS setup: {e}"))
}

fn transport(
    cfg: &SmtpConfig,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match cfg.security {
        MailSecurity::None => Tls::None,
        MailSecurity::Starttls => Tls::Required(tls_params(cfg)?),
        MailSecurity::Tls => Tls::Wrapper(tls_params(cfg)?),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
        .port(cfg.port())
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
        b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    Ok(b.build())
}

/// Connect, greet, authenticate and quit: is this server usable?
pub async fn check(cfg: &SmtpConfig) -> Result<(), String> {
    let t = transport(cfg, Duration::from_secs(15))?;
    match t.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "SMTP {}:{} did not accept a session",
            cfg.host,
            cfg.port()
        )),
        Err(e) => Err(format!("SMTP {}:{}: {e}", cfg.host, cfg.port())),
    }
}

/// Deliver one message; classify the outcome for the outbox.
pub async fn send(cfg: &SmtpConfig, msg: &Message, timeout: Duration) -> SendResult {
    let transport = match transport(cfg, timeout) {
        Ok(t) => t,
        Err(e) => return SendResult::Permanent(e),
    };
    match tokio::time::timeout(
        timeout + Duration::from_secs(1),
        transport.send(msg.clone()),
    )
    .await
    {
        Err(_) => SendResult::Retry {
            error: format!("the SMTP server did not answer within {timeout:?}"),
            after: None,
        },
        Ok(Ok(_)) => SendResult::Sent,
        Ok(Err(e)) if e.is_permanent() => {
            SendResult::Permanent(format!("the mail server refused the message: {e}"))
        }
        Ok(Err(e)) => SendResult::Retry {
            error: format!("SMTP: {e}"),
            after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OutgoingMail {
        OutgoingMail {
            from_name: "Ana via Acme".into(),
            from_addr: "support@acme.test".into(),
            to_addr: "cliente@example.com".into(),
            to_name: Some("José Pérez".into()),
            subject: reply_subject(Some("Cobro doble")),
            text: "Hola José,\nya lo hemos devuelto.\n^AP".into(),
            message_id: "atalaya-12-abc@acme.test".into(),
            in_reply_to: Some("orig-1@example.com".into()),
            references: vec!["root@example.com".into(), "orig-1@example.com".into()],
            automatic: false,
            quote: Some(("José wrote:".into(), "Me cobraron <dos> veces".into())),
            attachments: vec![],
        }
    }

    #[test]
    fn attachments_make_a_mixed_mail_with_the_alternative_first() {
        use mail_parser::MimeHeaders;
        let mut m = sample();
        let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        m.attachments = vec![
            MailAttachment {
                filename: "factura año 2026 – €.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.4 fake".to_vec(),
            },
            MailAttachment {
                filename: "datos.bin".into(),
                content_type: "not a type".into(),
                bytes: binary.clone(),
            },
        ];
        let raw = build(&m).unwrap().formatted();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("In-Reply-To: <orig-1@example.com>"), "{text}");
        let p = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            p.content_type().map(|c| c.subtype()),
            Some(Some("mixed")),
            "top level is multipart/mixed"
        );
        assert!(p.body_text(0).unwrap().contains("ya lo hemos devuelto"));
        assert!(p.body_html(0).unwrap().contains("ya lo hemos devuelto"));
        let atts: Vec<_> = p.attachments().collect();
        assert_eq!(atts.len(), 2);
        assert_eq!(atts[0].attachment_name(), Some("factura año 2026 – €.pdf"));
        assert_eq!(atts[0].contents(), b"%PDF-1.4 fake");
        let ct = atts[0].content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
        assert_eq!(atts[1].attachment_name(), Some("datos.bin"));
        assert_eq!(atts[1].contents(), &binary[..]);
        let ct = atts[1].content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("application", Some("octet-stream"))
        );
        // The inbound parser sees the reply text and both files too.
        let back = super::super::mime::parse(&raw, 1 << 20).unwrap();
        assert_eq!(back.attachments.len(), 2);
        assert!(back.text.contains("> Me cobraron <dos> veces"));
    }

    #[test]
    fn without_attachments_the_mail_stays_alternative() {
        let raw = String::from_utf8(build(&sample()).unwrap().formatted()).unwrap();
        assert!(!raw.contains("multipart/mixed"), "{raw}");
    }

    #[test]
    fn builds_threaded_multipart_with_quote() {
        let raw = String::from_utf8(build(&sample()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Message-ID: <atalaya-12-abc@acme.test>"),
            "{raw}"
        );
        assert!(raw.contains("In-Reply-To: <orig-1@example.com>"), "{raw}");
        assert!(
            raw.contains("References: <root@example.com> <orig-1@example.com>"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"));
        assert!(!raw.contains("Auto-Submitted"));
        // Parse it back with the inbound parser: both parts and the quote.
        let p = super::super::mime::parse(raw.as_bytes(), 1 << 20).unwrap();
        assert_eq!(p.subject.as_deref(), Some("Re: Cobro doble"));
        assert!(p.text.contains("> Me cobraron <dos> veces"), "{}", p.text);
        assert!(p.html.unwrap().contains("Me cobraron &lt;dos&gt; veces"));
        assert_eq!(p.from.unwrap().1.as_deref(), Some("Ana via Acme"));
    }

    #[test]
    fn automatic_mail_is_marked_and_recognized_as_automated() {
        let mut m = sample();
        m.automatic = true;
        let raw = build(&m).unwrap().formatted();
        let p = super::super::mime::parse(&raw, 1 << 20).unwrap();
        assert!(
            p.auto.is_some(),
            "our own auto-reply must be seen as automated"
        );
    }

    #[test]
    fn bad_recipient_is_an_error_not_a_panic() {
        let mut m = sample();
        m.to_addr = "not an address".into();
        assert!(build(&m).unwrap_err().contains("recipient"));
    }

    #[test]
    fn subjects() {
        assert_eq!(reply_subject(Some("RE: x")), "RE: x");
        assert_eq!(reply_subject(None), "Re: your message");
        assert_eq!(reply_subject(Some("Pedido")), "Re: Pedido");
    }
}
