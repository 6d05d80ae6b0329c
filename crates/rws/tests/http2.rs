//! WebSockets inside a hyper server (`rws::upgrade`), over HTTP/1.1 and
//! over HTTP/2 (RFC 8441, `rws::http2` as the client): the same
//! connection tests run over both transports, then what only HTTP/2 has
//! (several WebSockets on one connection, a stream's own flow control, a
//! reset stream, the server's setting).

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::bounded;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rws::bytes::Bytes;
use rws::deflate::DeflateConfig;
use rws::http::{Request, Response, StatusCode, Version};
use rws::http2::Http2Connection;
use rws::upgrade::Upgrade;
use rws::{
    Accept, ClientBuilder, CloseCode, Error, HandshakeError, Message, Rejection, Upgraded,
    WebSocket, WebSocketConfig,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How the test server speaks HTTP.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Http {
    /// HTTP/1.1 with upgrades.
    One,
    /// HTTP/2 with extended CONNECT (h2c, prior knowledge).
    Two,
    /// HTTP/2 without `SETTINGS_ENABLE_CONNECT_PROTOCOL`.
    TwoWithoutConnect,
}

/// What the server saw of an accepted WebSocket.
#[derive(Debug)]
struct Seen {
    version: Version,
    path: String,
    ws: WebSocket<Upgraded>,
}

type Body = Full<Bytes>;

/// The test application: `/deny` is refused with 403, a plain request
/// gets a page, and every accepted WebSocket goes to the test through
/// `accepted` (with `chat` chosen when offered).
async fn service(
    mut request: Request<Incoming>,
    config: WebSocketConfig,
    accepted: mpsc::UnboundedSender<Seen>,
) -> Result<Response<Body>, Infallible> {
    if !rws::upgrade::is_upgrade_request(&request) {
        return Ok(Response::new(Full::new(Bytes::from_static(b"a page"))));
    }
    let upgrade = match Upgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade.config(config),
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let path = upgrade.request().path().to_owned();
    if path == "/deny" {
        let no = Rejection::new(StatusCode::FORBIDDEN, "not you").header("retry-after", "7");
        return Ok(upgrade.reject(no));
    }
    let chat = upgrade.request().protocols().any(|p| p == "chat");
    let accept = if chat {
        Accept::new().protocol("chat")
    } else {
        Accept::new()
    };
    let version = upgrade.version();
    let (response, pending) = upgrade.accept(accept);
    tokio::spawn(async move {
        let ws = pending.await.expect("the upgrade completes");
        let _ = accepted.send(Seen { version, path, ws });
    });
    Ok(response)
}

/// A hyper server on a loopback port, speaking `http`; accepted
/// WebSockets arrive on the receiver.
async fn server(
    http: Http,
    config: WebSocketConfig,
) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (tx, config) = (tx.clone(), config.clone());
            let svc = service_fn(move |r| service(r, config.clone(), tx.clone()));
            let io = TokioIo::new(tcp);
            tokio::spawn(async move {
                let _ = match http {
                    Http::One => {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .with_upgrades()
                            .await
                    }
                    Http::Two | Http::TwoWithoutConnect => {
                        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                        if http == Http::Two {
                            b.enable_connect_protocol();
                        }
                        // A stream that is not read holds at most its own
                        // window of the connection's: the connection's
                        // window must be larger, or one stalled stream
                        // stops them all (RFC 9113 §5.2).
                        b.initial_stream_window_size(1 << 20);
                        b.initial_connection_window_size(16 << 20);
                        b.serve_connection(io, svc).await
                    }
                };
            });
        }
    });
    (addr, rx)
}

fn deflating() -> WebSocketConfig {
    WebSocketConfig::default().deflate(Some(DeflateConfig::default()))
}

