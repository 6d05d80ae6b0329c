//! Negotiation of permessage-deflate (RFC 7692 §5, §7.1) on
//! `Sec-WebSocket-Extensions` values (RFC 6455 §9.1).

use super::{DeflateConfig, DeflateParams, EXTENSION};
use crate::error::HandshakeError;

/// One extension of a `Sec-WebSocket-Extensions` list: a name and its
/// parameters, with quoted values unquoted.
#[derive(Debug, PartialEq, Eq)]
struct Extension {
    name: String,
    params: Vec<(String, Option<String>)>,
}

/// The client's offer (RFC 7692 §7.1) for `config`.
///
/// It always carries `client_max_window_bits`, so that the server may pick
/// the client's window.
///
/// ```
/// use rws_proto::deflate::{client_offer, DeflateConfig};
///
/// assert_eq!(client_offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// let lean = DeflateConfig::default().server_no_context_takeover(true).server_max_window_bits(10);
/// assert_eq!(
///     client_offer(&lean),
///     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
/// );
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut offer = String::from(EXTENSION);
    if config.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if config.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.server_max_window_bits < 15 {
        offer.push_str(&format!(
            "; server_max_window_bits={}",
            config.server_max_window_bits
        ));
    }
    offer.push_str("; client_max_window_bits");
    if config.client_max_window_bits < 15 {
        offer.push_str(&format!("={}", config.client_max_window_bits));
    }
    offer
}

/// The server's choice among a client's offers (RFC 7692 §5, §7.1): the
/// first permessage-deflate offer it can honour, or `None`.
///
/// Offers with unknown or repeated parameters or invalid values are
/// declined, as are offers it cannot honour: a `server_max_window_bits` of
/// 8, which zlib cannot produce. Answer with
/// [`DeflateParams::response_header`].
///
/// ```
/// use rws_proto::deflate::{server_negotiate, DeflateConfig};
///
/// let offers = ["permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=10"];
/// let params = server_negotiate(offers, &DeflateConfig::default()).unwrap();
/// assert_eq!(params.server_max_window_bits, 10); // the first offer was declined
/// assert_eq!(params.response_header(), "permessage-deflate; server_max_window_bits=10");
/// ```
pub fn server_negotiate<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Option<DeflateParams> {
    let mut extensions = Vec::new();
    for header in headers {
        extensions.extend(parse_list(header).ok()?);
    }
    extensions
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(EXTENSION))
        .find_map(|offer| accept_offer(offer, config))
}

fn accept_offer(offer: &Extension, config: &DeflateConfig) -> Option<DeflateParams> {
    let p = Params::read(&offer.params, true).ok()?;
    // The server's window: what the client allows, within our policy; an
    // offer whose window we cannot produce is declined.
    let server_bits = p
        .server_max_window_bits
        .unwrap_or(15)
        .min(config.server_max_window_bits.max(9));
    if server_bits < 9 {
        return None;
    }
    // The client's window: only limited if the client allows it, never
    // above what it announced.
    let client_bits = match p.client_max_window_bits {
        Some(announced) => announced.unwrap_or(15).min(config.client_max_window_bits),
        None => 15,
    };
    Some(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        explicit_server_window: p.server_max_window_bits.is_some(),
    })
}

