//! A person's identity: X25519 + Ed25519 key pairs, the secret halves sealed under
//! Argon2id(passphrase) in a local file; the public halves as `amanat1…` text and a
//! short fingerprint.
//!
//! File layout (docs/format.md, "Identity file"): `"AMANATID" || 0x01 ||
//! postcard(IdentityHeader) || postcard(bytes: sealed secrets)`. Everything before the
//! sealed bytes, the KDF parameters included, is the AEAD's associated data, so changing
//! a parameter without the passphrase makes the file fail to open. This module does no
//! I/O: `store` reads and writes the file.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{
    self, AgreementSecret, CryptoError, KdfParams, SecretString, SigningSecret, SymmetricKey,
};
use crate::format::{PublicKeys, parse_hex};
use crate::text_code::{self, TextError};

/// First bytes of an identity file.
pub const IDENTITY_MAGIC: &[u8; 8] = b"AMANATID";
/// Identity file version.
pub const IDENTITY_VERSION: u8 = 1;
/// Human-readable part of the public key text.
pub const PUBLIC_KEY_HRP: &str = "amanat";
/// Ceiling on an identity file's size.
pub const MAX_IDENTITY_LEN: usize = 4096;
const SECRETS_LEN: usize = 64;

/// Errors of identity handling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// The file is not an identity file of a version this build reads, or is damaged.
    #[error("malformed identity file ({0})")]
    Malformed(&'static str),
    /// The passphrase is wrong (or the file was tampered with: indistinguishable).
    #[error("wrong passphrase, or the identity file was modified")]
    WrongPassphrase,
    /// The KDF parameters are refused.
    #[error(transparent)]
    Kdf(CryptoError),
    /// A public key text that does not parse.
    #[error("invalid public key text ({0})")]
    PublicKeyText(&'static str),
    /// A key proof text (`amanat-rekey1…`) that does not parse.
    #[error("invalid key proof ({0})")]
    KeyProofText(&'static str),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The name is empty, too long or contains control characters.
    #[error("invalid identity name")]
    Name,
}

/// The authenticated, clear part of the identity file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IdentityHeader {
    name: String,
    keys: PublicKeys,
    kdf: KdfParams,
    insecure_kdf: bool,
    salt: [u8; 16],
    nonce: [u8; 24],
}

/// Why a [`Keyholder`] could not sign or open a key wrap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyholderError {
    /// The holder stopped being unlocked mid-operation (the agent locked or timed out).
    #[error("the identity is locked: {0}")]
    Locked(String),
    /// The key wrap did not open: not addressed to this identity, or modified.
    #[error("key wrap did not open")]
    Integrity,
    /// The holder refused the request or could not answer (a dead agent, a bad reply).
    #[error("{0}")]
    Failed(String),
}

/// What the vault needs from an unlocked identity: its public keys, signatures on
/// records, and opening the key wraps addressed to it. The secret keys stay with the
/// holder: an [`Identity`] in this process, or the unlock agent (`agent::AgentKeys`),
/// which answers over its socket and never hands the secret keys out.
pub trait Keyholder: std::fmt::Debug {
    /// Display name.
    fn name(&self) -> &str;
    /// Public keys.
    fn keys(&self) -> &PublicKeys;
    /// Sign an encoded vault record under [`crypto::SIGNATURE_LABEL`].
    fn sign_record(&self, record: &[u8]) -> Result<[u8; crypto::SIGNATURE_LEN], KeyholderError>;
    /// Open an HPKE key wrap made to this identity's agreement key with `info`.
    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &crypto::HpkeWrapped,
    ) -> Result<SymmetricKey, KeyholderError>;
}

impl Keyholder for Identity {
    fn name(&self) -> &str {
        &self.name
    }
    fn keys(&self) -> &PublicKeys {
        &self.keys
    }
    fn sign_record(&self, record: &[u8]) -> Result<[u8; crypto::SIGNATURE_LEN], KeyholderError> {
        Ok(self.signing.sign(crypto::SIGNATURE_LABEL, record))
    }
    fn unwrap_key(
        &self,
        info: &[u8],
        wrapped: &crypto::HpkeWrapped,
    ) -> Result<SymmetricKey, KeyholderError> {
        crypto::hpke_unwrap(&self.agreement, info, wrapped).map_err(|_| KeyholderError::Integrity)
    }
}

