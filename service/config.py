"""Configuration from defaults, then environment variables, then a test mapping (the typed Settings: service.settings).

Every setting is named by its environment variable. :func:`load_settings` reads
them once at start; a missing or malformed value raises
:class:`service.errors.ConfigurationError` naming the variable and saying how to
fix it, so a bad deployment fails before it serves a single request.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from service.dicomnet.settings import addresses, ae_title, ae_titles, time_of_day
from service.errors import ConfigurationError
from service.hosts import parse_host_names
from service.settings import DEFAULT_KEEP_NOT_DICOM_BYTES, DEFAULT_MAX_UPLOAD_BYTES, Settings

#: read as service.config's: the settings, and the defaults other modules use
__all__ = ["DEFAULT_KEEP_NOT_DICOM_BYTES", "DEFAULT_MAX_UPLOAD_BYTES", "VARIABLES", "Settings", "load_settings"]

LOG_FORMATS = ("text", "json")
_DB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


def _text(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ConfigurationError(f"{name} is set but empty; give it a value or unset it.")
    return value


def _uri(name: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigurationError(
            f"{name}={value!r} is not a MongoDB connection string; "
            "it must start with mongodb:// or mongodb+srv://, or be unset to use the embedded database."
        )
    return value


def _uri_file(name: str, raw: str) -> str | None:
    """Read the connection string from a file (a Docker or Kubernetes secret), so the password is in no environment."""
    path = Path(_text(name, raw))
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"{name}={raw!r} cannot be read ({e}); give the file holding the MongoDB URI.") from e
    if not text.startswith(("mongodb://", "mongodb+srv://")):  # the value is a secret: never repeated in messages
        raise ConfigurationError(
            f"{name}={raw!r} does not hold a MongoDB connection string (mongodb:// or mongodb+srv://...)."
        )
    return text


def _db_name(name: str, raw: str) -> str:
    value = raw.strip()
    if not _DB_NAME.match(value):
        raise ConfigurationError(f"{name}={raw!r} is not a usable database name; use 1-63 letters, digits, '_' or '-'.")
    return value


def _path(name: str, raw: str) -> Path:
    return Path(_text(name, raw))


def _int(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not a whole number.") from None
        if not low <= value <= high:
            raise ConfigurationError(f"{name}={value} is out of range; use a value from {low} to {high}.")
        return value

    return parse


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds.") from None
    if not 0 < value <= 3600:
        raise ConfigurationError(f"{name}={value} is out of range; use more than 0 and at most 3600 seconds.")
    return value


def _patterns(name: str, raw: str) -> tuple[str, ...]:
    patterns = tuple(part.strip() for part in raw.split(",") if part.strip())
    return patterns


def _log_level(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError(f"{name}={raw!r} is not a log level; use DEBUG, INFO, WARNING or ERROR.")
    return value


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _FLAGS:
        raise ConfigurationError(f"{name}={raw!r} is not a yes/no value; use true or false.")
    return _FLAGS[value]


#: the shortest patient-key secret accepted (characters); ``secrets.token_hex(32)`` gives 64
MIN_SECRET_LENGTH = 32


def _secret(name: str, raw: str) -> str:
    value = raw.strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} is {len(value)} characters long; use at least {MIN_SECRET_LENGTH} random characters, "
            "for example the output of: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return value


def _years(name: str, raw: str) -> int | None:
    return _int(1, 200)(name, raw) if raw.strip() else None


def _file(name: str, raw: str) -> Path:
    path = Path(_text(name, raw))
    if not path.is_file():
        raise ConfigurationError(f"{name}={raw!r} is not a file that can be read; give the path of a PEM file.")
    return path


def _log_format(name: str, raw: str) -> str:
    if raw.strip().lower() not in LOG_FORMATS:
        raise ConfigurationError(f"{name}={raw!r} is not a log format; use text or json.")
    return raw.strip().lower()


#: variables no longer read, and what replaced them: a start with one set stops saying so
RETIRED = {
    "DOSELEDGER_ALERT_LEVELS": "high-dose alert levels are alert rules now, stored in the database. Unset it and "
    "load your levels as rules with `doseledger alert-rules load FILE` (README, Alerts)",
}


def _delay(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds.") from None
    if not 0 <= value <= 3600:
        raise ConfigurationError(f"{name}={value} is out of range; use 0 to 3600 seconds.")
    return value


def _url(name: str, raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"{name}={raw!r} is not a web address; write it as https://doseledger.example.org.")
    return value or None


def _optional(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _secret_key(name: str, raw: str) -> str:
    value = raw.strip()
    if len(value) < 32:
        raise ConfigurationError(f"{name} is too short to sign sessions; use at least 32 random characters.")
    return value


def _role_groups(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """Parse ``role=group DN;role=group DN`` (DNs hold commas, so ';' separates the pairs)."""
    from service.access import ROLES

    pairs = []
    for part in (p.strip() for p in raw.split(";") if p.strip()):
        role, _, group = part.partition("=")
        if role.strip() not in ROLES or not group.strip():
            raise ConfigurationError(
                f"{name} holds {part!r}; write role=group DN pairs separated by ';', "
                f"with a role among {', '.join(ROLES)}."
            )
        pairs.append((role.strip(), group.strip().lower()))
    return tuple(pairs)


#: environment variable -> (Settings field, parser); the README's table lists the same names
VARIABLES: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "MONGODB_URI": ("mongodb_uri", _uri),
    "MONGODB_URI_FILE": ("mongodb_uri", _uri_file),
    "DOSELEDGER_DB_NAME": ("db_name", _db_name),
    "DOSELEDGER_DATA_DIR": ("data_dir", _path),
    "DOSELEDGER_EMBEDDED_PORT": ("embedded_port", _int(1, 65535)),
    "DOSELEDGER_EMBEDDED_START_TIMEOUT": ("embedded_start_timeout", _seconds),
    "DOSELEDGER_DB_TIMEOUT": ("db_timeout", _seconds),
    "DOSELEDGER_DB_LONG_TIMEOUT": ("db_long_timeout", _seconds),
    "DOSELEDGER_HEALTH_TIMEOUT": ("health_timeout", _seconds),
    "DOSELEDGER_HOST": ("host", _text),
    "DOSELEDGER_PORT": ("port", _int(1, 65535)),
    "DOSELEDGER_TRUSTED_HOSTS": ("trusted_hosts", parse_host_names),
    "DOSELEDGER_MAX_UPLOAD_BYTES": ("max_upload_bytes", _int(1, 2**40)),
    "DOSELEDGER_KEEP_NOT_DICOM_BYTES": ("keep_not_dicom_bytes", _int(0, 2**40)),
    "DOSELEDGER_MAX_SIZE_ROWS": ("max_size_rows", _int(1, 10_000_000)),
    "DOSELEDGER_NOT_PATIENT_PATTERNS": ("not_patient_patterns", _patterns),
    "DOSELEDGER_LOG_LEVEL": ("log_level", _log_level),
    "DOSELEDGER_SCP_ENABLED": ("scp_enabled", _flag),
    "DOSELEDGER_SCP_HOST": ("scp_host", _text),
    "DOSELEDGER_SCP_PORT": ("scp_port", _int(1, 65535)),
    "DOSELEDGER_SCP_AE_TITLE": ("scp_ae_title", ae_title),
    "DOSELEDGER_SCP_ALLOWED_AE_TITLES": ("scp_allowed_ae_titles", ae_titles),
    "DOSELEDGER_SCP_ALLOWED_ADDRESSES": ("scp_allowed_addresses", addresses),
    "DOSELEDGER_SCP_MAX_ASSOCIATIONS": ("scp_max_associations", _int(1, 1000)),
    "DOSELEDGER_SCP_MAX_ASSOCIATIONS_PER_ADDRESS": ("scp_max_associations_per_address", _int(1, 1000)),
    "DOSELEDGER_SCP_IDLE_TIMEOUT": ("scp_idle_timeout", _seconds),
    "DOSELEDGER_SCP_MAX_PDU_BYTES": ("scp_max_pdu_bytes", _int(4096, 16 * 1024 * 1024)),
    "DOSELEDGER_SCP_REQUIRE_CALLED_AE_TITLE": ("scp_require_called_ae_title", _flag),
    "DOSELEDGER_SCP_TLS_CERT": ("scp_tls_cert", _file),
    "DOSELEDGER_SCP_TLS_KEY": ("scp_tls_key", _file),
    "DOSELEDGER_SCP_TLS_CA": ("scp_tls_ca", _file),
    "DOSELEDGER_SCP_METRICS_PORT": ("scp_metrics_port", _int(1, 65535)),
    "DOSELEDGER_METRICS_ALLOWED_ADDRESSES": ("metrics_allowed_addresses", addresses),
    "DOSELEDGER_LOG_FORMAT": ("log_format", _log_format),
    "DOSELEDGER_IMPORT_WORKERS": ("import_workers", _int(1, 32)),
    "DOSELEDGER_SECRET_KEY": ("secret_key", _secret_key),
    "DOSELEDGER_SECURE_COOKIES": ("secure_cookies", _flag),
    "DOSELEDGER_SESSION_HOURS": ("session_hours", _int(1, 24 * 30)),
    "DOSELEDGER_LDAP_URL": ("ldap_url", _optional),
    "DOSELEDGER_LDAP_BIND_DN": ("ldap_bind_dn", _text),
    "DOSELEDGER_LDAP_USER_BASE": ("ldap_user_base", _optional),
    "DOSELEDGER_LDAP_USER_FILTER": ("ldap_user_filter", _text),
    "DOSELEDGER_LDAP_GROUP_BASE": ("ldap_group_base", _text),
    "DOSELEDGER_LDAP_GROUP_FILTER": ("ldap_group_filter", _text),
    "DOSELEDGER_LDAP_ROLE_GROUPS": ("ldap_role_groups", _role_groups),
    "DOSELEDGER_LDAP_START_TLS": ("ldap_start_tls", _flag),
    "DOSELEDGER_LDAP_TIMEOUT": ("ldap_timeout", _seconds),
    "DOSELEDGER_PATIENT_KEY_SECRET": ("patient_key_secret", _secret),
    "DOSELEDGER_RETENTION_YEARS": ("retention_years", _years),
    "DOSELEDGER_SMTP_HOST": ("smtp_host", _optional),
    "DOSELEDGER_SMTP_PORT": ("smtp_port", _int(1, 65535)),
    "DOSELEDGER_SMTP_STARTTLS": ("smtp_starttls", _flag),
    "DOSELEDGER_SMTP_USER": ("smtp_user", _optional),
    "DOSELEDGER_SMTP_PASSWORD": ("smtp_password", _optional),
    "DOSELEDGER_SMTP_FROM": ("smtp_from", _text),
    "DOSELEDGER_WEBHOOK_SECRET": ("webhook_secret", _optional),
    "DOSELEDGER_PUBLIC_URL": ("public_url", _url),
    "DOSELEDGER_NOTIFY_DIGEST_SECONDS": ("notify_digest_seconds", _delay),
    "DOSELEDGER_NOTIFY_RETRY_SECONDS": ("notify_retry_seconds", _delay),
    "DOSELEDGER_PACS_TIMEOUT": ("pacs_timeout", _seconds),
    "DOSELEDGER_PACS_NIGHTLY_NODE": ("pacs_nightly_node", _optional),
    "DOSELEDGER_PACS_NIGHTLY_DAYS": ("pacs_nightly_days", _int(1, 3650)),
    "DOSELEDGER_PACS_NIGHTLY_AT": ("pacs_nightly_at", time_of_day),
}


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings from defaults, then ``environ``, then ``overrides``.

    ``environ`` defaults to :data:`os.environ`. ``overrides`` (the test mapping
    given to ``create_app``) uses the same variable names; its values may be
    strings, which are parsed like the environment, or already typed values.
    Keys of ``overrides`` that are not settings are ignored here (they are
    Flask settings such as ``TESTING``).
    """
    environ = os.environ if environ is None else environ
    for variable, instead in RETIRED.items():
        if variable in environ or variable in (overrides or {}):
            raise ConfigurationError(f"{variable} is no longer read: {instead}.")
    if environ.get("MONGODB_URI") and environ.get("MONGODB_URI_FILE"):
        raise ConfigurationError("MONGODB_URI and MONGODB_URI_FILE are both set; set one of them.")
    values: dict[str, Any] = {}
    for variable, (field, parse) in VARIABLES.items():
        if variable in environ:
            values[field] = parse(variable, environ[variable])
    for variable, value in (overrides or {}).items():
        if variable not in VARIABLES:
            continue
        field, parse = VARIABLES[variable]
        values[field] = parse(variable, value) if isinstance(value, str) else _typed(variable, field, value)
    return _check_tls(_check_directory(Settings(**values)))


