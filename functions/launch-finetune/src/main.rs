use hubtune::runtime::batch::until_deadline;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    hubtune::runtime::telemetry::init();
    let ctx = hubtune::aws::context_from_env().await?;
    ctx.prime().await;
    let ctx = &ctx;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = until_deadline(event.context.deadline);
        launch_finetune::handle_until(ctx, event.payload, remaining)
            .await
            .map_err(Error::from)
    }))
    .await
}
