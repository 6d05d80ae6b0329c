use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------
// Property tests: chunking is invisible
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Control {
    ping: bool,
    payload: Vec<u8>,
    key: [u8; 4],
}

#[derive(Clone, Debug)]
enum Item {
    Data {
        text: bool,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        controls: Vec<Control>,
        key: [u8; 4],
    },
    Control(Control),
}

/// What a stream of frames should produce.
#[derive(Debug, Default)]
struct Script {
    bytes: Vec<u8>,
    events: Vec<Event>,
    replies: Vec<(OpCode, Vec<u8>)>,
}

impl Script {
    fn control(&mut self, receiver: Role, c: &Control) {
        let opcode = if c.ping { PING } else { PONG };
        self.bytes.extend(raw_frame(
            FIN | opcode,
            peer_key(receiver, c.key),
            &c.payload,
        ));
        if c.ping {
            self.events.push(ping(&c.payload));
            self.replies.push((OpCode::Pong, c.payload.clone()));
        } else {
            self.events.push(pong(&c.payload));
        }
    }

    fn item(&mut self, receiver: Role, item: &Item) {
        let (is_text, payload, cuts, controls, key) = match item {
            Item::Control(c) => return self.control(receiver, c),
            Item::Data {
                text,
                payload,
                cuts,
                controls,
                key,
            } => (text, payload, cuts, controls, key),
        };
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
        points.sort_unstable();
        points.push(payload.len());
        let mut start = 0;
        for (i, &end) in points.iter().enumerate() {
            let opcode = match (i, is_text) {
                (0, true) => TEXT,
                (0, false) => BINARY,
                _ => CONT,
            };
            let fin = i == points.len() - 1;
            self.bytes.extend(raw_frame(
                b0(fin, opcode),
                peer_key(receiver, *key),
                &payload[start..end],
            ));
            start = end;
            if let (false, Some(c)) = (fin, controls.get(i)) {
                self.control(receiver, c);
            }
        }
        self.events.push(if *is_text {
            text(std::str::from_utf8(payload).unwrap())
        } else {
            binary(payload)
        });
    }

