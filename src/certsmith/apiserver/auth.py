"""Authentication (client certificates, bearer tokens) and the authorization seam.

Authentication follows kube-apiserver: a client certificate signed by the server's CA names
the user in its subject CN and the groups in its O attributes; a bearer token is looked up in
``<data-dir>/tokens.csv`` (kube's static token file format: ``token,user,uid,"g1,g2"``).
Tokens only reach the server over TLS from kubectl (K8S-API §1.4), which is why the server
always serves HTTPS.

Authorization is **not implemented yet**: :func:`authorize` allows every authenticated user.
It is the single place RBAC will plug into; every request already goes through it.
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from certsmith.api.meta import UserInfo

_log = logging.getLogger(__name__)

TOKENS_FILE: Final = "tokens.csv"

_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestAttributes:
    """What a request does, in RBAC's terms (verb, group, resource, namespace, name)."""

    verb: str
    path: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @classmethod
    def from_request(cls, method: str, path: str, query: Mapping[str, str]) -> RequestAttributes:
        """Derive the attributes from a request's method, path and query."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) > 2:
            group, rest = "", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) > 3:
            group, rest = parts[1], parts[3:]
        else:
            return cls(verb=method.lower(), path=path)
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        resource = rest[0] if rest else ""
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if method == "GET":
            watching = query.get("watch", "").lower() in ("1", "true")
            verb = "watch" if watching else ("get" if name else "list")
        elif method == "DELETE" and not name:
            verb = "deletecollection"
        else:
            verb = _VERBS.get(method, method.lower())
        return cls(verb, path, group, resource, sub, namespace, name)


def authorize(user: UserInfo, attrs: RequestAttributes) -> bool:
    """Whether ``user`` may do ``attrs``.

    NOT RBAC YET: every authenticated user is allowed everything. This is the seam where
    RBAC (Roles/ClusterRoles and their bindings from the store) will be evaluated; callers
    already answer ``False`` with 403 Forbidden.
    """
    del user, attrs
    return True


def user_from_peercert(peercert: Mapping[str, Any] | None) -> UserInfo | None:
    """The user of a verified client certificate (``ssl.getpeercert()`` form): CN and O's."""
    if not peercert:
        return None
    username = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName" and not username:
                username = value
            elif attr == "organizationName":
                groups.append(value)
    if not username:
        return None
    return UserInfo(username=username, groups=[*groups, "system:authenticated"])


def load_tokens(path: Path) -> dict[str, UserInfo]:
    """Read a static token file; a missing file means no tokens.

    Lines are ``token,user,uid[,"group1,group2"]``; malformed lines are skipped and logged
    (without the token).
    """
    if not path.exists():
        return {}
    tokens: dict[str, UserInfo] = {}
    text = path.read_text(encoding="utf-8")
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 3 or not row[0] or not row[1]:
            _log.warning("%s:%d: expected token,user,uid[,groups]; line skipped", path, lineno)
            continue
        groups = [g for g in (row[3].split(",") if len(row) > 3 else []) if g]
        tokens[row[0]] = UserInfo(
            username=row[1], uid=row[2], groups=[*groups, "system:authenticated"]
        )
    return tokens


class Authenticator:
    """Authenticates requests by client certificate, then by bearer token."""

    def __init__(self, tokens: Mapping[str, UserInfo] | None = None) -> None:
        self._tokens = dict(tokens or {})

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Authenticator:
        """Load the token file of a data directory."""
        return cls(load_tokens(data_dir / TOKENS_FILE))

    def _token_user(self, token: str) -> UserInfo | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    def __call__(self, request: web.Request) -> UserInfo | None:
        """The user of ``request``, or ``None`` if it is anonymous."""
        transport = request.transport
        if transport is not None:
            user = user_from_peercert(transport.get_extra_info("peercert"))
            if user is not None:
                return user
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self._token_user(token.strip())
        return None
