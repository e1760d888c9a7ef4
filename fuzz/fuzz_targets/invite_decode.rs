//! `invite::Invite::decode` on arbitrary strings (`amanat join INVITE`): never panics,
//! and an accepted invite is the canonical lowercase text of what it decodes to, with
//! one to 16 heads.
#![no_main]

use amanat::invite::{Invite, MAX_INVITE_HEADS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(invite) = Invite::decode(text) {
        assert!((1..=MAX_INVITE_HEADS).contains(&invite.heads.len()));
        let again = invite.encode();
        assert_eq!(Invite::decode(&again), Ok(invite));
        assert_eq!(again, text.trim().to_ascii_lowercase());
    }
});
