//! The real binary: exit codes, one-line errors, environment overrides, the
//! demo's first run, reuse and reset, and shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A command with a clean `GATEWAY_*` environment, run in `dir`.
fn gateway(dir: &Path) -> Command {
    crate::support::gateway_command(dir)
}

/// Runs to completion (with a time limit) and returns the output.
fn run(mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("command finished in time")
        .unwrap()
}

/// Asserts exit code 2 and a single `error:` line naming `needle`, with no
/// panic or backtrace.
fn assert_config_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{needle:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

#[test]
fn missing_config_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command.args(["serve", "--config", "nope.toml"]);
    assert_config_error(&run(command), "nope.toml");
}

#[test]
fn config_file_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[http]\nlisten_address = \"1.2.3.4:5\"\n", "listen_address"),
        ("[http]\nmax_body_bytes = \"lots\"\n", "max_body_bytes"),
        ("[http\nlisten = ", "TOML"),
        ("[database]\nurl = \"mysql://x/y\"\n", "database.url"),
        ("[log]\nformat = \"xml\"\n", "xml"),
        (
            "[tls]\ncert_file = \"absent-cert.pem\"\nkey_file = \"absent-key.pem\"\n",
            "absent-cert.pem",
        ),
        (
            "[signin.card]\ntrust_anchors = [\"absent-roots.pem\"]\n",
            "absent-roots.pem",
        ),
        (
            "[signin.card]\ntrust_anchors = []\n",
            "signin.card.trust_anchors",
        ),
        (
            "[signin.card]\ntrust_anchors = [\"r.pem\"]\ntls_listen = \"127.0.0.1:0\"\n",
            "needs [tls]",
        ),
        (
            "[signin.card]\ntrust_anchors = [\"r.pem\"]\nhelper_url = \"file:///x\"\n",
            "signin.card.helper_url",
        ),
    ];
    for (text, needle) in cases {
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        let mut command = gateway(dir.path());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&path);
        assert_config_error(&run(command), needle);
    }
}

