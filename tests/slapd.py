"""A real OpenLDAP server for the directory sign-in tests: Debian's slapd on a free loopback port, in a temporary folder.

The configuration (``slapd.conf``, an MDB database) and the entries (loaded
with ``slapadd`` before the server starts) are written into the folder; the
server listens on ``ldap://127.0.0.1:PORT`` only and is stopped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMAS = Path("/etc/ldap/schema")
BASE = "dc=example,dc=org"
ROOT_DN, ROOT_PASSWORD = f"cn=admin,{BASE}", "root secret"
PEOPLE, GROUPS = f"ou=people,{BASE}", f"ou=groups,{BASE}"

#: uid -> (password, groups)
PEOPLE_ENTRIES = {
    "alice": ("wonderland", ["physicists"]),
    "bob": ("builder of things", ["physicists", "dl-admins"]),
    "carol": ("no groups for me", ["canteen"]),
    "admin": ("directory admin", ["dl-admins"]),
}
GROUP_NAMES = ("physicists", "dl-admins", "canteen")

CONFIG = """\
include {schemas}/core.schema
include {schemas}/cosine.schema
include {schemas}/inetorgperson.schema
pidfile {folder}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "{base}"
rootdn "{root_dn}"
rootpw "{root_password}"
directory {folder}/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by users read by * none
"""


def require() -> None:
    """Skip without slapd (``.ci/run`` installs it), except under CI where the skip fails."""
    if not (SLAPD.exists() and SLAPADD.exists()):
        pytest.skip(f"{SLAPD} is missing (apt-get install slapd; .ci/run does)")


def entries() -> str:
    """Return the directory's entries as LDIF."""
    blocks = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
    ]
    for uid, (password, _) in PEOPLE_ENTRIES.items():
        blocks.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()}\nsn: {uid.title()}\n"
            f"userPassword: {password}"
        )
    for group in GROUP_NAMES:
        members = [uid for uid, (_, groups) in PEOPLE_ENTRIES.items() if group in groups]
        lines = "".join(f"\nmember: uid={uid},{PEOPLE}" for uid in members)
        blocks.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}{lines}")
    return "\n\n".join(blocks) + "\n"


class Slapd:
    """One slapd process serving the entries above."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"ldap://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        """Write the configuration and entries, load them, start the server and wait until it accepts connections."""
        (self.folder / "data").mkdir(parents=True)
        config = self.folder / "slapd.conf"
        config.write_text(
            CONFIG.format(schemas=SCHEMAS, folder=self.folder, base=BASE, root_dn=ROOT_DN, root_password=ROOT_PASSWORD)
        )
        (self.folder / "entries.ldif").write_text(entries())
        subprocess.run([SLAPADD, "-f", config, "-l", self.folder / "entries.ldif"], check=True, capture_output=True)
        with (self.folder / "slapd.log").open("wb") as log:
            # -d 0: stay in the foreground (so that this process owns it) and print nothing but errors
            self.process = subprocess.Popen(
                [SLAPD, "-f", config, "-h", f"{self.url}/", "-d", "0"], stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd ended: {(self.folder / 'slapd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"slapd did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait()