/// A client WebSocket to `path` on the server, over `http`.
async fn client(
    http: Http,
    addr: SocketAddr,
    path: &str,
    config: WebSocketConfig,
) -> Result<(WebSocket<Upgraded>, Response<()>), Error> {
    let builder = ClientBuilder::new(format!("ws://{addr}{path}"))
        .protocol("chat")
        .config(config);
    match http {
        Http::One => {
            // The HTTP/1.1 client is the ordinary one; its stream type
            // differs, so it is tested through `pair` below.
            unreachable!("HTTP/1.1 pairs are made by `pair`")
        }
        _ => builder.connect_http2().await,
    }
}

/// A client and the server's end of one WebSocket, over `http`, as
/// boxed streams so that the tests below are the same for both.
async fn pair(http: Http, client_config: WebSocketConfig, server_config: WebSocketConfig) -> Pair {
    let (addr, mut accepted) = server(http, server_config).await;
    let client = match http {
        Http::One => {
            let (ws, response) = ClientBuilder::new(format!("ws://{addr}/echo"))
                .protocol("chat")
                .config(client_config)
                .connect()
                .await
                .expect("HTTP/1.1 client");
            assert_eq!(response.status(), 101);
            Client::One(ws)
        }
        _ => {
            let (ws, response) = client(http, addr, "/echo", client_config)
                .await
                .expect("HTTP/2 client");
            assert_eq!(response.status(), 200);
            Client::Two(ws)
        }
    };
    let seen = accepted.recv().await.expect("the server accepts");
    Pair { client, seen }
}

enum Client {
    One(WebSocket<rws::MaybeTlsStream>),
    Two(WebSocket<Upgraded>),
}

struct Pair {
    client: Client,
    seen: Seen,
}

/// Runs `$body` with `$c` as the client WebSocket, whatever its stream.
macro_rules! with_client {
    ($client:expr, $c:ident => $body:expr) => {
        match $client {
            Client::One($c) => $body,
            Client::Two($c) => $body,
        }
    };
}

