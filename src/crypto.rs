//! Cryptographic building blocks: secret types, the passphrase KDF, the AEAD, HPKE key
//! wrapping, Ed25519 signatures and domain-separated hashes.
//!
//! Everything here is a thin, typed layer over audited crates (RustCrypto, `hpke`,
//! `ed25519-dalek`); no primitive is implemented by hand. This module does no I/O and
//! knows nothing about files: `format` and `identity` decide *what* is encrypted, this
//! module only *how*. Every failure of an AEAD, a wrap or a signature is the single
//! opaque [`CryptoError::Integrity`] so that no oracle tells an attacker which step failed.

use std::fmt;

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305,
    aead::{Aead, Payload},
};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of every symmetric key (entry keys, group keys, KEKs).
pub const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// A symmetric key sealed with XChaCha20-Poly1305: key plus tag.
pub const SEALED_KEY_LEN: usize = KEY_LEN + TAG_LEN;
/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;

type HpkeKem = hpke::kem::X25519HkdfSha256;
type HpkeKdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::ChaCha20Poly1305;

/// Errors of the cryptographic layer. Deliberately coarse (see the module docs).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// An AEAD tag, a key wrap, a key commitment or a signature did not verify.
    #[error("integrity check failed")]
    Integrity,
    /// A public key's bytes are not a valid key.
    #[error("invalid public key")]
    PublicKey,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Argon2 parameters outside what this build accepts.
    #[error("key derivation parameters rejected: {0}")]
    KdfParams(&'static str),
}

/// Fill an array from the OS CSPRNG.
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Secret types

/// A UTF-8 secret (passphrase, password, TOTP URI, secret field). Zeroized on drop; its
/// `Debug` prints nothing of the value and it has no `Display`.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap a string (the caller's copy moves in; nothing else holds it).
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

/// A 256-bit symmetric key: an entry key, a group key or a key-encryption key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey([u8; KEY_LEN]);

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey(<redacted>)")
    }
}

