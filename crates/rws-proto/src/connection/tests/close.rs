use super::*;

// ---------------------------------------------------------------------------
// §5.5.1, §7: the close handshake initiated by the peer
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_5_1_peer_close_is_echoed_and_closes_cleanly() {
    // Server: exact reply bytes, code 1000 echoed without the reason.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, CLOSE, &close_payload(1000, b"bye")));
    assert_eq!(
        events(&mut server),
        [
            close_received(1000, "bye"),
            closed(1000, "bye", Initiator::Remote)
        ]
    );
    assert_eq!(output(&mut server), [0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(server.state(), State::Closed);
    // Client: the same, masked.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&server_frame(true, CLOSE, &close_payload(1001, b"going")));
    assert_eq!(
        events(&mut client),
        [
            close_received(1001, "going"),
            closed(1001, "going", Initiator::Remote)
        ]
    );
    assert_eq!(
        sent(&mut client),
        [(OpCode::Close, close_payload(1001, b""))]
    );
    assert_eq!(client.state(), State::Closed);
    for conn in [&mut server, &mut client] {
        // No data after close (RFC 6455 §5.5.1), in either direction.
        assert_eq!(conn.send(Message::text("late")), Err(SendError::Closed));
        assert_eq!(conn.send_ping(b""), Err(SendError::Closed));
        assert_eq!(conn.send_pong(b""), Err(SendError::Closed));
        assert_eq!(
            conn.send_fragment(MessageKind::Text, b"x", true),
            Err(SendError::Closed)
        );
        // close() after the handshake is a no-op.
        assert_eq!(conn.close(None), Ok(()));
        let role = conn.role();
        conn.handle_input(&frame_to(role, true, TEXT, b"late"));
        conn.handle_input(&frame_to(role, true, PING, b"late"));
        conn.handle_eof();
        assert_eq!(events(conn), []);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_5_5_1_a_message_before_the_peer_close_can_still_be_answered() {
    // The reply to the close is written as its event is taken, so data
    // sent in answer to an earlier message goes out before it.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"last words"),
            &frame_to(role, true, CLOSE, &close_payload(1000, b"")),
            &frame_to(role, true, TEXT, b"after close"),
        ]));
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(text("last words")));
        conn.send(Message::text("noted")).unwrap();
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, ""),
                closed(1000, "", Initiator::Remote)
            ]
        );
        assert_eq!(
            sent(&mut conn),
            [
                (OpCode::Text, b"noted".to_vec()),
                (OpCode::Close, close_payload(1000, b"")),
            ]
        );
        assert_eq!(conn.send(Message::text("late")), Err(SendError::Closed));
    }
}

#[test]
fn rfc6455_7_1_3_local_close_before_the_peer_close_event_is_taken() {
    // Both ends closed at once: the peer's close answers ours, no reply.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1001, b"")));
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
            .unwrap();
        assert_eq!(
            events(&mut conn),
            [close_received(1001, ""), closed(1001, "", Initiator::Local)]
        );
        assert_eq!(sent(&mut conn), [(OpCode::Close, close_payload(1000, b""))]);
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_empty_close_is_answered_with_empty_close_code_1005() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, CLOSE, b""));
    assert_eq!(
        events(&mut server),
        [
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Remote)
        ]
    );
    assert_eq!(output(&mut server), [0x88, 0x00]);
    assert_eq!(server.state(), State::Closed);
    accepts(
        &defaults(),
        |role| frame_to(role, true, CLOSE, b""),
        &[
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Remote),
        ],
        &[(OpCode::Close, vec![])],
    );
}

#[test]
fn rfc6455_5_5_1_close_in_the_middle_of_a_fragmented_message() {
    // The unfinished message is dropped; the close is answered.
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"never"),
                &frame_to(role, true, CLOSE, &close_payload(1001, b"")),
                &frame_to(role, true, CONT, b" finished"),
            ])
        },
        &[
            close_received(1001, ""),
            closed(1001, "", Initiator::Remote),
        ],
        &[(OpCode::Close, close_payload(1001, b""))],
    );
}

#[test]
fn rfc6455_5_5_1_close_payload_of_one_byte_fails_1002() {
    fails(
        &defaults(),
        |role| frame_to(role, true, CLOSE, b"\x03"),
        ProtocolError::InvalidCloseLength,
    );
}

