//! Ceiling for bench/server.py: how fast the server's own TLS configuration moves bytes
//! over loopback with nothing else to do (no HTTP, no envelope, no disk, no content
//! check). Client and server share the machine's cores, as in the vault benchmark, so
//! this is the most any transfer through the vault can reach here.
//! Prints `{"bytes": N, "seconds": S}`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use itarvault_server::tls;
use rustls::pki_types::ServerName;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: u64 = std::env::args().nth(1).map_or(Ok(1 << 30), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    tls::ensure_dev_cert(&cert, &key)?;
    let (server_cfg, _) = tls::server_config(&cert, &key, None, &[])?;
    let mut roots = rustls::RootCertStore::empty();
    for c in tls::load_certs(&cert)? {
        roots.add(c)?;
    }
    let client_cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(tls::provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> Result<(), String> {
        let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
        let conn = rustls::ServerConnection::new(server_cfg).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        // 1 MiB per write, as the vault's download path hands the TLS layer.
        let piece = vec![0u8; 1 << 20];
        let mut left = total;
        while left > 0 {
            let n = left.min(piece.len() as u64) as usize;
            tls.write_all(&piece[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        tls.flush().map_err(|e| e.to_string())?;
        tls.conn.send_close_notify();
        tls.flush().map_err(|e| e.to_string())
    });

    let sock = TcpStream::connect(addr)?;
    let conn = rustls::ClientConnection::new(client_cfg, ServerName::try_from("localhost")?)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut buf = vec![0u8; 1 << 20];
    // The handshake is not part of the rate.
    let first = tls.read(&mut buf)?;
    let start = Instant::now();
    let mut got = first as u64;
    while got < total {
        match tls.read(&mut buf)? {
            0 => break,
            n => got += n as u64,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    server.join().map_err(|_| "the server thread panicked")??;
    if got != total {
        return Err(format!("received {got} of {total} bytes").into());
    }
    println!("{{\"bytes\": {}, \"seconds\": {secs}}}", got - first as u64);
    Ok(())
}
