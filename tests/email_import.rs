//! `atalaya import mbox|maildir` through the real binary; what it stored is
//! read back in-process with the library once the binary has exited (the
//! store is single-process).

use atalaya::app::App;
use atalaya::app::email::MailCursor;
use atalaya::channels::email::import::{self as imp, SourceKind};
use atalaya::config::{Config, Overrides};
use atalaya::domain::{Conversation, Message, QuarantineItem, SystemClock};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

struct Env {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    data: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("atalaya.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[server]
data = {:?}

[[channel.email]]
name = "support"
address = "soporte@tienda.example"
acknowledge = true
[channel.email.smtp]
host = "127.0.0.1"

[[channel.email]]
name = "ventas"
address = "ventas@tienda.example"
max_message_bytes = 4096
[channel.email.smtp]
host = "127.0.0.1"
"#,
            data.display().to_string()
        ),
    )
    .unwrap();
    Env { dir, cfg, data }
}

impl Env {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn import(&self, args: &[&str], source: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .env_remove("RUST_LOG")
            .arg("import")
            .args(args)
            .arg(source)
            .arg("--config")
            .arg(&self.cfg)
            .output()
            .unwrap()
    }

    fn config(&self) -> Config {
        Config::load(Some(&self.cfg), std::iter::empty(), &Overrides::default()).unwrap()
    }

    fn open(&self) -> Arc<App> {
        App::open(self.config(), Arc::new(SystemClock)).unwrap()
    }

    /// Conversations with their messages, the quarantine, and the saved
    /// position of `source` on `channel`.
    async fn stored(&self, channel: &str, source: &Path) -> Stored {
        let app = self.open();
        let key = imp::import_cursor_key(channel, &std::fs::canonicalize(source).unwrap());
        let cursor = app.mail_cursor(&key).await.unwrap();
        let (convs, quarantine) = app
            .store
            .read(|r| {
                let mut out = Vec::new();
                for c in r.all_conversations()? {
                    let msgs = r.conversation_messages(c.id)?;
                    out.push((c, msgs));
                }
                Ok((out, r.quarantine_list(true, 100)?))
            })
            .await
            .unwrap();
        app.store.shutdown().await;
        Stored {
            convs,
            quarantine,
            cursor,
        }
    }
}

struct Stored {
    convs: Vec<(Conversation, Vec<Message>)>,
    quarantine: Vec<QuarantineItem>,
    cursor: MailCursor,
}

impl Stored {
    fn messages(&self) -> Vec<&Message> {
        self.convs.iter().flat_map(|(_, m)| m).collect()
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "exit {:?}\n{out}\n{err}", o.status);
    out
}

fn mail(from: &str, subject: &str, id: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: soporte@tienda.example\nSubject: {subject}\n\
         Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <{id}>\n{extra}\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
}

fn mbox_of_three() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From ana@example.com Mon Mar  2 10:00:00 2026\n");
    m.extend_from_slice(
        mail(
            "Ana <ana@example.com>",
            "Mi pedido",
            "one@example.com",
            "",
            "Hola,\n>From the start the parcel was late.\n",
        )
        .as_bytes(),
    );
    m.extend_from_slice(b"\nFrom luis@example.com Mon Mar  2 11:00:00 2026\n");
    m.extend_from_slice(
        b"From: Luis <luis@example.com>\nTo: soporte@tienda.example\n\
          Subject: =?ISO-8859-1?Q?Pedido_peque=F1o?=\nDate: Mon, 02 Mar 2026 11:00:00 +0000\n\
          Message-ID: <two@example.com>\nMIME-Version: 1.0\n\
          Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n\
          Nos vemos ma\xf1ana, \xbfvale?\n",
    );
    m.extend_from_slice(b"\nFrom bob@example.org Mon Mar  2 12:00:00 2026\n");
    m.extend_from_slice(
        mail(
            "Bob <bob@example.org>",
            "Invoice",
            "three@example.org",
            "",
            "Where is my invoice?",
        )
        .as_bytes(),
    );
    m
}

