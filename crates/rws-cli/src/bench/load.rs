//! The load mode: connections that each keep `depth` messages in flight,
//! on one current-thread runtime per thread, all started together.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rws::proto::handshake::ClientHandshake;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use rws::deflate::DeflateParams;

use super::wire::{open, BenchStream, EchoReader, Frames, Opened, Tls};
use super::ErrorKind;

/// Bytes read at a time by each connection: at least this...
const READ_BUFFER: usize = 64 << 10;
/// ...and up to this for large messages (fewer reads per message).
const LARGE_READ_BUFFER: usize = 256 << 10;

/// What every thread is given.
pub(super) struct Plan {
    pub addr: SocketAddr,
    /// wss://: TLS on every connection.
    pub tls: Option<Tls>,
    pub handshake: ClientHandshake,
    pub request: Vec<u8>,
    /// Text messages rather than binary.
    pub text: bool,
    /// The payload size.
    pub size: usize,
    pub depth: usize,
    pub verify: bool,
    pub warmup: Duration,
    pub duration: Duration,
    /// `--messages`: exactly this many on each connection, then stop.
    pub count: Option<u64>,
}

/// What one thread measured.
pub(super) struct ThreadResult {
    /// Echoes received in the measured window.
    pub messages: u64,
    /// Round-trip times in the measured window, in microseconds.
    pub latency: Histogram<u64>,
    /// Connections opened, and how long opening them took.
    pub opened: usize,
    pub opening: Duration,
    pub errors: BTreeMap<ErrorKind, u64>,
    /// What the first connection agreed (permessage-deflate), and the
    /// length of the frame it sends.
    pub deflate: Option<DeflateParams>,
    pub frame_len: Option<usize>,
}

/// Per-thread counters, shared by its connection tasks.
struct Stats {
    measuring: Cell<bool>,
    stopped: Cell<bool>,
    messages: Cell<u64>,
    latency: RefCell<Histogram<u64>>,
    errors: RefCell<BTreeMap<ErrorKind, u64>>,
}

impl Stats {
    fn error(&self, kind: ErrorKind) {
        if !self.stopped.get() {
            *self.errors.borrow_mut().entry(kind).or_default() += 1;
        }
    }
}

/// Runs `connections` connections on this thread: opens them, waits at
/// `start` for every thread (and the caller), then loads them through
/// the warmup and the measured window.
pub(super) fn run_thread(
    plan: Arc<Plan>,
    connections: usize,
    start: Arc<Barrier>,
    progress: Arc<AtomicU64>,
) -> ThreadResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let stats = Rc::new(Stats {
            measuring: Cell::new(false),
            stopped: Cell::new(false),
            messages: Cell::new(0),
            latency: RefCell::new(latency_histogram()),
            errors: RefCell::default(),
        });
        let began = Instant::now();
        let opening: Vec<_> = (0..connections)
            .map(|_| {
                let plan = plan.clone();
                tokio::task::spawn_local(async move {
                    open(plan.addr, plan.tls.as_ref(), &plan.handshake, &plan.request).await
                })
            })
            .collect();
        let mut streams = Vec::with_capacity(connections);
        for task in opening {
            match task.await.expect("an opening task") {
                Ok(opened) => streams.push(opened),
                Err(kind) => stats.error(kind),
            }
        }
        let opening = began.elapsed();
        let opened = streams.len();
        // The frames, encoded once for each outcome of the negotiation
        // (in practice one: every connection asked the same server).
        let mut encoded: Vec<Rc<Frames>> = Vec::new();
        let mut connections = Vec::with_capacity(opened);
        for stream in streams {
            let frames = match encoded.iter().find(|f| f.deflate == stream.deflate) {
                Some(frames) => frames.clone(),
                None => {
                    let frames = Frames::new(plan.text, plan.size, plan.depth, stream.deflate);
                    encoded.push(Rc::new(frames));
                    encoded[encoded.len() - 1].clone()
                }
            };
            connections.push((stream, frames));
        }
        let (deflate, frame_len) = encoded
            .first()
            .map_or((None, None), |f| (f.deflate, Some(f.frame_len)));
        // Every thread is ready: start together.
        start.wait();
        // Counted messages are all measured, from the first.
        stats.measuring.set(plan.count.is_some());
        let mut tasks = Vec::with_capacity(opened);
        for (stream, frames) in connections {
            let task = drive(
                stream,
                frames,
                plan.clone(),
                stats.clone(),
                progress.clone(),
            );
            tasks.push(tokio::task::spawn_local(task));
        }
        if plan.count.is_some() {
            for task in tasks {
                let _ = task.await;
            }
        } else {
            tokio::time::sleep(plan.warmup).await;
            stats.measuring.set(true);
            tokio::time::sleep(plan.duration).await;
        }
        stats.measuring.set(false);
        stats.stopped.set(true);
        let latency = stats.latency.borrow().clone();
        let errors = stats.errors.borrow().clone();
        ThreadResult {
            messages: stats.messages.get(),
            latency,
            opened,
            opening,
            errors,
            deflate,
            frame_len,
        }
    })
}

