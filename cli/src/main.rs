#![recursion_limit = "256"]

//! `hubtune`: plan, validate and inspect offline; run the whole pipeline locally; operate a deployment.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

#[derive(Parser)]
#[command(
    name = "hubtune",
    version,
    about = "Drop a dataset in S3, get a fine-tuned model back: SageMaker private-hub fine-tuning, event-driven."
)]
struct Cli {
    /// Talk to this endpoint instead of AWS (the local stack prints it). Also read from AWS_ENDPOINT_URL.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CreateTrainingJob request hubtune would send for a dataset, as JSON (no AWS call with --hub-content).
    Plan {
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: PathBuf,
        /// A DescribeHubContent response as `aws sagemaker describe-hub-content` prints it.
        #[arg(long)]
        hub_content: Option<PathBuf>,
        /// Plan from a local folder (checked like the launcher would) instead of a URI.
        #[arg(long)]
        dataset: Option<PathBuf>,
        /// The route (needed with --dataset; otherwise found from the URI).
        #[arg(long)]
        route: Option<String>,
        /// The dataset's S3 URI (its folder): the training channel.
        uri: Option<String>,
        /// Another input channel, NAME=URI (repeatable), as `fit({"training": URI, NAME: URI})`:
        /// `--channel validation=s3://bucket/datasets/support-bot/d1/validation/`.
        #[arg(long = "channel", value_name = "NAME=URI")]
        channels: Vec<String>,
    },
    /// Run the launcher's dataset checks on a local folder and list every problem with file and line.
    Validate {
        dir: PathBuf,
        #[arg(long)]
        route: String,
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: PathBuf,
    },
    /// Check a routes file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Say what the functions would do with each record of an input event (an SQS batch is unwrapped as they do):
    /// `launch: job …`, `ignored: s3 test event`, `rejected: marker_outside_folder (…)`, `reconcile: job …`,
    /// `failed: …`. Offline: the same decision the handlers dispatch on.
    Inspect {
        event: PathBuf,
        /// The routes file: needed to say what becomes of an object landing or a training job's state change.
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: Option<PathBuf>,
        /// The function that receives it (launch-finetune, training-state, publish-artifact); by default the one
        /// hubtune's wiring gives this kind of input to.
        #[arg(long)]
        function: Option<String>,
        /// Print JSON (one object per record: function, input, meaning with its `outcome`, says).
        #[arg(long)]
        json: bool,
    },
    /// Run the whole pipeline locally on the embedded stack with a shipped dataset, and show every step.
    Demo {
        /// Seconds a training job stays in progress.
        #[arg(long, default_value_t = 2.0)]
        train_seconds: f64,
    },
    /// Keep the local stack running (Ctrl-C stops it) and run the functions on what arrives.
    Local {
        #[arg(long, default_value_t = 5.0)]
        train_seconds: f64,
    },
    /// Upload a local folder as a dataset of a route (files first, then the marker).
    Upload {
        dir: PathBuf,
        #[arg(long)]
        route: String,
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: PathBuf,
        /// The dataset's folder name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// List runs from the run records.
    Status {
        #[arg(long)]
        route: Option<String>,
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: PathBuf,
    },
    /// Launch a dataset again on purpose (a new attempt, a new job name).
    Rerun {
        dataset_uri: String,
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: PathBuf,
    },
    /// Stop a training job; its run ends Stopped through the normal path.
    Stop { job: String },
    /// Replay the dead-letter queues into their queues.
    Redrive {
        /// Queue URLs as `DLQ_URL=QUEUE_URL`; default: the local stack's.
        #[arg(long = "pair")]
        pairs: Vec<String>,
    },
    /// Turn on S3 → EventBridge delivery for an existing bucket without replacing its other notification settings.
    EnableEventbridge {
        #[arg(long)]
        bucket: String,
    },
    /// Check a deployment before the first dataset: routes file, hub, model references, role, bucket notifications.
    Doctor {
        #[arg(long, env = "HUBTUNE_CONFIG")]
        config: String,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    Check { file: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        std::env::set_var(
            "HUBTUNE_LOG_FORMAT",
            std::env::var("HUBTUNE_LOG_FORMAT").unwrap_or_else(|_| "text".into()),
        );
        hubtune::runtime::telemetry::init();
    }
    let endpoint = cli.endpoint_url.clone();
    let result = match cli.command {
        Command::Plan {
            config,
            hub_content,
            dataset,
            route,
            uri,
            channels,
        } => {
            commands::plan(
                &config,
                hub_content.as_deref(),
                commands::PlanTarget {
                    dir: dataset.as_deref(),
                    route: route.as_deref(),
                    uri: uri.as_deref(),
                    channels: &channels,
                },
                endpoint.as_deref(),
            )
            .await
        }
        Command::Validate { dir, route, config } => commands::validate(&dir, &route, &config),
        Command::Config {
            action: ConfigAction::Check { file },
        } => commands::config_check(&file),
        Command::Inspect {
            event,
            config,
            function,
            json,
        } => commands::inspect(&event, config.as_deref(), function.as_deref(), json),
        Command::Demo { train_seconds } => commands::demo(train_seconds).await,
        Command::Local { train_seconds } => commands::local(train_seconds).await,
        Command::Upload {
            dir,
            route,
            config,
            name,
        } => commands::upload(&dir, &route, &config, name.as_deref(), endpoint.as_deref()).await,
        Command::Status { route, config } => {
            commands::status(route.as_deref(), &config, endpoint.as_deref()).await
        }
        Command::Rerun {
            dataset_uri,
            config,
        } => commands::rerun(&dataset_uri, &config, endpoint.as_deref()).await,
        Command::Stop { job } => commands::stop(&job, endpoint.as_deref()).await,
        Command::Redrive { pairs } => commands::redrive(&pairs, endpoint.as_deref()).await,
        Command::EnableEventbridge { bucket } => {
            commands::enable_eventbridge(&bucket, endpoint.as_deref()).await
        }
        Command::Doctor { config } => commands::doctor(&config, endpoint.as_deref()).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hubtune: {e}");
            ExitCode::from(2)
        }
    }
}
