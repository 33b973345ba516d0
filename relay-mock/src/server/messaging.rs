//! `messaging.send`, inbound messages and tasks.

use super::blade::{code, Exec};
use super::{MockServer, Outcome};

impl MockServer {
    pub(crate) fn on_messaging_send(&mut self, ex: &Exec, _outcome: Option<Outcome>) {
        self.reply_error(
            ex.conn,
            Some(&ex.id),
            code::METHOD_NOT_FOUND,
            "Method not found",
        );
    }
}
