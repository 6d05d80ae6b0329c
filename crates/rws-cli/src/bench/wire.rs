//! The load generator's side of the wire: the opening handshake (with the
//! library's [`ClientHandshake`]), frames encoded once and reused, and a
//! reader that counts echoed messages from frame headers alone, or checks
//! every payload byte with `--verify`.

use std::net::SocketAddr;

use rws::frame::{apply_mask, FrameHeader, OpCode};
use rws::handshake::ClientHandshake;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ErrorKind;

/// What was sent, once: the payload and `depth` copies of its frame.
pub struct Frames {
    /// The payload, unmasked, to check echoes against.
    pub payload: Vec<u8>,
    /// The opcode sent.
    pub opcode: OpCode,
    /// `depth` masked frames back to back; a write of `k` frames is the
    /// first `k * frame_len` bytes.
    pub bytes: Vec<u8>,
    /// The length of one frame.
    pub frame_len: usize,
}

impl Frames {
    /// `depth` copies of one masked frame carrying `size` bytes: ASCII text
    /// (valid UTF-8 for a text frame) with a pattern that does not repeat
    /// every 4 bytes, so that masking errors would show with `--verify`.
    pub fn new(text: bool, size: usize, depth: usize) -> Frames {
        let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 23) as u8).collect();
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let mut header = FrameHeader::new(opcode, size as u64);
        let key = [0x5a, 0x3c, 0x96, 0xe1];
        header.mask = Some(key);
        let mut frame = Vec::with_capacity(size + 14);
        header.encode(&mut frame);
        let start = frame.len();
        frame.extend_from_slice(&payload);
        apply_mask(&mut frame[start..], key, 0);
        let frame_len = frame.len();
        Frames {
            payload,
            opcode,
            bytes: frame.repeat(depth),
            frame_len,
        }
    }
}

/// Opens a connection and does the opening handshake; returns the stream
/// and the bytes that came after the 101.
pub async fn open(
    addr: SocketAddr,
    handshake: &ClientHandshake,
    request: &[u8],
) -> Result<(TcpStream, Vec<u8>), ErrorKind> {
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let _ = tcp.set_nodelay(true);
    tcp.write_all(request)
        .await
        .map_err(|_| ErrorKind::Handshake)?;
    let mut buf = Vec::with_capacity(512);
    loop {
        let n = tcp
            .read_buf(&mut buf)
            .await
            .map_err(|_| ErrorKind::Handshake)?;
        match handshake.handle_response(&buf, n == 0) {
            Ok(Some((_, used))) => return Ok((tcp, buf.split_off(used))),
            Ok(None) if n > 0 => {}
            _ => return Err(ErrorKind::Handshake),
        }
    }
}

/// Follows the echoed frames across reads, a header at a time: payloads
/// are skipped, not copied, unless `--verify` compares them.
pub struct EchoReader<'a> {
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
    /// The frame is a ping or pong, skipped.
    control: bool,
}

impl<'a> EchoReader<'a> {
    /// A reader of echoes of `frames`.
    pub fn new(frames: &'a Frames, verify: bool) -> EchoReader<'a> {
        EchoReader {
            frames,
            verify,
            header: [0; 14],
            header_len: 0,
            in_frame: false,
            remaining: 0,
            offset: 0,
            fin: false,
            control: false,
        }
    }

    /// Takes the next bytes read: how many echoed messages they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize, ErrorKind> {
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
                if self.verify && !self.control {
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
        if self.verify {
            let first = self.offset == 0;
            let opcode_ok = if first {
                header.opcode == self.frames.opcode
            } else {
                header.opcode == OpCode::Continuation
            };
            // A server must not mask (RFC 6455 §5.1), nor compress here.
            if !opcode_ok || header.mask.is_some() || header.rsv1 {
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
        if self.verify && self.offset != self.frames.payload.len() {
            return Err(ErrorKind::Verify);
        }
        self.offset = 0;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let frames = Frames::new(true, 300, 2);
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
        let frames = Frames::new(false, 1000, 3);
        assert_eq!(frames.bytes.len(), 3 * frames.frame_len);
        let (header, used) = FrameHeader::decode(&frames.bytes).unwrap().unwrap();
        let mut payload = frames.bytes[used..frames.frame_len].to_vec();
        apply_mask(&mut payload, header.mask.unwrap(), 0);
        assert_eq!(payload, frames.payload);
    }

    #[test]
    fn verify_catches_a_changed_byte_a_masked_echo_and_a_close() {
        let frames = Frames::new(false, 64, 1);
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
}
