use super::*;

// ---------------------------------------------------------------------------
// §5.2: base framing
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_2_rsv_bits_fail_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        for opcode in [TEXT, BINARY, PING, PONG, CLOSE] {
            eprintln!("rsv {rsv:#x} opcode {opcode:#x}");
            fails(
                &defaults(),
                |role| raw_to(role, FIN | rsv | opcode, b""),
                ProtocolError::ReservedBits,
            );
        }
    }
}

#[test]
fn rfc6455_5_2_rsv_bit_on_continuation_fails_1002() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"a"),
                &raw_to(role, FIN | 0x40 | CONT, b"b"),
            ])
        },
        ProtocolError::ReservedBits,
    );
}

#[test]
fn rfc6455_5_2_reserved_opcodes_fail_1002() {
    for op in (0x3..=0x7).chain(0xb..=0xf) {
        eprintln!("opcode {op:#x}");
        fails(
            &defaults(),
            |role| raw_to(role, FIN | op, b"abc"),
            ProtocolError::ReservedOpCode(op),
        );
        // Two bytes of header are enough to fail.
        for role in ROLES {
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&[FIN | op]);
            assert_eq!(events(&mut conn), []);
            conn.handle_input(&[0x80]);
            assert_failed(&mut conn, ProtocolError::ReservedOpCode(op));
        }
    }
}

#[test]
fn rfc6455_5_2_reserved_opcode_inside_a_message_fails_1002() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"a"),
                &raw_to(role, 0x3, b"b"),
            ])
        },
        ProtocolError::ReservedOpCode(0x3),
    );
}

#[test]
fn rfc6455_5_2_64_bit_length_with_msb_set_fails_1002() {
    for msb_len in [1u64 << 63, u64::MAX] {
        fails(
            &defaults(),
            |role| {
                let mask_bit = if role == Role::Server { 0x80 } else { 0 };
                let mut bytes = vec![0x82, mask_bit | 127];
                bytes.extend_from_slice(&msb_len.to_be_bytes());
                if role == Role::Server {
                    bytes.extend_from_slice(&KEY);
                }
                bytes
            },
            ProtocolError::InvalidPayloadLength,
        );
    }
}

#[test]
fn rfc6455_5_2_header_split_at_every_byte() {
    // 16-bit and 64-bit length encodings with a mask: a 14-byte header.
    for role in ROLES {
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut bytes = raw_frame(0x82, peer_key(role, [9, 8, 7, 6]), &payload);
        let mut long = vec![0x82, if role == Role::Server { 0xff } else { 0x7f }];
        long.extend_from_slice(&300u64.to_be_bytes());
        if role == Role::Server {
            long.extend_from_slice(&KEY);
            long.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
        } else {
            long.extend_from_slice(&payload);
        }
        bytes.extend_from_slice(&long);
        for cut in 0..bytes.len() {
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&bytes[..cut]);
            let mut got = events(&mut conn);
            conn.handle_input(&bytes[cut..]);
            got.extend(events(&mut conn));
            assert_eq!(got, [binary(&payload), binary(&payload)], "{role:?} {cut}");
            assert!(!conn.wants_write());
        }
    }
}

#[test]
fn rfc6455_5_2_empty_frames_are_messages() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, TEXT, b""),
                &frame_to(role, true, BINARY, b""),
                &frame_to(role, false, TEXT, b""),
                &frame_to(role, true, CONT, b""),
            ])
        },
        &[text(""), binary(b""), text("")],
        &[],
    );
}

// ---------------------------------------------------------------------------
// §5.4: fragmentation
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_4_fragmented_text_is_reassembled() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"frag"),
                &frame_to(role, false, CONT, b"mented "),
                &frame_to(role, false, CONT, b""),
                &frame_to(role, true, CONT, b"text"),
            ])
        },
        &[text("fragmented text")],
        &[],
    );
}

#[test]
fn rfc6455_5_4_fragmented_binary_is_reassembled() {
    let data: Vec<u8> = (0..=255).collect();
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, &data[..100]),
                &frame_to(role, false, CONT, &data[100..101]),
                &frame_to(role, true, CONT, &data[101..]),
            ])
        },
        &[binary(&data)],
        &[],
    );
}

#[test]
fn rfc6455_5_4_messages_after_a_fragmented_one_start_fresh() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"\xff"),
                &frame_to(role, true, CONT, b"\xfe"),
                &frame_to(role, false, TEXT, b"a"),
                &frame_to(role, true, CONT, b"b"),
                &frame_to(role, true, TEXT, b"c"),
            ])
        },
        &[binary(b"\xff\xfe"), text("ab"), text("c")],
        &[],
    );
}

