//! Certificate-chain validation: this crate's validator against
//! rustls-webpki, on the same chains in one run.
//!
//! Cases (each a criterion group):
//! - `rsa2048_chain`: root -> intermediate -> leaf, RSA-2048 keys,
//!   sha256WithRSAEncryption, no revocation checking;
//! - `p256_chain`: the same shape with ECDSA P-256 keys;
//! - `rsa2048_chain_crl1000`: the RSA chain, with the end entity checked
//!   against a 1,000-entry CRL issued by the intermediate;
//! - `crl1000_parse`: parsing that CRL.
//!
//! What is measured: "parse + validate" on both sides. Per iteration, the
//! end-entity and intermediate certificates are parsed from DER and the path
//! is built and validated. Trust anchors are prepared once, outside the
//! measurement (`TrustStore` here, `TrustAnchor` for webpki), and so is the
//! CRL (`Crl` here, `OwnedCertRevocationList` for webpki); CRL parsing is
//! measured on its own. `ours_ca_loaded_once` is the gateway's workload: the
//! presented leaf is parsed and validated, the issuing CA certificate was
//! parsed once with the configuration, so its signature is checked on the
//! first validation only (webpki has no equivalent: it takes intermediates
//! as DER and parses and checks them on every call).
//!
//! The same validation time, purpose (client authentication) and revocation
//! policy (none; or end entity only, unknown status rejected, an expired CRL
//! rejected) are used on both sides. The setup asserts that both validators
//! accept every chain and both reject a leaf listed on the CRL.
//!
//! After the criterion groups (in `cargo bench` mode only) the two sides are
//! timed again, interleaved, with `Instant` over a fixed time, and the mean
//! times and the ratio ours/webpki are printed.
//!
//! Run: `cargo bench -p eid-core --bench validate`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use eid_core::cert::{
    CertError, Certificate, Crl, Options, Purpose, RevocationScope, TrustStore, UnknownStatus,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use time::macros::datetime;
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, OwnedCertRevocationList,
    RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};

/// The time every validation is made at; the certificates are valid from
/// 2025 to 2035, the CRL from 2026-05-31 to 2026-06-07.
const AT: OffsetDateTime = datetime!(2026-06-01 08:00 UTC);

/// Entries on the benchmark CRL.
const CRL_ENTRIES: usize = 1000;

