//! Invites: `amanat-invite1…` lines that pin a new member's client to the exact vault
//! and the DAG heads the inviting admin saw (SECURITY.md item 16), so a fresh clone
//! cannot be fed a forked or older vault. Bech32 like public keys, for the checksum.

use crate::format::RecordId;
use crate::text_code;

/// Human-readable part of invites.
pub const INVITE_HRP: &str = "amanat-invite";
/// Ceiling on the heads an invite carries.
pub const MAX_INVITE_HEADS: usize = 16;

/// A decoded invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The vault id.
    pub vault: RecordId,
    /// DAG heads the vault must contain.
    pub heads: Vec<RecordId>,
}

/// Why an invite does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// Not bech32 with a valid checksum, or not an amanat invite.
    #[error("not an amanat-invite1… line (bad checksum or characters)")]
    Encoding,
    /// The payload is not a vault id plus 1 to 16 heads.
    #[error("malformed invite payload")]
    Payload,
}

impl Invite {
    /// `amanat-invite1…` text: bech32 of `vault id || head*`. At most 16 heads are
    /// carried (the newest by id order), which is always enough to pin a descendant.
    pub fn encode(&self) -> String {
        let mut data = self.vault.0.to_vec();
        for h in self.heads.iter().take(MAX_INVITE_HEADS) {
            data.extend_from_slice(&h.0);
        }
        text_code::encode(INVITE_HRP, &data)
    }

    /// Parse invite text.
    pub fn decode(text: &str) -> Result<Self, InviteError> {
        let text = text.trim();
        if text.len() > 1000 {
            return Err(InviteError::Encoding);
        }
        let data = text_code::decode(text, INVITE_HRP).map_err(|_| InviteError::Encoding)?;
        if data.len() < 64
            || !data.len().is_multiple_of(32)
            || data.len() > 32 * (1 + MAX_INVITE_HEADS)
        {
            return Err(InviteError::Payload);
        }
        let mut ids = data.chunks_exact(32).map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(c);
            RecordId(id)
        });
        let vault = ids.next().ok_or(InviteError::Payload)?;
        Ok(Self {
            vault,
            heads: ids.collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checksum() {
        let inv = Invite {
            vault: RecordId([1; 32]),
            heads: vec![RecordId([2; 32]), RecordId([3; 32])],
        };
        let text = inv.encode();
        assert!(text.starts_with("amanat-invite1"));
        assert_eq!(Invite::decode(&text), Ok(inv.clone()));
        assert_eq!(Invite::decode(&text.to_uppercase()), Ok(inv));
        let mut broken = text.into_bytes();
        let i = broken.len() - 10;
        broken[i] = if broken[i] == b'q' { b'p' } else { b'q' };
        let broken = String::from_utf8(broken).unwrap_or_default();
        assert_eq!(Invite::decode(&broken), Err(InviteError::Encoding));
        assert_eq!(Invite::decode("amanat1xyz"), Err(InviteError::Encoding));
    }
}
