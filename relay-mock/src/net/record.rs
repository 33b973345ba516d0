//! `--record DIR`: the run's transcript as JSONL (`shared/protocol/TRANSCRIPTS.md` format).
//!
//! The core already records every frame, socket open/close, control trigger and task request
//! (bounded; see [`crate::transcript`]). The file `DIR/relay-mock-<unix secs>-<pid>.jsonl` is
//! created when the server starts (so a bad directory fails early) and filled with
//! [`MockServer::transcript_jsonl`](crate::MockServer::transcript_jsonl) at shutdown. It holds
//! every connection of the run; `conn` numbers them 1, 2, ... in the order they opened.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The transcript file of one run.
#[derive(Debug)]
pub(crate) struct TranscriptWriter {
    file: File,
    path: PathBuf,
}

impl TranscriptWriter {
    /// Creates `dir` if needed and a new, empty transcript file in it.
    pub(crate) fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let path = dir.join(format!("relay-mock-{secs}-{}.jsonl", std::process::id()));
        let file = File::create(&path)?;
        Ok(Self { file, path })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Called after every input of the core.
    pub(crate) fn append(&mut self, _core: &crate::MockServer) {}

    /// Writes the whole transcript and syncs it.
    pub(crate) fn finish(mut self, core: &crate::MockServer) {
        let jsonl = core.transcript_jsonl();
        let result = self
            .file
            .write_all(jsonl.as_bytes())
            .and_then(|()| self.file.sync_all());
        match result {
            Ok(()) => tracing::info!(path = %self.path.display(), "transcript written"),
            Err(err) => {
                tracing::error!(path = %self.path.display(), %err, "cannot write transcript")
            }
        }
    }
}
