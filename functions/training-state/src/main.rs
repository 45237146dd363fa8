use hubtune::runtime::batch::until_deadline;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

// One thread: Lambda hands a function one event at a time, and worker threads would only cost a cold start
// their spawning and the memory of their stacks and allocator arenas.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    hubtune::runtime::telemetry::init();
    let ctx = hubtune::aws::context_from_env().await?;
    ctx.prime().await;
    let ctx = &ctx;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = until_deadline(event.context.deadline);
        training_state::handle_until(ctx, event.payload, remaining)
            .await
            .map_err(Error::from)
    }))
    .await
}
