//! The waits between reconnections: exponential, capped, jittered, and
//! back to the start after a session that lasted.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// Jittered exponential backoff: the nth wait is drawn uniformly from the
/// upper half of `first × 2ⁿ` (capped at `max`), so that clients that lost
/// the same server at the same moment do not all come back together
/// ("equal jitter").
#[derive(Debug)]
pub(super) struct Backoff {
    first: Duration,
    max: Duration,
    /// The wait before jitter for the next attempt.
    next: Duration,
    random: RandomState,
    draws: u64,
}

impl Backoff {
    pub(super) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// The wait before the next attempt; the one after is twice as long
    /// (up to the cap).
    pub(super) fn next_wait(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(self.unit())
    }

    /// After a session that lasted: the next wait is the first one again.
    pub(super) fn reset(&mut self) {
        self.next = self.first;
    }

    /// A number in [0, 1), from the process's random hash keys (good
    /// enough to spread clients apart; nothing secret depends on it).
    fn unit(&mut self) -> f64 {
        self.draws += 1;
        let bits = self.random.hash_one(self.draws) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn waits_double_within_their_upper_half_up_to_the_cap() {
        let mut backoff = Backoff::new(FIRST, MAX);
        let mut ceiling = FIRST;
        for _ in 0..12 {
            let wait = backoff.next_wait();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} for {ceiling:?}"
            );
            ceiling = (ceiling * 2).min(MAX);
        }
        assert_eq!(ceiling, MAX);
    }

    #[test]
    fn a_reset_starts_again_from_the_first_wait() {
        let mut backoff = Backoff::new(FIRST, MAX);
        for _ in 0..6 {
            backoff.next_wait();
        }
        backoff.reset();
        assert!(backoff.next_wait() <= FIRST);
    }

    #[test]
    fn waits_are_spread_out() {
        let mut backoff = Backoff::new(MAX, MAX);
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff.next_wait()).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
