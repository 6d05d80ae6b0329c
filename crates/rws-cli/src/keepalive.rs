//! `--ping-interval` and `--ping-timeout`, shared by `rws serve` and
//! `rws connect`: the library's keepalive, with its defaults unless set.

use std::time::Duration;

use clap::Args;
use rws::Config;

/// Keepalive options.
#[derive(Debug, Args)]
pub(crate) struct KeepaliveArgs {
    /// Send a ping every SECS seconds (fractions allowed) while the
    /// connection is open; 0 turns keepalive off. Default: the library's,
    /// 20 s.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    ping_interval: Option<Duration>,
    /// Fail the connection (close code 1011, "keepalive ping timeout") when
    /// nothing at all arrives within SECS seconds of a ping; 0 never fails
    /// it. Default: the library's, 20 s.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    ping_timeout: Option<Duration>,
}

impl KeepaliveArgs {
    /// `config` with the options given (0 is off), the library's defaults
    /// for the others.
    pub(crate) fn apply(&self, mut config: Config) -> Config {
        if let Some(interval) = self.ping_interval {
            config = config.ping_interval((!interval.is_zero()).then_some(interval));
        }
        if let Some(timeout) = self.ping_timeout {
            config = config.ping_timeout((!timeout.is_zero()).then_some(timeout));
        }
        config
    }
}

/// Seconds, whole or not, as a duration.
pub(crate) fn parse_secs(arg: &str) -> Result<Duration, String> {
    let secs: f64 = arg
        .parse()
        .map_err(|_| format!("{arg:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{arg:?} is not a duration in seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(interval: Option<&str>, timeout: Option<&str>) -> KeepaliveArgs {
        KeepaliveArgs {
            ping_interval: interval.map(|s| parse_secs(s).unwrap()),
            ping_timeout: timeout.map(|s| parse_secs(s).unwrap()),
        }
    }

    #[test]
    fn unset_options_keep_the_librarys_defaults() {
        assert_eq!(args(None, None).apply(Config::default()), Config::default());
    }

    #[test]
    fn zero_turns_keepalive_off_and_fractions_are_allowed() {
        let config = args(Some("0"), Some("2.5")).apply(Config::default());
        assert_eq!(config.ping_interval, None);
        assert_eq!(config.ping_timeout, Some(Duration::from_millis(2500)));
        let config = args(Some("0.25"), Some("0")).apply(Config::default());
        assert_eq!(config.ping_interval, Some(Duration::from_millis(250)));
        assert_eq!(config.ping_timeout, None);
    }

    #[test]
    fn negative_or_bad_numbers_are_refused() {
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
