"""Which studies a query asks a PACS for, and which of their objects carry dose (pure: no network, no database).

A run's :class:`Criteria` select studies by date and by Modalities in Study
(one Study Root C-FIND per modality, PS3.4 C.6.2); the station and study
description filters are applied here, on the PACS's answers, case-insensitively
("contains", like the study lists' filters), because DICOM wildcard matching is
case-sensitive and PACS differ in the attributes they match at each level
(Station Name is a series attribute, which a study-level C-FIND cannot match).

Of each study, :func:`plan` picks the dose objects, series by series
(README, "What is queried for each modality"):

- **SR series**: every instance of an SR class the extractor reads
  (:data:`service.extract.SR_CLASSES`: RDSR, Radiopharmaceutical RDSR, Enhanced,
  Comprehensive, Comprehensive 3D and Extensible SR; an instance whose class the
  PACS does not say is taken too, and ingest decides).
- **Image series** whose headers carry dose, for the modalities the run asks for:
  MG, DX and CR, every image (each image is one exposure), unless the study holds
  an X-Ray Radiation Dose SR, which already has every exposure; NM and PT, one
  image per series (the Radiopharmaceutical Information Sequence and the PET
  series description are the same in every image of a series).
- **Dose screens** (Philips "Dose Info", GE "Dose Report"), only in a study
  without a dose SR, whose events they would repeat: Secondary Capture images of a
  series whose Modality is SC or OT, whose description says "dose", or whose
  number is 999 (GE's dose-report series).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from service.extract import SR_CLASSES

#: the values of Modalities in Study a run may ask for; SR selects studies of dose reports alone
#: (a dose-only archive, or a PACS that keeps the reports apart from the images)
QUERY_MODALITIES = ("CT", "RF", "XA", "DX", "CR", "MG", "NM", "PT", "SR")

ALL, ONE = "all", "one"
#: image series fetched for their headers: modality -> how many of a series' images carry its dose
IMAGE_SERIES = {"MG": ALL, "DX": ALL, "CR": ALL, "NM": ONE, "PT": ONE}
#: image modalities whose exposures an X-Ray Radiation Dose SR of the same study already reports
PROJECTION_IMAGES = frozenset({"MG", "DX", "CR"})
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: what marks a series that may hold a dose screen
SCREEN_MODALITIES = frozenset({"SC", "OT"})
SCREEN_WORD = "dose"
GE_DOSE_SERIES_NUMBER = 999


@dataclass(frozen=True)
class Criteria:
    """What a run asks for: a date range, modalities in study, and text filters applied locally."""

    date_from: date
    date_to: date
    modalities: tuple[str, ...] = QUERY_MODALITIES
    stations: tuple[str, ...] = ()
    exclude_stations: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    exclude_descriptions: tuple[str, ...] = ()

    @property
    def date_range(self) -> str:
        """Return the Study Date range matching key (PS3.4 C.2.2.2.5)."""
        return f"{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}"

    def as_document(self) -> dict[str, Any]:
        """Return the criteria as stored and shown (dates as YYYY-MM-DD)."""
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            **{name: list(getattr(self, name)) for name in (*TEXT_FILTERS, "modalities")},
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Criteria:
        """Build criteria from their stored document."""
        return cls(
            date.fromisoformat(document["date_from"]),
            date.fromisoformat(document["date_to"]),
            **{name: tuple(document.get(name) or ()) for name in TEXT_FILTERS},
            modalities=tuple(document.get("modalities") or QUERY_MODALITIES),
        )


TEXT_FILTERS = ("stations", "exclude_stations", "descriptions", "exclude_descriptions")


@dataclass(frozen=True)
class FoundStudy:
    """One study as a study-level C-FIND answered it."""

    uid: str
    date: str = ""
    description: str = ""
    accession_number: str = ""
    modalities: tuple[str, ...] = ()


@dataclass(frozen=True)
class FoundSeries:
    """One series as a series-level C-FIND answered it."""

    uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    station: str = ""
    #: Series Date and Time as sent (YYYYMMDDHHMMSS.FFFFFF), to take series in the order they were made
    when: str = ""


@dataclass(frozen=True)
class FoundInstance:
    """One instance as an instance-level C-FIND answered it (its SOP class may be unknown: empty)."""

    uid: str
    sop_class: str = ""
    number: int | None = None


@dataclass(frozen=True)
class Pick:
    """The dose objects of one series: those wanted, of those the PACS listed."""

    series: FoundSeries
    kind: str
    listed: tuple[str, ...]
    wanted: tuple[str, ...]
    #: one image stands for the series: any one of its images already known covers it
    one_per_series: bool = False

    def still_wanted(self, known: set[str]) -> tuple[str, ...]:
        """Return the wanted SOP Instance UIDs not yet known to DoseLedger."""
        if self.one_per_series and known.intersection(self.listed):
            return ()
        return tuple(uid for uid in self.wanted if uid not in known)


def _contains_any(value: str, texts: Iterable[str]) -> str | None:
    """Return the first of ``texts`` that ``value`` contains, ignoring case."""
    folded = value.casefold()
    return next((text for text in texts if text.casefold() in folded), None)


def _refusal(what: str, values: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> str | None:
    """Say why ``values`` fail an include/exclude filter, or return None when they pass."""
    for value in values:
        if (text := _contains_any(value, exclude)) is not None:
            return f"its {what} {value!r} contains {text!r}, which the run excludes"
    if include and not any(_contains_any(value, include) for value in values):
        shown = ", ".join(repr(value) for value in values) or "(none given by the PACS)"
        return f"its {what} {shown} contains none of {', '.join(map(repr, include))}"
    return None


def description_refusal(criteria: Criteria, study: FoundStudy) -> str | None:
    """Say why a study's description fails the run's description filters, or return None."""
    values = [study.description] if study.description else []
    return _refusal("study description", values, criteria.descriptions, criteria.exclude_descriptions)


def station_refusal(criteria: Criteria, series: Iterable[FoundSeries]) -> str | None:
    """Say why a study's station names (those of its series) fail the station filters, or return None."""
    stations = sorted({item.station for item in series if item.station})
    return _refusal("station name", stations, criteria.stations, criteria.exclude_stations)


