//! The git credential helper protocol (gitcredentials(7), git-credential(1)): reading
//! git's request and deciding which entry answers it. The CLI (`amanat
//! git-credential get|store|erase`) opens the vault, prints and writes; this module
//! does neither.
//!
//! A request is `key=value` lines ended by a blank line or end of input, at most
//! [`MAX_REQUEST_BYTES`]. An entry matches a request when the scheme, host and port of
//! its stored URL equal the request's (a URL without a scheme is taken as `https://`,
//! default ports are ignored, hosts compare case-insensitively), when git sends a path
//! (`credential.useHttpPath`) the entry URL's path is that path or a prefix of it at a
//! `/` boundary (a trailing `.git` ignored on both sides), and when git names a
//! username the entry has exactly that username. Among matches the best is, in order:
//! the one whose path equals the request's (no path for a request without one), the
//! longest matching path, the most recently modified, the first by entry path.
//!
//! Not for: talking to git (the CLI does), deleting anything (`erase` never does).

use std::cmp::Reverse;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

use zeroize::Zeroizing;

use crate::crypto::SecretString;

/// Largest request read from git, in bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why a request could not be read or a response not written. Never contains a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitCredError {
    /// The request is larger than [`MAX_REQUEST_BYTES`].
    #[error("git's credential request is larger than 64 KiB")]
    TooLarge,
    /// A line without `=`.
    #[error("git's credential request has a line that is not key=value")]
    Malformed,
    /// A value git must send as UTF-8 is not.
    #[error("git's credential request has a {0} that is not UTF-8")]
    NotUtf8(&'static str),
    /// Reading the request failed.
    #[error("cannot read git's credential request: {0}")]
    Io(#[from] std::io::Error),
    /// A value to send contains a newline, carriage return or NUL, which the
    /// protocol cannot carry (and which could inject extra attributes).
    #[error("the {0} contains a newline, carriage return or NUL, which git cannot take")]
    UnsafeValue(&'static str),
}

/// A request from git. Unknown keys (`capability[]`, `wwwauth[]`, …) are ignored.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Request {
    /// `protocol=`: `https`, `http`, `ssh`, `cert`, …
    pub protocol: Option<String>,
    /// `host=`: the host name, with `:port` when the URL had one.
    pub host: Option<String>,
    /// `path=`: the repository path (only with `credential.useHttpPath`).
    pub path: Option<String>,
    /// `username=`.
    pub username: Option<String>,
    /// `password=` (sent to `store` and `erase`).
    pub password: Option<SecretString>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Request {
    /// Read a request: `key=value` lines up to a blank line or end of input.
    pub fn read(reader: impl Read) -> Result<Self, GitCredError> {
        let limit = u64::try_from(MAX_REQUEST_BYTES).unwrap_or(u64::MAX);
        let mut reader = BufReader::new(reader.take(limit + 1));
        let mut request = Self::default();
        let mut total = 0usize;
        loop {
            // The password line passes through this buffer: zeroize it.
            let mut line = Zeroizing::new(Vec::new());
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            total += n;
            if total > MAX_REQUEST_BYTES {
                return Err(GitCredError::TooLarge);
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text.is_empty() {
                break;
            }
            request.apply(text)?;
        }
        Ok(request)
    }

    /// Parse a whole request held in memory (same rules as [`Request::read`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, GitCredError> {
        Self::read(bytes)
    }

    fn apply(&mut self, line: &[u8]) -> Result<(), GitCredError> {
        let eq = line
            .iter()
            .position(|&b| b == b'=')
            .ok_or(GitCredError::Malformed)?;
        let (key, value) = (&line[..eq], &line[eq + 1..]);
        let text = |what: &'static str| {
            std::str::from_utf8(value)
                .map(str::to_string)
                .map_err(|_| GitCredError::NotUtf8(what))
        };
        match key {
            b"protocol" => self.protocol = Some(text("protocol")?),
            b"host" => self.host = Some(text("host")?),
            b"path" => self.path = Some(text("path")?),
            b"username" => self.username = Some(text("username")?),
            b"password" => self.password = Some(SecretString::new(text("password")?)),
            // As git does, `url=` replaces every part it carries.
            b"url" => {
                let url = Zeroizing::new(text("url")?);
                *self = Self::from_url(&url);
            }
            _ => {}
        }
        Ok(())
    }

    /// The parts of a `scheme://[user[:password]@]host[:port][/path]` URL.
    fn from_url(url: &str) -> Self {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Self::default();
        };
        let (authority, path) = split_authority(rest);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (
                    Some(percent_decode(n)),
                    Some(SecretString::new(percent_decode(p))),
                ),
                None => (Some(percent_decode(u)), None),
            },
            None => (None, None),
        };
        let path = percent_decode(path.trim_start_matches('/'));
        Self {
            protocol: Some(scheme.to_string()),
            host: Some(host.to_string()),
            path: (!path.is_empty()).then_some(path),
            username,
            password,
        }
    }

    /// Where git wants to log in, or `None` without a protocol and a valid host.
    pub fn location(&self) -> Option<Location> {
        let scheme = self.protocol.as_deref().filter(|s| valid_scheme(s))?;
        let host = self.host.as_deref()?;
        Location::new(scheme, host, self.path.as_deref().unwrap_or(""))
    }

    /// The username git names, if any (an empty one counts as none).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref().filter(|u| !u.is_empty())
    }
}

