//! Clipboard delivery logic that needs neither a display nor a terminal, so that it can
//! be unit-tested: which route a copy takes, the OSC 52 escape sequence (with tmux and
//! GNU screen passthrough), and the "does the clipboard still hold our value?" check
//! that decides whether the timed clear may touch the clipboard.
//!
//! The binary (`src/cli/clip.rs`) does the I/O: it spawns the helper that owns the
//! display's selection, writes the sequences to `/dev/tty`, and sleeps until the clear.
//!
//! Not for: talking to X11 or Wayland (arboard, wl-copy, xclip do that), or reading a
//! terminal's clipboard (OSC 52 reads are refused by most terminals, and a clear sent
//! through OSC 52 is therefore unconditional).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The MIME type (X11 target) that marks a copy as a secret for clipboard managers
/// (Klipper, CopyQ, cliphist through `wl-paste --watch`'s `CLIPBOARD_STATE=sensitive`).
pub const PASSWORD_MANAGER_HINT: &str = "x-kde-passwordManagerHint";
/// The value offered under [`PASSWORD_MANAGER_HINT`].
pub const PASSWORD_MANAGER_HINT_VALUE: &[u8] = b"secret";

/// Longest piece of a sequence put in one GNU screen DCS string. screen passes at most
/// a few hundred bytes per string; the small chunk most tools use is safe everywhere.
pub const SCREEN_CHUNK: usize = 76;

/// How a value can reach the user's clipboard from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A graphical session: `WAYLAND_DISPLAY` or `DISPLAY` is set.
    Display,
    /// No display, but a terminal: OSC 52 through `/dev/tty`.
    Terminal,
    /// Neither.
    None,
}

impl Route {
    /// The route for these values of `WAYLAND_DISPLAY` and `DISPLAY` and whether a
    /// controlling terminal could be opened. Empty variables count as unset.
    pub fn choose(wayland_display: Option<&OsStr>, display: Option<&OsStr>, tty: bool) -> Self {
        let set = |v: Option<&OsStr>| v.is_some_and(|v| !v.is_empty());
        if set(wayland_display) || set(display) {
            Route::Display
        } else if tty {
            Route::Terminal
        } else {
            Route::None
        }
    }
}

/// The terminal multiplexer an escape sequence has to pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// Straight to the terminal.
    Direct,
    /// tmux (`TMUX` is set): `ESC P tmux; …ESC doubled… ESC \`. tmux ≥ 3.3 forwards it
    /// only with `set -g allow-passthrough on`.
    Tmux,
    /// GNU screen (`TERM` starts with `screen` and `TMUX` is unset): the sequence in
    /// chunks of [`SCREEN_CHUNK`] bytes, each `ESC P … ESC \`.
    Screen,
}

impl Passthrough {
    /// From the values of `TMUX` and `TERM`. tmux often sets `TERM=screen…` too, so
    /// `TMUX` decides first.
    pub fn detect(tmux: Option<&OsStr>, term: Option<&OsStr>) -> Self {
        if tmux.is_some_and(|v| !v.is_empty()) {
            Passthrough::Tmux
        } else if term.is_some_and(|t| t.as_bytes().starts_with(b"screen")) {
            Passthrough::Screen
        } else {
            Passthrough::Direct
        }
    }

    /// From this process's environment.
    pub fn from_env() -> Self {
        Self::detect(
            std::env::var_os("TMUX").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// The OSC 52 sequence that sets the terminal's clipboard (`c`) to `value`, wrapped for
/// `passthrough`: `ESC ] 52 ; c ; base64(value) BEL`. The result holds the value (in
/// base64), so it is zeroized on drop.
pub fn osc52_set(value: &[u8], passthrough: Passthrough) -> Zeroizing<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    // Sized up front: a growing buffer would leave copies of the value behind.
    let encoded_len = base64::encoded_len(value.len(), true).unwrap_or(0);
    let mut encoded = Zeroizing::new(String::with_capacity(encoded_len));
    engine.encode_string(value, &mut encoded);
    let mut seq = Zeroizing::new(Vec::with_capacity(encoded.len() + 8));
    seq.extend_from_slice(b"\x1b]52;c;");
    seq.extend_from_slice(encoded.as_bytes());
    seq.push(BEL);
    wrap(&seq, passthrough)
}

/// The OSC 52 sequence that clears the terminal's clipboard (an empty payload, which
/// xterm, kitty, foot, WezTerm, iTerm2 and Alacritty take as "set to nothing").
pub fn osc52_clear(passthrough: Passthrough) -> Vec<u8> {
    wrap(b"\x1b]52;c;\x07", passthrough).to_vec()
}

/// Wrap `seq` so that `passthrough` hands it to the outer terminal unchanged.
pub fn wrap(seq: &[u8], passthrough: Passthrough) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        seq.len() * 2 + 8 + 4 * seq.len().div_ceil(SCREEN_CHUNK),
    ));
    match passthrough {
        Passthrough::Direct => out.extend_from_slice(seq),
        Passthrough::Tmux => {
            out.extend_from_slice(b"\x1bPtmux;");
            for &b in seq {
                if b == ESC {
                    out.push(ESC);
                }
                out.push(b);
            }
            out.extend_from_slice(b"\x1b\\");
        }
        Passthrough::Screen => {
            for chunk in seq.chunks(SCREEN_CHUNK) {
                out.extend_from_slice(b"\x1bP");
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\x1b\\");
            }
        }
    }
    out
}

