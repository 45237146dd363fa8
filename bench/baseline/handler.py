"""The Python baseline for scripts/bench: what a user would otherwise write, a Python 3 Lambda with boto3 that does
hubtune's launch, call for call.

It is not a port of hubtune (no queueing, rejections, reruns or repair paths); it does the happy path of
launch-finetune with the same AWS calls in the same order, so per-event numbers compare like with like:

  GET   runs/<job>.json                  (is it launched already?)          S3 GetObject (404)
  LIST  the dataset folder                                                  S3 ListObjectsV2
  GET   first 64 KiB of each .jsonl file (one JSON object per line)         S3 GetObject (Range)
  DescribeHubContent, cached per warm container                             SageMaker (once)
  the CreateTrainingJob request planned from the hub document (pure)
  slots/<route>.json compare-and-swap (If-None-Match / If-Match)            S3 GetObject + PutObject
  manifests/<job>.json (the frozen listing, S3DataType ManifestFile)        S3 PutObject
  runs/<job>.json created If-None-Match: *  (Launching)                     S3 PutObject
  CreateTrainingJob with the deterministic name                             SageMaker
  runs/<job>.json -> Launched (read, If-Match)                              S3 GetObject + PutObject
  Training Run Started: read the record, PutEvents, set the outbox flag     S3 GetObject, EventBridge, S3 Get + Put

Like a well-written Lambda, the clients, the routes file and the caches live at module level (built during init).
"""

import datetime
import hashlib
import json
import os
import tomllib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

JSONL_CHECK_BYTES = 64 * 1024
MAX_CAS_ATTEMPTS = 10

with open(os.environ["HUBTUNE_CONFIG"], "rb") as _f:
    _RAW = tomllib.load(_f)
DEPLOYMENT = _RAW.get("deployment", {})
BUCKET = os.environ.get("HUBTUNE_BUCKET") or DEPLOYMENT["bucket"]
REGION = os.environ.get("AWS_REGION", "us-east-1")
STATE_PREFIX = DEPLOYMENT.get("state_prefix", "hubtune/state/")
OUTPUT_PREFIX = DEPLOYMENT.get("output_prefix", "hubtune/output/")
JOB_PREFIX = DEPLOYMENT.get("job_prefix", "hubtune")
EVENT_BUS = DEPLOYMENT.get("event_bus", "hubtune")
NAME = DEPLOYMENT.get("name", "hubtune")
ROUTES = {}
for _name, _table in _RAW.get("routes", {}).items():
    ROUTES[_name] = {**_RAW.get("defaults", {}), **_table, "name": _name}

_CONFIG = Config(
    region_name=REGION,
    retries={"mode": "standard"},
    # The local stack serves buckets by path (hubtune does the same when an endpoint is set).
    s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {},
)
S3 = boto3.client("s3", config=_CONFIG)
SAGEMAKER = boto3.client("sagemaker", config=_CONFIG)
EVENTS = boto3.client("events", config=_CONFIG)
HUB_CACHE = {}


