"""The deployment files agree with each other and with the code: compose, Dockerfile, lock file, README.

``docker compose config`` cannot run here, so deploy/compose.yaml is read with
PyYAML (merge keys resolved) and checked for what the README promises.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.cli import build_parser
from service.config import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SERVICES = {"mongo", "mongo-init", "web", "scp", "orthanc"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def section(title: str) -> str:
    """Return a README section (``## title`` up to the next ``## ``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.S | re.M)
    assert found, f"the README has no section {title!r}"
    return found.group(1)


def test_compose_has_the_services(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES
    assert services["orthanc"]["profiles"] == ["pacs"]
    assert all("profiles" not in services[name] for name in SERVICES - {"orthanc"})


def test_web_and_scp_share_the_image_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    web, scp = services["web"], services["scp"]
    assert web["image"] == scp["image"] == "doseledger:${DOSELEDGER_VERSION:-latest}"
    assert web["build"] == scp["build"] == {"context": ".."}
    assert (DEPLOY / web["build"]["context"] / "Dockerfile").is_file()
    assert web["command"] == ["gunicorn", "service.wsgi:app"]
    assert scp["command"] == ["doseledger", "scp"]
    assert build_parser().parse_args(["scp"]).command == "scp"


def test_mongodb_is_a_pinned_7_replica_set_with_a_keyfile_and_an_initialisation(services: dict[str, Any]) -> None:
    mongo, init = services["mongo"], services["mongo-init"]
    assert re.fullmatch(r"mongo:7\.\d+\.\d+", mongo["image"]) and init["image"] == mongo["image"]
    started = " ".join(mongo["entrypoint"])
    assert "--replSet rs0" in started and "--keyFile /data/configdb/keyfile" in started
    assert "install -m 400 -o mongodb -g mongodb /run/secrets/mongo_keyfile" in started
    assert set(mongo["secrets"]) == {"mongo_keyfile", "mongo_root_password"}
    assert init["depends_on"] == {"mongo": {"condition": "service_healthy"}} and init["restart"] == "no"
    script = next(volume.split(":")[0] for volume in init["volumes"] if volume.endswith("/init/initialise.js:ro"))
    text = (DEPLOY / script).read_text(encoding="utf-8")
    assert 'rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] })' in text
    assert "createUser" in text and 'role: "readWrite"' in text
    assert services["web"]["depends_on"] == {"mongo-init": {"condition": "service_completed_successfully"}}


def test_credentials_come_from_secret_files(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for name in ("web", "scp"):
        service = services[name]
        assert service["environment"]["MONGODB_URI_FILE"] == "/run/secrets/mongodb_uri"
        assert "MONGODB_URI" not in service["environment"] and service["secrets"] == ["mongodb_uri"]
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert "MONGODB_URI_FILE" in VARIABLES
    assert "deploy/secrets/*" in (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/secrets" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_web_service_answers_its_public_name_loopback_and_the_network(services: dict[str, Any]) -> None:
    trusted = services["web"]["environment"]["DOSELEDGER_TRUSTED_HOSTS"].split(",")
    assert trusted == ["${DOSELEDGER_PUBLIC_HOST:-localhost}", "127.0.0.1", "web"]
    assert "DOSELEDGER_TRUSTED_HOSTS" in VARIABLES


def test_state_lives_in_named_volumes(compose: dict[str, Any], services: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith(".")
    }
    assert used == named == {"mongo-data", "mongo-config", "doseledger-state", "orthanc-data"}
    assert services["web"]["volumes"] == services["scp"]["volumes"] == ["doseledger-state:/var/lib/doseledger"]


def test_health_checks_ask_healthz_and_c_echo(services: dict[str, Any]) -> None:
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/healthz" in web
    assert services["scp"]["healthcheck"]["test"] == ["CMD", "doseledger", "echo"]
    assert build_parser().parse_args(["echo"]).command == "echo"
    assert "ping" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert all("healthcheck" in services[name] for name in SERVICES - {"mongo-init"})
    assert services["scp"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_orthanc_forwards_to_the_scp(services: dict[str, Any]) -> None:
    orthanc, scp = services["orthanc"], services["scp"]
    modalities = yaml.safe_load(orthanc["environment"]["ORTHANC__DICOM_MODALITIES"])
    assert modalities == {"doseledger": [scp["environment"]["DOSELEDGER_SCP_AE_TITLE"], "scp", 11112]}
    assert scp["ports"] == ["11112:11112"] and scp["environment"]["DOSELEDGER_SCP_PORT"] == "11112"
    script = next(v.split(":")[0] for v in orthanc["volumes"] if v.endswith("forward.lua:ro"))
    assert "SendToModality(instanceId, 'doseledger')" in (DEPLOY / script).read_text()


def test_the_readme_production_section_names_the_same_services(services: dict[str, Any]) -> None:
    text = section("Production")
    rows = re.findall(r"^\| `([a-z-]+)` \|", text, re.M)
    assert set(rows) == set(services), "the README's table of services and deploy/compose.yaml differ"
    for topic in ("TLS", "Backups", "Upgrades", "Monitoring", "Logs"):
        assert f"**{topic}" in text, f"the Production section says nothing under {topic}"
    assert "doseledger migrate" in text and "mongodump" in text and "DOSELEDGER_SCP_TLS_CERT" in text


def test_every_setting_is_in_a_table_of_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")  # Configuration, and the tables of LDAP, SMTP...
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    missing = [variable for variable in VARIABLES if not any(f"`{variable}`" in row for row in rows)]
    assert missing == []


def dockerfile() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]


def test_the_dockerfile_pins_its_base_runs_unprivileged_and_installs_the_lock() -> None:
    lines = dockerfile()
    base = next(line for line in lines if line.startswith("FROM "))
    assert re.fullmatch(r"FROM python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    user = next(line for line in lines if line.startswith("USER "))
    assert user.split()[1] not in ("root", "0")
    assert "RUN pip install --require-hashes --no-deps -r requirements.lock" in lines
    assert "COPY deploy/gunicorn.conf.py ./gunicorn.conf.py" in lines
    assert lines[-1] == 'CMD ["gunicorn", "service.wsgi:app"]'
    minor = re.search(r"python:(3\.\d+)\.", base).group(1)  # type: ignore[union-attr]
    assert f"autogenerated by pip-compile with Python {minor}" in lock_text()


def lock_text() -> str:
    return (ROOT / "requirements.lock").read_text(encoding="utf-8")


def locked() -> dict[str, tuple[str, list[str], list[str]]]:
    """Return name -> (version, hashes, via) of every pin of requirements.lock."""
    pins: dict[str, tuple[str, list[str], list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock_text()):
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if head:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            via = re.findall(r"#\s+(?:via\s+)?(\S.*)$", block, re.M)
            pins[canonicalize_name(head.group(1))] = (head.group(2), hashes, via)
    return pins


def direct_requirements() -> list[Requirement]:
    """Return what pyproject.toml asks the image for: dependencies, the server extra, the build backend."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    texts = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["server"],
        *project["build-system"]["requires"],
    ]
    return [Requirement(text) for text in texts]


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    pins = locked()
    assert len(pins) >= 20
    for requirement in direct_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run make lock"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} breaks {requirement}"
    assert all(hashes for _, hashes, _ in pins.values())


def test_the_lock_names_no_dependency_pyproject_dropped() -> None:
    direct = {canonicalize_name(requirement.name) for requirement in direct_requirements()}
    for name, (_, _, via) in locked().items():
        if any(v.startswith("doseledger (pyproject.toml") for v in via):
            assert name in direct, f"requirements.lock still pins {name} for pyproject.toml: run make lock"
