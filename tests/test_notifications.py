"""Notifications against real servers started here: an SMTP server (aiosmtpd) stopped and started again, a webhook.

Both listen on loopback ports of their own; every wait is bounded.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from service.alerts.outbox import Notifier
from service.config import Settings, load_settings
from service.storage import Store
from service.storage.embedded import free_port
from tests import auditdata as data
from tests.alerting import alerts, day, key_of, patient, rule, use_rules, write

SECRET = "webhook-secret-for-tests-0123456789"
DAP = rule("DAP", "study_total", "RF", quantity="total_dap", level=100, unit="Gy·cm²")


@dataclass
class Inbox:
    """What the test SMTP server received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message."""
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


class SMTP:
    """An aiosmtpd server on a fixed loopback port, which a test can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SMTP]:
    server = SMTP()
    server.start()
    yield server
    server.stop()


def settings_for(smtp_port: int = 1, **more: Any) -> Settings:
    """Return settings sending to the test servers, at once (no digest wait), retrying after 0.2 s."""
    return load_settings({}, {
        "DOSELEDGER_SMTP_HOST": "127.0.0.1", "DOSELEDGER_SMTP_PORT": str(smtp_port), "DOSELEDGER_SMTP_STARTTLS": "false",
        "DOSELEDGER_SMTP_FROM": "doseledger@hospital.example", "DOSELEDGER_PUBLIC_URL": "https://dose.hospital.example",
        "DOSELEDGER_WEBHOOK_SECRET": SECRET, "DOSELEDGER_NOTIFY_DIGEST_SECONDS": "0",
        "DOSELEDGER_NOTIFY_RETRY_SECONDS": "0.2", **more,
    })  # fmt: skip


def wait_for(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Return ``condition()`` once it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"still false after {seconds} s")


def pci(store: Store, station: str, dap: float, n: int = 1) -> None:
    """Write a fluoroscopy study of ``dap`` Gy·m² named like a patient would be, if we stored names."""
    write(store, data.fluoro(dap, 1.0, 60.0, ["A"], when=day(n), station=station, description="PCI",
                             patient=patient("patient-key-123")))  # fmt: skip


def test_an_alert_is_mailed_to_its_stations_physicist_without_naming_the_patient(store: Store, smtp: SMTP) -> None:
    routes = [{"recipients": ["cath@hospital.example"], "stations": ["CATH1"]},
              {"recipients": ["ct@hospital.example"], "modalities": ["CT"]}]  # fmt: skip
    use_rules(store, DAP, routes=routes)
    pci(store, "CATH1", 0.0234)
    pci(store, "CATH2", 0.05)  # no route for CATH2
    done = Notifier(store, settings_for(smtp.port)).run_once()
    assert (done["sent"], done["failed"], done["waiting"]) == (1, 0, 0)
    (message,) = smtp.inbox.messages
    assert message["To"] == "cath@hospital.example" and message["From"] == "doseledger@hospital.example"
    assert message["Subject"] == "DoseLedger alert: DAP, CATH1 2026-01-01"
    body = message.get_payload(decode=True).decode()
    uid = alerts(store)[0]["study_instance_uid"]
    assert body.splitlines()[:4] == [
        "DAP (RF)",
        "  Study: 2026-01-01 10:00, CATH1, PCI",
        "  Value: 234 Gy·cm²; level: 100 Gy·cm²",
        f"  Study page: https://dose.hospital.example/studies/{uid}",
    ]
    assert key_of("patient-key-123") not in message.as_string() and "key" not in body
    (entry,) = [e for e in store.events_after(0) if e["type"] == "notification"]
    assert entry["outcome"] == "sent" and entry["details"]["recipient"] == "cath@hospital.example"
    assert Notifier(store, settings_for(smtp.port)).run_once()["sent"] == 0  # nothing twice