#[test]
fn rfc6455_7_4_invalid_close_codes_fail_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        eprintln!("code {code}");
        fails(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(code, b"")),
            ProtocolError::InvalidCloseCode(code),
        );
    }
}

#[test]
fn rfc6455_7_4_valid_close_codes_are_accepted() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        eprintln!("code {code}");
        accepts(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(code, b"why")),
            &[
                close_received(code, "why"),
                closed(code, "why", Initiator::Remote),
            ],
            &[(OpCode::Close, close_payload(code, b""))],
        );
    }
}

#[test]
fn rfc6455_5_5_1_close_reason_with_invalid_utf8_fails_1007() {
    for reason in [&b"\xff"[..], b"ok\xe2\x82", b"\xed\xa0\x80"] {
        fails(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(1000, reason)),
            ProtocolError::InvalidCloseReason,
        );
    }
    // Valid multi-byte reasons are fine.
    accepts(
        &defaults(),
        |role| frame_to(role, true, CLOSE, &close_payload(1000, "ciao €".as_bytes())),
        &[
            close_received(1000, "ciao €"),
            closed(1000, "ciao €", Initiator::Remote),
        ],
        &[(OpCode::Close, close_payload(1000, b""))],
    );
}

// ---------------------------------------------------------------------------
// §7.1.2: the close handshake initiated locally
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_7_1_2_local_close_queues_the_frame_and_enters_closing() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "done")))
        .unwrap();
    assert_eq!(server.state(), State::Closing);
    assert_eq!(output(&mut server), b"\x88\x06\x03\xe8done");
    assert_eq!(events(&mut server), []);
    // No data after the close frame (RFC 6455 §5.5.1).
    assert_eq!(server.send(Message::text("x")), Err(SendError::Closed));
    assert_eq!(
        server.send(Message::binary(vec![1])),
        Err(SendError::Closed)
    );
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"x", false),
        Err(SendError::Closed)
    );
    assert_eq!(server.send_ping(b"x"), Err(SendError::Closed));
    assert_eq!(server.send_pong(b"x"), Err(SendError::Closed));
    assert!(!server.wants_write());
    // The client role masks its close frame.
    let mut client = Connection::new(Role::Client, defaults());
    client.close(None).unwrap();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(sent(&mut client), [(OpCode::Close, vec![])]);
}

