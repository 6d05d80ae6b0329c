//! `rws`: a WebSocket server, client, frame tracer, load generator and
//! WebSocket-to-TCP bridge on the command line.
#![forbid(unsafe_code)]

mod bench;
mod bridge;
mod connect;
mod exit;
mod keepalive;
mod serve;
mod tls_args;
mod trace;

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WebSocket (RFC 6455) tools built on the rws library.
#[derive(Debug, Parser)]
#[command(name = "rws", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WebSocket server: echo on /echo, chat rooms on /chat[/<room>],
    /// and a chat page for browsers on /.
    Serve(serve::ServeArgs),
    /// Connect to a WebSocket server: stdin lines out, messages to stdout.
    Connect(connect::ConnectArgs),
    /// Show every frame between clients and a server (a proxy), or in a
    /// pcap/pcapng capture, with the protocol violations seen.
    Trace(trace::TraceArgs),
    /// Load an echo endpoint: messages/s, latency, CPU per message; or
    /// hold idle connections to measure the server's memory per connection.
    Bench(bench::BenchArgs),
    /// Bridge WebSocket clients to a TCP service (as websockify does for
    /// noVNC), or TCP clients through a WebSocket.
    Bridge(bridge::BridgeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let threads = match &cli.command {
        Command::Serve(args) => args.threads,
        _ => None,
    };
    let runtime = match runtime(threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rws: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), exit::Failure> = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await.map_err(Into::into),
            Command::Connect(args) => connect::run(args).await,
            Command::Trace(args) => trace::run(args).await.map_err(Into::into),
            Command::Bench(args) => bench::run(args).await.map_err(Into::into),
            Command::Bridge(args) => bridge::run(args).await.map_err(Into::into),
        }
    });
    // `rws connect` may leave a blocking read of stdin behind (the server
    // closed while stdin is still open): do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("rws: {failure}");
            failure.code()
        }
    }
}

/// Tokio's runtime: the multi-thread scheduler with a thread per CPU core,
/// or with `threads` threads; the current-thread scheduler for one.
fn runtime(threads: Option<NonZeroUsize>) -> std::io::Result<tokio::runtime::Runtime> {
    match threads.map(NonZeroUsize::get) {
        None => tokio::runtime::Runtime::new(),
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}
