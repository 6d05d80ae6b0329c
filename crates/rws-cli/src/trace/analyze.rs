//! Follows one WebSocket connection from the bytes of both directions:
//! the HTTP handshake, then every frame, each checked against RFC 6455 and
//! RFC 7692, without ever refusing to go on (a tracer shows what a broken
//! peer really sent).
//!
//! Payloads are handled as they arrive, a chunk at a time: memory stays
//! bounded whatever the frame lengths, and nothing is buffered but the
//! first bytes of each payload for the preview and a close frame's payload.

use std::time::Duration;

use rws::deflate::{parse_response, DeflateConfig, DeflateParams, InflateError, Inflater};
use rws::CloseCode;

use super::record::{
    opcode_name, CloseInfo, Dir, Event, FrameRecord, LengthEncoding, MessageRecord, Preview,
    Record, Violation,
};

/// The most bytes of an HTTP head the tracer reads before giving up on the
/// connection.
const MAX_HEAD: usize = 64 << 10;
/// Payload bytes kept for a preview.
const PREVIEW: usize = 64;
/// Control payloads kept (a close frame's reason; oversized ones are cut).
const MAX_CONTROL: usize = 256;
/// The most bytes one read of compressed data may inflate to; past it the
/// rest of the message is not inflated (a zip bomb must not take the
/// tracer's memory).
const MAX_INFLATE: usize = 16 << 20;

/// One connection being traced.
pub(super) struct ConnTrace {
    id: u64,
    client: Side,
    server: Side,
    /// permessage-deflate as the server's 101 agreed it.
    deflate: Option<DeflateParams>,
    /// An extension other than permessage-deflate was agreed: RSV bits are
    /// not checked.
    unknown_extension: bool,
}

impl ConnTrace {
    /// A connection with this id, before any byte.
    pub(super) fn new(id: u64) -> ConnTrace {
        ConnTrace {
            id,
            client: Side::new(Dir::ClientToServer),
            server: Side::new(Dir::ServerToClient),
            deflate: None,
            unknown_extension: false,
        }
    }

    /// Takes the next bytes of one direction, at `time`; appends what they
    /// complete to `out`.
    pub(super) fn feed(
        &mut self,
        dir: Dir,
        time: Duration,
        mut data: &[u8],
        out: &mut Vec<Record>,
    ) {
        let id = self.id;
        let mut emit = |dir, event| {
            out.push(Record {
                time,
                conn: id,
                dir: Some(dir),
                event,
            })
        };
        while !data.is_empty() {
            let side = match dir {
                Dir::ClientToServer => &mut self.client,
                Dir::ServerToClient => &mut self.server,
            };
            match &mut side.phase {
                Phase::Head(head) => {
                    let (done, used) = take_head(head, data);
                    data = &data[used..];
                    if let Some(done) = done {
                        let text = String::from_utf8_lossy(&done).replace("\r\n", "\n");
                        let text = text.trim_end().to_owned();
                        emit(dir, Event::Head(text.clone()));
                        match dir {
                            Dir::ClientToServer => side.phase = Phase::Frames,
                            Dir::ServerToClient => self.read_response(&text, &mut emit),
                        }
                    } else if head.len() > MAX_HEAD {
                        side.phase = Phase::Opaque;
                        emit(
                            dir,
                            note(format!("no HTTP head in the first {MAX_HEAD} bytes")),
                        );
                    }
                }
                Phase::Frames => {
                    let context = Context {
                        deflate: self.deflate,
                        check_rsv: !self.unknown_extension,
                    };
                    let used = side.frames(&context, data, &mut |e| emit(dir, e));
                    data = &data[used..];
                }
                Phase::Opaque => return,
            }
        }
    }

    /// One direction's stream ended (FIN, RST, or the proxy saw EOF).
    pub(super) fn end(&mut self, dir: Dir, time: Duration, how: &str, out: &mut Vec<Record>) {
        let side = self.side(dir);
        let mut text = format!("end of stream ({how})");
        if let Some(unfinished) = side.unfinished() {
            text.push_str(&format!(": {unfinished}"));
        }
        out.push(self.record(time, dir, note(text)));
    }

    /// Bytes of one direction are missing (a capture lost them): the stream
    /// cannot be followed any further.
    pub(super) fn gap(&mut self, dir: Dir, time: Duration, missing: u64, out: &mut Vec<Record>) {
        let side = self.side(dir);
        if matches!(side.phase, Phase::Opaque) {
            return;
        }
        side.phase = Phase::Opaque;
        let text = format!("{missing} bytes missing from the capture: the rest is not traced");
        out.push(self.record(time, dir, note(text)));
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ClientToServer => &mut self.client,
            Dir::ServerToClient => &mut self.server,
        }
    }

    fn record(&self, time: Duration, dir: Dir, event: Event) -> Record {
        Record {
            time,
            conn: self.id,
            dir: Some(dir),
            event,
        }
    }

    /// The server's response: frames follow a 101; after anything else,
    /// neither direction is WebSocket.
    fn read_response(&mut self, head: &str, emit: &mut impl FnMut(Dir, Event)) {
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "101" {
            self.server.phase = Phase::Opaque;
            self.client.phase = Phase::Opaque;
            let text = format!("HTTP {status}, not 101: the connection is not traced further");
            return emit(Dir::ServerToClient, note(text));
        }
        self.server.phase = Phase::Frames;
        let extensions: Vec<&str> = header_values(head, "sec-websocket-extensions").collect();
        // The offer is not known here: accept any window the answer names.
        match parse_response(extensions.iter().copied(), &DeflateConfig::default()) {
            Ok(Some(params)) => {
                self.deflate = Some(params);
                let text = format!(
                    "permessage-deflate: client window {} bits{}, server window {} bits{}",
                    params.client_max_window_bits,
                    if params.client_no_context_takeover {
                        " without context takeover"
                    } else {
                        ""
                    },
                    params.server_max_window_bits,
                    if params.server_no_context_takeover {
                        " without context takeover"
                    } else {
                        ""
                    },
                );
                emit(Dir::ServerToClient, note(text));
            }
            Ok(None) => {}
            Err(e) => {
                self.unknown_extension = true;
                let text = format!("extensions not understood ({e}): RSV bits are not checked");
                emit(Dir::ServerToClient, note(text));
            }
        }
    }
}

