//! The connection's deadlines with a fake clock: keepalive (RFC 6455
//! §5.5.2 pings), the idle timeout, the close timeout, and what the
//! transport is told to do (§7.1.1). Time is only what the test passes.

use std::time::{Duration, Instant};

use super::*;
use crate::connection::TransportAction;

const SECOND: Duration = Duration::from_secs(1);
const MILLI: Duration = Duration::from_millis(1);

/// A connection with keepalive every 20 s, 20 s to answer (the defaults
/// written out, so that the test does not depend on them), started at the
/// returned instant.
fn keepalive(role: Role) -> (Connection, Instant) {
    let config = Config::default()
        .ping_interval(Some(20 * SECOND))
        .ping_timeout(Some(20 * SECOND));
    started(role, config)
}

fn started(role: Role, config: Config) -> (Connection, Instant) {
    let mut conn = Connection::new(role, config);
    let t0 = Instant::now();
    conn.handle_timeout(t0);
    (conn, t0)
}

/// Takes all queued output.
fn take_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        let chunk = conn.pending_output().to_vec();
        conn.consume_output(chunk.len());
        out.extend_from_slice(&chunk);
    }
    out
}

/// The frames of `wire` as (first byte, unmasked payload); masked frames
/// are unmasked with their own key.
fn frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let b0 = wire[0];
        let masked = wire[1] & 0x80 != 0;
        let len = (wire[1] & 0x7f) as usize;
        assert!(len < 126, "short frames only in these tests");
        let mut at = 2;
        let key = masked.then(|| {
            at += 4;
            [wire[2], wire[3], wire[4], wire[5]]
        });
        let mut payload = wire[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        out.push((b0, payload));
        wire = &wire[at + len..];
    }
    out
}

