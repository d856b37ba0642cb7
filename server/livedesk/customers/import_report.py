"""What a CRM import run did (docs/crm-import.md): rows imported, already stored or rejected
(the three add up to the rows read), members and orders imported, and the first errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from livedesk.customers.csv_format import RowError

MAX_ERRORS_KEPT = 100

COUNTS = (
    "rows",
    "imported_rows",
    "duplicate_rows",
    "imported_members",
    "imported_orders",
    "skipped_duplicates",
    "rejected_rows",
    "error_count",
)


ErrorCallback = Callable[[RowError], None]


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (the header not counted), earlier runs' included on resume
    # rows == imported_rows + duplicate_rows + rejected_rows
    imported_rows: int = 0
    duplicate_rows: int = 0  # order lines of orders stored before this run
    imported_members: int = 0
    imported_orders: int = 0
    skipped_duplicates: int = 0  # orders that were already stored
    rejected_rows: int = 0
    error_count: int = 0  # problems found; a rejected row may have several
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS_KEPT
    header_ok: bool = True
    dry_run: bool = False
    resumed_after_row: int | None = None  # the spreadsheet row an interrupted run ended at
    # (platform, order_id) stored by this run: a later line of one is split off, not a repeat.
    stored_orders: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def add_error(self, error: RowError, keep: int) -> None:
        self.error_count += 1
        if len(self.errors) < keep:
            self.errors.append(error)

    def resume(self, counts: Mapping[str, Any]) -> None:
        """Carry on from the counts an interrupted run saved."""
        for name, value in counts.items():
            if name in COUNTS:
                setattr(self, name, int(value))

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
            "dry_run": self.dry_run,
            "resumed_after_row": self.resumed_after_row,
        }