// Three fixed RSA-2048 keys (root, intermediate, end entity), PKCS#8 PEM,
// made once with
//     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048
// (OpenSSL 3.0). rcgen's ring backend cannot generate RSA keys, only sign
// with them. Test keys: they sign nothing outside this benchmark.
const RSA_ROOT_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCQx192cM0IPGaY
lknoQnOTMIxwhmh+ZtRNWYsL8iJgQ6tcqlJDIYY1Ku9XWvZkqLcm7E7lkqUEdm49
tlhEZFpYwDJXyaqc6L7cdV1FBHQIs2T40XNyArbSyCzSpV3Bvv8W8oihm/2MxjVk
/w4bamTK8DnIqsSC7mrklQWndZRH/jugMVQSSDNURhnT+G9PqBwWpEfUFDxPk7gn
1IahFBiKWQDYrqWPhvy6K5hwIg8KXZpJPUZGmgmrCBOAR7BBeAUN6CGEMCQSQadY
iKP0X4jLQd98M6s6hhmKrB+sfqubxihSxzhiId56kkmE+u5cku0pJSm6jhdyAz2T
9Wy1IV+3AgMBAAECggEAFHSO2NGkLls2Va26QH4PDUdJOGbNIbrOmSUjH6t0zuwQ
rJWF7OUyLJXl3g5EjMFHq1Cs7wOym/hNqBt4yiTxnON+2WdtWyEJQmW0qVkxOb96
7yrMqFmY0hwlNRfXMNYW/XuD8W10O+0PQzdEG3yDRCb/ywnRnPwpjyU8+MWEj002
W2Py3RDc24NKbM3Ve4+EpuuFh/GL3KfiUIG2HINF0LJXw67BTWyPQDjh7ySdXi6q
72DbYlgItsHFqX0oRYLrIfpbJURHFtPI0xgJnnR3Ing36pm8Wr9e4ULD170JPFf4
jsHdOHFoe/IdqR2gzDiR4HTJlva8oxco9INE/H5mAQKBgQDGZVyGd4Vue0iVtYf+
yjAgD63w99Rj0y8TjUsuV+EkZOIhhvsRJXpy0IzSHBDZ3JTNltDsg2bK+6z6BNXa
QlMUSHX6XtR/vwePFTbgPHTweOdIxsS07yaq32eef1OaQTwXKDOyj5G+ovfgaDRL
/JfbdgV8W04sxRjElf+61KgNtwKBgQC60K9VhKaLDe5FNHP/hBmh23fhyfVlmxo7
LHxcd+J6Ktnn7jnc7Zk7HCtpgH67bQNBq9zeKOcob0ienEfjRsl3KuXeAGxfWybA
VYrycUoA2BLxpUiBhs7nEbz9E9/TkLjnftx09odOkfT3YQBdO7YPDwTNhNdIZAQA
7c653BE+AQKBgQCYpfrH94Rx2meh0PffYcAfmxDRnE4NtLq/B3L2KGWxc/HNrCbX
LYgGeVIwg6mvhxnzCXyczgm0WmrgQAIvGeMEczBbQMWtuNTfEYqUg8/SCqSiCVXm
hS+yP4xhlkREJrdOdf84/2A7Vvbz8hly8doB4NAdu77tkYUaFPOb0+2uBwKBgApx
BYvDGUfmZG3ry5v5dzFLwfyVvCiMrb+m8eB9NuRbJsjG0OcfRJRAM9D2xJ6XLjpq
b7LfGGRzK9zpoT77wuDtPeHVpjkCMD1JyrVYTamUaiKleVL8BO53WFfQ147MpPkT
ZyEGcnOaxtVYz5tmbfuTfFI8XYgHRw4CPK64tSIBAoGAFncvX79kc2RofJShP53Z
8UmKGBQu1duVOKO/Lx+47T2tCpn6qTRMM3JlUmDk/YIexzueFpzvqOYymkLUmINF
b8C8rDM5hn8FALP3tLwc3k7hQNnC6hoOoqKRPVdxy11CUBF4264uJA9qAfPG9How
kb9hTrEFSG8m8mbVLvhkF+k=
-----END PRIVATE KEY-----
";