#[test]
fn rfc6455_5_4_continuation_without_message_fails_1002() {
    for fin in [true, false] {
        fails(
            &defaults(),
            |role| frame_to(role, fin, CONT, b"orphan"),
            ProtocolError::UnexpectedContinuation,
        );
    }
    // Also right after a message has ended.
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"a"),
                &frame_to(role, true, CONT, b"b"),
                &frame_to(role, true, CONT, b"c"),
            ])
        },
        &[text("ab")],
        &[],
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn rfc6455_7_1_7_events_before_a_violation_come_first_in_stream_order() {
    // The message and the ping before the bad frame are delivered, the
    // ping answered, and only then the connection fails.
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, TEXT, b"ok"),
                &frame_to(role, true, PING, b"p"),
                &frame_to(role, true, CONT, b"orphan"),
                &frame_to(role, true, TEXT, b"never read"),
            ])
        },
        &[text("ok"), ping(b"p")],
        &[(OpCode::Pong, b"p".to_vec())],
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn rfc6455_7_1_7_a_message_before_a_violation_can_still_be_answered() {
    // What input calls for happens as the events are taken: an answer to
    // the message goes out before the close frame of the failure.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"question"),
            &raw_to(role, FIN | 0x40 | TEXT, b"bad"),
        ]));
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(text("question")));
        assert_eq!(conn.state(), State::Open);
        conn.send(Message::text("answer")).unwrap();
        let got = events(&mut conn);
        check_failure(
            &mut conn,
            got,
            &[],
            &[(OpCode::Text, b"answer".to_vec())],
            ProtocolError::ReservedBits,
        );
    }
}

#[test]
fn rfc6455_5_4_new_data_frame_while_message_open_fails_1002() {
    for (first, second) in [
        (TEXT, TEXT),
        (TEXT, BINARY),
        (BINARY, TEXT),
        (BINARY, BINARY),
    ] {
        for fin in [true, false] {
            fails(
                &defaults(),
                |role| {
                    cat(&[
                        &frame_to(role, false, first, b"a"),
                        &frame_to(role, fin, second, b"b"),
                    ])
                },
                ProtocolError::ExpectedContinuation,
            );
        }
    }
}

#[test]
fn rfc6455_5_4_control_frames_between_fragments_are_delivered() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, "κό".as_bytes()),
                &frame_to(role, true, PING, b"ping 1"),
                &frame_to(role, false, CONT, "σ".as_bytes()),
                &frame_to(role, true, PONG, b"pong"),
                &frame_to(role, true, PING, b""),
                &frame_to(role, true, CONT, "με".as_bytes()),
            ])
        },
        &[ping(b"ping 1"), pong(b"pong"), ping(b""), text("κόσμε")],
        &[
            (OpCode::Pong, b"ping 1".to_vec()),
            (OpCode::Pong, b"".to_vec()),
        ],
    );
}

#[test]
fn rfc6455_5_4_control_frame_between_fragments_splitting_a_code_point() {
    // "€" is e2 82 ac: split between fragments with a ping in between.
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xe2"),
                &frame_to(role, true, PING, b"\xe2"),
                &frame_to(role, false, CONT, b"\x82"),
                &frame_to(role, true, CONT, b"\xac"),
            ])
        },
        &[ping(b"\xe2"), text("€")],
        &[(OpCode::Pong, b"\xe2".to_vec())],
    );
}

#[test]
fn rfc6455_5_4_send_fragment_opcodes() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"Hel", false)
        .unwrap();
    server
        .send_fragment(MessageKind::Text, b"l", false)
        .unwrap();
    server.send_fragment(MessageKind::Text, b"o", true).unwrap();
    server
        .send_fragment(MessageKind::Binary, &[1], false)
        .unwrap();
    server
        .send_fragment(MessageKind::Binary, &[2, 3], true)
        .unwrap();
    server
        .send_fragment(MessageKind::Text, b"one", true)
        .unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[
            b"\x01\x03Hel",
            b"\x00\x01l",
            b"\x80\x01o",
            b"\x02\x01\x01",
            b"\x80\x02\x02\x03",
            b"\x81\x03one",
        ])
    );
    // The same from a client, masked.
    let mut client = Connection::new(Role::Client, defaults());
    client
        .send_fragment(MessageKind::Binary, b"ab", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, b"", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, b"c", true)
        .unwrap();
    let frames = decode_frames(&output(&mut client));
    let wire = |fin, opcode, payload: &[u8]| Wire {
        fin,
        opcode,
        masked: true,
        payload: payload.to_vec(),
    };
    assert_eq!(
        frames,
        [
            wire(false, OpCode::Binary, b"ab"),
            wire(false, OpCode::Continuation, b""),
            wire(true, OpCode::Continuation, b"c"),
        ]
    );
}

