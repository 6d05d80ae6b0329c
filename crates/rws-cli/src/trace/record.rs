//! What the tracer reports: records of connections, handshakes, frames and
//! messages, and the protocol violations it flags on them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Which way bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Dir {
    /// From the client to the server.
    ClientToServer,
    /// From the server to the client.
    ServerToClient,
}

impl Dir {
    /// `C->S` or `S->C`.
    pub(crate) fn arrow(self) -> &'static str {
        match self {
            Dir::ClientToServer => "C->S",
            Dir::ServerToClient => "S->C",
        }
    }

    /// `client` or `server`: who sent.
    pub(crate) fn sender(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client",
            Dir::ServerToClient => "server",
        }
    }
}

/// How a frame's payload length was encoded (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthEncoding {
    /// In the 7 bits of the second byte (0–125).
    Bits7,
    /// 126, then 16 bits.
    Bits16,
    /// 127, then 64 bits.
    Bits64,
}

impl LengthEncoding {
    /// `7-bit`, `16-bit` or `64-bit`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LengthEncoding::Bits7 => "7-bit",
            LengthEncoding::Bits16 => "16-bit",
            LengthEncoding::Bits64 => "64-bit",
        }
    }
}

/// The name of an opcode: `cont`, `text`, `binary`, `close`, `ping`,
/// `pong`, or `reserved-0xN`.
pub(super) fn opcode_name(opcode: u8) -> String {
    match opcode {
        0x0 => "cont".into(),
        0x1 => "text".into(),
        0x2 => "binary".into(),
        0x8 => "close".into(),
        0x9 => "ping".into(),
        0xA => "pong".into(),
        other => format!("reserved-{other:#x}"),
    }
}

/// The first bytes of a payload, to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Preview {
    /// Shown as text (a text message, or a control payload that is UTF-8).
    Text {
        /// The first bytes, cut at a character boundary.
        text: String,
        /// More bytes followed.
        cut: bool,
    },
    /// Shown as hex.
    Binary {
        /// The first bytes.
        bytes: Vec<u8>,
        /// More bytes followed.
        cut: bool,
    },
}

/// What a close frame carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CloseInfo {
    /// The status code, if the payload had one.
    pub code: Option<u16>,
    /// The reason, lossily decoded.
    pub reason: String,
}

/// One frame as it was on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameRecord {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1, RSV2, RSV3.
    pub rsv: [bool; 3],
    /// The 4-bit opcode.
    pub opcode: u8,
    /// The masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
    /// How the length was encoded.
    pub len_encoding: LengthEncoding,
    /// The start of the payload (unmasked, and inflated when compressed).
    pub preview: Option<Preview>,
    /// For close frames.
    pub close: Option<CloseInfo>,
    /// For frames of a compressed message: the bytes this frame's data
    /// inflated to.
    pub inflated: Option<u64>,
    /// Inflating stopped at the analyzer's cap on this frame: `inflated`
    /// counts only what came out before it.
    pub inflate_cut: bool,
    /// What this frame broke.
    pub violations: Vec<Violation>,
}

/// A whole message: a data message's frames reassembled, or one control
/// frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MessageRecord {
    /// The opcode of its first frame.
    pub opcode: u8,
    /// How many frames carried it.
    pub frames: u32,
    /// Payload bytes on the wire.
    pub len: u64,
    /// For a compressed message, its inflated size.
    pub inflated: Option<u64>,
    /// Inflating stopped at the analyzer's cap: `inflated` counts only
    /// what came out before it.
    pub inflate_cut: bool,
    /// The start of the message.
    pub preview: Option<Preview>,
    /// For close frames.
    pub close: Option<CloseInfo>,
    /// What any of its frames broke.
    pub violations: Vec<Violation>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A client connected (proxy) or a TCP connection began (capture).
    Open {
        /// The client's address.
        client: SocketAddr,
        /// The server's address.
        server: SocketAddr,
    },
    /// An HTTP head: the request (C->S) or the response (S->C), as text.
    Head(String),
    /// A frame.
    Frame(FrameRecord),
    /// A complete message.
    Message(MessageRecord),
    /// Something else worth a line: a stream ending, a gap in a capture.
    Note(String),
}

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// When, since the UNIX epoch.
    pub time: Duration,
    /// The connection's id, from 1.
    pub conn: u64,
    /// Which way, when it matters.
    pub dir: Option<Dir>,
    /// What.
    pub event: Event,
}

