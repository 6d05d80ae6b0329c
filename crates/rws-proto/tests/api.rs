//! The public API's small promises, each checked against a value written
//! here (from RFC 6455, RFC 7692, the IANA registry or the item's docs), not
//! computed by the code under test. Most were found by cargo-mutants
//! (MUTANTS.md): a deliberate bug in them passed every other test of the
//! core.

use std::io::IoSlice;

use rws_proto::bytes::Bytes;
use rws_proto::deflate::DeflateConfig;
use rws_proto::http::{Response, StatusCode};
use rws_proto::{
    CloseCode, Config, Connection, HandshakeError, Message, Role, SendError, Utf8Bytes,
};

#[test]
fn close_codes_display_their_number_and_registered_name() {
    // RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number Registry".
    let expected = [
        (1000, "1000 (normal closure)"),
        (1001, "1001 (going away)"),
        (1002, "1002 (protocol error)"),
        (1003, "1003 (unsupported data)"),
        (1005, "1005 (no status code)"),
        (1006, "1006 (abnormal closure)"),
        (1007, "1007 (invalid payload data)"),
        (1008, "1008 (policy violation)"),
        (1009, "1009 (message too big)"),
        (1010, "1010 (mandatory extension)"),
        (1011, "1011 (internal error)"),
        (1012, "1012 (service restart)"),
        (1013, "1013 (try again later)"),
        (1014, "1014 (bad gateway)"),
        (1015, "1015 (TLS handshake failure)"),
        // Unnamed codes are their number alone.
        (1004, "1004"),
        (3000, "3000"),
        (4999, "4999"),
    ];
    for (code, text) in expected {
        assert_eq!(CloseCode::from(code).to_string(), text, "{code}");
    }
}

#[test]
fn close_codes_convert_to_their_number() {
    for code in [0u16, 1, 1000, 1011, 4000, u16::MAX] {
        assert_eq!(u16::from(CloseCode::from(code)), code);
    }
    assert_eq!(u16::from(CloseCode::GOING_AWAY), 1001);
}

#[test]
fn a_connection_reports_its_deflate_parameters_and_configuration() {
    let config = Config::default().max_message_size(12_345);
    let plain = Connection::new(Role::Server, config.clone());
    assert_eq!(plain.deflate(), None);
    assert_eq!(plain.config().max_message_size, 12_345);
    assert_eq!(plain.role(), Role::Server);

    let params = rws_proto::deflate::parse_response(
        ["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"],
        &DeflateConfig::default(),
    )
    .unwrap()
    .unwrap();
    let compressing = Connection::new(Role::Client, config).with_deflate(params);
    let got = compressing.deflate().expect("negotiated");
    assert!(got.server_no_context_takeover);
    assert!(!got.client_no_context_takeover);
    assert_eq!(
        (got.server_max_window_bits, got.client_max_window_bits),
        (15, 10)
    );
    assert_eq!(compressing.role(), Role::Client);
}

#[test]
fn deflate_config_setters_set_their_own_field_only() {
    let config = DeflateConfig::default().threshold(7).level(0);
    assert_eq!((config.level, config.threshold), (0, 7));
    let config = DeflateConfig::default().threshold(7).level(3);
    assert_eq!((config.level, config.threshold), (3, 7));
    assert_eq!(
        DeflateConfig::default().level(12).level,
        9,
        "clamped to zlib's 0-9"
    );
}

#[test]
fn rfc7692_7_1_2_the_answer_names_a_window_below_15_bits_or_one_the_offer_named() {
    let answer = |offer: &str, config: DeflateConfig| {
        rws_proto::deflate::server_negotiate([offer], &config)
            .expect("accepted")
            .response_header()
    };
    let default = DeflateConfig::default;
    assert_eq!(
        answer("permessage-deflate", default()),
        "permessage-deflate"
    );
    // §7.1.2.1: a server may limit its own window unasked, and says so.
    assert_eq!(
        answer("permessage-deflate", default().server_max_window_bits(10)),
        "permessage-deflate; server_max_window_bits=10"
    );
    // §7.1.2.1: an offer naming server_max_window_bits is accepted only by
    // an answer naming it, even at 15.
    assert_eq!(
        answer("permessage-deflate; server_max_window_bits=15", default()),
        "permessage-deflate; server_max_window_bits=15"
    );
    // §7.1.2.2: the client's window, limited only where the offer allows it.
    assert_eq!(
        answer(
            "permessage-deflate; client_max_window_bits",
            default().client_max_window_bits(12)
        ),
        "permessage-deflate; client_max_window_bits=12"
    );
    assert_eq!(
        answer("permessage-deflate; client_max_window_bits", default()),
        "permessage-deflate",
        "15 is the default: not named"
    );
}

