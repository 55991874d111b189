"""Flattened studies kept on disk, with the counts a workbook needs before its first row.

The XLSX writer reads the database once: each study, flattened, is pickled to
an anonymous temporary file while the spool counts what the sheets need up
front (the most events in one study, the events of each protocol and the
name of its sheet, and for Summary the study descriptions, requested
procedures and standard names). Memory holds one study and the counters (one
entry per distinct value), whatever the number of studies. A protocol's name
is the first, in code-point order, of the names its events offer (a code's
meanings: the name the audits give the code's rows), so it depends on no
order of the studies. Pickling costs about a twentieth of what XlsxWriter spends on the
same rows; a second query to count first would cost about a quarter.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

from schemas.columns import Cell
from service.export.layout import Flat, ProtocolKey


class Spool:
    """Studies written once and read back once, counted on the way in."""

    def __init__(self, counted: Sequence[int], counted_events: Sequence[int] = ()) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close()
        self.studies = self.most_events = 0
        self.protocols: Counter[ProtocolKey] = Counter()
        #: protocol -> the first of its events' names in code-point order (where any has one)
        self.names: dict[ProtocolKey, str] = {}
        #: study column index -> how often each of its values occurs
        self.values: dict[int, Counter[Cell]] = {index: Counter() for index in counted}
        #: event column index -> how often each of its values occurs
        self.event_values: dict[int, Counter[Cell]] = {index: Counter() for index in counted_events}

    def add_all(self, flats: Iterable[Flat]) -> None:
        """Keep and count every study."""
        for flat in flats:
            # One pickle per study: a long-lived pickler would remember every study written.
            pickle.dump((flat.cells, flat.events, flat.protocols, flat.names), self.file, pickle.HIGHEST_PROTOCOL)
            self.studies += 1
            self.most_events = max(self.most_events, len(flat.events))
            self.protocols.update(flat.protocols)
            for key, name in zip(flat.protocols, flat.names, strict=True):
                if name is not None and (key not in self.names or name < self.names[key]):
                    self.names[key] = name
            for index, counter in self.values.items():
                counter[flat.cells[index]] += 1
            for index, counter in self.event_values.items():
                counter.update(event[index] for event in flat.events)

    def __iter__(self) -> Iterator[Flat]:
        """Read the studies back in the order they came (once: the spool is read where it ends)."""
        self.file.seek(0)
        for _ in range(self.studies):
            yield Flat(*pickle.load(self.file))

    def close(self) -> None:
        """Delete the spool file."""
        self.file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
