//! What `rws connect` writes on stdout: one line per message, or with
//! `--jsonl` one JSON object per line for every message and event.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use rws::{Closed, Initiator, Message};
use serde_json::{json, Value};

/// Binary payloads longer than this are shown cut, followed by `...`.
const HEX_SHOWN: usize = 64;

/// One line of stdout for a message: see the `Output` section of `--help`.
pub(super) fn format_message(message: &Message) -> String {
    match message {
        Message::Text(text) => text.as_str().replace('\n', "\\n"),
        Message::Binary(data) => {
            let shown = &data[..data.len().min(HEX_SHOWN)];
            let mut hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            if data.len() > HEX_SHOWN {
                hex.push_str("...");
            }
            format!("<binary {} bytes: {hex}>", data.len())
        }
    }
}

/// The `--jsonl` objects, one per line: every one has `time` (seconds
/// since the Unix epoch, to the millisecond) and `kind`.
pub(super) mod jsonl {
    use super::*;

    /// The connection is open: the subprotocol and the permessage-deflate
    /// parameters agreed, `null` when none.
    pub(in super::super) fn open(protocol: Option<&str>, deflate: Option<String>) -> String {
        line(
            "open",
            [("protocol", json!(protocol)), ("deflate", json!(deflate))],
        )
    }

    /// A message: `text` for a text message, `base64` for a binary one,
    /// and `length` in bytes.
    pub(in super::super) fn message(message: &Message) -> String {
        match message {
            Message::Text(text) => line(
                "text",
                [
                    ("length", json!(text.len())),
                    ("text", json!(text.as_str())),
                ],
            ),
            Message::Binary(data) => payload("binary", data),
        }
    }

    /// A ping or a pong (`kind`), its payload in `base64`.
    pub(in super::super) fn control(kind: &str, data: &[u8]) -> String {
        payload(kind, data)
    }

    /// The end of the connection: `code`, `reason`, who closed first
    /// (`by`: "server" or "client"), whether the close handshake
    /// completed (`clean`), and the protocol error if rws failed the
    /// connection.
    pub(in super::super) fn close(closed: &Closed) -> String {
        let by = match closed.initiator {
            Initiator::Local => "client",
            Initiator::Remote => "server",
        };
        line(
            "close",
            [
                ("code", json!(closed.code.as_u16())),
                ("reason", json!(closed.reason.as_str())),
                ("by", json!(by)),
                ("clean", json!(closed.clean)),
                ("error", json!(closed.error.as_ref().map(|e| e.to_string()))),
            ],
        )
    }

    fn payload(kind: &str, data: &[u8]) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        line(
            kind,
            [("length", json!(data.len())), ("base64", json!(encoded))],
        )
    }

    /// `{"time":…,"kind":…,` then the fields in the order given.
    fn line<const N: usize>(kind: &str, fields: [(&str, Value); N]) -> String {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |t| t.as_millis() as f64 / 1000.0);
        let mut line = format!("{{\"time\":{},\"kind\":{}", json!(time), json!(kind));
        for (name, value) in fields {
            line.push_str(&format!(",{}:{value}", json!(name)));
        }
        line.push('}');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_each() {
        assert_eq!(format_message(&Message::text("a\nb")), "a\\nb");
        assert_eq!(
            format_message(&Message::binary(vec![0u8, 1, 0xab])),
            "<binary 3 bytes: 0001ab>"
        );
        let long = format_message(&Message::binary(vec![0xffu8; 65]));
        assert_eq!(long, format!("<binary 65 bytes: {}...>", "ff".repeat(64)));
        assert_eq!(
            format_message(&Message::binary(Vec::new())),
            "<binary 0 bytes: >"
        );
    }

    #[test]
    fn jsonl_objects_start_with_time_and_kind() {
        let line = jsonl::control("ping", b"");
        assert!(line.starts_with("{\"time\":"), "{line}");
        assert!(line.contains(",\"kind\":\"ping\",\"length\":0,"), "{line}");
    }

    fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "{line}");
        serde_json::from_str(line).expect("JSON")
    }

    #[test]
    fn jsonl_messages_carry_text_or_base64() {
        let text = parse(&jsonl::message(&Message::text("é\n")));
        assert_eq!(text["kind"], "text");
        assert_eq!(text["text"], "é\n");
        assert_eq!(text["length"], 3);
        assert!(text["time"].as_f64().expect("a number") > 1.7e9);
        // RFC 4648's example: "foob" is "Zm9vYg==".
        let binary = parse(&jsonl::message(&Message::binary(b"foob".to_vec())));
        assert_eq!(binary["kind"], "binary");
        assert_eq!(binary["base64"], "Zm9vYg==");
        assert_eq!(binary["length"], 4);
        let pong = parse(&jsonl::control("pong", b"f"));
        assert_eq!(
            (&pong["kind"], &pong["base64"]),
            (&json!("pong"), &json!("Zg=="))
        );
    }
}
