"""The one place an adapter asks for its signing secrets.

Several secrets may be valid for one platform at once (old and new during a rotation), so the
answer is a list and verifiers accept a request signed with any of them.
"""

from __future__ import annotations

from livedesk.core.settings import Settings


def secrets_for(settings: Settings, platform: str, kind: str | None = None) -> list[str]:
    """Every secret `platform`'s requests may be signed with now; empty when none is set."""
    secret = settings.secret_for(platform, kind)
    return [secret] if secret else []
