"""The query/retrieve page's forms in chromium at 1280 and 390 px: add, echo, run, delete; nothing the CSP blocks.

Screenshots go to ``test-artifacts/`` (pacs-1280.png, pacs-refused-390.png, pacs-390.png,
pacs-run-1280.png, pacs-run-390.png, pacs-delete-390.png, pacs-cancel-390.png).
"""

from __future__ import annotations

import time
from typing import Any

from service.dicomnet.nodes import Node
from service.dicomnet.runs import new_run
from service.storage import Store
from tests.fakepacs import FakePacs
from tests.pacsdata import JANUARY, Study
from tests.test_alerts_browser import _errors
from tests.test_browser import ARTIFACTS, shot

PHONE = {"width": 390, "height": 844}


def fits(page: Any) -> bool:
    """Tell whether the page needs no sideways scrolling."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def add_node(page: Any, name: str, ae_title: str, port: str) -> None:
    form = page.locator("form", has=page.get_by_role("heading", name="Add a node"))
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("AE title", exact=True).fill(ae_title)
    form.get_by_label("Host").fill("127.0.0.1")
    form.get_by_label("Port").fill(port)
    form.get_by_role("button", name="Add node").click()


def test_the_pacs_forms_at_two_widths(page: Any, store: Store, fake: FakePacs, studies: dict[str, Study]) -> None:
    errors = _errors(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto("/pacs")
    add_node(page, "fake", fake.ae_title, str(fake.port))
    page.get_by_text("Added PACS node fake").wait_for()
    page.get_by_role("button", name="Send a C-ECHO to fake").click()
    page.get_by_text("answered the C-ECHO in").wait_for()
    shot(page, "pacs-1280")

    page.set_viewport_size(PHONE)
    add_node(page, "spare", "SPARE", "70000")
    page.get_by_text("The node was not added: Port: Expected 1 to 65535.").wait_for()
    assert page.locator('input[name="port"][aria-invalid="true"]').input_value() == "70000"
    shot(page, "pacs-refused-390")
    assert fits(page)
    page.locator('input[name="port"]').fill("11112")
    page.get_by_role("button", name="Add node").click()
    assert [node["name"] for node in store.pacs_nodes()] == ["fake", "spare"]

    run = page.locator("form", has=page.get_by_role("heading", name="Start a run"))
    run.get_by_label("Node").select_option("fake")
    run.get_by_label("From (study date)").fill("2024-01-01")
    run.get_by_label("To (study date)").fill("2024-01-31")
    run.get_by_label("Station lacks").fill("DR")
    shot(page, "pacs-390")
    assert fits(page)
    run.get_by_role("button", name="Start run").click()
    page.wait_for_url("**/pacs/fake/queries/*")
    deadline = time.monotonic() + 30
    while "completed" not in page.locator("dl.values").inner_text() and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    page.get_by_text(studies["CT"].uid).wait_for()
    shot(page, "pacs-run-390")
    assert fits(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "pacs-run-1280")

    page.set_viewport_size(PHONE)
    page.goto("/pacs")
    page.get_by_role("link", name="Delete spare").click()
    shot(page, "pacs-delete-390")
    assert fits(page)
    page.get_by_role("button", name="Delete spare").click()
    page.get_by_text("Deleted PACS node spare").wait_for()
    assert [node["name"] for node in store.pacs_nodes()] == ["fake"]

    record = new_run(
        store, Node.from_document(store.pacs_node("fake")), JANUARY, trigger="api", client="x", owner="x:1"
    )
    page.goto(f"/pacs/fake/queries/{record['_id']}")  # under way in another process
    shot(page, "pacs-cancel-390")
    assert fits(page)
    page.get_by_role("button", name="Cancel this run").click()
    page.get_by_text("Run asked to stop").wait_for()
    assert store.get_run(record["_id"])["cancel_requested"] is True
    # the refused form's 400 is the only message: nothing the CSP blocked, no script error
    assert errors == ["Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"]
