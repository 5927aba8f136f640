//! The sign-in pages in a real browser: Debian's `chromium` driven by
//! `playwright-core` (browser-tests/signin.mjs) with a virtual WebAuthn
//! authenticator, `axe-core` on every page, screenshots at desktop and
//! phone widths saved under `target/browser-artifacts/`.
//!
//! Needs `chromium` (`$CHROMIUM` or /usr/bin/chromium), `node`, and
//! `npm ci` in browser-tests/; without them the test says why it was
//! skipped, and under CI (`CI` set) that is a failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::par::form;

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
    // A port for the demo: browsers want a host name for passkeys, so the
    // demo serves http://localhost:PORT when it listens on loopback.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let public_url = format!("http://localhost:{port}");
    // A card issuer (CRL on loopback), a citizen's card, and a card-reader
    // helper on loopback that signs with the card's key.
    let issuer = crate::card::Issuer::start().await;
    let card = Arc::new(crate::card::issue(
        &issuer,
        &crate::card::Spec::good(7, "SRN-BROWSER"),
    ));
    let helper = card_helper(card, public_url.clone()).await;
    let card_config = issuer.card_config();
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("gateway.toml");
    std::fs::write(
        &config_file,
        format!(
            "[signin.card]\ntrust_anchors = [{:?}]\nfetch_timeout_secs = 2\nhelper_url = {helper:?}\n",
            card_config.trust_anchors[0]
        ),
    )
    .unwrap();

    // The real `gateway demo`, seeded on first run.
    let demo = Demo::start(dir.path(), port, &config_file).await;
    assert_eq!(demo.base, public_url);
    let department: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-data/demo-department.json")).unwrap(),
    )
    .unwrap();
    let dept = crate::par::Dept {
        client_id: department["client_id"].as_str().unwrap().to_owned(),
        key: eid_core::oidc::keys::SigningKey::from_private_jwk(&department["private_jwk"])
            .expect("the demo department's private key"),
        issuer: department["issuer"].as_str().unwrap().to_owned(),
    };
    let redirect_uri = department["redirect_uri"].as_str().unwrap().to_owned();
    assert_eq!(dept.issuer, public_url);
    let http = reqwest::Client::new();
    let mut runs = Vec::new();
    for (name, action, extra) in [
        ("en-register", "register", vec![]),
        ("en-autofill", "autofill", vec![]),
        ("zh-signin", "signin", vec![("ui_locales", "zh-HK")]),
        (
            "zh-card-step-up",
            "card",
            vec![
                ("ui_locales", "zh-HK"),
                ("acr_values", "urn:eid-gateway:loa:high"),
            ],
        ),
    ] {
        // The demo department pushes its request, as a department does.
        let assertion = crate::par::assertion(&dept, &dept.issuer, name);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", dept.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "nn"),
            ("code_challenge", crate::par::CHALLENGE),
            ("code_challenge_method", "S256"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        params.extend_from_slice(&extra);
        let pushed = http
            .post(format!("{public_url}/par"))
            .form(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), reqwest::StatusCode::CREATED);
        let pushed: Value = pushed.json().await.unwrap();
        let url = format!(
            "{public_url}/authorize?{}",
            form(&[
                ("client_id", dept.client_id.as_str()),
                ("request_uri", pushed["request_uri"].as_str().unwrap())
            ])
        );
        // The step-up keeps the passkey session of the run before it.
        let fresh = action != "card";
        // Conditional UI is used by the autofill run; the button runs after
        // it see it unavailable.
        let no_conditional = matches!(action, "signin" | "card");
        runs.push(json!({"name": name, "url": url, "action": action,
            "fresh_cookies": fresh, "no_conditional": no_conditional}));
    }
    let artifacts = root.join("target/browser-artifacts");
    let pages = json!([
        {"name": "en-account", "url": format!("{public_url}/account/passkeys?lang=en")},
        {"name": "zh-account", "url": format!("{public_url}/account/passkeys?lang=zh-HK")},
        {"name": "en-profile", "url": format!("{public_url}/account/profile?lang=en")},
        {"name": "zh-profile", "url": format!("{public_url}/account/profile?lang=zh-HK")},
    ]);
    let config = json!({"chromium": chromium, "artifacts": artifacts, "runs": runs,
        "pages": pages, "department": redirect_uri});
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
    demo.stop().await;
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
            back.starts_with(&format!("{redirect_uri}?code=")),
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
    // The Chinese pages (sign-in, step-up with the card): Chinese markup,
    // and no English left but the switch.
    for run in [2, 3] {
        let zh = &report["runs"][run]["pages"][0];
        assert_eq!(zh["lang"], "zh-Hant-HK");
        let english = has_latin_letters(zh["text"].as_str().unwrap(), &["English"]);
        assert!(
            english.is_empty(),
            "untranslated on the Chinese page: {english:?}"
        );
    }
    let step_up = report["runs"][3]["pages"][0]["text"].as_str().unwrap();
    assert!(step_up.contains("智能身份證"), "{step_up}");
    // Every page seen signed in: axe-core clean; the Chinese ones with no
    // English but the switch and what came from the card.
    for page in report["pages"].as_array().unwrap() {
        let serious: Vec<&Value> = page["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "{}: axe-core: {serious:?}",
            page["page"]
        );
    }
    let zh_profile = report["pages"][3]["text"].as_str().unwrap();
    let english = has_latin_letters(zh_profile, &["English"]);
    assert!(
        english.is_empty(),
        "untranslated on the Chinese profile page: {english:?}"
    );
    // The card's name came in as a verified value.
    let en_profile = report["pages"][2]["text"].as_str().unwrap();
    assert!(
        en_profile.contains("Verified from your smart ID card"),
        "{en_profile}"
    );
    // After the step-up the account holds the card.
    let account = report["pages"][0]["text"].as_str().unwrap();
    assert!(
        account.contains("linked to your smart ID card"),
        "{account}"
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
        "zh-card-step-up-signin-phone.png",
    ] {
        assert!(artifacts.join(shot).exists(), "{shot}");
    }
}

