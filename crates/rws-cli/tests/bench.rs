//! `rws bench` against `rws serve` over loopback: a short smoke run in
//! each mode (never a timed test: it asserts that messages were echoed,
//! verified and counted, and that nothing failed, not how fast).

mod common;

use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

async fn bench(args: &[&str]) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(env!("CARGO_BIN_EXE_rws"))
            .arg("bench")
            .args(args)
            .arg("--json")
            .output(),
    )
    .await
    .expect("rws bench finished in time")
    .expect("run rws bench");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[tokio::test]
async fn bench_loads_rws_serve_and_verifies_every_echo() {
    let (server, addr) = common::serve(&[]).await;
    let pid = server.id().expect("a pid").to_string();
    let url = format!("ws://{addr}/echo");
    for kind in ["--binary", "--text"] {
        let r = bench(&[
            &url,
            "-c",
            "4",
            "-d",
            "3",
            "-s",
            "1KiB",
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--threads",
            "2",
            "--verify",
            kind,
            "--server-pid",
            &pid,
        ])
        .await;
        assert_eq!(r["mode"], "load");
        assert_eq!(r["opened"], 4);
        assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        let messages = r["messages"].as_u64().expect("messages");
        assert!(messages > 0, "{r}");
        assert!(r["latency_us"]["p50"].as_f64().expect("p50") >= 1.0, "{r}");
        assert!(r["server_cpu_s"].is_number(), "{r}");
    }
}

#[tokio::test]
async fn bench_deflate_sends_compressed_messages_and_verifies_the_inflated_echoes() {
    let (server, addr) = common::serve(&[]).await;
    let pid = server.id().expect("a pid").to_string();
    let url = format!("ws://{addr}/echo");
    let r = bench(&[
        &url,
        "-c",
        "3",
        "-d",
        "2",
        "-s",
        "4KiB",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--text",
        "--deflate",
        "--verify",
        "--server-pid",
        &pid,
    ])
    .await;
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    assert!(r["messages"].as_u64().expect("messages") > 0, "{r}");
    assert_eq!(r["deflate_offered"], true);
    // rws serve accepts, resetting its compressor after each message.
    let agreed = r["deflate"].as_str().expect("deflate agreed");
    assert!(
        agreed.starts_with("permessage-deflate") && agreed.contains("server_no_context_takeover"),
        "{agreed}"
    );
    // The prose-like payload compresses: the frame sent is well under 4 KiB.
    let frame_len = r["frame_len"].as_u64().expect("frame_len");
    assert!(frame_len < 2048, "{r}");
}

#[tokio::test]
async fn bench_speaks_wss_and_verifies_every_echo() {
    let certs = common::TestCerts::new("bench-tls");
    let (_server, port) = certs.serve().await;
    let url = format!("wss://localhost:{port}/echo");
    let r = bench(&[
        &url,
        "--cacert",
        &certs.ca,
        "-c",
        "3",
        "-d",
        "2",
        "-s",
        "2KiB",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--verify",
    ])
    .await;
    assert_eq!(r["opened"], 3, "{r}");
    assert!(r["messages"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    // An exact count over TLS too.
    let r = bench(&[
        &url,
        "--cacert",
        &certs.ca,
        "-c",
        "3",
        "-d",
        "3",
        "--verify",
        "--messages",
        "11",
    ])
    .await;
    assert_eq!(
        (&r["messages"], &r["errors"]),
        (&serde_json::json!(33), &serde_json::json!({})),
        "{r}"
    );
    // Without the CA, every connection fails its handshake.
    let r = bench(&[&url, "-c", "2", "--duration", "0.2", "--warmup", "0"]).await;
    assert_eq!(r["opened"], 0, "{r}");
    assert_eq!(r["errors"]["handshake"], 2, "{r}");
}

#[tokio::test]
async fn bench_idle_reports_memory_per_connection() {
    let (server, addr) = common::serve(&[]).await;
    let pid = server.id().expect("a pid").to_string();
    let url = format!("ws://{addr}/echo");
    let r = bench(&[&url, "--idle", "50", "--hold", "0.2", "--server-pid", &pid]).await;
    assert_eq!(r["mode"], "idle");
    assert_eq!(r["opened"], 50, "{r}");
    assert!(r["kib_per_connection"].is_number(), "{r}");
    assert!(r["server_cpu_us_per_handshake"].is_number(), "{r}");
    assert!(
        r["handshakes_per_sec"].as_f64().expect("a rate") > 0.0,
        "{r}"
    );
}

#[tokio::test]
async fn bench_counts_connection_failures() {
    // Nothing listens on the port of a listener just closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let r = bench(&[
        &format!("ws://{addr}/"),
        "-c",
        "3",
        "--duration",
        "0.1",
        "--warmup",
        "0",
    ])
    .await;
    assert_eq!(r["errors"]["connect"], 3, "{r}");
    assert_eq!(r["messages"], 0);
}

#[tokio::test]
async fn bench_messages_sends_exactly_that_many_on_each_connection() {
    let (_server, addr) = common::serve(&[]).await;
    let url = format!("ws://{addr}/echo");
    // Depths that do and do not divide the count, over TCP, two threads.
    for (depth, per_connection) in [("1", 37u64), ("4", 10), ("7", 10)] {
        let r = bench(&[
            &url,
            "-c",
            "3",
            "-d",
            depth,
            "--threads",
            "2",
            "--verify",
            "--messages",
            &per_connection.to_string(),
        ])
        .await;
        assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        assert_eq!(r["messages"], 3 * per_connection, "{r}");
        assert_eq!(r["messages_per_connection"], per_connection, "{r}");
        assert_eq!(r["warmup_s"], 0.0, "{r}");
    }
}
