//! TLS with rustls (the `rustls` feature): `wss://` for clients, an
//! acceptor for servers, in both adapters.
//!
//! - **Crypto provider: ring.** It builds in seconds; aws-lc-rs (rustls'
//!   default) needs cmake and a C build of minutes, and gives nothing a
//!   WebSocket needs that ring lacks, but one: a post-quantum key exchange
//!   (X25519MLKEM768), which rustls offers only with aws-lc-rs. For that,
//!   build your own configurations with aws-lc-rs and pass them in
//!   (`tls_config`, [`TlsAcceptor::new`]). The configurations built here name
//!   ring explicitly, so no process-wide provider has to be installed.
//! - **Roots: the web PKI, compiled in** ([`webpki-roots`], Mozilla's
//!   root store): the same trust on every machine, no system files read.
//!   A private CA is added with [`ClientTls::add_ca_pem`]; for anything
//!   else (the platform's verifier, pinning), pass your own
//!   [`rustls::ClientConfig`] to the client builder's `tls_config`.
//! - ALPN offers and accepts `http/1.1`, the protocol the WebSocket
//!   handshake runs on (RFC 6455 §4.1).
//!
//! ```no_run
//! # async fn run() -> Result<(), rws::Error> {
//! // A client that also trusts a private CA:
//! let tls = rws::tls::ClientTls::new().add_ca_pem_file("ca.pem")?.build()?;
//! let (ws, _) = rws::ClientBuilder::new("wss://internal.example/feed")
//!     .tls_config(tls)
//!     .connect()
//!     .await?;
//!
//! // A server:
//! let acceptor = rws::tls::TlsAcceptor::from_pem_files("cert.pem", "key.pem")?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
//! let (tcp, _) = listener.accept().await?;
//! let ws = rws::ServerBuilder::new().accept_tls(&acceptor, tcp).await?;
//! # Ok(()) }
//! ```
//!
//! [`webpki-roots`]: https://docs.rs/webpki-roots
// Without an adapter nothing connects; the configuration types stay.
#![cfg_attr(not(any(feature = "tokio", feature = "blocking")), allow(dead_code))]

use std::path::Path;
use std::sync::Arc;
use std::{fmt, io};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig};

pub use rustls;

use crate::Error;

/// The protocol the WebSocket handshake runs on, for ALPN.
const HTTP_1_1: &[u8] = b"http/1.1";

/// ring's provider. rustls 0.23.48 deprecates it because ring has no
/// post-quantum key exchange (X25519MLKEM768, which aws-lc-rs offers): the
/// price of a build in seconds, said in the module documentation.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a client's TLS configuration: the web PKI's roots, private CAs,
/// a client certificate, or no verification at all.
///
/// ```no_run
/// let tls = rws::tls::ClientTls::new()
///     .add_ca_pem_file("ca.pem")?
///     .client_cert_pem_files("me.pem", "me.key")?
///     .build()?;
/// # Ok::<(), rws::Error>(())
/// ```
pub struct ClientTls {
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    insecure: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots.len())
            .field("client_cert", &self.identity.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls::new()
    }
}

impl ClientTls {
    /// Trusts the web PKI (webpki-roots).
    pub fn new() -> ClientTls {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        ClientTls {
            roots,
            identity: None,
            insecure: false,
        }
    }

    /// Trusts only the CAs added after this, not the web PKI.
    pub fn without_web_pki(mut self) -> ClientTls {
        self.roots = RootCertStore::empty();
        self
    }

    /// Also trusts the CA certificates in `pem`.
    pub fn add_ca_pem(mut self, pem: &[u8]) -> Result<ClientTls, Error> {
        let certs = certificates(pem, "the CA")?;
        for cert in certs {
            self.roots
                .add(cert)
                .map_err(|e| TlsError::with_source("unusable CA certificate", e))?;
        }
        Ok(self)
    }

    /// [`add_ca_pem`](Self::add_ca_pem) from a file.
    pub fn add_ca_pem_file(self, path: impl AsRef<Path>) -> Result<ClientTls, Error> {
        let pem = read(path.as_ref())?;
        self.add_ca_pem(&pem).map_err(|e| in_file(e, path.as_ref()))
    }

    /// Presents this certificate chain and key when the server asks for a
    /// client certificate.
    pub fn client_cert_pem(mut self, chain: &[u8], key: &[u8]) -> Result<ClientTls, Error> {
        self.identity = Some((certificates(chain, "the client")?, private_key(key)?));
        Ok(self)
    }

    /// [`client_cert_pem`](Self::client_cert_pem) from files.
    pub fn client_cert_pem_files(
        self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ClientTls, Error> {
        let chain_pem = read(chain.as_ref())?;
        let key_pem = read(key.as_ref())?;
        self.client_cert_pem(&chain_pem, &key_pem)
    }

    /// Accepts any server certificate: expired, self-signed, for another
    /// name. The connection is encrypted but not authenticated, so anyone
    /// on the path can read it; for tests and debugging only.
    pub fn danger_accept_invalid_certs(mut self) -> ClientTls {
        self.insecure = true;
        self
    }

    /// The configuration, for a client builder's `tls_config`.
    pub fn build(self) -> Result<Arc<ClientConfig>, Error> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::with_source("no TLS version to offer", e))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        } else {
            builder.with_root_certificates(self.roots)
        };
        let mut config = match self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::with_source("unusable client certificate or key", e))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![HTTP_1_1.to_vec()];
        Ok(Arc::new(config))
    }
}

