//! `Connection::send_prepared`: a broadcast compressed once per distinct
//! compressor setting (RFC 7692 without context takeover), checked by
//! inflating with flate2 directly.

use super::deflate::{deflating, params, PeerDeflater, PeerInflater};
use super::*;
use crate::connection::PreparedMessage;
use crate::deflate::DeflateConfig;

/// A line that compresses well, longer than the sharing threshold of the
/// output (so its compressed form is queued by reference too).
fn line() -> Message {
    Message::text("every member of the room gets this line. ".repeat(200))
}

fn config() -> Config {
    Config::default().deflate(Some(DeflateConfig::default()))
}

/// The one frame in `conn`'s output: its header and unmasked payload.
#[track_caller]
fn one_frame(conn: &mut Connection) -> (FrameHeader, Vec<u8>) {
    let mut frames = split_frames(&output(conn));
    assert_eq!(frames.len(), 1);
    frames.remove(0)
}

#[test]
fn rfc7692_7_2_1_a_broadcast_is_compressed_once_for_servers_alike() {
    let prepared = PreparedMessage::new(line());
    let mut servers: Vec<Connection> = (0..5)
        .map(|_| deflating(Role::Server, &config(), params(true, false, 15, 15)))
        .collect();
    let mut frames = Vec::new();
    for server in &mut servers {
        server.send_prepared(&prepared).unwrap();
        frames.push(one_frame(server));
    }
    assert_eq!(prepared.compressions(), 1);
    for (header, payload) in &frames {
        assert!(header.rsv1 && header.fin && header.mask.is_none());
        assert_eq!(header.opcode, OpCode::Text);
        assert_eq!(payload, &frames[0].1);
        assert!(payload.len() < line().len() / 10);
        assert_eq!(
            PeerInflater::new(15, true).message(payload),
            line().as_payload()
        );
    }
}

#[test]
fn rfc7692_7_2_1_each_window_gets_its_own_compression() {
    let prepared = PreparedMessage::new(line());
    for bits in [15, 10, 9, 10, 15] {
        let mut server = deflating(Role::Server, &config(), params(true, false, bits, 15));
        server.send_prepared(&prepared).unwrap();
        let (header, payload) = one_frame(&mut server);
        assert!(header.rsv1);
        // The bytes a compressor made here with exactly the agreed window
        // and level produces (inflating alone could not tell: zlib's
        // inflater reads back through its whole output, window or not).
        let level = DeflateConfig::default().level;
        let expected = PeerDeflater::new(level, bits, true).message(line().as_payload());
        assert!(
            payload == expected,
            "{bits} bits: another window's compression"
        );
        assert_eq!(
            PeerInflater::new(bits, true).message(&payload),
            line().as_payload()
        );
    }
    assert_eq!(prepared.compressions(), 3);
}

#[test]
fn rfc7692_7_2_3_2_with_context_takeover_each_connection_uses_its_own_context() {
    // The second copy of a message compresses against the first in the
    // connection's window: what `send` gives, and shorter than the first.
    let prepared = PreparedMessage::new(line());
    let mut by_send = deflating(Role::Server, &config(), params(false, false, 15, 15));
    let mut by_prepared = deflating(Role::Server, &config(), params(false, false, 15, 15));
    let mut inflater = PeerInflater::new(15, false);
    let mut sizes = Vec::new();
    for _ in 0..2 {
        by_send.send(line()).unwrap();
        by_prepared.send_prepared(&prepared).unwrap();
        let (_, expected) = one_frame(&mut by_send);
        let (header, payload) = one_frame(&mut by_prepared);
        assert!(header.rsv1);
        assert_eq!(payload, expected);
        assert_eq!(inflater.message(&payload), line().as_payload());
        sizes.push(payload.len());
    }
    assert!(sizes[1] < sizes[0], "{sizes:?}");
    assert_eq!(prepared.compressions(), 0);
}

#[test]
fn rfc6455_5_3_a_client_masks_a_prepared_message_with_a_key_of_its_own() {
    let prepared = PreparedMessage::new(line());
    let mut keys = Vec::new();
    for _ in 0..3 {
        let mut client = deflating(Role::Client, &config(), params(false, true, 15, 15));
        client.send_prepared(&prepared).unwrap();
        let (header, payload) = one_frame(&mut client);
        assert!(header.rsv1);
        keys.push(header.mask.expect("masked"));
        assert_eq!(
            PeerInflater::new(15, true).message(&payload),
            line().as_payload()
        );
    }
    assert_eq!(prepared.compressions(), 1);
    assert!(keys[0] != keys[1] || keys[1] != keys[2]);
}

#[test]
fn rfc7692_6_without_deflate_or_under_the_threshold_it_goes_as_it_is() {
    let prepared = PreparedMessage::new(line());
    let mut plain = Connection::new(Role::Server, Config::default());
    plain.send_prepared(&prepared).unwrap();
    let (header, payload) = one_frame(&mut plain);
    assert!(!header.rsv1);
    assert_eq!(payload, line().as_payload());

    let short = PreparedMessage::new(Message::binary(vec![7u8; 8]));
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(64)));
    let mut server = deflating(Role::Server, &config, params(true, false, 15, 15));
    server.send_prepared(&short).unwrap();
    assert_eq!(sent(&mut server), vec![(OpCode::Binary, vec![7u8; 8])]);
    assert_eq!(short.compressions(), 0);

    // Data that does not shrink goes as it is too, with nothing cached.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            // xorshift64: bytes no compressor can shrink.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let noise = PreparedMessage::new(Message::binary(noise.clone()));
    let mut server = deflating(Role::Server, &config, params(true, false, 15, 15));
    server.send_prepared(&noise).unwrap();
    let (header, payload) = one_frame(&mut server);
    assert!(!header.rsv1);
    assert_eq!(&payload[..], noise.message().as_payload());
    assert_eq!(noise.compressions(), 0);
}

#[test]
fn rfc6455_5_4_a_prepared_message_waits_for_a_fragmented_one_to_end() {
    let prepared = PreparedMessage::new(line());
    let mut server = deflating(Role::Server, &config(), params(true, false, 15, 15));
    server
        .send_fragment(MessageKind::Text, b"a", false)
        .unwrap();
    assert_eq!(
        server.send_prepared(&prepared),
        Err(SendError::FragmentOrder)
    );
    server.close(None).unwrap();
    assert_eq!(server.send_prepared(&prepared), Err(SendError::Closed));
}