const RSA_INTERMEDIATE_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD16xVnU7zGgUl+
k9qVNeGmCgM/V4FOtYlNp2fivpJxVUYqQ9Z1lgQDGlSJgBMhjeJSEOq+UKULuTB6
8XoKTZv0zaEbbIU8GCE6+ZPasXG9Onye91xX9Ytlm1hfdmrY38PCvt/vnL3O6dh9
PDPNhrJTbp+ZonN7k0tKElefKCbHSbsDyQ+B2VdkfmS+KCrrTURklukpyirilGIb
XvzK9lsclP8LHYUJQ/suTZrNOkqKDrdn2lJOOW5xjis3MiaxG2fgBEw5XAd3KFR+
IXNFflkSX00pkfIg8GSwyVp5bigCHP5RSlVasbuSY7XiFa9+rhNulSLwSY+aUOQT
loDG+/QHAgMBAAECggEAIQ31NYtK33+3Sj1DbzTr3K6R2yy+476A8yAiVZb6BiPJ
J5sws2NzrJsYa9b8O1Ff71n4w5YBaT7+JjhZCBOAd/o/wnjmu7oelVfAqO+a8y1u
XMuw7N3DW+fyi/pVyErjfES9wu5VkP9bqxGxgNmvFInVCAiO7zhQMWefwXPbKoQa
G8oOHeWqhRVGPPtEgSdz15zBTgW/YJ8S3nKc9R6TNgKEAXpe0du8CWZXWA8wRPbC
W4BT2Qmw1tbqyxvIMJlYXptEbWN3OZ2t2tTRQ0lKme17ro4GkXN66yD9EChXXALj
qeiwNZsJkRkalaVZUtMKLleBDQKrwLPxtxo4Qn7P6QKBgQD9M3h9CM013Z1CfOD7
LEcTp4nO2s5TXp5rfjd54LpwFFJHLkMlJMV2ERnrGKlliSXkS88gGxV6TxPe/Iw7
HYpEiuRLf8Uvidj98xcAXHTDuTcvlkLAGy/rikoY6j3I83p0T9zHVJ7YoAkxy6gx
FfSOgMvZ7B96T3WySM3Z6SuJZQKBgQD4owDrDX+MxRr8PEs9ruzvspnRxzzIMINU
7myqTPfvMziTTc2MyRLLD3lafH3SI27uxKp4ZqZ4lIVaCEwkPBPE2yL+wkCowiC1
0ebJvftRT0YAdHvjT5hMyQn9FkDr0b6XswK48EVNeyd29Y+6j4o1HaFQjqYm+tSd
UTGUzHZm+wKBgQCS8ZYRalQ92Jl1hqfC3RV60JZnmBB5zcW+uIdVkhhhB0ogyTZq
jgaS2KXkDHHy3T9CWMSh61Xxn4b2uDZh8GjYEosfTc2QIz3tU3Cb4wxYslrWoSun
9Z8/4QfToc2tm7ALZHXKsM9nBKmRXpIDuqwtL44esKwr/YVerGXa+zkrCQKBgFna
boaDhkjVIn9tOrO795xYKwaIvgqKnaufzl1tG1yyYgu53kK2l7gSi4SL4NyEOZ7I
K+L/FcIVymtS/FFL9Mj7eJYglUVngnKyvHjD04L65w1bCzqGlT+Kl7WCyUtvrTUd
WCqFikYJ76Up8Rs2rHetkZKPOrRziUqhAQ4JJfDpAoGAF5RRY1+XsxjCoIla/8CP
Pb4lrKrLgWzFxAV0mEPc166REv9ZxwYvfmEJNsRdDzketb9G2UA0TrEU12U3dc9v
2L0XXESpiGcLJg936NsNppq2/HSOGJMwPl3xq8+0nSAkhp0tz1iKUmwXIKL39ulG
ZiDX7q7nR6YcF/2epEYlAbU=
-----END PRIVATE KEY-----
";

