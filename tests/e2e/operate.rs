//! The operator commands against a live local stack, as subprocesses: upload, status, rerun, stop, redrive,
//! doctor, enable-eventbridge, and `hubtune local` itself.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hubtune_e2e::{Env, Setup};

const T: Duration = Duration::from_secs(40);

fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hubtune_e2e::repo().join("target"));
    target.join("debug/hubtune")
}

struct Cli {
    endpoint: String,
    config: PathBuf,
}

impl Cli {
    fn new(env: &Env, name: &str) -> Cli {
        let dir =
            std::env::temp_dir().join(format!("hubtune-operate-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("hubtune.toml");
        std::fs::write(
            &config,
            hubtune_e2e::routes_toml(
                env.bucket(),
                "accept_eula = true\nmax_concurrent_jobs = 3\n",
            ),
        )
        .unwrap();
        Cli {
            endpoint: env.stack.info.endpoint.clone(),
            config,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(binary())
            .current_dir(hubtune_e2e::repo())
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("HUBTUNE_CONFIG", &self.config)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("hubtune runs")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn upload_status_rerun_and_stop() {
    let env = Env::start(Setup {
        in_progress_seconds: 0.5,
        ..Setup::default()
    })
    .await;
    let cli = Cli::new(&env, "ops");
    let o = cli.run(&[
        "upload",
        "examples/datasets/support-bot",
        "--route",
        "support-bot",
        "--name",
        "from-cli",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("_SUCCESS (the marker"), "{}", text(&o));
    let published = env.wait_for("Model Published", 1, T).await;
    let job = published[0]["detail"]["job_name"]
        .as_str()
        .unwrap()
        .to_string();

    let o = cli.run(&["status"]);
    assert!(o.status.success(), "{}", text(&o));
    let line = text(&o)
        .lines()
        .find(|l| l.contains(&job))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", text(&o)));
    assert!(
        line.contains("Completed") && line.contains("/from-cli/") && line.contains("model.tar.gz"),
        "{line}"
    );
    assert!(!text(&cli.run(&["status", "--route", "other"])).contains(&job));

    // A rerun is a new attempt: a new job for the same dataset.
    let uri = format!("s3://{}/datasets/support-bot/from-cli/", env.bucket());
    let o = cli.run(&["rerun", &uri]);
    assert!(o.status.success(), "{}", text(&o));
    let started = env.wait_for("Training Run Started", 2, T).await;
    let second = started
        .iter()
        .map(|e| e["detail"]["job_name"].as_str().unwrap().to_string())
        .find(|j| *j != job)
        .unwrap();
    assert_eq!(env.jobs().await.len(), 2);
    assert_eq!(
        env.record(&second).await.dataset.unwrap().identity.attempt,
        1
    );

    // Stopping a job ends its run Stopped through the normal path.
    env.stack
        .outcome("from-cli", "Completed", None)
        .await
        .unwrap();
    // The third job runs until it is stopped: on a loaded machine the stop could otherwise come after its end.
    env.stack
        .control(
            "POST",
            "/_hubtune/outcomes",
            &serde_json::json!({"match": "from-cli", "status": "Completed", "in_progress_seconds": 600}),
        )
        .await
        .unwrap();
    let o = cli.run(&["rerun", &uri]);
    assert!(o.status.success(), "{}", text(&o));
    let started = env.wait_for("Training Run Started", 3, T).await;
    let third = started.last().unwrap()["detail"]["job_name"]
        .as_str()
        .unwrap()
        .to_string();
    let o = cli.run(&["stop", &third]);
    assert!(o.status.success(), "{}", text(&o));
    let failed = env.wait_for("Fine-tune Failed", 1, T).await;
    assert_eq!(failed[0]["detail"]["status"], "Stopped");
    assert_eq!(failed[0]["detail"]["job_name"], third);

    // Error paths: exit 2 and a reason.
    let o = cli.run(&[
        "rerun",
        &format!("s3://{}/datasets/support-bot/never-seen/", env.bucket()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no run record names"), "{}", text(&o));
    let o = cli.run(&["stop", "hubtune-support-bot-0000000000000000"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    env.stop().await;
}

#[tokio::test]
async fn doctor_enable_eventbridge_and_redrive() {
    let env = Env::start(Setup::default()).await;
    let cli = Cli::new(&env, "doctor");
    // The training role does not exist yet: doctor names the fix.
    let o = cli.run(&["doctor", "--config", cli.config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "FIX   training role arn:aws:iam::123456789012:role/hubtune-training: no such role"
        ),
        "{}",
        text(&o)
    );
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .endpoint_url(&env.stack.info.endpoint)
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build(),
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("hubtune-training")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let o = cli.run(&["doctor", "--config", cli.config.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for line in [
        "ok    route support-bot: hub my-private-hub has meta-textgeneration-llama-3-2-1b 1.2.0",
        "ok    route support-bot: meta-textgeneration-llama-3-2-1b trains on ml.g5.2xlarge",
        "ok    route support-bot: EULA",
        "ok    training role arn:aws:iam::123456789012:role/hubtune-training",
        "ok    bucket hubtune-local sends its events to EventBridge",
        // moto has no ListServiceQuotas: the quota is reported as not checked, with why.
        "SKIP  route support-bot: training quota for ml.g5.2xlarge: servicequotas:ListServiceQuotas failed",
    ] {
        assert!(t.contains(line), "missing `{line}` in:\n{t}");
    }

    // Without the EULA accepted, doctor names the fix.
    std::fs::write(&cli.config, hubtune_e2e::routes_toml(env.bucket(), "")).unwrap();
    let o = cli.run(&["doctor", "--config", cli.config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("set accept_eula = true in [routes.support-bot]"),
        "{}",
        text(&o)
    );

    // Capacity fallback: every listed type is checked against the model, and its quota looked up.
    let types = "accept_eula = true\ninstance_types = [\"ml.g5.2xlarge\", \"ml.g5.4xlarge\", \"ml.p4d.24xlarge\"]";
    std::fs::write(&cli.config, hubtune_e2e::routes_toml(env.bucket(), types)).unwrap();
    let o = cli.run(&["doctor", "--config", cli.config.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for line in [
        "ok    route support-bot: meta-textgeneration-llama-3-2-1b trains on ml.g5.4xlarge",
        "FIX   route support-bot: training on ml.p4d.24xlarge:",
        "SKIP  route support-bot: training quota for ml.g5.4xlarge",
    ] {
        assert!(t.contains(line), "missing `{line}` in:\n{t}");
    }
    let o = cli.run(&["config", "check", cli.config.to_str().unwrap()]);
    assert!(
        text(&o).contains("ml.g5.2xlarge → ml.g5.4xlarge → ml.p4d.24xlarge"),
        "{}",
        text(&o)
    );

    // A bucket without EventBridge delivery gets it, keeping its other notification settings.
    env.aws
        .s3
        .create_bucket()
        .bucket("existing-bucket")
        .send()
        .await
        .unwrap();
    let q = env.stack.info.queue("ObserverQueue").arn.clone();
    let conf = aws_sdk_s3::types::NotificationConfiguration::builder()
        .queue_configurations(
            aws_sdk_s3::types::QueueConfiguration::builder()
                .queue_arn(&q)
                .events(aws_sdk_s3::types::Event::S3ObjectRemoved)
                .build()
                .unwrap(),
        )
        .build();
    env.aws
        .s3
        .put_bucket_notification_configuration()
        .bucket("existing-bucket")
        .notification_configuration(conf)
        .send()
        .await
        .unwrap();
    let o = cli.run(&["enable-eventbridge", "--bucket", "existing-bucket"]);
    assert!(o.status.success(), "{}", text(&o));
    let now = env
        .aws
        .s3
        .get_bucket_notification_configuration()
        .bucket("existing-bucket")
        .send()
        .await
        .unwrap();
    assert!(now.event_bridge_configuration.is_some());
    assert_eq!(
        now.queue_configurations().len(),
        1,
        "the queue notification is still there"
    );
    assert!(
        text(&cli.run(&["enable-eventbridge", "--bucket", "existing-bucket"])).contains("already")
    );

    // redrive: a message in a dead-letter queue goes back to its queue.
    let launch = env.stack.info.queue("LaunchQueue").clone();
    let dlq = launch.dlq_url.clone().expect("the launch queue has a DLQ");
    env.dispatcher
        .sqs
        .send_message()
        .queue_url(&dlq)
        .message_body("{\"replayed\": true}")
        .send()
        .await
        .unwrap();
    let o = cli.run(&["redrive", "--pair", &format!("{dlq}={}", launch.url)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 message(s) moved"), "{}", text(&o));
    assert!(env
        .peek("LaunchQueue")
        .await
        .iter()
        .any(|b| b.contains("replayed")));
    assert_eq!(env.dispatcher.dead_letters(&dlq).await.unwrap(), 0);
    let o = cli.run(&["redrive"]);
    assert_eq!(o.status.code(), Some(2));
    env.stop().await;
}

#[test]
fn local_runs_until_interrupted_and_leaves_nothing_running() {
    // Everything `hubtune local` starts inherits this mark: that is how its processes are found, and only its.
    let mark = hubtune_e2e::new_mark("local");
    let mut child = Command::new(binary())
        .current_dir(hubtune_e2e::repo())
        .args(["local", "--train-seconds", "0.3"])
        .env_remove("AWS_ENDPOINT_URL")
        .env(hubtune_e2e::MARK_VAR, &mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hubtune local starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut endpoint = None;
    let mut config = None;
    let start = Instant::now();
    while endpoint.is_none() || config.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "hubtune local printed no environment"
        );
        let line = lines.next().expect("output").unwrap();
        if let Some(rest) = line.strip_prefix("export AWS_ENDPOINT_URL=") {
            endpoint = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some(rest) = line.strip_prefix("export HUBTUNE_CONFIG=") {
            config = Some(rest.to_string());
        }
    }
    let (endpoint, config) = (endpoint.unwrap(), config.unwrap());
    // While it runs, its local stack is among its processes: the check at the end can see a leak.
    let running = hubtune_e2e::marked_processes(&mark);
    assert!(
        running
            .iter()
            .any(|(pid, cmd)| *pid != child.id() && cmd.contains("hubtune_localstack serve")),
        "the local stack is not among the processes of `hubtune local`: {running:?}"
    );
    let run = |args: &[&str]| {
        Command::new(binary())
            .current_dir(hubtune_e2e::repo())
            .args(args)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("HUBTUNE_CONFIG", &config)
            .output()
            .unwrap()
    };
    let o = run(&[
        "upload",
        "examples/datasets/support-bot",
        "--route",
        "support-bot",
        "--name",
        format!("live-{}", std::process::id()).as_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The running `hubtune local` launches, trains and publishes it.
    let mut seen = String::new();
    while !seen.contains("Model Published") {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no publication: {seen}"
        );
        seen.push_str(&lines.next().expect("output").unwrap());
        seen.push('\n');
    }
    let o = run(&["status"]);
    assert!(text(&o).contains("Completed"), "{}", text(&o));
    // Ctrl-C: everything stops.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if stopped.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("hubtune local did not stop within 15 s of Ctrl-C");
        }
        // Polling the child's exit (the deadline above).
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let left = hubtune_e2e::marked_processes(&mark);
    assert!(left.is_empty(), "`hubtune local` left running: {left:?}");
    let port = endpoint.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the stack still listens on {port}"
    );
}
