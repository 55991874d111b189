"""The layout keeps the data flow one way (DESIGN.md, "Components"): who may import whom."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "service"


def _imports(path: Path) -> set[str]:
    """Return the modules a source file imports (absolute names), wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((SERVICE / folder).rglob("*.py")) if folder else sorted(SERVICE.glob("*.py"))


def _offenders(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        bad = sorted(m for m in _imports(path) if m.startswith(forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("storage", ("service.extract", "service.ingest", "service.web", "flask", "pydicom")),
        ("extract", ("service.ingest", "service.storage", "service.reading", "service.web", "flask", "pymongo")),
        ("reading", ("service.extract", "service.ingest", "service.web", "flask", "pymongo")),
        ("export", ("service.extract", "service.ingest", "flask", "pymongo")),
        ("audits", ("service.extract", "flask", "pymongo")),
        ("ingest", ("service.web", "flask", "pymongo")),
        ("web", ("service.extract", "pymongo")),
    ],
)
def test_a_package_imports_only_what_lies_below_it(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(_modules(package), forbidden) == {}


def test_the_pure_helpers_import_nothing_of_the_service() -> None:
    helpers = [SERVICE / "codes.py", SERVICE / "units.py"]
    assert _offenders(helpers, ("service", "schemas", "flask", "pymongo")) == {}


def test_importing_the_configuration_loads_no_extraction_and_leaves_pydicom_alone() -> None:
    probe = (
        "import sys, pydicom.config as c; before = c.settings.reading_validation_mode; import service.config; "
        "print(sorted(m for m in sys.modules if m.startswith('service.extract'))); "
        "print(c.settings.reading_validation_mode == before)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "True"]


def test_no_module_is_longer_than_four_hundred_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in [*SERVICE.rglob("*.py"), *(ROOT / "schemas").rglob("*.py")]
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
