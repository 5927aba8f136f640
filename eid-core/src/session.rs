//! Sign-in sessions and levels of assurance, as pure rules.
//!
//! A session ends when unused for the idle timeout or when the absolute
//! timeout after sign-in has passed, whichever comes first. The level of
//! assurance of a sign-in follows from how the citizen signed in:
//!
//! | Sign-in | Level |
//! | --- | --- |
//! | passkey, account without a verified card identity | `low` |
//! | passkey, account bound to a verified card identity | `substantial` |
//! | smart ID card certificate validated in this sign-in | `high` |

use time::{Duration, OffsetDateTime};

use crate::oidc::authz::{ACR_HIGH, ACR_LOW, ACR_SUBSTANTIAL, ACR_VALUES};

/// Session timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Longest time between two uses.
    pub idle: Duration,
    /// Longest time after sign-in.
    pub absolute: Duration,
}

/// The times that decide whether a session is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the citizen signed in.
    pub auth_time: OffsetDateTime,
    /// When the session was last used.
    pub last_seen: OffsetDateTime,
}

impl SessionPolicy {
    /// Whether a session with `times` is still live at `now`.
    pub fn is_live(&self, times: SessionTimes, now: OffsetDateTime) -> bool {
        now < times.last_seen + self.idle && now < times.auth_time + self.absolute
    }
}

/// How the citizen proved who they are in this sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// A passkey; `verified_identity` when the account is bound to a
    /// verified smart-ID-card identity.
    Passkey {
        /// The account holds a verified card identity.
        verified_identity: bool,
    },
    /// A smart ID card certificate, validated now.
    SmartCard,
}

impl SignInMethod {
    /// The `acr` value reached.
    pub fn acr(self) -> &'static str {
        match self {
            SignInMethod::Passkey {
                verified_identity: false,
            } => ACR_LOW,
            SignInMethod::Passkey {
                verified_identity: true,
            } => ACR_SUBSTANTIAL,
            SignInMethod::SmartCard => ACR_HIGH,
        }
    }

    /// The `amr` values (RFC 8176): `hwk` and `user` for a passkey (a
    /// hardware-bound key with user verification), `sc` and `pop` for a
    /// smart card (proof of possession of the card's key).
    pub fn amr(self) -> Vec<String> {
        let values: &[&str] = match self {
            SignInMethod::Passkey { .. } => &["hwk", "user"],
            SignInMethod::SmartCard => &["sc", "pop"],
        };
        values.iter().map(|v| (*v).to_owned()).collect()
    }
}

/// The rank of an `acr` value (`low` 0, `substantial` 1, `high` 2).
pub fn acr_rank(acr: &str) -> Option<usize> {
    ACR_VALUES.iter().position(|a| *a == acr)
}

/// Whether a session at level `have` satisfies a request for any of
/// `requested` (the weakest requested level is enough; nothing requested
/// means any level).
pub fn satisfies(have: &str, requested: &[String]) -> bool {
    match requested.iter().filter_map(|a| acr_rank(a)).min() {
        None => true,
        Some(needed) => acr_rank(have).is_some_and(|rank| rank >= needed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sessions_end_on_idle_or_absolute_timeout() {
        let policy = SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(8),
        };
        let signed_in = datetime!(2026-11-28 08:00 UTC);
        let times = |last_seen| SessionTimes {
            auth_time: signed_in,
            last_seen,
        };
        assert!(policy.is_live(times(signed_in), signed_in + Duration::minutes(29)));
        assert!(!policy.is_live(times(signed_in), signed_in + Duration::minutes(30)));
        // Kept busy, it still ends after 8 hours.
        let busy = signed_in + Duration::minutes(470);
        assert!(policy.is_live(times(busy), signed_in + Duration::minutes(479)));
        assert!(!policy.is_live(times(busy), signed_in + Duration::hours(8)));
    }

    #[test]
    fn levels_follow_the_method_and_a_passkey_never_reaches_high() {
        let low = SignInMethod::Passkey {
            verified_identity: false,
        };
        let substantial = SignInMethod::Passkey {
            verified_identity: true,
        };
        let high = [ACR_HIGH.to_string()];
        assert!(!satisfies(low.acr(), &high));
        assert!(!satisfies(substantial.acr(), &high));
        assert!(satisfies(SignInMethod::SmartCard.acr(), &high));
        assert!(satisfies(low.acr(), &[]));
        assert!(!satisfies(low.acr(), &[ACR_SUBSTANTIAL.to_string()]));
        // The weakest requested level is enough.
        assert!(satisfies(
            substantial.acr(),
            &[ACR_HIGH.to_string(), ACR_SUBSTANTIAL.to_string()]
        ));
        assert!(!satisfies("urn:unknown", &[ACR_LOW.to_string()]));
        assert_eq!(SignInMethod::SmartCard.amr(), ["sc", "pop"]);
    }
}