/// An unlocked identity. Secret keys are zeroized on drop and never printed.
#[derive(Debug)]
pub struct Identity {
    /// Display name.
    pub name: String,
    /// Public keys.
    pub keys: PublicKeys,
    /// X25519 secret.
    pub agreement: AgreementSecret,
    /// Ed25519 secret.
    pub signing: SigningSecret,
    /// The KDF parameters the file uses.
    pub kdf: KdfParams,
    /// Whether they were allowed below the floor.
    pub insecure_kdf: bool,
}

/// What can be read from an identity file without the passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    /// Display name.
    pub name: String,
    /// Public keys.
    pub keys: PublicKeys,
    /// KDF parameters.
    pub kdf: KdfParams,
    /// Whether the KDF is below the floor.
    pub insecure_kdf: bool,
}

impl Identity {
    /// Make a fresh identity. Its name follows the member-name rule
    /// ([`crate::format::check_name`]), in NFC, so that `init` and `member add` agree.
    pub fn generate(name: &str) -> Result<Self, IdentityError> {
        let name = crate::format::check_name(crate::format::NameKind::Member, name)
            .map_err(|_| IdentityError::Name)?;
        let name = name.as_str();
        let agreement = AgreementSecret::generate().map_err(|_| IdentityError::Random)?;
        let signing = SigningSecret::generate().map_err(|_| IdentityError::Random)?;
        let keys = PublicKeys {
            agreement: agreement.public().map_err(|_| IdentityError::Random)?,
            signing: signing.public(),
        };
        Ok(Self {
            name: name.to_string(),
            keys,
            agreement,
            signing,
            kdf: KdfParams::DEFAULT,
            insecure_kdf: false,
        })
    }

    /// Seal the secret keys under `passphrase` with `params` into file bytes.
    pub fn seal(
        &self,
        passphrase: &SecretString,
        params: KdfParams,
        insecure: bool,
    ) -> Result<Vec<u8>, IdentityError> {
        params.check(insecure).map_err(IdentityError::Kdf)?;
        let salt: [u8; 16] = crypto::random_array().map_err(|_| IdentityError::Random)?;
        let nonce: [u8; 24] = crypto::random_array().map_err(|_| IdentityError::Random)?;
        let header = IdentityHeader {
            name: self.name.clone(),
            keys: self.keys,
            kdf: params,
            insecure_kdf: insecure && params.below_floor(),
            salt,
            nonce,
        };
        let mut out = IDENTITY_MAGIC.to_vec();
        out.push(IDENTITY_VERSION);
        let encoded =
            postcard::to_allocvec(&header).map_err(|_| IdentityError::Malformed("encode"))?;
        out.extend_from_slice(&encoded);
        let kek =
            crypto::derive_kek(passphrase, &salt, params, insecure).map_err(IdentityError::Kdf)?;
        let mut secrets = Zeroizing::new([0u8; SECRETS_LEN]);
        secrets[..32].copy_from_slice(self.agreement.expose());
        secrets[32..].copy_from_slice(&*self.signing.seed());
        let sealed = crypto::seal_with_nonce(&kek, &nonce, &out, &*secrets)
            .map_err(|_| IdentityError::Malformed("seal"))?;
        let tail = postcard::to_allocvec(&serde_bytes::Bytes::new(&sealed))
            .map_err(|_| IdentityError::Malformed("encode"))?;
        out.extend_from_slice(&tail);
        Ok(out)
    }

    /// Open identity file bytes with a passphrase.
    pub fn unlock(bytes: &[u8], passphrase: &SecretString) -> Result<Self, IdentityError> {
        let (header, aad_len, sealed) = parse(bytes)?;
        let kek = derive(passphrase, &header)?;
        Self::open_with_kek(&header, &bytes[..aad_len], &sealed, &kek)
    }

