"""Outgoing webhooks to the process centre, signed like GitHub's (DESIGN §8).

The body is JSON; ``X-Sidecar-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``
signs it, ``X-Sidecar-Delivery`` names the delivery (receivers dedupe on it) and
``X-Sidecar-Timestamp`` is the sending time in Unix seconds, also inside the signed body
as ``sentAt``, so a receiver can refuse replays. The secret never leaves this object:
not in ``repr``, not in errors, not in logs. Sending goes through the guarded outbound
client (``sidecar.outbound``): no redirect is followed, the receiver's answer is not
read, and one deadline bounds the call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from sidecar import outbound
from sidecar.errors import SidecarError

SIGNATURE_HEADER = "X-Sidecar-Signature-256"
DELIVERY_HEADER = "X-Sidecar-Delivery"
TIMESTAMP_HEADER = "X-Sidecar-Timestamp"
EVENT_HEADER = "X-Sidecar-Event"


class NotifyError(SidecarError):
    """The receiver could not be reached or did not accept the webhook."""


def signature(secret: str, body: bytes) -> str:
    """The signature header value of a body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _shown(url: str) -> str:
    """The URL as messages show it: without credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host, query="", fragment="").geturl()


class WebhookSender:
    """POSTs signed JSON to one URL."""

    def __init__(self, *, url: str, secret: str, client: outbound.Client, timeout: float = 5.0):
        self._url, self._secret, self._timeout = url, secret, timeout
        self._shown = _shown(url)
        self._client = client

    def __repr__(self) -> str:
        return f"WebhookSender(url={self._shown!r})"

    def send(self, event: str, delivery_id: str, payload: dict[str, Any]) -> None:
        """Deliver one event; any 2xx answer is success. :raise NotifyError:"""
        sent_at = int(time.time())
        body = json.dumps({**payload, "sentAt": sent_at}, sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json", EVENT_HEADER: event,
                   DELIVERY_HEADER: delivery_id, TIMESTAMP_HEADER: str(sent_at),
                   SIGNATURE_HEADER: signature(self._secret, body)}
        try:
            response = self._client.post(self._url, body, headers=headers, timeout=self._timeout)
        except outbound.OutboundError as exc:
            raise NotifyError(f"webhook to {self._shown} failed: {exc}") from None
        if not 200 <= response.status < 300:
            raise NotifyError(f"webhook to {self._shown} answered HTTP {response.status}")

    def close(self) -> None:
        """Nothing to close: the client keeps no connection between calls."""
