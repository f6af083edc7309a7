//! A TCP proxy on a free 127.0.0.1 port in front of a local target port that
//! cuts connections: each connection is closed (both sides) once it has
//! forwarded `drop_after` bytes from the server to the client. It runs on its
//! own thread with its own tokio runtime, so it works from plain `#[test]`s and
//! from `#[tokio::test]`s alike.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// `drop_after` value meaning "never cut".
const NEVER: usize = usize::MAX;

struct Shared {
    target: AtomicUsize,
    drop_after: AtomicUsize,
    connections: AtomicUsize,
    cuts: AtomicUsize,
    /// Bumped by [`FlakyProxy::cut_all`]; every live connection watches it.
    generation: watch::Sender<u64>,
}

/// A running proxy. Dropping it stops it and closes every connection.
pub struct FlakyProxy {
    port: u16,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FlakyProxy {
    /// Proxy `127.0.0.1:PORT` -> `127.0.0.1:target_port`. With
    /// `Some(n)`, every connection is cut after `n` bytes server -> client
    /// (`Some(0)`: right after the upstream connection is made); `None` only
    /// forwards. The proxy listens when this returns.
    pub fn start(target_port: u16, drop_after_bytes: Option<usize>) -> FlakyProxy {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind the proxy on 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("make the proxy listener non-blocking");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            target: AtomicUsize::new(target_port as usize),
            drop_after: AtomicUsize::new(drop_after_bytes.unwrap_or(NEVER)),
            connections: AtomicUsize::new(0),
            cuts: AtomicUsize::new(0),
            generation: watch::Sender::new(0),
        });
        let (shutdown, stop) = oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("flaky-proxy-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the proxy runtime");
                runtime.block_on(serve(listener, thread_shared, stop));
                // Dropping the runtime cancels the connection tasks: sockets close.
            })
            .expect("spawn the proxy thread");
        FlakyProxy {
            port,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Change the cut threshold; applies at once, also to open connections
    /// (counting what each already forwarded; one that is past the new limit
    /// is cut when the server next sends something).
    pub fn set_drop_after(&self, bytes: Option<usize>) {
        self.shared
            .drop_after
            .store(bytes.unwrap_or(NEVER), Ordering::SeqCst);
    }

    /// Point new connections at another target port.
    pub fn set_target(&self, target_port: u16) {
        self.shared
            .target
            .store(target_port as usize, Ordering::SeqCst);
    }

    /// Close every open connection now (a network blip).
    pub fn cut_all(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// How many client connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// How many connections the proxy cut (byte limit or [`FlakyProxy::cut_all`]).
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: StdListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let listener = TcpListener::from_std(listener).expect("register the proxy listener");
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(client, shared.clone()));
            }
        }
    }
}

enum Down {
    /// The server closed its side.
    Eof,
    /// The byte limit was reached.
    Cut,
}

async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let mut cut_signal = shared.generation.subscribe();
    let target = shared.target.load(Ordering::SeqCst) as u16;
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
        // Target down: the client sees its connection closed.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();

    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let mut forwarded = 0usize;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let limit = shared.drop_after.load(Ordering::SeqCst);
            let room = limit.saturating_sub(forwarded);
            if room == 0 {
                return Down::Cut;
            }
            let want = room.min(buf.len());
            let n = match server_read.read(&mut buf[..want]).await {
                Ok(0) | Err(_) => {
                    let _ = client_write.shutdown().await;
                    return Down::Eof;
                }
                Ok(n) => n,
            };
            // The limit may have been lowered while the read was pending.
            let limit = shared.drop_after.load(Ordering::SeqCst);
            let n = n.min(limit.saturating_sub(forwarded));
            if client_write.write_all(&buf[..n]).await.is_err() {
                return Down::Eof;
            }
            forwarded += n;
        }
    };
    tokio::pin!(up, down);
    let (mut up_done, mut down_done, mut watching) = (false, false, true);
    let cut = loop {
        tokio::select! {
            _ = &mut up, if !up_done => up_done = true,
            result = &mut down, if !down_done => match result {
                Down::Cut => break true,
                Down::Eof => down_done = true,
            },
            changed = cut_signal.changed(), if watching => {
                if changed.is_ok() {
                    break true;
                }
                watching = false;
            }
        }
        if up_done && down_done {
            break false;
        }
    };
    if cut {
        shared.cuts.fetch_add(1, Ordering::SeqCst);
    }
    // Returning drops all four halves: both sockets close.
}
