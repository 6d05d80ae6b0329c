//! Reading TCP streams out of pcap and pcapng captures, for `rws trace --pcap FILE`.
//!
//! [`Capture`] reads a capture file block by block and turns its TCP packets into
//! [`CaptureEvent`]s: a connection opens, bytes of one direction's stream arrive (in stream order,
//! each byte once), bytes are missing, a side sends FIN or RST. Another module parses the HTTP
//! handshake and the WebSocket frames out of these streams.
//!
//! # What is read
//!
//! - Files: classic libpcap (either byte order, microsecond or nanosecond magic, and the old
//!   "modified" Kuznetzov format) and pcapng (any number of sections and interfaces, each
//!   interface with its own link type and timestamp resolution `if_tsresol`, decimal or binary,
//!   plus `if_tsoffset`; enhanced and simple packet blocks; other blocks are skipped). Simple
//!   packet blocks have no timestamp: they get the previous packet's.
//! - Link types: Ethernet (1, with up to three VLAN tags), Linux cooked capture SLL (113)
//!   and SLL2 (276), BSD loopback NULL (0) and LOOP (108), raw IP (101, 228 IPv4, 229 IPv6).
//! - Network: IPv4 and IPv6 (with extension headers), TCP only. Everything else (ARP, UDP, ICMP,
//!   other link types' packets) is skipped silently.
//!
//! # What is not
//!
//! - IP fragments are skipped (there is no IP reassembly): a TCP segment that was fragmented
//!   shows up as missing bytes ([`CaptureEvent::Gap`]).
//! - Packets cut short by the capture's snap length, or whose headers are malformed, are skipped
//!   the same way: their bytes become a gap.
//! - Checksums are not verified (captures taken on the sending host often carry wrong ones because
//!   of checksum offload).
//!
//! # How streams are reassembled
//!
//! Connections are keyed by their address/port 4-tuple and numbered from 1 in the order they are
//! first seen. The client is the sender of a SYN without ACK (or the receiver of a SYN-ACK, when
//! the SYN was not captured). A capture that starts in the middle of a connection opens it at its
//! first segment carrying data, and then the side with the higher port is taken to be the client
//! (ephemeral ports are high); on equal ports, the sender of that first segment. A SYN on a 4-tuple
//! whose connection has ended (FIN both ways, or an RST) starts a new connection.
//!
//! Each direction's stream starts at the sequence number after its SYN, or at the first segment
//! seen. Sequence numbers wrap. Retransmitted and overlapping bytes are delivered once; segments
//! that arrive early are held until the hole before them fills. A hole is given up on, with a
//! [`CaptureEvent::Gap`], when:
//!
//! - the other side acknowledges bytes of it (the receiver got them, so they will never be sent
//!   again: the capture missed them),
//! - more than [`MAX_BUFFERED_PER_DIRECTION`] bytes wait behind it,
//! - an RST ends the connection, or the capture ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapHeader, PcapNGReader};

/// Out-of-order bytes one direction of a connection may hold (plus a small per-segment cost)
/// before the hole in front of them is reported as a [`CaptureEvent::Gap`].
pub(crate) const MAX_BUFFERED_PER_DIRECTION: usize = 4 * 1024 * 1024;

/// What one held segment costs beyond its bytes, so that many tiny segments are bounded too.
const HELD_SEGMENT_OVERHEAD: usize = 64;

/// The reading buffer's sizes.
#[derive(Debug, Clone, Copy)]
struct BufferLimits {
    /// The first size; also the largest pcapng section header accepted.
    initial: usize,
    /// The largest pcap record or pcapng block accepted: the buffer doubles up to it.
    max_record: usize,
}

/// The limits of [`Capture::new`].
const BUFFER_LIMITS: BufferLimits = BufferLimits {
    initial: 64 * 1024,
    max_record: 16 * 1024 * 1024,
};

/// How many ended connections are remembered (so that their stragglers are ignored).
const MAX_ENDED_REMEMBERED: usize = 65_536;

/// The first four bytes of a classic pcap file, read as little-endian: micro- and nanosecond
/// magics in both byte orders, and the "modified" format.
const PCAP_MAGICS: [u32; 5] = [
    0xa1b2_c3d4,
    0xd4c3_b2a1,
    0xa1b2_3c4d,
    0x4d3c_b2a1,
    0xa1b2_cd34,
];

/// The block type of a pcapng section header block (the same in both byte orders).
const PCAPNG_SECTION_HEADER: u32 = 0x0a0d_0d0a;

/// The pcapng byte-order magic, as written in the section header's byte order.
const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// The length of a Linux cooked capture v2 (SLL2) header.
const SLL2_HEADER_LEN: usize = 20;

/// A capture being read, event by event, in capture order.
///
/// After [`Capture::next_event`] returns an error, further calls deliver what the connections
/// still hold (with gaps) and then `None`, so that a caller may report the error and keep the rest.
pub(crate) struct Capture<R: Read> {
    blocks: BlockSource<R>,
    packets: PacketDecoder,
    tracker: Tracker,
    finished: bool,
}

impl<R: Read> Capture<R> {
    /// Detects pcap (either byte order, micro- or nanosecond) or pcapng from the first bytes.
    ///
    /// Reads only the file header (or the first section header), so it returns promptly on a
    /// pipe. Fails on a file that is neither, and on a pcap file whose link type is not supported.
    pub(crate) fn new(reader: R) -> Result<Capture<R>, CaptureError> {
        Capture::with_limits(reader, BUFFER_LIMITS)
    }

    fn with_limits(mut reader: R, limits: BufferLimits) -> Result<Capture<R>, CaptureError> {
        let (format, start) = read_file_start(&mut reader, limits.initial)?;
        let mut capture = Capture {
            blocks: BlockSource::new(format, start, reader, limits)?,
            packets: PacketDecoder::default(),
            tracker: Tracker::default(),
            finished: false,
        };
        // The file header (pcap) or section header (pcapng): sets up the link type.
        capture.read_block()?;
        Ok(capture)
    }

    /// The next event, or None at the end of the capture.
    pub(crate) fn next_event(&mut self) -> Result<Option<CaptureEvent>, CaptureError> {
        loop {
            if let Some(event) = self.tracker.events.pop_front() {
                return Ok(Some(event));
            }
            if self.finished {
                return Ok(None);
            }
            match self.read_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.finish();
                    self.packets.check_link_types()?;
                }
                Err(error) => {
                    self.finish();
                    return Err(error);
                }
            }
        }
    }

    /// Reads and handles one block; false at the end of the file.
    fn read_block(&mut self) -> Result<bool, CaptureError> {
        let Capture {
            blocks,
            packets,
            tracker,
            ..
        } = self;
        blocks.next_block(|block| packets.handle_block(block, tracker))
    }

    /// Delivers what the connections still hold, once.
    fn finish(&mut self) {
        self.finished = true;
        self.tracker.finish(self.packets.last_time);
    }
}

/// What happened in the capture, in capture order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CaptureEvent {
    /// A TCP connection seen for the first time (its SYN, or its first segment when the capture started mid-connection).
    Open {
        /// The connection's id: 1, 2, ... in the order connections are first seen.
        conn: u64,
        /// The packet's timestamp, since the UNIX epoch.
        time: Duration,
        /// The side that opened the connection (see the module docs for mid-connection captures).
        client: SocketAddr,
        /// The other side.
        server: SocketAddr,
    },
    /// Bytes of one direction's stream, in stream order, each byte delivered exactly once.
    Data {
        /// The connection's id.
        conn: u64,
        /// The timestamp of the packet that made these bytes deliverable, since the UNIX epoch.
        time: Duration,
        /// Whether the client sent these bytes.
        from_client: bool,
        /// The bytes, never empty.
        data: Vec<u8>,
    },
    /// Bytes missing from the capture (a segment never captured, found when a later one is held too long / the buffered out-of-order data passes a bound, or at the end): the stream continues after the hole.
    Gap {
        /// The connection's id.
        conn: u64,
        /// The timestamp of the packet that revealed the gap (or the capture's last), since the UNIX epoch.
        time: Duration,
        /// Whether the missing bytes were the client's.
        from_client: bool,
        /// How many bytes are missing, at least 1.
        missing: u64,
    },
    /// FIN or RST from one side.
    ///
    /// A FIN's end comes after all of that side's bytes. An RST ends the whole connection: the
    /// held bytes of both sides are delivered before it, and it is the connection's last event
    /// (it may follow an `End` of the same side's FIN).
    End {
        /// The connection's id.
        conn: u64,
        /// The packet's timestamp (or the capture's last, for a FIN found at the end), since the UNIX epoch.
        time: Duration,
        /// Whether the client sent the FIN or RST.
        from_client: bool,
        /// True for an RST, false for a FIN.
        reset: bool,
    },
}

