//! Opening the WebSocket on async-std: `ws://` through async-tungstenite, `wss://` through
//! rustls (`ring` provider, Mozilla root store, certificates verified) with the default `tls`
//! feature.

use relay_client::{websocket_config, TransportError, TungsteniteTransport, WsLimits, WsTransport};

/// Bytes one socket read may take: every frame the server has sent so far in one `recv`,
/// instead of tungstenite's 4 KiB at a time.
const READ_BUFFER: usize = 64 * 1024;

/// The TCP stream, read through a [`READ_BUFFER`]-byte buffer (writes pass straight through).
type Tcp = futures_util::io::BufReader<async_std::net::TcpStream>;

/// Opens `url` (`ws://` or `wss://`) with the frame and message limits of `limits` and hands
/// back the driver's transport.
pub(crate) async fn open(
    url: &str,
    limits: WsLimits,
) -> Result<Box<dyn WsTransport>, TransportError> {
    let relay_client::WsTarget {
        request,
        secure,
        host,
        port,
        ..
    } = relay_client::ws_target(url)?;
    let config = websocket_config(limits);
    let tcp = async_std::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(TransportError::new)?;
    let tcp = Tcp::with_capacity(READ_BUFFER, tcp);
    if secure {
        let tls = tls::handshake(&host, tcp).await?;
        let (ws, _) = async_tungstenite::client_async_with_config(request, tls, Some(config))
            .await
            .map_err(TransportError::new)?;
        Ok(Box::new(TungsteniteTransport(ws)))
    } else {
        let (ws, _) = async_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .map_err(TransportError::new)?;
        Ok(Box::new(TungsteniteTransport(ws)))
    }
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::{Arc, OnceLock};

    use futures_rustls::client::TlsStream;
    use futures_rustls::rustls::{self, pki_types::ServerName};
    use relay_client::TransportError;

    /// One client configuration for the process: ring, safe protocol versions, Mozilla roots.
    fn config() -> Result<Arc<rustls::ClientConfig>, TransportError> {
        static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(TransportError::new)
    }

    /// The TLS handshake for `host`, verifying its certificate chain and name.
    pub(super) async fn handshake(
        host: &str,
        tcp: super::Tcp,
    ) -> Result<TlsStream<super::Tcp>, TransportError> {
        let name = ServerName::try_from(host.to_owned()).map_err(TransportError::new)?;
        futures_rustls::TlsConnector::from(config()?)
            .connect(name, tcp)
            .await
            .map_err(TransportError::new)
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use relay_client::TransportError;

    /// Without the `tls` feature a `wss://` URL is refused.
    pub(super) async fn handshake(
        _host: &str,
        _tcp: super::Tcp,
    ) -> Result<super::Tcp, TransportError> {
        Err(TransportError::new(
            "wss:// needs relay-async-std's `tls` feature",
        ))
    }
}
