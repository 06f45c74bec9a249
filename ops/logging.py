"""structlog, configured once per process.

Context first (request ids, worker names), then a redaction step that drops any
field whose name suggests protected content, then JSON in production or console in
a terminal. Tracebacks never carry local variables.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from ops.settings import Settings

#: Field names whose values must never be logged (legal names, notes, keys, tokens).
REDACTED_FIELDS = frozenset(
    {
        "legal_name",
        "birth_date",
        "note",
        "notes",
        "text",
        "key",
        "secret",
        "material",
        "password",
        "token",
        "authorization",
        "condition",
        "medical",
        "justification",
        "reason",
    }
)
REDACTED = "[redacted]"


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for field in list(event_dict):
        if field.lower() in REDACTED_FIELDS:
            event_dict[field] = REDACTED
    return event_dict


def configure_logging(settings: Settings) -> None:
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and (settings.production or not sys.stderr.isatty())
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
            if _has_rich()
            else structlog.dev.plain_traceback
        )
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        # a line below the level is dropped before any processor runs (an access
        # line per request otherwise cost as much as building it at every level)
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    tracebacks: list[Any] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
        if json_output
        else []
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tracebacks,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True
