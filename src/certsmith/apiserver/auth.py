"""Authentication (client certificates, bearer tokens) and the authorization seam.

Authentication follows kube-apiserver: a client certificate signed by the server's CA names
the user in its subject CN and the groups in its O attributes; a bearer token is looked up in
``<data-dir>/tokens.csv`` (kube's static token file format: ``token,user,uid,"g1,g2"``).
Tokens only reach the server over TLS from kubectl (K8S-API §1.4), which is why the server
always serves HTTPS. The one exception is ``serve``'s controller socket (a Unix domain socket in
the private data directory, see docs/decisions.md): whoever can open it is, by its file mode,
the server's own process user, so every connection on it is the controllers' identity and its
headers carry no credentials.

Authorization is :func:`authorize`, which every request goes through: members of
``system:masters`` may do anything (kube's privileged-group authorizer), everyone else only what
Kubernetes RBAC grants them (:mod:`certsmith.apiserver.rbac`). :class:`RequestAttributes` derives
the request's verb, group, resource, subresource, namespace and name exactly as kube-apiserver's
``RequestInfoFactory`` does, because RBAC rules written for kube must mean the same here, and
:func:`forbidden_error` words a denial exactly as kube does, because users grep for it.
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from certsmith.api.errors import StatusError, go_quote
from certsmith.api.meta import UserInfo

if TYPE_CHECKING:
    from certsmith.apiserver.rbac import RuleSource

_log = logging.getLogger(__name__)

TOKENS_FILE: Final = "tokens.csv"

SUPERUSER_GROUP: Final = "system:masters"
"""Members are allowed everything without consulting RBAC, as in kube."""

_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES: Final = ("status", "finalize")


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

    @property
    def is_resource_request(self) -> bool:
        """Whether this addresses a resource (as opposed to a path such as ``/version``)."""
        return bool(self.resource)

    @classmethod
    def from_request(cls, method: str, path: str, query: Mapping[str, str]) -> RequestAttributes:
        """Derive the attributes from a request's method, path and query (kube's rules).

        A namespace's own URL (``/api/v1/namespaces/x``) is "in" namespace ``x``, so a
        RoleBinding there can grant reading it; a list or watch whose field selector pins
        ``metadata.name`` carries that name, so ``resourceNames`` rules can allow it.
        """
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) > 2:
            group, rest = "", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) > 3:
            group, rest = parts[1], parts[3:]
        else:
            verb = "get" if method == "HEAD" else method.lower()
            return cls(verb=verb, path=path)
        namespace = ""
        if rest[0] == "namespaces" and len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
        resource = rest[0] if rest else ""
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if method in ("GET", "HEAD"):
            watching = query.get("watch", "").lower() in ("1", "true")
            if not name:
                name = _selected_name(query.get("fieldSelector", ""))
                verb = "watch" if watching else "list"
            else:
                verb = "watch" if watching else "get"
        elif method == "DELETE" and not name:
            verb = "deletecollection"
        else:
            verb = _VERBS.get(method, method.lower())
        return cls(verb, path, group, resource, sub, namespace, name)


def _selected_name(field_selector: str) -> str:
    """The name a field selector requires exactly (``metadata.name=x`` or ``==x``), or ``""``."""
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and not key.strip().endswith("!"):
            return value.strip()
    return ""


def authorize(user: UserInfo, attrs: RequestAttributes, rbac: RuleSource | None = None) -> bool:
    """Whether ``user`` may do ``attrs``.

    ``system:masters`` members may do anything; everyone else needs an RBAC rule from
    ``rbac`` (the server's store-fed :class:`certsmith.apiserver.rbaccache.PolicyCache`). Without
    ``rbac`` only ``system:masters`` is allowed: a server that cannot read its policy fails
    closed. Callers answer ``False`` with :func:`forbidden_error`.
    """
    if SUPERUSER_GROUP in user.groups:
        return True
    return rbac is not None and rbac.allows(user, attrs)


def forbidden_error(user: UserInfo, attrs: RequestAttributes) -> StatusError:
    """The 403 kube-apiserver answers a request RBAC denies, word for word.

    ``certificates.cert-manager.io is forbidden: User "alice" cannot list resource
    "certificates" in API group "cert-manager.io" in the namespace "team-b"``; cluster-scoped
    requests end ``at the cluster scope``, paths read ``cannot get path "/x"``.
    """
    who = user.username
    if not attrs.is_resource_request:
        reason = f"User {go_quote(who)} cannot {attrs.verb} path {go_quote(attrs.path)}"
        return StatusError(403, "Forbidden", f"forbidden: {reason}", {})
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    reason = (
        f"User {go_quote(who)} cannot {attrs.verb} resource {go_quote(resource)} "
        f"in API group {go_quote(attrs.group)}"
    )
    if attrs.namespace:
        reason += f" in the namespace {go_quote(attrs.namespace)}"
    else:
        reason += " at the cluster scope"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f"{qualified} {go_quote(attrs.name)}" if attrs.name else qualified
    details: dict[str, Any] = {"kind": attrs.resource}
    if attrs.group:
        details["group"] = attrs.group
    if attrs.name:
        details["name"] = attrs.name
    return StatusError(403, "Forbidden", f"{subject} is forbidden: {reason}", details)


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
    return authenticated_user(username, groups)


def authenticated_user(username: str, groups: Sequence[str] = ()) -> UserInfo:
    """``username`` in ``groups`` plus ``system:authenticated``, as a certificate names them."""
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
    """Authenticates requests by client certificate, then by bearer token.

    With ``unix_socket_user``, a request that arrived on a Unix domain socket is that user,
    whatever it sends: the socket's file mode (0600 in a 0700 directory) already limited who
    could connect to the server's own OS user. Without it such a request is anonymous.
    """

    def __init__(
        self,
        tokens: Mapping[str, UserInfo] | None = None,
        *,
        unix_socket_user: UserInfo | None = None,
    ) -> None:
        self._tokens = dict(tokens or {})
        self._unix_socket_user = unix_socket_user

    @classmethod
    def from_data_dir(
        cls, data_dir: Path, *, unix_socket_user: UserInfo | None = None
    ) -> Authenticator:
        """Load the token file of a data directory."""
        return cls(load_tokens(data_dir / TOKENS_FILE), unix_socket_user=unix_socket_user)

    def _token_user(self, token: str) -> UserInfo | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    def __call__(self, request: web.Request) -> UserInfo | None:
        """The user of ``request``, or ``None`` if it is anonymous."""
        transport = request.transport
        if transport is not None:
            if _on_unix_socket(transport):
                # No token or certificate is looked at: the socket is the credential.
                return self._unix_socket_user
            user = user_from_peercert(transport.get_extra_info("peercert"))
            if user is not None:
                return user
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self._token_user(token.strip())
        return None


def _on_unix_socket(transport: Any) -> bool:
    """Whether ``transport`` (an asyncio transport) is a connection on a Unix domain socket."""
    sock = transport.get_extra_info("socket")
    return sock is not None and sock.family == socket.AF_UNIX