/// The tests every transport passes, one module per transport.
macro_rules! connection_tests {
    ($module:ident, $http:expr, $version:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn echo_with_subprotocol_deflate_and_request() {
                bounded(async {
                    let Pair { mut client, mut seen } = pair($http, deflating(), deflating()).await;
                    assert_eq!(seen.version, $version);
                    assert_eq!(seen.path, "/echo");
                    assert_eq!(seen.ws.protocol(), Some("chat"));
                    assert!(seen.ws.deflate().is_some(), "the server agreed to deflate");
                    let request = seen.ws.request().expect("the request is kept");
                    assert_eq!(request.uri().path(), "/echo");
                    with_client!(&mut client, c => {
                        assert_eq!(c.protocol(), Some("chat"));
                        assert!(c.deflate().is_some(), "the client agreed to deflate");
                    });
                    let big = "x".repeat(100_000);
                    for message in [Message::text("hello"), Message::binary(vec![7u8; 3]), Message::text(big.clone())] {
                        with_client!(&mut client, c => c.send(message.clone()).await.unwrap());
                        let got = seen.ws.recv().await.unwrap().unwrap();
                        assert_eq!(got, message);
                        seen.ws.send(got).await.unwrap();
                        let back = with_client!(&mut client, c => c.recv().await.unwrap().unwrap());
                        assert_eq!(back, message);
                    }
                })
                .await;
            }

            #[tokio::test]
            async fn close_handshake_from_the_client() {
                bounded(async {
                    let Pair { mut client, mut seen } = pair($http, deflating(), deflating()).await;
                    let closing = tokio::spawn(async move {
                        assert!(seen.ws.recv().await.is_none(), "a normal end");
                        seen.ws.closed().cloned().unwrap()
                    });
                    with_client!(&mut client, c => c.close(CloseCode::NORMAL, "bye").await.unwrap());
                    let closed = closing.await.unwrap();
                    assert_eq!(closed.code, CloseCode::NORMAL);
                    assert_eq!(closed.reason.as_str(), "bye");
                    assert!(closed.clean);
                })
                .await;
            }

            #[tokio::test]
            async fn an_error_close_from_the_server_reaches_the_client() {
                bounded(async {
                    let Pair { mut client, mut seen } = pair($http, deflating(), deflating()).await;
                    let server = tokio::spawn(async move {
                        seen.ws.close(CloseCode::from(4001), "go").await
                    });
                    let end = with_client!(&mut client, c => c.recv().await);
                    match end {
                        Some(Err(Error::Closed(closed))) => {
                            assert_eq!(closed.code.as_u16(), 4001);
                            assert_eq!(closed.reason.as_str(), "go");
                        }
                        other => panic!("{other:?}"),
                    }
                    server.await.unwrap().unwrap();
                })
                .await;
            }

            #[tokio::test]
            async fn a_message_over_the_limit_fails_with_1009() {
                bounded(async {
                    let small = deflating().max_message_size(1000);
                    let Pair { mut client, mut seen } = pair($http, deflating(), small).await;
                    // Random bytes, which deflate cannot shrink below the limit.
                    let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
                    with_client!(&mut client, c => c.send(Message::binary(data)).await.unwrap());
                    match seen.ws.recv().await {
                        Some(Err(Error::Protocol(e))) => assert_eq!(e.close_code().as_u16(), 1009),
                        other => panic!("{other:?}"),
                    }
                    let end = with_client!(&mut client, c => c.recv().await);
                    match end {
                        // RFC 6455 §7.4.1: 1009, message too big.
                        Some(Err(Error::Closed(closed))) => assert_eq!(closed.code.as_u16(), 1009),
                        other => panic!("{other:?}"),
                    }
                })
                .await;
            }

            #[tokio::test]
            async fn a_silent_peer_fails_the_keepalive_with_1011() {
                bounded(async {
                    let keepalive = deflating()
                        .ping_interval(Some(Duration::from_millis(100)))
                        .ping_timeout(Some(Duration::from_millis(200)));
                    let Pair { client, mut seen } = pair($http, deflating(), keepalive).await;
                    // The client never reads, so it never answers the pings.
                    match seen.ws.recv().await {
                        Some(Err(Error::Protocol(e))) => assert_eq!(e.close_code().as_u16(), 1011),
                        other => panic!("{other:?}"),
                    }
                    drop(client);
                })
                .await;
            }

            #[tokio::test]
            async fn a_refusal_keeps_its_status_headers_and_body() {
                bounded(async {
                    let (addr, _accepted) = server($http, deflating()).await;
                    let url = format!("ws://{addr}/deny");
                    let refused = match $http {
                        Http::One => ClientBuilder::new(url).connect().await.map(|_| ()),
                        _ => ClientBuilder::new(url).connect_http2().await.map(|_| ()),
                    };
                    match refused {
                        Err(Error::Handshake(HandshakeError::Rejected(r))) => {
                            assert_eq!(r.status(), 403);
                            assert_eq!(r.headers()["retry-after"], "7");
                            assert_eq!(r.body().as_ref(), b"not you");
                        }
                        other => panic!("{other:?}"),
                    }
                })
                .await;
            }
        }
    };
}

connection_tests!(over_http1, Http::One, Version::HTTP_11);
connection_tests!(over_http2, Http::Two, Version::HTTP_2);

#[tokio::test]
async fn a_bad_upgrade_gets_its_status_from_the_hyper_route() {
    bounded(async {
        let (addr, _accepted) = server(Http::One, deflating()).await;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // RFC 6455 §4.2.2: an unsupported version gets 426 and the
        // versions supported.
        let request = format!(
            "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 8\r\n\r\n",
            common::KEY
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0; 4096];
        let n = tcp.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 426"), "{answer}");
        assert!(answer.contains("sec-websocket-version: 13"), "{answer}");
    })
    .await;
}

