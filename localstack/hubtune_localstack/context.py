"""Per-request context shared between the WSGI middleware and the moto patches (same thread)."""

from __future__ import annotations

import threading

_local = threading.local()


def set_operation(service: str | None, operation: str | None) -> None:
    _local.service = service
    _local.operation = operation


def current_operation() -> tuple[str | None, str | None]:
    return getattr(_local, "service", None), getattr(_local, "operation", None)
