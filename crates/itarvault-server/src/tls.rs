//! TLS: rustls on the aws-lc-rs provider (its FIPS module in the `fips` build), TLS 1.2
//! and 1.3 only, AES-GCM suites only, ECDHE on P-256 and P-384 only (NIST SP 800-52
//! rev 2). A missing certificate is generated once, self-signed, for development.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{aws_lc_rs as provider, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::CertField;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("`{0}` holds no PEM certificate")]
    NoCert(PathBuf),
    #[error("`{0}` holds no PEM private key")]
    NoKey(PathBuf),
    #[error("TLS key `{0}`: {1}")]
    Private(PathBuf, String),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("generating the development certificate: {0}")]
    Generate(String),
}

/// The only cipher suites offered: AES-GCM with ECDHE (TLS 1.2) or TLS 1.3.
pub fn provider() -> CryptoProvider {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    use rustls::crypto::aws_lc_rs::kx_group;
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![kx_group::SECP256R1, kx_group::SECP384R1],
        ..provider::default_provider()
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_pem(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Read(path.to_owned(), e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_owned()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    itarvault_keys::check_private(path)
        .map_err(|e| TlsError::Private(path.to_owned(), e.to_string()))?;
    let pem = zeroize::Zeroizing::new(read_pem(path)?);
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| TlsError::Read(path.to_owned(), e))?
        .ok_or_else(|| TlsError::NoKey(path.to_owned()))
}

/// Generates a self-signed development certificate for `localhost` and loopback
/// addresses unless one exists. Returns whether one was made.
pub fn ensure_dev_cert(cert: &Path, key: &Path) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let key_pem = zeroize::Zeroizing::new(ck.signing_key.serialize_pem());
    crate::fsutil::write_private(key, key_pem.as_bytes())
        .map_err(|e| TlsError::Read(key.to_owned(), e))?;
    std::fs::write(cert, ck.cert.pem()).map_err(|e| TlsError::Read(cert.to_owned(), e))?;
    Ok(true)
}

/// SHA-256 fingerprint of the first certificate, `AB:CD:...` as browsers show it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What a verified client certificate says: the principal its configured field names,
/// its SHA-256, and its rfc822Name subject alternative names (for bindings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    pub name: Option<String>,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub sha256: String,
    pub emails: Vec<String>,
}

/// Reads a client certificate whose chain the handshake already verified against
/// `client_ca_file` (and its CRLs).
pub fn peer_cert(der: &[u8], field: CertField) -> PeerCert {
    let sha256 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der));
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return PeerCert {
            name: None,
            sha256,
            emails: Vec::new(),
        };
    };
    let emails: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::RFC822Name(e) => Some((*e).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let name = match field {
        CertField::Cn => cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        CertField::Email => emails.first().cloned(),
    };
    PeerCert {
        name,
        sha256,
        emails,
    }
}

/// The server's TLS configuration. With `client_ca`, clients may present a certificate
/// issued under it (verified in the handshake); without one they use tokens.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    crls: &[PathBuf],
) -> Result<(Arc<ServerConfig>, String), TlsError> {
    let certs = load_certs(cert)?;
    let fp = fingerprint(&certs[0]);
    let key = load_key(key)?;
    let provider = Arc::new(provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in load_certs(ca)? {
                roots.add(c)?;
            }
            let mut revoked = Vec::new();
            for path in crls {
                let pem = read_pem(path)?;
                for crl in rustls_pemfile::crls(&mut pem.as_slice()) {
                    revoked.push(crl.map_err(|e| TlsError::Read(path.clone(), e))?);
                }
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .with_crls(revoked)
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Generate(format!("client CA `{}`: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), fp))
}
