use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::deflate::{DeflateConfig, DeflateParams};

// ---------------------------------------------------------------------------
// permessage-deflate on the connection (RFC 7692 §6–7.2). Compressed input
// is made with flate2 directly, and compressed output is checked with
// flate2 directly, so that the code under test is not checked against
// itself.
// ---------------------------------------------------------------------------

const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;

/// RFC 7692 §7.2.1: the tail of a sync flush, removed by the sender.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// RFC 7692 §7.2.3.1: "Hello" compressed.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// RFC 7692 §7.2.3.2: the second "Hello" of a sender with context takeover.
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];
/// RFC 7692 §7.2.3.3: "Hello" in a final (BFINAL) block.
const HELLO_FINAL: [u8; 7] = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// RFC 7692 §7.2.3.4: "Hello" in a stored (uncompressed) block.
const HELLO_STORED: [u8; 11] = [
    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
];
/// RFC 7692 §7.2.3.5: "Hello" in two blocks.
const HELLO_TWO_BLOCKS: [u8; 13] = [
    0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
];

pub(super) fn params(
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
) -> DeflateParams {
    let mut params = DeflateParams::default();
    params.server_no_context_takeover = server_no_context_takeover;
    params.client_no_context_takeover = client_no_context_takeover;
    params.server_max_window_bits = server_max_window_bits;
    params.client_max_window_bits = client_max_window_bits;
    params
}

/// A connection with permessage-deflate agreed as `params`.
pub(super) fn deflating(role: Role, config: &Config, params: DeflateParams) -> Connection {
    Connection::new(role, config.clone()).with_deflate(params)
}

/// The peer of `receiver`'s window and context policy under `params`.
fn peer_side(receiver: Role, p: &DeflateParams) -> (u8, bool) {
    match receiver {
        Role::Server => (p.client_max_window_bits, p.client_no_context_takeover),
        Role::Client => (p.server_max_window_bits, p.server_no_context_takeover),
    }
}

/// A peer's compressor, on flate2 directly (RFC 7692 §7.2.1).
pub(super) struct PeerDeflater {
    compress: Compress,
    no_context_takeover: bool,
}

impl PeerDeflater {
    pub(super) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> PeerDeflater {
        PeerDeflater {
            compress: Compress::new_with_window_bits(Compression::new(level), false, window_bits),
            no_context_takeover,
        }
    }

    /// One message's compressed payload: the data, then a sync flush
    /// without its tail, as `compress(data) + flush(Z_SYNC_FLUSH)` in
    /// Python's zlib. (A sync flush right after another, with no data in
    /// between, is refused by zlib: the `None` flush in between avoids
    /// that for empty messages.)
    pub(super) fn message(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 1024);
        let mut input = data;
        loop {
            let before = self.compress.total_in();
            self.compress
                .compress_vec(input, &mut out, FlushCompress::None)
                .expect("flate2 compresses");
            input = &input[(self.compress.total_in() - before) as usize..];
            if input.is_empty() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        loop {
            self.compress
                .compress_vec(&[], &mut out, FlushCompress::Sync)
                .expect("flate2 flushes");
            // The flush is done when zlib left output space unused.
            if out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        assert!(out.ends_with(&TAIL), "a sync flush ends with 00 00 ff ff");
        out.truncate(out.len() - TAIL.len());
        if self.no_context_takeover {
            self.compress.reset();
        }
        out
    }
}

/// `data` compressed as the first message of a 15-bit-window stream.
fn deflate(data: &[u8]) -> Vec<u8> {
    PeerDeflater::new(6, 15, false).message(data)
}

/// A peer's inflater, on flate2 directly (RFC 7692 §7.2.2).
pub(super) struct PeerInflater {
    decompress: Decompress,
    no_context_takeover: bool,
}

impl PeerInflater {
    pub(super) fn new(window_bits: u8, no_context_takeover: bool) -> PeerInflater {
        PeerInflater {
            decompress: Decompress::new_with_window_bits(false, window_bits.max(9)),
            no_context_takeover,
        }
    }

    /// One message's payload, inflated with the tail put back.
    #[track_caller]
    pub(super) fn message(&mut self, payload: &[u8]) -> Vec<u8> {
        let input = cat(&[payload, &TAIL]);
        let mut out = Vec::with_capacity(input.len() * 4 + 1024);
        let mut pos = 0;
        loop {
            let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync)
                .expect("valid deflate data");
            let used = (self.decompress.total_in() - before_in) as usize;
            let made = (self.decompress.total_out() - before_out) as usize;
            pos += used;
            if status == Status::StreamEnd {
                self.decompress.reset(false);
                break;
            }
            if pos == input.len() && out.len() < out.capacity() {
                break;
            }
            assert!(
                used > 0 || made > 0 || out.len() == out.capacity(),
                "inflating is stuck"
            );
            out.reserve(out.capacity());
        }
        if self.no_context_takeover {
            self.decompress.reset(false);
        }
        out
    }
}

/// A frame from the peer of `receiver` with RSV1 set.
fn compressed_to(receiver: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_to(receiver, b0(fin, opcode) | RSV1, payload)
}

/// A compressed message from the peer of `receiver`, its payload cut at
/// `cuts` into fragments: RSV1 on the first only (RFC 7692 §6.1); a ping
/// follows the fragment numbered `ping_after`, if given.
fn fragmented_to(
    receiver: Role,
    opcode: u8,
    payload: &[u8],
    cuts: &[usize],
    ping_after: Option<usize>,
) -> Vec<u8> {
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(payload.len())).collect();
    points.sort_unstable();
    points.push(payload.len());
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &end) in points.iter().enumerate() {
        let fin = i == points.len() - 1;
        if i == 0 {
            out.extend(compressed_to(receiver, fin, opcode, &payload[..end]));
        } else {
            out.extend(frame_to(receiver, fin, CONT, &payload[start..end]));
        }
        if ping_after == Some(i) {
            out.extend(frame_to(receiver, true, PING, b"between"));
        }
        start = end;
    }
    out
}

/// One frame of output, with its RSV1 bit, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OutFrame {
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    masked: bool,
    payload: Vec<u8>,
}

/// Splits output into frames; RSV2 and RSV3 must be clear.
fn out_frames(bytes: &[u8]) -> Vec<OutFrame> {
    split_frames(bytes)
        .into_iter()
        .map(|(h, payload)| {
            assert!(!(h.rsv2 || h.rsv3), "RSV2 or RSV3 in output");
            OutFrame {
                fin: h.fin,
                rsv1: h.rsv1,
                opcode: h.opcode,
                masked: h.mask.is_some(),
                payload,
            }
        })
        .collect()
}

