"""Users, API tokens and failed sign-ins: the ``users``, ``tokens`` and ``sign_in_failures`` collections.

A user is one document named by ``name`` (unique); a token is stored only as
the SHA-256 of its secret (``hash``, unique), with a name that is unique for
good, so that an event-log entry naming a token names one token even after it
is revoked (tokens are revoked, never deleted). Failed sign-ins are one small
document each, ``{address, at}``, counted over a recent window and pruned as
new ones are written. What a password is and who may do what is
:mod:`service.access`'s; this module only keeps the records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from service.errors import Conflict
from service.storage.connection import Index, guarded, utcnow

INDEXES: tuple[Index, ...] = (
    ("users", [("name", ASCENDING)], {"unique": True}),
    ("tokens", [("hash", ASCENDING)], {"unique": True}),
    ("tokens", [("name", ASCENDING)], {"unique": True}),
    ("sign_in_failures", [("address", ASCENDING), ("at", ASCENDING)], {}),
)

_HIDDEN = {"_id": 0}


class AccountStore:
    """The account collections of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def count_users(self) -> int:
        """Return the number of users."""
        return self.db.users.count_documents({})

    @guarded
    def insert_user(self, user: dict[str, Any]) -> None:
        """Insert a new user; raise :class:`Conflict` if the name is taken."""
        try:
            self.db.users.insert_one(dict(user))
        except DuplicateKeyError:
            raise Conflict(f"There is already a user named {user['name']!r}.") from None

    @guarded
    def find_user(self, name: str) -> dict[str, Any] | None:
        """Return the user named ``name``, or ``None``."""
        return self.db.users.find_one({"name": name}, _HIDDEN)

    @guarded
    def list_users(self) -> list[dict[str, Any]]:
        """Return every user, by name."""
        return list(self.db.users.find({}, _HIDDEN).sort("name", ASCENDING))

    @guarded
    def update_user(self, name: str, fields: dict[str, Any], *, bump_session: bool = False) -> bool:
        """Set ``fields`` of a user (ending its sessions if ``bump_session``); tell whether it exists."""
        update: dict[str, Any] = {"$set": {**fields, "updated_at": utcnow()}}
        if bump_session:
            update["$inc"] = {"session_version": 1}
        return self.db.users.update_one({"name": name}, update).matched_count == 1

    @guarded
    def upsert_directory_user(self, name: str, roles: list[str]) -> dict[str, Any]:
        """Create or update a directory (LDAP) user with the roles its groups give; return it."""
        now = utcnow()
        self.db.users.update_one(
            {"name": name},
            {
                "$set": {"roles": roles, "updated_at": now, "last_sign_in_at": now},
                "$setOnInsert": {
                    "name": name,
                    "source": "ldap",
                    "password_hash": None,
                    "disabled": False,
                    "must_change_password": False,
                    "session_version": 0,
                    "created_at": now,
                },
            },
            upsert=True,
        )
        user = self.find_user(name)
        assert user is not None
        return user

    @guarded
    def insert_token(self, token: dict[str, Any]) -> None:
        """Insert a new token record; raise :class:`Conflict` if its name was ever used."""
        try:
            self.db.tokens.insert_one(dict(token))
        except DuplicateKeyError:
            raise Conflict(
                f"A token named {token['name']!r} exists or existed (token names are never reused); choose another."
            ) from None

    @guarded
    def find_token(self, digest: str) -> dict[str, Any] | None:
        """Return the token whose secret hashes to ``digest``, revoked or not, or ``None``."""
        return self.db.tokens.find_one({"hash": digest}, _HIDDEN)

    @guarded
    def list_tokens(self) -> list[dict[str, Any]]:
        """Return every token record without its hash, by name."""
        return list(self.db.tokens.find({}, {"_id": 0, "hash": 0}).sort("name", ASCENDING))

    @guarded
    def revoke_token(self, name: str) -> bool:
        """Mark a token revoked; tell whether an unrevoked token of that name existed."""
        result = self.db.tokens.update_one({"name": name, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}})
        return result.modified_count == 1

    @guarded
    def record_sign_in_failure(self, address: str, *, forget_before: datetime) -> None:
        """Record a failed sign-in from ``address``, pruning failures older than ``forget_before``."""
        self.db.sign_in_failures.delete_many({"at": {"$lt": forget_before}})
        self.db.sign_in_failures.insert_one({"address": address, "at": utcnow()})

    @guarded
    def sign_in_failures(self, address: str, since: datetime) -> list[datetime]:
        """Return the times of failed sign-ins from ``address`` since ``since``, oldest first."""
        cursor = self.db.sign_in_failures.find({"address": address, "at": {"$gte": since}}, _HIDDEN)
        return [entry["at"] for entry in cursor.sort("at", ASCENDING)]

    @guarded
    def clear_sign_in_failures(self, address: str) -> None:
        """Forget the failed sign-ins from ``address`` (after a successful one)."""
        self.db.sign_in_failures.delete_many({"address": address})
