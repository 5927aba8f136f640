//! Bills created per second, on loopback, on SQLite and PostgreSQL, with
//! PostgreSQL's own single-row insert rate from `pgbench` as the ceiling.
//!
//! `cargo bench -p gateway --bench bills` starts the release `gateway
//! serve` with the FPS sandbox configured, registers a department and an
//! API key with the CLI, then has 32 concurrent clients `POST /v1/bills`
//! (each with its own `Idempotency-Key`; every bill is committed before
//! its `201`) for 10 seconds: with `wrk` when it is installed (apt-get
//! install wrk), else with a reqwest client in this process. PostgreSQL runs when `TEST_DATABASE_URL` (or
//! `BENCH_DATABASE_URL`) names a server: a fresh database `gateway_bench`
//! is made for it, and `pgbench` then inserts single rows into a
//! one-table database with the same 32 clients for the same time.
//! On PostgreSQL it runs `BENCH_ROUNDS` rounds (3), each the gateway then
//! pgbench from a checkpoint, and compares the medians. `BENCH_SECS` sets
//! the seconds per run. Goal (docs/src/performance.md): at least half of
//! pgbench's rate.
//! `cargo test --benches` runs it for 1 second per backend, one round, as a
//! smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gateway");
const CLIENTS: usize = 32;

fn gateway(dir: &Path, db_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("GATEWAY_DATABASE__URL", db_url)
        .env("GATEWAY_LOG__FILTER", "warn")
        .env("GATEWAY_API__REQUESTS_PER_MINUTE", "100000000")
        .env("GATEWAY_DATABASE__MAX_CONNECTIONS", "16")
        .env("GATEWAY_CONFIG", "bench.toml");
    command
}