fn note(text: String) -> Event {
    Event::Note(text)
}

/// Moves bytes into `head` up to the blank line that ends it: the whole
/// head once complete, and how many bytes of `data` were taken.
fn take_head(head: &mut Vec<u8>, data: &[u8]) -> (Option<Vec<u8>>, usize) {
    // The end may straddle the previous read: look from 3 bytes back.
    let from = head.len().saturating_sub(3);
    let before = head.len();
    let room = (MAX_HEAD + 1).saturating_sub(before).min(data.len());
    head.extend_from_slice(&data[..room]);
    match head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => {
            let end = from + at + 4;
            let used = end - before;
            head.truncate(end);
            (Some(std::mem::take(head)), used)
        }
        None => (None, room),
    }
}

/// The values of a header field in a head, as text.
fn header_values<'a>(head: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.lines().skip(1).filter_map(move |line| {
        let (field, value) = line.split_once(':')?;
        field
            .trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim())
    })
}

/// What a side's frames are checked against.
struct Context {
    deflate: Option<DeflateParams>,
    check_rsv: bool,
}

/// Where a direction's stream is.
enum Phase {
    /// Reading the HTTP head (up to the blank line).
    Head(Vec<u8>),
    /// Reading frames.
    Frames,
    /// Not followed any further.
    Opaque,
}

/// One direction of the connection.
struct Side {
    dir: Dir,
    phase: Phase,
    /// The bytes of a frame header read so far.
    header: Vec<u8>,
    /// The frame whose payload is being read.
    frame: Option<InFrame>,
    /// The data message in progress.
    message: Option<InMessage>,
    /// A close frame was sent this way.
    closed: bool,
    /// Inflates this direction's compressed messages.
    inflater: Option<Inflater>,
    /// Where payload bytes are unmasked (at most one read's worth).
    scratch: Vec<u8>,
}

/// A frame whose header has been read.
struct InFrame {
    record: FrameRecord,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes read so far (for the masking key's position).
    offset: u64,
    /// The first payload bytes (inflated when compressed).
    preview: Vec<u8>,
    /// Total payload bytes seen by the preview (to tell it was cut).
    seen: u64,
    /// A control frame's payload, cut at [`MAX_CONTROL`].
    control: Vec<u8>,
    /// The frame belongs to a compressed message.
    compressed: bool,
    /// Bytes this frame's data inflated to.
    inflated: u64,
}

/// A data message that has begun.
struct InMessage {
    opcode: u8,
    frames: u32,
    len: u64,
    compressed: bool,
    /// Inflating stopped (corrupt data, or past [`MAX_INFLATE`]).
    inflate_stopped: bool,
    /// It stopped past [`MAX_INFLATE`].
    inflate_cut: bool,
    inflated: u64,
    preview: Vec<u8>,
    seen: u64,
    utf8: Option<Utf8Check>,
    violations: Vec<Violation>,
}

impl Side {
    fn new(dir: Dir) -> Side {
        Side {
            dir,
            phase: Phase::Head(Vec::new()),
            header: Vec::new(),
            frame: None,
            message: None,
            closed: false,
            inflater: None,
            scratch: Vec::new(),
        }
    }

    /// What was cut short if the stream ends now.
    fn unfinished(&self) -> Option<String> {
        match (&self.phase, &self.frame) {
            (Phase::Head(head), _) if !head.is_empty() => {
                Some(format!("inside the HTTP head ({} bytes)", head.len()))
            }
            (Phase::Frames, Some(frame)) => Some(format!(
                "inside a frame ({} of {} payload bytes)",
                frame.offset, frame.record.len
            )),
            (Phase::Frames, None) if !self.header.is_empty() => Some(format!(
                "inside a frame header ({} bytes)",
                self.header.len()
            )),
            _ => None,
        }
    }

    /// Reads frames from `data`; returns how many bytes were used (all of
    /// them, unless the side stopped being followed).
    fn frames(&mut self, cx: &Context, data: &[u8], emit: &mut impl FnMut(Event)) -> usize {
        let mut at = 0;
        while at < data.len() {
            if self.frame.is_none() {
                at += self.read_header(cx, &data[at..]);
                let Some(frame) = &self.frame else {
                    continue;
                };
                if frame.remaining > 0 {
                    continue;
                }
            } else {
                let frame = self.frame.as_ref().expect("a frame");
                let take = frame.remaining.min((data.len() - at) as u64) as usize;
                // Unmasked in a buffer kept from read to read.
                let mut chunk = std::mem::take(&mut self.scratch);
                chunk.clear();
                chunk.extend_from_slice(&data[at..at + take]);
                at += take;
                self.payload(&mut chunk);
                self.scratch = chunk;
                if self.frame.as_ref().is_some_and(|f| f.remaining > 0) {
                    continue;
                }
            }
            self.finish_frame(emit);
        }
        at
    }

