//! relay-proto must stay sans-IO: no async runtime, no futures, no OS randomness in its
//! normal dependency tree.

#[test]
fn dependency_tree_has_no_runtime_or_randomness() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "relay-proto",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("relay-proto"), "unexpected output: {tree}");
    for banned in [
        "tokio",
        "futures",
        "async-std",
        "async-io",
        "getrandom",
        "mio",
        "rand ",
    ] {
        let hit = tree.lines().find(|l| l.starts_with(banned));
        assert!(
            hit.is_none(),
            "relay-proto depends on {banned}: {hit:?}\n{tree}"
        );
    }
}
