//! `rws bench`: a load generator for any ws:// echo endpoint, built so
//! that it is not the bottleneck: one current-thread runtime per thread,
//! frames encoded once and reused, echoes counted from frame headers (no
//! payload copied) unless `--verify`, no allocation per message.
//!
//! Also `--idle N`: memory per idle connection on the server and the
//! handshake rate reached while opening them; and `--rooms N`: the fan-out
//! of `rws serve`'s chat rooms over one or more nodes.

mod fanout;
mod idle;
mod load;
mod procfs;
mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use rws::proto::handshake::ClientHandshake;
use rws::tls::rustls::pki_types::ServerName;
use serde_json::{json, Value};

use crate::tls_args::ClientTlsArgs;
use load::{latency_histogram, Plan, ThreadResult};
use rws::deflate::DeflateParams;

/// Options of `rws bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Latency is the round trip of each message, from the write of its frame to \
the end of its echo. CPU times come from /proc (Linux): with --server-pid, \
the output says which side was saturated (over 90% of one CPU per thread). \
Pin the server and the load generator to different CPUs for honest figures \
(taskset -c 0 SERVER; taskset -c 1 rws bench ...).")]
pub(crate) struct BenchArgs {
    /// The echo endpoint, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH.
    url: String,
    /// Connections, all opened before the load starts.
    #[arg(short = 'c', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Payload size of each message: bytes, or with a suffix (16, 1KiB, 16k, 1MiB).
    #[arg(short = 's', long, default_value = "16", value_parser = parse_size)]
    size: usize,
    /// Messages in flight on each connection.
    #[arg(short = 'd', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    depth: u32,
    /// Seconds measured, after the warmup.
    #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
    duration: f64,
    /// Seconds of load before the measurement starts.
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    warmup: f64,
    /// Instead of a duration: send exactly N messages on each connection,
    /// with no warmup, and end once every echo arrived. The count of
    /// messages is then exact, as instruction counting needs
    /// (bench/instructions.sh).
    #[arg(long, value_name = "N", conflicts_with_all = ["duration", "warmup"],
        value_parser = clap::value_parser!(u64).range(1..))]
    messages: Option<u64>,
    /// Send text messages (their UTF-8 is validated by the server).
    #[arg(long, conflicts_with = "binary")]
    text: bool,
    /// Send binary messages (the default).
    #[arg(long)]
    binary: bool,
    /// Check every echoed byte, opcode and frame against what was sent.
    #[arg(long)]
    verify: bool,
    /// Offer permessage-deflate (no context takeover either way) and send
    /// compressed messages: the server inflates and deflates every one.
    #[arg(long)]
    deflate: bool,
    /// Threads, each with its own runtime and share of the connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The server's process id, to report its CPU time (load) or memory
    /// (idle). With --rooms, may be given again (each node, Redis): their
    /// CPU times are added.
    #[arg(long, value_name = "PID")]
    server_pid: Vec<u32>,
    /// Chat fan-out instead of echo: URL is the chat base of a `rws serve`
    /// (ws://HOST:PORT/chat); the --connections members are spread over N
    /// rooms and over URL and every --node; the first member of each room
    /// sends --size-byte text lines, keeping --depth in flight until every
    /// member of the room has them. Reports lines delivered per second and
    /// the servers' CPU per delivered line.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        conflicts_with_all = ["idle", "messages", "verify", "binary", "text"])]
    rooms: Option<u32>,
    /// With --rooms: another node's chat base, whose members count with
    /// URL's (repeat for each node).
    #[arg(long = "node", value_name = "URL", requires = "rooms")]
    nodes: Vec<String>,
    /// Open N connections and hold them: memory per idle connection (with
    /// --server-pid) and the handshake rate.
    #[arg(long, value_name = "N")]
    idle: Option<u32>,
    /// Seconds to hold idle connections before reading the server's memory.
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    hold: f64,
    /// For wss://: --cacert, --insecure (and a client certificate).
    #[command(flatten)]
    tls: ClientTlsArgs,
}

/// What went wrong on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ErrorKind {
    /// The TCP connection failed (refused; too many open files).
    Connect,
    /// The opening handshake failed.
    Handshake,
    /// The server sent a close frame or ended the connection.
    Closed,
    /// A read or write failed.
    Io,
    /// The server sent what is not a frame, or more echoes than messages.
    Protocol,
    /// `--verify`: an echo differed from what was sent.
    Verify,
    /// `--messages`: every message was sent and echoed (not an error).
    Finished,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Handshake => "handshake",
            ErrorKind::Closed => "closed",
            ErrorKind::Finished => "finished",
            ErrorKind::Io => "io",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Verify => "verify",
        })
    }
}