    fn open_with_kek(
        header: &IdentityHeader,
        aad: &[u8],
        sealed: &[u8],
        kek: &SymmetricKey,
    ) -> Result<Self, IdentityError> {
        let secrets = crypto::open(kek, &header.nonce, aad, sealed)
            .map_err(|_| IdentityError::WrongPassphrase)?;
        let secrets: &[u8; SECRETS_LEN] = secrets
            .as_slice()
            .try_into()
            .map_err(|_| IdentityError::Malformed("secret keys"))?;
        let mut a = [0u8; 32];
        a.copy_from_slice(&secrets[..32]);
        let agreement = AgreementSecret::from_bytes(a);
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&secrets[32..]);
        let signing = SigningSecret::from_seed(&seed);
        // The secrets must belong to the public keys in the header.
        let keys = PublicKeys {
            agreement: agreement
                .public()
                .map_err(|_| IdentityError::Malformed("secret keys"))?,
            signing: signing.public(),
        };
        if keys != header.keys {
            return Err(IdentityError::Malformed("keys do not match"));
        }
        Ok(Self {
            name: header.name.clone(),
            keys,
            agreement,
            signing,
            kdf: header.kdf,
            insecure_kdf: header.insecure_kdf,
        })
    }

    /// `amanat1…` text of the public keys.
    pub fn public_key_text(&self) -> String {
        public_key_text(&self.keys)
    }

    /// Fingerprint of the public keys.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.keys)
    }
}

/// Read the clear part of an identity file (no passphrase needed).
pub fn inspect(bytes: &[u8]) -> Result<IdentityInfo, IdentityError> {
    let (h, _, _) = parse(bytes)?;
    Ok(IdentityInfo {
        name: h.name,
        keys: h.keys,
        kdf: h.kdf,
        insecure_kdf: h.insecure_kdf,
    })
}

fn derive(
    passphrase: &SecretString,
    header: &IdentityHeader,
) -> Result<SymmetricKey, IdentityError> {
    // The ceiling is checked before Argon2 allocates anything; the floor is relaxed only
    // when the authenticated header says the file was made with --insecure-kdf (a
    // forged flag makes the AEAD fail, after at most the ceiling's cost).
    crypto::derive_kek(passphrase, &header.salt, header.kdf, header.insecure_kdf)
        .map_err(IdentityError::Kdf)
}

fn parse(bytes: &[u8]) -> Result<(IdentityHeader, usize, Vec<u8>), IdentityError> {
    if bytes.len() > MAX_IDENTITY_LEN {
        return Err(IdentityError::Malformed("too large"));
    }
    let rest = bytes
        .strip_prefix(IDENTITY_MAGIC.as_slice())
        .ok_or(IdentityError::Malformed("bad magic"))?;
    let (&version, rest) = rest
        .split_first()
        .ok_or(IdentityError::Malformed("truncated"))?;
    if version != IDENTITY_VERSION {
        return Err(IdentityError::Malformed("unsupported version"));
    }
    let (header, tail): (IdentityHeader, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|_| IdentityError::Malformed("header"))?;
    let aad_len = bytes.len() - tail.len();
    let (sealed, trailing): (&[u8], &[u8]) = postcard::take_from_bytes::<&serde_bytes::Bytes>(tail)
        .map(|(b, t)| (b.as_ref(), t))
        .map_err(|_| IdentityError::Malformed("sealed keys"))?;
    if !trailing.is_empty() {
        return Err(IdentityError::Malformed("trailing bytes"));
    }
    // Canonical: exactly a one-byte length (80) and the 80 sealed bytes.
    if sealed.len() != SECRETS_LEN + crypto::TAG_LEN || tail.len() != 1 + sealed.len() {
        return Err(IdentityError::Malformed("sealed keys"));
    }
    let again = postcard::to_allocvec(&header).map_err(|_| IdentityError::Malformed("header"))?;
    if again.as_slice() != &bytes[9..aad_len] {
        return Err(IdentityError::Malformed("non-canonical header"));
    }
    check_name(&header.name).map_err(|_| IdentityError::Malformed("name"))?;
    if header.insecure_kdf != header.kdf.below_floor() {
        return Err(IdentityError::Malformed("insecure-kdf flag"));
    }
    header
        .kdf
        .check(header.insecure_kdf)
        .map_err(IdentityError::Kdf)?;
    Ok((header, aad_len, sealed.to_vec()))
}

fn check_name(name: &str) -> Result<(), IdentityError> {
    if name.is_empty()
        || name.len() > crate::format::MAX_NAME_LEN
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '@')
    {
        return Err(IdentityError::Name);
    }
    Ok(())
}

/// `amanat1…`: bech32 (BIP 173 checksum) of `agreement || signing`.
pub fn public_key_text(keys: &PublicKeys) -> String {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&keys.agreement);
    data[32..].copy_from_slice(&keys.signing);
    text_code::encode(PUBLIC_KEY_HRP, &data)
}

