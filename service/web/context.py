"""The store and the ingest pipeline of an application, opened once and shared by its threads.

Like flaskr's ``get_db()``, but cached on the application rather than on each
request: a pymongo client is thread-safe and owns a connection pool, so one per
process is right. The embedded database is started on first use when
``MONGODB_URI`` is unset (see :mod:`service.storage.embedded`).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from service.config import Settings
from service.ingest.pipeline import Pipeline
from service.storage import Store, open_store

_EXTENSION = "doseledger"
_lock = threading.Lock()


def get_settings() -> Settings:
    """Return the settings of the current application."""
    settings: Settings = current_app.config["DOSELEDGER_SETTINGS"]
    return settings


def get_store() -> Store:
    """Return the store of the current application, opening it on first use."""
    state = current_app.extensions[_EXTENSION]
    if state.get("store") is None:
        with _lock:
            if state.get("store") is None:
                state["store"] = open_store(get_settings())
    store: Store = state["store"]
    return store


def get_pipeline() -> Pipeline:
    """Return the ingest pipeline of the current application, built on first use.

    Built once: building it reads the patient-key secret (generating it on a
    first start) and checks it against the database's fingerprint.
    """
    state = current_app.extensions[_EXTENSION]
    if state.get("pipeline") is None:
        store = get_store()
        with _lock:
            if state.get("pipeline") is None:
                state["pipeline"] = Pipeline.from_settings(store, get_settings())
    pipeline: Pipeline = state["pipeline"]
    return pipeline


def close_store(app: Flask) -> None:
    """Close the application's store, if it was opened."""
    app.extensions[_EXTENSION].pop("pipeline", None)
    store = app.extensions[_EXTENSION].pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask, settings: Settings) -> None:
    """Register the settings and an empty store slot on ``app``."""
    app.config["DOSELEDGER_SETTINGS"] = settings
    app.extensions[_EXTENSION] = {"store": None, "pipeline": None}