/// The output of `conn` as frames, checking the masking direction.
#[track_caller]
fn sent_frames(conn: &mut Connection) -> Vec<OutFrame> {
    let frames = out_frames(&output(conn));
    for f in &frames {
        assert_eq!(f.masked, conn.role() == Role::Client, "masking of {f:?}");
    }
    frames
}

/// For both roles, `input(role)` yields `expected` and the replies
/// `replies` on a connection with `params`, whole or one byte at a time.
#[track_caller]
fn accepts_compressed(
    config: &Config,
    params: DeflateParams,
    input: impl Fn(Role) -> Vec<u8>,
    expected: &[Event],
    replies: &[(OpCode, Vec<u8>)],
) {
    for role in ROLES {
        eprintln!("role {role:?}");
        let bytes = input(role);
        let mut whole = deflating(role, config, params);
        whole.handle_input(&bytes);
        let (evs, out) = drain(&mut whole);
        assert_eq!(evs, expected);
        assert_eq!(sent_bytes(role, &out), replies);

        let mut bytewise = deflating(role, config, params);
        let mut got = Vec::new();
        let mut out = Vec::new();
        for byte in &bytes {
            bytewise.handle_input(std::slice::from_ref(byte));
            let (evs, bytes) = drain(&mut bytewise);
            got.extend(evs);
            out.extend(bytes);
        }
        assert_eq!(got, expected);
        assert_eq!(sent_bytes(role, &out), replies);
    }
}

/// For both roles, `input(role)` yields `before` and `replies`, then
/// fails with `error`: fed whole, one byte at a time, and one byte at a
/// time taking events as they come.
#[track_caller]
fn fails_compressed(
    config: &Config,
    params: DeflateParams,
    input: impl Fn(Role) -> Vec<u8>,
    before: &[Event],
    replies: &[(OpCode, Vec<u8>)],
    error: ProtocolError,
) {
    for role in ROLES {
        eprintln!("role {role:?}");
        let bytes = input(role);
        let mut whole = deflating(role, config, params);
        whole.handle_input(&bytes);
        let got = events(&mut whole);
        check_failure(&mut whole, got, before, replies, error.clone());

        let mut bytewise = deflating(role, config, params);
        for byte in &bytes {
            bytewise.handle_input(std::slice::from_ref(byte));
        }
        let got = events(&mut bytewise);
        check_failure(&mut bytewise, got, before, replies, error.clone());

        let mut polled = deflating(role, config, params);
        let mut got = Vec::new();
        for byte in &bytes {
            polled.handle_input(std::slice::from_ref(byte));
            got.extend(events(&mut polled));
        }
        check_failure(&mut polled, got, before, replies, error.clone());
    }
}

/// Deterministic text of `len` bytes from a small vocabulary: compressible
/// but not trivially so.
fn prose(len: usize, seed: u32) -> String {
    const WORDS: [&str; 12] = [
        "the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog ", "héllo ", "wörld ",
        "✓ ", "deflate ",
    ];
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = String::new();
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.push_str(WORDS[(x >> 16) as usize % WORDS.len()]);
    }
    while out.len() > len {
        out.pop();
    }
    out
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_add(0x9e37_79b9);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

fn message_event(message: &Message) -> Event {
    Event::Message(message.clone())
}

// ---------------------------------------------------------------------------
// RFC 7692 §7.2.3: the examples
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_7_2_3_1_a_compressed_hello_in_one_frame() {
    // The RFC's bytes for the unmasked frame.
    assert_eq!(
        compressed_to(Role::Client, true, TEXT, &HELLO),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // Masked to the server, unmasked to the client.
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| compressed_to(role, true, TEXT, &HELLO),
        &[text("Hello")],
        &[],
    );
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| compressed_to(role, true, BINARY, &HELLO),
        &[binary(b"Hello")],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_1_a_compressed_hello_in_two_fragments() {
    let input = |role| fragmented_to(role, TEXT, &HELLO, &[3], None);
    assert_eq!(
        input(Role::Client),
        [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]
    );
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        input,
        &[text("Hello")],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_2_context_takeover_the_second_hello_refers_to_the_first() {
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
                &compressed_to(role, true, BINARY, &HELLO_AGAIN),
            ])
        },
        &[text("Hello"), text("Hello"), binary(b"Hello")],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_2_no_context_takeover_forgets_the_previous_message() {
    // Each message stands alone: the same bytes every time.
    let alone = params(true, true, 15, 15);
    accepts_compressed(
        &defaults(),
        alone,
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                &compressed_to(role, true, TEXT, &HELLO),
            ])
        },
        &[text("Hello"), text("Hello")],
        &[],
    );
    // A reference into the previous message reaches before the start of
    // the window: invalid data (1007).
    fails_compressed(
        &defaults(),
        alone,
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
            ])
        },
        &[text("Hello")],
        &[],
        ProtocolError::InvalidCompressedData,
    );
}

#[test]
fn rfc7692_7_2_3_2_the_sender_produces_the_rfc_bytes() {
    // Compress even 5 bytes.
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(0)));
    for role in ROLES {
        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.send(Message::text("Hello")).unwrap();
        conn.send(Message::text("Hello")).unwrap();
        let frames = sent_frames(&mut conn);
        let payloads: Vec<&[u8]> = frames.iter().map(|f| &f.payload[..]).collect();
        assert_eq!(payloads, [&HELLO[..], &HELLO_AGAIN[..]], "{role:?}");
        assert!(frames
            .iter()
            .all(|f| f.fin && f.rsv1 && f.opcode == OpCode::Text));
    }
}

#[test]
fn rfc7692_7_2_3_2_an_empty_compressed_message_keeps_the_context() {
    // A peer compressing an empty message after "Hello" sends the empty
    // stored block of its sync flush, less the tail: one 0x00 byte.
    let mut peer = PeerDeflater::new(6, 15, false);
    assert_eq!(peer.message(b"Hello"), HELLO);
    assert_eq!(peer.message(b""), [0x00]);
    assert_eq!(peer.message(b"Hello"), HELLO_AGAIN);
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                &compressed_to(role, true, TEXT, &[0x00]),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
                &compressed_to(role, true, BINARY, &[0x00]),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
            ])
        },
        &[
            text("Hello"),
            text(""),
            text("Hello"),
            binary(b""),
            text("Hello"),
        ],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_2_sending_an_empty_message_keeps_the_context() {
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(0)));
    for role in ROLES {
        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.send(Message::text("Hello")).unwrap();
        conn.send(Message::text("")).unwrap();
        conn.send(Message::text("Hello")).unwrap();
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].payload, HELLO);
        if frames[1].rsv1 {
            assert_eq!(
                PeerInflater::new(15, false).message(&frames[1].payload),
                b""
            );
        } else {
            assert_eq!(frames[1].payload, b"");
        }
        // The third refers back to the first.
        assert!(frames[2].rsv1);
        assert!(
            frames[2].payload.len() < HELLO.len(),
            "{role:?}: {:02x?}",
            frames[2].payload
        );
    }
}

