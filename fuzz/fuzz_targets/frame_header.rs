//! `FrameHeader::decode` on arbitrary bytes.
//!
//! Checks: a decoded header re-encodes to a header that decodes to the same
//! value; `encoded_len` is what `encode`/`encode_to` write; the minimal
//! encoding is never longer than what was read (and is byte-identical when
//! the input used the minimal length form); decoding only looks at the
//! first `MAX_HEADER_LEN` bytes; and every prefix of the input decodes to
//! "need more bytes" or to the same answer, which is what the connection's
//! reader relies on when a header is split across reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rws_proto::frame::{FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let result = FrameHeader::decode(data);

    // Only the first MAX_HEADER_LEN bytes matter.
    let head = &data[..data.len().min(MAX_HEADER_LEN)];
    assert_eq!(FrameHeader::decode(head), result);

    // Prefix consistency: a shorter input is "need more bytes" or the same
    // answer; a complete header's strict prefixes are all "need more".
    match &result {
        Ok(Some((_, n))) => {
            for cut in 0..*n {
                assert_eq!(FrameHeader::decode(&data[..cut]), Ok(None), "cut {cut}");
            }
        }
        _ => {
            for cut in 0..head.len() {
                let partial = FrameHeader::decode(&data[..cut]);
                assert!(
                    partial == Ok(None) || partial == result,
                    "prefix of {cut} bytes gave {partial:?}, the whole input {result:?}"
                );
            }
        }
    }

    let Ok(Some((header, n))) = result else {
        return;
    };
    assert!((2..=MAX_HEADER_LEN).contains(&n) && n <= data.len());
    assert!(header.payload_len >> 63 == 0);

    let mut out = Vec::new();
    header.encode(&mut out);
    assert_eq!(out.len(), header.encoded_len());
    let mut buf = [0u8; MAX_HEADER_LEN];
    let len = header.encode_to(&mut buf);
    assert_eq!(&buf[..len], &out[..]);
    // The minimal length form is never longer than the one read.
    assert!(out.len() <= n, "re-encoded {} bytes, read {n}", out.len());

    let (back, back_len) = FrameHeader::decode(&out)
        .expect("re-encoded header fails to decode")
        .expect("re-encoded header is incomplete");
    assert_eq!(back, header);
    assert_eq!(back_len, out.len());

    // If the input used the minimal length form, encoding reproduces it.
    let minimal = match data[1] & 0x7f {
        126 => header.payload_len > 125,
        127 => header.payload_len > 0xffff,
        _ => true,
    };
    if minimal {
        assert_eq!(&out[..], &data[..n]);
    }
});
