//! Password and passphrase generation.
//!
//! Two schemes are offered:
//!
//! * [`random_password`]: characters drawn uniformly from a chosen set of
//!   character classes ([`CharClasses`]), with every selected class
//!   guaranteed to appear at least once;
//! * [`passphrase`]: words drawn uniformly from the EFF large diceware
//!   wordlist ([`wordlist`], 7,776 words, CC BY 3.0 US, see
//!   `docs/gen-wordlist-attribution.md`), joined with `-`.
//!
//! All randomness comes straight from the operating system's CSPRNG
//! ([`SysRng`]), so no generator state is kept in memory. Results are
//! returned in [`Zeroizing`] strings that are wiped when dropped.

use std::ops::RangeInclusive;
use std::sync::OnceLock;

use rand::RngExt as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// Allowed lengths for [`random_password`].
const LENGTH_RANGE: RangeInclusive<usize> = 8..=256;
/// Allowed word counts for [`passphrase`].
const WORDS_RANGE: RangeInclusive<usize> = 3..=32;
/// Longest word in the embedded list, used to size passphrase buffers so they
/// never reallocate (which would leave unwiped copies behind).
const MAX_WORD_LEN: usize = 9;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const SYMBOLS: &[u8] = b"!#$%&()*+,-./:;<=>?@[]^_{|}~";

/// The EFF large wordlist, one word per line.
const EFF_LARGE_WORDLIST: &str = include_str!("passgen/eff_large_wordlist.txt");

/// Default length of a random password.
pub const DEFAULT_LENGTH: usize = 24;
/// Number of words in the embedded wordlist (6^5, five dice).
pub const WORDLIST_LEN: usize = 7776;

/// Character classes for random passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharClasses {
    /// `a`–`z`.
    pub lower: bool,
    /// `A`–`Z`.
    pub upper: bool,
    /// `0`–`9`.
    pub digits: bool,
    /// `!#$%&()*+,-./:;<=>?@[]^_{|}~`.
    pub symbols: bool,
}

impl Default for CharClasses {
    /// All classes selected.
    fn default() -> Self {
        Self {
            lower: true,
            upper: true,
            digits: true,
            symbols: true,
        }
    }
}

impl CharClasses {
    /// The character sets of the selected classes.
    fn sets(self) -> impl Iterator<Item = &'static [u8]> {
        [
            (self.lower, LOWER),
            (self.upper, UPPER),
            (self.digits, DIGITS),
            (self.symbols, SYMBOLS),
        ]
        .into_iter()
        .filter_map(|(selected, set)| selected.then_some(set))
    }
}

/// Invalid generator parameters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenError {
    /// Length outside 8..=256 (random).
    #[error("password length {0} is outside 8..=256")]
    Length(usize),
    /// Word count outside 3..=32.
    #[error("word count {0} is outside 3..=32")]
    Words(usize),
    /// No character class selected.
    #[error("no character class selected")]
    NoClasses,
}

/// The EFF large wordlist, embedded
/// (`include_str!("passgen/eff_large_wordlist.txt")`), in its original order:
/// [`WORDLIST_LEN`] lowercase words.
pub fn wordlist() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| EFF_LARGE_WORDLIST.lines().collect())
}

/// Random password of `length` characters (8..=256) from the selected
/// classes.
///
/// Every character is drawn uniformly from the union of the selected classes;
/// whole passwords are redrawn until each selected class occurs at least once.
///
/// # Errors
///
/// [`GenError::Length`] if `length` is out of range (checked first), then
/// [`GenError::NoClasses`] if no class is selected.
///
/// # Panics
///
/// If the operating system's random number generator fails.
pub fn random_password(length: usize, classes: CharClasses) -> Result<Zeroizing<String>, GenError> {
    if !LENGTH_RANGE.contains(&length) {
        return Err(GenError::Length(length));
    }
    let sets: Vec<&[u8]> = classes.sets().collect();
    if sets.is_empty() {
        return Err(GenError::NoClasses);
    }
    let alphabet = sets.concat();
    let mut rng = UnwrapErr(SysRng);
    // ASCII only and sized up front: the buffer is never reallocated.
    let mut password = Zeroizing::new(String::with_capacity(length));
    loop {
        password.clear();
        password
            .extend((0..length).map(|_| char::from(alphabet[rng.random_range(..alphabet.len())])));
        let bytes = password.as_bytes();
        if sets.iter().all(|set| bytes.iter().any(|b| set.contains(b))) {
            return Ok(password);
        }
    }
}

