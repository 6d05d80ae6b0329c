//! The input side: frame headers, payloads, reassembly and validation.

use std::mem::MaybeUninit;

use bytes::Bytes;

use super::{Connection, Event, Fragment, Pending, Role, State};
use crate::close::CloseFrame;
use crate::deflate::InflateError;
use crate::error::ProtocolError;
use crate::frame::{apply_mask, extend_masked, FrameHeader, OpCode, MAX_HEADER_LEN};
use crate::message::{Message, MessageKind, Utf8Bytes};
use crate::utf8::Utf8Validator;

/// Parsing state that survives between calls to `handle_input`.
#[derive(Debug, Default)]
pub(super) struct Reader {
    /// A header split across inputs.
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    /// The frame whose payload is being read.
    frame: Option<InFrame>,
    /// The data message being assembled.
    message: Option<InMessage>,
    /// The payload of the control frame being read (at most 125 bytes).
    control: Vec<u8>,
    utf8: Utf8Validator,
    /// Unmasked compressed bytes on their way to the inflater.
    scratch: Vec<u8>,
    /// Nothing more is read: a close frame, a violation or EOF was seen.
    pub(super) stopped: bool,
}

#[derive(Debug)]
struct InFrame {
    header: FrameHeader,
    read: u64,
}

#[derive(Debug)]
struct InMessage {
    kind: MessageKind,
    /// RSV1 was set on its first frame: permessage-deflate (RFC 7692 §6).
    compressed: bool,
    /// Bytes delivered so far (streaming only), for the size limit.
    delivered_len: usize,
    /// The reassembled payload (unused when streaming fragments).
    data: Vec<u8>,
    /// Bytes received so far, for the size limit.
    size: u64,
    /// Whether a fragment of it was delivered (streaming only).
    delivered: bool,
}

impl Connection {
    /// Feeds bytes read from the transport.
    ///
    /// Never fails: a violation ends the events with a terminal
    /// [`Event::Closed`] carrying the error, and taking that event queues
    /// the close frame (RFC 6455 §7.1.7). Input after a violation, the
    /// peer's close frame or the end of the connection is ignored.
    pub fn handle_input(&mut self, mut input: &[u8]) {
        if !input.is_empty() {
            self.lifecycle.heard();
        }
        while !self.reader.stopped && self.state != State::Closed {
            if self.reader.frame.is_none() {
                let header = match self.read_header(&mut input) {
                    Ok(Some(header)) => header,
                    Ok(None) => return,
                    Err(e) => return self.fail(e),
                };
                if let Some(rest) = self.whole_message(&header, input) {
                    input = rest;
                    continue;
                }
                if let Err(e) = self.start_frame(header) {
                    return self.fail(e);
                }
            }
            let Some(frame) = self.reader.frame.as_mut() else {
                return;
            };
            let remaining = frame.header.payload_len - frame.read;
            let take = remaining.min(input.len() as u64) as usize;
            let (chunk, rest) = input.split_at(take);
            input = rest;
            let offset = frame.read;
            frame.read += take as u64;
            let header = frame.header;
            let complete = frame.read == header.payload_len;
            if !header.opcode.is_control() {
                self.lifecycle.touched();
            }
            if let Err(e) = self.on_payload(&header, chunk, offset, complete) {
                return self.fail(e);
            }
            if !complete {
                return;
            }
            self.reader.frame = None;
            if let Err(e) = self.end_frame(&header) {
                return self.fail(e);
            }
        }
    }

