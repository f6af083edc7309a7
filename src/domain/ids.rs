use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A person or organisation that writes to the business.
    ContactId,
    /// One handle/address of a contact on one network.
    IdentityId,
    /// A conversation (a case) in the shared inbox.
    ConversationId,
    /// A message, an agent reply or an internal note.
    MessageId,
    /// A staff account (agent, supervisor, admin, auditor).
    UserId,
    /// A team of agents.
    TeamId,
    /// A row of the outbox: one reply waiting to be delivered.
    OutboxId,
);
