//! The load generator's side of the wire: the opening handshake (with the
//! library's [`ClientHandshake`]), frames encoded once and reused, and a
//! reader that counts echoed messages from frame headers alone, or checks
//! every payload byte with `--verify`.

use std::net::SocketAddr;

use rws::deflate::{DeflateConfig, DeflateParams, Inflater};
use rws::proto::frame::{FrameHeader, OpCode};
use rws::proto::handshake::ClientHandshake;
use rws::proto::Connection;
use rws::{Config, Message, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ErrorKind;

/// What was sent, once: the payload and `depth` copies of its frame.
pub(super) struct Frames {
    /// The payload, unmasked and uncompressed, to check echoes against.
    pub payload: Vec<u8>,
    /// The opcode sent.
    pub opcode: OpCode,
    /// `depth` masked frames back to back; a write of `k` frames is the
    /// first `k * frame_len` bytes.
    pub bytes: Vec<u8>,
    /// The length of one frame.
    pub frame_len: usize,
    /// The permessage-deflate parameters the frames were compressed for.
    pub deflate: Option<DeflateParams>,
}

impl Frames {
    /// `depth` copies of one masked frame carrying `size` bytes of
    /// [`payload`], compressed when `deflate` was agreed (and the message
    /// is not too short to be worth it, as the library decides).
    ///
    /// A compressed message is made by a fresh compressor, so it refers to
    /// no earlier message and can be sent again and again, whatever the
    /// context takeover agreed.
    pub(super) fn new(
        text: bool,
        size: usize,
        depth: usize,
        deflate: Option<DeflateParams>,
    ) -> Frames {
        let payload = payload(size);
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let message = if text {
            Message::text(String::from_utf8(payload.clone()).expect("ASCII"))
        } else {
            Message::binary(payload.clone())
        };
        let config = Config::default()
            .max_message_size(usize::MAX)
            .max_frame_size(usize::MAX)
            .deflate(Some(deflate_offer()));
        let mut client = Connection::new(Role::Client, config);
        if let Some(params) = deflate {
            client = client.with_deflate(params);
        }
        client.send(message).expect("an open connection sends");
        let mut frame = Vec::with_capacity(size + 14);
        while client.wants_write() {
            let part = client.pending_output();
            frame.extend_from_slice(part);
            let n = part.len();
            client.consume_output(n);
        }
        let frame_len = frame.len();
        Frames {
            payload,
            opcode,
            bytes: frame.repeat(depth),
            frame_len,
            deflate,
        }
    }
}

/// What `--deflate` offers: permessage-deflate with no context takeover
/// either way, so that every message costs the server a whole inflate
/// and deflate (with context takeover, an echo of a repeated message
/// compresses to a reference to the last one, which measures nothing).
pub(super) fn deflate_offer() -> DeflateConfig {
    DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
}

/// `size` bytes of ASCII text: words drawn by a fixed pseudo-random
/// sequence from a small vocabulary, so that the payload compresses about
/// as well as English prose (to a third or so) and does not repeat every
/// few bytes, which would hide masking errors from `--verify`.
pub(super) fn payload(size: usize) -> Vec<u8> {
    const WORDS: [&str; 32] = [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
        "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
        "they", "you", "were", "their", "message",
    ];
    let mut state: u32 = 0x9e37_79b9;
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        // A 32-bit xorshift: fixed, so every run sends the same bytes.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(WORDS[(state % 32) as usize].as_bytes());
        out.push(if state.is_multiple_of(7) { b'.' } else { b' ' });
    }
    out.truncate(size);
    out
}

/// A connection just opened.
pub(super) struct Opened {
    pub stream: BenchStream,
    /// The bytes that came after the 101.
    pub leftover: Vec<u8>,
    /// The permessage-deflate parameters agreed, if any.
    pub deflate: Option<DeflateParams>,
}

/// A load connection: TCP for ws://, TLS over TCP for wss://.
pub(super) enum BenchStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// What wss:// needs: the client configuration and the server's name.
#[derive(Clone)]
pub(super) struct Tls {
    pub connector: tokio_rustls::TlsConnector,
    pub name: rws::tls::rustls::pki_types::ServerName<'static>,
}

