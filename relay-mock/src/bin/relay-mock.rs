//! `relay-mock`: a SignalWire Relay v2 test server (WebSocket + control API on one port).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use relay_mock::net::{serve, ServeOptions};
use relay_mock::MockConfig;

const HELP: &str = "\
relay-mock: a faithful SignalWire Relay v2 (Blade JSON-RPC over WebSocket) test server

USAGE:
    relay-mock [OPTIONS]

OPTIONS:
    --listen ADDR     IP:PORT or HOST:PORT to bind (default 127.0.0.1:8080; port 0 picks a
                      free port, printed on the startup line)
    --project ID      project id clients must authenticate with (default: test-project)
    --token TOKEN     project token clients must authenticate with (default: test-token)
    --seed N          seed for generated ids and routing order (default: 0)
    --record DIR      write a JSONL transcript of the run (shared/protocol/TRANSCRIPTS.md
                      format) to DIR/relay-mock-<unix secs>-<pid>.jsonl
    --media-speed X   scale of component timings (play lengths, record, detect, fax,
                      send_digits): 1 = documented timings (default), 0.5 = twice as
                      fast, 0 = components complete at once
    --record-limit N  most transcript lines kept in memory for GET /__control/frames; older
                      ones are dropped and counted (`dropped` in its answer). 0 = keep none.
                      --record files get every line regardless (default 100000)
    --auth-timeout SECS
                      close (code 1008) a WebSocket that has not completed blade.connect
                      after SECS seconds (default 10; fractions allowed)
    --max-websockets N
                      most WebSockets open at once; more upgrades get a 503 (default 8192).
                      The control API is served apart and stays reachable
    --high-water BYTES
                      backpressure threshold (default 1048576): a WebSocket with more
                      unread frames than this stops reading its client's requests until
                      its queue drains, and while all of them together hold more,
                      injections (inbound_call, inbound_message, tasks) wait
    --stall-timeout SECS
                      drop a WebSocket whose client takes none of its queued frames for
                      SECS seconds (default 30; fractions allowed); also the longest an
                      injection waits for backpressure
    --max-queued-bytes BYTES
                      drop a WebSocket with more unread frames than this (last-resort
                      bound, default 67108864)
    -h, --help        print this help

The WebSocket (any path) and the HTTP control API (/__control/..., POST /api/relay/rest/tasks)
share the port. On startup exactly one line `relay-mock listening on ws://ADDR` goes to stdout.
SIGINT or SIGTERM stops the server gracefully (transcript flushed).
";

struct Args {
    listen: SocketAddr,
    config: MockConfig,
    record: Option<PathBuf>,
    auth_timeout: Duration,
    max_websockets: usize,
    high_water: usize,
    stall_timeout: Duration,
    max_queued_bytes: usize,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut config = MockConfig::default();
    let mut record = None;
    let mut auth_timeout = relay_mock::net::DEFAULT_AUTH_TIMEOUT;
    let mut max_websockets = relay_mock::net::DEFAULT_MAX_WEBSOCKETS;
    let mut high_water = relay_mock::net::DEFAULT_HIGH_WATER_BYTES;
    let mut stall_timeout = relay_mock::net::DEFAULT_STALL_TIMEOUT;
    let mut max_queued_bytes = relay_mock::net::DEFAULT_MAX_QUEUED_BYTES;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                listen = resolve(&v)?;
            }
            "--project" => config.project = value()?,
            "--token" => config.token = value()?,
            "--seed" => {
                let v = value()?;
                config.seed = v.parse().map_err(|e| format!("--seed {v}: {e}"))?;
            }
            "--record" => record = Some(PathBuf::from(value()?)),
            "--media-speed" => {
                let v = value()?;
                config.media_speed = match v.parse::<f64>() {
                    Ok(x) if x.is_finite() && x >= 0.0 => x,
                    _ => return Err(format!("{flag} {v}: a number >= 0")),
                };
            }
            "--record-limit" => {
                let v = value()?;
                config.record_limit = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
            }
            "--auth-timeout" => auth_timeout = seconds(&flag, &value()?)?,
            "--max-websockets" => {
                let v = value()?;
                max_websockets = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
            }
            "--high-water" => {
                let v = value()?;
                high_water = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
            }
            "--stall-timeout" => stall_timeout = seconds(&flag, &value()?)?,
            "--max-queued-bytes" => {
                let v = value()?;
                max_queued_bytes = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if config.project.is_empty() || config.token.is_empty() {
        return Err("--project and --token must not be empty".into());
    }
    Ok(Some(Args {
        listen,
        config,
        record,
        auth_timeout,
        max_websockets,
        high_water,
        stall_timeout,
        max_queued_bytes,
    }))
}

