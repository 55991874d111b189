"""The small error hierarchy of DoseLedger.

Every error carries a full sentence that names the evidence (which object, what
was found, what was expected). The web layer maps the classes to HTTP statuses;
nothing below it knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DoseLedgerError(Exception):
    """Base class of every error DoseLedger raises on purpose."""


class RejectedObject(DoseLedgerError):
    """An object that was received but cannot become (part of) a study document."""

    #: short machine-readable reason, used in the event log and JSON errors
    code = "rejected"


class NotDicom(RejectedObject):
    """The bytes are empty, truncated or not a DICOM Part 10 file."""

    code = "not-dicom"


class NotADoseObject(RejectedObject):
    """A readable DICOM object that carries no dose information DoseLedger knows."""

    code = "not-a-dose-object"


class InvalidDoseReport(RejectedObject):
    """A dose object whose content breaks the template in a way we cannot repair."""

    code = "invalid-dose-report"


class TooLarge(RejectedObject):
    """An upload larger than the configured limit."""

    code = "too-large"


class InvalidFile(DoseLedgerError):
    """An uploaded file other than a dose object (a patient-size CSV) that cannot be used."""

    code = "invalid-file"


class TooWide(DoseLedgerError):
    """An export whose rows would have more columns than a spreadsheet opens."""

    code = "too-wide"


class NotFound(DoseLedgerError):
    """A requested record does not exist."""


class ConfigurationError(DoseLedgerError):
    """A setting is missing or malformed; raised at start."""


class DatabaseUnavailable(DoseLedgerError):
    """The database cannot be reached; the caller should retry later."""


class DatabaseTimeout(DatabaseUnavailable):
    """The database did not answer within an operation's deadline (frozen, or busy)."""


class PacsError(DoseLedgerError):
    """A remote DICOM node failed us: association refused or aborted, no answer in time, a failure status."""

    code = "pacs-error"


class InvalidArgument(DoseLedgerError):
    """Request arguments that break their schema; ``errors`` maps each argument to what was expected."""

    code = "invalid-argument"

    def __init__(self, errors: dict[str, Any]) -> None:
        self.errors = errors
        details = "; ".join(f"{name}: {_sentence(errors[name])}" for name in sorted(errors))
        super().__init__(f"Invalid argument{'s' if len(errors) > 1 else ''}: {details}")


def _sentence(messages: Any) -> str:
    return " ".join(messages) if isinstance(messages, list) else str(messages)


class NotSignedIn(DoseLedgerError):
    """A request without credentials, or with credentials that are wrong, revoked or disabled."""

    code = "unauthorized"


class AccessDenied(DoseLedgerError):
    """A signed-in user or token without the role a route needs."""

    code = "forbidden"


class TooManyAttempts(DoseLedgerError):
    """Too many failed sign-ins from one address; ``retry_after`` says how many seconds to wait."""

    code = "too-many-attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Conflict(DoseLedgerError):
    """A name that is already taken (a user, a token, a PACS node), or a query/retrieve run already under way."""

    code = "conflict"
