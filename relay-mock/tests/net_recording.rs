//! Frame recording over the network: bounded in memory, `dropped` in `/__control/frames`,
//! every line streamed to the `--record` transcript.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn get(addr: std::net::SocketAddr, path: &str) -> Value {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("control answers in time")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    serde_json::from_str(body).unwrap()
}

/// Sends `n` pings on one socket and waits for every answer.
async fn pings(url: &str, n: usize) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for i in 0..n {
        let ping =
            json!({"jsonrpc": "2.0", "id": format!("p{i}"), "method": "blade.ping", "params": {}});
        ws.send(Message::Text(ping.to_string())).await.unwrap();
    }
    let mut answered = 0;
    while answered < n {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("answers in time");
        match msg {
            Some(Ok(Message::Text(_))) => answered += 1,
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn memory_keeps_the_last_lines_and_the_file_gets_them_all() {
    let dir = std::env::temp_dir().join(format!("relay-mock-limit-test-{}", std::process::id()));
    let config = MockConfig::default().record_limit(16);
    let server = start_with(config, ServeOptions::default().record_dir(&dir))
        .await
        .unwrap();
    pings(&server.ws_url(), 50).await;

    let all = get(server.addr(), "/__control/frames").await;
    let frames = all["frames"].as_array().unwrap();
    let dropped = all["dropped"].as_u64().expect("a dropped count");
    let next = all["next"].as_u64().unwrap();
    assert!(frames.len() <= 16, "{}", frames.len());
    assert!(dropped > 0);
    // ws_open + 50 pings + 50 answers were recorded in all.
    assert!(next >= 101, "{next}");
    assert_eq!(dropped + frames.len() as u64, next);
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (dropped..next).collect();
    assert_eq!(seqs, expected, "sequence numbers survive drops");
    // `since` counts in sequence numbers.
    let tail = get(
        server.addr(),
        &format!("/__control/frames?since={}", next - 2),
    )
    .await;
    let tail_seqs: Vec<u64> = tail["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(tail_seqs, vec![next - 2, next - 1]);
    let old = get(server.addr(), "/__control/frames?since=0").await;
    assert_eq!(old["frames"].as_array().unwrap().len(), frames.len());

    let path = server.shutdown().await.unwrap().transcript.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for i in 0..50 {
        let id = format!("p{i}");
        assert!(
            lines
                .iter()
                .any(|l| l["dir"] == "c2s" && l["frame"]["id"] == id.as_str()),
            "ping {i} missing from the transcript"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_zero_limit_keeps_nothing_but_counts() {
    let config = MockConfig::default().record_limit(0);
    let server = start_with(config, ServeOptions::default()).await.unwrap();
    pings(&server.ws_url(), 3).await;
    let all = get(server.addr(), "/__control/frames").await;
    assert_eq!(all["frames"], json!([]));
    assert!(all["dropped"].as_u64().unwrap() >= 7, "{all}");
    assert_eq!(all["next"], all["dropped"]);
    server.shutdown().await;
}