/// A normalised login location: what entries and requests are compared by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Lower-case scheme.
    pub scheme: String,
    /// Lower-case host (IPv6 literals keep their brackets).
    pub host: String,
    /// The port, `None` when absent or the scheme's default.
    pub port: Option<u16>,
    /// The path without leading or trailing `/` and without a trailing `.git`; empty
    /// for none.
    pub path: String,
}

impl Location {
    fn new(scheme: &str, host_port: &str, path: &str) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = split_host_port(host_port)?;
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        Some(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: normalize_path(path),
        })
    }

    /// The location of an entry's stored URL; `https://` is assumed when it has no
    /// scheme (`github.com`). `None` when it names no usable host.
    pub fn of_entry_url(url: &str) -> Option<Self> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) if valid_scheme(s) => (s, r),
            Some(_) => return None,
            None => ("https", url),
        };
        let (authority, path) = split_authority(rest);
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Self::new(scheme, host, &percent_decode(path))
    }

    /// `host[:port]` as a path segment for new entries (`git/<host>/<username>`).
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// `scheme://host[:port][/path]`, the URL stored in entries `store` creates.
    pub fn url(&self) -> String {
        let mut url = format!("{}://{}", self.scheme, self.host_port());
        if !self.path.is_empty() {
            url.push('/');
            // Escaped so that the URL parses back to this location: a `?` or `#` in
            // the path would end it, `%` would be decoded, spaces trimmed.
            for b in self.path.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
                    url.push(char::from(b));
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
        }
        url
    }

    /// `Some(matched path length)` when an entry at `self` answers a request for
    /// `request`, with whether the paths are equal.
    fn answers(&self, request: &Location) -> Option<(bool, usize)> {
        if self.scheme != request.scheme || self.host != request.host || self.port != request.port {
            return None;
        }
        if request.path.is_empty() {
            // Git sends no path unless credential.useHttpPath is set: every entry for
            // the host answers, one without a path best.
            return Some((self.path.is_empty(), 0));
        }
        let p = &self.path;
        let under = p.is_empty()
            || request.path == *p
            || request
                .path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        under.then_some((request.path == *p, p.len()))
    }
}

/// One readable entry, as far as matching needs it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The amanat entry path (last tie-break).
    pub path: &'a str,
    /// The entry's username.
    pub username: &'a str,
    /// The entry's URL.
    pub url: &'a str,
    /// Last modification (seconds since the epoch).
    pub modified: u64,
}

