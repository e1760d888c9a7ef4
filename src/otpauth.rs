//! Parsing and validating `otpauth://totp/…` URIs (the Key URI format of Google
//! Authenticator, which every TOTP app exports). Codes are computed in [`crate::totp`];
//! this module decides whether a URI is acceptable, so bad seeds are refused when they
//! are stored, not when someone needs a code, and it decodes the seed for the one
//! place that needs it. [`parse`] and [`parse_secret`] share one implementation: a URI
//! `add` accepts is always one `otp` can compute a code from.
//!
//! Not for: HOTP (`otpauth://hotp/`), Steam codes, or writing URIs.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// The scheme and type every accepted URI starts with (compared case-insensitively:
/// QR codes are often upper-cased to use the denser alphanumeric mode).
const PREFIX: &str = "otpauth://totp/";

/// The shortest accepted seed: 80 bits (16 base32 characters), what common providers
/// issue. RFC 4226 asks for 128 bits; shorter ones are refused as typos.
pub const MIN_SECRET_BYTES: usize = 10;

/// A validated TOTP configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpConfig {
    /// HMAC algorithm.
    pub algorithm: TotpAlgorithm,
    /// Code length (6 to 8).
    pub digits: u32,
    /// Period in seconds (1 to 300).
    pub period: u64,
}

/// TOTP HMAC algorithms (RFC 6238).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1 (the default).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// A decoded TOTP seed: zeroized on drop, and its `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// Wrap raw seed bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The seed, for the one place that needs it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// Why a URI was refused. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpAuthError {
    /// Not `otpauth://totp/`.
    #[error("not an otpauth://totp/ URI")]
    Scheme,
    /// No `secret=` parameter, or it is not base32, or it is shorter than 80 bits.
    #[error("the secret parameter is missing or not base32")]
    Secret,
    /// A parameter with an unsupported value.
    #[error("unsupported {0} parameter")]
    Parameter(&'static str),
}

/// Validate an `otpauth://totp/LABEL?secret=BASE32[&algorithm=…][&digits=…][&period=…]`.
pub fn parse(uri: &str) -> Result<TotpConfig, OtpAuthError> {
    parse_secret(uri).map(|(config, _)| config)
}

/// Validate a URI like [`parse`] and also return its decoded seed.
///
/// Accepted: surrounding whitespace; the scheme and type in any case; parameter names
/// in any case; a secret in either case, percent-encoded or not, with spaces (or `+`)
/// between groups and optional `=` padding; a `#fragment` (ignored). The last of
/// repeated parameters wins; unknown parameters (`issuer`, `image`, …) are ignored.
pub fn parse_secret(uri: &str) -> Result<(TotpConfig, TotpSecret), OtpAuthError> {
    let uri = uri.trim();
    let rest = uri
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| uri.get(PREFIX.len()..))
        .ok_or(OtpAuthError::Scheme)?;
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut config = TotpConfig {
        algorithm: TotpAlgorithm::Sha1,
        digits: 6,
        period: 30,
    };
    let mut secret: Option<&str> = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k.to_ascii_lowercase().as_str() {
            "secret" => secret = Some(v),
            "algorithm" => {
                config.algorithm = match v.to_ascii_uppercase().as_str() {
                    "SHA1" => TotpAlgorithm::Sha1,
                    "SHA256" => TotpAlgorithm::Sha256,
                    "SHA512" => TotpAlgorithm::Sha512,
                    _ => return Err(OtpAuthError::Parameter("algorithm")),
                }
            }
            "digits" => {
                config.digits = v
                    .parse()
                    .ok()
                    .filter(|d| (6..=8).contains(d))
                    .ok_or(OtpAuthError::Parameter("digits"))?
            }
            "period" => {
                config.period = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=300).contains(p))
                    .ok_or(OtpAuthError::Parameter("period"))?
            }
            _ => {}
        }
    }
    let encoded =
        percent_decode(secret.ok_or(OtpAuthError::Secret)?).ok_or(OtpAuthError::Secret)?;
    let bytes = decode_base32(&encoded).ok_or(OtpAuthError::Secret)?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(OtpAuthError::Secret);
    }
    Ok((config, TotpSecret(bytes)))
}