const RSA_LEAF_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDfYXsL9Tt23+hf
6+rFyNjameDia4UqMvirfLlOTAE40lYflXeZotLLvY8TtQwGtuSARPpbt016C3ZQ
rEgnR97vm76d7D5o/LzHwTzlAtZXsTDvoUkQ0/oXaRpIQ478fNGBPAUUCw0/RT5n
a2j57eSwjEP/TZ6JcaDM3c5bDBtRjmv7NHZegrzcL7UYj3oP2y1ZYEcVc5NWSsFk
fXzjrH6IpSHIuqpNauF0wpgZIQj7JRrNNnH+qwJkoevVx/Yia0UpeAQ0MEsMmovy
QiRk65dcKQn4UyvCkYX/ig2BKXD3bIvDsT157s4tjjuVNlfGkvCyqPmixPDa+w2C
ZmTPPH53AgMBAAECggEAAytY7jGRRtZWHSR7+ifldEXVzZlerPyRHlMseBWhE1NH
XVfvMZqt1RlZ9jvHloPEjwdGWdBkM079310EddTLklYFIYdgdHgrEUIXbGlKLz3Q
MBe9kGO4Qk2ccupZb/A5bLxEyKDSvVM7T1WN/gdYRODbLC/YSfUwumG075a7cxMK
sOPsoCae6WwotHK5dQaNJwMGerHBa9CePNCVim3kHSdAZ7ArkCMWe0zKVfKUCA7y
f9OnQUGswbSvRYcLfN0pgRF33S46Jlb31Ffk0i6h9ZyglMYl6yZlInRJjS5zF+nH
4/OYVW1sNEH8T1yIS+L4mYDPYLwYIZ7r8cDQy2th6QKBgQD7sAx8oRIDPa2oLui2
oC2elHPr3wjZNd9PVNuuoaVM+Stp/59ywN2Z9rXe0C7kKBHu+J1yZTpNihJB3vs0
ZE+q2P35PWdUSDSntpGJH3MsrhB7GzM9YyTQ7YWnCB9aaGSZnGh2E8OdOJUgqx9s
fivRdSJwavq89ICaLlGNqWATkwKBgQDjNUWzbwOMmzhhqtmQLkQG5FloBDfOXFtb
Le4xScuzNF6QviO6H9X2FBNcUV8D3mnCmO+u0r5DHUC3afa5nWNlBGPwP5gvtU2X
KA8Hx0k3+yyMvL0SEGcB1hzpJ5b+BtZWH2W5XFMLej6++oTI3kv4u/OoAozn+4Vg
7WawhWaADQKBgCpHY4GYCQ+UT9SdtKfg9mjaJTLtL25Vd2K7LYADVWI9xQY0U5OS
RGd1ow1/yTC4bnLHPqOVz5pw5Co+i9I8O4nGk7tHjlEBJB88Muxm5REPWGNlqVDZ
k7io/beWTLYCLUwEkyOqpESH2b04Ibo246N22scpoV8Wb3f26eozFpmTAoGANI7G
KNOtRoFBcZZL7YZGRjHcXKtdHWdP2q+tQcmITVP37BOPwCZNIDdUoy5PhF2WqWUn
TJGDYZMKvWLNp/I4Y824MIMFeUO/RxAFKg93aHO5wnSGZ/9TVKFq3qRB0VFTk2h/
53jr3OPST+szfCOv/0G7A0pTvfX4zIseDgdNxqECgYA/9hBItST1YgTcSHYyheFt
pHQ7uzK6WHojjUuts1WbPzfQ3DumpAOD5rQEg7ZxXd5wIcFH8KHl3uHVFAjjXScR
YAaRiQRNAiKmICHWgQScg2ew/yFAVyBjojaGG7FDnMyiFlPHUhinKJ1w80ixVaan
Wn8lqw+sz6iUz7U4mw9xqg==
-----END PRIVATE KEY-----
";

/// A three-certificate chain, and a 1,000-entry CRL from its intermediate.
struct Chain {
    root: Vec<u8>,
    intermediate: Vec<u8>,
    leaf: Vec<u8>,
    /// A second end-entity certificate whose serial is on the CRL.
    revoked_leaf: Vec<u8>,
    crl: Vec<u8>,
}

enum KeyKind {
    Rsa2048,
    P256,
}

fn key_pair(kind: &KeyKind, rsa_pem: &str) -> KeyPair {
    match kind {
        KeyKind::Rsa2048 => KeyPair::from_pem_and_sign_algo(rsa_pem, &rcgen::PKCS_RSA_SHA256)
            .expect("embedded RSA key"),
        KeyKind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "HK");
    dn.push(DnType::OrganizationName, "Benchmark eID Authority");
    dn.push(DnType::CommonName, cn);
    dn
}

/// Deterministic 16-byte positive serial numbers (splitmix64), like the
/// random serials real CAs issue.
fn serial(n: u64) -> Vec<u8> {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&mix(2 * n).to_be_bytes());
    out.extend_from_slice(&mix(2 * n + 1).to_be_bytes());
    out[0] = (out[0] & 0x7f) | 0x01;
    out
}

