//! How a command ends: its exit status, one per way a session can end, so
//! that a script can tell them apart, and the line it says on stderr.

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// The exit statuses of `rws`. `rws connect --help` lists them; 0 is
/// success and is not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Any other failure (stdin or stdout unusable, a server that cannot
    /// start).
    Failure = 1,
    /// The command line is wrong (clap uses 2 for its own usage errors):
    /// a bad URL, option value or file.
    Usage = 2,
    /// The connection could not be made: name resolution, refused, TLS,
    /// proxy, or the handshake timed out.
    Connect = 3,
    /// The server answered the handshake with an HTTP status, not 101.
    Refused = 4,
    /// The peer broke the protocol (in the handshake or after it); rws
    /// failed the connection.
    Protocol = 5,
    /// The peer closed with a close code other than 1000, 1001 or none.
    PeerError = 6,
    /// The connection ended without a close handshake (1006).
    Dropped = 7,
    /// `--timeout` or `--message-timeout` passed, or the keepalive ping
    /// went unanswered (`--ping-timeout`).
    Timeout = 8,
}

/// A failed command: its status, and what to say on stderr (one line,
/// after `rws: `).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) message: String,
    /// Whether trying again could help (`rws connect --reconnect`), and
    /// if so after how long at least (a server's `Retry-After`).
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same failure, worth another try after `after` at the earliest.
    pub(crate) fn retryable(mut self, after: Duration) -> Failure {
        self.retry_after = Some(after);
        self
    }

    /// The process's exit code.
    pub(crate) fn code(&self) -> ExitCode {
        ExitCode::from(self.status as u8)
    }
}

/// The commands that only fail one way fail with status 1.
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::new(Status::Failure, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are an interface: scripts test for them, and
    /// `rws connect --help` documents them.
    #[test]
    fn statuses_keep_their_numbers() {
        let numbered = [
            (Status::Failure, 1),
            (Status::Usage, 2),
            (Status::Connect, 3),
            (Status::Refused, 4),
            (Status::Protocol, 5),
            (Status::PeerError, 6),
            (Status::Dropped, 7),
            (Status::Timeout, 8),
        ];
        for (status, number) in numbered {
            assert_eq!(status as u8, number, "{status:?}");
        }
    }
}
