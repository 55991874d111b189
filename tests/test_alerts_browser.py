"""The alerts page in chromium at 1280 and 390 px: answering an alert from its form, nothing the CSP blocks.

Screenshots go to ``test-artifacts/`` (alerts-1280.png, alerts-390.png, alert-rules-390.png, study-alerts.png).
"""

from __future__ import annotations

from typing import Any

from service.storage import Store
from tests import auditdata as data
from tests.alerting import alerts, day, patient, rule, use_rules, write
from tests.test_browser import ARTIFACTS


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_alerts_page_at_two_widths_and_answering_an_alert(page: Any, store: Store) -> None:
    use_rules(store, rule("Cath lab DAP", "study_total", "RF", quantity="total_dap", level=300, unit="Gy·cm²"),
              rule("CT Dose Check alert", "dose_check", "CT", check="alert"))  # fmt: skip
    for n, (station, dap) in enumerate((("CATH1", 0.0612), ("CATH2", 0.041), ("CATH1", 0.035)), start=1):
        write(store, data.fluoro(dap, 2.0, 900.0, ["Cardiac"], when=day(n), station=station,
                                 description="PCI chronic total occlusion", patient=patient("k1")))  # fmt: skip
    errors = _errors(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto("/alerts")
    assert page.locator("table.alerts tbody tr").count() == 3
    first = page.locator("table.alerts tbody tr").first
    first.get_by_role("textbox").fill("Patient booked for a skin check")
    first.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**/alerts")
    assert "acknowledged" in page.locator("table.alerts tbody tr").nth(2).inner_text()  # open ones first
    page.screenshot(path=str(ARTIFACTS / "alerts-1280.png"), full_page=True)
    assert [a["state"] for a in alerts(store)].count("acknowledged") == 1
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/alerts?modality=RF")
    page.screenshot(path=str(ARTIFACTS / "alerts-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    page.goto("/alert-rules")
    page.screenshot(path=str(ARTIFACTS / "alert-rules-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/studies/{alerts(store)[0]['study_instance_uid']}")
    page.screenshot(path=str(ARTIFACTS / "study-alerts.png"), full_page=False)
    assert page.get_by_role("heading", name="Alerts").is_visible()
    assert errors == []