fn ca_params(cn: &str, serial_no: u64, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.serial_number = Some(SerialNumber::from_slice(&serial(serial_no)));
    params.not_before = datetime!(2025-01-01 0:00 UTC);
    params.not_after = datetime!(2035-01-01 0:00 UTC);
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.use_authority_key_identifier_extension = true;
    params
}

fn leaf_params(serial_bytes: &[u8]) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["citizen.eid.example.hk".to_owned()]).unwrap();
    params.distinguished_name = name("CHAN, Tai Man");
    params.serial_number = Some(SerialNumber::from_slice(serial_bytes));
    params.not_before = datetime!(2025-06-01 0:00 UTC);
    params.not_after = datetime!(2028-06-01 0:00 UTC);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params
}

impl Chain {
    fn build(kind: KeyKind) -> Self {
        let root_key = key_pair(&kind, RSA_ROOT_KEY);
        let intermediate_key = key_pair(&kind, RSA_INTERMEDIATE_KEY);
        let leaf_key = key_pair(&kind, RSA_LEAF_KEY);

        let root = ca_params("Benchmark Root CA", 1, None)
            .self_signed(&root_key)
            .unwrap();
        let intermediate = ca_params("Benchmark Citizen CA", 2, Some(0))
            .signed_by(&intermediate_key, &root, &root_key)
            .unwrap();

        // Serials 1000.. are revoked; the good leaf's serial is not.
        let revoked: Vec<Vec<u8>> = (0..CRL_ENTRIES as u64).map(|i| serial(1000 + i)).collect();
        let good_serial = serial(3);
        assert!(!revoked.contains(&good_serial));
        let leaf = leaf_params(&good_serial)
            .signed_by(&leaf_key, &intermediate, &intermediate_key)
            .unwrap();
        let revoked_leaf = leaf_params(&revoked[CRL_ENTRIES / 2])
            .signed_by(&leaf_key, &intermediate, &intermediate_key)
            .unwrap();

        let crl = CertificateRevocationListParams {
            this_update: datetime!(2026-05-31 0:00 UTC),
            next_update: datetime!(2026-06-07 0:00 UTC),
            crl_number: SerialNumber::from_slice(&[0x01, 0x2c]),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .enumerate()
                .map(|(i, s)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: datetime!(2026-01-01 0:00 UTC)
                        + time::Duration::minutes(i as i64),
                    reason_code: match i % 3 {
                        0 => Some(RevocationReason::KeyCompromise),
                        1 => Some(RevocationReason::Superseded),
                        _ => None,
                    },
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&intermediate, &intermediate_key)
        .unwrap();

        Self {
            root: root.der().to_vec(),
            intermediate: intermediate.der().to_vec(),
            leaf: leaf.der().to_vec(),
            revoked_leaf: revoked_leaf.der().to_vec(),
            crl: crl.der().to_vec(),
        }
    }
}

/// Our side: a trust store and options prepared once.
struct Ours {
    store: TrustStore,
    options: Options,
}

impl Ours {
    fn new(chain: &Chain, revocation: RevocationScope) -> Self {
        let mut options = Options::new(AT);
        options.purpose = Purpose::ClientAuth;
        options.revocation = revocation;
        options.unknown_status = UnknownStatus::Reject;
        Self {
            store: TrustStore::new(vec![Certificate::from_der(&chain.root).unwrap()]),
            options,
        }
    }

    /// Parse the end entity only, then build and validate with the
    /// intermediate parsed beforehand: the gateway's workload, where the
    /// issuing CAs are loaded once with the trust store.
    fn leaf_and_validate(
        &self,
        leaf: &[u8],
        intermediates: &[Certificate],
    ) -> Result<usize, CertError> {
        let leaf = Certificate::from_der(leaf)?;
        let path = self
            .store
            .validate(&leaf, intermediates, &[], &self.options)?;
        Ok(path.chain.len())
    }

