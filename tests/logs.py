"""Log events as tests see them: structlog renders through the standard library's
logging (`ops.logging`), so pytest's `caplog` holds each event's dict. (structlog's
`capture_logs` misses loggers already used: they are cached on first use.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """The structured events logged inside the block (filled in when it ends)."""
    events: list[dict[str, Any]] = []
    caplog.set_level(logging.DEBUG)
    start = len(caplog.records)
    try:
        yield events
    finally:
        events.extend(r.msg for r in caplog.records[start:] if isinstance(r.msg, dict))
