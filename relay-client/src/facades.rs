//! `client.calling()` and `client.messaging()`.

use relay_proto::calling::{DialParams, DialResult};
use relay_proto::{CallId, MessageParams, SendResult};

use crate::call::Call;
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
    /// [`ClientError::DialFailed`] with the [`DialResult`].
    pub async fn dial(&self, params: DialParams) -> Result<Call, ClientError> {
        let result = self.dial_result(params).await?;
        match (&result.call_id, result.successful) {
            (Some(id), true) => Ok(Call::new(self.client.clone(), id.clone(), None)),
            _ => Err(ClientError::DialFailed(Box::new(result))),
        }
    }

    /// Dials out and resolves with the raw [`DialResult`], successful or not.
    pub async fn dial_result(&self, params: DialParams) -> Result<DialResult, ClientError> {
        let params = Box::new(params);
        self.client
            .ask(|reply| Command::Dial {
                params,
                cell: None,
                reply,
            })
            .await
    }

    /// A call that is not dialed yet (Node's `newCall`): its [`events`](Call::events) and
    /// state can be observed from before [`Call::dial`], which places it.
    pub fn new_call(&self, params: DialParams) -> Call {
        Call::unstarted(self.client.clone(), params)
    }

    /// A handle for a call known by id (no check is made until a command is issued).
    pub fn call(&self, id: CallId) -> Call {
        Call::new(self.client.clone(), id, None)
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
