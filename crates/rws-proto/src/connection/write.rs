//! The output side: commands that queue frames.

use bytes::Bytes;

use super::output::SHARE_AT_LEAST;
use super::{Connection, PreparedMessage, Role, State};
use crate::close::CloseFrame;
use crate::error::SendError;
use crate::frame::{extend_masked, FrameHeader, OpCode};
use crate::message::{Message, MessageKind};

impl Connection {
    /// Queues a whole message as one frame.
    ///
    /// Fails after a close frame was sent or received ([`SendError::Closed`])
    /// and while a fragmented message is being sent.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentOrder);
        }
        self.lifecycle.touched();
        let opcode = match message.kind() {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        // RFC 7692 §7.2.1: compress the whole message, mark it with RSV1.
        if let Some(compression) = self.compression.as_mut() {
            let mut compressed = Vec::new();
            if compression.compress(message.as_payload(), &mut compressed) {
                self.write_frame_rsv1(opcode, &compressed);
                return Ok(());
            }
        }
        let mut header = FrameHeader::new(opcode, message.as_payload().len() as u64);
        header.fin = true;
        self.write_header_and_shared(header, message.into_payload());
        Ok(())
    }

    /// Queues a message prepared for many connections (a broadcast): as
    /// [`send`](Self::send), except that without context takeover on this
    /// side its compression is shared with every connection that has the
    /// same compressor settings (see [`PreparedMessage`]).
    pub fn send_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), SendError> {
        let message = prepared.message();
        let Some(settings) = self
            .compression
            .as_ref()
            .and_then(|compression| compression.alone(message.as_payload()))
        else {
            return self.send(message.clone());
        };
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentOrder);
        }
        self.lifecycle.touched();
        let opcode = match message.kind() {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        // RFC 7692 §7.2.1 as in `send`, compressed once for all.
        let (header, payload) = match prepared.compressed(settings) {
            Some(compressed) => {
                let mut header = FrameHeader::new(opcode, compressed.len() as u64);
                header.rsv1 = true;
                (header, compressed)
            }
            None => (
                FrameHeader::new(opcode, message.len() as u64),
                message.clone().into_payload(),
            ),
        };
        self.write_header_and_shared(header, payload);
        Ok(())
    }

    /// Queues one fragment of a message sent piece by piece (RFC 6455 §5.4).
    ///
    /// The first call starts a message of `kind`; later calls must pass the
    /// same kind; the call with `last` set ends it. Text must be UTF-8 as a
    /// whole: the caller may split it anywhere.
    ///
    /// ```
    /// use rws_proto::{Config, Connection, MessageKind, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_fragment(MessageKind::Text, b"Hel", false).unwrap();
    /// server.send_fragment(MessageKind::Text, b"lo", true).unwrap();
    /// // RFC 6455 §5.7: a fragmented unmasked text message.
    /// assert_eq!(server.pending_output(), b"\x01\x03Hel\x80\x02lo");
    /// ```
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = match (self.sending, kind) {
            (None, MessageKind::Text) => OpCode::Text,
            (None, MessageKind::Binary) => OpCode::Binary,
            (Some(open), kind) if open == kind => OpCode::Continuation,
            _ => return Err(SendError::FragmentOrder),
        };
        self.lifecycle.touched();
        self.write_frame(last, opcode, data);
        self.sending = if last { None } else { Some(kind) };
        Ok(())
    }

    /// Queues a ping (RFC 6455 §5.5.2); the peer's pong arrives as an event.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong, a one-way heartbeat (RFC 6455 §5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the close handshake (RFC 6455 §7.1.2): queues a close frame
    /// with `frame`'s code and reason, or an empty one for `None`.
    ///
    /// Does nothing if a close frame was already sent or the connection
    /// has ended. Fails for a code that may not be sent or a reason over
    /// 123 bytes.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), SendError> {
        if let Some(frame) = &frame {
            if !frame.code.is_sendable() {
                return Err(SendError::InvalidCloseCode(frame.code.as_u16()));
            }
            if frame.reason.len() > CloseFrame::MAX_REASON_LEN {
                return Err(SendError::CloseReasonTooLong(frame.reason.len()));
            }
        }
        if self.state != State::Open {
            return Ok(());
        }
        match frame {
            Some(frame) => self.write_close(&frame),
            None => self.write_frame(true, OpCode::Close, &[]),
        }
        self.state = State::Closing;
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(SendError::Closed),
        }
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    pub(super) fn write_close(&mut self, frame: &CloseFrame) {
        let mut payload = Vec::with_capacity(frame.encoded_len());
        frame.encode(&mut payload);
        self.write_frame(true, OpCode::Close, &payload);
    }

    /// Appends one frame to the output, masked if this is the client. A
    /// pong held back by [`Connection::queue_pong`] goes out first.
    pub(super) fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        self.write_header_and(header, payload);
    }

    /// A whole compressed message: one frame with RSV1 set.
    fn write_frame_rsv1(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.rsv1 = true;
        self.write_header_and(header, payload);
    }

    fn write_header_and(&mut self, header: FrameHeader, payload: &[u8]) {
        if let Some(pong) = self.pong.take() {
            self.append_frame(FrameHeader::new(OpCode::Pong, pong.len() as u64), &pong);
        }
        self.append_frame(header, payload);
    }

    /// As `write_header_and`, for an owned payload: a large one that needs
    /// no mask (the server's) is queued by reference instead of copied.
    fn write_header_and_shared(&mut self, header: FrameHeader, payload: Bytes) {
        if self.role == Role::Client || payload.len() < SHARE_AT_LEAST {
            return self.write_header_and(header, &payload);
        }
        if let Some(pong) = self.pong.take() {
            self.append_frame(FrameHeader::new(OpCode::Pong, pong.len() as u64), &pong);
        }
        header.encode(self.out.buffer());
        self.out.push_shared(payload);
    }

    /// RFC 6455 §5.5.2–5.5.3: answer a ping. When [`PONG_BACKLOG`] bytes or
    /// more are already waiting (the peer is not reading, or a large message
    /// is on its way), the pong is held back and a later ping's pong
    /// replaces it ("MAY elect to send a Pong frame for only the most
    /// recently processed Ping frame"), so a ping flood cannot grow the
    /// output.
    pub(super) fn queue_pong(&mut self, payload: bytes::Bytes) {
        if self.pending_output_len() >= PONG_BACKLOG {
            self.pong = Some(payload);
        } else {
            // A pong held back earlier answers an older ping: this one
            // replaces it.
            self.pong = None;
            self.append_frame(
                FrameHeader::new(OpCode::Pong, payload.len() as u64),
                &payload,
            );
        }
    }

    /// Writes a held-back pong once the output has drained.
    #[inline]
    pub(super) fn release_pong(&mut self) {
        if let Some(pong) = self.pong.take() {
            self.append_frame(FrameHeader::new(OpCode::Pong, pong.len() as u64), &pong);
        }
    }

    fn append_frame(&mut self, mut header: FrameHeader, payload: &[u8]) {
        if self.role == Role::Client {
            header.mask = Some(self.masks.next_key());
        }
        let out = self.out.buffer();
        out.reserve(header.encoded_len() + payload.len());
        header.encode(out);
        match header.mask {
            Some(key) => extend_masked(out, payload, key, 0),
            None => out.extend_from_slice(payload),
        }
    }
}

/// Queued output up to which pongs are appended as they are due; above it
/// only the latest is kept.
const PONG_BACKLOG: usize = 4 << 10;

/// Masking keys from the operating system's random source, fetched sixteen
/// at a time (RFC 6455 §5.3: "derived from a strong source of entropy").
#[derive(Debug)]
pub(super) struct MaskSource {
    pool: [u8; 64],
    used: usize,
}

impl Default for MaskSource {
    fn default() -> MaskSource {
        MaskSource {
            pool: [0; 64],
            used: 64,
        }
    }
}

impl MaskSource {
    pub(super) fn next_key(&mut self) -> [u8; 4] {
        if self.used + 4 > self.pool.len() {
            crate::random::fill(&mut self.pool);
            self.used = 0;
        }
        let mut key = [0; 4];
        key.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        key
    }
}