/// Why a capture cannot be read (further).
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum CaptureError {
    /// Reading the file failed.
    Io(io::Error),
    /// The file is not a pcap or pcapng capture, or it is damaged or truncated; the text says how.
    Format(String),
    /// The capture's link-layer type (a LINKTYPE_ number from <https://www.tcpdump.org/linktypes.html>)
    /// is not one this reader decodes. For pcapng, reported at the end, when no interface had a
    /// supported one.
    UnsupportedLinkType(u32),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(error) => write!(f, "cannot read the capture: {error}"),
            CaptureError::Format(message) => f.write_str(message),
            CaptureError::UnsupportedLinkType(link_type) => write!(
                f,
                "the capture's link-layer type {link_type} is not supported (supported: Ethernet 1, \
                 Linux cooked 113 and 276, BSD loopback 0 and 108, raw IP 101, 228 and 229)"
            ),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for CaptureError {
    fn from(error: io::Error) -> Self {
        CaptureError::Io(error)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading blocks: format detection, pcap-parser's streaming readers, refill and growth.
// ---------------------------------------------------------------------------------------------

/// The two capture file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileFormat {
    Pcap,
    PcapNg,
}

/// Reads the file header (pcap) or the whole first section header block (pcapng), and no more.
fn read_file_start<R: Read>(
    reader: &mut R,
    max_len: usize,
) -> Result<(FileFormat, Vec<u8>), CaptureError> {
    let mut start = vec![0; 4];
    read_header_bytes(reader, &mut start)?;
    let magic = u32::from_le_bytes([start[0], start[1], start[2], start[3]]);
    if PCAP_MAGICS.contains(&magic) {
        read_more(reader, &mut start, 20)?;
        return Ok((FileFormat::Pcap, start));
    }
    if magic != PCAPNG_SECTION_HEADER {
        return Err(CaptureError::Format(format!(
            "not a pcap or pcapng capture: the file starts with {:02x} {:02x} {:02x} {:02x}",
            start[0], start[1], start[2], start[3]
        )));
    }
    // Block length, then the byte-order magic that says how to read it.
    read_more(reader, &mut start, 8)?;
    let length = section_header_length(&start, max_len)?;
    let rest = length - start.len();
    read_more(reader, &mut start, rest)?;
    Ok((FileFormat::PcapNg, start))
}

/// The length of the pcapng section header block whose first 12 bytes are given.
fn section_header_length(start: &[u8], max_len: usize) -> Result<usize, CaptureError> {
    let field = |at: usize| {
        start
            .get(at..at + 4)
            .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
            .unwrap_or_default()
    };
    let (length, order_magic) = (field(4), field(8));
    let length = if u32::from_le_bytes(order_magic) == PCAPNG_BYTE_ORDER_MAGIC {
        u32::from_le_bytes(length)
    } else if u32::from_be_bytes(order_magic) == PCAPNG_BYTE_ORDER_MAGIC {
        u32::from_be_bytes(length)
    } else {
        return Err(CaptureError::Format(
            "not a pcapng capture: its section header has no byte-order magic".into(),
        ));
    };
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length < 28 || length % 4 != 0 || length > max_len {
        return Err(CaptureError::Format(format!(
            "damaged pcapng capture: its section header claims {length} bytes"
        )));
    }
    Ok(length)
}

/// Appends `count` bytes read from `reader` to `bytes`.
fn read_more<R: Read>(
    reader: &mut R,
    bytes: &mut Vec<u8>,
    count: usize,
) -> Result<(), CaptureError> {
    let old_len = bytes.len();
    bytes.resize(old_len + count, 0);
    read_header_bytes(reader, &mut bytes[old_len..])
}

/// Fills `buffer` from the file's header, telling a too-short file from a failed read.
fn read_header_bytes<R: Read>(reader: &mut R, buffer: &mut [u8]) -> Result<(), CaptureError> {
    reader.read_exact(buffer).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            CaptureError::Format(
                "not a capture: the file ends before a pcap or pcapng header is complete".into(),
            )
        } else {
            CaptureError::Io(error)
        }
    })
}

/// The input given to pcap-parser: the header bytes already read, then the rest of the file.
type Input<R> = io::Chain<io::Cursor<Vec<u8>>, ErrorKeepingReader<R>>;

/// A reader that keeps its last error: pcap-parser reduces read errors to `ReadError`.
struct ErrorKeepingReader<R> {
    inner: R,
    last_error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for ErrorKeepingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buffer) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let kind = error.kind();
                    if let Ok(mut slot) = self.last_error.lock() {
                        *slot = Some(error);
                    }
                    return Err(io::Error::from(kind));
                }
                Ok(count) => return Ok(count),
            }
        }
    }
}

/// pcap-parser's streaming reader for the detected format.
enum Blocks<R: Read> {
    Pcap(LegacyPcapReader<Input<R>>),
    PcapNg(PcapNGReader<Input<R>>),
}

impl<R: Read> Blocks<R> {
    fn reader(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Blocks::Pcap(reader) => reader,
            Blocks::PcapNg(reader) => reader,
        }
    }
}

/// Blocks of the file, one at a time, with the buffer refilled and grown as needed.
struct BlockSource<R: Read> {
    blocks: Blocks<R>,
    capacity: usize,
    max_record: usize,
    last_error: Arc<Mutex<Option<io::Error>>>,
}

/// What to do after asking pcap-parser for a block.
enum Step {
    Consume(usize),
    End,
    Refill,
    Grow,
    EndInsideRecord,
    ReadFailed,
    Malformed(String),
}

impl Step {
    fn after(error: &PcapError<&[u8]>) -> Step {
        match error {
            PcapError::Eof => Step::End,
            PcapError::Incomplete(_) => Step::Refill,
            PcapError::BufferTooSmall => Step::Grow,
            PcapError::UnexpectedEof => Step::EndInsideRecord,
            PcapError::ReadError => Step::ReadFailed,
            PcapError::HeaderNotRecognized => Step::Malformed("an unrecognized header".into()),
            PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => Step::Malformed(
                format!("a record or block that cannot be parsed ({kind:?})"),
            ),
        }
    }
}

impl<R: Read> BlockSource<R> {
    fn new(
        format: FileFormat,
        start: Vec<u8>,
        reader: R,
        limits: BufferLimits,
    ) -> Result<Self, CaptureError> {
        let last_error = Arc::new(Mutex::new(None));
        let rest = ErrorKeepingReader {
            inner: reader,
            last_error: Arc::clone(&last_error),
        };
        // The first read of each pcap-parser reader takes all the header bytes from the cursor.
        let input = io::Cursor::new(start).chain(rest);
        let blocks = match format {
            FileFormat::Pcap => LegacyPcapReader::new(limits.initial, input).map(Blocks::Pcap),
            FileFormat::PcapNg => PcapNGReader::new(limits.initial, input).map(Blocks::PcapNg),
        }
        .map_err(|error| {
            CaptureError::Format(format!("damaged capture header: {}", describe(&error)))
        })?;
        Ok(BlockSource {
            blocks,
            capacity: limits.initial,
            max_record: limits.max_record,
            last_error,
        })
    }

