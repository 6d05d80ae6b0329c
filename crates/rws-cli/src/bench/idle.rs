//! The idle mode: opens many connections, holds them, and reads the
//! server's resident memory before and after.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rws::proto::handshake::ClientHandshake;
use tokio::sync::Semaphore;

use super::procfs::{cpu_seconds, rss_kib};
use super::wire::{open, Tls};
use super::ErrorKind;

/// Handshakes in progress at once while opening.
const CONCURRENT_OPENS: usize = 256;

/// What the idle run found.
pub(super) struct IdleResult {
    pub opened: usize,
    pub opening: Duration,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    /// The server's CPU time while the connections were opened.
    pub server_cpu_s: Option<f64>,
    pub errors: BTreeMap<ErrorKind, u64>,
}

/// Opens `count` connections, `CONCURRENT_OPENS` at a time, holds them
/// for `hold` so that the server settles, and reads its memory.
pub(super) async fn run(
    addr: SocketAddr,
    tls: Option<Tls>,
    handshake: Arc<ClientHandshake>,
    request: Arc<Vec<u8>>,
    count: usize,
    server_pid: Option<u32>,
    hold: Duration,
) -> IdleResult {
    let rss_before_kib = server_pid.and_then(rss_kib);
    let cpu_before = server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    let permits = Arc::new(Semaphore::new(CONCURRENT_OPENS));
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("open semaphore");
        let (handshake, request, tls) = (handshake.clone(), request.clone(), tls.clone());
        tasks.spawn(async move {
            let opened = open(addr, tls.as_ref(), &handshake, &request).await;
            drop(permit);
            opened
        });
    }
    let mut held = Vec::with_capacity(count);
    let mut errors = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("an opening task") {
            Ok(opened) => held.push(opened.stream),
            Err(kind) => *errors.entry(kind).or_default() += 1,
        }
    }
    let opening = began.elapsed();
    let cpu_after = server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    tokio::time::sleep(hold).await;
    let rss_after_kib = server_pid.and_then(rss_kib);
    IdleResult {
        opened: held.len(),
        opening,
        rss_before_kib,
        rss_after_kib,
        server_cpu_s: cpu_before.zip(cpu_after).map(|(a, b)| b - a),
        errors,
    }
}
