"""An export in progress: the layout, the studies to write, and counts of what was written.

A CSV header names the event groups of the widest study row, so a CSV export
first asks the database for the most events in one study (``most_events``);
the XLSX writer counts while it reads instead (:mod:`service.export.spool`).
The studies come from a cursor read in small batches, so memory stays flat
whatever their number. A study imported between the count and the read may
have more events than counted: its extra event groups are left out of its CSV
row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.export.layout import Flat, Layout


@dataclass
class Export:
    """The studies of one export, flattened as they are read, with counts of what was written."""

    layout: Layout
    studies: Iterable[Mapping[str, Any]]
    arguments: Mapping[str, str] = field(default_factory=dict)  # the list filters, as URL arguments
    most_events: int = 0  # in one study of the selection, when asked for (CSV)
    studies_written: int = 0
    events_written: int = 0

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

    def describe_filters(self) -> str:
        """Return the filters as ``name=value`` pairs, or 'none'."""
        return ", ".join(f"{k}={v}" for k, v in self.arguments.items() if k != "modality") or "none"
