"""The sender of the outbox: never lost, never sent twice, retried with backoff while a recipient is down.

Each alert is queued once per recipient (:func:`service.alerts.records.outbox_items`).
:meth:`Notifier.run_once` leases the recipients' due entries (a recipient's first
entry waits ``DOSELEDGER_NOTIFY_DIGEST_SECONDS`` for others to join it: ten alerts
within a minute make one digest), sends one message per recipient, and marks its
entries ``sent`` only once the SMTP server or the webhook accepted it. A failure
sets the next attempt ``DOSELEDGER_NOTIFY_RETRY_SECONDS`` later, doubling up to an
hour, so after an outage each is delivered once. The lease (a few minutes) keeps
two senders (two processes) from sending the same entry; should a process die
between a delivery and its mark, the entry is sent again when the lease ends: the
one case of a duplicate, which the webhook's delivery id lets a receiver spot.
``doseledger serve`` runs :meth:`Notifier.start` in a thread; ``doseledger alerts
send`` runs it once.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from service.alerts import notify
from service.config import Settings
from service.errors import DatabaseUnavailable
from service.storage import Store, utcnow

log = logging.getLogger(__name__)

#: seconds a claim holds its entries (longer than any send: TIMEOUT per message)
LEASE_SECONDS = 300.0
#: longest wait between two attempts
MAX_BACKOFF = 3600.0
#: alerts in one message at most (a long outage's backlog goes in several)
MAX_DIGEST = 50


class Notifier:
    """Send the outbox's due notifications, once or all along in a thread."""

    def __init__(self, store: Store, settings: Settings, *, poll: float = 1.0) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self.base = notify.base_url(settings)
        self.client = f"doseledger@{socket.gethostname()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Counter[str]:
        """Send what is due now; return the count of entries ``sent``, ``failed`` and still ``waiting``."""
        now = utcnow()
        owner = uuid.uuid4().hex
        cutoff = now - timedelta(seconds=self.settings.notify_digest_seconds)
        items = self.store.claim_due(cutoff, now, owner, now + timedelta(seconds=LEASE_SECONDS))
        done: Counter[str] = Counter()
        by_recipient: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            by_recipient[item["recipient"]].append(item)
        for recipient, group in by_recipient.items():
            for start in range(0, len(group), MAX_DIGEST):
                done[self._deliver(recipient, group[start : start + MAX_DIGEST], owner)] += 1
        done["waiting"] = self.store.count_outbox({"state": "pending"})
        return done

    def _deliver(self, recipient: str, items: list[dict[str, Any]], owner: str) -> str:
        """Send one message for ``items``; record the outcome; return ``sent`` or ``failed``."""
        ids = [item["_id"] for item in items]
        alerts = {a["_id"]: a for a in self.store.find_alerts({"_id": {"$in": [i["alert"] for i in items]}}, limit=0)}
        said = [notify.payload(alerts[item["alert"]], self.base) for item in items if item["alert"] in alerts]
        try:
            self._send(recipient, items[0]["channel"], said, notify.delivery_id(ids))
        except notify.NotSent as e:
            attempts = max(item.get("attempts", 0) for item in items)
            delay = min(self.settings.notify_retry_seconds * 2**attempts, MAX_BACKOFF)
            changes = {"next_at": utcnow() + timedelta(seconds=delay), "last_error": str(e)}
            self.store.settle(ids, owner, changes, failed=True)
            self._log(recipient, said, "failed", f"{e}; next attempt in {delay:g} s")
            return "failed"
        self.store.settle(ids, owner, {"state": "sent", "sent_at": utcnow(), "last_error": None})
        self._log(recipient, said, "sent", "")
        return "sent"

    def _send(self, recipient: str, channel: str, alerts: list[dict[str, Any]], delivery: str) -> None:
        if not alerts:
            return  # the alerts are gone (a database restored from an older copy): nothing to say
        if channel == "webhook":
            notify.post_webhook(self.settings, recipient, notify.webhook_body(alerts, delivery), delivery)
        else:
            message = notify.email(alerts, sender=self.settings.smtp_from, recipient=recipient, base=self.base)
            notify.send_email(self.settings, message)

    def _log(self, recipient: str, alerts: list[dict[str, Any]], outcome: str, why: str) -> None:
        """Log a delivery, or a failed attempt, naming the recipient and the alerts."""
        what = f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
        message = f"Notification of {what} to {recipient} {outcome}" + (f": {why}." if why else ".")
        if outcome == "failed":
            log.warning("%s", message)
        self.store.append_event(
            "notification", via="notify", client=self.client, outcome=outcome, message=message,
            details={"recipient": recipient, "alerts": [alert["id"] for alert in alerts]},
        )  # fmt: skip

    def start(self) -> None:
        """Send due notifications every ``poll`` seconds in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="doseledger-notifier", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.run_once()
            except DatabaseUnavailable as e:
                log.warning("Notifications wait for the database: %s", e)
            except Exception:  # the sender must outlive any one failure; the entry is retried
                log.exception("Sending notifications failed")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the thread, letting a message being sent finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