#[test]
fn rfc7692_7_2_1_without_context_takeover_each_message_is_compressed_alone() {
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(0)));
    let message = "Hello, hello, hello! ".repeat(10);
    for role in ROLES {
        let alone = match role {
            Role::Server => params(true, false, 15, 15),
            Role::Client => params(false, true, 15, 15),
        };
        let mut conn = deflating(role, &config, alone);
        conn.send(Message::text(message.clone())).unwrap();
        conn.send(Message::text(message.clone())).unwrap();
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 2);
        // The same bytes twice, each inflating on its own.
        assert_eq!(frames[0].payload, frames[1].payload, "{role:?}");
        for frame in &frames {
            assert!(frame.rsv1 && frame.payload.len() < message.len());
            assert_eq!(
                PeerInflater::new(15, true).message(&frame.payload),
                message.as_bytes()
            );
        }
        // Nothing refers back to a message, so one that would not shrink
        // may go out as it is.
        let noise = noise(1000, 3);
        conn.send(Message::text("Hello")).unwrap();
        conn.send(Message::binary(noise.clone())).unwrap();
        let frames = sent_frames(&mut conn);
        for (frame, data) in frames.iter().zip([&b"Hello"[..], &noise]) {
            if frame.rsv1 {
                assert_eq!(PeerInflater::new(15, true).message(&frame.payload), data);
            } else {
                assert_eq!(frame.payload, data);
            }
        }
    }
}

#[test]
fn rfc7692_7_2_1_connections_without_context_takeover_share_no_context() {
    // Two connections on one thread pass the thread's spare compressor and
    // inflater from one to the other between messages: each message must
    // still compress and inflate alone, whichever connection used the
    // state before.
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(0)));
    let alone = params(true, true, 15, 15);
    let first = "first message, first message, first message";
    let second = "second: first message, first message, first";
    for role in ROLES {
        crate::deflate::release_spares();
        let mut a = deflating(role, &config, alone);
        let mut b = deflating(role, &config, alone);
        a.send(Message::text(first)).unwrap();
        let level = DeflateConfig::default().level;
        assert!(
            crate::deflate::take_deflater(level, 15).is_some_and(|spare| {
                crate::deflate::give_deflater(level, 15, spare);
                true
            }),
            "{role:?}: the compressor was given back"
        );
        b.send(Message::text(second)).unwrap();
        for (conn, text) in [(&mut a, first), (&mut b, second)] {
            let frames = sent_frames(conn);
            assert_eq!(frames.len(), 1);
            assert!(frames[0].rsv1);
            // A fresh inflater, with no window: it reads the message alone.
            assert_eq!(
                PeerInflater::new(15, true).message(&frames[0].payload),
                text.as_bytes(),
                "{role:?}"
            );
        }
        // Receiving: a's inflater goes back to the spares and b takes it,
        // without a's window. A peer that (wrongly) refers back to the
        // message a received is corrupt data to b (1007), not the text it
        // would inflate to with a's window.
        let mut peer = PeerDeflater::new(6, 15, false);
        let one = peer.message(first.as_bytes());
        let two = peer.message(second.as_bytes());
        a.handle_input(&compressed_to(role, true, TEXT, &one));
        assert_eq!(
            events(&mut a),
            [message_event(&Message::text(first))],
            "{role:?}"
        );
        b.handle_input(&compressed_to(role, true, TEXT, &two));
        assert_failed(&mut b, ProtocolError::InvalidCompressedData);
    }
}

#[test]
fn rfc7692_7_2_3_3_a_final_block_ends_the_message_and_its_stream() {
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO_FINAL),
                &compressed_to(role, true, TEXT, &HELLO_FINAL),
                // The next message starts a new stream and may be followed
                // by one that refers to it.
                &compressed_to(role, true, TEXT, &HELLO),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
            ])
        },
        &[text("Hello"), text("Hello"), text("Hello"), text("Hello")],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_4_a_stored_block() {
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| compressed_to(role, true, TEXT, &HELLO_STORED),
        &[text("Hello")],
        &[],
    );
}

#[test]
fn rfc7692_7_2_3_5_two_blocks_in_one_message() {
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| compressed_to(role, true, TEXT, &HELLO_TWO_BLOCKS),
        &[text("Hello")],
        &[],
    );
}

// ---------------------------------------------------------------------------
// RFC 7692 §6.1: fragments and RSV1
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_6_1_a_fragmented_compressed_message_with_a_ping_between_fragments() {
    let message = prose(3000, 1);
    let compressed = deflate(message.as_bytes());
    let n = compressed.len();
    assert!(n > 20 && n < message.len(), "{n} bytes");
    // Cuts anywhere in the compressed stream, with empty fragments too.
    let cuts = [0, 1, 5, n / 2, n / 2, n - 1];
    for ping_after in [0, 2, 5] {
        accepts_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| fragmented_to(role, TEXT, &compressed, &cuts, Some(ping_after)),
            &[ping(b"between"), text(&message)],
            &[(OpCode::Pong, b"between".to_vec())],
        );
    }
    // Binary, one compressed byte per fragment.
    let data = prose(500, 2).into_bytes();
    let compressed = deflate(&data);
    let cuts: Vec<usize> = (1..compressed.len()).collect();
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| fragmented_to(role, BINARY, &compressed, &cuts, Some(3)),
        &[ping(b"between"), binary(&data)],
        &[(OpCode::Pong, b"between".to_vec())],
    );
}

#[test]
fn rfc7692_6_1_rsv1_on_a_continuation_frame_fails_1002() {
    let compressed = deflate(prose(300, 3).as_bytes());
    fails_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, false, TEXT, &compressed[..10]),
                &compressed_to(role, true, CONT, &compressed[10..]),
            ])
        },
        &[],
        &[],
        ProtocolError::ReservedBits,
    );
    // After an uncompressed first fragment as well.
    fails_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"plain "),
                &compressed_to(role, true, CONT, &HELLO),
            ])
        },
        &[],
        &[],
        ProtocolError::ReservedBits,
    );
}

