"""Study Root C-FIND (PS3.4 C.6.2): studies by date and modality, then the series and instances of one study.

Studies are asked for one modality at a time (Modalities in Study single-value
matching, which every PACS supports, where a list of values is optional) and
merged by Study Instance UID: a PACS may answer one study several times (Orthanc
does when its objects name different patients). A PACS that ignores the
modality key is caught by checking its answers. Series and instances are asked
for with the unique keys of the levels above (hierarchical search, PS3.4
C.4.1.3.1). Answers are bounded (:data:`MAX_ANSWERS`); a failure status, a
timeout or an abort is a :class:`~service.errors.PacsError` naming the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

from service.dicomnet.association import settle
from service.dicomnet.nodes import Node
from service.dicomnet.selection import Criteria, FoundInstance, FoundSeries, FoundStudy
from service.errors import PacsError

#: the most answers one C-FIND may give: a bound on memory, and on a PACS that ignores the matching keys
MAX_ANSWERS = 100_000
PENDING = (0xFF00, 0xFF01)
SUCCESS = 0x0000
#: C-FIND failure statuses (PS3.4 C.4.1.1.4)
FIND_FAILURES = {
    0xA700: "Refused: Out of Resources",
    0xA900: "Identifier Does Not Match SOP Class",
    0xFE00: "Matching terminated due to Cancel",
}


def _value(answer: Dataset, keyword: str) -> Any:
    """Return an attribute of an answer, or None when it is missing or cannot be read."""
    try:
        return answer.get(keyword)
    except Exception:  # a malformed value from the PACS reads as missing
        return None


def text(answer: Dataset, keyword: str) -> str:
    """Return an attribute of an answer as text ('' when missing)."""
    value = _value(answer, keyword)
    return "" if value is None else str(value).strip()


def texts(answer: Dataset, keyword: str) -> tuple[str, ...]:
    """Return a multi-valued attribute of an answer as a tuple of texts."""
    value = _value(answer, keyword)
    if value is None or value == "":
        return ()
    values = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
    return tuple(str(item).strip() for item in values if str(item).strip())


def number(answer: Dataset, keyword: str) -> int | None:
    """Return an integer attribute of an answer, or None when missing or not a number."""
    try:
        return int(str(_value(answer, keyword)).strip())
    except ValueError:
        return None


def find(assoc: Association, node: Node, identifier: Dataset) -> Iterator[Dataset]:
    """Send one C-FIND and yield its matches; raise PacsError on a failure, a timeout or too many answers."""
    level = identifier.QueryRetrieveLevel
    for count, (status, answer) in enumerate(assoc.send_c_find(identifier, FIND)):
        code = status.get("Status")
        if code is None:
            raise PacsError(f"{node.address} stopped answering a {level}-level C-FIND (timeout or abort).")
        if code == SUCCESS:
            settle(assoc)
            return
        if code not in PENDING:
            meaning = FIND_FAILURES.get(code, "Unable to Process" if code >> 12 == 0xC else "failure")
            raise PacsError(f"{node.address} answered a {level}-level C-FIND with status {code:#06x} ({meaning}).")
        if count >= MAX_ANSWERS:
            raise PacsError(
                f"{node.address} gave more than {MAX_ANSWERS} answers to a {level}-level C-FIND; narrow the date range."
            )
        if answer is not None:
            yield answer


#: the attributes asked back at each level (return keys), the first of them the level's unique key (PS3.4 C.6.2.1)
RETURN_KEYS = {
    "STUDY": ("StudyInstanceUID", "StudyDescription", "AccessionNumber"),
    "SERIES": (
        "SeriesInstanceUID",
        "Modality",
        "SeriesDescription",
        "SeriesNumber",
        "StationName",
        "SeriesDate",
        "SeriesTime",
    ),
    "IMAGE": ("SOPInstanceUID", "SOPClassUID", "InstanceNumber"),
}


def _identifier(level: str, **matching: Any) -> Dataset:
    """Return a C-FIND identifier: the matching keys with their values, the level's return keys empty."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword in RETURN_KEYS[level]:
        setattr(identifier, keyword, "")
    for keyword, value in matching.items():
        setattr(identifier, keyword, value)
    return identifier


def _answers(assoc: Association, node: Node, level: str, **matching: Any) -> dict[str, Dataset]:
    """Return a C-FIND's answers by the level's unique key, the first answer of each (a PACS may repeat one)."""
    unique = RETURN_KEYS[level][0]
    answers: dict[str, Dataset] = {}
    for answer in find(assoc, node, _identifier(level, **matching)):
        if (uid := text(answer, unique)) and uid not in answers:
            answers[uid] = answer
    return answers


def find_studies(assoc: Association, node: Node, criteria: Criteria) -> list[FoundStudy]:
    """Return the studies in the criteria's date range with any of its modalities, by date then UID."""
    found: dict[str, FoundStudy] = {}
    for modality in criteria.modalities:
        identifier = _identifier("STUDY", StudyDate=criteria.date_range, ModalitiesInStudy=modality)
        for answer in find(assoc, node, identifier):
            study = _study(answer)
            if study.uid and (not study.modalities or modality in study.modalities):
                found[study.uid] = _merged(found.get(study.uid), study)
    return sorted(found.values(), key=lambda study: (study.date, study.uid))


def _study(answer: Dataset) -> FoundStudy:
    return FoundStudy(
        uid=text(answer, "StudyInstanceUID"),
        date=text(answer, "StudyDate"),
        description=text(answer, "StudyDescription"),
        accession_number=text(answer, "AccessionNumber"),
        modalities=texts(answer, "ModalitiesInStudy"),
    )


def _merged(known: FoundStudy | None, study: FoundStudy) -> FoundStudy:
    """Merge two answers about one study: modalities add up, the first non-empty text wins."""
    if known is None:
        return study
    return FoundStudy(
        uid=known.uid,
        date=known.date or study.date,
        description=known.description or study.description,
        accession_number=known.accession_number or study.accession_number,
        modalities=tuple(sorted(set(known.modalities) | set(study.modalities))),
    )


def find_series(assoc: Association, node: Node, study_uid: str) -> list[FoundSeries]:
    """Return the series of one study."""
    return [
        FoundSeries(
            uid=uid,
            modality=text(answer, "Modality").upper(),
            description=text(answer, "SeriesDescription"),
            number=number(answer, "SeriesNumber"),
            station=text(answer, "StationName"),
            when=f"{text(answer, 'SeriesDate')}{text(answer, 'SeriesTime')}",
        )
        for uid, answer in _answers(assoc, node, "SERIES", StudyInstanceUID=study_uid).items()
    ]


def find_instances(assoc: Association, node: Node, study_uid: str, series_uid: str) -> list[FoundInstance]:
    """Return the instances of one series, with their SOP classes where the PACS gives them."""
    answers = _answers(assoc, node, "IMAGE", StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid)
    return [
        FoundInstance(uid, text(answer, "SOPClassUID"), number(answer, "InstanceNumber"))
        for uid, answer in answers.items()
    ]
