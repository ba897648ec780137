"""The state every handler shares, hung on the aiohttp application under :data:`CONTEXT`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from certsmith.api.meta import UserInfo
from certsmith.apiserver.approval import ApprovalAuthorizer
from certsmith.apiserver.openapi import OpenAPIV3
from certsmith.apiserver.rbac import RuleSource
from certsmith.apiserver.resources import ResourceRegistry
from certsmith.apiserver.storage import Store

Authenticate = Callable[[web.Request], UserInfo | None]
"""Who sent a request; ``None`` for an anonymous one."""

LOCAL_ADMIN: Final = UserInfo(username="system:admin", groups=["system:masters"])
"""The user of a server built without authentication (plain HTTP, in-process tests only)."""


@dataclass
class ApiContext:
    """Store, registry and settings of one running API server."""

    store: Store
    registry: ResourceRegistry
    server_address: str = "127.0.0.1:6443"
    authenticate: Authenticate | None = None
    rbac: RuleSource | None = None
    """The RBAC policy; ``None`` allows only ``system:masters`` (see ``auth.authorize``)."""
    bookmark_interval: float = 60.0
    default_watch_timeout: float = 1800.0
    openapi: OpenAPIV3 = field(init=False)
    approval: ApprovalAuthorizer = field(init=False)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.openapi = OpenAPIV3(self.registry)
        self.approval = ApprovalAuthorizer(self.registry, self.rbac)


CONTEXT: Final = web.AppKey("certsmith.context", ApiContext)
USER: Final = web.RequestKey("certsmith.user", UserInfo)
"""``request[USER]``: the authenticated :class:`UserInfo` (set by the auth middleware)."""


def context_of(request: web.Request) -> ApiContext:
    """The :class:`ApiContext` of the app serving ``request``."""
    return request.app[CONTEXT]


def user_of(request: web.Request) -> UserInfo:
    """The authenticated user of ``request``."""
    user: UserInfo = request.get(USER, LOCAL_ADMIN)
    return user
