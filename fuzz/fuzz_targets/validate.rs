//! Path validation of an untrusted end-entity certificate: the input is the
//! leaf's DER, validated against a fixed P-256 PKI (root as trust anchor,
//! intermediate in the pool, a CRL from the intermediate; made by
//! `fixtures/make.sh`) with a small work budget.
//!
//! Most mutated inputs fail at the leaf's signature; what lies beyond it
//! (path checks, revocation) is reached through inputs that keep the
//! signed part intact, such as the seed `seeds/validate/leaf.der`.
#![no_main]

use std::sync::LazyLock;

use eid_core::cert::{
    Budget, Certificate, Crl, Options, Purpose, RevocationScope, TrustStore, UnknownStatus,
};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

const ROOT: &[u8] = include_bytes!("../fixtures/root.der");
const INTERMEDIATE: &[u8] = include_bytes!("../fixtures/intermediate.der");
const CRL: &[u8] = include_bytes!("../fixtures/crl.der");
const LEAF: &[u8] = include_bytes!("../fixtures/leaf.der");

struct Pki {
    store: TrustStore,
    intermediates: Vec<Certificate>,
    crls: Vec<Crl>,
    options: Options,
}

static PKI: LazyLock<Pki> = LazyLock::new(|| {
    let mut budget = Budget::default();
    budget.signatures = 8;
    budget.steps = 16;
    budget.max_path_len = 4;
    budget.name_checks = 1_000;
    let mut options = Options::new(datetime!(2026-06-01 0:00 UTC));
    options.purpose = Purpose::ClientAuth;
    options.revocation = RevocationScope::EndEntity;
    options.unknown_status = UnknownStatus::Reject;
    options.budget = budget;
    let pki = Pki {
        store: TrustStore::new(vec![Certificate::from_der(ROOT).expect("root fixture")]),
        intermediates: vec![Certificate::from_der(INTERMEDIATE).expect("intermediate fixture")],
        crls: vec![Crl::from_der(CRL).expect("CRL fixture")],
        options,
    };
    // The fixtures must still make a valid path, or the target tests
    // nothing past the first error.
    let leaf = Certificate::from_der(LEAF).expect("leaf fixture");
    if let Err(e) = pki
        .store
        .validate(&leaf, &pki.intermediates, &pki.crls, &pki.options)
    {
        panic!("the fixture leaf does not validate: {e}");
    }
    pki
});

fuzz_target!(|data: &[u8]| {
    let pki = &*PKI;
    let Ok(leaf) = Certificate::from_der(data) else {
        return;
    };
    if let Ok(path) = pki
        .store
        .validate(&leaf, &pki.intermediates, &pki.crls, &pki.options)
    {
        // A validated path starts at the input, ends at the anchor, and
        // stays within the budget's length.
        assert_eq!(path.chain[0].der, data);
        assert_eq!(path.chain.last().map(|c| c.der.as_slice()), Some(ROOT));
        assert!(path.chain.len() <= pki.options.budget.max_path_len);
    }
});
