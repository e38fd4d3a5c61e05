"""Read one file of a repository at a commit through the Git provider's API.

Webhook-triggered runs build the config that the pushed commit holds, so the sidecar
reads it from the provider (GitHub, GitLab, Bitbucket Cloud or Data Center) with the
pipeline's own credential, through the guarded outbound client (``sidecar.outbound``):
the API URL is the pipeline owner's choice, so its address is checked, a redirect is not
followed with the credential, and the file is read up to 1 MiB within one deadline. Every
failure becomes an ``ScmError``; neither the token nor a response body ever reaches
the message.

The credential goes to the configured API URL, else to an API on the repository's own
host; the only other hosts are the hosted services' API hosts (``CLOUD_APIS``), and only
for repositories on those services. A "bitbucket" repository on any other host is a
Bitbucket Data Center: its REST API is on the same server as its clone URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from sidecar import outbound
from sidecar.errors import SidecarError

PROVIDERS = ("github", "gitlab", "bitbucket")
TIMEOUT = 10.0
"""Seconds for the whole call: resolving, connecting, redirects and the body."""
MAX_CONFIG_BYTES = 1024 * 1024
CLOUD_APIS = {("github", "github.com"): "https://api.github.com",
              ("bitbucket", "bitbucket.org"): "https://api.bitbucket.org/2.0"}
"""(provider, repository host) → API base, for the services whose API has its own host."""
DATACENTER = "bitbucket-datacenter"
DATACENTER_PATHS = (
    # https://host[:port][/context]/scm/PROJ/repo.git, the HTTP clone URL (~user: personal)
    re.compile(r"(?P<context>.*?)/scm/(?P<project>[^/]+)/(?P<slug>[^/]+?)(?:\.git)?/?"),
    # https://host[/context]/projects/PROJ/repos/repo/browse, the web page (users/…: personal)
    re.compile(r"(?P<context>.*?)/(?P<kind>projects|users)/(?P<project>[^/]+)/repos/"
               r"(?P<slug>[^/]+)(?:/.*)?"),
    # ssh://git@host:7999/PROJ/repo.git: the SSH port serves no API, and there is no context
    re.compile(r"(?P<context>)/?(?P<project>[^/]+)/(?P<slug>[^/]+?)(?:\.git)?/?"),
)


class ScmError(SidecarError):
    """The provider's API could not give the file."""


@dataclass(frozen=True)
class Repository:
    """Where a repository lives: its provider kind, API base URL and path (owner/name).

    For Bitbucket Data Center the kind is ``DATACENTER`` and the path ``PROJECT/slug``.
    """

    provider: str
    api_url: str
    path: str


def locate(repository_url: str, provider: str = "", api_url: str = "") -> Repository:
    """The provider, API base and owner/name of a clone URL (https or ssh form)."""
    host, path = split_url(repository_url)
    if not host or path.count("/") < 1:
        raise ScmError(f"cannot tell the repository of {repository_url!r}")
    provider = provider or _provider_of(host)
    if provider == "bitbucket" and host != "bitbucket.org":
        return _datacenter(repository_url, host, api_url)
    if not api_url:
        api_url = CLOUD_APIS.get((provider, host)) or \
            {"github": f"https://{host}/api/v3", "gitlab": f"https://{host}/api/v4"}[provider]
    return Repository(provider, api_url.rstrip("/"), path)


def split_url(url: str) -> tuple[str, str]:
    """(host, owner/name) of an https, ssh:// or scp-like git URL, lowercase, no '.git'."""
    url = url.strip()
    if "://" not in url and "@" in url and ":" in url:   # git@host:owner/name.git
        user_host, _, path = url.partition(":")
        host = user_host.rpartition("@")[2]
    else:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    path = path.strip("/").removesuffix(".git").strip("/")
    return host.lower(), path.lower()


