//! `client.calling()` and `client.messaging()`.

use relay_proto::calling::DialParams;
use relay_proto::{CallId, MessageParams, SendResult};

use crate::call::{Call, DialResult};
use crate::client::RelayClient;
use crate::driver::Command;
use crate::error::ClientError;

impl RelayClient {
    /// Calling commands.
    pub fn calling(&self) -> Calling {
        Calling {
            client: self.clone(),
        }
    }

    /// Messaging commands.
    pub fn messaging(&self) -> Messaging {
        Messaging {
            client: self.clone(),
        }
    }
}

/// The calling facade: `client.calling()`.
#[derive(Debug, Clone)]
pub struct Calling {
    client: RelayClient,
}

impl Calling {
    /// Dials out and resolves with the answered leg. A dial that ends without an answer is
    /// [`ClientError::DialFailed`] with the core's [`DialOutcome`](relay_proto::calling::DialOutcome); use
    /// [`dial_result`](Self::dial_result) to get Node's result instead.
    pub async fn dial(&self, params: DialParams) -> Result<Call, ClientError> {
        let result = self.dial_result(params).await?;
        match (&result.outcome.call_id, result.successful) {
            (Some(_), true) => Ok(result.call),
            _ => Err(ClientError::DialFailed(Box::new(result.outcome))),
        }
    }

    /// Dials out like Node's `client.calling.dial(params)`: resolves with the
    /// [`DialResult`] whose call is the dialed handle, successful or not (a busy or failed
    /// dial is `Ok` with `successful: false`). The same as
    /// [`new_call(params)`](Self::new_call) then [`Call::dial`].
    pub async fn dial_result(&self, params: DialParams) -> Result<DialResult, ClientError> {
        self.new_call(params).dial().await
    }

    /// A call that is not dialed yet (Node's `newCall`): its [`events`](Call::events) and
    /// state can be observed from before [`Call::dial`], which places it.
    pub fn new_call(&self, params: DialParams) -> Call {
        Call::unstarted(self.client.clone(), params)
    }

    /// A handle for a call known by id (no check is made until a command is issued). Its
    /// state and device are known from the call's next event on; [`get_call`](Self::get_call)
    /// has them at once.
    pub fn call(&self, id: CallId) -> Call {
        Call::new(self.client.clone(), id, None)
    }

    /// The call `id` if the client's registry has it (Node's `getCallById`), as a handle
    /// whose state, device and the rest are current; `None` for a call it does not know (or
    /// that ended and left it).
    pub async fn get_call(&self, id: CallId) -> Result<Option<Call>, ClientError> {
        let call = Call::new(self.client.clone(), id, None);
        // Asking the registry brings the handle's state up to date.
        Ok(call.info().await?.map(|_| call))
    }
}

/// The messaging facade: `client.messaging()`.
#[derive(Debug, Clone)]
pub struct Messaging {
    client: RelayClient,
}

impl Messaging {
    /// Sends a message (`messaging.send`) and resolves with the send result; the delivery
    /// states arrive later as [`Event::Message`](relay_proto::Event::Message) on the message's context.
    pub async fn send(&self, params: MessageParams) -> Result<SendResult, ClientError> {
        let params = Box::new(params);
        self.client
            .ask(|reply| Command::MessagingSend { params, reply })
            .await
    }
}