def handler(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            launch(json.loads(record["body"]))
        except ClientError as e:
            print(json.dumps({"level": "WARN", "message": "record failed; it will come back", "error": str(e)}))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def route_for(bucket, key):
    best = None
    for r in ROUTES.values():
        if bucket == BUCKET and key.startswith(r["prefix"]) and (best is None or len(r["prefix"]) > len(best["prefix"])):
            best = r
    return best


def get_json(key):
    try:
        o = S3.get_object(Bucket=BUCKET, Key=key)
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None, None
        raise
    return json.loads(o["Body"].read()), o["ETag"]


def put_json(key, value, if_match=None, if_none_match=False):
    kwargs = {}
    if if_match:
        kwargs["IfMatch"] = if_match
    if if_none_match:
        kwargs["IfNoneMatch"] = "*"
    body = json.dumps(value, indent=2).encode()
    try:
        return S3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json", **kwargs)["ETag"]
    except ClientError as e:
        if e.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            return None
        raise


def update(key, change):
    for _ in range(MAX_CAS_ATTEMPTS):
        value, etag = get_json(key)
        new = change(value)
        if new is None:
            return
        new["revision"] = new.get("revision", 0) + 1
        if put_json(key, new, if_match=etag, if_none_match=etag is None):
            return
    raise RuntimeError(f"no compare-and-swap on {key} succeeded")


def hub_document(route):
    key = (route["hub"], route["model_id"])
    if key not in HUB_CACHE:
        r = SAGEMAKER.describe_hub_content(
            HubName=route["hub"], HubContentType="ModelReference", HubContentName=route["model_id"]
        )
        HUB_CACHE[key] = (r, json.loads(r["HubContentDocument"]))
    return HUB_CACHE[key]


def py(v):
    """Hyperparameter values as the SDK sends them: JSON-encoded Python strings."""
    if isinstance(v, bool):
        return json.dumps(str(v))
    return json.dumps(str(v))


def plan(route, job, hub, doc, manifest_uri, dataset_uri, identity_hash):
    instance_type = route.get("instance_type") or doc["DefaultTrainingInstanceType"]
    hps = {h["Name"]: h["Default"] for h in doc.get("Hyperparameters", []) if h.get("Scope", "algorithm") == "algorithm"}
    for k, v in route.get("hyperparameters", {}).items():
        if k not in hps:
            raise ValueError(f"unknown hyperparameter {k}")
        hps[k] = v
    hyperparameters = {k: py(v) for k, v in hps.items()}
    hyperparameters.update({
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps(job),
        "sagemaker_program": json.dumps("transfer_learning.py"),
        "sagemaker_region": json.dumps(REGION),
        "sagemaker_submit_directory": json.dumps("/opt/ml/input/data/code/sourcedir.tar.gz"),
    })
    model_access = {"AcceptEula": True} if route.get("accept_eula") else {}
    return {
        "TrainingJobName": job,
        "AlgorithmSpecification": {
            "TrainingImage": doc["TrainingEcrUri"],
            "TrainingInputMode": "File",
            "MetricDefinitions": doc.get("TrainingMetrics", []),
        },
        "RoleArn": route["role_arn"],
        "InputDataConfig": [
            {"ChannelName": "training", "DataSource": {"S3DataSource": {
                "S3DataType": "ManifestFile", "S3Uri": manifest_uri, "S3DataDistributionType": "FullyReplicated"}}},
            {"ChannelName": "model", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": doc["TrainingArtifactUri"],
                "S3DataDistributionType": "FullyReplicated",
                "HubAccessConfig": {"HubContentArn": hub["HubContentArn"]},
                "ModelAccessConfig": model_access}},
             "ContentType": "application/x-sagemaker-model", "InputMode": "File"},
            {"ChannelName": "code", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": doc["TrainingScriptUri"],
                "S3DataDistributionType": "FullyReplicated"}}},
        ],
        "OutputDataConfig": {"S3OutputPath": route.get("output_path") or f"s3://{BUCKET}/{OUTPUT_PREFIX}{route['name']}/"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": route.get("instance_count", 1),
                           "VolumeSizeInGB": route.get("volume_size_gb", 30)},
        "StoppingCondition": {"MaxRuntimeInSeconds": route.get("max_runtime_seconds", doc.get("MaxRuntimeInSeconds", 86400))},
        "HyperParameters": hyperparameters,
        "Environment": dict(route.get("environment", {})),
        "Tags": [
            {"Key": "sagemaker-sdk:jumpstart-model-id", "Value": route["model_id"]},
            {"Key": "sagemaker-sdk:jumpstart-model-version", "Value": hub["HubContentVersion"]},
            {"Key": "sagemaker-sdk:hub-content-arn", "Value": hub["HubContentArn"]},
            {"Key": "hubtune:route", "Value": route["name"]},
            {"Key": "hubtune:dataset", "Value": f"{identity_hash[:16]} {dataset_uri}"[:256]},
        ] + [{"Key": k, "Value": v} for k, v in route.get("tags", {}).items()],
        "EnableNetworkIsolation": True,
    }


