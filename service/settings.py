"""The typed, frozen settings of one DoseLedger process, with their defaults.

:mod:`service.config` fills them from the environment (and a test mapping),
naming each by its variable; this module only says what there is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8080
DEFAULT_EMBEDDED_PORT = 27018
DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: rows of a patient-size file (service.ingest.patient_sizes) at most
DEFAULT_MAX_SIZE_ROWS = 100_000
#: how much of an object that cannot be read as DICOM is kept (with the SHA-256 and length of the whole)
DEFAULT_KEEP_NOT_DICOM_BYTES = 1024 * 1024
DEFAULT_NOT_PATIENT_PATTERNS = ("phy", "test", "qa")
DEFAULT_SCP_PORT = 11112  # the registered DICOM port (PS3.15 E.1); 104 needs root
DEFAULT_SCP_AE_TITLE = "DOSELEDGER"
#: worker threads of `doseledger import` (service.ingest.batch); measured with bench/import_rate.py
DEFAULT_IMPORT_WORKERS = 2
DEFAULT_METRICS_ALLOWED = ("127.0.0.0/8", "::1")  # loopback


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one DoseLedger process."""

    #: MongoDB connection string; ``None`` starts the embedded SecantusDB server
    mongodb_uri: str | None = None
    db_name: str = "doseledger"
    data_dir: Path = Path("var/db")
    embedded_port: int = DEFAULT_EMBEDDED_PORT
    embedded_start_timeout: float = 30.0
    #: seconds each database operation may take (ingest, pages, the event log...), then 503 / 0xA700
    db_timeout: float = 5.0
    #: seconds each database operation of an audit or an export (one slice) may take
    db_long_timeout: float = 60.0
    #: seconds /healthz waits for the database before answering 503
    health_timeout: float = 1.5
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: rows of a patient-size file (service.ingest.patient_sizes) at most
    max_size_rows: int = DEFAULT_MAX_SIZE_ROWS
    keep_not_dicom_bytes: int = DEFAULT_KEEP_NOT_DICOM_BYTES
    not_patient_patterns: tuple[str, ...] = DEFAULT_NOT_PATIENT_PATTERNS
    log_level: str = "INFO"
    #: the DICOM Storage SCP (service.dicomnet) that ``doseledger serve`` starts beside the web service
    scp_enabled: bool = True
    scp_host: str = "0.0.0.0"
    scp_port: int = DEFAULT_SCP_PORT
    scp_ae_title: str = DEFAULT_SCP_AE_TITLE
    scp_allowed_ae_titles: tuple[str, ...] = ()
    scp_allowed_addresses: tuple[str, ...] = ()
    scp_max_associations: int = 16
    scp_max_associations_per_address: int = 4
    scp_idle_timeout: float = 10.0
    scp_max_pdu_bytes: int = 65536
    scp_require_called_ae_title: bool = True
    #: TLS of the Storage SCP: certificate chain and key (PEM); with a CA, callers must present a certificate it signed
    scp_tls_cert: Path | None = None
    scp_tls_key: Path | None = None
    scp_tls_ca: Path | None = None
    #: where ``doseledger scp`` serves its own /metrics (None: it does not)
    scp_metrics_port: int | None = None
    #: who may read /metrics (Prometheus); loopback only unless set
    metrics_allowed_addresses: tuple[str, ...] = DEFAULT_METRICS_ALLOWED
    #: ``text`` or ``json`` (one JSON object per line)
    log_format: str = "text"
    import_workers: int = DEFAULT_IMPORT_WORKERS
    #: query/retrieve (service.dicomnet): seconds to wait for a PACS; the nightly run's node (None: off), days, time
    pacs_timeout: float = 30.0
    pacs_nightly_node: str | None = None
    pacs_nightly_days: int = 7
    pacs_nightly_at: dt.time = dt.time(2, 0)
    #: Host header names served (Flask's TRUSTED_HOSTS); empty: localhost and the bound address
    trusted_hosts: tuple[str, ...] = ()
    #: signs session cookies and CSRF tokens; ``None``: generated once into ``<state_dir>/secret-key``
    secret_key: str | None = None
    #: mark cookies Secure (only sent over HTTPS): set behind TLS
    secure_cookies: bool = False
    #: a browser session ends this many hours after sign-in
    session_hours: int = 12
    #: directory sign-in (service.access.directory); ``None``: local accounts only
    ldap_url: str | None = None
    #: the DN (or AD user principal name) to bind as, with ``{username}`` for the name typed
    ldap_bind_dn: str = ""
    #: where to look the user's entry up after binding (AD binds by principal name); ``None``: the bind DN is it
    ldap_user_base: str | None = None
    ldap_user_filter: str = "(uid={username})"
    ldap_group_base: str = ""
    ldap_group_filter: str = "(member={user_dn})"
    #: (role, group DN in lower case) pairs: members of the group hold the role
    ldap_role_groups: tuple[tuple[str, str], ...] = ()
    ldap_start_tls: bool = False
    ldap_timeout: float = 5.0
    #: the site secret of the patient key (service.access.patient_key); None: ``<state_dir>/patient-key-secret``
    patient_key_secret: str | None = dataclasses.field(default=None, repr=False)
    #: studies older than this many years are purged by ``doseledger purge`` without --before; None: kept
    retention_years: int | None = None
    #: alert notifications (service.alerts.notify): the SMTP server; ``None``: e-mails wait in the outbox
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "doseledger@localhost"
    #: the key webhook bodies are signed with (HMAC-SHA256); ``None``: webhooks wait in the outbox
    webhook_secret: str | None = None
    #: the address of DoseLedger that notifications link to; ``None``: http://<host>:<port>
    public_url: str | None = None
    #: seconds a recipient's first alert waits for others to join it in one digest
    notify_digest_seconds: float = 60.0
    #: seconds before the first retry of a notification that failed (doubling, at most an hour)
    notify_retry_seconds: float = 30.0

    @property
    def embedded(self) -> bool:
        """Tell whether this process must run its own database server."""
        return self.mongodb_uri is None

    @property
    def state_dir(self) -> Path:
        """Return the folder of the files DoseLedger keeps beside its database: the parent of ``data_dir``."""
        return self.data_dir.parent
