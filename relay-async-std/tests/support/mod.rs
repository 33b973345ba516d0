//! relay-mock (a tokio server) on its own thread, for tests written on async-std.

use relay_mock::{net, MockConfig};

/// A running relay-mock; dropping it shuts the server down.
pub struct Mock {
    /// `ws://127.0.0.1:<port>`.
    pub ws_url: String,
    /// `http://127.0.0.1:<port>` (control API and task endpoint).
    pub http_base: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    /// Starts relay-mock with the default config on a fresh tokio runtime thread.
    pub fn start() -> Mock {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("tokio runtime for the mock");
            rt.block_on(async move {
                let server = net::start(MockConfig::default())
                    .await
                    .expect("mock starts");
                addr_tx
                    .send((server.ws_url(), server.http_base()))
                    .expect("test alive");
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let (ws_url, http_base) = addr_rx.recv().expect("mock address");
        Mock {
            ws_url,
            http_base,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