/// Opens a connection (with TLS for `tls`) and does the opening handshake.
pub(super) async fn open(
    addr: SocketAddr,
    tls: Option<&Tls>,
    handshake: &ClientHandshake,
    request: &[u8],
) -> Result<Opened, ErrorKind> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => {
            let (tcp, leftover, deflate) = upgrade(tcp, handshake, request).await?;
            Ok(Opened {
                stream: BenchStream::Plain(tcp),
                leftover,
                deflate,
            })
        }
        Some(tls) => {
            let stream = tls
                .connector
                .connect(tls.name.clone(), tcp)
                .await
                .map_err(|_| ErrorKind::Handshake)?;
            let (stream, leftover, deflate) = upgrade(stream, handshake, request).await?;
            Ok(Opened {
                stream: BenchStream::Tls(Box::new(stream)),
                leftover,
                deflate,
            })
        }
    }
}

/// The WebSocket handshake on `stream`: the stream, the bytes after the
/// 101 and the permessage-deflate parameters agreed.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handshake: &ClientHandshake,
    request: &[u8],
) -> Result<(S, Vec<u8>, Option<DeflateParams>), ErrorKind> {
    stream
        .write_all(request)
        .await
        .map_err(|_| ErrorKind::Handshake)?;
    stream.flush().await.map_err(|_| ErrorKind::Handshake)?;
    let mut buf = Vec::with_capacity(512);
    loop {
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|_| ErrorKind::Handshake)?;
        match handshake.handle_response(&buf, n == 0) {
            Ok(Some((response, used))) => {
                let deflate = handshake
                    .deflate_params(&response)
                    .map_err(|_| ErrorKind::Handshake)?;
                let leftover = buf.split_off(used);
                return Ok((stream, leftover, deflate));
            }
            Ok(None) if n > 0 => {}
            _ => return Err(ErrorKind::Handshake),
        }
    }
}

/// Follows the echoed frames across reads, a header at a time: payloads
/// are skipped, not copied, unless `--verify` compares them.
pub(super) struct EchoReader<'a> {
    frames: &'a Frames,
    verify: bool,
    /// Bytes of a header cut by the end of a read.
    header: [u8; 14],
    header_len: usize,
    /// Inside a frame's payload.
    in_frame: bool,
    /// Payload bytes of the frame left to read.
    remaining: u64,
    /// How far into the echoed message's payload.
    offset: usize,
    /// The frame ends a data message.
    fin: bool,
    /// A data message's first frame was read, not yet its last.
    in_message: bool,
    /// The frame is a ping or pong, skipped.
    control: bool,
    /// `--verify` with permessage-deflate: the server's compressor, undone.
    inflater: Option<Inflater>,
    /// The echoed message is compressed (RSV1 on its first frame).
    compressed: bool,
    /// `--verify`: the compressed payload of the echo, until it ends.
    wire: Vec<u8>,
}