/// The indices of the candidates that answer `request`, best first (module docs: the
/// rules); empty when none matches. Deterministic: equal candidates are ordered by
/// entry path, then by position.
pub fn ranked(request: &Request, candidates: &[Candidate<'_>]) -> Vec<usize> {
    let Some(wanted) = request.location() else {
        return Vec::new();
    };
    let username = request.username();
    let mut scored: Vec<_> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| username.is_none_or(|u| u == c.username))
        .filter_map(|(i, c)| {
            let (exact, depth) = Location::of_entry_url(c.url)?.answers(&wanted)?;
            Some((
                (
                    Reverse(exact),
                    Reverse(depth),
                    Reverse(c.modified),
                    c.path,
                    i,
                ),
                i,
            ))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// The index of the candidate that best answers `request`, or `None` when none
/// matches ([`ranked`]'s first).
pub fn best_match(request: &Request, candidates: &[Candidate<'_>]) -> Option<usize> {
    ranked(request, candidates).first().copied()
}

/// An entry that answers a `store` request, as [`store_action`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMatch {
    /// Its current password is the one git stores.
    pub holds: bool,
    /// Its password is empty (`get` never answers with it).
    pub empty: bool,
    /// You created it, and nobody but you (and the admins, who read every entry) can
    /// read or write its current revision: no direct share to anyone else, no group,
    /// no write grant to anyone else.
    pub yours_alone: bool,
}

/// What `store` does ([`store_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// Write nothing.
    Nothing,
    /// Write git's password into `matches[i]`.
    Update(usize),
    /// Create a new entry readable by you alone.
    Create,
}

/// The rule for `store` (issue 11): given the entries that answer the request, best
/// first (the order of [`ranked`]), and whether `AMANAT_GIT_STORE=create` asks for an
/// entry when none answers:
///
/// - the entry `get` answers with (the best one with a password) already holds git's
///   password: git used it; nothing to write (the usual case);
/// - otherwise git's password did not come from amanat (a prompt, another helper, a
///   URL). It is written only into an entry of yours alone (the best such one; nothing
///   if it already holds it): **never into an entry another member can read**, since
///   anyone could make an entry that matches your host (with your username and an
///   empty password, so `get` skips it and git prompts you) and share it with you;
/// - with no such entry, a new one readable by you alone is created when some entry
///   answered (the user keeps credentials for this host in amanat) or when asked to.
pub fn store_action(matches: &[StoreMatch], create_when_none: bool) -> StoreAction {
    if matches.iter().find(|m| !m.empty).is_some_and(|m| m.holds) {
        return StoreAction::Nothing;
    }
    if let Some(i) = matches.iter().position(|m| m.yours_alone) {
        return if matches[i].holds {
            StoreAction::Nothing
        } else {
            StoreAction::Update(i)
        };
    }
    if matches.is_empty() && !create_when_none {
        StoreAction::Nothing
    } else {
        StoreAction::Create
    }
}

/// The `username=`/`password=` lines for `get` (no `username=` line when it is
/// empty). Refuses values that would break or inject into the protocol.
pub fn response(username: &str, password: &str) -> Result<Zeroizing<String>, GitCredError> {
    let unsafe_value = |v: &str| v.contains(['\n', '\r', '\0']);
    if unsafe_value(username) {
        return Err(GitCredError::UnsafeValue("username"));
    }
    if unsafe_value(password) {
        return Err(GitCredError::UnsafeValue("password"));
    }
    let mut out = Zeroizing::new(String::with_capacity(username.len() + password.len() + 20));
    if !username.is_empty() {
        out.push_str("username=");
        out.push_str(username);
        out.push('\n');
    }
    out.push_str("password=");
    out.push_str(password);
    out.push('\n');
    Ok(out)
}

/// The path `store` creates an entry at (`git/<host[:port]>/<username>`), or `None`
/// when the username cannot be one path segment.
pub fn new_entry_path(location: &Location, username: &str) -> Option<String> {
    let segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && !s.contains('/')
            && s.trim() == s
            && !s.chars().any(char::is_control)
    };
    let host = location.host_port();
    let path = format!("git/{host}/{username}");
    // Whatever else `check_path` refuses (a path over 512 bytes) is refused here too.
    (segment(username) && segment(&host) && crate::vault::check_path(&path).is_ok()).then_some(path)
}

fn valid_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `authority` and `path` (query and fragment dropped) of what follows `scheme://`.
fn split_authority(rest: &str) -> (&str, &str) {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let path = if tail.starts_with('/') {
        let stop = tail.find(['?', '#']).unwrap_or(tail.len());
        &tail[..stop]
    } else {
        ""
    };
    (authority, path)
}

/// `host` and optional port of `host[:port]` or `[v6]:port`; `None` when the host is
/// empty or holds characters no host name has.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let (h, rest) = s.split_at(close + 1);
        match rest {
            "" => (h, None),
            r => (h, Some(r.strip_prefix(':')?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    let bad = |c: char| c.is_whitespace() || c.is_control() || "/?#@\\".contains(c);
    // Only a bracketed IPv6 literal holds a ':' (`a:b:` is not host `a:b`, empty port).
    if host.is_empty() || host.chars().any(bad) || (!host.starts_with('[') && host.contains(':')) {
        return None;
    }
    Some((host, port))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "ssh" => Some(22),
        "git" => Some(9418),
        "ftp" => Some(21),
        "ftps" => Some(990),
        _ => None,
    }
}

/// Without surrounding `/` and trailing `.git`s, repeated until nothing changes, so
/// that normalising twice gives the same path (`org/.git.git` → `org`).
fn normalize_path(path: &str) -> String {
    let mut p = path.trim_matches('/');
    while let Some(stripped) = p.strip_suffix(".git") {
        p = stripped.trim_end_matches('/');
    }
    p.to_string()
}

/// Decode `%XX` escapes; a malformed escape or a non-UTF-8 result leaves the text as
/// it was.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Request {
        Request::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cand<'a>(path: &'a str, username: &'a str, url: &'a str, modified: u64) -> Candidate<'a> {
        Candidate {
            path,
            username,
            url,
            modified,
        }
    }

    #[test]
    fn reads_a_request_up_to_the_blank_line() {
        let r = req(
            "protocol=https\nhost=github.com\nusername=alice\npassword=s3=cret\ncapability[]=authtype\n\nhost=evil.example\n",
        );
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("github.com"));
        assert_eq!(r.username.as_deref(), Some("alice"));
        assert_eq!(
            r.password.as_ref().map(SecretString::expose),
            Some("s3=cret")
        );
        assert_eq!(r.path, None);
        // End of input without a blank line or a final newline is fine too.
        assert_eq!(req("protocol=https\nhost=x").host.as_deref(), Some("x"));
        assert_eq!(req(""), Request::default());
    }

    #[test]
    fn url_sets_every_part() {
        let r = req("host=old\nurl=https://bob:pa%40ss@git.example.com:8443/team/repo.git\n");
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("git.example.com:8443"));
        assert_eq!(r.path.as_deref(), Some("team/repo.git"));
        assert_eq!(r.username.as_deref(), Some("bob"));
        assert_eq!(r.password.as_ref().map(SecretString::expose), Some("pa@ss"));
        // Later keys override it.
        assert_eq!(
            req("url=https://a.example/\nhost=b.example\n")
                .host
                .as_deref(),
            Some("b.example")
        );
    }

    #[test]
    fn refuses_bad_requests_without_panicking() {
        assert!(matches!(
            Request::parse(b"protocol=https\nnonsense\n"),
            Err(GitCredError::Malformed)
        ));
        assert!(matches!(
            Request::parse(b"host=\xff\xfe\n"),
            Err(GitCredError::NotUtf8("host"))
        ));
        // Non-UTF-8 in a key we ignore is ignored.
        assert!(Request::parse(b"wwwauth[]=\xff\n").is_ok());
        let big = format!("host={}\n", "a".repeat(MAX_REQUEST_BYTES));
        assert!(matches!(
            Request::parse(big.as_bytes()),
            Err(GitCredError::TooLarge)
        ));
        let many = "x=y\n".repeat(MAX_REQUEST_BYTES / 4 + 1);
        assert!(matches!(
            Request::parse(many.as_bytes()),
            Err(GitCredError::TooLarge)
        ));
        // Exactly at the limit is accepted.
        let at = format!("host={}\n", "a".repeat(MAX_REQUEST_BYTES - 6));
        assert!(Request::parse(at.as_bytes()).is_ok());
        for odd in [
            "url=\n",
            "url=https://\n",
            "url=https://[::1\n",
            "url=://x\n",
            "url=%\n",
            "host=[\n",
            "host=:\nprotocol=https\n",
        ] {
            let r = req(odd);
            let _ = r.location();
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let r = req("protocol=https\nhost=x\npassword=hunter2\n");
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn locations_normalise() {
        let l = Location::of_entry_url("HTTPS://GitHub.com:443/Org/Repo.git/");
        assert_eq!(
            l,
            Some(Location {
                scheme: "https".into(),
                host: "github.com".into(),
                port: None,
                path: "Org/Repo".into(),
            })
        );
        let l = Location::of_entry_url("github.com/login?next=/x#top");
        assert_eq!(
            l.as_ref().map(|l| l.url()).as_deref(),
            Some("https://github.com/login")
        );
        let l = Location::of_entry_url("http://[::1]:8080/a");
        assert_eq!(
            l.as_ref().map(|l| l.host_port()).as_deref(),
            Some("[::1]:8080")
        );
        for bad in [
            "",
            "   ",
            "https://",
            "https://:443",
            "1http://x",
            "foo bar",
            "https://x:99999",
            // A ':' in an unbracketed host (what `host=a:b:` would give).
            "https://a:b:",
            "https://a:b:443/x",
        ] {
            assert_eq!(Location::of_entry_url(bad), None, "{bad:?}");
        }
        // Normalising is idempotent: a location's own URL parses back to it.
        for url in [
            "https://h/org/.git.git",
            "https://h/repo.git.git/",
            "https://h/a/.git/",
        ] {
            let l = Location::of_entry_url(url).unwrap_or_else(|| panic!("{url}"));
            assert_eq!(Location::of_entry_url(&l.url()).as_ref(), Some(&l), "{url}");
        }
        assert_eq!(
            Location::of_entry_url("https://h/org/.git.git").map(|l| l.path),
            Some("org".to_string())
        );
        // Characters that end or change a URL's path are escaped in `url()`.
        let odd = req("protocol=https\nhost=h\npath=a?b#c%41 d/é \n")
            .location()
            .unwrap_or_else(|| panic!("location"));
        assert_eq!(odd.url(), "https://h/a%3Fb%23c%2541%20d/%C3%A9%20");
        assert_eq!(Location::of_entry_url(&odd.url()), Some(odd));
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let r = req("protocol=https\nhost=github.com\n");
        let c = [
            cand("a", "u", "http://github.com", 9),
            cand("b", "u", "https://github.com.evil.example", 9),
            cand("c", "u", "https://gitlab.com", 9),
            cand("d", "u", "https://github.com:8443", 9),
            cand("e", "u", "", 9),
        ];
        assert_eq!(best_match(&r, &c), None);
        let c = [cand("a", "u", "https://GITHUB.com:443/", 1)];
        assert_eq!(best_match(&r, &c), Some(0));
        let r = req("protocol=https\nhost=git.example.com:8443\n");
        let c = [
            cand("a", "u", "https://git.example.com", 9),
            cand("b", "u", "https://git.example.com:8443/x", 1),
        ];
        assert_eq!(best_match(&r, &c), Some(1));
    }

    #[test]
    fn a_request_without_protocol_or_host_matches_nothing() {
        let c = [cand("a", "u", "https://github.com", 1)];
        assert_eq!(best_match(&req("host=github.com\n"), &c), None);
        assert_eq!(best_match(&req("protocol=https\n"), &c), None);
        assert_eq!(best_match(&req("protocol=cert\npath=/k.pem\n"), &c), None);
    }

    #[test]
    fn paths_match_by_longest_prefix_at_a_slash() {
        let r = req("protocol=https\nhost=git.example.com\npath=team-a/repo.git\n");
        let c = [
            cand("host", "u", "https://git.example.com", 50),
            cand("team", "u", "https://git.example.com/team-a", 10),
            cand("other", "u", "https://git.example.com/team-b", 99),
            cand(
                "prefix-not-at-slash",
                "u",
                "https://git.example.com/team",
                99,
            ),
        ];
        assert_eq!(best_match(&r, &c), Some(1));
        let exact = [
            c[0],
            c[1],
            cand("repo", "u", "https://git.example.com/team-a/repo", 1),
        ];
        assert_eq!(best_match(&r, &exact), Some(2));
        // A deeper entry path does not answer a shallower request.
        let r = req("protocol=https\nhost=git.example.com\npath=team-a\n");
        let c = [cand("repo", "u", "https://git.example.com/team-a/repo", 1)];
        assert_eq!(best_match(&r, &c), None);
    }

    #[test]
    fn without_a_path_the_host_entry_wins_then_the_newest() {
        let r = req("protocol=https\nhost=github.com\n");
        let c = [
            cand("web/a", "carol", "https://github.com/acme", 99),
            cand("web/b", "alice", "https://github.com", 10),
            cand("web/c", "bob", "https://github.com/", 20),
        ];
        assert_eq!(best_match(&r, &c), Some(2));
        let c = [c[0]];
        assert_eq!(best_match(&r, &c), Some(0));
    }

    #[test]
    fn ties_resolve_by_entry_path_then_position() {
        let r = req("protocol=https\nhost=github.com\n");
        let c = [
            cand("web/z", "a", "https://github.com", 5),
            cand("web/m", "b", "https://github.com", 5),
            cand("web/m", "c", "https://github.com", 5),
        ];
        assert_eq!(best_match(&r, &c), Some(1));
    }

    #[test]
    fn ranked_orders_every_match_best_first() {
        let r = req("protocol=https\nhost=git.example.com\npath=team-a/repo.git\n");
        let c = [
            cand("host-old", "u", "https://git.example.com", 1),
            cand("elsewhere", "u", "https://gitlab.com", 99),
            cand("team", "u", "https://git.example.com/team-a", 5),
            cand("host-new", "u", "https://git.example.com", 2),
            cand("repo", "u", "https://git.example.com/team-a/repo", 0),
        ];
        assert_eq!(ranked(&r, &c), vec![4, 2, 3, 0]);
        assert_eq!(ranked(&req("host=x\n"), &c), Vec::<usize>::new());
    }

    #[test]
    fn a_named_username_filters() {
        let c = [
            cand("a", "alice", "https://github.com", 1),
            cand("b", "bob", "https://github.com", 2),
        ];
        let r = req("protocol=https\nhost=github.com\nusername=alice\n");
        assert_eq!(best_match(&r, &c), Some(0));
        let r = req("protocol=https\nhost=github.com\nusername=carol\n");
        assert_eq!(best_match(&r, &c), None);
        let r = req("protocol=https\nhost=github.com\nusername=\n");
        assert_eq!(best_match(&r, &c), Some(1));
    }

    #[test]
    fn response_refuses_injection() {
        assert_eq!(
            response("alice", "tok")
                .map(|s| s.to_string())
                .ok()
                .as_deref(),
            Some("username=alice\npassword=tok\n")
        );
        assert_eq!(
            response("", "tok").map(|s| s.to_string()).ok().as_deref(),
            Some("password=tok\n")
        );
        for (u, p) in [
            ("alice\nhost=evil", "x"),
            ("alice", "x\nusername=root"),
            ("alice", "x\r"),
            ("a\0", "x"),
        ] {
            assert!(matches!(response(u, p), Err(GitCredError::UnsafeValue(_))));
        }
    }

    #[test]
    fn store_writes_only_into_an_entry_of_yours_alone() {
        let m = |holds, empty, yours_alone| StoreMatch {
            holds,
            empty,
            yours_alone,
        };
        use StoreAction::{Create, Nothing, Update};
        // Nothing answers: only `create` makes an entry.
        assert_eq!(store_action(&[], false), Nothing);
        assert_eq!(store_action(&[], true), Create);
        // git used what `get` gave it: nothing to write, whoever owns the entry.
        assert_eq!(store_action(&[m(true, false, false)], false), Nothing);
        assert_eq!(store_action(&[m(true, false, true)], false), Nothing);
        // A new password for your own private entry: update it (an empty one too).
        assert_eq!(store_action(&[m(false, false, true)], false), Update(0));
        assert_eq!(store_action(&[m(false, true, true)], false), Update(0));
        // Issue 11: someone else's matching entry with an empty password (skipped by
        // `get`, so git prompted) ranks first; it is never written into.
        assert_eq!(store_action(&[m(false, true, false)], false), Create);
        assert_eq!(
            store_action(&[m(false, true, false), m(false, false, true)], false),
            Update(1)
        );
        // Nor is a shared entry with another password (git got this one elsewhere).
        assert_eq!(store_action(&[m(false, false, false)], false), Create);
        // `get` skips the empty planted entry and answers with yours: git used it.
        assert_eq!(
            store_action(&[m(false, true, false), m(true, false, true)], false),
            Nothing
        );
        // Your private entry already holds it, below a foreign one with another value.
        assert_eq!(
            store_action(&[m(false, false, false), m(true, false, true)], false),
            Nothing
        );
    }

    #[test]
    fn new_entry_paths() {
        let l = Location::of_entry_url("https://git.example.com:8443/x").unwrap_or_else(|| {
            panic!("location");
        });
        assert_eq!(
            new_entry_path(&l, "bob").as_deref(),
            Some("git/git.example.com:8443/bob")
        );
        assert_eq!(new_entry_path(&l, "a/b"), None);
        assert_eq!(new_entry_path(&l, ""), None);
        assert_eq!(new_entry_path(&l, " bob"), None);
        // `.` and `..` are not path segments (check_path refuses them).
        assert_eq!(new_entry_path(&l, "."), None);
        assert_eq!(new_entry_path(&l, ".."), None);
        let dots = Location::of_entry_url("https://../x").unwrap_or_else(|| panic!("location"));
        assert_eq!(new_entry_path(&dots, "bob"), None);
        assert_eq!(new_entry_path(&l, &"u".repeat(600)), None);
        assert_eq!(l.url(), "https://git.example.com:8443/x");
    }
}