#[test]
fn rfc6455_5_4_send_fragment_rejects_out_of_order_use() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"a", false)
        .unwrap();
    output(&mut server);
    // A fragment of another kind, or a whole message, cannot interleave.
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"b", false),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"b", true),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send(Message::text("c")),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send(Message::binary(vec![1])),
        Err(SendError::FragmentOrder)
    );
    assert!(!server.wants_write(), "a rejected call wrote something");
    // Control frames may interleave (RFC 6455 §5.4).
    server.send_ping(b"p").unwrap();
    server.send_fragment(MessageKind::Text, b"d", true).unwrap();
    // After the last fragment, anything goes again.
    server.send(Message::binary(vec![7])).unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[b"\x89\x01p", b"\x80\x01d", b"\x82\x01\x07"])
    );
    // The other way round: binary open, text rejected.
    server
        .send_fragment(MessageKind::Binary, b"x", false)
        .unwrap();
    assert_eq!(
        server.send_fragment(MessageKind::Text, b"y", true),
        Err(SendError::FragmentOrder)
    );
}

// ---------------------------------------------------------------------------
// §5.7 examples, as bytes on the wire
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_7_single_frame_unmasked_text() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [text("Hello")]);
    assert!(!client.wants_write());
    // The same message produced by a server.
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::text("Hello")).unwrap();
    assert_eq!(
        output(&mut server),
        [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
}

#[test]
fn rfc6455_5_7_single_frame_masked_text() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    // The helper agrees with the RFC.
    assert_eq!(client_frame(true, TEXT, b"Hello"), bytes);
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&bytes);
    assert_eq!(events(&mut server), [text("Hello")]);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_7_fragmented_unmasked_text() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!(events(&mut client), []);
    client.handle_input(&[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [text("Hello")]);
}

#[test]
fn rfc6455_5_7_unmasked_ping_and_masked_pong() {
    // A ping "Hello" to a client; its pong is masked.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [ping(b"Hello")]);
    let out = output(&mut client);
    assert_eq!(out.len(), 11);
    assert_eq!(&out[..2], [0x8a, 0x85]);
    let mut payload = out[6..].to_vec();
    apply_mask(&mut payload, [out[2], out[3], out[4], out[5]], 0);
    assert_eq!(payload, b"Hello");
    // The RFC's masked pong "Hello" to a server.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(events(&mut server), [pong(b"Hello")]);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_7_256_bytes_binary_in_a_single_unmasked_frame() {
    let data: Vec<u8> = (0..=255).collect();
    let bytes = cat(&[&[0x82, 0x7e, 0x01, 0x00], &data]);
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&bytes);
    assert_eq!(events(&mut client), [binary(&data)]);
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::binary(data)).unwrap();
    assert_eq!(output(&mut server), bytes);
}

#[test]
fn rfc6455_5_7_64_kib_binary_in_a_single_unmasked_frame() {
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let bytes = cat(&[&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00], &data]);
    let mut client = Connection::new(Role::Client, defaults());
    // In uneven pieces.
    for piece in bytes.chunks(4099) {
        client.handle_input(piece);
    }
    assert_eq!(events(&mut client), [binary(&data)]);
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::binary(data.clone())).unwrap();
    assert_eq!(output(&mut server), bytes);
    // And masked, from a client to a server.
    let mut client = Connection::new(Role::Client, defaults());
    client.send(Message::binary(data.clone())).unwrap();
    let out = output(&mut client);
    assert_eq!(&out[..10], [0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    assert_eq!(out.len(), 14 + 65536);
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&out);
    assert_eq!(events(&mut server), [binary(&data)]);
}

#[test]
fn rfc6455_5_2_a_header_split_after_its_first_byte_is_read_as_one_header() {
    // The masked frame "hi" with the key 81 01 02 03: after its first byte,
    // the rest (82 81 01 02 03 e9 68) looks like a whole frame of its own
    // (FIN, binary, masked, one byte). It is the rest of a header, not a
    // frame: the message is "hi".
    let key = [0x81, 0x01, 0x02, 0x03];
    let wire = raw_frame(FIN | BINARY, Some(key), b"hi");
    assert_eq!(
        wire,
        [0x82, 0x82, 0x81, 0x01, 0x02, 0x03, b'h' ^ 0x81, b'i' ^ 0x01]
    );
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&wire[..1]);
    assert_eq!(events(&mut server), []);
    server.handle_input(&wire[1..]);
    assert_eq!(events(&mut server), [binary(b"hi")]);
}

// ---------------------------------------------------------------------------
// Output buffer
// ---------------------------------------------------------------------------

#[test]
fn output_can_be_consumed_in_pieces() {
    let mut server = Connection::new(Role::Server, defaults());
    assert!(!server.wants_write());
    server.send(Message::text("Hello")).unwrap();
    assert!(server.wants_write());
    server.consume_output(3);
    assert_eq!(server.pending_output(), b"ello");
    server.send(Message::text("!")).unwrap();
    assert_eq!(server.pending_output(), b"ello\x81\x01!");
    server.consume_output(100);
    assert_eq!(server.pending_output(), b"");
    assert!(!server.wants_write());
    server.send_ping(b"").unwrap();
    assert_eq!(server.pending_output(), b"\x89\x00");
}
