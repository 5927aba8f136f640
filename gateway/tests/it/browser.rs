//! The sign-in pages in a real browser: Debian's `chromium` driven by
//! `playwright-core` (browser-tests/signin.mjs) with a virtual WebAuthn
//! authenticator, `axe-core` on every page, screenshots at desktop and
//! phone widths saved under `target/browser-artifacts/`.
//!
//! Needs `chromium` (`$CHROMIUM` or /usr/bin/chromium), `node`, and
//! `npm ci` in browser-tests/; without them the test says why it was
//! skipped, and under CI (`CI` set) that is a failure.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::flow::{Backend, push, setup_db_sessions_at};
use crate::par::{department, form};

fn tools() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let script = root.join("browser-tests/signin.mjs");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let modules = root
        .join("browser-tests/node_modules/playwright-core")
        .exists()
        && root.join("browser-tests/node_modules/axe-core").exists();
    if chromium.exists() && node && modules {
        return Some((chromium, root));
    }
    let why = format!(
        "browser test skipped: chromium at {} {}, node {}, browser-tests/node_modules {} (apt-get install chromium; cd browser-tests && npm ci)",
        chromium.display(),
        if chromium.exists() {
            "found"
        } else {
            "missing"
        },
        if node { "found" } else { "missing" },
        if modules { "found" } else { "missing" },
    );
    assert!(std::env::var_os("CI").is_none(), "{why} (CI must not skip)");
    eprintln!("{why}");
    let _ = script;
    None
}

fn has_latin_letters(text: &str, allowed: &[&str]) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && !allowed.contains(w))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_citizen_registers_then_signs_in_again_in_english_and_chinese() {
    let Some((chromium, root)) = tools() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let public_url = format!("http://localhost:{port}");
    let s = setup_db_sessions_at(Backend::Sqlite, &public_url)
        .await
        .unwrap();
    let dept = department(&s.state).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::server::serve(
        listener,
        s.app.clone(),
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    let mut runs = Vec::new();
    for (name, action, extra) in [
        ("en-register", "register", vec![]),
        ("en-signin", "signin", vec![]),
        ("zh-signin", "signin", vec![("ui_locales", "zh-HK")]),
    ] {
        let request_uri = push(&s, &dept, name, &extra).await;
        let url = format!(
            "{public_url}/authorize?{}",
            form(&[
                ("client_id", dept.client_id.as_str()),
                ("request_uri", &request_uri)
            ])
        );
        runs.push(json!({"name": name, "url": url, "action": action, "fresh_cookies": true}));
    }
    let artifacts = root.join("target/browser-artifacts");
    let pages = json!([
        {"name": "en-account", "url": format!("{public_url}/account/passkeys?lang=en")},
        {"name": "zh-account", "url": format!("{public_url}/account/passkeys?lang=zh-HK")},
    ]);
    let config =
        json!({"chromium": chromium, "artifacts": artifacts, "runs": runs, "pages": pages});
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(root.join("browser-tests/signin.mjs"))
            .arg(config.to_string())
            .output(),
    )
    .await
    .expect("the browser run finished within 120 s")
    .unwrap();
    let _ = stop.send(());
    let _ = server.await;
    assert!(
        output.status.success(),
        "browser run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    for run in report["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        let back = run["department_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: never returned ({run}); log: {}", report["log"]));
        assert!(
            back.starts_with("https://lands.gov.hk/cb?code="),
            "{name}: {back}"
        );
        assert!(
            back.contains(&format!("iss=http%3A%2F%2Flocalhost%3A{port}")),
            "{name}: {back}"
        );
        for page in run["pages"].as_array().unwrap() {
            let serious: Vec<&Value> = page["violations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                .collect();
            assert!(serious.is_empty(), "{name}: axe-core: {serious:?}");
            assert!(
                page["url"].as_str().unwrap().contains("/signin?flow="),
                "{name}: {}",
                page["url"]
            );
        }
    }
    // The Chinese page: Chinese markup, and no English left but the switch.
    let zh = &report["runs"][2]["pages"][0];
    assert_eq!(zh["lang"], "zh-Hant-HK");
    let english = has_latin_letters(zh["text"].as_str().unwrap(), &["English"]);
    assert!(
        english.is_empty(),
        "untranslated on the Chinese page: {english:?}"
    );
    let en = &report["runs"][0]["pages"][0];
    assert_eq!(en["lang"], "en");
    assert!(
        en["text"]
            .as_str()
            .unwrap()
            .contains("Create an account with a passkey")
    );
    // One passkey made in the first run served the next two.
    assert_eq!(report["credentials"], 1);
    for shot in [
        "en-register-signin-desktop.png",
        "zh-signin-signin-phone.png",
    ] {
        assert!(artifacts.join(shot).exists(), "{shot}");
    }
    s.db.finish().await;
}
