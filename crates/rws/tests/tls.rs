//! `wss://` over loopback in both adapters and both roles, with
//! certificates made at test time (rcgen): a private CA and its server
//! certificate, and the certificates a client must refuse (expired, for
//! another name, from an unknown CA), each refused with a message that says
//! why; and the server's side of those refusals.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rws::tls::rustls::pki_types::pem::PemObject;
use rws::tls::{ClientTls, TlsAcceptor};
use rws::{CloseCode, Error, Message};

/// A CA made for one test.
struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate to make.
struct Leaf<'a> {
    names: &'a [&'a str],
    expired: bool,
}

impl Pki {
    fn new() -> Pki {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "rws test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = params.self_signed(&key).expect("CA").pem();
        Pki {
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate and key (PEM) signed by this CA.
    fn leaf(&self, leaf: Leaf<'_>) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = leaf.names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.names[0]);
        if leaf.expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }

    fn acceptor(&self, leaf: Leaf<'_>) -> TlsAcceptor {
        let (cert, key) = self.leaf(leaf);
        TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).expect("acceptor")
    }

    /// A client configuration that trusts only this CA.
    fn client(&self) -> Arc<rws::tls::rustls::ClientConfig> {
        ClientTls::new()
            .without_web_pki()
            .add_ca_pem(self.ca_pem.as_bytes())
            .expect("CA")
            .build()
            .expect("config")
    }
}

const LOCALHOST: Leaf<'static> = Leaf {
    names: &["localhost", "127.0.0.1"],
    expired: false,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A tokio server on a thread: accepts one `wss://` connection with
/// `acceptor` and echoes until the end; its result.
fn tokio_server(acceptor: TlsAcceptor) -> (SocketAddr, thread::JoinHandle<Result<String, Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = thread::spawn(move || {
        runtime().block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = rws::ServerBuilder::new().accept_tls(&acceptor, tcp).await?;
            let path = ws.request().expect("request").uri().path().to_owned();
            while let Some(message) = ws.recv().await {
                ws.send(message?).await?;
            }
            Ok(path)
        })
    });
    (addr, handle)
}

/// A blocking server on a thread, as [`tokio_server`].
fn blocking_server(
    acceptor: TlsAcceptor,
) -> (SocketAddr, thread::JoinHandle<Result<String, Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut ws = rws::blocking::ServerBuilder::new().accept_tls(&acceptor, tcp)?;
        let path = ws.request().expect("request").uri().path().to_owned();
        while let Some(message) = ws.recv() {
            ws.send(message?)?;
        }
        Ok(path)
    });
    (addr, handle)
}

type Server = fn(TlsAcceptor) -> (SocketAddr, thread::JoinHandle<Result<String, Error>>);
const SERVERS: [(&str, Server); 2] = [("tokio", tokio_server), ("blocking", blocking_server)];

/// A tokio client: connects, sends two messages, reads their echoes,
/// closes; the echoes.
fn tokio_client(
    url: String,
    tls: Arc<rws::tls::rustls::ClientConfig>,
) -> Result<Vec<Message>, Error> {
    runtime().block_on(async move {
        let (mut ws, response) = rws::ClientBuilder::new(url)
            .tls_config(tls)
            .connect()
            .await?;
        assert_eq!(response.status(), 101);
        assert!(ws.get_ref().is_tls());
        ws.send(Message::text("over TLS")).await?;
        ws.send(Message::binary(vec![7u8; 100_000])).await?;
        let mut echoes = Vec::new();
        for _ in 0..2 {
            echoes.push(ws.recv().await.expect("an echo")?);
        }
        ws.close(CloseCode::NORMAL, "").await?;
        Ok(echoes)
    })
}

fn blocking_client(
    url: String,
    tls: Arc<rws::tls::rustls::ClientConfig>,
) -> Result<Vec<Message>, Error> {
    let (mut ws, response) = rws::blocking::ClientBuilder::new(url)
        .tls_config(tls)
        .connect()?;
    assert_eq!(response.status(), 101);
    assert!(ws.get_ref().is_tls());
    ws.send(Message::text("over TLS"))?;
    ws.send(Message::binary(vec![7u8; 100_000]))?;
    let mut echoes = Vec::new();
    for _ in 0..2 {
        echoes.push(ws.recv().expect("an echo")?);
    }
    ws.close(CloseCode::NORMAL, "")?;
    Ok(echoes)
}

