"""Patient heights and weights from a RIS export (CSV), matched to studies.

Pure functions, no database: :func:`parse_sizes` reads the file,
:func:`changes_for` decides what one row changes in a study's ``patient``
block; ``service.storage`` applies the changes and logs them.

The file: a header row naming the columns, then one row per study. Columns are
separated by commas, semicolons or tabs (``csv.Sniffer`` decides) and may be
quoted; a UTF-8 byte-order mark and Windows-1252 text (Excel's exports) are
read; column names match ignoring case and surrounding spaces. Heights are in
centimetres (stored in metres), weights in kilograms; a comma may be the
decimal mark. A blank cell means "not known" and changes nothing; a value that
is not a number, or not a plausible height (20-300 cm) or weight (0.2-700 kg),
makes its row "unreadable value", and such a row changes nothing (a cell that
cannot be read may mean the row's columns are out of place).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.errors import InvalidFile

#: Per-row outcomes, as the CLI, the API and the event log name them.
UPDATED, UNCHANGED, NO_SUCH_STUDY, UNREADABLE = "updated", "unchanged", "no such study", "unreadable value"

#: Plausible values in the file's units: (name, unit in the file, lowest, highest, factor to the stored unit).
LIMITS = {
    "height_m": ("height", "cm", 20.0, 300.0, 0.01),
    "weight_kg": ("weight", "kg", 0.2, 700.0, 1.0),
}


@dataclass(frozen=True)
class SizeRow:
    """One row of the file: the study it names and the sizes it gives (stored units)."""

    line: int  # line of the file, the header being line 1
    study: str  # accession number or Study Instance UID
    sizes: Mapping[str, float]  # {"height_m": ..., "weight_kg": ...}, blank cells left out
    problem: str | None = None  # why the row cannot be used


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel  # one column, or nothing to tell the separator by


def _columns(header: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Return the position of each wanted column, or raise naming the missing one."""
    names = [name.strip().lstrip("\ufeff").casefold() for name in header]
    positions = []
    for column in wanted:
        if column.strip().casefold() not in names:
            found = ", ".join(repr(name.strip()) for name in header) or "none"
            raise InvalidFile(f"the file has no column {column!r}; its columns are {found}")
        positions.append(names.index(column.strip().casefold()))
    return positions


def _size(cell: str, field: str) -> tuple[float | None, str | None]:
    """Return a cell's value in the stored unit (None when blank), or the problem with it."""
    name, unit, lowest, highest, factor = LIMITS[field]
    text = cell.strip().replace(",", ".")
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, f"{name} {cell.strip()!r} is not a number"
    if not lowest <= value <= highest:
        return None, f"{name} {cell.strip()} is not a plausible {name} in {unit} ({lowest:g}-{highest:g})"
    return float(f"{value * factor:.12g}"), None


def _row(line: int, cells: list[str], positions: list[int]) -> SizeRow:
    cells = cells + [""] * (max(positions) + 1 - len(cells))
    study, height, weight = (cells[p].strip() for p in positions)
    sizes, problems = {}, []
    for field, cell in (("height_m", height), ("weight_kg", weight)):
        value, problem = _size(cell, field)
        if value is not None:
            sizes[field] = value
        problems += [problem] if problem else []
    if not study:
        problems.append("the study column is blank")
    return SizeRow(line, study, sizes, "; ".join(problems) or None)


def parse_sizes(
    data: bytes | str, id_column: str, height_column: str, weight_column: str, *, max_rows: int | None = None
) -> list[SizeRow]:
    """Read a patient-size CSV into rows; raise :class:`InvalidFile` when it cannot be used at all.

    A file of more than ``max_rows`` rows (not counting blank ones) cannot: it is refused whole.
    """
    text = _decode(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    if not text.strip():
        raise InvalidFile("the file is empty; expected a header row and one row per study")
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text), strict=True)
    rows = []
    try:
        positions = _columns(next(reader), [id_column, height_column, weight_column])
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append(_row(start, cells, positions))
                if max_rows is not None and len(rows) > max_rows:
                    raise InvalidFile(
                        f"the file has more than {max_rows:,} rows (DOSELEDGER_MAX_SIZE_ROWS); split it, "
                        "or raise the limit"
                    )
            start = reader.line_num + 1
    except csv.Error as e:
        raise InvalidFile(f"line {reader.line_num} is not readable as CSV: {e}") from e
    return rows


def changes_for(patient: Mapping[str, Any], sizes: Mapping[str, float], *, overwrite: bool) -> dict[str, float]:
    """Return the patient fields a row sets: only missing ones unless ``overwrite``, never an equal value."""
    return {
        field: value
        for field, value in sizes.items()
        if patient.get(field) != value and (overwrite or patient.get(field) is None)
    }
