//! Starts the `localstripe` emulator (PyPI) on loopback for one test, and a
//! tiny receiver for the webhooks it sends.
//!
//! The emulator is found as `$LOCALSTRIPE` or `localstripe` on `PATH`
//! (`.ci/run` installs it). Without it a test prints why it was skipped;
//! under CI (`CI` set) that is a failure instead.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A received webhook: headers (names lowercase) and body.
pub type Received = (Vec<(String, String)>, Vec<u8>);

/// A running emulator; killed on drop.
pub struct LocalStripe {
    child: Child,
    pub base: String,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl LocalStripe {
    /// Starts the emulator, or returns `None` (after saying why) when it is
    /// not installed outside CI.
    pub async fn start(test: &str) -> Option<LocalStripe> {
        let program = std::env::var("LOCALSTRIPE").unwrap_or_else(|_| "localstripe".into());
        let port = free_port();
        let child = match Command::new(&program)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                let why =
                    format!("{test}: skipped: cannot run {program} ({e}); pip install localstripe");
                assert!(std::env::var_os("CI").is_none(), "{why} (CI must not skip)");
                eprintln!("{why}");
                return None;
            }
        };
        let emulator = LocalStripe {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{}/v1/balance", emulator.base))
                .bearer_auth("sk_test_gateway")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Some(emulator);
            }
            assert!(
                Instant::now() < deadline,
                "localstripe did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What Stripe.js does in the browser: tokenises a test card.
    pub async fn payment_method(&self, number: &str) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v1/payment_methods", self.base))
            .bearer_auth("sk_test_gateway")
            .form(&[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// What the issuer's 3-D Secure page does: passes or fails the
    /// challenge of `intent`.
    pub async fn authenticate(&self, intent: &str, client_secret: &str, success: bool) {
        let status = reqwest::Client::new()
            .post(format!(
                "{}/v1/payment_intents/{intent}/_authenticate",
                self.base
            ))
            .form(&[
                ("key", "pk_test_gateway"),
                ("client_secret", client_secret),
                ("success", if success { "true" } else { "false" }),
            ])
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "3-D Secure simulation: HTTP {status}");
    }

    /// Points the emulator's webhooks at a new receiver signing with
    /// `secret`; returns the channel of received (headers, body).
    pub async fn webhooks(
        &self,
        secret: &str,
    ) -> mpsc::UnboundedReceiver<(Vec<(String, String)>, Vec<u8>)> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/stripe", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Some(request) = read_request(&mut socket).await {
                        let _ = tx.send(request);
                    }
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        let status = reqwest::Client::new()
            .post(format!("{}/_config/webhooks/gateway", self.base))
            .form(&[("url", url.as_str()), ("secret", secret)])
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
        rx
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body.
async fn read_request(
    socket: &mut tokio::net::TcpStream,
) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}

/// A server that accepts connections and never answers.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    base
}
