//! Webhooks: a workspace's endpoints (`endpoints`), the events written in the same
//! transaction as the change they announce (`outbox`), and the delivery queue with its
//! log (`deliveries`).

pub mod deliveries;
pub mod endpoints;
pub mod outbox;