/// Whether `current` (what the clipboard holds now) is still `ours`, compared in
/// constant time for equal lengths. The timed clear happens only when this is true:
/// a user who copied something else in the meantime keeps it.
pub fn still_ours(current: &[u8], ours: &[u8]) -> bool {
    bool::from(current.ct_eq(ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn route_prefers_a_display_then_a_terminal() {
        assert_eq!(Route::choose(os("wayland-0"), None, true), Route::Display);
        assert_eq!(Route::choose(None, os(":0"), false), Route::Display);
        assert_eq!(Route::choose(os(""), os(""), true), Route::Terminal);
        assert_eq!(Route::choose(None, None, true), Route::Terminal);
        assert_eq!(Route::choose(None, None, false), Route::None);
        assert_eq!(Route::choose(os(""), None, false), Route::None);
    }

    #[test]
    fn passthrough_detection() {
        assert_eq!(
            Passthrough::detect(None, os("xterm-256color")),
            Passthrough::Direct
        );
        assert_eq!(Passthrough::detect(None, None), Passthrough::Direct);
        assert_eq!(
            Passthrough::detect(None, os("screen.xterm-256color")),
            Passthrough::Screen
        );
        assert_eq!(Passthrough::detect(None, os("screen")), Passthrough::Screen);
        // tmux commonly runs with TERM=screen-256color: TMUX wins.
        assert_eq!(
            Passthrough::detect(os("/tmp/tmux-0/default,123,0"), os("screen-256color")),
            Passthrough::Tmux
        );
        assert_eq!(
            Passthrough::detect(os(""), os("screen")),
            Passthrough::Screen
        );
        assert_eq!(
            Passthrough::detect(None, os("xscreen")),
            Passthrough::Direct
        );
    }

    #[test]
    fn osc52_direct() {
        // base64("hunter2") = "aHVudGVyMg=="
        assert_eq!(
            osc52_set(b"hunter2", Passthrough::Direct).as_slice(),
            b"\x1b]52;c;aHVudGVyMg==\x07"
        );
        assert_eq!(osc52_clear(Passthrough::Direct), b"\x1b]52;c;\x07");
    }

    #[test]
    fn osc52_never_contains_the_plain_value() {
        let value = b"Plain-Secret-Value";
        for p in [Passthrough::Direct, Passthrough::Tmux, Passthrough::Screen] {
            let seq = osc52_set(value, p);
            assert!(!seq.windows(value.len()).any(|w| w == value), "{p:?}");
        }
    }

    #[test]
    fn osc52_tmux_doubles_every_escape() {
        assert_eq!(
            osc52_set(b"hunter2", Passthrough::Tmux).as_slice(),
            b"\x1bPtmux;\x1b\x1b]52;c;aHVudGVyMg==\x07\x1b\\"
        );
        assert_eq!(
            osc52_clear(Passthrough::Tmux),
            b"\x1bPtmux;\x1b\x1b]52;c;\x07\x1b\\"
        );
    }

    #[test]
    fn osc52_screen_chunks() {
        assert_eq!(
            osc52_set(b"hunter2", Passthrough::Screen).as_slice(),
            b"\x1bP\x1b]52;c;aHVudGVyMg==\x07\x1b\\"
        );
        // A long value: every chunk is wrapped, and unwrapping gives the sequence back.
        let value = vec![b'x'; 300];
        let direct = osc52_set(&value, Passthrough::Direct);
        let screen = osc52_set(&value, Passthrough::Screen);
        let pieces: Vec<&[u8]> = screen
            .split(|&b| b == b'\\')
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(pieces.len(), direct.len().div_ceil(SCREEN_CHUNK));
        let mut joined = Vec::new();
        for p in pieces {
            let inner = p
                .strip_prefix(b"\x1bP")
                .and_then(|p| p.strip_suffix(b"\x1b"))
                .expect("each chunk is ESC P … ESC \\");
            assert!(inner.len() <= SCREEN_CHUNK);
            joined.extend_from_slice(inner);
        }
        assert_eq!(joined, direct.as_slice());
    }

    #[test]
    fn osc52_of_non_ascii_and_empty_values() {
        // base64("pässwörd") = "cMOkc3N3w7ZyZA=="
        assert_eq!(
            osc52_set("pässwörd".as_bytes(), Passthrough::Direct).as_slice(),
            b"\x1b]52;c;cMOkc3N3w7ZyZA==\x07"
        );
        assert_eq!(
            osc52_set(b"", Passthrough::Direct).as_slice(),
            osc52_clear(Passthrough::Direct).as_slice()
        );
    }

    #[test]
    fn still_ours_only_for_the_same_bytes() {
        assert!(still_ours(b"S3cret", b"S3cret"));
        assert!(!still_ours(b"other", b"S3cret"));
        assert!(!still_ours(b"S3cre", b"S3cret"));
        assert!(!still_ours(b"S3cret\n", b"S3cret"));
        assert!(!still_ours(b"", b"S3cret"));
        assert!(!still_ours(b"s3cret", b"S3cret"));
    }
}