#[test]
fn rfc7692_6_1_rsv1_on_a_control_frame_fails_1002() {
    for (opcode, payload) in [
        (PING, b"ping".to_vec()),
        (PONG, b"pong".to_vec()),
        (CLOSE, close_payload(1000, b"bye")),
    ] {
        eprintln!("opcode {opcode:#x}");
        fails_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| compressed_to(role, true, opcode, &payload),
            &[],
            &[],
            ProtocolError::ReservedBits,
        );
        // Also between the fragments of a compressed message.
        fails_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| {
                cat(&[
                    &compressed_to(role, false, TEXT, &HELLO[..2]),
                    &compressed_to(role, true, opcode, &payload),
                ])
            },
            &[],
            &[],
            ProtocolError::ReservedBits,
        );
    }
}

#[test]
fn rfc6455_5_2_rsv1_without_permessage_deflate_fails_1002() {
    fails(
        &defaults(),
        |role| compressed_to(role, true, TEXT, &HELLO),
        ProtocolError::ReservedBits,
    );
    // A policy in the configuration is not an agreement: without
    // `with_deflate` nothing was negotiated.
    let config = Config::default().deflate(Some(DeflateConfig::default()));
    fails(
        &config,
        |role| compressed_to(role, true, BINARY, &HELLO),
        ProtocolError::ReservedBits,
    );
}

#[test]
fn rfc6455_5_2_rsv2_and_rsv3_fail_1002_with_permessage_deflate() {
    for bits in [RSV2, RSV3, RSV1 | RSV2, RSV1 | RSV3, RSV1 | RSV2 | RSV3] {
        eprintln!("bits {bits:#x}");
        fails_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| raw_to(role, FIN | bits | TEXT, &HELLO),
            &[],
            &[],
            ProtocolError::ReservedBits,
        );
    }
}

// ---------------------------------------------------------------------------
// RFC 7692 §7.2.2: inflating — bad data, bad text, limits
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_7_2_2_corrupt_compressed_data_fails_1007() {
    let cases: [&[u8]; 4] = [
        // BTYPE 11 is reserved.
        &[0xff, 0xff, 0xff],
        // A stored block whose NLEN is not the complement of LEN.
        &[0x00, 0x05, 0x00, 0x00, 0x00, b'H', b'e', b'l', b'l', b'o'],
        // Data after a final block.
        &[0x03, 0x00, b'j', b'u', b'n', b'k'],
        // A back-reference before the start of the stream.
        &HELLO_AGAIN,
    ];
    for bad in cases {
        eprintln!("data {bad:02x?}");
        fails_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| compressed_to(role, true, BINARY, bad),
            &[],
            &[],
            ProtocolError::InvalidCompressedData,
        );
    }
    // In a continuation, after a good message and a good first fragment.
    fails_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                // "Hello", then a stored block's LEN and NLEN that do not
                // match.
                &compressed_to(role, false, BINARY, &HELLO),
                &frame_to(role, true, CONT, &[0xff, 0xff, 0xff, 0xff]),
            ])
        },
        &[text("Hello")],
        &[],
        ProtocolError::InvalidCompressedData,
    );
}

#[test]
fn rfc7692_8_a_zip_bomb_fails_1009_while_inflating() {
    let limit = 1 << 20;
    let config = Config::default().max_message_size(limit);
    // 10 MiB of zeros.
    let bomb = PeerDeflater::new(9, 15, false).message(&vec![0; 10 << 20]);
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let error = ProtocolError::MessageTooLarge {
        size: limit as u64 + 1,
        limit,
    };
    for opcode in [BINARY, TEXT] {
        fails_compressed(
            &config,
            DeflateParams::default(),
            |role| compressed_to(role, true, opcode, &bomb),
            &[],
            &[],
            error.clone(),
        );
    }
    // It fails as the data is inflated: half the frame is enough.
    for role in ROLES {
        let frame = compressed_to(role, true, BINARY, &bomb);
        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.handle_input(&frame[..frame.len() / 2]);
        assert_failed(&mut conn, error.clone());
    }
    // Fragmented into small frames, each far below any limit.
    let cuts: Vec<usize> = (1..bomb.len()).step_by(100).collect();
    fails_compressed(
        &config,
        DeflateParams::default(),
        |role| fragmented_to(role, BINARY, &bomb, &cuts, None),
        &[],
        &[],
        error.clone(),
    );
}

#[test]
fn rfc7692_8_a_message_inflating_to_exactly_the_limit_is_accepted() {
    let limit = 100_000;
    let config = Config::default().max_message_size(limit);
    let data = prose(limit, 4).into_bytes();
    let compressed = deflate(&data);
    accepts_compressed(
        &config,
        DeflateParams::default(),
        |role| compressed_to(role, true, BINARY, &compressed),
        &[binary(&data)],
        &[],
    );
    let over = prose(limit + 1, 4).into_bytes();
    fails_compressed(
        &config,
        DeflateParams::default(),
        |role| compressed_to(role, true, BINARY, &deflate(&over)),
        &[],
        &[],
        ProtocolError::MessageTooLarge {
            size: limit as u64 + 1,
            limit,
        },
    );
}

#[test]
fn rfc7692_8_a_message_within_the_limit_is_accepted_whatever_its_compressed_size() {
    let limit = 4096;
    let config = Config::default().max_message_size(limit);
    let data = noise(limit, 90);
    // From a peer whose compressor makes it larger.
    let compressed = deflate(&data);
    assert!(compressed.len() > limit, "{} bytes", compressed.len());
    accepts_compressed(
        &config,
        DeflateParams::default(),
        |role| compressed_to(role, true, BINARY, &compressed),
        &[binary(&data)],
        &[],
    );
    // Between two rws connections with the same limit.
    let mut client = deflating(Role::Client, &config, DeflateParams::default());
    let mut server = deflating(Role::Server, &config, DeflateParams::default());
    transfer(&mut client, &mut server, &Message::binary(data));
}