    /// Reads header bytes; once the header is whole, starts the frame.
    fn read_header(&mut self, cx: &Context, data: &[u8]) -> usize {
        let before = self.header.len();
        // A header is at most 14 bytes: take what may belong to it.
        let take = (14 - before).min(data.len());
        self.header.extend_from_slice(&data[..take]);
        let Some((record, header_len)) = parse_header(&self.header) else {
            return take;
        };
        let used = header_len - before;
        self.header.clear();
        self.start_frame(cx, record);
        used
    }

    /// Checks a frame's header against the state and the role.
    fn start_frame(&mut self, cx: &Context, mut record: FrameRecord) {
        let v = &mut record.violations;
        match (self.dir, record.mask) {
            (Dir::ClientToServer, None) => v.push(Violation::UnmaskedClientFrame),
            (Dir::ServerToClient, Some(_)) => v.push(Violation::MaskedServerFrame),
            _ => {}
        }
        if self.closed {
            v.push(Violation::FrameAfterClose);
        }
        let control = record.opcode >= 0x8;
        let known = matches!(record.opcode, 0x0..=0x2 | 0x8..=0xA);
        if !known {
            v.push(Violation::ReservedOpcode(record.opcode));
        }
        if control && !record.fin {
            v.push(Violation::FragmentedControlFrame);
        }
        if control && record.len > 125 {
            v.push(Violation::OversizedControlFrame(record.len));
        }
        // RSV1 means "compressed" on the first frame of a data message when
        // permessage-deflate was agreed; anything else is reserved.
        let may_compress = cx.deflate.is_some() && matches!(record.opcode, 0x1 | 0x2);
        let [rsv1, rsv2, rsv3] = record.rsv;
        let bad: Vec<&str> = [
            (rsv1 && !may_compress, "RSV1"),
            (rsv2, "RSV2"),
            (rsv3, "RSV3"),
        ]
        .iter()
        .filter_map(|&(set, name)| set.then_some(name))
        .collect();
        if cx.check_rsv && !bad.is_empty() {
            v.push(Violation::ReservedBits(bad.join("+")));
        }
        if record.opcode == 0x0 && self.message.is_none() {
            v.push(Violation::UnexpectedContinuation);
        }
        if matches!(record.opcode, 0x1 | 0x2) && self.message.is_some() {
            v.push(Violation::ExpectedContinuation);
            self.end_message();
        }
        if matches!(record.opcode, 0x1 | 0x2) {
            let compressed = may_compress && rsv1;
            if compressed && self.inflater.is_none() {
                if let Some(params) = cx.deflate {
                    self.inflater = Some(inflater_for(self.dir, &params));
                }
            }
            self.message = Some(InMessage {
                opcode: record.opcode,
                frames: 0,
                len: 0,
                compressed,
                inflate_stopped: false,
                inflate_cut: false,
                inflated: 0,
                preview: Vec::new(),
                seen: 0,
                utf8: (record.opcode == 0x1).then(Utf8Check::default),
                violations: Vec::new(),
            });
        }
        let compressed = record.opcode == 0x0 || matches!(record.opcode, 0x1 | 0x2);
        let compressed = compressed && self.message.as_ref().is_some_and(|m| m.compressed);
        self.frame = Some(InFrame {
            remaining: record.len,
            offset: 0,
            preview: Vec::new(),
            seen: 0,
            control: Vec::new(),
            compressed,
            inflated: 0,
            record,
        });
    }

    /// Takes the next payload bytes of the current frame.
    fn payload(&mut self, chunk: &mut [u8]) {
        let frame = self.frame.as_mut().expect("a frame");
        if let Some(key) = frame.record.mask {
            rws::proto::frame::apply_mask(chunk, key, (frame.offset % 4) as usize);
        }
        frame.offset += chunk.len() as u64;
        frame.remaining -= chunk.len() as u64;
        if frame.record.opcode >= 0x8 {
            let room = MAX_CONTROL.saturating_sub(frame.control.len());
            frame
                .control
                .extend_from_slice(&chunk[..room.min(chunk.len())]);
            keep_preview(&mut frame.preview, &mut frame.seen, chunk);
            return;
        }
        let in_message = frame.record.opcode <= 0x2;
        let Some(message) = self.message.as_mut().filter(|_| in_message) else {
            keep_preview(&mut frame.preview, &mut frame.seen, chunk);
            return;
        };
        if !frame.compressed {
            message.data(frame, chunk);
            return;
        }
        let mut inflated = Vec::new();
        let result = match (&mut self.inflater, message.inflate_stopped) {
            (Some(inflater), false) => inflater.inflate(chunk, &mut inflated, MAX_INFLATE),
            _ => Ok(()),
        };
        message.inflated_data(frame, &inflated, result);
    }

