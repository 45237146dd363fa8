// The cases of issue 12 (item 6 and the config findings): what the routes file's parser, and so `hubtune config
// check`, must refuse because AWS would, what it must accept because AWS does, and what only the whole request
// (`hubtune plan`, the launcher) can see. One table, read by the core's unit test (config::check_tests) and by
// the CLI's (cli/tests/config_check.rs, through feature `test-util`), so the two can never cover different cases.

/// What a check says: the routes file is accepted, or refused naming `path` (the routes-file key; empty when the
/// refusal is the whole request's, which names API fields) with a message containing `says`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Accepted,
    Refused {
        path: &'static str,
        says: &'static str,
    },
}

pub struct Case {
    pub name: &'static str,
    /// Lines added to `[deployment]`.
    pub deployment: String,
    /// Lines added to `[defaults]`.
    pub defaults: String,
    /// The lines of `[routes.a]` (with `prefix = "datasets/a/"` unless they set a prefix).
    pub route: String,
    /// What parsing the file (`hubtune config check`) says.
    pub check: Expect,
    /// What planning a dataset of route `a` says (with the example model reference, whose document's variant adds
    /// `doc_environment`); a file the check refuses is refused by the plan with the same message.
    pub plan: Expect,
    pub doc_environment: &'static [(&'static str, &'static str)],
    /// Members of the planned request when it is accepted (JSON pointer, value): where a location is normalised.
    pub request: &'static [(&'static str, &'static str)],
}

/// The bucket every case deploys to.
pub const BUCKET: &str = "acme-ml-datasets";
/// Route `a`'s jobs are `hubtune-a-<16 hex>`: 26 characters, the length that the output and state keys add.
pub const JOB_NAME_LEN: usize = 26;
/// The tags hubtune puts on every job (plan.rs: model id, version, hub content ARN, route, dataset, deployment).
pub const HUBTUNE_TAGS: usize = 6;
/// The dataset a case's plan is for.
pub const DATASET: &str = "s3://acme-ml-datasets/datasets/a/2026-12-04/";

/// The routes file of a case: route `a` (the case's) and route `b`, beside it.
pub fn routes_file(c: &Case) -> String {
    let prefix = if c.route.lines().any(|l| l.starts_with("prefix")) {
        ""
    } else {
        "prefix = \"datasets/a/\"\n"
    };
    format!(
        "[deployment]\nbucket = \"{BUCKET}\"\n{}\n\n[defaults]\nhub = \"my-private-hub\"\n\
         role_arn = \"arn:aws:iam::111122223333:role/SageMakerExecutionRole\"\n\
         model_id = \"meta-textgeneration-llama-3-2-1b\"\naccept_eula = true\n{}\n\n\
         [routes.a]\n{prefix}{}\n\n[routes.b]\nprefix = \"datasets/b/\"\n",
        c.deployment, c.defaults, c.route
    )
}

/// The example DescribeHubContent response (`base`), its document's g5 variant given `env`.
pub fn hub_content(base: &str, env: &[(&str, &str)]) -> String {
    let mut v: serde_json::Value = serde_json::from_str(base).expect("the example is JSON");
    let mut doc: serde_json::Value =
        serde_json::from_str(v["HubContentDocument"].as_str().expect("a document"))
            .expect("the document is JSON");
    let vars: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    doc["TrainingInstanceTypeVariants"]["Variants"]["g5"]["Properties"]["EnvironmentVariables"] =
        serde_json::Value::Object(vars);
    v["HubContentDocument"] = serde_json::json!(doc.to_string());
    v.to_string()
}

fn inline_table(n: usize, key: impl Fn(usize) -> String, value: &str) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| format!("\"{}\" = \"{value}\"", key(i)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

fn list(n: usize, item: impl Fn(usize) -> String) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("\"{}\"", item(i))).collect();
    format!("[{}]", items.join(", "))
}

/// An output path in the bucket whose key is `key_len` bytes of `unit` (ASCII or not).
fn output_path(key_len: usize, unit: char) -> String {
    let n = (key_len - "out/".len() - 1) / unit.len_utf8();
    format!(
        "output_path = \"s3://{BUCKET}/out/{}/\"",
        unit.to_string().repeat(n)
    )
}