/// Checks the server's `Sec-WebSocket-Extensions` answer against what the
/// client offered for `config` (RFC 7692 §5, §7.1): `Ok(None)` if the
/// server accepted no extension.
///
/// Fails on another extension (none was offered), a second
/// permessage-deflate, unknown or repeated parameters, window sizes outside
/// 8–15 or above what was offered, and a `client_max_window_bits` without a
/// value.
pub fn parse_response<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut accepted = None;
    for header in headers {
        for extension in parse_list(header)? {
            if !extension.name.eq_ignore_ascii_case(EXTENSION) {
                return Err(HandshakeError::UnofferedExtension(extension.name));
            }
            if accepted.is_some() {
                return Err(invalid("permessage-deflate accepted twice"));
            }
            accepted = Some(extension);
        }
    }
    let Some(extension) = accepted else {
        return Ok(None);
    };
    let p = Params::read(&extension.params, false)?;
    let server_bits = p.server_max_window_bits.unwrap_or(15);
    if server_bits > config.server_max_window_bits {
        return Err(invalid("server_max_window_bits above the offered one"));
    }
    let client_bits = match p.client_max_window_bits {
        Some(Some(bits)) if bits > config.client_max_window_bits => {
            return Err(invalid("client_max_window_bits above the offered one"))
        }
        Some(Some(bits)) => bits,
        Some(None) => return Err(invalid("client_max_window_bits without a value")),
        None => config.client_max_window_bits,
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        // What the client offered, it keeps to.
        client_no_context_takeover: p.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        explicit_server_window: p.server_max_window_bits.is_some(),
    }))
}

/// The four parameters of RFC 7692 §7.1, each at most once.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

impl Params {
    fn read(params: &[(String, Option<String>)], offer: bool) -> Result<Params, HandshakeError> {
        let mut p = Params::default();
        let mut seen = Vec::new();
        for (name, value) in params {
            let name = name.to_ascii_lowercase();
            if seen.contains(&name) {
                return Err(invalid(&format!("{name} repeated")));
            }
            match (name.as_str(), value) {
                ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
                ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
                ("server_max_window_bits", Some(v)) => p.server_max_window_bits = Some(bits(v)?),
                ("client_max_window_bits", Some(v)) => {
                    p.client_max_window_bits = Some(Some(bits(v)?))
                }
                ("client_max_window_bits", None) if offer => p.client_max_window_bits = Some(None),
                _ => return Err(invalid(&format!("unexpected parameter {name}"))),
            }
            seen.push(name);
        }
        Ok(p)
    }
}

/// RFC 7692 §7.1.2: a decimal 8–15 without leading zeros.
fn bits(value: &str) -> Result<u8, HandshakeError> {
    match value.parse::<u8>() {
        Ok(n @ 8..=15) if !value.starts_with('0') => Ok(n),
        _ => Err(invalid(&format!("window bits {value:?} outside 8-15"))),
    }
}

fn invalid(what: &str) -> HandshakeError {
    HandshakeError::Extension(what.to_owned())
}

/// Parses `extension-list` (RFC 6455 §9.1): extensions separated by
/// commas, parameters by semicolons, values as tokens or quoted strings.
fn parse_list(header: &str) -> Result<Vec<Extension>, HandshakeError> {
    let mut extensions = Vec::new();
    for item in split_unquoted(header, ',') {
        let mut parts = split_unquoted(item, ';').into_iter().map(str::trim);
        let name = parts.next().unwrap_or_default();
        if name.is_empty() {
            // Empty list elements are allowed by the # rule.
            if split_unquoted(item, ';').len() > 1 {
                return Err(invalid("parameters without an extension name"));
            }
            continue;
        }
        if !is_token(name) {
            return Err(invalid(&format!("bad extension name {name:?}")));
        }
        let mut params = Vec::new();
        for param in parts {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
                None => (param, None),
            };
            if !is_token(key) {
                return Err(invalid(&format!("bad parameter {param:?}")));
            }
            params.push((key.to_owned(), value));
        }
        extensions.push(Extension {
            name: name.to_owned(),
            params,
        });
    }
    Ok(extensions)
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A token, or a quoted string whose content must itself be a token
/// (RFC 6455 §9.1).
fn unquote(value: &str) -> Result<String, HandshakeError> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => {
            let body = rest
                .strip_suffix('"')
                .ok_or_else(|| invalid("unterminated quoted string"))?;
            let mut out = String::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            out
        }
        None => value.to_owned(),
    };
    if is_token(&inner) {
        Ok(inner)
    } else {
        Err(invalid(&format!("bad parameter value {value:?}")))
    }
}

