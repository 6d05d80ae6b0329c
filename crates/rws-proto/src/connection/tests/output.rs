//! Draining the output through `pending_output` and `consume_output`: once
//! `pending_output` handed bytes out, only those may be consumed until it
//! is called again (`consume_output`'s panics), whatever path the
//! consuming takes.

use super::*;

/// A server connection with `message` queued.
fn queued(message: &str) -> Connection {
    let mut conn = Connection::new(Role::Server, defaults());
    conn.send(Message::text(message)).unwrap();
    conn
}

#[test]
#[should_panic(expected = "past the")]
fn what_was_handed_out_is_consumed_once() {
    // All of it handed out and consumed at once; then new bytes that were
    // not handed out.
    let mut conn = queued("hi");
    assert_eq!(conn.pending_output().len(), 4);
    conn.consume_output(4);
    conn.send(Message::text("hi")).unwrap();
    conn.consume_output(1);
}

#[test]
#[should_panic(expected = "past the")]
fn what_was_handed_out_is_consumed_once_in_pieces() {
    let mut conn = queued("hello");
    assert_eq!(conn.pending_output().len(), 7);
    conn.consume_output(3);
    conn.consume_output(4);
    conn.send(Message::text("hi")).unwrap();
    conn.consume_output(1);
}

#[test]
fn consuming_in_pieces_what_was_handed_out_writes_it_all_once() {
    let mut conn = queued("hello");
    let wire = conn.pending_output().to_vec();
    assert_eq!(wire, b"\x81\x05hello");
    conn.consume_output(3);
    assert_eq!(conn.pending_output(), &wire[3..]);
    conn.consume_output(4);
    assert!(!conn.wants_write());
    conn.send(Message::text("hi")).unwrap();
    assert_eq!(conn.pending_output(), b"\x81\x02hi");
    conn.consume_output(4);
    assert!(!conn.wants_write());
}

#[test]
#[should_panic(expected = "past the")]
fn bytes_queued_after_the_last_pending_output_were_not_handed_out() {
    let mut conn = queued("hi");
    assert_eq!(conn.pending_output().len(), 4);
    conn.send(Message::text("hi")).unwrap();
    // The caller wrote the 4 bytes handed out, but consumes all 8 queued.
    conn.consume_output(8);
}

#[test]
fn compressors_describe_themselves_without_their_state() {
    let deflater = crate::deflate::Deflater::new(6, 15, false).unwrap();
    assert_eq!(format!("{deflater:?}"), "Deflater { .. }");
}
