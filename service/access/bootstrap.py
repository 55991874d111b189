"""First start: the first administrator, and the secret that signs sessions.

With no user in the database, :func:`ensure_first_admin` creates ``admin`` with
every role and a random password, which the caller prints once; it is also
written to ``<state dir>/initial-admin-password`` (mode 0600; the state dir is
the parent of ``DOSELEDGER_DATA_DIR``, ``var/`` by default) and must be changed
at the first sign-in, after which the file is deleted. Several processes
starting at once (gunicorn's workers) create one admin: the unique index on the
name lets one of them win.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from service.access import ROLES
from service.access.accounts import Actor, add_user
from service.access.passwords import generate_password
from service.config import Settings
from service.errors import ConfigurationError, Conflict

if TYPE_CHECKING:
    from service.storage import Store

FIRST_ADMIN = "admin"
PASSWORD_FILE = "initial-admin-password"
SECRET_KEY_FILE = "secret-key"
_lock = threading.Lock()


def ensure_first_admin(store: Store, settings: Settings) -> tuple[str, OSError | None] | None:
    """Create ``admin`` if there is no user; return its password and why its file was not written, or ``None``.

    The second item is ``None`` when the file was written; the whole answer is
    ``None`` when there were users already (nothing was made).
    """
    if store.count_users():
        return None
    password = generate_password()
    try:
        add_user(store, FIRST_ADMIN, ROLES, Actor("service", "first start"), password=password)
    except Conflict:  # another process made it first
        return None
    try:
        write_private(password_file(settings), password + "\n")
    except OSError as e:  # the console still has it
        return password, e
    return password, None


def password_file(settings: Settings) -> Path:
    """Return where the first administrator's password is written."""
    return settings.state_dir / PASSWORD_FILE


def forget_first_password(settings: Settings, user: str) -> None:
    """Delete the first password's file once ``admin`` has chosen its own."""
    if user == FIRST_ADMIN:
        with contextlib.suppress(OSError):
            password_file(settings).unlink()


def secret_key(settings: Settings) -> str:
    """Return ``DOSELEDGER_SECRET_KEY``, or the key in ``<state dir>/secret-key``, made on first use."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.state_dir / SECRET_KEY_FILE
    try:
        with _lock:
            return _read_or_make_key(path)
    except OSError as e:
        raise ConfigurationError(
            f"The session secret cannot be kept in {path} ({e}); set DOSELEDGER_SECRET_KEY "
            "or let DoseLedger write to that folder (DOSELEDGER_DATA_DIR's parent)."
        ) from e


def _read_or_make_key(path: Path) -> str:
    """Return the key in ``path``, writing a new one first if there is none."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        write_private(path, key + "\n", exclusive=True)
    except FileExistsError:  # another process made it between our read and write
        return path.read_text(encoding="ascii").strip()
    return key


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600), creating the folder.

    ``exclusive``: raise ``FileExistsError`` if ``path`` exists; the file appears whole or not at
    all (written aside, then linked), so a process that finds it never reads it half written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text)
        if exclusive:
            os.link(aside, path)
        else:
            os.replace(aside, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            aside.unlink()


def first_start(store: Store, settings: Settings) -> str | None:
    """Create the first administrator if there is no user; return what to tell the console, once."""
    made = ensure_first_admin(store, settings)
    if made is None:
        return None
    password, unwritten = made
    kept = (
        f"It is also in {password_file(settings)} (readable by you only)."
        if unwritten is None
        else f"It could not be written to {password_file(settings)} ({unwritten}): copy it now."
    )
    return (
        f"DoseLedger made the first user, {FIRST_ADMIN} (every role), with this password:\n\n    {password}\n\n"
        f"{kept} Sign in with it and choose your own password; the file is deleted then."
    )
