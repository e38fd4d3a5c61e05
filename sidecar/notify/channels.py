"""Notification channels: each notifier type, the apprise URL it becomes, and one send.

Slack, e-mail, Microsoft Teams, DingTalk, WeCom and Feishu/Lark go through apprise, one
URL scheme per service; ``webhook`` (and Feishu with a signing secret, which apprise's
Feishu plugin cannot sign) is a signed JSON POST through the guarded client. Before
apprise gets a URL, the host it will call is resolved and checked against the same
outbound policy. Apprise's own log lines (which name webhook tokens at debug level
and quote remote answers) stay inside this module: a failure is reported as the
channel and, where apprise named one, the HTTP status — never a secret or a body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

import apprise
from apprise.plugins.workflows import NotifyWorkflows

from sidecar.notify import (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
                            NotifyError, signature)
from sidecar.outbound import Client, OutboundError

TYPES = ("slack", "email", "teams", "dingtalk", "wecom", "feishu", "webhook")
TLS_MODES = ("starttls", "ssl", "none")
EMAIL_OPTIONS = ("host", "port", "tls", "user", "from")
TIMEOUT = 10.0
_SLACK = re.compile(r"^https://hooks\.slack\.com/services/([A-Z0-9]+)/([A-Z0-9]+)/([A-Z0-9]+)/?$",
                    re.I)
_DINGTALK = re.compile(r"^https://oapi\.dingtalk\.com/robot/send\?access_token=([A-Z0-9_-]+)$",
                       re.I)
_WECOM = re.compile(r"^https://qyapi\.weixin\.qq\.com/cgi-bin/webhook/send\?key=([A-Z0-9_-]+)$",
                    re.I)
_FEISHU = re.compile(r"^https://open\.(feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/"
                     r"([A-Z0-9_-]+)/?$", re.I)
_EMAIL_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")
_STATUS = re.compile(r"\berror=(\d{3})\b|\b(\d{3})\b")


@dataclass(frozen=True)
class Channel:
    """A notifier as the sender needs it; the secret is in no repr."""

    type: str
    url: str = ""
    secret: str = field(default="", repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One delivery: who hears it, its title and text, and the fields a webhook carries."""

    delivery_id: str
    title: str
    body: str
    recipients: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    failure: bool = False


