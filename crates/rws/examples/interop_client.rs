//! The rws side of `interop/run.sh`: a client that offers permessage-deflate
//! to an independent echo server (Python's `websockets`), sends a set of
//! messages and checks that each echo equals what was sent.
//!
//! It prints the agreed parameters as one line `deflate: ...` (or
//! `deflate: none`), then `PASS <what>` or `FAIL <what>` per check, and
//! exits 0 only if deflate was agreed and every echo matched.
//!
//! ```sh
//! cargo run --release -p rws --example interop_client -- ws://127.0.0.1:8765/
//! cargo run --release -p rws --features rustls --example interop_client -- wss://localhost:8765/ ca.pem
//! ```
//!
//! Over `wss://` it trusts only the CA certificate given.

use std::process::ExitCode;
use std::time::Duration;

use rws::deflate::DeflateConfig;
use rws::{CloseCode, Config, Message, WebSocketConfig};

/// How long the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: interop_client ws://HOST:PORT/PATH | wss://HOST:PORT/PATH CA.pem");
        return ExitCode::from(2);
    };
    let ca = std::env::args().nth(2);
    match tokio::time::timeout(DEADLINE, run(&url, ca.as_deref())).await {
        Ok(Ok(0)) => ExitCode::SUCCESS,
        Ok(Ok(failed)) => {
            eprintln!("interop_client: {failed} check(s) failed");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            println!("FAIL connection: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            println!("FAIL did not finish within {DEADLINE:?}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the exchange; the number of failed checks.
async fn run(url: &str, ca: Option<&str>) -> Result<usize, rws::Error> {
    let protocol = Config::default().deflate(Some(DeflateConfig::default()));
    let config = WebSocketConfig::default().core(protocol);
    let mut builder = rws::ClientBuilder::new(url).config(config);
    if let Some(ca) = ca {
        let tls = rws::tls::ClientTls::new()
            .without_web_pki()
            .add_ca_pem_file(ca)?
            .build()?;
        builder = builder.tls_config(tls);
    }
    let (mut ws, _response) = builder.connect().await?;
    println!("tls: {}", ws.get_ref().is_tls());

    let mut failed = 0;
    let mut check = |ok: bool, what: &str| {
        println!("{} {what}", if ok { "PASS" } else { "FAIL" });
        failed += usize::from(!ok);
    };

    match ws.deflate() {
        Some(p) => println!(
            "deflate: server_no_context_takeover={} client_no_context_takeover={} \
             server_max_window_bits={} client_max_window_bits={}",
            p.server_no_context_takeover,
            p.client_no_context_takeover,
            p.server_max_window_bits,
            p.client_max_window_bits
        ),
        None => println!("deflate: none"),
    }
    check(ws.deflate().is_some(), "permessage-deflate agreed");

    for (what, message) in messages() {
        ws.send(message.clone()).await?;
        let echo = match ws.recv().await {
            Some(echo) => echo?,
            None => {
                check(false, &format!("{what}: connection ended before the echo"));
                return Ok(failed);
            }
        };
        let same = echo == message;
        let detail = if same {
            String::new()
        } else {
            format!(" (sent {}, got {})", describe(&message), describe(&echo))
        };
        check(same, &format!("{what} echoed{detail}"));
    }

    let closed = ws.close(CloseCode::NORMAL, "done").await;
    check(
        closed.is_ok(),
        &format!("close handshake with 1000 ({closed:?})"),
    );
    Ok(failed)
}

/// What to send: small and large, compressible and not, both kinds.
fn messages() -> Vec<(&'static str, Message)> {
    let text = repetitive_text(100 << 10);
    vec![
        ("text \"hello\"", Message::text("hello")),
        ("100 KiB repetitive text", Message::text(text.clone())),
        // Again, so that context takeover (or its absence) matters.
        ("100 KiB repetitive text, again", Message::text(text)),
        (
            "50 KiB binary of mixed bytes",
            Message::binary(mixed_bytes(50 << 10)),
        ),
        ("empty text", Message::text("")),
        ("3-byte binary", Message::binary(vec![0u8, 0xff, 0x80])),
    ]
}

/// ASCII text of `len` bytes that repeats a 5000-byte block: its matches are
/// 5000 bytes back, beyond 12-bit windows, so a compressor that ignores a
/// smaller agreed window produces data the peer cannot inflate.
fn repetitive_text(len: usize) -> String {
    let mut seed = 0x2545_f491_u32;
    let block: Vec<u8> = (0..5000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            b"abcdefghijklmnopqrstuvwxyz      .,"[(seed >> 16) as usize % 34]
        })
        .collect();
    let bytes: Vec<u8> = block.iter().copied().cycle().take(len).collect();
    String::from_utf8(bytes).expect("ASCII")
}

/// `len` pseudo-random bytes: incompressible.
fn mixed_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text of {} bytes", text.len()),
        Message::Binary(data) => format!("binary of {} bytes", data.len()),
    }
}