impl<'a> EchoReader<'a> {
    /// A reader of echoes of `frames`.
    pub(super) fn new(frames: &'a Frames, verify: bool) -> EchoReader<'a> {
        EchoReader {
            frames,
            verify,
            header: [0; 14],
            header_len: 0,
            in_frame: false,
            remaining: 0,
            offset: 0,
            fin: false,
            in_message: false,
            control: false,
            inflater: frames
                .deflate
                .filter(|_| verify)
                .map(|p| Inflater::new(p.server_max_window_bits, p.server_no_context_takeover)),
            compressed: false,
            wire: Vec::new(),
        }
    }

    /// Takes the next bytes read: how many echoed messages they completed.
    pub(super) fn feed(&mut self, mut data: &[u8]) -> Result<usize, ErrorKind> {
        let mut done = 0;
        while !data.is_empty() {
            if !self.in_frame {
                let take = (self.header.len() - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                let have = self.header_len + take;
                match FrameHeader::decode(&self.header[..have]) {
                    Ok(None) => {
                        self.header_len = have;
                        data = &data[take..];
                    }
                    Ok(Some((header, used))) => {
                        data = &data[used - self.header_len..];
                        self.header_len = 0;
                        self.start(&header)?;
                        if self.remaining == 0 {
                            done += self.end_frame()?;
                        }
                    }
                    Err(_) => return Err(ErrorKind::Protocol),
                }
            } else {
                let take = self.remaining.min(data.len() as u64) as usize;
                if self.verify && !self.control && self.compressed {
                    // Deflate can grow incompressible data a little, never
                    // this much: a longer echo is wrong, and is not kept.
                    let most = self.frames.payload.len() * 9 / 8 + 64;
                    if self.wire.len() + take > most {
                        return Err(ErrorKind::Verify);
                    }
                    self.wire.extend_from_slice(&data[..take]);
                } else if self.verify && !self.control {
                    let expected = self
                        .frames
                        .payload
                        .get(self.offset..self.offset + take)
                        .ok_or(ErrorKind::Verify)?;
                    if expected != &data[..take] {
                        return Err(ErrorKind::Verify);
                    }
                }
                if !self.control {
                    self.offset += take;
                }
                self.remaining -= take as u64;
                data = &data[take..];
                if self.remaining == 0 {
                    done += self.end_frame()?;
                }
            }
        }
        Ok(done)
    }

    fn start(&mut self, header: &FrameHeader) -> Result<(), ErrorKind> {
        self.in_frame = true;
        self.remaining = header.payload_len;
        self.control = header.opcode.is_control();
        if header.opcode == OpCode::Close {
            return Err(ErrorKind::Closed);
        }
        if self.control {
            return Ok(());
        }
        self.fin = header.fin;
        let first = !self.in_message;
        self.in_message = !header.fin;
        if first {
            self.compressed = header.rsv1;
        }
        if self.verify {
            let opcode_ok = if first {
                header.opcode == self.frames.opcode
            } else {
                header.opcode == OpCode::Continuation
            };
            // A server must not mask (RFC 6455 §5.1), and sets RSV1 only on
            // the first frame of a message, only with permessage-deflate
            // (RFC 7692 §6).
            let rsv1_ok = !header.rsv1 || (first && self.frames.deflate.is_some());
            if !opcode_ok || header.mask.is_some() || !rsv1_ok {
                return Err(ErrorKind::Verify);
            }
        }
        Ok(())
    }

    /// The current frame ended: 1 if it ended an echoed message.
    fn end_frame(&mut self) -> Result<usize, ErrorKind> {
        self.in_frame = false;
        if self.control || !self.fin {
            return Ok(0);
        }
        if self.verify && self.compressed {
            self.check_inflated()?;
        } else if self.verify && self.offset != self.frames.payload.len() {
            return Err(ErrorKind::Verify);
        }
        self.offset = 0;
        Ok(1)
    }

    /// `--verify`: the compressed echo inflates to the payload sent.
    fn check_inflated(&mut self) -> Result<(), ErrorKind> {
        let inflater = self.inflater.as_mut().ok_or(ErrorKind::Verify)?;
        let expected = &self.frames.payload;
        // One byte past the payload's length tells a longer echo.
        let limit = expected.len() + 1;
        let mut message = Vec::with_capacity(limit);
        inflater
            .inflate(&self.wire, &mut message, limit)
            .and_then(|()| inflater.finish(&mut message, limit))
            .map_err(|_| ErrorKind::Verify)?;
        self.wire.clear();
        if message != *expected {
            return Err(ErrorKind::Verify);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rws::proto::frame::apply_mask;

    /// Server frames (unmasked) echoing `frames`' payload in `parts` pieces.
    fn echo(frames: &Frames, parts: usize) -> Vec<u8> {
        let chunks: Vec<&[u8]> = frames
            .payload
            .chunks(frames.payload.len().div_ceil(parts).max(1))
            .collect();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 {
                frames.opcode
            } else {
                OpCode::Continuation
            };
            let mut header = FrameHeader::new(opcode, chunk.len() as u64);
            header.fin = i + 1 == chunks.len();
            header.encode(&mut out);
            out.extend_from_slice(chunk);
        }
        out
    }

    #[test]
    fn echoes_are_counted_across_any_reads() {
        let frames = Frames::new(true, 300, 2, None);
        let mut wire = echo(&frames, 1);
        wire.extend([0x89, 0x01, b'p']); // a ping between echoes is skipped
        wire.extend(echo(&frames, 3));
        for verify in [false, true] {
            for step in [1, 2, 7, 100, wire.len()] {
                let mut reader = EchoReader::new(&frames, verify);
                let total: usize = wire.chunks(step).map(|c| reader.feed(c).unwrap()).sum();
                assert_eq!(total, 2, "verify {verify}, reads of {step}");
            }
        }
    }

    #[test]
    fn the_sent_frames_unmask_to_the_payload() {
        let frames = Frames::new(false, 1000, 3, None);
        assert_eq!(frames.bytes.len(), 3 * frames.frame_len);
        let (header, used) = FrameHeader::decode(&frames.bytes).unwrap().unwrap();
        let mut payload = frames.bytes[used..frames.frame_len].to_vec();
        apply_mask(&mut payload, header.mask.unwrap(), 0);
        assert_eq!(payload, frames.payload);
    }

    #[test]
    fn verify_catches_a_changed_byte_a_masked_echo_and_a_close() {
        let frames = Frames::new(false, 64, 1, None);
        let mut wire = echo(&frames, 1);
        *wire.last_mut().unwrap() ^= 1;
        assert_eq!(
            EchoReader::new(&frames, true).feed(&wire),
            Err(ErrorKind::Verify)
        );
        assert_eq!(EchoReader::new(&frames, false).feed(&wire), Ok(1));
        // A raw-TCP echo sends our masked frame back: counted, not verified.
        assert_eq!(EchoReader::new(&frames, false).feed(&frames.bytes), Ok(1));
        assert_eq!(
            EchoReader::new(&frames, true).feed(&frames.bytes),
            Err(ErrorKind::Verify)
        );
        let close = [0x88, 0x02, 0x03, 0xe8];
        assert_eq!(
            EchoReader::new(&frames, false).feed(&close),
            Err(ErrorKind::Closed)
        );
    }

    /// What a server agrees to `--deflate`'s offer.
    fn agreed() -> DeflateParams {
        let answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        rws::deflate::parse_response([answer], &deflate_offer())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_payload_is_ascii_words_of_the_exact_size() {
        for size in [0, 1, 16, 1000, 70_000] {
            let p = payload(size);
            assert_eq!(p.len(), size);
            assert!(p
                .iter()
                .all(|b| b.is_ascii_lowercase() || b" .".contains(b)));
        }
        assert_eq!(payload(100), payload(100), "the same bytes every run");
        assert_ne!(payload(8)[..4], payload(8)[4..], "not a 4-byte pattern");
    }

    #[test]
    fn compressed_frames_read_as_the_payload_and_compressed_echoes_verify() {
        let params = agreed();
        let frames = Frames::new(true, 4000, 2, Some(params));
        let text = String::from_utf8(frames.payload.clone()).unwrap();
        assert!(
            frames.frame_len < 2000,
            "prose-like text compresses: {} bytes",
            frames.frame_len
        );
        assert_eq!(frames.bytes[0], 0xc1, "FIN, RSV1, text");
        // A server with the same agreement reads each copy as the message.
        let config = Config::default().deflate(Some(DeflateConfig::default()));
        let mut server = Connection::new(Role::Server, config).with_deflate(params);
        server.handle_input(&frames.bytes);
        for _ in 0..2 {
            let event = server.poll_event();
            assert_eq!(
                event,
                Some(rws::Event::Message(Message::text(text.clone())))
            );
            server.send(Message::text(text.clone())).unwrap();
        }
        let mut echoes = Vec::new();
        while server.wants_write() {
            let n = server.pending_output().len();
            echoes.extend_from_slice(server.pending_output());
            server.consume_output(n);
        }
        assert_eq!(echoes[0], 0xc1, "the echo is compressed too");
        for step in [1, 7, 300, echoes.len()] {
            let mut reader = EchoReader::new(&frames, true);
            let total: usize = echoes.chunks(step).map(|c| reader.feed(c).unwrap()).sum();
            assert_eq!(total, 2, "reads of {step}");
        }
        // A changed compressed byte is caught when it inflates otherwise.
        let mut bad = echoes.clone();
        bad[10] ^= 0x20;
        assert_eq!(
            EchoReader::new(&frames, true).feed(&bad),
            Err(ErrorKind::Verify)
        );
        assert_eq!(EchoReader::new(&frames, false).feed(&bad), Ok(2));
        // A compressed echo far longer than the message could ever deflate
        // to is wrong, and not buffered: a 1 GiB frame header and 64 KiB.
        let mut huge = vec![0xc1, 0x7f];
        huge.extend_from_slice(&(1u64 << 30).to_be_bytes());
        huge.extend(std::iter::repeat_n(0, 64 << 10));
        let mut reader = EchoReader::new(&frames, true);
        assert_eq!(reader.feed(&huge), Err(ErrorKind::Verify));
        assert!(
            reader.wire.capacity() <= 8 << 10,
            "{}",
            reader.wire.capacity()
        );
        // RSV1 without permessage-deflate agreed is a wrong echo.
        let plain = Frames::new(true, 4000, 1, None);
        assert_eq!(
            EchoReader::new(&plain, true).feed(&echoes),
            Err(ErrorKind::Verify)
        );
    }
}
