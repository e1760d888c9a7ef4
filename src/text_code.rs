//! Bech32 texts (BIP 173 checksum) for what people copy between each other: public
//! keys (`amanat1…`), key proofs (`amanat-rekey1…`) and invites (`amanat-invite1…`).
//!
//! One rule for all three: a value has exactly one text. bech32 itself allows a
//! second spelling (leftover bits after the last whole byte that are not zero); such
//! text is refused, so what a person pastes is what `encode` would have printed, in
//! either case.

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Hrp};

/// Why a text is not a value of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Not bech32: a character outside the alphabet, mixed case, or a bad checksum.
    Checksum,
    /// Valid bech32, but for another kind (the part before the last `1` differs).
    Kind,
    /// Padding bits that are not zero, or more of them than bech32 allows.
    Padding,
}

/// The text of `data` under `hrp` (lowercase). `hrp` is one of this crate's
/// constants and `data` is far below bech32's length limit, so this cannot fail; an
/// empty string would be refused by `decode`.
pub fn encode(hrp: &str, data: &[u8]) -> String {
    Hrp::parse(hrp)
        .ok()
        .and_then(|hrp| bech32::encode::<Bech32>(hrp, data).ok())
        .unwrap_or_default()
}

/// The bytes in `text` (surrounding whitespace ignored), if it is `hrp`'s text.
/// Callers bound `text`'s length first.
pub fn decode(text: &str, hrp: &str) -> Result<Vec<u8>, TextError> {
    let checked = CheckedHrpstring::new::<Bech32>(text.trim()).map_err(|_| TextError::Checksum)?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(TextError::Kind);
    }
    // BIP 173's rule for the leftover bits (named for segwit, but it is bech32's).
    checked
        .validate_segwit_padding()
        .map_err(|_| TextError::Padding)?;
    Ok(checked.byte_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bech32::Fe32;
    use bech32::primitives::iter::Fe32IterExt;
    use proptest::prelude::*;

    /// `data`'s text with one padding bit set: valid bech32, not the canonical text.
    fn with_dirty_padding(hrp: &str, data: &[u8]) -> String {
        let canonical = encode(hrp, data);
        let checked = CheckedHrpstring::new::<Bech32>(&canonical).expect("own text decodes");
        let mut fes: Vec<Fe32> = checked.fe32_iter::<std::iter::Empty<u8>>().collect();
        let last = fes.len() - 1;
        fes[last] = Fe32::try_from(fes[last].to_u8() | 1).expect("5-bit value");
        let hrp = Hrp::parse(hrp).expect("valid hrp");
        fes.into_iter()
            .with_checksum::<Bech32>(&hrp)
            .chars()
            .collect()
    }

    #[test]
    fn dirty_padding_is_refused() {
        // 64 bytes are 103 symbols with 3 padding bits.
        let data = [7u8; 64];
        let dirty = with_dirty_padding("amanat", &data);
        assert_ne!(dirty, encode("amanat", &data));
        assert_eq!(decode(&dirty, "amanat"), Err(TextError::Padding));
        assert_eq!(
            decode(&encode("amanat", &data), "amanat"),
            Ok(data.to_vec())
        );
    }

    #[test]
    fn kind_and_checksum() {
        let text = encode("amanat-invite", &[1, 2, 3]);
        assert_eq!(decode(&text, "amanat"), Err(TextError::Kind));
        assert_eq!(
            decode(&text.to_uppercase(), "amanat-invite"),
            Ok(vec![1, 2, 3])
        );
        let mut broken = text.into_bytes();
        let i = broken.len() - 3;
        broken[i] = if broken[i] == b'q' { b'p' } else { b'q' };
        let broken = String::from_utf8(broken).expect("ascii");
        assert_eq!(decode(&broken, "amanat-invite"), Err(TextError::Checksum));
    }

    proptest! {
        /// Every value has one text: decode accepts exactly what encode prints (in
        /// either case), and nothing decodes to a value whose text differs.
        #[test]
        fn one_text_per_value(data in proptest::collection::vec(any::<u8>(), 1..200)) {
            let text = encode("amanat", &data);
            prop_assert_eq!(decode(&text, "amanat"), Ok(data.clone()));
            prop_assert_eq!(decode(&text.to_uppercase(), "amanat"), Ok(data.clone()));
            if data.len() * 8 % 5 != 0 {
                let dirty = with_dirty_padding("amanat", &data);
                prop_assert_eq!(decode(&dirty, "amanat"), Err(TextError::Padding));
            }
        }
    }
}
