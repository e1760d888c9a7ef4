//! Streaming masking of secrets in a byte stream: what `amanat run` passes its child's
//! stdout and stderr through, so that a secret the child prints does not reach the
//! terminal, a CI log or a screen share.
//!
//! [`Masker`] replaces every occurrence of any of its secrets with [`PLACEHOLDER`],
//! also when an occurrence is split across the chunks it is fed. It holds back only
//! bytes that could still become a secret — at most (longest secret − 1) — and hands
//! everything else on at once, so interactive output (a prompt) is not delayed.
//!
//! Matching is leftmost-longest: scanning from the left, at each position the longest
//! secret that starts there is replaced and scanning resumes after it. Fed in any
//! number of pieces, the output is the same as replacing in the whole stream at once.
//!
//! Not for: encodings of a secret (base64, URL-escaping, one character per line) — only
//! the exact bytes are found; output that is not a byte stream meant for a person
//! (binary data, where a chance match would be corrupted). No I/O here: the caller
//! reads and writes.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// What a secret is replaced with.
pub const PLACEHOLDER: &[u8] = b"<concealed by amanat>";

/// A streaming replacer of secrets; see the module documentation.
pub struct Masker {
    /// The secrets: non-empty, distinct, longest first (so the first match at a
    /// position is the longest).
    secrets: Vec<Zeroizing<Vec<u8>>>,
    /// Bytes that start some secret: every other byte is passed on without a look.
    starts: [bool; 256],
    /// Length of the longest secret (0 without secrets).
    longest: usize,
    /// Input held back because it may be the beginning of a secret; never longer than
    /// `longest - 1`, and allocated once at that size so it is never reallocated
    /// (a reallocation would leave an unzeroized copy behind).
    pending: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.secrets.len())
            .field("held_back", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// A masker for `secrets`. Empty secrets are ignored and duplicates count once.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut list: Vec<Zeroizing<Vec<u8>>> = secrets
            .into_iter()
            .filter(|s| !s.as_ref().is_empty())
            .map(|s| Zeroizing::new(s.as_ref().to_vec()))
            .collect();
        // Longest first; equal lengths in byte order so duplicates end up adjacent.
        list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        list.dedup();
        let mut starts = [false; 256];
        for s in &list {
            starts[usize::from(s[0])] = true;
        }
        let longest = list.first().map_or(0, |s| s.len());
        Self {
            secrets: list,
            starts,
            longest,
            pending: Zeroizing::new(Vec::with_capacity(longest.saturating_sub(1))),
        }
    }

    /// Mask `input` in one go (a masker fed everything, then finished).
    pub fn mask_all<I, S>(secrets: I, input: &[u8]) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut m = Self::new(secrets);
        let mut out = m.feed(input);
        out.extend_from_slice(&m.finish());
        out
    }

    /// How many bytes are held back, waiting to see whether they begin a secret.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }

    /// Take the next chunk of the stream; returns the masked output that can be
    /// decided now.
    pub fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        if self.secrets.is_empty() {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len() + self.pending.len());
        if self.pending.is_empty() {
            let used = self.scan(input, false, &mut out);
            self.hold(&input[used..]);
        } else {
            let mut joined = Zeroizing::new(Vec::with_capacity(self.pending.len() + input.len()));
            joined.extend_from_slice(&self.pending);
            joined.extend_from_slice(input);
            let used = self.scan(&joined, false, &mut out);
            self.hold(&joined[used..]);
        }
        out
    }

    /// The end of the stream: the held-back bytes, masked, and an empty masker.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = Zeroizing::new(self.pending.to_vec());
        self.pending.zeroize();
        let mut out = Vec::with_capacity(rest.len());
        let used = self.scan(&rest, true, &mut out);
        debug_assert_eq!(used, rest.len());
        out
    }

    /// Replace `held` as the held-back bytes.
    fn hold(&mut self, held: &[u8]) {
        debug_assert!(held.len() < self.longest);
        // `zeroize` wipes the whole capacity and empties the vector; the capacity
        // stays, so the copy below does not reallocate.
        self.pending.zeroize();
        self.pending.extend_from_slice(held);
    }

    /// Mask `buf` into `out` as far as it can be decided; returns how many bytes of
    /// `buf` were consumed. With `at_end`, nothing follows `buf`, so everything is.
    fn scan(&self, buf: &[u8], at_end: bool, out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        // Start of the run of plain bytes not yet copied to `out`.
        let mut plain = 0;
        while i < buf.len() {
            if !self.starts[usize::from(buf[i])] {
                i += 1;
                continue;
            }
            let rest = &buf[i..];
            // If what is left is a proper prefix of a secret, the next chunk decides
            // whether a (possibly longer) secret starts here: wait for it.
            if !at_end
                && rest.len() < self.longest
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                break;
            }
            match self.secrets.iter().find(|s| rest.starts_with(s)) {
                Some(s) => {
                    out.extend_from_slice(&buf[plain..i]);
                    out.extend_from_slice(PLACEHOLDER);
                    i += s.len();
                    plain = i;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&buf[plain..i]);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: &str = "<concealed by amanat>";

    /// An independent, naive leftmost-longest replacement to compare against.
    fn reference(secrets: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let best = secrets
                .iter()
                .filter(|s| !s.is_empty() && input[i..].starts_with(s))
                .map(Vec::len)
                .max();
            match best {
                Some(n) => {
                    out.extend_from_slice(PLACEHOLDER);
                    i += n;
                }
                None => {
                    out.push(input[i]);
                    i += 1;
                }
            }
        }
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn feed_split(m: &mut Masker, input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts {
            let c = c.clamp(at, input.len());
            out.extend(m.feed(&input[at..c]));
            at = c;
        }
        out.extend(m.feed(&input[at..]));
        out.extend(m.finish());
        out
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap_or_default()
    }

    #[test]
    fn replaces_a_secret_in_one_chunk() {
        let out = Masker::mask_all(["S3cret"], b"pw=S3cret; again S3cret.");
        assert_eq!(text(&out), format!("pw={P}; again {P}."));
    }

    #[test]
    fn a_secret_split_into_single_bytes_is_masked() {
        let mut m = Masker::new(["S3cret"]);
        let mut out = Vec::new();
        for b in b"<S3cret>" {
            out.extend(m.feed(&[*b]));
        }
        out.extend(m.finish());
        assert_eq!(text(&out), format!("<{P}>"));
    }

    #[test]
    fn plain_output_is_not_held_back() {
        let mut m = Masker::new(["S3cret"]);
        assert_eq!(m.feed(b"Password: "), b"Password: ");
        assert_eq!(m.held_back(), 0);
    }

    #[test]
    fn holds_back_only_a_possible_beginning_of_a_secret() {
        let mut m = Masker::new(["S3cret"]);
        assert_eq!(m.feed(b"abc S3cr"), b"abc ");
        assert_eq!(m.held_back(), 4);
        // Not the secret after all: released as soon as that is known.
        assert_eq!(m.feed(b"X"), b"S3crX");
        assert_eq!(m.held_back(), 0);
    }

    #[test]
    fn held_back_never_reaches_the_longest_secret() {
        let mut m = Masker::new(["aaaa", "b"]);
        for _ in 0..20 {
            let _ = m.feed(b"a");
            assert!(m.held_back() <= 3, "held back {}", m.held_back());
        }
        assert_eq!(text(&m.finish()), "");
    }

    #[test]
    fn a_prefix_held_at_the_end_of_the_stream_is_released() {
        let mut m = Masker::new(["S3cret"]);
        assert_eq!(m.feed(b"S3c"), b"");
        assert_eq!(m.finish(), b"S3c");
        assert_eq!(m.held_back(), 0);
    }

    #[test]
    fn longest_match_wins_over_a_prefix_secret() {
        let out = Masker::mask_all(["abc", "abcdef"], b"xabcdefx abcx");
        assert_eq!(text(&out), format!("x{P}x {P}x"));
        // Also when the longer one is still arriving.
        let mut m = Masker::new(["abc", "abcdef"]);
        assert_eq!(m.feed(b"abcde"), b"");
        assert_eq!(text(&m.feed(b"f!")), format!("{P}!"));
    }

    #[test]
    fn overlapping_secrets_leftmost_first() {
        // "abc" starts first; "cde" overlaps its end and is not matched separately.
        let out = Masker::mask_all(["abc", "cde"], b"abcde");
        assert_eq!(text(&out), format!("{P}de"));
    }

    #[test]
    fn empty_and_duplicate_secrets_are_ignored() {
        let out = Masker::mask_all(["", "x", "x"], b"axb");
        assert_eq!(text(&out), format!("a{P}b"));
        let out = Masker::mask_all([""], b"unchanged");
        assert_eq!(out, b"unchanged");
        let none: [&str; 0] = [];
        let mut m = Masker::new(none);
        assert_eq!(m.feed(b"abc"), b"abc");
        assert_eq!(m.finish(), b"");
    }

    #[test]
    fn repeated_secret_back_to_back() {
        let out = Masker::mask_all(["ab"], b"ababab");
        assert_eq!(text(&out), P.repeat(3));
    }

    #[test]
    fn debug_shows_no_secret() {
        let m = Masker::new(["S3cret"]);
        assert!(!format!("{m:?}").contains("S3cret"));
    }

    /// Secrets from a small alphabet, so they overlap and share prefixes often; none
    /// of its bytes occurs in the placeholder, so a secret in the output can only be a
    /// leak, never a piece of the placeholder.
    fn secret() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec![b'0', b'1', b'2', 0xff]), 0..6)
    }

    fn stream() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![b'0', b'1', b'2', 0xff, b'x', b'\n']),
            0..200,
        )
    }

    proptest! {
        #[test]
        fn split_anywhere_equals_one_shot(
            secrets in prop::collection::vec(secret(), 0..5),
            input in stream(),
            cuts in prop::collection::vec(0usize..200, 0..20),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let want = reference(&secrets, &input);
            let mut m = Masker::new(&secrets);
            let got = feed_split(&mut m, &input, &cuts);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(Masker::mask_all(&secrets, &input), want);
            for s in &secrets {
                prop_assert!(!contains(&got, s), "secret {:?} in {:?}", s, got);
            }
        }

        #[test]
        fn holds_back_less_than_the_longest_secret(
            secrets in prop::collection::vec(secret(), 1..5),
            input in stream(),
        ) {
            let longest = secrets.iter().map(Vec::len).max().unwrap_or(0);
            let mut m = Masker::new(&secrets);
            let mut out = Vec::new();
            for b in &input {
                out.extend(m.feed(&[*b]));
                prop_assert!(m.held_back() <= longest.saturating_sub(1));
            }
            out.extend(m.finish());
            prop_assert_eq!(out, reference(&secrets, &input));
        }
    }
}
