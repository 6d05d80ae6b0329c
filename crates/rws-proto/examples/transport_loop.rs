//! Driving the sans-IO core by hand: a blocking echo server over
//! `std::net`, with keepalive, in one thread per connection.
//!
//! ```sh
//! cargo run -p rws-proto --example transport_loop -- 127.0.0.1:9002
//! ```
//!
//! The loop that every transport runs, in this order:
//!
//! 1. take every event (`poll_event`): taking one may queue a reply (a
//!    pong, the close reply), and answering messages queues more;
//! 2. write everything queued (`poll_transmit` hands out all of it) before
//!    the next blocking read: a reply left queued while the thread blocks
//!    in `read` is the classic deadlock of a hand-written loop;
//! 3. do with the transport what `transport_action` says;
//! 4. read, bounded by the next deadline (`poll_timeout`), and tell the
//!    core the time (`handle_timeout`) when it comes.
//!
//! With `--self-test` it starts the server on a free port, talks to it
//! with a raw client and checks the echo and the close handshake, so that
//! CI runs the example end to end.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rws_proto::handshake::{encode_response, parse_request, Accept, HeadLimits};
use rws_proto::{Config, Connection, Event, Role, TransportAction};

fn main() -> io::Result<()> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    if arg == "--self-test" {
        return self_test();
    }
    let listener = TcpListener::bind(&arg)?;
    eprintln!("echo on ws://{}/", listener.local_addr()?);
    for tcp in listener.incoming() {
        let tcp = tcp?;
        std::thread::spawn(move || {
            if let Err(e) = serve(tcp) {
                eprintln!("connection failed: {e}");
            }
        });
    }
    Ok(())
}

/// The opening handshake, then the transport loop.
fn serve(mut tcp: TcpStream) -> io::Result<()> {
    // The request head, read until it is complete.
    let mut buf = Vec::new();
    let (request, used) = loop {
        let mut chunk = [0; 1024];
        let n = tcp.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_request(&buf, &HeadLimits::default()) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => continue,
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    };
    let mut head = Vec::new();
    encode_response(&request.accept(&Accept::new()), &mut head);
    tcp.write_all(&head)?;

    let config = Config::default().ping_interval(Some(Duration::from_secs(20)));
    let mut conn = Connection::new(Role::Server, config);
    conn.handle_timeout(Instant::now());
    // Bytes read past the head belong to the first frames.
    conn.handle_input(&buf[used..]);

    let mut out = Vec::new();
    let mut chunk = vec![0; 16 << 10];
    loop {
        // 1. Every event; echo the messages.
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(message) => {
                    // Fails only once the close handshake started.
                    let _ = conn.send(message);
                }
                Event::Closed(closed) => eprintln!("closed: {}", closed.code),
                _ => {}
            }
        }
        // 2. Everything queued, before any blocking read.
        out.clear();
        conn.poll_transmit(&mut out);
        tcp.write_all(&out)?;
        // 3. The transport.
        match conn.transport_action() {
            TransportAction::Continue => {}
            TransportAction::Shutdown | TransportAction::Abort => {
                let _ = tcp.shutdown(Shutdown::Write);
                return Ok(());
            }
        }
        // 4. Read until the next deadline.
        let now = Instant::now();
        match conn.poll_timeout() {
            Some(deadline) if deadline <= now => {
                conn.handle_timeout(now);
                continue;
            }
            Some(deadline) => tcp.set_read_timeout(Some(deadline - now))?,
            None => tcp.set_read_timeout(None)?,
        }
        match tcp.read(&mut chunk) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.handle_input(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Runs the server on a free port against a raw client: a masked "Hello"
/// (RFC 6455 §5.7) comes back unmasked, and a close frame is answered and
/// followed by the server closing TCP.
fn self_test() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr: SocketAddr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (tcp, _) = listener.accept()?;
        serve(tcp)
    });
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        tcp,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    // RFC 6455 §5.7: a masked "Hello", then a masked close with 1000.
    tcp.write_all(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ])?;
    tcp.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])?;
    let mut received = Vec::new();
    tcp.read_to_end(&mut received)?;
    server.join().expect("server thread")?;
    let head_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(received.starts_with(b"HTTP/1.1 101"));
    // RFC 6455 §1.3: the accept value of the example key.
    let head = String::from_utf8_lossy(&received[..head_end]);
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    assert_eq!(
        &received[head_end..],
        b"\x81\x05Hello\x88\x02\x03\xe8",
        "the echo, then the close reply; then the server closed TCP"
    );
    println!("transport_loop self-test: ok");
    Ok(())
}