type Client = fn(String, Arc<rws::tls::rustls::ClientConfig>) -> Result<Vec<Message>, Error>;
const CLIENTS: [(&str, Client); 2] = [("tokio", tokio_client), ("blocking", blocking_client)];

#[test]
fn wss_round_trips_between_every_pair_of_adapters() {
    let pki = Pki::new();
    for (server_name, server) in SERVERS {
        for (client_name, client) in CLIENTS {
            let (addr, handle) = server(pki.acceptor(LOCALHOST));
            let url = format!("wss://localhost:{}/tls/path", addr.port());
            let echoes = client(url, pki.client())
                .unwrap_or_else(|e| panic!("{client_name} client, {server_name} server: {e}"));
            assert_eq!(echoes[0], Message::text("over TLS"));
            assert_eq!(echoes[1], Message::binary(vec![7u8; 100_000]));
            let path = handle.join().expect("server thread");
            assert_eq!(path.expect("server"), "/tls/path", "{server_name}");
        }
    }
}

#[test]
fn an_ip_address_in_the_certificate_is_verified_too() {
    let pki = Pki::new();
    let (addr, handle) = tokio_server(pki.acceptor(LOCALHOST));
    let url = format!("wss://127.0.0.1:{}/", addr.port());
    tokio_client(url, pki.client()).expect("by address");
    handle.join().expect("server").expect("server");
}

/// Connects a client of each adapter to a server with `leaf` and returns
/// each client's error message and the server's error.
fn refused(pki: &Pki, leaf: Leaf<'_>, tls: Arc<rws::tls::rustls::ClientConfig>) -> Vec<String> {
    let mut messages = Vec::new();
    for (client_name, client) in CLIENTS {
        let (addr, handle) = tokio_server(pki.acceptor(Leaf { ..leaf }));
        let url = format!("wss://localhost:{}/", addr.port());
        let error = client(url, tls.clone()).expect_err("refused");
        assert!(matches!(error, Error::Tls(_)), "{client_name}: {error:?}");
        messages.push(error.to_string());
        // The server learns that the client refused it.
        let server = handle.join().expect("server thread").expect_err("refused");
        assert!(matches!(server, Error::Tls(_)), "{server:?}");
        assert!(
            server.to_string().contains("TLS with the client failed"),
            "{server}"
        );
    }
    messages
}

#[test]
fn an_expired_certificate_is_refused_saying_so() {
    let pki = Pki::new();
    let leaf = Leaf {
        names: &["localhost"],
        expired: true,
    };
    for message in refused(&pki, leaf, pki.client()) {
        assert!(message.contains("has expired"), "{message}");
        assert!(message.contains("the server localhost"), "{message}");
    }
}

#[test]
fn a_certificate_for_another_name_is_refused_saying_so() {
    let pki = Pki::new();
    let leaf = Leaf {
        names: &["other.example"],
        expired: false,
    };
    for message in refused(&pki, leaf, pki.client()) {
        assert!(message.contains("for another name"), "{message}");
    }
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused_saying_so() {
    let pki = Pki::new();
    // The web PKI does not know this test's CA.
    let web_pki = ClientTls::new().build().expect("config");
    for message in refused(&pki, LOCALHOST, web_pki) {
        assert!(message.contains("unknown authority"), "{message}");
    }
}

#[test]
fn danger_accept_invalid_certs_accepts_an_expired_certificate_from_an_unknown_ca() {
    let pki = Pki::new();
    let leaf = Leaf {
        names: &["other.example"],
        expired: true,
    };
    let insecure = ClientTls::new()
        .danger_accept_invalid_certs()
        .build()
        .expect("config");
    for (name, client) in CLIENTS {
        let (addr, handle) = tokio_server(pki.acceptor(Leaf { ..leaf }));
        let url = format!("wss://localhost:{}/", addr.port());
        client(url, insecure.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        handle.join().expect("server").expect("server");
    }
}

#[test]
fn bad_pem_files_say_what_is_wrong() {
    let error = TlsAcceptor::from_pem(b"not a certificate", b"").expect_err("bad");
    assert!(error.to_string().contains("no PEM certificate"), "{error}");
    let pki = Pki::new();
    let (cert, _) = pki.leaf(LOCALHOST);
    let error = TlsAcceptor::from_pem(cert.as_bytes(), b"").expect_err("no key");
    assert!(error.to_string().contains("private key"), "{error}");
    let error = TlsAcceptor::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .expect_err("no file");
    assert!(
        error.to_string().contains("/nonexistent/cert.pem"),
        "{error}"
    );
}

#[test]
fn a_client_that_never_starts_tls_hits_the_servers_handshake_timeout() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = pki.acceptor(LOCALHOST);
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let config = rws::WebSocketConfig::default().handshake_timeout(Duration::from_millis(300));
        rws::blocking::ServerBuilder::new()
            .config(config)
            .accept_tls(&acceptor, tcp)
            .map(|_| ())
    });
    let _silent = std::net::TcpStream::connect(addr).expect("connect");
    let result = server.join().expect("server");
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
}