#[test]
fn rfc6455_7_1_2_empty_local_close() {
    let mut server = Connection::new(Role::Server, defaults());
    server.close(None).unwrap();
    assert_eq!(output(&mut server), [0x88, 0x00]);
    server.handle_input(&client_frame(true, CLOSE, b""));
    assert_eq!(
        events(&mut server),
        [
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Local)
        ]
    );
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_7_1_2_peer_close_reply_completes_a_local_close() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")))
            .unwrap();
        assert_eq!(
            sent(&mut conn),
            [(OpCode::Close, close_payload(1001, b"bye"))]
        );
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"ok")));
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, "ok"),
                closed(1000, "ok", Initiator::Local)
            ]
        );
        // No second close frame is sent.
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_5_5_1_data_received_while_closing_is_discarded() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        // A message starts before the close and ends after it.
        conn.handle_input(&frame_to(role, false, TEXT, b"before "));
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&cat(&[
            &frame_to(role, true, CONT, b"close"),
            &frame_to(role, true, TEXT, b"text"),
            &frame_to(role, false, BINARY, b"bin"),
            &frame_to(role, true, PONG, b"pong"),
            &frame_to(role, true, CONT, b"ary"),
        ]));
        assert_eq!(events(&mut conn), [pong(b"pong")]);
        assert_eq!(conn.state(), State::Closing);
        // The close frame is the last frame sent.
        assert!(!conn.wants_write());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        assert_eq!(
            events(&mut conn),
            [close_received(1000, ""), closed(1000, "", Initiator::Local)]
        );
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_5_5_1_nothing_is_sent_after_the_close_frame_even_for_a_ping() {
    // A ping that arrives after this end sent its close frame is reported,
    // but no pong follows the close frame: it stays the last frame sent.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, PING, b"late"));
        assert_eq!(events(&mut conn), [ping(b"late")]);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_4_fragmentation_rules_still_hold_while_closing() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, CONT, b"orphan"));
        // The close frame was already sent: none is sent again.
        let error = ProtocolError::UnexpectedContinuation;
        assert_eq!(events(&mut conn), [failure(error)]);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_2_invalid_close_frame_reply_while_closing_fails() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1005, b"")));
        assert_eq!(
            events(&mut conn),
            [failure(ProtocolError::InvalidCloseCode(1005))]
        );
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_2_calling_close_twice_is_a_no_op() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
            .unwrap();
        output(&mut conn);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "again"))),
            Ok(())
        );
        assert_eq!(conn.close(None), Ok(()));
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closing);
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_7_4_local_close_rejects_unsendable_codes_and_long_reasons() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert_eq!(
                conn.close(Some(CloseFrame::new(CloseCode::from(code), ""))),
                Err(SendError::InvalidCloseCode(code))
            );
        }
        let long = "x".repeat(124);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::NORMAL, long))),
            Err(SendError::CloseReasonTooLong(124))
        );
        // Multi-byte: 62 two-byte characters are 124 bytes.
        let long = "é".repeat(62);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::NORMAL, long))),
            Err(SendError::CloseReasonTooLong(124))
        );
        // Nothing happened.
        assert_eq!(conn.state(), State::Open);
        assert!(!conn.wants_write());
        conn.send(Message::text("still open")).unwrap();
        // 123 bytes is the limit and works.
        let max = "y".repeat(123);
        conn.close(Some(CloseFrame::new(CloseCode::from(4999), max.clone())))
            .unwrap();
        assert_eq!(
            sent(&mut conn),
            [
                (OpCode::Text, b"still open".to_vec()),
                (OpCode::Close, close_payload(4999, max.as_bytes())),
            ]
        );
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_4_close_may_interrupt_a_fragmented_send() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"half", false)
        .unwrap();
    server.close(None).unwrap();
    assert_eq!(
        server.send_fragment(MessageKind::Text, b" more", true),
        Err(SendError::Closed)
    );
    assert_eq!(output(&mut server), cat(&[b"\x01\x04half", b"\x88\x00"]));
}

// ---------------------------------------------------------------------------
// §7.1.5: the transport ends
// ---------------------------------------------------------------------------

fn abnormal() -> Event {
    Event::Closed(Closed {
        code: CloseCode::ABNORMAL,
        reason: Utf8Bytes::default(),
        initiator: Initiator::Remote,
        clean: false,
        error: None,
    })
}

#[test]
fn rfc6455_7_1_5_eof_before_close_is_abnormal_1006() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, TEXT, b"hi"));
        // Half a frame is pending when the transport ends.
        conn.handle_input(&frame_to(role, false, TEXT, b"half")[..3]);
        conn.handle_eof();
        assert_eq!(events(&mut conn), [text("hi"), abnormal()]);
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.wants_write());
        // Only once.
        conn.handle_eof();
        conn.handle_input(&frame_to(role, true, TEXT, b"late"));
        assert_eq!(events(&mut conn), []);
        assert_eq!(conn.send(Message::text("x")), Err(SendError::Closed));
    }
}

#[test]
fn rfc6455_7_1_5_eof_after_a_clean_close_adds_no_event() {
    for role in ROLES {
        // Closed by the peer.
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        assert_eq!(events(&mut conn).len(), 2);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
        // Closed by this end.
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_input(&frame_to(role, true, CLOSE, b""));
        assert_eq!(events(&mut conn).len(), 2);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
        // Failed.
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&raw_to(role, 0x83, b""));
        assert_eq!(events(&mut conn).len(), 1);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_7_1_5_eof_after_queued_events_comes_last() {
    // Events already parsed come before the abnormal end.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"one"),
            &frame_to(role, true, PING, b"two"),
        ]));
        conn.handle_eof();
        assert_eq!(events(&mut conn), [text("one"), ping(b"two"), abnormal()]);
        // The ping came before the end, so it was answered.
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"two".to_vec())]);
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_eof_right_after_the_peer_close_frame_is_clean() {
    // The close frame arrived, then the transport ended, before any event
    // was taken: the close handshake still counts.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        conn.handle_eof();
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, ""),
                closed(1000, "", Initiator::Remote)
            ]
        );
        assert_eq!(sent(&mut conn), [(OpCode::Close, close_payload(1000, b""))]);
    }
}

