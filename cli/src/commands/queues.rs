//! `hubtune redrive`: the dead-letter queues' messages back into their queues.

use std::process::ExitCode;

use crate::commands::common::Res;

pub async fn redrive(pairs: &[String], endpoint: Option<&str>) -> Res {
    if pairs.is_empty() {
        return Err("give --pair DLQ_URL=QUEUE_URL for each dead-letter queue to replay (the stack's outputs list them)".into());
    }
    let sqs = match endpoint {
        Some(e) => hubtune_cli::local::sqs_client(e, "us-east-1"),
        None => aws_sdk_sqs::Client::new(
            &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        ),
    };
    for p in pairs {
        let (dlq, queue) = p
            .split_once('=')
            .ok_or_else(|| format!("`{p}` is not DLQ_URL=QUEUE_URL"))?;
        let moved = move_all(&sqs, dlq, queue).await?;
        println!("{moved} message(s) moved from {dlq} back to {queue}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Every message of `dlq` sent to `queue`, then deleted from `dlq`. Returns how many moved.
async fn move_all(
    sqs: &aws_sdk_sqs::Client,
    dlq: &str,
    queue: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut moved = 0;
    loop {
        let msgs = sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .send()
            .await?
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            return Ok(moved);
        }
        for m in msgs {
            sqs.send_message()
                .queue_url(queue)
                .set_message_body(m.body)
                .send()
                .await?;
            sqs.delete_message()
                .queue_url(dlq)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await?;
            moved += 1;
        }
    }
}