    /// Gives the next block to `handle`; false at the end of the file.
    fn next_block<F>(&mut self, mut handle: F) -> Result<bool, CaptureError>
    where
        F: FnMut(PcapBlockOwned<'_>) -> Result<(), CaptureError>,
    {
        loop {
            let step = match self.blocks.reader().next() {
                Ok((size, block)) => {
                    handle(block)?;
                    Step::Consume(size)
                }
                Err(error) => Step::after(&error),
            };
            let reader = self.blocks.reader();
            match step {
                Step::Consume(size) => {
                    reader.consume(size);
                    return Ok(true);
                }
                Step::End => return Ok(false),
                Step::Refill => self.refill()?,
                Step::Grow => self.grow()?,
                // pcap-parser reports a clean end this way when its buffer is not rewound.
                Step::EndInsideRecord if reader.data().is_empty() => return Ok(false),
                Step::EndInsideRecord => {
                    return Err(CaptureError::Format(format!(
                        "truncated capture: the file ends inside the record at byte {}",
                        reader.consumed()
                    )))
                }
                Step::ReadFailed => return Err(self.read_error()),
                Step::Malformed(what) => {
                    return Err(CaptureError::Format(format!(
                        "damaged capture: {what} at byte {}",
                        reader.consumed()
                    )))
                }
            }
        }
    }

    /// Reads more of the file into the buffer, growing it when it is full.
    fn refill(&mut self) -> Result<(), CaptureError> {
        let reader = self.blocks.reader();
        let buffered = reader.data().len();
        if reader.refill().is_err() {
            return Err(self.read_error());
        }
        let reader = self.blocks.reader();
        if reader.data().len() == buffered && !reader.reader_exhausted() {
            self.grow()?;
        }
        Ok(())
    }

    /// Doubles the buffer, up to the largest record accepted.
    fn grow(&mut self) -> Result<(), CaptureError> {
        let larger = self.capacity.saturating_mul(2);
        let reader = self.blocks.reader();
        if larger > self.max_record {
            return Err(CaptureError::Format(format!(
                "damaged capture: the record at byte {} is larger than {} KiB",
                reader.consumed(),
                self.max_record / 1024
            )));
        }
        reader.grow(larger);
        self.capacity = larger;
        Ok(())
    }

    /// The reader's error, as kept by [`ErrorKeepingReader`].
    fn read_error(&self) -> CaptureError {
        let kept = self.last_error.lock().ok().and_then(|mut slot| slot.take());
        CaptureError::Io(kept.unwrap_or_else(|| io::Error::other("reading the capture failed")))
    }
}

/// A person's words for pcap-parser's error.
fn describe(error: &PcapError<&[u8]>) -> String {
    match error {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("it cannot be parsed ({kind:?})")
        }
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding packets: link types, timestamps, and the TCP segment inside.
// ---------------------------------------------------------------------------------------------

/// The link layers this reader decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// LINKTYPE_ETHERNET (1), VLAN tags included.
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276), decoded here: etherparse 0.21 has no SLL2.
    LinuxSll2,
    /// LINKTYPE_NULL (0) and LINKTYPE_LOOP (108): a 4-byte address family, then IPv4 or IPv6.
    /// The family is not read (its byte order and IPv6 value vary by system); the IP version is.
    Loopback,
    /// LINKTYPE_RAW (101), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229): the packet is the IP packet.
    RawIp,
}

impl Link {
    /// The link of a LINKTYPE_ number, or the number back when it is not supported.
    fn from_number(number: u32) -> Result<Link, u32> {
        match number {
            0 | 108 => Ok(Link::Loopback),
            1 => Ok(Link::Ethernet),
            113 => Ok(Link::LinuxSll),
            276 => Ok(Link::LinuxSll2),
            101 | 228 | 229 => Ok(Link::RawIp),
            other => Err(other),
        }
    }
}

/// One pcapng interface: its link and its clock.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Result<Link, u32>,
    ticks_per_second: u64,
    offset_seconds: i64,
}

/// Link types and clocks of the file, and what has been seen of them.
#[derive(Debug, Default)]
struct PacketDecoder {
    /// A pcap file's link type, from its header.
    pcap_link: Option<Link>,
    /// Whether a pcap file's timestamps count nanoseconds (else microseconds).
    pcap_nanoseconds: bool,
    /// The current pcapng section's interfaces, by id.
    interfaces: Vec<Interface>,
    /// The timestamp of the last packet (simple packet blocks have none of their own).
    last_time: Duration,
    saw_supported_packet: bool,
    first_unsupported_link: Option<u32>,
}

impl PacketDecoder {
    fn handle_block(
        &mut self,
        block: PcapBlockOwned<'_>,
        tracker: &mut Tracker,
    ) -> Result<(), CaptureError> {
        match block {
            PcapBlockOwned::LegacyHeader(header) => self.start_pcap(&header)?,
            PcapBlockOwned::Legacy(record) => {
                if let Some(link) = self.pcap_link {
                    let time = pcap_time(record.ts_sec, record.ts_usec, self.pcap_nanoseconds);
                    self.on_packet(Ok(link), time, record.data, tracker);
                }
            }
            PcapBlockOwned::NG(block) => self.on_pcapng_block(&block, tracker),
        }
        Ok(())
    }

    fn start_pcap(&mut self, header: &PcapHeader) -> Result<(), CaptureError> {
        // The upper bits may carry FCS information; the link type is the lower 16.
        let number = (header.network.0 as u32) & 0xffff;
        let link = Link::from_number(number).map_err(CaptureError::UnsupportedLinkType)?;
        self.pcap_link = Some(link);
        self.pcap_nanoseconds = header.is_nanosecond_precision();
        Ok(())
    }

    fn on_pcapng_block(&mut self, block: &Block<'_>, tracker: &mut Tracker) {
        match block {
            Block::SectionHeader(_) => self.interfaces.clear(),
            Block::InterfaceDescription(description) => self.interfaces.push(Interface {
                link: Link::from_number(description.linktype.0 as u32),
                ticks_per_second: ticks_per_second(description.if_tsresol),
                offset_seconds: description.if_tsoffset,
            }),
            Block::EnhancedPacket(packet) => {
                let interface = usize::try_from(packet.if_id)
                    .ok()
                    .and_then(|id| self.interfaces.get(id).copied());
                if let Some(interface) = interface {
                    let ticks = (u64::from(packet.ts_high) << 32) | u64::from(packet.ts_low);
                    let time = pcapng_time(ticks, &interface);
                    self.on_packet(interface.link, time, packet.packet_data(), tracker);
                }
            }
            Block::SimplePacket(packet) => {
                if let Some(interface) = self.interfaces.first().copied() {
                    let time = self.last_time;
                    self.on_packet(interface.link, time, packet.packet_data(), tracker);
                }
            }
            _ => {}
        }
    }

    fn on_packet(
        &mut self,
        link: Result<Link, u32>,
        time: Duration,
        frame: &[u8],
        tracker: &mut Tracker,
    ) {
        self.last_time = time;
        match link {
            Ok(link) => {
                self.saw_supported_packet = true;
                if let Some(segment) = decode_segment(link, frame) {
                    tracker.on_segment(time, &segment);
                }
            }
            Err(number) => {
                self.first_unsupported_link.get_or_insert(number);
            }
        }
    }

    /// At the end: an error when every packet was on an unsupported link type.
    fn check_link_types(&self) -> Result<(), CaptureError> {
        match self.first_unsupported_link {
            Some(number) if !self.saw_supported_packet => {
                Err(CaptureError::UnsupportedLinkType(number))
            }
            _ => Ok(()),
        }
    }
}

/// A classic pcap timestamp: seconds, and micro- or nanoseconds.
fn pcap_time(seconds: u32, fraction: u32, nanoseconds: bool) -> Duration {
    let nanos = if nanoseconds {
        u64::from(fraction)
    } else {
        u64::from(fraction) * 1000
    };
    Duration::from_secs(u64::from(seconds)).saturating_add(Duration::from_nanos(nanos))
}

/// The clock rate of a pcapng `if_tsresol` (a power of 10, or of 2 when the top bit is set);
/// microseconds when it is out of range.
fn ticks_per_second(if_tsresol: u8) -> u64 {
    let exponent = u32::from(if_tsresol & 0x7f);
    let ticks = if if_tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        2u64.checked_pow(exponent)
    };
    ticks.unwrap_or(1_000_000)
}

/// A pcapng timestamp: ticks of the interface's clock, plus its offset in seconds.
fn pcapng_time(ticks: u64, interface: &Interface) -> Duration {
    let per_second = interface.ticks_per_second.max(1);
    let seconds = i128::from(ticks / per_second) + i128::from(interface.offset_seconds);
    let seconds = u64::try_from(seconds.max(0)).unwrap_or(u64::MAX);
    let nanos = u128::from(ticks % per_second) * 1_000_000_000 / u128::from(per_second);
    Duration::new(seconds, u32::try_from(nanos).unwrap_or(0))
}

/// One TCP segment, as read from a packet.
#[derive(Debug)]
struct Segment<'a> {
    source: SocketAddr,
    destination: SocketAddr,
    seq: u32,
    /// The acknowledgment number, when the ACK flag is set.
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
    payload: &'a [u8],
}

/// The TCP segment in a frame of the given link, if it holds a whole, unfragmented one.
fn decode_segment(link: Link, frame: &[u8]) -> Option<Segment<'_>> {
    let packet = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(frame).ok()?,
        Link::LinuxSll => SlicedPacket::from_linux_sll(frame).ok()?,
        Link::LinuxSll2 => {
            let header = frame.get(..SLL2_HEADER_LEN)?;
            let protocol = EtherType(u16::from_be_bytes([header[0], header[1]]));
            SlicedPacket::from_ether_type(protocol, frame.get(SLL2_HEADER_LEN..)?).ok()?
        }
        Link::Loopback => SlicedPacket::from_ip(frame.get(4..)?).ok()?,
        Link::RawIp => SlicedPacket::from_ip(frame).ok()?,
    };
    segment_of(&packet)
}

