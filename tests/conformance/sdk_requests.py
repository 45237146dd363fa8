#!/usr/bin/env python3
"""What the SageMaker Python SDK 2.245 sends to CreateTrainingJob for a private-hub model, run offline.

The conformance test (tests/e2e/conformance.rs) compares hubtune's plan with the request this prints. The SDK runs
exactly as a user would run it:

    JumpStartEstimator(model_id=..., hub_name=..., instance_type=..., instance_count=1, role=...,
                       output_path=..., hyperparameters=...).fit({"training": URI}, job_name=..., wait=False,
                       accept_eula=...)

(with --channel NAME=URI, fit() gets {"training": URI, NAME: URI, ...}: the SDK's form for several inputs)

with no network at all: the SageMaker client is a real botocore client whose calls are answered in-process (a
`before-call` hook, the same mechanism botocore's Stubber uses), so the SDK's requests still go through botocore's
parameter validation against the service model. ListHubContentVersions and DescribeHubContent are answered from the
DescribeHubContent JSON given with --describe; CreateTrainingJob is recorded and answered with an ARN; any other
SageMaker call, and any socket connection, fails the run (so a new SDK dependency on the network cannot go unseen).

Usage:
    sdk_requests.py request --describe DESCRIBE.json --instance-type ml.g5.2xlarge \
        [--hyperparameter epoch=2 ...] [--accept-eula | --no-accept-eula] --training-uri s3://b/p/ \
        [--channel validation=s3://b/v/ ...] \
        --output-path s3://b/out/ --role-arn ARN --job-name NAME [--account 111122223333] --out REQUEST.json
    sdk_requests.py validate REQUEST.json     # check any CreateTrainingJob JSON against botocore's service model

`request` writes {"request": <CreateTrainingJob params>, "calls": [<SageMaker operations in order>]} to --out.
The region is the one in the hub ARN of the DescribeHubContent response.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any, Dict, List


def _no_network(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("sdk_requests.py runs offline: the SDK tried to open a network connection")


def _block_network() -> None:
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]
    socket.create_connection = _no_network  # type: ignore[assignment]
    socket.getaddrinfo = _no_network  # type: ignore[assignment]


def _quiet_environment() -> None:
    # Static fake credentials: nothing is signed for real, but botocore wants some; no instance metadata lookups.
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # The SDK reads optional defaults from these; an empty directory keeps a developer's own config out.
    os.environ["SAGEMAKER_ADMIN_CONFIG_OVERRIDE"] = os.devnull
    os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = os.devnull
    for var in list(os.environ):
        # Bucket overrides would change the URIs the SDK builds.
        if var.startswith("AWS_JUMPSTART_"):
            del os.environ[var]


class FakeHttpResponse:
    """What botocore's before-call short circuit expects beside the parsed response."""

    status_code = 200
    headers: Dict[str, str] = {}
    content = b""
    text = ""
    raw = None


class OfflineSageMaker:
    """Answers the SageMaker calls the SDK makes on the hub training path, and records the rest."""

    def __init__(self, describe: Dict[str, Any]) -> None:
        self.describe = describe
        self.calls: List[str] = []
        self.requests: Dict[str, List[Dict[str, Any]]] = {}

    def record_params(self, params: Dict[str, Any], model: Any, **_: Any) -> None:
        # before-parameter-build: the parameters exactly as the SDK passed them (validated right after).
        self.requests.setdefault(model.name, []).append(json.loads(json.dumps(params, default=str)))

    def answer(self, model: Any, params: Dict[str, Any], **_: Any) -> Any:
        op = model.name
        self.calls.append(op)
        request = self.requests.get(op, [{}])[-1]
        d = self.describe
        if op == "ListHubContentVersions":
            if request.get("HubContentType") != d["HubContentType"] or request.get("HubContentName") != d["HubContentName"]:
                return FakeHttpResponse(), _not_found(op)
            return FakeHttpResponse(), {
                "HubContentSummaries": [
                    {
                        "HubContentName": d["HubContentName"],
                        "HubContentArn": d["HubContentArn"],
                        "HubContentVersion": d["HubContentVersion"],
                        "HubContentType": d["HubContentType"],
                        "DocumentSchemaVersion": d.get("DocumentSchemaVersion", "2.3.0"),
                        "HubContentStatus": d.get("HubContentStatus", "Available"),
                        "CreationTime": d.get("CreationTime", "2025-01-01T00:00:00+00:00"),
                    }
                ]
            }
        if op == "DescribeHubContent":
            if request.get("HubContentType") != d["HubContentType"] or request.get("HubContentName") != d["HubContentName"]:
                return FakeHttpResponse(), _not_found(op)
            return FakeHttpResponse(), dict(d)
        if op == "CreateTrainingJob":
            region = d["HubArn"].split(":")[3]
            account = d["HubArn"].split(":")[4]
            arn = f"arn:aws:sagemaker:{region}:{account}:training-job/{request['TrainingJobName']}"
            return FakeHttpResponse(), {"TrainingJobArn": arn}
        raise RuntimeError(f"sdk_requests.py: unexpected SageMaker call {op} (the harness answers only the hub calls)")


