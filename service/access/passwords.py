"""Passwords: argon2id hashes (argon2-cffi), generated passwords, and what a new password must be."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2-cffi's defaults (RFC 9106's second recommended option: argon2id, 64 MiB, 3 passes)
_HASHER = PasswordHasher()

MIN_LENGTH = 12
#: argon2 hashes whatever it is given; a bound keeps a huge "password" from costing more than a normal one
MAX_LENGTH = 1024


@functools.cache
def _dummy_hash() -> str:
    """Return a hash of nothing anyone knows, checked for a user without one so that a miss takes as long as a hit."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches ``stored_hash`` (``None``: no local password; still takes the time)."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password[:MAX_LENGTH]) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


def password_problem(password: str, name: str) -> str | None:
    """Say what is wrong with ``password`` as a new password for user ``name``, or ``None`` if it will do."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters; this one has {len(password)}."
    if len(password) > MAX_LENGTH:
        return f"A password may have at most {MAX_LENGTH} characters."
    if password.strip().lower() == name.lower():
        return "The password must not be the user name."
    return None