    /// Where to read the transport's next bytes directly, when that saves a
    /// copy: while the payload of a large data frame comes in (at least
    /// 16 KiB of it left, uncompressed, messages reassembled whole), the
    /// spare room of the message's own buffer, at most the rest of the
    /// frame. `None` otherwise: read into a buffer of your own and pass it
    /// to [`handle_input`](Self::handle_input).
    ///
    /// The room offered grows with the data received (never more than that
    /// much again, or 64 KiB, ahead of it), so an announced length alone
    /// takes no memory.
    /// After reading `n` bytes into it, call
    /// [`input_filled`](Self::input_filled).
    ///
    /// ```
    /// use rws_proto::{Config, Connection, Event, Message, Role};
    ///
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// client.send(Message::binary(vec![7u8; 100_000])).unwrap();
    /// let wire = client.pending_output().to_vec();
    /// // The header and the first bytes go through handle_input...
    /// server.handle_input(&wire[..1000]);
    /// let mut at = 1000;
    /// // ...the rest straight into the message, as a transport would read it.
    /// while let Some(space) = server.input_space() {
    ///     let n = space.len().min(wire.len() - at);
    ///     for (slot, byte) in space.iter_mut().zip(&wire[at..at + n]) {
    ///         slot.write(*byte);
    ///     }
    ///     // SAFETY: the loop above initialized the first `n` bytes.
    ///     unsafe { server.input_filled(n) };
    ///     at += n;
    /// }
    /// assert_eq!(at, wire.len());
    /// assert_eq!(server.poll_event(), Some(Event::Message(Message::binary(vec![7u8; 100_000]))));
    /// ```
    pub fn input_space(&mut self) -> Option<&mut [MaybeUninit<u8>]> {
        if self.state != State::Open || self.reader.stopped || self.config.stream_fragments {
            return None;
        }
        let frame = self.reader.frame.as_ref()?;
        if frame.header.opcode.is_control() {
            return None;
        }
        let left = frame.header.payload_len - frame.read;
        if left < DIRECT_READ_AT_LEAST {
            return None;
        }
        let message = self.reader.message.as_mut().filter(|m| !m.compressed)?;
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        let have = message.data.len();
        message.data.reserve(left.min(have.max(RESERVE_AHEAD)));
        let spare = message.data.spare_capacity_mut();
        let room = spare.len().min(left);
        Some(&mut spare[..room])
    }

    /// Takes `n` bytes read into the room [`input_space`](Self::input_space)
    /// gave, as [`handle_input`](Self::handle_input) would take them:
    /// unmasked, counted, validated (a bad UTF-8 byte fails at once), and
    /// the message delivered when its last frame is complete.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the slice the last call to `input_space`
    /// returned must have been initialized (written by a read into it), and
    /// no other method of the connection called in between. `n` larger
    /// than that slice panics.
    pub unsafe fn input_filled(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.lifecycle.heard();
        self.lifecycle.touched();
        let frame = self.reader.frame.as_mut().expect("input_space gave room");
        let message = self.reader.message.as_mut().expect("input_space gave room");
        let start = message.data.len();
        let left = frame.header.payload_len - frame.read;
        assert!(
            n <= message.data.capacity() - start && n as u64 <= left,
            "input_filled({n}) past the room input_space gave"
        );
        // SAFETY: the caller initialized the first `n` bytes of the spare
        // capacity input_space returned (the contract above), and the
        // assertion keeps `n` within that spare capacity.
        unsafe { message.data.set_len(start + n) };
        let header = frame.header;
        if let Some(key) = header.mask {
            apply_mask(&mut message.data[start..], key, frame.read as usize);
        }
        frame.read += n as u64;
        message.size += n as u64;
        let complete = frame.read == header.payload_len;
        if message.kind == MessageKind::Text
            && self.reader.utf8.feed(&message.data[start..]).is_err()
        {
            return self.fail(ProtocolError::InvalidUtf8);
        }
        if complete {
            self.reader.frame = None;
            if let Err(e) = self.end_frame(&header) {
                self.fail(e);
            }
        }
    }

