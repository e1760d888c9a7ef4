//! Parsing and validating `otpauth://totp/…` URIs (the Key URI format of Google
//! Authenticator, which every TOTP app exports). Codes are computed in a later module;
//! this one only decides whether a URI is acceptable, so bad seeds are refused when they
//! are stored, not when someone needs a code.

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

/// Why a URI was refused. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpAuthError {
    /// Not `otpauth://totp/`.
    #[error("not an otpauth://totp/ URI")]
    Scheme,
    /// No `secret=` parameter, or it is not base32.
    #[error("the secret parameter is missing or not base32")]
    Secret,
    /// A parameter with an unsupported value.
    #[error("unsupported {0} parameter")]
    Parameter(&'static str),
}

/// Validate an `otpauth://totp/LABEL?secret=BASE32[&algorithm=…][&digits=…][&period=…]`.
pub fn parse(uri: &str) -> Result<TotpConfig, OtpAuthError> {
    let rest = uri
        .strip_prefix("otpauth://totp/")
        .ok_or(OtpAuthError::Scheme)?;
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut config = TotpConfig {
        algorithm: TotpAlgorithm::Sha1,
        digits: 6,
        period: 30,
    };
    let mut secret_ok = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k.to_ascii_lowercase().as_str() {
            "secret" => secret_ok = is_base32(v),
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
    if !secret_ok {
        return Err(OtpAuthError::Secret);
    }
    Ok(config)
}

/// RFC 4648 base32 (either case, optional `=` padding), at least 80 bits.
fn is_base32(v: &str) -> bool {
    let body = v.trim_end_matches('=');
    body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            parse("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"),
            Err(OtpAuthError::Scheme)
        );
        assert_eq!(parse("otpauth://totp/x"), Err(OtpAuthError::Secret));
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
    }
}
