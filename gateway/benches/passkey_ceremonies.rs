//! Passkey sign-in ceremonies per second per core, server side: begin
//! (challenge, state stored in SQLite) and finish (state taken, signature
//! and counter verified with webauthn-rs, passkey updated), on a
//! single-threaded runtime, against a software authenticator.
//!
//! `cargo bench -p gateway --bench passkey_ceremonies`
//!
//! The authenticator's own work (signing) is timed separately and taken
//! out, so the figure is what one gateway core can serve.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/soft_passkey.rs"]
mod soft_passkey;

use std::time::{Duration, Instant};

use gateway::Db;
use gateway::config::Config;
use gateway::signin::passkeys::Passkeys;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use soft_passkey::{ORIGIN, SoftPasskey};

const ROUNDS: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let db = Db::connect(&config.database).await.unwrap();
        db.migrate().await.unwrap();
        let passkeys = Passkeys::new(ORIGIN, time::Duration::minutes(5)).unwrap();
        let now = time::OffsetDateTime::now_utc();

        let mut authenticator = SoftPasskey::new();
        let (handle, options) = passkeys.begin_registration(&db, None, now).await.unwrap();
        let answer: RegisterPublicKeyCredential = serde_json::from_value(authenticator.create(&options)).unwrap();
        passkeys.finish_registration(&db, &handle, &answer, "bench", now).await.unwrap();

        for label in ["warm-up", "measured"] {
            let rounds = if label == "warm-up" { 200 } else { ROUNDS };
            let mut authenticator_time = Duration::ZERO;
            let started = Instant::now();
            for _ in 0..rounds {
                let (handle, options) = passkeys.begin_sign_in(&db, now).await.unwrap();
                let options = serde_json::to_value(&options).unwrap();
                let signing = Instant::now();
                let answer: PublicKeyCredential = serde_json::from_value(authenticator.get(&options)).unwrap();
                authenticator_time += signing.elapsed();
                passkeys.finish_sign_in(&db, &handle, &answer, now).await.unwrap();
            }
            let total = started.elapsed();
            let server = total - authenticator_time;
            if label == "measured" {
                println!(
                    "passkey sign-in (begin + finish, SQLite, one core): {rounds} ceremonies, server {:.1} ms total, \
                     {:.0} µs each, {:.0} per second; authenticator {:.0} µs each (not counted)",
                    server.as_secs_f64() * 1e3,
                    server.as_secs_f64() * 1e6 / rounds as f64,
                    rounds as f64 / server.as_secs_f64(),
                    authenticator_time.as_secs_f64() * 1e6 / rounds as f64,
                );
            }
        }
    });
}
