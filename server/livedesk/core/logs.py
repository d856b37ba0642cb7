"""Log lines say which room and event they are about: readable text, or JSON lines for machines.

The ids come from context variables, so code deep in a stage logs as usual and still names its
room: the pipeline binds the room of the batch it runs (and the batch's first event), the
webhook endpoint the request's room and event. `configure()` runs once per process, in the
app's lifespan; every record then carries `room_id` and `event_id` attributes (None when
unbound), whichever handler receives it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]

ROOM_ID: ContextVar[str | None] = ContextVar("livedesk_room_id", default=None)
EVENT_ID: ContextVar[str | None] = ContextVar("livedesk_event_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def bound(room_id: str | None, event_id: str | None = None) -> Iterator[None]:
    """Records logged inside the block carry these ids; the previous ones come back after it.

    When the block raises, the ids stay bound: the handler that logs the exception further up
    (the pipeline's retry, the app's 503) still names the room and event it failed on. An
    outer `bound` (the pipeline worker's) or the end of the request's task clears them."""
    room_token = ROOM_ID.set(room_id)
    event_token = EVENT_ID.set(event_id)
    yield  # deliberately no `finally`, see above
    EVENT_ID.reset(event_token)
    ROOM_ID.reset(room_token)


def bind_event(event_id: str | None) -> None:
    """Name the event being handled, until the enclosing `bound` block ends."""
    EVENT_ID.set(event_id)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [room=… event=…]`, the brackets only when bound."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(
            f"{key}={value}"
            for key, value in (("room", record.__dict__.get("room_id")), ("event", _event(record)))
            if value is not None
        )
        if not ids:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the ids
        return f"{head} [{ids}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, room_id, event_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "room_id": record.__dict__.get("room_id"),
            "event_id": _event(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


def _event(record: logging.LogRecord) -> str | None:
    value = record.__dict__.get("event_id")
    return None if value is None else str(value)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _with_ids(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        record.room_id = ROOM_ID.get()
        record.event_id = EVENT_ID.get()
        return record

    make.livedesk_ids = True  # type: ignore[attr-defined]
    return make


def configure(log_format: LogFormat = "text", level: str = "INFO") -> None:
    """Every record gets the bound ids; livedesk's loggers at `level` go to stderr in
    `log_format`. Calling again replaces the handler (tests start many apps in one process).
    Other libraries' loggers keep their levels (their records carry the ids too). Name ids with
    `bound`, not `extra=` (logging refuses an extra that overwrites a record attribute)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "livedesk_ids", False):
        logging.setLogRecordFactory(_with_ids(factory))
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger = logging.getLogger("livedesk")
    for old in [h for h in logger.handlers if isinstance(h, _Stderr)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