    /// Reports the frame just read, and the message it ends.
    fn finish_frame(&mut self, emit: &mut impl FnMut(Event)) {
        let Some(mut frame) = self.frame.take() else {
            return;
        };
        let opcode = frame.record.opcode;
        if opcode >= 0x8 {
            if opcode == 0x8 {
                self.closed = true;
                frame.record.close = Some(read_close(&frame.control, &mut frame.record.violations));
            }
            // A close frame shows its code and reason instead; a ping's or
            // pong's payload shows as text when it is printable UTF-8.
            if opcode != 0x8 {
                frame.record.preview = preview_of(&frame.preview, frame.seen, false);
            }
            let record = frame.record;
            emit(Event::Frame(record.clone()));
            return emit(Event::Message(MessageRecord {
                opcode,
                frames: 1,
                len: record.len,
                inflated: None,
                inflate_cut: false,
                preview: record.preview.clone(),
                close: record.close.clone(),
                violations: record.violations,
            }));
        }
        let message = self.message.as_mut().filter(|_| opcode <= 0x2);
        let Some(message) = message else {
            frame.record.preview = preview_of(&frame.preview, frame.seen, false);
            return emit(Event::Frame(frame.record));
        };
        message.frames += 1;
        message.len += frame.record.len;
        if frame.record.fin {
            if frame.compressed && message.inflate_stopped {
                // Corrupt or cut: the inflater is mid-stream. A fresh one
                // takes the next message (whose back-references into this
                // one, with context takeover, cannot be followed).
                self.inflater = None;
            } else if frame.compressed {
                let mut tail = Vec::new();
                let result = match &mut self.inflater {
                    Some(inflater) => inflater.finish(&mut tail, MAX_INFLATE),
                    None => Ok(()),
                };
                message.inflated_data(&mut frame, &tail, result);
            }
            if let Some(utf8) = &message.utf8 {
                if let Some(at) = utf8.finish() {
                    frame.record.violations.push(Violation::TruncatedUtf8(at));
                }
            }
        }
        let text = message.opcode == 0x1;
        frame.record.preview = preview_of(&frame.preview, frame.seen, text);
        frame.record.inflated = frame.compressed.then_some(frame.inflated);
        message
            .violations
            .extend(frame.record.violations.iter().cloned());
        let fin = frame.record.fin;
        emit(Event::Frame(frame.record));
        if fin {
            let message = self.message.take().expect("a message");
            emit(Event::Message(message.into_record()));
        }
    }

    /// Drops the message in progress (a new one began without ending it);
    /// a compressed one leaves the inflater mid-stream, so it is reset.
    fn end_message(&mut self) {
        if let Some(message) = self.message.take() {
            if message.compressed {
                if let Some(inflater) = &mut self.inflater {
                    let _ = inflater.finish(&mut Vec::new(), MAX_INFLATE);
                }
            }
        }
    }
}

impl InMessage {
    /// Takes uncompressed message data (already unmasked).
    fn data(&mut self, frame: &mut InFrame, data: &[u8]) {
        keep_preview(&mut frame.preview, &mut frame.seen, data);
        keep_preview(&mut self.preview, &mut self.seen, data);
        self.check_utf8(frame, data);
    }

    /// Takes inflated message data, and how inflating went.
    fn inflated_data(
        &mut self,
        frame: &mut InFrame,
        inflated: &[u8],
        result: Result<(), InflateError>,
    ) {
        frame.inflated += inflated.len() as u64;
        self.inflated += inflated.len() as u64;
        self.data(frame, inflated);
        match result {
            Ok(()) => {}
            Err(InflateError::Corrupt) => {
                self.inflate_stopped = true;
                frame
                    .record
                    .violations
                    .push(Violation::CorruptCompressedData);
            }
            Err(InflateError::TooLarge) => {
                self.inflate_stopped = true;
                self.inflate_cut = true;
                frame.record.inflate_cut = true;
            }
        }
    }

    fn check_utf8(&mut self, frame: &mut InFrame, data: &[u8]) {
        if let Some(utf8) = &mut self.utf8 {
            if let Some(at) = utf8.feed(data) {
                frame.record.violations.push(Violation::InvalidUtf8(at));
            }
        }
    }