fn output(mut command: Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The mean of the gateway's `bill_batch_size` histogram: bills per commit.
fn mean_batch(base: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    let (sum, count) = (
        value("bill_batch_size_sum ")?,
        value("bill_batch_size_count ")?,
    );
    (count > 0.0).then(|| sum / count)
}

/// Bills per second against a gateway on `db_url` for `secs`, and the
/// failures.
fn bills_per_second(db_url: &str, secs: u64) -> (f64, u64) {
    let (rate, failed, batch) = run_bills(db_url, secs);
    if let Some(batch) = batch {
        println!("              (mean {batch:.1} bills per commit)");
    }
    (rate, failed)
}

fn run_bills(db_url: &str, secs: u64) -> (f64, u64, Option<f64>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bench.toml"),
        "[payments.fps]\nproxy = { fps_id = \"1234567\" }\nmerchant_name = \"Bench\"\n\
         sandbox_seed = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\n",
    )
    .unwrap();
    let mut migrate = gateway(dir.path(), db_url);
    migrate.arg("migrate");
    output(migrate);
    let mut add = gateway(dir.path(), db_url);
    add.args([
        "client",
        "add",
        "--name",
        "Bench",
        "--redirect-uri",
        "https://bench.example/cb",
        "--secret",
    ]);
    let added = output(add);
    let client_id = added
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .trim()
        .to_owned();
    let mut key = gateway(dir.path(), db_url);
    key.args(["client", "api-key", &client_id]);
    let key = output(key).trim().to_owned();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = gateway(dir.path(), db_url);
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _server = Server(serve.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    if let Some((rate, failed)) = with_wrk(&base, &key, secs, dir.path()) {
        return (rate, failed, mean_batch(&base));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let scrape = base.clone();
    let (rate, failed) = runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        for _ in 0..100 {
            if http.get(format!("{base}/readyz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let created = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            let (created, failed) = (created.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let reference = format!("B{client:02}-{n:08}");
                    let response = http
                        .post(format!("{base}/v1/bills"))
                        .bearer_auth(&key)
                        .header("idempotency-key", &reference)
                        .json(&serde_json::json!({
                            "reference": reference,
                            "amount": "123.40",
                            "description": {"en": "Bench", "zh": "測試"},
                            "due_date": "2099-12-31",
                            "methods": ["fps"],
                            "return_url": "https://bench.example/paid",
                        }))
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().as_u16() == 201 => {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        (
            created.load(Ordering::Relaxed) as f64 / elapsed,
            failed.load(Ordering::Relaxed),
        )
    });
    (rate, failed, mean_batch(&scrape))
}

/// The load from `wrk` (C, lighter than a Rust client on the same two
/// cores), when it is installed: every request a new bill with its own
/// reference and key. `None` without wrk.
fn with_wrk(base: &str, key: &str, secs: u64, dir: &Path) -> Option<(f64, u64)> {
    let script = dir.join("bills.lua");
    std::fs::write(
        &script,
        format!(
            r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  local ref = "W" .. tid .. "-" .. n
  wrk.headers["Idempotency-Key"] = ref
  local body = '{{"reference":"' .. ref .. '","amount":"123.40","description":{{"en":"Bench","zh":"測試"}},"due_date":"2099-12-31","methods":["fps"],"return_url":"https://bench.example/paid"}}'
  return wrk.format(nil, "/v1/bills", nil, body)
end
"#
        ),
    )
    .ok()?;
    // Wait until it answers.
    for _ in 0..100 {
        if std::net::TcpStream::connect(base.trim_start_matches("http://")).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("wrk")
        .args([
            "-t",
            "2",
            "-c",
            &CLIENTS.to_string(),
            "-d",
            &format!("{secs}s"),
            "-s",
        ])
        .arg(&script)
        .arg(format!("{base}/v1/bills"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let total: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let failed: u64 = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let seconds: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))?
        .split("requests in ")
        .nth(1)?
        .split('s')
        .next()?
        .parse()
        .ok()?;
    Some(((total - failed as f64) / seconds, failed))
}

/// pgbench's single-row insert rate on a one-table database, or `None`.
fn pgbench(server_url: &str, secs: u64) -> Option<f64> {
    let admin = server_url.rsplit_once('/')?.0.to_owned();
    let run = |sql: &str| {
        Command::new("psql")
            .args([&format!("{admin}/postgres"), "-q", "-c", sql])
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    run("DROP DATABASE IF EXISTS gateway_pgbench")?;
    run("CREATE DATABASE gateway_pgbench")?;
    let url = format!("{admin}/gateway_pgbench");
    Command::new("psql")
        .args([
            &url,
            "-q",
            "-c",
            "CREATE TABLE single (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
        ])
        .output()
        .ok()?;
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("insert.sql");
    std::fs::write(
        &script,
        "INSERT INTO single (body) VALUES ('a bill-sized row');\n",
    )
    .ok()?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(&url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok();
    run("DROP DATABASE IF EXISTS gateway_pgbench");
    tps
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes
    // nothing: then a quick smoke run (1 second, one round).
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs = match std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(secs) => secs,
        None if quick => 1,
        None => 10,
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (rate, failed) = bills_per_second(&sqlite, secs);
    println!("bills/create  sqlite      {rate:>8.0} bills/s ({failed} failed)");
    assert_eq!(failed, 0, "every bill was created");
    let server = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok();
    let Some(server) = server else {
        println!("postgres: skipped (set TEST_DATABASE_URL or BENCH_DATABASE_URL)");
        return;
    };
    let admin = server.rsplit_once('/').map(|(a, _)| a.to_owned()).unwrap();
    let psql = |sql: &str| {
        Command::new("psql")
            .args([&format!("{admin}/postgres"), "-q", "-c", sql])
            .status()
            .unwrap()
    };
    // Both rates move by 10 to 20 % from run to run on a shared machine:
    // several rounds, each the gateway then pgbench, and the medians.
    let rounds: usize = match std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(rounds) => rounds,
        None if quick => 1,
        None => 3,
    };
    let (mut rates, mut ceilings) = (Vec::new(), Vec::new());
    for round in 1..=rounds.max(1) {
        psql("DROP DATABASE IF EXISTS gateway_bench");
        assert!(psql("CREATE DATABASE gateway_bench").success());
        // Each run starts from a checkpoint, so that neither pays for the
        // other's dirty pages.
        psql("CHECKPOINT");
        let (rate, failed) = bills_per_second(&format!("{admin}/gateway_bench"), secs);
        println!("bills/create  postgres    {rate:>8.0} bills/s ({failed} failed; round {round})");
        psql("DROP DATABASE IF EXISTS gateway_bench");
        assert_eq!(failed, 0, "every bill was created");
        rates.push(rate);
        psql("CHECKPOINT");
        match pgbench(&server, secs) {
            Some(ceiling) => {
                println!("pgbench       single-row  {ceiling:>8.0} inserts/s (round {round})");
                ceilings.push(ceiling);
            }
            None => println!("pgbench: not available"),
        }
    }
    let rate = median(&mut rates);
    println!("bills/create  postgres    {rate:>8.0} bills/s (median)");
    if !ceilings.is_empty() {
        let ceiling = median(&mut ceilings);
        println!(
            "pgbench       single-row  {ceiling:>8.0} inserts/s (median); bills/create reaches {:.0}% of it (goal: 50%)",
            100.0 * rate / ceiling
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
