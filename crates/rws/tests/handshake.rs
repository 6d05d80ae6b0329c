//! The opening handshake: the rws server against hand-written requests,
//! the rws client against a hand-written server, and the builders.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rws::http::{Method, Response, StatusCode};
use rws::{
    Accept, ClientBuilder, CloseCode, Error, HandshakeError, Message, Rejection, ServerBuilder,
    UpgradeRequest, WebSocketConfig,
};

/// Sends `request` from a raw client to an rws server. The server keeps
/// its socket until the client has read the answer to the end of file.
async fn raw_request(
    config: WebSocketConfig,
    request: Vec<u8>,
) -> (Result<(), Error>, Head, Vec<u8>) {
    let (listener, addr) = listen().await;
    let server = async {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let result = ServerBuilder::new()
            .config(config)
            .accept(&mut tcp)
            .await
            .map(|_| ());
        (result, tcp)
    };
    let client = async {
        let mut raw = Raw::connect(addr).await;
        raw.write(&request).await;
        let head = raw.read_head().await;
        let body = raw.read_to_eof().await;
        (head, body)
    };
    let ((result, _tcp), (head, body)) = tokio::join!(server, client);
    (result, head, body)
}

fn request_with(lines: &[&str]) -> Vec<u8> {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n\r\n");
    text.into_bytes()
}

/// The body is exactly as long as the response says.
fn check_length(head: &Head, body: &[u8]) {
    let length: usize = head
        .get("content-length")
        .expect("content-length")
        .parse()
        .expect("a number");
    assert_eq!(body.len(), length, "{head:?}");
}

#[tokio::test]
async fn version_8_is_answered_with_426() {
    bounded(async {
        let request = request_with(&[
            "GET / HTTP/1.1",
            "Host: 127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 8",
        ]);
        let (result, head, body) = raw_request(WebSocketConfig::default(), request).await;
        assert!(head.start.starts_with("HTTP/1.1 426"), "{head:?}");
        assert_eq!(head.get("sec-websocket-version"), Some("13"));
        check_length(&head, &body);
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::UnsupportedVersion))
            ),
            "{result:?}"
        );
    })
    .await
}

#[tokio::test]
async fn missing_upgrade_is_answered_with_400() {
    bounded(async {
        let request = request_with(&[
            "GET / HTTP/1.1",
            "Host: 127.0.0.1",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13",
        ]);
        let (result, head, body) = raw_request(WebSocketConfig::default(), request).await;
        assert_eq!(head.status(), 400);
        check_length(&head, &body);
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::Header {
                    name: "Upgrade",
                    ..
                }))
            ),
            "{result:?}"
        );
    })
    .await
}

#[tokio::test]
async fn post_is_answered_with_405() {
    bounded(async {
        let request = request_with(&[
            "POST / HTTP/1.1",
            "Host: 127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13",
        ]);
        let (result, head, body) = raw_request(WebSocketConfig::default(), request).await;
        assert_eq!(head.status(), 405);
        check_length(&head, &body);
        match result {
            Err(Error::Handshake(HandshakeError::Method(method))) => {
                assert_eq!(method, Method::POST)
            }
            other => panic!("expected a method error, got {other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn oversized_head_is_answered_with_431() {
    bounded(async {
        let big = format!("X-Big: {}", "a".repeat(20 << 10));
        let request = request_with(&[
            "GET / HTTP/1.1",
            "Host: 127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13",
            &big,
        ]);
        let (result, head, body) = raw_request(WebSocketConfig::default(), request).await;
        assert_eq!(head.status(), 431);
        check_length(&head, &body);
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::HeadTooLarge {
                    limit: 16384
                }))
            ),
            "{result:?}"
        );
    })
    .await
}

#[tokio::test]
async fn too_many_headers_are_answered_with_431() {
    bounded(async {
        let mut extra = String::new();
        for i in 0..70 {
            extra.push_str(&format!("X-{i}: v\r\n"));
        }
        let request = upgrade_request("/", &extra).into_bytes();
        let (result, head, body) = raw_request(WebSocketConfig::default(), request).await;
        assert_eq!(head.status(), 431);
        check_length(&head, &body);
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::TooManyHeaders {
                    limit: 64
                }))
            ),
            "{result:?}"
        );
    })
    .await
}

