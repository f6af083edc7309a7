//! The real binary's command line: config errors, busy port, locked data
//! directory, first admin, user management, SIGTERM.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    c.env_remove("ATALAYA_ADMIN_EMAIL")
        .env_remove("ATALAYA_ADMIN_PASSWORD")
        .env("RUST_LOG", "info");
    c
}

/// Kills the server if a test fails half-way.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = std::io::Read::read_to_string(&mut s, &mut out);
            if out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server on {port} never became healthy");
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("a.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:http\"\n").unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.listen") && err.contains("127.0.0.1:http"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");

    std::fs::write(&cfg, "[[channel.api]]\nname = \"shop\"\ntoken = \"very-secret\"\n[business]\nname = \"Tienda\"\n").unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.contains("Tienda") && dump.contains("********") && !dump.contains("very-secret"),
        "{dump}"
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn busy_port_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let out = bin()
        .args(["serve", "--listen", &addr, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    assert!(!data.exists(), "nothing written");
}

#[test]
fn first_run_admin_locked_data_dir_users_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut guard = Guard(
        bin()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let server = &mut guard.0;
    wait_healthy(port);

    // A second process on the same data directory: one line, exit 2.
    let out = bin()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another atalaya process"), "{err}");
    let other = free_port();
    let out = bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{other}"), "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = server.wait().unwrap();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("admin@localhost with password "), "{err}");

    // Offline user management on the stopped data directory.
    let out = bin()
        .args([
            "user",
            "add",
            "--email",
            "marta@x.test",
            "--name",
            "Marta Ruiz",
            "--role",
            "supervisor",
            "--data",
        ])
        .arg(&data)
        .env("ATALAYA_USER_PASSWORD", "marta-pass-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut add = bin()
        .args(["user", "passwd", "--email", "marta@x.test", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"new-pass-123\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = bin()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("admin@localhost")
            && list.contains("marta@x.test")
            && list.contains("supervisor"),
        "{list}"
    );
    let out = bin()
        .args(["user", "add", "--email", "marta@x.test", "--data"])
        .arg(&data)
        .env("ATALAYA_USER_PASSWORD", "marta-pass-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    let out = bin()
        .args(["user", "add", "--email", "short@x.test", "--data"])
        .arg(&data)
        .env("ATALAYA_USER_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
}