def test_during_an_smtp_outage_the_mail_waits_and_is_delivered_once_after(store: Store, smtp: SMTP) -> None:
    use_rules(store, DAP, routes=[{"recipients": ["physicist@hospital.example"]}])
    smtp.stop()
    pci(store, "CATH1", 0.02)
    notifier = Notifier(store, settings_for(smtp.port))
    assert notifier.run_once()["failed"] == 1
    (item,) = store.outbox_items({})
    assert item["state"] == "pending" and item["attempts"] == 1 and "ConnectionRefusedError" in item["last_error"]
    assert notifier.run_once()["failed"] == 0  # not due yet: the next attempt waits 0.2 s
    time.sleep(0.25)
    assert notifier.run_once()["failed"] == 1  # still down: the next waits 0.4 s
    smtp.start()
    notifier.poll = 0.05
    notifier.start()
    try:
        wait_for(lambda: smtp.inbox.messages)
        time.sleep(0.6)  # the thread goes on polling: nothing is sent again
    finally:
        notifier.stop()
    assert len(smtp.inbox.messages) == 1 and store.outbox_items({})[0]["state"] == "sent"
    logged = [e["outcome"] for e in store.events_after(0) if e["type"] == "notification"]
    assert logged == ["failed", "failed", "sent"]


def test_ten_alerts_within_a_minute_to_one_recipient_make_one_digest(store: Store, smtp: SMTP) -> None:
    use_rules(store, DAP, routes=[{"recipients": ["physicist@hospital.example"]}])
    for n in range(10):
        pci(store, f"CATH{n}", 0.02 + n / 1000, n + 1)
    waiting = Notifier(store, settings_for(smtp.port, DOSELEDGER_NOTIFY_DIGEST_SECONDS="60")).run_once()
    assert waiting["sent"] == 0 and waiting["waiting"] == 10  # the first waits a minute for others
    assert Notifier(store, settings_for(smtp.port)).run_once()["sent"] == 1
    (message,) = smtp.inbox.messages
    assert (
        message["Subject"] == "DoseLedger: 10 alerts (DAP)"
        and message.get_payload(decode=True).count(b"DAP (RF)") == 10
    )


@dataclass
class Hook:
    """A webhook receiver on a loopback port: the requests it got, and the statuses to answer."""

    statuses: list[int]
    received: list[tuple[Message, bytes]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    got = Hook(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.received.append((self.headers, body))  # names as sent, looked up in any case
            self.send_response(got.statuses.pop(0) if got.statuses else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got, f"http://127.0.0.1:{server.server_port}/doseledger"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_webhook_gets_a_signed_json_body_and_a_refusal_is_retried(store: Store, hook: tuple[Hook, str]) -> None:
    got, url = hook
    use_rules(store, DAP, routes=[{"recipients": [url], "modalities": ["RF"]}])
    pci(store, "CATH1", 0.03)
    got.statuses.append(503)
    notifier = Notifier(store, settings_for())
    assert notifier.run_once()["failed"] == 1 and "503" in store.outbox_items({})[0]["last_error"]
    time.sleep(0.25)
    assert notifier.run_once()["sent"] == 1
    (first_headers, _), (headers, body) = got.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-DoseLedger-Signature"] == expected and headers["Content-Type"] == "application/json"
    assert headers["X-DoseLedger-Delivery"] == first_headers["X-DoseLedger-Delivery"]  # a retry: the same delivery
    document = json.loads(body)
    (alert,) = document["alerts"]
    assert document["type"] == "doseledger.alerts" and alert["id"] == alerts(store)[0]["_id"]
    assert (alert["rule"], alert["station"], alert["value"], alert["level"], alert["unit"]) == (
        "DAP",
        "CATH1",
        300,
        100,
        "Gy·cm²",
    )
    assert alert["study_date_time"] == "2026-01-01T10:00" and alert["study_description"] == "PCI"
    assert alert["study_url"].startswith("https://dose.hospital.example/studies/1.2.826.")
    assert "patient" not in body.decode() and key_of("patient-key-123").encode() not in body
    tampered = body.replace(b"CATH1", b"CATH9")
    assert "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() != expected


def test_without_smtp_or_a_webhook_secret_notifications_wait_saying_why(store: Store) -> None:
    use_rules(store, DAP, routes=[{"recipients": ["a@hospital.example", "https://hooks.example/x"]}])
    pci(store, "CATH1", 0.03)
    plain = load_settings({}, {"DOSELEDGER_NOTIFY_DIGEST_SECONDS": "0"})
    assert Notifier(store, plain).run_once()["failed"] == 2
    errors = sorted(item["last_error"] for item in store.outbox_items({}))
    assert errors == [
        "DOSELEDGER_SMTP_HOST is not set, so e-mail cannot be sent",
        "DOSELEDGER_WEBHOOK_SECRET is not set, so webhook bodies cannot be signed",
    ]
