"""An export in progress: the layout, a tally of the matching events, and the studies to write.

Writers need two facts before their first row: how many event groups the
study rows stretch to (the header names them) and, for XLSX, the protocol
names (sheets appear in the order they are added, alphabetically here). The
:class:`Tally` gets both from one aggregation over the matching studies; the
studies themselves then come from a cursor read in small batches, so memory
stays flat whatever their number.

A study imported between the tally and the read may have more events than the
tally saw, or a new protocol: its extra event groups are left out of the study
row (they are in its protocol sheet), and a new protocol gets a sheet after
the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.export.layout import Flat, Layout


@dataclass(frozen=True)
class Tally:
    """The largest number of events in one study, and the number of events of each protocol."""

    most_events: int
    protocols: Mapping[str | None, int]


@dataclass
class Export:
    """The studies of one export, flattened as they are read, with counts of what was written."""

    layout: Layout
    tally: Tally
    studies: Iterable[Mapping[str, Any]]
    arguments: Mapping[str, str] = field(default_factory=dict)  # the list filters, as URL arguments
    studies_written: int = 0
    events_written: int = 0

    def __iter__(self) -> Iterator[Flat]:
        """Yield each study flattened, counting as it goes."""
        for doc in self.studies:
            flat = self.layout.flatten(doc)
            self.studies_written += 1
            self.events_written += len(flat.events)
            yield flat

    def describe_filters(self) -> str:
        """Return the filters as ``name=value`` pairs, or 'none'."""
        return ", ".join(f"{k}={v}" for k, v in self.arguments.items() if k != "modality") or "none"
