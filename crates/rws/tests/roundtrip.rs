//! Messages between an rws client and an rws server over loopback TCP:
//! echo, Stream/Sink, split halves, cancel-safety, pings.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use rws::bytes::Bytes;
use rws::ReuniteError;
use rws::{CloseCode, Error, Event, Initiator, Message, MessageKind, SendError, State, WebSocket};
use tokio::net::TcpStream;

/// 200 KiB of multi-byte text, so UTF-8 sequences straddle TCP reads.
fn big_text() -> String {
    let text = "héllo wörld ✓ ".repeat(12_000);
    assert!(text.len() >= 200 << 10);
    text
}

fn big_binary() -> Vec<u8> {
    (0..200usize << 10).map(|i| (i * 31 % 251) as u8).collect()
}

fn messages() -> Vec<Message> {
    vec![
        Message::text(""),
        Message::text("hello"),
        Message::text(big_text()),
        Message::binary(Vec::new()),
        Message::binary(vec![0, 1, 2, 0xff]),
        Message::binary(big_binary()),
    ]
}

/// Echoes every message until the connection ends; returns the socket.
async fn echo(mut ws: WebSocket<TcpStream>) -> WebSocket<TcpStream> {
    while let Some(message) = ws.recv().await {
        ws.send(message.expect("server recv"))
            .await
            .expect("server send");
    }
    ws
}

#[tokio::test]
async fn echo_round_trip_then_client_close() {
    bounded(async {
        let (mut client, server) = pair().await;
        assert_eq!(client.role(), rws::Role::Client);
        assert_eq!(server.role(), rws::Role::Server);
        let server = tokio::spawn(echo(server));

        for message in messages() {
            client.send(message.clone()).await.expect("client send");
            let echoed = client.recv().await.expect("an echo").expect("no error");
            assert_eq!(echoed.kind(), message.kind());
            assert_eq!(echoed.len(), message.len());
            assert_eq!(echoed, message);
        }

        // Many small messages queued with feed, flushed once, echoed in order.
        for i in 0..100 {
            let message = if i % 2 == 0 {
                Message::text(format!("text {i}"))
            } else {
                Message::binary(vec![i as u8; i])
            };
            client.feed(message).await.expect("feed");
        }
        client.flush().await.expect("flush");
        for i in 0..100 {
            let echoed = client.recv().await.expect("an echo").expect("no error");
            if i % 2 == 0 {
                assert_eq!(echoed.kind(), MessageKind::Text);
                assert_eq!(echoed.as_text(), Some(format!("text {i}").as_str()));
            } else {
                assert_eq!(echoed, Message::binary(vec![i as u8; i]));
            }
        }

        // The server closes TCP right after its reply, so the client does
        // not sit out its 5 s close timeout.
        let started = Instant::now();
        client
            .close(CloseCode::NORMAL, "bye")
            .await
            .expect("clean close");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(client.state(), State::Closed);
        let closed = client.closed().expect("client closed").clone();
        assert_eq!(closed.initiator, Initiator::Local);
        assert!(closed.clean);
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert_eq!(closed.error, None);
        assert!(client.recv().await.is_none());

        let mut server = server.await.expect("server task");
        let closed = server.closed().expect("server closed").clone();
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert_eq!(closed.code.as_u16(), 1000);
        assert_eq!(closed.reason, "bye");
        assert_eq!(closed.initiator, Initiator::Remote);
        assert!(closed.clean);
        assert_eq!(closed.error, None);
        assert_eq!(server.state(), State::Closed);
        assert!(server.recv().await.is_none(), "None again after the end");
        // Nothing can be sent after the close.
        assert!(matches!(
            client.send(Message::text("late")).await,
            Err(Error::Send(SendError::Closed))
        ));
    })
    .await
}