#[test]
fn rfc6455_8_1_invalid_utf8_in_compressed_text_fails_1007() {
    let cases: [&[u8]; 3] = [
        // An overlong encoding in the middle.
        b"valid start \xc0\xaf and the rest",
        // A surrogate.
        b"\xed\xa0\x80",
        // A sequence cut off at the end of the message.
        b"almost \xe2\x82",
    ];
    for bad in cases {
        eprintln!("text {bad:02x?}");
        fails_compressed(
            &defaults(),
            DeflateParams::default(),
            |role| compressed_to(role, true, TEXT, &deflate(bad)),
            &[],
            &[],
            ProtocolError::InvalidUtf8,
        );
    }
    // Valid text cut inside a character by the fragmentation is fine.
    let message = "✓✓✓ héllo wörld ✓✓✓".repeat(10);
    let compressed = deflate(message.as_bytes());
    let cuts: Vec<usize> = (1..compressed.len()).collect();
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| fragmented_to(role, TEXT, &compressed, &cuts, None),
        &[text(&message)],
        &[],
    );
}

#[test]
fn rfc6455_8_1_compressed_text_fails_fast_on_invalid_utf8() {
    // An invalid first byte, then enough text that the frame is long.
    let mut payload = vec![0xff];
    payload.extend(noise(20_000, 5).iter().map(|b| b'a' + b % 26));
    let compressed = deflate(&payload);
    assert!(compressed.len() > 4000, "{} bytes", compressed.len());
    for role in ROLES {
        let frame = compressed_to(role, true, TEXT, &compressed);
        let mut conn = deflating(role, &defaults(), DeflateParams::default());
        // Half the frame: the message is far from complete.
        conn.handle_input(&frame[..frame.len() / 2]);
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
    // The same in the first of several fragments.
    let cuts = [compressed.len() / 3, 2 * compressed.len() / 3];
    for role in ROLES {
        let bytes = fragmented_to(role, TEXT, &compressed, &cuts, None);
        let mut conn = deflating(role, &defaults(), DeflateParams::default());
        conn.handle_input(&bytes[..bytes.len() / 4]);
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
}

// ---------------------------------------------------------------------------
// RFC 7692 §6: uncompressed messages among compressed ones
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_6_uncompressed_messages_interleave_and_keep_the_context() {
    // The RFC's bytes around an uncompressed message.
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            cat(&[
                &compressed_to(role, true, TEXT, &HELLO),
                &frame_to(role, true, TEXT, b"plain"),
                &frame_to(role, false, BINARY, b"in "),
                &frame_to(role, true, CONT, b"pieces"),
                &compressed_to(role, true, TEXT, &HELLO_AGAIN),
            ])
        },
        &[
            text("Hello"),
            text("plain"),
            binary(b"in pieces"),
            text("Hello"),
        ],
        &[],
    );
    // A peer compressing every other message, with context takeover.
    let messages: Vec<String> = (0..6).map(|i| prose(400, 10 + i % 2)).collect();
    accepts_compressed(
        &defaults(),
        DeflateParams::default(),
        |role| {
            let mut peer = PeerDeflater::new(6, 15, false);
            let mut bytes = Vec::new();
            for (i, m) in messages.iter().enumerate() {
                if i % 2 == 0 {
                    bytes.extend(compressed_to(role, true, TEXT, &peer.message(m.as_bytes())));
                } else {
                    bytes.extend(frame_to(role, true, TEXT, m.as_bytes()));
                }
            }
            bytes
        },
        &messages.iter().map(|m| text(m)).collect::<Vec<_>>(),
        &[],
    );
}

// ---------------------------------------------------------------------------
// RFC 7692 §6, §7.2.1: the sending side
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_7_2_1_messages_from_the_threshold_are_compressed_with_rsv1() {
    let config = Config::default().deflate(Some(DeflateConfig::default().threshold(100)));
    for role in ROLES {
        eprintln!("role {role:?}");
        let mut conn = deflating(role, &config, DeflateParams::default());
        let at = prose(100, 20);
        let above = noise(5000, 21);
        let below = "b".repeat(99);
        conn.send(Message::text(at.clone())).unwrap();
        conn.send(Message::binary(above.clone())).unwrap();
        conn.send(Message::text(below.clone())).unwrap();
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 3);
        let mut peer = PeerInflater::new(15, false);
        assert!(frames[0].fin && frames[0].rsv1 && frames[0].opcode == OpCode::Text);
        assert!(frames[0].payload.len() < at.len());
        assert_eq!(peer.message(&frames[0].payload), at.as_bytes());
        // Noise: compressed or, if that does not pay, sent as it is.
        assert!(frames[1].fin && frames[1].opcode == OpCode::Binary);
        if frames[1].rsv1 {
            assert_eq!(peer.message(&frames[1].payload), above);
        } else {
            assert_eq!(frames[1].payload, above);
        }
        // Below the threshold: as it is.
        assert!(frames[2].fin && !frames[2].rsv1 && frames[2].opcode == OpCode::Text);
        assert_eq!(frames[2].payload, below.as_bytes());
    }
    // The default threshold is 64 bytes, also without a deflate policy in
    // the configuration.
    for config in [
        defaults(),
        Config::default().deflate(Some(DeflateConfig::default())),
    ] {
        let mut conn = deflating(Role::Server, &config, DeflateParams::default());
        conn.send(Message::binary(vec![7; 63])).unwrap();
        conn.send(Message::binary(vec![7; 64])).unwrap();
        let frames = sent_frames(&mut conn);
        assert!(!frames[0].rsv1);
        assert_eq!(frames[0].payload, [7; 63]);
        assert!(frames[1].rsv1);
        assert_eq!(
            PeerInflater::new(15, false).message(&frames[1].payload),
            [7; 64]
        );
    }
}

#[test]
fn rfc7692_6_1_send_fragment_never_sets_rsv1() {
    let data = prose(10_000, 30);
    for role in ROLES {
        let mut conn = deflating(role, &defaults(), DeflateParams::default());
        let (a, b) = data.as_bytes().split_at(4000);
        conn.send_fragment(MessageKind::Text, a, false).unwrap();
        conn.send_fragment(MessageKind::Text, b, true).unwrap();
        conn.send_fragment(MessageKind::Binary, b, true).unwrap();
        let frames = sent_frames(&mut conn);
        assert!(frames.iter().all(|f| !f.rsv1), "{role:?}");
        let payloads: Vec<&[u8]> = frames.iter().map(|f| &f.payload[..]).collect();
        assert_eq!(payloads, [a, b, b]);
        // The compressor is untouched: a whole message after them is the
        // first of its stream.
        conn.send(Message::text("Hello".repeat(20))).unwrap();
        let frames = sent_frames(&mut conn);
        assert!(frames[0].rsv1);
        assert_eq!(
            PeerInflater::new(15, false).message(&frames[0].payload),
            "Hello".repeat(20).as_bytes()
        );
    }
}

