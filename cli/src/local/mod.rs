//! The embedded local stack and its dispatcher.

mod dispatch;
mod stack;

pub use dispatch::{scheduled_event, sqs_client, Delivery, Dispatcher, FunctionName, SWEEP_RULE};
pub use stack::{QueueInfo, ScheduleInfo, Stack, StackInfo, StackOptions};
