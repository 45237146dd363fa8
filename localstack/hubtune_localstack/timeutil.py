"""Timestamps as the wire wants them: epoch seconds (SageMaker JSON protocol), epoch milliseconds (events)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any


def now() -> float:
    return time.time()


def to_epoch(value: Any) -> Any:
    """ISO-8601 strings (as the AWS CLI prints them) become epoch seconds; numbers pass through."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.timestamp()
    return value


def millis(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))