#[test]
fn rfc7692_6_1_control_frames_never_set_rsv1() {
    for role in ROLES {
        eprintln!("role {role:?}");
        let config = Config::default().deflate(Some(DeflateConfig::default().threshold(0)));
        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.send_ping(&[b'p'; 100]).unwrap();
        conn.send_pong(&[b'q'; 100]).unwrap();
        // An automatic pong.
        conn.handle_input(&frame_to(role, true, PING, &[b'r'; 100]));
        assert_eq!(events(&mut conn), [ping(&[b'r'; 100])]);
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|f| !f.rsv1));

        // A pong held back while output waits goes out before the next
        // compressed message, without RSV1.
        conn.send(Message::binary(noise(8000, 40))).unwrap();
        conn.handle_input(&frame_to(role, true, PING, b"held"));
        assert_eq!(events(&mut conn), [ping(b"held")]);
        conn.send(Message::text("Hello".repeat(30))).unwrap();
        let frames = sent_frames(&mut conn);
        let kinds: Vec<(OpCode, bool)> = frames.iter().map(|f| (f.opcode, f.rsv1)).collect();
        assert_eq!(
            kinds,
            [
                (OpCode::Binary, true),
                (OpCode::Pong, false),
                (OpCode::Text, true)
            ]
        );
        assert_eq!(frames[1].payload, b"held");

        // The close frame, sent and echoed.
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "bye".repeat(30))))
            .unwrap();
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 1);
        assert!(!frames[0].rsv1 && frames[0].opcode == OpCode::Close);

        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.handle_input(&frame_to(
            role,
            true,
            CLOSE,
            &close_payload(1000, "x".repeat(100).as_bytes()),
        ));
        let (_, out) = drain(&mut conn);
        let frames = out_frames(&out);
        assert_eq!(frames.len(), 1);
        assert!(!frames[0].rsv1 && frames[0].opcode == OpCode::Close);
    }
}

// ---------------------------------------------------------------------------
// RFC 7692 §7.1: windows and context takeover, end to end
// ---------------------------------------------------------------------------

/// Twenty messages of all kinds: empty, short, long, compressible, noise,
/// repeated.
fn varied_messages() -> Vec<Message> {
    let messages = vec![
        Message::text(""),
        Message::binary(Vec::new()),
        Message::text("Hello"),
        Message::text(prose(63, 1)),
        Message::text(prose(64, 1)),
        Message::binary(noise(64, 2)),
        Message::text(prose(1000, 3)),
        Message::text(prose(1000, 3)),
        Message::binary(noise(3000, 4)),
        Message::binary(vec![0; 20_000]),
        Message::text(prose(20_000, 5)),
        Message::binary(prose(600, 6).into_bytes()),
        Message::text("✓".repeat(700)),
        Message::binary(noise(100, 7)),
        Message::text(prose(5000, 3)),
        Message::binary((0..=255).cycle().take(70_000).collect::<Vec<u8>>()),
        Message::text("a"),
        Message::text(prose(1000, 3)),
        Message::binary(noise(200, 4)),
        Message::text(prose(300, 8)),
    ];
    assert_eq!(messages.len(), 20);
    messages
}

/// `from` sends `message`; `to` must receive exactly it. Returns the
/// frames on the wire.
#[track_caller]
fn transfer(from: &mut Connection, to: &mut Connection, message: &Message) -> Vec<OutFrame> {
    from.send(message.clone()).unwrap();
    let bytes = output(from);
    let frames = out_frames(&bytes);
    to.handle_input(&bytes);
    assert_eq!(events(to), [message_event(message)]);
    frames
}

/// A client and a server with the same `params`, their messages
/// round-tripping exactly, and the effect of context takeover on the wire.
#[track_caller]
fn round_trip_with(p: DeflateParams) {
    eprintln!("{p:?}");
    let mut client = deflating(Role::Client, &defaults(), p);
    let mut server = deflating(Role::Server, &defaults(), p);

    // The same message twice: with context takeover the second refers to
    // the first; without, it is compressed the same way again.
    let repeated = Message::text(prose(500, 99));
    for (sender, no_context) in [
        (Role::Client, p.client_no_context_takeover),
        (Role::Server, p.server_no_context_takeover),
    ] {
        let (from, to) = match sender {
            Role::Client => (&mut client, &mut server),
            Role::Server => (&mut server, &mut client),
        };
        let first = transfer(from, to, &repeated);
        let second = transfer(from, to, &repeated);
        assert!(first[0].rsv1 && second[0].rsv1);
        let (a, b) = (first[0].payload.len(), second[0].payload.len());
        if no_context {
            assert_eq!(first[0].payload, second[0].payload, "{sender:?}");
        } else {
            assert!(b < a, "{sender:?}: {b} bytes after {a}");
        }
    }

    for message in varied_messages() {
        transfer(&mut client, &mut server, &message);
        transfer(&mut server, &mut client, &message);
    }
}

#[test]
fn rfc7692_7_1_every_window_and_context_setting_round_trips() {
    for bits in 9..=15 {
        for server_nct in [false, true] {
            for client_nct in [false, true] {
                round_trip_with(params(server_nct, client_nct, bits, bits));
            }
        }
    }
    // Different windows in the two directions.
    for (server_bits, client_bits) in [(9, 15), (15, 9), (12, 10), (10, 13)] {
        round_trip_with(params(false, false, server_bits, client_bits));
        round_trip_with(params(true, false, server_bits, client_bits));
    }
}

#[test]
fn rfc7692_7_1_every_window_inflates_what_flate2_compressed() {
    // The receiving side against a compressor that is not the code's own.
    let messages: Vec<Vec<u8>> = (0..6)
        .map(|i| match i % 3 {
            0 => prose(3000, i).into_bytes(),
            1 => noise(2000, i),
            _ => prose(200, 0).into_bytes(),
        })
        .collect();
    for bits in 9..=15 {
        for no_context in [false, true] {
            let p = params(no_context, no_context, bits, bits);
            accepts_compressed(
                &defaults(),
                p,
                |role| {
                    let (peer_bits, peer_nct) = peer_side(role, &p);
                    let mut peer = PeerDeflater::new(6, peer_bits, peer_nct);
                    let mut bytes = Vec::new();
                    for m in &messages {
                        bytes.extend(compressed_to(role, true, BINARY, &peer.message(m)));
                    }
                    bytes
                },
                &messages.iter().map(|m| binary(m)).collect::<Vec<_>>(),
                &[],
            );
        }
    }
}