    fn into_record(self) -> MessageRecord {
        let preview = preview_of(&self.preview, self.seen, self.opcode == 0x1);
        MessageRecord {
            opcode: self.opcode,
            frames: self.frames,
            len: self.len,
            inflated: self.compressed.then_some(self.inflated),
            inflate_cut: self.inflate_cut,
            preview,
            close: None,
            violations: self.violations,
        }
    }
}

/// The inflater for what `dir` sends, with the window and context
/// takeover agreed for that sender.
fn inflater_for(dir: Dir, params: &DeflateParams) -> Inflater {
    match dir {
        Dir::ClientToServer => Inflater::new(
            params.client_max_window_bits,
            params.client_no_context_takeover,
        ),
        Dir::ServerToClient => Inflater::new(
            params.server_max_window_bits,
            params.server_no_context_takeover,
        ),
    }
}

/// Keeps the first [`PREVIEW`] bytes of a payload, counting all of them.
fn keep_preview(preview: &mut Vec<u8>, seen: &mut u64, data: &[u8]) {
    let room = PREVIEW.saturating_sub(preview.len()).min(data.len());
    preview.extend_from_slice(&data[..room]);
    *seen += data.len() as u64;
}

/// The preview of kept bytes: text when `text` or when they are UTF-8 (cut
/// at the last whole character), hex otherwise.
fn preview_of(bytes: &[u8], seen: u64, text: bool) -> Option<Preview> {
    if seen == 0 {
        return None;
    }
    let cut = seen > bytes.len() as u64;
    let valid = match std::str::from_utf8(bytes) {
        Ok(all) => Some(all),
        // A character cut by the preview's end.
        Err(e) if cut && e.error_len().is_none() => {
            Some(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => None,
    };
    match valid {
        Some(s) if text || !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n') => {
            Some(Preview::Text {
                text: s.to_owned(),
                cut,
            })
        }
        Some(_) | None if text => Some(Preview::Text {
            text: String::from_utf8_lossy(bytes).into_owned(),
            cut,
        }),
        _ => Some(Preview::Binary {
            bytes: bytes.to_vec(),
            cut,
        }),
    }
}

/// Reads a close frame's payload (RFC 6455 §5.5.1, §7.4).
fn read_close(payload: &[u8], violations: &mut Vec<Violation>) -> CloseInfo {
    match payload {
        [] => CloseInfo {
            code: None,
            reason: String::new(),
        },
        [_] => {
            violations.push(Violation::CloseLength1);
            CloseInfo {
                code: None,
                reason: String::new(),
            }
        }
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode::from(code).is_sendable() {
                violations.push(Violation::InvalidCloseCode(code));
            }
            if std::str::from_utf8(reason).is_err() {
                violations.push(Violation::InvalidCloseReason);
            }
            CloseInfo {
                code: Some(code),
                reason: String::from_utf8_lossy(reason).into_owned(),
            }
        }
    }
}

/// Parses a frame header leniently: every field as it is, and the
/// violations of its encoding. `None` until the header is whole.
fn parse_header(buf: &[u8]) -> Option<(FrameRecord, usize)> {
    let [b0, b1, rest @ ..] = buf else {
        return None;
    };
    let len7 = b1 & 0x7f;
    let mut violations = Vec::new();
    let (len, len_encoding, after) = match len7 {
        126 => {
            let bytes: [u8; 2] = rest.get(..2)?.try_into().ok()?;
            let len = u64::from(u16::from_be_bytes(bytes));
            if len < 126 {
                violations.push(Violation::NonMinimalLength(LengthEncoding::Bits16));
            }
            (len, LengthEncoding::Bits16, 2)
        }
        127 => {
            let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
            let len = u64::from_be_bytes(bytes);
            if len >> 63 != 0 {
                violations.push(Violation::LengthHighBit);
            } else if len <= 0xffff {
                violations.push(Violation::NonMinimalLength(LengthEncoding::Bits64));
            }
            (len, LengthEncoding::Bits64, 8)
        }
        short => (u64::from(short), LengthEncoding::Bits7, 0),
    };
    let masked = b1 & 0x80 != 0;
    let mask = if masked {
        Some(rest.get(after..after + 4)?.try_into().ok()?)
    } else {
        None
    };
    let header_len = 2 + after + if masked { 4 } else { 0 };
    let record = FrameRecord {
        fin: b0 & 0x80 != 0,
        rsv: [b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0],
        opcode: b0 & 0x0f,
        mask,
        len,
        len_encoding,
        preview: None,
        close: None,
        inflated: None,
        inflate_cut: false,
        violations,
    };
    Some((record, header_len))
}

/// Validates a text message's bytes as they come, and says where the
/// first error is.
#[derive(Default)]
struct Utf8Check {
    /// The bytes of a character cut by the end of the last piece.
    pending: Vec<u8>,
    /// Bytes checked before `pending`.
    offset: u64,
    /// An error was found: stop checking.
    failed: bool,
}

impl Utf8Check {
    /// Checks the next bytes: the message offset of an error.
    fn feed(&mut self, data: &[u8]) -> Option<u64> {
        if self.failed || data.is_empty() {
            return None;
        }
        let joined;
        let input = if self.pending.is_empty() {
            data
        } else {
            joined = [std::mem::take(&mut self.pending).as_slice(), data].concat();
            &joined
        };
        match std::str::from_utf8(input) {
            Ok(_) => {
                self.offset += input.len() as u64;
                None
            }
            Err(e) if e.error_len().is_none() => {
                self.offset += e.valid_up_to() as u64;
                self.pending = input[e.valid_up_to()..].to_vec();
                None
            }
            Err(e) => {
                self.failed = true;
                Some(self.offset + e.valid_up_to() as u64)
            }
        }
    }

