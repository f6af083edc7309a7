//! A private Dovecot 2.3 instance (Debian `dovecot-imapd`) for the email
//! channel tests: plain IMAP (with STARTTLS) and implicit-TLS IMAPS on free
//! 127.0.0.1 ports, one passwd-file user, Maildir storage in a temporary
//! directory.
//!
//! Dovecot daemonizes: the launcher's output goes to `dovecot.stderr` in the
//! temporary directory (never a pipe), the server logs to `dovecot.log`. The
//! master runs in its own session, so the whole instance is one process group.
//! `doveadm` helpers need the instance to be running (user lookups go through
//! its auth service).

use super::{
    TestCerts, free_ports, group_members, log_tail, lookup_id, poll_until, port_is_free,
    process_gone, send_signal, write_test_certs,
};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The only mail user.
pub const USER: &str = "support@example.test";
/// Its password (also accepted over plain IMAP without STARTTLS).
pub const PASSWORD: &str = "secret123";

pub const DOVECOT: &str = "/usr/sbin/dovecot";
pub const DOVEADM: &str = "/usr/bin/doveadm";
pub const DOVECOT_LDA: &str = "/usr/lib/dovecot/dovecot-lda";

const READY_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or stopped) private Dovecot. Dropping it kills the instance.
pub struct Dovecot {
    dir: tempfile::TempDir,
    conf: PathBuf,
    log: PathBuf,
    launcher_log: PathBuf,
    port: u16,
    tls_port: u16,
    certs: TestCerts,
    /// The master's pid (also its process group id) while running.
    master: Option<u32>,
    /// `nobody:nogroup`, who owns the mail.
    mail_owner: (u32, u32),
    /// Last microsecond timestamp used for a bulk-delivered file name.
    bulk_clock: AtomicU64,
    bulk_seq: AtomicU64,
}

impl Dovecot {
    /// Start a fresh instance on free ports and wait until it greets on the
    /// plain port and accepts on the TLS port. Panics (with the log) on failure.
    pub fn start() -> Dovecot {
        require_dovecot();
        let dir = tempfile::Builder::new()
            .prefix("atalaya-dovecot-")
            .tempdir()
            .expect("create a temporary directory for dovecot");
        // Dovecot's auth process runs as `dovecot` and must reach the users file.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 the dovecot directory");
        let certs = write_test_certs(dir.path());
        std::fs::write(
            dir.path().join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}\n"),
        )
        .expect("write the dovecot users file");
        let mail_owner = (
            lookup_id("/etc/passwd", "nobody", 65534),
            lookup_id("/etc/group", "nogroup", 65534),
        );
        let mut dovecot = Dovecot {
            conf: dir.path().join("dovecot.conf"),
            log: dir.path().join("dovecot.log"),
            launcher_log: dir.path().join("dovecot.stderr"),
            dir,
            port: 0,
            tls_port: 0,
            certs,
            master: None,
            mail_owner,
            bulk_clock: AtomicU64::new(0),
            bulk_seq: AtomicU64::new(0),
        };
        dovecot.make_mail_dirs();