/// A card-reader helper on loopback: signs the gateway's challenge with
/// the card's key, as the real helper does with the card, and answers the
/// browser's CORS preflight for the gateway's origin only.
async fn card_helper(card: Arc<crate::card::Card>, origin: String) -> String {
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    let cors = move |response: axum::response::Response| {
        let mut response = response;
        let headers = response.headers_mut();
        headers.insert(
            "access-control-allow-origin",
            HeaderValue::from_str(&origin).unwrap(),
        );
        headers.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("content-type"),
        );
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("POST"),
        );
        headers.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
        response
    };
    let app = axum::Router::new()
        .route(
            "/v1/sign",
            axum::routing::post(move |axum::Json(request): axum::Json<Value>| {
                let answer = card.answer(&request);
                async move { axum::Json(answer).into_response() }
            })
            .options(|| async { axum::http::StatusCode::NO_CONTENT.into_response() }),
        )
        .layer(axum::middleware::map_response(move |r| {
            let cors = cors.clone();
            async move { cors(r) }
        }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// `gateway demo` running in a child process.
struct Demo {
    child: tokio::process::Child,
    base: String,
}

impl Demo {
    /// Starts the demo on `port` with its data under `dir/demo-data` and
    /// waits for its "listening" line.
    async fn start(dir: &std::path::Path, port: u16, config: &std::path::Path) -> Demo {
        use tokio::io::AsyncBufReadExt;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
        command
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", "demo-data", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GATEWAY_") {
                command.env_remove(key);
            }
        }
        let mut child = command.spawn().unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("gateway listening on ") {
                    return url.to_owned();
                }
            }
            panic!("gateway demo ended before listening")
        })
        .await
        .expect("gateway demo listens within 30 s");
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Demo { child, base }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
