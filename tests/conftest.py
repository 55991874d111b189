"""Shared test fixtures: the sample corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Return the sample corpus folder; skip without it, except under CI where it must exist."""
    path = Path(os.environ.get("DOSELEDGER_CORPUS", ROOT.parent / "shared" / "corpus"))
    if not (path / "expected.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sample corpus is missing at {path}; set DOSELEDGER_CORPUS")
        pytest.skip(f"the sample corpus is not at {path} (set DOSELEDGER_CORPUS to run these tests)")
    return path


@pytest.fixture(scope="session")
def expected(corpus: Path) -> dict[str, Any]:
    """Return the values OpenREM asserts for each corpus file (expected.json)."""
    return json.loads((corpus / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def scenarios(corpus: Path) -> dict[str, Any]:
    """Return the behaviours across several files (scenarios.json), by scenario id."""
    return {s["id"]: s for s in json.loads((corpus / "scenarios.json").read_text(encoding="utf-8"))}
