use super::*;

// ---------------------------------------------------------------------------
// Limits: max_frame_size and max_message_size (close code 1009)
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_7_4_1_frame_over_max_frame_size_fails_1009_on_the_header() {
    let config = Config::default().max_frame_size(100);
    let error = ProtocolError::FrameTooLarge {
        size: 101,
        limit: 100,
    };
    for role in ROLES {
        // Only the header: the payload never needs to arrive.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&header_to(role, FIN | BINARY, 101));
        assert_failed(&mut conn, error.clone());
    }
    fails(
        &config,
        |role| frame_to(role, true, TEXT, &[b'a'; 101]),
        error.clone(),
    );
    // A continuation over the limit, after a fragment within it.
    fails(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, &[1; 100]),
                &header_to(role, CONT, 101),
            ])
        },
        error,
    );
}

#[test]
fn rfc6455_7_4_1_frames_at_max_frame_size_are_accepted() {
    // The limit is per frame: a message of two full frames is fine.
    let config = Config::default().max_frame_size(100);
    accepts(
        &config,
        |role| {
            cat(&[
                &frame_to(role, true, BINARY, &[7; 100]),
                &frame_to(role, false, TEXT, &[b'a'; 100]),
                &frame_to(role, true, CONT, &[b'b'; 100]),
            ])
        },
        &[
            binary(&[7; 100]),
            text(&format!("{}{}", "a".repeat(100), "b".repeat(100))),
        ],
        &[],
    );
}

#[test]
fn rfc6455_7_4_1_message_over_max_message_size_fails_1009() {
    let config = Config::default().max_message_size(10);
    for role in ROLES {
        // Fails on the header of the fragment that would go over.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"01234"));
        assert_eq!(events(&mut conn), []);
        conn.handle_input(&header_to(role, FIN | CONT, 6));
        assert_failed(
            &mut conn,
            ProtocolError::MessageTooLarge {
                size: 11,
                limit: 10,
            },
        );
    }
    fails_after(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"0123"),
                &frame_to(role, false, CONT, b"456"),
                &frame_to(role, true, PING, b"control frames do not count"),
                &frame_to(role, true, CONT, b"7890"),
            ])
        },
        &[ping(b"control frames do not count")],
        &[(OpCode::Pong, b"control frames do not count".to_vec())],
        ProtocolError::MessageTooLarge {
            size: 11,
            limit: 10,
        },
    );
    fails(
        &config,
        |role| frame_to(role, true, TEXT, b"0123456789a"),
        ProtocolError::MessageTooLarge {
            size: 11,
            limit: 10,
        },
    );
}

#[test]
fn rfc6455_7_4_1_message_of_exactly_max_message_size_is_accepted() {
    let config = Config::default().max_message_size(10);
    accepts(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"012"),
                &frame_to(role, true, PING, b"not counted"),
                &frame_to(role, false, CONT, b"345"),
                &frame_to(role, true, CONT, b"6789"),
                // The count starts again with each message.
                &frame_to(role, true, BINARY, b"0123456789"),
            ])
        },
        &[
            ping(b"not counted"),
            text("0123456789"),
            binary(b"0123456789"),
        ],
        &[(OpCode::Pong, b"not counted".to_vec())],
    );
}

#[test]
fn rfc6455_7_4_1_frame_announcing_2_pow_62_bytes_fails_1009_on_the_header() {
    let error = ProtocolError::FrameTooLarge {
        size: 1 << 62,
        limit: Config::default().max_frame_size,
    };
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&header_to(role, FIN | BINARY, 1 << 62));
        assert_failed(&mut conn, error.clone());
    }
    // Also as a continuation of an open message.
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&cat(&[
        &client_frame(false, TEXT, b"a"),
        &header_to(Role::Server, CONT, (1 << 63) - 1),
    ]));
    assert_failed(
        &mut conn,
        ProtocolError::FrameTooLarge {
            size: (1 << 63) - 1,
            limit: Config::default().max_frame_size,
        },
    );
}

// ---------------------------------------------------------------------------
// Config::stream_fragments
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_one_message(frags: &[Fragment], kind: MessageKind, data: &[u8]) {
    assert!(!frags.is_empty());
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.kind, kind, "fragment {i}");
        assert_eq!(f.first, i == 0, "fragment {i}");
        assert_eq!(f.last, i == frags.len() - 1, "fragment {i}");
    }
    let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
    assert_eq!(joined, data);
}

