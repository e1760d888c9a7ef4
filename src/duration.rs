//! The one duration grammar of the command line (`unlock --timeout`, `log --since`,
//! `audit`'s ages): one or more `NUMBER UNIT` pairs with no spaces — `45s`, `15m`,
//! `1h30m`, `7d`, `4w` — units `s`, `m`, `h`, `d` (a day, 86,400 s) and `w`. A bare
//! number is refused where it would be ambiguous (`--since 7`: days?) and taken as
//! seconds only where the command always took seconds (`--timeout 900`).

/// Why a text is not a duration (the text, for the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a duration like 45s, 15m, 1h30m, 7d or 4w")]
pub struct DurationError(pub String);

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// Parse `text` into seconds; `bare_seconds`: a plain number counts as seconds.
pub fn parse(text: &str, bare_seconds: bool) -> Result<u64, DurationError> {
    let bad = || DurationError(text.to_string());
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return if bare_seconds {
            t.parse().map_err(|_| bad())
        } else {
            Err(bad())
        };
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => DAY,
            'w' => 7 * DAY,
            _ => return Err(bad()),
        };
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        // A number after the last unit (`1h30`): which unit was meant?
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_grammar() {
        for (text, secs) in [
            ("45s", 45),
            ("30m", 1_800),
            ("12h", 43_200),
            ("1h30m", 5_400),
            ("7d", 604_800),
            ("4w", 2_419_200),
            ("1d12h", 129_600),
            ("0d", 0),
        ] {
            assert_eq!(parse(text, false), Ok(secs), "{text}");
            assert_eq!(parse(text, true), Ok(secs), "{text}");
        }
        assert_eq!(parse("90", true), Ok(90));
        assert!(parse("90", false).is_err());
        for bad in [
            "",
            "d",
            "7x",
            "-7d",
            "7 d",
            "1.5h",
            "7dd",
            "1h30",
            "99999999999999999999w",
            "７d",
        ] {
            assert!(parse(bad, false).is_err(), "{bad:?}");
            assert!(parse(bad, true).is_err(), "{bad:?}");
        }
    }
}