/// A state prefix whose key is `key_len` bytes.
fn state_prefix(key_len: usize) -> String {
    format!(
        "state_prefix = \"st/{}/\"",
        "s".repeat(key_len - "st/".len() - 1)
    )
}

fn refused(path: &'static str, says: &'static str) -> Expect {
    Expect::Refused { path, says }
}

fn case(name: &'static str, route: impl Into<String>, check: Expect) -> Case {
    Case {
        name,
        deployment: String::new(),
        defaults: String::new(),
        route: route.into(),
        check,
        // What the check refuses, the plan refuses (it parses the same file); what it accepts, the plan does.
        plan: check,
        doc_environment: &[],
        request: &[],
    }
}

fn deployment(name: &'static str, lines: impl Into<String>, check: Expect) -> Case {
    Case {
        deployment: lines.into(),
        ..case(name, "", check)
    }
}

const PATTERN: &str = "must match the pattern";

pub fn cases() -> Vec<Case> {
    let mut all = refused_cases();
    all.extend(line_terminators());
    all.extend(key_lengths());
    all.extend(accepted_cases());
    all.extend(whole_request_cases());
    all.extend(guardrail_cases());
    all.extend(trigger_cases());
    all.extend(price_cases());
    all.extend(budget_cases());
    all.extend(registry_cases());
    all
}

