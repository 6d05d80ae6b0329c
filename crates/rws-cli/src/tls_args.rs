//! The TLS options the subcommands share: a server's certificate and key
//! (`rws serve`, `rws trace`), and a client's trust and identity for
//! `wss://` (`rws connect`, `rws trace`), named as curl names them.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use rws::tls::{ClientTls, TlsAcceptor};

/// A server's certificate and key.
#[derive(Debug, Args)]
pub(crate) struct ServerTlsArgs {
    /// Serve over TLS with this PEM certificate chain, the server's
    /// certificate first; needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The acceptor, with --tls-cert and --tls-key.
    pub(crate) fn acceptor(&self) -> Result<Option<TlsAcceptor>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsAcceptor::from_pem_files(cert, key)
                .map(Some)
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        }
    }
}

/// TLS options for wss://, as curl names them.
#[derive(Debug, Args)]
pub(crate) struct ClientTlsArgs {
    /// Trust the CA certificates in this PEM file, besides the web PKI's.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Present this PEM client certificate (chain) if the server asks for
    /// one; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Do not verify the server's certificate (expired, self-signed, for
    /// another name): encrypted, but anyone on the path can read along.
    #[arg(short = 'k', long)]
    insecure: bool,
}

impl ClientTlsArgs {
    /// The TLS configuration these options ask for.
    pub(crate) fn config(&self) -> Result<Arc<rws::tls::rustls::ClientConfig>, String> {
        let mut tls = ClientTls::new();
        if let Some(ca) = &self.cacert {
            tls = tls.add_ca_pem_file(ca).map_err(|e| e.to_string())?;
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls
                .client_cert_pem_files(cert, key)
                .map_err(|e| e.to_string())?;
        }
        if self.insecure {
            eprintln!("rws: warning: --insecure: the server's certificate is not verified");
            tls = tls.danger_accept_invalid_certs();
        }
        tls.build().map_err(|e| e.to_string())
    }
}
