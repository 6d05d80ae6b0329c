//! Memory bounds: write backpressure against a peer that does not read.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rws::{CloseCode, Error, Message, WebSocketConfig};

const MIB: usize = 1 << 20;

#[tokio::test]
async fn feed_waits_for_a_peer_that_does_not_read() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().write_buffer_size(16 << 10);
        // The raw client completes the handshake and then never reads.
        let (mut server, _raw) = tokio::join!(accept_with(&listener, config), Raw::handshake(addr));

        let mut accepted = 0usize;
        let fed = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                server
                    .feed(Message::binary(vec![0x5a; MIB]))
                    .await
                    .expect("feed");
                accepted += 1;
                assert!(accepted < 1000, "feed never waits");
            }
        })
        .await;
        assert!(fed.is_err(), "the feed loop ended without waiting");
        // What the kernel buffers plus one queued message, not everything.
        assert!(accepted >= 1, "nothing was accepted");
        assert!(
            accepted < 50,
            "{accepted} MiB were queued for a silent peer"
        );
    })
    .await
}

#[tokio::test]
async fn queued_messages_drain_once_the_peer_reads() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().write_buffer_size(16 << 10);
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));

        // Queue until the first wait, then let the peer read everything.
        let mut accepted = 0usize;
        let _ = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                let payload = vec![accepted as u8; MIB];
                server.feed(Message::binary(payload)).await.expect("feed");
                accepted += 1;
            }
        })
        .await;
        assert!(accepted >= 1);
        let reader = async {
            for i in 0..accepted {
                let frame = raw.read_frame().await.expect("a frame");
                assert_eq!(frame.opcode, BINARY);
                assert_eq!(frame.payload.len(), MIB);
                assert!(frame.payload.iter().all(|&b| b == i as u8), "frame {i}");
            }
        };
        let (flushed, ()) = tokio::join!(server.flush(), reader);
        flushed.expect("flush");
    })
    .await
}

/// `close` sends a close frame and ends "all within the close timeout".
/// Here the peer never reads, so the close frame cannot even be written.
#[tokio::test]
async fn close_is_bounded_when_the_peer_never_reads() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default()
            .write_buffer_size(16 << 10)
            .close_timeout(Duration::from_millis(300));
        let (mut server, _raw) = tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        // Fill the transport: feed until it waits.
        let _ = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                server
                    .feed(Message::binary(vec![0; MIB]))
                    .await
                    .expect("feed");
            }
        })
        .await;

        let started = Instant::now();
        let closed =
            tokio::time::timeout(Duration::from_secs(3), server.close(CloseCode::NORMAL, "")).await;
        let elapsed = started.elapsed();
        let closed = closed.expect("close() did not return within 3 s (close timeout 300 ms)");
        assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    })
    .await
}
