"""What promotions need to know of who is in the room (livedesk.rooms.presence answers it):
a drop reaches the viewers present, not only those who happen to act while it runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from livedesk.rooms.presence import PresentViewer


class Presence(Protocol):
    async def dwell_s(self, account: tuple[str, str]) -> int:
        """Seconds this account has spent in the room so far (0 if never present)."""
        ...

    async def present(self) -> Sequence[PresentViewer]:
        """Everyone present in the room now, as of this batch."""
        ...