    /// The message ended: the offset of a cut character, if any.
    fn finish(&self) -> Option<u64> {
        (!self.failed && !self.pending.is_empty()).then_some(self.offset)
    }
}

/// The opcode name of a record, for filters.
pub(super) fn event_opcode(event: &Event) -> Option<String> {
    match event {
        Event::Frame(frame) => Some(opcode_name(frame.opcode)),
        Event::Message(message) => Some(opcode_name(message.opcode)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    const DEFLATE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n";
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    /// "Hello" compressed, tail removed (RFC 7692 §7.2.3.1).
    const HELLO_DEFLATED: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    /// A frame: first byte as given (FIN, RSV, opcode), the length in the
    /// given encoding (7, 16 or 64 bits), masked with `key` if any.
    fn frame_with(b0: u8, payload: &[u8], key: Option<[u8; 4]>, bits: u8) -> Vec<u8> {
        let mask_bit = if key.is_some() { 0x80 } else { 0 };
        let mut out = vec![b0];
        match bits {
            7 => out.push(mask_bit | payload.len() as u8),
            16 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            }
        }
        let mut body = payload.to_vec();
        if let Some(key) = key {
            out.extend_from_slice(&key);
            rws::proto::frame::apply_mask(&mut body, key, 0);
        }
        out.extend_from_slice(&body);
        out
    }

    /// A client frame (masked) with a minimal length.
    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        frame_with(b0, payload, Some(KEY), minimal(payload.len()))
    }

    /// A server frame (unmasked) with a minimal length.
    fn server(b0: u8, payload: &[u8]) -> Vec<u8> {
        frame_with(b0, payload, None, minimal(payload.len()))
    }

    fn minimal(len: usize) -> u8 {
        match len {
            0..=125 => 7,
            126..=0xffff => 16,
            _ => 64,
        }
    }

    /// A connection past a handshake with `response`.
    fn opened(response: &[u8]) -> ConnTrace {
        let mut trace = ConnTrace::new(1);
        let mut out = Vec::new();
        trace.feed(Dir::ClientToServer, Duration::ZERO, REQUEST, &mut out);
        trace.feed(Dir::ServerToClient, Duration::ZERO, response, &mut out);
        trace
    }

    fn frames(records: &[Record]) -> Vec<FrameRecord> {
        records
            .iter()
            .filter_map(|r| match &r.event {
                Event::Frame(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    fn messages(records: &[Record]) -> Vec<MessageRecord> {
        records
            .iter()
            .filter_map(|r| match &r.event {
                Event::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// The frames `bytes` make in direction `dir` after a plain handshake.
    fn trace(dir: Dir, bytes: &[u8]) -> Vec<FrameRecord> {
        trace_after(RESPONSE, dir, bytes)
    }

    fn trace_after(response: &[u8], dir: Dir, bytes: &[u8]) -> Vec<FrameRecord> {
        let mut conn = opened(response);
        let mut out = Vec::new();
        conn.feed(dir, Duration::ZERO, bytes, &mut out);
        frames(&out)
    }

    fn text(s: &str) -> Option<Preview> {
        Some(Preview::Text {
            text: s.into(),
            cut: false,
        })
    }

    #[test]
    fn the_handshake_and_clean_frames() {
        let mut conn = ConnTrace::new(7);
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, REQUEST, &mut out);
        conn.feed(Dir::ServerToClient, Duration::ZERO, RESPONSE, &mut out);
        assert!(matches!(&out[0].event, Event::Head(h) if h.starts_with("GET /echo HTTP/1.1\n")));
        assert!(matches!(&out[1].event, Event::Head(h) if h.starts_with("HTTP/1.1 101")));
        assert_eq!(out[0].conn, 7);
        out.clear();
        conn.feed(
            Dir::ClientToServer,
            Duration::ZERO,
            &client(0x81, b"hi"),
            &mut out,
        );
        conn.feed(
            Dir::ServerToClient,
            Duration::ZERO,
            &server(0x82, &[1, 2, 0xff]),
            &mut out,
        );
        let f = frames(&out);
        assert_eq!(f.len(), 2);
        assert!(f[0].fin && f[0].rsv == [false; 3] && f[0].opcode == 1);
        assert_eq!(
            (f[0].mask, f[0].len, f[0].len_encoding),
            (Some(KEY), 2, LengthEncoding::Bits7)
        );
        assert_eq!(f[0].preview, text("hi"));
        assert!(f[0].violations.is_empty(), "{:?}", f[0].violations);
        assert_eq!(f[1].mask, None);
        assert_eq!(
            f[1].preview,
            Some(Preview::Binary {
                bytes: vec![1, 2, 0xff],
                cut: false
            })
        );
        assert!(f[1].violations.is_empty());
    }

    #[test]
    fn any_chunking_gives_the_same_records() {
        let mut stream = client(0x01, b"frag");
        stream.extend(client(0x89, b"ping"));
        stream.extend(client(0x80, &[b'x'; 300]));
        stream.extend(client(0x88, &[0x03, 0xe8, b'o', b'k']));
        let whole = {
            let mut conn = opened(RESPONSE);
            let mut out = Vec::new();
            conn.feed(Dir::ClientToServer, Duration::ZERO, &stream, &mut out);
            out
        };
        assert_eq!(frames(&whole).len(), 4);
        for step in [1, 2, 3, 5, 7, 13, 64] {
            let mut conn = opened(RESPONSE);
            let mut out = Vec::new();
            for chunk in stream.chunks(step) {
                conn.feed(Dir::ClientToServer, Duration::ZERO, chunk, &mut out);
            }
            assert_eq!(out, whole, "chunks of {step}");
        }
    }

    #[test]
    fn masking_violations() {
        let f = trace(Dir::ClientToServer, &server(0x81, b"a"));
        assert_eq!(f[0].violations, [Violation::UnmaskedClientFrame]);
        let f = trace(Dir::ServerToClient, &client(0x81, b"a"));
        assert_eq!(f[0].violations, [Violation::MaskedServerFrame]);
        assert_eq!(
            f[0].preview,
            text("a"),
            "the payload is unmasked to show it"
        );
    }

    #[test]
    fn control_frame_violations() {
        let f = trace(Dir::ServerToClient, &server(0x09, b"p"));
        assert_eq!(f[0].violations, [Violation::FragmentedControlFrame]);
        let f = trace(Dir::ServerToClient, &server(0x89, &[0; 126]));
        assert_eq!(f[0].violations, [Violation::OversizedControlFrame(126)]);
        assert_eq!(f[0].len_encoding, LengthEncoding::Bits16);
    }

    #[test]
    fn reserved_bits_and_opcodes() {
        let f = trace(Dir::ServerToClient, &server(0xc1, b"a"));
        assert_eq!(f[0].violations, [Violation::ReservedBits("RSV1".into())]);
        let f = trace(Dir::ServerToClient, &server(0xb1, b"a"));
        assert_eq!(
            f[0].violations,
            [Violation::ReservedBits("RSV2+RSV3".into())]
        );
        let f = trace(Dir::ServerToClient, &server(0x83, b""));
        assert_eq!(f[0].violations, [Violation::ReservedOpcode(3)]);
        let f = trace(Dir::ServerToClient, &server(0x8b, b""));
        assert_eq!(f[0].violations, [Violation::ReservedOpcode(0xb)]);
    }

    #[test]
    fn fragmentation_violations() {
        let f = trace(Dir::ServerToClient, &server(0x80, b"a"));
        assert_eq!(f[0].violations, [Violation::UnexpectedContinuation]);
        let mut bytes = server(0x01, b"a");
        bytes.extend(server(0x81, b"b"));
        let f = trace(Dir::ServerToClient, &bytes);
        assert!(f[0].violations.is_empty());
        assert_eq!(f[1].violations, [Violation::ExpectedContinuation]);
    }

    #[test]
    fn invalid_utf8_has_its_message_offset() {
        // The bad byte is the 3rd of the second fragment: offset 4 + 2.
        let mut bytes = server(0x01, b"abcd");
        bytes.extend(server(0x80, b"ef\xffg"));
        let f = trace(Dir::ServerToClient, &bytes);
        assert!(f[0].violations.is_empty());
        assert_eq!(f[1].violations, [Violation::InvalidUtf8(6)]);
        // A character split between fragments is fine...
        let mut bytes = server(0x01, "ab\u{e9}".as_bytes().split_at(3).0);
        bytes.extend(server(0x80, &[0xa9, b'!']));
        let f = trace(Dir::ServerToClient, &bytes);
        assert!(f.iter().all(|f| f.violations.is_empty()), "{f:?}");
        // ...but not one the message ends in.
        let f = trace(Dir::ServerToClient, &server(0x81, b"ab\xc3"));
        assert_eq!(f[0].violations, [Violation::TruncatedUtf8(2)]);
    }

    #[test]
    fn close_frame_violations() {
        let f = trace(Dir::ServerToClient, &server(0x88, &[0x03]));
        assert_eq!(f[0].violations, [Violation::CloseLength1]);
        let f = trace(Dir::ServerToClient, &server(0x88, &[0x03, 0xed]));
        assert_eq!(f[0].violations, [Violation::InvalidCloseCode(1005)]);
        let f = trace(Dir::ServerToClient, &server(0x88, &[0x03, 0xe8, 0xff]));
        assert_eq!(f[0].violations, [Violation::InvalidCloseReason]);
        let f = trace(
            Dir::ServerToClient,
            &server(0x88, &[0x0f, 0xa0, b'b', b'y', b'e']),
        );
        assert!(f[0].violations.is_empty());
        assert_eq!(
            f[0].close,
            Some(CloseInfo {
                code: Some(4000),
                reason: "bye".into()
            })
        );
        let mut bytes = server(0x88, &[]);
        bytes.extend(server(0x81, b"late"));
        let f = trace(Dir::ServerToClient, &bytes);
        assert_eq!(
            f[0].close,
            Some(CloseInfo {
                code: None,
                reason: String::new()
            })
        );
        assert_eq!(f[1].violations, [Violation::FrameAfterClose]);
    }

    #[test]
    fn length_encoding_violations() {
        let f = trace(Dir::ServerToClient, &frame_with(0x82, &[0; 5], None, 16));
        assert_eq!(
            f[0].violations,
            [Violation::NonMinimalLength(LengthEncoding::Bits16)]
        );
        let f = trace(Dir::ServerToClient, &frame_with(0x82, &[0; 200], None, 64));
        assert_eq!(
            f[0].violations,
            [Violation::NonMinimalLength(LengthEncoding::Bits64)]
        );
        assert_eq!(f[0].len, 200);
        let f = trace(
            Dir::ServerToClient,
            &frame_with(0x82, &[0; 70_000], None, 64),
        );
        assert!(f[0].violations.is_empty());
        let mut high = vec![0x82, 127];
        high.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let mut conn = opened(RESPONSE);
        let mut out = Vec::new();
        conn.feed(Dir::ServerToClient, Duration::ZERO, &high, &mut out);
        conn.feed(Dir::ServerToClient, Duration::ZERO, &[0; 4096], &mut out);
        // The frame never ends: nothing to report yet, nothing held.
        assert!(frames(&out).is_empty());
        conn.end(Dir::ServerToClient, Duration::ZERO, "EOF", &mut out);
        assert!(matches!(&out[0].event, Event::Note(n) if n.contains("inside a frame (4096 of")));
    }

    #[test]
    fn a_huge_frame_is_streamed_and_previewed() {
        let payload = vec![b'z'; 3 << 20];
        let f = trace(Dir::ClientToServer, &client(0x81, &payload));
        assert_eq!(f[0].len, 3 << 20);
        match &f[0].preview {
            Some(Preview::Text { text, cut: true }) => assert_eq!(text.len(), PREVIEW),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compressed_frames_show_both_sizes() {
        let f = trace_after(
            DEFLATE_RESPONSE,
            Dir::ServerToClient,
            &server(0xc1, HELLO_DEFLATED),
        );
        assert!(f[0].violations.is_empty(), "{:?}", f[0].violations);
        assert_eq!((f[0].len, f[0].inflated), (7, Some(5)));
        assert_eq!(f[0].preview, text("Hello"));
        // Fragmented: RSV1 on the first frame only (RFC 7692 §7.2.3.2).
        let mut bytes = client(0x41, &HELLO_DEFLATED[..3]);
        bytes.extend(client(0x80, &HELLO_DEFLATED[3..]));
        let mut conn = opened(DEFLATE_RESPONSE);
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, &bytes, &mut out);
        let f = frames(&out);
        assert!(f.iter().all(|f| f.violations.is_empty()), "{f:?}");
        assert_eq!(f[0].inflated.unwrap() + f[1].inflated.unwrap(), 5);
        let m = messages(&out);
        assert_eq!((m[0].frames, m[0].len, m[0].inflated), (2, 7, Some(5)));
        assert_eq!(m[0].preview, text("Hello"));
    }

    #[test]
    fn deflate_violations() {
        let mut bytes = server(0x41, HELLO_DEFLATED);
        bytes.extend(server(0xc0, b""));
        let f = trace_after(DEFLATE_RESPONSE, Dir::ServerToClient, &bytes);
        assert_eq!(f[1].violations, [Violation::ReservedBits("RSV1".into())]);
        let f = trace_after(DEFLATE_RESPONSE, Dir::ServerToClient, &server(0xc9, b""));
        assert_eq!(f[0].violations, [Violation::ReservedBits("RSV1".into())]);
        let f = trace_after(
            DEFLATE_RESPONSE,
            Dir::ServerToClient,
            &server(0xc2, &[0xff; 8]),
        );
        assert_eq!(f[0].violations, [Violation::CorruptCompressedData]);
        // The next message inflates again.
        let mut bytes = server(0xc2, &[0xff; 8]);
        bytes.extend(server(0xc1, HELLO_DEFLATED));
        let f = trace_after(DEFLATE_RESPONSE, Dir::ServerToClient, &bytes);
        assert_eq!(f[1].preview, text("Hello"));
    }

    /// A zip bomb: 40 MiB of zeros that a client compressed to under
    /// 64 KiB, in one read. Inflating stops at
    /// [`MAX_INFLATE`]: the frame and its message are reported with what
    /// was inflated up to the cap (plus the one byte that tells the cap was
    /// passed), no violation (the data is valid) and nothing large kept.
    #[test]
    fn a_zip_bomb_is_inflated_up_to_the_cap() {
        let bomb_size = 40 << 20;
        // The bytes a real client sends: the library's own compressor (a
        // sync flush, its 00 00 ff ff tail removed, RFC 7692 §7.2.1),
        // with the parameters DEFLATE_RESPONSE agrees on.
        let mut params = DeflateParams::default();
        params.server_no_context_takeover = true;
        let mut sender = rws::proto::Connection::new(rws::Role::Client, rws::Config::default())
            .with_deflate(params);
        sender
            .send(rws::Message::binary(vec![0u8; bomb_size]))
            .expect("send");
        let bytes = sender.pending_output().to_vec();
        assert!(bytes.len() < 64 << 10, "{} bytes on the wire", bytes.len());
        assert_eq!(bytes[0], 0xc2, "FIN, RSV1, binary");

        let mut conn = opened(DEFLATE_RESPONSE);
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, &bytes, &mut out);
        let f = frames(&out);
        let m = messages(&out);
        assert_eq!((f.len(), m.len()), (1, 1), "{out:?}");
        let capped = Some(MAX_INFLATE as u64 + 1);
        // A 16-bit length and a masking key: 8 bytes of header.
        assert_eq!(f[0].len, bytes.len() as u64 - 8);
        assert_eq!(f[0].inflated, capped);
        assert!(f[0].violations.is_empty(), "{:?}", f[0].violations);
        assert_eq!(
            f[0].preview,
            Some(Preview::Binary {
                bytes: vec![0; PREVIEW],
                cut: true
            })
        );
        assert_eq!((m[0].opcode, m[0].frames, m[0].inflated), (2, 1, capped));
        assert!(m[0].violations.is_empty(), "{:?}", m[0].violations);
        // Nothing of the bomb is kept: the unmasking buffer holds one
        // read's compressed bytes at most.
        assert!(conn.client.scratch.capacity() <= bytes.len());
        assert!(conn.client.frame.is_none() && conn.client.message.is_none());
        assert!(f[0].inflate_cut && m[0].inflate_cut);
        // The next message (no back-reference into the bomb) inflates with
        // a fresh inflater: no false "corrupt data".
        sender.consume_output(bytes.len());
        // 120 bytes: above the 64-byte threshold, so compressed.
        sender
            .send(rws::Message::text("Hello ".repeat(20)))
            .expect("send");
        let hello = sender.pending_output().to_vec();
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, &hello, &mut out);
        let f = frames(&out);
        assert_eq!(f.len(), 1, "{out:?}");
        assert!(f[0].violations.is_empty(), "{:?}", f[0].violations);
        assert!(f[0].rsv[0], "compressed");
        assert_eq!((f[0].inflated, f[0].inflate_cut), (Some(120), false));
    }

    #[test]
    fn messages_reassemble_fragments() {
        let mut bytes = client(0x01, b"Hel");
        bytes.extend(client(0x89, b""));
        bytes.extend(client(0x80, b"lo"));
        let mut conn = opened(RESPONSE);
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, &bytes, &mut out);
        let m = messages(&out);
        assert_eq!(m.len(), 2, "the ping, then the text");
        assert_eq!(m[0].opcode, 0x9);
        assert_eq!((m[1].opcode, m[1].frames, m[1].len), (1, 2, 5));
        assert_eq!(m[1].preview, text("Hello"));
    }

    #[test]
    fn a_refused_upgrade_is_not_followed() {
        let mut conn = ConnTrace::new(1);
        let mut out = Vec::new();
        conn.feed(Dir::ClientToServer, Duration::ZERO, REQUEST, &mut out);
        let refused = b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\n\x81\x05hello";
        conn.feed(Dir::ServerToClient, Duration::ZERO, refused, &mut out);
        assert!(frames(&out).is_empty());
        assert!(matches!(&out[2].event, Event::Note(n) if n.contains("HTTP 404")));
    }

    #[test]
    fn a_head_that_never_ends_is_given_up() {
        let mut conn = ConnTrace::new(1);
        let mut out = Vec::new();
        for _ in 0..20 {
            conn.feed(Dir::ClientToServer, Duration::ZERO, &[b'a'; 4096], &mut out);
        }
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0].event, Event::Note(n) if n.contains("no HTTP head")));
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // A cheap deterministic generator: every stream of bytes must be
        // taken without a panic, whatever the chunking.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut conn = opened(DEFLATE_RESPONSE);
            let mut out = Vec::new();
            for _ in 0..20 {
                let len = (next() % 40) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let dir = if next() % 2 == 0 {
                    Dir::ClientToServer
                } else {
                    Dir::ServerToClient
                };
                conn.feed(dir, Duration::ZERO, &bytes, &mut out);
            }
        }
    }
}
