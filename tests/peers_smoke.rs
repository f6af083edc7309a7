//! Smoke tests of the real-peer harness (tests/common/peers): Dovecot over
//! IMAP, IMAPS and STARTTLS, the aiosmtpd SMTP peer with its fault modes, and
//! the connection-cutting proxy. They talk raw protocol over TCP so that they
//! test the harness, not Atalaya's clients.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::peers::{
    Dovecot, FlakyProxy, Mode, Security, SmtpOptions, SmtpPeer, dovecot, tls_connect, tls_wrap,
    write_test_certs,
};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A line-oriented protocol client over any stream (TCP or TLS).
struct Lines<S> {
    stream: BufReader<S>,
    /// Bytes read so far.
    received: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    fn new(stream: S) -> Self {
        Lines {
            stream: BufReader::new(stream),
            received: 0,
        }
    }

    /// The next line without CRLF; `None` at end of stream.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(IO_TIMEOUT, self.stream.read_line(&mut line))
            .await
            .expect("the peer did not answer within 10 s")
            .expect("read from the peer");
        self.received += n;
        (n > 0).then(|| line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// The next line, or `None` at end of stream or on a read error (a cut).
    async fn line_or_eof(&mut self) -> Option<String> {
        let mut line = String::new();
        match tokio::time::timeout(IO_TIMEOUT, self.stream.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {
                self.received += n;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            }
            Ok(_) => {
                // A partial last line before the cut counts too.
                self.received += line.len();
                None
            }
            Err(_) => panic!("the peer did not answer or close within 10 s"),
        }
    }

    async fn send(&mut self, text: &str) {
        let stream = self.stream.get_mut();
        stream.write_all(text.as_bytes()).await.expect("write");
        stream.write_all(b"\r\n").await.expect("write");
        stream.flush().await.expect("flush");
    }

    /// Send an IMAP command and return every line up to and including the
    /// tagged answer; panics unless that answer is OK.
    async fn imap(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(&format!("{tag} {command}")).await;
        let mut lines = Vec::new();
        loop {
            let line = self
                .line()
                .await
                .unwrap_or_else(|| panic!("connection closed during {command}: {lines:?}"));
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                break;
            }
        }
        let last = lines.last().expect("a tagged line");
        assert!(
            last.starts_with(&format!("{tag} OK")),
            "{command} failed: {lines:?}"
        );
        lines
    }

    /// Read one (possibly multi-line) SMTP reply; returns its lines.
    async fn smtp_reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .line()
                .await
                .unwrap_or_else(|| panic!("connection closed during a reply: {lines:?}"));
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Send an SMTP command and return the reply code and the reply text.
    async fn smtp(&mut self, command: &str) -> (u16, String) {
        self.send(command).await;
        let lines = self.smtp_reply().await;
        let code = lines[0][..3].parse().expect("SMTP reply code");
        (code, lines.join("\n"))
    }

    async fn expect_smtp(&mut self, command: &str, code: u16) -> String {
        let (got, text) = self.smtp(command).await;
        assert_eq!(got, code, "{command:?} answered {text:?}");
        text
    }

    fn into_inner(self) -> S {
        assert!(
            self.stream.buffer().is_empty(),
            "unread data before the TLS handshake"
        );
        self.stream.into_inner()
    }
}

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: Customer <customer@example.org>\r\nTo: {}\r\nSubject: {subject}\r\n\
         Message-ID: <{}@example.org>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nHello.\r\n",
        dovecot::USER,
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

async fn imap_login(port: u16) -> Lines<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to IMAP");
    let mut c = Lines::new(tcp);
    let greeting = c.line().await.expect("IMAP greeting");
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.imap(
        "a",
        &format!("LOGIN {} {}", dovecot::USER, dovecot::PASSWORD),
    )
    .await;
    c
}

