"""The patient key: a pseudonym that links one patient's studies without saying who the patient is.

``patient.key`` is the HMAC-SHA256 (hex) of the Issuer of Patient ID (0010,0021)
and the Patient ID (0010,0020) under a site secret, so it is the same for every
study of one patient, absent when a study has no Patient ID, and cannot be
turned back into the ID without the secret (a hash without a secret could:
patient IDs are few enough to try them all).

The secret is ``DOSELEDGER_PATIENT_KEY_SECRET`` when set, else the file
``patient-key-secret`` in the state folder (the parent of ``DOSELEDGER_DATA_DIR``,
``var/`` by default, beside the session secret and the first admin's password),
which the first start generates (32 random bytes as hex, mode 0600). Another secret
gives other keys and so breaks the links between the studies before and after
it: the database keeps a fingerprint of the secret (an HMAC of a fixed text,
which tells nothing of the secret) and :func:`site_keys` refuses a secret that
does not match it, rather than silently starting new links.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from service.access.bootstrap import write_private
from service.config import MIN_SECRET_LENGTH, Settings
from service.errors import ConfigurationError
from service.storage import Store

SECRET_FILE = "patient-key-secret"
#: the ``site`` entry holding the fingerprint of the secret the database's keys were made with
FINGERPRINT = "patient-key-fingerprint"
_FINGERPRINT_TEXT = b"DoseLedger patient-key secret fingerprint"
#: separates issuer and ID in the keyed text; a backslash cannot occur in an LO value (PS3.5 6.2)
_SEPARATOR = "\\"


class PatientKeys:
    """Compute patient keys under one site secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    def key(self, issuer: str | None, patient_id: str | None) -> str | None:
        """Return the key of a patient (HMAC-SHA256 hex), or None without a Patient ID.

        Both values are stripped of the spaces DICOM pads with; letter case counts,
        as it does in a Patient ID. An absent issuer keys as an empty one.
        """
        patient_id = (patient_id or "").strip()
        if not patient_id:
            return None
        text = f"{(issuer or '').strip()}{_SEPARATOR}{patient_id}"
        return hmac.new(self._secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def fingerprint(self) -> str:
        """Return a fingerprint of the secret that reveals nothing of it."""
        return hmac.new(self._secret, _FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]


def secret_path(settings: Settings) -> Path:
    """Return the file that holds the generated secret."""
    return settings.state_dir / SECRET_FILE


def read_secret(settings: Settings) -> str | None:
    """Return the configured secret (environment, else the file), or None when there is none yet."""
    if settings.patient_key_secret:
        return settings.patient_key_secret
    path = secret_path(settings)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{path} holds {len(secret)} characters, not a patient-key secret of at least {MIN_SECRET_LENGTH}; "
            "restore it from your backup or set DOSELEDGER_PATIENT_KEY_SECRET."
        )
    return secret


def create_secret(settings: Settings) -> str:
    """Generate the secret file (mode 0600) unless another process just did; return the secret in it.

    The file appears whole or not at all, and only once: of two processes
    starting at once, one writes it and the other reads it.
    """
    path = secret_path(settings)
    try:
        write_private(path, secrets.token_hex(32) + "\n", exclusive=True)
    except FileExistsError:
        pass
    except OSError as e:
        raise ConfigurationError(
            f"The patient-key secret cannot be kept in {path} ({e}); set DOSELEDGER_PATIENT_KEY_SECRET "
            "or let DoseLedger write to that folder (DOSELEDGER_DATA_DIR's parent)."
        ) from e
    secret = read_secret(settings)
    assert secret is not None
    return secret


def site_keys(store: Store, settings: Settings) -> PatientKeys:
    """Return the site's patient keys, generating the secret on first start; refuse a secret the database does not know.

    Raises :class:`ConfigurationError` when the database's keys were made with
    another secret (or with a secret that is not here), naming what to do.
    """
    secret = read_secret(settings)
    stored = store.site_value(FINGERPRINT)
    if secret is None:
        if stored is not None:
            raise ConfigurationError(_lost(settings, stored))
        secret = create_secret(settings)
    keys = PatientKeys(secret)
    claimed = store.claim_site_value(FINGERPRINT, keys.fingerprint())
    if claimed != keys.fingerprint():
        raise ConfigurationError(_mismatch(settings, claimed))
    return keys


def _where(settings: Settings) -> str:
    if settings.patient_key_secret:
        return "DOSELEDGER_PATIENT_KEY_SECRET"
    return str(secret_path(settings))


def _lost(settings: Settings, stored: str) -> str:
    return (
        f"This database's patient keys were made with a secret (fingerprint {stored}) that is neither in "
        f"{secret_path(settings)} nor in DOSELEDGER_PATIENT_KEY_SECRET. Restore the file from your backup "
        "(or set the variable). A new secret would break the links between earlier and later studies; "
        f"to accept that, delete the site entry {FINGERPRINT!r} (mongosh: "
        f"db.site.deleteOne({{_id: '{FINGERPRINT}'}}))."
    )


def _mismatch(settings: Settings, stored: str) -> str:
    return (
        f"The patient-key secret in {_where(settings)} is not the one this database's patient keys were made "
        f"with (fingerprint {stored}). Restore the right secret from your backup; to start new links "
        f"instead, delete the site entry {FINGERPRINT!r} (mongosh: db.site.deleteOne({{_id: '{FINGERPRINT}'}}))."
    )
