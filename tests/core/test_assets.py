"""What an installed livedesk needs besides its code ships inside the package: the migrations
and the pages' files through livedesk/assets (core.assets), every data file through the
package-data globs of pyproject.toml (a `.tsv.gz` once fell through them: a wheel started
without its sentiment model)."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import livedesk
from livedesk.core.assets import asset_dir

PACKAGE = Path(livedesk.__file__).parent
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"


def test_the_assets_are_directories_inside_the_package():
    for name, expected in (
        ("migrations", "env.py"),
        ("templates", "base.html"),
        ("static", "js"),
    ):
        found = asset_dir(name)
        assert found.parent == PACKAGE / "assets"
        assert (found / expected).exists()


def test_every_data_file_of_the_package_is_in_its_package_data():
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"][
        "livedesk"
    ]
    shipped = {
        path
        for pattern in patterns
        for path in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
    }
    data = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert data, "no data files found: the test looks in the wrong place"
    assert data - shipped == set()
