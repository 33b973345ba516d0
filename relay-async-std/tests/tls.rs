//! With the default `tls` feature, `wss://` URLs and https task delivery go through a real
//! rustls handshake that verifies the server's certificate.

use std::sync::Arc;

use futures_rustls::rustls;
use relay_async_std::{AsyncStdConnector, Connector, DeliverError, Task, WsLimits};

/// A TLS server on localhost presenting a self-signed certificate (test fixture, valid for
/// localhost until 2125). Returns its port; it serves handshakes until the test ends.
async fn untrusted_tls_server() -> u16 {
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
    let acceptor = futures_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    async_std::task::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            // The client must abort the handshake: it does not trust this certificate.
            let _ = acceptor.accept(sock).await;
        }
    });
    port
}

#[async_std::test]
async fn wss_refuses_a_certificate_it_does_not_trust() {
    let port = untrusted_tls_server().await;
    let err = match AsyncStdConnector
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

#[async_std::test]
async fn wss_urls_send_a_tls_client_hello() {
    use async_std::io::ReadExt;
    let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = async_std::task::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 5];
        sock.read_exact(&mut buf).await.expect("read");
        buf
    });
    let connect =
        AsyncStdConnector.connect(&format!("wss://localhost:{port}/"), WsLimits::default());
    let client = async_std::task::spawn(connect);
    let first = server.await;
    // A handshake record (0x16) of TLS 1.x (0x03): the ClientHello.
    assert_eq!(&first[..2], &[0x16, 0x03], "a TLS ClientHello was sent");
    assert!(client.await.is_err(), "the peer hung up mid-handshake");
}

#[async_std::test]
async fn non_websocket_urls_are_refused() {
    for url in ["http://localhost:1/", "wss:///nohost", "not a url"] {
        assert!(
            AsyncStdConnector
                .connect(url, WsLimits::default())
                .await
                .is_err(),
            "{url}"
        );
    }
}

#[async_std::test]
async fn task_delivery_over_https_refuses_a_certificate_it_does_not_trust() {
    let port = untrusted_tls_server().await;
    let task = Task::new("p", "t")
        .expect("credentials")
        .with_host(format!("https://localhost:{port}"));
    match task.deliver("office", &serde_json::json!({})).await {
        Err(DeliverError::Tls(e)) => assert!(e.contains("invalid peer certificate"), "{e}"),
        other => panic!("{other:?}"),
    }
}
