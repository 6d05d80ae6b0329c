//! `ClientHandshake::handle_response` on arbitrary bytes, with `eof` false
//! and true.
//!
//! The client's key is random, so the input cannot know the right
//! `Sec-WebSocket-Accept`: every `@ACCEPT@` in the input is replaced with it
//! first, which lets the seeds (and the fuzzer) reach the success path.
//!
//! Checks: no panic; a success used no more bytes than it was given, is a
//! 101, and gives the same answer for just the head; at EOF the answer is
//! never "need more bytes"; a rejection is not a 101 and keeps a body that
//! is a prefix of the bytes after the head, at most `MAX_REJECTION_BODY`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rws_proto::handshake::{accept_key, ClientHandshake, MAX_REJECTION_BODY};
use rws_proto::HandshakeError;

const MARKER: &[u8] = b"@ACCEPT@";

fn substitute(data: &[u8], accept: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while !rest.is_empty() {
        if rest.starts_with(MARKER) {
            out.extend_from_slice(accept);
            rest = &rest[MARKER.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// The length of the response head, as the client parses it.
fn head_len(bytes: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    match httparse::Response::new(&mut headers).parse(bytes) {
        Ok(httparse::Status::Complete(n)) => Some(n),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let hs = ClientHandshake::new("ws://127.0.0.1/", &["chat"]).unwrap();
    let key = hs.request().headers()["sec-websocket-key"].as_bytes();
    let accept = accept_key(key);
    let bytes = substitute(data, accept.as_bytes());

    for eof in [false, true] {
        match hs.handle_response(&bytes, eof) {
            Ok(Some((response, n))) => {
                assert!(n <= bytes.len(), "used {n} of {} bytes", bytes.len());
                assert_eq!(response.status(), 101);
                assert_eq!(response.headers()["sec-websocket-accept"], accept.as_str());
                // The head alone gives the same answer.
                match hs.handle_response(&bytes[..n], false) {
                    Ok(Some((again, m))) => {
                        assert_eq!(m, n);
                        assert_eq!(again.headers(), response.headers());
                    }
                    other => panic!("the head alone gives {other:?}"),
                }
            }
            Ok(None) => assert!(!eof, "still waiting at EOF"),
            Err(HandshakeError::Rejected(response)) => {
                assert_ne!(response.status(), 101);
                let body = response.body();
                assert!(body.len() <= MAX_REJECTION_BODY);
                let head = head_len(&bytes).expect("a rejection without a complete head");
                assert!(
                    bytes[head..].starts_with(body),
                    "the rejection body is not what follows the head"
                );
                if !eof {
                    // Without EOF the body is complete: Content-Length bytes,
                    // or MAX_REJECTION_BODY with no (usable) length.
                    let length = response
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(MAX_REJECTION_BODY);
                    assert_eq!(body.len(), length.min(MAX_REJECTION_BODY));
                }
                let _ = HandshakeError::Rejected(response).to_string();
            }
            Err(error) => {
                let _ = (error.to_string(), error.status());
            }
        }
    }
});
