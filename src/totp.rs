//! TOTP codes (RFC 6238) from a validated `otpauth://totp/…` URI.
//!
//! The URI is parsed and its seed decoded by [`crate::otpauth`]; the HMAC and the
//! dynamic truncation are `totp-rs`'s. Its `Builder::build` insists on 128-bit seeds,
//! which would refuse the 80-bit seeds many providers still issue, so this module
//! checks what `build_noncompliant` relies on itself (6–8 digits, a period of at
//! least one second, a non-empty seed) before calling it: nothing here can panic.
//!
//! Not for: HOTP counters, Steam codes, verifying codes (amanat only shows them).

use std::fmt;

use zeroize::Zeroizing;

use crate::otpauth::{self, OtpAuthError, TotpAlgorithm, TotpConfig, TotpSecret};

/// Computes the codes of one TOTP seed.
pub struct Generator {
    config: TotpConfig,
    totp: totp_rs::Totp,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A TOTP code: short-lived, but still a login factor, so zeroized on drop and
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(Zeroizing<String>);

impl Code {
    /// The digits, for the one place that needs them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

impl Generator {
    /// A generator for a stored `otpauth://totp/…` URI (validated by
    /// [`otpauth::parse_secret`]).
    pub fn from_uri(uri: &str) -> Result<Self, OtpAuthError> {
        let (config, secret) = otpauth::parse_secret(uri)?;
        Self::new(config, &secret)
    }

    /// A generator for a configuration and raw seed. Refuses what `totp-rs` would
    /// panic on or compute nonsense from: digits outside 6–8, a period outside
    /// 1–300 seconds, an empty seed.
    pub fn new(config: TotpConfig, secret: &TotpSecret) -> Result<Self, OtpAuthError> {
        let digits = u8::try_from(config.digits)
            .ok()
            .filter(|d| (6..=8).contains(d))
            .ok_or(OtpAuthError::Parameter("digits"))?;
        if !(1..=300).contains(&config.period) {
            return Err(OtpAuthError::Parameter("period"));
        }
        if secret.expose().is_empty() {
            return Err(OtpAuthError::Secret);
        }
        let algorithm = match config.algorithm {
            TotpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
            TotpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
            TotpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
        };
        let totp = totp_rs::Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits)
            .with_step_duration(config.period)
            .with_secret(secret.expose().to_vec())
            .build_noncompliant();
        Ok(Self { config, totp })
    }

    /// The configuration (algorithm, digits, period).
    pub fn config(&self) -> &TotpConfig {
        &self.config
    }

    /// The code for the time step holding `unix_time` (seconds since the epoch).
    pub fn code_at(&self, unix_time: u64) -> Code {
        Code(Zeroizing::new(self.totp.generate(unix_time).to_string()))
    }

    /// Seconds from `unix_time` until the code changes (1 to the period).
    pub fn seconds_left(&self, unix_time: u64) -> u64 {
        self.config.period - unix_time % self.config.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 base32 without padding (test-only encoder, to feed seeds through
    /// the URI path the CLI uses).
    fn base32(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &b in bytes {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The RFC 6238 seeds: ASCII "12345678901234567890" repeated to `len` bytes.
    fn seed(len: usize) -> Vec<u8> {
        b"1234567890".iter().copied().cycle().take(len).collect()
    }

    fn generator(algorithm: &str, seed_len: usize) -> Generator {
        let uri = format!(
            "otpauth://totp/RFC6238?secret={}&algorithm={algorithm}&digits=8&period=30",
            base32(&seed(seed_len))
        );
        Generator::from_uri(&uri).unwrap_or_else(|e| panic!("{e}"))
    }

    /// RFC 6238 Appendix B: (time, SHA1, SHA256, SHA512).
    const APPENDIX_B: [(u64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];

    #[test]
    fn rfc6238_appendix_b_sha1() {
        let g = generator("SHA1", 20);
        for (t, sha1, _, _) in APPENDIX_B {
            assert_eq!(g.code_at(t).expose(), sha1, "T={t}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha256() {
        let g = generator("SHA256", 32);
        for (t, _, sha256, _) in APPENDIX_B {
            assert_eq!(g.code_at(t).expose(), sha256, "T={t}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha512() {
        let g = generator("SHA512", 64);
        for (t, _, _, sha512) in APPENDIX_B {
            assert_eq!(g.code_at(t).expose(), sha512, "T={t}");
        }
    }

    #[test]
    fn six_digit_codes_keep_leading_zeros() {
        // The SHA1 vector at T=1111111109 is 07081804: its last six digits are 081804.
        let g = Generator::from_uri(&format!("otpauth://totp/x?secret={}", base32(&seed(20))))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.code_at(1_111_111_109).expose(), "081804");
        assert_eq!(g.code_at(59).expose(), "287082");
    }

    #[test]
    fn the_period_moves_the_window() {
        let g = Generator::from_uri(&format!(
            "otpauth://totp/x?secret={}&period=60",
            base32(&seed(20))
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        // With a 60 s period, T=119 is step 1, which the 30 s vectors reach at T=59.
        assert_eq!(g.code_at(119).expose(), "287082");
        assert_eq!(g.seconds_left(119), 1);
        assert_eq!(g.seconds_left(120), 60);
    }

    #[test]
    fn accepts_80_bit_seeds_that_build_would_refuse() {
        let g = Generator::from_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.code_at(0).expose().len(), 6);
    }

    #[test]
    fn refuses_what_would_panic() {
        let secret = TotpSecret::new(seed(20));
        let config = |digits, period| TotpConfig {
            algorithm: TotpAlgorithm::Sha1,
            digits,
            period,
        };
        assert_eq!(
            Generator::new(config(10, 30), &secret).map(|_| ()),
            Err(OtpAuthError::Parameter("digits"))
        );
        assert_eq!(
            Generator::new(config(u32::MAX, 30), &secret).map(|_| ()),
            Err(OtpAuthError::Parameter("digits"))
        );
        assert_eq!(
            Generator::new(config(6, 0), &secret).map(|_| ()),
            Err(OtpAuthError::Parameter("period"))
        );
        assert_eq!(
            Generator::new(config(6, 30), &TotpSecret::new(Vec::new())).map(|_| ()),
            Err(OtpAuthError::Secret)
        );
        let g = Generator::new(config(8, 300), &secret).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.code_at(u64::MAX).expose().len(), 8);
    }

    #[test]
    fn debug_never_shows_the_seed_or_code() {
        let g = generator("SHA1", 20);
        let shown = format!("{g:?} {:?}", g.code_at(59));
        assert!(!shown.contains("94287082") && !shown.contains("1234567890"));
    }
}
