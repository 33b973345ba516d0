//! With the default `tls` feature, `wss://` URLs go through a real rustls handshake.
//! (`cargo test -p relay-tokio --no-default-features` makes this test fail, as it should.)

use relay_client::{Connector, WsLimits};
use relay_tokio::TokioConnector;

#[tokio::test]
async fn wss_urls_attempt_a_tls_handshake() {
    // A peer that accepts and hangs up: the handshake must fail *as TLS* (it was attempted),
    // not be refused with "TLS support not compiled in".
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 5];
        // The first bytes of a TLS ClientHello: a handshake record (0x16), TLS 1.x (0x03).
        tokio::io::AsyncReadExt::read_exact(&mut sock, &mut buf)
            .await
            .expect("read");
        buf
    });
    let err = match TokioConnector
        .connect(&format!("wss://localhost:{port}/"), WsLimits::default())
        .await
    {
        Ok(_) => panic!("nothing completed a TLS handshake"),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains("not compiled"), "{err}");
    let first = server.await.expect("server task");
    assert_eq!(&first[..2], &[0x16, 0x03], "a TLS ClientHello was sent");
}

/// A TLS server on localhost presenting a self-signed certificate (test fixture, valid for
/// localhost until 2125). Returns its port; it serves handshakes until the test ends.
async fn untrusted_tls_server() -> u16 {
    use std::sync::Arc;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let cert = std::fs::read(format!("{dir}/self-signed-localhost.cert.der")).expect("cert");
    let key = std::fs::read(format!("{dir}/self-signed-localhost.key.der")).expect("key");
    let key = rustls::pki_types::PrivateKeyDer::try_from(key).expect("pkcs8 key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.into()], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            // The client must abort the handshake: it does not trust this certificate.
            let _ = acceptor.accept(sock).await;
        }
    });
    port
}

#[tokio::test]
async fn wss_refuses_a_certificate_it_does_not_trust() {
    let port = untrusted_tls_server().await;
    let err = match TokioConnector
        .connect(&format!("wss://localhost:{port}/"), WsLimits::default())
        .await
    {
        Ok(_) => panic!("connected to a server with an untrusted certificate"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn task_delivery_over_https_refuses_a_certificate_it_does_not_trust() {
    use relay_tokio::{DeliverError, Task};
    let port = untrusted_tls_server().await;
    let task = Task::new("p", "t")
        .expect("credentials")
        .with_host(format!("https://localhost:{port}"));
    match task.deliver("office", &serde_json::json!({})).await {
        Err(DeliverError::Tls(e)) => {
            assert!(
                e.contains("UnknownIssuer") || e.contains("invalid peer certificate"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}
