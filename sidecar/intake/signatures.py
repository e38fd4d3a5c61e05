"""Signatures and tokens of each provider, all compared in constant time.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.
- Bitbucket Cloud and Bitbucket Server/Data Center: ``X-Hub-Signature: sha256=<hex>``,
  the same HMAC-SHA256 of the raw body.
- GitLab: ``X-Gitlab-Token``, the secret itself (GitLab does not sign).
- Harbor: the ``Authorization`` header, the "Auth Header" value of the webhook policy.
- Docker Hub cannot sign or send headers: the secret travels in the URL (``?token=``).
  Anyone who sees the URL (proxy logs, Docker Hub admins) can trigger the pipeline;
  the payload is not authenticated at all. Use it only for pipelines where that is acceptable.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping

PROVIDERS = ("github", "gitlab", "bitbucket", "harbor", "dockerhub")


def verify(provider: str, secret: str, headers: Mapping[str, str], body: bytes,
           query: Mapping[str, str]) -> bool:
    """True when the delivery carries the pipeline's secret; never with an empty secret."""
    expected, given = _pair(provider, secret or "\0no secret", headers, body, query)
    matches = hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
    return matches and bool(secret)


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``, as GitHub and Bitbucket sign a body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _pair(provider: str, secret: str, headers: Mapping[str, str], body: bytes,
          query: Mapping[str, str]) -> tuple[str, str]:
    if provider == "github":
        return sign(secret, body), headers.get("X-Hub-Signature-256", "")
    if provider == "bitbucket":
        return sign(secret, body), headers.get("X-Hub-Signature", "")
    if provider == "gitlab":
        return secret, headers.get("X-Gitlab-Token", "")
    if provider == "harbor":
        return secret, headers.get("Authorization", "")
    return secret, query.get("token", "")
