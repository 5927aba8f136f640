//! The tamper-evident audit trail: every sign-in, consent, release,
//! revocation and profile change is an [`Entry`] carrying the hash of the
//! entry before it, so that changing, deleting or reordering an entry
//! breaks the chain at that point ([`verify`]).
//!
//! Entries hold identifiers (the citizen's internal id, the department's
//! client id, field ids) and never personal data: no names, no values.
//!
//! An entry's hash is SHA-256 over its sequence number, time (Unix
//! seconds), kind, citizen, department, detail (the JSON text exactly as
//! stored) and the previous hash, each on its own line; the first entry's
//! previous hash is [`GENESIS`].

use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest kind, in bytes.
pub const MAX_KIND: usize = 64;
/// Longest detail (JSON text), in bytes.
pub const MAX_DETAIL: usize = 4096;

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its position: 1, 2, 3, ... without gaps.
    pub seq: i64,
    /// When, in Unix seconds.
    pub at: i64,
    /// What happened: `signin`, `profile.change`, `consent.grant`, ...
    pub kind: String,
    /// The citizen's internal id, if a citizen was involved.
    pub citizen_id: Option<String>,
    /// The department's client id, if a department was involved.
    pub client_id: Option<String>,
    /// Details (identifiers only), as JSON text.
    pub detail: String,
    /// The hash of the entry before.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Hex of SHA-256 over the entry's fields and `prev_hash`.
pub fn entry_hash(
    seq: i64,
    at: i64,
    kind: &str,
    citizen_id: Option<&str>,
    client_id: Option<&str>,
    detail: &str,
    prev_hash: &str,
) -> String {
    // Lengths first, so that no shift of text between fields hashes alike.
    let fields = [
        kind,
        citizen_id.unwrap_or(""),
        client_id.unwrap_or(""),
        detail,
        prev_hash,
    ];
    let mut text = format!("eid-gateway audit v1\n{seq}\n{at}\n");
    for field in fields {
        text.push_str(&format!("{}:{field}\n", field.len()));
    }
    text.push_str(&format!(
        "{}{}",
        u8::from(citizen_id.is_some()),
        u8::from(client_id.is_some())
    ));
    digest(&SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Entry {
    /// The entry that follows `prev` (or starts the trail, with `None`).
    pub fn next(
        prev: Option<(i64, &str)>,
        at: i64,
        kind: &str,
        citizen_id: Option<&str>,
        client_id: Option<&str>,
        detail: &str,
    ) -> Entry {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_owned()),
            None => (1, GENESIS.to_owned()),
        };
        let hash = entry_hash(seq, at, kind, citizen_id, client_id, detail, &prev_hash);
        Entry {
            seq,
            at,
            kind: kind.to_owned(),
            citizen_id: citizen_id.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            detail: detail.to_owned(),
            prev_hash,
            hash,
        }
    }

    /// Whether the stored hash is the hash of the stored fields.
    pub fn hash_matches(&self) -> bool {
        let again = entry_hash(
            self.seq,
            self.at,
            &self.kind,
            self.citizen_id.as_deref(),
            self.client_id.as_deref(),
            &self.detail,
            &self.prev_hash,
        );
        bool::from(again.as_bytes().ct_eq(self.hash.as_bytes()))
    }
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Broken {
    /// An entry's fields do not hash to its stored hash (it was changed).
    #[error("entry {seq} was modified: its hash does not match its contents")]
    Modified {
        /// The entry.
        seq: i64,
    },
    /// An entry does not follow the one before it (one was deleted,
    /// inserted or moved).
    #[error("entry {seq} does not follow entry {after}: an entry was deleted, inserted or moved")]
    Unlinked {
        /// The entry.
        seq: i64,
        /// The entry read before it (0: the start).
        after: i64,
    },
}

/// Checks a trail entry by entry, in sequence order from the first (for
/// trails read in pages).
#[derive(Debug, Clone)]
pub struct Verifier {
    prev_seq: i64,
    prev_hash: String,
    count: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            prev_seq: 0,
            prev_hash: GENESIS.to_owned(),
            count: 0,
        }
    }
}