def problems(channel: Channel) -> list[str]:
    """What is wrong with a notifier's type, URL, secret and options (empty: nothing)."""
    if channel.type not in TYPES:
        return [f"type must be one of {', '.join(TYPES)}"]
    if channel.type == "email":
        return _email_problems(channel.options)
    found = [] if not channel.options else ["options are only for type email"]
    if channel.type == "webhook":
        parts = urlsplit(channel.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append("url must be an http(s) URL")
        if not channel.secret:
            found.append("a webhook needs a secret to sign its bodies")
        return found
    if channel.type == "dingtalk" and channel.secret and not channel.secret.isalnum():
        found.append("a DingTalk secret is letters and digits (SEC…)")
    try:
        apprise_url(channel, ())
    except NotifyError as exc:
        found.append(str(exc))
    return found


def _email_problems(options: Mapping[str, Any]) -> list[str]:
    found = [f"unknown option '{k}'" for k in options if k not in EMAIL_OPTIONS]
    if not isinstance(options.get("host"), str) or not options.get("host"):
        found.append("options.host: the SMTP server's host name is required")
    port = options.get("port", 587)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        found.append("options.port must be a port number")
    if options.get("tls", "starttls") not in TLS_MODES:
        found.append(f"options.tls must be one of {', '.join(TLS_MODES)}")
    if not _EMAIL_ADDRESS.match(str(options.get("from", ""))):
        found.append("options.from must be an e-mail address")
    if not isinstance(options.get("user", ""), str):
        found.append("options.user must be a string")
    return found


def recipient_problem(channel_type: str, recipient: str) -> str | None:
    """Why a config's recipient cannot be used with a type of notifier, or None."""
    if channel_type == "email" and not _EMAIL_ADDRESS.match(recipient):
        return f"{recipient!r} is not an e-mail address"
    return None


def target(channel: Channel) -> tuple[str, int]:
    """The host and port a channel connects to."""
    if channel.type == "email":
        tls = channel.options.get("tls", "starttls")
        return channel.options["host"], int(channel.options.get(
            "port", 465 if tls == "ssl" else 587 if tls == "starttls" else 25))
    parts = urlsplit(channel.url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def apprise_url(channel: Channel, recipients: tuple[str, ...]) -> str:
    """The apprise URL of a channel and its recipients. :raise NotifyError: a bad URL"""
    url, secret = channel.url, channel.secret
    if channel.type == "slack":
        tokens = _match(_SLACK, url, "https://hooks.slack.com/services/T…/B…/…")
        targets = "/".join(quote(r, safe="") for r in recipients if r[:1] in "#@")
        return f"slack://{'/'.join(tokens)}/{targets}"
    if channel.type == "dingtalk":
        (token,) = _match(_DINGTALK, url, "https://oapi.dingtalk.com/robot/send?access_token=…")
        mobiles = "/".join(r for r in recipients if r.isdigit())
        return f"dingtalk://{secret + '@' if secret else ''}{token}/{mobiles}"
    if channel.type == "wecom":
        (key,) = _match(_WECOM, url, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…")
        return f"wecombot://{key}"
    if channel.type == "feishu":
        domain, token = _match(_FEISHU, url,
                               "https://open.feishu.cn/open-apis/bot/v2/hook/… (or larksuite.com)")
        return f"{'feishu' if domain.lower() == 'feishu.cn' else 'lark'}://{token}"
    if channel.type == "teams":
        found = NotifyWorkflows.parse_native_url(url) if url.startswith("https://") else None
        if not found:
            raise NotifyError("url must be a Teams workflow URL (https://….logic.azure.com/"
                              "workflows/… or ….powerplatform.com/powerautomate/…)")
        return NotifyWorkflows(**found).url(privacy=False)
    if channel.type == "email":
        return _email_url(channel, recipients)
    raise NotifyError(f"type {channel.type} has no apprise URL")


def _email_url(channel: Channel, recipients: tuple[str, ...]) -> str:
    options = channel.options
    host, port = target(channel)
    tls = options.get("tls", "starttls")
    login = ""
    if options.get("user"):
        login = quote(options["user"], safe="") + ":" + quote(channel.secret, safe="") + "@"
    mode = "" if tls == "none" else f"&mode={tls}"
    return (f"{'mailto' if tls == 'none' else 'mailtos'}://{login}{host}:{port}"
            f"?from={quote(options['from'], safe='@')}&to={quote(','.join(recipients), safe='@,')}"
            f"{mode}")


def _match(pattern: re.Pattern, url: str, expected: str) -> tuple[str, ...]:
    found = pattern.match(url)
    if not found:
        raise NotifyError(f"url must look like {expected}")
    return found.groups()


class Sender:
    """Sends one message to one channel; raises NotifyError with a safe reason."""

    def __init__(self, client: Client, timeout: float = TIMEOUT):
        self._client, self._timeout = client, timeout
        self._asset = apprise.AppriseAsset(http_redirects=False)
        apprise_log = logging.getLogger("apprise")  # see the module docstring
        apprise_log.propagate = False
        apprise_log.setLevel(logging.WARNING)
        # urllib3 writes each request line, tokens in the path and all, at debug level.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

    def send(self, channel: Channel, message: Message) -> None:
        """Deliver once. :raise NotifyError:"""
        if channel.type == "webhook":
            self._post_signed(channel, message)
        elif channel.type == "feishu" and channel.secret:
            self._post_feishu(channel, message)
        else:
            self._via_apprise(channel, message)

    def _via_apprise(self, channel: Channel, message: Message) -> None:
        host, port = target(channel)
        self._check(host, port)
        seconds = int(self._timeout)
        url = apprise_url(channel, message.recipients)
        url += ("&" if "?" in url else "?") + f"cto={seconds}&rto={seconds}"
        service = apprise.Apprise(asset=self._asset)
        if not service.add(url):
            raise NotifyError(f"{channel.type}: apprise does not accept the notifier's URL")
        kind = apprise.NotifyType.FAILURE if message.failure else apprise.NotifyType.INFO
        with _ThreadLog() as log:
            sent = service.notify(body=message.body, title=message.title, notify_type=kind)
        if not sent:
            status = log.status()
            raise NotifyError(f"{channel.type}: not delivered" +
                              (f" (HTTP {status})" if status else ""))

    def _post_signed(self, channel: Channel, message: Message) -> None:
        sent_at = int(time.time())
        body = json.dumps({**message.payload, "sentAt": sent_at}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", EVENT_HEADER: "notification",
                   DELIVERY_HEADER: message.delivery_id, TIMESTAMP_HEADER: str(sent_at),
                   SIGNATURE_HEADER: signature(channel.secret, body)}
        self._post(channel, body, headers)

    def _post_feishu(self, channel: Channel, message: Message) -> None:
        """Feishu's signed custom bot: timestamp and sign in the body (sign covers no text)."""
        timestamp = str(int(time.time()))
        key = f"{timestamp}\n{channel.secret}".encode()
        sign = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        text = f"{message.title}\n{message.body}" if message.title else message.body
        body = json.dumps({"timestamp": timestamp, "sign": sign, "msg_type": "text",
                           "content": {"text": text}}, ensure_ascii=False).encode()
        self._post(channel, body, {"Content-Type": "application/json"})

    def _post(self, channel: Channel, body: bytes, headers: dict[str, str]) -> None:
        try:
            status = self._client.post(channel.url, body, headers=headers,
                                       timeout=self._timeout).status
        except OutboundError as exc:
            raise NotifyError(f"{channel.type}: {exc}") from None
        if not 200 <= status < 300:
            raise NotifyError(f"{channel.type}: not delivered (HTTP {status})")

    def _check(self, host: str, port: int) -> None:
        try:
            self._client.check_host(host, port, timeout=self._timeout)
        except OutboundError as exc:
            raise NotifyError(f"refused: {exc}") from None


class _ThreadLog(logging.Handler):
    """Apprise's warnings of this thread during one send, read only for an HTTP status."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self._messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the warning if it is this thread's."""
        if record.thread == self._thread:
            self._messages.append(record.getMessage())

    def status(self) -> int | None:
        """The first HTTP error status apprise's warnings name."""
        for text in self._messages:
            found = _STATUS.search(text)
            if found and 400 <= int(found.group(1) or found.group(2)) < 600:
                return int(found.group(1) or found.group(2))
        return None

    def __enter__(self) -> _ThreadLog:
        logging.getLogger("apprise").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("apprise").removeHandler(self)