#[tokio::test]
async fn mbox_is_split_unescaped_decoded_and_deduplicated() {
    let e = env();
    let mbox = e.path("history.mbox");
    std::fs::write(&mbox, mbox_of_three()).unwrap();
    let out = ok(&e.import(&["mbox"], &mbox));
    assert!(
        out.contains("imported 3, duplicates 0, quarantined 0, bounces 0"),
        "{out}"
    );
    let s = e.stored("support", &mbox).await;
    assert_eq!(s.convs.len(), 3);
    assert_eq!(s.cursor, MailCursor::Import { done: 3 });
    let texts: Vec<&str> = s.messages().iter().map(|m| m.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("\nFrom the start") && !t.contains(">From")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("mañana, ¿vale?")),
        "{texts:?}"
    );
    assert!(
        s.convs
            .iter()
            .any(|(c, _)| c.subject.as_deref() == Some("Pedido pequeño"))
    );
    // History never triggers acknowledgements, even on a channel that sends them.
    assert!(
        s.messages()
            .iter()
            .all(|m| m.direction == atalaya::domain::Direction::In)
    );

    // Again: the saved position skips everything without reading it.
    let out = ok(&e.import(&["mbox"], &mbox));
    assert!(out.contains("skipped 3"), "{out}");
    assert!(out.contains("imported 0, duplicates 0"), "{out}");
    // From the start, and from a copy elsewhere: recognized as duplicates.
    let out = ok(&e.import(&["mbox", "--from-start"], &mbox));
    assert!(out.contains("imported 0, duplicates 3"), "{out}");
    let copy = e.path("copy.mbox");
    std::fs::copy(&mbox, &copy).unwrap();
    let out = ok(&e.import(&["mbox"], &copy));
    assert!(out.contains("imported 0, duplicates 3"), "{out}");
    let s = e.stored("support", &mbox).await;
    assert_eq!((s.convs.len(), s.messages().len()), (3, 3));
}

#[tokio::test]
async fn maildir_threads_replies_and_quarantines_broken_and_large_files() {
    let e = env();
    let md = e.path("Maildir");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(d)).unwrap();
    }
    let parent = mail(
        "Eva <eva@example.com>",
        "Devolución",
        "parent@example.com",
        "",
        "Quiero devolver el pedido.",
    );
    let reply = mail(
        "Eva <eva@example.com>",
        "Re: Devolución",
        "reply@example.com",
        "In-Reply-To: <parent@example.com>\nReferences: <parent@example.com>\n",
        "¿Alguna novedad?",
    );
    let other = mail(
        "Max <max@example.org>",
        "Hello",
        "other@example.org",
        "",
        "A question.",
    );
    // Sorted by unique name across cur/ and new/: parent, reply, broken, other.
    std::fs::write(md.join("new/1000.a.host"), parent).unwrap();
    std::fs::write(md.join("cur/1001.b.host:2,S"), reply).unwrap();
    let garbage: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(md.join("cur/1002.c.host:2,"), &garbage).unwrap();
    std::fs::write(md.join("new/1003.d.host"), other).unwrap();
    std::fs::write(md.join("tmp/0999.z.host"), "not delivered yet").unwrap();

    let out = ok(&e.import(&["maildir"], &md));
    assert!(
        out.contains("imported 3, duplicates 0, quarantined 1, bounces 0"),
        "{out}"
    );
    let s = e.stored("support", &md).await;
    assert_eq!(s.cursor, MailCursor::Import { done: 4 });
    assert_eq!(
        s.convs.len(),
        2,
        "the reply joined its parent's conversation"
    );
    let (conv, msgs) = s
        .convs
        .iter()
        .find(|(c, _)| c.subject.as_deref() == Some("Devolución"))
        .expect("the parent's conversation");
    assert_eq!(msgs.len(), 2, "{conv:?}");
    assert!(msgs[1].text.contains("¿Alguna novedad?"));
    assert_eq!(s.quarantine.len(), 1);
    assert!(s.quarantine[0].source.contains("1002.c.host"));
    assert_eq!(s.quarantine[0].raw.as_deref(), Some(&garbage[..]));

    // A folder of plain message files, into the channel with a 4 KiB limit:
    // the large one is quarantined without being read.
    let flat = e.path("flat");
    std::fs::create_dir(&flat).unwrap();
    let big = mail(
        "Big <big@example.com>",
        "Photos",
        "big@example.com",
        "",
        &"x".repeat(10_000),
    );
    std::fs::write(flat.join("a.eml"), &big).unwrap();
    std::fs::write(
        flat.join("b.eml"),
        mail("Sol <sol@example.com>", "Hi", "sol@example.com", "", "Hi"),
    )
    .unwrap();
    let out = ok(&e.import(&["maildir", "--channel", "ventas"], &flat));
    assert!(
        out.contains("imported 1, duplicates 0, quarantined 1"),
        "{out}"
    );
    let s = e.stored("ventas", &flat).await;
    let q = s
        .quarantine
        .iter()
        .find(|q| q.channel == "ventas")
        .expect("quarantined");
    assert!(q.reason.contains("too large"), "{}", q.reason);
    assert_eq!((q.raw.is_none(), q.size), (true, big.len() as u64));
}

