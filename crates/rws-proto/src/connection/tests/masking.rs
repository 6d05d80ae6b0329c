use super::*;

// ---------------------------------------------------------------------------
// §5.1: masking direction
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_1_server_fails_1002_on_unmasked_frame() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&server_frame(true, TEXT, b"Hello"));
    // Reading stopped at once; the close frame is written as the terminal
    // event is taken.
    assert!(!server.wants_write());
    let evs = events(&mut server);
    // Exact bytes: an unmasked close frame, code 1002 (0x03ea), then the reason.
    let reason = b"unmasked frame from client";
    let mut expected = vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
    expected.extend_from_slice(reason);
    assert_eq!(server.pending_output(), expected.as_slice());
    assert_eq!(evs.len(), 1);
    match &evs[0] {
        Event::Closed(c) => {
            assert_eq!(c.code, CloseCode::PROTOCOL_ERROR);
            assert!(!c.clean);
            assert_eq!(c.initiator, Initiator::Local);
            assert_eq!(c.error, Some(ProtocolError::UnmaskedFrame));
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(server.state(), State::Closed);
    output(&mut server);
    // Input after the failure is ignored, even well-formed input.
    server.handle_input(&client_frame(true, TEXT, b"Hello"));
    server.handle_input(&client_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut server), []);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_1_client_fails_1002_on_masked_frame() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&client_frame(true, TEXT, b"Hello"));
    assert_failed(&mut client, ProtocolError::MaskedFrame);
}

#[test]
fn rfc6455_5_1_masking_rules_apply_to_control_frames() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&server_frame(true, PING, b"x"));
    assert_failed(&mut server, ProtocolError::UnmaskedFrame);
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&client_frame(true, CLOSE, &close_payload(1000, b"")));
    assert_failed(&mut client, ProtocolError::MaskedFrame);
}

#[test]
fn rfc6455_5_1_server_fails_on_unmasked_frame_header_alone() {
    // The header is enough to know; the payload need not arrive.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&[0x81, 0x05]);
    assert_failed(&mut server, ProtocolError::UnmaskedFrame);
}

#[test]
fn rfc6455_5_1_server_output_is_unmasked() {
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::text("Hello")).unwrap();
    server.send(Message::binary(vec![1, 2, 3])).unwrap();
    server.send_ping(b"p").unwrap();
    server.send_pong(b"").unwrap();
    server
        .close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")))
        .unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[
            b"\x81\x05Hello",
            b"\x82\x03\x01\x02\x03",
            b"\x89\x01p",
            b"\x8a\x00",
            b"\x88\x05\x03\xe9bye",
        ])
    );
}

#[test]
fn rfc6455_5_3_client_output_is_masked() {
    let mut client = Connection::new(Role::Client, defaults());
    client.send(Message::text("Hello")).unwrap();
    client.send(Message::binary(vec![0u8; 300])).unwrap();
    client.send_ping(b"ping").unwrap();
    client.send_pong(b"pong").unwrap();
    client.close(None).unwrap();
    let out = output(&mut client);
    // The MASK bit is set on every frame.
    let frames = decode_frames(&out);
    assert!(frames.iter().all(|w| w.masked && w.fin), "{frames:?}");
    let got: Vec<_> = frames.into_iter().map(|w| (w.opcode, w.payload)).collect();
    assert_eq!(
        got,
        [
            (OpCode::Text, b"Hello".to_vec()),
            (OpCode::Binary, vec![0u8; 300]),
            (OpCode::Ping, b"ping".to_vec()),
            (OpCode::Pong, b"pong".to_vec()),
            (OpCode::Close, vec![]),
        ]
    );
    // The 300 zero bytes are on the wire XORed with the key, so they show
    // the key: a fresh one per frame, not a constant (RFC 6455 §5.3).
    assert_eq!(&out[..2], [0x81, 0x85]);
    let mut keys = Vec::new();
    for _ in 0..32 {
        client = Connection::new(Role::Client, defaults());
        client.send(Message::binary(vec![0u8; 4])).unwrap();
        client.send(Message::binary(vec![0u8; 4])).unwrap();
        let out = output(&mut client);
        assert_eq!(out.len(), 20);
        // The payload of zeros masked is the key itself.
        assert_eq!(out[2..6], out[6..10]);
        assert_eq!(out[12..16], out[16..20]);
        keys.push(out[2..6].to_vec());
        keys.push(out[12..16].to_vec());
    }
    keys.sort();
    keys.dedup();
    assert!(keys.len() > 1, "the masking key never changes");
}

#[test]
fn rfc6455_5_3_a_client_masks_every_frame_of_a_connection_with_a_new_key() {
    // §5.3: "The masking key MUST be derived [...] from a strong source of
    // entropy, and the masking key for a given frame MUST NOT make it
    // simple for a server or proxy to predict the masking key for a
    // subsequent frame." One connection, 200 frames of every kind: 200
    // keys, none used twice (32 random bits each: a repeat among 200 has a
    // chance of about 5 in a million).
    let mut client = Connection::new(Role::Client, defaults());
    for i in 0..40u8 {
        client.send(Message::binary(vec![0u8; 4])).unwrap();
        client.send(Message::text("abcd")).unwrap();
        client.send_ping(&[i]).unwrap();
        client
            .send_fragment(MessageKind::Binary, &[i], false)
            .unwrap();
        client
            .send_fragment(MessageKind::Binary, &[i], true)
            .unwrap();
    }
    let frames = split_frames(&output(&mut client));
    assert_eq!(frames.len(), 200);
    let mut keys: Vec<[u8; 4]> = frames
        .iter()
        .map(|(header, _)| header.mask.expect("every client frame is masked"))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 200, "a masking key was used for two frames");
}
