//! Interop: the official `@signalwire/node` 2.6.0 SDK against relay-mock.
//!
//! Installs `relay-mock/interop/` with npm (in place; `node_modules/` is gitignored and reused
//! when it already holds the pinned SDK), starts one in-process server per script on an
//! ephemeral port and runs the scripts in parallel. Each script prints `STEP <name> ok` per step
//! and `ALL ok` at the end; any other outcome fails this test with the script's whole output.
//!
//! Needs `node` and `npm` on PATH. Without them the test FAILS, unless
//! `RELAY_SKIP_NODE_INTEROP=1` is set (which also skips it when they are present).
//!
//! With `RELAY_INTEROP_RECORD_DIR=DIR`, each script's server writes its JSONL transcript to
//! `DIR/<script>/` (the SDK's real frames, usable as golden transcripts).
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;

const SCRIPTS: &[&str] = &[
    "consumer.js",
    "client.js",
    "reconnect.js",
    "media.js",
    "surface.js",
];
const SCRIPT_DEADLINE: Duration = Duration::from_secs(90);
const SDK_VERSION: &str = "2.6.0";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn sdk_installed(dir: &Path) -> bool {
    let manifest = dir.join("node_modules/@signalwire/node/package.json");
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| v["version"] == SDK_VERSION)
        .unwrap_or(false)
}

fn npm_install(dir: &Path) {
    if sdk_installed(dir) {
        return;
    }
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("run npm install");
    assert!(
        out.status.success(),
        "npm install failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sdk_installed(dir),
        "npm install did not install @signalwire/node {SDK_VERSION}"
    );
}

struct ScriptRun {
    script: &'static str,
    ok: bool,
    elapsed: Duration,
    output: String,
}

/// Runs `node <script> <url>` with a hard deadline (the scripts also time themselves out).
fn run_script(dir: &Path, script: &'static str, url: &str) -> ScriptRun {
    let started = Instant::now();
    let log = std::env::temp_dir().join(format!(
        "relay-mock-interop-{}-{script}.log",
        std::process::id()
    ));
    let spawn = std::fs::File::create(&log).and_then(|file| {
        let err = file.try_clone()?;
        Command::new("node")
            .arg(script)
            .arg(url)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
    });
    let mut child = match spawn {
        Ok(c) => c,
        Err(e) => {
            return ScriptRun {
                script,
                ok: false,
                elapsed: started.elapsed(),
                output: format!("cannot start node: {e}"),
            }
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > SCRIPT_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    let mut output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if status.is_none() {
        output.push_str(&format!("\n(killed after {SCRIPT_DEADLINE:?})\n"));
    }
    let ok = status.is_some_and(|s| s.success()) && output.lines().any(|l| l == "ALL ok");
    ScriptRun {
        script,
        ok,
        elapsed: started.elapsed(),
        output,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_sdk_against_relay_mock() {
    if std::env::var("RELAY_SKIP_NODE_INTEROP").is_ok_and(|v| v == "1") {
        eprintln!("RELAY_SKIP_NODE_INTEROP=1: skipping the Node SDK interop test");
        return;
    }
    assert!(
        tool_available("node") && tool_available("npm"),
        "node and npm must be on PATH for the interop test (set RELAY_SKIP_NODE_INTEROP=1 to skip it)"
    );
    let dir = interop_dir();
    let install_dir = dir.clone();
    tokio::task::spawn_blocking(move || npm_install(&install_dir))
        .await
        .expect("npm install task");

    let started = Instant::now();
    let mut servers = Vec::new();
    let mut runs = Vec::new();
    for script in SCRIPTS {
        let mut opts = ServeOptions::default();
        if let Some(dir) = std::env::var_os("RELAY_INTEROP_RECORD_DIR") {
            opts = opts.record_dir(PathBuf::from(dir).join(script.trim_end_matches(".js")));
        }
        let server = start_with(MockConfig::default(), opts)
            .await
            .expect("start relay-mock");
        let url = server.ws_url();
        let dir = dir.clone();
        runs.push(tokio::task::spawn_blocking(move || {
            run_script(&dir, script, &url)
        }));
        servers.push(server);
    }
    let mut report = String::new();
    let mut failed = Vec::new();
    for run in runs {
        let run = run.await.expect("script task");
        let steps: Vec<&str> = run
            .output
            .lines()
            .filter(|l| l.starts_with("STEP ") || l.starts_with("FAIL "))
            .collect();
        report.push_str(&format!(
            "== {} ({:.1} s): {}\n{}\n",
            run.script,
            run.elapsed.as_secs_f64(),
            if run.ok { "ok" } else { "FAILED" },
            steps.join("\n")
        ));
        if !run.ok {
            failed.push(run);
        }
    }
    for server in servers {
        server.shutdown().await;
    }
    eprintln!(
        "{report}interop total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        let mut msg = String::new();
        for run in &failed {
            msg.push_str(&format!(
                "\n======== {} output ========\n{}\n",
                run.script, run.output
            ));
        }
        panic!("{} interop script(s) failed:\n{report}{msg}", failed.len());
    }
}