def read_file(client: outbound.Client, repository: Repository, token: str, path: str,
              ref: str) -> str:
    """The text of path at ref (a commit or branch). :raise ScmError:"""
    url, headers = _request_of(repository, token, path, ref)
    try:
        response = client.get(url, headers=headers, credential=bool(token),
                              max_bytes=MAX_CONFIG_BYTES, timeout=TIMEOUT)
    except outbound.TooLarge:
        raise ScmError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes") from None
    except outbound.OutboundError as exc:
        raise ScmError(f"{repository.provider} API not called or unreachable: {exc}") from None
    if 300 <= response.status < 400:
        raise ScmError(f"{repository.provider} API answered a redirect ({response.status}); "
                       "it is not followed with the pipeline's credential")
    if response.status in (401, 403):
        raise ScmError(f"{repository.provider} refused the pipeline's credential "
                       f"({response.status})")
    if response.status == 404:
        raise ScmError(f"{path} not found in {repository.path} at {ref}")
    if response.status != 200:
        raise ScmError(f"{repository.provider} API answered {response.status}")
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScmError(f"{path} is not UTF-8 text") from exc


def _request_of(repository: Repository, token: str, path: str,
                ref: str) -> tuple[str, dict[str, str]]:
    base, file_path = repository.api_url, path.lstrip("/")
    if repository.provider == "github":
        url = (f"{base}/repos/{repository.path}/contents/{quote(file_path)}"
               f"?ref={quote(ref, safe='')}")
        headers = {"Accept": "application/vnd.github.raw",
                   "X-GitHub-Api-Version": "2022-11-28"}
        auth = {"Authorization": f"Bearer {token}"}
    elif repository.provider == "gitlab":
        url = (f"{base}/projects/{quote(repository.path, safe='')}/repository/files/"
               f"{quote(file_path, safe='')}/raw?ref={quote(ref, safe='')}")
        headers, auth = {}, {"PRIVATE-TOKEN": token}
    elif repository.provider == DATACENTER:
        project, _, slug = repository.path.partition("/")
        url = (f"{base}/projects/{quote(project, safe='')}/repos/{quote(slug, safe='')}/raw/"
               f"{quote(file_path)}?at={quote(ref, safe='')}")
        headers, auth = {}, {"Authorization": f"Bearer {token}"}   # an HTTP access token
    else:
        url = f"{base}/repositories/{repository.path}/src/{quote(ref, safe='')}/{quote(file_path)}"
        headers, auth = {}, {"Authorization": f"Bearer {token}"}
    return url, {**headers, **(auth if token else {})}


def _provider_of(host: str) -> str:
    if host == "github.com" or host.startswith("github."):
        return "github"
    if host == "bitbucket.org":
        return "bitbucket"
    return "gitlab"     # self-hosted GitLab is the common case of an unknown host


def _datacenter(repository_url: str, host: str, api_url: str) -> Repository:
    """A Bitbucket Data Center repository: PROJECT/slug, and its server's REST API."""
    scheme, location, path = _parts(repository_url)
    found = next((m for m in (p.fullmatch(path) for p in DATACENTER_PATHS) if m), None)
    if found is None:
        raise ScmError(f"cannot tell the Bitbucket project and repository of {repository_url!r}")
    project = found["project"]
    if found.groupdict().get("kind") == "users":
        project = "~" + project
    # Project keys are upper case; a personal project is ~ and the user's slug.
    project = project.lower() if project.startswith("~") else project.upper()
    if not api_url:
        # Same scheme, port and context path as an http(s) clone URL; https for ssh.
        base = f"{scheme}://{location}{found['context']}" if scheme in ("http", "https") \
            else f"https://{host}"
        api_url = base + "/rest/api/1.0"
    return Repository(DATACENTER, api_url.rstrip("/"), f"{project}/{found['slug'].lower()}")


def _parts(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port] without user, path) of a URL; scp-like git@host:path is ssh."""
    url = url.strip()
    if "://" not in url and "@" in url and ":" in url:
        user_host, _, path = url.partition(":")
        return "ssh", user_host.rpartition("@")[2], "/" + path
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2], parts.path