        // A probed port can be taken by someone else before dovecot binds it:
        // retry with new ports a few times.
        let mut last_error = String::new();
        for _ in 0..5 {
            let [port, tls_port] = free_ports::<2>();
            dovecot.port = port;
            dovecot.tls_port = tls_port;
            dovecot.write_config();
            match dovecot.spawn_master() {
                Ok(()) => {
                    dovecot.wait_ready();
                    return dovecot;
                }
                Err(e) if e.contains("Address already in use") => last_error = e,
                Err(e) => panic!("dovecot did not start: {e}\n{}", dovecot.diagnostics()),
            }
        }
        panic!(
            "dovecot did not start (ports in use): {last_error}\n{}",
            dovecot.diagnostics()
        );
    }

    /// The plain IMAP port (STARTTLS offered, not required).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The implicit-TLS IMAPS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    pub fn user(&self) -> &'static str {
        USER
    }

    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The test CA certificate that signed the server certificate (PEM).
    pub fn ca_pem_path(&self) -> PathBuf {
        self.certs.ca_pem.clone()
    }

    /// The temporary directory (config, log, `mail/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// The user's Maildir (INBOX itself; other folders are `.NAME` inside).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER).join("Maildir")
    }

    pub fn is_running(&self) -> bool {
        self.master.is_some_and(|pid| !process_gone(pid))
    }

    /// Everything dovecot logged so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Deliver one message to INBOX through `dovecot-lda`, as an MTA would:
    /// it gets the next UID and IMAP clients in IDLE are notified.
    pub fn deliver(&self, raw: &[u8]) {
        self.lda(None, raw);
    }

    /// Deliver one message into `folder` through `dovecot-lda -m` (the folder
    /// is created if missing).
    pub fn deliver_into(&self, folder: &str, raw: &[u8]) {
        self.lda(Some(folder), raw);
    }

    /// Put many messages into INBOX at once by writing them straight into
    /// `Maildir/new` (owned by `nobody:nogroup`, unique maildir names whose
    /// timestamps increase in slice order, so UIDs follow the slice order).
    /// When the instance runs, a STATUS afterwards makes dovecot assign their
    /// UIDs at once (otherwise they are picked up at its next sync).
    pub fn deliver_bulk(&self, mails: &[Vec<u8>]) {
        let maildir = self.maildir();
        let tmp = maildir.join("tmp");
        let new = maildir.join("new");
        let (uid, gid) = self.mail_owner;
        let pid = std::process::id();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_micros() as u64;
        // Reserve a block of strictly increasing microsecond stamps.
        let count = mails.len() as u64;
        let mut start = 0;
        self.bulk_clock
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                start = now_us.max(last + 1);
                Some(start + count)
            })
            .expect("reserve bulk timestamps");
        let first_seq = self.bulk_seq.fetch_add(count, Ordering::SeqCst);
        let names: Vec<String> = mails
            .iter()
            .enumerate()
            .map(|(i, mail)| {
                let us = start + i as u64;
                format!(
                    "{}.M{}P{pid}Q{}.atalaya-test,S={}",
                    us / 1_000_000,
                    us % 1_000_000,
                    first_seq + i as u64,
                    mail.len()
                )
            })
            .collect();
        // Write into tmp/ from a few threads (file creation dominates, and a
        // busy machine gives each thread its share), then move into new/ in
        // slice order, so a sync in between never sees a later message first.
        let chunk = mails.len().div_ceil(4).max(1);
        std::thread::scope(|scope| {
            for (mails, names) in mails.chunks(chunk).zip(names.chunks(chunk)) {
                let tmp = &tmp;
                scope.spawn(move || {
                    for (mail, name) in mails.iter().zip(names) {
                        let path = tmp.join(name);
                        let mut file = OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(0o600)
                            .open(&path)
                            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
                        file.write_all(mail)
                            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
                            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
                    }
                });
            }
        });
        for name in &names {
            std::fs::rename(tmp.join(name), new.join(name))
                .unwrap_or_else(|e| panic!("move {name} into Maildir/new: {e}"));
        }
        // Let dovecot assign the UIDs now, so a later dovecot-lda delivery
        // comes after these messages (as with one delivery after another).
        if self.is_running() {
            self.message_count("INBOX");
        }
    }

    /// Stop the instance gracefully (SIGTERM to the master, as `doveadm stop`
    /// does: clients get `* BYE`, processes finish) and wait until both ports
    /// are free. The data stays; [`Dovecot::start_again`] brings it back on
    /// the same ports.
    pub fn stop(&mut self) {
        let Some(pid) = self.master.take() else {
            return;
        };
        send_signal("TERM", &pid.to_string());
        // Once every other process has exited, the master stops its log
        // process and sleeps a fixed second before exiting: skip that wait.
        poll_until(STOP_TIMEOUT, || {
            process_gone(pid)
                || group_members(pid)
                    .iter()
                    .all(|(p, comm)| *p == pid || comm == "log")
        });
        send_signal("KILL", &format!("-{pid}"));
        poll_until(STOP_TIMEOUT, || process_gone(pid));
        self.wait_ports_free();
    }

    /// Kill the whole instance with SIGKILL (a crash, no goodbye to clients),
    /// and wait until both ports are free.
    pub fn kill(&mut self) {
        let Some(pid) = self.master.take() else {
            return;
        };
        send_signal("KILL", &format!("-{pid}"));
        poll_until(STOP_TIMEOUT, || process_gone(pid));
        self.wait_ports_free();
    }

    /// Start again after [`Dovecot::stop`] or [`Dovecot::kill`]: same ports,
    /// same config, same mail (a server restart).
    pub fn start_again(&mut self) {
        assert!(!self.is_running(), "start_again: dovecot is still running");
        if let Err(e) = self.spawn_master() {
            panic!("dovecot did not start again: {e}\n{}", self.diagnostics());
        }
        self.wait_ready();
    }

    /// Stop, forget INBOX's UIDVALIDITY and UIDs (its `dovecot-uidlist` and
    /// index files), start again, and return the new UIDVALIDITY, which is
    /// checked to differ from the old one. The messages stay, with new UIDs.
    pub fn reset_uidvalidity(&mut self) -> u32 {
        self.reset_uidvalidity_of("INBOX")
    }

    /// [`Dovecot::reset_uidvalidity`] for any folder.
    pub fn reset_uidvalidity_of(&mut self, folder: &str) -> u32 {
        let old = self.uidvalidity_of(folder);
        let folder_dir = self.folder_dir(folder);
        let root = self.maildir();
        for attempt in 0..3 {
            self.stop();
            // Keeping the list-wide `dovecot-uidvalidity` counter makes dovecot
            // hand out a value above every one it gave before; only when that
            // did not work, drop the counter too (then the value is the clock,
            // so wait for the next second).
            remove_files(&folder_dir, |name| {
                name == "dovecot-uidlist" || name.starts_with("dovecot.index")
            });
            remove_files(&root, |name| name.starts_with("dovecot.list.index"));
            if attempt > 0 {
                remove_files(&root, |name| name.starts_with("dovecot-uidvalidity"));
                std::thread::sleep(Duration::from_millis(1100));
            }
            self.start_again();
            let new = self.uidvalidity_of(folder);
            if new != old {
                return new;
            }
        }
        panic!(
            "the UIDVALIDITY of {folder} stayed {old} after three resets\n{}",
            self.diagnostics()
        );
    }

    /// INBOX's UIDVALIDITY.
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity_of("INBOX")
    }

    pub fn uidvalidity_of(&self, folder: &str) -> u32 {
        let v = self.status_field(folder, "uidvalidity");
        v.parse()
            .unwrap_or_else(|e| panic!("uidvalidity {v:?} of {folder}: {e}"))
    }

    /// The UIDNEXT of `folder`.
    pub fn uidnext(&self, folder: &str) -> u32 {
        let v = self.status_field(folder, "uidnext");
        v.parse()
            .unwrap_or_else(|e| panic!("uidnext {v:?} of {folder}: {e}"))
    }

    /// How many messages `folder` holds (including ones marked \Deleted).
    pub fn message_count(&self, folder: &str) -> usize {
        let v = self.status_field(folder, "messages");
        v.parse()
            .unwrap_or_else(|e| panic!("message count {v:?} of {folder}: {e}"))
    }

    /// How many messages of `folder` carry \Seen.
    pub fn seen_count(&self, folder: &str) -> usize {
        self.search_count(folder, &["SEEN"])
    }

    /// How many messages of `folder` match a doveadm search query, e.g.
    /// `&["DELETED"]`, `&["FLAGGED"]`, `&["KEYWORD", "$Answered"]`,
    /// `&["HEADER", "Subject", "hello"]`.
    pub fn search_count(&self, folder: &str, query: &[&str]) -> usize {
        let mut args = vec!["search", "-u", USER, "mailbox", folder];
        args.extend_from_slice(query);
        self.doveadm(&args)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }

    /// `(uid, flags)` of every message in `folder`, by UID; flags as IMAP
    /// spells them (`\Seen`, `\Recent`, keywords...).
    pub fn flags(&self, folder: &str) -> Vec<(u32, Vec<String>)> {
        self.fetch_tab(folder, "uid flags")
            .into_iter()
            .map(|row| {
                let uid = row[0].parse().expect("uid from doveadm fetch");
                let flags = row
                    .get(1)
                    .map(|f| f.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                (uid, flags)
            })
            .collect()
    }

    /// `(uid, subject)` of every message in `folder`, by UID.
    pub fn subjects(&self, folder: &str) -> Vec<(u32, String)> {
        self.fetch_tab(folder, "uid hdr.subject")
            .into_iter()
            .map(|row| {
                let uid = row[0].parse().expect("uid from doveadm fetch");
                (uid, row.get(1).cloned().unwrap_or_default())
            })
            .collect()
    }

    /// The full text of every message in `folder`, by UID. doveadm turns CRLF
    /// line endings into LF.
    pub fn message_texts(&self, folder: &str) -> Vec<String> {
        let out = self.doveadm(&["fetch", "-u", USER, "uid text", "mailbox", folder, "ALL"]);
        // The "pager" formatter: "uid: N\ntext:\n<message>" per message,
        // separated by a form feed line.
        out.split("\x0c\n")
            .filter(|chunk| !chunk.is_empty())
            .map(|chunk| {
                let body = chunk.split_once("\ntext:\n").map_or(chunk, |(_, b)| b);
                body.to_string()
            })
            .collect()
    }

    /// Add flags (space-separated, e.g. `"\\Seen \\Flagged"`) to one message.
    pub fn add_flags(&self, folder: &str, uid: u32, flags: &str) {
        let uid = uid.to_string();
        self.doveadm(&[
            "flags", "add", "-u", USER, flags, "mailbox", folder, "uid", &uid,
        ]);
    }

    /// Remove flags from one message.
    pub fn remove_flags(&self, folder: &str, uid: u32, flags: &str) {
        let uid = uid.to_string();
        self.doveadm(&[
            "flags", "remove", "-u", USER, flags, "mailbox", folder, "uid", &uid,
        ]);
    }

    /// Expunge one message (as another IMAP client deleting it would).
    pub fn expunge(&self, folder: &str, uid: u32) {
        let uid = uid.to_string();
        self.doveadm(&["expunge", "-u", USER, "mailbox", folder, "uid", &uid]);
    }

    /// Create (and subscribe) a folder. The hierarchy separator is `.`;
    /// `Sent`, `Drafts`, `Junk` and `Trash` get their SPECIAL-USE flags.
    pub fn create_folder(&self, name: &str) {
        self.doveadm(&["mailbox", "create", "-s", "-u", USER, name]);
    }

    /// Every folder of the user, as doveadm lists them.
    pub fn folders(&self) -> Vec<String> {
        self.doveadm(&["mailbox", "list", "-u", USER])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Run `doveadm -c CONF ARGS...` and return its stdout; panics with the
    /// output and the log when it fails.
    pub fn doveadm(&self, args: &[&str]) -> String {
        self.try_doveadm(args).unwrap_or_else(|e| {
            panic!(
                "doveadm {} failed: {e}\n{}",
                args.join(" "),
                self.diagnostics()
            )
        })
    }

    /// Like [`Dovecot::doveadm`], but returns the failure (exit status and
    /// stderr) instead of panicking.
    pub fn try_doveadm(&self, args: &[&str]) -> Result<String, String> {
        assert!(
            self.is_running(),
            "doveadm needs a running dovecot (user lookups go through its auth service)"
        );
        let out = Command::new(DOVEADM)
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run {DOVEADM}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    fn status_field(&self, folder: &str, field: &str) -> String {
        let out = self.doveadm(&["-f", "tab", "mailbox", "status", "-u", USER, field, folder]);
        let mut lines = out.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let values: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        header
            .iter()
            .position(|h| *h == field)
            .and_then(|i| values.get(i))
            .map(|v| v.to_string())
            .unwrap_or_else(|| panic!("no {field} in doveadm mailbox status output: {out:?}"))
    }

    /// Rows (without the header) of `doveadm -f tab fetch FIELDS mailbox FOLDER ALL`.
    fn fetch_tab(&self, folder: &str, fields: &str) -> Vec<Vec<String>> {
        let out = self.doveadm(&[
            "-f", "tab", "fetch", "-u", USER, fields, "mailbox", folder, "ALL",
        ]);
        out.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    fn lda(&self, folder: Option<&str>, raw: &[u8]) {
        let mut cmd = Command::new(DOVECOT_LDA);
        cmd.arg("-c").arg(&self.conf).args(["-d", USER]);
        if let Some(folder) = folder {
            cmd.args(["-m", folder]);
        }
        // dovecot-lda does not daemonize: piping its output is fine.
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {DOVECOT_LDA}: {e}"));
        {
            let mut stdin = child.stdin.take().expect("lda stdin");
            stdin
                .write_all(raw)
                .expect("write the message to dovecot-lda");
        }
        let out = child.wait_with_output().expect("wait for dovecot-lda");
        assert!(
            out.status.success(),
            "dovecot-lda failed ({}): {}{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.diagnostics()
        );
    }

    /// Maildir of a folder: the Maildir itself for INBOX, `.NAME` otherwise
    /// (Maildir++; only plain ASCII names are mapped here).
    fn folder_dir(&self, folder: &str) -> PathBuf {
        if folder.eq_ignore_ascii_case("INBOX") {
            return self.maildir();
        }
        assert!(
            folder.is_ascii() && !folder.contains(['&', '/']),
            "folder_dir: only plain ASCII folder names are supported, not {folder:?}"
        );
        self.maildir().join(format!(".{folder}"))
    }

    /// The user's home and INBOX Maildir, owned by the mail user, so bulk
    /// delivery works before anything else touched the mailbox.
    fn make_mail_dirs(&self) {
        let (uid, gid) = self.mail_owner;
        let mail = self.dir.path().join("mail");
        let home = mail.join(USER);
        let maildir = self.maildir();
        let mut dirs = vec![mail.clone(), home, maildir.clone()];
        dirs.extend(["cur", "new", "tmp"].map(|d| maildir.join(d)));
        for dir in dirs {
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            let mode = if dir == mail { 0o755 } else { 0o700 };
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
        }
    }

    fn write_config(&self) {
        let dir = self.dir.path().display();
        let config = format!(
            r#"# Private Dovecot for Atalaya's integration tests (generated).
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
mail_location = maildir:~/Maildir
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    special_use = \Drafts
  }}
  mailbox Junk {{
    special_use = \Junk
  }}
  mailbox Trash {{
    special_use = \Trash
  }}
  mailbox Sent {{
    special_use = \Sent
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"#,
            cert = self.certs.cert_pem.display(),
            key = self.certs.key_pem.display(),
            uid = self.mail_owner.0,
            gid = self.mail_owner.1,
            port = self.port,
            tls_port = self.tls_port,
        );
        std::fs::write(&self.conf, config).expect("write dovecot.conf");
    }

    /// Run the `dovecot` launcher (it forks the master and exits) and read
    /// the master's pid. Returns the launcher's error output on failure.
    fn spawn_master(&mut self) -> Result<(), String> {
        let pid_file = self.dir.path().join("run").join("master.pid");
        // A stale pid file (after a SIGKILL) would make dovecot refuse to start
        // if that pid got reused.
        let _ = std::fs::remove_file(&pid_file);
        std::fs::write(&self.launcher_log, b"").expect("truncate dovecot.stderr");
        let out = OpenOptions::new()
            .append(true)
            .open(&self.launcher_log)
            .expect("open dovecot.stderr");
        let err: File = out.try_clone().expect("clone the dovecot.stderr handle");
        let status = Command::new(DOVECOT)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| format!("run {DOVECOT}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "{DOVECOT} exited with {status}: {}",
                std::fs::read_to_string(&self.launcher_log).unwrap_or_default()
            ));
        }
        let mut pid = None;
        poll_until(Duration::from_secs(5), || {
            pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
            pid.is_some()
        });
        match pid {
            Some(pid) => {
                self.master = Some(pid);
                Ok(())
            }
            None => Err(format!("no {} after start", pid_file.display())),
        }
    }

    /// Wait until the plain port greets with `* OK` and the TLS port accepts.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last: String;
        loop {
            if !self.is_running() {
                self.master = None;
                panic!("dovecot exited during startup\n{}", self.diagnostics());
            }
            match greeting(self.port) {
                Ok(line) if line.starts_with("* OK") && super::accepts(self.tls_port) => return,
                Ok(line) => last = format!("greeting {line:?}"),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                panic!(
                    "dovecot did not answer on 127.0.0.1:{} within {READY_TIMEOUT:?} \
                     (last: {last})\n{}",
                    self.port,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_ports_free(&self) {
        let ok = poll_until(STOP_TIMEOUT, || {
            port_is_free(self.port) && port_is_free(self.tls_port)
        });
        assert!(
            ok,
            "ports {} and {} still in use after dovecot stopped",
            self.port, self.tls_port
        );
    }

    /// The launcher output and the end of dovecot.log, for panic messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- dovecot launcher output ---\n{}\n--- dovecot.log (end) ---\n{}",
            std::fs::read_to_string(&self.launcher_log).unwrap_or_default(),
            log_tail(&self.log, 8000)
        )
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(pid) = self.master.take() {
            send_signal("KILL", &format!("-{pid}"));
            poll_until(Duration::from_secs(2), || process_gone(pid));
        }
    }
}

/// Fail, naming the fix, when Dovecot is not installed.
pub fn require_dovecot() {
    for bin in [DOVECOT, DOVEADM, DOVECOT_LDA] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: install Debian's dovecot-imapd (tests/run does it as root)"
        );
    }
}

/// Read the first line a server sends on `127.0.0.1:port`.
fn greeting(port: u16) -> std::io::Result<String> {
    let stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let _ = (&stream).write_all(b"x LOGOUT\r\n");
    Ok(line.trim_end().to_string())
}

/// Remove the files in `dir` whose names match (missing dir: nothing to do).
fn remove_files(dir: &Path, matches: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if matches(&name.to_string_lossy()) && entry.path().is_file() {
            std::fs::remove_file(entry.path())
                .unwrap_or_else(|e| panic!("remove {}: {e}", entry.path().display()));
        }
    }
}
