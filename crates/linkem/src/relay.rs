//! [`Relay`]: accepts on a loopback port and forwards every connection to an upstream address
//! through the paced link.

use parking_lot::Mutex;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{LinkShape, Pacer};

/// Bytes read at once: small enough that pacing is smooth at a few Mbit/s.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction and connection: the relay's queue (64 KiB).
const QUEUE_CHUNKS: usize = 4;

/// The two directions' pacers, shared by every connection (one access link).
#[derive(Debug, Default)]
struct Link {
    up: Mutex<Pacer>,
    down: Mutex<Pacer>,
}

/// A running relay; dropping it (or [`Relay::shutdown`]) stops accepting and closes every
/// connection it relays.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    shape: watch::Sender<LinkShape>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on `listen` (port 0 picks one) and relays to `upstream` through `shape`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        shape: LinkShape,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(shape);
        let link = Arc::new(Link::default());
        let task = tokio::spawn(accept_loop(listener, upstream, rx, link));
        Ok(Self {
            addr,
            shape: tx,
            task,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shape now.
    pub fn shape(&self) -> LinkShape {
        *self.shape.borrow()
    }

    /// Changes the link for every connection, from the next chunk on.
    pub fn set_shape(&self, shape: LinkShape) {
        self.shape.send_replace(shape);
    }

    /// Stops accepting and closes every relayed connection.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shape: watch::Receiver<LinkShape>,
    link: Arc<Link>,
) {
    // Connection tasks live in a set owned by this task, so aborting it closes them all.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay_connection(client, upstream, shape.clone(), link.clone()));
                }
                Err(e) => tracing::warn!("relay accept: {e}"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay_connection(
    client: TcpStream,
    upstream: SocketAddr,
    shape: watch::Receiver<LinkShape>,
    link: Arc<Link>,
) {
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("relay: upstream {upstream} refused: {e}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, shape.clone(), link.clone(), Direction::Up);
    let down = pump(sr, cw, shape, link, Direction::Down);
    // Either side closing ends the connection.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Reads chunks from `from`, stamps each with its delivery time, and writes them to `to` then.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shape: watch::Receiver<LinkShape>,
    link: Arc<Link>,
    dir: Direction,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE_CHUNKS);
    let reader = async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.truncate(n);
            let s = *shape.borrow();
            let (pacer, rate) = match dir {
                Direction::Up => (&link.up, s.up_bytes_per_s),
                Direction::Down => (&link.down, s.down_bytes_per_s),
            };
            let departs = pacer.lock().depart(n, rate, Instant::now());
            if tx.send((departs + s.one_way_delay, buf)).await.is_err() {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