#[test]
fn environment_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("GATEWAY_HTTP__MAX_BODY_BYTES", "lots", "max_body_bytes"),
        ("GATEWAY_HTTP__NO_SUCH_SETTING", "1", "no_such_setting"),
        ("GATEWAY_DATABASE__URL", "oracle://db", "database.url"),
        (
            "GATEWAY_DATABASE__MAX_CONNECTIONS",
            "0",
            "database.max_connections",
        ),
    ];
    for (key, value, needle) in cases {
        let mut command = gateway(dir.path());
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(key, value);
        assert_config_error(&run(command), needle);
    }
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command.args(["serve", "--listen", "not-an-address"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
}

#[test]
fn unreachable_database_exits_1_without_leaking_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(
            "GATEWAY_DATABASE__URL",
            "postgres://gw:s3cret-pw@127.0.0.1:1/gateway",
        )
        .env("GATEWAY_DATABASE__ACQUIRE_TIMEOUT_SECS", "2");
    let output = run(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

#[test]
fn migrate_creates_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command
        .arg("migrate")
        .env("GATEWAY_DATABASE__URL", "sqlite://state/gw.db");
    let output = run(command);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    assert!(dir.path().join("state/gw.db").exists());
    let mut again = gateway(dir.path());
    again
        .arg("migrate")
        .env("GATEWAY_DATABASE__URL", "sqlite://state/gw.db");
    assert!(run(again).status.success(), "a second migrate is a no-op");
}

/// A running gateway process and the URL it printed.
struct Running {
    child: Child,
    base: String,
    stdout: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let base = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "gateway did not start: {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            };
            if let Some(url) = line.strip_prefix("gateway listening on ") {
                break url.to_owned();
            }
        };
        Self {
            child,
            base,
            stdout: rx,
        }
    }

    /// The rest of standard output printed so far (the demo's banner).
    fn printed(&self) -> String {
        std::thread::sleep(Duration::from_millis(200));
        self.stdout.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn get(&self, path: &str) -> (u16, String) {
        plain_http::get(&format!("{}{path}", self.base))
    }

    /// Sends SIGTERM and returns the exit status and standard error.
    fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (tx, rx) = mpsc::channel();
        let child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("gateway stops after SIGTERM")
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod plain_http {
    //! A tiny blocking GET over a std socket: the CLI tests run without an
    //! async runtime.
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub fn get(url: &str) -> (u16, String) {
        get_with(url, "")
    }

    /// A GET with extra header lines (each ending in CRLF).
    pub fn get_with(url: &str, headers: &str) -> (u16, String) {
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let status = raw[9..12].parse().unwrap();
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
        (status, body)
    }
}

fn demo(dir: &Path, extra: &[&str]) -> Command {
    let mut command = gateway(dir);
    command
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir", "demo-data"])
        .args(extra);
    command
}

#[test]
fn demo_serves_reuses_and_resets() {
    let dir = tempfile::tempdir().unwrap();

    let first = Running::start(demo(dir.path(), &[]));
    let banner = first.printed();
    assert!(banner.contains("seeded now"), "{banner}");
    assert!(banner.contains("/jwks"), "{banner}");
    let department: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-data/demo-department.json")).unwrap(),
    )
    .unwrap();
    let client_id = department["client_id"].as_str().unwrap().to_owned();
    assert_eq!(department["token_endpoint_auth_method"], "private_key_jwt");
    assert!(department["private_jwk"]["d"].is_string());
    assert!(
        department["issuer"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let (status, discovery) = first.get("/.well-known/openid-configuration");
    assert_eq!(status, 200);
    assert!(discovery.contains("\"require_pushed_authorization_requests\":true"));
    // The department's test API key lists the seeded bills.
    let api_key = department["api_key"].as_str().unwrap();
    assert!(api_key.starts_with("gw_test_"), "{api_key}");
    let (status, bills) = plain_http::get_with(
        &format!("{}/v1/bills", first.base),
        &format!("Authorization: Bearer {api_key}\r\n"),
    );
    assert_eq!(status, 200, "{bills}");
    let bills: serde_json::Value = serde_json::from_str(
        bills
            .split_once('{')
            .map(|(_, b)| b)
            .map(|b| format!("{{{b}"))
            .unwrap()
            .trim_end_matches(|c: char| c != '}'),
    )
    .unwrap();
    assert_eq!(bills["data"].as_array().unwrap().len(), 3, "{bills}");
    assert!(banner.contains("/v1/bills"), "{banner}");
    // It prints a pay URL that opens a seeded bill's page.
    let pay = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("pay a bill "))
        .expect("a pay URL");
    let (status, page) = first.get(pay.strip_prefix(&first.base).unwrap());
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("DEMO-"), "{page}");
    let (status, jwks) = first.get("/jwks");
    assert_eq!(status, 200);
    assert!(jwks.contains("\"kty\":\"EC\""), "{jwks}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            "demo-department.json",
            "encryption-key",
            "pairwise-secret",
            "profile-key",
            "fps-sandbox-seed",
            "pps-sandbox-key",
        ] {
            let mode = std::fs::metadata(dir.path().join("demo-data").join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is private");
        }
    }
    assert!(
        banner.contains(&format!("{}/healthz", first.base)),
        "{banner}"
    );
    assert!(banner.contains("--reset"));
    assert_eq!(
        first.get("/healthz"),
        (200, "{\"status\":\"ok\"}".to_owned())
    );
    let (status, body) = first.get("/readyz");
    assert_eq!(status, 200, "{body}");
    let (status, metrics) = first.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#)
    );
    let (code, stderr) = first.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(dir.path().join("demo-data/gateway.db").exists());

    let second = Running::start(demo(dir.path(), &[]));
    let banner = second.printed();
    assert!(banner.contains("reusing data seeded"), "{banner}");
    assert_eq!(second.terminate().0, Some(0));
    let again: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-data/demo-department.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        again["client_id"],
        client_id.as_str(),
        "the department is reused"
    );

    let third = Running::start(demo(dir.path(), &["--reset"]));
    let banner = third.printed();
    assert!(banner.contains("seeded now"), "{banner}");
    assert_eq!(third.terminate().0, Some(0));
    let fresh: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-data/demo-department.json")).unwrap(),
    )
    .unwrap();
    assert_ne!(
        fresh["client_id"],
        client_id.as_str(),
        "--reset registers anew"
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
        .env("GATEWAY_LOG__FORMAT", "json");
    let running = Running::start(command);
    assert_eq!(running.get("/healthz").0, 200);
    assert_eq!(running.get("/missing").0, 404);
    let (code, stderr) = running.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request_lines: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.len() == 32)
        })
        .collect();
    assert!(
        request_lines.len() >= 2,
        "request lines carry the id: {stderr}"
    );
    assert!(stderr.contains("received SIGTERM"));
    assert!(!stderr.contains("/missing"), "raw paths are not logged");
}

#[test]
fn port_in_use_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut command = gateway(dir.path());
    command
        .args(["serve", "--listen", &addr])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db");
    let output = run(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn tls_files_are_checked_before_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GATEWAY_TLS__CERT_FILE", "missing-cert.pem")
        .env("GATEWAY_TLS__KEY_FILE", "missing-key.pem")
        .env("GATEWAY_DATABASE__URL", "postgres://gw@127.0.0.1:1/gw");
    assert_config_error(&run(command), "missing-cert.pem");
}

