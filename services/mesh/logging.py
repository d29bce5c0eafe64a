"""Structured logs for every service: JSON in services, a readable console on a terminal.

`configure_logging` routes both structlog and the standard library (librdkafka, grpc,
asyncio) through one renderer. Values bound with `bound_event` (or structlog's
`bind_contextvars`) live in contextvars, so every line written while a handler runs,
by any library, carries that event's `run_id` and `event_id`. Each message is handled
in its own asyncio task, so the bindings of two events never mix. While a span is current
(services/mesh/tracing.py), every line also carries its `trace_id` and `span_id` (hex, as
tracing backends show them), so a trace leads to its log lines and back.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

from services.mesh.settings import MeshSettings


def use_json(settings: MeshSettings, stream: TextIO) -> bool:
    """It renders JSON unless asked for the console, or `auto` and writing to a terminal."""
    if settings.log_format == "auto":
        return not stream.isatty()
    return settings.log_format == "json"


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """`trace_id` and `span_id` of the current span, when there is one (tracing on)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def configure_logging(settings: MeshSettings, *, service: str, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard `logging` root for one service process."""
    out = stream or sys.stderr

    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        add_trace_ids,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if use_json(settings, out) else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # librdkafka is chatty at INFO about connections we report ourselves.
    logging.getLogger("streamwright.librdkafka").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bound_event(**values: Any) -> Iterator[None]:
    """Bind values (run_id, event_id, ...) to every log line written inside the block."""
    clean = {k: v for k, v in values.items() if v not in (None, "")}
    with structlog.contextvars.bound_contextvars(**clean):
        yield


def current_bindings() -> MutableMapping[str, Any]:
    """What is bound right now (for tests and for carrying context into threads)."""
    return structlog.contextvars.get_contextvars()
