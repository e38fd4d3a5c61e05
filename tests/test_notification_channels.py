"""Each notifier type end to end: a run ends, the engine's sender delivers, a real receiver reads.

We test these aspects, on SQLite and PostgreSQL:
- Slack, DingTalk, WeCom, Feishu/Lark and Teams go through apprise's own code to their
  vendor host (resolved to a local HTTPS receiver trusted through a test CA), with the
  rendered message; Slack gets the recipient channel, DingTalk the @mobiles;
- DingTalk's signature (HMAC-SHA256 of "timestamp\\nsecret", base64, in the query) and
  Feishu's (HMAC-SHA256 keyed by "timestamp\\nsecret", in the body) verify with the
  notifier's secret; an unsigned Feishu notifier goes through apprise's Feishu plugin;
- e-mail reaches a real SMTP server (aiosmtpd) from the notifier's address, one message
  to each of the config's recipients;
- the generic webhook is signed like the approval webhook and carries the message and
  the execution's fields;
- a vendor host that resolves to a loopback address is refused unless
  SIDECAR_OUTBOUND_ALLOW lists it, and then nothing is sent;
- no secret appears in the delivery state, the API's views or any log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from urllib.parse import unquote

import pytest
from notify_receivers import Receiver, SmtpServer, vendor_receiver

from sidecar.engine.notify_loop import NotificationWorker
from sidecar.notify import SIGNATURE_HEADER
from sidecar.outbound import Client, Policy
from sidecar.services import executions, notifiers, pipelines
from sidecar.services.access import ANONYMOUS
from sidecar.store.models import NotificationDelivery

DINGTALK_SECRET = "SEC0123456789abcdef0123456789abcdef"
FEISHU_SECRET = "feishu-signing-secret-42"
HOOK_SECRET = "webhook-signing-secret-17"
SMTP_PASSWORD = "smtp-password-never-shown"
ALLOW = "127.0.0.1/32," + ",".join(("hooks.slack.com", "oapi.dingtalk.com",
                                     "qyapi.weixin.qq.com", "open.feishu.cn",
                                     "open.larksuite.com", "prod-12.westus.logic.azure.com"))
TEAMS_URL = ("https://prod-12.westus.logic.azure.com:443/workflows/643e69f83c8944438d68119179a"
             "10a64/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2F"
             "manual%2Frun&sv=1.0&sig=KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3wrNJZxFE5A")
MESSAGE = "{{ pipeline }} run {{ run }} is {{ state }} on {{ branch }} by {{ triggeredBy }}"


def config(recipients: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"  - {{recipient: '{r}', notifier: {n}}}" for r, n in recipients)
    return (f"notification:\n  recipients:\n{lines}\n  condition: [Failed]\n"
            f"  message: '{MESSAGE}'\nstages:\n- name: Build\n  steps:\n"
            "  - runScriptConfig: {image: alpine, shellScript: make}\n")


def failed_run(store, notifier: dict, recipients: list[str], allow: str = ALLOW) -> dict:
    """Register the notifier, run the pipeline to Failed, let one sender cycle deliver."""
    with store.session() as session:
        notifiers.create(session, {"project": "shop", **notifier}, ANONYMOUS)
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": config(
            [(r, notifier["name"]) for r in recipients])})
        execution = executions.trigger(session, "shop:api", executions.TriggerRequest(
            branch="main", commit="c0ffee"))
        execution.triggered_by = "alice"
        executions.finish(execution, "Failed", "tests failed")
        execution_id = execution.id
    NotificationWorker(store=store, client=Client(Policy.parse(allow)), backoff=0).cycle()
    with store.session() as session:
        view = executions.view(executions.get(session, execution_id))
        (listed,) = [notifiers.view(n) for n in notifiers.listing(session, ANONYMOUS)]
    return {"view": view, "listed": listed, "delivery": view["notifications"][0]}


@pytest.fixture
def vendor(tmp_path, monkeypatch):
    receiver = vendor_receiver(tmp_path, monkeypatch)
    yield receiver
    receiver.close()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_secret_hidden(result: dict, logs, *secrets: str):
    shown = json.dumps(result) + logs.text
    for secret in secrets:
        assert secret not in shown


def test_slack_gets_the_message_in_the_recipient_channel(store, vendor, logs):
    result = failed_run(store, {"name": "chat", "type": "slack",
                                "url": "https://hooks.slack.com/services/T0001/B0002/XyZ123"},
                        ["#ci-alerts"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert (request.host, request.path) == ("hooks.slack.com", "/services/T0001/B0002/XyZ123")
    body = request.json()
    assert body["channel"] == "#ci-alerts"
    assert "shop:api run 1 is Failed on main by alice" in json.dumps(body)
    assert_secret_hidden(result, logs, "XyZ123")


def test_dingtalk_is_signed_with_the_notifier_secret(store, vendor, logs):
    result = failed_run(store, {"name": "ding", "type": "dingtalk", "secret": DINGTALK_SECRET,
                                "url": "https://oapi.dingtalk.com/robot/send?access_token=t0k3n"},
                        ["13800000000"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert request.host == "oapi.dingtalk.com" and request.query["access_token"] == ["t0k3n"]
    # apprise URL-encodes the sign and requests encodes the query again; DingTalk's own
    # sample decodes it with urllib's unquote.
    timestamp, sign = request.query["timestamp"][0], unquote(request.query["sign"][0])
    expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(),
                                         f"{timestamp}\n{DINGTALK_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(sign, expected)
    body = request.json()
    assert "shop:api run 1 is Failed" in json.dumps(body, ensure_ascii=False)
    assert body["at"]["atMobiles"] == ["13800000000"]
    assert result["listed"]["hasSecret"] and "secret" not in result["listed"]
    assert_secret_hidden(result, logs, DINGTALK_SECRET, "t0k3n")


def test_wecom_gets_the_message(store, vendor, logs):
    result = failed_run(store, {"name": "wecom", "type": "wecom", "url":
                                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k3y-1"},
                        ["team"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert request.host == "qyapi.weixin.qq.com" and request.query["key"] == ["k3y-1"]
    assert "shop:api run 1 is Failed" in json.dumps(request.json(), ensure_ascii=False)
    assert_secret_hidden(result, logs, "k3y-1")


def test_feishu_signed_carries_timestamp_and_sign(store, vendor, logs):
    result = failed_run(store, {"name": "lark", "type": "feishu", "secret": FEISHU_SECRET,
                                "url": "https://open.feishu.cn/open-apis/bot/v2/hook/h00k"},
                        ["team"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert (request.host, request.path) == ("open.feishu.cn", "/open-apis/bot/v2/hook/h00k")
    body = request.json()
    key = f"{body['timestamp']}\n{FEISHU_SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(body["sign"], expected)
    assert body["msg_type"] == "text" and "shop:api run 1 is Failed" in body["content"]["text"]
    assert_secret_hidden(result, logs, FEISHU_SECRET, "h00k")


@pytest.mark.parametrize("domain", ["feishu.cn", "larksuite.com"])
def test_feishu_unsigned_goes_through_apprise(store, vendor, domain):
    result = failed_run(store, {"name": "lark", "type": "feishu",
                                "url": f"https://open.{domain}/open-apis/bot/v2/hook/h00k"},
                        ["team"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert request.host == f"open.{domain}" and "sign" not in request.json()
    assert "shop:api run 1 is Failed" in request.json()["content"]["text"]


def test_teams_workflow_gets_the_message(store, vendor, logs):
    result = failed_run(store, {"name": "teams", "type": "teams", "url": TEAMS_URL}, ["team"])
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = vendor.received
    assert request.host == "prod-12.westus.logic.azure.com"
    assert request.path.endswith("/triggers/manual/paths/invoke")
    assert "shop:api run 1 is Failed" in json.dumps(request.json())
    assert_secret_hidden(result, logs, "KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3wrNJZxFE5A")


def test_email_reaches_the_smtp_server(store, logs):
    server = SmtpServer()
    try:
        result = failed_run(store, {"name": "mail", "type": "email", "secret": SMTP_PASSWORD,
                                    "options": {"host": "127.0.0.1", "port": server.port,
                                                "tls": "none", "from": "ci@shop.example"}},
                            ["dev@shop.example", "ops@shop.example"])
    finally:
        server.close()
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    assert sorted(tos for _, tos, _ in server.messages) == \
        [["dev@shop.example"], ["ops@shop.example"]]  # one message per recipient
    for mail_from, _, content in server.messages:
        assert mail_from == "ci@shop.example"
        assert b"shop:api run 1 is Failed on main by alice" in content
    assert result["listed"]["options"]["host"] == "127.0.0.1"
    assert_secret_hidden(result, logs, SMTP_PASSWORD)


def test_webhook_is_signed_and_carries_the_fields(store, logs):
    receiver = Receiver()
    try:
        result = failed_run(store, {"name": "hook", "type": "webhook", "secret": HOOK_SECRET,
                                    "url": receiver.url("/ci/events")}, ["portal"])
    finally:
        receiver.close()
    assert result["delivery"]["state"] == "Sent", result["delivery"]
    (request,) = receiver.received
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), request.body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected)
    body = request.json()
    assert request.headers["X-Sidecar-Delivery"] == body["deliveryId"] == \
        "shop:api-1/Failed/hook"
    assert body["message"] == "shop:api run 1 is Failed on main by alice"
    assert body["condition"] == "Failed" and body["recipients"] == ["portal"]
    execution = body["execution"]
    assert (execution["pipeline"], execution["run"], execution["state"]) == \
        ("shop:api", 1, "Failed")
    assert (execution["commit"], execution["triggeredBy"]) == ("c0ffee", "alice")
    assert_secret_hidden(result, logs, HOOK_SECRET)


def test_loopback_vendor_host_is_refused_without_the_allow_list(store, vendor):
    result = failed_run(store, {"name": "chat", "type": "slack",
                                "url": "https://hooks.slack.com/services/T0001/B0002/XyZ123"},
                        ["#ci"], allow="")
    delivery = result["delivery"]
    assert delivery["state"] == "Queued" and delivery["attempts"] == 1
    assert "refused" in delivery["lastError"] and "SIDECAR_OUTBOUND_ALLOW" in delivery["lastError"]
    assert vendor.received == []


def test_loopback_webhook_is_refused_without_the_allow_list(store):
    receiver = Receiver()
    try:
        result = failed_run(store, {"name": "hook", "type": "webhook", "secret": HOOK_SECRET,
                                    "url": receiver.url()}, ["portal"], allow="")
    finally:
        receiver.close()
    assert result["delivery"]["state"] == "Queued"
    assert "loopback" in result["delivery"]["lastError"]
    assert receiver.received == []
    with store.session() as session:
        assert session.query(NotificationDelivery).one().attempts == 1