/// Each rule of AWS's that a route's field can break, broken once.
fn refused_cases() -> Vec<Case> {
    vec![
        case("environment key not an identifier", "environment = { \"1BAD\" = \"x\" }", refused("routes.a.environment.1BAD", PATTERN)),
        case("environment key with a dash", "environment = { \"MY-VAR\" = \"x\" }", refused("routes.a.environment.MY-VAR", PATTERN)),
        case("environment key over 512", format!("environment = {{ \"{}\" = \"x\" }}", "K".repeat(513)), refused("routes.a.environment", "at most 512 characters")),
        case("environment value over 512", format!("environment = {{ K = \"{}\" }}", "v".repeat(513)), refused("routes.a.environment.K", "at most 512 characters")),
        case("more than 100 environment entries", format!("environment = {}", inline_table(101, |i| format!("K{i}"), "v")), refused("routes.a.environment", "at most 100 entries")),
        Case {
            defaults: format!("environment = {}", inline_table(60, |i| format!("D{i}"), "v")),
            ..case("more than 100 environment entries once [defaults] are merged", format!("environment = {}", inline_table(41, |i| format!("R{i}"), "v")), refused("routes.a.environment", "at most 100 entries"))
        },
        case("role ARN account not 12 digits", "role_arn = \"arn:aws:iam::12345:role/r\"", refused("routes.a.role_arn", PATTERN)),
        case("role ARN with a space", "role_arn = \"arn:aws:iam::111122223333:role/with space\"", refused("routes.a.role_arn", PATTERN)),
        case("role ARN of another service", "role_arn = \"arn:aws:s3:::bucket/role/r\"", refused("routes.a.role_arn", PATTERN)),
        case("more than 16 subnets", format!("vpc = {{ subnets = {}, security_group_ids = [\"sg-1\"] }}", list(17, |i| format!("subnet-{i}"))), refused("routes.a.vpc.subnets", "at most 16 items")),
        case("more than 5 security groups", format!("vpc = {{ subnets = [\"subnet-1\"], security_group_ids = {} }}", list(6, |i| format!("sg-{i}"))), refused("routes.a.vpc.security_group_ids", "at most 5 items")),
        case("malformed subnet id", "vpc = { subnets = [\"subnet_bad!\"], security_group_ids = [\"sg-1\"] }", refused("routes.a.vpc.subnets", PATTERN)),
        case("malformed security group id", "vpc = { subnets = [\"subnet-1\"], security_group_ids = [\"sg 1\"] }", refused("routes.a.vpc.security_group_ids", PATTERN)),
        case("a VPC without subnets", "vpc = { subnets = [], security_group_ids = [\"sg-1\"] }", refused("routes.a.vpc.subnets", "at least 1 items")),
        case("KMS key id with a space", "kms_key_id = \"alias/my key\"", refused("routes.a.kms_key_id", PATTERN)),
        case("KMS key id over 2,048", format!("kms_key_id = \"{}\"", "k".repeat(2049)), refused("routes.a.kms_key_id", "at most 2048 characters")),
        case("volume KMS key on local NVMe storage", "instance_type = \"ml.trn2.48xlarge\"\nkms_key_id = \"alias/k\"", refused("routes.a.kms_key_id", "local storage only")),
        case("tag key AWS:", "tags = { \"AWS:owner\" = \"x\" }", refused("routes.a.tags.AWS:owner", "reserved")),
        case("tag key Aws:", "tags = { \"Aws:owner\" = \"x\" }", refused("routes.a.tags.Aws:owner", "reserved")),
        case("tag key with a character outside the pattern", "tags = { \"team!\" = \"x\" }", refused("routes.a.tags.team!", PATTERN)),
        case("more than 50 tags with hubtune's own", format!("tags = {}", inline_table(51 - HUBTUNE_TAGS, |i| format!("t{i}"), "v")), refused("routes.a.tags", "at most 50 items")),
        case("instance type SageMaker does not know", "instance_type = \"ml.g5.huge\"", refused("routes.a.instance_type", "values SageMaker knows")),
        case("instance_type and instance_types both", "instance_type = \"ml.g5.2xlarge\"\ninstance_types = [\"ml.g5.4xlarge\"]", refused("routes.a.instance_types", "not both")),
        case("an empty instance type list", "instance_types = []", refused("routes.a.instance_types", "must list 1 to 8")),
        case("an instance type listed twice", "instance_types = [\"ml.g5.2xlarge\", \"ml.g5.2xlarge\"]", refused("routes.a.instance_types[1]", "listed twice")),
        case("a fallback type SageMaker does not know", "instance_types = [\"ml.g5.2xlarge\", \"ml.g5.huge\"]", refused("routes.a.instance_types[1]", "values SageMaker knows")),
        case("max runtime over 28 days", "max_runtime_seconds = 2419201", refused("routes.a.max_runtime_seconds", "28 days")),
        case("hyperparameter name over 256", format!("hyperparameters = {{ {} = 1 }}", "h".repeat(257)), refused("routes.a.hyperparameters", "at most 256 characters")),
        case("an https URL that is not an S3 endpoint", "output_path = \"https://example.com/acme-ml-datasets/out/\"", refused("routes.a.output_path", "S3 endpoint")),
        case("output path under another route's dataset prefix", "output_path = \"s3://acme-ml-datasets/datasets/b/out/\"", refused("routes.a.output_path", "routes.b.prefix")),
        case("output path holding another route's dataset prefix", "output_path = \"s3://acme-ml-datasets/datasets/\"", refused("routes.a.output_path", "overlaps")),
        case("checkpoint path under the route's dataset prefix", "max_runtime_seconds = 86400\nspot = { max_wait_seconds = 172800, checkpoint_path = \"s3://acme-ml-datasets/datasets/a/ckpt/\" }", refused("routes.a.spot.checkpoint_path", "the route's dataset prefix")),
        case("checkpoint path under another route's dataset prefix", "max_runtime_seconds = 86400\nspot = { max_wait_seconds = 172800, checkpoint_path = \"s3://acme-ml-datasets/datasets/b/ckpt/\" }", refused("routes.a.spot.checkpoint_path", "routes.b.prefix")),
        deployment("output prefix at the bucket root, as /", "output_prefix = \"/\"", refused("deployment.output_prefix", "bucket root")),
        deployment("output prefix at the bucket root, as s3://bucket//", "output_prefix = \"s3://acme-ml-datasets//\"", refused("deployment.output_prefix", "bucket root")),
        deployment("state prefix at the bucket root", "state_prefix = \"/\"", refused("deployment.state_prefix", "bucket root")),
        deployment("event bus name empty", "event_bus = \"\"", refused("deployment.event_bus", "at least 1 characters")),
        deployment("event bus name with a space", "event_bus = \"my bus\"", refused("deployment.event_bus", PATTERN)),
        deployment("event bus name not ASCII", "event_bus = \"bus\u{e9}\"", refused("deployment.event_bus", PATTERN)),
        deployment("event bus name over 1,600", format!("event_bus = \"{}\"", "b".repeat(1601)), refused("deployment.event_bus", "at most 1600 characters")),
    ]
}

