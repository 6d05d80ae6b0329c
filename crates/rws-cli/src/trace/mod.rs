//! `rws trace`: a frame-tracing proxy and capture reader.
//!
//! Both modes feed the same [`analyze::ConnTrace`] with the bytes of each
//! direction of each connection; it reports the handshake and every frame
//! with the protocol violations it sees, and [`output::Output`] prints the
//! records as text or JSON after the filters.

mod analyze;
pub(crate) mod capture;
mod output;
mod proxy;
mod record;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};

use crate::tls_args::{ClientTlsArgs, ServerTlsArgs};
use analyze::ConnTrace;
use capture::{Capture, CaptureEvent};
use output::Output;
use record::{Dir, Event, Record};

/// Options of `rws trace`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each frame is one line: time (UTC), connection id, direction, FIN, \
RSV1-3, opcode, masking key, payload length and its encoding, a preview, close code and \
reason, and the violations seen on it after \"!!\". The proxy relays bytes unchanged, \
except the request target (when --upstream names a path) and Host. Over TLS (--tls-cert, a \
wss:// upstream) it terminates TLS on each side and traces the bytes in between. It reads HTTP/1.1 WebSockets only, not yet those over HTTP/2 (RFC 8441): its TLS offers ALPN http/1.1 alone, so clients speak HTTP/1.1 through it, and HTTP/2 traffic in a capture is not traced."
)]
pub(crate) struct TraceArgs {
    /// The address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1:9002", conflicts_with = "pcap")]
    listen: SocketAddr,
    /// The server to relay to: ws://HOST[:PORT][/path] or wss://…. With a
    /// path, it replaces the path the client asked for.
    #[arg(long, required_unless_present = "pcap", value_name = "URL")]
    upstream: Option<String>,
    /// With --tls-cert and --tls-key, clients reach the tracer over TLS;
    /// with a wss:// upstream, it reaches the server over TLS (--cacert,
    /// --cert/--key, --insecure): the tracer sees the frames in between.
    #[command(flatten)]
    tls: ServerTlsArgs,
    #[command(flatten)]
    upstream_tls: ClientTlsArgs,
    /// Read a libpcap or pcapng capture of ws:// traffic instead of
    /// proxying (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Whole messages (fragments reassembled) instead of frames.
    #[arg(long)]
    messages: bool,
    /// Only what one side sent (`c2s` and `s2c` for short).
    #[arg(long, value_enum)]
    direction: Option<DirectionArg>,
    /// Only these opcodes (comma-separated or repeated): cont, text,
    /// binary, close, ping, pong.
    #[arg(long, value_delimiter = ',', value_parser = ["cont", "text", "binary", "close", "ping", "pong"])]
    opcode: Vec<String>,
}

/// A direction, as given on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirectionArg {
    /// What the client sent.
    #[value(alias = "c2s")]
    ClientToServer,
    /// What the server sent.
    #[value(alias = "s2c")]
    ServerToClient,
}

/// Prints records to stdout, one connection's batch at a time.
pub(crate) struct Printer {
    output: Output,
    lock: Mutex<()>,
}

impl Printer {
    fn new(output: Output) -> Printer {
        Printer {
            output,
            lock: Mutex::new(()),
        }
    }

    /// Prints what passes the filters; a closed stdout is not an error
    /// worth stopping the relay for.
    pub(crate) fn print(&self, records: &[Record]) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut stdout = std::io::stdout().lock();
        let _ = self.output.write(records, &mut stdout);
        let _ = stdout.flush();
    }
}

/// Runs the proxy or reads the capture.
pub(crate) async fn run(args: TraceArgs) -> Result<(), String> {
    let output = Output {
        json: args.json,
        messages: args.messages,
        direction: args.direction.map(|d| match d {
            DirectionArg::ClientToServer => Dir::ClientToServer,
            DirectionArg::ServerToClient => Dir::ServerToClient,
        }),
        opcodes: args.opcode,
    };
    let printer = Arc::new(Printer::new(output));
    if let Some(path) = args.pcap {
        return tokio::task::spawn_blocking(move || read_capture(&path, &printer))
            .await
            .map_err(|e| e.to_string())?;
    }
    let tls = args.tls.acceptor()?;
    let upstream = proxy::Upstream::parse(args.upstream.as_deref().unwrap_or_default(), || {
        args.upstream_tls.config()
    })?;
    proxy::run(args.listen, tls, upstream, printer).await
}

/// Traces every connection of a capture, in capture order; `-` reads
/// standard input (`tcpdump -w - | rws trace --pcap -`).
///
/// A damaged or cut capture (a capture program killed mid-write) is still
/// traced as far as it goes; the error is reported at the end.
fn read_capture(path: &std::path::Path, printer: &Printer) -> Result<(), String> {
    let name = path.display();
    let input: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| format!("cannot open {name}: {e}"))?)
    };
    let mut capture = Capture::new(BufReader::new(input)).map_err(|e| format!("{name}: {e}"))?;
    let mut traces: HashMap<u64, ConnTrace> = HashMap::new();
    let mut records = Vec::new();
    let mut failure = None;
    loop {
        let event = match capture.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            // After an error, the reader still hands out what its
            // connections held, then ends; a second error ends at once.
            Err(e) if failure.is_none() => {
                failure = Some(format!("{name}: {e}"));
                continue;
            }
            Err(_) => break,
        };
        trace_event(event, &mut traces, &mut records);
        printer.print(&records);
        records.clear();
    }
    failure.map_or(Ok(()), Err)
}

fn dir_of(from_client: bool) -> Dir {
    if from_client {
        Dir::ClientToServer
    } else {
        Dir::ServerToClient
    }
}

/// Feeds one capture event to its connection's trace.
fn trace_event(event: CaptureEvent, traces: &mut HashMap<u64, ConnTrace>, out: &mut Vec<Record>) {
    match event {
        CaptureEvent::Open {
            conn,
            time,
            client,
            server,
        } => {
            traces.insert(conn, ConnTrace::new(conn));
            out.push(Record {
                time,
                conn,
                dir: None,
                event: Event::Open { client, server },
            });
        }
        CaptureEvent::Data {
            conn,
            time,
            from_client,
            data,
        } => {
            let trace = traces.entry(conn).or_insert_with(|| ConnTrace::new(conn));
            trace.feed(dir_of(from_client), time, &data, out);
        }
        CaptureEvent::Gap {
            conn,
            time,
            from_client,
            missing,
        } => {
            let trace = traces.entry(conn).or_insert_with(|| ConnTrace::new(conn));
            trace.gap(dir_of(from_client), time, missing, out);
        }
        CaptureEvent::End {
            conn,
            time,
            from_client,
            reset,
        } => {
            let trace = traces.entry(conn).or_insert_with(|| ConnTrace::new(conn));
            trace.end(
                dir_of(from_client),
                time,
                if reset { "RST" } else { "FIN" },
                out,
            );
        }
    }
}