fn uidvalidity_in(lines: &[String]) -> u32 {
    lines
        .iter()
        .find_map(|l| {
            let rest = l.split("[UIDVALIDITY ").nth(1)?;
            rest.split(']').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no UIDVALIDITY in {lines:?}"))
}

#[tokio::test]
async fn dovecot_imap_idle_restart_and_uidvalidity_reset() {
    let started = Instant::now();
    let mut dc = Dovecot::start();
    println!("dovecot started in {:?}", started.elapsed());
    for i in 1..=3 {
        dc.deliver(&mail(&format!("hello {i}")));
    }
    assert_eq!(dc.message_count("INBOX"), 3);

    let mut c = imap_login(dc.port()).await;
    let select = c.imap("b", "SELECT INBOX").await;
    assert!(select.iter().any(|l| l == "* 3 EXISTS"), "{select:?}");
    assert_eq!(uidvalidity_in(&select), dc.uidvalidity());

    // dovecot-lda deliveries reach a client in IDLE.
    c.send("c IDLE").await;
    let cont = c.line().await.expect("IDLE continuation");
    assert!(cont.starts_with('+'), "{cont}");
    dc.deliver(&mail("hello 4"));
    let pushed = c.line().await.expect("IDLE push");
    assert_eq!(pushed, "* 4 EXISTS");
    c.send("DONE").await;
    while let Some(line) = c.line().await {
        if line.starts_with("c ") {
            assert!(line.starts_with("c OK"), "{line}");
            break;
        }
    }
    c.imap("d", "LOGOUT").await;

    // A restart keeps ports, mail and UIDVALIDITY.
    let before = dc.uidvalidity();
    dc.stop();
    assert!(TcpStream::connect(("127.0.0.1", dc.port())).await.is_err());
    dc.start_again();
    assert_eq!(dc.message_count("INBOX"), 4);
    assert_eq!(dc.uidvalidity(), before);

    // A UIDVALIDITY reset keeps the mail but not the UIDs' validity.
    let reset_started = Instant::now();
    let after = dc.reset_uidvalidity();
    println!("reset_uidvalidity took {:?}", reset_started.elapsed());
    assert_ne!(after, before);
    assert_eq!(dc.uidvalidity(), after);
    assert_eq!(dc.message_count("INBOX"), 4);
    let subjects = dc.subjects("INBOX");
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    let texts = dc.message_texts("INBOX");
    assert_eq!(texts.len(), 4);
    assert!(texts[3].contains("Subject: hello 4\n"), "{}", texts[3]);
    let mut c = imap_login(dc.port()).await;
    let select = c.imap("b", "SELECT INBOX").await;
    assert_eq!(uidvalidity_in(&select), after);
    assert!(select.iter().any(|l| l == "* 4 EXISTS"), "{select:?}");
    c.imap("c", "LOGOUT").await;

    // A crash (SIGKILL) and a start on the same port.
    dc.kill();
    dc.start_again();
    assert_eq!(dc.uidvalidity(), after);
    assert_eq!(dc.message_count("INBOX"), 4);

    dc.create_folder("Sent");
    dc.deliver_into("Sent", &mail("sent one"));
    assert_eq!(dc.message_count("Sent"), 1);
    assert!(dc.folders().contains(&"Sent".to_string()));
    println!("dovecot IMAP test took {:?}", started.elapsed());
}

#[tokio::test]
async fn dovecot_bulk_delivery_and_flags() {
    let dc = Dovecot::start();
    let mails: Vec<Vec<u8>> = (0..2000).map(|i| mail(&format!("bulk {i}"))).collect();
    let started = Instant::now();
    dc.deliver_bulk(&mails);
    let written = started.elapsed();
    assert_eq!(dc.message_count("INBOX"), 2000);
    println!(
        "deliver_bulk(2000): files written in {written:?}, counted by dovecot after {:?}",
        started.elapsed()
    );
    // UIDs follow the slice order.
    let subjects = dc.subjects("INBOX");
    assert_eq!(subjects[0], (1, "bulk 0".to_string()));
    assert_eq!(subjects[1999], (2000, "bulk 1999".to_string()));

    // More bulk mail and an lda delivery continue the UIDs.
    dc.deliver_bulk(&[mail("bulk late")]);
    dc.deliver(&mail("lda after bulk"));
    let subjects = dc.subjects("INBOX");
    assert_eq!(subjects[2000], (2001, "bulk late".to_string()));
    assert_eq!(subjects[2001], (2002, "lda after bulk".to_string()));

    assert_eq!(dc.seen_count("INBOX"), 0);
    dc.add_flags("INBOX", 1, "\\Seen \\Flagged");
    dc.add_flags("INBOX", 2, "\\Seen");
    assert_eq!(dc.seen_count("INBOX"), 2);
    assert_eq!(dc.search_count("INBOX", &["FLAGGED"]), 1);
    let flags = dc.flags("INBOX");
    assert!(
        flags[0].1.contains(&"\\Flagged".to_string()),
        "{:?}",
        flags[0]
    );
    dc.remove_flags("INBOX", 2, "\\Seen");
    dc.expunge("INBOX", 3);
    assert_eq!(dc.seen_count("INBOX"), 1);
    assert_eq!(dc.message_count("INBOX"), 2001);
    println!("bulk test took {:?}", started.elapsed());
}

#[tokio::test]
async fn dovecot_imaps_and_starttls_with_the_test_ca() {
    let dc = Dovecot::start();
    dc.deliver(&mail("over tls"));

    let tls = tls_connect(dc.tls_port(), &dc.ca_pem_path())
        .await
        .expect("IMAPS handshake trusting the test CA");
    let mut c = Lines::new(tls);
    let greeting = c.line().await.expect("IMAPS greeting");
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.imap(
        "a",
        &format!("LOGIN {} {}", dovecot::USER, dovecot::PASSWORD),
    )
    .await;
    let select = c.imap("b", "SELECT INBOX").await;
    assert!(select.iter().any(|l| l == "* 1 EXISTS"), "{select:?}");
    c.imap("c", "LOGOUT").await;

    let tcp = TcpStream::connect(("127.0.0.1", dc.port())).await.unwrap();
    let mut c = Lines::new(tcp);
    let greeting = c.line().await.expect("IMAP greeting");
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    c.imap("a", "STARTTLS").await;
    let tls = tls_wrap(c.into_inner(), &dc.ca_pem_path())
        .await
        .expect("STARTTLS handshake trusting the test CA");
    let mut c = Lines::new(tls);
    c.imap(
        "b",
        &format!("LOGIN {} {}", dovecot::USER, dovecot::PASSWORD),
    )
    .await;
    c.imap("c", "LOGOUT").await;

    // A client trusting another CA refuses the certificate.
    let other = tempfile::tempdir().unwrap();
    let other = write_test_certs(other.path());
    assert!(tls_connect(dc.tls_port(), &other.ca_pem).await.is_err());
}

async fn smtp_session(port: u16) -> Lines<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to SMTP");
    let mut c = Lines::new(tcp);
    let greeting = c.smtp_reply().await;
    assert!(greeting[0].starts_with("220"), "{greeting:?}");
    c
}

async fn send_one<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Lines<S>, subject: &str) {
    c.expect_smtp("MAIL FROM:<agent@example.test>", 250).await;
    c.expect_smtp("RCPT TO:<customer@example.org>", 250).await;
    c.expect_smtp("DATA", 354).await;
    c.send(&format!(
        "Subject: {subject}\r\n\r\nline one\r\n..starts with a dot\r\n."
    ))
    .await;
    let reply = c.smtp_reply().await;
    assert!(reply[0].starts_with("250"), "{reply:?}");
}