#[tokio::test]
async fn resumes_after_an_interruption_and_holds_before_unreadable_files() {
    let e = env();
    let md = e.path("md");
    std::fs::create_dir_all(md.join("cur")).unwrap();
    for i in 0..5 {
        let m = mail(
            &format!("C{i} <c{i}@example.com>"),
            &format!("Asunto {i}"),
            &format!("m{i}@example.com"),
            "",
            "texto",
        );
        std::fs::write(md.join(format!("cur/{i}.x:2,S")), m).unwrap();
    }
    // Interrupted after the first batch of two (in-process, like Ctrl-C).
    {
        let mut cfg = e.config();
        cfg.channel.email[0].acknowledge = false;
        let app = App::open(cfg, Arc::new(SystemClock)).unwrap();
        let mut opts = imp::ImportOptions::new("support");
        opts.batch = 2;
        opts.stop = Some(Arc::new(AtomicBool::new(true)));
        let r = imp::import(app.clone(), SourceKind::Maildir, &md, &opts)
            .await
            .unwrap();
        assert!(r.interrupted);
        assert_eq!((r.imported, r.done), (2, 2));
        app.store.shutdown().await;
    }
    // The CLI continues where it stopped.
    let out = ok(&e.import(&["maildir"], &md));
    assert!(out.contains("skipped 2"), "{out}");
    assert!(out.contains("imported 3, duplicates 0"), "{out}");

    // A grown source: only the new items are read. One of them cannot be read:
    // reported, exit 1, and the position stays before it.
    std::fs::write(
        md.join("cur/5.x:2,S"),
        mail("C5 <c5@example.com>", "Asunto 5", "m5@example.com", "", "t"),
    )
    .unwrap();
    std::os::unix::fs::symlink(e.path("nowhere"), md.join("cur/6.x:2,S")).unwrap();
    std::fs::write(
        md.join("cur/7.x:2,S"),
        mail("C7 <c7@example.com>", "Asunto 7", "m7@example.com", "", "t"),
    )
    .unwrap();
    let o = e.import(&["maildir"], &md);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("skipped 5"), "{out}");
    assert!(
        out.contains("imported 2, duplicates 0, quarantined 0, bounces 0, unreadable 1"),
        "{out}"
    );
    assert!(
        err.contains("6.x:2,S") && err.contains("could not be read"),
        "{err}"
    );
    assert_eq!(
        e.stored("support", &md).await.cursor,
        MailCursor::Import { done: 6 }
    );
    // Fixed: the retry reads it, and what follows comes back as a duplicate.
    std::fs::remove_file(md.join("cur/6.x:2,S")).unwrap();
    std::fs::write(
        md.join("cur/6.x:2,S"),
        mail("C6 <c6@example.com>", "Asunto 6", "m6@example.com", "", "t"),
    )
    .unwrap();
    let out = ok(&e.import(&["maildir"], &md));
    assert!(out.contains("skipped 6"), "{out}");
    assert!(out.contains("imported 1, duplicates 1"), "{out}");
    let s = e.stored("support", &md).await;
    assert_eq!(s.cursor, MailCursor::Import { done: 8 });
    assert_eq!(s.messages().len(), 8);
}

#[tokio::test]
async fn bad_channel_wrong_source_or_locked_store_exit_2_without_writing() {
    let e = env();
    let mbox = e.path("h.mbox");
    std::fs::write(&mbox, mbox_of_three()).unwrap();
    let o = e.import(&["mbox", "--channel", "nope"], &mbox);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"nope\"") && err.contains("\"support\"") && err.contains("\"ventas\""),
        "{err}"
    );
    let o = e.import(&["maildir"], &mbox);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("import mbox"), "{}", text(&o).1);
    let o = e.import(&["mbox"], &e.path("missing.mbox"));
    assert_eq!(o.status.code(), Some(2));
    assert!(!e.data.exists(), "nothing written");

    // No email channel at all.
    let bare = e.path("bare.toml");
    std::fs::write(&bare, "[business]\nname = \"Tienda\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["import", "mbox"])
        .arg(&mbox)
        .arg("--config")
        .arg(&bare)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("[[channel.email]]"), "{}", text(&o).1);

    // The store is in use (a running server): the usual clear error.
    let app = e.open();
    let o = e.import(&["mbox"], &mbox);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another atalaya process"), "{err}");
    app.store.shutdown().await;
}
