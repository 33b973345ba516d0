//! With the default `tls` feature, `wss://` URLs go through a real rustls handshake.
//! (`cargo test -p relay-tokio --no-default-features` makes this test fail, as it should.)

use relay_client::Connector;
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
        .connect(&format!("wss://localhost:{port}/"))
        .await
    {
        Ok(_) => panic!("nothing completed a TLS handshake"),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains("not compiled"), "{err}");
    let first = server.await.expect("server task");
    assert_eq!(&first[..2], &[0x16, 0x03], "a TLS ClientHello was sent");
}
