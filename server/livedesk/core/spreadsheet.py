"""Tables a spreadsheet opens right: CSV in UTF-8 with a byte-order mark (Excel on Windows reads
BOM-less UTF-8 as the local code page and garbles Chinese), Chinese headers chosen by the
caller, money in yuan, ratios in percent, times in Beijing time, and no cell that a
spreadsheet would run as a formula (CSV injection: viewer-typed text such as =HYPERLINK(…))."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from livedesk.core.clock import CHINA_TZ

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
# A spreadsheet treats a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Figures formatted here (-12.50, 20.15%) are numbers, not outside text.
FIGURE = re.compile(r"-?\d+(\.\d+)?%?")


def yuan(cents: Any) -> str:
    """12345 -> "123.45" (a number a spreadsheet sums); None -> empty."""
    if isinstance(cents, bool) or not isinstance(cents, int | float):
        return ""
    return f"{cents / 100:.2f}"


def percent(ratio: Any) -> str:
    """0.2015 -> "20.15%" (read as a percentage); None -> empty."""
    if isinstance(ratio, bool) or not isinstance(ratio, int | float):
        return ""
    return f"{ratio * 100:.2f}%"


def beijing(moment: datetime | None) -> str:
    """2026-12-04 20:05:09 in Beijing time; None -> empty."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def cell(value: Any) -> str:
    """A value as a cell: text that looks like a formula is quoted, figures stay numbers."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not FIGURE.fullmatch(text):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One table as CSV text, BOM first."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
