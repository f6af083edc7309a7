//! The command line: serve | check-config | user | import | reindex | bench.

use crate::app::{App, auth};
use crate::config::{Config, Overrides};
use crate::domain::{Role, SystemClock};
use crate::store::{Store, StoreError};
use crate::workers;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "atalaya",
    version,
    about = "Every customer channel in one shared inbox"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "ATALAYA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (default ./atalaya-data).
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, global = true)]
    pub listen: Option<String>,
}

/// `atalaya serve`: the configuration, and demo mode.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Demo mode: replay a stream of customer messages from built-in fake
    /// Telegram, Mastodon, X and Facebook servers through the real
    /// connectors, on a fresh temporary data directory (deleted on exit; the
    /// configured data directory and channels are not used). No credentials
    /// needed.
    #[arg(long)]
    pub demo: bool,
    /// Demo mode: time between two new messages after the first burst.
    #[arg(long, env = "ATALAYA_DEMO_INTERVAL", default_value = "6s", value_parser = parse_interval)]
    pub demo_interval: Duration,
    /// Demo mode: messages replayed at once when it starts.
    #[arg(long, env = "ATALAYA_DEMO_BURST", default_value_t = 24)]
    pub demo_burst: usize,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::config::Dur::parse(s)
        .map(|d| d.0)
        .filter(|d| *d >= Duration::from_millis(100))
        .ok_or_else(|| format!("expected {} (at least 100ms)", crate::config::DURATION_HELP))
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the appliance.
    Serve(ServeArgs),
    /// Validate the configuration and print it with secrets masked.
    CheckConfig(ConfigArgs),
    /// Manage staff accounts on a stopped data directory.
    User {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Bring a mailbox's history in (mbox file or Maildir), with the server
    /// stopped. Resumable: run the same command again to continue.
    Import {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Rebuild the full-text search index from the store, with the server
    /// stopped (it is also rebuilt automatically when missing or stale).
    Reindex(ConfigArgs),
    /// Measure performance on a generated corpus.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Create an account; the password is read from stdin (or ATALAYA_USER_PASSWORD).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// admin, supervisor, agent or auditor.
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// Set a new password (read from stdin or ATALAYA_USER_PASSWORD); every
    /// session and token of the account is revoked.
    Passwd {
        #[arg(long)]
        email: String,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
pub enum ImportWhat {
    /// An mbox file (mboxo or mboxrd), read as a stream.
    Mbox {
        /// The mbox file.
        file: PathBuf,
        #[command(flatten)]
        opts: ImportArgs,
    },
    /// A Maildir (its cur/ and new/) or a folder of message files.
    Maildir {
        /// The Maildir folder.
        dir: PathBuf,
        #[command(flatten)]
        opts: ImportArgs,
    },
}

#[derive(clap::Args, Clone, Debug)]
pub struct ImportArgs {
    /// The [[channel.email]] to import into (default: the first configured).
    #[arg(long)]
    pub channel: Option<String>,
    /// Ignore the saved position and read the source from its start; mail
    /// already stored is recognized and skipped as duplicates.
    #[arg(long)]
    pub from_start: bool,
    /// Mails stored per transaction.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
}

#[derive(Subcommand)]
pub enum BenchWhat {
    /// The search index on the corpus: reindex, size, query latency over
    /// HTTP, visibility under ingest, segments, memory; `--pg` compares with
    /// PostgreSQL on the same data.
    Search(crate::bench::search::SearchArgs),
    /// One triage decision (rules + routing) and a rules simulation over a
    /// store of past messages.
    Triage(crate::bench::triage::TriageArgs),
    /// Durable ingest through the writer (fsync on), concurrent producers.
    Ingest(crate::bench::IngestArgs),
    /// Server time of the inbox and conversation pages on a large store.
    Inbox(crate::bench::InboxArgs),
    /// `import maildir` of generated mail, then again (position, dedupe).
    Import(crate::bench::ImportBenchArgs),
    /// Fetch every mail of an IMAP folder into a fresh store (see
    /// `benches/imap-dovecot.sh` for a private Dovecot with N mails).
    Imap(crate::bench::ImapBenchArgs),
    /// The durable scheduler: a million pending jobs stored, how late due
    /// jobs fire, memory while they wait.
    Scheduler(crate::bench::scheduler::SchedulerArgs),
}

/// A failure with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

fn usage(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: 2,
        message: message.to_string(),
    }
}

fn runtime(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: message.to_string(),
    }
}

pub fn load_config(a: &ConfigArgs) -> Result<Config, Failure> {
    let overrides = Overrides {
        listen: a.listen.clone(),
        data: a.data.clone(),
    };
    Config::load(a.config.as_deref(), std::env::vars(), &overrides).map_err(usage)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::CheckConfig(a) => check_config(&a),
        Command::Serve(a) => load_config(&a.cfg).and_then(|cfg| serve_command(cfg, &a)),
        Command::User { cfg, action } => {
            load_config(&cfg).and_then(|c| runtime_block(user(c, action)))
        }
        Command::Import { cfg, what } => {
            load_config(&cfg).and_then(|c| runtime_block(import(c, what)))
        }
        Command::Reindex(a) => load_config(&a).and_then(|c| runtime_block(reindex(c))),
        Command::Bench {
            what: BenchWhat::Search(args),
        } => runtime_block(crate::bench::search::search(args)),
        Command::Bench {
            what: BenchWhat::Ingest(args),
        } => runtime_block(crate::bench::ingest(args)),
        Command::Bench {
            what: BenchWhat::Triage(args),
        } => runtime_block(crate::bench::triage::triage(args)),
        Command::Bench {
            what: BenchWhat::Scheduler(args),
        } => runtime_block(crate::bench::scheduler::scheduler(args)),
        Command::Bench {
            what: BenchWhat::Import(args),
        } => runtime_block(crate::bench::import(args)),
        Command::Bench {
            what: BenchWhat::Imap(args),
        } => runtime_block(crate::bench::imap(args)),
        Command::Bench {
            what: BenchWhat::Inbox(args),
        } => runtime_block(crate::bench::inbox(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("atalaya: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn runtime_block<F: std::future::Future<Output = Result<(), Failure>>>(
    f: F,
) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| runtime(format!("cannot start the runtime: {e}")))?
        .block_on(f)
}

fn check_config(a: &ConfigArgs) -> Result<(), Failure> {
    let cfg = load_config(a)?;
    println!(
        "# effective configuration (secrets masked)\n{}",
        cfg.to_masked_toml()
    );
    for (kind, name) in cfg.pending_channels() {
        eprintln!(
            "note: channel.{kind} {name:?} is accepted but this version cannot connect it yet"
        );
    }
    eprintln!("configuration is valid");
    Ok(())
}

fn init_logs(cfg: &Config) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    // tantivy warns about a merge that finishes after its segments were
    // replaced: harmless, and noisy under steady ingest.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("tantivy"))
        && let Ok(d) = "tantivy::indexer::segment_manager=error".parse()
    {
        filter = filter.add_directive(d);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn store_failure(cfg: &Config, e: StoreError) -> Failure {
    match e {
        StoreError::Locked(_) | StoreError::TooNew { .. } => usage(e),
        e => usage(format!(
            "cannot open the store in {}: {e}",
            cfg.server.data.display()
        )),
    }
}

fn open_app(cfg: Config) -> Result<Arc<App>, Failure> {
    let data = cfg.clone();
    App::open(cfg, Arc::new(SystemClock)).map_err(|e| store_failure(&data, e))
}

/// `serve`, or `serve --demo` on a fresh temporary data directory that is
/// removed when the server stops.
fn serve_command(mut cfg: Config, a: &ServeArgs) -> Result<(), Failure> {
    if !a.demo {
        return runtime_block(serve(cfg, None));
    }
    let dir = tempfile::Builder::new()
        .prefix("atalaya-demo-")
        .tempdir()
        .map_err(|e| {
            usage(format!(
                "demo: cannot create a temporary data directory: {e}"
            ))
        })?;
    crate::web::demo::prepare_config(&mut cfg, dir.path());
    let opts = crate::web::demo::Options {
        burst: a.demo_burst,
        interval: a.demo_interval,
    };
    let result = runtime_block(serve(cfg, Some(opts)));
    // A background thread may still be finishing a file: try for a while.
    let path = dir.keep();
    let mut tries = 0;
    while let Err(e) = std::fs::remove_dir_all(&path) {
        tries += 1;
        if e.kind() == std::io::ErrorKind::NotFound {
            break;
        }
        if tries >= 20 {
            eprintln!(
                "atalaya: demo: could not remove its temporary data directory {}: {e}",
                path.display()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    result
}

async fn serve(cfg: Config, demo: Option<crate::web::demo::Options>) -> Result<(), Failure> {
    init_logs(&cfg);
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| usage(format!("cannot listen on {}: {e}", cfg.server.listen)))?;
    if let Some(tls) = &cfg.server.tls {
        crate::web::server::load_tls(tls).map_err(|e| usage(format!("server.tls: {e}")))?;
    }
    let pending = cfg.pending_channels();
    let app = open_app(cfg)?;
    let (store, cfg) = (app.store.clone(), app.config.clone());
    let admin_email = std::env::var("ATALAYA_ADMIN_EMAIL")
        .ok()
        .filter(|s| !s.is_empty());
    let admin_password = std::env::var("ATALAYA_ADMIN_PASSWORD")
        .ok()
        .filter(|s| !s.is_empty());
    let mut admin_login = None;
    match auth::ensure_first_admin(&store, admin_email, admin_password).await {
        Ok(Some((email, Some(password)))) => {
            eprintln!(
                "created the first admin: {email} with password {password} (shown once; change it)"
            );
            admin_login = Some(format!("{email} with password {password}"));
        }
        Ok(Some((email, None))) => {
            tracing::info!(%email, "created the first admin");
            admin_login = Some(format!("{email} (password from ATALAYA_ADMIN_PASSWORD)"));
        }
        Ok(None) => {}
        Err(e) => return Err(usage(format!("cannot create the first admin: {e}"))),
    }
    for (kind, name) in pending {
        tracing::warn!(
            kind,
            name,
            "channel configured but this version cannot connect it yet"
        );
    }
    let registry = app.workers.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let outbox_app = app.clone();
    let outbox = workers::spawn(
        move || workers::outbox::OutboxWorker::new(outbox_app.clone()),
        registry.clone(),
        stop_rx.clone(),
        Some(app.outbox_wake.clone()),
    );
    if let Err(e) = app.load_mailboxes().await {
        return Err(usage(format!(
            "cannot read the mailboxes added in the admin UI: {e}"
        )));
    }
    // Demo mode: fake networks and their connectors, registered before the
    // social pollers start so that they are polled like any channel.
    let demo_channels = match demo {
        Some(opts) => Some(
            crate::web::demo::start(&app, opts, stop_rx.clone())
                .await
                .map_err(|e| runtime(format!("demo: {e}")))?,
        ),
        None => None,
    };
    let search = app.start_search(stop_rx.clone());
    let triage = app.start_triage(stop_rx.clone());
    let clock = app.start_clock(stop_rx.clone());
    let pollers = crate::channels::email::spawn_pollers(&app, &registry, &stop_rx);
    let social = crate::channels::social::worker::spawn_pollers(&app, &registry, &stop_rx);
    let scheme = if cfg.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(url = %format!("{scheme}://{}/", cfg.server.listen), data = %cfg.server.data.display(), "atalaya is serving");
    if let Some(channels) = demo_channels {
        eprintln!(
            "DEMO MODE: fake networks, no credentials needed; channels {}\n\
             demo data directory: {} (temporary, deleted on exit; your real store is not used)\n\
             open {scheme}://{}/login and sign in as {}",
            channels.join(", "),
            cfg.server.data.display(),
            cfg.server.listen,
            admin_login.as_deref().unwrap_or("the first admin")
        );
    }
    notify_systemd(&store, stop_rx.clone());
    let router = crate::web::router(app.clone());
    let server = tokio::spawn(crate::web::server::serve(
        listener,
        router,
        cfg.server.tls.clone(),
        stop_rx.clone(),
        Duration::from_secs(5),
    ));
    wait_for_signal().await;
    tracing::info!("shutting down: draining requests, finishing the writer's batch");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(6), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), outbox).await;
    let pollers: Vec<_> = pollers
        .lock()
        .map(|mut l| l.drain(..).collect())
        .unwrap_or_default();
    for p in pollers
        .into_iter()
        .chain(social)
        .chain([search, triage])
        .chain(clock)
    {
        let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
    }
    store.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Tell systemd we are ready, and ping its watchdog only while the store
/// accepts writes.
fn notify_systemd(store: &Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let store = store.clone();
    tokio::spawn(async move {
        let every = period / 2;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|v| *v) => return,
            }
            let ok = tokio::time::timeout(Duration::from_secs(2), store.write(|_| Ok(()))).await;
            if matches!(ok, Ok(Ok(()))) && store.healthy() {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            } else {
                tracing::error!("store unhealthy: not pinging the systemd watchdog");
            }
        }
    });
}

fn read_password() -> Result<String, Failure> {
    if let Ok(p) = std::env::var("ATALAYA_USER_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(runtime)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

async fn user(cfg: Config, action: UserAction) -> Result<(), Failure> {
    let store = open_app(cfg)?.store.clone();
    let result = match action {
        UserAction::Add { email, name, role } => {
            let role = Role::parse(&role).ok_or_else(|| {
                usage(format!(
                    "--role {role:?}: use admin, supervisor, agent or auditor"
                ))
            })?;
            let password = read_password()?;
            auth::create_user(&store, &email, &name, role, &password)
                .await
                .map(|u| println!("created {} ({}) as {}", u.email, u.id, u.role.as_str()))
                .map_err(usage)
        }
        UserAction::Passwd { email } => {
            let password = read_password()?;
            auth::set_password(&store, &email, &password)
                .await
                .map(|()| {
                    println!("password changed for {email}; its sessions and tokens are revoked")
                })
                .map_err(usage)
        }
        UserAction::List => {
            let users = store.read(|r| r.users()).await.map_err(runtime)?;
            println!(
                "{:<8} {:<32} {:<11} {:<7} NAME",
                "ID", "EMAIL", "ROLE", "ACTIVE"
            );
            for u in users {
                println!(
                    "{:<8} {:<32} {:<11} {:<7} {}",
                    u.id,
                    u.email,
                    u.role.as_str(),
                    u.active,
                    u.name
                );
            }
            Ok(())
        }
    };
    store.shutdown().await;
    result
}

/// `atalaya import mbox|maildir`: check everything that can be wrong with
/// the command before the store is opened (nothing written), then import.
async fn reindex(cfg: Config) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let app = open_app(cfg)?;
    let dir = app.config.server.data.join("index");
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} conversations  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let store = app.store.clone();
    let t0 = std::time::Instant::now();
    let pb = bar.clone();
    let done = tokio::task::spawn_blocking(move || {
        let progress = |done: u64, total: u64| {
            pb.set_length(total);
            pb.set_position(done);
        };
        let (idx, opened) = crate::index::SearchIndex::open(&dir, store, &progress)?;
        if let crate::index::Opened::Resumed(_) = opened {
            idx.rebuild(&progress)?;
        }
        Ok::<_, crate::index::IndexError>((idx.doc_count(), idx.segment_count(), dir))
    })
    .await
    .map_err(|e| runtime(format!("reindex failed: {e}")))?;
    bar.finish_and_clear();
    let (docs, segments, dir) = done.map_err(|e| runtime(format!("reindex failed: {e}")))?;
    let size: u64 = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "indexed {docs} conversations in {:.1} s ({segments} segments, {:.1} MB on disk)",
        t0.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    app.store.shutdown().await;
    Ok(())
}

async fn import(mut cfg: Config, what: ImportWhat) -> Result<(), Failure> {
    use crate::channels::email::import::{self as imp, ImportError, SourceKind};
    let (kind, path, args) = match what {
        ImportWhat::Mbox { file, opts } => (SourceKind::Mbox, file, opts),
        ImportWhat::Maildir { dir, opts } => (SourceKind::Maildir, dir, opts),
    };
    let channel = imp::pick_channel(&cfg, args.channel.as_deref())
        .map_err(usage)?
        .name
        .clone();
    imp::check_source(kind, &path).map_err(usage)?;
    // History must not trigger acknowledgements to old customers.
    for ch in cfg.channel.email.iter_mut() {
        ch.acknowledge = false;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let app = open_app(cfg)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let signals = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
            eprintln!("stopping after the batch being written (Ctrl-C again to abort)…");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let opts = imp::ImportOptions {
        batch: args.batch as usize,
        from_start: args.from_start,
        progress: true,
        stop: Some(stop),
        ..imp::ImportOptions::new(&channel)
    };
    eprintln!(
        "importing {} {} into email channel {channel:?}…",
        kind.as_str(),
        path.display()
    );
    let result = imp::import(app.clone(), kind, &path, &opts).await;
    signals.abort();
    app.store.shutdown().await;
    let report = match result {
        Ok(r) => r,
        Err(ImportError::Usage(m)) => return Err(usage(m)),
        Err(ImportError::Failed(m)) => return Err(runtime(m)),
    };
    if report.skipped > 0 {
        println!(
            "skipped {} already imported (the saved position; --from-start reads them again)",
            report.skipped
        );
    }
    if report.position_beyond_end {
        eprintln!(
            "note: the saved position ({}) is beyond the {} items the source has now; \
             if it was rewritten, run again with --from-start (duplicates are skipped)",
            report.done, report.items
        );
    }
    println!("{}", report.summary());
    if report.interrupted {
        return Err(Failure {
            code: 130,
            message: format!(
                "interrupted; {} items are stored: run the same command again to continue",
                report.done
            ),
        });
    }
    if !report.errors.is_empty() {
        return Err(runtime(format!(
            "{} item(s) could not be read (listed above); the saved position stops before the \
             first, so running the same command again retries them",
            report.errors.len()
        )));
    }
    Ok(())
}