impl Verifier {
    /// A verifier at the start of the trail.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence number of the last entry checked (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.prev_seq
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: &Entry) -> Result<(), Broken> {
        if entry.seq != self.prev_seq + 1 || entry.prev_hash != self.prev_hash {
            return Err(Broken::Unlinked {
                seq: entry.seq,
                after: self.prev_seq,
            });
        }
        if !entry.hash_matches() {
            return Err(Broken::Modified { seq: entry.seq });
        }
        self.prev_seq = entry.seq;
        self.prev_hash = entry.hash.clone();
        self.count += 1;
        Ok(())
    }

    /// The number of entries checked and the last hash.
    pub fn finish(self) -> (u64, String) {
        (self.count, self.prev_hash)
    }
}

/// Checks a trail read in sequence order, from its first entry. Stops at
/// the first broken entry. Returns the number of entries and the last hash.
pub fn verify<I: IntoIterator<Item = Entry>>(entries: I) -> Result<(u64, String), Broken> {
    let mut verifier = Verifier::new();
    for entry in entries {
        verifier.push(&entry)?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn trail(n: i64) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for i in 0..n {
            let prev = entries.last().map(|e| (e.seq, e.hash.as_str()));
            let entry = Entry::next(
                prev,
                1_764_316_800 + i,
                "signin",
                Some("citizen-1"),
                (i % 2 == 0).then_some("dept"),
                &format!("{{\"i\":{i}}}"),
            );
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn an_intact_trail_verifies() {
        let entries = trail(5);
        let last = entries.last().unwrap().hash.clone();
        assert_eq!(verify(entries), Ok((5, last)));
        assert_eq!(verify(Vec::new()), Ok((0, GENESIS.to_owned())));
    }

    #[test]
    fn modified_deleted_and_reordered_entries_are_found() {
        let mut modified = trail(5);
        modified[2].detail = "{\"i\":99}".into();
        assert_eq!(verify(modified), Err(Broken::Modified { seq: 3 }));

        let mut recomputed = trail(5);
        recomputed[2].kind = "consent.grant".into();
        recomputed[2].hash = entry_hash(
            3,
            recomputed[2].at,
            "consent.grant",
            Some("citizen-1"),
            Some("dept"),
            &recomputed[2].detail,
            &recomputed[2].prev_hash,
        );
        assert_eq!(
            verify(recomputed),
            Err(Broken::Unlinked { seq: 4, after: 3 }),
            "a rehashed entry breaks the link of the next"
        );

        let mut deleted = trail(5);
        deleted.remove(1);
        assert_eq!(verify(deleted), Err(Broken::Unlinked { seq: 3, after: 1 }));

        let mut reordered = trail(5);
        reordered.swap(1, 2);
        assert_eq!(
            verify(reordered),
            Err(Broken::Unlinked { seq: 3, after: 1 })
        );

        let mut truncated_front = trail(5);
        truncated_front.remove(0);
        assert_eq!(
            verify(truncated_front),
            Err(Broken::Unlinked { seq: 2, after: 0 })
        );
    }

    #[test]
    fn fields_cannot_shift_into_each_other() {
        let a = entry_hash(1, 0, "ab", Some("c"), None, "{}", GENESIS);
        let b = entry_hash(1, 0, "a", Some("bc"), None, "{}", GENESIS);
        let c = entry_hash(1, 0, "ab", None, Some("c"), "{}", GENESIS);
        let d = entry_hash(1, 0, "ab", Some(""), None, "{}", GENESIS);
        let e = entry_hash(1, 0, "ab", None, None, "{}", GENESIS);
        let all = [&a, &b, &c, &d, &e];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