/// `words` words (3..=32) from the EFF list joined with '-', each chosen
/// uniformly.
///
/// # Errors
///
/// [`GenError::Words`] if `words` is out of range.
///
/// # Panics
///
/// If the operating system's random number generator fails.
pub fn passphrase(words: usize) -> Result<Zeroizing<String>, GenError> {
    if !WORDS_RANGE.contains(&words) {
        return Err(GenError::Words(words));
    }
    let list = wordlist();
    let mut rng = UnwrapErr(SysRng);
    // Room for the longest words plus separators: never reallocated.
    let mut phrase = Zeroizing::new(String::with_capacity(words * (MAX_WORD_LEN + 1)));
    for i in 0..words {
        if i > 0 {
            phrase.push('-');
        }
        phrase.push_str(list[rng.random_range(..list.len())]);
    }
    Ok(phrase)
}

/// Entropy in bits of a random password, for display:
/// `length * log2(alphabet size)` (0 if no class is selected).
///
/// Requiring every class slightly lowers the true figure; the difference is
/// negligible at sensible lengths.
pub fn random_password_bits(length: usize, classes: CharClasses) -> f64 {
    let alphabet: usize = classes.sets().map(<[u8]>::len).sum();
    if alphabet == 0 {
        return 0.0;
    }
    length as f64 * (alphabet as f64).log2()
}