#[tokio::test]
async fn several_websockets_share_one_http2_connection_and_close_alone() {
    bounded(async {
        let (addr, mut accepted) = server(Http::Two, deflating()).await;
        let h2 = Http2Connection::connect(ClientBuilder::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for i in 0..3 {
            let builder = ClientBuilder::new(format!("ws://{addr}/ws{i}")).config(deflating());
            let (ws, _) = builder.connect_over(&h2).await.unwrap();
            clients.push(ws);
            let seen = accepted.recv().await.unwrap();
            assert_eq!(seen.path, format!("/ws{i}"));
            servers.push(seen.ws);
        }
        // One TCP connection carried all three.
        let mut probe = accepted;
        assert!(probe.try_recv().is_err());
        // Interleaved messages stay on their streams.
        for round in 0..3 {
            for (i, c) in clients.iter_mut().enumerate() {
                c.send(Message::text(format!("{i}:{round}"))).await.unwrap();
            }
            for (i, s) in servers.iter_mut().enumerate() {
                let got = s.recv().await.unwrap().unwrap();
                assert_eq!(got, Message::text(format!("{i}:{round}")));
            }
        }
        // Closing the first ends its stream only.
        let mut first_server = servers.remove(0);
        let closing = tokio::spawn(async move { first_server.recv().await.is_none() });
        clients
            .remove(0)
            .close(CloseCode::NORMAL, "")
            .await
            .unwrap();
        assert!(closing.await.unwrap());
        for (c, s) in clients.iter_mut().zip(servers.iter_mut()) {
            s.send(Message::text("still here")).await.unwrap();
            assert_eq!(
                c.recv().await.unwrap().unwrap(),
                Message::text("still here")
            );
        }
        assert!(!h2.is_closed());
        // And a new one still opens on the connection.
        let (mut again, _) = ClientBuilder::new(format!("ws://{addr}/again"))
            .connect_over(&h2)
            .await
            .unwrap();
        again.send(Message::text("new")).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reader_that_stops_holds_back_only_its_own_stream() {
    bounded(async {
        let (addr, mut accepted) = server(Http::Two, WebSocketConfig::default()).await;
        let h2 = Http2Connection::connect(ClientBuilder::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        let (mut stalled, _) = ClientBuilder::new(format!("ws://{addr}/stalled"))
            .connect_over(&h2)
            .await
            .unwrap();
        let stalled_server = accepted.recv().await.unwrap(); // never read
        let (mut live, _) = ClientBuilder::new(format!("ws://{addr}/live"))
            .connect_over(&h2)
            .await
            .unwrap();
        let mut live_server = accepted.recv().await.unwrap();
        // Send to the stalled stream until sending blocks: its window and
        // the buffers on the way fill up, since nobody reads it.
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let flood = tokio::spawn(async move {
            let chunk = Message::binary(vec![0u8; 64 << 10]);
            loop {
                stalled.send(chunk.clone()).await.unwrap();
                counter.fetch_add(64 << 10, Ordering::Relaxed);
            }
        });
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = sent.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        assert!(
            last < 32 << 20,
            "{last} bytes went to a stream nobody reads"
        );
        // The neighbour on the same connection is not held back.
        for i in 0..20 {
            live.send(Message::text(format!("{i}"))).await.unwrap();
            let got = live_server.ws.recv().await.unwrap().unwrap();
            live_server.ws.send(got).await.unwrap();
            assert_eq!(
                live.recv().await.unwrap().unwrap(),
                Message::text(format!("{i}"))
            );
        }
        // The stalled sender is still stuck.
        assert_eq!(sent.load(Ordering::Relaxed), last);
        flood.abort();
        drop(stalled_server);
    })
    .await;
}

#[tokio::test]
async fn a_reset_stream_is_1006_for_its_websocket_alone() {
    bounded(async {
        let (addr, mut accepted) = server(Http::Two, WebSocketConfig::default()).await;
        let h2 = Http2Connection::connect(ClientBuilder::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        let (mut doomed, _) = ClientBuilder::new(format!("ws://{addr}/doomed"))
            .connect_over(&h2)
            .await
            .unwrap();
        let doomed_server = accepted.recv().await.unwrap();
        let (mut other, _) = ClientBuilder::new(format!("ws://{addr}/other"))
            .connect_over(&h2)
            .await
            .unwrap();
        let mut other_server = accepted.recv().await.unwrap();
        // The server drops the WebSocket without a close frame: its
        // stream is reset.
        drop(doomed_server);
        match doomed.recv().await {
            Some(Err(Error::AbnormalClose | Error::Io(_))) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(doomed.closed().map(|c| c.code.as_u16()), Some(1006));
        other.send(Message::text("fine")).await.unwrap();
        assert_eq!(
            other_server.ws.recv().await.unwrap().unwrap(),
            Message::text("fine")
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_without_extended_connect_is_refused_at_once() {
    bounded(async {
        let (addr, _accepted) = server(Http::TwoWithoutConnect, WebSocketConfig::default()).await;
        let started = std::time::Instant::now();
        let result = ClientBuilder::new(format!("ws://{addr}/echo"))
            .connect_http2()
            .await;
        match result {
            Err(Error::Handshake(HandshakeError::Header { name, .. })) => {
                assert_eq!(name, "SETTINGS_ENABLE_CONNECT_PROTOCOL")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Decided from the server's settings, not by waiting out the
        // handshake timeout (10 s).
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await;
}

#[tokio::test]
async fn plain_requests_on_the_route_are_served_as_http() {
    bounded(async {
        let (addr, _accepted) = server(Http::One, WebSocketConfig::default()).await;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("a page"), "{answer}");
    })
    .await;
}

#[tokio::test]
async fn an_http2_connection_on_a_stream_the_caller_opened() {
    bounded(async {
        let (addr, mut accepted) = server(Http::Two, WebSocketConfig::default()).await;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let h2 = Http2Connection::handshake(tcp, Duration::from_secs(5))
            .await
            .unwrap();
        let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/mine"))
            .connect_over(&h2)
            .await
            .unwrap();
        let mut seen = accepted.recv().await.unwrap();
        assert_eq!(
            (seen.version, seen.path.as_str()),
            (Version::HTTP_2, "/mine")
        );
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(seen.ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        // A stream that speaks HTTP/1.1 is no HTTP/2 connection.
        let (h1, _) = server(Http::One, WebSocketConfig::default()).await;
        let tcp = tokio::net::TcpStream::connect(h1).await.unwrap();
        assert!(Http2Connection::handshake(tcp, Duration::from_secs(5))
            .await
            .is_err());
    })
    .await;
}

#[tokio::test]
async fn a_stalled_stream_from_the_server_holds_back_only_its_own_stream() {
    // The client's side of flow control: the server sends to a WebSocket
    // the client never reads; a neighbour on the same connection still
    // gets its messages (the client's connection window is larger than a
    // stream's).
    bounded(async {
        let (addr, mut accepted) = server(Http::Two, WebSocketConfig::default()).await;
        let h2 = Http2Connection::connect(ClientBuilder::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        let (stalled, _) = ClientBuilder::new(format!("ws://{addr}/stalled"))
            .connect_over(&h2)
            .await
            .unwrap();
        let mut stalled_server = accepted.recv().await.unwrap();
        let (mut live, _) = ClientBuilder::new(format!("ws://{addr}/live"))
            .connect_over(&h2)
            .await
            .unwrap();
        let mut live_server = accepted.recv().await.unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let flood = tokio::spawn(async move {
            let chunk = Message::binary(vec![0u8; 64 << 10]);
            loop {
                stalled_server.ws.send(chunk.clone()).await.unwrap();
                counter.fetch_add(64 << 10, Ordering::Relaxed);
            }
        });
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = sent.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        assert!(
            last > 0 && last < 32 << 20,
            "{last} bytes went to a stream nobody reads"
        );
        for i in 0..20 {
            live_server
                .ws
                .send(Message::text(format!("{i}")))
                .await
                .unwrap();
            assert_eq!(
                live.recv().await.unwrap().unwrap(),
                Message::text(format!("{i}"))
            );
        }
        flood.abort();
        drop(stalled);
    })
    .await;
}

#[tokio::test]
async fn an_http2_connection_knows_when_the_server_is_gone() {
    bounded(async {
        // A server for one connection, in a task this test can end.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (tx, _rx) = mpsc::unbounded_channel();
            let svc = service_fn(move |r| service(r, WebSocketConfig::default(), tx.clone()));
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            b.enable_connect_protocol();
            let _ = b.serve_connection(TokioIo::new(tcp), svc).await;
        });
        let h2 = Http2Connection::connect(ClientBuilder::new(format!("ws://{addr}/")))
            .await
            .unwrap();
        assert!(!h2.is_closed());
        serving.abort();
        let _ = serving.await;
        // The TCP connection closed with the server's task.
        let mut waited = 0;
        while !h2.is_closed() {
            assert!(waited < 5000, "the connection still looks open after 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 10;
        }
        let refused = ClientBuilder::new(format!("ws://{addr}/late"))
            .connect_over(&h2)
            .await;
        assert!(refused.is_err());
    })
    .await;
}

/// HTTP/2 over TLS: ALPN `h2` is required of the server.
#[cfg(feature = "rustls")]
mod over_tls {
    use super::*;
    use rws::tls::{ClientTls, TlsAcceptor};

    /// A certificate for localhost and a client that trusts only it.
    fn certificate() -> (TlsAcceptor, Arc<rws::tls::rustls::ClientConfig>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let acceptor =
            TlsAcceptor::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        let client = ClientTls::new()
            .without_web_pki()
            .add_ca_pem(cert.pem().as_bytes())
            .unwrap()
            .build()
            .unwrap();
        (acceptor, client)
    }

    /// A TLS server with `acceptor` that speaks HTTP/2 when ALPN says h2.
    async fn tls_server(acceptor: TlsAcceptor) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp, Duration::from_secs(5)).await else {
                        return;
                    };
                    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                        return; // an HTTP/1.1 client: hung up on
                    }
                    let svc =
                        service_fn(move |r| service(r, WebSocketConfig::default(), tx.clone()));
                    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                    b.enable_connect_protocol();
                    let _ = b.serve_connection(TokioIo::new(tls), svc).await;
                });
            }
        });
        (addr, rx)
    }

    #[tokio::test]
    async fn wss_over_http2_is_negotiated_by_alpn() {
        bounded(async {
            let (acceptor, client) = certificate();
            let (addr, mut accepted) = tls_server(acceptor.with_http2()).await;
            let url = format!("wss://localhost:{}/tls", addr.port());
            let (mut ws, response) = ClientBuilder::new(url)
                .tls_config(client)
                .connect_http2()
                .await
                .unwrap();
            assert_eq!(response.version(), Version::HTTP_2);
            let mut seen = accepted.recv().await.unwrap();
            assert_eq!(seen.version, Version::HTTP_2);
            ws.send(Message::text("secret")).await.unwrap();
            assert_eq!(
                seen.ws.recv().await.unwrap().unwrap(),
                Message::text("secret")
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_server_that_does_not_agree_to_h2_is_refused() {
        bounded(async {
            // ALPN http/1.1 only: rustls refuses the handshake itself
            // (RFC 7301 §3.2's no_application_protocol alert).
            let (acceptor, client) = certificate();
            let (addr, _accepted) = tls_server(acceptor).await;
            let url = format!("wss://localhost:{}/tls", addr.port());
            let refused = ClientBuilder::new(url)
                .tls_config(client)
                .connect_http2()
                .await;
            match refused {
                Err(Error::Tls(e)) => {
                    assert!(e.to_string().contains("NoApplicationProtocol"), "{e}")
                }
                other => panic!("{:?}", other.map(|_| ())),
            }
            // No ALPN at all: the handshake succeeds without h2, and the
            // client says so.
            let (acceptor, client) = certificate();
            let mut config = (**acceptor.config()).clone();
            config.alpn_protocols.clear();
            let (addr, _accepted) = tls_server(TlsAcceptor::new(Arc::new(config))).await;
            let url = format!("wss://localhost:{}/tls", addr.port());
            match ClientBuilder::new(url)
                .tls_config(client)
                .connect_http2()
                .await
            {
                Err(Error::Handshake(HandshakeError::Header { name: "ALPN", .. })) => {}
                other => panic!("{:?}", other.map(|_| ())),
            }
        })
        .await;
    }
}