impl SymmetricKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        random_array().map(Self)
    }
    /// Wrap existing key bytes (e.g. from a test vector or an unwrap).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }
    /// The key bytes, for the wrap that needs them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
    /// The key commitment `SHA-256(label "amanat/v1/key-commit", key)` stored in clear
    /// and signed, so every reader can check they unwrapped the same key.
    pub fn commitment(&self) -> [u8; 32] {
        labeled_hash(KEY_COMMIT_LABEL, &[&self.0])
    }
    /// Check `commitment` against this key in constant time.
    pub fn check_commitment(&self, commitment: &[u8; 32]) -> Result<(), CryptoError> {
        if bool::from(self.commitment().ct_eq(commitment)) {
            Ok(())
        } else {
            Err(CryptoError::Integrity)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hashes

/// Domain label of record ids.
pub const RECORD_LABEL: &str = "amanat/v1/record";
/// Domain label of record signatures.
pub const SIGNATURE_LABEL: &str = "amanat/v1/record-signature";
/// Domain label of key commitments.
pub const KEY_COMMIT_LABEL: &str = "amanat/v1/key-commit";
/// Domain label of a group key version's X25519 key pair.
pub const GROUP_AGREEMENT_LABEL: &str = "amanat/v1/group-agreement";
/// Domain label of public-key fingerprints.
pub const FINGERPRINT_LABEL: &str = "amanat/v1/fingerprint";

/// SHA-256 over a label and parts, each prefixed with its length as a 4-byte big-endian
/// integer, so that no two different inputs share an encoding.
pub fn labeled_hash(label: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((label.len() as u32).to_be_bytes());
    h.update(label.as_bytes());
    for part in parts {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------------------
// AEAD

/// XChaCha20-Poly1305 seal with a fresh random nonce; returns `(nonce, ciphertext||tag)`.
pub fn seal(
    key: &SymmetricKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), CryptoError> {
    let nonce: [u8; NONCE_LEN] = random_array()?;
    let ct = seal_with_nonce(key, &nonce, aad, plaintext)?;
    Ok((nonce, ct))
}

/// XChaCha20-Poly1305 seal with a given nonce (only for test vectors and callers that
/// just drew the nonce at random).
pub fn seal_with_nonce(
    key: &SymmetricKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    cipher
        .encrypt(
            &(*nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Integrity)
}

/// XChaCha20-Poly1305 open. The plaintext is zeroized when dropped.
pub fn open(
    key: &SymmetricKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    cipher
        .decrypt(
            &(*nonce).into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Integrity)
}

/// Seal a symmetric key under another (group wraps): `(nonce, 48 bytes)`.
pub fn seal_key(
    wrapping: &SymmetricKey,
    aad: &[u8],
    key: &SymmetricKey,
) -> Result<([u8; NONCE_LEN], [u8; SEALED_KEY_LEN]), CryptoError> {
    let (nonce, ct) = seal(wrapping, aad, &key.0)?;
    let sealed = ct.try_into().map_err(|_| CryptoError::Integrity)?;
    Ok((nonce, sealed))
}

/// Open a key sealed by [`seal_key`].
pub fn open_key(
    wrapping: &SymmetricKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<SymmetricKey, CryptoError> {
    let pt = open(wrapping, nonce, aad, sealed)?;
    let bytes: [u8; KEY_LEN] = pt
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Integrity)?;
    Ok(SymmetricKey(bytes))
}

// ---------------------------------------------------------------------------------------
// Passphrase KDF (Argon2id, RFC 9106)

/// Argon2id cost parameters, stored in the identity file and authenticated there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub time: u32,
    /// Lanes.
    pub lanes: u32,
}

impl KdfParams {
    /// Default: 256 MiB, t = 3, p = 4 (≈ 0.5 s on the reference 2-core machine).
    pub const DEFAULT: Self = Self {
        memory_kib: 256 * 1024,
        time: 3,
        lanes: 4,
    };
    /// Floor without `--insecure-kdf`: RFC 9106's second recommendation, 64 MiB, t = 3.
    pub const FLOOR: Self = Self {
        memory_kib: 64 * 1024,
        time: 3,
        lanes: 1,
    };
    /// Ceiling, checked before allocating: 4 GiB, t = 20, p = 16.
    pub const CEILING: Self = Self {
        memory_kib: 4 * 1024 * 1024,
        time: 20,
        lanes: 16,
    };
    /// Small parameters for tests and the demo (only with the insecure flag).
    pub const INSECURE_TEST: Self = Self {
        memory_kib: 64,
        time: 1,
        lanes: 1,
    };

    /// Whether the parameters are below the floor.
    pub fn below_floor(&self) -> bool {
        self.memory_kib < Self::FLOOR.memory_kib || self.time < Self::FLOOR.time
    }

    /// Check the parameters: within the ceiling always, above the floor unless
    /// `insecure` is set, and valid for Argon2 at all.
    pub fn check(&self, insecure: bool) -> Result<(), CryptoError> {
        if self.memory_kib > Self::CEILING.memory_kib {
            return Err(CryptoError::KdfParams("memory above the 4 GiB ceiling"));
        }
        if self.time > Self::CEILING.time {
            return Err(CryptoError::KdfParams("time cost above the ceiling of 20"));
        }
        if self.lanes == 0 || self.lanes > Self::CEILING.lanes {
            return Err(CryptoError::KdfParams("lanes outside 1..=16"));
        }
        if self.time == 0 || self.memory_kib < 8 * self.lanes {
            return Err(CryptoError::KdfParams("below Argon2's own minimum"));
        }
        if !insecure && self.below_floor() {
            return Err(CryptoError::KdfParams(
                "below the 64 MiB, t=3 floor (only allowed with --insecure-kdf)",
            ));
        }
        Ok(())
    }
}

/// Derive a key-encryption key from a passphrase with Argon2id v1.3.
pub fn derive_kek(
    passphrase: &SecretString,
    salt: &[u8; 16],
    params: KdfParams,
    insecure: bool,
) -> Result<SymmetricKey, CryptoError> {
    params.check(insecure)?;
    let p = argon2::Params::new(params.memory_kib, params.time, params.lanes, Some(KEY_LEN))
        .map_err(|_| CryptoError::KdfParams("rejected by argon2"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = [0u8; KEY_LEN];
    argon
        .hash_password_into(passphrase.expose().as_bytes(), salt, &mut out)
        .map_err(|_| CryptoError::KdfParams("rejected by argon2"))?;
    let key = SymmetricKey(out);
    out.zeroize();
    Ok(key)
}

// ---------------------------------------------------------------------------------------
// Ed25519

/// An Ed25519 signing key (zeroized on drop by `ed25519-dalek`).
pub struct SigningSecret(SigningKey);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    /// A fresh key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut seed: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Ok(Self(key))
    }
    /// From the 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }
    /// The 32-byte seed (to seal it in the identity file).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }
    /// The public half.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
    /// Sign `message` under a domain label.
    pub fn sign(&self, label: &str, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let msg = signed_message(label, message);
        self.0.sign(&msg).to_bytes()
    }
}

fn signed_message(label: &str, message: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(label.len() + 1 + message.len());
    msg.extend_from_slice(label.as_bytes());
    msg.push(0);
    msg.extend_from_slice(message);
    msg
}

/// Verify an Ed25519 signature strictly (`verify_strict`: no small-order keys, no
/// non-canonical `S`).
pub fn verify(
    public: &[u8; 32],
    label: &str,
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), CryptoError> {
    Verifier::new(public)?.verify(label, message, signature)
}

/// A decoded Ed25519 public key, to check many signatures by one key without decoding
/// it (a point decompression) for each.
#[derive(Debug, Clone, Copy)]
pub struct Verifier(VerifyingKey);

impl Verifier {
    /// Decode a public key; `Integrity` when the bytes are not a point.
    pub fn new(public: &[u8; 32]) -> Result<Self, CryptoError> {
        VerifyingKey::from_bytes(public)
            .map(Self)
            .map_err(|_| CryptoError::Integrity)
    }

    /// [`verify`] under this key.
    pub fn verify(
        &self,
        label: &str,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), CryptoError> {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0
            .verify_strict(&signed_message(label, message), &sig)
            .map_err(|_| CryptoError::Integrity)
    }
}

/// Check that bytes are a usable Ed25519 public key.
pub fn check_signing_public(public: &[u8; 32]) -> Result<(), CryptoError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| CryptoError::PublicKey)?;
    if key.is_weak() {
        return Err(CryptoError::PublicKey);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// X25519 / HPKE (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305)

/// An X25519 secret key for HPKE unwrapping.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AgreementSecret([u8; 32]);

impl fmt::Debug for AgreementSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgreementSecret(<redacted>)")
    }
}

impl AgreementSecret {
    /// A fresh key (RFC 9180 `DeriveKeyPair` from 32 random bytes).
    pub fn generate() -> Result<Self, CryptoError> {
        let ikm: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
        let (sk, _) = HpkeKem::derive_keypair(&*ikm);
        let bytes: [u8; 32] = sk.to_bytes().into();
        Ok(Self(bytes))
    }
    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The key pair a group key version publishes (RFC 9180 `DeriveKeyPair` from
    /// `H("amanat/v1/group-agreement", group key)`): its holders derive the secret, its
    /// public half is in the roster record.
    pub fn derive_from_group_key(key: &SymmetricKey) -> Self {
        let ikm = Zeroizing::new(labeled_hash(GROUP_AGREEMENT_LABEL, &[&key.0]));
        let (sk, _) = HpkeKem::derive_keypair(&*ikm);
        let bytes: [u8; 32] = sk.to_bytes().into();
        Self(bytes)
    }
    /// The stored bytes (to seal them in the identity file).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
    fn hpke_key(&self) -> Result<<HpkeKem as hpke::Kem>::PrivateKey, CryptoError> {
        <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(&self.0).map_err(|_| CryptoError::Integrity)
    }
    /// The public half.
    pub fn public(&self) -> Result<[u8; 32], CryptoError> {
        let pk = HpkeKem::sk_to_pk(&self.hpke_key()?);
        Ok(pk.to_bytes().into())
    }
}

/// An HPKE-wrapped symmetric key: encapsulated key and the sealed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeWrapped {
    /// The encapsulated ephemeral X25519 public key.
    pub enc: [u8; 32],
    /// The sealed 32-byte key and its tag.
    pub sealed: [u8; SEALED_KEY_LEN],
}

/// Check that bytes are a usable X25519 public key.
pub fn check_agreement_public(public: &[u8; 32]) -> Result<(), CryptoError> {
    <HpkeKem as hpke::Kem>::PublicKey::from_bytes(public).map_err(|_| CryptoError::PublicKey)?;
    if public.iter().all(|b| *b == 0) {
        return Err(CryptoError::PublicKey);
    }
    Ok(())
}

/// Wrap `key` to a recipient's X25519 public key; `info` binds it to its place.
pub fn hpke_wrap(
    recipient: &[u8; 32],
    info: &[u8],
    key: &SymmetricKey,
) -> Result<HpkeWrapped, CryptoError> {
    let pk = <HpkeKem as hpke::Kem>::PublicKey::from_bytes(recipient)
        .map_err(|_| CryptoError::PublicKey)?;
    let (enc, ct) = hpke::single_shot_seal::<HpkeAead, HpkeKdf, HpkeKem>(
        &OpModeS::Base,
        &pk,
        info,
        &key.0,
        &[],
    )
    .map_err(|_| CryptoError::Integrity)?;
    let sealed: [u8; SEALED_KEY_LEN] = ct.try_into().map_err(|_| CryptoError::Integrity)?;
    Ok(HpkeWrapped {
        enc: enc.to_bytes().into(),
        sealed,
    })
}

/// Unwrap a key wrapped by [`hpke_wrap`].
pub fn hpke_unwrap(
    secret: &AgreementSecret,
    info: &[u8],
    wrapped: &HpkeWrapped,
) -> Result<SymmetricKey, CryptoError> {
    let sk = secret.hpke_key()?;
    let enc = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(&wrapped.enc)
        .map_err(|_| CryptoError::Integrity)?;
    let pt = hpke::single_shot_open::<HpkeAead, HpkeKdf, HpkeKem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        &wrapped.sealed,
        &[],
    )
    .map(Zeroizing::new)
    .map_err(|_| CryptoError::Integrity)?;
    let bytes: [u8; KEY_LEN] = pt
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Integrity)?;
    Ok(SymmetricKey(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn aead_round_trip_and_aad_binding() {
        let key = SymmetricKey::generate().unwrap();
        let (nonce, ct) = seal(&key, b"place-a", b"hello").unwrap();
        assert_eq!(
            open(&key, &nonce, b"place-a", &ct).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(
            open(&key, &nonce, b"place-b", &ct),
            Err(CryptoError::Integrity)
        );
        let other = SymmetricKey::generate().unwrap();
        assert_eq!(
            open(&other, &nonce, b"place-a", &ct),
            Err(CryptoError::Integrity)
        );
    }

    #[test]
    fn hpke_wrap_binds_info_and_recipient() {
        let alice = AgreementSecret::generate().unwrap();
        let bob = AgreementSecret::generate().unwrap();
        let key = SymmetricKey::generate().unwrap();
        let w = hpke_wrap(&alice.public().unwrap(), b"info", &key).unwrap();
        let k2 = hpke_unwrap(&alice, b"info", &w).unwrap();
        assert_eq!(k2.expose(), key.expose());
        assert!(hpke_unwrap(&alice, b"other", &w).is_err());
        assert!(hpke_unwrap(&bob, b"info", &w).is_err());
    }

    #[test]
    fn signatures_bind_label_and_message() {
        let k = SigningSecret::generate().unwrap();
        let sig = k.sign("l1", b"m");
        verify(&k.public(), "l1", b"m", &sig).unwrap();
        assert!(verify(&k.public(), "l2", b"m", &sig).is_err());
        assert!(verify(&k.public(), "l1", b"n", &sig).is_err());
    }

    #[test]
    fn commitment_detects_other_key() {
        let a = SymmetricKey::generate().unwrap();
        let b = SymmetricKey::generate().unwrap();
        a.check_commitment(&a.commitment()).unwrap();
        assert!(b.check_commitment(&a.commitment()).is_err());
    }

    #[test]
    fn kdf_params_floor_and_ceiling() {
        assert!(KdfParams::DEFAULT.check(false).is_ok());
        assert!(KdfParams::FLOOR.check(false).is_ok());
        assert!(KdfParams::INSECURE_TEST.check(false).is_err());
        assert!(KdfParams::INSECURE_TEST.check(true).is_ok());
        let huge = KdfParams {
            memory_kib: u32::MAX,
            time: 3,
            lanes: 4,
        };
        assert!(huge.check(true).is_err());
        let slow = KdfParams {
            time: 21,
            ..KdfParams::DEFAULT
        };
        assert!(slow.check(true).is_err());
    }

    #[test]
    fn labeled_hash_is_unambiguous() {
        assert_ne!(
            labeled_hash("x", &[b"ab", b"c"]),
            labeled_hash("x", &[b"a", b"bc"])
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretString::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
