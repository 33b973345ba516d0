//! The retired `http_head` fuzz corpus (`fuzz/corpus/http_head/`, request heads separated by
//! `0xFF`) sent over real sockets to a running relay-mock: every input gets a well-formed HTTP
//! response or a plain close, and the server keeps serving.

use std::path::Path;
use std::time::Duration;

use relay_mock::net::start;
use relay_mock::MockConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `input`, half-closes, and returns everything the server wrote back.
async fn exchange(addr: std::net::SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before reading everything: a failed write is fine.
    let _ = s.write_all(input).await;
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "no end of response for {input:?}");
    out
}

#[tokio::test]
async fn http_head_corpus_gets_answers_and_the_server_survives() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/http_head");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} unreadable: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "corpus has {} files", paths.len());
    let server = start(MockConfig::default()).await.unwrap();
    let addr = server.addr();
    let mut answered = 0;
    for path in &paths {
        let data = std::fs::read(path).unwrap();
        for input in data.split(|b| *b == 0xFF) {
            let out = exchange(addr, input).await;
            if out.is_empty() {
                continue; // an incomplete head: the server just closes
            }
            let head = String::from_utf8_lossy(&out);
            let status = head
                .strip_prefix("HTTP/1.1 ")
                .or_else(|| head.strip_prefix("HTTP/1.0 "))
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse::<u16>().ok());
            assert!(
                status.is_some_and(|s| (100..600).contains(&s)),
                "{}: bad response {head:?} to {input:?}",
                path.display()
            );
            answered += 1;
        }
    }
    assert!(answered > 0, "no input got an answer");
    let out = exchange(addr, b"GET /__control/health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        out.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    server.shutdown().await;
}
