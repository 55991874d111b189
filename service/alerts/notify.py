"""What a notification says, and how it is sent: e-mail over SMTP, or a signed JSON POST to a webhook.

A notification names no patient: for each alert, the rule, the modality, the
study's date, station and description, the value and the level with their unit,
and links to the study page and the alerts page (``DOSELEDGER_PUBLIC_URL``).
Several alerts to one recipient go as one digest. A webhook body is signed with
HMAC-SHA256 under ``DOSELEDGER_WEBHOOK_SECRET``: the header
``X-DoseLedger-Signature: sha256=<hex>`` is the HMAC of the raw body, and
``X-DoseLedger-Delivery`` names the delivery (the same on a retry of the same alerts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from service.config import Settings
from service.storage import utcnow

#: seconds to wait for an SMTP server or a webhook
TIMEOUT = 10.0
SIGNATURE_HEADER = "X-DoseLedger-Signature"
DELIVERY_HEADER = "X-DoseLedger-Delivery"


class NotSent(Exception):
    """A notification that could not be delivered now (it is retried)."""


def base_url(settings: Settings) -> str:
    """Return the address notifications link to."""
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="minutes") if isinstance(value, datetime) else None


def payload(alert: dict[str, Any], base: str) -> dict[str, Any]:
    """Return what a notification says of one alert (no patient name, ID or birth date)."""
    return {
        "id": alert["_id"],
        "rule": alert["rule"],
        "kind": alert["kind"],
        "modality": alert["modality"],
        "station": alert.get("station_name"),
        "study_date_time": _iso(alert.get("study_date_time")),
        "study_description": alert.get("study_description"),
        "value": alert["value"],
        "level": alert.get("level"),
        "unit": alert.get("unit"),
        "raised_at": _iso(alert.get("raised_at")),
        "study_url": f"{base}/studies/{quote(alert['study_instance_uid'], safe='')}",
        "alerts_url": f"{base}/alerts?modality={alert['modality']}",
    }


def delivery_id(item_ids: list[str]) -> str:
    """Return the id of one delivery: the same for the same outbox entries."""
    return hashlib.sha256("\n".join(sorted(item_ids)).encode()).hexdigest()[:24]


def _figure(value: Any, unit: str | None) -> str:
    return "not stated" if value is None else f"{value:g} {unit or ''}".strip()


def _lines(alert: dict[str, Any]) -> list[str]:
    """Say one alert in a few plain lines."""
    station, description = alert["station"] or "unknown station", alert["study_description"] or "no description"
    when = (alert["study_date_time"] or "no date").replace("T", " ")
    return [
        f"{alert['rule']} ({alert['modality']})",
        f"  Study: {when}, {station}, {description}",
        f"  Value: {_figure(alert['value'], alert['unit'])}; level: {_figure(alert['level'], alert['unit'])}",
        f"  Study page: {alert['study_url']}",
    ]


def email(alerts: list[dict[str, Any]], *, sender: str, recipient: str, base: str) -> EmailMessage:
    """Return the e-mail of one alert, or the digest of several."""
    message = EmailMessage()
    first = alerts[0]
    if len(alerts) == 1:
        when = (first["study_date_time"] or "")[:10]
        subject = f"DoseLedger alert: {first['rule']}, {first['station'] or 'unknown station'} {when}".strip()
    else:
        subject = f"DoseLedger: {len(alerts)} alerts ({', '.join(sorted({a['rule'] for a in alerts}))})"
    message["Subject"], message["From"], message["To"] = subject, sender, recipient
    body = [line for alert in alerts for line in [*_lines(alert), ""]]
    body += [f"Acknowledge or close them at {base}/alerts", "(This message names no patient.)"]
    message.set_content("\n".join(body))
    return message


def send_email(settings: Settings, message: EmailMessage) -> None:
    """Send one e-mail through the configured SMTP server; raise :class:`NotSent` saying why not."""
    if not settings.smtp_host:
        raise NotSent("DOSELEDGER_SMTP_HOST is not set, so e-mail cannot be sent")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as e:
        raise NotSent(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(e).__name__}: {e}") from e


def webhook_body(alerts: list[dict[str, Any]], delivery: str) -> bytes:
    """Return the JSON body of a webhook delivery."""
    document = {"type": "doseledger.alerts", "delivery": delivery, "sent_at": _iso(utcnow()), "alerts": alerts}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """Return the signature header's value: ``sha256=`` and the HMAC-SHA256 of the body, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(settings: Settings, url: str, body: bytes, delivery: str) -> None:
    """POST a signed body to a webhook; raise :class:`NotSent` unless it answers 2xx."""
    if not settings.webhook_secret:
        raise NotSent("DOSELEDGER_WEBHOOK_SECRET is not set, so webhook bodies cannot be signed")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DoseLedger",
        SIGNATURE_HEADER: signature(settings.webhook_secret, body),
        DELIVERY_HEADER: delivery,
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        raise NotSent(f"webhook {url} answered {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise NotSent(f"webhook {url}: {type(e).__name__}: {e}") from e
    if not 200 <= status < 300:
        raise NotSent(f"webhook {url} answered {status}")