/// The TCP segment of a sliced packet; none for fragments and other protocols.
fn segment_of<'a>(packet: &SlicedPacket<'a>) -> Option<Segment<'a>> {
    let (source_ip, destination_ip) = match packet.net.as_ref()? {
        NetSlice::Ipv4(ipv4) if !ipv4.payload().fragmented => (
            IpAddr::V4(ipv4.header().source_addr()),
            IpAddr::V4(ipv4.header().destination_addr()),
        ),
        NetSlice::Ipv6(ipv6) if !ipv6.payload().fragmented => (
            IpAddr::V6(ipv6.header().source_addr()),
            IpAddr::V6(ipv6.header().destination_addr()),
        ),
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = packet.transport.as_ref()? else {
        return None;
    };
    Some(Segment {
        source: SocketAddr::new(source_ip, tcp.source_port()),
        destination: SocketAddr::new(destination_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
    })
}

// ---------------------------------------------------------------------------------------------
// Tracking connections and reassembling their streams.
// ---------------------------------------------------------------------------------------------

/// A connection's 4-tuple, the same whichever side sent the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnectionKey(SocketAddr, SocketAddr);

impl ConnectionKey {
    fn of(one: SocketAddr, other: SocketAddr) -> ConnectionKey {
        if one <= other {
            ConnectionKey(one, other)
        } else {
            ConnectionKey(other, one)
        }
    }
}

/// All connections of the capture, and the events they produced and nobody has taken yet.
#[derive(Debug, Default)]
struct Tracker {
    connections: HashMap<ConnectionKey, Connection>,
    /// Ended connections, oldest first, to forget the oldest when there are too many.
    ended: VecDeque<(ConnectionKey, u64)>,
    last_id: u64,
    events: VecDeque<CaptureEvent>,
}

impl Tracker {
    fn on_segment(&mut self, time: Duration, segment: &Segment<'_>) {
        let key = ConnectionKey::of(segment.source, segment.destination);
        let ended = self
            .connections
            .get(&key)
            .map(|connection| connection.ended);
        let opens = match ended {
            Some(false) => false,
            Some(true) => segment.syn,
            None => segment.syn || (!segment.payload.is_empty() && !segment.rst),
        };
        if opens {
            self.open(key, time, segment);
        } else if ended != Some(false) {
            // An ended connection's straggler, or a packet that carries nothing to show.
            return;
        }
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        connection.on_segment(time, segment, &mut self.events);
        if connection.ended {
            let id = connection.id;
            self.remember_ended(key, id);
        }
    }

    fn open(&mut self, key: ConnectionKey, time: Duration, segment: &Segment<'_>) {
        self.last_id += 1;
        let (client, server) = client_and_server(segment);
        self.events.push_back(CaptureEvent::Open {
            conn: self.last_id,
            time,
            client,
            server,
        });
        self.connections
            .insert(key, Connection::new(self.last_id, client));
    }

    fn remember_ended(&mut self, key: ConnectionKey, id: u64) {
        self.ended.push_back((key, id));
        while self.ended.len() > MAX_ENDED_REMEMBERED {
            let Some((old_key, old_id)) = self.ended.pop_front() else {
                break;
            };
            let still_that_one = self
                .connections
                .get(&old_key)
                .is_some_and(|connection| connection.ended && connection.id == old_id);
            if still_that_one {
                self.connections.remove(&old_key);
            }
        }
    }

    /// At the end of the capture: delivers what every open connection holds, in id order.
    fn finish(&mut self, time: Duration) {
        let mut open: Vec<&mut Connection> = self
            .connections
            .values_mut()
            .filter(|connection| !connection.ended)
            .collect();
        open.sort_by_key(|connection| connection.id);
        for connection in open {
            connection.flush(time, &mut self.events);
        }
    }
}

/// Which side of a new connection is the client: see the module docs.
fn client_and_server(segment: &Segment<'_>) -> (SocketAddr, SocketAddr) {
    let (source, destination) = (segment.source, segment.destination);
    let source_is_client = match (segment.syn, segment.ack) {
        (true, None) => true,
        (true, Some(_)) => false,
        (false, _) => source.port() >= destination.port(),
    };
    if source_is_client {
        (source, destination)
    } else {
        (destination, source)
    }
}

/// One TCP connection: both directions' streams.
#[derive(Debug)]
struct Connection {
    id: u64,
    client: SocketAddr,
    from_client: Stream,
    from_server: Stream,
    /// FIN seen (and delivered) both ways, or RST: nothing more but a new SYN.
    ended: bool,
}

impl Connection {
    fn new(id: u64, client: SocketAddr) -> Connection {
        Connection {
            id,
            client,
            from_client: Stream::default(),
            from_server: Stream::default(),
            ended: false,
        }
    }

    fn stream(&mut self, from_client: bool) -> &mut Stream {
        if from_client {
            &mut self.from_client
        } else {
            &mut self.from_server
        }
    }

    fn on_segment(
        &mut self,
        time: Duration,
        segment: &Segment<'_>,
        events: &mut VecDeque<CaptureEvent>,
    ) {
        let from_client = segment.source == self.client;
        if segment.rst {
            self.reset(time, from_client, events);
            return;
        }
        let id = self.id;
        // A SYN takes one sequence number: its data (TCP Fast Open) starts after it.
        let data_seq = segment.seq.wrapping_add(u32::from(segment.syn));
        if segment.syn || segment.fin || !segment.payload.is_empty() {
            self.stream(from_client).start_at(data_seq);
        }
        if let Some(ack) = segment.ack {
            let mut out = Emitter::new(events, id, time, !from_client);
            self.stream(!from_client).on_peer_ack(ack, &mut out);
        }
        let mut out = Emitter::new(events, id, time, from_client);
        self.stream(from_client)
            .on_segment(data_seq, segment.payload, segment.fin, &mut out);
        if self.from_client.ended && self.from_server.ended {
            self.ended = true;
        }
    }

    /// An RST: delivers what both sides hold, then ends the connection.
    fn reset(&mut self, time: Duration, from_client: bool, events: &mut VecDeque<CaptureEvent>) {
        self.flush(time, events);
        Emitter::new(events, self.id, time, from_client).end(true);
        self.ended = true;
        self.from_client = Stream::default();
        self.from_server = Stream::default();
    }

    /// Delivers what both sides hold, client first, with gaps for the holes.
    fn flush(&mut self, time: Duration, events: &mut VecDeque<CaptureEvent>) {
        self.from_client
            .flush(&mut Emitter::new(events, self.id, time, true));
        self.from_server
            .flush(&mut Emitter::new(events, self.id, time, false));
    }
}

/// Pushes one direction's events.
struct Emitter<'a> {
    events: &'a mut VecDeque<CaptureEvent>,
    conn: u64,
    time: Duration,
    from_client: bool,
}

impl<'a> Emitter<'a> {
    fn new(
        events: &'a mut VecDeque<CaptureEvent>,
        conn: u64,
        time: Duration,
        from_client: bool,
    ) -> Self {
        Emitter {
            events,
            conn,
            time,
            from_client,
        }
    }

    fn data(&mut self, data: Vec<u8>) {
        if !data.is_empty() {
            self.events.push_back(CaptureEvent::Data {
                conn: self.conn,
                time: self.time,
                from_client: self.from_client,
                data,
            });
        }
    }

    fn gap(&mut self, missing: u64) {
        if missing > 0 {
            self.events.push_back(CaptureEvent::Gap {
                conn: self.conn,
                time: self.time,
                from_client: self.from_client,
                missing,
            });
        }
    }

    fn end(&mut self, reset: bool) {
        self.events.push_back(CaptureEvent::End {
            conn: self.conn,
            time: self.time,
            from_client: self.from_client,
            reset,
        });
    }
}

/// One direction's byte stream, reassembled. Offsets count bytes from the stream's start.
#[derive(Debug, Default)]
struct Stream {
    /// The sequence number of offset 0, once known.
    base: Option<u32>,
    /// The offset of the next byte to deliver: everything before it was delivered or skipped.
    delivered: u64,
    /// Segments that arrived before the bytes in front of them, by offset (all past `delivered`).
    held: BTreeMap<u64, Vec<u8>>,
    /// The held bytes, plus [`HELD_SEGMENT_OVERHEAD`] per segment.
    held_cost: usize,
    /// The offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// The FIN's `End` was emitted: nothing more is delivered.
    ended: bool,
}