#[tokio::test]
async fn request_written_byte_by_byte_is_accepted() {
    bounded(async {
        let (listener, addr) = listen().await;
        let request = upgrade_request("/slow", "");
        let server = async {
            let mut ws = accept_with(&listener, WebSocketConfig::default()).await;
            ws.recv().await.expect("a message").expect("ok")
        };
        let client = async {
            let mut raw = Raw::connect(addr).await;
            for byte in request.as_bytes() {
                raw.write(std::slice::from_ref(byte)).await;
                tokio::task::yield_now().await;
            }
            let head = raw.read_head().await;
            assert_eq!(head.status(), 101);
            assert_eq!(head.get("sec-websocket-accept"), Some(ACCEPT));
            assert_eq!(
                head.get("upgrade").map(str::to_ascii_lowercase).as_deref(),
                Some("websocket")
            );
            raw.write(&client_frame(TEXT, b"slowly")).await;
            raw
        };
        let (message, _raw) = tokio::join!(server, client);
        assert_eq!(message.as_text(), Some("slowly"));
    })
    .await
}

#[tokio::test]
async fn silent_client_hits_the_handshake_timeout() {
    bounded(async {
        let (listener, addr) = listen().await;
        let _raw = Raw::connect(addr).await;
        let (tcp, _) = listener.accept().await.expect("accept");
        let config = WebSocketConfig::default().handshake_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let result = ServerBuilder::new().config(config).accept(tcp).await;
        let elapsed = started.elapsed();
        assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
        assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    })
    .await
}

/// The timeout bounds the whole handshake, not each read: a client that
/// trickles header bytes cannot hold the server.
#[tokio::test]
async fn trickling_client_hits_the_handshake_timeout() {
    bounded(async {
        let (listener, addr) = listen().await;
        let trickler = tokio::spawn(async move {
            let mut raw = Raw::connect(addr).await;
            raw.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
            for i in 0..200 {
                use tokio::io::AsyncWriteExt;
                let line = format!("X-{i}: y\r\n");
                if raw.tcp.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let (tcp, _) = listener.accept().await.expect("accept");
        let config = WebSocketConfig::default().handshake_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let result = ServerBuilder::new().config(config).accept(tcp).await;
        let elapsed = started.elapsed();
        trickler.abort();
        assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    })
    .await
}

#[tokio::test]
async fn frames_sent_with_the_request_are_kept() {
    bounded(async {
        let (listener, addr) = listen().await;
        let second = client_frame(BINARY, b"second message");
        let (second_head, second_tail) = second.split_at(5);

        // One write: the request, a whole text message in two fragments,
        // and the first bytes of the next frame.
        let mut bytes = upgrade_request("/", "").into_bytes();
        bytes.extend(frame(false, TEXT, "early ".as_bytes(), Some(MASK)));
        bytes.extend(frame(true, CONTINUATION, "bïrd".as_bytes(), Some(MASK)));
        bytes.extend_from_slice(second_head);

        let server = async {
            let mut ws = accept_with(&listener, WebSocketConfig::default()).await;
            let first = ws.recv().await.expect("first").expect("ok");
            let second = ws.recv().await.expect("second").expect("ok");
            let end = ws.recv().await;
            (ws, first, second, end)
        };
        let client = async {
            let mut raw = Raw::connect(addr).await;
            raw.write(&bytes).await;
            let head = raw.read_head().await;
            assert_eq!(head.status(), 101);
            assert_eq!(head.get("sec-websocket-accept"), Some(ACCEPT));
            raw.write(second_tail).await;
            raw.write(&client_frame(CLOSE, &close_payload(1000, "")))
                .await;
            let reply = raw.read_frame().await.expect("close reply");
            assert_eq!(reply.close_code(), Some(1000));
            raw.expect_eof().await;
        };
        let ((ws, first, second, end), ()) = tokio::join!(server, client);
        assert_eq!(first, Message::text("early bïrd"));
        assert_eq!(second, Message::binary(&b"second message"[..]));
        assert!(end.is_none());
        assert!(ws.closed().expect("closed").clean);
    })
    .await
}

#[derive(Debug, Default)]
struct Seen {
    path: String,
    query: Option<String>,
    origin: Option<String>,
    protocols: Vec<String>,
    token: Option<String>,
}

#[tokio::test]
async fn on_request_sees_the_request_and_chooses_a_protocol() {
    bounded(async {
        let (listener, addr) = listen().await;
        let seen = Arc::new(Mutex::new(None));
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            let seen = seen.clone();
            ServerBuilder::new()
                .on_request(move |request: &UpgradeRequest| {
                    *seen.lock().unwrap() = Some(Seen {
                        path: request.path().to_owned(),
                        query: request.query().map(str::to_owned),
                        origin: request.origin().map(str::to_owned),
                        protocols: request.protocols().map(str::to_owned).collect(),
                        token: request
                            .headers()
                            .get("x-token")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    });
                    Ok(Accept::new().protocol("chat").header("x-server", "rws"))
                })
                .accept(tcp)
                .await
        };
        let client = ClientBuilder::new(ws_url(addr, "/chat/room?id=7"))
            .protocol("chat")
            .protocol("superchat")
            .header("origin", "https://example.com")
            .header("x-token", "abc")
            .connect();
        let (server, client) = tokio::join!(server, client);
        let mut server = server.expect("server handshake");
        let (mut client, response) = client.expect("client handshake");

        let seen = seen.lock().unwrap().take().expect("callback ran");
        assert_eq!(seen.path, "/chat/room");
        assert_eq!(seen.query.as_deref(), Some("id=7"));
        assert_eq!(seen.origin.as_deref(), Some("https://example.com"));
        assert_eq!(seen.protocols, ["chat", "superchat"]);
        assert_eq!(seen.token.as_deref(), Some("abc"));

        // The accepted request stays on the connection, for use after
        // `accept`.
        let kept = server.request().expect("a server keeps its request");
        assert_eq!(kept.uri().path(), "/chat/room");
        assert_eq!(kept.uri().query(), Some("id=7"));
        assert_eq!(kept.headers()["x-token"], "abc");
        assert!(
            client.request().is_none(),
            "a client has no upgrade request"
        );

        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(response.headers()["x-server"], "rws");
        assert_eq!(client.protocol(), Some("chat"));
        assert_eq!(server.protocol(), Some("chat"));

        // The connection works (the key was regenerated for the headers).
        client.send("hi").await.expect("send");
        let got = server.recv().await.expect("message").expect("ok");
        assert_eq!(got.as_text(), Some("hi"));
        let (closed, end) = tokio::join!(client.close(CloseCode::NORMAL, ""), server.recv());
        closed.expect("close");
        assert!(end.is_none());
    })
    .await
}

#[tokio::test]
async fn on_request_without_a_choice_means_no_protocol() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            // "other" was not offered, so it is left out of the response.
            ServerBuilder::new()
                .on_request(|_: &UpgradeRequest| Ok(Accept::new().protocol("other")))
                .accept(tcp)
                .await
        };
        let client = ClientBuilder::new(ws_url(addr, "/"))
            .protocol("chat")
            .connect();
        let (server, client) = tokio::join!(server, client);
        let server = server.expect("server handshake");
        let (client, response) = client.expect("client handshake");
        assert!(response.headers().get("sec-websocket-protocol").is_none());
        assert_eq!(client.protocol(), None);
        assert_eq!(server.protocol(), None);
    })
    .await
}