/// A raw TLS client (tokio-rustls, not rws) against a server that closes:
/// the upgrade by hand, the server's close frame answered, then what the
/// end of the TLS stream looks like: `Ok(0)` after the server's
/// close_notify, an `UnexpectedEof` error without it.
fn end_of_tls_after_a_server_close(server: Server) -> std::io::Result<usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new();
    let (addr, handle) = server(pki.acceptor(LOCALHOST));
    let end = runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = rws::tls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = tokio_rustls::TlsConnector::from(pki.client())
            .connect(name, tcp)
            .await
            .expect("TLS");
        let request = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n";
        tls.write_all(request.as_bytes()).await.expect("request");
        // The 101, then a masked close frame with 1000 (RFC 6455 §5.5.1):
        // the echo server under test answers it and closes.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tls.read_u8().await.expect("head"));
        }
        assert!(head.starts_with(b"HTTP/1.1 101"));
        tls.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
            .await
            .expect("close");
        let mut reply = [0; 4];
        tls.read_exact(&mut reply).await.expect("the close reply");
        assert_eq!(reply, [0x88, 0x02, 0x03, 0xe8]);
        // RFC 6455 §7.1.1: the server closes the connection first.
        let mut rest = [0; 16];
        tls.read(&mut rest).await
    });
    let _ = handle.join();
    end
}

#[test]
fn a_server_ends_tls_with_close_notify_in_both_adapters() {
    for (name, server) in SERVERS {
        match end_of_tls_after_a_server_close(server) {
            Ok(0) => {}
            other => panic!("{name}: the end of the TLS stream was {other:?}, not a close_notify"),
        }
    }
}

#[test]
fn a_client_certificate_is_presented_when_the_server_asks_for_one() {
    use rws::tls::rustls;
    let pki = Pki::new();
    let (chain, key) = pki.leaf(LOCALHOST);
    // A server that requires a client certificate from the test CA: a
    // configuration of the user's own, given to TlsAcceptor::new.
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA");
    roots.add(ca).expect("root");
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            rustls::pki_types::CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<_, _>>()
                .expect("chain"),
            rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
        )
        .expect("config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::new(Arc::new(config));

    // With a client certificate from the CA: the connection opens.
    let (client_chain, client_key) = pki.leaf(Leaf {
        names: &["client.example"],
        expired: false,
    });
    let with_cert = ClientTls::new()
        .without_web_pki()
        .add_ca_pem(pki.ca_pem.as_bytes())
        .expect("CA")
        .client_cert_pem(client_chain.as_bytes(), client_key.as_bytes())
        .expect("client certificate")
        .build()
        .expect("config");
    for (name, client) in CLIENTS {
        let (addr, handle) = tokio_server(acceptor.clone());
        let url = format!("wss://localhost:{}/", addr.port());
        client(url, with_cert.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        handle.join().expect("server").expect("server");
    }

    // Without one: the server refuses the handshake.
    let (addr, handle) = tokio_server(acceptor);
    let url = format!("wss://localhost:{}/", addr.port());
    let refused = tokio_client(url, pki.client()).expect_err("refused");
    assert!(matches!(refused, Error::Tls(_)), "{refused:?}");
    assert!(
        refused.to_string().contains("CertificateRequired"),
        "{refused}"
    );
    let server = handle.join().expect("server thread").expect_err("refused");
    assert!(matches!(server, Error::Tls(_)), "{server:?}");
}