#[test]
fn rfc7692_7_1_2_2_an_8_bit_window_is_sent_uncompressed_and_accepted() {
    // zlib cannot compress with a 256-byte window: that end sends its
    // messages as they are, which RFC 7692 always allows.
    let message = Message::text(prose(2000, 50));
    for (sender, p) in [
        (Role::Client, params(false, false, 15, 8)),
        (Role::Server, params(false, false, 8, 15)),
    ] {
        eprintln!("{sender:?} with an 8-bit window");
        let mut client = deflating(Role::Client, &defaults(), p);
        let mut server = deflating(Role::Server, &defaults(), p);
        let (from, to, other_from, other_to) = match sender {
            Role::Client => (&mut client, &mut server, Role::Server, Role::Client),
            Role::Server => (&mut server, &mut client, Role::Client, Role::Server),
        };
        for _ in 0..2 {
            let frames = transfer(from, to, &message);
            assert!(!frames[0].rsv1);
            assert_eq!(frames[0].payload, message.as_payload());
        }
        // The other direction still compresses.
        let frames = transfer(to, from, &message);
        assert!(frames[0].rsv1, "{other_from:?} to {other_to:?}");
    }
}

/// Text whose repeats lie about `distance` bytes apart (and so within a
/// window of `distance` or more, beyond a smaller one): blocks of random
/// letters, each repeated once `distance` bytes later.
fn repeats_at(distance: usize, len: usize) -> String {
    let mut x = distance as u32 ^ 0x9e37_79b9;
    let mut block = || {
        (0..distance)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect::<String>()
    };
    let mut out = String::new();
    while out.len() < len {
        let b = block();
        out.push_str(&b);
        out.push_str(&b);
    }
    out
}

#[test]
fn rfc7692_7_1_2_a_sender_keeps_to_each_small_window_agreed() {
    // For each window of 9 to 14 bits, the server's compressed messages
    // (with context takeover: later ones refer to earlier ones) are the
    // bytes a compressor made here with exactly that window produces, and
    // inflate with that window. (zlib's inflater also reads back through
    // the output of the call, so inflating alone would not catch a larger
    // window; the compressor's output, deterministic for a level and a
    // window, does.) The repeats lie just inside the window, and far
    // outside it.
    let level = DeflateConfig::default().level;
    for bits in 9..=14u8 {
        let window = 1usize << bits;
        let mut server = deflating(Role::Server, &defaults(), params(false, false, bits, 15));
        let mut peer = PeerDeflater::new(level, bits, false);
        let mut inflater = PeerInflater::new(bits, false);
        for distance in [window - 300, window * 3] {
            let message = Message::text(repeats_at(distance, 40_000));
            server.send(message.clone()).unwrap();
            let frames = split_frames(&output(&mut server));
            assert_eq!(frames.len(), 1);
            assert!(frames[0].0.rsv1, "{bits} bits: sent compressed");
            let expected = peer.message(message.as_payload());
            assert!(
                frames[0].1 == expected,
                "{bits} bits: not what a {bits}-bit compressor makes"
            );
            assert_eq!(
                inflater.message(&frames[0].1),
                message.as_payload(),
                "{bits} bits"
            );
        }
    }
}

