//! Output helpers: sanitising untrusted text for the terminal, times, columns.

use std::borrow::Cow;
use std::io::IsTerminal;

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Make untrusted text (entry fields, names written by teammates) safe to print: every
/// control character, including ESC (which starts OSC 52 clipboard writes and other
/// terminal escapes), becomes a visible `\u{…}` escape.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