    fn close(&mut self, receiver: Role, code: u16, reason: &str, key: [u8; 4]) {
        self.bytes.extend(raw_frame(
            FIN | CLOSE,
            peer_key(receiver, key),
            &close_payload(code, reason.as_bytes()),
        ));
        self.events.push(close_received(code, reason));
        self.events.push(closed(code, reason, Initiator::Remote));
        self.replies.push((OpCode::Close, close_payload(code, b"")));
    }
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

fn arb_control() -> impl Strategy<Value = Control> {
    (any::<bool>(), vec(any::<u8>(), 0..=125), any::<[u8; 4]>())
        .prop_map(|(ping, payload, key)| Control { ping, payload, key })
}

fn arb_item() -> impl Strategy<Value = Item> {
    let payload = prop_oneof![
        vec(any::<char>(), 0..40)
            .prop_map(|cs| (true, cs.into_iter().collect::<String>().into_bytes())),
        vec(any::<u8>(), 0..300).prop_map(|b| (false, b)),
    ];
    prop_oneof![
        3 => (payload, vec(any::<usize>(), 0..4), vec(arb_control(), 0..3), any::<[u8; 4]>())
            .prop_map(|((text, payload), cuts, controls, key)| Item::Data {
                text,
                payload,
                cuts,
                controls,
                key,
            }),
        1 => arb_control().prop_map(Item::Control),
    ]
}

fn arb_close() -> impl Strategy<Value = (u16, String, [u8; 4])> {
    (
        prop::sample::select(vec![1000u16, 1001, 1003, 1008, 1011, 3000, 4000, 4999]),
        vec(any::<char>(), 0..20).prop_map(|cs| cs.into_iter().collect::<String>()),
        any::<[u8; 4]>(),
    )
}

/// Feeds `bytes` cut at `cuts` (positions, reduced modulo the length),
/// collecting the events and output after each piece.
fn feed_in_pieces(role: Role, bytes: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    let mut conn = Connection::new(role, defaults());
    let mut evs = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for end in points {
        conn.handle_input(&bytes[start..end]);
        start = end;
        let (e, o) = drain(&mut conn);
        evs.extend(e);
        out.extend(o);
    }
    (evs, out)
}

fn feed_whole(role: Role, bytes: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = Connection::new(role, defaults());
    conn.handle_input(bytes);
    drain(&mut conn)
}

/// The output's frames; the bytes themselves differ between runs of a
/// client, whose masking keys are random.
fn wire(role: Role, out: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    sent_bytes(role, out)
}

/// Garbage appended to a valid prefix.
#[derive(Clone, Debug)]
enum Garbage {
    /// Any bytes.
    Raw(Vec<u8>),
    /// A well-masked text frame with random payload: mostly invalid UTF-8.
    Text { fin: bool, payload: Vec<u8> },
    /// A random first byte (reserved bits, opcodes) on a random payload.
    Header { b0: u8, payload: Vec<u8> },
}

impl Garbage {
    fn bytes(&self, receiver: Role) -> Vec<u8> {
        match self {
            Garbage::Raw(bytes) => bytes.clone(),
            Garbage::Text { fin, payload } => frame_to(receiver, *fin, TEXT, payload),
            Garbage::Header { b0, payload } => raw_to(receiver, *b0, payload),
        }
    }
}

fn arb_garbage() -> impl Strategy<Value = Garbage> {
    prop_oneof![
        vec(any::<u8>(), 1..40).prop_map(Garbage::Raw),
        (any::<bool>(), vec(any::<u8>(), 1..40))
            .prop_map(|(fin, payload)| Garbage::Text { fin, payload }),
        (any::<u8>(), vec(any::<u8>(), 0..140))
            .prop_map(|(b0, payload)| Garbage::Header { b0, payload }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// RFC 6455 §5.4 ("intermediaries ... MAY change the fragmentation"), and
    /// TCP, may cut a stream anywhere: the events and the output do not
    /// depend on where.
    #[test]
    fn prop_rfc6455_5_any_chunking_of_a_valid_stream_is_invisible(
        role in arb_role(),
        items in vec(arb_item(), 0..8),
        (code, reason, key) in arb_close(),
        trailing in vec(any::<u8>(), 0..10),
        cuts in vec(any::<usize>(), 0..24),
    ) {
        let mut script = Script::default();
        for item in &items {
            script.item(role, item);
        }
        script.close(role, code, &reason, key);
        // Anything after the close frame is ignored.
        script.bytes.extend_from_slice(&trailing);

        let (whole_events, whole_out) = feed_whole(role, &script.bytes);
        prop_assert_eq!(&whole_events, &script.events);
        prop_assert_eq!(wire(role, &whole_out), script.replies.clone());

        let (events, out) = feed_in_pieces(role, &script.bytes, &cuts);
        prop_assert_eq!(&events, &whole_events);
        if role == Role::Server {
            prop_assert_eq!(&out, &whole_out);
        }
        prop_assert_eq!(wire(role, &out), script.replies);
    }

    /// The same for a stream that breaks the protocol somewhere after a
    /// valid prefix: the failure (or the wait for more input) is the same
    /// however the bytes arrive.
    #[test]
    fn prop_rfc6455_7_1_7_any_chunking_of_an_invalid_stream_is_invisible(
        role in arb_role(),
        items in vec(arb_item(), 0..5),
        garbage in arb_garbage(),
        cuts in vec(any::<usize>(), 0..24),
    ) {
        let mut script = Script::default();
        for item in &items {
            script.item(role, item);
        }
        let prefix_events = script.events.len();
        script.bytes.extend(garbage.bytes(role));

        let (whole_events, whole_out) = feed_whole(role, &script.bytes);
        // The valid prefix's events come first, untouched.
        prop_assert_eq!(&whole_events[..prefix_events], &script.events[..]);

        let (events, out) = feed_in_pieces(role, &script.bytes, &cuts);
        prop_assert_eq!(&events, &whole_events);
        if role == Role::Server {
            prop_assert_eq!(&out, &whole_out);
        }
        prop_assert_eq!(wire(role, &out), wire(role, &whole_out));

        // A stream fed one byte at a time, too.
        let every: Vec<usize> = (0..script.bytes.len()).collect();
        let (events, out) = feed_in_pieces(role, &script.bytes, &every);
        prop_assert_eq!(&events, &whole_events);
        prop_assert_eq!(wire(role, &out), wire(role, &whole_out));
    }

    /// Any valid text, cut anywhere into fragments, arrives intact.
    #[test]
    fn prop_rfc6455_8_1_text_cut_into_fragments_is_valid(
        role in arb_role(),
        chars in vec(any::<char>(), 0..60),
        cuts in vec(any::<usize>(), 0..6),
        stream in any::<bool>(),
    ) {
        let message: String = chars.into_iter().collect();
        let item = Item::Data {
            text: true,
            payload: message.clone().into_bytes(),
            cuts,
            controls: Vec::new(),
            key: KEY,
        };
        let mut script = Script::default();
        script.item(role, &item);
        let mut conn = Connection::new(role, Config::default().stream_fragments(stream));
        conn.handle_input(&script.bytes);
        let evs = events(&mut conn);
        if stream {
            let frags = fragments(evs);
            prop_assert!(frags.first().is_some_and(|f| f.first));
            prop_assert!(frags.last().is_some_and(|f| f.last));
            let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
            prop_assert_eq!(joined, message.into_bytes());
        } else {
            prop_assert_eq!(evs, vec![text(&message)]);
        }
        prop_assert!(!conn.wants_write());
    }
}
