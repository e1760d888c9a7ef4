//! `gitcred::Request::parse` on arbitrary bytes (what git writes to a credential
//! helper's stdin), then everything `amanat git-credential` does with a request: the
//! location, ranking fixed candidate entries, the path and URL `store` would create.
//!
//! Properties: nothing panics; ranking returns candidate indices only, and none without
//! a location; a location's URL, when it parses, parses back to the same location; a
//! new entry path passes `check_path`.
#![no_main]

use amanat::gitcred::{Candidate, Location, Request, new_entry_path, ranked, response};
use amanat::vault::check_path;
use libfuzzer_sys::fuzz_target;

const CANDIDATES: [Candidate<'static>; 5] = [
    Candidate {
        path: "git/github.com/alice",
        username: "alice",
        url: "https://github.com",
        modified: 1,
    },
    Candidate {
        path: "git/github.com/alice-org",
        username: "alice",
        url: "https://github.com/org",
        modified: 2,
    },
    Candidate {
        path: "git/example/bob",
        username: "bob",
        url: "http://Example.COM:8080/a/b.git",
        modified: 3,
    },
    Candidate {
        path: "web/no-scheme",
        username: "",
        url: "example.com",
        modified: 4,
    },
    Candidate {
        path: "web/v6",
        username: "carol",
        url: "https://user@[::1]:443/x",
        modified: 5,
    },
];

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Request::parse(data) else {
        return;
    };
    let order = ranked(&request, &CANDIDATES);
    assert!(order.iter().all(|&i| i < CANDIDATES.len()));
    let Some(location) = request.location() else {
        assert!(order.is_empty());
        return;
    };
    // A location's own URL parses back to it (normalising is idempotent), and a new
    // entry's path is one `check_path` accepts.
    if let Some(again) = Location::of_entry_url(&location.url()) {
        assert_eq!(again, location);
    }
    if let Some(username) = request.username()
        && let Some(path) = new_entry_path(&location, username)
    {
        assert!(check_path(&path).is_ok(), "{path:?}");
    }
    if let (Some(u), Some(p)) = (request.username.as_deref(), request.password.as_ref()) {
        let _ = response(u, p.expose());
    }
});
