"""An export in progress: the layout, the studies to write, and counts of what was written.

A CSV header names the event groups of the widest study row, so an export
first reads the most events in one study with the keys of the selection
(``most_events``, :mod:`service.export.reader`); the XLSX writer counts while
it reads instead (:mod:`service.export.spool`). The studies are read in small
batches, so memory stays flat whatever their number. A study imported between
the count and the read may have more events than counted: its extra event
groups are left out of its CSV row.

An export's ``rows`` are ``study`` (one study per row, its events to the right:
the wide layout) or ``events`` (one event per row after its study's columns:
the long layout, for studies with more events than a spreadsheet has columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.export.layout import Flat, Layout

#: Columns in one row of an Excel sheet (and of the CSV files written for it).
MAX_COLUMNS = 16_384
#: The row layouts: one study per row (wide), one event per row (long).
ROWS = ("study", "events")


@dataclass
class Export:
    """The studies of one export, flattened as they are read, with counts of what was written."""

    layout: Layout
    studies: Iterable[Mapping[str, Any]]
    arguments: Mapping[str, str] = field(default_factory=dict)  # the list filters, as URL arguments
    most_events: int = 0  # in one study of the selection, when read before (service.export.reader)
    rows: str = "study"  # one of ROWS
    studies_written: int = 0
    events_written: int = 0
    #: what the file leaves out or changes, said in it and in the event log
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Flat]:
        """Yield each study flattened, counting as it goes."""
        for doc in self.studies:
            flat = self.layout.flatten(doc)
            self.studies_written += 1
            self.events_written += len(flat.events)
            yield flat

    def close(self) -> None:
        """Stop reading studies (closing the cursor and its read-ahead thread) if reading has not ended."""
        close = getattr(self.studies, "close", None)
        if close is not None:
            close()

    def width(self) -> int:
        """Return the columns of the widest row, with the most events counted in one study."""
        events = len(self.layout.event_columns)
        return len(self.layout.study_columns) + events * (self.most_events if self.rows == "study" else 1)

    def describe_filters(self) -> str:
        """Return the filters as ``name=value`` pairs, or 'none'."""
        return ", ".join(f"{k}={v}" for k, v in self.arguments.items() if k != "modality") or "none"