/// A line terminator (Java's `.` matches none) in the dataset prefix, the output path or the checkpoint path.
fn line_terminators() -> Vec<Case> {
    let mut out = Vec::new();
    for (name, t) in [
        ("\\n", "\\n"),
        ("\\r", "\\r"),
        ("U+0085", "\\u0085"),
        ("U+2028", "\\u2028"),
        ("U+2029", "\\u2029"),
    ] {
        let n = |what: &str| -> &'static str {
            Box::leak(format!("{what} with {name}").into_boxed_str())
        };
        out.push(case(
            n("dataset prefix"),
            format!("prefix = \"datasets/a{t}x/\""),
            refused("routes.a.prefix", PATTERN),
        ));
        out.push(case(
            n("output path"),
            format!("output_path = \"s3://acme-ml-datasets/out{t}put/\""),
            refused("routes.a.output_path", PATTERN),
        ));
        out.push(case(n("checkpoint path"), format!("max_runtime_seconds = 86400\nspot = {{ max_wait_seconds = 172800, checkpoint_path = \"s3://acme-ml-datasets/ck{t}pt/\" }}"), refused("routes.a.spot.checkpoint_path", PATTERN)));
    }
    out
}

/// S3's 1,024 bytes (UTF-8) for the keys a job and a run write, at the edge: one byte over is refused, the last
/// byte that fits is accepted (in `accepted_cases`).
fn key_lengths() -> Vec<Case> {
    let model_room = 1024 - JOB_NAME_LEN - "/output/model.tar.gz".len();
    let manifest_room = 1024 - JOB_NAME_LEN - "/hubtune-manifest.json".len();
    // The longest state key of a run: the manifest of the default `validation` channel.
    let state_room = 1024 - JOB_NAME_LEN - "manifests/.validation.json".len();
    vec![
        case(
            "output path whose model key is over 1,024 bytes",
            output_path(model_room + 1, 'p'),
            refused("routes.a.output_path", "the model's key"),
        ),
        case(
            "output path whose manifest beside the model is over 1,024 bytes",
            output_path(manifest_room + 1, 'p'),
            refused(
                "routes.a.output_path",
                "hubtune's manifest beside the model",
            ),
        ),
        case(
            "output path over 1,024 bytes in two-byte characters, under 1,024 UTF-16",
            output_path(manifest_room + 2, '\u{e9}'),
            refused("routes.a.output_path", "bytes (UTF-8)"),
        ),
        deployment(
            "state prefix whose validation manifest key is over 1,024 bytes",
            state_prefix(state_room + 1),
            refused(
                "deployment.state_prefix",
                "the validation channel's manifest key",
            ),
        ),
    ]
}

