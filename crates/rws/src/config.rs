//! [`WebSocketConfig`]: the settings both adapters share.

use std::time::Duration;

use rws_proto::deflate::DeflateConfig;
use rws_proto::handshake::HeadLimits;
use rws_proto::Config;

/// Settings of a WebSocket connection, for the tokio and the blocking
/// adapter alike: the core's limits and timers plus buffers and the
/// handshake timeout.
///
/// The limits, timers (keepalive, idle, close) and permessage-deflate
/// are the protocol core's and live in [`core`](Self::core); the setters
/// here forward to it, so a program needs no other config type.
///
/// ```
/// use std::time::Duration;
/// use rws::WebSocketConfig;
///
/// let config = WebSocketConfig::default()
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(2))
///     .ping_interval(None); // no keepalive
/// assert_eq!(config.core.max_message_size, 1 << 20);
/// assert_eq!(config.core.close_timeout, Duration::from_secs(2));
/// assert_eq!(config.core.ping_interval, None);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebSocketConfig {
    /// The protocol core's settings: limits (frame and message sizes),
    /// timers (keepalive, idle and close timeouts), permessage-deflate.
    pub core: Config,
    /// Bounds on the HTTP head of the opening handshake.
    pub head_limits: HeadLimits,
    /// How long the opening handshake may take. Default: 10 s.
    ///
    /// The blocking adapter enforces it through socket timeouts, so only on
    /// a `TcpStream` it connected or was given by `accept_tcp`; see
    /// `rws::blocking`.
    pub handshake_timeout: Duration,
    /// Queued output above which sending waits for the transport to take
    /// some first. Automatic replies do not grow past it: while output is
    /// waiting, the core keeps only the latest ping's pong. Default: 128 KiB.
    pub write_buffer_size: usize,
    /// The read buffer starts at 4 KiB and grows to this while reads fill
    /// it. Default: 64 KiB.
    pub max_read_buffer: usize,
}

impl Default for WebSocketConfig {
    fn default() -> WebSocketConfig {
        WebSocketConfig {
            core: Config::default(),
            head_limits: HeadLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            write_buffer_size: 128 << 10,
            max_read_buffer: 64 << 10,
        }
    }
}

impl WebSocketConfig {
    /// Sets [`core`](Self::core): every setting of the protocol core at
    /// once.
    pub fn core(mut self, core: Config) -> WebSocketConfig {
        self.core = core;
        self
    }

    /// The old name of [`core`](Self::core).
    #[deprecated(
        since = "0.2.0",
        note = "renamed `core`: `protocol` is the subprotocol on the builders"
    )]
    pub fn protocol(self, core: Config) -> WebSocketConfig {
        self.core(core)
    }

    /// Sets the core's [`Config::max_message_size`]: a larger message
    /// fails the connection with 1009. Default: 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> WebSocketConfig {
        self.core.max_message_size = bytes;
        self
    }

    /// Sets the core's [`Config::max_frame_size`]: a larger frame fails
    /// the connection with 1009. Default: 16 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> WebSocketConfig {
        self.core.max_frame_size = bytes;
        self
    }

    /// Sets the core's [`Config::deflate`]: permessage-deflate offered (a
    /// client) or accepted (a server) with these settings. Default: off.
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> WebSocketConfig {
        self.core.deflate = deflate;
        self
    }

    /// Sets the core's [`Config::stream_fragments`]: messages arrive piece
    /// by piece as [`Event::Fragment`](rws_proto::Event::Fragment)s.
    /// Default: off.
    pub fn stream_fragments(mut self, on: bool) -> WebSocketConfig {
        self.core.stream_fragments = on;
        self
    }

    /// Sets [`head_limits`](Self::head_limits).
    pub fn head_limits(mut self, limits: HeadLimits) -> WebSocketConfig {
        self.head_limits = limits;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    pub fn handshake_timeout(mut self, timeout: Duration) -> WebSocketConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the core's [`Config::close_timeout`]: how long to wait for the
    /// peer's close frame after sending one, and for the server to close
    /// TCP after the close handshake. Default: 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> WebSocketConfig {
        self.core.close_timeout = timeout;
        self
    }

    /// Sets the core's [`Config::ping_interval`]: a keepalive ping every
    /// `interval` (default 20 s); `None` turns keepalive off.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> WebSocketConfig {
        self.core.ping_interval = interval;
        self
    }

    /// Sets the core's [`Config::ping_timeout`]: the connection fails with
    /// 1011 when nothing arrives within `timeout` of a keepalive ping
    /// (default 20 s); `None` never fails it.
    pub fn ping_timeout(mut self, timeout: Option<Duration>) -> WebSocketConfig {
        self.core.ping_timeout = timeout;
        self
    }

    /// Sets the core's [`Config::idle_timeout`]: close (1001) a connection
    /// on which no message moved for `timeout` (default: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> WebSocketConfig {
        self.core.idle_timeout = timeout;
        self
    }

    /// Sets [`write_buffer_size`](Self::write_buffer_size).
    pub fn write_buffer_size(mut self, bytes: usize) -> WebSocketConfig {
        self.write_buffer_size = bytes;
        self
    }

    /// Sets [`max_read_buffer`](Self::max_read_buffer) (at least 4 KiB).
    pub fn max_read_buffer(mut self, bytes: usize) -> WebSocketConfig {
        self.max_read_buffer = bytes.max(4 << 10);
        self
    }
}
