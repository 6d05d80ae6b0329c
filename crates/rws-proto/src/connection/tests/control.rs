use super::*;

// ---------------------------------------------------------------------------
// §5.5: control frames
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_5_control_frame_with_fin_clear_fails_1002() {
    for opcode in [PING, PONG, CLOSE] {
        eprintln!("opcode {opcode:#x}");
        fails(
            &defaults(),
            |role| frame_to(role, false, opcode, b""),
            ProtocolError::FragmentedControlFrame,
        );
        // Also in the middle of a fragmented message.
        fails(
            &defaults(),
            |role| {
                cat(&[
                    &frame_to(role, false, TEXT, b"a"),
                    &frame_to(role, false, opcode, b"b"),
                ])
            },
            ProtocolError::FragmentedControlFrame,
        );
    }
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_fails_1002() {
    for opcode in [PING, PONG, CLOSE] {
        for len in [126usize, 127, 0xffff, 0x10000] {
            eprintln!("opcode {opcode:#x} len {len}");
            let mut payload = close_payload(1000, b"");
            payload.resize(len, b'a');
            fails(
                &defaults(),
                |role| frame_to(role, true, opcode, &payload),
                ProtocolError::ControlFrameTooLong(len as u64),
            );
        }
    }
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_fails_on_the_header() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&header_to(role, FIN | PING, 126));
        assert_failed(&mut conn, ProtocolError::ControlFrameTooLong(126));
    }
}

#[test]
fn rfc6455_5_5_control_frames_of_125_bytes_are_accepted() {
    let payload: Vec<u8> = (0..125).collect();
    let reason = "r".repeat(123);
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PING, &payload),
                &frame_to(role, true, PONG, &payload),
                &frame_to(role, true, CLOSE, &close_payload(1000, reason.as_bytes())),
            ])
        },
        &[
            ping(&payload),
            pong(&payload),
            close_received(1000, &reason),
            closed(1000, &reason, Initiator::Remote),
        ],
        &[
            (OpCode::Pong, payload.clone()),
            (OpCode::Close, close_payload(1000, b"")),
        ],
    );
}

#[test]
fn rfc6455_5_5_2_ping_is_answered_with_identical_pong() {
    // Server: exact bytes of the unmasked pong.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut server), [ping(b"Hello")]);
    assert_eq!(output(&mut server), b"\x8a\x05Hello");
    server.handle_input(&client_frame(true, PING, b""));
    assert_eq!(events(&mut server), [ping(b"")]);
    assert_eq!(output(&mut server), b"\x8a\x00");
    let binary_payload: Vec<u8> = (0..125).map(|i| 255 - i).collect();
    server.handle_input(&client_frame(true, PING, &binary_payload));
    assert_eq!(events(&mut server), [ping(&binary_payload)]);
    assert_eq!(output(&mut server), cat(&[b"\x8a\x7d", &binary_payload]));
    assert_eq!(server.state(), State::Open);
    // Client: masked pong with the same payload.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&server_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut client), [ping(b"Hello")]);
    let out = output(&mut client);
    assert_eq!(&out[..2], [0x8a, 0x85]);
    assert_eq!(
        sent_bytes(Role::Client, &out),
        [(OpCode::Pong, b"Hello".to_vec())]
    );
}

#[test]
fn rfc6455_5_5_2_each_ping_gets_its_own_pong() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PING, b"1"),
                &frame_to(role, true, PING, b"2"),
                &frame_to(role, true, PING, b"3"),
            ])
        },
        &[ping(b"1"), ping(b"2"), ping(b"3")],
        &[
            (OpCode::Pong, b"1".to_vec()),
            (OpCode::Pong, b"2".to_vec()),
            (OpCode::Pong, b"3".to_vec()),
        ],
    );
}

