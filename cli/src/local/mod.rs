//! The embedded local stack and its dispatcher.

mod dispatch;
mod stack;

pub use dispatch::{sqs_client, Delivery, Dispatcher, FunctionName};
pub use stack::{QueueInfo, Stack, StackInfo, StackOptions};
