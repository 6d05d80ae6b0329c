//! Incremental UTF-8 validation: fails on the first byte that cannot start
//! or continue a valid sequence, even when the rest has not arrived yet.

/// Validates a byte stream that arrives in pieces.
///
/// A sequence split across pieces is held (at most three bytes) until the
/// next piece completes it; a byte that makes it invalid fails at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

/// The input is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Validator {
    /// Validates the next piece of the stream.
    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let width = sequence_width(self.partial[0]);
            let take = (width - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            input = &input[take..];
            let now = have + take;
            check_prefix(&self.partial[..now])?;
            if now < width {
                self.partial_len = now as u8;
                return Ok(());
            }
            self.partial_len = 0;
        }
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                // An incomplete but so far valid sequence at the end.
                let rest = &input[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = rest.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the stream: fails if it stopped in the middle of a sequence.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// Fails unless `bytes` is valid UTF-8 or a valid prefix of it.
fn check_prefix(bytes: &[u8]) -> Result<(), InvalidUtf8> {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() => Ok(()),
        Err(_) => Err(InvalidUtf8),
    }
}

/// The length of a sequence from its (valid) lead byte.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &cut in cuts {
            v.feed(&bytes[start..cut])?;
            start = cut;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn every_split_of_valid_text_is_valid() {
        let text = "κόσμε a€𝄞 ✓".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(feed_split(text, &[a, b]), Ok(()), "{a} {b}");
            }
        }
    }

    #[test]
    fn every_split_of_invalid_text_is_invalid() {
        let bad: [&[u8]; 6] = [
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"ab\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\x80",
            b"ok\xe2\x82",
            b"\xf8\x88\x80\x80\x80",
        ];
        for text in bad {
            for a in 0..=text.len() {
                for b in a..=text.len() {
                    assert_eq!(
                        feed_split(text, &[a, b]),
                        Err(InvalidUtf8),
                        "{text:?} {a} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn fails_fast_on_the_first_bad_byte() {
        // Autobahn 6.4.x: an invalid sequence must fail before the rest arrives.
        let mut v = Utf8Validator::default();
        assert_eq!(
            v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
            Ok(())
        );
        assert_eq!(v.feed(b"\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"\xed"), Ok(()));
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8)); // a surrogate
    }
}