/// Calls `handle_timeout` as a driver does when `poll_timeout` returns a
/// time that has passed.
fn settle(conn: &mut Connection, now: Instant) {
    for _ in 0..4 {
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
    }
    assert!(
        conn.poll_timeout().is_none_or(|t| t > now),
        "the core keeps asking for the time"
    );
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

#[test]
fn no_deadline_runs_before_the_first_time_is_given() {
    let conn = Connection::new(Role::Server, Config::default());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn keepalive_off_leaves_an_open_connection_without_deadlines() {
    let config = Config::default().ping_interval(None);
    let (mut conn, t0) = started(Role::Client, config);
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(t0 + 3600 * SECOND);
    assert!(!conn.wants_write());
}

#[test]
fn rfc6455_5_5_2_a_ping_goes_out_after_the_interval() {
    for role in ROLES {
        let (mut conn, t0) = keepalive(role);
        assert_eq!(conn.poll_timeout(), Some(t0 + 20 * SECOND));
        conn.handle_timeout(t0 + 20 * SECOND - MILLI);
        assert!(!conn.wants_write(), "{role:?}: not before the interval");
        conn.handle_timeout(t0 + 20 * SECOND);
        let out = take_output(&mut conn);
        // FIN + ping, 4 bytes of payload; masked by the client only (§5.1).
        assert_eq!(frames(&out), vec![(0x89, vec![0, 0, 0, 1])], "{role:?}");
        assert_eq!(out[1] & 0x80 != 0, role == Role::Client, "{role:?}");
        assert_eq!(conn.poll_timeout(), Some(t0 + 40 * SECOND), "{role:?}");
    }
}

#[test]
fn a_pong_clears_the_deadline_and_the_next_ping_follows_the_interval() {
    for role in ROLES {
        let (mut conn, t0) = keepalive(role);
        conn.handle_timeout(t0 + 20 * SECOND);
        take_output(&mut conn);
        conn.handle_input(&frame_to(role, true, PONG, &[0, 0, 0, 1]));
        assert_eq!(
            events(&mut conn),
            vec![Event::Pong(Bytes::from_static(&[0, 0, 0, 1]))]
        );
        // 40 s: the ping timeout of the first ping would have passed, and
        // the interval of the second has: a second ping, no failure.
        conn.handle_timeout(t0 + 40 * SECOND);
        assert_eq!(events(&mut conn), vec![], "{role:?}");
        let out = take_output(&mut conn);
        assert_eq!(frames(&out), vec![(0x89, vec![0, 0, 0, 2])], "{role:?}");
        assert_eq!(conn.state(), State::Open);
    }
}

#[test]
fn any_frame_from_the_peer_is_proof_of_life() {
    for role in ROLES {
        let (mut conn, t0) = keepalive(role);
        conn.handle_timeout(t0 + 20 * SECOND);
        take_output(&mut conn);
        conn.handle_input(&frame_to(role, true, TEXT, b"still here"));
        conn.handle_timeout(t0 + 40 * SECOND);
        assert_eq!(
            events(&mut conn),
            vec![Event::Message(Message::text("still here"))],
            "{role:?}"
        );
        assert_eq!(conn.state(), State::Open, "{role:?}");
    }
}

#[test]
fn a_silent_peer_fails_the_connection_with_1011_at_the_deadline() {
    for role in ROLES {
        let (mut conn, t0) = keepalive(role);
        conn.handle_timeout(t0 + 20 * SECOND);
        take_output(&mut conn);
        conn.handle_timeout(t0 + 40 * SECOND - MILLI);
        assert_eq!(
            events(&mut conn),
            vec![],
            "{role:?}: not before the deadline"
        );
        conn.handle_timeout(t0 + 40 * SECOND);
        let closed = Closed {
            code: CloseCode::from(1011),
            reason: Utf8Bytes::default(),
            initiator: Initiator::Local,
            clean: false,
            error: Some(ProtocolError::KeepaliveTimeout),
        };
        assert_eq!(events(&mut conn), vec![Event::Closed(closed)], "{role:?}");
        // A close frame with 1011 and the reason, then the transport is
        // shut down at once: no wait for an answer that cannot come.
        let out = take_output(&mut conn);
        let mut payload = vec![0x03, 0xf3];
        payload.extend_from_slice(b"keepalive ping timeout");
        assert_eq!(frames(&out), vec![(0x88, payload)], "{role:?}");
        assert_eq!(
            conn.transport_action(),
            TransportAction::Shutdown,
            "{role:?}"
        );
    }
}

#[test]
fn an_unanswered_ping_is_not_repeated_before_its_timeout() {
    let config = Config::default()
        .ping_interval(Some(10 * SECOND))
        .ping_timeout(Some(30 * SECOND));
    let (mut conn, t0) = started(Role::Server, config);
    conn.handle_timeout(t0 + 10 * SECOND);
    assert_eq!(frames(&take_output(&mut conn)).len(), 1);
    conn.handle_timeout(t0 + 20 * SECOND);
    conn.handle_timeout(t0 + 30 * SECOND);
    assert!(!conn.wants_write(), "still waiting for the first pong");
    conn.handle_timeout(t0 + 40 * SECOND);
    assert!(matches!(
        events(&mut conn).as_slice(),
        [Event::Closed(Closed {
            error: Some(ProtocolError::KeepaliveTimeout),
            ..
        })]
    ));
}

#[test]
fn without_a_ping_timeout_an_unanswered_ping_never_fails() {
    let config = Config::default()
        .ping_interval(Some(10 * SECOND))
        .ping_timeout(None);
    let (mut conn, t0) = started(Role::Client, config);
    for tick in 1..=10 {
        conn.handle_timeout(t0 + tick * 10 * SECOND);
    }
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(
        frames(&take_output(&mut conn)).len(),
        10,
        "a ping every interval"
    );
}

#[test]
fn no_keepalive_ping_after_the_close_frame() {
    let (mut conn, t0) = keepalive(Role::Server);
    conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
        .unwrap();
    take_output(&mut conn);
    conn.handle_timeout(t0 + 20 * SECOND);
    assert!(!conn.wants_write(), "RFC 6455 §5.5.1: nothing after close");
}

#[test]
fn time_never_goes_back() {
    let (mut conn, t0) = keepalive(Role::Server);
    conn.handle_timeout(t0 + 20 * SECOND);
    take_output(&mut conn);
    conn.handle_timeout(t0);
    conn.handle_timeout(t0 + 40 * SECOND);
    assert!(matches!(events(&mut conn).as_slice(), [Event::Closed(_)]));
}

#[test]
fn an_earlier_time_counts_as_the_latest_one_given() {
    // The close timeout is armed from the latest time the connection was
    // given, even when the time given since went back.
    let config = Config::default()
        .ping_interval(None)
        .close_timeout(2 * SECOND);
    let (mut conn, t0) = started(Role::Server, config);
    conn.handle_timeout(t0 + 10 * SECOND);
    conn.handle_timeout(t0);
    conn.close(None).unwrap();
    assert_eq!(
        conn.poll_timeout(),
        Some(t0 + 10 * SECOND),
        "the time is wanted"
    );
    conn.handle_timeout(t0);
    assert_eq!(
        conn.poll_timeout(),
        Some(t0 + 12 * SECOND),
        "armed from the latest"
    );
    conn.handle_timeout(t0 + 5 * SECOND);
    assert_eq!(conn.transport_action(), TransportAction::Continue);
    conn.handle_timeout(t0 + 12 * SECOND);
    assert_eq!(conn.transport_action(), TransportAction::Abort);
}

#[test]
fn an_interval_too_long_to_be_a_time_counts_as_a_century() {
    // 100 years of 365 days: 3,153,600,000 s.
    let century = Duration::from_secs(3_153_600_000);
    for long in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let config = Config::default().ping_interval(Some(long));
        let (conn, t0) = started(Role::Client, config);
        assert_eq!(conn.poll_timeout(), Some(t0 + century), "{long:?}");
    }
    // One that is a time is kept as it is.
    let config = Config::default().ping_interval(Some(2 * century));
    let (conn, t0) = started(Role::Client, config);
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * century));
}

