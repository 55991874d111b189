"""dcmtk's storescu and echoscu as the real DICOM clients of the SCP tests and the benchmark.

dcmtk is the Debian package ``dcmtk`` (``.ci/run`` installs it, as it does the
other Debian tools :func:`require` finds, such as Orthanc). Without a tool the
tests that need it skip with a reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

#: dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set; then each C-STORE waits for a delayed
#: ACK (about 40 ms on Linux) and a sender manages some 20 objects/s whoever receives, even dcmtk's storescp
NO_DELAY = {"TCP_NODELAY": "1"}

#: storescu -v pairs every "Sending file: PATH" with a "Received Store Response (STATUS)"
_SENT = re.compile(r"^I: Sending file: (?P<path>.+)$")
_RESPONSE = re.compile(r"^I: Received Store Response \((?P<status>[^)]*)\)")


def require(tool: str, package: str = "dcmtk") -> str:
    """Return the path of a tool of a Debian package; skip the test without it (fail under CI).

    /usr/sbin is searched too: Debian installs servers such as Orthanc there,
    and it is not on every user's PATH.
    """
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin")
    if path is None:
        message = f"{tool} (Debian package {package}) is not installed; .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def storescu_command(
    port: int,
    files: Iterable[Path],
    *,
    calling: str = "MODALITY",
    called: str = "DOSELEDGER",
    propose: str = "--propose-uncompr",
) -> list[str]:
    """Return a storescu command sending ``files`` in one association.

    Only the SOP classes of the files are proposed (``--required``), each with
    the transfer syntaxes of ``propose`` (storescu's option; by default all
    uncompressed ones, so ``--propose-jpeg8`` sends a JPEG baseline file as it is).
    """
    return [
        "storescu", "-v", "--no-halt", "--required", propose, "-aet", calling, "-aec", called,
        "127.0.0.1", str(port), *map(str, files),
    ]  # fmt: skip


def responses(stderr: str) -> dict[str, str]:
    """Return the C-STORE response status storescu reported for each file it sent, by file name."""
    answers: dict[str, str] = {}
    sent: str | None = None
    for line in stderr.splitlines():
        if match := _SENT.match(line):
            sent = Path(match["path"]).name
        elif (match := _RESPONSE.match(line)) and sent is not None:
            answers[sent] = match["status"]
            sent = None
    return answers


def run_storescu(port: int, files: Sequence[Path], **options: str) -> subprocess.CompletedProcess[str]:
    """Send ``files`` in one association and return the finished storescu."""
    command = storescu_command(port, files, **options)
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **NO_DELAY})


def start_storescu(port: int, files: Sequence[Path], **options: str) -> subprocess.Popen[str]:
    """Start sending ``files`` in one association; read the outcome with ``responses(communicate()[1])``."""
    return subprocess.Popen(
        storescu_command(port, files, **options),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **NO_DELAY},
    )


def storescu(port: int, files: Sequence[Path], **options: str) -> dict[str, str]:
    """Send ``files`` in one association and return storescu's response status per file name."""
    return responses(run_storescu(port, files, **options).stderr)


def echoscu(port: int, *, calling: str = "ECHOSCU", called: str = "DOSELEDGER") -> subprocess.CompletedProcess[str]:
    """Send one C-ECHO (PS3.7 9.1.5) and return the finished process."""
    command = ["echoscu", "-v", "-aet", calling, "-aec", called, "127.0.0.1", str(port)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)
