"""Runs the local stack: one threaded WSGI server on loopback, provisioned, until a signal or stdin's end."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("hubtune_localstack")


@dataclass
class Options:
    template: str | None = None
    bucket: str = "hubtune-local"
    host: str = "127.0.0.1"
    port: int = 0
    seed_hub: list[str] = field(default_factory=list)
    job_prefix: str = "hubtune"
    state_dir: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    in_progress_seconds: float | None = None
    watch_stdin: bool = True
    verbose: bool = False


class LocalStack:
    """The server, its stand-in state and the provisioned deployment. `start()` returns the ready document."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.ready: dict[str, Any] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from . import moto_patches
        from .app import HubtuneApp
        from .calls import CallCounter
        from .control import Control
        from .faults import FaultRegistry
        from .hub import HubStore
        from .provision import provision
        from .sagemaker import SageMakerStandIn
        from .template import plan_from_file
        from .training import TrainingJobs

        moto_patches.apply()
        opts = self.options
        self.hub = HubStore()
        for path in opts.seed_hub:
            for stored in self.hub.seed_file(path):
                log.info("seeded hub content %s", stored)
        self.jobs = TrainingJobs()
        if opts.in_progress_seconds is not None:
            self.jobs.configure({"in_progress_seconds": opts.in_progress_seconds})
        self.faults = FaultRegistry()
        self.calls = CallCounter()
        info: dict[str, Any] = {}
        app = HubtuneApp(DomainDispatcherApplication(create_backend_app), SageMakerStandIn(self.hub, self.jobs),
                         Control(self.hub, self.jobs, self.faults, self.calls, info), self.faults, self.calls)

        verbose = opts.verbose

        class Handler(MotoRequestHandler):
            def log_request(self, code: Any = "-", size: Any = "-") -> None:
                if verbose:
                    super().log_request(code, size)

        self._server = make_server(opts.host, opts.port, app, threaded=True, request_handler=Handler)
        port = self._server.server_port
        endpoint = f"http://{opts.host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="wsgi", daemon=True)
        self._thread.start()

        overrides: dict[str, Any] = {**opts.parameters, "DatasetBucketName": opts.bucket,
                                     "JobPrefix": opts.job_prefix}
        plan = plan_from_file(opts.template, overrides, endpoint)
        self.ready = provision(endpoint, plan, opts.bucket, opts.job_prefix)
        self.calls.reset()
        info.update({k: self.ready[k] for k in ("endpoint", "bucket", "event_bus", "job_prefix")})
        return self.ready

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if getattr(self, "jobs", None) is not None:
            self.jobs.close()


def _watch_stdin(stop: threading.Event) -> None:
    # The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader's lock makes the
    # interpreter's shutdown abort.
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    log.info("stdin closed: stopping")
    stop.set()


def _take_stdout() -> TextIO:
    """The real stdout, reserved for the ready line; anything else printed goes to stderr."""
    sys.stdout.flush()
    ready_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ready_out


def serve(options: Options) -> int:
    logging.basicConfig(level=logging.DEBUG if options.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not options.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("botocore").setLevel(logging.WARNING)
    ready_out = _take_stdout()
    state_dir = Path(options.state_dir) if options.state_dir else None
    if state_dir:
        state_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(state_dir / "localstack.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(options)
    try:
        ready = stack.start()
    except Exception as err:
        log.exception("the local stack could not start")
        ready_out.write(json.dumps({"ready": False, "error": f"{type(err).__name__}: {err}"}) + "\n")
        ready_out.flush()
        stack.stop()
        return 1
    ready = {**ready, "pid": os.getpid()}
    line = json.dumps(ready)
    if state_dir:
        (state_dir / "ready.json").write_text(line + "\n", encoding="utf-8")
    ready_out.write(line + "\n")
    ready_out.flush()
    log.info("ready on %s", ready["endpoint"])
    if options.watch_stdin:
        threading.Thread(target=_watch_stdin, args=(stop,), name="stdin-watch", daemon=True).start()
    while not stop.wait(0.5):
        pass
    stack.stop()
    if state_dir:
        (state_dir / "ready.json").unlink(missing_ok=True)
    log.info("stopped")
    return 0
