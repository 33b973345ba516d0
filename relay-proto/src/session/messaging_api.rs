//! The session's side of messaging: sending a message.

use std::time::Instant;

use crate::error::Error;
use crate::ids::RequestId;
use crate::messaging::MessageParams;
use crate::session::core::PendingKind;
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
    ) -> Result<RequestId, Error> {
        let wire = params.to_wire()?;
        self.core.execute(
            now,
            Method::MessagingSend.as_str(),
            wire,
            PendingKind::MessagingSend,
        )
    }
}