#[tokio::test]
async fn stream_and_sink() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        // The server echoes through Stream and Sink too.
        let server = tokio::spawn(async move {
            while let Some(message) = server.next().await {
                SinkExt::send(&mut server, message.expect("server next"))
                    .await
                    .expect("server sink send");
            }
            server
        });

        for i in 0..20 {
            let message = if i % 3 == 0 {
                Message::binary(vec![i; 1000 * i as usize])
            } else {
                Message::text(format!("stream {i}"))
            };
            SinkExt::send(&mut client, message.clone())
                .await
                .expect("sink send");
            let echoed = client.next().await.expect("an item").expect("no error");
            assert_eq!(echoed, message);
        }

        // feed + flush through the Sink, then read the echoes as a Stream.
        for i in 0..10 {
            SinkExt::feed(&mut client, Message::text(format!("batch {i}")))
                .await
                .expect("sink feed");
        }
        SinkExt::flush(&mut client).await.expect("sink flush");
        for i in 0..10 {
            let echoed = client.next().await.expect("an item").expect("no error");
            assert_eq!(echoed.as_text(), Some(format!("batch {i}").as_str()));
        }

        // Sink::close sends a close frame; the Stream then ends.
        SinkExt::close(&mut client).await.expect("sink close");
        assert_eq!(client.state(), State::Closing);
        assert!(client.next().await.is_none(), "stream ends after the close");
        assert!(client.next().await.is_none(), "and stays ended");
        let closed = client.closed().expect("client closed");
        assert!(closed.clean);
        assert_eq!(closed.initiator, Initiator::Local);
        assert_eq!(closed.code, CloseCode::NORMAL);

        let server = server.await.expect("server task");
        let closed = server.closed().expect("server closed");
        assert!(closed.clean);
        assert_eq!(closed.initiator, Initiator::Remote);
        assert_eq!(closed.code, CloseCode::NORMAL);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_answer_pings_while_the_writer_sends() {
    bounded(async {
        let (mut client, server) = pair().await;
        let (mut read, mut write) = server.split();

        // The writer sends until the client has had all its pongs: if the
        // pongs waited for the writer to finish, this would never end.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut sent = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    write
                        .send(Message::text(format!("msg {sent}")))
                        .await
                        .expect("writer send");
                    sent += 1;
                }
                write.send(Message::text("end")).await.expect("writer end");
                (write, sent)
            }
        });
        let reader = tokio::spawn(async move {
            let mut pings = Vec::new();
            while let Some(event) = read.recv_event().await {
                match event.expect("reader event") {
                    Event::Ping(payload) => pings.push(payload),
                    Event::Message(m) => panic!("the client sends no messages: {m:?}"),
                    _ => {}
                }
            }
            (read, pings)
        });

        let mut received = 0u64;
        let mut pings_sent = 0;
        let mut pongs = Vec::new();
        loop {
            match client.recv_event().await.expect("event").expect("no error") {
                Event::Message(message) => {
                    let text = message.as_text().expect("text");
                    if text == "end" {
                        break;
                    }
                    assert_eq!(text, format!("msg {received}"), "in order");
                    received += 1;
                    // One ping at a time: while the server's output waits,
                    // a newer ping's pong may replace an unsent one
                    // (RFC 6455 §5.5.3), so wait for each pong.
                    if received.is_multiple_of(20) && pings_sent < 10 && pongs.len() == pings_sent {
                        client.ping(format!("p{pings_sent}")).await.expect("ping");
                        pings_sent += 1;
                    }
                }
                Event::Pong(payload) => {
                    pongs.push(payload);
                    if pongs.len() == 10 {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        let expected: Vec<Bytes> = (0..10).map(|i| Bytes::from(format!("p{i}"))).collect();
        assert_eq!(pongs, expected);
        let (write, sent) = writer.await.expect("writer task");
        assert_eq!(received, sent, "every message arrived");

        client
            .close(CloseCode::NORMAL, "done")
            .await
            .expect("close");
        let (read, pings) = reader.await.expect("reader task");
        assert_eq!(pings, expected);
        assert_eq!(read.protocol(), None);

        let server = read.reunite(write).expect("halves of one socket");
        let closed = server.closed().expect("server closed");
        assert!(closed.clean);
        assert_eq!(closed.initiator, Initiator::Remote);
        assert_eq!(closed.reason, "done");
    })
    .await
}

#[tokio::test]
async fn reunite_checks_that_the_halves_match() {
    bounded(async {
        let (mut client_a, server_a) = pair().await;
        let (mut client_b, server_b) = pair().await;
        let (read_a, write_a) = server_a.split();
        let (read_b, write_b) = server_b.split();

        let ReuniteError(read_a, write_b) = read_a
            .reunite(write_b)
            .expect_err("halves of different sockets");
        let ReuniteError(read_b, write_a) = read_b
            .reunite(write_a)
            .expect_err("halves of different sockets");

        // The right pairs still reunite, into working sockets.
        let mut server_a = read_a.reunite(write_a).expect("socket a");
        let mut server_b = read_b.reunite(write_b).expect("socket b");
        server_a.send("to a").await.expect("send a");
        server_b.send("to b").await.expect("send b");
        let got_a = client_a.recv().await.expect("a").expect("ok a");
        let got_b = client_b.recv().await.expect("b").expect("ok b");
        assert_eq!(got_a.as_text(), Some("to a"));
        assert_eq!(got_b.as_text(), Some("to b"));

        client_a.send("from a").await.expect("client a send");
        let got = server_a.recv().await.expect("server a").expect("ok");
        assert_eq!(got.as_text(), Some("from a"));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_half_close_is_completed_by_the_read_half() {
    bounded(async {
        let (mut client, server) = pair().await;
        let (mut read, mut write) = server.split();
        let client_side = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(message) = client.recv().await {
                got.push(message.expect("client recv"));
            }
            (client, got)
        });
        write.send("one").await.expect("send");
        write.send("two").await.expect("send");
        write
            .close(CloseCode::GOING_AWAY, "shutting down")
            .await
            .expect("close frame sent");
        assert!(matches!(
            write.send("three").await,
            Err(Error::Send(SendError::Closed))
        ));
        // The read half sees the reply and the end.
        assert!(read.recv().await.is_none());
        let server = read.reunite(write).expect("same socket");
        let closed = server.closed().expect("server closed");
        assert!(closed.clean);
        assert_eq!(closed.initiator, Initiator::Local);
        assert_eq!(server.state(), State::Closed);

        let (client, got) = client_side.await.expect("client task");
        assert_eq!(got, [Message::text("one"), Message::text("two")]);
        let closed = client.closed().expect("client closed");
        assert_eq!(closed.code, CloseCode::GOING_AWAY);
        assert_eq!(closed.reason, "shutting down");
        assert_eq!(closed.initiator, Initiator::Remote);
    })
    .await
}

#[tokio::test]
async fn streamed_fragments_arrive_through_recv_event() {
    bounded(async {
        let streaming = rws::WebSocketConfig::default().stream_fragments(true);
        let (mut client, mut server) = pair_with(rws::WebSocketConfig::default(), streaming).await;
        let big = big_binary();
        client
            .send(Message::binary(big.clone()))
            .await
            .expect("send");
        let mut data = Vec::new();
        let mut pieces = 0;
        loop {
            match server.recv_event().await.expect("event").expect("ok") {
                Event::Fragment(fragment) => {
                    assert_eq!(fragment.kind, MessageKind::Binary);
                    assert_eq!(fragment.first, pieces == 0);
                    pieces += 1;
                    data.extend_from_slice(&fragment.data);
                    if fragment.last {
                        break;
                    }
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert_eq!(data, big);
        assert!(pieces > 1, "200 KiB should arrive in several pieces");
    })
    .await
}

fn cancel_payload(i: usize) -> Vec<u8> {
    let size = (i * 7919) % (96 << 10);
    (0..size).map(|j| (i * 131 + j) as u8).collect()
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        let sender = tokio::spawn(async move {
            for i in 0..100 {
                server
                    .send(Message::binary(cancel_payload(i)))
                    .await
                    .expect("send");
                // The first half slowly, the second back to back.
                if i < 50 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            assert!(server.recv().await.is_none());
            server
        });

        let mut received = 0;
        let mut cancelled = 0;
        while received < 100 {
            tokio::select! {
                message = client.recv() => {
                    let message = message.expect("a message").expect("no error");
                    assert_eq!(message, Message::binary(cancel_payload(received)), "message {received}");
                    received += 1;
                }
                _ = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
            }
        }
        assert!(cancelled > 0, "recv was never cancelled");

        client.close(CloseCode::NORMAL, "").await.expect("close");
        let server = sender.await.expect("sender task");
        assert!(server.closed().expect("closed").clean);
    })
    .await
}

#[tokio::test]
async fn ping_from_rws_client_gets_pong() {
    bounded(async {
        let (mut client, server) = pair().await;
        let server = tokio::spawn(echo(server));

        client.ping("x").await.expect("ping");
        let event = client.recv_event().await.expect("event").expect("ok");
        assert_eq!(event, Event::Pong(Bytes::from_static(b"x")));

        let max = vec![b'm'; 125];
        client.ping(max.clone()).await.expect("ping of 125 bytes");
        let event = client.recv_event().await.expect("event").expect("ok");
        assert_eq!(event, Event::Pong(Bytes::from(max)));

        assert!(matches!(
            client.ping(vec![0u8; 126]).await,
            Err(Error::Send(SendError::ControlPayloadTooLong(126)))
        ));

        // A message still round-trips after the pings.
        client.send("after").await.expect("send");
        let echoed = client.recv().await.expect("echo").expect("ok");
        assert_eq!(echoed.as_text(), Some("after"));

        client.close(CloseCode::NORMAL, "").await.expect("close");
        server.await.expect("server task");
    })
    .await
}

const DUPLEX_COUNT: usize = 8;
const DUPLEX_SIZE: usize = 1 << 20;

/// Sends `DUPLEX_COUNT` large messages through a split write half while
/// the read half reads as many from the peer.
async fn both_ways(ws: WebSocket<TcpStream>) -> WebSocket<TcpStream> {
    let (mut read, mut write) = ws.split();
    let writer = async {
        for i in 0..DUPLEX_COUNT {
            write
                .send(Message::binary(vec![i as u8; DUPLEX_SIZE]))
                .await
                .expect("send");
        }
    };
    let reader = async {
        for i in 0..DUPLEX_COUNT {
            let message = read.recv().await.expect("a message").expect("ok");
            assert_eq!(message.len(), DUPLEX_SIZE);
            assert!(message.as_payload().iter().all(|&b| b == i as u8));
        }
    };
    tokio::join!(writer, reader);
    read.reunite(write).expect("same socket")
}

async fn full_duplex(config: rws::WebSocketConfig) {
    let (client, server) = pair_with(config.clone(), config).await;
    let (client, server) = tokio::join!(
        tokio::spawn(both_ways(client)),
        tokio::spawn(both_ways(server))
    );
    let (mut client, mut server) = (client.expect("client"), server.expect("server"));
    let (closed, end) = tokio::join!(client.close(CloseCode::NORMAL, ""), server.recv());
    closed.expect("close");
    assert!(end.is_none());
}

/// Both ends send and read 1 MiB messages at once; with a write buffer
/// larger than a message, reading never pauses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_full_duplex_below_the_write_buffer_size() {
    bounded(full_duplex(
        rws::WebSocketConfig::default().write_buffer_size(4 * DUPLEX_SIZE),
    ))
    .await
}

/// The same with the default 128 KiB write buffer: both readers keep
/// reading, so this must finish as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_full_duplex_above_the_write_buffer_size() {
    bounded(full_duplex(rws::WebSocketConfig::default())).await
}

/// Sent piece by piece (RFC 6455 §5.4: a text frame, then continuations,
/// the last with FIN), received as one message; and with streaming on,
/// a piece that reaches `recv` is returned with its data, not dropped.
#[tokio::test]
async fn fragments_sent_piece_by_piece_and_never_dropped_by_recv() {
    bounded(async {
        let streaming = rws::WebSocketConfig::default().stream_fragments(true);
        let (mut client, mut server) = pair_with(rws::WebSocketConfig::default(), streaming).await;
        // "é" split inside the character: UTF-8 holds over the whole.
        let pieces: [&[u8]; 3] = [b"caf\xc3", b"\xa9 au ", b"lait"];
        for (i, piece) in pieces.iter().enumerate() {
            client
                .send_fragment(MessageKind::Text, piece, i == 2)
                .await
                .expect("send a piece");
        }
        let mut data = Vec::new();
        loop {
            match server.recv().await {
                Some(Err(Error::Streamed(fragment))) => {
                    assert_eq!(fragment.kind, MessageKind::Text);
                    data.extend_from_slice(&fragment.data);
                    if fragment.last {
                        break;
                    }
                }
                other => panic!("expected the pieces, got {other:?}"),
            }
        }
        assert_eq!(data, "café au lait".as_bytes());
        // The connection goes on; a whole message is a piece too here.
        client.send(Message::text("next")).await.expect("send");
        match server.recv().await {
            Some(Err(Error::Streamed(fragment))) => {
                assert!(fragment.first && fragment.last);
                assert_eq!(&fragment.data[..], b"next");
            }
            other => panic!("expected the piece, got {other:?}"),
        }
        // Pieces of one message only: another message in between is refused.
        client
            .send_fragment(MessageKind::Binary, b"a", false)
            .await
            .expect("first piece");
        assert!(matches!(
            client.send(Message::text("interleaved")).await,
            Err(Error::Send(rws::SendError::FragmentOrder))
        ));
    })
    .await
}

#[tokio::test]
async fn pieces_sent_arrive_as_one_message_without_streaming() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        for (i, piece) in [&b"one "[..], b"two ", b"three"].iter().enumerate() {
            server
                .send_fragment(MessageKind::Binary, piece, i == 2)
                .await
                .expect("send a piece");
        }
        let got = client.recv().await.expect("a message").expect("ok");
        assert_eq!(got, Message::binary(b"one two three".to_vec()));
    })
    .await
}
