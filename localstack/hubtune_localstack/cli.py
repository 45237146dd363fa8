"""Command line: `python -m hubtune_localstack serve --template infra/template.yaml [...]`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .server import Options, serve


def _parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("a parameter is KEY=VALUE")
    return key, value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hubtune_localstack", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="start moto and the stand-in on one loopback port, provisioned")
    s.add_argument("--template", help="CloudFormation/SAM template to provision (e.g. infra/template.yaml)")
    s.add_argument("--bucket", default="hubtune-local", help="dataset bucket (parameter DatasetBucketName)")
    s.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    s.add_argument("--port", type=int, default=0, help="port (0 = a free one)")
    s.add_argument("--seed-hub", action="extend", nargs="+", default=[], metavar="FILE.json",
                   help="DescribeHubContent response(s) (a JSON object or a list of them) to serve; "
                        "takes several files and may be repeated")
    s.add_argument("--job-prefix", default="hubtune", help="parameter JobPrefix")
    s.add_argument("--state-dir", help="write ready.json and localstack.log here")
    s.add_argument("--parameter", action="append", type=_parameter, default=[], metavar="KEY=VALUE",
                   help="override a template parameter; repeatable")
    s.add_argument("--in-progress-seconds", type=float, help="how long training jobs stay InProgress (1.0)")
    s.add_argument("--ignore-stdin", action="store_true",
                   help="do not stop when stdin closes (for running by hand in the background)")
    s.add_argument("--verbose", action="store_true", help="log every request")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = Options(
        template=args.template,
        bucket=args.bucket,
        host=args.host,
        port=args.port,
        seed_hub=list(args.seed_hub),
        job_prefix=args.job_prefix,
        state_dir=args.state_dir,
        parameters=dict(args.parameter),
        in_progress_seconds=args.in_progress_seconds,
        watch_stdin=not args.ignore_stdin,
        verbose=args.verbose,
    )
    return serve(options)
