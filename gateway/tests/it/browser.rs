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
        (
            "en-consent",
            "consent",
            vec![
                ("scope", "openid eme.name eme.contact"),
                ("purpose", "To process your licence application"),
            ],
        ),
        (
            "zh-consent-decline",
            "decline",
            vec![
                ("scope", "openid eme.name eme.identity"),
                ("purpose", "To process your licence application"),
                ("ui_locales", "zh-HK"),
            ],
        ),
    ] {
        // The demo department pushes its request, as a department does.
        let assertion = crate::par::assertion(&dept, &dept.issuer, name);
        let scope = extra
            .iter()
            .find(|(k, _)| *k == "scope")
            .map_or("openid profile", |(_, v)| v);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", dept.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", scope),
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
        params.extend(extra.iter().filter(|(k, _)| *k != "scope"));
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
        // The step-up and the consent runs keep the session of the run
        // before them.
        let fresh = matches!(action, "register" | "autofill" | "signin");
        // Conditional UI is used by the autofill run; the button runs after
        // it see it unavailable.
        let no_conditional = action != "register" && action != "autofill";
        // The consent run leaves out the e-mail address.
        let untick: Vec<&str> = if action == "consent" {
            vec!["input[value=\"email\"]"]
        } else {
            vec![]
        };
        runs.push(
            json!({"name": name, "url": url, "action": action, "untick": untick,
            "fresh_cookies": fresh, "no_conditional": no_conditional}),
        );
    }
    // Before the consent runs, the citizen fills in part of the profile.
    runs.insert(
        4,
        json!({"name": "en-profile-fill", "url": format!("{public_url}/account/profile?lang=en"),
               "action": "profile", "fresh_cookies": false, "no_conditional": true,
               "fill": {"#f\\.mobile": "9123 4567", "#f\\.email": "tai.man@example.hk"}}),
    );
    let artifacts = root.join("target/browser-artifacts");
    let pages = json!([
        {"name": "en-account", "url": format!("{public_url}/account/passkeys?lang=en")},
        {"name": "zh-account", "url": format!("{public_url}/account/passkeys?lang=zh-HK")},
        {"name": "en-profile", "url": format!("{public_url}/account/profile?lang=en")},
        {"name": "zh-profile", "url": format!("{public_url}/account/profile?lang=zh-HK")},
        {"name": "zh-consents", "url": format!("{public_url}/account/consents?lang=zh-HK")},
        {"name": "en-consents", "url": format!("{public_url}/account/consents?lang=en"),
         "click": "button[type=submit]"},
    ]);
    let pause = dir.path().join("runs.json");
    let resume = dir.path().join("resume");
    let config = json!({"chromium": chromium, "artifacts": artifacts, "runs": runs,
        "pages": pages, "department": redirect_uri,
        "pause_file": pause, "resume_file": resume});
    let child = tokio::process::Command::new("node")
        .arg(root.join("browser-tests/signin.mjs"))
        .arg(config.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Between the runs and the pages (which revoke the consent): the
    // department redeems the consent run's code.
    let mut waited = 0;
    while !pause.exists() && waited < 1200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let paused_runs: Value = serde_json::from_str(
        &std::fs::read_to_string(&pause).expect("the runs finished within 120 s"),
    )
    .unwrap();
    let consent_claims = match paused_runs[5]["department_url"].as_str() {
        Some(back) => Some(redeem(&http, &public_url, &dept, &redirect_uri, back).await),
        None => None,
    };
    std::fs::write(&resume, b"").unwrap();
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the browser run finished within 120 s")
        .unwrap();
    assert!(
        output.status.success(),
        "browser run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    // The profile run saved the details.
    let profile_run = &report["runs"][4];
    assert!(
        profile_run["url"]
            .as_str()
            .unwrap_or("")
            .contains("done=saved"),
        "{profile_run}"
    );
    for run in report["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        if name == "en-profile-fill" {
            continue;
        }
        let back = run["department_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: never returned ({run}); log: {}", report["log"]));
        let expected = if name == "zh-consent-decline" {
            format!("{redirect_uri}?error=access_denied")
        } else {
            format!("{redirect_uri}?code=")
        };
        assert!(back.starts_with(&expected), "{name}: {back}");
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
            let expected_page = if name.contains("consent") {
                "/consent?flow="
            } else {
                "/signin?flow="
            };
            assert!(
                page["url"].as_str().unwrap().contains(expected_page),
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
    // The Chinese consent page: Chinese throughout (the department's name
    // and purpose are the department's words).
    let zh_consent = report["runs"][6]["pages"][0]["text"].as_str().unwrap();
    let english = has_latin_letters(
        zh_consent,
        &[
            "English",
            "Demo",
            "Department",
            "To",
            "process",
            "your",
            "licence",
            "application",
        ],
    );
    assert!(
        english.is_empty(),
        "untranslated on the Chinese consent page: {english:?}"
    );
    // The department redeemed the consent run's code before the
    // revocation: the ID token holds the granted details and not the
    // unticked e-mail address.
    let claims = consent_claims.expect("the consent run returned a code");
    assert_eq!(
        claims.get("name"),
        Some(&json!("CHAN, Tai Man")),
        "{claims:?}"
    );
    assert_eq!(
        claims.get("phone_number"),
        Some(&json!("+85291234567")),
        "{claims:?}"
    );
    assert!(claims.get("email").is_none(), "unticked: {claims:?}");
    // The consents page lists the grant; its revoke button revokes it.
    let revoked = &report["pages"][5]["after"];
    assert!(
        revoked["url"].as_str().unwrap().contains("done=revoked"),
        "{revoked}"
    );
    assert!(
        revoked["text"].as_str().unwrap().contains("Revoked"),
        "{revoked}"
    );
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
    demo.stop().await;
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
        let mut command = tokio::process::Command::from(crate::support::gateway_command(dir));
        command
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", "demo-data", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
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

/// Redeems the code in `back` as the demo department (private_key_jwt,
/// DPoP) and returns the verified ID token's claims.
async fn redeem(
    http: &reqwest::Client,
    public_url: &str,
    dept: &crate::par::Dept,
    redirect_uri: &str,
    back: &str,
) -> serde_json::Map<String, Value> {
    let code = form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (dpop_key, dpop_jwk) = crate::par::keypair();
    let token_url = format!("{public_url}/token");
    let assertion = crate::par::assertion(dept, &dept.issuer, "browser-token");
    let tokens: Value = http
        .post(&token_url)
        .header(
            "dpop",
            crate::par::dpop(&dpop_key, &dpop_jwk, &token_url, "browser-dpop"),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", crate::flow::VERIFIER),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: eid_core::oidc::jwk::Jwks = http
        .get(format!("{public_url}/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = eid_core::oidc::jws::parse(tokens["id_token"].as_str().unwrap()).unwrap();
    let kid = id_token.header_str("kid").unwrap();
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
        .unwrap();
    id_token.verify(key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_pays_bills_by_fps_pps_and_card_in_english_and_chinese() {
    let Some((chromium, root)) = tools() else {
        return;
    };
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    // Cards through the Stripe emulator, whose Stripe.js runs 3-D Secure.
    let Some(stripe) = crate::payments::card::emulator().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("gateway.toml");
    std::fs::write(
        &config_file,
        format!(
            "[payments]\nworker_interval_ms = 200\n\n[payments.card]\nprovider_id = \"stripe-card\"\n\
             api_base = {base:?}\nsecret_key = \"sk_test_gateway\"\npublishable_key = \"pk_test_gateway\"\n\
             js_url = \"{base}/js.stripe.com/v3/\"\nwebhook_secrets = [\"whsec_browser\"]\n",
            base = stripe.base
        ),
    )
    .unwrap();
    let demo = Demo::start(dir.path(), port, &config_file).await;
    let hooks = reqwest::Client::new()
        .post(format!("{}/_config/webhooks/gateway", stripe.base))
        .form(&[
            ("url", format!("{}/callbacks/stripe-card", demo.base)),
            ("secret", "whsec_browser".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(hooks.status().is_success());
    let department: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-data/demo-department.json")).unwrap(),
    )
    .unwrap();
    let api_key = department["api_key"].as_str().expect("the demo's API key");
    let http = reqwest::Client::new();
    let mut runs = Vec::new();
    for (name, lang, method, amount) in [
        ("en-fps", "en", "fps", "1234.50"),
        ("zh-fps", "zh-HK", "fps", "88.00"),
        ("zh-pps", "zh-HK", "pps", "42.10"),
        ("en-card", "en", "card", "300.00"),
        ("zh-card", "zh-HK", "card", "66.60"),
    ] {
        let bill: Value = http
            .post(format!("{}/v1/bills", demo.base))
            .bearer_auth(api_key)
            .header("idempotency-key", name)
            .json(&json!({
                "reference": format!("BROWSER-{}", name.to_uppercase()),
                "amount": amount,
                "description": {"en": "Licence fee", "zh": "牌照費"},
                "due_date": "2099-12-31",
                "methods": ["fps", "pps", "card"],
                "return_url": "http://127.0.0.1:8081/paid",
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = format!("{}?lang={lang}", bill["pay_url"].as_str().unwrap());
        runs.push(
            json!({"name": format!("pay-{name}"), "url": url, "method": method,
            "card": "4000002760003184"}),
        );
    }
    let artifacts = root.join("target/browser-artifacts");
    let config = json!({"chromium": chromium, "artifacts": artifacts, "runs": runs});
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(root.join("browser-tests/pay.mjs"))
            .arg(config.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run finished within 120 s")
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    for run in report["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        assert!(run["error"].is_null(), "{name}: {run}");
        for page in run["pages"].as_array().unwrap() {
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
            // The gateway's own pages in Chinese: no English but the
            // switch, the currency, the method's name and the reference.
            if name.starts_with("pay-zh") && page["url"].as_str().unwrap().contains("/pay/") {
                assert_eq!(page["lang"], "zh-Hant-HK", "{}", page["page"]);
                let english = has_latin_letters(
                    page["text"].as_str().unwrap(),
                    &[
                        "English", "HK", "BROWSER", "ZH", "FPS", "PPS", "CARD", "CVC", "pay",
                        "eID", "Gateway",
                    ],
                );
                assert!(english.is_empty(), "{}: {english:?}", page["page"]);
            }
        }
    }
    // FPS: the page updated itself and showed the receipt.
    let en = &report["runs"][0];
    assert!(en["url"].as_str().unwrap().contains("/receipt"), "{en}");
    let receipt = en["pages"][2]["text"].as_str().unwrap();
    assert!(
        receipt.contains("HK$1,234.50") && receipt.contains("Receipt"),
        "{receipt}"
    );
    let zh = &report["runs"][1];
    assert!(zh["pages"][2]["text"].as_str().unwrap().contains("收據"));
    // PPS: back from the sandbox page, the bill is paid.
    let pps = &report["runs"][2];
    assert!(
        pps["pages"][3]["text"].as_str().unwrap().contains("已繳付"),
        "{pps}"
    );
    // And the department's view agrees.
    let bills: Value = http
        .get(format!("{}/v1/bills?status=paid", demo.base))
        .bearer_auth(api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bills["data"].as_array().unwrap().len(), 5, "{bills}");
    // Cards: a 3-D Secure challenge passed in the browser, then the receipt.
    for run in [3, 4] {
        let card = &report["runs"][run];
        assert!(card["url"].as_str().unwrap().contains("/receipt"), "{card}");
    }
    assert!(
        report["runs"][3]["pages"][2]["text"]
            .as_str()
            .unwrap()
            .contains("HK$300.00")
    );
    demo.stop().await;
}
