//! [`WebSocketConfig`]: the settings both adapters share.

use std::time::Duration;

use rws_proto::handshake::HeadLimits;
use rws_proto::Config;

/// Settings of a WebSocket connection, for the tokio and the blocking
/// adapter alike: the core's limits plus buffers and timeouts.
///
/// ```
/// use std::time::Duration;
/// use rws::{Config, WebSocketConfig};
///
/// let config = WebSocketConfig::default()
///     .protocol(Config::default().max_message_size(1 << 20))
///     .close_timeout(Duration::from_secs(2));
/// assert_eq!(config.protocol.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebSocketConfig {
    /// The protocol core's limits (frame and message sizes).
    pub protocol: Config,
    /// Bounds on the HTTP head of the opening handshake.
    pub head_limits: HeadLimits,
    /// How long the opening handshake may take. Default: 10 s.
    ///
    /// The blocking adapter enforces it through socket timeouts, so only on
    /// a `TcpStream` it connected or was given by `accept_tcp`; see
    /// `rws::blocking`.
    pub handshake_timeout: Duration,
    /// How long to wait for the peer's close frame after sending one, and
    /// for the server to close TCP after the close handshake. Default: 5 s.
    ///
    /// The blocking adapter enforces it like the handshake timeout.
    pub close_timeout: Duration,
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
            protocol: Config::default(),
            head_limits: HeadLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            write_buffer_size: 128 << 10,
            max_read_buffer: 64 << 10,
        }
    }
}

impl WebSocketConfig {
    /// Sets [`protocol`](Self::protocol).
    pub fn protocol(mut self, protocol: Config) -> WebSocketConfig {
        self.protocol = protocol;
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

    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> WebSocketConfig {
        self.close_timeout = timeout;
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
