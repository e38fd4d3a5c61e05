"""Service settings from SIDECAR_* variables.

We test these aspects:
- defaults, and typed values read from the environment;
- bad values, unknown SIDECAR_* names and impossible combinations stop start-up with
  one line per problem (create_app and `jenkins-sidecar serve` alike);
- secrets never show in repr.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sidecar.errors import ConfigError
from sidecar.settings import ServiceSettings, settings_from


def test_defaults_and_environment():
    assert settings_from({}) == ServiceSettings()
    settings = settings_from({"SIDECAR_SYNC_INTERVAL": "0.5",
                              "SIDECAR_JENKINS_URL": "http://jenkins:8080",
                              "SIDECAR_JENKINS_USER": "sidecar",
                              "SIDECAR_JENKINS_TOKEN": "11aa"})
    assert settings.sync_interval == 0.5
    assert settings.jenkins_url == "http://jenkins:8080"


def test_every_problem_is_reported():
    with pytest.raises(ConfigError) as excinfo:
        settings_from({"SIDECAR_SYNC_INTERVAL": "soon", "SIDECAR_JENKINS_TIMEOUT": "x",
                       "SIDECAR_DATABSE_URL": "sqlite://"})
    assert excinfo.value.lines == [
        "SIDECAR_DATABSE_URL is not a setting",
        "SIDECAR_JENKINS_TIMEOUT must be a number, got 'x'",
        "SIDECAR_SYNC_INTERVAL must be a number, got 'soon'",
    ]


def test_combinations_are_checked():
    with pytest.raises(ConfigError) as excinfo:
        settings_from({"SIDECAR_JENKINS_URL": "jenkins:8080", "SIDECAR_SYNC_INTERVAL": "0"})
    assert excinfo.value.lines == [
        "SIDECAR_JENKINS_TOKEN is needed (or a password) with a Jenkins URL",
        "SIDECAR_JENKINS_URL must start with http:// or https://",
        "SIDECAR_SYNC_INTERVAL must be more than 0 seconds",
    ]


def test_secrets_stay_out_of_repr():
    settings = ServiceSettings(jenkins_token="tok-123", jenkins_password="pw-456")
    assert "tok-123" not in repr(settings) and "pw-456" not in repr(settings)


def test_serve_fails_clearly_on_bad_settings(tmp_path):
    env = {"SIDECAR_SYNC_INTERVAL": "-1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "SIDECAR_SYNC_INTERVAL must be more than 0 seconds"