/// RFC 7230 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(offers: &str) -> Option<DeflateParams> {
        server_negotiate([offers], &DeflateConfig::default())
    }

    fn client(answer: &str) -> Result<Option<DeflateParams>, HandshakeError> {
        parse_response([answer], &DeflateConfig::default())
    }

    #[test]
    fn rfc6455_9_1_extension_lists() {
        let list = parse_list("foo, permessage-deflate; a=1; b=\"2\" ; c, bar;x=\"y\\z\"").unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[1].params,
            [
                ("a".into(), Some("1".into())),
                ("b".into(), Some("2".into())),
                ("c".into(), None)
            ]
        );
        assert_eq!(list[2].params, [("x".into(), Some("yz".into()))]);
        assert!(parse_list("a; b=\"1").is_err());
        assert!(parse_list("a b").is_err());
        assert!(parse_list("a; b=\"x y\"").is_err());
        assert_eq!(parse_list(" , ").unwrap(), []);
    }

    #[test]
    fn rfc7692_7_1_server_accepts_a_plain_offer() {
        let p = server("permessage-deflate").unwrap();
        assert_eq!(p, DeflateParams::default());
        assert_eq!(p.response_header(), "permessage-deflate");
    }

    #[test]
    fn rfc7692_7_1_1_1_server_no_context_takeover() {
        let p = server("permessage-deflate; server_no_context_takeover").unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(
            p.response_header(),
            "permessage-deflate; server_no_context_takeover"
        );
        // A server may also decide it on its own.
        let config = DeflateConfig::default().server_no_context_takeover(true);
        assert!(
            server_negotiate(["permessage-deflate"], &config)
                .unwrap()
                .server_no_context_takeover
        );
    }

    #[test]
    fn rfc7692_7_1_1_2_client_no_context_takeover_is_asked_by_policy() {
        let p = server("permessage-deflate; client_no_context_takeover").unwrap();
        assert!(!p.client_no_context_takeover);
        let config = DeflateConfig::default().client_no_context_takeover(true);
        let p = server_negotiate(["permessage-deflate"], &config).unwrap();
        assert_eq!(
            p.response_header(),
            "permessage-deflate; client_no_context_takeover"
        );
    }

    #[test]
    fn rfc7692_7_1_2_1_server_max_window_bits() {
        for bits in 9..=15u8 {
            let p = server(&format!(
                "permessage-deflate; server_max_window_bits={bits}"
            ))
            .unwrap();
            assert_eq!(p.server_max_window_bits, bits);
        }
        // 8 bits cannot be produced: declined, never answered wrongly.
        assert_eq!(server("permessage-deflate; server_max_window_bits=8"), None);
        // A value is required, in range, without leading zeros.
        for bad in [
            "server_max_window_bits",
            "server_max_window_bits=16",
            "server_max_window_bits=7",
            "server_max_window_bits=010",
            "server_max_window_bits=x",
        ] {
            assert_eq!(server(&format!("permessage-deflate; {bad}")), None, "{bad}");
        }
        // The server's own policy lowers the window.
        let config = DeflateConfig::default().server_max_window_bits(11);
        let p =
            server_negotiate(["permessage-deflate; server_max_window_bits=13"], &config).unwrap();
        assert_eq!(
            p.response_header(),
            "permessage-deflate; server_max_window_bits=11"
        );
    }

    #[test]
    fn rfc7692_7_1_2_1_an_offered_server_window_is_always_answered() {
        // Accepting an offer with server_max_window_bits means answering with
        // it, even when the value is the largest.
        let p = server("permessage-deflate; server_max_window_bits=15").unwrap();
        assert_eq!(
            p.response_header(),
            "permessage-deflate; server_max_window_bits=15"
        );
        let seen = client(&p.response_header()).unwrap().unwrap();
        assert_eq!(seen, p);
        assert_eq!(
            server("permessage-deflate").unwrap().response_header(),
            "permessage-deflate"
        );
    }

    #[test]
    fn rfc7692_7_1_2_2_client_max_window_bits() {
        // Without the parameter the server may not limit the client.
        let config = DeflateConfig::default().client_max_window_bits(10);
        let p = server_negotiate(["permessage-deflate"], &config).unwrap();
        assert_eq!(p.client_max_window_bits, 15);
        // With it, with or without a value.
        let p = server_negotiate(["permessage-deflate; client_max_window_bits"], &config).unwrap();
        assert_eq!(
            p.response_header(),
            "permessage-deflate; client_max_window_bits=10"
        );
        let p =
            server_negotiate(["permessage-deflate; client_max_window_bits=9"], &config).unwrap();
        assert_eq!(p.client_max_window_bits, 9);
        assert_eq!(
            server("permessage-deflate; client_max_window_bits=16"),
            None
        );
    }

    #[test]
    fn rfc7692_5_server_declines_bad_offers_and_takes_the_first_good_one() {
        for bad in [
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_max_window_bits=8; client_max_window_bits=9",
        ] {
            assert_eq!(server(bad), None, "{bad}");
        }
        let p = server("x-other, permessage-deflate; bogus, permessage-deflate; server_max_window_bits=12, permessage-deflate").unwrap();
        assert_eq!(p.server_max_window_bits, 12);
        // Offers split over several header fields.
        let p = server_negotiate(
            ["x-other", "permessage-deflate; server_no_context_takeover"],
            &DeflateConfig::default(),
        )
        .unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(server("x-other"), None);
    }

    #[test]
    fn rfc7692_5_client_checks_the_answer() {
        assert_eq!(
            client("permessage-deflate").unwrap(),
            Some(DeflateParams::default())
        );
        let p = client("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10").unwrap().unwrap();
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (9, 10)
        );
        assert!(matches!(
            client("x-foo"),
            Err(HandshakeError::UnofferedExtension(_))
        ));
        for bad in [
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert!(
                matches!(client(bad), Err(HandshakeError::Extension(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rfc7692_7_1_2_client_windows_not_above_the_offer() {
        let config = DeflateConfig::default()
            .client_max_window_bits(10)
            .server_max_window_bits(12);
        let answer = |a: &str| parse_response([a], &config);
        assert!(answer("permessage-deflate; client_max_window_bits=11").is_err());
        assert!(answer("permessage-deflate; server_max_window_bits=13").is_err());
        let p = answer("permessage-deflate; server_max_window_bits=12")
            .unwrap()
            .unwrap();
        // The client keeps to the window it offered.
        assert_eq!(p.client_max_window_bits, 10);
        // And to the no-context-takeover it promised.
        let config = DeflateConfig::default().client_no_context_takeover(true);
        let p = parse_response(["permessage-deflate"], &config)
            .unwrap()
            .unwrap();
        assert!(p.client_no_context_takeover);
    }

    #[test]
    fn offers_and_answers_agree() {
        for snct in [false, true] {
            for cnct in [false, true] {
                for sbits in [9, 12, 15] {
                    for cbits in [8, 9, 15] {
                        let config = DeflateConfig::default()
                            .server_no_context_takeover(snct)
                            .client_no_context_takeover(cnct)
                            .server_max_window_bits(sbits)
                            .client_max_window_bits(cbits);
                        let offer = client_offer(&config);
                        let agreed = server_negotiate([offer.as_str()], &config).unwrap();
                        let seen = parse_response([agreed.response_header().as_str()], &config)
                            .unwrap()
                            .unwrap();
                        assert_eq!(
                            seen.server_max_window_bits, agreed.server_max_window_bits,
                            "{offer}"
                        );
                        assert_eq!(
                            seen.client_max_window_bits, agreed.client_max_window_bits,
                            "{offer}"
                        );
                        assert_eq!(
                            seen.server_no_context_takeover,
                            agreed.server_no_context_takeover
                        );
                    }
                }
            }
        }
    }
}
