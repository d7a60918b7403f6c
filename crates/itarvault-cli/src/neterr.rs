//! What a failed exchange with the server most likely means, in one line a user can act
//! on. The HTTP library's own chain ("client error (Connect): tcp connect error: ...")
//! is kept after it for whoever debugs, but the first thing read names a cause and the
//! setting to check.

use std::error::Error as StdError;
use std::io;

use reqwest::StatusCode;

/// The likely cause of a transport failure, and the setting to check.
pub fn transport_hint(e: &reqwest::Error) -> &'static str {
    if let Some(tls) = find_tls_error(e) {
        return tls_hint(tls);
    }
    if e.is_timeout() {
        return "the server did not answer in time: check that ITARVAULT_SERVER names this vault and that a firewall lets the connection through; a busy server may need a longer --timeout (ITARVAULT_TIMEOUT)";
    }
    match find_io_kind(e) {
        Some(io::ErrorKind::ConnectionRefused) => {
            return "nothing is listening there: start the server (`itarvault server`), or correct the host and port in --server (ITARVAULT_SERVER)";
        }
        Some(io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof) if e.is_connect() => {
            return "the server closed the connection during the handshake: check that --server (ITARVAULT_SERVER) uses the scheme the server speaks (https:// unless tls.insecure_http is set) and the right port";
        }
        Some(io::ErrorKind::TimedOut) => {
            return "the connection timed out: check that ITARVAULT_SERVER names this vault and that a firewall lets the connection through";
        }
        Some(io::ErrorKind::AddrNotAvailable) => {
            return "the local address cannot be used: check --source-address";
        }
        _ => {}
    }
    let chain = chain_text(e);
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        return "the server's host name does not resolve: check the host in --server (ITARVAULT_SERVER) and this machine's DNS";
    }
    if chain.contains("InvalidContentType") || chain.contains("corrupt message") {
        return "the server does not speak TLS on that port: use http:// only for a server with tls.insecure_http, otherwise check the port in --server (ITARVAULT_SERVER)";
    }
    if e.is_builder() || chain.contains("relative URL") || chain.contains("invalid URL") {
        return "--server (ITARVAULT_SERVER) is not a URL: write it as https://HOST:PORT";
    }
    if e.is_connect() {
        return "the connection could not be made: check --server (ITARVAULT_SERVER) and the network path to it";
    }
    "the connection failed midway: the server may have stopped or a proxy cut the connection; check the server's log and retry"
}

fn tls_hint(e: &rustls::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature | C::UnknownRevocationStatus) => {
            "the server's certificate is not issued by a CA this client trusts: pass the server's certificate or its CA with --cacert (ITARVAULT_CACERT); a development server's own is DATA_DIR/tls/cert.pem"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate does not name the host in --server (ITARVAULT_SERVER): connect by a name the certificate lists, or have the server's tls.cert_file issued for this name"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired: renew the server's tls.cert_file (or check this machine's clock)"
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server's certificate is not valid yet: check this machine's clock and the server's tls.cert_file"
        }
        E::InvalidCertificate(C::Revoked) => {
            "the server's certificate is revoked: the server needs a new tls.cert_file"
        }
        E::InvalidCertificate(_) => {
            "the server's certificate was refused: check --cacert (ITARVAULT_CACERT) and the server's tls.cert_file"
        }
        E::AlertReceived(_) => {
            "the server refused the handshake: it may require a client certificate (--client-cert, --client-key) issued by its tls.client_ca_file, or refuse the one given"
        }
        E::InvalidMessage(_) => {
            "the server does not speak TLS on that port: use http:// only for a server with tls.insecure_http, otherwise check the port in --server (ITARVAULT_SERVER)"
        }
        _ => {
            "the TLS handshake failed: check --cacert (ITARVAULT_CACERT), the server's tls settings and any proxy between them"
        }
    }
}

/// The hint for an error status: only where the server's own answer cannot say more.
pub fn status_hint(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => Some(
            "a proxy in front of the vault answered: check that the itarvault server behind it is running and reachable from the proxy",
        ),
        StatusCode::SERVICE_UNAVAILABLE => Some(
            "the server is busy or not ready: retry after the time it named; if it persists, check the server's log",
        ),
        s if s.is_server_error() => Some(
            "the server failed: its log (stderr or the journal) names the cause; the audit trail records whether the operation happened",
        ),
        _ => None,
    }
}

fn sources(e: &reqwest::Error) -> impl Iterator<Item = &(dyn StdError + 'static)> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    std::iter::from_fn(move || {
        let cur = next?;
        // `io::Error::source` skips the error it wraps: look inside it explicitly.
        next = match cur.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner),
            None => cur.source(),
        };
        Some(cur)
    })
}

fn find_tls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    sources(e).find_map(|s| s.downcast_ref::<rustls::Error>())
}

fn find_io_kind(e: &reqwest::Error) -> Option<io::ErrorKind> {
    sources(e).find_map(|s| s.downcast_ref::<io::Error>().map(io::Error::kind))
}

fn chain_text(e: &reqwest::Error) -> String {
    sources(e).map(|s| format!("{s}: ")).collect()
}

/// The failure as text: what failed, the hint, then the library's chain. Text only:
/// `main` treats an `io::Error` in the chain as "the reader of our output went away".
pub fn describe(base: &str, e: &reqwest::Error) -> String {
    let mut seen = String::new();
    for s in sources(e).skip(1) {
        let t = s.to_string();
        if !seen.contains(&t) {
            seen.push_str(": ");
            seen.push_str(&t);
        }
    }
    format!(
        "cannot complete the exchange with {base}\nhint: {}\ndetail: {e}{seen}",
        transport_hint(e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_error_gets_a_hint_and_client_errors_do_not() {
        for code in [500, 501, 502, 503, 504, 507] {
            assert!(status_hint(StatusCode::from_u16(code).unwrap_or_default()).is_some());
        }
        for code in [400, 401, 403, 404, 409, 422, 429] {
            assert!(status_hint(StatusCode::from_u16(code).unwrap_or_default()).is_none());
        }
    }

    #[test]
    fn certificate_failures_name_the_setting_to_check() {
        use rustls::CertificateError as C;
        let cases = [
            (C::UnknownIssuer, "--cacert"),
            (C::NotValidForName, "does not name the host"),
            (C::Expired, "expired"),
            (C::NotValidYet, "clock"),
        ];
        for (c, want) in cases {
            let hint = tls_hint(&rustls::Error::InvalidCertificate(c));
            assert!(hint.contains(want), "{hint}");
        }
    }
}
