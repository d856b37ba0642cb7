"""Files that ship inside the package (`livedesk/assets/`): the Alembic migrations and the
pages' templates and static files. In a source checkout they are links to `migrations/` and
`frontend/`; a built wheel carries copies, so an installed livedesk finds them the same way
(never through a path relative to the source tree)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset_dir(name: str) -> Path:
    """`migrations`, `templates` or `static`: a directory on disk (Alembic, Jinja2 and the
    static files app all want one)."""
    found = files("livedesk") / "assets" / name
    if not isinstance(found, Path) or not found.is_dir():
        raise RuntimeError(
            f"livedesk's {name} are missing: install livedesk from a wheel or a checkout"
        )
    return found