/// What AWS accepts, accepted (and a location given as an S3 https URL planned as its s3:// form).
fn accepted_cases() -> Vec<Case> {
    let manifest_room = 1024 - JOB_NAME_LEN - "/hubtune-manifest.json".len();
    // The longest state key of a run: the manifest of the default `validation` channel.
    let state_room = 1024 - JOB_NAME_LEN - "manifests/.validation.json".len();
    vec![
        case("tags in any script", "tags = { \"\u{e9}quipe\" = \"\u{3a9}mega 42\", \"aws-team\" = \"x\" }", Expect::Accepted),
        case("50 tags with hubtune's own", format!("tags = {}", inline_table(50 - HUBTUNE_TAGS, |i| format!("t{i}"), "v")), Expect::Accepted),
        case("exactly 100 environment entries of 512 characters", format!("environment = {{ {}, \"{}\" = \"x\" }}", (0..99).map(|i| format!("K{i} = \"{}\"", "v".repeat(512))).collect::<Vec<_>>().join(", "), "K".repeat(512)), Expect::Accepted),
        case("16 subnets and 5 security groups", format!("vpc = {{ subnets = {}, security_group_ids = {} }}", list(16, |i| format!("subnet-{i}")), list(5, |i| format!("sg-{i}"))), Expect::Accepted),
        case("a KMS key on local storage goes to the output only", "instance_type = \"ml.g5.2xlarge\"\nkms_key_id = \"arn:aws:kms:us-east-1:111122223333:key/k\"", Expect::Accepted),
        case("a role ARN of another partition, with a path", "role_arn = \"arn:aws-cn:iam::111122223333:role/service/r+=,.@-_\"", Expect::Accepted),
        case("instance count above 64", "instance_count = 100", Expect::Accepted),
        case("max runtime of exactly 28 days", "max_runtime_seconds = 2419200", Expect::Accepted),
        case("output path whose manifest key is exactly 1,024 bytes", output_path(manifest_room, 'p'), Expect::Accepted),
        case("output path in two-byte characters within 1,024 bytes", output_path(manifest_room - 1, '\u{e9}'), Expect::Accepted),
        case("output path at the root of another bucket", "output_path = \"s3://acme-ml-outputs\"", Expect::Accepted),
        deployment("state prefix whose longest run key (the validation manifest) is exactly 1,024 bytes", state_prefix(state_room), Expect::Accepted),
        deployment("an event bus ARN", "event_bus = \"arn:aws:events:us-east-1:111122223333:event-bus/hubtune\"", Expect::Accepted),
        Case {
            request: &[("/OutputDataConfig/S3OutputPath", "s3://acme-ml-datasets/out/put/")],
            ..case("https output path, virtual-hosted", "output_path = \"https://acme-ml-datasets.s3.us-east-1.amazonaws.com/out/put/\"", Expect::Accepted)
        },
        Case {
            request: &[("/CheckpointConfig/S3Uri", "s3://acme-ml-datasets/ck pt/a/")],
            ..case("https checkpoint path, path-style and percent-encoded", "max_runtime_seconds = 86400\nspot = { max_wait_seconds = 172800, checkpoint_path = \"https://s3.amazonaws.com/acme-ml-datasets/ck%20pt/a\" }", Expect::Accepted)
        },
        Case {
            request: &[("/InputDataConfig/0/DataSource/S3DataSource/S3Uri", DATASET)],
            ..case("https dataset prefix", "prefix = \"https://acme-ml-datasets.s3.amazonaws.com/datasets/a/\"", Expect::Accepted)
        },
    ]
}

/// What the hub document adds, which only the whole request shows: the check accepts, the plan refuses.
fn whole_request_cases() -> Vec<Case> {
    vec![
        Case {
            doc_environment: &[("FROM_THE_DOCUMENT", "1")],
            plan: refused("", "at most 100 entries"),
            ..case(
                "100 environment entries and one from the document",
                format!(
                    "environment = {}",
                    inline_table(100, |i| format!("K{i}"), "v")
                ),
                Expect::Accepted,
            )
        },
        Case {
            doc_environment: &[("1BAD", "1")],
            plan: refused("", PATTERN),
            ..case(
                "an environment key of the document's that AWS refuses",
                "",
                Expect::Accepted,
            )
        },
    ]
}

/// A route with `route` lines in a deployment with the guardrail `lines` (issue 13 item 2): what IAM would refuse
/// with AccessDenied after an upload, the check refuses first, naming the route's key.
fn guarded(name: &'static str, lines: &str, route: &str, check: Expect) -> Case {
    Case {
        deployment: lines.into(),
        ..case(name, route, check)
    }
}

const VPC: &str = "vpc = { subnets = [\"subnet-1\"], security_group_ids = [\"sg-1\"] }";