#[test]
fn rfc7692_7_1_2_2_an_8_bit_window_inflates_what_zlib_sends_for_it() {
    // zlib compresses with a 9-bit window when asked for 8 (it has no
    // 256-byte window): a peer that agreed to 8 sends such data, with
    // references up to 512 bytes back, which rws must inflate.
    for receiver in ROLES {
        let p = match receiver {
            Role::Client => params(false, false, 8, 15),
            Role::Server => params(false, false, 15, 8),
        };
        let mut conn = deflating(receiver, &defaults(), p);
        let mut peer = PeerDeflater::new(6, 9, false);
        for distance in [200, 500] {
            let line = repeats_at(distance, 20_000);
            let compressed = peer.message(line.as_bytes());
            conn.handle_input(&compressed_to(receiver, true, TEXT, &compressed));
            assert_eq!(events(&mut conn), [text(&line)], "{receiver:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Config::stream_fragments with compression
// ---------------------------------------------------------------------------

#[test]
fn rfc7692_streamed_fragments_carry_inflated_bytes() {
    let config = Config::default().stream_fragments(true);
    let message = prose(60_000, 60);
    let compressed = deflate(message.as_bytes());
    let n = compressed.len();
    let cuts = [n / 5, 2 * n / 5, 3 * n / 5, 4 * n / 5];
    for role in ROLES {
        let bytes = fragmented_to(role, TEXT, &compressed, &cuts, None);
        let mut conn = deflating(role, &config, DeflateParams::default());
        let mut frags = Vec::new();
        for chunk in bytes.chunks(100) {
            conn.handle_input(chunk);
            frags.extend(fragments(events(&mut conn)));
        }
        assert!(frags.len() > 5, "{} pieces", frags.len());
        assert!(frags[0].first && frags.iter().skip(1).all(|f| !f.first));
        assert!(frags.last().unwrap().last);
        assert!(frags.iter().all(|f| f.kind == MessageKind::Text));
        let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
        assert_eq!(joined, message.as_bytes());
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc7692_streamed_fragments_keep_the_message_limit() {
    let limit = 10_000;
    let config = Config::default()
        .stream_fragments(true)
        .max_message_size(limit);
    let compressed = deflate(prose(50_000, 70).as_bytes());
    assert!(compressed.len() < limit);
    let error = ProtocolError::MessageTooLarge {
        size: limit as u64 + 1,
        limit,
    };
    for role in ROLES {
        for chunk_size in [1, 64, usize::MAX] {
            let bytes = compressed_to(role, true, TEXT, &compressed);
            let mut conn = deflating(role, &config, DeflateParams::default());
            let mut got = Vec::new();
            for chunk in bytes.chunks(chunk_size.min(bytes.len())) {
                conn.handle_input(chunk);
                got.extend(events(&mut conn));
            }
            let Some(last) = got.pop() else {
                panic!("no events")
            };
            let frags = fragments(got);
            let delivered: usize = frags.iter().map(|f| f.data.len()).sum();
            assert!(delivered <= limit, "{delivered} bytes delivered");
            check_failure(&mut conn, vec![last], &[], &[], error.clone());
        }
        // A zip bomb, streamed.
        let bomb = PeerDeflater::new(9, 15, false).message(&vec![0; 4 << 20]);
        let mut conn = deflating(role, &config, DeflateParams::default());
        conn.handle_input(&compressed_to(role, true, BINARY, &bomb));
        let mut got = events(&mut conn);
        let last = got.pop().unwrap();
        let delivered: usize = fragments(got).iter().map(|f| f.data.len()).sum();
        assert!(delivered <= limit);
        check_failure(&mut conn, vec![last], &[], &[], error.clone());
    }
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

#[test]
fn a_compressed_message_arriving_in_small_pieces_takes_only_the_memory_it_needs() {
    // 2000 bytes, compressed to a few dozen, fed one byte at a time: each
    // piece is inflated as it arrives.
    let data = prose(2000, 80).into_bytes();
    let compressed = deflate(&data);
    for role in ROLES {
        let mut conn = deflating(role, &defaults(), DeflateParams::default());
        for byte in compressed_to(role, true, BINARY, &compressed) {
            conn.handle_input(&[byte]);
        }
        let Some(Event::Message(Message::Binary(bytes))) = conn.poll_event() else {
            panic!("expected a binary message");
        };
        assert_eq!(bytes, data);
        let capacity = bytes.try_into_mut().expect("unique").capacity();
        assert!(
            capacity <= 64 << 10,
            "{capacity} bytes held for a {}-byte message",
            data.len()
        );
    }
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

fn arb_params() -> impl Strategy<Value = DeflateParams> {
    (any::<bool>(), any::<bool>(), 8..=15u8, 8..=15u8)
        .prop_map(|(snct, cnct, sbits, cbits)| params(snct, cnct, sbits, cbits))
}

/// A message: text or binary, 0–5000 bytes, compressible or random.
fn arb_message() -> impl Strategy<Value = Message> {
    let words = prop::sample::select(vec![
        "hello ",
        "world ",
        "wörld ",
        "✓ ",
        "rws ",
        "deflate ",
        "{\"a\":1} ",
    ]);
    prop_oneof![
        vec(words, 0..600).prop_map(|w| Message::text(w.concat())),
        vec(any::<char>(), 0..1200)
            .prop_map(|cs| Message::text(cs.into_iter().collect::<String>())),
        vec((any::<u8>(), 1..300usize), 0..40).prop_map(|runs| {
            let mut data: Vec<u8> = runs
                .into_iter()
                .flat_map(|(b, n)| std::iter::repeat_n(b, n))
                .collect();
            data.truncate(5000);
            Message::binary(data)
        }),
        vec(any::<u8>(), 0..5000).prop_map(Message::binary),
    ]
}

/// How a peer sends one message: compressed or not, and where its
/// payload is cut into fragments.
fn arb_sending() -> impl Strategy<Value = (bool, Vec<usize>)> {
    (any::<bool>(), vec(any::<usize>(), 0..4))
}

/// Feeds `bytes` cut at `cuts` (reduced modulo the length) into `conn`,
/// taking the events and output after each piece.
fn feed_cut(conn: &mut Connection, bytes: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    let mut start = 0;
    for end in points {
        conn.handle_input(&bytes[start..end]);
        start = end;
        let (e, o) = drain(conn);
        evs.extend(e);
        out.extend(o);
    }
    (evs, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Messages compressed by flate2 with the peer's agreed window and
    /// context policy (or sent as they are), fragmented anywhere and cut
    /// anywhere on the wire, arrive exactly.
    #[test]
    fn prop_rfc7692_compressed_messages_from_a_peer_arrive_intact(
        role in arb_role(),
        p in arb_params(),
        messages in vec((arb_message(), arb_sending()), 0..6),
        cuts in vec(any::<usize>(), 0..16),
    ) {
        let (bits, no_context) = peer_side(role, &p);
        // zlib cannot compress with 8 bits: such a peer does not compress.
        let mut peer = (bits >= 9).then(|| PeerDeflater::new(6, bits, no_context));
        let mut bytes = Vec::new();
        for (message, (compress, frag_cuts)) in &messages {
            let opcode = match message.kind() {
                MessageKind::Text => TEXT,
                MessageKind::Binary => BINARY,
            };
            let payload = match peer.as_mut().filter(|_| *compress) {
                Some(peer) => peer.message(message.as_payload()),
                None => message.as_payload().to_vec(),
            };
            let frag_cuts: Vec<usize> =
                frag_cuts.iter().map(|c| c % (payload.len() + 1)).collect();
            if *compress && peer.is_some() {
                bytes.extend(fragmented_to(role, opcode, &payload, &frag_cuts, None));
            } else {
                let mut points = frag_cuts.clone();
                points.sort_unstable();
                points.push(payload.len());
                let mut start = 0;
                for (i, &end) in points.iter().enumerate() {
                    let op = if i == 0 { opcode } else { CONT };
                    bytes.extend(frame_to(role, i == points.len() - 1, op, &payload[start..end]));
                    start = end;
                }
            }
        }
        let mut conn = deflating(role, &defaults(), p);
        let (evs, out) = feed_cut(&mut conn, &bytes, &cuts);
        let expected: Vec<Event> = messages.iter().map(|(m, _)| message_event(m)).collect();
        prop_assert_eq!(evs, expected);
        prop_assert!(out.is_empty());
    }

    /// A client and a server with any agreed parameters and any threshold
    /// exchange any messages both ways, however TCP cuts the bytes.
    #[test]
    fn prop_rfc7692_connections_round_trip_any_messages(
        p in arb_params(),
        threshold in prop_oneof![Just(0usize), Just(64), 0..6000usize],
        level in 0..=9u32,
        messages in vec(arb_message(), 0..8),
        cuts in vec(any::<usize>(), 0..16),
    ) {
        let config = Config::default()
            .deflate(Some(DeflateConfig::default().threshold(threshold).level(level)));
        let mut client = deflating(Role::Client, &config, p);
        let mut server = deflating(Role::Server, &config, p);
        let expected: Vec<Event> = messages.iter().map(message_event).collect();

        for m in &messages {
            client.send(m.clone()).unwrap();
        }
        let bytes = output(&mut client);
        let (evs, out) = feed_cut(&mut server, &bytes, &cuts);
        prop_assert_eq!(&evs, &expected);
        prop_assert!(out.is_empty());

        for m in &messages {
            server.send(m.clone()).unwrap();
        }
        let bytes = output(&mut server);
        let (evs, out) = feed_cut(&mut client, &bytes, &cuts);
        prop_assert_eq!(&evs, &expected);
        prop_assert!(out.is_empty());
    }
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}