/// Entropy in bits of a passphrase, for display: `words * log2(7776)`.
pub fn passphrase_bits(words: usize) -> f64 {
    words as f64 * (WORDLIST_LEN as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const NONE: CharClasses = CharClasses {
        lower: false,
        upper: false,
        digits: false,
        symbols: false,
    };

    #[test]
    fn wordlist_is_the_eff_large_list() {
        let list = wordlist();
        assert_eq!(list.len(), WORDLIST_LEN);
        assert_eq!(list.iter().collect::<HashSet<_>>().len(), WORDLIST_LEN);
        assert_eq!(list.first(), Some(&"abacus"));
        assert_eq!(list.get(1), Some(&"abdomen"));
        assert_eq!(list.last(), Some(&"zoom"));
        assert!(list.iter().all(|w| {
            !w.is_empty()
                && w.len() <= MAX_WORD_LEN
                && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        }));
        assert_eq!(list.iter().map(|w| w.len()).max(), Some(MAX_WORD_LEN));
    }

    #[test]
    fn password_length_is_respected() -> Result<(), GenError> {
        for length in [8, 9, DEFAULT_LENGTH, 100, 256] {
            let pw = random_password(length, CharClasses::default())?;
            assert_eq!(pw.len(), length);
            assert_eq!(pw.chars().count(), length);
        }
        Ok(())
    }

    #[test]
    fn every_selected_class_is_present() -> Result<(), GenError> {
        for _ in 0..200 {
            let pw = random_password(8, CharClasses::default())?;
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()), "{}", *pw);
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()), "{}", *pw);
            assert!(pw.bytes().any(|b| b.is_ascii_digit()), "{}", *pw);
            assert!(pw.bytes().any(|b| SYMBOLS.contains(&b)), "{}", *pw);
        }
        Ok(())
    }

    #[test]
    fn only_selected_classes_are_present() -> Result<(), GenError> {
        let digits = CharClasses {
            digits: true,
            ..NONE
        };
        let pw = random_password(64, digits)?;
        assert!(pw.bytes().all(|b| b.is_ascii_digit()), "{}", *pw);

        let lower_symbols = CharClasses {
            lower: true,
            symbols: true,
            ..NONE
        };
        for _ in 0..50 {
            let pw = random_password(8, lower_symbols)?;
            assert!(
                pw.bytes()
                    .all(|b| b.is_ascii_lowercase() || SYMBOLS.contains(&b)),
                "{}",
                *pw
            );
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()), "{}", *pw);
            assert!(pw.bytes().any(|b| SYMBOLS.contains(&b)), "{}", *pw);
        }
        Ok(())
    }

    #[test]
    fn every_symbol_can_appear() -> Result<(), GenError> {
        let symbols = CharClasses {
            symbols: true,
            ..NONE
        };
        // Missing a given symbol in 1,024 draws: (27/28)^1024 < 1e-16.
        let mut seen = HashSet::new();
        for _ in 0..4 {
            seen.extend(random_password(256, symbols)?.bytes());
        }
        assert_eq!(seen, SYMBOLS.iter().copied().collect());
        Ok(())
    }

    #[test]
    fn bounds_are_enforced() {
        let all = CharClasses::default();
        assert_eq!(random_password(7, all), Err(GenError::Length(7)));
        assert_eq!(random_password(0, all), Err(GenError::Length(0)));
        assert_eq!(random_password(257, all), Err(GenError::Length(257)));
        assert_eq!(random_password(8, NONE), Err(GenError::NoClasses));
        assert_eq!(random_password(4, NONE), Err(GenError::Length(4)));
        assert_eq!(passphrase(2), Err(GenError::Words(2)));
        assert_eq!(passphrase(0), Err(GenError::Words(0)));
        assert_eq!(passphrase(33), Err(GenError::Words(33)));
        assert!(passphrase(3).is_ok());
        assert!(passphrase(32).is_ok());
        assert_eq!(
            GenError::Length(7).to_string(),
            "password length 7 is outside 8..=256"
        );
        assert_eq!(
            GenError::Words(2).to_string(),
            "word count 2 is outside 3..=32"
        );
    }

    #[test]
    fn passphrase_words_come_from_the_list() -> Result<(), GenError> {
        let list: HashSet<&str> = wordlist().iter().copied().collect();
        for n in [3, 6, 32] {
            let phrase = passphrase(n)?;
            // Words such as "yo-yo" contain the separator, so match against
            // the list rather than splitting blindly.
            assert_eq!(split_words(&phrase, &list).len(), n, "{}", *phrase);
        }
        Ok(())
    }

    #[test]
    fn two_calls_differ() -> Result<(), GenError> {
        // Collision odds: 90^-24 and 7776^-6.
        assert_ne!(
            random_password(DEFAULT_LENGTH, CharClasses::default())?,
            random_password(DEFAULT_LENGTH, CharClasses::default())?
        );
        assert_ne!(passphrase(6)?, passphrase(6)?);
        Ok(())
    }

    #[test]
    fn word_choice_is_roughly_uniform() -> Result<(), GenError> {
        // 20,000 draws into 6 buckets of 1,296 indices: expected 3,333.3 per
        // bucket, standard deviation ~52.7, so ±20% is over 12 sigma.
        const DRAWS: usize = 20_000;
        const WORDS: usize = 10;
        const BUCKETS: usize = 6;
        let index: HashMap<&str, usize> = wordlist()
            .iter()
            .enumerate()
            .map(|(i, w)| (*w, i))
            .collect();
        let words: HashSet<&str> = index.keys().copied().collect();
        let mut counts = [0usize; BUCKETS];
        for _ in 0..DRAWS / WORDS {
            let phrase = passphrase(WORDS)?;
            for word in split_words(&phrase, &words) {
                counts[index[word] * BUCKETS / WORDLIST_LEN] += 1;
            }
        }
        assert_eq!(counts.iter().sum::<usize>(), DRAWS);
        let expected = (DRAWS / BUCKETS) as f64;
        for count in counts {
            let deviation = (count as f64 - expected).abs() / expected;
            assert!(deviation < 0.2, "{counts:?}");
        }
        Ok(())
    }

    #[test]
    fn entropy_figures() {
        let all = CharClasses::default();
        assert!((random_password_bits(24, all) - 24.0 * 90f64.log2()).abs() < 1e-9);
        let digits = CharClasses {
            digits: true,
            ..NONE
        };
        assert!((random_password_bits(10, digits) - 10.0 * 10f64.log2()).abs() < 1e-9);
        assert_eq!(random_password_bits(10, NONE), 0.0);
        assert!((passphrase_bits(1) - 12.92481250360578).abs() < 1e-9);
        assert!((passphrase_bits(6) - 6.0 * 7776f64.log2()).abs() < 1e-9);
    }

    /// Splits a passphrase into list words, allowing for hyphenated words
    /// ("drop-down", "felt-tip", "t-shirt", "yo-yo"). Unambiguous for this
    /// list: none of those words starts with another list word plus '-'.
    fn split_words<'a>(phrase: &'a str, list: &HashSet<&str>) -> Vec<&'a str> {
        let mut words = Vec::new();
        let mut rest = phrase;
        while !rest.is_empty() {
            // Prefer the longest prefix that is a list word followed by '-'
            // or the end of the phrase.
            let end = rest
                .match_indices('-')
                .map(|(i, _)| i)
                .chain([rest.len()])
                .rfind(|&i| list.contains(&rest[..i]));
            let Some(end) = end else {
                panic!("{rest:?} does not start with a list word");
            };
            words.push(&rest[..end]);
            rest = rest.get(end + 1..).unwrap_or("");
        }
        words
    }
}
