use super::*;

// ---------------------------------------------------------------------------
// §8.1, §5.6: UTF-8 in text messages
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_8_1_invalid_utf8_text_fails_1007() {
    let bad: [&[u8]; 7] = [
        b"\xff",
        b"\x80",
        b"\xc0\xaf",                 // overlong
        b"\xed\xa0\x80",             // a surrogate
        b"\xf4\x90\x80\x80",         // over U+10FFFF
        b"ok\xe2\x82(",              // a truncated sequence, then more
        b"\xce\xba\xe1\xbd\xb9\xcf", // a truncated sequence at the end
    ];
    for payload in bad {
        eprintln!("payload {payload:?}");
        fails(
            &defaults(),
            |role| frame_to(role, true, TEXT, payload),
            ProtocolError::InvalidUtf8,
        );
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_fast_before_the_frame_completes() {
    // A 20-byte text frame; its first 10 bytes hold "\xf4\x90", which no
    // continuation can make valid.
    let payload = b"hello\xf4\x90\x80\x80 and the rest";
    let payload = &payload[..20];
    for role in ROLES {
        let frame = frame_to(role, true, TEXT, payload);
        let header_len = frame.len() - 20;
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame[..header_len + 10]);
        // The failure is decided before the other 10 bytes arrive: the
        // terminal event is there, and taking it queues the close 1007.
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        conn.handle_input(&frame[header_len + 10..]);
        assert_eq!(events(&mut conn), []);
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_on_the_first_bad_byte() {
    // Fed one byte at a time, the failure comes with the 0x90 after 0xf4,
    // while the frame (and the message) are far from complete.
    for role in ROLES {
        let payload = b"ab\xf4\x90cdefgh";
        let frame = frame_to(role, false, TEXT, payload);
        let header_len = frame.len() - payload.len();
        let mut conn = Connection::new(role, defaults());
        for (i, byte) in frame.iter().enumerate() {
            conn.handle_input(std::slice::from_ref(byte));
            if i < header_len + 3 {
                assert_eq!(events(&mut conn), [], "byte {i}");
                assert!(!conn.wants_write());
            } else {
                assert_failed(&mut conn, ProtocolError::InvalidUtf8);
                break;
            }
        }
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_split_across_fragments_fails_1007() {
    // "\xed" then "\xa0\x80": a surrogate, each half harmless alone.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, false, TEXT, b"a\xed"));
        assert_eq!(events(&mut conn), []);
        assert!(!conn.wants_write());
        conn.handle_input(&frame_to(role, true, CONT, b"\xa0\x80"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xf0"),
                &frame_to(role, false, CONT, b"\x9d"),
                &frame_to(role, true, PING, b""),
                &frame_to(role, false, CONT, b"\x84"),
                &frame_to(role, true, CONT, b"\x9e\xff"),
            ])
        },
        &[ping(b"")],
        &[(OpCode::Pong, vec![])],
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_even_if_the_message_would_continue() {
    // The bad byte is in a non-final fragment: no need to wait for the end.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xc3\x28"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
}

#[test]
fn rfc6455_8_1_truncated_code_point_at_end_of_message_fails_1007() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"ok"),
                &frame_to(role, true, CONT, b"\xe2\x82"),
            ])
        },
        ProtocolError::InvalidUtf8,
    );
    // The last fragment is empty and the one before ends mid-sequence.
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"ok\xf0\x9f"),
                &frame_to(role, true, CONT, b""),
            ])
        },
        ProtocolError::InvalidUtf8,
    );
    // A single frame.
    fails(
        &defaults(),
        |role| frame_to(role, true, TEXT, b"\xc3"),
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn rfc6455_8_1_truncated_code_point_is_not_carried_into_the_next_message() {
    // A truncated sequence fails its own message; it must not complete with
    // the start of the next one. Check the converse too: a complete
    // message leaves no state behind.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, "€".as_bytes()),
            &frame_to(role, true, TEXT, b"\xe2\x82"),
        ]));
        let evs = events(&mut conn);
        assert_eq!(evs[0], text("€"));
        assert_eq!(evs[1..], [failure(ProtocolError::InvalidUtf8)]);
    }
}

#[test]
fn rfc6455_8_1_valid_text_split_at_every_byte_boundary() {
    let message = "κόσμε a€𝄞 ✓ é";
    let bytes = message.as_bytes();
    for role in ROLES {
        for cut in 0..=bytes.len() {
            let input = cat(&[
                &frame_to(role, false, TEXT, &bytes[..cut]),
                &frame_to(role, true, CONT, &bytes[cut..]),
            ]);
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&input);
            assert_eq!(events(&mut conn), [text(message)], "{role:?} cut {cut}");
            assert!(!conn.wants_write());
            // And one byte at a time.
            let mut conn = Connection::new(role, defaults());
            let mut got = Vec::new();
            for byte in &input {
                conn.handle_input(std::slice::from_ref(byte));
                got.extend(events(&mut conn));
            }
            assert_eq!(got, [text(message)], "{role:?} cut {cut} bytewise");
        }
    }
}

#[test]
fn rfc6455_8_1_binary_messages_are_not_utf8_checked() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, BINARY, b"\xff\xfe\xed\xa0\x80"),
                &frame_to(role, false, BINARY, b"\xe2"),
                &frame_to(role, true, CONT, b""),
            ])
        },
        &[binary(b"\xff\xfe\xed\xa0\x80"), binary(b"\xe2")],
        &[],
    );
}

#[test]
fn rfc6455_8_1_ping_payloads_are_not_utf8_checked() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xe2"),
                &frame_to(role, true, PING, b"\xff"),
                &frame_to(role, true, CONT, b"\x82\xac"),
            ])
        },
        &[ping(b"\xff"), text("€")],
        &[(OpCode::Pong, b"\xff".to_vec())],
    );
}
