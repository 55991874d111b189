import importlib
import sys

import pytest

from service.errors import ConfigurationError


def test_wsgi_needs_mongodb_uri() -> None:
    sys.modules.pop("service.wsgi", None)
    with pytest.raises(ConfigurationError, match="MONGODB_URI is not set"):
        importlib.import_module("service.wsgi")


def test_wsgi_builds_the_app(monkeypatch: pytest.MonkeyPatch, mongo_uri: str) -> None:
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    sys.modules.pop("service.wsgi", None)
    module = importlib.import_module("service.wsgi")
    assert module.app.name == "service"
    sys.modules.pop("service.wsgi", None)