fn parse_size(arg: &str) -> Result<usize, String> {
    let lower = arg.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &lower[digits.len()..] {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        other => return Err(format!("unknown size unit {other:?} (use B, KiB or MiB)")),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{arg:?} is not a size"))?;
    n.checked_mul(unit)
        .filter(|&size| size <= 1 << 30)
        .ok_or_else(|| format!("{arg:?} is larger than 1 GiB"))
}

fn seconds(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(s) if (0.0..=86_400.0).contains(&s) => Ok(s),
        _ => Err(format!("{arg:?} is not a number of seconds")),
    }
}

fn positive_seconds(arg: &str) -> Result<f64, String> {
    seconds(arg).and_then(|s| {
        if s > 0.0 {
            Ok(s)
        } else {
            Err("the duration must be above 0".into())
        }
    })
}

/// The CPU time of the server processes, added; `None` when none is
/// given (or one is gone).
fn servers_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| procfs::cpu_seconds(Some(pid))).sum()
}

/// Runs the load, idle or fan-out benchmark.
pub(crate) async fn run(args: BenchArgs) -> Result<(), String> {
    if let Some(rooms) = args.rooms {
        let report = tokio::task::spawn_blocking(move || fanout(args, rooms as usize))
            .await
            .map_err(|e| e.to_string())??;
        println!("{report}");
        return Ok(());
    }
    let mut handshake =
        ClientHandshake::new(&args.url, &[]).map_err(|e| format!("{}: {e}", args.url))?;
    if args.deflate {
        handshake = handshake.deflate(&wire::deflate_offer());
    }
    let addr = resolve(handshake.request().uri())?;
    let tls = match handshake.request().uri().scheme_str() {
        Some("wss") => {
            let host = handshake.request().uri().host().unwrap_or_default();
            let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|e| format!("{host:?}: {e}"))?;
            let connector = tokio_rustls::TlsConnector::from(args.tls.config()?);
            Some(wire::Tls { connector, name })
        }
        _ => None,
    };
    let mut request = Vec::new();
    handshake.encode_request(&mut request);
    let report = match args.idle {
        Some(count) => {
            let hold = Duration::from_secs_f64(args.hold);
            let result = idle::run(
                addr,
                tls,
                Arc::new(handshake),
                Arc::new(request),
                count as usize,
                args.server_pid.first().copied(),
                hold,
            )
            .await;
            idle_report(&args, count, &result)
        }
        None => tokio::task::spawn_blocking(move || load(args, addr, tls, handshake, request))
            .await
            .map_err(|e| e.to_string())??,
    };
    println!("{report}");
    Ok(())
}

