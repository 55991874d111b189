"""The Storage SCP over TLS (DOSELEDGER_SCP_TLS_*), and `doseledger echo`, the C-ECHO health check."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.config import load_settings
from service.dicomnet.scp import StorageSCP
from service.errors import ConfigurationError
from service.ingest.pipeline import Pipeline


@dataclass(frozen=True)
class Certificates:
    """A CA, a certificate it signed for the SCP, and a self-signed one (PEM files)."""

    ca: Path
    cert: Path
    key: Path
    self_signed: Path
    self_signed_key: Path


def openssl(*args: str | Path) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        pytest.fail("openssl (Debian package openssl) is missing; .ci/run installs it")
    subprocess.run([tool, *map(str, args)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    new_key = ("-newkey", "rsa:2048", "-nodes", "-days", "2")
    openssl("req", "-x509", *new_key, "-keyout", folder / "ca.key", "-out", folder / "ca.pem", "-subj", "/CN=Test CA")
    openssl("req", *new_key, "-keyout", folder / "scp.key", "-out", folder / "scp.csr", "-subj", "/CN=doseledger")
    openssl(
        "x509", "-req", "-in", folder / "scp.csr", "-CA", folder / "ca.pem", "-CAkey", folder / "ca.key",
        "-CAcreateserial", "-out", folder / "scp.pem", "-days", "2",
    )  # fmt: skip
    openssl("req", "-x509", *new_key, "-keyout", folder / "self.key", "-out", folder / "self.pem", "-subj", "/CN=x")
    return Certificates(
        folder / "ca.pem", folder / "scp.pem", folder / "scp.key", folder / "self.pem", folder / "self.key"
    )


def tls_settings(cert: Path, key: Path, ca: Path | None = None) -> dict[str, str]:
    settings = {"DOSELEDGER_SCP_TLS_CERT": str(cert), "DOSELEDGER_SCP_TLS_KEY": str(key)}
    return {**settings, "DOSELEDGER_SCP_TLS_CA": str(ca)} if ca else settings


@pytest.fixture
def start_scp(pipeline: Pipeline) -> Iterator[Any]:
    servers: list[StorageSCP] = []

    def start(**environment: str) -> StorageSCP:
        servers.append(StorageSCP.for_pipeline(pipeline, load_settings(environment), port=0))
        servers[-1].start()
        return servers[-1]

    yield start
    for server in servers:
        server.stop(grace=0)


def test_echo_answers_from_a_plain_scp(scp: StorageSCP, runner: Any) -> None:
    result = runner.invoke(["echo", "--port", str(scp.port)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"C-ECHO to DOSELEDGER@127.0.0.1:{scp.port}: success (0x0000) in ")


def test_echo_says_when_nothing_answers(runner: Any) -> None:
    from service.storage.embedded import free_port

    port = free_port()
    result = runner.invoke(["echo", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr == f"C-ECHO to DOSELEDGER@127.0.0.1:{port}: nothing answers (Connection refused).\n"


def test_echo_names_a_refused_calling_ae_title(start_scp: Any, runner: Any) -> None:
    server = start_scp(DOSELEDGER_SCP_ALLOWED_AE_TITLES="CT_ROOM1")
    refused = runner.invoke(["echo", "--port", str(server.port)])
    assert refused.exit_code == 1 and "rejected (is HEALTHCHECK allowed?)" in refused.stderr
    allowed = runner.invoke(["echo", "--port", str(server.port), "--calling-ae-title", "CT_ROOM1"])
    assert allowed.exit_code == 0


def test_the_scp_speaks_tls_with_its_certificate(start_scp: Any, runner: Any, certificates: Certificates) -> None:
    settings = tls_settings(certificates.self_signed, certificates.self_signed_key)
    server = start_scp(**settings)
    secure = runner.invoke(["echo", "--port", str(server.port)], **settings)
    assert secure.exit_code == 0, secure.stderr
    assert f"DOSELEDGER@127.0.0.1:{server.port} (TLS): success" in secure.stdout
    plain = runner.invoke(["echo", "--port", str(server.port)])
    assert plain.exit_code == 1 and "no association (a TLS mismatch" in plain.stderr


def test_with_a_ca_the_scp_requires_a_client_certificate_it_signed(
    start_scp: Any, runner: Any, certificates: Certificates
) -> None:
    settings = tls_settings(certificates.cert, certificates.key, certificates.ca)
    server = start_scp(**settings)
    assert runner.invoke(["echo", "--port", str(server.port)], **settings).exit_code == 0

    trusted = _client(certificates, certificates.cert, certificates.key)
    assert _dialogue(server.port, trusted).startswith(A_ABORT)  # TLS holds; the SCP answers our bogus PDU
    assert _dialogue(server.port, _client(certificates)) == b""  # no certificate: TLS refused
    stranger = _client(certificates, certificates.self_signed, certificates.self_signed_key)
    assert _dialogue(server.port, stranger) == b""  # a certificate the CA did not sign


#: a PDU type no DICOM peer knows (PS3.8 9.3): the SCP answers it with A-ABORT (type 0x07)
BOGUS_PDU = bytes([0x99, 0, 0, 0, 0, 0])
A_ABORT = b"\x07"


def _client(certificates: Certificates, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cafile=str(certificates.ca))
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    return context


def _dialogue(port: int, context: ssl.SSLContext) -> bytes:
    """Send a bogus PDU over TLS and return what comes back (nothing when TLS was refused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(BOGUS_PDU)
                return tls.recv(16)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_tls_settings_are_checked_at_start(certificates: Certificates, tmp_path: Path) -> None:
    together = re.escape("Set DOSELEDGER_SCP_TLS_CERT and _KEY together (_CA needs both), or none of them.")
    with pytest.raises(ConfigurationError, match=together):
        load_settings({"DOSELEDGER_SCP_TLS_CERT": str(certificates.cert)})
    with pytest.raises(ConfigurationError, match=together):
        load_settings({"DOSELEDGER_SCP_TLS_CA": str(certificates.ca)})
    with pytest.raises(ConfigurationError, match=re.escape("DOSELEDGER_SCP_TLS_KEY='/nowhere.pem' is not a file")):
        load_settings({"DOSELEDGER_SCP_TLS_CERT": str(certificates.cert), "DOSELEDGER_SCP_TLS_KEY": "/nowhere.pem"})


def test_a_key_that_is_not_the_certificates_is_named(
    start_scp: Any, certificates: Certificates, pipeline: Pipeline
) -> None:
    settings = load_settings(tls_settings(certificates.cert, certificates.self_signed_key))
    with pytest.raises(ConfigurationError, match=r"cannot be used: .*give a PEM certificate chain"):
        StorageSCP.for_pipeline(pipeline, settings, port=0)