#[test]
fn api_keys_are_shown_once_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut command = gateway(dir.path());
        command
            .args(args)
            .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
            .env(
                "GATEWAY_KEYS__ENCRYPTION_KEY",
                "Q0xJLXdlYmhvb2stc2VhbGluZy10ZXN0LWtleS0wMDA=",
            );
        run(command)
    };
    let added = cmd(&[
        "client",
        "add",
        "--name",
        "Lands Department",
        "--redirect-uri",
        "https://lands.gov.hk/cb",
        "--secret",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let client_id = String::from_utf8_lossy(&added.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("client_id: ").map(str::to_owned))
        .expect("the client id is printed");
    let made = cmd(&["client", "api-key", client_id.trim(), "--mode", "live"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert!(key.starts_with("gw_live_"), "{key}");
    let key_id = &key["gw_live_".len().."gw_live_".len() + 16];
    assert!(String::from_utf8_lossy(&made.stderr).contains(key_id));
    assert!(
        !String::from_utf8_lossy(&made.stderr).contains(&key),
        "shown once, on stdout"
    );
    let unknown = cmd(&["client", "api-key", "no-such-client"]);
    assert_eq!(unknown.status.code(), Some(2));
    let revoked = cmd(&["client", "revoke-key", key_id]);
    assert!(revoked.status.success());
    let again = cmd(&["client", "revoke-key", key_id]);
    assert_eq!(again.status.code(), Some(2), "already revoked");

    // Webhook endpoints: a secret shown once; a rotation signs with both.
    let secret_of = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("webhook_secret: ").map(str::to_owned))
            .expect("the secret is printed")
    };
    let url = "https://lands.gov.hk/hooks";
    let first = cmd(&["client", "webhook", client_id.trim(), "--url", url]);
    assert!(first.status.success(), "{first:?}");
    let old = secret_of(&first);
    assert!(old.starts_with("whsec_") && old.len() >= 49, "{old}");
    let rotated = cmd(&[
        "client",
        "webhook",
        client_id.trim(),
        "--url",
        url,
        "--rotate",
    ]);
    let new = secret_of(&rotated);
    assert_ne!(new, old);
    let kek = eid_core::oidc::KeyEncryptionKey::from_base64(&eid_core::Secret::new(
        "Q0xJLXdlYmhvb2stc2VhbGluZy10ZXN0LWtleS0wMDA=".into(),
    ))
    .unwrap();
    let stored = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut config = gateway::Config::default();
        config.database.url = format!("sqlite://{}", dir.path().join("gw.db").display());
        let db = gateway::Db::connect(&config.database).await.unwrap();
        let endpoint = db
            .webhook_endpoint(client_id.trim(), &kek)
            .await
            .unwrap()
            .unwrap();
        db.close().await;
        endpoint
    });
    assert_eq!(stored.url, url);
    assert_eq!(
        stored.secrets,
        vec![new, old],
        "the new one first, the old one kept"
    );
    for bad in ["http://lands.gov.hk/hooks", "ftp://x", "https://a b"] {
        let refused = cmd(&["client", "webhook", client_id.trim(), "--url", bad]);
        assert_eq!(refused.status.code(), Some(2), "{bad}");
    }
    let unknown = cmd(&["client", "webhook", "no-such-client", "--url", url]);
    assert_eq!(unknown.status.code(), Some(2));
    // Sealed at rest: the database holds neither secret.
    // (The WAL file too: recent writes may still be there.)
    let mut raw = std::fs::read(dir.path().join("gw.db")).unwrap();
    raw.extend(std::fs::read(dir.path().join("gw.db-wal")).unwrap_or_default());
    assert!(
        raw.windows(url.len()).any(|w| w == url.as_bytes()),
        "the endpoint itself is there"
    );
    for secret in &stored.secrets {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a webhook secret in the clear"
        );
    }
    // Without keys.encryption_key there is nothing to seal with.
    let mut command = gateway(dir.path());
    command
        .args(["client", "webhook", client_id.trim(), "--url", url])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db");
    let refused = run(command);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("encryption_key"),
        "{refused:?}"
    );
}