def _not_found(op: str) -> Dict[str, Any]:
    # A parsed error response: botocore raises ClientError from it like from a real 400.
    return {
        "Error": {"Code": "ResourceNotFound", "Message": f"{op}: no such hub content (offline harness)"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


class ErrorHttpResponse(FakeHttpResponse):
    status_code = 400


def run_request(args: argparse.Namespace) -> Dict[str, Any]:
    _quiet_environment()
    _block_network()

    import boto3  # noqa: E402  (after the environment is set)
    from sagemaker.session import Session
    from sagemaker.jumpstart.estimator import JumpStartEstimator

    with open(args.describe, encoding="utf-8") as f:
        describe = json.load(f)
    hub_arn = describe["HubArn"]
    region = hub_arn.split(":")[3]
    account = args.account or hub_arn.split(":")[4]

    offline = OfflineSageMaker(describe)
    boto_session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    client = boto_session.client("sagemaker", region_name=region)
    client.meta.events.register("before-parameter-build.sagemaker.*", offline.record_params)

    def answer(model: Any, params: Dict[str, Any], **kw: Any) -> Any:
        http, parsed = offline.answer(model, params, **kw)
        if "Error" in parsed:
            return ErrorHttpResponse(), parsed
        return http, parsed

    client.meta.events.register("before-call.sagemaker.*", answer)

    session = Session(boto_session=boto_session, sagemaker_client=client)
    # The hub ARN is built from the caller's account (STS GetCallerIdentity): answer it here, offline.
    session.account_id = lambda: account  # type: ignore[method-assign]

    hyperparameters: Dict[str, str] = {}
    for item in args.hyperparameter:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--hyperparameter {item!r}: expected NAME=VALUE")
        hyperparameters[key] = value

    estimator = JumpStartEstimator(
        model_id=describe["HubContentName"],
        hub_name=args.hub_name or describe["HubName"],
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        role=args.role_arn,
        output_path=args.output_path,
        hyperparameters=hyperparameters or None,
        sagemaker_session=session,
    )
    # The SDK's own form for several channels: a dict of channel name to URI, training first.
    inputs: Dict[str, str] = {"training": args.training_uri}
    for item in args.channel:
        name, sep, uri = item.partition("=")
        if not sep:
            raise SystemExit(f"--channel {item!r}: expected NAME=URI")
        inputs[name] = uri
    estimator.fit(
        inputs,
        job_name=args.job_name,
        wait=False,
        accept_eula=args.accept_eula,
    )

    created = offline.requests.get("CreateTrainingJob")
    if not created:
        raise SystemExit("sdk_requests.py: the SDK sent no CreateTrainingJob")
    return {"request": created[-1], "calls": offline.calls}


def validate(path: str) -> None:
    """Check a CreateTrainingJob request against botocore's model (names, types, required members)."""
    _quiet_environment()
    import botocore.session
    from botocore.validate import ParamValidator

    with open(path, encoding="utf-8") as f:
        request = json.load(f)
    if "request" in request and "TrainingJobName" not in request:
        request = request["request"]
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        print(report.generate_report(), file=sys.stderr)
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    req = sub.add_parser("request", help="run the SDK offline and write its CreateTrainingJob request")
    req.add_argument("--describe", required=True, help="DescribeHubContent response JSON (as the CLI prints it)")
    req.add_argument("--hub-name", help="hub name or ARN given to the SDK (default: the response's HubName)")
    req.add_argument("--instance-type", required=True)
    req.add_argument("--instance-count", type=int, default=1)
    req.add_argument("--hyperparameter", action="append", default=[], metavar="NAME=VALUE")
    eula = req.add_mutually_exclusive_group()
    # Absent = the SDK's default (None): no ModelAccessConfig at all, as a user who never passes it.
    eula.add_argument("--accept-eula", dest="accept_eula", action="store_const", const=True, default=None)
    eula.add_argument("--no-accept-eula", dest="accept_eula", action="store_const", const=False)
    req.add_argument("--training-uri", required=True)
    req.add_argument("--channel", action="append", default=[], metavar="NAME=URI",
                     help="another input channel, as fit({'training': ..., NAME: URI})")
    req.add_argument("--output-path", required=True)
    req.add_argument("--role-arn", required=True)
    req.add_argument("--job-name", required=True, help="fixed, so the request is reproducible")
    req.add_argument("--account", help="caller account (default: the hub ARN's)")
    req.add_argument("--out", required=True)

    val = sub.add_parser("validate", help="validate a CreateTrainingJob JSON against botocore's service model")
    val.add_argument("path")

    args = parser.parse_args()
    if args.command == "validate":
        validate(args.path)
        return
    result = run_request(args)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
