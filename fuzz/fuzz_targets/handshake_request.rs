//! `handshake::parse_request` on arbitrary bytes, with the default limits.
//!
//! Checks: a parsed request used no more bytes than it was given, and its
//! acceptance is a 101 with `Upgrade`, `Connection` and the
//! `Sec-WebSocket-Accept` for its key, which `encode_response` writes as an
//! HTTP head that parses back completely. Choosing an offered subprotocol
//! echoes it. Every error has a status and an encodable error response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rws_proto::handshake::{
    accept_key, encode_response, error_response, parse_request, Accept, HeadLimits,
};

fuzz_target!(|data: &[u8]| {
    let (request, n) = match parse_request(data, &HeadLimits::default()) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            assert!(data.len() <= HeadLimits::default().max_head_size);
            return;
        }
        Err(error) => {
            let _ = error.to_string();
            let response = error_response(&error);
            assert_eq!(response.status(), error.status());
            let mut out = Vec::new();
            encode_response(&response, &mut out);
            assert!(out.starts_with(b"HTTP/1.1 "));
            return;
        }
    };
    assert!(n <= data.len(), "used {n} of {} bytes", data.len());
    assert!(n <= HeadLimits::default().max_head_size);

    // The accessors do not panic.
    let _ = (
        request.uri(),
        request.path(),
        request.query(),
        request.origin(),
    );
    let offered: Vec<String> = request.protocols().map(str::to_owned).collect();

    let response = request.accept(&Accept::new());
    assert_eq!(response.status(), 101);
    let h = response.headers();
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "Upgrade");
    let key = request.headers()["sec-websocket-key"]
        .as_bytes()
        .trim_ascii();
    assert_eq!(h["sec-websocket-accept"], accept_key(key).as_str());
    assert!(!h.contains_key("sec-websocket-protocol"));

    let mut out = Vec::new();
    encode_response(&response, &mut out);
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(out.ends_with(b"\r\n\r\n"));
    assert_parses_back(&out);

    if let Some(first) = offered.first() {
        let response = request.accept(&Accept::new().protocol(first.as_str()));
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], first.as_str());
        let mut out = Vec::new();
        encode_response(&response, &mut out);
        assert_parses_back(&out);
    }
});

/// The encoded 101 is one complete HTTP/1.1 response head.
fn assert_parses_back(out: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(out) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, out.len()),
        other => panic!("encoded response does not parse back: {other:?}"),
    }
    assert_eq!(parsed.code, Some(101));
}