fn resolve(uri: &rws::http::Uri) -> Result<SocketAddr, String> {
    let host = uri.host().ok_or("the URL has no host")?;
    let host = host.trim_matches(['[', ']']);
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// The fan-out run (`--rooms`) and its report.
fn fanout(args: BenchArgs, rooms: usize) -> Result<String, String> {
    let mut nodes = Vec::new();
    for url in std::iter::once(&args.url).chain(&args.nodes) {
        let base = url.trim_end_matches('/').to_owned();
        if !base.starts_with("ws://") {
            return Err(format!(
                "{url}: --rooms takes ws:// chat bases (ws://HOST:PORT/chat)"
            ));
        }
        let uri: rws::http::Uri = base.parse().map_err(|e| format!("{url}: {e}"))?;
        nodes.push((base, resolve(&uri)?));
    }
    let plan = fanout::FanoutPlan {
        nodes,
        rooms,
        members: args.connections as usize,
        size: args.size,
        depth: args.depth as usize,
        deflate: args.deflate,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
    };
    // The CPU times of this process and of the servers, at the start and
    // the end of the measured window.
    let (mut client, mut server) = (Vec::new(), Vec::new());
    let result = fanout::run(plan, || {
        client.push(procfs::cpu_seconds(None));
        server.push(servers_cpu(&args.server_pid));
    })?;
    let spent = |marks: &[Option<f64>]| match marks {
        [Some(before), Some(after)] => Some(after - before),
        _ => None,
    };
    let (client_cpu, server_cpu) = (spent(&client), spent(&server));
    let seconds = args.duration;
    let per_line = |cpu: Option<f64>| {
        cpu.filter(|_| result.delivered > 0)
            .map(|c| c * 1e6 / result.delivered as f64)
    };
    if args.json {
        return Ok(json!({
            "mode": "fanout",
            "nodes": 1 + args.nodes.len(),
            "rooms": rooms,
            "members": args.connections,
            "opened": result.opened,
            "size": args.size,
            "depth": args.depth,
            "deflate_offered": args.deflate,
            "duration_s": seconds,
            "lines_sent": result.sent,
            "lines_delivered": result.delivered,
            "delivered_per_s": result.delivered as f64 / seconds,
            "sent_per_s": result.sent as f64 / seconds,
            "client_cpu_s": client_cpu,
            "server_cpu_s": server_cpu,
            "server_cpu_us_per_delivered": per_line(server_cpu),
            "errors": errors_json(&result.errors),
        })
        .to_string());
    }
    let mut out = format!(
        "{} members in {rooms} rooms on {} node(s), {} lines, depth {}{}\n\
         delivered: {:.0} lines/s ({:.0} sent/s), {} members open\n",
        args.connections,
        1 + args.nodes.len(),
        size_text(args.size),
        args.depth,
        if args.deflate {
            ", deflate offered"
        } else {
            ""
        },
        result.delivered as f64 / seconds,
        result.sent as f64 / seconds,
        result.opened,
    );
    if let Some(us) = per_line(server_cpu) {
        out.push_str(&format!("server CPU: {us:.2} µs per delivered line\n"));
    }
    out.push_str(&format!("errors: {}", errors_text(&result.errors)));
    Ok(out)
}

/// What the load run measured, all threads together.
struct LoadResult {
    messages: u64,
    latency: Histogram<u64>,
    opened: usize,
    opening: Duration,
    errors: BTreeMap<ErrorKind, u64>,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    /// permessage-deflate as agreed, and the length of the frame sent.
    deflate: Option<DeflateParams>,
    frame_len: Option<usize>,
    /// The measured time: --duration, or how long --messages took.
    seconds: f64,
}

fn load(
    args: BenchArgs,
    addr: SocketAddr,
    tls: Option<wire::Tls>,
    handshake: ClientHandshake,
    request: Vec<u8>,
) -> Result<String, String> {
    let plan = Arc::new(Plan {
        addr,
        tls,
        handshake,
        request,
        text: args.text,
        size: args.size,
        depth: args.depth as usize,
        verify: args.verify,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        count: args.messages,
    });
    let threads = args.threads as usize;
    let start = Arc::new(Barrier::new(threads + 1));
    let progress = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            // Connections shared out as evenly as possible.
            let share = (args.connections as usize + threads - 1 - i) / threads;
            let (plan, start, progress) = (plan.clone(), start.clone(), progress.clone());
            std::thread::spawn(move || load::run_thread(plan, share, start, progress))
        })
        .collect();
    start.wait();
    let show_progress = !args.json && std::io::stderr().is_terminal();
    if plan.count.is_none() {
        watch(plan.warmup, "warmup", show_progress, &progress);
    }
    let (client_before, server_before) = (procfs::cpu_seconds(None), servers_cpu(&args.server_pid));
    let measured = Instant::now();
    let mut handles = handles;
    let mut results = Vec::with_capacity(threads);
    match plan.count {
        None => watch(plan.duration, "measuring", show_progress, &progress),
        // Until every connection got all its echoes.
        Some(_) => {
            for handle in handles.drain(..) {
                results.push(handle.join().map_err(|_| "a load thread panicked")?);
            }
        }
    }
    let seconds = match plan.count {
        None => args.duration,
        Some(_) => measured.elapsed().as_secs_f64(),
    };
    let (client_after, server_after) = (procfs::cpu_seconds(None), servers_cpu(&args.server_pid));
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    let mut total = LoadResult {
        messages: 0,
        latency: latency_histogram(),
        opened: 0,
        opening: Duration::ZERO,
        errors: BTreeMap::new(),
        client_cpu: client_before.zip(client_after).map(|(a, b)| b - a),
        server_cpu: server_before.zip(server_after).map(|(a, b)| b - a),
        deflate: None,
        frame_len: None,
        seconds,
    };
    for handle in handles {
        results.push(handle.join().map_err(|_| "a load thread panicked")?);
    }
    for r in results {
        let r: ThreadResult = r;
        total.messages += r.messages;
        total.latency.add(&r.latency).map_err(|e| e.to_string())?;
        total.opened += r.opened;
        total.opening = total.opening.max(r.opening);
        for (kind, n) in r.errors {
            *total.errors.entry(kind).or_default() += n;
        }
        if total.frame_len.is_none() {
            (total.deflate, total.frame_len) = (r.deflate, r.frame_len);
        }
    }
    Ok(load_report(&args, &total))
}

