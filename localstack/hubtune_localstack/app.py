"""The WSGI application on the port: control paths, call counts, faults, the SageMaker stand-in, then moto."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from . import context
from .calls import CallCounter
from .control import Control
from .faults import Fault, FaultRegistry, entry_matches
from .protocol import ApiError, Request, Response, error_response, json_response, parse_request, status_line
from .sagemaker import SageMakerStandIn
from .validation import refuse_invalid

log = logging.getLogger("hubtune_localstack.app")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def call_wsgi(app: WsgiApp, environ: dict[str, Any], body: bytes) -> Response:
    """Calls a WSGI application with another body and collects its whole response."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    env["CONTENT_LENGTH"] = str(len(body))
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        captured["status"], captured["headers"] = status, headers
        return chunks.append

    result = app(env, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return int(str(captured["status"]).split()[0]), list(captured["headers"]), b"".join(chunks)


class HubtuneApp:
    def __init__(self, moto_app: WsgiApp, standin: SageMakerStandIn, control: Control, faults: FaultRegistry,
                 calls: CallCounter) -> None:
        self.moto_app = moto_app
        self.standin = standin
        self.control = control
        self.faults = faults
        self.calls = calls

    @staticmethod
    def _send(start_response: Callable[..., Any], response: Response) -> list[bytes]:
        status, headers, body = response
        start_response(status_line(status), headers)
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = parse_request(environ)
        if req.protocol == "control":
            return self._send(start_response, self.control.handle(req))
        context.set_operation(req.service, req.operation)
        try:
            self.calls.count(req.key)
            try:  # AWS judges the input against its model first: no fault or stand-in path skips the check
                refuse_invalid(req)
            except ApiError as err:
                return self._send(start_response, error_response(req, err))
            fault = self.faults.take(req)
            if fault is not None:
                log.info("fault %s on %s", fault.error, req.key)
                if fault.error == "put-events-partial":
                    return self._send(start_response, self._partial_put_events(req, fault))
                return self._send(start_response, error_response(req, fault.api_error(req)))
            try:
                if self.standin.handles(req):
                    return self._send(start_response, json_response(req.service, self.standin.handle(req)))
            except ApiError as err:
                return self._send(start_response, error_response(req, err))
            except Exception:
                log.exception("the stand-in failed on %s", req.key)
                return self._send(start_response, error_response(
                    req, ApiError("InternalFailure", "the local stand-in failed (see its log)", 500)))
            return self.moto_app(environ, start_response)
        finally:
            context.set_operation(None, None)

    def _partial_put_events(self, req: Request, fault: Fault) -> Response:
        body = req.json()
        entries = list(body.get("Entries") or [])
        failing = {i for i, entry in enumerate(entries) if entry_matches(entry, fault.match)}
        results: list[dict[str, Any]] = [{} for _ in entries]
        keep = [i for i in range(len(entries)) if i not in failing]
        if keep:
            status, headers, raw = call_wsgi(self.moto_app, req.environ,
                                             json.dumps({**body, "Entries": [entries[i] for i in keep]}).encode())
            if status != 200:
                return status, headers, raw
            for i, result in zip(keep, json.loads(raw).get("Entries") or [], strict=False):
                results[i] = result
        for i in failing:
            results[i] = {"ErrorCode": "InternalFailure",
                          "ErrorMessage": "Internal failure (injected by the hubtune local stack)"}
        failed = sum(1 for r in results if r.get("ErrorCode"))
        return json_response("events", {"FailedEntryCount": failed, "Entries": results})