def launch(body):
    detail = body["detail"]
    bucket, obj = detail["bucket"]["name"], detail["object"]
    key = obj["key"]
    route = route_for(bucket, key)
    folder, _, name = key.rpartition("/")
    if route is None or name != route.get("marker", "_SUCCESS"):
        return
    folder += "/"
    version = f"v:{obj['version-id']}" if obj.get("version-id") else f"s:{obj['sequencer']}"
    identity = f"{bucket}\0{key}\0{version}\0{0}"
    identity_hash = hashlib.sha256(NAME.encode() + b"\0" + identity.encode()).hexdigest()
    job = f"{JOB_PREFIX}-{route['name']}-{identity_hash[:16]}"
    dataset_uri = f"s3://{bucket}/{folder}"
    run_key = f"{STATE_PREFIX}runs/{job}.json"

    existing, _ = get_json(run_key)
    if existing and existing["status"] not in ("Launching", "Queued"):
        return

    # The dataset checks.
    listing = S3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", [])
    files = [o for o in listing if not o["Key"].rsplit("/", 1)[-1].startswith(("_", "."))]
    allowed = route.get("allowed_extensions", ["jsonl", "json", "csv", "txt", "parquet"])
    if not files or any(f["Key"].rsplit(".", 1)[-1].lower() not in allowed for f in files):
        raise ValueError(f"dataset {dataset_uri} rejected")
    for f in files:
        if f["Key"].endswith(".jsonl"):
            head = S3.get_object(Bucket=bucket, Key=f["Key"], Range=f"bytes=0-{JSONL_CHECK_BYTES - 1}")["Body"].read()
            lines = head.split(b"\n")
            if len(head) >= JSONL_CHECK_BYTES:
                lines.pop()
            for line in lines:
                if line.strip() and not isinstance(json.loads(line), dict):
                    raise ValueError(f"{f['Key']}: not one JSON object per line")
    frozen = [{"key": f["Key"], "etag": f["ETag"].strip('"'), "size": f["Size"]} for f in files]

    # The model reference and the plan.
    hub, doc = hub_document(route)
    manifest_uri = f"s3://{BUCKET}/{STATE_PREFIX}manifests/{job}.json"
    request = plan(route, job, hub, doc, manifest_uri, dataset_uri, identity_hash)

    # A slot, by compare-and-swap.
    def take(slots):
        slots = slots or {"revision": 0, "route": route["name"], "holders": []}
        if job in slots["holders"] or len(slots["holders"]) >= route.get("max_concurrent_jobs", 1):
            return None
        slots["holders"] = sorted(slots["holders"] + [job])
        return slots

    update(f"{STATE_PREFIX}slots/{route['name']}.json", take)

    # The frozen manifest and the record, before the job exists.
    manifest = [{"prefix": dataset_uri}] + [f["key"][len(folder):] for f in frozen]
    S3.put_object(Bucket=BUCKET, Key=f"{STATE_PREFIX}manifests/{job}.json", Body=json.dumps(manifest).encode(),
                  ContentType="application/json")
    t = now()
    record = {
        "schema": 1, "revision": 0, "job_name": job, "job_arn": None, "route": route["name"],
        "dataset_uri": dataset_uri, "dataset": {"route": route["name"], "identity": identity, "location": dataset_uri},
        "frozen": {"location": dataset_uri, "files": frozen, "total_bytes": sum(f["size"] for f in frozen)},
        "manifest_uri": manifest_uri, "model_id": route["model_id"], "hub_content_arn": hub["HubContentArn"],
        "hub_content_version": hub["HubContentVersion"], "instance_type": request["ResourceConfig"]["InstanceType"],
        "instance_count": request["ResourceConfig"]["InstanceCount"], "status": "Launching",
        "history": [{"status": "Launching", "at": t}], "failure_reason": None, "model_artifacts": None,
        "outbox": {"started_emitted": False, "finished_emitted": False, "slot_released": False,
                   "slot_freed_emitted": False, "published": False},
        "created_at": t, "updated_at": t,
    }
    etag = put_json(run_key, record, if_none_match=True)

    # The job; its name is the idempotency key.
    try:
        arn = SAGEMAKER.create_training_job(**request)["TrainingJobArn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUse":
            raise
        arn = f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{job}"

    # Training Run Started, then the record: Launched and the outbox flag in one conditional write.
    detail = {"schema": 1, "route": route["name"], "dataset_uri": dataset_uri, "job_name": job, "job_arn": arn,
              "hub_content_arn": hub["HubContentArn"], "hub_content_version": hub["HubContentVersion"],
              "event_id": hashlib.sha256(f"Training Run Started\0{job}".encode()).hexdigest()[:32],
              "summary": f"hubtune started training job {job} for dataset {dataset_uri} on route {route['name']}"}
    out = EVENTS.put_events(Entries=[{"Source": "hubtune", "DetailType": "Training Run Started",
                                      "Detail": json.dumps(detail), "EventBusName": EVENT_BUS, "Resources": [arn]}])
    if out.get("FailedEntryCount"):
        raise RuntimeError("PutEvents entry failed")

    def launched(r):
        r["job_arn"] = arn
        if r["status"] in ("Launching", "Queued"):
            r["status"] = "Launched"
            r["history"].append({"status": "Launched", "at": now()})
        r["outbox"]["started_emitted"] = True
        return r

    record = launched(record)
    record["revision"] += 1
    if not (etag and put_json(run_key, record, if_match=etag)):
        update(run_key, launched)
    print(json.dumps({"level": "INFO", "message": "training job launched", "job": job, "dataset": dataset_uri}))
