//! One decrypted `pass` entry (the text `gpg` gives for a `.gpg` file of a password
//! store) as an [`Imported`] entry. pass's own convention: the first line is the
//! password; what follows is free text, where `key: value` lines are commonly used
//! for the login and the URL and an `otpauth://` line (pass-otp) for the TOTP seed.

use super::Imported;
use crate::crypto::SecretString;

/// Field names taken as the login name.
const USERNAME_KEYS: &[&str] = &["login", "username", "user", "email", "e-mail", "user name"];
/// Field names taken as the URL.
const URL_KEYS: &[&str] = &["url", "website", "site", "web", "link"];

/// `text` decrypted from the store file at `path` (relative to the store, without
/// `.gpg`). The first line is the password (a trailing CR is dropped); `key: value`
/// lines become the username, the URL or custom fields; an `otpauth://` line the
/// TOTP seed; every other line (and a gopass `---` separator) goes to the notes, in
/// order.
pub fn parse_entry(path: &str, text: &str) -> Imported {
    let mut entry = Imported::new(path);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if let Some(first) = lines.next() {
        entry.payload.password = SecretString::new(first.to_string());
    }
    let mut rest: Vec<&str> = lines.collect();
    while rest.last().is_some_and(|l| l.trim().is_empty()) {
        rest.pop();
    }
    for line in rest {
        let trimmed = line.trim();
        if trimmed.starts_with("otpauth://") && entry.payload.totp.is_none() {
            entry.payload.totp = Some(SecretString::new(trimmed.to_string()));
            continue;
        }
        if trimmed == "---" {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            entry.note(line);
            continue;
        };
        let (key_l, value) = (key.trim().to_lowercase(), value.trim());
        // `https://…` has a colon too: only a short word before it is a key.
        let is_key = !key.trim().is_empty() && key.trim().len() <= 40 && !value.starts_with("//");
        if !is_key {
            entry.note(line);
        } else if USERNAME_KEYS.contains(&key_l.as_str()) && entry.payload.username.is_empty() {
            entry.payload.username = value.to_string();
        } else if URL_KEYS.contains(&key_l.as_str()) && entry.payload.url.is_empty() {
            entry.payload.url = value.to_string();
        } else if value.starts_with("otpauth://") && entry.payload.totp.is_none() {
            entry.payload.totp = Some(SecretString::new(value.to_string()));
        } else {
            entry.field(key.trim(), value, super::looks_secret(&key_l));
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_pass_conventions() {
        let e = parse_entry(
            "web/github",
            "s3cret!\nlogin: alice\nurl: https://github.com\notpauth://totp/gh:alice?secret=JBSWY3DPEHPK3PXP\nrecovery code: 1234-5678\nteam: payments\nremember: rotate yearly\nhttps://github.com/settings\n\n",
        );
        let p = &e.payload;
        assert_eq!(e.path, "web/github");
        assert_eq!(p.password.expose(), "s3cret!");
        assert_eq!(p.username, "alice");
        assert_eq!(p.url, "https://github.com");
        assert_eq!(
            p.totp.as_ref().unwrap().expose(),
            "otpauth://totp/gh:alice?secret=JBSWY3DPEHPK3PXP"
        );
        let fields: Vec<(&str, &str, bool)> = p
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.expose(), f.secret))
            .collect();
        assert_eq!(
            fields,
            [
                ("recovery code", "1234-5678", true),
                ("team", "payments", false),
                ("remember", "rotate yearly", false)
            ]
        );
        assert_eq!(p.notes, "https://github.com/settings");
    }

    #[test]
    fn a_password_alone_and_crlf() {
        let e = parse_entry("a", "only\r\n");
        assert_eq!(e.payload.password.expose(), "only");
        assert!(e.payload.notes.is_empty() && e.payload.fields.is_empty());
        let e = parse_entry("a", "");
        assert_eq!(e.payload.password.expose(), "");
    }
}