fn guardrail_cases() -> Vec<Case> {
    let types = "allowed_instance_types = [\"ml.g5.2xlarge\", \"ml.g5.4xlarge\"]";
    let cap = "max_runtime_cap_seconds = 3600";
    let tags = "allowed_tag_keys = [\"team\"]";
    let subnets = "required_subnets = [\"subnet-1\", \"subnet-2\"]";
    #[rustfmt::skip]
    let all = vec![
        guarded("an instance type outside the guardrail", types, "instance_type = \"ml.p4d.24xlarge\"", refused("routes.a.instance_type", "allowed_instance_types")),
        guarded("an instance type inside the guardrail", types, "instance_type = \"ml.g5.4xlarge\"", Expect::Accepted),
        guarded("a fallback type outside the guardrail", types, "instance_types = [\"ml.g5.2xlarge\", \"ml.p4d.24xlarge\"]", refused("routes.a.instance_types[1]", "allowed_instance_types")),
        guarded("fallback types inside the guardrail", types, "instance_types = [\"ml.g5.2xlarge\", \"ml.g5.4xlarge\"]", Expect::Accepted),
        guarded("a runtime above the guardrail's cap", cap, "max_runtime_seconds = 3601", refused("routes.a.max_runtime_seconds", "max_runtime_cap_seconds 3600")),
        guarded("a runtime at the guardrail's cap", cap, "max_runtime_seconds = 3600", Expect::Accepted),
        guarded("a guardrail cap of zero", "max_runtime_cap_seconds = 0", "", refused("deployment.max_runtime_cap_seconds", "must be 1")),
        guarded("a tag key outside the guardrail", tags, "tags = { team = \"x\", owner = \"y\" }", refused("routes.a.tags", "`owner` is not among")),
        guarded("a tag key inside the guardrail", tags, "tags = { team = \"x\" }", Expect::Accepted),
        guarded("any tag when the guardrail allows none", "allowed_tag_keys = []", "tags = { team = \"x\" }", refused("routes.a.tags", "allowed_tag_keys")),
        guarded("no VPC where the guardrail requires subnets", subnets, "", refused("routes.a.vpc", "requires a [vpc] table")),
        guarded("a subnet outside the guardrail", subnets, "vpc = { subnets = [\"subnet-1\", \"subnet-9\"], security_group_ids = [\"sg-1\"] }", refused("routes.a.vpc.subnets", "`subnet-9` is not among")),
        Case {
            defaults: VPC.into(),
            ..guarded("subnets inside the guardrail", subnets, "", Expect::Accepted)
        },
        guarded("a guardrail that is not a list", "allowed_instance_types = \"ml.g5.2xlarge\"", "", refused("deployment.allowed_instance_types", "")),
    ];
    all
}

/// Issue 13 item 5: a route's `marker` or `trigger` the deployment's S3 rule does not deliver is refused (offline,
/// the rule is the template's default: keys ending in `_SUCCESS`), naming the template parameter to change.
fn trigger_cases() -> Vec<Case> {
    vec![
        case(
            "a marker the template's default rule never delivers",
            "marker = \"_DONE\"",
            refused("routes.a.marker", "MarkerSuffix"),
        ),
        case(
            "an object trigger under the template's default rule",
            "trigger = \"object\"",
            refused("routes.a.trigger", "MarkerSuffix to empty"),
        ),
        case(
            "the default marker, spelt out",
            "marker = \"_SUCCESS\"",
            Expect::Accepted,
        ),
    ]
}

/// Issue 14 item 2: `hourly_price_usd`, the price an estimated cost is computed from, is a finite number >= 0.
fn price_cases() -> Vec<Case> {
    const KEY: &str = "routes.a.hourly_price_usd";
    #[rustfmt::skip]
    let all = vec![
        case("an hourly price", "hourly_price_usd = 1.212", Expect::Accepted),
        case("an hourly price given as an integer", "hourly_price_usd = 2", Expect::Accepted),
        case("an hourly price of zero", "hourly_price_usd = 0.0", Expect::Accepted),
        case("a negative hourly price", "hourly_price_usd = -0.5", refused(KEY, "must be >= 0")),
        case("an hourly price of nan", "hourly_price_usd = nan", refused(KEY, "finite number")),
        case("an infinite hourly price", "hourly_price_usd = inf", refused(KEY, "finite number")),
        case("an hourly price as a string", "hourly_price_usd = \"1.2\"", refused(KEY, "")),
        Case {
            defaults: "hourly_price_usd = -inf".into(),
            ..case("an infinite hourly price inherited from [defaults]", "", refused(KEY, "finite number"))
        },
    ];
    all
}