/// A protocol violation seen in a frame (RFC 6455 §5, RFC 7692 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// §5.1: a client must mask every frame.
    UnmaskedClientFrame,
    /// §5.1: a server must not mask.
    MaskedServerFrame,
    /// §5.5: control frames must not be fragmented.
    FragmentedControlFrame,
    /// §5.5: control payloads are at most 125 bytes.
    OversizedControlFrame(u64),
    /// §5.2: RSV bits set that no negotiated extension defines.
    ReservedBits(String),
    /// §5.2: an opcode with no meaning.
    ReservedOpcode(u8),
    /// §5.4: a continuation frame with no message to continue.
    UnexpectedContinuation,
    /// §5.4: a new data message before the previous one ended.
    ExpectedContinuation,
    /// §8.1: a text message's bytes are not UTF-8, from this offset of the
    /// message (of its inflated bytes when compressed).
    InvalidUtf8(u64),
    /// §8.1: a text message ended in the middle of a character.
    TruncatedUtf8(u64),
    /// §5.5.1: a close payload of one byte.
    CloseLength1,
    /// §7.4: a close code that may not be sent.
    InvalidCloseCode(u16),
    /// §5.5.1: a close reason that is not UTF-8.
    InvalidCloseReason,
    /// §5.2: a length in a longer encoding than needed.
    NonMinimalLength(LengthEncoding),
    /// §5.2: a 64-bit length with its most significant bit set.
    LengthHighBit,
    /// RFC 7692 §6.2: compressed data that does not inflate.
    CorruptCompressedData,
    /// §5.5.1: a frame after this side's close frame.
    FrameAfterClose,
}

impl Violation {
    /// A short name, for JSON.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Violation::UnmaskedClientFrame => "unmasked_client_frame",
            Violation::MaskedServerFrame => "masked_server_frame",
            Violation::FragmentedControlFrame => "fragmented_control_frame",
            Violation::OversizedControlFrame(_) => "oversized_control_frame",
            Violation::ReservedBits(_) => "reserved_bits",
            Violation::ReservedOpcode(_) => "reserved_opcode",
            Violation::UnexpectedContinuation => "unexpected_continuation",
            Violation::ExpectedContinuation => "expected_continuation",
            Violation::InvalidUtf8(_) => "invalid_utf8",
            Violation::TruncatedUtf8(_) => "truncated_utf8",
            Violation::CloseLength1 => "close_length_1",
            Violation::InvalidCloseCode(_) => "invalid_close_code",
            Violation::InvalidCloseReason => "invalid_close_reason",
            Violation::NonMinimalLength(_) => "non_minimal_length",
            Violation::LengthHighBit => "length_high_bit",
            Violation::CorruptCompressedData => "corrupt_compressed_data",
            Violation::FrameAfterClose => "frame_after_close",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::UnmaskedClientFrame => f.write_str("unmasked client frame"),
            Violation::MaskedServerFrame => f.write_str("masked server frame"),
            Violation::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Violation::OversizedControlFrame(len) => {
                write!(f, "control frame of {len} bytes (most 125)")
            }
            Violation::ReservedBits(bits) => write!(f, "{bits} set with no extension for it"),
            Violation::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Violation::UnexpectedContinuation => f.write_str("continuation with no message"),
            Violation::ExpectedContinuation => {
                f.write_str("new message before the previous one ended")
            }
            Violation::InvalidUtf8(at) => write!(f, "invalid UTF-8 at byte {at} of the message"),
            Violation::TruncatedUtf8(at) => {
                write!(f, "text ends inside a UTF-8 character at byte {at}")
            }
            Violation::CloseLength1 => f.write_str("close payload of 1 byte"),
            Violation::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            Violation::InvalidCloseReason => f.write_str("close reason is not UTF-8"),
            Violation::NonMinimalLength(encoding) => {
                write!(f, "non-minimal length ({} encoding)", encoding.name())
            }
            Violation::LengthHighBit => f.write_str("64-bit length with its top bit set"),
            Violation::CorruptCompressedData => f.write_str("compressed data does not inflate"),
            Violation::FrameAfterClose => f.write_str("frame after close"),
        }
    }
}