impl Stream {
    /// Sets the stream's start, unless it is already known.
    fn start_at(&mut self, seq: u32) {
        self.base.get_or_insert(seq);
    }

    /// The offset of a sequence number: the one within 2 GiB of `delivered` (sequence numbers
    /// wrap every 4 GiB). Negative before the stream's start.
    fn offset_of(&self, seq: u32) -> Option<i128> {
        let base = self.base?;
        // Truncation intended: sequence numbers count modulo 2^32.
        let expected = base.wrapping_add(self.delivered as u32);
        let distance = seq.wrapping_sub(expected) as i32;
        Some(i128::from(self.delivered) + i128::from(distance))
    }

    /// A segment of this direction: its bytes, its FIN.
    fn on_segment(&mut self, seq: u32, payload: &[u8], fin: bool, out: &mut Emitter<'_>) {
        if self.ended {
            return;
        }
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        if !payload.is_empty() {
            self.receive(start, payload, out);
        }
        if fin && self.fin_at.is_none() {
            let fin_at = start + payload.len() as i128;
            let fin_at = u64::try_from(fin_at).unwrap_or(0).max(self.delivered);
            self.fin_at = Some(fin_at);
        }
        self.end_if_complete(out);
    }

    /// The other side acknowledged up to `ack`: a hole it covers was received but not captured.
    fn on_peer_ack(&mut self, ack: u32, out: &mut Emitter<'_>) {
        if self.ended {
            return;
        }
        let hole_end = match (self.held.keys().next(), self.fin_at) {
            (Some(&first_held), _) => first_held,
            (None, Some(fin_at)) if fin_at > self.delivered => fin_at,
            _ => return,
        };
        let Some(acked) = self.offset_of(ack) else {
            return;
        };
        let acked = u64::try_from(acked).unwrap_or(0);
        if acked > self.delivered {
            self.skip_to(acked.min(hole_end), out);
        }
        self.end_if_complete(out);
    }

    /// Bytes at `start`: delivered if they continue the stream, held if they come early,
    /// dropped where already delivered or past the FIN.
    fn receive(&mut self, start: i128, payload: &[u8], out: &mut Emitter<'_>) {
        let mut end = start + payload.len() as i128;
        if let Some(fin_at) = self.fin_at {
            end = end.min(i128::from(fin_at));
        }
        let delivered = i128::from(self.delivered);
        if end <= delivered || end <= start {
            return;
        }
        let Some(payload) = usize::try_from(end - start)
            .ok()
            .and_then(|kept| payload.get(..kept))
        else {
            return;
        };
        if start <= delivered {
            let already = usize::try_from(delivered - start).unwrap_or(usize::MAX);
            let Some(fresh) = payload.get(already..) else {
                return;
            };
            let mut ready = fresh.to_vec();
            self.delivered = u64::try_from(end).unwrap_or(self.delivered);
            self.take_held(&mut ready);
            out.data(ready);
        } else if let Ok(start) = u64::try_from(start) {
            self.hold(start, payload);
            self.limit_held(out);
        }
    }

    /// Keeps an early segment (the longer one, when two start at the same offset).
    fn hold(&mut self, start: u64, payload: &[u8]) {
        if let Some(existing) = self.held.get(&start) {
            if existing.len() >= payload.len() {
                return;
            }
            self.held_cost = self
                .held_cost
                .saturating_sub(existing.len() + HELD_SEGMENT_OVERHEAD);
        }
        self.held_cost += payload.len() + HELD_SEGMENT_OVERHEAD;
        self.held.insert(start, payload.to_vec());
    }