#[test]
fn clients_are_registered_listed_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let env = ("GATEWAY_DATABASE__URL", "sqlite://gw.db");
    let cmd = |args: &[&str]| {
        let mut command = gateway(dir.path());
        command.args(args).env(env.0, env.1);
        run(command)
    };
    let output = cmd(&[
        "client",
        "add",
        "--name",
        "Water Supplies",
        "--redirect-uri",
        "https://wsd.gov.hk/cb",
        "--secret",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{output:?}");
    let client_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 43, "256 bits");

    std::fs::write(dir.path().join("jwks.json"), r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#).unwrap();
    let output = cmd(&[
        "client",
        "add",
        "--name",
        "Lands",
        "--redirect-uri",
        "https://lands.gov.hk/cb",
        "--jwks-file",
        "jwks.json",
        "--scope",
        "profile",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("client_secret"));

    let output = cmd(&["client", "list"]);
    let listed: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    // Both were registered within the same second: find them by name.
    let by_name = |name: &str| listed.iter().find(|c| c["name"] == name).unwrap().clone();
    let water = by_name("Water Supplies");
    let lands = by_name("Lands");
    assert_eq!(water["client_id"], client_id.as_str());
    assert_eq!(water["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(lands["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(lands["scopes"], serde_json::json!(["openid", "profile"]));
    assert_eq!(lands["dpop_bound"], true);
    let all = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!all.contains(&secret), "the secret is never shown again");

    assert!(cmd(&["client", "disable", &client_id]).status.success());
    let output = cmd(&["client", "list"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"enabled\":false"));
    let output = cmd(&["client", "disable", "no-such-client"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_registrations_exit_2_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut command = gateway(dir.path());
        command
            .args(args)
            .env("GATEWAY_DATABASE__URL", "sqlite://gw.db");
        run(command)
    };
    std::fs::write(
        dir.path().join("private.json"),
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}"#,
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "http://evil.example/cb",
                "--secret",
            ],
            "https",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb#f",
                "--secret",
            ],
            "fragment",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb",
                "--jwks-file",
                "private.json",
            ],
            "private key",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb",
                "--jwks-file",
                "missing.json",
            ],
            "missing.json",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb",
                "--jwks-uri",
                "http://a.hk/jwks",
            ],
            "jwks_uri",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb",
            ],
            "--secret",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://a.hk/cb",
                "--secret",
                "--jwks-uri",
                "https://a.hk/j",
            ],
            "cannot be used",
        ),
    ];
    for (args, needle) in cases {
        let output = cmd(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    let output = cmd(&["client", "list"]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty(), "nothing was stored");
}

#[test]
fn key_rotation_needs_the_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gateway(dir.path());
    command
        .args(["keys", "rotate"])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db");
    assert_config_error(&run(command), "keys.encryption_key");

    let mut command = gateway(dir.path());
    command
        .args(["keys", "rotate"])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
        .env("GATEWAY_KEYS__ENCRYPTION_KEY", "dG9vIHNob3J0");
    assert_config_error(&run(command), "keys.encryption_key");

    let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    for alg in ["es256", "eddsa"] {
        let mut command = gateway(dir.path());
        command
            .args(["keys", "rotate", "--alg", alg])
            .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
            .env("GATEWAY_KEYS__ENCRYPTION_KEY", kek);
        let output = run(command);
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("published now"));
    }
    let mut command = gateway(dir.path());
    command
        .args(["keys", "list"])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db");
    let output = run(command);
    let keys: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0]["signing"], true,
        "the first key signs during the grace period"
    );
    assert_eq!(keys[1]["signing"], false);
    assert_eq!(keys[1]["alg"], "EdDSA");
    assert!(keys[0]["signing_until"].is_string());
}

#[test]
fn qr_encode_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../payment-core/tests/golden/dynamic-fps-id.txt"
    ))
    .unwrap()
    .trim()
    .to_owned();
    let mut command = gateway(dir.path());
    command.args([
        "qr",
        "encode",
        "--fps-id",
        "1234567",
        "--amount",
        "1234.5",
        "--name",
        "WATER SUPPLIES DEPT",
        "--bill",
        "BILL-2026-000123",
        "--reference",
        "REF123456",
        "--svg",
        "code.svg",
        "--png",
        "code.png",
    ]);
    let output = run(command);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), golden);
    assert!(
        std::fs::read_to_string(dir.path().join("code.svg"))
            .unwrap()
            .contains("<svg")
    );
    assert!(
        std::fs::read(dir.path().join("code.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );

    let mut command = gateway(dir.path());
    command.args(["qr", "decode", &golden]);
    let output = run(command);
    assert!(output.status.success());
    let fields: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(fields["amount"], "1234.50");
    assert_eq!(fields["proxy"]["fps_id"], "1234567");

    let corrupted = format!("{}0", &golden[..golden.len() - 1]);
    for bad in [corrupted.as_str(), "000201", "hello", ""] {
        let mut command = gateway(dir.path());
        command.args(["qr", "decode", bad]);
        let output = run(command);
        assert_eq!(output.status.code(), Some(1), "{bad}: {output:?}");
        let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(verdict["valid"], false);
    }
    for args in [
        &["qr", "encode", "--name", "X"][..],
        &["qr", "encode", "--fps-id", "12", "--name", "X"],
        &[
            "qr", "encode", "--fps-id", "1234567", "--name", "X", "--amount", "-5",
        ],
        &[
            "qr",
            "encode",
            "--fps-id",
            "1234567",
            "--mobile",
            "+852-91234567",
            "--name",
            "X",
        ],
    ] {
        let mut command = gateway(dir.path());
        command.args(args);
        assert_eq!(run(command).status.code(), Some(2), "{args:?}");
    }
}
