//! `hubtune enable-eventbridge`: an existing bucket's S3 → EventBridge delivery, its other notifications kept.

use std::process::ExitCode;

use aws_sdk_s3::types::{EventBridgeConfiguration, NotificationConfiguration};

use crate::commands::common::{aws, Res};

pub async fn enable_eventbridge(bucket: &str, endpoint: Option<&str>) -> Res {
    let aws = aws(endpoint).await;
    let current = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await?;
    if current.event_bridge_configuration.is_some() {
        println!("ok: s3://{bucket} already sends its events to EventBridge");
        return Ok(ExitCode::SUCCESS);
    }
    // PutBucketNotificationConfiguration replaces the whole set: write back what is there, plus EventBridge.
    let conf = NotificationConfiguration::builder()
        .set_topic_configurations(current.topic_configurations)
        .set_queue_configurations(current.queue_configurations)
        .set_lambda_function_configurations(current.lambda_function_configurations)
        .event_bridge_configuration(EventBridgeConfiguration::builder().build())
        .build();
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(conf)
        .send()
        .await?;
    println!("ok: s3://{bucket} now sends its events to EventBridge (its other notifications are unchanged)");
    Ok(ExitCode::SUCCESS)
}
