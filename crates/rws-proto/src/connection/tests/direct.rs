//! Reading straight into the message (`input_space` + `input_filled`)
//! gives exactly what `handle_input` gives, for any split of the input.

use super::*;

/// Feeds `wire` as a transport would, reads of at most `step` bytes: into
/// the room `input_space` offers when it does, else through
/// `handle_input`. Returns how many bytes went the direct way.
fn feed_direct(conn: &mut Connection, wire: &[u8], step: usize) -> usize {
    let mut at = 0;
    let mut direct = 0;
    while at < wire.len() {
        let want = step.min(wire.len() - at);
        match conn.input_space() {
            Some(space) => {
                let n = want.min(space.len());
                assert!(n > 0, "input_space offered no room");
                for (slot, byte) in space.iter_mut().zip(&wire[at..at + n]) {
                    slot.write(*byte);
                }
                // SAFETY: the loop above initialized the first `n` bytes of
                // the room, and nothing touched the connection since.
                unsafe { conn.input_filled(n) };
                direct += n;
                at += n;
            }
            None => {
                conn.handle_input(&wire[at..at + want]);
                at += want;
            }
        }
    }
    direct
}

fn plain(role: Role, config: &Config, wire: &[u8]) -> Vec<Event> {
    let mut conn = Connection::new(role, config.clone());
    conn.handle_input(wire);
    events(&mut conn)
}

/// A large text message in three frames with a ping between the first
/// two, and a large binary one: UTF-8 split at every boundary.
fn script(receiver: Role) -> Vec<u8> {
    let text: String = "héllo wörld, ".repeat(4000);
    let bytes = text.as_bytes();
    let (a, rest) = bytes.split_at(20_001);
    let (b, c) = rest.split_at(17_777);
    cat(&[
        &frame_to(receiver, false, TEXT, a),
        &frame_to(receiver, true, PING, b"p"),
        &frame_to(receiver, false, CONT, b),
        &frame_to(receiver, true, CONT, c),
        &frame_to(receiver, true, BINARY, &vec![0xa5; 70_000]),
        &frame_to(receiver, true, TEXT, b"small"),
    ])
}

#[test]
fn direct_reads_match_handle_input_for_every_read_size() {
    for role in ROLES {
        let wire = script(role);
        let expected = plain(role, &defaults(), &wire);
        assert_eq!(expected.len(), 4, "{expected:?}");
        for step in [1000, 4096, 16_384, 65_536, 100_003, wire.len()] {
            let mut conn = Connection::new(role, defaults());
            let direct = feed_direct(&mut conn, &wire, step);
            // Reads smaller than the large frames leave room to read into.
            if step <= 65_536 {
                assert!(direct > 30_000, "{role:?} step {step}: {direct} direct");
            }
            assert_eq!(events(&mut conn), expected, "{role:?} step {step}");
            assert_eq!(conn.state(), State::Open);
        }
    }
}

#[test]
fn invalid_utf8_read_directly_fails_at_once() {
    let mut text = vec![b'a'; 50_000];
    text[30_000] = 0xff;
    let wire = frame_to(Role::Server, true, TEXT, &text);
    let mut conn = Connection::new(Role::Server, defaults());
    // The header and 10 KB, then the rest directly, up to just past the
    // bad byte: the failure comes before the frame is complete.
    let head = wire.len() - text.len() + 10_000;
    conn.handle_input(&wire[..head]);
    let space = conn.input_space().expect("room in a large frame");
    let n = 20_001;
    for (slot, byte) in space.iter_mut().zip(&wire[head..head + n]) {
        slot.write(*byte);
    }
    // SAFETY: the first `n` bytes were just written.
    unsafe { conn.input_filled(n) };
    assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    assert!(
        conn.input_space().is_none(),
        "nothing is read after a failure"
    );
}

#[test]
fn no_room_where_a_copy_is_needed_or_cheaper() {
    // A small frame, a control frame, between frames.
    let mut conn = Connection::new(Role::Server, defaults());
    assert!(conn.input_space().is_none(), "no frame yet");
    conn.handle_input(&header_to(Role::Server, BINARY | FIN, 10_000));
    assert!(conn.input_space().is_none(), "under 16 KiB left");
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&header_to(Role::Server, PING | FIN, 100));
    assert!(conn.input_space().is_none(), "a control frame");
    // Fragments delivered as they come.
    let mut conn = Connection::new(Role::Server, defaults().stream_fragments(true));
    conn.handle_input(&header_to(Role::Server, BINARY | FIN, 100_000));
    assert!(conn.input_space().is_none(), "streaming fragments");
}

#[test]
fn no_room_once_the_connection_failed_or_sent_its_close() {
    // Invalid UTF-8 in the first bytes of a large text frame: the failure
    // is queued (the state is still open until it is taken) and nothing
    // more is read.
    let mut payload = vec![b'a'; 100_000];
    payload[10] = 0xff;
    let wire = frame_to(Role::Server, true, TEXT, &payload);
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&wire[..1000]);
    assert_eq!(conn.state(), State::Open);
    assert!(conn.input_space().is_none(), "failed");
    assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    // After our close frame, data is discarded unread.
    let wire = frame_to(Role::Server, true, BINARY, &[1; 100_000]);
    let mut conn = Connection::new(Role::Server, defaults());
    conn.close(None).unwrap();
    conn.handle_input(&wire[..1000]);
    assert!(conn.input_space().is_none(), "closing");
}

#[test]
fn an_announced_length_alone_reserves_a_bounded_room() {
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&header_to(Role::Server, BINARY | FIN, 16 << 20));
    let room = conn.input_space().expect("room").len();
    assert!(
        room <= 64 << 10,
        "{room} bytes offered for 16 MiB announced"
    );
}

#[test]
#[should_panic(expected = "past the room")]
fn filling_past_the_room_panics() {
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&header_to(Role::Server, BINARY | FIN, 100_000));
    let room = conn.input_space().expect("room").len();
    // SAFETY: never reached: the call panics before any byte is read.
    unsafe { conn.input_filled(room + 1) };
}
