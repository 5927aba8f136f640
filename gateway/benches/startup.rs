//! Start-up time and idle memory of the release binary.
//!
//! `cargo bench -p gateway --bench startup` builds the gateway with the bench
//! (release) profile, prepares an SQLite database once, then starts `gateway
//! serve` on it repeatedly and measures the time from process spawn to the
//! first `200` from `/healthz`. Finally it starts one more process, lets it
//! sit idle and reads its resident memory from `/proc/PID/status`.
//! Goals (see docs/src/performance.md): start-up under 300 ms, idle RSS
//! under 30 MB.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gateway");
const RUNS: usize = 20;

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn healthz_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(50)) else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1.1 200")
}

fn spawn(dir: &Path, addr: SocketAddr) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--listen", &addr.to_string()])
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
        .env("GATEWAY_LOG__FILTER", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "gateway exited with {status}");
}

/// Milliseconds from spawn to the first 200 from /healthz.
fn time_to_healthy(dir: &Path) -> f64 {
    let addr = free_port();
    let started = Instant::now();
    let child = spawn(dir, addr);
    while !healthz_ok(addr) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never became healthy"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    stop(child);
    elapsed
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn main() {
    // `cargo test --benches` runs this with `--test`: a quick smoke run.
    let quick = std::env::args().any(|a| a == "--test");
    let runs = if quick { 2 } else { RUNS };
    let dir = tempfile::tempdir().unwrap();
    let migrated = Command::new(BIN)
        .current_dir(dir.path())
        .arg("migrate")
        .env("GATEWAY_DATABASE__URL", "sqlite://gw.db")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(migrated.success());
    time_to_healthy(dir.path()); // warm the page cache

    let mut samples: Vec<f64> = (0..runs).map(|_| time_to_healthy(dir.path())).collect();
    samples.sort_by(f64::total_cmp);
    let median = percentile(&samples, 0.5);
    println!(
        "startup to /healthz 200 (existing SQLite database, {runs} runs): \
         min {:.1} ms, median {median:.1} ms, p95 {:.1} ms, max {:.1} ms (goal < 300 ms)",
        samples[0],
        percentile(&samples, 0.95),
        samples[samples.len() - 1],
    );

    let addr = free_port();
    let child = spawn(dir.path(), addr);
    let started = Instant::now();
    while !healthz_ok(addr) {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..100 {
        assert!(healthz_ok(addr));
    }
    std::thread::sleep(Duration::from_secs(if quick { 1 } else { 5 }));
    let rss = status_kb(child.id(), "VmRSS:");
    let hwm = status_kb(child.id(), "VmHWM:");
    println!(
        "idle resident memory after 100 requests and {} s idle: {:.1} MB (peak {:.1} MB) (goal < 30 MB)",
        if quick { 1 } else { 5 },
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );
    stop(child);
}
