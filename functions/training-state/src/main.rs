use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    hubtune::runtime::telemetry::init();
    let ctx = hubtune::aws::context_from_env().await?;
    ctx.prime().await;
    let ctx = &ctx;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        training_state::handle(ctx, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
