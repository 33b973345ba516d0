//! Handshake frames of the server core.

mod common;

use common::*;
use serde_json::json;

#[test]
fn handshake_frames() {
    let mut h = Harness::new();
    let conn = h.open();
    let r = h.request(
        conn,
        "blade.connect",
        connect_params("test-project", "test-token", None),
    );
    let res = &r["result"];
    assert_eq!(res["session_restored"], false);
    assert!(res["sessionid"].is_string());
    assert_eq!(res["authorization"]["project"], "test-project");
    let sig = res["authorization"]["signature"].as_str().unwrap();
    assert_eq!(sig.len(), 64);
    assert!(!sig.contains('_'));
    assert!(res.get("result").is_none());

    let r = h.request(
        conn,
        "blade.execute",
        json!({"protocol":"signalwire","method":"setup","params":{}}),
    );
    let proto = r["result"]["result"]["protocol"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = proto.splitn(4, '_').collect();
    assert_eq!(parts[0], "signalwire");
    assert_eq!(parts[1], sig);
    assert_eq!(parts[3], "test-project");

    let r = h.request(
        conn,
        "blade.subscription",
        json!({"command":"add","protocol":proto,"channels":["notifications"]}),
    );
    assert_eq!(
        r["result"],
        json!({"command":"add","failed_channels":[],"protocol":proto,"subscribe_channels":["notifications"]})
    );

    let r = h.request(conn, "blade.ping", json!({}));
    assert_eq!(r["result"], json!({}));
}

#[test]
fn relay_commands_must_name_the_session_protocol() {
    let mut h = Harness::new();
    let conn = h.open();
    h.request(
        conn,
        "blade.connect",
        connect_params("test-project", "test-token", None),
    );
    // Before setup (Node SDK bug 9 sends `protocol: null`, or a stale one).
    for protocol in [json!(null), json!("signalwire_other_x")] {
        let r = h.request(
            conn,
            "blade.execute",
            json!({"protocol":protocol,"method":"signalwire.receive","params":{"contexts":["office"]}}),
        );
        assert_eq!(r["error"]["code"], -32602, "{r}");
    }
    let r = h.request(
        conn,
        "blade.execute",
        json!({"protocol":"signalwire","method":"setup","params":{}}),
    );
    let proto = r["result"]["result"]["protocol"].clone();
    let r = h.request(
        conn,
        "blade.execute",
        json!({"protocol":proto,"method":"signalwire.receive","params":{"contexts":["office"]}}),
    );
    assert_eq!(r["result"]["result"]["code"], "200", "{r}");
}