/// Keeps `depth` messages in flight on one connection until the thread
/// stops (its tasks are dropped with the runtime).
async fn drive(
    opened: Opened,
    frames: Rc<Frames>,
    plan: Arc<Plan>,
    stats: Rc<Stats>,
    progress: Arc<AtomicU64>,
) {
    let Opened {
        stream, leftover, ..
    } = opened;
    let echoes = Echoes {
        sent: RefCell::new(VecDeque::with_capacity(plan.depth)),
        left: Cell::new(plan.count.unwrap_or(u64::MAX)),
        stats: &stats,
        progress: &progress,
    };
    let kind = match stream {
        BenchStream::Plain(tcp) => drive_tcp(tcp, leftover, &frames, &plan, &echoes).await,
        BenchStream::Tls(tls) => drive_tls(*tls, leftover, &frames, &plan, &echoes).await,
    };
    if kind != ErrorKind::Finished {
        stats.error(kind);
    }
}

/// The send times of the messages in flight, and where echoes are counted.
struct Echoes<'a> {
    sent: RefCell<VecDeque<Instant>>,
    /// Messages this connection may still send (`--messages`).
    left: Cell<u64>,
    stats: &'a Stats,
    progress: &'a AtomicU64,
}

impl Echoes<'_> {
    /// How many of `k` more messages may be sent: all, unless `--messages`
    /// runs out. `Err(Finished)` once every message was sent and echoed.
    fn allow(&self, k: usize) -> Result<usize, ErrorKind> {
        let left = self.left.get();
        let k = (k as u64).min(left);
        self.left.set(left - k);
        if k == 0 && left == 0 && self.sent.borrow().is_empty() {
            return Err(ErrorKind::Finished);
        }
        Ok(k as usize)
    }

    /// `k` messages leave now.
    fn sending(&self, k: usize) {
        let now = Instant::now();
        self.sent.borrow_mut().extend(std::iter::repeat_n(now, k));
    }

    /// `done` echoes arrived: their round trips, while measuring.
    fn arrived(&self, done: usize) -> Result<(), ErrorKind> {
        let now = Instant::now();
        let mut sent = self.sent.borrow_mut();
        let measuring = self.stats.measuring.get();
        let mut latency = self.stats.latency.borrow_mut();
        for _ in 0..done {
            let Some(at) = sent.pop_front() else {
                return Err(ErrorKind::Protocol);
            };
            if measuring {
                let micros = now.duration_since(at).as_micros() as u64;
                latency.saturating_record(micros.max(1));
            }
        }
        if measuring {
            self.stats
                .messages
                .set(self.stats.messages.get() + done as u64);
        }
        self.progress.fetch_add(done as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Over TLS: a writer that writes what the reader's echoes freed, through
/// the TLS stream's halves (no `try_write` on TLS).
async fn drive_tls(
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    leftover: Vec<u8>,
    frames: &Frames,
    plan: &Plan,
    echoes: &Echoes<'_>,
) -> ErrorKind {
    let (read, mut write) = tokio::io::split(stream);
    let credits = match echoes.allow(plan.depth) {
        Ok(k) => Cell::new(k),
        Err(kind) => return kind,
    };
    let wake_writer = Notify::new();
    let writer = async {
        loop {
            let k = credits.replace(0);
            if k == 0 {
                wake_writer.notified().await;
                continue;
            }
            echoes.sending(k);
            let bytes = &frames.bytes[..k * frames.frame_len];
            if write.write_all(bytes).await.is_err() || write.flush().await.is_err() {
                return ErrorKind::Io;
            }
        }
    };
    let reader = read_echoes(read, leftover, frames, plan.verify, echoes, |done| {
        credits.set(credits.get() + echoes.allow(done)?);
        wake_writer.notify_one();
        Ok(())
    });
    tokio::select! {
        kind = writer => kind,
        kind = reader => kind,
    }
}

/// Reads echoes until the connection ends (its end, or an error, is the
/// result): each read's completed echoes are counted, then `freed` sends
/// that many messages more.
async fn read_echoes<R: AsyncRead + Unpin>(
    mut read: R,
    leftover: Vec<u8>,
    frames: &Frames,
    verify: bool,
    echoes: &Echoes<'_>,
    freed: impl Fn(usize) -> Result<(), ErrorKind>,
) -> ErrorKind {
    let mut reader = EchoReader::new(frames, verify);
    let size = frames.frame_len.clamp(READ_BUFFER, LARGE_READ_BUFFER);
    let mut buf = vec![0; size];
    let mut first = Some(leftover);
    loop {
        let done = match first.take() {
            Some(leftover) => reader.feed(&leftover),
            None => match read.read(&mut buf).await {
                Ok(0) => Err(ErrorKind::Closed),
                Ok(n) => reader.feed(&buf[..n]),
                Err(_) => Err(ErrorKind::Io),
            },
        };
        match done {
            Ok(0) => {}
            Ok(done) => {
                if let Err(kind) = echoes.arrived(done).and_then(|()| freed(done)) {
                    return kind;
                }
            }
            Err(kind) => return kind,
        }
    }
}

/// Over TCP: the reader writes the next frames itself when the socket
/// takes them, without waking a task per message.
async fn drive_tcp(
    tcp: tokio::net::TcpStream,
    leftover: Vec<u8>,
    frames: &Frames,
    plan: &Plan,
    echoes: &Echoes<'_>,
) -> ErrorKind {
    let (read, write) = tcp.into_split();
    let credits = match echoes.allow(plan.depth) {
        Ok(k) => Cell::new(k),
        Err(kind) => return kind,
    };
    // Bytes of `frames.bytes` still to write: set while the writer task
    // has a write in progress, so that the reader queues behind it.
    let unwritten = Cell::new(0..0);
    let wake_writer = Notify::new();
    // The writer sends the first frames, and whatever the reader could not
    // write at once (a full socket buffer); the reader writes the rest
    // itself, without waking a task per message.
    let writer = async {
        loop {
            let mut range = unwritten.replace(0..0);
            if range.is_empty() {
                let k = credits.replace(0);
                if k == 0 {
                    wake_writer.notified().await;
                    continue;
                }
                echoes.sending(k);
                range = 0..k * frames.frame_len;
            }
            while !range.is_empty() {
                unwritten.set(range.clone());
                if write.writable().await.is_err() {
                    return ErrorKind::Io;
                }
                match write.try_write(&frames.bytes[range.clone()]) {
                    Ok(n) => range.start += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return ErrorKind::Io,
                }
            }
            unwritten.set(0..0);
        }
    };
    // Writes `k` frames now if the writer is idle and the socket takes
    // them; else leaves them to the writer.
    let send_now = |k: usize| -> Result<(), ErrorKind> {
        let k = echoes.allow(k)?;
        if k == 0 {
            return Ok(());
        }
        let left = unwritten.replace(0..0);
        let behind = !left.is_empty() || credits.get() > 0;
        unwritten.set(left);
        // The writer is writing, or has not yet taken what it was given:
        // these frames go after, through it.
        if behind {
            credits.set(credits.get() + k);
            wake_writer.notify_one();
            return Ok(());
        }
        echoes.sending(k);
        let total = k * frames.frame_len;
        let written = match write.try_write(&frames.bytes[..total]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(_) => return Err(ErrorKind::Io),
        };
        if written < total {
            unwritten.set(written..total);
            wake_writer.notify_one();
        }
        Ok(())
    };
    let reader = read_echoes(read, leftover, frames, plan.verify, echoes, send_now);
    tokio::select! {
        kind = writer => kind,
        kind = reader => kind,
    }
}

/// A histogram of round trips from 1 µs to 100 s at 3 significant digits,
/// fixed so that recording never allocates (values above are clamped).
pub(super) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds")
}