/// Sleeps for `length`, showing the message rate on a terminal.
fn watch(length: Duration, phase: &str, show: bool, progress: &AtomicU64) {
    let end = Instant::now() + length;
    let mut last = (Instant::now(), progress.load(Ordering::Relaxed));
    loop {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(500)));
        if show {
            let (now, count) = (Instant::now(), progress.load(Ordering::Relaxed));
            let rate = (count - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            let left = end.saturating_duration_since(now).as_secs_f64();
            eprint!("\r\x1b[2K{phase}: {rate:.0} msg/s, {left:.1} s left");
            last = (now, count);
        }
    }
}

/// Which side used more than 90 % of its CPUs.
fn saturated(
    client: Option<f64>,
    server: Option<f64>,
    seconds: f64,
    threads: u32,
) -> Option<&'static str> {
    let client = client? / seconds / f64::from(threads) > 0.9;
    let server = server? / seconds > 0.9;
    Some(match (client, server) {
        (true, true) => "both",
        (true, false) => "client",
        (false, true) => "server",
        (false, false) => "neither",
    })
}

fn errors_json(errors: &BTreeMap<ErrorKind, u64>) -> Value {
    errors
        .iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn errors_text(errors: &BTreeMap<ErrorKind, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
    list.join(", ")
}

fn size_text(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn load_report(args: &BenchArgs, r: &LoadResult) -> String {
    let seconds = r.seconds;
    let rate = r.messages as f64 / seconds;
    let mib = rate * args.size as f64 / f64::from(1u32 << 20);
    let q = |quantile: f64| r.latency.value_at_quantile(quantile) as f64;
    let handshakes = r.opened as f64 / r.opening.as_secs_f64().max(1e-9);
    let per_message = |cpu: Option<f64>| {
        cpu.filter(|_| r.messages > 0)
            .map(|c| c * 1e6 / r.messages as f64)
    };
    let saturated = saturated(r.client_cpu, r.server_cpu, seconds, args.threads);
    let kind = if args.text { "text" } else { "binary" };
    if args.json {
        return json!({
            "mode": "load",
            "url": args.url,
            "connections": args.connections,
            "size": args.size,
            "depth": args.depth,
            "kind": kind,
            "duration_s": seconds,
            "warmup_s": if args.messages.is_some() { 0.0 } else { args.warmup },
            "messages_per_connection": args.messages,
            "threads": args.threads,
            "verify": args.verify,
            "deflate_offered": args.deflate,
            "deflate": r.deflate.map(|p| p.response_header()),
            "frame_len": r.frame_len,
            "messages": r.messages,
            "messages_per_sec": rate,
            "mib_per_sec": mib,
            "latency_us": {
                "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
                "max": r.latency.max() as f64,
            },
            "opened": r.opened,
            "handshakes_per_sec": handshakes,
            "errors": errors_json(&r.errors),
            "client_cpu_s": r.client_cpu,
            "server_cpu_s": r.server_cpu,
            "client_cpu_us_per_msg": per_message(r.client_cpu),
            "server_cpu_us_per_msg": per_message(r.server_cpu),
            "saturated": saturated,
        })
        .to_string();
    }
    let ms = |us: f64| format!("{:.3} ms", us / 1000.0);
    let window = match args.messages {
        Some(n) => format!("{n} on each in {seconds:.3} s"),
        None => format!("{seconds} s after {} s of warmup", args.warmup),
    };
    let mut out = format!(
        "rws bench {}: {} connection{}, {} {kind} messages, {} in flight each, {window}, {} thread{}\n",
        args.url,
        args.connections,
        if args.connections == 1 { "" } else { "s" },
        size_text(args.size),
        args.depth,
        args.threads,
        if args.threads == 1 { "" } else { "s" },
    );
    out += &format!(
        "  messages    {} ({rate:.0} msg/s, {mib:.1} MiB/s)\n",
        r.messages
    );
    out += &format!(
        "  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
        ms(q(0.5)),
        ms(q(0.9)),
        ms(q(0.99)),
        ms(q(0.999)),
        ms(r.latency.max() as f64)
    );
    out += &format!(
        "  handshakes  {} in {:.3} s ({handshakes:.0}/s)\n",
        r.opened,
        r.opening.as_secs_f64()
    );
    match (args.deflate, r.deflate, r.frame_len) {
        (true, Some(params), Some(len)) => {
            out += &format!(
                "  deflate     {}: a frame of {len} bytes per message\n",
                params.response_header()
            )
        }
        (true, None, _) => out += "  deflate     offered, declined by the server\n",
        _ => {}
    }
    out += &format!("  errors      {}\n", errors_text(&r.errors));
    let cpu = |name: &str, cpu: Option<f64>| match (cpu, per_message(cpu)) {
        (Some(c), Some(m)) => format!("{name} {c:.2} s ({m:.2} µs/msg)"),
        (Some(c), None) => format!("{name} {c:.2} s"),
        _ => format!("{name} unknown"),
    };
    out += &format!(
        "  CPU         {}, {}",
        cpu("client", r.client_cpu),
        cpu("server", r.server_cpu)
    );
    match saturated {
        Some("client") => out +=
            "\n  the load generator was the saturated side: the server's figures are a lower bound",
        Some("server") => out += "\n  the server was the saturated side",
        Some("both") => out += "\n  both sides were saturated: compare CPU per message",
        _ => {}
    }
    out
}

fn idle_report(args: &BenchArgs, count: u32, r: &idle::IdleResult) -> String {
    let handshakes = r.opened as f64 / r.opening.as_secs_f64().max(1e-9);
    let per_connection = match (r.rss_before_kib, r.rss_after_kib) {
        (Some(before), Some(after)) if r.opened > 0 => {
            Some((after as f64 - before as f64) / r.opened as f64)
        }
        _ => None,
    };
    let cpu_per_handshake = r
        .server_cpu_s
        .filter(|_| r.opened > 0)
        .map(|cpu| cpu * 1e6 / r.opened as f64);
    if args.json {
        return json!({
            "mode": "idle",
            "url": args.url,
            "connections": count,
            "opened": r.opened,
            "server_rss_before_kib": r.rss_before_kib,
            "server_rss_after_kib": r.rss_after_kib,
            "kib_per_connection": per_connection,
            "handshakes_per_sec": handshakes,
            "server_cpu_us_per_handshake": cpu_per_handshake,
            "errors": errors_json(&r.errors),
        })
        .to_string();
    }
    let mut out = format!(
        "rws bench {}: {} idle connections opened of {count} in {:.3} s ({handshakes:.0} handshakes/s)\n",
        args.url,
        r.opened,
        r.opening.as_secs_f64()
    );
    match (r.rss_before_kib, r.rss_after_kib, per_connection) {
        (Some(before), Some(after), Some(each)) => {
            out += &format!(
                "  server memory  {before} KiB -> {after} KiB: {each:.2} KiB per connection\n"
            )
        }
        _ => out += "  server memory  unknown (give --server-pid)\n",
    }
    if let Some(each) = cpu_per_handshake {
        out += &format!("  server CPU     {each:.1} µs per handshake (accept to 101)\n");
    }
    out += &format!("  errors         {}", errors_text(&r.errors));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("16k"), Ok(16 << 10));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert!(parse_size("1GiB").is_err());
        assert!(parse_size("2048MiB").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(size_text(16 << 10), "16 KiB");
        assert_eq!(size_text(100), "100 B");
    }

    #[test]
    fn saturation() {
        assert_eq!(saturated(Some(1.9), Some(0.5), 2.0, 1), Some("client"));
        assert_eq!(saturated(Some(0.5), Some(1.95), 2.0, 1), Some("server"));
        assert_eq!(saturated(Some(1.9), Some(1.95), 2.0, 1), Some("both"));
        assert_eq!(saturated(Some(1.9), Some(0.1), 2.0, 2), Some("neither"));
        assert_eq!(saturated(Some(1.0), None, 2.0, 1), None);
    }
}