#[tokio::test]
async fn smtp_peer_auth_faults_and_restart() {
    let started = Instant::now();
    let mut smtp = SmtpPeer::start(SmtpOptions::plain().with_auth("agent", "s3cret"));
    println!("SMTP peer started in {:?}", started.elapsed());
    let mut c = smtp_session(smtp.port()).await;
    let ehlo = c.expect_smtp("EHLO client.example.test", 250).await;
    assert!(ehlo.contains("AUTH"), "{ehlo}");
    c.expect_smtp("MAIL FROM:<agent@example.test>", 530).await;
    let bad = B64.encode(b"\0agent\0wrong");
    c.expect_smtp(&format!("AUTH PLAIN {bad}"), 535).await;
    let good = B64.encode(b"\0agent\0s3cret");
    c.expect_smtp(&format!("AUTH PLAIN {good}"), 235).await;
    send_one(&mut c, "first").await;

    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.seq, 1);
    assert_eq!(r.mail_from, "agent@example.test");
    assert_eq!(r.rcpt_to, vec!["customer@example.org".to_string()]);
    assert_eq!(r.auth_user.as_deref(), Some("agent"));
    assert!(!r.tls);
    assert_eq!(
        r.data,
        b"Subject: first\r\n\r\nline one\r\n.starts with a dot\r\n".to_vec()
    );

    // Faults apply to the open connection at its next command.
    smtp.set_mode(Mode::Perm550);
    c.expect_smtp("MAIL FROM:<agent@example.test>", 250).await;
    let rcpt = c.expect_smtp("RCPT TO:<customer@example.org>", 550).await;
    assert!(rcpt.contains("5.1.1"), "{rcpt}");
    c.expect_smtp("RSET", 250).await;

    smtp.set_mode(Mode::Perm550Data);
    c.expect_smtp("MAIL FROM:<agent@example.test>", 250).await;
    c.expect_smtp("RCPT TO:<customer@example.org>", 250).await;
    c.expect_smtp("DATA", 354).await;
    c.send("Subject: refused\r\n\r\nbody\r\n.").await;
    assert!(c.smtp_reply().await[0].starts_with("550"));

    smtp.set_mode(Mode::Temp451);
    c.expect_smtp("MAIL FROM:<agent@example.test>", 250).await;
    c.expect_smtp("RCPT TO:<customer@example.org>", 250).await;
    c.expect_smtp("DATA", 354).await;
    c.send("Subject: later\r\n\r\nbody\r\n.").await;
    let reply = c.smtp_reply().await;
    assert!(reply[0].starts_with("451 4.3.0"), "{reply:?}");

    smtp.set_mode(Mode::Temp421);
    let reply = c.expect_smtp("MAIL FROM:<agent@example.test>", 421).await;
    assert!(reply.contains("try later"), "{reply}");
    assert_eq!(c.line().await, None, "the peer closes after 421");
    assert_eq!(smtp.count(), 1);

    smtp.set_mode(Mode::Tarpit(Duration::from_millis(300)));
    let mut c = smtp_session(smtp.port()).await;
    c.expect_smtp("EHLO client.example.test", 250).await;
    c.expect_smtp(&format!("AUTH PLAIN {good}"), 235).await;
    let tarpit = Instant::now();
    send_one(&mut c, "slow").await;
    assert!(tarpit.elapsed() >= Duration::from_millis(300));
    drop(c);

    // The server goes away and comes back on the same port.
    smtp.stop();
    assert!(
        TcpStream::connect(("127.0.0.1", smtp.port()))
            .await
            .is_err()
    );
    smtp.start_again();
    smtp.set_mode(Mode::Accept);
    let mut c = smtp_session(smtp.port()).await;
    c.expect_smtp("EHLO client.example.test", 250).await;
    c.expect_smtp("AUTH LOGIN", 334).await;
    c.expect_smtp(&B64.encode("agent"), 334).await;
    c.expect_smtp(&B64.encode("s3cret"), 235).await;
    send_one(&mut c, "after restart").await;
    c.expect_smtp("QUIT", 221).await;

    let all = smtp.wait_for(3, Duration::from_secs(5));
    assert!(all[1].starts_with(b"Subject: slow\r\n"));
    assert!(all[2].starts_with(b"Subject: after restart\r\n"));
    let seqs: Vec<u64> = smtp.received().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    println!("SMTP test took {:?}", started.elapsed());
}