/// A non-negative, finite number of seconds.
fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    let secs: f64 = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{flag} {v}: {e}"))
}

/// `IP:PORT`, or `HOST:PORT` resolved once (first address wins).
fn resolve(v: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    std::net::ToSocketAddrs::to_socket_addrs(v)
        .map_err(|e| format!("--listen {v}: {e}"))?
        .next()
        .ok_or_else(|| format!("--listen {v}: no address"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

// One thread: the server core is a single actor anyway, and a multi-threaded runtime spends
// more CPU waking threads across cores for every frame than the core spends on it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("relay-mock: {msg}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!("relay-mock: cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(err) => {
            eprintln!("relay-mock: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = ServeOptions::default()
        .auth_timeout(args.auth_timeout)
        .max_websockets(args.max_websockets)
        .high_water_bytes(args.high_water)
        .stall_timeout(args.stall_timeout)
        .max_queued_bytes(args.max_queued_bytes)
        .shutdown_on(shutdown_signal());
    if let Some(dir) = args.record {
        opts = opts.record_dir(dir);
    }
    println!("relay-mock listening on ws://{addr}");
    let _ = std::io::stdout().flush();
    match serve(listener, args.config, opts).await {
        Ok(summary) => {
            if let Some(path) = summary.transcript {
                eprintln!("relay-mock: transcript written to {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relay-mock: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Option<Args>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap().unwrap();
        assert_eq!(a.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            (a.config.project.as_str(), a.config.token.as_str()),
            ("test-project", "test-token")
        );
        let a = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--project=p",
            "--token",
            "t",
            "--seed",
            "7",
            "--record",
            "/tmp/x",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.listen.port(), 0);
        assert_eq!(
            (
                a.config.project.as_str(),
                a.config.token.as_str(),
                a.config.seed
            ),
            ("p", "t", 7)
        );
        assert_eq!(a.record, Some(PathBuf::from("/tmp/x")));
        assert_eq!(a.auth_timeout, relay_mock::net::DEFAULT_AUTH_TIMEOUT);
        let a = parse(&[
            "--auth-timeout",
            "0.5",
            "--max-websockets=3",
            "--record-limit",
            "0",
            "--media-speed",
            "0",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.config.record_limit, 0);
        assert_eq!(a.config.media_speed, 0.0);
        assert_eq!(parse(&[]).unwrap().unwrap().config.media_speed, 1.0);
        assert!(parse(&["--media-speed", "-1"]).is_err());
        assert!(parse(&["--media-speed", "NaN"]).is_err());
        assert_eq!(
            (a.auth_timeout, a.max_websockets),
            (Duration::from_millis(500), 3)
        );
        assert!(parse(&["--auth-timeout", "-1"]).is_err());
        assert!(parse(&["--auth-timeout", "inf"]).is_err());
        assert!(parse(&["--max-websockets", "x"]).is_err());
        let a = parse(&[
            "--high-water",
            "4096",
            "--stall-timeout=2.5",
            "--max-queued-bytes",
            "65536",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (a.high_water, a.stall_timeout, a.max_queued_bytes),
            (4096, Duration::from_millis(2500), 65536)
        );
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!(
            (d.high_water, d.stall_timeout, d.max_queued_bytes),
            (
                relay_mock::net::DEFAULT_HIGH_WATER_BYTES,
                relay_mock::net::DEFAULT_STALL_TIMEOUT,
                relay_mock::net::DEFAULT_MAX_QUEUED_BYTES
            )
        );
        assert!(parse(&["--high-water", "-1"]).is_err());
        assert!(parse(&["--stall-timeout", "x"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--seed", "x"]).is_err());
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nonsense"]).is_err());
        assert_eq!(
            parse(&["--listen", "localhost:0"])
                .unwrap()
                .unwrap()
                .listen
                .port(),
            0
        );
        assert!(parse(&["--bogus"]).is_err());
    }
}