    /// Parse the end entity and intermediate, then build and validate.
    fn parse_and_validate(
        &self,
        leaf: &[u8],
        intermediate: &[u8],
        crls: &[Crl],
    ) -> Result<usize, CertError> {
        let leaf = Certificate::from_der(leaf)?;
        let intermediates = [Certificate::from_der(intermediate)?];
        let path = self
            .store
            .validate(&leaf, &intermediates, crls, &self.options)?;
        Ok(path.chain.len())
    }
}

/// webpki's side: the anchor prepared once.
struct Webpki {
    anchors: Vec<TrustAnchor<'static>>,
    time: UnixTime,
}

impl Webpki {
    fn new(chain: &Chain) -> Self {
        let root = CertificateDer::from(chain.root.as_slice());
        Self {
            anchors: vec![webpki::anchor_from_trusted_cert(&root).unwrap().to_owned()],
            time: UnixTime::since_unix_epoch(Duration::from_secs(AT.unix_timestamp() as u64)),
        }
    }

    /// Parse the end entity, then build and validate (webpki parses the
    /// intermediate while building). With CRLs: end entity only, unknown
    /// status denied, nextUpdate enforced, as on our side.
    fn parse_and_validate(
        &self,
        leaf: &[u8],
        intermediate: &[u8],
        crls: &[&CertRevocationList<'_>],
    ) -> Result<usize, webpki::Error> {
        let leaf = CertificateDer::from(leaf);
        let end_entity = EndEntityCert::try_from(&leaf)?;
        let intermediates = [CertificateDer::from(intermediate)];
        let revocation = RevocationOptionsBuilder::new(crls).ok().map(|builder| {
            builder
                .with_depth(RevocationCheckDepth::EndEntity)
                .with_status_policy(UnknownStatusPolicy::Deny)
                .with_expiration_policy(ExpirationPolicy::Enforce)
                .build()
        });
        let path = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            self.time,
            webpki::KeyUsage::client_auth(),
            revocation,
            None,
        )?;
        Ok(2 + path.intermediate_certificates().count())
    }
}

/// Both validators accept the chains and agree on the revoked leaf, so the
/// comparison times equal work.
fn check_fixtures(name: &str, chain: &Chain) {
    let ours = Ours::new(chain, RevocationScope::Off);
    let theirs = Webpki::new(chain);
    assert_eq!(
        ours.parse_and_validate(&chain.leaf, &chain.intermediate, &[]),
        Ok(3),
        "{name}: ours rejects the chain"
    );
    assert_eq!(
        theirs.parse_and_validate(&chain.leaf, &chain.intermediate, &[]),
        Ok(3),
        "{name}: webpki rejects the chain"
    );

    let crl_ours = [Crl::from_der(&chain.crl).unwrap()];
    assert_eq!(crl_ours[0].revoked.len(), CRL_ENTRIES);
    let crl_theirs: CertRevocationList<'static> = OwnedCertRevocationList::from_der(&chain.crl)
        .unwrap()
        .into();
    let ours = Ours::new(chain, RevocationScope::EndEntity);
    assert_eq!(
        ours.parse_and_validate(&chain.leaf, &chain.intermediate, &crl_ours),
        Ok(3),
        "{name}: ours rejects the chain with the CRL"
    );
    assert_eq!(
        theirs.parse_and_validate(&chain.leaf, &chain.intermediate, &[&crl_theirs]),
        Ok(3),
        "{name}: webpki rejects the chain with the CRL"
    );
    let ours_revoked = ours.parse_and_validate(&chain.revoked_leaf, &chain.intermediate, &crl_ours);
    assert!(
        matches!(ours_revoked, Err(CertError::Revoked { .. })),
        "{name}: ours accepts a revoked leaf: {ours_revoked:?}"
    );
    let theirs_revoked =
        theirs.parse_and_validate(&chain.revoked_leaf, &chain.intermediate, &[&crl_theirs]);
    assert!(
        matches!(theirs_revoked, Err(webpki::Error::CertRevoked)),
        "{name}: webpki accepts a revoked leaf: {theirs_revoked:?}"
    );
    // Without a CRL, end-entity revocation checking fails closed on both.
    assert!(
        ours.parse_and_validate(&chain.leaf, &chain.intermediate, &[])
            .is_err()
    );
}

fn bench_chain(c: &mut Criterion, group: &str, chain: &Chain) {
    let ours = Ours::new(chain, RevocationScope::Off);
    let theirs = Webpki::new(chain);
    let intermediates = [Certificate::from_der(&chain.intermediate).unwrap()];

    let mut g = c.benchmark_group(group);
    g.bench_function("ours", |b| {
        b.iter(|| {
            ours.parse_and_validate(black_box(&chain.leaf), black_box(&chain.intermediate), &[])
                .unwrap()
        })
    });
    g.bench_function("webpki", |b| {
        b.iter(|| {
            theirs
                .parse_and_validate(black_box(&chain.leaf), black_box(&chain.intermediate), &[])
                .unwrap()
        })
    });
    // The gateway's workload: the presented leaf is parsed and checked, the
    // issuing CA was loaded once with the configuration (its signature is
    // checked on the first validation and remembered).
    g.bench_function("ours_ca_loaded_once", |b| {
        b.iter(|| {
            ours.leaf_and_validate(black_box(&chain.leaf), black_box(&intermediates))
                .unwrap()
        })
    });
    g.finish();
}

fn bench_crl(c: &mut Criterion, chain: &Chain) {
    let ours = Ours::new(chain, RevocationScope::EndEntity);
    let theirs = Webpki::new(chain);
    let crl_ours = [Crl::from_der(&chain.crl).unwrap()];
    let crl_theirs: CertRevocationList<'static> = OwnedCertRevocationList::from_der(&chain.crl)
        .unwrap()
        .into();
    let crls_theirs = [&crl_theirs];

    let mut g = c.benchmark_group("rsa2048_chain_crl1000");
    g.bench_function("ours", |b| {
        b.iter(|| {
            ours.parse_and_validate(
                black_box(&chain.leaf),
                black_box(&chain.intermediate),
                &crl_ours,
            )
            .unwrap()
        })
    });
    g.bench_function("webpki", |b| {
        b.iter(|| {
            theirs
                .parse_and_validate(
                    black_box(&chain.leaf),
                    black_box(&chain.intermediate),
                    &crls_theirs,
                )
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("crl1000_parse");
    g.bench_function("ours", |b| {
        b.iter(|| Crl::from_der(black_box(&chain.crl)).unwrap())
    });
    g.bench_function("webpki_owned", |b| {
        b.iter(|| OwnedCertRevocationList::from_der(black_box(&chain.crl)).unwrap())
    });
    g.finish();
}

/// Mean time per call of each closure, timed interleaved in rounds over
/// about `total` so that drift in machine speed affects both alike.
fn compare(
    total: Duration,
    mut ours: impl FnMut(),
    mut theirs: impl FnMut(),
) -> (Duration, Duration, u32) {
    const ROUNDS: u32 = 10;
    // Calibrate: iterations per round so that a round of one side takes
    // about total / (2 * ROUNDS).
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_millis(50) {
        ours();
        theirs();
        n += 1;
    }
    let per_pair = started.elapsed() / n;
    let per_round = ((total / ROUNDS).as_nanos() / per_pair.as_nanos().max(1)).max(1) as u32;
    let (mut t_ours, mut t_theirs) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..per_round {
            ours();
        }
        t_ours += t.elapsed();
        let t = Instant::now();
        for _ in 0..per_round {
            theirs();
        }
        t_theirs += t.elapsed();
    }
    let iterations = ROUNDS * per_round;
    (t_ours / iterations, t_theirs / iterations, iterations)
}

fn print_ratios(rsa: &Chain, p256: &Chain) {
    let total = Duration::from_secs(4);
    println!();
    println!("ours / webpki, parse + validate, mean per validation (interleaved, Instant):");
    for (case, chain) in [("RSA-2048 chain", rsa), ("P-256 chain", p256)] {
        let ours = Ours::new(chain, RevocationScope::Off);
        let theirs = Webpki::new(chain);
        let (a, b, n) = compare(
            total,
            || {
                black_box(ours.parse_and_validate(&chain.leaf, &chain.intermediate, &[])).unwrap();
            },
            || {
                black_box(theirs.parse_and_validate(&chain.leaf, &chain.intermediate, &[]))
                    .unwrap();
            },
        );
        report(case, a, b, n);
    }
    println!(
        "ours with the CA certificates parsed once (the gateway's workload) / webpki, \
         which takes intermediates as DER and parses them while building:"
    );
    for (case, chain) in [("RSA-2048 chain", rsa), ("P-256 chain", p256)] {
        let ours = Ours::new(chain, RevocationScope::Off);
        let theirs = Webpki::new(chain);
        let intermediates = [Certificate::from_der(&chain.intermediate).unwrap()];
        let (a, b, n) = compare(
            total,
            || {
                black_box(ours.leaf_and_validate(&chain.leaf, &intermediates)).unwrap();
            },
            || {
                black_box(theirs.parse_and_validate(&chain.leaf, &chain.intermediate, &[]))
                    .unwrap();
            },
        );
        report(case, a, b, n);
    }
    println!("ours / webpki, with revocation and CRL parsing:");
    let ours = Ours::new(rsa, RevocationScope::EndEntity);
    let theirs = Webpki::new(rsa);
    let crl_ours = [Crl::from_der(&rsa.crl).unwrap()];
    let crl_theirs: CertRevocationList<'static> =
        OwnedCertRevocationList::from_der(&rsa.crl).unwrap().into();
    let (a, b, n) = compare(
        total,
        || {
            black_box(ours.parse_and_validate(&rsa.leaf, &rsa.intermediate, &crl_ours)).unwrap();
        },
        || {
            black_box(theirs.parse_and_validate(&rsa.leaf, &rsa.intermediate, &[&crl_theirs]))
                .unwrap();
        },
    );
    report("RSA-2048 chain + 1,000-entry CRL", a, b, n);
    let (a, b, n) = compare(
        total,
        || {
            black_box(Crl::from_der(&rsa.crl)).unwrap();
        },
        || {
            black_box(OwnedCertRevocationList::from_der(&rsa.crl)).unwrap();
        },
    );
    report("1,000-entry CRL parse", a, b, n);
}

fn report(case: &str, ours: Duration, theirs: Duration, iterations: u32) {
    println!(
        "  {case:<34} ours {:>9.1} µs   webpki {:>9.1} µs   ratio {:>5.2}   ({iterations} each)",
        ours.as_secs_f64() * 1e6,
        theirs.as_secs_f64() * 1e6,
        ours.as_secs_f64() / theirs.as_secs_f64(),
    );
}

/// Whether criterion runs benchmarks (`cargo bench`) rather than testing
/// each once (`cargo test --benches`, or `cargo bench -- --test`), by its
/// own rule.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench") && !has("--test") && !has("--list")
}

fn main() {
    let rsa = Chain::build(KeyKind::Rsa2048);
    let p256 = Chain::build(KeyKind::P256);
    check_fixtures("RSA-2048", &rsa);
    check_fixtures("P-256", &p256);
    if benchmarking() {
        println!(
            "chains: RSA-2048 root {} B, intermediate {} B, leaf {} B; P-256 leaf {} B; \
             CRL {} entries, {} B",
            rsa.root.len(),
            rsa.intermediate.len(),
            rsa.leaf.len(),
            p256.leaf.len(),
            CRL_ENTRIES,
            rsa.crl.len()
        );
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_chain(&mut c, "rsa2048_chain", &rsa);
    bench_chain(&mut c, "p256_chain", &p256);
    bench_crl(&mut c, &rsa);
    c.final_summary();

    if benchmarking() {
        print_ratios(&rsa, &p256);
    }
}