#[tokio::test]
async fn smtp_peer_starttls_and_implicit_tls() {
    let starttls = SmtpPeer::start(
        SmtpOptions::plain()
            .with_security(Security::StartTls)
            .with_auth("agent", "pw"),
    );
    let implicit = SmtpPeer::start(
        SmtpOptions::plain()
            .with_security(Security::Tls)
            .with_auth("agent", "pw"),
    );

    let mut c = smtp_session(starttls.port()).await;
    let ehlo = c.expect_smtp("EHLO client.example.test", 250).await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    c.expect_smtp("MAIL FROM:<agent@example.test>", 530).await;
    c.expect_smtp("STARTTLS", 220).await;
    let tls = tls_wrap(c.into_inner(), &starttls.ca_pem_path())
        .await
        .expect("STARTTLS handshake trusting the test CA");
    let mut c = Lines::new(tls);
    c.expect_smtp("EHLO client.example.test", 250).await;
    c.expect_smtp(&format!("AUTH PLAIN {}", B64.encode(b"\0agent\0pw")), 235)
        .await;
    send_one(&mut c, "starttls").await;

    let tls = tls_connect(implicit.port(), &implicit.ca_pem_path())
        .await
        .expect("implicit TLS handshake trusting the test CA");
    let mut c = Lines::new(tls);
    assert!(c.smtp_reply().await[0].starts_with("220"));
    c.expect_smtp("EHLO client.example.test", 250).await;
    c.expect_smtp(&format!("AUTH PLAIN {}", B64.encode(b"\0agent\0pw")), 235)
        .await;
    send_one(&mut c, "implicit").await;

    for (peer, subject) in [(&starttls, "starttls"), (&implicit, "implicit")] {
        let received = peer.received();
        assert_eq!(received.len(), 1, "{subject}");
        assert!(received[0].tls, "{subject}");
        assert_eq!(received[0].auth_user.as_deref(), Some("agent"));
        assert!(
            received[0]
                .data
                .starts_with(format!("Subject: {subject}\r\n").as_bytes())
        );
    }
}

