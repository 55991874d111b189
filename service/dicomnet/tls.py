"""TLS for DICOM (PS3.15 B.1, the Basic TLS Secure Transport Connection Profile) through pynetdicom's ``ssl_context``.

With ``DOSELEDGER_SCP_TLS_CERT`` and ``DOSELEDGER_SCP_TLS_KEY`` set, the Storage
SCP speaks TLS 1.2 or later only; with ``DOSELEDGER_SCP_TLS_CA`` as well, a caller
must present a certificate that CA signed (mutual TLS, as PS3.15 B.1 expects
between known nodes). ``doseledger echo`` uses :func:`client_context` to reach
the SCP the same way.
"""

from __future__ import annotations

import ssl

from service.config import Settings
from service.errors import ConfigurationError


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """Return the SCP's TLS context, or ``None`` when TLS is not configured."""
    if settings.scp_tls_cert is None or settings.scp_tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_identity(context, settings)
    if settings.scp_tls_ca is not None:
        _load_ca(context, settings)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(settings: Settings) -> ssl.SSLContext | None:
    """Return a context for reaching this SCP over TLS (``doseledger echo``), or ``None`` without TLS.

    It trusts ``DOSELEDGER_SCP_TLS_CA`` when set, otherwise the SCP's own
    certificate, and presents the SCP's certificate as its own (a health check
    runs beside the SCP). The host name is not checked: the echo reaches the
    SCP by whatever address it was given, often 127.0.0.1.
    """
    if settings.scp_tls_cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    _load_ca(context, settings)
    _load_identity(context, settings)
    return context


def _load_identity(context: ssl.SSLContext, settings: Settings) -> None:
    try:
        context.load_cert_chain(str(settings.scp_tls_cert), str(settings.scp_tls_key))
    except (ssl.SSLError, OSError) as e:
        raise ConfigurationError(
            f"DOSELEDGER_SCP_TLS_CERT ({settings.scp_tls_cert}) and DOSELEDGER_SCP_TLS_KEY ({settings.scp_tls_key}) "
            f"cannot be used: {e}; give a PEM certificate chain and its unencrypted private key."
        ) from e


def _load_ca(context: ssl.SSLContext, settings: Settings) -> None:
    authority = settings.scp_tls_ca or settings.scp_tls_cert
    try:
        context.load_verify_locations(cafile=str(authority))
    except (ssl.SSLError, OSError) as e:
        variable = "DOSELEDGER_SCP_TLS_CA" if settings.scp_tls_ca else "DOSELEDGER_SCP_TLS_CERT"
        raise ConfigurationError(f"{variable} ({authority}) cannot be used as a CA certificate: {e}.") from e