/// The default client configuration: the web PKI, ALPN `http/1.1`.
pub(crate) fn default_client_config() -> Arc<ClientConfig> {
    static DEFAULT: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            ClientTls::new()
                .build()
                .expect("ring offers the safe default TLS versions")
        })
        .clone()
}

/// Checks the server's signatures but not its certificate
/// ([`ClientTls::danger_accept_invalid_certs`]).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A server's TLS configuration, to accept `wss://` connections with
/// (`ServerBuilder::accept_tls` in either adapter).
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// From a PEM certificate chain (the server's certificate first) and
    /// its PEM private key (PKCS #8, PKCS #1 or SEC1), with ALPN
    /// `http/1.1` and no client certificates.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<TlsAcceptor, Error> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::with_source("no TLS version to offer", e))?
            .with_no_client_auth()
            .with_single_cert(certificates(chain, "the server")?, private_key(key)?)
            .map_err(|e| TlsError::with_source("the certificate and key do not fit", e))?;
        config.alpn_protocols = vec![HTTP_1_1.to_vec()];
        Ok(TlsAcceptor::new(Arc::new(config)))
    }

    /// [`from_pem`](Self::from_pem) from files.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsAcceptor, Error> {
        let chain_pem = read(chain.as_ref())?;
        let key_pem = read(key.as_ref())?;
        TlsAcceptor::from_pem(&chain_pem, &key_pem)
    }

    /// From a configuration of your own (client certificates, several
    /// names, another provider), used as it is.
    pub fn new(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor { config }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The same certificate, offering `h2` before `http/1.1` by ALPN: for
    /// a server that serves HTTP/2 too (with the `hyper` feature,
    /// WebSockets over HTTP/2 through [`upgrade`](crate::upgrade)), and
    /// looks at the negotiated protocol to choose how to speak.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), rws::Error> {
    /// let acceptor = rws::tls::TlsAcceptor::from_pem_files("cert.pem", "key.pem")?.with_http2();
    /// assert_eq!(acceptor.config().alpn_protocols, [&b"h2"[..], b"http/1.1"]);
    /// # Ok(()) }
    /// ```
    pub fn with_http2(&self) -> TlsAcceptor {
        let mut config = (*self.config).clone();
        config.alpn_protocols = vec![b"h2".to_vec(), HTTP_1_1.to_vec()];
        TlsAcceptor::new(Arc::new(config))
    }

    /// Runs the server's TLS handshake on `stream`, within `timeout`, and
    /// returns the TLS stream, for a server that then chooses how to speak
    /// by the protocol the client chose with ALPN
    /// (`get_ref().1.alpn_protocol()`). A refused handshake is
    /// [`Error::Tls`] and says why, as in `accept_tls`.
    #[cfg(feature = "tokio")]
    pub async fn accept<S>(
        &self,
        stream: S,
        timeout: std::time::Duration,
    ) -> Result<crate::TlsStream<S>, Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let accept = tokio_rustls::TlsAcceptor::from(self.config.clone()).accept(stream);
        tokio::time::timeout(timeout, accept)
            .await
            .map_err(|_| Error::HandshakeTimeout)?
            .map_err(|e| handshake_error(e, "the client"))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| TlsError::with_source(format!("cannot read {}", path.display()), e).into())
}

fn in_file(error: Error, path: &Path) -> Error {
    match error {
        Error::Tls(mut e) => {
            e.message = format!("{}: {}", path.display(), e.message);
            Error::Tls(e)
        }
        other => other,
    }
}

fn certificates(pem: &[u8], whose: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::with_source(format!("bad PEM for {whose} certificate"), e))?;
    if certs.is_empty() {
        return Err(TlsError::new(format!("no PEM certificate for {whose}")).into());
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        TlsError::with_source("no usable PEM private key (PKCS #8, PKCS #1 or SEC1)", e).into()
    })
}

/// The name to verify the server's certificate against (and send as SNI).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        TlsError::with_source(format!("{host:?} is not a valid server name"), e).into()
    })
}

/// An I/O error from a TLS handshake with `peer` (`"the server x"` or
/// `"the client"`), turned into a [`TlsError`] that says why when rustls
/// refused something.
pub(crate) fn handshake_error(e: io::Error, peer: &str) -> Error {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return Error::Io(e);
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "its certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "its certificate is not valid yet".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "its certificate is for another name".to_owned()
            }
            CertificateError::UnknownIssuer => "its certificate is self-signed or from an \
                 unknown authority (trust a private CA with --cacert or ClientTls::add_ca_pem)"
                .to_owned(),
            CertificateError::BadSignature => "its certificate's signature is invalid".to_owned(),
            CertificateError::Revoked => "its certificate is revoked".to_owned(),
            other => format!("its certificate is refused ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => format!("it refused the handshake ({alert:?})"),
        rustls::Error::NoApplicationProtocol => "no common ALPN protocol".to_owned(),
        other => other.to_string(),
    };
    let message = format!("TLS with {peer} failed: {why}");
    let source = e.into_inner().expect("checked above");
    TlsError {
        message,
        source: Some(source),
    }
    .into()
}

/// A TLS failure: a certificate refused (expired, self-signed, for another
/// name), a handshake the peer refused, a file that holds no certificate
/// or key. The message says which; the source is rustls' error, if any.
#[derive(Debug)]
pub struct TlsError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TlsError {
    fn new(message: impl Into<String>) -> TlsError {
        TlsError {
            message: message.into(),
            source: None,
        }
    }

    fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TlsError {
        TlsError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// rustls' own error, when rustls refused something.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        self.source.as_ref()?.downcast_ref()
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Error {
        Error::Tls(e)
    }
}