    /// The common case at once: `header` (just read) starts a data frame
    /// that is a whole message (FIN, text or binary, not compressed, masked
    /// as the role requires, within the limits), its whole payload is at
    /// the start of `input`, no other message is being assembled and the
    /// connection is open. The payload is unmasked into a buffer of its
    /// exact size and delivered; the rest of `input` is returned. `None`
    /// leaves the frame, errors included, to the general path
    /// ([`start_frame`](Self::start_frame)), which decides on the same
    /// header.
    #[inline]
    fn whole_message<'a>(&mut self, header: &FrameHeader, input: &'a [u8]) -> Option<&'a [u8]> {
        // After a close frame was sent, data is discarded unread (the
        // general path's business).
        let open = self.state == State::Open;
        if !open || self.reader.message.is_some() || self.config.stream_fragments {
            return None;
        }
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => return None,
        };
        let masked_as_required = header.mask.is_some() == (self.role == Role::Server);
        let size = header.payload_len;
        let plain = header.fin && !header.rsv1 && !header.rsv2 && !header.rsv3;
        let within = size <= self.config.max_frame_size as u64
            && size <= self.config.max_message_size as u64;
        if !(plain && masked_as_required && within && size <= input.len() as u64) {
            return None;
        }
        let (payload, rest) = input.split_at(size as usize);
        let mut data = Vec::with_capacity(payload.len());
        match header.mask {
            Some(key) => extend_masked(&mut data, payload, key, 0),
            None => data.extend_from_slice(payload),
        }
        let message = match kind {
            MessageKind::Text => match simdutf8::basic::from_utf8(&data) {
                Ok(_) => Message::Text(Utf8Bytes::from_validated(Bytes::from(data))),
                // The general path fails it, at the first bad byte.
                Err(_) => return None,
            },
            MessageKind::Binary => Message::Binary(Bytes::from(data)),
        };
        self.lifecycle.touched();
        self.push_event(Event::Message(message));
        Some(rest)
    }

    /// Takes a whole header from `input`, or keeps a partial one for later.
    fn read_header(&mut self, input: &mut &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        let r = &mut self.reader;
        let have = usize::from(r.header_len);
        if have == 0 {
            if let Some((header, len)) = FrameHeader::decode(input)? {
                *input = &input[len..];
                return Ok(Some(header));
            }
            // `decode` wants at most MAX_HEADER_LEN bytes: this input is shorter.
            r.header[..input.len()].copy_from_slice(input);
            r.header_len = input.len() as u8;
            *input = &[];
            return Ok(None);
        }
        let take = (MAX_HEADER_LEN - have).min(input.len());
        r.header[have..have + take].copy_from_slice(&input[..take]);
        match FrameHeader::decode(&r.header[..have + take])? {
            Some((header, len)) => {
                *input = &input[len - have..];
                r.header_len = 0;
                Ok(Some(header))
            }
            None => {
                *input = &input[take..];
                r.header_len = (have + take) as u8;
                Ok(None)
            }
        }
    }

    /// Checks a header against the rules that depend on context.
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated";
        // RFC 7692 §6: permessage-deflate sets RSV1 on the first frame of a
        // compressed message, and on no other frame.
        let first_data = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let rsv1_allowed = first_data && self.compression.is_some();
        if (header.rsv1 && !rsv1_allowed) || header.rsv2 || header.rsv3 {
            return Err(ProtocolError::ReservedBits);
        }
        if header.opcode.is_control() {
            // RFC 6455 §5.5: control frames are at most 125 bytes and not fragmented.
            if !header.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if header.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(header.payload_len));
            }
        }
        // RFC 6455 §5.1: clients mask, servers do not.
        match (self.role, header.mask) {
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if !header.opcode.is_control() {
            self.start_data_frame(&header)?;
        }
        self.reader.frame = Some(InFrame { header, read: 0 });
        Ok(())
    }

    fn start_data_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        if header.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                size: header.payload_len,
                limit: self.config.max_frame_size,
            });
        }
        // RFC 6455 §5.4: fragments of one message are not interleaved.
        let kind = match header.opcode {
            OpCode::Continuation => None,
            OpCode::Text => Some(MessageKind::Text),
            _ => Some(MessageKind::Binary),
        };
        let r = &mut self.reader;
        match (kind, &r.message) {
            (None, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Some(_), Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (Some(kind), None) => {
                r.message = Some(InMessage {
                    kind,
                    compressed: header.rsv1,
                    delivered_len: 0,
                    data: Vec::new(),
                    size: 0,
                    delivered: false,
                });
                r.utf8 = Utf8Validator::default();
            }
            (None, Some(_)) => {}
        }
        // A compressed message is held to the limit while it inflates; its
        // size on the wire may exceed the limit when it does not shrink.
        let (size, compressed) = r
            .message
            .as_ref()
            .map_or((0, false), |m| (m.size, m.compressed));
        let size = size + header.payload_len;
        if !compressed && size > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                size,
                limit: self.config.max_message_size,
            });
        }
        Ok(())
    }

    /// Takes payload bytes as they arrive: a bad UTF-8 byte fails at once.
    fn on_payload(
        &mut self,
        header: &FrameHeader,
        chunk: &[u8],
        offset: u64,
        complete: bool,
    ) -> Result<(), ProtocolError> {
        let r = &mut self.reader;
        if header.opcode.is_control() {
            r.control.extend_from_slice(chunk);
            return Ok(());
        }
        // After a close frame was sent, data is discarded unread.
        let Some(message) = r.message.as_mut().filter(|_| self.state == State::Open) else {
            return Ok(());
        };
        message.size += chunk.len() as u64;
        let last = complete && header.fin;
        let streaming = self.config.stream_fragments;
        if streaming && chunk.is_empty() && !last {
            return Ok(());
        }
        // The message's bytes go to the whole-message buffer, or to a piece
        // delivered at once when streaming.
        let mut piece = Vec::new();
        let (target, limit) = if streaming {
            let left = self
                .config
                .max_message_size
                .saturating_sub(message.delivered_len);
            (&mut piece, left)
        } else {
            (&mut message.data, self.config.max_message_size)
        };
        let start = target.len();
        match self.compression.as_mut().filter(|_| message.compressed) {
            Some(compression) => {
                r.scratch.clear();
                match header.mask {
                    Some(key) => extend_masked(&mut r.scratch, chunk, key, offset as usize),
                    None => r.scratch.extend_from_slice(chunk),
                }
                let inflater = compression.inflater();
                let too_large = || ProtocolError::MessageTooLarge {
                    size: message_size_past(limit, message.delivered_len),
                    limit: self.config.max_message_size,
                };
                inflater
                    .inflate(&r.scratch, target, limit)
                    .map_err(|e| inflate_error(e).unwrap_or_else(too_large))?;
                if last {
                    inflater
                        .finish(target, limit)
                        .map_err(|e| inflate_error(e).unwrap_or_else(too_large))?;
                    compression.inflated_message();
                }
                if r.scratch.capacity() > 64 << 10 {
                    r.scratch = Vec::new();
                }
            }
            None => {
                if start == 0 && !streaming {
                    // The first bytes of a message: room for the rest of
                    // this frame, up to what arrived plus a bound, so that
                    // the buffer does not grow by doubling (and copying)
                    // while a large frame comes in, yet an announced length
                    // alone never reserves more than RESERVE_AHEAD.
                    let frame_left = (header.payload_len - offset) as usize;
                    target.reserve(frame_left.min(chunk.len().max(RESERVE_AHEAD)));
                }
                match header.mask {
                    Some(key) => extend_masked(target, chunk, key, offset as usize),
                    None => target.extend_from_slice(chunk),
                }
            }
        }
        if message.kind == MessageKind::Text {
            r.utf8
                .feed(&target[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if last && streaming {
                r.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        if streaming && (!piece.is_empty() || last) {
            message.delivered_len += piece.len();
            let fragment = Fragment {
                kind: message.kind,
                data: Bytes::from(piece),
                first: !message.delivered,
                last,
            };
            message.delivered = true;
            self.push_event(Event::Fragment(fragment));
        }
        Ok(())
    }

    /// A frame's payload is complete.
    fn end_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        if header.opcode.is_control() {
            let mut payload = std::mem::take(&mut self.reader.control);
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            match header.opcode {
                OpCode::Ping => self.queue.push_back(Pending::Ping(Bytes::from(payload))),
                OpCode::Pong => self.push_event(Event::Pong(Bytes::from(payload))),
                _ => {
                    let frame = CloseFrame::parse(&payload)?;
                    self.reader.stopped = true;
                    self.queue.push_back(Pending::Close(frame));
                }
            }
            return Ok(());
        }
        if !header.fin {
            return Ok(());
        }
        let Some(message) = self.reader.message.take() else {
            return Ok(());
        };
        if self.state != State::Open || self.config.stream_fragments {
            return Ok(());
        }
        let data = Bytes::from(message.data);
        let message = match message.kind {
            MessageKind::Text => {
                self.reader
                    .utf8
                    .finish()
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                Message::Text(Utf8Bytes::from_validated(data))
            }
            MessageKind::Binary => Message::Binary(data),
        };
        self.push_event(Event::Message(message));
        Ok(())
    }
}

/// The most a message buffer reserves ahead of the bytes received, from a
/// frame's announced length.
const RESERVE_AHEAD: usize = 64 << 10;

/// Frame payloads with at least this much left are offered for reading
/// straight into the message ([`Connection::input_space`]).
const DIRECT_READ_AT_LEAST: u64 = 16 << 10;

/// Corrupt deflate data is invalid payload data (1007); `None` for output
/// over the limit, which the caller reports with its sizes.
fn inflate_error(error: InflateError) -> Option<ProtocolError> {
    match error {
        InflateError::Corrupt => Some(ProtocolError::InvalidCompressedData),
        InflateError::TooLarge => None,
    }
}

/// The size an inflated message reached when it passed `limit`.
fn message_size_past(limit: usize, delivered: usize) -> u64 {
    (limit as u64)
        .saturating_add(delivered as u64)
        .saturating_add(1)
}
