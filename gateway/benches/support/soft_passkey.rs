//! A software passkey written from the WebAuthn specification (ES256 key
//! from ring, `none` attestation, user verification, a signature counter,
//! discoverable), shared by the gateway's tests and its passkey benchmark.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub const ORIGIN: &str = "http://localhost:8080";

/// A software passkey: one credential, discoverable.
pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub counter: u32,
    pub origin: String,
}

fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![(major << 5) | len as u8],
        24..=255 => vec![(major << 5) | 24, len as u8],
        _ => {
            let mut v = vec![(major << 5) | 25];
            v.extend_from_slice(&(len as u16).to_be_bytes());
            v
        }
    }
}

fn cbor_text(text: &str) -> Vec<u8> {
    [cbor_head(3, text.len()), text.as_bytes().to_vec()].concat()
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    [cbor_head(2, bytes.len()), bytes.to_vec()].concat()
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}),
    )
    .unwrap()
}

impl SoftPasskey {
    pub fn new() -> SoftPasskey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut credential_id = vec![0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut credential_id).unwrap();
        SoftPasskey {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            origin: ORIGIN.into(),
        }
    }

    /// `navigator.credentials.create` with the gateway's options.
    pub fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().unwrap();
        self.user_handle = B64.decode(pk["user"]["id"].as_str().unwrap()).unwrap();
        assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
        let point = self.key.public_key().as_ref();
        let cose = [
            vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21],
            cbor_bytes(&point[1..33]),
            vec![0x22],
            cbor_bytes(&point[33..65]),
        ]
        .concat();
        let auth_data = [
            digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec(),
            vec![0x45], // UP | UV | AT
            self.counter.to_be_bytes().to_vec(),
            vec![0u8; 16],
            (self.credential_id.len() as u16).to_be_bytes().to_vec(),
            self.credential_id.clone(),
            cose,
        ]
        .concat();
        let attestation = [
            vec![0xa3],
            cbor_text("fmt"),
            cbor_text("none"),
            cbor_text("attStmt"),
            vec![0xa0],
            cbor_text("authData"),
            cbor_bytes(&auth_data),
        ]
        .concat();
        let client = client_data(
            "webauthn.create",
            pk["challenge"].as_str().unwrap(),
            &self.origin,
        );
        let id = B64.encode(&self.credential_id);
        json!({"id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {"attestationObject": B64.encode(attestation), "clientDataJSON": B64.encode(client)}})
    }

    /// `navigator.credentials.get` with the gateway's options.
    pub fn get(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        assert_eq!(pk["userVerification"], "required");
        self.counter += 1;
        let auth_data = [
            digest(&SHA256, pk["rpId"].as_str().unwrap().as_bytes())
                .as_ref()
                .to_vec(),
            vec![0x05], // UP | UV
            self.counter.to_be_bytes().to_vec(),
        ]
        .concat();
        let client = client_data(
            "webauthn.get",
            pk["challenge"].as_str().unwrap(),
            &self.origin,
        );
        let signed = [
            auth_data.clone(),
            digest(&SHA256, &client).as_ref().to_vec(),
        ]
        .concat();
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        let id = B64.encode(&self.credential_id);
        json!({"id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {"authenticatorData": B64.encode(&auth_data), "clientDataJSON": B64.encode(client),
                "signature": B64.encode(signature.as_ref()), "userHandle": B64.encode(&self.user_handle)}})
    }
}
