//! Helpers shared by the `rws` command's integration tests.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A running `rws` subcommand: the child (killed when dropped), the rest
/// of the log line that announced it, and the lines of its log after it.
pub(crate) struct Started {
    pub child: Child,
    pub announced: String,
    pub log: mpsc::UnboundedReceiver<String>,
}

/// Starts `rws ARGS` with stdout piped and waits for the log line that
/// holds `marker`; the log keeps being drained, so the child never blocks
/// on a full pipe.
pub(crate) async fn start(args: &[&str], marker: &str) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rws"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rws");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let announced = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stderr")
            .unwrap_or_else(|| panic!("rws {args:?} exited before saying {marker:?}"));
        if let Some(rest) = line.split(marker).nth(1) {
            break rest.to_owned();
        }
    };
    let (log, log_lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log.send(line);
        }
    });
    Started {
        child,
        announced,
        log: log_lines,
    }
}

/// Starts `rws serve` on a free port; returns the child and its address.
#[allow(dead_code)]
pub(crate) async fn serve(args: &[&str]) -> (Child, String) {
    let (child, addr, _log) = serve_with_log(args).await;
    (child, addr)
}

/// As [`serve`], with the rest of the server's log, line by line.
pub(crate) async fn serve_with_log(
    args: &[&str],
) -> (Child, String, mpsc::UnboundedReceiver<String>) {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let started = start(&all, "listening on ws://").await;
    let addr = started.announced.trim_end_matches("/echo").to_owned();
    (started.child, addr, started.log)
}

/// A CA and a certificate for localhost signed by it, made now (rcgen), in
/// PEM files of a directory of their own (removed on drop).
#[allow(dead_code)]
pub(crate) struct TestCerts {
    pub dir: std::path::PathBuf,
    pub ca_pem: String,
    pub ca: String,
    pub cert: String,
    pub key: String,
}

#[allow(dead_code)]
impl TestCerts {
    pub(crate) fn new(name: &str) -> TestCerts {
        let dir = std::env::temp_dir().join(format!("rws-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            path.to_str().expect("utf-8").to_owned()
        };
        TestCerts {
            ca: file("ca.pem", &ca_pem),
            cert: file("cert.pem", &leaf.pem()),
            key: file("key.pem", &key.serialize_pem()),
            ca_pem,
            dir,
        }
    }

    /// `rws serve` over TLS with these: the child and its port.
    pub(crate) async fn serve(&self) -> (Child, String) {
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &self.cert,
            "--tls-key",
            &self.key,
        ];
        let started = start(&args, "listening on wss://").await;
        let port = started
            .announced
            .trim_end_matches("/echo")
            .rsplit(':')
            .next()
            .expect("a port")
            .to_owned();
        (started.child, port)
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
