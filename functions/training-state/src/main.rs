#![recursion_limit = "256"]

use hubtune::context::Context;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    hubtune::telemetry::init();
    let ctx = Context::from_env().await?;
    ctx.prime().await;
    let ctx = &ctx;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        training_state::handle(ctx, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
