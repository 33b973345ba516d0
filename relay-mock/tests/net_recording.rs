//! Frame recording over the network: bounded in memory, `dropped` in `/__control/frames`,
//! every line streamed to the `--record` transcript.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

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

    let control = server.control_client();
    let all = control.frames(0).await.unwrap();
    let frames = &all.frames;
    let (dropped, next) = (all.dropped, all.next);
    assert!(frames.len() <= 16, "{}", frames.len());
    assert!(dropped > 0);
    // ws_open + 50 pings + 50 answers were recorded in all.
    assert!(next >= 101, "{next}");
    assert_eq!(dropped + frames.len() as u64, next);
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    let expected: Vec<u64> = (dropped..next).collect();
    assert_eq!(seqs, expected, "sequence numbers survive drops");
    // `since` counts in sequence numbers.
    let tail = control.frames(next - 2).await.unwrap();
    let tail_seqs: Vec<u64> = tail.frames.iter().map(|f| f.seq).collect();
    assert_eq!(tail_seqs, vec![next - 2, next - 1]);
    // Asking from before the oldest kept line gets what is kept.
    let kept = control.frames(dropped).await.unwrap();
    assert_eq!(kept.frames, all.frames);

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
    let all = server.control_client().frames(0).await.unwrap();
    assert!(all.frames.is_empty());
    assert!(all.dropped >= 7, "{all:?}");
    assert_eq!(all.next, all.dropped);
    server.shutdown().await;
}
