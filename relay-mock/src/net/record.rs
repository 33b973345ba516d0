//! `--record DIR`: the run's transcript as JSONL (`shared/protocol/TRANSCRIPTS.md` format).
//!
//! The file `DIR/relay-mock-<unix secs>-<pid>.jsonl` is created when the server starts (so a bad
//! directory fails early) and streamed: after every input of the core the lines it recorded
//! since are appended (buffered), and the file is flushed and synced at shutdown. The core keeps
//! only its last [`MockConfig::record_limit`](crate::MockConfig::record_limit) lines in memory,
//! but the file gets every line of the run. `conn` numbers connections 1, 2, ... in the order
//! they opened.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::MockServer;

/// The transcript file of one run, written as the run goes.
#[derive(Debug)]
pub(crate) struct TranscriptWriter {
    file: BufWriter<File>,
    path: PathBuf,
    /// Sequence number of the next line to write.
    cursor: u64,
    /// Lines the core dropped before they could be written (only with a tiny record limit).
    missed: u64,
    failed: bool,
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
        let file = BufWriter::new(File::create(&path)?);
        Ok(Self {
            file,
            path,
            cursor: 0,
            missed: 0,
            failed: false,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the lines the core recorded since the last call.
    pub(crate) fn append(&mut self, core: &mut MockServer) {
        let dropped = core.transcript_dropped();
        if self.cursor < dropped {
            self.missed += dropped - self.cursor;
            self.cursor = dropped;
        }
        let lines = core.transcript();
        let skip = usize::try_from(self.cursor - dropped)
            .unwrap_or(usize::MAX)
            .min(lines.len());
        for line in &lines[skip..] {
            if self.failed {
                break;
            }
            let result = serde_json::to_writer(&mut self.file, &line.to_value())
                .map_err(std::io::Error::from)
                .and_then(|()| self.file.write_all(b"\n"));
            if let Err(err) = result {
                tracing::error!(path = %self.path.display(), %err, "cannot write transcript");
                self.failed = true;
            }
        }
        self.cursor = dropped + lines.len() as u64;
    }

    /// Writes what is left, flushes and syncs the file.
    pub(crate) fn finish(mut self, core: &mut MockServer) {
        self.append(core);
        if self.missed > 0 {
            tracing::warn!(
                missed = self.missed,
                "transcript lines dropped before they were written (record limit too small)"
            );
        }
        let result = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all());
        match result {
            Ok(()) if !self.failed => {
                tracing::info!(path = %self.path.display(), "transcript written")
            }
            Ok(()) => {}
            Err(err) => {
                tracing::error!(path = %self.path.display(), %err, "cannot write transcript")
            }
        }
    }
}
