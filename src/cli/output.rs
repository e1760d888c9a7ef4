//! Output helpers: sanitising untrusted text for the terminal, times, columns.

use std::borrow::Cow;
use std::io::IsTerminal;

use amanat::format::is_hidden_char;

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Make untrusted text (entry fields, names written by teammates) safe to print: every
/// control character, including ESC (which starts OSC 52 clipboard writes and other
/// terminal escapes), every bidi control (U+202E would show `invoice\u{202e}fdp.exe`
/// as `invoice…exe.pdf`) and every zero-width or other invisible character
/// ([`amanat::format::is_hidden_char`]) becomes a visible `\u{…}` escape.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character of serialized JSON needs [`escape_json_hidden`]: a hidden
/// character other than the newlines between tokens (serde_json escapes U+0000–U+001F
/// inside strings itself).
fn json_hidden(c: char) -> bool {
    c != '\n' && is_hidden_char(c)
}

/// JSON text with every hidden character ([`is_hidden_char`]) as a `\uXXXX` escape
/// (a surrogate pair above U+FFFF): the same value to a JSON parser, but no raw bidi
/// control or invisible character reaches a terminal or a log. Outside strings there
/// is only ASCII punctuation, digits, letters and whitespace, so every character
/// escaped here is inside a string, where an escape is valid.
fn escape_json_hidden(json: String) -> String {
    if !json.chars().any(json_hidden) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if json_hidden(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch.
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Print a JSON value on stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    outln!("{}", json_text(value)?);
    Ok(())
}

/// The text [`print_json`] prints, without the final newline.
pub fn json_text(value: &serde_json::Value) -> anyhow::Result<String> {
    Ok(escape_json_hidden(serde_json::to_string_pretty(value)?))
}

/// Column separator: aligned spaces on a terminal, a tab otherwise (CLI.md).
pub fn columns(cols: &[&str]) -> String {
    if stdout_is_tty() {
        cols.join("  ")
    } else {
        cols.join("\t")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_osc52_clipboard_payload() {
        let evil = "web/x\u{1b}]52;c;aGVsbG8=\u{7}";
        let shown = sanitize(evil);
        assert!(!shown.contains('\u{1b}'));
        assert!(!shown.contains('\u{7}'));
        assert!(shown.starts_with("web/x\\u{1b}]52"));
    }

    #[test]
    fn escapes_bidi_and_invisible_characters() {
        let shown = sanitize("invoice\u{202e}fdp.exe");
        assert_eq!(shown, "invoice\\u{202e}fdp.exe");
        for c in [
            '\u{202a}',
            '\u{2066}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{61c}',
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
            '\u{85}',
            '\u{7f}',
        ] {
            let text = format!("a{c}b");
            assert!(!sanitize(&text).contains(c), "{c:?}");
        }
        assert!(matches!(sanitize("café/naïve"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escapes_hidden_characters_and_keeps_the_value() {
        let value = serde_json::json!({"path": "invoice\u{202e}fdp.exe\u{e0041}\u{85}"});
        let text = escape_json_hidden(serde_json::to_string_pretty(&value).expect("serializes"));
        assert!(!text.chars().any(json_hidden), "{text}");
        assert!(text.contains("\\u202e"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(back, value);
    }

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(sanitize("web/github"), Cow::Borrowed(_)));
    }

    #[test]
    fn formats_epoch_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_798_675_200), "2026-12-31 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