#[tokio::test]
async fn on_request_rejection_reaches_the_client() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            ServerBuilder::new()
                .on_request(|request: &UpgradeRequest| {
                    assert_eq!(request.origin(), Some("https://evil.example"));
                    Err(Rejection::new(StatusCode::FORBIDDEN, "forbidden origin")
                        .header("x-reason", "origin"))
                })
                .accept(tcp)
                .await
        };
        let client = ClientBuilder::new(ws_url(addr, "/"))
            .header("origin", "https://evil.example")
            .connect();
        let (server, client) = tokio::join!(server, client);

        match server {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN)
            }
            other => panic!("expected the server's rejection, got {other:?}"),
        }
        match client {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
                assert_eq!(response.headers()["x-reason"], "origin");
                assert_eq!(response.body().as_ref(), b"forbidden origin");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    })
    .await
}

/// Runs an rws client (built by `client` for the URL) against a raw
/// server that answers the request with `answer`. The raw server keeps TCP
/// open until the client is done, and is returned.
async fn client_against(
    client: impl FnOnce(String) -> ClientBuilder,
    answer: impl FnOnce(&Head) -> Vec<u8>,
) -> (
    Result<(rws::WebSocket<rws::MaybeTlsStream>, Response<()>), Error>,
    Raw,
) {
    let (listener, addr) = listen().await;
    let client = client(ws_url(addr, "/"));
    let server = async {
        let mut raw = Raw::accept(&listener).await;
        let request = raw.read_head().await;
        assert!(request.start.starts_with("GET / HTTP/1.1"), "{request:?}");
        let bytes = answer(&request);
        raw.write(&bytes).await;
        raw
    };
    tokio::join!(client.connect(), server)
}

