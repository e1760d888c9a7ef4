//! The agent's side of its socket: `agent::read_frame` over arbitrary bytes (frames
//! back to back, as a client sends them), `agent::decode` of each body as a `Request`
//! and, for `sign` and `unwrap`, the parsing the agent does before it touches a key
//! (hex, `format::decode_record`). Also each body as a `Reply`, which the client parses.
//!
//! Properties: nothing panics; no frame body is longer than the cap; reading stops at
//! the first error (a connection is dropped there).
#![no_main]

use amanat::agent::{MAX_REQUEST_LEN, Reply, Request, decode, read_frame};
use amanat::format::{decode_record, parse_hex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    // At most 16 frames per input: enough for hello + requests, bounded work.
    for _ in 0..16 {
        let body = match read_frame(&mut input, MAX_REQUEST_LEN) {
            Ok(Some(body)) => body,
            Ok(None) | Err(_) => return,
        };
        assert!(body.len() <= MAX_REQUEST_LEN as usize);
        let _ = decode::<Reply>(&body);
        match decode::<Request>(&body) {
            Ok(Request::Sign { record, .. }) => {
                if let Some(bytes) = parse_hex(&record) {
                    let _ = decode_record(&bytes);
                }
            }
            Ok(Request::Unwrap {
                info, enc, sealed, ..
            }) => {
                let _ = parse_hex(&info);
                let enc: Option<[u8; 32]> = parse_hex(&enc).and_then(|v| v.try_into().ok());
                let sealed: Option<[u8; 48]> = parse_hex(&sealed).and_then(|v| v.try_into().ok());
                let _ = (enc, sealed);
            }
            Ok(_) | Err(_) => {}
        }
    }
});
