"""Who is calling: API bearer tokens mapped to users, groups, projects and an access level.

Tokens come from a YAML file (setting ``api_tokens_file``)::

    tokens:
    - user: alice
      groups: [release-managers]
      access: write                 # read, write, or cache-report (node cache reports only)
      projects: [team-a, 'shared-*']  # globs (*, ?) of the projects it sees; default ['*']
      sha256: 9f86d081884c7d65…     # hex SHA-256 of the token (preferred), or token: <plain>

Only digests are kept in memory; a presented token is hashed and compared with every
known digest in constant time, so timing tells nothing about which tokens exist.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from sidecar.errors import ConfigError, Problem, SidecarError
from sidecar.store import scope

ACCESS = ("read", "write", "cache-report")
ALL_PROJECTS = ("*",)
_HEX = re.compile(r"^[0-9a-f]{64}$")


class Unauthenticated(SidecarError):
    """No valid credentials were presented."""


class Forbidden(SidecarError):
    """The caller is known but may not do this."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    groups: tuple[str, ...] = ()
    access: str = "read"
    projects: tuple[str, ...] = ALL_PROJECTS
    """Globs of the projects this caller may see; any other project is, to it, missing."""

    @property
    def can_write(self) -> bool:
        """True for tokens with write access."""
        return self.access == "write"

    @property
    def can_read(self) -> bool:
        """True for read and write tokens; a cache-report token reads nothing."""
        return self.access in ("read", "write")

    @property
    def sees_all(self) -> bool:
        """True when no project is hidden from this caller."""
        return "*" in self.projects

    def sees(self, project: str) -> bool:
        """True when the project matches one of the caller's project globs."""
        return scope.matches(self.projects, project)

    def is_one_of(self, submitters: list[str] | tuple[str, ...]) -> bool:
        """True when the user, or one of its groups, is listed."""
        listed = set(submitters)
        return self.user in listed or bool(listed.intersection(self.groups))


ANONYMOUS = Principal(user="anonymous", groups=(), access="write")


@dataclass(frozen=True)
class TokenTable:
    """Known token digests and whom each one stands for."""

    entries: tuple[tuple[str, Principal], ...] = ()

    def principal(self, token: str) -> Principal:
        """The principal of a token. :raise Unauthenticated:"""
        found = self.principal_of_digest(digest_of(token))
        if found is None or not token:
            raise Unauthenticated("a valid bearer token is required")
        return found

    def principal_of_digest(self, digest: str) -> Principal | None:
        """The principal whose token has this hex SHA-256 (a web UI session), or None."""
        found = None
        for known, principal in self.entries:  # no early exit: constant time per table
            if hmac.compare_digest(digest, known):
                found = principal
        return found


def digest_of(token: str) -> str:
    """The hex SHA-256 of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_tokens(path: str) -> TokenTable:
    """Read a token file. :raise ConfigError: unreadable or malformed, every problem at once."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(Problem(f"cannot read API tokens file {path}: {exc}")) from exc
    items = doc.get("tokens") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConfigError(Problem(f"{path}: expected a mapping with a 'tokens' list"))
    entries, problems = [], []
    for index, item in enumerate(items):
        entry = _entry(item, f"{path}: tokens[{index}]", problems)
        if entry:
            entries.append(entry)
    if problems:
        raise ConfigError(problems)
    return TokenTable(tuple(entries))


def _entry(item, where: str, problems: list[Problem]) -> tuple[str, Principal] | None:
    if not isinstance(item, dict):
        problems.append(Problem(f"{where}: expected a mapping"))
        return None
    user, groups, access = item.get("user"), item.get("groups", []), item.get("access", "read")
    projects = item.get("projects", list(ALL_PROJECTS))
    digest = item.get("sha256") or (digest_of(item["token"]) if item.get("token") else None)
    if not isinstance(user, str) or not user:
        problems.append(Problem(f"{where}.user: expected a user name"))
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        problems.append(Problem(f"{where}.groups: expected a list of group names"))
    if access not in ACCESS:
        problems.append(Problem(f"{where}.access: expected read, write or cache-report, "
                                f"got {access!r}"))
    if not isinstance(projects, list) or not projects or \
            not all(isinstance(p, str) and scope.GLOB.match(p) for p in projects):
        problems.append(Problem(f"{where}.projects: expected a non-empty list of project globs "
                                "(lowercase letters, digits, '-', '*' and '?')"))
    if not isinstance(digest, str) or not _HEX.match(digest.lower()):
        problems.append(Problem(f"{where}: needs sha256 (64 hex digits) or token"))
    if problems:
        return None
    return digest.lower(), Principal(user=user, groups=tuple(groups), access=access,
                                     projects=tuple(projects))


def loopback_only(peer: str, host: str) -> None:
    """Anonymous use is for a loopback peer naming a loopback Host. :raise Forbidden:

    The Host check stops DNS rebinding: an attacker's name may resolve to 127.0.0.1, but
    the browser still sends that name.
    """
    if not is_loopback_address(peer):
        raise Forbidden("anonymous access is for loopback callers only")
    if not is_loopback_host(host):
        raise Forbidden("anonymous access needs a loopback Host (localhost, 127.0.0.1, [::1])")


def is_loopback_address(address: str) -> bool:
    """True for a loopback IP address (127.0.0.0/8, ::1, ::ffff:127.x.y.z)."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def is_loopback_host(host: str) -> bool:
    """True for a Host header naming this machine: localhost or a loopback literal."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    if name in ("localhost", "localhost.") or name.endswith((".localhost", ".localhost.")):
        return True
    return is_loopback_address(name)