/// Issue 14 item 5: a route's daily spend cap is a positive integer of jobs and a positive, finite number of hours,
/// and one job's reservation must fit the hours.
fn budget_cases() -> Vec<Case> {
    let hours = "routes.a.max_training_hours_per_day";
    #[rustfmt::skip]
    let all = vec![
        case("a daily job cap", "max_jobs_per_day = 3", Expect::Accepted),
        case("a daily job cap of zero", "max_jobs_per_day = 0", refused("routes.a.max_jobs_per_day", "out of range")),
        case("a negative daily job cap", "max_jobs_per_day = -1", refused("routes.a.max_jobs_per_day", "out of range")),
        case("a daily job cap that is not an integer", "max_jobs_per_day = 1.5", refused("routes.a.max_jobs_per_day", "")),
        case("a daily hours cap in whole hours", "max_training_hours_per_day = 48", Expect::Accepted),
        case("a daily hours cap in fractions", "max_training_hours_per_day = 2.5\nmax_runtime_seconds = 9000", Expect::Accepted),
        case("a daily hours cap of zero", "max_training_hours_per_day = 0", refused(hours, "positive, finite")),
        case("a negative daily hours cap", "max_training_hours_per_day = -2.0", refused(hours, "positive, finite")),
        case("an infinite daily hours cap", "max_training_hours_per_day = inf", refused(hours, "positive, finite")),
        case("a daily hours cap that is not a number", "max_training_hours_per_day = \"10h\"", refused(hours, "must be a number of hours")),
        case("a daily hours cap below one job's reservation", "max_training_hours_per_day = 1\nmax_runtime_seconds = 7200", refused(hours, "below what one job reserves")),
        case("one job's reservation across instances", "max_training_hours_per_day = 3\nmax_runtime_seconds = 3600\ninstance_count = 4", refused(hours, "4 instance(s)")),
    ];
    all
}

/// Issue 14 item 4: `model_package_group` (CreateModelPackage's `ModelPackageGroupName`: a name or a group's ARN)
/// and `model_approval_status` (the model's enum), which needs a group.
fn registry_cases() -> Vec<Case> {
    const GROUP: &str = "routes.a.model_package_group";
    const STATUS: &str = "routes.a.model_approval_status";
    #[rustfmt::skip]
    let all = vec![
        case("a model package group", "model_package_group = \"support-bot\"", Expect::Accepted),
        case(
            "a model package group by ARN",
            "model_package_group = \"arn:aws:sagemaker:us-east-1:111122223333:model-package-group/support-bot\"",
            Expect::Accepted,
        ),
        case(
            "a group and an approval status",
            "model_package_group = \"g\"\nmodel_approval_status = \"Approved\"",
            Expect::Accepted,
        ),
        case("a group name with an underscore", "model_package_group = \"support_bot\"", refused(GROUP, PATTERN)),
        case("a group name ending in -", "model_package_group = \"support-\"", refused(GROUP, PATTERN)),
        case("a group name of 64 characters", format!("model_package_group = \"{}\"", "g".repeat(64)), refused(GROUP, PATTERN)),
        case("an empty group name", "model_package_group = \"\"", refused(GROUP, "")),
        case(
            "an approval status that is not the model's",
            "model_package_group = \"g\"\nmodel_approval_status = \"approved\"",
            refused(STATUS, "PendingManualApproval"),
        ),
        case("an approval status without a group", "model_approval_status = \"Approved\"", refused(STATUS, "needs model_package_group")),
        Case {
            defaults: "model_package_group = \"shared-models\"".into(),
            ..case("a group inherited from [defaults]", "", Expect::Accepted)
        },
    ];
    all
}
