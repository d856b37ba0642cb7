"""Log records carry the bound room and event, in text and in JSON lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from livedesk.core import logs


@pytest.fixture
def configured() -> Iterator[None]:
    logs.configure("json")
    yield
    logs.configure("text")


def test_json_lines_carry_the_bound_ids(configured, capsys):
    log = logging.getLogger("livedesk.test")
    with logs.bound("room-1", "e-1"):
        log.warning("seen %s", "it")
    log.warning("unbound")
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "seen it" and lines[0]["level"] == "WARNING"
    assert (lines[0]["room_id"], lines[0]["event_id"]) == ("room-1", "e-1")
    assert (lines[1]["room_id"], lines[1]["event_id"]) == (None, None)


def test_ids_stay_bound_for_the_handler_of_an_exception(configured, caplog):
    log = logging.getLogger("livedesk.test")
    with logs.bound(None):
        try:
            with logs.bound("room-2"):
                logs.bind_event("e-2")
                raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.error("after")
    failed, after = caplog.records
    assert (failed.room_id, failed.event_id) == ("room-2", "e-2")
    assert (after.room_id, after.event_id) == (None, None)


def test_text_puts_the_ids_after_the_message():
    record = logging.LogRecord("livedesk.x", logging.INFO, __file__, 1, "hello", None, None)
    record.room_id, record.event_id = "room-3", None
    assert logs.TextFormatter().format(record).endswith("livedesk.x: hello [room=room-3]")