#[test]
fn rfc6455_7_1_1_a_peer_that_never_answers_the_close_is_given_up() {
    for role in ROLES {
        let config = Config::default()
            .ping_interval(None)
            .close_timeout(5 * SECOND);
        let (mut conn, t0) = started(role, config);
        let t1 = t0 + 3 * SECOND;
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
            .unwrap();
        take_output(&mut conn);
        // The core asks for the time to arm the close timer.
        assert!(conn.poll_timeout().is_some_and(|t| t <= t1));
        conn.handle_timeout(t1);
        assert_eq!(conn.poll_timeout(), Some(t1 + 5 * SECOND), "{role:?}");
        assert_eq!(conn.transport_action(), TransportAction::Continue);
        conn.handle_timeout(t1 + 5 * SECOND - MILLI);
        assert_eq!(events(&mut conn), vec![], "{role:?}");
        conn.handle_timeout(t1 + 5 * SECOND);
        let closed = Closed {
            code: CloseCode::from(1006),
            reason: Utf8Bytes::default(),
            initiator: Initiator::Local,
            clean: false,
            error: None,
        };
        assert_eq!(events(&mut conn), vec![Event::Closed(closed)], "{role:?}");
        assert_eq!(conn.transport_action(), TransportAction::Abort, "{role:?}");
        assert_eq!(conn.poll_timeout(), None, "{role:?}: nothing more is due");
    }
}

#[test]
fn the_close_timeout_bounds_writing_the_close_frame() {
    let config = Config::default().ping_interval(None).close_timeout(SECOND);
    let (mut conn, t0) = started(Role::Server, config);
    conn.send(Message::binary(vec![0; 100_000])).unwrap();
    conn.close(None).unwrap();
    // The peer reads nothing: the output never drains.
    settle(&mut conn, t0);
    conn.handle_timeout(t0 + SECOND);
    assert!(conn.wants_write());
    assert_eq!(conn.transport_action(), TransportAction::Abort);
}