/// A local echo server on a free port (one thread per connection).
fn echo_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn flaky_proxy_cuts_connections() {
    let target = echo_server();
    let proxy = FlakyProxy::start(target, Some(1000));

    // Cut after exactly 1000 bytes server -> client.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(&[b'x'; 3000]).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert_eq!(got.len(), 1000);
    assert_eq!(proxy.cuts(), 1);

    // No limit: everything comes back; cut_all closes the open connection.
    proxy.set_drop_after(None);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(&[b'y'; 3000]).unwrap();
    let mut got = vec![0u8; 3000];
    s.read_exact(&mut got).unwrap();
    assert!(got.iter().all(|&b| b == b'y'));
    proxy.cut_all();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert_eq!(proxy.connections(), 2);
    assert_eq!(proxy.cuts(), 2);

    // Some(0): accepted, then closed at once.
    proxy.set_drop_after(Some(0));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty());
    assert_eq!(proxy.connections(), 3);
}

#[tokio::test]
async fn flaky_proxy_in_front_of_imap() {
    let dc = Dovecot::start();
    for i in 0..5 {
        dc.deliver(&mail(&format!("through the proxy {i}")));
    }
    let proxy = FlakyProxy::start(dc.port(), None);
    let mut c = imap_login(proxy.port()).await;
    let select = c.imap("b", "SELECT INBOX").await;
    assert!(select.iter().any(|l| l == "* 5 EXISTS"), "{select:?}");
    // Lowered at run time: the open connection may get 100 more bytes.
    let so_far = c.received;
    proxy.set_drop_after(Some(so_far + 100));
    c.send("c FETCH 1:* (BODY.PEEK[])").await;
    let mut saw_end = false;
    while let Some(line) = c.line_or_eof().await {
        saw_end |= line.starts_with("c ");
    }
    assert!(!saw_end, "the proxy should have cut the FETCH");
    assert_eq!(
        c.received,
        so_far + 100,
        "bytes server -> client before the cut"
    );
    assert_eq!(proxy.cuts(), 1);

    proxy.set_drop_after(None);
    let mut c = imap_login(proxy.port()).await;
    c.imap("b", "SELECT INBOX").await;
    let fetched = c.imap("c", "FETCH 1:* (BODY.PEEK[])").await;
    assert!(fetched.len() > 5);
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test]
#[ignore = "timing of deliver_bulk for 10,000 messages: cargo test --test peers_smoke -- --ignored --nocapture"]
async fn dovecot_bulk_delivery_of_10k() {
    let dc = Dovecot::start();
    let mails: Vec<Vec<u8>> = (0..10_000).map(|i| mail(&format!("bulk {i}"))).collect();
    let started = Instant::now();
    dc.deliver_bulk(&mails);
    println!(
        "deliver_bulk(10000) including dovecot's sync: {:?}",
        started.elapsed()
    );
    assert_eq!(dc.message_count("INBOX"), 10_000);
    let mut c = imap_login(dc.port()).await;
    let select = Instant::now();
    let lines = c.imap("b", "SELECT INBOX").await;
    assert!(lines.iter().any(|l| l == "* 10000 EXISTS"), "{lines:?}");
    println!("SELECT of 10000: {:?}", select.elapsed());
}