def candidate_kind(series: FoundSeries, modalities: Sequence[str]) -> str | None:
    """Return what dose objects a series may hold (``sr``, ``image``, ``screen``), or None."""
    if series.modality == "SR":
        return "sr"
    if series.modality in IMAGE_SERIES and series.modality in modalities:
        return "image"
    described = SCREEN_WORD in series.description.casefold()
    if series.modality in SCREEN_MODALITIES or described or series.number == GE_DOSE_SERIES_NUMBER:
        return "screen"
    return None


def _order(instance: FoundInstance) -> tuple[int, str]:
    return (instance.number if instance.number is not None else 1 << 31, instance.uid)


def _pick(series: FoundSeries, kind: str, instances: Sequence[FoundInstance]) -> Pick | None:
    """Return what to fetch of one candidate series, or None when it holds nothing of the kind."""
    listed = tuple(instance.uid for instance in sorted(instances, key=_order))
    if kind == "sr":
        wanted = [i.uid for i in sorted(instances, key=_order) if i.sop_class in SR_CLASSES or not i.sop_class]
    elif kind == "screen":
        wanted = [i.uid for i in sorted(instances, key=_order) if i.sop_class in ("", SECONDARY_CAPTURE)]
    elif IMAGE_SERIES[series.modality] == ONE:
        return Pick(series, kind, listed, listed[:1], one_per_series=True) if listed else None
    else:
        wanted = list(listed)
    return Pick(series, kind, listed, tuple(wanted)) if wanted else None


def _series_order(series: FoundSeries) -> tuple[str, int, str]:
    return (series.when, series.number if series.number is not None else 1 << 31, series.uid)


def plan(found: Sequence[tuple[FoundSeries, str, Sequence[FoundInstance]]]) -> list[Pick]:
    """Choose the dose objects of one study from its candidate series and their instances, oldest series first.

    Series come in the order they were made (Series Date and Time, then number),
    so that a scanner's cumulative reports are ingested as it sent them and the
    latest one has the last word, whatever order the PACS lists them in.
    """
    ordered = sorted(found, key=lambda item: _series_order(item[0]))
    picks = [pick for series, kind, instances in ordered if (pick := _pick(series, kind, instances))]
    classes = {i.sop_class for series, kind, instances in found if kind == "sr" for i in instances}
    has_report = any(pick.kind == "sr" for pick in picks)
    has_xray_report = XRAY_DOSE_SR in classes
    return [
        pick
        for pick in picks
        if not (pick.kind == "screen" and has_report)
        and not (pick.kind == "image" and has_xray_report and pick.series.modality in PROJECTION_IMAGES)
    ]
