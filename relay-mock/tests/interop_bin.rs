//! The `relay-mock` binary: startup line, control API over the printed address, graceful
//! SIGTERM shutdown with `--record`.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn binary_prints_address_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("relay-mock-bin-test-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-mock"))
        .args(["--listen", "127.0.0.1:0", "--seed", "3", "--record"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("relay-mock listening on ws://")
        .unwrap_or_else(|| panic!("unexpected startup line {line:?}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "{addr}");

    let health = http_get(&addr, "/__control/health");
    assert!(health.starts_with("HTTP/1.1 200 "), "{health}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one transcript file");
    let _ = std::fs::remove_dir_all(&dir);
}