/// Parse `amanat1…` text; checks the checksum and that both keys are valid.
pub fn parse_public_key_text(text: &str) -> Result<PublicKeys, IdentityError> {
    let text = text.trim();
    if text.len() > 200 {
        return Err(IdentityError::PublicKeyText("too long"));
    }
    let data = text_code::decode(text, PUBLIC_KEY_HRP).map_err(|e| {
        IdentityError::PublicKeyText(match e {
            TextError::Checksum => "bad checksum or characters",
            TextError::Kind => "does not start with amanat1",
            TextError::Padding => "not in canonical form (nonzero padding bits)",
        })
    })?;
    let data: [u8; 64] = data
        .try_into()
        .map_err(|_| IdentityError::PublicKeyText("wrong length"))?;
    let mut keys = PublicKeys {
        agreement: [0; 32],
        signing: [0; 32],
    };
    keys.agreement.copy_from_slice(&data[..32]);
    keys.signing.copy_from_slice(&data[32..]);
    crypto::check_agreement_public(&keys.agreement)
        .map_err(|_| IdentityError::PublicKeyText("invalid X25519 key"))?;
    crypto::check_signing_public(&keys.signing)
        .map_err(|_| IdentityError::PublicKeyText("invalid Ed25519 key"))?;
    Ok(keys)
}

/// Fingerprint: the first 128 bits of `SHA-256("amanat/v1/fingerprint", agreement,
/// signing)` as eight groups of four uppercase hex digits.
pub fn fingerprint(keys: &PublicKeys) -> String {
    let h = crypto::labeled_hash(crypto::FINGERPRINT_LABEL, &[&keys.agreement, &keys.signing]);
    let hex = crate::format::hex_string(&h[..16]).to_uppercase();
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Compare a fingerprint typed by a person (any case, dashes and spaces optional) with
/// the fingerprint of `keys`, in constant time.
pub fn fingerprint_matches(keys: &PublicKeys, typed: &str) -> bool {
    use subtle::ConstantTimeEq;
    let clean: String = typed.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let Some(typed) = parse_hex(&clean) else {
        return false;
    };
    let h = crypto::labeled_hash(crypto::FINGERPRINT_LABEL, &[&keys.agreement, &keys.signing]);
    typed.len() == 16 && bool::from(typed.as_slice().ct_eq(&h[..16]))
}

/// First line of an armored identity (`identity export`).
pub const ARMOR_BEGIN: &str = "-----BEGIN AMANAT IDENTITY-----";
/// Last line of an armored identity.
pub const ARMOR_END: &str = "-----END AMANAT IDENTITY-----";
/// Label of the armor's checksum.
pub const ARMOR_CHECKSUM_LABEL: &str = "amanat/v1/identity-armor";
/// Ceiling on armored text (the file is at most 4 KiB; base64 and lines add a third).
pub const MAX_ARMOR_LEN: usize = 16 * 1024;

fn armor_checksum(bytes: &[u8]) -> String {
    let h = crypto::labeled_hash(ARMOR_CHECKSUM_LABEL, &[bytes]);
    crate::format::hex_string(&h[..8])
}

/// The identity file as text (docs/format.md, "Armored identity"): the BEGIN line,
/// the file's bytes in base64 (64 characters a line), `checksum: ` and 16 hex digits,
/// the END line. Still sealed under the passphrase: armoring adds no protection and
/// removes none.
pub fn armor(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(b64.len() + 200);
    out.push_str(ARMOR_BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("checksum: ");
    out.push_str(&armor_checksum(bytes));
    out.push('\n');
    out.push_str(ARMOR_END);
    out.push('\n');
    out
}

/// Identity file bytes from an export: armored text ([`armor`]; lines before the
/// BEGIN line and after the END line are ignored, as in a mail), or a raw identity
/// file. Checks the armor's checksum and that the bytes parse as an identity file
/// (not the passphrase: [`Identity::unlock`] does). Every failure is `Malformed`.
pub fn dearmor(input: &[u8]) -> Result<Vec<u8>, IdentityError> {
    if input.starts_with(IDENTITY_MAGIC) {
        parse(input)?;
        return Ok(input.to_vec());
    }
    if input.len() > MAX_ARMOR_LEN {
        return Err(IdentityError::Malformed("too large"));
    }
    let text = std::str::from_utf8(input).map_err(|_| IdentityError::Malformed("not text"))?;
    let mut lines = text.lines().map(str::trim);
    if !lines.any(|l| l == ARMOR_BEGIN) {
        return Err(IdentityError::Malformed("no BEGIN AMANAT IDENTITY line"));
    }
    let mut b64 = String::new();
    let mut checksum = None;
    let mut ended = false;
    for line in lines.by_ref() {
        if line == ARMOR_END {
            ended = true;
            break;
        }
        if let Some(c) = line.strip_prefix("checksum:") {
            if checksum.replace(c.trim().to_ascii_lowercase()).is_some() {
                return Err(IdentityError::Malformed("two checksum lines"));
            }
        } else if checksum.is_some() {
            return Err(IdentityError::Malformed("text after the checksum"));
        } else {
            b64.push_str(line);
        }
    }
    if !ended {
        return Err(IdentityError::Malformed(
            "no END AMANAT IDENTITY line (truncated?)",
        ));
    }
    if lines.any(|l| l == ARMOR_BEGIN) {
        return Err(IdentityError::Malformed("more than one identity"));
    }
    let checksum = checksum.ok_or(IdentityError::Malformed("no checksum line"))?;
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| IdentityError::Malformed("not base64"))?;
    if bytes.len() > MAX_IDENTITY_LEN {
        return Err(IdentityError::Malformed("too large"));
    }
    let expected = armor_checksum(&bytes);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        checksum.as_bytes(),
    )) {
        return Err(IdentityError::Malformed(
            "checksum does not match (damaged)",
        ));
    }
    parse(&bytes)?;
    Ok(bytes)
}