def _check_directory(settings: Settings) -> Settings:
    """Refuse a directory sign-in that is switched on but cannot work."""
    if settings.ldap_url is None:
        return settings
    if not settings.ldap_url.startswith(("ldap://", "ldaps://")):
        raise ConfigurationError(f"DOSELEDGER_LDAP_URL={settings.ldap_url!r} must start with ldap:// or ldaps://.")
    missing = [
        variable
        for variable, present in (
            ("DOSELEDGER_LDAP_BIND_DN (with {username})", "{username}" in settings.ldap_bind_dn),
            ("DOSELEDGER_LDAP_GROUP_BASE", bool(settings.ldap_group_base)),
            ("DOSELEDGER_LDAP_ROLE_GROUPS", bool(settings.ldap_role_groups)),
        )
        if not present
    ]
    if missing:
        raise ConfigurationError(f"DOSELEDGER_LDAP_URL is set, so set {', '.join(missing)} as well.")
    return settings


def _check_tls(settings: Settings) -> Settings:
    """Refuse an incomplete TLS configuration of the Storage SCP."""
    cert, key, ca = settings.scp_tls_cert, settings.scp_tls_key, settings.scp_tls_ca
    if (cert is None) != (key is None) or (ca is not None and cert is None):
        raise ConfigurationError("Set DOSELEDGER_SCP_TLS_CERT and _KEY together (_CA needs both), or none of them.")
    return settings


def _typed(variable: str, field: str, value: Any) -> Any:
    """Accept an already-typed override, checking it like the parsed form."""
    if field == "not_patient_patterns":
        return tuple(value)
    if isinstance(value, list | tuple):
        return VARIABLES[variable][1](variable, ",".join(map(str, value)))
    if field == "data_dir":
        return Path(value)
    nullable = ("mongodb_uri", "ldap_url", "ldap_user_base", "secret_key", "patient_key_secret", "retention_years")
    nullable += ("smtp_host", "smtp_user", "smtp_password", "webhook_secret", "public_url", "pacs_nightly_node")
    if (value is None and field in nullable) or isinstance(value, dt.time):
        return value
    return VARIABLES[variable][1](variable, str(value))