#[test]
fn send_errors_say_what_went_wrong() {
    let cases = [
        (SendError::Closed, "closing or closed"),
        (SendError::ControlPayloadTooLong(126), "126"),
        (SendError::InvalidCloseCode(1005), "1005"),
        (SendError::CloseReasonTooLong(124), "124"),
    ];
    for (error, needle) in cases {
        let text = error.to_string();
        assert!(text.contains(needle), "{error:?}: {text:?}");
    }
    assert!(!SendError::FragmentOrder.to_string().is_empty());
}

#[test]
fn rfc6455_4_2_2_handshake_errors_answer_with_their_http_status() {
    assert_eq!(
        HandshakeError::Version.status(),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        HandshakeError::UnsupportedVersion.status(),
        StatusCode::UPGRADE_REQUIRED
    );
    let refusal = Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        HandshakeError::Rejected(Box::new(refusal)).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn utf8_bytes_behave_like_the_text_they_hold() {
    let text = Utf8Bytes::from("héllo \"you\"");
    let s: &str = text.as_ref();
    assert_eq!(s, "héllo \"you\"");
    assert_eq!(String::from(text.clone()), "héllo \"you\"");
    assert!(text == *"héllo \"you\"");
    assert!(text != *"hello");
    assert!(text == "héllo \"you\"");
    assert!(text != "hello");
    assert_eq!(format!("{text}"), "héllo \"you\"");
    assert_eq!(
        format!("{text:?}"),
        r#""héllo \"you\"""#,
        "quoted and escaped, like a str"
    );
    assert_eq!(Message::text(text.clone()).as_text(), Some("héllo \"you\""));
    assert_eq!(Message::binary(&b"x"[..]).as_text(), None);
}

#[test]
fn queued_output_drains_through_every_interface_alike() {
    // A first message copied into the buffer (small enough to be copied
    // out of it again when a shared payload follows, or not), a large one
    // queued by reference, a small one: RFC 6455 §5.2 headers written out
    // here (126..=65535 bytes: a 16-bit length).
    for first in [2usize, 200] {
        check_queued_output(first);
    }
}

fn check_queued_output(first: usize) {
    let big = vec![7u8; 60 << 10];
    let text = "h".repeat(first);
    let mut expected = match first {
        0..=125 => vec![0x81, first as u8],
        _ => vec![0x81, 0x7e, 0, first as u8],
    };
    expected.extend_from_slice(text.as_bytes());
    expected.extend_from_slice(&[0x82, 0x7e]);
    expected.extend_from_slice(&(big.len() as u16).to_be_bytes());
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\x81\x05after");
    let fill = || {
        let mut server = Connection::new(Role::Server, Config::default());
        assert!(!server.wants_write());
        assert_eq!(server.pending_output_len(), 0);
        server.send(Message::text(text.as_str())).unwrap();
        server.send(Message::binary(big.clone())).unwrap();
        server.send(Message::text("after")).unwrap();
        assert!(server.wants_write());
        assert_eq!(server.pending_output_len(), expected.len());
        server
    };

    // poll_transmit: everything, appended after what the buffer held.
    let mut server = fill();
    let mut wire = b"before".to_vec();
    assert_eq!(server.poll_transmit(&mut wire), expected.len());
    assert_eq!(&wire[..6], b"before");
    assert_eq!(&wire[6..], &expected[..]);
    assert!(!server.wants_write());
    assert_eq!(server.poll_transmit(&mut wire), 0);

    // pending_output / consume_output, a few bytes at a time.
    let mut server = fill();
    let mut wire = Vec::new();
    while server.wants_write() {
        let part = server.pending_output();
        assert!(!part.is_empty());
        let n = part.len().min(1000);
        wire.extend_from_slice(&part[..n]);
        server.consume_output(n);
        assert_eq!(server.pending_output_len(), expected.len() - wire.len());
    }
    assert_eq!(wire, expected);

    // pending_output_vectored: the parts in order, then consumed at once.
    let mut server = fill();
    assert_eq!(
        server.pending_output_parts(),
        3,
        "header, shared payload, tail"
    );
    let mut slices = [IoSlice::new(&[]); 8];
    let n = server.pending_output_vectored(&mut slices);
    assert_eq!(n, 3);
    let wire: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
    assert_eq!(wire, expected);
    // A slice array shorter than the parts gets the first ones.
    let mut one = [IoSlice::new(&[])];
    assert_eq!(server.pending_output_vectored(&mut one), 1);
    assert_eq!(&one[0][..], &expected[..one[0].len()]);
    server.consume_output(expected.len());
    assert!(!server.wants_write());
    assert_eq!(server.pending_output_parts(), 0);
}

#[test]
fn rfc7692_7_1_2_a_client_offers_a_window_below_15_bits_by_value() {
    use rws_proto::deflate::client_offer;
    let offer = |config: DeflateConfig| client_offer(&config);
    let default = DeflateConfig::default;
    // §7.1.2.2: a bare client_max_window_bits lets the server choose.
    assert_eq!(
        offer(default()),
        "permessage-deflate; client_max_window_bits"
    );
    assert_eq!(
        offer(default().client_max_window_bits(14)),
        "permessage-deflate; client_max_window_bits=14"
    );
    assert_eq!(
        offer(default().server_max_window_bits(14)),
        "permessage-deflate; server_max_window_bits=14; client_max_window_bits"
    );
    assert_eq!(
        offer(
            default()
                .server_max_window_bits(15)
                .client_max_window_bits(15)
        ),
        "permessage-deflate; client_max_window_bits"
    );
}

#[test]
fn inflate_errors_and_inflaters_describe_themselves() {
    use rws_proto::deflate::{InflateError, Inflater};
    assert_eq!(InflateError::Corrupt.to_string(), "corrupt deflate data");
    assert_eq!(
        InflateError::TooLarge.to_string(),
        "inflated data larger than the limit"
    );
    assert_eq!(format!("{:?}", Inflater::new(15, false)), "Inflater { .. }");
}

#[test]
fn rfc6455_5_2_opcodes_are_named_as_the_rfc_writes_them() {
    use rws_proto::frame::OpCode;
    let names = [
        (0x0, "continuation"),
        (0x1, "text"),
        (0x2, "binary"),
        (0x8, "close"),
        (0x9, "ping"),
        (0xa, "pong"),
    ];
    for (bits, name) in names {
        assert_eq!(OpCode::from_bits(bits).unwrap().name(), name);
    }
}

#[test]
fn rfc6455_5_3_masking_from_any_offset_continues_the_key() {
    use rws_proto::frame::{apply_mask, extend_masked};
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    // Offsets beyond 2^29 and 2^32 (large frames) as well as small ones:
    // byte i of a part masked from `offset` takes key[(offset + i) % 4].
    for base in [0usize, 1 << 29, (1 << 32) + 4, usize::MAX - 1003] {
        for at in [0usize, 1, 2, 3, 5, 333] {
            let offset = base + at;
            let expected: Vec<u8> = payload[at..]
                .iter()
                .enumerate()
                .map(|(i, byte)| byte ^ key[(offset % 4 + i) % 4])
                .collect();
            let mut part = payload[at..].to_vec();
            apply_mask(&mut part, key, offset);
            assert_eq!(part, expected, "offset {offset}");
            let mut copied = b"before".to_vec();
            extend_masked(&mut copied, &payload[at..], key, offset);
            assert_eq!(&copied[..6], b"before");
            assert_eq!(&copied[6..], &expected[..], "offset {offset}");
        }
    }
}

#[test]
fn rfc7692_7_1_2_2_a_response_names_the_clients_window_by_value() {
    use rws_proto::deflate::parse_response;
    let config = DeflateConfig::default();
    // The offer's bare client_max_window_bits lets the server choose; the
    // answer must give a value (RFC 7692 §7.1.2.2).
    assert!(parse_response(["permessage-deflate; client_max_window_bits"], &config).is_err());
    let params = parse_response(["permessage-deflate; client_max_window_bits=10"], &config)
        .unwrap()
        .unwrap();
    assert_eq!(params.client_max_window_bits, 10);
    // RFC 6455 §9.1: parameters without an extension name are malformed
    // (an empty list element alone is allowed).
    assert!(parse_response(["; server_no_context_takeover"], &config).is_err());
    assert_eq!(parse_response([", ,"], &config).unwrap(), None);
}

#[test]
fn rfc6455_9_1_a_quoted_value_is_a_token_once_unescaped() {
    use rws_proto::deflate::server_negotiate;
    let config = DeflateConfig::default();
    let window = |header: &str| {
        server_negotiate([header], &config).map(|params| params.client_max_window_bits)
    };
    assert_eq!(
        window(r#"permessage-deflate; client_max_window_bits="12""#),
        Some(12)
    );
    assert_eq!(
        window(r#"permessage-deflate; client_max_window_bits="1\2""#),
        Some(12)
    );
    // Separators are not token characters, quoted or not: the header is
    // malformed, and the server declines rather than guess.
    for header in [
        r#"x-other; p="a,b", permessage-deflate"#,
        r#"x-other; p="a;b", permessage-deflate"#,
        r#"x-other; p="a\"b", permessage-deflate"#,
        r#"x-other; p="a, permessage-deflate"#,
    ] {
        assert_eq!(window(header), None, "{header}");
    }
}

#[test]
fn rfc6455_4_1_a_response_head_over_the_limit_fails_whole_or_cut() {
    use rws_proto::handshake::{ClientHandshake, HeadLimits};
    let client = ClientHandshake::new("ws://example.com/chat", &[])
        .unwrap()
        .limits(HeadLimits::default().max_head_size(100));
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n".to_vec();
    head.extend_from_slice(b"Connection: Upgrade\r\nX-Padding: ");
    head.extend_from_slice(&[b'p'; 60]);
    head.extend_from_slice(b"\r\n");
    assert!(head.len() > 100);
    let too_large = |result| matches!(result, Err(HandshakeError::HeadTooLarge { limit: 100 }));
    // Cut (no end of head yet) but already past the limit: no point waiting.
    assert!(too_large(client.handle_response(&head, false)), "cut");
    head.extend_from_slice(b"\r\n");
    assert!(too_large(client.handle_response(&head, false)), "whole");
}

#[test]
fn an_upgrade_request_gives_the_whole_request_and_its_target() {
    use rws_proto::handshake::{parse_request, HeadLimits};
    let wire = b"GET /chat/room?name=a%20b HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n";
    let (request, n) = parse_request(wire, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, wire.len());
    assert_eq!(request.path(), "/chat/room");
    assert_eq!(request.uri().path(), "/chat/room");
    assert_eq!(request.uri().query(), Some("name=a%20b"));
    assert_eq!(request.request().method(), "GET");
    assert_eq!(request.request().headers()["origin"], "http://example.com");
    assert_eq!(request.request().uri(), "/chat/room?name=a%20b");
}

/// RFC 6455 §1.3's sample request, with extra fields.
fn sample_request(extra: &str) -> rws_proto::handshake::UpgradeRequest {
    use rws_proto::handshake::{parse_request, HeadLimits};
    let wire = format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    parse_request(wire.as_bytes(), &HeadLimits::default())
        .unwrap()
        .unwrap()
        .0
}

#[test]
fn rfc7692_5_a_server_negotiates_from_the_clients_offer_only() {
    let config = DeflateConfig::default();
    assert_eq!(sample_request("").negotiate_deflate(&config), None);
    let offered = sample_request(
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
    );
    let params = offered.negotiate_deflate(&config).expect("accepted");
    assert!(params.server_no_context_takeover);
    assert_eq!(params.server_max_window_bits, 15);
}

#[test]
fn an_upgrade_request_hands_back_the_request_it_checked() {
    let request = sample_request("X-Trace: 42\r\n").into_request();
    assert_eq!(request.method(), "GET");
    assert_eq!(request.uri(), "/chat");
    assert_eq!(request.headers()["x-trace"], "42");
    assert_eq!(request.headers()["host"], "server.example.com");
}

#[test]
fn accept_and_rejection_keep_what_they_were_given() {
    use rws_proto::handshake::{Accept, Rejection};
    assert_eq!(Accept::new().chosen_protocol(), None);
    assert_eq!(
        Accept::new().protocol("chat").chosen_protocol(),
        Some("chat")
    );
    assert!(Accept::new().deflate_config().is_none());
    let accept = Accept::new().deflate(DeflateConfig::default().level(3).threshold(9));
    let config = accept.deflate_config().expect("set");
    assert_eq!((config.level, config.threshold), (3, 9));

    let no = Rejection::new(StatusCode::FORBIDDEN, "origin not allowed").header("x-why", "origin");
    assert_eq!(no.response().status(), StatusCode::FORBIDDEN);
    assert_eq!(no.response().headers()["x-why"], "origin");
    let response = no.into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.body().as_ref(), b"origin not allowed");
    assert_eq!(response.headers()["x-why"], "origin");
}

#[test]
fn rfc6455_4_2_1_an_upgrade_request_names_websocket_in_upgrade() {
    use rws_proto::handshake::is_upgrade_request;
    let request = |upgrade: Option<&str>| {
        let mut builder = rws_proto::http::Request::builder().uri("/");
        if let Some(value) = upgrade {
            builder = builder.header("upgrade", value);
        }
        builder.body(()).unwrap()
    };
    assert!(is_upgrade_request(&request(Some("websocket"))));
    assert!(
        is_upgrade_request(&request(Some("WebSocket"))),
        "case-insensitive"
    );
    assert!(
        is_upgrade_request(&request(Some("h2c, websocket"))),
        "a list"
    );
    assert!(!is_upgrade_request(&request(Some("h2c"))));
    assert!(!is_upgrade_request(&request(None)));
}

#[test]
fn rfc7230_3_3_responses_carry_their_body_and_one_length() {
    use rws_proto::handshake::encode_response;
    fn encoded<B: rws_proto::handshake::ResponseBody>(
        status: u16,
        body: B,
        length: bool,
    ) -> String {
        let mut builder = Response::builder().status(status);
        if length {
            builder = builder.header("content-length", "2");
        }
        let mut out = Vec::new();
        encode_response(&builder.body(body).unwrap(), &mut out);
        String::from_utf8(out).unwrap()
    }
    let head = "HTTP/1.1 400 Bad Request\r\n";
    assert_eq!(
        encoded(400, (), false),
        format!("{head}content-length: 0\r\n\r\n")
    );
    assert_eq!(
        encoded(400, b"no".to_vec(), false),
        format!("{head}content-length: 2\r\n\r\nno")
    );
    assert_eq!(
        encoded(400, String::from("no"), false),
        format!("{head}content-length: 2\r\n\r\nno")
    );
    assert_eq!(
        encoded(400, "no", false),
        format!("{head}content-length: 2\r\n\r\nno")
    );
    assert_eq!(
        encoded(400, Bytes::from_static(b"no"), false),
        format!("{head}content-length: 2\r\n\r\nno")
    );
    // A length already set is not repeated.
    assert_eq!(
        encoded(400, "no", true),
        format!("{head}content-length: 2\r\n\r\nno")
    );
    // RFC 7230 §3.3.2: no Content-Length in a 1xx response, and no body.
    assert_eq!(
        encoded(101, (), false),
        "HTTP/1.1 101 Switching Protocols\r\n\r\n"
    );
}

#[test]
fn rfc7692_7_1_2_2_a_response_may_not_raise_the_clients_window() {
    use rws_proto::deflate::parse_response;
    let config = DeflateConfig::default().client_max_window_bits(10);
    let answer = |header: &str| parse_response([header], &config);
    assert!(answer("permessage-deflate; client_max_window_bits=12").is_err());
    let params = answer("permessage-deflate; client_max_window_bits=9")
        .unwrap()
        .unwrap();
    assert_eq!(params.client_max_window_bits, 9);
    let params = answer("permessage-deflate").unwrap().unwrap();
    assert_eq!(params.client_max_window_bits, 10, "what the client offered");
}
