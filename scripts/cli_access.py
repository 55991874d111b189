"""``doseledger users`` and ``doseledger tokens``: accounts and API tokens from the command line.

Usage::

    doseledger users add NAME --role ROLE [--role ROLE...]   (asks for a password, or generates and prints one)
    doseledger users list
    doseledger users disable NAME | enable NAME
    doseledger users roles NAME ROLE...
    doseledger users password NAME                          (a new generated password, printed)
    doseledger tokens create NAME --user USER                (prints the token once)
    doseledger tokens list
    doseledger tokens revoke NAME

Whoever can run these can read the database too (as with ``mongosh``), so the
command line is trusted; each change is an event-log entry naming the OS user.
A password given here, like one the admin page makes, must be changed at the
user's first sign-in.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from service.access import ROLES
from service.access import tokens as api_tokens
from service.access.accounts import Actor, add_user, reset_password, set_disabled, set_roles
from service.config import Settings
from service.errors import InvalidArgument
from service.storage import Store, opened_store


def _actor() -> Actor:
    from scripts.cli_common import client as cli_client

    return Actor("cli", cli_client())


def _ask_password(name: str) -> str | None:
    """Ask for a password twice on a terminal (empty: generate one); ``None`` without a terminal."""
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"Password for {name} (empty: generate one): ")
    if first and getpass.getpass("Again: ") != first:
        raise InvalidArgument({"password": ["The two passwords differ."]})
    return first or None


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    """Add, list, disable, enable users, set their roles or give them a new password."""
    with opened_store(settings) as store:
        if args.action == "list":
            return _list_users(store)
        if args.action == "add":
            given = _ask_password(args.name)
            password = add_user(store, args.name, args.role, _actor(), password=given)
            print(f"Added user {args.name.lower()} with roles {', '.join(args.role)}.")
            if given is None:
                print(f"Password (shown once; to be changed at first sign-in): {password}")
        elif args.action == "roles":
            held = set_roles(store, args.name, args.roles, _actor())
            print(f"{args.name} now holds {', '.join(held) or 'no role'}.")
        elif args.action == "password":
            password = reset_password(store, args.name, _actor())
            print(f"New password of {args.name} (to be changed at next sign-in): {password}")
        else:
            set_disabled(store, args.name, args.action == "disable", _actor())
            print(f"{args.name} is {args.action}d.")
    return 0


def _list_users(store: Store) -> int:
    users = store.list_users()
    if not users:
        print("No users yet (the service makes 'admin' at its first start).")
    for user in users:
        state = (
            "disabled"
            if user.get("disabled")
            else "must change password"
            if user.get("must_change_password")
            else "active"
        )
        print(f"{user['name']}\t{','.join(user.get('roles') or []) or '-'}\t{user.get('source', 'local')}\t{state}")
    return 0


def cmd_tokens(args: argparse.Namespace, settings: Settings) -> int:
    """Create, list or revoke API tokens."""
    with opened_store(settings) as store:
        if args.action == "create":
            secret = api_tokens.create_token(store, args.name, args.user, _actor())
            print(
                f"Token {args.name.lower()} for {args.user} (shown once; send it as 'Authorization: Bearer <token>'):"
            )
            print(secret)
        elif args.action == "revoke":
            api_tokens.revoke_token(store, args.name, _actor())
            print(f"Token {args.name} is revoked.")
        else:
            tokens = store.list_tokens()
            if not tokens:
                print("No tokens yet.")
            for token in tokens:
                revoked = token.get("revoked_at")
                state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "in use"
                print(f"{token['name']}\t{token['user']}\tmade {token['created_at']:%Y-%m-%d %H:%M}\t{state}")
    return 0


def add_parsers(sub: Any) -> None:
    """Add the account commands to the ``doseledger`` parser."""
    roles = ", ".join(ROLES)
    users = sub.add_parser("users", help="add, list, disable users and set their roles")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a local user (asks for a password, or generates one)")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, metavar="ROLE", help=f"a role to hold ({roles})")
    actions.add_parser("list", help="list the users")
    for action, text in (
        ("disable", "disable a user"),
        ("enable", "enable a user again"),
        ("password", "give a user a new generated password"),
    ):
        actions.add_parser(action, help=text).add_argument("name")
    set_ = actions.add_parser("roles", help="replace a user's roles")
    set_.add_argument("name")
    set_.add_argument("roles", nargs="*", metavar="ROLE", help=f"the roles to hold ({roles}; none: no role)")
    users.set_defaults(func=cmd_users)
    tokens = sub.add_parser("tokens", help="create, list and revoke API tokens")
    token_actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_actions.add_parser("create", help="make a token for a user (printed once)")
    create.add_argument("name")
    create.add_argument("--user", required=True, help="the user whose roles the token acts with")
    token_actions.add_parser("list", help="list the tokens")
    token_actions.add_parser("revoke", help="revoke a token").add_argument("name")
    tokens.set_defaults(func=cmd_tokens)
