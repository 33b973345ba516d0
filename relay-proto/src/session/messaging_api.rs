//! The session's side of messaging: sending a message.

use std::time::Instant;

use crate::error::CommandError;
use crate::ids::RequestId;
use crate::messaging::MessageParams;
use crate::session::plumbing::{Params, PendingKind};
use crate::session::Session;
use crate::wire::Method;

impl Session {
    /// Sends a message (`messaging.send`). The outcome arrives as
    /// [`Event::MessageSent`](crate::Event::MessageSent); state changes as
    /// [`Event::Message`](crate::Event::Message) on the message's context.
    pub fn messaging_send(
        &mut self,
        now: Instant,
        params: &MessageParams,
    ) -> Result<RequestId, CommandError> {
        let wire = params.to_wire()?;
        self.send_execute(
            now,
            Method::MessagingSend.as_str(),
            Params::Tree(&wire),
            PendingKind::MessagingSend,
        )
    }
}
