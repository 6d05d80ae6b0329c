//! Helpers shared by the `rws` command's integration tests.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Starts `rws serve` on a free port; returns the child and its address.
pub async fn serve(args: &[&str]) -> (Child, String) {
    let (child, addr, _log) = serve_with_log(args).await;
    (child, addr)
}

/// As [`serve`], with the rest of the server's log, line by line.
pub async fn serve_with_log(args: &[&str]) -> (Child, String, mpsc::UnboundedReceiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rws"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rws serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stderr")
            .expect("rws serve exited");
        if let Some(rest) = line.split("listening on ws://").nth(1) {
            break rest.trim_end_matches("/echo").to_owned();
        }
    };
    // Keep draining the log so that the child never blocks on a full pipe.
    let (log, log_lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log.send(line);
        }
    });
    (child, addr, log_lines)
}