/// Undo URI percent-encoding (`%3D` → `=`) and form encoding (`+` → space) of a
/// query value. `None` on a malformed escape.
fn percent_decode(v: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(v.len()));
    let mut bytes = v.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = hex_value(bytes.next()?)?;
                let lo = hex_value(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b'+' => out.push(b' '),
            _ => out.push(b),
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode RFC 4648 base32 leniently, the way authenticator apps do: either case,
/// ASCII spaces and tabs anywhere (providers show seeds in groups of four), `=`
/// padding only at the end, and trailing bits that do not fill a byte dropped.
/// `None` on any other character.
pub fn decode_base32(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    // At most 12 bits are pending between iterations (7 left over + 5 new).
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut padding = false;
    for &c in text {
        let value = match c {
            b' ' | b'\t' => continue,
            b'=' => {
                padding = true;
                continue;
            }
            _ if padding => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    buffer.zeroize();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(uri: &str) -> Vec<u8> {
        parse_secret(uri)
            .unwrap_or_else(|e| panic!("{e}"))
            .1
            .expose()
            .to_vec()
    }

    #[test]
    fn accepts_common_uris() {
        let c = parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=ACME")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.digits, 6);
        let c =
            parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256&digits=8&period=60")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.algorithm, c.digits, c.period),
            (TotpAlgorithm::Sha256, 8, 60)
        );
    }

    #[test]
    fn refuses_bad_uris() {
        assert_eq!(parse("https://x"), Err(OtpAuthError::Scheme));
        assert_eq!(parse(""), Err(OtpAuthError::Scheme));
        assert_eq!(parse("otpauth://totp"), Err(OtpAuthError::Scheme));
        assert_eq!(
            parse("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"),
            Err(OtpAuthError::Scheme)
        );
        assert_eq!(parse("otpauth://totp/x"), Err(OtpAuthError::Secret));
        assert_eq!(parse("otpauth://totp/x?secret="), Err(OtpAuthError::Secret));
        assert_eq!(
            parse("otpauth://totp/x?secret=not*base32!!!!!!"),
            Err(OtpAuthError::Secret)
        );
        assert_eq!(
            parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=12"),
            Err(OtpAuthError::Parameter("digits"))
        );
        assert_eq!(
            parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5"),
            Err(OtpAuthError::Parameter("algorithm"))
        );
        assert_eq!(
            parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0"),
            Err(OtpAuthError::Parameter("period"))
        );
    }

    #[test]
    fn decodes_the_secret() {
        // "Hello!\xde\xad\xbe\xef" is the classic JBSWY3DPEHPK3PXP.
        let hello = b"Hello!\xde\xad\xbe\xef".to_vec();
        assert_eq!(secret_of("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"), hello);
        assert_eq!(secret_of("otpauth://totp/x?secret=jbswy3dpehpk3pxp"), hello);
        assert_eq!(secret_of("OTPAUTH://TOTP/X?SECRET=JBSWY3DPEHPK3PXP"), hello);
        assert_eq!(
            secret_of("otpauth://totp/x?secret=JBSW%20Y3DP+EHPK 3PXP"),
            hello
        );
        assert_eq!(
            secret_of("  otpauth://totp/x?secret=JBSWY3DPEHPK3PXP#frag\r\n"),
            hello
        );
        // 20 bytes "12345678901234567890" (RFC 6238's SHA1 seed), with padding forms.
        let rfc = b"12345678901234567890".to_vec();
        let b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(secret_of(&format!("otpauth://totp/x?secret={b32}")), rfc);
        // 11 bytes: 18 characters + 6 padding, literal or percent-encoded.
        assert_eq!(
            secret_of("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGE======"),
            b"12345678901".to_vec()
        );
        assert_eq!(
            secret_of("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGE%3D%3D%3D%3D%3D%3D"),
            b"12345678901".to_vec()
        );
    }

    #[test]
    fn refuses_malformed_secrets() {
        for bad in [
            "JBSWY3DP=EHPK3PXP", // padding in the middle
            "JBSWY3DPEHPK3PX1",  // 1 is not base32
            "JBSWY3DPEHPK3PX%",  // broken escape
            "JBSWY3DPEHPK3PX%4", // broken escape
            "JBSWY3DPEHPK3PX%zz",
            "JBSWY3DPEHPK",     // 60 bits: too short
            "================", // nothing but padding
            "JBSWY3DPEHPK3PX\u{e9}",
        ] {
            assert_eq!(
                parse(&format!("otpauth://totp/x?secret={bad}")),
                Err(OtpAuthError::Secret),
                "{bad}"
            );
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "otpauth://totp/\u{1f600}?secret=%",
            "otpauth://totp/?&&&=&secret",
            "otpauth://tot\u{e9}/",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
            "otpauth://totp/x?digits=99999999999999999999999&secret=JBSWY3DPEHPK3PXP",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let (_, s) = parse_secret("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{s:?}"), "TotpSecret(<redacted>)");
    }
}
