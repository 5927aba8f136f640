//! Profile values at rest: AES-256-GCM (ring) under a named key, bound to
//! the citizen and the field, so that the database never holds a value in
//! clear and a sealed value cannot be moved to another citizen or field.
//!
//! A sealed value is `v1.KID.BASE64URL(version || nonce || ciphertext || tag)`.
//! Keys rotate: the first key of a [`ProfileKeys`] seals, every key opens,
//! and [`ProfileKeys::is_current`] tells which stored values still need
//! resealing under the newest key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Value;
use crate::Secret;
use crate::oidc::keys::KeyEncryptionKey;

/// Why sealing or opening failed. Never says anything of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A key id is empty, too long or not `[A-Za-z0-9_-]`, or used twice,
    /// or a key is not 32 bytes of base64, or there is no key.
    #[error("profile key setting: {0}")]
    Config(String),
    /// The value was sealed under a key that is not configured.
    #[error("profile value sealed under unknown key {0:?}")]
    UnknownKey(String),
    /// Not a sealed value, or altered, or sealed for another citizen or
    /// field.
    #[error("profile value cannot be opened (altered, moved or not sealed)")]
    Corrupt,
    /// The random generator failed.
    #[error("random generator failure")]
    Random,
}

/// The profile keys: the first seals, all open.
#[derive(Debug)]
pub struct ProfileKeys {
    keys: Vec<(String, KeyEncryptionKey)>,
}

fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn aad(kid: &str, citizen_id: &str, field: &str) -> String {
    format!("eme:v1\n{kid}\n{citizen_id}\n{field}")
}

impl ProfileKeys {
    /// Keys as configured: `(key id, base64 of 32 bytes)`, newest first.
    pub fn new(keys: &[(String, Secret<String>)]) -> Result<ProfileKeys, SealError> {
        if keys.is_empty() {
            return Err(SealError::Config("no profile key".to_owned()));
        }
        let mut loaded: Vec<(String, KeyEncryptionKey)> = Vec::new();
        for (kid, key) in keys {
            if !valid_kid(kid) {
                return Err(SealError::Config(format!(
                    "key id {:?} must be 1 to 32 of A-Z a-z 0-9 - _",
                    kid.chars().take(40).collect::<String>()
                )));
            }
            if loaded.iter().any(|(k, _)| k == kid) {
                return Err(SealError::Config(format!("key id {kid} appears twice")));
            }
            let key = KeyEncryptionKey::from_base64(key).map_err(|_| {
                SealError::Config(format!("key {kid} must be 32 bytes, base64-encoded"))
            })?;
            loaded.push((kid.clone(), key));
        }
        Ok(ProfileKeys { keys: loaded })
    }

    /// The id of the key that seals.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `value` of `field` for `citizen_id`.
    pub fn seal(&self, citizen_id: &str, field: &str, value: &Value) -> Result<String, SealError> {
        let (kid, key) = &self.keys[0];
        let plain = serde_json::to_vec(value).map_err(|_| SealError::Corrupt)?;
        let sealed = key
            .seal(&aad(kid, citizen_id, field), &plain)
            .map_err(|_| SealError::Random)?;
        Ok(format!("v1.{kid}.{}", URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Opens what [`ProfileKeys::seal`] made for this citizen and field.
    pub fn open(&self, citizen_id: &str, field: &str, sealed: &str) -> Result<Value, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Corrupt);
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or_else(|| SealError::UnknownKey(kid.chars().take(32).collect()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Corrupt)?;
        let plain = key
            .open(&aad(kid, citizen_id, field), &bytes)
            .map_err(|_| SealError::Corrupt)?;
        serde_json::from_slice(plain.expose()).map_err(|_| SealError::Corrupt)
    }

    /// Whether `sealed` is under the current key (else it should be
    /// resealed: open, then seal again).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .strip_prefix("v1.")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(kid, _)| kid == self.current_kid())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key(byte: u8) -> Secret<String> {
        use base64::engine::general_purpose::STANDARD;
        Secret::new(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn values_are_sealed_bound_to_citizen_and_field() {
        let keys = ProfileKeys::new(&[("k1".into(), key(1))]).unwrap();
        let value = Value::Text("A123456(3)".into());
        let sealed = keys.seal("citizen-1", "hkid", &value).unwrap();
        assert!(sealed.starts_with("v1.k1."), "{sealed}");
        assert!(!sealed.contains("A123456"), "no plaintext");
        assert_ne!(
            sealed,
            keys.seal("citizen-1", "hkid", &value).unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(keys.open("citizen-1", "hkid", &sealed).unwrap(), value);
        // Moved to another citizen or field, or altered: refused.
        assert_eq!(
            keys.open("citizen-2", "hkid", &sealed),
            Err(SealError::Corrupt)
        );
        assert_eq!(
            keys.open("citizen-1", "name_en", &sealed),
            Err(SealError::Corrupt)
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(
            keys.open("citizen-1", "hkid", &altered),
            Err(SealError::Corrupt)
        );
        for junk in ["", "v1", "v1.k1", "v2.k1.AAAA", "v1.k1.!!!", "plain text"] {
            assert!(keys.open("citizen-1", "hkid", junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn keys_rotate_and_old_values_still_open() {
        let old = ProfileKeys::new(&[("2025".into(), key(1))]).unwrap();
        let value = Value::Text("CHAN, Tai Man".into());
        let sealed = old.seal("c", "name_en", &value).unwrap();
        let rotated =
            ProfileKeys::new(&[("2026".into(), key(2)), ("2025".into(), key(1))]).unwrap();
        assert_eq!(rotated.current_kid(), "2026");
        assert!(!rotated.is_current(&sealed), "needs resealing");
        assert_eq!(rotated.open("c", "name_en", &sealed).unwrap(), value);
        let resealed = rotated.seal("c", "name_en", &value).unwrap();
        assert!(rotated.is_current(&resealed));
        // Once the old key is dropped its values say which key they need.
        let newest = ProfileKeys::new(&[("2026".into(), key(2))]).unwrap();
        assert_eq!(
            newest.open("c", "name_en", &sealed),
            Err(SealError::UnknownKey("2025".into()))
        );
        // The same id under another key: the value does not open.
        let impostor = ProfileKeys::new(&[("2025".into(), key(9))]).unwrap();
        assert_eq!(
            impostor.open("c", "name_en", &sealed),
            Err(SealError::Corrupt)
        );
    }

    #[test]
    fn bad_key_settings_are_refused() {
        assert!(ProfileKeys::new(&[]).is_err());
        assert!(ProfileKeys::new(&[("a.b".into(), key(1))]).is_err());
        assert!(ProfileKeys::new(&[("".into(), key(1))]).is_err());
        assert!(ProfileKeys::new(&[("k".into(), key(1)), ("k".into(), key(2))]).is_err());
        assert!(ProfileKeys::new(&[("k".into(), Secret::new("c2hvcnQ=".into()))]).is_err());
    }
}
