"""The embedded database: a SecantusDB server started and stopped by DoseLedger.

When ``MONGODB_URI`` is unset, ``doseledger serve`` (and every CLI command that
needs data) runs ``secantusd-py`` on 127.0.0.1 with its WiredTiger files under
``DOSELEDGER_DATA_DIR``, waits until it answers ``ping``, and stops it on exit
(normal exit, Ctrl-C or SIGTERM). If a server already answers on the embedded
port, for example the one of a running ``make run`` when ``doseledger import``
is started beside it, that server is used and left running.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from service.config import Settings
from service.errors import ConfigurationError, DatabaseUnavailable
from service.storage.connection import ping_uri

log = logging.getLogger(__name__)

EXECUTABLE = "secantusd-py"
_STOP_TIMEOUT = 15.0


def find_executable() -> Path:
    """Return the ``secantusd-py`` of this Python environment (next to ``sys.executable``)."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.exists():
        return beside
    found = shutil.which(EXECUTABLE)
    if found:
        return Path(found)
    raise ConfigurationError(
        f"{EXECUTABLE} was not found next to {sys.executable} nor on PATH. Install DoseLedger with its "
        "dependencies (pip install -e .) or set MONGODB_URI to use an existing MongoDB."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def uri_for(host: str, port: int) -> str:
    """Return the connection string of a single local SecantusDB server.

    Retryable writes are off: SecantusDB keeps a record of every retryable write
    for 30 minutes (up to 10,000) and scans them all, or sorts them once full, on
    each write; an import of CT reports fell from 92 to 27 reports/s once full.
    A retry would only cover a lost reply on the loopback, and ingest does not
    need it: a failed write fails the object, nothing is acknowledged, and the
    resent object is recognised (the same bytes, the same SOP instance).
    """
    return f"mongodb://{host}:{port}/?directConnection=true&retryWrites=false"


class EmbeddedServer:
    """One ``secantusd-py`` process serving a data directory on a local port."""

    def __init__(self, data_dir: Path, port: int, *, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.log_path = self.data_dir.with_name(self.data_dir.name + ".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Return the connection string of this server."""
        return uri_for(self.host, self.port)

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers ``ping``, or raise with the tail of its log."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(find_executable()), "--host", self.host, "--port", str(self.port),
            "--storage-path", str(self.data_dir), "--log-level", "WARNING",
        ]  # fmt: skip
        with self.log_path.open("ab") as log_file:
            # A session of its own: Ctrl-C reaches DoseLedger, which then stops the
            # server after its own shutdown, instead of both racing.
            self.process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        log.info("Embedded SecantusDB is serving %s on %s", self.data_dir, self.uri)

    def _wait_ready(self, timeout: float) -> None:
        """Poll ``ping`` until it answers, the process dies, or ``timeout`` passes."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DatabaseUnavailable(
                    f"The embedded database exited with status {self.process.returncode} at start. "
                    f"Last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if ping_uri(self.uri, timeout=0.5):
                return
            time.sleep(0.1)
        self.stop()
        raise DatabaseUnavailable(
            f"The embedded database did not answer ping on {self.uri} within {timeout:g} s "
            f"(DOSELEDGER_EMBEDDED_START_TIMEOUT). Last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("The embedded database did not stop within %s s; killing it.", _STOP_TIMEOUT)
            process.kill()
            process.wait()


_lock = threading.Lock()
_running: dict[tuple[Path, int], EmbeddedServer] = {}


def database_uri(settings: Settings) -> str:
    """Return the URI to use: ``MONGODB_URI``, or the embedded server's, starting it if needed."""
    if settings.mongodb_uri is not None:
        return settings.mongodb_uri
    key = (settings.data_dir.resolve(), settings.embedded_port)
    with _lock:
        if key in _running:
            return _running[key].uri
        uri = uri_for("127.0.0.1", settings.embedded_port)
        if ping_uri(uri, timeout=0.3):
            log.info("Using the database that already answers on %s", uri)
            return uri
        server = EmbeddedServer(settings.data_dir, settings.embedded_port)
        server.start(settings.embedded_start_timeout)
        _running[key] = server
        _install_stop_handlers()
        return server.uri


def stop_embedded() -> None:
    """Stop every embedded server this process started."""
    with _lock:
        servers = list(_running.values())
        _running.clear()
    for server in servers:
        server.stop()


_handlers_installed = False


def _install_stop_handlers() -> None:
    """Stop the embedded servers at interpreter exit and on SIGTERM."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(stop_embedded)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop_embedded()
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)
