"""The OpenAPI document at /openapi.json holds the routes to it, fuzzed by schemathesis.

We test these aspects, on SQLite with a token file and a few stored pipelines and
executions, so generated requests reach real objects as well as missing ones:
- every documented operation answers generated requests (valid and invalid ones) with
  no 5xx, only documented status codes, documented content types and bodies that match
  the response schemas;
- the stateful phase follows the document's links (create a pipeline, then read,
  change, trigger it; read, stop, rerun the run and read its log) with the same checks;
- every route the app serves is documented, and every documented path is served.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi import checks as openapi_checks

from sidecar.api.openapi import document
from sidecar.app import create_app
from sidecar.services import executions, pipelines
from sidecar.services.access import digest_of
from sidecar.store.models import Base

TOKEN = "writer-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"
# CI keeps the run to a few minutes; SCHEMATHESIS_EXAMPLES raises it for a long run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = [checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    """An app with a write token, one pipeline and one execution of it."""
    root = tmp_path_factory.mktemp("openapi")
    tokens = root / "tokens.yaml"
    tokens.write_text(f"tokens:\n- {{user: alice, access: write, sha256: {digest_of(TOKEN)}}}\n")
    app = create_app({"TESTING": True, "database_url": f"sqlite:///{root / 'sidecar.db'}",
                      "api_tokens_file": str(tokens)})
    seed(app.extensions["sidecar"].store)
    yield app
    app.extensions["sidecar"].store.dispose()


def seed(store) -> None:
    """Empty the store, then one pipeline with one execution."""
    with store.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
        pipelines.create(session, {"project": "shop", "name": "web", "inlineConfig": CONFIG})
        executions.trigger(session, "shop:web", executions.TriggerRequest())


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)


OPERATIONS = [(method.upper(), path) for path, item in document()["paths"].items()
              for method in item if method != "parameters"]


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_routes_keep_to_the_document(api_schema, method, path):
    operation = api_schema[path][method]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    check()


def test_stateful_links_keep_to_the_document(api_schema, fuzzed_app):
    class Machine(api_schema.as_state_machine()):
        def setup(self):
            # Every scenario starts from the same store, so Hypothesis can replay it.
            seed(fuzzed_app.extensions["sidecar"].store)

        def get_call_kwargs(self, case):
            return {"headers": AUTH}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=AUTH)

    Machine.run(settings=settings(max_examples=EXAMPLES, stateful_step_count=8, deadline=None,
                                  derandomize=True, database=None,
                                  suppress_health_check=list(HealthCheck)))


def test_every_route_is_documented_and_every_path_served(fuzzed_app):
    documented = set(fuzzed_app.test_client().get("/openapi.json").json["paths"])
    # The web UI (/ui/, endpoints ui.*) serves HTML pages to browsers, not an API.
    served = {_openapi_path(rule.rule) for rule in fuzzed_app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.endpoint.startswith("ui.")}
    # Blue Ocean paths are served with and without the trailing slash; document one.
    served = {path for path in served if path + "/" not in served}
    assert served - documented == set()
    assert documented - served == set()


def _openapi_path(rule: str) -> str:
    # A Blue Ocean pipeline's folder form is served by rules of its own (one path segment
    # a parameter); the document describes it as a form of the one {pipeline} parameter.
    rule = rule.replace("<folder>/pipelines/<leaf>", "<pipeline>")
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)
