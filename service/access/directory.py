"""Directory sign-in (LDAP, Active Directory) with ldap3: bind as the user, map their groups to roles.

The name and password typed are checked by binding as ``DOSELEDGER_LDAP_BIND_DN``
with ``{username}`` filled in (a DN such as ``uid={username},ou=people,dc=example,dc=org``,
or an Active Directory principal name ``{username}@example.org``). With
``DOSELEDGER_LDAP_USER_BASE`` set, the user's entry is then looked up there with
``DOSELEDGER_LDAP_USER_FILTER`` (``(sAMAccountName={username})`` for AD); otherwise
the bind DN is the user's DN. The groups are those under
``DOSELEDGER_LDAP_GROUP_BASE`` matching ``DOSELEDGER_LDAP_GROUP_FILTER`` (default
``(member={user_dn})``, which fits OpenLDAP's groupOfNames and AD groups), and each
group named in ``DOSELEDGER_LDAP_ROLE_GROUPS`` gives its role. The search runs
as the user just bound, so no service account password is kept here.
"""

from __future__ import annotations

import logging
import math
import warnings

from service.access import ROLES
from service.config import Settings
from service.errors import NotSignedIn

with warnings.catch_warnings():
    # ldap3 2.9 reads pyasn1's old names (tagMap, typeMap), which pyasn1 0.6 still serves with a warning
    warnings.filterwarnings("ignore", message=r"(tag|type)Map is deprecated", category=DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

log = logging.getLogger(__name__)


def normal_dn(dn: str) -> str:
    """Return a DN in the form compared here: lower case, no spaces around its separators."""
    return ",".join("=".join(side.strip() for side in part.split("=", 1)) for part in dn.lower().split(","))


def directory_roles(settings: Settings, username: str, password: str) -> list[str] | None:
    """Bind as ``username``; return the roles its groups give (maybe none), or ``None`` if the bind fails.

    Raise :class:`NotSignedIn` saying so when the directory cannot be reached.
    """
    if not password:  # an empty password is an anonymous bind, which "succeeds" (RFC 4513 5.1.2)
        return None
    bind_dn = settings.ldap_bind_dn.replace("{username}", escape_rdn(username))
    server = ldap3.Server(settings.ldap_url, connect_timeout=settings.ldap_timeout, get_info=ldap3.NONE)
    # ldap3 packs the receive timeout into a socket option as a whole number of seconds
    receive_timeout = math.ceil(settings.ldap_timeout)
    connection = ldap3.Connection(
        server, user=bind_dn, password=password, receive_timeout=receive_timeout, read_only=True
    )
    try:
        if settings.ldap_start_tls:
            connection.open()
            connection.start_tls()
        if not connection.bind():
            return None
        user_dn = _user_dn(connection, settings, username, bind_dn)
        return None if user_dn is None else _roles(_groups(connection, settings, username, user_dn), settings)
    except LDAPException as e:
        log.warning("The directory %s cannot be reached: %s", settings.ldap_url, e)
        raise NotSignedIn(f"The directory ({settings.ldap_url}) cannot be reached; try again later.") from e
    finally:
        connection.unbind()
        if connection.socket is not None:  # ldap3 leaves the socket of a failed connect open
            connection.socket.close()


def _user_dn(connection: ldap3.Connection, settings: Settings, username: str, bind_dn: str) -> str | None:
    """Return the DN of the user's entry: looked up under the user base if one is set, else the bind DN."""
    if settings.ldap_user_base is None:
        return bind_dn
    query = settings.ldap_user_filter.replace("{username}", escape_filter_chars(username))
    connection.search(settings.ldap_user_base, query, attributes=[], size_limit=2)
    found = [entry["dn"] for entry in connection.response or [] if entry.get("type") == "searchResEntry"]
    return found[0] if len(found) == 1 else None


def _groups(connection: ldap3.Connection, settings: Settings, username: str, user_dn: str) -> set[str]:
    """Return the DNs (normalised) of the groups the user belongs to under the group base."""
    query = settings.ldap_group_filter.replace("{user_dn}", escape_filter_chars(user_dn)).replace(
        "{username}", escape_filter_chars(username)
    )
    connection.search(settings.ldap_group_base, query, attributes=[], size_limit=1000)
    return {normal_dn(entry["dn"]) for entry in connection.response or [] if entry.get("type") == "searchResEntry"}


def _roles(groups: set[str], settings: Settings) -> list[str]:
    """Return the roles the groups give, in the order of :data:`ROLES`."""
    given = {role for role, group in settings.ldap_role_groups if normal_dn(group) in groups}
    return [role for role in ROLES if role in given]
