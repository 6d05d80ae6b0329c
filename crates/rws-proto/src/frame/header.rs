//! Frame header encoding and decoding (RFC 6455 §5.2).

use crate::error::ProtocolError;

/// The longest a frame header can be: 2 fixed bytes, 8 bytes of extended
/// length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const OPCODE: u8 = 0x0f;
const MASK: u8 = 0x80;
const LEN7: u8 = 0x7f;
const LEN_16: u8 = 0x7e;
const LEN_64: u8 = 0x7f;

/// A frame's opcode (RFC 6455 §5.2, §11.8).
///
/// Reserved opcodes (0x3–0x7, 0xB–0xF) have no variant: decoding one is a
/// [`ProtocolError::ReservedOpCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: a close frame.
    Close,
    /// 0x9: a ping.
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` if it is reserved.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xa => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }

    /// Whether this is a control opcode (close, ping, pong; RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    /// The opcode's name as the RFC writes it.
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        }
    }
}

/// A decoded frame header.
///
/// ```
/// use rws_proto::frame::{FrameHeader, OpCode};
///
/// // RFC 6455 §5.7: a single-frame masked text message "Hello".
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let (header, len) = FrameHeader::decode(&bytes).unwrap().unwrap();
/// assert_eq!(len, 6);
/// assert!(header.fin);
/// assert_eq!(header.opcode, OpCode::Text);
/// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, used by permessage-deflate (RFC 7692).
    pub rsv1: bool,
    /// RSV2, reserved.
    pub rsv2: bool,
    /// RSV3, reserved.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header with FIN set, no reserved bits and no mask.
    pub fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not hold the whole header yet, and
    /// the header with its encoded length otherwise. Fails on a reserved
    /// opcode and on a 64-bit length whose most significant bit is set
    /// (RFC 6455 §5.2). Whether the header is acceptable in context (masking,
    /// reserved bits, control frame rules) is for the caller to decide.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let opcode =
            OpCode::from_bits(b0 & OPCODE).ok_or(ProtocolError::ReservedOpCode(b0 & OPCODE))?;
        let masked = b1 & MASK != 0;
        let (payload_len, mut len) = match b1 & LEN7 {
            LEN_16 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
                _ => return Ok(None),
            },
            LEN_64 => match buf.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(bytes) => {
                    let n = u64::from_be_bytes(bytes);
                    // RFC 6455 §5.2: "the most significant bit MUST be 0".
                    if n >> 63 != 0 {
                        return Err(ProtocolError::InvalidPayloadLength);
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            match buf
                .get(len..len + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
            {
                Some(key) => {
                    len += 4;
                    Some(key)
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin: b0 & FIN != 0,
                rsv1: b0 & RSV1 != 0,
                rsv2: b0 & RSV2 != 0,
                rsv3: b0 & RSV3 != 0,
                opcode,
                mask,
                payload_len,
            },
            len,
        )))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header to `out`, with the minimal length encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = self.encode_to(&mut buf);
        out.extend_from_slice(&buf[..len]);
    }

    /// Writes the header into `buf` and returns its length.
    pub fn encode_to(&self, buf: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let mut b0 = self.opcode.bits();
        for (bit, set) in [
            (FIN, self.fin),
            (RSV1, self.rsv1),
            (RSV2, self.rsv2),
            (RSV3, self.rsv3),
        ] {
            if set {
                b0 |= bit;
            }
        }
        let mask_bit = if self.mask.is_some() { MASK } else { 0 };
        buf[0] = b0;
        let mut len = match self.payload_len {
            n @ 0..=125 => {
                buf[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xffff => {
                buf[1] = mask_bit | LEN_16;
                buf[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                buf[1] = mask_bit | LEN_64;
                buf[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            buf[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(h: FrameHeader) {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), h.encoded_len());
        let (back, len) = FrameHeader::decode(&out).unwrap().unwrap();
        assert_eq!(back, h);
        assert_eq!(len, out.len());
        // Every strict prefix is incomplete, never an error.
        for cut in 0..out.len() {
            assert_eq!(FrameHeader::decode(&out[..cut]).unwrap(), None, "cut {cut}");
        }
    }

    #[test]
    fn rfc6455_5_2_length_encodings_round_trip() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x1_0000, u64::MAX >> 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut h = FrameHeader::new(OpCode::Binary, len);
                h.mask = mask;
                round_trip(h);
            }
        }
    }

    #[test]
    fn rfc6455_5_2_minimal_length_encoding() {
        assert_eq!(FrameHeader::new(OpCode::Text, 125).encoded_len(), 2);
        assert_eq!(FrameHeader::new(OpCode::Text, 126).encoded_len(), 4);
        assert_eq!(FrameHeader::new(OpCode::Text, 0x1_0000).encoded_len(), 10);
    }

    #[test]
    fn rfc6455_5_2_bits_round_trip() {
        let mut h = FrameHeader::new(OpCode::Continuation, 3);
        h.fin = false;
        h.rsv1 = true;
        h.rsv3 = true;
        round_trip(h);
    }

    #[test]
    fn rfc6455_5_2_msb_of_64_bit_length_must_be_zero() {
        let bytes = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&bytes),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }

    #[test]
    fn rfc6455_5_2_reserved_opcodes_are_errors() {
        for op in (0x3..=0x7).chain(0xb..=0xf) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpCode(op))
            );
        }
    }

    #[test]
    fn rfc6455_5_7_examples() {
        // Unmasked "Hello"; a 256-byte and a 64 KiB unmasked binary message.
        let (h, n) = FrameHeader::decode(&[0x81, 0x05, b'H']).unwrap().unwrap();
        assert_eq!(
            (h.opcode, h.payload_len, n, h.mask),
            (OpCode::Text, 5, 2, None)
        );
        let (h, n) = FrameHeader::decode(&[0x82, 0x7e, 0x01, 0x00])
            .unwrap()
            .unwrap();
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        let bytes = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0, 0];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = FrameHeader::decode(&[0x01, 0x03]).unwrap().unwrap();
        assert!(!h.fin);
        let (h, _) = FrameHeader::decode(&[0x80, 0x02]).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Ping "Hello" unmasked; pong "Hello" masked.
        let (h, _) = FrameHeader::decode(&[0x89, 0x05]).unwrap().unwrap();
        assert_eq!(h.opcode, OpCode::Ping);
        let bytes = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d];
        let (h, n) = FrameHeader::decode(&bytes).unwrap().unwrap();
        assert_eq!(
            (h.opcode, n, h.mask),
            (OpCode::Pong, 6, Some([0x37, 0xfa, 0x21, 0x3d]))
        );
    }
}