#[test]
fn rfc6455_7_1_1_the_server_shuts_down_first_and_the_client_waits() {
    // A close from the peer, answered: the server shuts the transport down
    // once the reply is written; the client keeps reading for the server's
    // end of file.
    for role in ROLES {
        let (mut conn, t0) = started(role, Config::default());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        assert_eq!(
            events(&mut conn).len(),
            2,
            "{role:?}: CloseReceived, Closed"
        );
        settle(&mut conn, t0);
        let expected = match role {
            Role::Server => TransportAction::Shutdown,
            Role::Client => TransportAction::Continue,
        };
        assert_eq!(conn.transport_action(), expected, "{role:?}");
        if role == Role::Client {
            // The server's end of file: now the client closes too.
            conn.handle_eof();
            assert_eq!(conn.transport_action(), TransportAction::Shutdown);
        }
    }
}

#[test]
fn a_client_waits_for_the_servers_eof_no_longer_than_the_close_timeout() {
    let config = Config::default().close_timeout(2 * SECOND);
    let (mut conn, t0) = started(Role::Client, config);
    conn.handle_input(&server_frame(true, CLOSE, &close_payload(1000, b"")));
    let _ = events(&mut conn);
    settle(&mut conn, t0);
    take_output(&mut conn);
    conn.handle_timeout(t0 + 2 * SECOND - MILLI);
    assert_eq!(conn.transport_action(), TransportAction::Continue);
    conn.handle_timeout(t0 + 2 * SECOND);
    assert_eq!(conn.transport_action(), TransportAction::Abort);
    assert_eq!(events(&mut conn), vec![], "the clean end stands");
}

#[test]
fn a_failed_connection_shuts_down_without_waiting_for_the_peer() {
    for role in ROLES {
        let (mut conn, _) = started(role, Config::default());
        conn.handle_input(&raw_to(role, FIN | 0x3, b""));
        assert!(matches!(events(&mut conn).as_slice(), [Event::Closed(c)] if !c.clean));
        assert_eq!(
            conn.transport_action(),
            TransportAction::Shutdown,
            "{role:?}"
        );
    }
}

#[test]
fn the_idle_timeout_starts_the_close_handshake_with_1001() {
    for role in ROLES {
        let config = Config::default()
            .ping_interval(None)
            .idle_timeout(Some(10 * SECOND));
        let (mut conn, t0) = started(role, config);
        assert_eq!(conn.poll_timeout(), Some(t0 + 10 * SECOND));
        conn.handle_timeout(t0 + 10 * SECOND - MILLI);
        assert!(!conn.wants_write());
        conn.handle_timeout(t0 + 10 * SECOND);
        let mut payload = vec![0x03, 0xe9];
        payload.extend_from_slice(b"idle timeout");
        assert_eq!(
            frames(&take_output(&mut conn)),
            vec![(0x88, payload)],
            "{role:?}"
        );
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn a_message_either_way_restarts_the_idle_timeout() {
    let config = Config::default()
        .ping_interval(None)
        .idle_timeout(Some(10 * SECOND));
    let (mut conn, t0) = started(Role::Server, config);
    // Received at 4 s.
    conn.handle_input(&client_frame(true, TEXT, b"hi"));
    settle(&mut conn, t0 + 4 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(t0 + 14 * SECOND));
    // Sent at 9 s.
    conn.send(Message::text("hello")).unwrap();
    take_output(&mut conn);
    settle(&mut conn, t0 + 9 * SECOND);
    conn.handle_timeout(t0 + 19 * SECOND - MILLI);
    assert!(!conn.wants_write());
    conn.handle_timeout(t0 + 19 * SECOND);
    assert_eq!(conn.state(), State::Closing);
}

#[test]
fn pings_and_pongs_do_not_count_as_activity_for_the_idle_timeout() {
    let config = Config::default()
        .ping_interval(Some(4 * SECOND))
        .idle_timeout(Some(10 * SECOND));
    let (mut conn, t0) = started(Role::Server, config);
    for tick in 1..=2 {
        let now = t0 + tick * 4 * SECOND;
        conn.handle_timeout(now);
        take_output(&mut conn);
        conn.handle_input(&client_frame(true, PONG, &[0, 0, 0, tick as u8]));
        let _ = events(&mut conn);
        settle(&mut conn, now);
    }
    conn.handle_timeout(t0 + 10 * SECOND);
    assert_eq!(
        conn.state(),
        State::Closing,
        "idle although keepalive answered"
    );
}
