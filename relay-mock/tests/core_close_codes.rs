//! The transcript records the close code the peer really used.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use relay_mock::{MockConfig, MockServer};

fn closes(server: &mut MockServer) -> Vec<u64> {
    server
        .transcript()
        .iter()
        .filter(|l| l.frame["event"] == "ws_close")
        .filter_map(|l| l.frame["code"].as_u64())
        .collect()
}

#[test]
fn close_codes_are_recorded() {
    let now = Instant::now();
    let mut server = MockServer::new(MockConfig::default());
    let a = server.connection_opened(now);
    server.connection_closed_with_code(now, a, 1000);
    let b = server.connection_opened(now);
    server.connection_closed(now, b);
    assert_eq!(closes(&mut server), [1000, 1006]);
    // A second report for the same connection records nothing more.
    server.connection_closed_with_code(now, b, 1001);
    assert_eq!(closes(&mut server), [1000, 1006]);
}