#[test]
fn config_stream_fragments_delivers_pieces_in_order() {
    let message = "κόσμε a€𝄞 ✓, streamed in pieces".as_bytes();
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        // A cut in the middle of "ό": a piece may end inside a character.
        let input = cat(&[
            &frame_to(role, false, TEXT, &message[..3]),
            &frame_to(role, true, CONT, &message[3..]),
        ]);
        for chunk in 1..=input.len() {
            let mut conn = Connection::new(role, config.clone());
            let mut evs = Vec::new();
            for piece in input.chunks(chunk) {
                conn.handle_input(piece);
                evs.extend(events(&mut conn));
            }
            let frags = fragments(evs);
            assert_one_message(&frags, MessageKind::Text, message);
            // No empty pieces here: each one carries data.
            assert!(frags.iter().all(|f| !f.data.is_empty()), "{frags:?}");
            assert!(!conn.wants_write());
            if chunk == input.len() {
                // Fed whole: one piece per frame.
                assert_eq!(frags.len(), 2);
                assert_eq!(frags[0].data, &message[..3]);
            }
        }
    }
}

#[test]
fn config_stream_fragments_binary_with_interleaved_ping() {
    let config = Config::default().stream_fragments(true);
    let data: Vec<u8> = (0..200).map(|i| (i * 7) as u8).collect();
    for role in ROLES {
        let input = cat(&[
            &frame_to(role, false, BINARY, &data[..150]),
            &frame_to(role, true, PING, b"p"),
            &frame_to(role, false, CONT, b""),
            &frame_to(role, true, CONT, &data[150..]),
            &frame_to(role, true, BINARY, b""),
        ]);
        for chunk in [1, 2, 5, 64, input.len()] {
            let mut conn = Connection::new(role, config.clone());
            let mut evs = Vec::new();
            for piece in input.chunks(chunk) {
                conn.handle_input(piece);
                evs.extend(events(&mut conn));
            }
            let ping_at = evs.iter().position(|e| *e == ping(b"p")).unwrap();
            evs.remove(ping_at);
            // The empty message is one empty piece, first and last.
            let empty = evs.pop().unwrap();
            assert_eq!(
                empty,
                Event::Fragment(Fragment {
                    kind: MessageKind::Binary,
                    data: Bytes::new(),
                    first: true,
                    last: true,
                })
            );
            let frags = fragments(evs);
            // The ping came after the first frame's data, before the rest.
            let before: usize = frags[..ping_at].iter().map(|f| f.data.len()).sum();
            assert_eq!(before, 150, "chunk {chunk}");
            assert_one_message(&frags, MessageKind::Binary, &data);
            assert_eq!(sent(&mut conn), [(OpCode::Pong, b"p".to_vec())]);
        }
    }
}

#[test]
fn config_stream_fragments_never_delivers_whole_messages() {
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, true, TEXT, b"whole"));
        assert_eq!(
            events(&mut conn),
            [Event::Fragment(Fragment {
                kind: MessageKind::Text,
                data: Bytes::from_static(b"whole"),
                first: true,
                last: true,
            })]
        );
    }
}

#[test]
fn config_stream_fragments_invalid_utf8_still_fails_1007() {
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        // The first fragment is delivered; the bad byte then fails.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xed"));
        let frags = fragments(events(&mut conn));
        assert_eq!(frags.len(), 1);
        assert_eq!(frags[0].data, &b"ok\xed"[..]);
        conn.handle_input(&frame_to(role, true, CONT, b"\xa0\x80"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        // A truncated sequence at the end of the message.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xe2"));
        assert_eq!(events(&mut conn).len(), 1);
        conn.handle_input(&frame_to(role, true, CONT, b"\x82"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        // Fail-fast inside a frame that is not complete.
        let mut conn = Connection::new(role, config.clone());
        let frame = frame_to(role, true, TEXT, b"\xff and more");
        conn.handle_input(&frame[..frame.len() - 5]);
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
}

#[test]
fn config_stream_fragments_respects_max_message_size() {
    let config = Config::default().stream_fragments(true).max_message_size(4);
    for role in ROLES {
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, BINARY, b"12"));
        let frags = fragments(events(&mut conn));
        assert_one_message_start(&frags, MessageKind::Binary, b"12");
        // The header of the fragment that goes over is enough.
        conn.handle_input(&header_to(role, FIN | CONT, 3));
        assert_failed(
            &mut conn,
            ProtocolError::MessageTooLarge { size: 5, limit: 4 },
        );
    }
}

/// The pieces start a message and have not ended it.
#[track_caller]
fn assert_one_message_start(frags: &[Fragment], kind: MessageKind, data: &[u8]) {
    assert!(!frags.is_empty());
    for (i, f) in frags.iter().enumerate() {
        assert_eq!((f.kind, f.first, f.last), (kind, i == 0, false), "{i}");
    }
    let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
    assert_eq!(joined, data);
}