/// Human-readable part of a key proof (`amanat-rekey1…`).
pub const KEY_PROOF_HRP: &str = "amanat-rekey";

/// A new key's proof of possession for a key replacement (`identity proof`, read by
/// `member rekey`): the holder of the new keys signs, with the new signing key, the
/// key change message for this vault and member (docs/format.md, "Key changes").
/// As text: bech32 (`amanat-rekey1…`) of `vault id (32) || member id (16) ||
/// agreement (32) || signing (32) || signature (64)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProof {
    /// The vault the proof is for.
    pub vault: crate::format::RecordId,
    /// The member whose keys are replaced.
    pub member: crate::format::MemberId,
    /// The new keys.
    pub keys: PublicKeys,
    /// Ed25519 by `keys.signing` over the key change message.
    pub signature: [u8; crypto::SIGNATURE_LEN],
}

impl KeyProof {
    /// Prove possession of `identity`'s keys for `member` of vault `vault`.
    pub fn sign(
        identity: &Identity,
        vault: crate::format::RecordId,
        member: crate::format::MemberId,
    ) -> Self {
        let signature = identity.signing.sign(
            crate::vault::KEY_CHANGE_LABEL,
            &crate::vault::key_change_message(&vault, &member, &identity.keys),
        );
        Self {
            vault,
            member,
            keys: identity.keys,
            signature,
        }
    }

    /// Whether the signature verifies under the new signing key.
    pub fn verifies(&self) -> bool {
        crypto::verify(
            &self.keys.signing,
            crate::vault::KEY_CHANGE_LABEL,
            &crate::vault::key_change_message(&self.vault, &self.member, &self.keys),
            &self.signature,
        )
        .is_ok()
    }

    /// `amanat-rekey1…` text.
    pub fn encode(&self) -> String {
        let mut data = Vec::with_capacity(176);
        data.extend_from_slice(&self.vault.0);
        data.extend_from_slice(&self.member.0);
        data.extend_from_slice(&self.keys.agreement);
        data.extend_from_slice(&self.keys.signing);
        data.extend_from_slice(&self.signature);
        text_code::encode(KEY_PROOF_HRP, &data)
    }