/// The right `Sec-WebSocket-Accept` for a request.
fn accept_for(request: &Head) -> String {
    let key = request.get("sec-websocket-key").expect("a key");
    rws::proto::handshake::accept_key(key.as_bytes())
}

fn switching(accept: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn client_rejects_a_wrong_accept() {
    bounded(async {
        let (result, _raw) = client_against(ClientBuilder::new, |request| {
            // The sample accept, which belongs to another key.
            assert_ne!(request.get("sec-websocket-key"), Some(KEY));
            switching(ACCEPT, "")
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake(HandshakeError::AcceptMismatch))
            ),
            "{result:?}"
        );
    })
    .await
}

#[tokio::test]
async fn client_rejects_an_unoffered_protocol() {
    bounded(async {
        let (result, _raw) = client_against(
            |url| ClientBuilder::new(url).protocol("chat"),
            |request| {
                assert_eq!(request.get("sec-websocket-protocol"), Some("chat"));
                switching(
                    &accept_for(request),
                    "Sec-WebSocket-Protocol: superchat\r\n",
                )
            },
        )
        .await;
        match result {
            Err(Error::Handshake(HandshakeError::UnofferedProtocol(protocol))) => {
                assert_eq!(protocol, "superchat")
            }
            other => panic!("expected UnofferedProtocol, got {other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn client_keeps_a_rejections_headers_and_body() {
    bounded(async {
        let (result, _raw) = client_against(ClientBuilder::new, |_| {
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Type: text/plain\r\n\
              Content-Length: 11\r\n\r\nslow down!\n"
                .to_vec()
        })
        .await;
        // The raw server has not closed TCP: Content-Length ended the body.
        match result {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
                assert_eq!(response.headers()["retry-after"], "30");
                assert_eq!(response.body().as_ref(), b"slow down!\n");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn client_keeps_frames_sent_with_the_101() {
    bounded(async {
        let (result, mut raw) = client_against(ClientBuilder::new, |request| {
            let mut bytes = switching(&accept_for(request), "");
            bytes.extend(server_frame(TEXT, b"welcome"));
            bytes.extend(server_frame(BINARY, &[1, 2, 3]));
            bytes
        })
        .await;
        let (mut client, response) = result.expect("handshake");
        assert_eq!(response.status(), 101);
        assert_eq!(client.protocol(), None);
        let first = client.recv().await.expect("first").expect("ok");
        assert_eq!(first, Message::text("welcome"));
        let second = client.recv().await.expect("second").expect("ok");
        assert_eq!(second, Message::binary(vec![1, 2, 3]));

        let server = async {
            let close = raw.read_frame().await.expect("the client's close");
            assert!(close.masked);
            assert_eq!(close.close_code(), Some(1000));
            assert_eq!(close.close_reason(), "done");
            raw.write(&server_frame(CLOSE, &close_payload(1000, "")))
                .await;
            drop(raw);
        };
        let (closed, ()) = tokio::join!(client.close(CloseCode::NORMAL, "done"), server);
        closed.expect("clean close");
    })
    .await
}

/// A plain HTTP request goes to `on_http`, whose response reaches the
/// client with `Connection: close`; the server's `accept` says which
/// status it sent.
#[tokio::test]
async fn plain_http_is_answered_by_on_http() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = async {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let seen = Arc::new(Mutex::new(None));
            let record = seen.clone();
            let result = ServerBuilder::new()
                .on_http(move |req| {
                    *record.lock().unwrap() = Some((req.method().clone(), req.uri().to_string()));
                    let mut response = Response::new("hello\n".into());
                    *response.status_mut() = StatusCode::IM_A_TEAPOT;
                    response
                })
                .accept(&mut tcp)
                .await
                .map(|accepted| match accepted {
                    rws::Accepted::Http(status) => Some(status),
                    rws::Accepted::WebSocket(_) => None,
                });
            let seen = seen.lock().unwrap().take();
            (result, seen, tcp)
        };
        let client = async {
            let mut raw = Raw::connect(addr).await;
            raw.write(&request_with(&[
                "GET /page?x=1 HTTP/1.1",
                "Host: 127.0.0.1",
            ]))
            .await;
            let head = raw.read_head().await;
            let body = raw.read_to_eof().await;
            (head, body)
        };
        let ((result, seen, _tcp), (head, body)) = tokio::join!(server, client);
        assert_eq!(head.status(), 418);
        assert_eq!(head.get("connection"), Some("close"));
        assert_eq!(body, b"hello\n");
        assert_eq!(seen, Some((Method::GET, "/page?x=1".to_owned())));
        // Serving plain HTTP is an outcome, not an error.
        assert!(
            matches!(result, Ok(Some(StatusCode::IM_A_TEAPOT))),
            "{result:?}"
        );
    })
    .await
}

/// With `on_http` set, upgrade requests still open connections, and bad
/// upgrade requests still get their WebSocket status, not `on_http`'s.
#[tokio::test]
async fn on_http_leaves_upgrade_requests_alone() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = async {
            let mut results = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.expect("accept");
                let result = ServerBuilder::new()
                    .on_http(|_| panic!("on_http called for an upgrade request"))
                    .accept(tcp)
                    .await;
                results.push(result.map(|_| ()));
            }
            results
        };
        let client = async {
            let mut good = Raw::connect(addr).await;
            good.write(upgrade_request("/", "").as_bytes()).await;
            let good_head = good.read_head().await;
            drop(good);
            let mut bad = Raw::connect(addr).await;
            bad.write(&request_with(&[
                "GET / HTTP/1.1",
                "Host: 127.0.0.1",
                "Upgrade: websocket",
                "Connection: Upgrade",
                &format!("Sec-WebSocket-Key: {KEY}"),
                "Sec-WebSocket-Version: 8",
            ]))
            .await;
            let bad_head = bad.read_head().await;
            (good_head, bad_head)
        };
        let (results, (good, bad)) = tokio::join!(server, client);
        assert_eq!(good.status(), 101);
        assert_eq!(bad.status(), 426);
        assert!(results[0].is_ok(), "{results:?}");
        assert!(
            matches!(
                results[1],
                Err(Error::Handshake(HandshakeError::UnsupportedVersion))
            ),
            "{results:?}"
        );
    })
    .await
}

/// A server whose async hook awaits (a token lookup) before it decides:
/// the request's query reaches it, and its rejection keeps its status.
#[tokio::test]
async fn an_async_on_request_awaits_before_it_decides() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = async {
            let mut outcomes = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.expect("accept");
                let accepted = ServerBuilder::new()
                    .on_request_async(|req: UpgradeRequest| async move {
                        // The lookup: it takes a while.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if req.query() == Some("token=good") {
                            Ok(Accept::new())
                        } else {
                            Err(Rejection::new(StatusCode::UNAUTHORIZED, "bad token"))
                        }
                    })
                    .accept(tcp)
                    .await;
                outcomes.push(accepted.map(|_| ()));
            }
            outcomes
        };
        let clients = async {
            let refused = rws::connect(&format!("ws://{addr}/?token=bad")).await;
            let started = Instant::now();
            let accepted = rws::connect(&format!("ws://{addr}/?token=good")).await;
            (refused, accepted.map(|_| started.elapsed()))
        };
        let (outcomes, (refused, accepted)) = tokio::join!(server, clients);
        match refused {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                assert_eq!(&response.body()[..], b"bad token");
            }
            other => panic!("expected a 401, got {other:?}"),
        }
        let waited = accepted.expect("the good token is accepted");
        assert!(waited >= Duration::from_millis(45), "{waited:?}");
        assert!(matches!(
            &outcomes[0],
            Err(Error::Handshake(HandshakeError::Rejected(_)))
        ));
        assert!(outcomes[1].is_ok());
    })
    .await
}

/// An async hook that never answers is bounded by the handshake timeout.
#[tokio::test]
async fn an_async_on_request_that_hangs_hits_the_handshake_timeout() {
    bounded(async {
        let (listener, addr) = listen().await;
        let client = tokio::spawn(async move { rws::connect(&format!("ws://{addr}/")).await });
        let (tcp, _) = listener.accept().await.expect("accept");
        let config = WebSocketConfig::default().handshake_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let result = ServerBuilder::new()
            .config(config)
            .on_request_async(|_: UpgradeRequest| std::future::pending())
            .accept(tcp)
            .await;
        assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(2));
        // The client sees the connection end without an answer.
        assert!(client.await.expect("join").is_err());
    })
    .await
}