#[test]
fn rfc6455_7_1_5_eof_while_closing_is_abnormal_1006() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_eof();
        let evs = events(&mut conn);
        assert_eq!(evs.len(), 1);
        let Event::Closed(c) = &evs[0] else {
            panic!("expected Closed, got {evs:?}");
        };
        assert_eq!(
            (c.code, c.clean, &c.error),
            (CloseCode::ABNORMAL, false, &None)
        );
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_eof_while_closing_keeps_the_local_initiator() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_eof();
        let evs = events(&mut conn);
        let Some(Event::Closed(c)) = evs.first() else {
            panic!("expected Closed, got {evs:?}");
        };
        assert_eq!(c.initiator, Initiator::Local);
    }
}

// ---------------------------------------------------------------------------
// A client and a server talking to each other
// ---------------------------------------------------------------------------

/// Sends messages both ways, a ping each way, then closes from `closer`.
fn conversation(closer: Role) {
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());

    client.send(Message::text("hello, server")).unwrap();
    client.send(Message::binary(vec![0, 1, 2])).unwrap();
    client
        .send_fragment(MessageKind::Text, &"κό".as_bytes()[..3], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, &"κό".as_bytes()[3..], true)
        .unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        events(&mut server),
        [text("hello, server"), binary(&[0, 1, 2]), text("κό")]
    );
    assert!(!server.wants_write());

    server.send(Message::text("hello, client")).unwrap();
    server.send(Message::binary(vec![0u8; 70_000])).unwrap();
    pump(&mut server, &mut client);
    assert_eq!(
        events(&mut client),
        [text("hello, client"), binary(&[0u8; 70_000])]
    );

    client.send_ping(b"from client").unwrap();
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), [ping(b"from client")]);
    pump(&mut server, &mut client);
    assert_eq!(events(&mut client), [pong(b"from client")]);

    server.send_ping(b"from server").unwrap();
    pump(&mut server, &mut client);
    assert_eq!(events(&mut client), [ping(b"from server")]);
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), [pong(b"from server")]);

    let (initiator, responder) = match closer {
        Role::Client => (&mut client, &mut server),
        Role::Server => (&mut server, &mut client),
    };
    initiator
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "goodbye")))
        .unwrap();
    assert_eq!(initiator.state(), State::Closing);
    pump(initiator, responder);
    assert_eq!(
        events(responder),
        [
            close_received(1000, "goodbye"),
            closed(1000, "goodbye", Initiator::Remote)
        ]
    );
    assert_eq!(responder.state(), State::Closed);
    pump(responder, initiator);
    assert_eq!(
        events(initiator),
        [close_received(1000, ""), closed(1000, "", Initiator::Local)]
    );
    for conn in [&mut client, &mut server] {
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.wants_write());
        conn.handle_eof();
        assert_eq!(events(conn), []);
    }
}

#[test]
fn rfc6455_7_pair_close_initiated_by_client() {
    conversation(Role::Client);
}

#[test]
fn rfc6455_7_pair_close_initiated_by_server() {
    conversation(Role::Server);
}

#[test]
fn rfc6455_7_pair_simultaneous_close() {
    // RFC 6455 §7.1.3: both ends close at once; both end cleanly.
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());
    client
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "c")))
        .unwrap();
    server
        .close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "s")))
        .unwrap();
    pump(&mut client, &mut server);
    pump(&mut server, &mut client);
    assert_eq!(
        events(&mut server),
        [
            close_received(1000, "c"),
            closed(1000, "c", Initiator::Local)
        ]
    );
    assert_eq!(
        events(&mut client),
        [
            close_received(1001, "s"),
            closed(1001, "s", Initiator::Local)
        ]
    );
    assert!(!client.wants_write() && !server.wants_write());
}

#[test]
fn rfc6455_7_pair_failure_reaches_the_peer_as_a_close() {
    // A server that fails tells the client why, with a close frame.
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, TEXT, b"\xff"));
    assert_eq!(events(&mut server), [failure(ProtocolError::InvalidUtf8)]);
    pump(&mut server, &mut client);
    let reason = ProtocolError::InvalidUtf8.to_string();
    assert_eq!(
        events(&mut client),
        [
            close_received(1007, &reason),
            closed(1007, &reason, Initiator::Remote)
        ]
    );
    // The client's reply is ignored by the failed server.
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), []);
}
