"""The /_hubtune/ control endpoints (JSON in, JSON out)."""

from __future__ import annotations

import json
from typing import Any

from .calls import CallCounter
from .faults import FaultRegistry
from .hub import HubStore
from .protocol import Request, Response
from .training import TrainingJobs


def _reply(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body


class Control:
    def __init__(self, hub: HubStore, jobs: TrainingJobs, faults: FaultRegistry, calls: CallCounter,
                 info: dict[str, Any]) -> None:
        self.hub, self.jobs, self.faults, self.calls, self.info = hub, jobs, faults, calls, info

    def handle(self, req: Request) -> Response:
        route = req.path[len("/_hubtune/"):].strip("/") if req.path.startswith("/_hubtune/") else ""
        handler = getattr(self, f"_{req.method.lower()}_{route.replace('-', '_')}", None)
        if handler is None:
            return _reply({"error": f"no such control endpoint: {req.method} {req.path}"}, 404)
        body: Any = None
        if req.method in ("POST", "PUT"):
            try:
                body = json.loads(req.body or b"{}")
            except ValueError as err:
                return _reply({"error": f"the body is not JSON: {err}"}, 400)
        try:
            return _reply(handler(body) if body is not None else handler())
        except ValueError as err:
            return _reply({"error": str(err)}, 400)

    # GET /_hubtune/health
    def _get_health(self) -> Any:
        return {"ok": True, **self.info}

    # POST /_hubtune/config
    def _post_config(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise ValueError("config is a JSON object")
        return self.jobs.configure(body)

    def _get_config(self) -> Any:
        return self.jobs.configure({})

    # POST/DELETE /_hubtune/outcomes
    def _post_outcomes(self, body: Any) -> Any:
        for spec in body if isinstance(body, list) else [body]:
            if not isinstance(spec, dict):
                raise ValueError("an outcome is a JSON object")
            self.jobs.add_outcome(spec)
        return {"ok": True}

    def _delete_outcomes(self) -> Any:
        self.jobs.clear_outcomes()
        return {"ok": True}

    # POST/DELETE /_hubtune/drop-events
    def _post_drop_events(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise ValueError("drop-events takes a JSON object")
        self.jobs.add_drop(body)
        return {"ok": True}

    def _delete_drop_events(self) -> Any:
        self.jobs.clear_drops()
        return {"ok": True}

    # POST/GET/DELETE /_hubtune/faults
    def _post_faults(self, body: Any) -> Any:
        added = []
        for spec in body if isinstance(body, list) else [body]:
            if not isinstance(spec, dict):
                raise ValueError("a fault is a JSON object")
            added.append(self.faults.add(spec).id)
        return {"ok": True, "ids": added}

    def _get_faults(self) -> Any:
        return {"faults": self.faults.pending()}

    def _delete_faults(self) -> Any:
        self.faults.clear()
        return {"ok": True}

    # GET/DELETE /_hubtune/calls
    def _get_calls(self) -> Any:
        return self.calls.snapshot()

    def _delete_calls(self) -> Any:
        self.calls.reset()
        return {"ok": True}

    # POST /_hubtune/hub-content
    def _post_hub_content(self, body: Any) -> Any:
        return {"ok": True, "stored": self.hub.seed(body)}
