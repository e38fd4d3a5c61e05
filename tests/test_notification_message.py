"""The message template: sandboxed, bounded, never failing a delivery.

We test these aspects:
- the execution's fields render, with filters and tests of Jinja2;
- each way a config author could make the engine spend memory or time (repetition,
  big powers, padding methods, ranges, concatenation doubling, loops that write
  nothing, Python internals) ends in the default message with the reason, quickly;
- the output is cut at its bound; an over-long template is refused.
"""

from __future__ import annotations

import time

import pytest

from sidecar.notify.message import MAX_OUTPUT, MAX_TEMPLATE, render

FIELDS = {"pipeline": "shop:api", "run": 7, "state": "Failed", "condition": "Regression",
          "branch": "main", "commit": "0123456789abcdef", "triggeredBy": "alice",
          "duration": 61.5, "url": "https://sidecar.example/api/v1/executions/shop:api-7"}


def test_fields_render():
    text, error = render("{{ pipeline }} #{{ run }} {{ state|lower }}"
                         "{% if duration > 60 %} (slow){% endif %} {{ commit[:7] }}", FIELDS)
    assert (text, error) == ("shop:api #7 failed (slow) 0123456", "")


def test_no_template_gives_the_default_message():
    assert render("", FIELDS) == ("shop:api #7: Failed (Regression) on main at 0123456789ab, "
                                  "triggered by alice, 61.5 s "
                                  "https://sidecar.example/api/v1/executions/shop:api-7", "")


@pytest.mark.parametrize("template, reason", [
    ("{{ 'x' * 100000000 }}", "above 16384 characters"),
    ("{{ 100000000 * 'x' }}", "above 16384 characters"),
    ("{{ 2 ** 100000000 }}", "exponent above 64"),
    ("{{ pipeline.ljust(1000000000) }}", "number above 16384"),
    ("{{ pipeline|center(1000000000) }}", "No filter named 'center'"),
    ("{% for i in range(100000) %}{% endfor %}", "number above 16384"),
    ("{% set s = 'ab' %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}", "above 16384 characters"),
    ("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
     "{% endfor %}{% endfor %}{% endfor %}", "ran longer than"),
    ("{{ pipeline.__class__.__mro__ }}", "unsafe"),
    ("{{ nothing.here }}", "UndefinedError"),
    ("{% if %}", "TemplateSyntaxError"),
])
def test_costly_or_broken_templates_fall_back(template, reason):
    started = time.monotonic()
    text, error = render(template, FIELDS)
    assert time.monotonic() - started < 10  # a failure bound, not a measurement
    assert text.startswith("shop:api #7: Failed (Regression)")
    assert reason in error


def test_output_and_template_are_bounded():
    text, error = render("{% for i in range(1000) %}{{ 'y' * 1000 }}{% endfor %}", FIELDS)
    assert len(text) == MAX_OUTPUT and error == ""
    text, error = render("x" * (MAX_TEMPLATE + 1), FIELDS)
    assert "longer than" in error and text.startswith("shop:api #7")