    /// Appends to `ready` the held bytes that now continue the stream.
    fn take_held(&mut self, ready: &mut Vec<u8>) {
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start > self.delivered {
                break;
            }
            let bytes = entry.remove();
            self.held_cost = self
                .held_cost
                .saturating_sub(bytes.len() + HELD_SEGMENT_OVERHEAD);
            let end = start + bytes.len() as u64;
            if end > self.delivered {
                let already = usize::try_from(self.delivered - start).unwrap_or(usize::MAX);
                ready.extend_from_slice(bytes.get(already..).unwrap_or_default());
                self.delivered = end;
            }
        }
    }

    /// Gives up on the bytes before `offset`: a gap, then what was held behind them.
    fn skip_to(&mut self, offset: u64, out: &mut Emitter<'_>) {
        out.gap(offset.saturating_sub(self.delivered));
        self.delivered = self.delivered.max(offset);
        let mut ready = Vec::new();
        self.take_held(&mut ready);
        out.data(ready);
    }

    /// Skips holes while too much is held behind them.
    fn limit_held(&mut self, out: &mut Emitter<'_>) {
        while self.held_cost > MAX_BUFFERED_PER_DIRECTION {
            let Some(&first_held) = self.held.keys().next() else {
                break;
            };
            self.skip_to(first_held, out);
        }
    }

    /// Delivers everything held, with gaps for the holes, and the FIN if one was seen.
    fn flush(&mut self, out: &mut Emitter<'_>) {
        if self.ended {
            return;
        }
        while let Some(&first_held) = self.held.keys().next() {
            self.skip_to(first_held, out);
        }
        if let Some(fin_at) = self.fin_at {
            self.skip_to(fin_at, out);
        }
        self.end_if_complete(out);
    }

    /// Emits the FIN's `End` once every byte before it was delivered.
    fn end_if_complete(&mut self, out: &mut Emitter<'_>) {
        if !self.ended && self.fin_at.is_some_and(|fin_at| self.delivered >= fin_at) {
            self.ended = true;
            self.held.clear();
            self.held_cost = 0;
            out.end(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        IpHeaders, LinuxSllPacketType, PacketBuilder, PacketBuilderStep, SingleVlanHeader,
        VlanHeader, VlanId, VlanPcp,
    };
    use std::io::Cursor;

    const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
    const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
    const CLIENT_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const SERVER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const CLIENT_PORT: u16 = 50_000;
    const SERVER_PORT: u16 = 80;

    /// A TCP segment to put in a test capture.
    #[derive(Debug, Clone)]
    struct Seg {
        from_client: bool,
        client_port: u16,
        seq: u32,
        ack: Option<u32>,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: Vec<u8>,
    }

    /// A segment; `flags` holds 'S', 'F', 'R' as wanted.
    fn seg(from_client: bool, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Seg {
        Seg {
            from_client,
            client_port: CLIENT_PORT,
            seq,
            ack,
            syn: flags.contains('S'),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
            payload: payload.to_vec(),
        }
    }

    fn on_port(mut segment: Seg, client_port: u16) -> Seg {
        segment.client_port = client_port;
        segment
    }

    /// The link layers the tests build.
    #[derive(Debug, Clone, Copy)]
    enum TestLink {
        Ethernet,
        EthernetVlan,
        EthernetIpv6,
        Null,
        Raw,
        Sll,
        Sll2,
    }

    impl TestLink {
        fn number(self) -> u32 {
            match self {
                TestLink::Ethernet | TestLink::EthernetVlan | TestLink::EthernetIpv6 => 1,
                TestLink::Null => 0,
                TestLink::Raw => 101,
                TestLink::Sll => 113,
                TestLink::Sll2 => 276,
            }
        }
    }

    fn addresses(segment: &Seg) -> ([u8; 4], [u8; 4]) {
        if segment.from_client {
            (CLIENT_IP, SERVER_IP)
        } else {
            (SERVER_IP, CLIENT_IP)
        }
    }

    fn frame(link: TestLink, segment: &Seg) -> Vec<u8> {
        let (source, destination) = addresses(segment);
        let ethernet = || PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        match link {
            TestLink::Ethernet => tcp_frame(ethernet().ipv4(source, destination, 64), segment),
            TestLink::EthernetVlan => {
                let vlan = VlanHeader::Single(SingleVlanHeader {
                    pcp: VlanPcp::ZERO,
                    drop_eligible_indicator: false,
                    vlan_id: VlanId::try_new(42).expect("vlan id"),
                    ether_type: EtherType(0),
                });
                tcp_frame(ethernet().vlan(vlan).ipv4(source, destination, 64), segment)
            }
            TestLink::EthernetIpv6 => {
                let (source, destination) = if segment.from_client {
                    (CLIENT_IP6, SERVER_IP6)
                } else {
                    (SERVER_IP6, CLIENT_IP6)
                };
                tcp_frame(ethernet().ipv6(source, destination, 64), segment)
            }
            TestLink::Null => {
                let mut bytes = 2u32.to_le_bytes().to_vec();
                bytes.extend(tcp_frame(
                    PacketBuilder::ipv4(source, destination, 64),
                    segment,
                ));
                bytes
            }
            TestLink::Raw => tcp_frame(PacketBuilder::ipv4(source, destination, 64), segment),
            TestLink::Sll => tcp_frame(
                PacketBuilder::linux_sll(LinuxSllPacketType::HOST, 6, [1, 2, 3, 4, 5, 6, 0, 0])
                    .ipv4(source, destination, 64),
                segment,
            ),
            TestLink::Sll2 => {
                let mut bytes = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
                bytes.extend([1, 2, 3, 4, 5, 6, 0, 0]);
                bytes.extend(tcp_frame(
                    PacketBuilder::ipv4(source, destination, 64),
                    segment,
                ));
                bytes
            }
        }
    }

    fn tcp_frame(step: PacketBuilderStep<IpHeaders>, segment: &Seg) -> Vec<u8> {
        let (source_port, destination_port) = if segment.from_client {
            (segment.client_port, SERVER_PORT)
        } else {
            (SERVER_PORT, segment.client_port)
        };
        let mut tcp = step.tcp(source_port, destination_port, segment.seq, 65_535);
        if segment.syn {
            tcp = tcp.syn();
        }
        if segment.fin {
            tcp = tcp.fin();
        }
        if segment.rst {
            tcp = tcp.rst();
        }
        if let Some(ack) = segment.ack {
            tcp = tcp.ack(ack);
        }
        let mut bytes = Vec::new();
        tcp.write(&mut bytes, &segment.payload)
            .expect("build packet");
        bytes
    }

    fn put_u16(bytes: &mut Vec<u8>, value: u16, big_endian: bool) {
        bytes.extend(if big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        });
    }

    fn put_u32(bytes: &mut Vec<u8>, value: u32, big_endian: bool) {
        bytes.extend(if big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        });
    }

    /// A classic pcap file.
    fn pcap_file(
        link: u32,
        big_endian: bool,
        nanos: bool,
        packets: &[(Duration, Vec<u8>)],
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        put_u32(&mut bytes, magic, big_endian);
        put_u16(&mut bytes, 2, big_endian);
        put_u16(&mut bytes, 4, big_endian);
        put_u32(&mut bytes, 0, big_endian);
        put_u32(&mut bytes, 0, big_endian);
        put_u32(&mut bytes, 65_535, big_endian);
        put_u32(&mut bytes, link, big_endian);
        for (time, frame) in packets {
            let seconds = u32::try_from(time.as_secs()).expect("time fits");
            let fraction = if nanos {
                time.subsec_nanos()
            } else {
                time.subsec_micros()
            };
            let length = u32::try_from(frame.len()).expect("frame fits");
            for value in [seconds, fraction, length, length] {
                put_u32(&mut bytes, value, big_endian);
            }
            bytes.extend(frame);
        }
        bytes
    }

    /// A pcapng interface: link type and `if_tsresol`, if given.
    type TestInterface = (u16, Option<u8>);

    /// A pcapng packet: interface id (`None` for a simple packet block), ticks, frame.
    type TestBlock = (Option<u32>, u64, Vec<u8>);

    /// A pcapng file with one section.
    fn pcapng_file(
        big_endian: bool,
        interfaces: &[TestInterface],
        packets: &[TestBlock],
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        let block = |bytes: &mut Vec<u8>, block_type: u32, body: &[u8]| {
            let length = u32::try_from(12 + body.len()).expect("block fits");
            put_u32(bytes, block_type, big_endian);
            put_u32(bytes, length, big_endian);
            bytes.extend(body);
            put_u32(bytes, length, big_endian);
        };
        let mut section = Vec::new();
        put_u32(&mut section, PCAPNG_BYTE_ORDER_MAGIC, big_endian);
        put_u16(&mut section, 1, big_endian);
        put_u16(&mut section, 0, big_endian);
        section.extend([0xff; 8]);
        block(&mut bytes, PCAPNG_SECTION_HEADER, &section);
        for &(link, tsresol) in interfaces {
            let mut body = Vec::new();
            put_u16(&mut body, link, big_endian);
            put_u16(&mut body, 0, big_endian);
            put_u32(&mut body, 65_535, big_endian);
            if let Some(tsresol) = tsresol {
                put_u16(&mut body, 9, big_endian);
                put_u16(&mut body, 1, big_endian);
                body.extend([tsresol, 0, 0, 0]);
                body.extend([0; 4]);
            }
            block(&mut bytes, 1, &body);
        }
        for (interface, ticks, frame) in packets {
            let length = u32::try_from(frame.len()).expect("frame fits");
            let mut padded = frame.clone();
            padded.resize(frame.len().div_ceil(4) * 4, 0);
            let mut body = Vec::new();
            match interface {
                Some(id) => {
                    put_u32(&mut body, *id, big_endian);
                    put_u32(&mut body, (ticks >> 32) as u32, big_endian);
                    put_u32(&mut body, *ticks as u32, big_endian);
                    put_u32(&mut body, length, big_endian);
                    put_u32(&mut body, length, big_endian);
                    body.extend(padded);
                    block(&mut bytes, 6, &body);
                }
                None => {
                    put_u32(&mut body, length, big_endian);
                    body.extend(padded);
                    block(&mut bytes, 3, &body);
                }
            }
        }
        bytes
    }

    /// Timestamps one second apart, with microseconds that survive every format.
    fn time(index: usize) -> Duration {
        Duration::new(1_700_000_000 + index as u64, 123_456_000)
    }

    /// A pcap file (little-endian, microseconds) of the segments, one second apart.
    fn capture_of(link: TestLink, segments: &[Seg]) -> Vec<u8> {
        let packets: Vec<_> = segments
            .iter()
            .enumerate()
            .map(|(index, segment)| (time(index), frame(link, segment)))
            .collect();
        pcap_file(link.number(), false, false, &packets)
    }

    /// Small buffers: fast in debug builds, and they exercise the growth.
    const TEST_LIMITS: BufferLimits = BufferLimits {
        initial: 256,
        max_record: 256 * 1024,
    };

    fn capture(bytes: &[u8]) -> Result<Capture<Cursor<Vec<u8>>>, CaptureError> {
        Capture::with_limits(Cursor::new(bytes.to_vec()), TEST_LIMITS)
    }

    fn events_of(file: &[u8]) -> Vec<CaptureEvent> {
        let mut capture = capture(file).expect("a capture");
        let mut events = Vec::new();
        while let Some(event) = capture.next_event().expect("an event") {
            events.push(event);
        }
        events
    }

    fn client() -> SocketAddr {
        SocketAddr::from((CLIENT_IP, CLIENT_PORT))
    }

    fn server() -> SocketAddr {
        SocketAddr::from((SERVER_IP, SERVER_PORT))
    }

    fn open(conn: u64, time: Duration) -> CaptureEvent {
        CaptureEvent::Open {
            conn,
            time,
            client: client(),
            server: server(),
        }
    }

    fn data(conn: u64, time: Duration, from_client: bool, bytes: &[u8]) -> CaptureEvent {
        CaptureEvent::Data {
            conn,
            time,
            from_client,
            data: bytes.to_vec(),
        }
    }

    fn gap(conn: u64, time: Duration, from_client: bool, missing: u64) -> CaptureEvent {
        CaptureEvent::Gap {
            conn,
            time,
            from_client,
            missing,
        }
    }

    fn end(conn: u64, time: Duration, from_client: bool, reset: bool) -> CaptureEvent {
        CaptureEvent::End {
            conn,
            time,
            from_client,
            reset,
        }
    }

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";

    /// A whole connection: handshake, a request, a response, FIN both ways.
    fn conversation(client_isn: u32, server_isn: u32) -> Vec<Seg> {
        let c = client_isn.wrapping_add(1);
        let s = server_isn.wrapping_add(1);
        let c_end = c.wrapping_add(REQUEST.len() as u32);
        let s_end = s.wrapping_add(RESPONSE.len() as u32);
        vec![
            seg(true, client_isn, None, "S", b""),
            seg(false, server_isn, Some(c), "S", b""),
            seg(true, c, Some(s), "", b""),
            seg(true, c, Some(s), "", REQUEST),
            seg(false, s, Some(c_end), "", RESPONSE),
            seg(true, c_end, Some(s_end), "F", b""),
            seg(false, s_end, Some(c_end + 1), "F", b""),
            seg(true, c_end + 1, Some(s_end + 1), "", b""),
        ]
    }

    fn conversation_events(times: &[Duration]) -> Vec<CaptureEvent> {
        vec![
            open(1, times[0]),
            data(1, times[3], true, REQUEST),
            data(1, times[4], false, RESPONSE),
            end(1, times[5], true, false),
            end(1, times[6], false, false),
        ]
    }

    /// The bytes of one direction, and the gaps, as one string ('?' per missing byte).
    fn stream_text(events: &[CaptureEvent], from: bool) -> String {
        let mut text = String::new();
        for event in events {
            match event {
                CaptureEvent::Data {
                    from_client, data, ..
                } if *from_client == from => text.push_str(&String::from_utf8_lossy(data)),
                CaptureEvent::Gap {
                    from_client,
                    missing,
                    ..
                } if *from_client == from => {
                    text.extend(std::iter::repeat_n('?', *missing as usize));
                }
                _ => {}
            }
        }
        text
    }

    #[test]
    fn whole_conversation_gives_open_data_in_order_and_end() {
        let file = capture_of(TestLink::Ethernet, &conversation(1000, 5000));
        let times: Vec<_> = (0..8).map(time).collect();
        assert_eq!(events_of(&file), conversation_events(&times));
    }

    #[test]
    fn every_link_type_gives_the_same_events() {
        let times: Vec<_> = (0..8).map(time).collect();
        for link in [
            TestLink::Ethernet,
            TestLink::EthernetVlan,
            TestLink::Null,
            TestLink::Raw,
            TestLink::Sll,
            TestLink::Sll2,
        ] {
            let file = capture_of(link, &conversation(1000, 5000));
            assert_eq!(events_of(&file), conversation_events(&times), "{link:?}");
        }
    }

    #[test]
    fn ipv6_connections_are_read() {
        let file = capture_of(TestLink::EthernetIpv6, &conversation(1000, 5000));
        let events = events_of(&file);
        let client6 = SocketAddr::from((CLIENT_IP6, CLIENT_PORT));
        let server6 = SocketAddr::from((SERVER_IP6, SERVER_PORT));
        assert_eq!(
            events[0],
            CaptureEvent::Open {
                conn: 1,
                time: time(0),
                client: client6,
                server: server6
            }
        );
        assert_eq!(
            events[1..],
            conversation_events(&(0..8).map(time).collect::<Vec<_>>())[1..]
        );
    }

    #[test]
    fn out_of_order_retransmitted_and_overlapping_segments_are_delivered_once_in_order() {
        let text = b"hello brave new world";
        let c = 1001;
        let segments = [
            seg(true, 1000, None, "S", b""),
            seg(false, 5000, Some(c), "S", b""),
            seg(true, c + 12, Some(5001), "", &text[12..]),
            seg(true, c, Some(5001), "", &text[..6]),
            seg(true, c, Some(5001), "", &text[..6]),
            seg(true, c + 3, Some(5001), "", &text[3..15]),
            seg(true, c + 12, Some(5001), "", &text[12..]),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(3), true, b"hello "),
                data(1, time(5), true, b"brave new world"),
            ]
        );
    }

    #[test]
    fn lost_segment_gives_a_gap_at_the_end() {
        let c = 1001;
        let segments = [
            seg(true, 1000, None, "S", b""),
            seg(false, 5000, Some(c), "S", b""),
            seg(true, c, Some(5001), "", b"aaa"),
            // "bbb" at c + 3 was never captured.
            seg(true, c + 6, Some(5001), "", b"ccc"),
            seg(true, c + 9, Some(5001), "F", b""),
            seg(false, 5001, Some(c + 3), "", b""),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        let last = time(5);
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(2), true, b"aaa"),
                gap(1, last, true, 3),
                data(1, last, true, b"ccc"),
                end(1, last, true, false),
            ]
        );
    }

    #[test]
    fn a_hole_the_peer_acknowledged_gives_a_gap_at_once() {
        let c = 1001;
        let segments = [
            seg(true, 1000, None, "S", b""),
            seg(false, 5000, Some(c), "S", b""),
            seg(true, c, Some(5001), "", b"aaa"),
            seg(true, c + 6, Some(5001), "F", b"ccc"),
            seg(false, 5001, Some(c + 10), "", b"reply"),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(2), true, b"aaa"),
                gap(1, time(4), true, 3),
                data(1, time(4), true, b"ccc"),
                end(1, time(4), true, false),
                data(1, time(4), false, b"reply"),
            ]
        );
    }

    #[test]
    fn sequence_numbers_wrap_around_u32_max() {
        let isn = u32::MAX - 3;
        let c = isn.wrapping_add(1);
        let text = b"0123456789abcdefghij";
        let segments = [
            seg(true, isn, None, "S", b""),
            seg(false, 7, Some(c), "S", b""),
            seg(true, c, Some(8), "", &text[..8]),
            seg(true, c.wrapping_add(14), Some(8), "", &text[14..]),
            seg(true, c.wrapping_add(8), Some(8), "", &text[8..14]),
            seg(true, c.wrapping_add(2), Some(8), "", &text[2..10]),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(2), true, &text[..8]),
                data(1, time(4), true, &text[8..]),
            ]
        );
        // A mid-connection stream whose first segment sits just before the wrap.
        let segments = [
            seg(true, u32::MAX - 1, Some(1), "", b"ab"),
            seg(true, 2, Some(1), "", b"ef"),
            seg(true, 0, Some(1), "", b"cd"),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(stream_text(&events, true), "abcdef");
    }

    #[test]
    fn two_interleaved_connections_get_ids_1_and_2() {
        let first = conversation(1000, 5000);
        let second: Vec<_> = conversation(90_000, 70_000)
            .into_iter()
            .map(|segment| on_port(segment, CLIENT_PORT + 1))
            .collect();
        let segments: Vec<_> = first
            .iter()
            .zip(&second)
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .collect();
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        let second_client = SocketAddr::from((CLIENT_IP, CLIENT_PORT + 1));
        assert_eq!(events[0], open(1, time(0)));
        assert_eq!(
            events[1],
            CaptureEvent::Open {
                conn: 2,
                time: time(1),
                client: second_client,
                server: server()
            }
        );
        for conn in [1, 2] {
            let own: Vec<_> = events
                .iter()
                .filter(|event| match event {
                    CaptureEvent::Data { conn: c, .. } | CaptureEvent::End { conn: c, .. } => {
                        *c == conn
                    }
                    _ => false,
                })
                .cloned()
                .collect();
            assert_eq!(own.len(), 4, "{conn}: {own:?}");
            assert_eq!(stream_text(&own, true), String::from_utf8_lossy(REQUEST));
            assert_eq!(stream_text(&own, false), String::from_utf8_lossy(RESPONSE));
        }
    }

    #[test]
    fn timestamps_come_through_in_micro_and_nanoseconds_and_both_byte_orders() {
        let segment = seg(true, 1, None, "S", b"x");
        let when = Duration::new(1_700_000_123, 987_654_321);
        let packet = [(when, frame(TestLink::Ethernet, &segment))];
        for big_endian in [false, true] {
            let micro = pcap_file(1, big_endian, false, &packet);
            let nano = pcap_file(1, big_endian, true, &packet);
            let micro_time = Duration::new(1_700_000_123, 987_654_000);
            assert_eq!(events_of(&micro)[0], open(1, micro_time));
            assert_eq!(events_of(&nano)[0], open(1, when));
        }
    }

    #[test]
    fn pcapng_interfaces_have_their_own_link_type_and_resolution() {
        let when = Duration::new(1_700_000_123, 987_654_321);
        let micros = u64::try_from(when.as_micros()).expect("fits");
        let nanos = u64::try_from(when.as_nanos()).expect("fits");
        let first = seg(true, 1000, None, "S", b"");
        let second = seg(true, 1001, Some(1), "", b"hi");
        let third = seg(true, 1003, Some(1), "", b"!");
        for big_endian in [false, true] {
            let file = pcapng_file(
                big_endian,
                &[(1, None), (101, Some(9))],
                &[
                    (Some(0), micros, frame(TestLink::Ethernet, &first)),
                    (Some(1), nanos, frame(TestLink::Raw, &second)),
                    (None, 0, frame(TestLink::Ethernet, &third)),
                ],
            );
            assert_eq!(
                events_of(&file),
                [
                    open(1, Duration::new(1_700_000_123, 987_654_000)),
                    data(1, when, true, b"hi"),
                    data(1, when, true, b"!"),
                ],
                "big-endian: {big_endian}"
            );
        }
    }

    #[test]
    fn mid_connection_capture_chooses_the_higher_port_as_client() {
        let segments = [
            seg(false, 7000, Some(3000), "", b"from server"),
            seg(true, 3000, Some(7011), "", b"from client"),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(0), false, b"from server"),
                data(1, time(1), true, b"from client"),
            ]
        );
    }

    #[test]
    fn segments_that_carry_nothing_open_no_connection() {
        let segments = [
            seg(false, 7000, Some(3000), "", b""),
            seg(true, 3000, Some(7000), "R", b""),
        ];
        assert_eq!(events_of(&capture_of(TestLink::Ethernet, &segments)), []);
    }

    #[test]
    fn syn_with_data_is_delivered() {
        let segments = [
            seg(true, 1000, None, "S", b"early"),
            seg(false, 5000, Some(1006), "S", b""),
            seg(true, 1006, Some(5001), "", b" data"),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                data(1, time(0), true, b"early"),
                data(1, time(2), true, b" data"),
            ]
        );
    }

    #[test]
    fn rst_delivers_what_is_held_and_ends_the_connection() {
        let segments = [
            seg(true, 1000, None, "S", b""),
            seg(false, 5000, Some(1001), "S", b""),
            seg(true, 1004, Some(5001), "", b"late"),
            seg(false, 5001, None, "R", b""),
            seg(true, 1008, Some(5001), "", b"ignored"),
        ];
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        assert_eq!(
            events,
            [
                open(1, time(0)),
                gap(1, time(3), true, 3),
                data(1, time(3), true, b"late"),
                end(1, time(3), false, true),
            ]
        );
    }

    #[test]
    fn a_new_syn_after_the_end_starts_a_new_connection() {
        let mut segments = conversation(1000, 5000);
        // A straggler: the client's FIN again, after the connection ended.
        segments.push(seg(true, 1001 + REQUEST.len() as u32, Some(1), "F", b"x"));
        segments.extend(conversation(40_000, 60_000));
        let events = events_of(&capture_of(TestLink::Ethernet, &segments));
        let first: Vec<_> = (0..8).map(time).collect();
        let second: Vec<_> = (9..17).map(time).collect();
        let mut expected = conversation_events(&first);
        expected.extend(
            conversation_events(&second)
                .into_iter()
                .map(|event| match event {
                    CaptureEvent::Open { time, .. } => open(2, time),
                    CaptureEvent::Data {
                        time,
                        from_client,
                        data: bytes,
                        ..
                    } => data(2, time, from_client, &bytes),
                    CaptureEvent::End {
                        time,
                        from_client,
                        reset,
                        ..
                    } => end(2, time, from_client, reset),
                    other => other,
                }),
        );
        assert_eq!(events, expected);
    }

    #[test]
    fn too_much_held_behind_a_hole_gives_a_gap() {
        let mut events = VecDeque::new();
        let mut stream = Stream::default();
        stream.start_at(0);
        let chunk = vec![7u8; 1024 * 1024];
        let mut out = Emitter::new(&mut events, 1, Duration::ZERO, true);
        for index in 0..4u32 {
            stream.on_segment(10 + index * 1024 * 1024, &chunk, false, &mut out);
        }
        assert_eq!(
            events.len(),
            2,
            "{:?}",
            events.iter().map(summary).collect::<Vec<_>>()
        );
        assert_eq!(events[0], gap(1, Duration::ZERO, true, 10));
        assert!(matches!(&events[1], CaptureEvent::Data { data, .. } if data.len() == 4 << 20));
        assert!(stream.held.is_empty());
        assert_eq!(stream.held_cost, 0);
    }

    fn summary(event: &CaptureEvent) -> String {
        match event {
            CaptureEvent::Data { data, .. } => format!("Data({})", data.len()),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn large_records_and_one_byte_reads_are_handled() {
        let mut packets = vec![(time(0), vec![0xee; 200_000])];
        packets.extend(
            conversation(1000, 5000)
                .iter()
                .enumerate()
                .map(|(index, segment)| (time(index), frame(TestLink::Ethernet, segment))),
        );
        let file = pcap_file(1, false, false, &packets);
        let expected = conversation_events(&(0..8).map(time).collect::<Vec<_>>());
        assert_eq!(events_of(&file), expected);

        let file = capture_of(TestLink::Ethernet, &conversation(1000, 5000));
        let mut capture =
            Capture::with_limits(OneByteReads(Cursor::new(file)), TEST_LIMITS).expect("a capture");
        let mut events = Vec::new();
        while let Some(event) = capture.next_event().expect("an event") {
            events.push(event);
        }
        assert_eq!(events, expected);
    }

    /// A reader that returns one byte per read, like a slow pipe.
    struct OneByteReads<R>(R);

    impl<R: Read> Read for OneByteReads<R> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let one = buffer.len().min(1);
            self.0.read(&mut buffer[..one])
        }
    }

    #[test]
    fn garbage_and_damaged_files_give_errors() {
        let format_error = |bytes: &[u8]| match capture(bytes) {
            Err(CaptureError::Format(message)) => message,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted {bytes:?}"),
        };
        assert!(format_error(b"").contains("ends before"));
        assert!(format_error(b"GET / HTTP/1.1\r\n\r\n").contains("not a pcap or pcapng"));
        assert!(format_error(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).contains("ends before"));
        assert!(format_error(&[
            0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0x7f, 0x4d, 0x3c, 0x2b, 0x1a
        ])
        .contains("claims"));

        // A record that claims nearly 4 GiB.
        let mut file = pcap_file(1, false, false, &[]);
        for value in [0, 0, 0xffff_fff0, 0xffff_fff0] {
            put_u32(&mut file, value, false);
        }
        file.extend([0; 100]);
        let mut capture = capture(&file).expect("a header");
        let error = capture.next_event().expect_err("too large");
        assert!(error.to_string().contains("larger than"), "{error}");
        assert_eq!(capture.next_event().expect("after the error"), None);
    }

    #[test]
    fn unsupported_link_types_are_reported() {
        let file = pcap_file(105, false, false, &[]);
        assert!(matches!(
            Capture::new(Cursor::new(file)),
            Err(CaptureError::UnsupportedLinkType(105))
        ));
        let file = pcapng_file(false, &[(105, None)], &[(Some(0), 1, vec![1, 2, 3])]);
        let mut capture = Capture::new(Cursor::new(file)).expect("a section");
        assert!(matches!(
            capture.next_event(),
            Err(CaptureError::UnsupportedLinkType(105))
        ));
    }

    #[test]
    fn a_capture_of_a_sendable_reader_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Capture<std::fs::File>>();
    }

    #[test]
    fn read_errors_keep_their_cause() {
        let file = capture_of(TestLink::Ethernet, &conversation(1000, 5000));
        let failing = Cursor::new(file[..24].to_vec()).chain(FailingReader);
        let mut capture = Capture::new(failing).expect("a header");
        match capture.next_event() {
            Err(CaptureError::Io(error)) => {
                assert_eq!(error.kind(), io::ErrorKind::PermissionDenied)
            }
            other => panic!("{other:?}"),
        }
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        }
    }

    /// Reads a whole capture, errors included, without panicking; bounded.
    fn read_anything(bytes: &[u8]) {
        let Ok(mut capture) = capture(bytes) else {
            return;
        };
        let mut errors = 0;
        for _ in 0..10_000 {
            match capture.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(_) => errors += 1,
            }
            assert!(errors <= 1, "an error more than once");
        }
        panic!("too many events");
    }

    fn sample_files() -> Vec<Vec<u8>> {
        let segments = conversation(1000, 5000);
        let ticks: Vec<_> = segments
            .iter()
            .enumerate()
            .map(|(index, segment)| {
                let micros = u64::try_from(time(index).as_micros()).expect("fits");
                (Some(0), micros, frame(TestLink::Ethernet, segment))
            })
            .collect();
        vec![
            capture_of(TestLink::Ethernet, &segments),
            pcapng_file(false, &[(1, None)], &ticks),
            pcapng_file(true, &[(1, Some(9))], &ticks),
        ]
    }

    #[test]
    fn every_truncation_of_a_valid_file_reads_without_panicking() {
        for file in sample_files() {
            for length in 0..file.len() {
                read_anything(&file[..length]);
            }
            let truncated = &file[..file.len() - 5];
            let mut capture = capture(truncated).expect("a capture");
            let mut result = Ok(None);
            for _ in 0..20 {
                result = capture.next_event();
                if result.is_err() {
                    break;
                }
            }
            assert!(
                matches!(&result, Err(CaptureError::Format(message)) if message.contains("truncated")),
                "{result:?}"
            );
        }
    }

    #[test]
    fn damaged_bytes_read_without_panicking() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for file in sample_files() {
            for _ in 0..1000 {
                let mut damaged = file.clone();
                for _ in 0..1 + random() % 4 {
                    let at = (random() % damaged.len() as u64) as usize;
                    damaged[at] = random() as u8;
                }
                read_anything(&damaged);
            }
        }
    }
}
