"""Messages before and after they enter the log, and the envelope every panel receives."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livedesk.core.clock import iso_local
from livedesk.core.jsonutil import dumps_str

# What a host's teleprompter receives; ops receive everything. Viewer counts too: the host's
# headline number must be as fresh as the ops tile (one small frame per change).
HOST_TYPES = frozenset(
    {
        "viewers",
        "greeting",
        "greeting_done",
        "hint",
        "hint_dismissed",
        "red_packet",
        "coupon",
        "product",
        "promotion",
        "session",
        "rundown",
        "snapshot",
    }
)


@dataclass(frozen=True, slots=True)
class Message:
    """A message decided for a room, not yet in its log: its type and its data."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One appended message: seq, type, and its envelope encoded once for every socket."""

    room_id: str
    epoch: str
    seq: int
    type: str
    body: str


def new_epoch() -> str:
    """A room incarnation's epoch: seqs from two incarnations never alias (centrifugo's
    offset + epoch)."""
    return secrets.token_hex(8)


def envelope(room_id: str, epoch: str, seq: int, message_type: str, data: Any, at: datetime) -> str:
    # seq first and type second: readers that only need the type peek at the text.
    return dumps_str(
        {
            "seq": seq,
            "type": message_type,
            "room_id": room_id,
            "epoch": epoch,
            "ts": iso_local(at),
            "data": data,
        }
    )