#[test]
fn rfc6455_5_5_3_while_output_waits_only_the_latest_pong_is_kept() {
    // A peer that floods pings without reading cannot grow the output: once
    // 4 KiB wait, the held-back pong is replaced, and goes out before the
    // next frame.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        let waiting = conn.pending_output_len();
        for i in 0..1000u32 {
            conn.handle_input(&frame_to(role, true, PING, &i.to_be_bytes()));
        }
        let evs = events(&mut conn);
        assert_eq!(evs.len(), 1000);
        assert_eq!(conn.pending_output_len(), waiting, "no pong appended");
        conn.send(Message::text("after")).unwrap();
        let frames = sent(&mut conn);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1], (OpCode::Pong, 999u32.to_be_bytes().to_vec()));
        assert_eq!(frames[2], (OpCode::Text, b"after".to_vec()));
        // With nothing else to send, a held-back pong goes out once the
        // output drains.
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        conn.handle_input(&frame_to(role, true, PING, b"x"));
        conn.handle_input(&frame_to(role, true, PING, b"y"));
        assert_eq!(events(&mut conn), [ping(b"x"), ping(b"y")]);
        // Draining the message releases the pong, which follows it.
        let frames = sent(&mut conn);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], (OpCode::Pong, b"y".to_vec()));
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_5_5_3_a_held_back_pong_never_follows_a_newer_one() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        conn.handle_input(&frame_to(role, true, PING, b"A"));
        assert_eq!(events(&mut conn), [ping(b"A")]);
        // Part of the output is written: below the backlog, B's pong is
        // appended at once and A's, now stale, is dropped.
        let n = conn.pending_output_len() - 100;
        conn.consume_output(n);
        conn.handle_input(&frame_to(role, true, PING, b"B"));
        assert_eq!(events(&mut conn), [ping(b"B")]);
        let rest = output(&mut conn);
        assert!(rest.len() < 120, "{} bytes", rest.len());
        assert_eq!(sent(&mut conn), []);
        assert!(!conn.wants_write());
        // What was written last is the pong to B.
        let pong_b = &rest[rest.len() - if role == Role::Client { 7 } else { 3 }..];
        assert_eq!(pong_b[0], 0x8a);
    }
}

#[test]
fn consume_output_past_the_end_is_harmless() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::text("hello")).unwrap();
        let all = conn.pending_output().to_vec();
        conn.consume_output(1);
        conn.consume_output(usize::MAX);
        assert!(!conn.wants_write());
        assert_eq!(conn.pending_output(), b"");
        conn.send(Message::text("again")).unwrap();
        assert_eq!(conn.pending_output().len(), all.len());
    }
}

#[test]
fn rfc6455_5_5_2_pongs_below_the_backlog_are_all_sent() {
    // Autobahn 2.10: ten pings in one read get ten pongs, even when the
    // output is drained only after all events are taken.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        let mut input = Vec::new();
        for i in 0..10u8 {
            input.extend(frame_to(role, true, PING, &[i; 125]));
        }
        conn.handle_input(&input);
        assert_eq!(events(&mut conn).len(), 10);
        let pongs: Vec<_> = (0..10u8).map(|i| (OpCode::Pong, vec![i; 125])).collect();
        assert_eq!(sent(&mut conn), pongs);
    }
}

#[test]
fn rfc6455_5_5_2_pong_is_queued_when_the_ping_event_is_taken() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, PING, b"a"),
            &frame_to(role, true, PING, b"b"),
        ]));
        // Parsed, but not applied until taken.
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(ping(b"a")));
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"a".to_vec())]);
        assert_eq!(conn.poll_event(), Some(ping(b"b")));
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"b".to_vec())]);
        assert_eq!(conn.poll_event(), None);
    }
}

#[test]
fn rfc6455_5_5_2_no_pong_after_a_local_close_sent_before_the_ping_was_taken() {
    // The ping was parsed, then this end closed: the close frame stays the
    // last frame sent.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, PING, b"p"));
        conn.close(None).unwrap();
        assert_eq!(events(&mut conn), [ping(b"p")]);
        assert_eq!(sent(&mut conn), [(OpCode::Close, vec![])]);
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_5_3_unsolicited_pong_is_delivered_without_reply() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PONG, b"heartbeat"),
                &frame_to(role, true, PONG, b""),
            ])
        },
        &[pong(b"heartbeat"), pong(b"")],
        &[],
    );
}

#[test]
fn rfc6455_5_5_ping_and_pong_payloads_over_125_bytes_cannot_be_sent() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        assert_eq!(
            conn.send_ping(&[0; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            conn.send_pong(&[0; 200]),
            Err(SendError::ControlPayloadTooLong(200))
        );
        assert!(!conn.wants_write());
        conn.send_ping(&[1; 125]).unwrap();
        conn.send_pong(&[2; 125]).unwrap();
        assert_eq!(
            sent(&mut conn),
            [(OpCode::Ping, vec![1; 125]), (OpCode::Pong, vec![2; 125])]
        );
        assert_eq!(conn.state(), State::Open);
    }
}