    /// Parse `amanat-rekey1…` text (checksum, length, valid public keys; the
    /// signature is checked by [`KeyProof::verifies`]).
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let text = text.trim();
        if text.len() > 400 {
            return Err(IdentityError::KeyProofText("too long"));
        }
        let data = text_code::decode(text, KEY_PROOF_HRP).map_err(|e| {
            IdentityError::KeyProofText(match e {
                TextError::Checksum => "bad checksum or characters",
                TextError::Kind => "does not start with amanat-rekey1",
                TextError::Padding => "not in canonical form (nonzero padding bits)",
            })
        })?;
        if data.len() != 176 {
            return Err(IdentityError::KeyProofText("wrong length"));
        }
        let mut vault = [0u8; 32];
        vault.copy_from_slice(&data[..32]);
        let mut member = [0u8; 16];
        member.copy_from_slice(&data[32..48]);
        let mut keys = PublicKeys {
            agreement: [0; 32],
            signing: [0; 32],
        };
        keys.agreement.copy_from_slice(&data[48..80]);
        keys.signing.copy_from_slice(&data[80..112]);
        let mut signature = [0u8; crypto::SIGNATURE_LEN];
        signature.copy_from_slice(&data[112..]);
        crypto::check_agreement_public(&keys.agreement)
            .map_err(|_| IdentityError::KeyProofText("invalid X25519 key"))?;
        crypto::check_signing_public(&keys.signing)
            .map_err(|_| IdentityError::KeyProofText("invalid Ed25519 key"))?;
        Ok(Self {
            vault: crate::format::RecordId(vault),
            member: crate::format::MemberId(member),
            keys,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pass(s: &str) -> SecretString {
        SecretString::new(s.into())
    }

    #[test]
    fn armor_round_trip_and_damage() {
        let id = Identity::generate("alice").unwrap();
        let bytes = id
            .seal(&pass("pw"), KdfParams::INSECURE_TEST, true)
            .unwrap();
        let text = armor(&bytes);
        assert!(text.starts_with(ARMOR_BEGIN) && text.trim_end().ends_with(ARMOR_END));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(dearmor(text.as_bytes()).unwrap(), bytes);
        // In a mail, with CRLF line ends: still fine. A raw file passes through.
        let mail = format!("Hi,\r\n{}\r\nbye\r\n", text.replace('\n', "\r\n"));
        assert_eq!(dearmor(mail.as_bytes()).unwrap(), bytes);
        assert_eq!(dearmor(&bytes).unwrap(), bytes);
        // Any flipped character of the body or checksum, a truncation, a missing
        // line: malformed (never a wrong passphrase).
        let body_start = ARMOR_BEGIN.len() + 1;
        for i in body_start..text.len() - ARMOR_END.len() - 1 {
            let mut t = text.clone().into_bytes();
            if t[i] == b'\n' || t[i] == b' ' {
                continue;
            }
            t[i] = if t[i] == b'0' { b'1' } else { b'0' };
            if t == text.as_bytes() {
                continue;
            }
            assert!(
                matches!(dearmor(&t), Err(IdentityError::Malformed(_))),
                "flipped byte {i} accepted"
            );
        }
        for cut in [10, text.len() / 2, text.len() - ARMOR_END.len() - 2] {
            assert!(matches!(
                dearmor(&text.as_bytes()[..cut]),
                Err(IdentityError::Malformed(_))
            ));
        }
        assert!(dearmor(b"hello").is_err());
    }

    #[test]
    fn key_proof_round_trip() {
        let id = Identity::generate("carol").unwrap();
        let vault = crate::format::RecordId([7; 32]);
        let member = crate::format::MemberId([9; 16]);
        let p = KeyProof::sign(&id, vault, member);
        assert!(p.verifies());
        let text = p.encode();
        assert!(text.starts_with("amanat-rekey1"));
        assert_eq!(KeyProof::parse(&text).unwrap(), p);
        let mut other = p.clone();
        other.member = crate::format::MemberId([8; 16]);
        assert!(!other.verifies());
        assert!(matches!(
            KeyProof::parse(&id.public_key_text()),
            Err(IdentityError::KeyProofText(_))
        ));
    }

    #[test]
    fn seal_unlock_round_trip() {
        let id = Identity::generate("alice").unwrap();
        let bytes = id
            .seal(&pass("pw"), KdfParams::INSECURE_TEST, true)
            .unwrap();
        let back = Identity::unlock(&bytes, &pass("pw")).unwrap();
        assert_eq!(back.keys, id.keys);
        assert_eq!(back.name, "alice");
        assert!(back.insecure_kdf);
        assert_eq!(
            Identity::unlock(&bytes, &pass("wrong")).unwrap_err(),
            IdentityError::WrongPassphrase
        );
    }

    #[test]
    fn insecure_params_refused_without_flag() {
        let id = Identity::generate("alice").unwrap();
        assert!(matches!(
            id.seal(&pass("pw"), KdfParams::INSECURE_TEST, false),
            Err(IdentityError::Kdf(_))
        ));
    }

    #[test]
    fn changed_kdf_params_fail_authentication() {
        let id = Identity::generate("alice").unwrap();
        let bytes = id
            .seal(&pass("pw"), KdfParams::INSECURE_TEST, true)
            .unwrap();
        // memory_kib is the first field after name + keys; bump it by one.
        let mut h = inspect(&bytes).unwrap();
        h.kdf.memory_kib += 8;
        let header = IdentityHeader {
            name: h.name,
            keys: h.keys,
            kdf: h.kdf,
            insecure_kdf: true,
            salt: [0; 16],
            nonce: [0; 24],
        };
        let (orig, aad_len, sealed) = parse(&bytes).unwrap();
        let mut forged = IDENTITY_MAGIC.to_vec();
        forged.push(1);
        forged.extend(
            postcard::to_allocvec(&IdentityHeader {
                salt: orig.salt,
                nonce: orig.nonce,
                ..header
            })
            .unwrap(),
        );
        forged.extend(postcard::to_allocvec(&serde_bytes::Bytes::new(&sealed)).unwrap());
        assert_ne!(forged.len(), aad_len);
        assert_eq!(
            Identity::unlock(&forged, &pass("pw")).unwrap_err(),
            IdentityError::WrongPassphrase
        );
    }

    #[test]
    fn huge_memory_refused_before_allocating() {
        let id = Identity::generate("alice").unwrap();
        let bytes = id
            .seal(&pass("pw"), KdfParams::INSECURE_TEST, true)
            .unwrap();
        let (h, _, sealed) = parse(&bytes).unwrap();
        let forged_header = IdentityHeader {
            kdf: KdfParams {
                memory_kib: u32::MAX,
                time: 3,
                lanes: 4,
            },
            insecure_kdf: false,
            ..h
        };
        let mut forged = IDENTITY_MAGIC.to_vec();
        forged.push(1);
        forged.extend(postcard::to_allocvec(&forged_header).unwrap());
        forged.extend(postcard::to_allocvec(&serde_bytes::Bytes::new(&sealed)).unwrap());
        assert!(matches!(
            Identity::unlock(&forged, &pass("pw")),
            Err(IdentityError::Kdf(_))
        ));
    }

    #[test]
    fn public_key_text_round_trip_and_checksum() {
        let id = Identity::generate("alice").unwrap();
        let text = id.public_key_text();
        assert!(text.starts_with("amanat1"));
        assert_eq!(parse_public_key_text(&text).unwrap(), id.keys);
        // BIP 173: all-uppercase is the same text (QR codes, dictation); mixed case is not.
        assert_eq!(
            parse_public_key_text(&text.to_uppercase()).unwrap(),
            id.keys
        );
        let mixed = format!("AMANAT{}", &text[6..]);
        assert!(parse_public_key_text(&mixed).is_err());
        let mut broken: Vec<char> = text.chars().collect();
        let i = 20;
        broken[i] = if broken[i] == 'q' { 'p' } else { 'q' };
        let broken: String = broken.into_iter().collect();
        assert!(parse_public_key_text(&broken).is_err());
    }

    #[test]
    fn fingerprint_shape_and_match() {
        let id = Identity::generate("alice").unwrap();
        let fp = id.fingerprint();
        assert_eq!(fp.len(), 39);
        assert!(fingerprint_matches(&id.keys, &fp));
        assert!(fingerprint_matches(
            &id.keys,
            &fp.to_lowercase().replace('-', "")
        ));
        let other = Identity::generate("bob").unwrap();
        assert!(!fingerprint_matches(&other.keys, &fp));
    }

    #[test]
    fn garbage_identity_is_malformed() {
        assert!(matches!(inspect(b""), Err(IdentityError::Malformed(_))));
        assert!(matches!(
            inspect(b"AMANATID\x01\xff\xff"),
            Err(IdentityError::Malformed(_))
        ));
        assert!(matches!(
            inspect(&[0u8; 5000]),
            Err(IdentityError::Malformed(_))
        ));
    }
}
